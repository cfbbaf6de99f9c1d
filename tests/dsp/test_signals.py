"""Analytic test signals (REFERENCE §1): spectra of tones, noise band, zone plate, and the exact
band-limited rendering of discs and polygons against quadrature and brute-force supersampling."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.figure import Figure
from scipy import integrate, special, stats

from dsp.plots.signals import plot_rendering, plot_sampling_1d
from dsp.sampling import sample_1d, sample_2d
from dsp.signals import (
    bandlimited_noise,
    disc,
    polygon,
    render_disc,
    render_polygon,
    tones,
    tones_2d,
    zone_plate,
)

CONCAVE = np.array([(-1.2, -0.9), (1.3, -1.1), (0.2, 0.1), (1.0, 1.3), (-1.1, 0.8)])


# --------------------------------------------------------------------------------------------
# tones and noise
# --------------------------------------------------------------------------------------------


def test_tones_values_and_dft():
    n, rate = 48, 2.0
    sig = tones([3 * rate / n, 7 * rate / n], [1.5, 0.25], [0.4, -1.0])
    x = np.linspace(-3, 3, 17)
    np.testing.assert_allclose(
        sig(x),
        1.5 * np.cos(2 * np.pi * 3 * rate / n * x + 0.4)
        + 0.25 * np.cos(2 * np.pi * 7 * rate / n * x - 1.0),
        atol=1e-14,
    )
    _, z = sample_1d(sig, (0.0, n / rate), rate)
    spec = np.fft.fft(z)
    # Line spectrum: bin k holds N a e^{i phi} / 2.
    assert spec[3] == pytest.approx(n * 1.5 / 2 * np.exp(0.4j), abs=1e-10)
    assert spec[7] == pytest.approx(n * 0.25 / 2 * np.exp(-1.0j), abs=1e-10)
    spec[[3, 7, n - 3, n - 7]] = 0
    assert np.abs(spec).max() < 1e-10
    assert sig.max_frequency == pytest.approx(7 * rate / n)
    assert tones(0.5)(np.array([1.0]))[0] == pytest.approx(-1.0)


def test_tones_2d_dft():
    n, rate = 32, 4.0
    sig = tones_2d([(5 * rate / n, -3 * rate / n), (0.0, 2 * rate / n)], [1.0, 2.0], [0.5, 0.0])
    _, _, z = sample_2d(sig, (0.0, n / rate), (0.0, n / rate), rate)
    spec = np.fft.fft2(z)  # [ky, kx]
    assert spec[-3, 5] == pytest.approx(n * n / 2 * np.exp(0.5j), abs=1e-9)
    assert spec[2, 0] == pytest.approx(n * n, abs=1e-9)
    spec[[-3, 3, 2, -2], [5, -5, 0, 0]] = 0
    assert np.abs(spec).max() < 1e-9
    assert sig.max_frequency == pytest.approx(math.hypot(5, 3) * rate / n)


@given(
    bandwidth=st.floats(0.01, 100.0),
    seed=st.integers(0, 2**32),
    n=st.integers(1, 200),
    band=st.sampled_from(["disc", "square"]),
)
def test_bandlimited_noise_inside_band(bandwidth, seed, n, band):
    s1 = bandlimited_noise(bandwidth, n, seed, ndim=1)
    assert s1.frequencies.shape == (n,)
    assert np.all(np.abs(s1.frequencies) < bandwidth)
    assert s1.bandwidth == bandwidth
    s2 = bandlimited_noise(bandwidth, n, seed, ndim=2, band=band)
    f = s2.frequencies
    if band == "disc":
        assert np.all(np.hypot(f[:, 0], f[:, 1]) < bandwidth)
    else:
        assert np.all(np.abs(f) < bandwidth)
    assert s2.band == band


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bandlimited_noise_frequencies_are_uniform_in_the_band(seed):
    # Documented: uniform in [0, B) (1D), in the disc |f| < B or the square |fx|, |fy| < B (2D).
    # Uniform in the disc means (|f| / B)^2 and the angle are uniform (not |f| itself, which
    # would crowd the centre). Kolmogorov-Smirnov against the analytic distributions, with
    # fixed seeds (deterministic); a wrong law gives p-values around 1e-200.
    b, n = 2.5, 4000
    f1 = bandlimited_noise(b, n, seed, ndim=1).frequencies
    assert stats.kstest(f1, "uniform", args=(0.0, b)).pvalue > 1e-3
    fd = bandlimited_noise(b, n, seed, ndim=2, band="disc").frequencies
    r2 = (np.hypot(fd[:, 0], fd[:, 1]) / b) ** 2
    theta = np.arctan2(fd[:, 1], fd[:, 0])
    assert stats.kstest(r2, "uniform").pvalue > 1e-3
    assert stats.kstest(theta, "uniform", args=(-np.pi, 2 * np.pi)).pvalue > 1e-3
    fs = bandlimited_noise(b, n, seed, ndim=2, band="square").frequencies
    for axis in (0, 1):
        assert stats.kstest(fs[:, axis], "uniform", args=(-b, 2 * b)).pvalue > 1e-3


def test_bandlimited_noise_seeded_power_and_spectrum():
    a = bandlimited_noise(1.0, 400, seed=3)
    b = bandlimited_noise(1.0, 400, seed=3)
    c = bandlimited_noise(1.0, 400, seed=4)
    np.testing.assert_array_equal(a.frequencies, b.frequencies)
    assert not np.array_equal(a.frequencies, c.frequencies)
    # Unit expected power: mean of a^2 / 2 summed, averaged over seeds (one draw's spread is
    # ~5 %; over 200 seeds the mean's standard error is ~0.4 %).
    powers = [np.sum(bandlimited_noise(1.0, 400, seed=s).amplitudes ** 2) / 2 for s in range(200)]
    assert np.mean(powers) == pytest.approx(1.0, rel=0.02)
    # Sampled well above Nyquist over a long window, the Hann-windowed spectrum has (almost) no
    # energy beyond the band edge plus the window's leakage (sidelobe power ~ bins^-6).
    n, rate = 4096, 8.0
    _, z = sample_1d(a, (0.0, n / rate), rate)
    p = np.abs(np.fft.rfft(z * np.hanning(n))) ** 2
    f = np.fft.rfftfreq(n, 1 / rate)
    assert p[f > 1.0 + 16 * rate / n].sum() < 1e-9 * p.sum()


# --------------------------------------------------------------------------------------------
# zone plate / chirp
# --------------------------------------------------------------------------------------------


def test_zone_plate_values_and_local_frequency():
    zp = zone_plate(3.0, center=(0.5, -0.25), phase=0.2)
    x, y = np.array([0.0, 1.0, 2.5]), np.array([0.0, 2.0, -1.0])
    r2 = (x - 0.5) ** 2 + (y + 0.25) ** 2
    np.testing.assert_allclose(zp(x, y), np.cos(np.pi * 3.0 * r2 + 0.2), atol=1e-12)
    np.testing.assert_allclose(zp.local_frequency(x, y), 3.0 * np.sqrt(r2))
    assert zp.alias_free_radius(12.0) == pytest.approx(2.0)


@pytest.mark.parametrize("x0", [2.0, 5.0, -7.0])
def test_chirp_instantaneous_frequency(x0):
    # The windowed spectrum of cos(pi k x^2) around x0 peaks at k |x0|.
    k, rate, n = 1.5, 64.0, 512
    chirp = zone_plate(k, ndim=1)
    x, z = sample_1d(chirp, (x0 - n / (2 * rate), x0 + n / (2 * rate)), rate)
    spec = np.abs(np.fft.rfft(z * np.hanning(z.size), 8 * z.size))
    f = np.fft.rfftfreq(8 * z.size, 1 / rate)
    assert f[np.argmax(spec)] == pytest.approx(k * abs(x0), abs=0.15)


# --------------------------------------------------------------------------------------------
# Fourier transforms of shapes
# --------------------------------------------------------------------------------------------


def _box_ft(f, a, b):
    return np.exp(-1j * np.pi * f * (a + b)) * (b - a) * np.sinc(f * (b - a))


def test_disc_fourier_transform_against_hankel_quadrature():
    d = disc(0.7, (0.2, -0.1))
    assert d.fourier_transform(0.0, 0.0) == pytest.approx(math.pi * 0.49, rel=1e-15)
    for rho, ang in [(1e-9, 0.0), (0.3, 1.0), (1.7, 2.5), (6.2, -0.4)]:
        fx, fy = rho * math.cos(ang), rho * math.sin(ang)
        # F(rho) = 2 pi int_0^R J0(2 pi rho r) r dr for the centred disc, times the shift phase.
        centred = integrate.quad(
            lambda r, rho=rho: 2 * np.pi * r * special.j0(2 * np.pi * rho * r),
            0,
            0.7,
            epsabs=1e-14,
            epsrel=1e-13,
        )[0]
        phase = np.exp(-2j * np.pi * (fx * 0.2 - fy * 0.1))
        assert d.fourier_transform(fx, fy) == pytest.approx(centred * phase, rel=1e-10, abs=1e-13)


@pytest.mark.parametrize("clockwise", [False, True])
def test_polygon_transform_of_rectangle(clockwise, rng):
    a, b, c, d = -0.3, 0.5, 0.1, 0.9
    v = [(a, c), (b, c), (b, d), (a, d)]
    p = polygon(v[::-1] if clockwise else v)
    assert p.area == pytest.approx(0.64)
    assert p.fourier_transform(0.0, 0.0) == pytest.approx(0.64)
    fx, fy = rng.normal(size=200) * 4, rng.normal(size=200) * 4
    # Small frequencies too: the cancellation-free edge sum keeps relative accuracy.
    fx[:4], fy[:4] = [1e-3, 1e-8, 1e-13, 0.0], [0.0, 2e-8, -1e-13, 1e-10]
    np.testing.assert_allclose(
        p.fourier_transform(fx, fy), _box_ft(fx, a, b) * _box_ft(fy, c, d), rtol=1e-12, atol=1e-15
    )


def test_polygon_transform_of_triangle_against_dblquad():
    # Triangle (0,0), (a,0), (0,b): integrate e^{-2 pi i f.p} with x in [0, a(1 - y/b)].
    a, b = 1.2, 0.7
    p = polygon([(0, 0), (a, 0), (0, b)])
    assert p.area == pytest.approx(a * b / 2)
    for fx, fy in [(0.4, -0.3), (1.5, 2.0), (-2.2, 0.1)]:
        parts = []
        for fn in (np.cos, np.sin):
            val = integrate.dblquad(
                lambda x, y, fn=fn, fx=fx, fy=fy: fn(-2 * np.pi * (fx * x + fy * y)),
                0,
                b,
                0,
                lambda y: a * (1 - y / b),
                epsabs=1e-13,
                epsrel=1e-12,
            )[0]
            parts.append(val)
        assert p.fourier_transform(fx, fy) == pytest.approx(parts[0] + 1j * parts[1], abs=1e-10)


def test_regular_polygon_tends_to_disc(rng):
    k, r = 3000, 0.7
    th = np.linspace(0, 2 * np.pi, k, endpoint=False)
    p = polygon(np.stack([0.2 + r * np.cos(th), -0.1 + r * np.sin(th)], 1))
    d = disc(r, (0.2, -0.1))
    fx, fy = rng.normal(size=50) * 3, rng.normal(size=50) * 3
    # The inscribed polygon's area deficit is ~ pi r^2 (2 pi / K)^2 / 6 ~ 3e-6.
    np.testing.assert_allclose(p.fourier_transform(fx, fy), d.fourier_transform(fx, fy), atol=5e-6)


def test_indicators():
    d = disc(1.0, (1.0, 0.0))
    np.testing.assert_array_equal(d(np.array([1.0, 2.5, 2.0]), np.zeros(3)), [1.0, 0.0, 0.5])
    p = polygon(CONCAVE)
    # (0.9, 0.0) is in the notch of the concave polygon, (0.0, 0.0) is inside.
    np.testing.assert_array_equal(
        p(np.array([0.0, 0.9, 3.0]), np.array([0.0, 0.0, 0.0])), [1.0, 0.0, 0.0]
    )


# --------------------------------------------------------------------------------------------
# band-limited rendering
# --------------------------------------------------------------------------------------------


def _brute_force_render(shape, n, rate, band, bandwidth, m):
    """Indicator supersampled m x per axis, ideal FFT low-pass to the band, every m-th sample."""
    sx = sy = -(n // 2) / rate
    h = 1.0 / (m * rate)
    xs, ys = sx + np.arange(n * m) * h, sy + np.arange(n * m) * h
    ind = shape(*np.meshgrid(xs, ys))
    spec = np.fft.fft2(ind)
    f = np.fft.fftfreq(n * m, d=h)
    fxx, fyy = np.meshgrid(f, f)
    if band == "disc":
        inside = np.hypot(fxx, fyy) < bandwidth
    else:
        inside = np.maximum(np.abs(fxx), np.abs(fyy)) < bandwidth
    spec *= inside
    # Decimating a signal band-limited to the coarse band = keeping the low bins.
    low = np.r_[0 : n // 2, n * m - n // 2 : n * m]
    return np.fft.ifft2(spec[np.ix_(low, low)]).real / m**2


@pytest.mark.parametrize(
    ("kind", "band"), [("disc", "disc"), ("disc", "square"), ("poly", "disc"), ("poly", "square")]
)
def test_render_converges_to_supersampled_brute_force(kind, band):
    n, rate, bw = 32, 8.0, 3.0
    shape = disc(0.93, (0.11, -0.23)) if kind == "disc" else polygon(CONCAVE)
    ours = shape.render(n, rate, band=band, bandwidth=bw)
    errs = [np.abs(_brute_force_render(shape, n, rate, band, bw, m) - ours).max() for m in (4, 64)]
    assert errs[1] < 4e-3
    assert errs[1] < errs[0] / 4


@pytest.mark.parametrize("band", ["disc", "square"])
def test_render_band_parseval_and_symmetry(band):
    n, rate, bw = 40, 5.0, 1.7
    img = render_disc(n, rate, 1.5, band=band, bandwidth=bw)
    spec = np.fft.fft2(img)
    f = np.fft.fftfreq(n, 1 / rate)
    fxx, fyy = np.meshgrid(f, f)
    inside = np.hypot(fxx, fyy) < bw if band == "disc" else np.maximum(abs(fxx), abs(fyy)) < bw
    # No energy outside the band.
    assert np.abs(spec[~inside]).max() < 1e-12 * np.abs(spec).max()
    # Parseval: (1/rate^2) sum g^2 = (1/L^2) sum_band |F(f_k)|^2 with the analytic transform.
    period = n / rate
    ft = disc(1.5).fourier_transform(fxx[inside], fyy[inside])
    assert np.sum(img**2) / rate**2 == pytest.approx(np.sum(np.abs(ft) ** 2) / period**2, rel=1e-12)
    # Centred disc with the default grid (origin on pixel n//2): point symmetric about it.
    c = n // 2
    np.testing.assert_allclose(
        img[c - 5 : c + 6, c - 5 : c + 6], img[c - 5 : c + 6, c - 5 : c + 6][::-1, ::-1], atol=1e-13
    )
    # The mean is the area over the period area (DC term).
    assert img.mean() == pytest.approx(math.pi * 1.5**2 / period**2, rel=1e-12)


def test_render_polygon_matches_shifted_start_and_stored_band():
    v = CONCAVE
    a = render_polygon((24, 20), 4.0, v, band="square", bandwidth=1.5, start=(-3.0, -2.5))
    b = polygon(v + np.array([0.25, 0.5]), bandwidth=1.5, band="square").render(
        (24, 20), 4.0, start=(-2.75, -2.0)
    )
    assert a.shape == (24, 20)
    np.testing.assert_allclose(a, b, atol=1e-13)


def test_plots_return_figures():
    fig = plot_rendering(render_disc(16, 4.0, 1.0), 4.0, title="disc")
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    fig = plot_sampling_1d(tones([0.3]), (0.0, 10.0), 2.0)
    assert isinstance(fig, Figure)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: tones([1.0, np.nan]), "frequencies"),
        (lambda: tones([1.0, 2.0], amplitudes=[1.0]), "amplitudes"),
        (lambda: tones([1.0], phases=[[0.0]]), "phases"),
        (lambda: tones_2d([(1.0, 2.0, 3.0)]), "frequencies"),
        (lambda: bandlimited_noise(0.0), "bandwidth"),
        (lambda: bandlimited_noise(1.0, n_components=0), "n_components"),
        (lambda: bandlimited_noise(1.0, ndim=3), "ndim"),
        (lambda: bandlimited_noise(1.0, band="hex"), "band"),
        (lambda: zone_plate(0.0), "k"),
        (lambda: zone_plate(1.0, ndim=2, center=(0.0,)), "center"),
        (lambda: zone_plate(1.0)(np.zeros(3)), "coordinate"),
        (lambda: disc(-1.0), "radius"),
        (lambda: disc(1.0, (0.0, np.nan)), "center"),
        (lambda: polygon([(0, 0), (1, 0)]), "vertices"),
        (lambda: polygon([(0, 0), (1, 0), (2, 0)]), "area"),
        (lambda: render_disc(16, 4.0, 1.0, bandwidth=2.5), "bandwidth"),
        (lambda: render_disc(16, 4.0, 1.0, band="hex"), "band"),
        (lambda: render_disc(0, 4.0, 1.0), "n"),
        (lambda: render_disc((16, 2.5), 4.0, 1.0), "n"),
        (lambda: render_polygon(16, -4.0, CONCAVE), "rate"),
    ],
)
def test_invalid_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
