"""dsp.resample: upfirdn == scipy; upfirdn2d and filtered_lrelu == float64 brute force (§4)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
from hypothesis import given
from hypothesis import strategies as st

from dsp.resample import filtered_lrelu, upfirdn, upfirdn2d

ATOL = 1e-11


# ---------------------------------------------------------------------------------------------
# Independent float64 references: explicit zero insertion, np.pad / slicing, a loop over taps.
# ---------------------------------------------------------------------------------------------


def ref_upsample(x: np.ndarray, up: int) -> np.ndarray:
    """Zero insertion on the last two axes, StyleGAN3 convention: n samples -> n*up samples."""
    h, w = x.shape[-2:]
    xu = np.zeros(x.shape[:-2] + (h * up, w * up))
    xu[..., ::up, ::up] = x
    return xu


def ref_pad(x: np.ndarray, px0: int, px1: int, py0: int, py1: int) -> np.ndarray:
    """Zero padding of the last two axes; negative amounts crop."""
    lead = [(0, 0)] * (x.ndim - 2)
    x = np.pad(x, lead + [(max(py0, 0), max(py1, 0)), (max(px0, 0), max(px1, 0))])
    h, w = x.shape[-2:]
    return x[..., max(-py0, 0) : h - max(-py1, 0), max(-px0, 0) : w - max(-px1, 0)]


def ref_conv_valid(x: np.ndarray, f2: np.ndarray) -> np.ndarray:
    """True 2D convolution, 'valid' mode, as an explicit sum over the taps."""
    fh, fw = f2.shape
    ho, wo = x.shape[-2] - fh + 1, x.shape[-1] - fw + 1
    out = np.zeros(x.shape[:-2] + (ho, wo))
    for jy in range(fh):
        for jx in range(fw):
            # y[o] = sum_j f[j] x[o + fh - 1 - j]
            out += (
                f2[jy, jx] * x[..., fh - 1 - jy : fh - 1 - jy + ho, fw - 1 - jx : fw - 1 - jx + wo]
            )
    return out


def ref_upfirdn2d(x, f, up=1, down=1, padding=(0, 0, 0, 0), gain=1.0, flip_filter=False):
    f = np.asarray(f, dtype=float)
    f2 = np.outer(f, f) if f.ndim == 1 else f
    if flip_filter:
        f2 = f2[::-1, ::-1]
    y = ref_conv_valid(ref_pad(ref_upsample(np.asarray(x, float), up), *padding), f2)
    return y[..., ::down, ::down] * gain


def ref_filtered_lrelu(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter):
    v = ref_upfirdn2d(x + b[:, None, None], fu, up, 1, padding, up * up, flip_filter)
    a = gain * np.where(v < 0, slope * v, v)
    if clamp is not None:
        a = np.clip(a, -clamp, clamp)
    return ref_upfirdn2d(a, fd, 1, down, (0, 0, 0, 0), 1.0, flip_filter), v, a


def out_len(n, up, p0, p1, taps, down):
    return (n * up + p0 + p1 - sum(t - 1 for t in taps) + down - 1) // down


# ---------------------------------------------------------------------------------------------
# upfirdn (1D) == scipy.signal.upfirdn
# ---------------------------------------------------------------------------------------------


@given(
    n=st.integers(1, 30),
    k=st.integers(1, 20),
    up=st.integers(1, 5),
    down=st.integers(1, 5),
    lead=st.lists(st.integers(1, 3), min_size=0, max_size=2),
    axis_pick=st.integers(0, 2),
    seed=st.integers(0, 2**32 - 1),
)
def test_upfirdn_matches_scipy(n, k, up, down, lead, axis_pick, seed):
    rng = np.random.default_rng(seed)
    shape = list(lead)
    axis = axis_pick % (len(shape) + 1)
    shape.insert(axis, n)
    x = rng.standard_normal(shape)
    h = rng.standard_normal(k)
    want = scipy.signal.upfirdn(h, x, up, down, axis)
    got = upfirdn(h, x, up, down, axis)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    # Negative axis spelling gives the same result.
    np.testing.assert_array_equal(upfirdn(h, x, up, down, axis - x.ndim), got)


@pytest.mark.parametrize(("up", "down"), [(1, 1), (3, 2), (2, 5)])
def test_upfirdn_complex_matches_scipy(rng, up, down):
    x = rng.standard_normal((3, 17)) + 1j * rng.standard_normal((3, 17))
    h = rng.standard_normal(7) - 0.5j * rng.standard_normal(7)
    want = scipy.signal.upfirdn(h, x, up, down)
    got = upfirdn(h, x, up, down)
    assert got.dtype == np.complex128
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    # Complex filter on a real signal.
    np.testing.assert_allclose(
        upfirdn(h, x.real, up, down), scipy.signal.upfirdn(h, x.real, up, down), atol=1e-12
    )


@pytest.mark.parametrize(
    ("h", "x", "kw", "match"),
    [
        (np.ones((2, 2)), np.ones(5), {}, "h must have rank 1"),
        (np.ones(0), np.ones(5), {}, "h must not be empty"),
        (np.ones(3), np.ones(0), {}, "x must have at least one sample along axis 0"),
        (np.ones(3), np.ones((2, 0)), {}, "x must have at least one sample along axis 1"),
        (np.ones(3), [1.0, np.nan], {}, "x must be finite"),
        (np.ones(3), np.ones(5), {"up": 0}, "up must be >= 1"),
        (np.ones(3), np.ones(5), {"down": 1.5}, "down must be an integer"),
        (np.ones(3), np.ones(5), {"axis": 1}, "axis must be <= 0"),
    ],
)
def test_upfirdn_errors(h, x, kw, match):
    with pytest.raises(ValueError, match=match):
        upfirdn(h, x, **kw)


@pytest.mark.parametrize(("shape", "axis"), [((0, 5), -1), ((3, 0, 4), 0), ((0, 7), 1)])
def test_upfirdn_of_an_empty_batch_is_empty_like_scipy(shape, axis):
    h = np.array([1.0, 2.0, 1.0])
    got = upfirdn(h, np.zeros(shape), 2, 3, axis=axis)
    assert got.shape == scipy.signal.upfirdn(h, np.zeros(shape), 2, 3, axis=axis).shape
    assert got.size == 0 and got.dtype == np.float64


def test_2d_resampling_of_an_empty_batch_is_empty():
    # Same output sizes as for one plane; H and W themselves must not be empty.
    f1, f2 = np.array([1.0, 3.0, 3.0, 1.0]) / 8, np.ones((3, 2)) / 6
    one = upfirdn2d(np.ones((1, 9, 8)), f2, 2, 3, padding=(1, 2, 0, 3))
    none = upfirdn2d(np.ones((0, 9, 8)), f2, 2, 3, padding=(1, 2, 0, 3))
    assert none.shape == (0, *one.shape[1:])
    kw = dict(up=2, down=2, padding=4)
    one = filtered_lrelu(np.ones((1, 3, 9, 8)), f1, f2, **kw)
    none = filtered_lrelu(np.ones((0, 3, 9, 8)), f1, f2, **kw)
    assert none.shape == (0, *one.shape[1:])
    with pytest.raises(ValueError, match="x must have H, W >= 1"):
        upfirdn2d(np.ones((2, 0, 8)), f1)
    with pytest.raises(ValueError, match="x must have H, W >= 1"):
        filtered_lrelu(np.ones((2, 3, 8, 0)), f1, f1, padding=6)


# ---------------------------------------------------------------------------------------------
# upfirdn2d == brute force
# ---------------------------------------------------------------------------------------------


def test_reference_is_true_convolution(rng):
    # The brute-force reference itself against scipy's 2D convolution (asymmetric filter).
    x = rng.standard_normal((7, 9))
    f = rng.standard_normal((3, 4))
    np.testing.assert_allclose(
        ref_conv_valid(x, f), scipy.signal.convolve2d(x, f, mode="valid"), atol=1e-13
    )
    np.testing.assert_allclose(
        upfirdn2d(x, f), scipy.signal.convolve2d(x, f, mode="valid"), atol=1e-13
    )
    np.testing.assert_allclose(
        upfirdn2d(x, f, flip_filter=True),
        scipy.signal.correlate2d(x, f, mode="valid"),
        atol=1e-13,
    )


@st.composite
def padded_case(draw, n_filters=1, max_side=7):
    """(x shape, up, down, padding, filter sizes) with every stage of at least one sample."""
    h = draw(st.integers(1, max_side))
    w = draw(st.integers(1, max_side))
    up = draw(st.integers(1, 4))
    down = draw(st.integers(1, 4))
    sizes = []
    for _ in range(n_filters):
        if draw(st.booleans()):
            t = draw(st.integers(1, 13))
            sizes.append((t,))
        else:
            sizes.append((draw(st.integers(1, 7)), draw(st.integers(1, 7))))
    pads = []
    for axis, n in ((1, w), (0, h)):
        need = sum((s[0] if len(s) == 1 else s[axis]) - 1 for s in sizes) + 1
        p0 = draw(st.integers(-4, 13))
        p1 = draw(st.integers(-4, 13))
        # Enlarge the after-padding just enough when the draw would leave too few samples.
        p1 = max(p1, need - n * up - p0)
        pads += [p0, p1]
    return (h, w), up, down, tuple(pads), sizes


@given(
    case=padded_case(),
    lead=st.lists(st.integers(1, 2), min_size=0, max_size=2),
    gain=st.floats(-3, 3),
    flip=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_upfirdn2d_matches_brute_force(case, lead, gain, flip, seed):
    (h, w), up, down, pad, (fsize,) = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((*lead, h, w))
    f = rng.standard_normal(fsize)
    want = ref_upfirdn2d(x, f, up, down, pad, gain, flip)
    got = upfirdn2d(x, f, up=up, down=down, padding=list(pad), gain=gain, flip_filter=flip)
    fh, fw = (fsize[0], fsize[0]) if len(fsize) == 1 else fsize
    assert got.shape == (
        *lead,
        out_len(h, up, pad[2], pad[3], [fh], down),
        out_len(w, up, pad[0], pad[1], [fw], down),
    )
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=ATOL)


def test_upfirdn2d_stylegan_upsample(rng):
    # The generator's up-2 layer: 12 taps, padding (6, 5), gain up**2; output exactly 2x.
    x = rng.standard_normal((2, 3, 16, 12))
    f = scipy.signal.firwin(12, 0.25, width=0.2)
    got = upfirdn2d(x, f, up=2, padding=[6, 5, 6, 5], gain=4)
    assert got.shape == (2, 3, 32, 24)
    np.testing.assert_allclose(got, ref_upfirdn2d(x, f, 2, 1, (6, 5, 6, 5), 4.0), atol=ATOL)
    # A filter with DC gain 1 and gain up**2 keeps the mean away from the borders.
    c = np.ones((1, 16, 16))
    assert np.allclose(upfirdn2d(c, f, up=2, padding=[6, 5, 6, 5], gain=4)[0, 8:24, 8:24], 1.0)


def test_upfirdn2d_separable_equals_outer_product(rng):
    x = rng.standard_normal((3, 11, 10))
    f = rng.standard_normal(5)
    for up, down, pad in [(1, 1, 0), (2, 1, [3, 2, 1, 4]), (3, 2, [-2, 4, 5, -1]), (1, 3, 2)]:
        a = upfirdn2d(x, f, up=up, down=down, padding=pad, gain=0.7)
        b = upfirdn2d(x, np.outer(f, f), up=up, down=down, padding=pad, gain=0.7)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=ATOL)


def test_upfirdn2d_flip_filter(rng):
    x = rng.standard_normal((9, 8))
    f1 = rng.standard_normal(4)
    f2 = rng.standard_normal((3, 5))
    for f, flipped in [(f1, f1[::-1]), (f2, f2[::-1, ::-1])]:
        a = upfirdn2d(x, f, up=2, down=3, padding=[1, 2, 3, 0], flip_filter=True)
        b = upfirdn2d(x, flipped, up=2, down=3, padding=[1, 2, 3, 0])
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=ATOL)
        c = upfirdn2d(x, f, up=2, down=3, padding=[1, 2, 3, 0])
        assert not np.allclose(a, c)  # an asymmetric filter must notice the flip


def test_upfirdn2d_gain_is_linear(rng):
    x = rng.standard_normal((2, 6, 7))
    f = rng.standard_normal(3)
    a = upfirdn2d(x, f, up=2, down=2, padding=1)
    np.testing.assert_allclose(upfirdn2d(x, f, up=2, down=2, padding=1, gain=-2.5), -2.5 * a)


def test_upfirdn2d_negative_padding_crops(rng):
    x = rng.standard_normal((2, 8, 9))
    # x_before=-1, x_after=-2, y_before=-3, y_after=0
    np.testing.assert_array_equal(upfirdn2d(x, None, padding=[-1, -2, -3, 0]), x[:, 3:, 1:-2])
    np.testing.assert_array_equal(upfirdn2d(x, [1.0], padding=[2, -1]), ref_pad(x, 2, 2, -1, -1))


def test_upfirdn2d_zero_insertion_convention(rng):
    # n samples upsampled by `up` give n*up samples: sample i at i*up, then up - 1 zeros.
    x = rng.standard_normal((4, 5))
    y = upfirdn2d(x, None, up=3)
    assert y.shape == (12, 15)
    np.testing.assert_array_equal(y[::3, ::3], x)
    mask = np.ones_like(y, dtype=bool)
    mask[::3, ::3] = False
    assert np.all(y[mask] == 0)
    # Downsampling keeps samples 0, down, 2*down, ...
    np.testing.assert_array_equal(upfirdn2d(x, None, down=2), x[::2, ::2])


@pytest.mark.parametrize(
    ("x", "f", "kw", "match"),
    [
        (np.ones(5), [1.0], {}, "x must have rank >= 2"),
        (np.ones((4, 4)), np.ones((2, 2, 2)), {}, "f must have rank 1 or 2"),
        (np.full((4, 4), np.nan), [1.0], {}, "x must be finite"),
        (np.ones((4, 4)), [1.0, np.inf], {}, "f must be finite"),
        (np.ones((4, 4)) * 1j, [1.0], {}, "x must be real"),
        (np.ones((4, 4)), [1.0], {"up": 0}, "up must be >= 1"),
        (np.ones((4, 4)), [1.0], {"up": 2.0}, "up must be an integer"),
        (np.ones((4, 4)), [1.0], {"down": True}, "down must be an integer"),
        (np.ones((4, 4)), np.ones(6), {}, "filter .6 taps along H. is longer"),
        (np.ones((4, 9)), np.ones((2, 10)), {}, "filter .10 taps along W. is longer"),
        (np.ones((4, 4)), [1.0], {"padding": [-2, -2, 0, 0]}, "crops the whole W axis"),
        (np.ones((4, 4)), [1.0], {"padding": [1, 2, 3]}, "padding must have 1, 2 or 4"),
        (np.ones((4, 4)), [1.0], {"padding": 1.5}, "padding must be"),
        (np.ones((4, 4)), [1.0], {"gain": np.nan}, "gain must be finite"),
        (np.ones((4, 4)), [1.0], {"flip_filter": 1}, "flip_filter must be a bool"),
    ],
)
def test_upfirdn2d_errors(x, f, kw, match):
    with pytest.raises(ValueError, match=match):
        upfirdn2d(x, f, **kw)


# ---------------------------------------------------------------------------------------------
# filtered_lrelu == composition of the brute-force pieces with numpy's lrelu / clip
# ---------------------------------------------------------------------------------------------


@given(
    case=padded_case(n_filters=2, max_side=6),
    c=st.integers(1, 3),
    gain=st.floats(0.1, 3),
    slope=st.floats(-0.5, 1.0),
    clamp=st.one_of(st.none(), st.floats(0.0, 2.0)),
    flip=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_filtered_lrelu_matches_composition(case, c, gain, slope, clamp, flip, seed):
    (h, w), up, down, pad, (su, sd) = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, c, h, w))
    b = rng.standard_normal(c)
    fu = rng.standard_normal(su)
    fd = rng.standard_normal(sd)
    want, v, a = ref_filtered_lrelu(x, fu, fd, b, up, down, pad, gain, slope, clamp, flip)
    kw = dict(up=up, down=down, padding=list(pad), gain=gain, slope=slope, clamp=clamp)
    got = filtered_lrelu(x, fu, fd, b, flip_filter=flip, **kw)
    (fuh, fuw), (fdh, fdw) = [(s[0], s[0]) if len(s) == 1 else s for s in (su, sd)]
    assert got.shape == (
        2,
        c,
        out_len(h, up, pad[2], pad[3], [fuh, fdh], down),
        out_len(w, up, pad[0], pad[1], [fuw, fdw], down),
    )
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=ATOL)

    res = filtered_lrelu(x, fu, fd, b, flip_filter=flip, return_intermediate=True, **kw)
    np.testing.assert_allclose(res.y, want, rtol=1e-11, atol=ATOL)
    np.testing.assert_allclose(res.activation, a, rtol=1e-11, atol=ATOL)
    # Elements within rounding of a threshold may legitimately land on either side.
    sure = np.abs(v) > 1e-9
    np.testing.assert_array_equal((res.mask & 1).astype(bool)[sure], (v < 0)[sure])
    if clamp is None:
        assert not np.any(res.mask & 2)
    else:
        pre = gain * np.where(v < 0, slope * v, v)
        sure = np.abs(np.abs(pre) - clamp) > 1e-9
        np.testing.assert_array_equal(
            (res.mask & 2).astype(bool)[sure], (np.abs(pre) > clamp)[sure]
        )


def test_filtered_lrelu_mask_sign_bit_is_clear_where_v_is_exactly_zero(rng):
    # Bit 0 marks v < 0 only (the documented convention): where the pre-activation is exactly
    # 0 (the zero padding beyond the filter's reach, an all-zero channel) it stays clear.
    x = rng.standard_normal((1, 2, 5, 5))
    x[0, 1] = 0.0
    fu = np.array([0.25, 0.5, 0.25])
    pad = [4, 4, 4, 4]
    res = filtered_lrelu(x, fu, up=2, padding=pad, return_intermediate=True)
    _, v, _ = ref_filtered_lrelu(
        x, fu, np.ones(1), np.zeros(2), 2, 1, pad, np.sqrt(2), 0.2, None, False
    )
    assert np.any(v == 0) and np.any(v < 0)
    sure = (v == 0) | (np.abs(v) > 1e-9)
    np.testing.assert_array_equal((res.mask & 1)[sure], (v < 0)[sure].astype(np.uint8))


def test_filtered_lrelu_generator_layer(rng):
    # A realistic layer: up 2, 12-tap separable fu, 12-tap fd (separable, then radial-like 2D),
    # down 2, StyleGAN3-style padding, clamp.
    x = rng.standard_normal((2, 3, 14, 14))
    b = rng.standard_normal(3)
    fu = scipy.signal.firwin(12, 0.25, width=0.2)
    fd = scipy.signal.firwin(12, 0.2, width=0.15)
    pad = [10, 11, 10, 11]
    for f_down in (fd, np.outer(fd, fd) + 1e-3 * rng.standard_normal((12, 12))):
        want = ref_filtered_lrelu(x, fu, f_down, b, 2, 2, pad, np.sqrt(2), 0.2, 1.0, False)[0]
        got = filtered_lrelu(x, fu, f_down, b, up=2, down=2, padding=pad, clamp=1.0)
        assert got.shape == (2, 3, 14, 14)
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=ATOL)


def test_filtered_lrelu_identity_filters_is_plain_lrelu(rng):
    # Band-limited input (low-frequency cosines), up = down = 1 and one-tap filters: the chain
    # reduces to gain * lrelu(x + b), with or without explicit [1] filters.
    yy, xx = np.mgrid[0:16, 0:16] / 16.0
    x = np.stack([np.cos(2 * np.pi * (k * xx + 2 * yy) + k) for k in range(4)])[None]
    x = np.concatenate([x, -x])
    b = np.array([0.1, -0.2, 0.0, 0.3])
    z = x + b[:, None, None]
    want = 1.7 * np.where(z < 0, 0.3 * z, z)
    np.testing.assert_allclose(filtered_lrelu(x, b=b, gain=1.7, slope=0.3), want, atol=1e-14)
    np.testing.assert_allclose(
        filtered_lrelu(x, [1.0], np.ones((1, 1)), b, gain=1.7, slope=0.3), want, atol=1e-14
    )
    # Defaults: gain sqrt(2), slope 0.2, no bias, no clamp.
    np.testing.assert_allclose(
        filtered_lrelu(x), np.sqrt(2) * np.where(x < 0, 0.2 * x, x), atol=1e-14
    )


def test_filtered_lrelu_positive_input_is_linear(rng):
    # With every pre-activation positive the leaky ReLU is the identity: the chain is two
    # upfirdn2d calls (the up gain up**2 included).
    x = rng.uniform(1.0, 2.0, (1, 2, 9, 9))
    fu = np.array([0.25, 0.5, 0.25])  # positive taps keep the upsampled signal >= 0
    fd = rng.standard_normal(4)
    got = filtered_lrelu(x, fu, fd, up=2, down=2, padding=2, gain=1.5)
    want = 1.5 * upfirdn2d(upfirdn2d(x, fu, up=2, padding=2, gain=4), fd, down=2)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=ATOL)


@pytest.mark.parametrize(
    ("args", "kw", "match"),
    [
        ((np.ones((3, 4, 4)),), {}, "x must have rank 4"),
        ((np.full((1, 1, 4, 4), np.nan),), {}, "x must be finite"),
        ((np.ones((1, 2, 4, 4)),), {"b": np.ones(3)}, r"b must have shape \(2,\)"),
        ((np.ones((1, 2, 4, 4)),), {"b": [np.nan, 0.0]}, "b must be finite"),
        ((np.ones((1, 1, 4, 4)),), {"fu": np.ones((2, 2, 2))}, "fu must have rank 1 or 2"),
        ((np.ones((1, 1, 4, 4)),), {"clamp": -1.0}, "clamp must be in"),
        ((np.ones((1, 1, 4, 4)),), {"up": 0}, "up must be >= 1"),
        ((np.ones((1, 1, 4, 4)),), {"down": 2.5}, "down must be an integer"),
        ((np.ones((1, 1, 4, 4)),), {"slope": "0.2"}, "slope must be a real number"),
        ((np.ones((1, 1, 4, 4)),), {"fu": np.ones(3), "fd": np.ones(3)}, "down filter"),
        ((np.ones((1, 1, 4, 4)),), {"fu": np.ones(5)}, "filter .5 taps along H. is longer"),
        ((np.ones((1, 1, 4, 4)),), {"return_intermediate": "yes"}, "must be a bool"),
    ],
)
def test_filtered_lrelu_errors(args, kw, match):
    with pytest.raises(ValueError, match=match):
        filtered_lrelu(*args, **kw)
