"""The plain-PyTorch reference path of ``gan.ops`` (REFERENCE §4).

Truths: ``dsp.resample`` (float64, numba) and a literal numpy brute force written here from the
definition (zero insertion into an explicit array, explicit padding, sums of shifted slices),
plus a few analytic cases (linear-interpolation upsampling of a ramp is exact).
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import dsp.filters
import dsp.resample
from gan.ops import filtered_lrelu, lowpass_filter, output_size, to_filter_tensor, upfirdn2d

# ---------------------------------------------------------------------------------------------
# Independent brute force, straight from the definition.


def _brute_upfirdn2d(x, f, up, down, pad, gain, flip):
    n, c, h, w = x.shape
    f = np.ones(1) if f is None else np.asarray(f, dtype=np.float64)
    k2 = np.outer(f, f) if f.ndim == 1 else f
    u = np.zeros((n, c, h * up, w * up))
    u[:, :, ::up, ::up] = x
    px0, px1, py0, py1 = pad
    hp, wp = h * up + py0 + py1, w * up + px0 + px1
    v = np.zeros((n, c, hp, wp))
    for i in range(hp):
        for j in range(wp):
            si, sj = i - py0, j - px0
            if 0 <= si < h * up and 0 <= sj < w * up:
                v[:, :, i, j] = u[:, :, si, sj]
    kh, kw = k2.shape
    # Correlation with the kernel itself, or true convolution = correlation with it flipped.
    g = k2 if flip else k2[::-1, ::-1]
    oh, ow = hp - kh + 1, wp - kw + 1
    out = np.zeros((n, c, oh, ow))
    for a in range(kh):
        for b in range(kw):
            out += g[a, b] * v[:, :, a : a + oh, b : b + ow]
    return gain * out[:, :, ::down, ::down]


def _brute_filtered_lrelu(x, fu, fd, b, up, down, pad, gain, slope, clamp, flip):
    if b is not None:
        x = x + np.asarray(b)[None, :, None, None]
    y = _brute_upfirdn2d(x, fu, up, 1, pad, up * up, flip)
    y = gain * np.where(y >= 0, y, slope * y)
    if clamp is not None:
        y = np.clip(y, -clamp, clamp)
    return _brute_upfirdn2d(y, fd, 1, down, (0, 0, 0, 0), 1.0, flip)


def _t(a):
    return None if a is None else torch.from_numpy(np.asarray(a, dtype=np.float64))


def _close(actual, expected, tol=1e-10):
    actual = actual.detach().cpu().double().numpy() if isinstance(actual, torch.Tensor) else actual
    assert actual.shape == expected.shape
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=tol * scale)


# ---------------------------------------------------------------------------------------------
# Random geometries


def _filter(draw, rng):
    kind = draw(st.sampled_from(["none", "1d", "2d"]))
    if kind == "none":
        return None, (1, 1)
    if kind == "1d":
        k = draw(st.integers(1, 8))
        return rng.standard_normal(k), (k, k)
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    return rng.standard_normal((kh, kw)), (kh, kw)


@st.composite
def geometries(draw, two_filters):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    up, down = draw(st.sampled_from([1, 2, 3, 4])), draw(st.sampled_from([1, 2, 3, 4]))
    f, (th, tw) = _filter(draw, rng)
    fd, (dh, dw) = _filter(draw, rng) if two_filters else (None, (1, 1))
    pads = []
    for size, taps in ((w, tw + dw - 1), (h, th + dh - 1)):
        p0, p1 = draw(st.integers(-3, 6)), draw(st.integers(-3, 6))
        pads += [p0, max(p1, taps - size * up - p0)]  # the smallest valid output is 1 sample
    x = rng.standard_normal((n, c, h, w))
    return dict(x=x, f=f, fd=fd, up=up, down=down, pad=tuple(pads), b=rng.standard_normal(c))


@given(g=geometries(two_filters=False), gain=st.floats(-2, 3), flip=st.booleans())
def test_upfirdn2d_matches_truths(g, gain, flip):
    y = upfirdn2d(_t(g["x"]), _t(g["f"]), g["up"], g["down"], list(g["pad"]), gain, flip)
    assert y.dtype == torch.float64
    truth = dsp.resample.upfirdn2d(g["x"], g["f"], g["up"], g["down"], g["pad"], gain, flip)
    _close(y, truth)
    _close(y, _brute_upfirdn2d(g["x"], g["f"], g["up"], g["down"], g["pad"], gain, flip))
    taps = 1 if g["f"] is None else (g["f"].shape * 2)[:2]
    assert y.shape[2:] == output_size(*g["x"].shape[2:], g["up"], g["down"], g["pad"], taps)


@given(
    g=geometries(two_filters=True),
    gain=st.floats(-2, 3),
    slope=st.floats(-0.5, 1.5),
    clamp=st.none() | st.floats(0.05, 5),
    use_bias=st.booleans(),
    flip=st.booleans(),
)
def test_filtered_lrelu_matches_truths(g, gain, slope, clamp, use_bias, flip):
    b = g["b"] if use_bias else None
    args = (g["up"], g["down"], g["pad"], gain, slope, clamp, flip)
    y = filtered_lrelu(_t(g["x"]), _t(g["f"]), _t(g["fd"]), _t(b), *args)
    truth = dsp.resample.filtered_lrelu(g["x"], g["f"], g["fd"], b, *args)
    _close(y, truth)
    _close(y, _brute_filtered_lrelu(g["x"], g["f"], g["fd"], b, *args))
    tu = 1 if g["f"] is None else (g["f"].shape * 2)[:2]
    td = 1 if g["fd"] is None else (g["fd"].shape * 2)[:2]
    h, w = g["x"].shape[2:]
    assert y.shape[2:] == output_size(h, w, g["up"], g["down"], g["pad"], tu, td)


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("kind", ["1d", "2d"])
@pytest.mark.parametrize("down", [1, 2, 3])
@pytest.mark.parametrize("up", [1, 2, 4])
def test_factor_grid_matches_truths(up, down, kind, flip):
    # Every factor/filter/flip combination, not left to chance; asymmetric filters so that a
    # convolution/correlation mix-up shows.
    rng = np.random.default_rng(100 * up + 10 * down + flip)
    x = rng.standard_normal((1, 2, 5, 6))
    fu = rng.standard_normal(5) if kind == "1d" else rng.standard_normal((3, 4))
    fd = rng.standard_normal((2, 3)) if kind == "1d" else rng.standard_normal(4)
    b = rng.standard_normal(2)
    pad = (3, 2, -1, 4)
    y = upfirdn2d(_t(x), _t(fu), up, down, pad, 1.5, flip)
    _close(y, dsp.resample.upfirdn2d(x, fu, up, down, pad, 1.5, flip))
    _close(y, _brute_upfirdn2d(x, fu, up, down, pad, 1.5, flip))
    args = (up, down, pad, 1.3, 0.3, 1.0, flip)
    z = filtered_lrelu(_t(x), _t(fu), _t(fd), _t(b), *args)
    _close(z, dsp.resample.filtered_lrelu(x, fu, fd, b, *args))
    _close(z, _brute_filtered_lrelu(x, fu, fd, b, *args))


# ---------------------------------------------------------------------------------------------
# Analytic cases


def test_linear_interpolation_of_a_ramp_is_exact():
    # [1, 2, 1]/4 with gain up² = 4 is linear interpolation along each axis; padding 1 before
    # aligns output j with input position j/2, so a ramp along W comes out as j/2.
    h, w = 4, 6
    x = torch.arange(w, dtype=torch.float64).expand(1, 2, h, w) * 3.0
    f = torch.tensor([1.0, 2.0, 1.0]) / 4
    y = upfirdn2d(x, f, up=2, padding=[1, 1, 1, 1], gain=4.0)
    assert y.shape == (1, 2, 2 * h, 2 * w)
    j = torch.arange(2 * w - 1, dtype=torch.float64)
    expected = (3.0 * j / 2).expand(1, 2, 2 * h - 1, 2 * w - 1)
    torch.testing.assert_close(y[:, :, : 2 * h - 1, : 2 * w - 1], expected, rtol=0, atol=1e-12)


def test_box_downsampling_averages_pairs():
    x = torch.arange(24, dtype=torch.float64).reshape(1, 1, 4, 6)
    y = upfirdn2d(x, torch.tensor([0.5, 0.5]), down=2)
    expected = x.reshape(1, 1, 2, 2, 3, 2).mean(dim=(3, 5))
    torch.testing.assert_close(y, expected, rtol=0, atol=1e-12)


def test_padding_axes_and_forms():
    x = torch.randn(1, 2, 5, 7, dtype=torch.float64)
    f = torch.tensor([1.0, -2.0, 0.5])
    # x (width) first: [x, y] means [x, x, y, y].
    y = upfirdn2d(x, f, padding=[3, 1])
    assert y.shape == (1, 2, 5 + 2 - 2, 7 + 6 - 2)
    torch.testing.assert_close(y, upfirdn2d(x, f, padding=[3, 3, 1, 1]), rtol=0, atol=0)
    torch.testing.assert_close(
        upfirdn2d(x, f, padding=2), upfirdn2d(x, f, padding=(2, 2, 2, 2)), rtol=0, atol=0
    )


def test_elementwise_case_of_filtered_lrelu():
    rng = np.random.default_rng(3)
    x, b = rng.standard_normal((2, 3, 4, 5)) * 3, rng.standard_normal(3)
    y = filtered_lrelu(_t(x), b=_t(b), gain=1.5, slope=0.1, clamp=2.0)
    v = x + b[None, :, None, None]
    _close(y, np.clip(1.5 * np.where(v >= 0, v, 0.1 * v), -2.0, 2.0))
    # Defaults: gain √2, slope 0.2, no clamp.
    _close(filtered_lrelu(_t(x)), math.sqrt(2) * np.where(x >= 0, x, 0.2 * x))


def test_row_kernel_filters_width_only():
    x = torch.randn(1, 1, 6, 8, dtype=torch.float64)
    row = torch.tensor([[1.0, 2.0, 3.0]])
    y = upfirdn2d(x, row, padding=[1, 1, 0, 0])
    expected = _brute_upfirdn2d(x.numpy(), row.numpy(), 1, 1, (1, 1, 0, 0), 1.0, False)
    _close(y, expected)


# ---------------------------------------------------------------------------------------------
# Precision, layouts, containers


@pytest.mark.parametrize("radial", [False, True])
def test_float32_agrees_with_float64(radial, torch_gen):
    x = torch.randn(2, 4, 14, 14, generator=torch_gen, dtype=torch.float64)
    b = torch.randn(4, generator=torch_gen, dtype=torch.float64)
    fu = lowpass_filter(4.0, half_width=2.0, fs=32.0, numtaps=12, dtype=torch.float64)
    fd = lowpass_filter(
        4.0, half_width=2.0, fs=32.0, numtaps=12, radial=radial, dtype=torch.float64
    )
    kw = dict(up=2, down=2, padding=[10, 11, 10, 11], clamp=2.5)
    y64 = filtered_lrelu(x, fu, fd, b, **kw)
    y32 = filtered_lrelu(x.float(), fu.float(), fd.float(), b.float(), **kw)
    assert y32.dtype == torch.float32 and y64.shape == y32.shape == (2, 4, 14, 14)
    torch.testing.assert_close(y32.double(), y64, rtol=0, atol=2e-6 * y64.abs().max().item())
    u64 = upfirdn2d(x, fu, up=2, padding=[6, 5, 6, 5], gain=4.0)
    u32 = upfirdn2d(x.float(), fu, up=2, padding=[6, 5, 6, 5], gain=4.0)
    torch.testing.assert_close(u32.double(), u64, rtol=0, atol=2e-6 * u64.abs().max().item())


def test_layouts_and_filter_containers():
    rng = np.random.default_rng(7)
    x = torch.from_numpy(rng.standard_normal((2, 3, 6, 7)))
    f = rng.standard_normal(4)
    y = upfirdn2d(x, _t(f), up=2, down=3, padding=[2, 1, 0, 3])
    for xx in (x.to(memory_format=torch.channels_last), x.transpose(2, 3).contiguous().mT):
        torch.testing.assert_close(upfirdn2d(xx, _t(f), 2, 3, [2, 1, 0, 3]), y, rtol=0, atol=1e-13)
    for ff in (f, list(f), torch.from_numpy(f).float()):
        torch.testing.assert_close(
            upfirdn2d(x, ff, 2, 3, [2, 1, 0, 3]), y, rtol=0, atol=1e-6 * y.abs().max().item()
        )


def test_bias_as_array_like():
    x = torch.randn(1, 2, 4, 4)
    torch.testing.assert_close(
        filtered_lrelu(x, b=[0.5, -1.0]), filtered_lrelu(x, b=torch.tensor([0.5, -1.0]))
    )


# ---------------------------------------------------------------------------------------------
# Gradients (torch autograd on the reference path)


def test_gradcheck_upfirdn2d(torch_gen):
    x = torch.randn(1, 2, 5, 6, generator=torch_gen, dtype=torch.float64, requires_grad=True)
    f1 = torch.randn(4, generator=torch_gen, dtype=torch.float64)
    f2 = torch.randn(3, 2, generator=torch_gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x: upfirdn2d(x, f1, up=2, down=2, padding=[2, 1, -1, 3], gain=1.5), (x,)
    )
    assert torch.autograd.gradcheck(
        lambda x, f: upfirdn2d(x, f, up=3, down=2, padding=[1, 0, 2, 2], flip_filter=True),
        (x, f2),
    )


def test_gradcheck_filtered_lrelu(torch_gen):
    # Random inputs sit at a kink (0 or ±clamp) with probability 0; the clamp is low enough
    # that some samples are clamped, so the zero-gradient branch is exercised too.
    x = torch.randn(1, 2, 4, 5, generator=torch_gen, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, generator=torch_gen, dtype=torch.float64, requires_grad=True)
    fu = torch.randn(4, generator=torch_gen, dtype=torch.float64)
    fd = torch.randn(3, 3, generator=torch_gen, dtype=torch.float64)

    def op(x, b):
        return filtered_lrelu(x, fu, fd, b, up=2, down=2, padding=[3, 2, 2, 3], clamp=0.8)

    assert torch.autograd.gradcheck(op, (x, b))
    pre = filtered_lrelu(x, fu, None, b, up=2, padding=[3, 2, 2, 3], gain=math.sqrt(2))
    assert (pre.abs() > 0.8).any() and (pre.abs() < 0.8).any()


# ---------------------------------------------------------------------------------------------
# Filters from dsp


def test_filter_tensors_come_from_dsp():
    taps = dsp.filters.design_lowpass(3.0, half_width=1.5, fs=16.0, numtaps=12)
    t = lowpass_filter(3.0, half_width=1.5, fs=16.0, numtaps=12, dtype=torch.float64)
    np.testing.assert_array_equal(t.numpy(), taps)
    radial = lowpass_filter(3.0, half_width=1.5, fs=16.0, numtaps=8, radial=True)
    assert radial.shape == (8, 8) and radial.dtype == torch.float32
    np.testing.assert_allclose(
        radial.numpy(),
        dsp.filters.design_lowpass(3.0, half_width=1.5, fs=16.0, numtaps=8, radial=True),
        rtol=1e-6,
    )
    assert lowpass_filter(8.0, half_width=1.0, fs=16.0, numtaps=1).tolist() == [1.0]
    assert to_filter_tensor(np.array([1, 2, 1])).dtype == torch.float32


@pytest.mark.parametrize(
    ("taps", "kw", "match"),
    [
        (np.ones((2, 2, 2)), {}, "rank"),
        (np.ones(0), {}, "empty"),
        (np.array([1.0, np.nan]), {}, "finite"),
        (np.array([1 + 1j]), {}, "real"),
        (np.ones(3), {"dtype": torch.int64}, "dtype"),
    ],
)
def test_to_filter_tensor_rejects(taps, kw, match):
    with pytest.raises(ValueError, match=match):
        to_filter_tensor(taps, **kw)


# ---------------------------------------------------------------------------------------------
# Bad input

X = torch.zeros(1, 2, 4, 4)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: upfirdn2d(torch.zeros(2, 4, 4), None), "x must have rank 4"),
        (lambda: upfirdn2d(np.zeros((1, 1, 4, 4)), None), "x must be a torch.Tensor"),
        (lambda: upfirdn2d(torch.zeros(1, 1, 4, 4, dtype=torch.int32), None), "floating"),
        (lambda: upfirdn2d(torch.zeros(1, 0, 4, 4), None), "C, H, W >= 1"),
        (lambda: upfirdn2d(X, torch.ones(2, 2, 2)), "f must have rank 1"),
        (lambda: upfirdn2d(X, torch.ones(0)), "at least one tap"),
        (lambda: upfirdn2d(X, [1.0, float("nan")]), "f must be finite"),
        (lambda: upfirdn2d(X, torch.tensor([1.0, float("inf")])), "f must be finite"),
        (lambda: upfirdn2d(X, ["a"]), "real numbers"),
        (lambda: upfirdn2d(X, torch.ones(6)), "f has 6 taps along height"),
        (lambda: upfirdn2d(X, torch.ones(2, 6), padding=[0, 1, 0, 0]), "along width"),
        (lambda: upfirdn2d(X, None, padding=[0, 0, -2, -2]), "smaller than 1×1"),
        (lambda: upfirdn2d(X, None, up=2.5), "up must be an integer"),
        (lambda: upfirdn2d(X, None, up=2.0), "up must be an integer"),
        (lambda: upfirdn2d(X, None, down=0), "down must be >= 1"),
        (lambda: upfirdn2d(X, None, up=True), "up must be an integer"),
        (lambda: upfirdn2d(X, None, padding=[1, 2, 3]), "padding"),
        (lambda: upfirdn2d(X, None, padding=1.5), "padding"),
        (lambda: upfirdn2d(X, None, gain=float("nan")), "gain must be finite"),
        (lambda: upfirdn2d(X, None, flip_filter=1), "flip_filter"),
        (lambda: upfirdn2d(X, None, impl="cuda"), "impl must be"),
        (lambda: filtered_lrelu(X, b=torch.zeros(3)), r"b must have shape \[C\] = \[2\]"),
        (lambda: filtered_lrelu(X, b=torch.zeros(1, 2)), r"b must have shape"),
        (lambda: filtered_lrelu(X, fu=torch.ones(5), fd=torch.ones(3)), "fu has 5 taps"),
        (lambda: filtered_lrelu(X, fu=torch.ones(3), padding=1, fd=torch.ones(5)), "fd has 5"),
        (lambda: filtered_lrelu(X, fd=torch.ones(3, 3, 1)), "fd must have rank 1"),
        (lambda: filtered_lrelu(X, clamp=-1), r"clamp must be in \[0"),
        (lambda: filtered_lrelu(X, slope=float("nan")), "slope must be finite"),
        (lambda: filtered_lrelu(X, gain="2"), "gain must be a real number"),
        (lambda: filtered_lrelu(X, down=-2), "down must be >= 1"),
        (lambda: filtered_lrelu(X, up=2.5), "up must be an integer"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_output_size_formula():
    # 38 → up 2, pad 11+11, 12 taps up and down, down 2: (76 + 22 − 11 − 11 + 1) // 2 = 38.
    assert output_size(38, 38, 2, 2, (11, 11, 11, 11), 12, 12) == (38, 38)
    # h: (15 − 1 + 2 − 1 + 1) // 2, w: (21 + 1 + 0 − 3 + 1) // 2.
    assert output_size(5, 7, 3, 2, (1, 0, -1, 2), (2, 4), 1) == (8, 10)


def test_half_precision_intermediates_keep_the_input_scale():
    # The gain (up², and the activation's gain) rode on the first, width pass, whose fp16
    # intermediate was then up× the output: inf (and inf − inf = NaN) where the output is finite.
    from gan.ops import filtered_lrelu, lowpass_filter, upfirdn2d

    f = lowpass_filter(0.25, half_width=0.2, fs=4, numtaps=24)
    x = torch.full((1, 1, 12, 12), 20000.0, dtype=torch.float16)
    y = upfirdn2d(x, f, 4, 1, [12, 11, 12, 11], 16.0, impl="ref")
    want = upfirdn2d(x.double(), f.double(), 4, 1, [12, 11, 12, 11], 16.0, impl="ref")
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y.double(), want, rtol=4e-3, atol=0)
    fd = lowpass_filter(0.25, half_width=0.2, fs=4, numtaps=12)
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(1, 2, 10, 10, generator=gen) * 15000).half()
    y = filtered_lrelu(x, f, fd, None, 4, 2, 10, 2**0.5, 0.2, 256.0, impl="ref")
    want = filtered_lrelu(x.double(), f.double(), fd.double(), None, 4, 2, 10, 2**0.5, 0.2, 256.0,
                          impl="ref")  # fmt: skip
    assert torch.isfinite(y).all()
    assert float((y.double() - want).abs().max()) < 1.0  # outputs of magnitude ~256


# ---------------------------------------------------------------------------------------------
# Mutation-testing additions


@pytest.mark.parametrize("pad", [(0, 0, 0, 0), (2, -1, 1, 3)])
@pytest.mark.parametrize("flip", [False, True])
def test_one_tap_separable_filter_scales_by_its_square(pad, flip):
    # A 1D filter [c] is the 2D kernel [[c²]]: a scale by c² (and the padding), a case the
    # random geometries reach only by chance (1 tap, up = down = 1).
    rng = np.random.default_rng(31)
    x = rng.standard_normal((2, 3, 5, 6))
    for f in ([1.7], [-0.6]):
        y = upfirdn2d(_t(x), _t(f), 1, 1, pad, 1.3, flip)
        _close(y, _brute_upfirdn2d(x, np.asarray(f), 1, 1, pad, 1.3, flip))
        _close(y, dsp.resample.upfirdn2d(x, np.asarray(f), 1, 1, pad, 1.3, flip))
    b = rng.standard_normal(3)
    fu, fd = np.array([1.7]), np.array([-0.6])
    args = (1, 1, pad, 1.2, 0.3, 2.0, flip)
    z = filtered_lrelu(_t(x), _t(fu), _t(fd), _t(b), *args)
    _close(z, _brute_filtered_lrelu(x, fu, fd, b, *args))
