"""Ideal interpolation (REFERENCE §1): Whittaker–Shannon sums against float64 brute force and
analytic band-limited signals; FFT shift, rational resampling and rotation against the
analytically transformed signals, np.roll / np.rot90 and scipy.signal.resample."""

import math
from fractions import Fraction

import numpy as np
import pytest
import scipy.signal
from hypothesis import given
from hypothesis import strategies as st
from scipy import special

from dsp.interpolation import (
    fourier_resample,
    fractional_shift,
    jinc_interpolate_2d,
    periodic_interpolate,
    periodic_interpolate_2d,
    resample_rational,
    rotate_bandlimited,
    sinc_interpolate,
    sinc_interpolate_2d,
)
from dsp.sampling import sample_1d
from dsp.signals import bandlimited_noise

# --------------------------------------------------------------------------------------------
# helpers: random periodic band-limited signals with exact evaluation
# --------------------------------------------------------------------------------------------


def _trig_poly(n, rng, nyquist=True):
    """Random real Fourier series of period n (in samples) with harmonics |k| < n/2 and, for
    even n, a cosine at the Nyquist frequency; returns an exact evaluator in samples."""
    kmax = (n - 1) // 2
    ks = np.arange(1, kmax + 1)
    a = rng.standard_normal(kmax)
    b = rng.standard_normal(kmax)
    c0 = rng.standard_normal()
    cn = rng.standard_normal() if (n % 2 == 0 and nyquist) else 0.0

    def f(t):
        t = np.asarray(t, dtype=np.float64)
        ph = 2 * np.pi * np.multiply.outer(t, ks) / n
        return c0 + np.cos(ph) @ a + np.sin(ph) @ b + cn * np.cos(np.pi * t)

    scale = abs(c0) + np.abs(a).sum() + np.abs(b).sum() + abs(cn)
    return f, scale


def _brute_sinc(z, x, rate, start):
    n = np.arange(z.size)
    return np.sinc(rate * (np.ravel(x)[:, None] - start) - n[None, :]) @ z


# --------------------------------------------------------------------------------------------
# 1D Whittaker–Shannon
# --------------------------------------------------------------------------------------------


@given(
    n=st.integers(1, 300),
    rate=st.floats(0.1, 10.0),
    start=st.floats(-100.0, 100.0),
    seed=st.integers(0, 2**16),
)
def test_sinc_interpolate_matches_brute_force_and_samples(n, rate, start, seed):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(n)
    length = n / rate
    x = rng.uniform(start - length, start + 2 * length, 64)
    got = sinc_interpolate(z, x, rate, start)
    np.testing.assert_allclose(
        got, _brute_sinc(z, x, rate, start), rtol=0, atol=1e-12 * (1 + np.abs(z).sum())
    )
    # Through the samples (positions computed the way sampling does, so t = n up to rounding).
    xs = start + np.arange(n) / rate
    np.testing.assert_allclose(
        sinc_interpolate(z, xs, rate, start), z, rtol=0, atol=1e-12 * (1 + np.abs(z).sum())
    )


def test_sinc_interpolate_exact_on_grid_and_far_away():
    z = np.arange(1.0, 6.0)
    np.testing.assert_array_equal(sinc_interpolate(z, np.arange(5.0)), z)
    # Integer positions outside the samples give exactly 0; far points are tiny.
    np.testing.assert_array_equal(sinc_interpolate(z, np.array([-3.0, 7.0, 1e17])), 0.0)
    assert abs(sinc_interpolate(z, np.array(1e6 + 0.5))) < 1e-4
    # Shape of x is kept.
    assert sinc_interpolate(z, np.zeros((2, 3, 4))).shape == (2, 3, 4)


@pytest.mark.parametrize(("rate", "start"), [(1.0, 0.0), (2.0, -1.5)])
def test_sinc_interpolate_is_zero_one_sample_beyond_either_end(rate, start):
    # t = -1 and t = N are zero crossings of every sinc(t - n), n = 0..N-1, so the value is
    # exactly 0. The samples are a view into a longer buffer whose next element is non-zero:
    # an off-by-one in the on-grid shortcut (reading Z[N]) would show up.
    buf = np.arange(1.0, 9.0)
    z = buf[:5]
    x = start + np.array([-1.0, 5.0]) / rate  # exact: t = rate * (x - start) = -1, 5
    np.testing.assert_array_equal(rate * (x - start), [-1.0, 5.0])
    np.testing.assert_array_equal(sinc_interpolate(z, x, rate, start), 0.0)
    # Brute force float64 sum agrees (np.sinc at a non-zero integer is ~1e-17, not 0).
    np.testing.assert_allclose(
        sinc_interpolate(z, x, rate, start), _brute_sinc(z, x, rate, start), atol=1e-14
    )


def test_sinc_interpolate_reconstructs_bandlimited_signals_in_the_interior():
    rate = 4.0
    # A decaying signal band-limited to 1.5 < rate/2: sinc^2 has spectrum a triangle on
    # |f| < b. Samples cover it well, so the reconstruction is accurate everywhere inside.
    b, c = 1.5, 0.37

    def tri(x):
        return np.sinc(b * (x - c)) ** 2

    x, z = sample_1d(tri, (-60.0, 60.0), rate)
    xq = np.random.default_rng(1).uniform(-10, 10, 500)
    err = np.abs(sinc_interpolate(z, xq, rate, x[0]) - tri(xq)).max()
    assert err < 1e-4
    # A stationary band-limited noise: truncation error ~ 1/distance to the ends.
    sig = bandlimited_noise(1.2, 64, seed=5)
    x, z = sample_1d(sig, (0.0, 400.0), rate)
    xq = np.random.default_rng(2).uniform(150.0, 250.0, 500)
    err = np.abs(sinc_interpolate(z, xq, rate, x[0]) - sig(xq)).max()
    assert err < 2e-2
    # Undersampled (frequency above rate/2): the reconstruction is the alias, not the signal.
    x, z = sample_1d(lambda t: np.cos(2 * np.pi * 3.0 * t), (0.0, 400.0), rate)
    xq = np.linspace(190.0, 210.0, 101) + 0.1
    alias = np.cos(2 * np.pi * 1.0 * xq)
    np.testing.assert_allclose(sinc_interpolate(z, xq, rate, x[0]), alias, atol=2e-2)


@given(
    n=st.integers(1, 64),
    rate=st.floats(0.25, 8.0),
    start=st.floats(-20.0, 20.0),
    seed=st.integers(0, 2**16),
)
def test_periodic_interpolate_exact_for_periodic_bandlimited(n, rate, start, seed):
    rng = np.random.default_rng(seed)
    f, scale = _trig_poly(n, rng)
    z = f(np.arange(n))
    x = rng.uniform(-50.0, 50.0, 200)
    got = periodic_interpolate(z, x, rate, start)
    np.testing.assert_allclose(got, f(rate * (x - start)), rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(
        periodic_interpolate(z, start + np.arange(n) / rate, rate, start),
        z,
        rtol=0,
        atol=1e-13 * scale,
    )


def test_periodic_interpolate_nyquist_convention_and_complex():
    # Even N: (-1)^n interpolates to cos(pi t) (Nyquist bin split evenly).
    z = np.array([1.0, -1.0, 1.0, -1.0])
    t = np.array([0.5, 0.25, 1.3])
    np.testing.assert_allclose(periodic_interpolate(z, t), np.cos(np.pi * t), atol=1e-15)
    # Complex samples: real and imaginary parts interpolated independently, exactly.
    n = 9
    k = 3
    zc = np.exp(2j * np.pi * k * np.arange(n) / n)
    tq = np.array([0.1, 4.7, -2.2])
    np.testing.assert_allclose(
        periodic_interpolate(zc, tq), np.exp(2j * np.pi * k * tq / n), atol=1e-14
    )


# --------------------------------------------------------------------------------------------
# 2D
# --------------------------------------------------------------------------------------------


def test_sinc_interpolate_2d_against_brute_force_and_signal():
    rng = np.random.default_rng(4)
    h, w = 12, 17
    z = rng.standard_normal((2, h, w))
    rate, start = (2.0, 0.5), (0.3, -1.0)
    x = rng.uniform(-3, 12, 40)
    y = rng.uniform(-5, 30, 40)
    got = sinc_interpolate_2d(z, x, y, rate, start)
    assert got.shape == (2, 40)
    ky = np.sinc(rate[1] * (y[:, None] - start[1]) - np.arange(h)[None, :])
    kx = np.sinc(rate[0] * (x[:, None] - start[0]) - np.arange(w)[None, :])
    brute = np.einsum("pi,bij,pj->bp", ky, z, kx)
    np.testing.assert_allclose(got, brute, atol=1e-12)
    # On the grid: exactly the samples.
    ii, jj = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    on = sinc_interpolate_2d(z, start[0] + jj / rate[0], start[1] + ii / rate[1], rate, start)
    np.testing.assert_allclose(on, z, atol=1e-13)

    # Separable band-limited signal (spectrum |fx|, |fy| < 0.4 < 1/2), interior points.
    def tent2(u, v):
        return np.sinc(0.4 * (u - 20.3)) ** 2 * np.sinc(0.4 * (v - 19.7)) ** 2

    n = 40
    xx, yy = np.meshgrid(np.arange(n), np.arange(n))
    zz = tent2(xx, yy)
    xq, yq = rng.uniform(15, 25, 100), rng.uniform(15, 25, 100)
    np.testing.assert_allclose(sinc_interpolate_2d(zz, xq, yq), tent2(xq, yq), atol=1e-4)


def test_periodic_interpolate_2d_exact():
    rng = np.random.default_rng(5)
    h, w = 10, 15  # even height (Nyquist row), odd width
    fx, sx = _trig_poly(w, rng)
    fy, sy = _trig_poly(h, rng)
    gx, _ = _trig_poly(w, rng)
    rate, start = (3.0, 0.5), (-0.2, 4.0)

    def f(u, v):  # a sum of separable products is a general 2D band-limited signal
        return fx(u) * fy(v) + gx(u)

    ii, jj = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    z = f(jj, ii)
    x, y = rng.uniform(-10, 10, 300), rng.uniform(-40, 40, 300)
    got = periodic_interpolate_2d(np.stack([z, -z]), x, y, rate, start)
    truth = f(rate[0] * (x - start[0]), rate[1] * (y - start[1]))
    np.testing.assert_allclose(got[0], truth, atol=1e-12 * sx * sy * 3)
    np.testing.assert_allclose(got[1], -truth, atol=1e-12 * sx * sy * 3)


def _jinc_brute(z, x, y, rate):
    h, w = z.shape
    ii, jj = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    r = np.hypot(x[:, None, None] - jj / rate, y[:, None, None] - ii / rate)
    arg = np.pi * rate * np.where(r == 0, 1.0, r)
    jinc = np.where(r == 0, 1.0, 2 * special.j1(arg) / arg)
    return np.einsum("pij,ij->p", np.pi / 4 * jinc, z)


def test_jinc_interpolate_2d():
    rng = np.random.default_rng(6)
    z = rng.standard_normal((9, 11))
    x, y = rng.uniform(-2, 8, 30), rng.uniform(-2, 6, 30)
    x[0], y[0] = 2.0, 4.0  # on the sample [6, 3] (t = 3, 6 at rate 1.5): K(0) = pi/4
    np.testing.assert_allclose(
        jinc_interpolate_2d(z, x, y, rate=1.5), _jinc_brute(z, x, y, 1.5), atol=1e-12
    )

    # A signal band-limited to the disc |f| < 0.3 * sqrt(2) < 1/2 is reconstructed in the
    # interior (its samples decay fast enough that truncation is negligible there).
    def tent2(u, v):
        return np.sinc(0.3 * (u - 20.3)) ** 2 * np.sinc(0.3 * (v - 19.7)) ** 2

    n = 40
    xx, yy = np.meshgrid(np.arange(n), np.arange(n))
    xq, yq = rng.uniform(15, 25, 60), rng.uniform(15, 25, 60)
    np.testing.assert_allclose(jinc_interpolate_2d(tent2(xx, yy), xq, yq), tent2(xq, yq), atol=1e-4)
    # Normalisation: a constant tends to the same constant in the interior as the grid grows
    # (the kernel's lattice sum is 1; finite grids converge slowly, K ~ r^-3/2).
    errs = []
    for n in (32, 64, 128):
        c = (n - 1) / 2
        errs.append(abs(jinc_interpolate_2d(np.full((n, n), 2.0), c, c + 0.3)[()] - 2.0))
    assert errs[1] < 0.06 and errs[2] < 0.7 * errs[1] and errs[1] < 0.7 * errs[0]


def test_jinc_interpolate_2d_on_a_sample_is_continuous():
    # The kernel K(r) = J1(pi s r) / (2 r) tends to pi/4 at r = 0; evaluating exactly on a
    # sample must give the limit: the mean of the values just either side of it (the other
    # samples' kernels have a slope there, the mean cancels it to O(d^2)).
    rng = np.random.default_rng(61)
    z = rng.standard_normal((7, 8))
    on = jinc_interpolate_2d(z, 2.0, 4.0, rate=1.5)  # the sample [6, 3]: t = (3, 6)
    d = 1e-6
    near = jinc_interpolate_2d(z, np.array([2.0 - d, 2.0 + d]), 4.0, rate=1.5).mean()
    assert on == pytest.approx(near, abs=1e-9)
    brute = _jinc_brute(z, np.array([2.0]), np.array([4.0]), 1.5)[0]
    assert on == pytest.approx(brute, abs=1e-12)


# --------------------------------------------------------------------------------------------
# fractional shift, resampling, rotation
# --------------------------------------------------------------------------------------------


@given(n=st.integers(1, 64), shift=st.floats(-200.0, 200.0), seed=st.integers(0, 2**16))
def test_fractional_shift_equals_shifted_signal(n, shift, seed):
    rng = np.random.default_rng(seed)
    f, scale = _trig_poly(n, rng)
    z = f(np.arange(n))
    got = fractional_shift(z, shift)
    np.testing.assert_allclose(got, f(np.arange(n) - shift), rtol=0, atol=1e-11 * scale)
    # Same as evaluating the periodic interpolant at the shifted points.
    np.testing.assert_allclose(
        got, periodic_interpolate(z, np.arange(n) - shift), rtol=0, atol=1e-11 * scale
    )


@given(n=st.integers(1, 40), shift=st.integers(-100, 100), axis=st.sampled_from([0, 1, -1]))
def test_fractional_shift_integer_is_roll(n, shift, axis):
    x = np.random.default_rng(n).standard_normal((n, n + 1))
    np.testing.assert_allclose(
        fractional_shift(x, shift, axis=axis), np.roll(x, shift, axis=axis), atol=1e-12
    )


def test_fractional_shift_parseval_and_complex():
    rng = np.random.default_rng(7)
    f, _ = _trig_poly(20, rng, nyquist=False)
    z = f(np.arange(20))
    # Without Nyquist content the shift is unitary: energy preserved (Parseval).
    assert np.sum(fractional_shift(z, 0.37) ** 2) == pytest.approx(np.sum(z**2), rel=1e-12)
    zc = np.exp(2j * np.pi * 3 * np.arange(16) / 16)
    np.testing.assert_allclose(
        fractional_shift(zc, 0.25), np.exp(2j * np.pi * 3 * (np.arange(16) - 0.25) / 16), atol=1e-14
    )


@pytest.mark.parametrize(("n", "shift"), [(8, 0.3), (6, -1.7), (7, 0.45)])
def test_fractional_shift_complex_follows_the_fourier_series(n, shift):
    # Complex samples, with content in the Nyquist bin for even N: the shift is the module's
    # Fourier series y[m] = (1/N) [sum_{|k|<N/2} X[k] e^{2 pi i k (m - a)/N}
    # + X[N/2] cos(pi (m - a))], computed here as direct float64 sums (no FFT).
    rng = np.random.default_rng(n)
    z = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    idx = np.arange(n)
    ks = np.arange(-((n - 1) // 2), (n - 1) // 2 + 1)
    X = np.exp(-2j * np.pi * np.outer(ks, idx) / n) @ z
    t = idx - shift
    want = np.exp(2j * np.pi * np.outer(t, ks) / n) @ X
    if n % 2 == 0:
        x_nyq = np.sum(z * (-1.0) ** idx)
        want = want + x_nyq * np.cos(np.pi * t)
    want /= n
    got = fractional_shift(z, shift)
    np.testing.assert_allclose(got, want, atol=1e-12)
    # A linear operator: real and imaginary parts shift independently.
    np.testing.assert_allclose(
        got, fractional_shift(z.real, shift) + 1j * fractional_shift(z.imag, shift), atol=1e-12
    )


@given(
    n=st.integers(2, 48),
    up=st.integers(1, 6),
    down=st.integers(1, 6),
    data=st.data(),
)
def test_resample_rational_tone(n, up, down, data):
    # A tone on a harmonic of the period, below both Nyquist frequencies, resampled = the tone
    # sampled at the new rate (rates per unit length: 1 -> up/down, period n).
    m_real = n * up / down
    kmax = math.ceil(min(n, m_real) / 2) - 1
    k = data.draw(st.integers(0, max(kmax, 0)))
    phase = data.draw(st.floats(0, 2 * math.pi))

    def tone(t):
        return np.cos(2 * np.pi * k * t / n + phase)

    got = resample_rational(tone(np.arange(n)), up, down)
    assert got.shape == (math.ceil(m_real),)
    np.testing.assert_allclose(got, tone(np.arange(got.size) * down / up), atol=1e-12)


@given(n=st.integers(1, 40), m=st.integers(1, 80), seed=st.integers(0, 2**16))
def test_resample_rational_matches_scipy_resample(n, m, seed):
    # With an integer output length, ideal periodic resampling = scipy.signal.resample (its
    # Nyquist-bin handling agrees with ours on real input).
    x = np.random.default_rng(seed).standard_normal(n)
    r = Fraction(m, n)
    np.testing.assert_allclose(
        resample_rational(x, r.numerator, r.denominator), scipy.signal.resample(x, m), atol=1e-12
    )


def test_resample_rational_axis_identity_and_parseval():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((5, 12, 3))
    y = resample_rational(x, 3, 2, axis=1)
    assert y.shape == (5, 18, 3)
    np.testing.assert_allclose(
        y, np.moveaxis(resample_rational(np.moveaxis(x, 1, -1), 3, 2), -1, 1)
    )
    np.testing.assert_array_equal(resample_rational(x, 4, 4), x)
    # Upsampling a signal without Nyquist content keeps its mean power (Parseval).
    f, _ = _trig_poly(13, rng)
    z = f(np.arange(13))
    up = resample_rational(z, 5, 1)
    assert np.mean(up**2) == pytest.approx(np.mean(z**2), rel=1e-12)
    # Non-integer output length: ceil(N up / down) samples of the low-passed interpolant.
    z = np.cos(2 * np.pi * 2 * np.arange(13) / 13)
    got = resample_rational(z, 2, 3)
    assert got.shape == (9,)
    np.testing.assert_allclose(got, np.cos(2 * np.pi * 2 * np.arange(9) * 1.5 / 13), atol=1e-12)


@given(
    n=st.integers(1, 24),
    m=st.integers(1, 48),
    seed=st.integers(0, 2**16),
    complex_=st.booleans(),
)
def test_fourier_resample_matches_scipy_resample(n, m, seed, complex_):
    # scipy.signal.resample is the same ideal periodic resampler with the same Nyquist
    # convention (split when growing, +-M/2 summed when shrinking), real and complex.
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, n))
    if complex_:
        x = x + 1j * rng.standard_normal((3, n))
    got = fourier_resample(x, m)
    assert got.dtype == (np.complex128 if complex_ else np.float64)
    np.testing.assert_allclose(got, scipy.signal.resample(x, m, axis=-1), atol=1e-12)


@pytest.mark.parametrize(
    ("shape", "num", "axis"),
    [
        ((2, 8, 8), (32, 32), (-2, -1)),
        ((7, 9), (28, 36), (0, 1)),
        ((3, 12, 10), (6, 5), (1, 2)),
        ((6, 4, 5), (12, 3), (2, 0)),
        ((6, 6), (6, 12), (0, 1)),
    ],
)
def test_fourier_resample_several_axes_is_separable(shape, num, axis, rng):
    # The shared rfft/fft path equals scipy.signal.resample applied axis by axis.
    x = rng.standard_normal(shape)
    want = x
    for a, m in zip(axis, num, strict=True):
        want = scipy.signal.resample(want, m, axis=a)
    np.testing.assert_allclose(fourier_resample(x, num, axis), want, atol=1e-12)
    z = x + 1j * rng.standard_normal(shape)
    wz = z
    for a, m in zip(axis, num, strict=True):
        wz = scipy.signal.resample(wz, m, axis=a)
    np.testing.assert_allclose(fourier_resample(z, num, axis), wz, atol=1e-12)


def test_fourier_resample_2d_tone_and_nyquist_convention():
    # A 2D tone below both Nyquist frequencies resamples to the tone on the new grid.
    n, m = 12, 20
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    ii, jj = np.meshgrid(np.arange(m), np.arange(m), indexing="ij")

    def tone(r, c, size):
        return np.cos(2 * np.pi * (2 * c - 5 * r) / size + 0.4)

    np.testing.assert_allclose(
        fourier_resample(tone(i, j, n), (m, m), (0, 1)), tone(ii, jj, m), atol=1e-12
    )
    # Growing an even N: the Nyquist cosine cos(pi t) is reproduced at the new points.
    t = np.arange(8)
    np.testing.assert_allclose(
        fourier_resample(np.cos(np.pi * t), 24), np.cos(np.pi * np.arange(24) / 3), atol=1e-12
    )
    # Shrinking to an even M: a cosine at exactly the output Nyquist survives (both +-M/2
    # summed), the sine there vanishes, and grow-then-shrink is the identity.
    k = np.arange(18)
    np.testing.assert_allclose(
        fourier_resample(np.cos(2 * np.pi * 3 * k / 18), 6),
        np.cos(np.pi * np.arange(6)),
        atol=1e-12,
    )
    np.testing.assert_allclose(
        fourier_resample(np.sin(2 * np.pi * 3 * k / 18), 6), np.zeros(6), atol=1e-12
    )
    x = np.random.default_rng(4).standard_normal((3, 10))
    np.testing.assert_allclose(fourier_resample(fourier_resample(x, 40), 10), x, atol=1e-12)
    np.testing.assert_array_equal(fourier_resample(x, 10), x)


@given(
    angle=st.floats(-math.pi, math.pi),
    kx=st.integers(-6, 6),
    ky=st.integers(-6, 6),
    phase=st.floats(0, 2 * math.pi),
)
def test_rotation_of_bandlimited_tone(angle, kx, ky, phase):
    n = 24  # tone |k| <= 6 * sqrt(2) < n/2 on a periodic grid
    rows, cols = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")

    def tone(col, row):
        return np.cos(2 * np.pi * (kx * col + ky * row) / n + phase)

    got = rotate_bandlimited(tone(cols, rows), angle)
    # Analytic rotation (x right, y up, counter-clockwise) about the array centre.
    c = (n - 1) / 2
    u, v = cols - c, c - rows
    cs, sn = math.cos(angle), math.sin(angle)
    np.testing.assert_allclose(got, tone(c + cs * u + sn * v, c - (-sn * u + cs * v)), atol=1e-11)


def test_rotation_identity_rot90_and_batch():
    rng = np.random.default_rng(9)
    img = rng.standard_normal((3, 16, 16))
    np.testing.assert_allclose(rotate_bandlimited(img, 0.0), img, atol=1e-13)
    np.testing.assert_allclose(rotate_bandlimited(img, 2 * math.pi), img, atol=1e-12)
    np.testing.assert_allclose(
        rotate_bandlimited(img, math.pi / 2), np.rot90(img, axes=(1, 2)), atol=1e-12
    )
    np.testing.assert_allclose(
        rotate_bandlimited(img, -math.pi / 2), np.rot90(img, -1, axes=(1, 2)), atol=1e-12
    )
    rect = rng.standard_normal((7, 10))
    np.testing.assert_allclose(rotate_bandlimited(rect, math.pi), rect[::-1, ::-1], atol=1e-12)
    # A centre on a pixel: that pixel is fixed.
    out = rotate_bandlimited(rect, 0.7, center=(4.0, 3.0))
    assert out[3, 4] == pytest.approx(rect[3, 4], abs=1e-13)


# --------------------------------------------------------------------------------------------
# invalid input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: sinc_interpolate(np.zeros((2, 2)), [0.0]), "samples"),
        (lambda: sinc_interpolate([1.0, np.nan], [0.0]), "samples"),
        (lambda: sinc_interpolate([], [0.0]), "samples"),
        (lambda: sinc_interpolate([1.0], [np.inf]), "x"),
        (lambda: sinc_interpolate([1.0], [0.0], rate=0.0), "rate"),
        (lambda: periodic_interpolate([1.0], [0.0], start=np.nan), "start"),
        (lambda: sinc_interpolate_2d([1.0, 2.0], [0.0], [0.0]), "samples"),
        (lambda: sinc_interpolate_2d(np.ones((2, 2)), [0.0, 1.0], [0.0, 1.0, 2.0]), "broadcast"),
        (lambda: periodic_interpolate_2d(np.ones((2, 2)), [0.0], [0.0], rate=(1.0, -1.0)), "rate"),
        (lambda: jinc_interpolate_2d(np.ones((2, 2)), [0.0], [0.0], rate=(1.0, 2.0)), "rate"),
        (lambda: fractional_shift(np.ones(4), np.nan), "shift"),
        (lambda: fractional_shift(np.ones(4), 1.0, axis=1), "axis"),
        (lambda: fractional_shift(5.0, 1.0), "x"),
        (lambda: resample_rational(np.ones(4), 0, 1), "up"),
        (lambda: resample_rational(np.ones(4), 2, 1.5), "down"),
        (lambda: resample_rational(np.ones(4), True, 1), "up"),
        (lambda: fourier_resample(np.ones(4), 0), "num"),
        (lambda: fourier_resample(np.ones(4), 2.5), "num"),
        (lambda: fourier_resample(np.ones((4, 4)), (8, 8), -1), "num"),
        (lambda: fourier_resample(np.ones((4, 4)), (8, 8), (1, -1)), "distinct"),
        (lambda: fourier_resample(np.ones((4, 4)), 8, 2), "axis"),
        (lambda: fourier_resample([1.0, np.nan], 4), "x"),
        (lambda: rotate_bandlimited(np.ones(4), 0.1), "image"),
        (lambda: rotate_bandlimited(np.ones((4, 4)), np.inf), "angle"),
        (lambda: rotate_bandlimited(np.ones((4, 4)), 0.1, center=(1.0,)), "center"),
    ],
)
def test_invalid_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("offset", [5e-324, 2.2250738585072014e-308, -1e-300, 1e-200])
def test_interpolants_at_subnormal_offsets_return_the_sample(offset):
    # Regression: fastmath flushes subnormals, which once turned sin(pi r) / r into 0 / 0.
    z = np.array([2.5, -0.6, 2.2, 0.9, -0.6, 1.1])
    for fn in (periodic_interpolate, sinc_interpolate):
        got = fn(z, np.array([2.0 + offset, offset]))
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, [z[2], z[0]], rtol=0, atol=1e-12)


# --------------------------------------------------------------------------------------------
# Lanczos (local) shift
# --------------------------------------------------------------------------------------------


def test_lanczos_weights_formula_and_order():
    from dsp.interpolation import lanczos_weights

    for a, frac in ((3, 0.3), (2, 0.75), (4, 0.5)):
        taps = dict(lanczos_weights(frac, a))
        assert sorted(taps) == list(range(-a + 1, a + 1))
        raw = {m: np.sinc(m - frac) * np.sinc((m - frac) / a) for m in taps}
        total = sum(raw.values())
        for m in taps:
            assert taps[m] == pytest.approx(raw[m] / total, rel=1e-12)
    assert lanczos_weights(0.0) == [(0, 1.0)]
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError, match="frac"):
            lanczos_weights(bad)


def _lanczos_brute(x, d, a=3):
    """out[i] = Σ_j x[j]·L(i − d − j) (L normalised over its taps), zero outside, one axis."""
    n = math.floor(d)
    frac = d - n
    u = np.arange(-a + 1, a + 1) - frac
    kern = np.where(np.abs(u) < a, np.sinc(u) * np.sinc(u / a), 0.0)
    kern = kern / kern.sum()
    out = np.zeros_like(x)
    for i in range(x.shape[-1]):
        for m, wgt in zip(range(-a + 1, a + 1), kern, strict=True):
            j = i - n - m
            if 0 <= j < x.shape[-1]:
                out[..., i] += wgt * x[..., j]
    return out


@pytest.mark.parametrize(("dy", "dx"), [(0.5, 0.0), (-1.25, 2.7), (3.0, -2.0), (0.1, -0.9)])
def test_lanczos_shift_matches_the_direct_sum(dy, dx, rng):
    from dsp.interpolation import lanczos_shift

    x = rng.standard_normal((2, 9, 11))
    want = np.swapaxes(_lanczos_brute(np.swapaxes(_lanczos_brute(x, dx), -1, -2), dy), -1, -2)
    np.testing.assert_allclose(lanczos_shift(x, dy=dy, dx=dx), want, rtol=1e-12, atol=1e-14)


def test_lanczos_shift_integer_is_the_zero_filled_shift(rng):
    from dsp.interpolation import lanczos_shift

    x = rng.standard_normal((5, 7))
    got = lanczos_shift(x, dy=2, dx=-3)
    want = np.zeros_like(x)
    want[2:, :-3] = x[:-2, 3:]
    np.testing.assert_array_equal(got, want)


def test_lanczos_shift_commutes_with_a_convolution_inside_the_margin(rng):
    # Both are shift-invariant filters: away from the borders (margin ceil|d| + a plus the
    # convolution's reach) shift(conv(x)) = conv(shift(x)) to round-off.
    from dsp.interpolation import lanczos_shift

    x = rng.standard_normal((24, 24))
    k = rng.standard_normal((3, 3))
    conv = lambda v: scipy.signal.convolve2d(v, k, mode="same")  # noqa: E731
    a = lanczos_shift(conv(x), dy=0.5, dx=-1.5)
    b = conv(lanczos_shift(x, dy=0.5, dx=-1.5))
    m = 2 + 3 + 1
    np.testing.assert_allclose(a[m:-m, m:-m], b[m:-m, m:-m], rtol=0, atol=1e-12)
    assert np.abs(a - b).max() > 1e-3  # the borders do differ: the test can fail


def test_lanczos_shift_moves_content_like_the_fft_shift():
    # A slow tone inside the margin: Lanczos-3 reproduces the ideal shift to a few 1e-3.
    from dsp.interpolation import lanczos_shift

    n = np.arange(64)
    x = np.cos(2 * np.pi * 3 * n / 64)[None, :] * np.ones((4, 1))
    got = lanczos_shift(x, dy=0.0, dx=0.4)[:, 8:-8]
    want = fractional_shift(x, 0.4)[:, 8:-8]
    np.testing.assert_allclose(got, want, atol=5e-3)
    assert np.abs(got - x[:, 8:-8]).max() > 0.05


@pytest.mark.parametrize("d", [0.5, -0.5, 2.5, -2.5, 0.0625, 3.0, -2.0, 0.3])
def test_lanczos_margin_is_where_the_shift_reads_outside(d, rng):
    # Truth: the same map inside a larger one; the shifted outputs differ exactly where a tap
    # read outside the small map (zero there, other data in the large one). The margin is the larger
    # of the two border bands.
    from dsp.interpolation import lanczos_margin, lanczos_shift

    n, pad = 16, 8
    x = rng.standard_normal((1, n)) + 3.0
    big = rng.standard_normal((1, n + 2 * pad)) - 3.0  # other data around the map
    big[:, pad:-pad] = x
    bad = (
        np.abs(lanczos_shift(x, dy=0.0, dx=d) - lanczos_shift(big, dy=0.0, dx=d)[:, pad:-pad])[0]
        > 0
    )
    top = int(np.argmin(bad)) if not bad.all() else n
    bottom = int(np.argmin(bad[::-1]))
    assert bad.sum() == top + bottom  # two border bands, nothing inside
    assert lanczos_margin(d) == max(top, bottom)
