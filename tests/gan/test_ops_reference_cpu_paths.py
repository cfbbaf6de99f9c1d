"""The CPU formulations of the reference path (REFERENCE §4): polyphase up-sampling, the
interleave-free ``filtered_lrelu`` for ``up == down``, channels-last passes and the fused
leaky-ReLU + clamp node.

Truths: ``dsp.resample`` (float64, numba, written from the definition independently of torch),
torch autograd of the plain composition (``leaky_relu`` then ``clamp``) and finite differences
(``gradcheck`` / ``gradgradcheck`` in float64).
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import dsp.filters
import dsp.resample
from gan.ops import filtered_lrelu, upfirdn2d
from gan.ops import reference as ref


def _t(a):
    return None if a is None else torch.from_numpy(np.asarray(a, dtype=np.float64))


def _close(actual, expected, tol=1e-10):
    actual = actual.detach().double().numpy()
    assert actual.shape == expected.shape
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=tol * scale)


@st.composite
def dividing_factor_geometries(draw):
    """``down`` dividing ``up`` with 1D filters (``up == down``: the interleave-free path), any
    tap counts and paddings, including crops that cut the input and tap counts that ``up``
    does not divide."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    u, d = draw(st.sampled_from([(2, 2), (3, 3), (4, 4), (4, 2), (2, 1)]))
    ku, kd = draw(st.integers(1, 13)), draw(st.integers(1, 9))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    pads = []
    for n in (w, h):
        p0, p1 = draw(st.integers(-12, 9)), draw(st.integers(-12, 9))
        # Smallest valid output: one sample after both filters.
        pads += [p0, max(p1, ku + kd - 1 - n * u - p0)]
    return dict(
        x=rng.standard_normal((draw(st.integers(1, 2)), 2, h, w)),
        fu=rng.standard_normal(ku),
        fd=rng.standard_normal(kd),
        b=rng.standard_normal(2),
        up=u,
        down=d,
        pad=tuple(pads),
    )


@given(
    g=dividing_factor_geometries(),
    gain=st.floats(-2, 3),
    slope=st.floats(-0.5, 1.5),
    clamp=st.none() | st.floats(0.05, 5),
    flip=st.booleans(),
)
def test_interleave_free_filtered_lrelu_matches_dsp(g, gain, slope, clamp, flip):
    args = (g["up"], g["down"], g["pad"], gain, slope, clamp, flip)
    y = filtered_lrelu(_t(g["x"]), _t(g["fu"]), _t(g["fd"]), _t(g["b"]), *args)
    _close(y, dsp.resample.filtered_lrelu(g["x"], g["fu"], g["fd"], g["b"], *args))


@pytest.mark.parametrize("kind", ["1d", "2d"])
@pytest.mark.parametrize("taps", [1, 5, 7, 12])
@pytest.mark.parametrize("up", [2, 3])
@pytest.mark.parametrize("pad", [(6, 5, 5, 6), (-5, -6, -3, 2), (0, 0, 9, -4)])
def test_polyphase_upsampling_matches_dsp(kind, taps, up, pad):
    # Sub-filters of ceil(taps/up) taps, zero-extended where up does not divide taps; crops on
    # the upsampled grid that start and end mid-phase.
    rng = np.random.default_rng(taps * 100 + up)
    x = rng.standard_normal((2, 3, 7, 8))
    f = rng.standard_normal(taps) if kind == "1d" else rng.standard_normal((taps, taps + 1))
    th, tw = (taps, taps) if kind == "1d" else (taps, taps + 1)
    px0, px1, py0, py1 = pad
    px1 = max(px1, tw - 8 * up - px0)
    py1 = max(py1, th - 7 * up - py0)
    pad = (px0, px1, py0, py1)
    for down in (1, 2):
        for flip in (False, True):
            y = upfirdn2d(_t(x), _t(f), up, down, pad, 1.5, flip)
            _close(y, dsp.resample.upfirdn2d(x, f, up, down, pad, 1.5, flip))


@pytest.mark.parametrize("op", ["upfirdn2d", "filtered_lrelu"])
def test_result_layout_follows_the_input(op, torch_gen):
    x = torch.randn(2, 5, 9, 11, generator=torch_gen)
    f = torch.randn(6, generator=torch_gen)

    def call(t):
        if op == "upfirdn2d":
            return upfirdn2d(t, f, up=2, down=1, padding=[3, 2, 3, 2], gain=4.0)
        return filtered_lrelu(t, f, f, up=2, down=2, padding=[5, 4, 5, 4], clamp=1.0)

    y = call(x)
    assert y.is_contiguous()
    yc = call(x.contiguous(memory_format=torch.channels_last))
    assert yc.is_contiguous(memory_format=torch.channels_last) and not yc.is_contiguous()
    torch.testing.assert_close(yc, y, rtol=0, atol=2e-6 * y.abs().max().item())


@pytest.mark.parametrize("slope", [0.2, 1.0, 2.5])
def test_fused_activation_matches_the_autograd_composition(slope, torch_gen):
    # Away from the kinks (0 and ±clamp) the fused node and autograd's leaky_relu + clamp
    # agree exactly, forward and backward.
    v = torch.randn(3, 4, 6, 7, generator=torch_gen, dtype=torch.float64) * 3
    v = torch.where((v.abs() < 1e-3) | ((v.abs() - 2.0).abs() < 1e-3), v + 0.01, v)
    v.requires_grad_()
    gy = torch.randn(v.shape, generator=torch_gen, dtype=torch.float64)
    want = F.leaky_relu(v, slope).clamp(-2.0, 2.0)
    (want_grad,) = torch.autograd.grad(want, v, gy)
    got = ref._LeakyReluClamp.apply(v, slope, 2.0)
    (got_grad,) = torch.autograd.grad(got, v, gy)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    torch.testing.assert_close(got_grad, want_grad, rtol=0, atol=0)
    assert (got.abs() == 2.0).any() and (got.abs() < 2.0).any()


def test_fused_activation_gradcheck_and_double_backward(torch_gen):
    v = torch.randn(2, 3, 4, 5, generator=torch_gen, dtype=torch.float64) * 2
    v.requires_grad_()

    def op(t):
        return ref._LeakyReluClamp.apply(t, 0.2, 1.5)

    assert torch.autograd.gradcheck(op, (v,))
    assert torch.autograd.gradgradcheck(op, (v,))


def test_gradcheck_through_the_new_paths(torch_gen):
    # up == down (interleave-free), ×4 ÷2 and a 2D fd (polyphase, interleaved), crops of x.
    x = torch.randn(1, 1, 5, 6, generator=torch_gen, dtype=torch.float64, requires_grad=True)
    b = torch.randn(1, generator=torch_gen, dtype=torch.float64, requires_grad=True)
    fu = torch.randn(5, generator=torch_gen, dtype=torch.float64)
    fd = torch.randn(4, generator=torch_gen, dtype=torch.float64)

    def lrelu_equal(x, b):
        return filtered_lrelu(x, fu, fd, b, up=2, down=2, padding=[-3, 4, 2, -1], clamp=1.0)

    def lrelu_x4(x, b):
        return filtered_lrelu(x, fu, fd, b, up=4, down=2, padding=[-6, -2, 1, 0], clamp=1.0)

    def lrelu_2d(x, b):
        fd2 = fd[:3, None] * fd[None, :]
        return filtered_lrelu(x, fu, fd2, b, up=2, down=2, padding=[-3, 3, 2, -1], clamp=1.0)

    assert torch.autograd.gradcheck(lrelu_equal, (x, b))
    assert torch.autograd.gradcheck(lrelu_x4, (x, b))
    assert torch.autograd.gradcheck(lrelu_2d, (x, b))
    # R1 differentiates through upfirdn2d twice: the polyphase interleave must allow it.
    assert torch.autograd.gradgradcheck(
        lambda x: upfirdn2d(x, fu, up=3, down=2, padding=[1, -2, 3, 0]), (x,)
    )
    assert torch.autograd.gradgradcheck(lambda x: upfirdn2d(x, fd, down=2, padding=2), (x,))


def test_float32_t_tiny_layer_agrees_with_float64(torch_gen):
    # A t-tiny synthesis layer (×2, 12 taps, padding (9, 8) and a crop (−11, −12)) on few
    # channels: float32 output and gradient within float32 rounding of the float64 result.
    x = torch.randn(1, 3, 54, 54, generator=torch_gen, dtype=torch.float64) * 2
    b = torch.randn(3, generator=torch_gen, dtype=torch.float64)
    f = torch.from_numpy(dsp.filters.design_lowpass(8.0, half_width=4.0, fs=64.0, numtaps=12))
    gy = torch.randn(1, 3, 52, 52, generator=torch_gen, dtype=torch.float64)
    for pad in ((9, 8), (-11, -12)):
        out = {}
        for dt in (torch.float64, torch.float32):
            xx = x.to(dt).requires_grad_()
            y = filtered_lrelu(xx, f.to(dt), f.to(dt), b.to(dt), 2, 2, pad * 2, clamp=256.0)
            gyy = gy if y.shape[2] == 52 else gy[:, :, : y.shape[2], : y.shape[3]]
            (gx,) = torch.autograd.grad(y, xx, gyy.to(dt))
            out[dt] = (y.double(), gx.double())
        for a, e in zip(out[torch.float32], out[torch.float64], strict=True):
            torch.testing.assert_close(a, e, rtol=0, atol=2e-6 * e.abs().max().item())


def test_results_are_bitwise_repeatable(torch_gen):
    # Resumed training must equal uninterrupted training bit for bit.
    x = torch.randn(2, 4, 20, 20, generator=torch_gen, requires_grad=True)
    f = torch.randn(12, generator=torch_gen)
    runs = []
    for _ in range(2):
        y = filtered_lrelu(x, f, f, up=2, down=2, padding=[9, 8, 9, 8], clamp=5.0)
        (g,) = torch.autograd.grad(y.square().sum(), x)
        runs.append((y, g))
    assert torch.equal(runs[0][0], runs[1][0]) and torch.equal(runs[0][1], runs[1][1])


# --- mutation-testing additions ---------------------------------------------------------------


@pytest.mark.parametrize(
    "slope, gain",
    [(0.2, 1.0), (0.0, 1.0), (0.2, -1.0), (-0.5, 1.0)],
    ids=["fused", "slope-0", "negative-gain", "negative-slope"],
)
def test_clamp_gradient_is_zero_at_exact_ties_on_every_path(slope, gain):
    # Documented (filtered_lrelu, clamp): the derivative is 0 where |act| >= clamp, ties
    # included, on every path; the fused node covers slope > 0 with a positive gain, the
    # elementwise composition the rest. Activations: exact ties at ±clamp, some values inside
    # and some outside. Truth: the analytic derivative, 0 at and beyond the clamp, else
    # gain·lrelu'(v).
    clamp = 2.0
    # Exact ties: v = 2 (positive side), v = −10 (slope 0.2) and v = −4 (slope −0.5).
    v = torch.tensor([2.0, -10.0, -4.0, 0.5, -0.5, 3.0, -20.0], dtype=torch.float64)
    x = v.clone().view(1, 1, 1, -1).requires_grad_()
    y = filtered_lrelu(x, None, None, None, gain=gain, slope=slope, clamp=clamp)
    act = gain * torch.where(v >= 0, v, slope * v)
    torch.testing.assert_close(y.view(-1), act.clamp(-clamp, clamp), rtol=0, atol=0)
    (g,) = torch.autograd.grad(y.sum(), x)
    deriv = gain * torch.where(v >= 0, torch.ones_like(v), torch.full_like(v, slope))
    want = torch.where(act.abs() < clamp, deriv, torch.zeros_like(v))
    assert (act.abs() == clamp).sum() >= 1  # at least one exact tie is tested
    torch.testing.assert_close(g.view(-1), want, rtol=0, atol=0)
