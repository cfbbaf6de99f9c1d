"""Low-pass design vs scipy.signal.firwin / upfirdn and brute-force formulas (REFERENCE §2, §3)."""

import dataclasses
import math

import numpy as np
import pytest
import scipy.signal as ss
from hypothesis import given
from hypothesis import strategies as st
from scipy import special

from dsp.filters import (
    FilterSpec,
    design_lowpass,
    firwin_lowpass,
    from_polyphase,
    jinc_lowpass,
    polyphase,
    separable_2d,
)


@st.composite
def lowpass_params(draw, with_width=True):
    numtaps = draw(st.integers(1, 80))
    fs = draw(st.floats(0.1, 1000.0))
    cutoff = draw(st.floats(0.01, 0.49)) * fs
    width = draw(st.floats(0.005, 0.5)) * fs if with_width else None
    return numtaps, cutoff, width, fs


@given(lowpass_params())
def test_firwin_kaiser_equals_scipy(params):
    numtaps, cutoff, width, fs = params
    h = firwin_lowpass(numtaps, cutoff, width=width, fs=fs)
    ref = ss.firwin(numtaps, cutoff, width=width, fs=fs)
    np.testing.assert_allclose(h, ref, rtol=0, atol=1e-12)


@given(lowpass_params(with_width=False))
def test_firwin_hamming_default_equals_scipy(params):
    numtaps, cutoff, _, fs = params
    np.testing.assert_allclose(
        firwin_lowpass(numtaps, cutoff, fs=fs), ss.firwin(numtaps, cutoff, fs=fs), atol=1e-12
    )


@pytest.mark.parametrize("window", ["hann", "boxcar", ("kaiser", 5.0)])
def test_firwin_other_windows_equal_scipy(window):
    for numtaps in (1, 3, 8, 16):
        np.testing.assert_allclose(
            firwin_lowpass(numtaps, 0.3, window=window),
            ss.firwin(numtaps, 0.3, window=window),
            atol=1e-12,
        )


@given(lowpass_params())
def test_firwin_dc_gain_one_and_symmetric(params):
    numtaps, cutoff, width, fs = params
    h = firwin_lowpass(numtaps, cutoff, width=width, fs=fs)
    assert h.shape == (numtaps,)
    assert math.fsum(h) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(h, h[::-1], atol=1e-15)


def test_firwin_even_numtaps_zero_at_nyquist():
    h = firwin_lowpass(12, 16.0, width=20.0, fs=64.0)
    # Type II: H(fs/2) = sum (-1)^n h[n] = 0 by antisymmetry of the alternating sum.
    assert abs(np.sum(h * (-1.0) ** np.arange(12))) < 1e-15


def test_firwin_one_tap_is_identity():
    np.testing.assert_array_equal(firwin_lowpass(1, 0.3, width=0.1), [1.0])


def test_separable_2d_is_outer_product(rng):
    hx, hy = rng.standard_normal(5), rng.standard_normal(3)
    f = separable_2d(hx, hy)
    assert f.shape == (3, 5)
    for iy in range(3):
        for ix in range(5):
            assert f[iy, ix] == hy[iy] * hx[ix]
    np.testing.assert_array_equal(separable_2d(hx), np.outer(hx, hx))


def _jinc_brute(numtaps, cutoff, width, fs):
    """Element-by-element REFERENCE §2 formula with scipy's own Kaiser helpers."""
    beta = ss.kaiser_beta(ss.kaiser_atten(numtaps, width / (fs / 2)))
    w = ss.windows.kaiser(numtaps, beta)
    f = np.empty((numtaps, numtaps))
    for i in range(numtaps):
        for j in range(numtaps):
            x = (j - (numtaps - 1) / 2) / fs
            y = (i - (numtaps - 1) / 2) / fs
            r = math.hypot(x, y)
            val = cutoff if r == 0 else special.j1(2 * math.pi * cutoff * r) / (math.pi * r)
            f[i, j] = val * w[i] * w[j]
    return f / f.sum()


@given(
    numtaps=st.integers(1, 16),
    cut=st.floats(0.02, 0.48),
    wid=st.floats(0.01, 0.5),
    fs=st.floats(0.5, 300.0),
)
def test_jinc_equals_brute_force(numtaps, cut, wid, fs):
    f = jinc_lowpass(numtaps, cut * fs, wid * fs, fs)
    np.testing.assert_allclose(f, _jinc_brute(numtaps, cut * fs, wid * fs, fs), atol=1e-13)


@pytest.mark.parametrize("numtaps", [11, 12])
def test_jinc_symmetries_and_sum(numtaps):
    f = jinc_lowpass(numtaps, 8.0, 12.0, 64.0)
    assert f.shape == (numtaps, numtaps)
    assert f.sum() == pytest.approx(1.0, abs=1e-14)
    # Dihedral symmetry of the square grid: transpose and both flips.
    np.testing.assert_allclose(f, f.T, atol=1e-16)
    np.testing.assert_allclose(f, f[::-1], atol=1e-16)
    np.testing.assert_allclose(f, f[:, ::-1], atol=1e-16)


def test_jinc_centre_uses_limit():
    # Odd numtaps: the r = 0 tap is cutoff * w(0)^2 = cutoff before normalisation; compare its
    # ratio to a tap just off the centre with the analytic value there.
    fs, fc, n = 16.0, 3.0, 9
    f = jinc_lowpass(n, fc, 4.0, fs)
    w = ss.windows.kaiser(n, ss.kaiser_beta(ss.kaiser_atten(n, 4.0 / 8.0)))
    r = 1 / fs
    side = special.j1(2 * math.pi * fc * r) / (math.pi * r) * w[4] * w[5]
    assert f[4, 4] / f[4, 5] == pytest.approx(fc * w[4] ** 2 / side, rel=1e-12)


@given(lowpass_params())
def test_design_lowpass_matches_firwin_spec(params):
    numtaps, cutoff, width, fs = params
    h = design_lowpass(cutoff, half_width=width / 2, fs=fs, numtaps=numtaps)
    if numtaps == 1:
        np.testing.assert_array_equal(h, [1.0])
    else:
        np.testing.assert_allclose(h, ss.firwin(numtaps, cutoff, width=width, fs=fs), atol=1e-12)


def test_design_lowpass_radial_and_identity():
    f = design_lowpass(16.0, half_width=10.0, fs=64.0, numtaps=12, radial=True)
    np.testing.assert_allclose(f, _jinc_brute(12, 16.0, 20.0, 64.0), atol=1e-13)
    # A factor of 1: no filter, even at cutoff == fs/2 (the generator's ToRGB layer).
    np.testing.assert_array_equal(
        design_lowpass(128.0, half_width=40.0, fs=256.0, numtaps=1), [1.0]
    )
    np.testing.assert_array_equal(
        design_lowpass(128.0, half_width=40.0, fs=256.0, numtaps=1, radial=True), [1.0]
    )


def test_filter_spec():
    spec = FilterSpec(cutoff=16.0, half_width=10.0, fs=64.0, numtaps=12, radial=True)
    assert spec.stopband == 26.0
    assert spec.width == 20.0
    np.testing.assert_array_equal(
        spec.design(), design_lowpass(16.0, half_width=10.0, fs=64.0, numtaps=12, radial=True)
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.cutoff = 3.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="cutoff"):
        FilterSpec(cutoff=40.0, half_width=1.0, fs=64.0, numtaps=12)


@given(numtaps=st.integers(1, 40), factor=st.integers(1, 6))
def test_polyphase_layout_and_inverse(numtaps, factor):
    h = np.arange(1.0, numtaps + 1)
    e = polyphase(h, factor)
    assert e.shape == (factor, math.ceil(numtaps / factor))
    for p in range(factor):
        comp = h[p::factor]
        np.testing.assert_array_equal(e[p, : comp.size], comp)
        assert np.all(e[p, comp.size :] == 0)
    np.testing.assert_array_equal(from_polyphase(e, numtaps), h)


@given(numtaps=st.integers(1, 30), factor=st.integers(1, 5), n=st.integers(1, 25))
def test_polyphase_filtering_equals_upfirdn(numtaps, factor, n):
    rng = np.random.default_rng(numtaps * 1000 + factor * 100 + n)
    h, x = rng.standard_normal(numtaps), rng.standard_normal(n)
    ref = ss.upfirdn(h, x, up=factor)
    e = polyphase(h, factor)
    y = np.zeros((n + e.shape[1] - 1) * factor)
    for p in range(factor):
        # Output q * factor + p only sees component p: y[p::factor] = x * E_p.
        y[p::factor] = np.convolve(x, e[p])
    np.testing.assert_allclose(y[: ref.size], ref, atol=1e-12)
    assert np.all(np.abs(y[ref.size :]) < 1e-12)


@pytest.mark.parametrize(
    "call",
    [
        lambda: firwin_lowpass(0, 0.3),
        lambda: firwin_lowpass(11, 0.0),
        lambda: firwin_lowpass(11, 1.0),
        lambda: firwin_lowpass(11, 40.0, fs=64.0),
        lambda: firwin_lowpass(11, float("nan")),
        lambda: firwin_lowpass(11, 0.3, width=0.0),
        lambda: firwin_lowpass(11, 0.3, width=0.1, window="hann"),
        lambda: firwin_lowpass(11, 0.3, window="triangle"),
        lambda: firwin_lowpass(11, 0.3, window="kaiser"),
        lambda: firwin_lowpass(2, 0.3, window="hann"),
        lambda: firwin_lowpass(11, 0.3, fs=-2.0),
        lambda: firwin_lowpass(11.0, 0.3),
        lambda: separable_2d(np.ones((2, 2))),
        lambda: separable_2d(np.ones(3), np.array([1.0, np.nan])),
        lambda: jinc_lowpass(12, 32.0, 10.0, 64.0),
        lambda: jinc_lowpass(12, 8.0, 0.0, 64.0),
        lambda: jinc_lowpass(0, 8.0, 1.0, 64.0),
        lambda: design_lowpass(16.0, half_width=10.0, fs=64.0, numtaps=0),
        lambda: design_lowpass(16.0, half_width=-1.0, fs=64.0, numtaps=12),
        lambda: design_lowpass(33.0, half_width=1.0, fs=64.0, numtaps=1),
        lambda: design_lowpass(32.0, half_width=1.0, fs=64.0, numtaps=12),
        lambda: polyphase(np.ones(5), 0),
        lambda: polyphase(np.ones((2, 5)), 2),
        lambda: polyphase(np.ones(5), 2.5),
        lambda: from_polyphase(np.ones(4), 4),
        lambda: from_polyphase(np.ones((2, 3)), 7),
    ],
)
def test_invalid_input_raises(call):
    with pytest.raises(ValueError):
        call()


# ---------------------------------------------------------------------------------------------
# What ``cutoff`` means (the module docstring's claims)


def _kaiser_specs(n: int, seed: int, lo_taps: int, hi_taps: int):
    """Random (numtaps, cutoff, width) at fs = 1, transition band inside (0, 1/2) and
    kaiser_atten in [21, 120] dB: where the docstrings say cutoff is (about) the -6 dB point."""
    from dsp.kaiser import kaiser_atten

    rng = np.random.default_rng(seed)
    specs = []
    while len(specs) < n:
        lo = rng.uniform(0.0005, 0.45)
        hi = rng.uniform(lo + 0.002, 0.4995)
        numtaps = int(rng.integers(lo_taps, hi_taps))
        if 21 <= kaiser_atten(numtaps, hi - lo, 1.0) <= 120:
            specs.append((numtaps, (lo + hi) / 2, hi - lo))
    return specs


@pytest.mark.parametrize("numtaps, cutoff, width", _kaiser_specs(40, 7, 2, 300))
def test_cutoff_is_the_6db_point_within_015_width(numtaps, cutoff, width):
    # The module docstring's claim. Independent: scipy's response 0.15 width either side of the
    # cutoff brackets the half level (the transition band falls monotonically).
    h = firwin_lowpass(numtaps, cutoff, width=width, fs=1.0)
    _, H = ss.freqz(h, 1, worN=[cutoff - 0.15 * width, cutoff + 0.15 * width], fs=1.0)
    assert abs(H[0]) > 0.5 > abs(H[1])


def test_cutoff_is_not_the_6db_point_when_the_band_reaches_below_dc():
    # The docstring's counterexample: the generator's first layer at 64 px (fc 2, fh 6, fs 32,
    # 12 taps) has its -6 dB point at 3.20; scipy's response at the cutoff is far above 1/2.
    h = firwin_lowpass(12, 2.0, width=12.0, fs=32.0)
    np.testing.assert_allclose(h, ss.firwin(12, 2.0, width=12.0, fs=32.0), atol=1e-15)
    _, H = ss.freqz(h, 1, worN=[2.0, 3.2025], fs=32.0)
    assert abs(H[0]) > 0.6
    assert abs(H[1]) == pytest.approx(0.5, abs=1e-4)


@pytest.mark.parametrize("numtaps, cutoff, width", _kaiser_specs(12, 3, 4, 40))
def test_jinc_cutoff_is_about_the_6db_radius(numtaps, cutoff, width):
    # jinc_lowpass's docstring: within 0.3 width of the -6 dB radius along 0 and 45 degrees.
    # Independent: the brute-force zero-phase DTFT at the design radius and 0.3 width either
    # side brackets the half level along each ray.
    j = jinc_lowpass(numtaps, cutoff, width, 1.0)
    y, x = np.indices(j.shape) - (numtaps - 1) / 2
    for angle in (0.0, 45.0):
        c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        gains = []
        for r in (cutoff - 0.3 * width, cutoff + 0.3 * width):
            phase = np.exp(-2j * np.pi * r * (c * x + s * y))
            gains.append(abs(np.sum(j * phase)))
        assert gains[0] > 0.5 > gains[1]


def test_cutoff_error_names_fs():
    # firwin_lowpass(12, 16, width=20) meant fs=64: the message must say where (0, 1) comes
    # from and how to fix it.
    for call in (
        lambda: firwin_lowpass(12, 16.0, width=20.0),
        lambda: jinc_lowpass(12, 16.0, 20.0, 2.0),
        lambda: design_lowpass(16.0, half_width=10.0, fs=2.0, numtaps=12),
    ):
        with pytest.raises(ValueError, match=r"cutoff must be in \(0, 1\).*fs=2.*pass fs="):
            call()
