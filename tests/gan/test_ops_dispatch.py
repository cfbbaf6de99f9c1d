"""Backend selection of ``gan.ops``: impl argument, ALIASFREE_OPS_IMPL, fallbacks and warnings.

The Triton backend is replaced by a fake module that records what it receives and computes with
the reference path, and CUDA is faked by patching the dispatcher's device check, so these tests
pin the dispatch contract on any machine.
"""

import sys
import types
import warnings

import pytest
import torch

from gan.ops import FallbackWarning, _params, filtered_lrelu, reference, upfirdn2d

X = torch.randn(2, 3, 6, 6, generator=torch.Generator().manual_seed(0))
F1 = torch.tensor([1.0, 3.0, 3.0, 1.0]) / 8


class FakeTriton(types.ModuleType):
    """Stands in for gan.ops._triton: records calls, answers with the reference path."""

    def __init__(self, reason=None):
        super().__init__("gan.ops._triton")
        self.reason = reason
        self.calls = []
        self.asked = []

    def unsupported_reason(self, op, x, up, down, f, fd=None):
        self.asked.append((op, up, down, f, fd))
        return self.reason(op, x, up, down, f, fd) if callable(self.reason) else self.reason

    def upfirdn2d(self, *args):
        self.calls.append(("upfirdn2d", args))
        return reference.upfirdn2d(*args)

    def filtered_lrelu(self, *args):
        self.calls.append(("filtered_lrelu", args))
        return reference.filtered_lrelu(*args)


@pytest.fixture
def fake(monkeypatch, fresh_fallback_warnings):
    backend = FakeTriton()
    monkeypatch.setitem(sys.modules, "gan.ops._triton", backend)
    monkeypatch.delenv(_params.ENV_IMPL, raising=False)
    return backend


@pytest.fixture
def fake_cuda(monkeypatch):
    monkeypatch.setattr(_params, "_is_cuda", lambda x: True)


def test_auto_on_cpu_runs_the_reference_silently(fake):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = upfirdn2d(X, F1, up=2, padding=2)
        z = filtered_lrelu(X, F1, F1, up=2, down=2, padding=3, impl="auto")
    assert fake.calls == [] and fake.asked == []
    torch.testing.assert_close(y, reference.upfirdn2d(X, F1, 2, 1, (2,) * 4, 1.0, False))
    assert z.shape == (2, 3, 6, 6)


def test_auto_on_cuda_uses_triton_with_normalised_arguments(fake, fake_cuda):
    b = torch.zeros(3, dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        upfirdn2d(X, [1.0, 2.0, 1.0], up=2, down=1, padding=[1, 2], gain=4, flip_filter=False)
        filtered_lrelu(X, None, F1.double(), b, up=2, down=2, padding=3, clamp=256)
    (op1, a1), (op2, a2) = fake.calls
    assert op1 == "upfirdn2d" and op2 == "filtered_lrelu"
    x, f, up, down, pad, gain, flip = a1
    assert x is X and (up, down, pad, flip) == (2, 1, (1, 1, 2, 2), False)
    assert type(gain) is float and gain == 4.0
    assert f.dtype == torch.float32 and f.device == X.device and f.tolist() == [1.0, 2.0, 1.0]
    x, fu, fd, bb, up, down, pad, gain, slope, clamp, flip = a2
    assert fu.tolist() == [1.0] and fu.dtype == fd.dtype == bb.dtype == torch.float32
    assert bb.shape == (3,) and pad == (3, 3, 3, 3) and (up, down) == (2, 2)
    assert type(clamp) is float and type(slope) is float and type(gain) is float
    assert [a[0] for a in fake.asked] == ["upfirdn2d", "filtered_lrelu"]
    assert fake.asked[1][4] is fd  # both filters go to unsupported_reason


def test_float64_input_gets_float64_filters(fake, fake_cuda):
    upfirdn2d(X.double(), F1, impl="triton")
    assert fake.calls[0][1][1].dtype == torch.float64


def test_ref_forces_the_reference(fake, fake_cuda):
    upfirdn2d(X, F1, impl="ref")
    filtered_lrelu(X, F1, impl="ref")
    assert fake.calls == [] and fake.asked == []


def test_unsupported_falls_back_with_one_warning_per_reason(fake, fake_cuda):
    fake.reason = lambda op, x, up, down, f, fd: f"up={up} is not supported"
    expected = upfirdn2d(X, F1, up=3, padding=1, impl="ref")
    with pytest.warns(FallbackWarning, match="upfirdn2d: using the reference.*up=3 is not"):
        y = upfirdn2d(X, F1, up=3, padding=1)
    torch.testing.assert_close(y, expected, rtol=0, atol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        upfirdn2d(X, F1, up=3, padding=1)  # same reason: silent
    with pytest.warns(FallbackWarning, match="up=5"):
        upfirdn2d(X, F1, up=5)  # a new reason warns again
    with pytest.warns(FallbackWarning, match="filtered_lrelu"):
        filtered_lrelu(X, F1, up=3, padding=1)  # another op, another message
    assert fake.calls == []


def test_fallback_warning_turned_into_an_error_raises_every_time(fake, fake_cuda):
    fake.reason = lambda op, x, up, down, f, fd: f"up={up} is not supported"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(2):  # the second call must not fall back silently
            with pytest.raises(FallbackWarning, match="up=3"):
                upfirdn2d(X, F1, up=3, padding=1)


def test_forced_triton_on_unsupported_raises(fake, fake_cuda):
    fake.reason = "2D filters are not supported"
    with pytest.raises(ValueError, match="impl='triton'.*2D filters are not supported"):
        upfirdn2d(X, torch.ones(2, 2), impl="triton")
    with pytest.raises(ValueError, match="filtered_lrelu: 2D filters"):
        filtered_lrelu(X, fd=torch.ones(2, 2), impl="triton")


def test_forced_triton_on_cpu_needs_the_interpreter(fake, monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    with pytest.raises(ValueError, match="needs a CUDA tensor"):
        upfirdn2d(X, F1, impl="triton")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    upfirdn2d(X, F1, impl="triton")
    assert [c[0] for c in fake.calls] == ["upfirdn2d"]


def test_environment_variable_sets_the_default(fake, fake_cuda, monkeypatch):
    monkeypatch.setenv(_params.ENV_IMPL, "ref")
    upfirdn2d(X, F1)
    assert fake.calls == []
    upfirdn2d(X, F1, impl="triton")  # an explicit argument wins
    assert len(fake.calls) == 1
    monkeypatch.setenv(_params.ENV_IMPL, "triton")
    fake.reason = "nope"
    with pytest.raises(ValueError, match="nope"):
        upfirdn2d(X, F1)
    monkeypatch.setenv(_params.ENV_IMPL, "fast")
    with pytest.raises(ValueError, match="ALIASFREE_OPS_IMPL"):
        upfirdn2d(X, F1)


def test_filter_requiring_grad_stays_on_the_reference(fake, fake_cuda):
    f = F1.clone().requires_grad_(True)
    with pytest.warns(FallbackWarning, match="filter requires grad"):
        upfirdn2d(X, f, up=2).sum().backward()
    assert fake.calls == [] and f.grad is not None and f.grad.abs().sum() > 0
    with torch.no_grad():
        upfirdn2d(X, f, up=2)  # no gradient wanted: the fast path may run it
    assert len(fake.calls) == 1
    with pytest.raises(ValueError, match="filter requires grad"):
        filtered_lrelu(X, fu=f, impl="triton")


def test_missing_backend(monkeypatch, fresh_fallback_warnings, fake_cuda):
    monkeypatch.setitem(sys.modules, "gan.ops._triton", None)  # import raises ImportError
    monkeypatch.delenv(_params.ENV_IMPL, raising=False)
    with pytest.warns(FallbackWarning, match="could not be imported"):
        y = upfirdn2d(X, F1, down=2)
    torch.testing.assert_close(y, upfirdn2d(X, F1, down=2, impl="ref"))
    with pytest.raises(ValueError, match="could not be imported"):
        upfirdn2d(X, F1, impl="triton")


def test_real_backend_receives_compatible_arguments(monkeypatch):
    # The real gan.ops._triton (in Triton's interpreter on CPU) takes the normalised arguments
    # positionally and agrees with the reference, gradients w.r.t. x and b included.
    monkeypatch.delenv(_params.ENV_IMPL, raising=False)
    if not torch.cuda.is_available():
        monkeypatch.setenv("TRITON_INTERPRET", "1")
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(1, 2, 5, 6, generator=gen).to(dev)
    b = torch.randn(2, generator=gen).to(dev)
    f = torch.tensor([1.0, 3.0, 3.0, 1.0]) / 8
    y = upfirdn2d(x, f, up=2, padding=[2, 1, 1, 2], gain=4.0, impl="triton")
    torch.testing.assert_close(y, upfirdn2d(x, f, 2, 1, [2, 1, 1, 2], 4.0, impl="ref"))
    grads = []
    for impl in ("triton", "ref"):
        xx, bb = x.clone().requires_grad_(True), b.clone().requires_grad_(True)
        z = filtered_lrelu(xx, f, f, bb, up=2, down=2, padding=3, clamp=1.0, impl=impl)
        (z * torch.arange(z.numel(), device=dev).reshape(z.shape)).sum().backward()
        grads.append((z.detach(), xx.grad, bb.grad))
    for got, want in zip(*grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4 * want.abs().max().item())
