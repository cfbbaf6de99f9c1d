"""``torch.compile`` of models that call ``gan.ops``.

- Calls bound for the reference path (CPU tensors, ``impl="ref"``) are plain PyTorch and are
  traced into the graph: the generators compile with ``fullgraph=True`` (no graph break; the
  checks that read tensor values back run in eager mode only, ``gan._compile``).
- Calls that may take the Triton path are graph breaks: the kernels run eagerly between graphs.

Before, dynamo broke the graph at every value check, each layer's resumed frame recompiled for
its own shapes with dynamic sizes, and inductor failed to lower the reference ops
(``LoweringException: Exponent must be non-negative``) — the first test is that case.
"""

from __future__ import annotations

import pytest
import torch

from gan import ops
from gan.networks.presets import build_generator

pytest.importorskip("torch._inductor")


class _TwoShapes(torch.nn.Module):
    """Ops called with different shapes, as the generator's layers call them."""

    def __init__(self, impl: str | None = None) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.impl = impl
        self.b1 = torch.nn.Parameter(0.1 * torch.randn(4, generator=g))
        self.b2 = torch.nn.Parameter(0.1 * torch.randn(4, generator=g))
        self.conv = torch.nn.Conv2d(4, 4, 1)
        self.register_buffer("f", torch.tensor([0.25, 0.5, 0.25]))
        self.register_buffer("g", torch.tensor([0.1, 0.4, 0.4, 0.1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kw = {"impl": self.impl}
        x = ops.filtered_lrelu(self.conv(x), self.f, self.g, self.b1, 2, 2, 2, clamp=64.0, **kw)
        x = ops.upfirdn2d(2 * self.conv(x), self.f, up=2, padding=1, **kw)
        return ops.filtered_lrelu(self.conv(x), self.f, self.g, self.b2, up=2, padding=1, **kw)


def _value_and_grads(model, params, *inputs):
    for p in params:
        p.grad = None
    y = model(*inputs)
    y.square().mean().backward()
    return y.detach(), [p.grad.clone() for p in params]


def _assert_close(got, want, atol):
    scale = want.abs().max().clamp_min(1e-30)
    torch.testing.assert_close(got / scale, want / scale, rtol=0, atol=atol)


def _assert_same_run(a, b, atol):
    _assert_close(a[0], b[0], atol)
    for ga, gb in zip(a[1], b[1], strict=True):
        _assert_close(ga, gb, atol)


def test_compiled_module_with_reference_ops_matches_eager():
    torch.manual_seed(0)
    m = _TwoShapes()
    x = torch.randn(2, 4, 12, 12)
    params = list(m.parameters())
    want = _value_and_grads(m, params, x)
    # Default settings: inductor, dynamic shapes left to dynamo.
    _assert_same_run(_value_and_grads(torch.compile(m), params, x), want, 1e-5)


@pytest.mark.parametrize("preset", ["t-tiny", "r-tiny", "baseline-tiny"])
def test_generators_compile_as_one_graph(preset):
    # float64, so that the compiled graph's reordered sums stay far below the tolerance;
    # aot_eager runs dynamo and AOT autograd without code generation (fast on CI's cores).
    G = build_generator(preset, res=16, seed=0, img_channels=1).double()
    z = torch.randn(3, G.z_dim, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    params = [p for p in G.parameters() if p.requires_grad]
    want = _value_and_grads(G, params, z, None)
    compiled = torch.compile(G, fullgraph=True, backend="aot_eager")
    _assert_same_run(_value_and_grads(compiled, params, z, None), want, 1e-10)


@pytest.mark.parametrize("preset", ["t-tiny", "r-tiny"])
def test_generators_compile_as_one_graph_for_inference(preset):
    # Sampling (no autograd): at 32 px the reference path interleaves upsampling phases, whose
    # autograd Function failed fullgraph tracing under no_grad (16 px never reaches it).
    G = build_generator(preset, res=32, seed=0).eval()
    z = torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(1))
    compiled = torch.compile(G, fullgraph=True, backend="aot_eager")
    for context in (torch.no_grad, torch.inference_mode):
        with context():
            torch.testing.assert_close(compiled(z), G(z), rtol=1e-5, atol=1e-6)


def test_value_checks_still_run_in_eager_mode():
    G = build_generator("t-tiny", res=16, seed=0)
    z = torch.randn(2, G.z_dim)
    z[0, 0] = float("nan")
    with pytest.raises(ValueError, match="z and c must be finite"):
        G(z, None)
    with pytest.raises(ValueError, match="f must be finite"):
        ops.upfirdn2d(torch.ones(1, 1, 4, 4), torch.tensor([1.0, float("inf")]))


@pytest.mark.skipif(
    torch.cuda.is_available(),
    reason="the CPU interpreter case; on CUDA, benchmarks/generator_compile.py --device cuda",
)
def test_triton_calls_are_graph_breaks_that_run_the_kernels():
    # Under TRITON_INTERPRET=1 (tests/gan/conftest.py) the kernels run on CPU tensors; dynamo
    # could not trace a launch there, so this also checks that it never tries.
    torch.manual_seed(0)
    m = _TwoShapes(impl="triton")
    x = torch.randn(2, 4, 12, 12)
    params = list(m.parameters())
    eager = _value_and_grads(m, params, x)
    m.impl = "ref"
    _assert_same_run(eager, _value_and_grads(m, params, x), 1e-5)
    m.impl = "triton"
    _assert_same_run(_value_and_grads(torch.compile(m), params, x), eager, 1e-6)


def test_a_compiled_generator_saves_like_the_generator(tmp_path):
    # torch.compile's wrapper prefixes every state_dict key with "_orig_mod.": saved as is, the
    # weights no longer matched the generator's config and the file could not be loaded.
    from gan.networks.io import load_generator, save_generator

    G = build_generator("t-tiny", res=16, seed=0)
    save_generator(torch.compile(G), tmp_path / "generator")
    H = load_generator(tmp_path / "generator")
    z = torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        torch.testing.assert_close(H(z), G(z), rtol=0, atol=0)
