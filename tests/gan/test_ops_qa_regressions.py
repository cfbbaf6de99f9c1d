"""Regressions found by adversarial QA of ``gan.ops`` (REFERENCE §4)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan.ops import filtered_lrelu, upfirdn2d

X = torch.ones(1, 2, 4, 4)


@pytest.mark.parametrize("f", [2.0, 3, np.float64(2.0), np.array(2.0)])
@pytest.mark.parametrize("op", ["upfirdn2d", "filtered_lrelu"])
def test_scalar_filters_are_rejected_like_scalar_tensors(f, op):
    # A Python or numpy scalar was silently taken as the one-tap filter [f] (a gain of f²),
    # while a 0-d tensor, to_filter_tensor and dsp.resample reject rank 0.
    call = {"upfirdn2d": lambda: upfirdn2d(X, f), "filtered_lrelu": lambda: filtered_lrelu(X, f)}
    with pytest.raises(ValueError, match=r"must have rank 1 \(separable\) or 2 .* got shape \[\]"):
        call[op]()


@pytest.mark.parametrize("dtype", [torch.float8_e4m3fn, torch.float8_e5m2])
def test_unsupported_floating_dtypes_are_a_value_error(dtype):
    # float8 passed the "floating-point" check and failed deep inside with
    # NotImplementedError: "mul_cpu_reduced_float" not implemented for 'Float8_e4m3fn'.
    x = X.to(dtype)
    with pytest.raises(
        ValueError, match="dtype: float16, bfloat16, float32 or float64, got torch.float8"
    ):
        upfirdn2d(x, [1.0, 1.0])
    with pytest.raises(
        ValueError, match="dtype: float16, bfloat16, float32 or float64, got torch.float8"
    ):
        filtered_lrelu(x)


def test_torch_func_grad_through_the_reference_path(torch_gen):
    # The reference path's autograd.Functions (phase interleave, fused leaky ReLU + clamp) had
    # no setup_context, so torch.func.grad / vjp / jacrev raised "In order to use an
    # autograd.Function with functorch transforms ... it must override the setup_context
    # staticmethod".
    x = torch.randn(1, 2, 6, 5, generator=torch_gen, dtype=torch.float64)
    b = torch.randn(2, generator=torch_gen, dtype=torch.float64)
    f = torch.randn(4, generator=torch_gen, dtype=torch.float64)

    def loss(x, b):
        y = filtered_lrelu(x, f, f, b, up=2, down=2, padding=3, clamp=0.5, impl="ref")
        return y.square().sum() + upfirdn2d(x, f, up=3, down=2, padding=2, impl="ref").sum()

    xa, ba = x.clone().requires_grad_(), b.clone().requires_grad_()
    want = torch.autograd.grad(loss(xa, ba), (xa, ba))
    got = torch.func.grad(loss, argnums=(0, 1))(x, b)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-12, atol=1e-12)
    # Second order (R1-style) through the transforms as well.
    r1 = torch.func.grad(lambda x: torch.func.grad(loss)(x, b).square().sum())(x)
    xa = x.clone().requires_grad_()
    (gx,) = torch.autograd.grad(loss(xa, b), xa, create_graph=True)
    (want_r1,) = torch.autograd.grad(gx.square().sum(), xa)
    torch.testing.assert_close(r1, want_r1, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["up", "down"])
def test_factors_beyond_int64_indexing_are_value_errors(name):
    # A factor of 2**63 reached torch's conv2d as a TypeError ("Overflow when unpacking long
    # long"); the cap is the dsp core's (one place for both).
    from dsp._checks import MAX_INDEX

    x, f = torch.ones(1, 1, 4, 4), torch.ones(2)
    with pytest.raises(ValueError, match=f"{name} must be <= {MAX_INDEX}"):
        upfirdn2d(x, f, **{name: 2**63})
    with pytest.raises(ValueError, match=f"{name} must be <= {MAX_INDEX}"):
        filtered_lrelu(x, f, f, **{name: 2**63})
    assert upfirdn2d(x, f, down=2**40).shape == (1, 1, 1, 1)  # large but valid: still works


def test_scalar_arguments_take_one_element_tensors():
    # gain=torch.tensor(2.0) was refused as "must be a real number, got tensor(2.)"; a
    # one-element real tensor now counts as its value, anything else is still a named error.
    x = torch.randn(1, 2, 6, 6, generator=torch.Generator().manual_seed(0))
    f = torch.tensor([1.0, 3.0, 3.0, 1.0]) / 8
    want = filtered_lrelu(x, f, f, None, 2, 2, 3, gain=1.5, slope=0.1, clamp=0.5)
    got = filtered_lrelu(
        x, f, f, None, 2, 2, 3, gain=torch.tensor(1.5), slope=torch.tensor([0.1]),
        clamp=torch.tensor(0.5, dtype=torch.float64),
    )  # fmt: skip
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    torch.testing.assert_close(
        upfirdn2d(x, f, 2, 1, 3, gain=torch.tensor(4.0)), upfirdn2d(x, f, 2, 1, 3, gain=4.0)
    )
    for bad, match in [
        (torch.tensor([1.0, 2.0]), r"gain must be a real number, got a tensor of shape \[2\]"),
        (torch.tensor(True), "gain must be a real number"),
        (torch.tensor(float("nan")), "gain must be finite"),
        (torch.tensor(2.0, requires_grad=True), "gain is a tensor that requires grad"),
    ]:
        with pytest.raises(ValueError, match=match):
            upfirdn2d(x, f, gain=bad)
    with pytest.raises(ValueError, match="clamp must be in"):
        filtered_lrelu(x, f, f, clamp=torch.tensor(-1.0))


def test_clamp_zero_is_accepted_as_by_the_float64_truth():
    # dsp.resample.filtered_lrelu documents clamp >= 0; the torch op refused 0.
    import numpy as np

    from dsp.filters import design_lowpass
    from dsp.resample import filtered_lrelu as truth
    from gan.ops import filtered_lrelu

    f = design_lowpass(0.25, half_width=0.1, fs=1.0, numtaps=8)
    x = np.random.default_rng(0).standard_normal((1, 2, 10, 10))
    want = truth(x, f, f, up=2, down=2, padding=5, clamp=0.0)
    ft = torch.from_numpy(f)
    got = filtered_lrelu(torch.from_numpy(x), ft, ft, up=2, down=2, padding=5, clamp=0.0)
    np.testing.assert_array_equal(got.numpy(), want)
    with pytest.raises(ValueError, match="clamp"):
        filtered_lrelu(torch.from_numpy(x), ft, ft, up=2, down=2, padding=5, clamp=-1.0)
