"""The paper's Fig. 2 experiment (dsp.figures) against analytic spectra and brute-force sums."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dsp.figures import (
    ReluAliasing,
    bandlimited_field,
    ideal_nonlinearity,
    relu_aliasing,
    relu_aliasing_1d,
)


def _in_band_error_db(y, ref, band):
    """Independent in-band error: DFT bins with |fx|, |fy| < band, Parseval on the bins."""
    y, ref = np.atleast_2d(y), np.atleast_2d(ref)
    h, w = y.shape
    keep = (np.abs(np.fft.fftfreq(h))[:, None] < band) & (np.abs(np.fft.fftfreq(w)) < band)
    d = np.abs(np.fft.fft2(y - ref)) ** 2
    r = np.abs(np.fft.fft2(ref)) ** 2
    return 10 * np.log10(d[keep].sum() / r[keep].sum())


def _periodic_filtered(x, f, up, slope):
    """Brute-force periodic up -> leaky ReLU -> down on the fine grid with np.roll sums.

    Zero insertion on a circle of up·n samples, circular convolution with ``up·f`` along each
    axis, the activation, circular convolution with ``f``, every ``up``-th sample. The two
    filters' delays add up to ``len(f) − 1`` fine samples; putting all of it in the second
    convolution moves the activation grid by whole fine samples only, which σ commutes with.
    """
    n = x.shape[0]
    big = np.zeros((up * n, up * n))
    big[::up, ::up] = x

    def conv(a, taps, shift):
        for axis in (0, 1):
            a = sum(t * np.roll(a, k - shift, axis=axis) for k, t in enumerate(taps))
        return a

    v = conv(big, up * f, 0)
    a = np.where(v < 0, slope * v, v)
    return conv(a, f, len(f) - 1)[::up, ::up]


def _tone2d(n, ky, kx, phase):
    yy, xx = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    return np.cos(2 * np.pi * (ky * yy + kx * xx) / n + phase)


# --------------------------------------------------------------------------- bandlimited_field


@given(
    n=st.integers(8, 40),
    bandwidth=st.floats(0.05, 0.5),
    seed=st.integers(0, 2**31 - 1),
)
def test_bandlimited_field_is_band_limited_with_unit_rms(n, bandwidth, seed):
    x = bandlimited_field(n, bandwidth, seed=seed)
    assert x.shape == (n, n) and x.dtype == np.float64
    f = np.fft.fftfreq(n)
    outside = np.hypot(f[:, None], f[None, :]) >= bandwidth
    p = np.abs(np.fft.fft2(x)) ** 2
    assert p[outside].sum() <= 1e-24 * p.sum()
    assert np.sqrt(np.mean(x**2)) == pytest.approx(1.0, rel=1e-12)


@given(
    h=st.integers(4, 24),
    w=st.integers(4, 24),
    bandwidth=st.floats(0.1, 0.5),
    seed=st.integers(0, 2**31 - 1),
)
def test_rectangular_bandlimited_field_is_band_limited_and_periodic(h, w, bandwidth, seed):
    # Truth: the DFT of the H×W field has no power at |f| >= bandwidth (f_y = k/H, f_x = k/W).
    # The DFT reads the field as one period: a seam between opposite edges (a cropped, not
    # periodic, field) would put broadband power there, so this checks periodicity too.
    x = bandlimited_field((h, w), bandwidth, seed=seed)
    assert x.shape == (h, w)
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
    p = np.abs(np.fft.fft2(x)) ** 2
    assert p[np.hypot(fy, fx) >= bandwidth].sum() <= 1e-24 * p.sum()
    assert np.sqrt(np.mean(x**2)) == pytest.approx(1.0, rel=1e-12)
    if h == w:
        np.testing.assert_array_equal(x, bandlimited_field(h, bandwidth, seed=seed))


@pytest.mark.parametrize("bad", [(3, 8), (8, 0), (8, 8, 8), (8, 10**6)])
def test_bandlimited_field_rejects_bad_shapes(bad):
    with pytest.raises(ValueError, match=r"n"):
        bandlimited_field(bad, 0.3)


def test_bandlimited_field_is_reproducible_and_seeded():
    a = bandlimited_field(16, 0.3, seed=1)
    np.testing.assert_array_equal(a, bandlimited_field(16, 0.3, seed=1))
    assert not np.allclose(a, bandlimited_field(16, 0.3, seed=2))


# --------------------------------------------------------------------------- ideal_nonlinearity


@settings(max_examples=20)
@given(
    n=st.integers(6, 24),
    bandwidth=st.floats(0.05, 0.49),
    scale=st.floats(-3, 3),
    offset=st.floats(-2, 2),
    oversample=st.sampled_from([2, 4, 16]),
)
def test_ideal_nonlinearity_of_affine_fn_is_identity(n, bandwidth, scale, offset, oversample):
    x = bandlimited_field(n, bandwidth, seed=n)
    y = ideal_nonlinearity(x, lambda v: scale * v + offset, oversample=oversample)
    np.testing.assert_allclose(y, scale * x + offset, rtol=0, atol=1e-12)


@settings(max_examples=30)
@given(
    n=st.integers(6, 20),
    ky=st.integers(-9, 9),
    kx=st.integers(-9, 9),
    phase=st.floats(0, 2 * np.pi),
    oversample=st.sampled_from([2, 3, 16]),
)
def test_ideal_square_of_tone_is_the_band_limited_part_of_cos2(n, ky, kx, phase, oversample):
    assume(2 * abs(ky) < n and 2 * abs(kx) < n)  # the tone itself below Nyquist
    assume(4 * abs(ky) != n and 4 * abs(kx) != n)  # the doubled tone not exactly at Nyquist
    x = _tone2d(n, ky, kx, phase)
    # cos² = 1/2 + cos(2θ)/2; the doubled tone survives only strictly below Nyquist per axis.
    kept = 4 * abs(ky) < n and 4 * abs(kx) < n
    want = 0.5 + (0.5 * _tone2d(n, 2 * ky, 2 * kx, 2 * phase) if kept else 0.0)
    y = ideal_nonlinearity(x, np.square, oversample=oversample)
    np.testing.assert_allclose(y, want, rtol=0, atol=1e-12)


def test_ideal_nonlinearity_keeps_leading_axes_and_rectangles(rng):
    x = rng.standard_normal((2, 10, 12))  # any samples are those of some band-limited z
    y = ideal_nonlinearity(x, np.square, oversample=4)
    assert y.shape == x.shape
    for i in range(2):
        np.testing.assert_allclose(y[i], ideal_nonlinearity(x[i], np.square, oversample=4))
    # x² of a signal band-limited below s/2 has its band below s: 2× is already exact.
    np.testing.assert_allclose(ideal_nonlinearity(x, np.square, oversample=2), y, atol=1e-12)


@pytest.mark.parametrize(
    ("fn", "match"),
    [
        (lambda v: v[..., :1], "fn must be pointwise"),
        (lambda v: np.where(v > 0, np.inf, v), "fn\\(x\\) must be finite"),
        (lambda v: v + 1j, "fn must return real values"),
        (3.0, "fn must be callable"),
    ],
)
def test_ideal_nonlinearity_checks_what_fn_returns(rng, fn, match):
    with pytest.raises(ValueError, match=match):
        ideal_nonlinearity(rng.standard_normal((8, 8)), fn, oversample=2)


def test_ideal_relu_has_converged_at_16x():
    # Harmonics above 16·s/2 still fold in the stand-in; doubling the rate must barely move it.
    x = bandlimited_field(24, 0.3, seed=3)
    relu = lambda v: np.maximum(v, 0.0)  # noqa: E731
    a = ideal_nonlinearity(x, relu, oversample=16)
    b = ideal_nonlinearity(x, relu, oversample=32)
    assert _in_band_error_db(a, b, 0.5) < -60


# --------------------------------------------------------------------------- relu_aliasing 2D


def test_relu_aliasing_defaults_filtered_far_below_plain():
    r = relu_aliasing()
    assert isinstance(r, ReluAliasing)
    assert r.x.shape == r.ideal.shape == r.plain.shape == r.filtered.shape == (64, 64)
    # The reported numbers are the in-band errors, recomputed independently here.
    assert r.plain_error_db == pytest.approx(_in_band_error_db(r.plain, r.ideal, 0.3), abs=1e-9)
    assert r.filtered_error_db == pytest.approx(
        _in_band_error_db(r.filtered, r.ideal, 0.3), abs=1e-9
    )
    # Measured (n = 64): seed 0 plain -27.8 dB, filtered -44.8 dB (margin 17.0 dB); seeds 1..3
    # give margins of 16.4..17.3 dB. Bounds leave ~2 dB slack.
    assert -31 < r.plain_error_db < -25  # the plain ReLU really aliases
    assert r.filtered_error_db < -42
    assert r.filtered_error_db < r.plain_error_db - 15


@pytest.mark.parametrize("seed", [1, 2])
def test_relu_aliasing_margin_holds_for_other_fields_and_leaky_relu(seed):
    # Measured (n = 32): seed 1 plain -27.9 / filtered -45.3 dB; seed 2 with slope 0.2 (leaky
    # ReLU: a smaller kink) -30.1 / -46.0 dB.
    r = relu_aliasing(32, seed=seed, slope=0.2 * (seed - 1))
    assert r.filtered_error_db < r.plain_error_db - 13


def test_relu_aliasing_larger_oversampling_folds_less():
    # Measured (n = 32): up 2 / 24 taps -45.3 dB, up 4 / 48 taps -60.6 dB: only harmonics above
    # up·s − bandwidth can fold into the band, and the ReLU's harmonics decay.
    r2 = relu_aliasing(32, seed=1)
    r4 = relu_aliasing(32, seed=1, up=4, numtaps=48)
    assert r4.plain_error_db == pytest.approx(r2.plain_error_db)
    assert r4.filtered_error_db < r2.filtered_error_db - 8


def test_relu_aliasing_linear_activation_reproduces_input_in_band():
    # slope = 1 makes σ the identity: plain and ideal are x; the filtered path is two flat
    # low-passes whose misalignment by even one fine sample would show as a large error.
    # Measured: -67.2 dB (Kaiser passband ripple of 24 taps, width 0.4 at fs = 2).
    r = relu_aliasing(48, slope=1.0, seed=4)
    np.testing.assert_allclose(r.plain, r.x, atol=0)
    np.testing.assert_allclose(r.ideal, r.x, atol=1e-12)
    assert _in_band_error_db(r.filtered, r.x, r.bandwidth) < -62
    assert r.filtered_error_db < -62


@pytest.mark.parametrize(
    ("up", "numtaps", "slope", "bandwidth"),
    [(2, 24, 0.0, 0.3), (2, 13, 0.2, 0.25), (3, 18, 0.0, 0.3), (2, 4, -0.5, 0.2), (4, 9, 0.0, 0.1)],
)
def test_relu_aliasing_filtered_path_equals_periodic_brute_force(up, numtaps, slope, bandwidth):
    # Checks the padding/wrapping arithmetic around filtered_lrelu for any filter length.
    r = relu_aliasing(16, up=up, numtaps=numtaps, slope=slope, bandwidth=bandwidth, seed=7)
    assert r.filter.shape == (numtaps,) and r.up == up
    want = _periodic_filtered(r.x, r.filter, up, slope)
    np.testing.assert_allclose(r.filtered, want, rtol=0, atol=1e-12)


def test_relu_aliasing_filter_design_defaults():
    r = relu_aliasing(16, bandwidth=0.2)
    assert (r.cutoff, r.half_width, r.up, r.numtaps) == (0.5, pytest.approx(0.3), 2, 24)
    assert r.filter.sum() == pytest.approx(1.0)
    r = relu_aliasing(16, bandwidth=0.2, cutoff=0.4, half_width=0.1, numtaps=12)
    assert (r.cutoff, r.half_width, r.numtaps) == (0.4, 0.1, 12)


# --------------------------------------------------------------------------- relu_aliasing 1D


def test_relu_aliasing_1d_single_tone_matches_half_wave_rectifier_series():
    n, f = 32, 5
    r = relu_aliasing_1d(n, freqs=(f,))
    t = r.t
    theta = 2 * np.pi * f * t / n
    # ReLU(cos θ) = 1/π + cos θ / 2 + Σ_k (−1)^(k+1) 2/(π(4k²−1)) cos 2kθ; below Nyquist
    # (|2k·f| < n/2) only k = 1 survives.
    want = 1 / np.pi + np.cos(theta) / 2 + 2 / (3 * np.pi) * np.cos(2 * theta)
    # The dense stand-in folds harmonics above 64·n/2 (amplitude ~ 2/(π h²) ~ 1e-6).
    np.testing.assert_allclose(r.ideal_dense, want, atol=2e-5)
    np.testing.assert_allclose(r.activated, np.maximum(np.cos(theta), 0), atol=1e-14)
    np.testing.assert_allclose(r.x, np.cos(2 * np.pi * f * np.arange(n) / n), atol=1e-14)
    exact_ideal = want[:: r.oversample]
    assert r.plain_error_db == pytest.approx(_in_band_error_db(r.plain, exact_ideal, 0.3), abs=0.01)
    # Harmonic 30 folds onto bin 2 (|30 − 32|): the plain ReLU's spectrum has it, the ideal not.
    spec = np.fft.rfft(r.plain - exact_ideal) / n * 2
    series = sum(
        2 / (np.pi * (4 * k * k - 1)) * (-1) ** (k + 1)
        for k in range(1, 20000)
        if (2 * k * f) % n in (2, n - 2)
    )
    assert spec[2].real == pytest.approx(series, abs=1e-4)
    # Measured: plain -28.3 dB, filtered -42.3 dB.
    assert r.filtered_error_db < r.plain_error_db - 12


def test_relu_aliasing_1d_linear_activation_reproduces_input_in_band():
    # Measured -68.2 dB (the 7-cycle tone sits at 0.22 cycles/sample, where the ripple is
    # larger); a one-sample misalignment would give about -2 dB.
    r = relu_aliasing_1d(32, freqs=(3, 7), amplitudes=(1.0, 0.5), phases=(0.2, 1.1), slope=1.0)
    np.testing.assert_allclose(r.ideal, r.x, atol=1e-10)
    assert _in_band_error_db(r.filtered, r.x, r.bandwidth) < -64


@pytest.mark.parametrize(("up", "numtaps"), [(2, 12), (3, 19), (2, 40)])
def test_relu_aliasing_1d_filtered_equals_periodic_brute_force(up, numtaps):
    r = relu_aliasing_1d(16, freqs=(2, 3), phases=(0.4, 2.0), up=up, numtaps=numtaps, slope=0.1)
    n = r.n
    big = np.zeros(up * n)
    big[::up] = r.x
    v = sum(up * t * np.roll(big, k) for k, t in enumerate(r.filter))
    a = np.where(v < 0, 0.1 * v, v)
    y = sum(t * np.roll(a, k - (len(r.filter) - 1)) for k, t in enumerate(r.filter))
    np.testing.assert_allclose(r.filtered, y[::up], atol=1e-12)


# --------------------------------------------------------------------------- invalid input


@pytest.mark.parametrize(
    "call",
    [
        lambda: bandlimited_field(3, 0.2),
        lambda: bandlimited_field(16, 0.0),
        lambda: bandlimited_field(16, 0.6),
        lambda: bandlimited_field(16, float("nan")),
        lambda: ideal_nonlinearity(np.ones(8), np.square),
        lambda: ideal_nonlinearity(np.full((4, 4), np.nan), np.square),
        lambda: ideal_nonlinearity(np.ones((4, 4)), np.square, oversample=1),
        lambda: ideal_nonlinearity(np.ones((4, 4)), "square"),
        lambda: relu_aliasing(4),
        lambda: relu_aliasing(16, bandwidth=0.5),
        lambda: relu_aliasing(16, bandwidth=-0.1),
        lambda: relu_aliasing(16, numtaps=1),
        lambda: relu_aliasing(16, up=1),
        lambda: relu_aliasing(16, up=2.5),
        lambda: relu_aliasing(16, cutoff=1.0),  # at the filters' Nyquist (fs = up = 2)
        lambda: relu_aliasing(16, bandwidth=0.3, cutoff=0.3),  # no transition band left
        lambda: relu_aliasing(16, slope=float("nan")),
        lambda: relu_aliasing_1d(32, freqs=(10,)),  # 10 >= 0.3·32
        lambda: relu_aliasing_1d(32, freqs=(0,)),
        lambda: relu_aliasing_1d(32, freqs=(2.5,)),
        lambda: relu_aliasing_1d(32, freqs=()),
        lambda: relu_aliasing_1d(32, freqs=(2, 3), amplitudes=(1.0,)),
        lambda: relu_aliasing_1d(32, freqs=(2,), phases=(np.inf,)),
        lambda: relu_aliasing_1d(32, oversample=2),
    ],
)
def test_invalid_arguments_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


# --------------------------------------------------------------------------- plots


def test_plots_draw_and_save(tmp_path):
    from matplotlib.figure import Figure

    from dsp.plots import save_figure
    from dsp.plots.figures import plot_relu_aliasing, plot_relu_aliasing_1d

    r = relu_aliasing(16, seed=2)
    fig = plot_relu_aliasing(r)
    assert isinstance(fig, Figure) and len(fig.axes) == 16  # 8 panels + 8 colour bars
    titles = " ".join(ax.get_title() for ax in fig.axes)
    assert f"{r.plain_error_db:.1f} dB" in titles and f"{r.filtered_error_db:.1f} dB" in titles
    assert save_figure(fig, tmp_path / "fig2.png").stat().st_size > 10_000

    r1 = relu_aliasing_1d(16, freqs=(3,))
    fig = plot_relu_aliasing_1d(r1, max_harmonic=2.0, n_arrows=2)
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    # The fold arrows point at |h − k·n|: harmonic 12 of a 3-cycle tone lands on bin 4.
    labels = [t.get_text() for t in fig.axes[1].texts]
    assert "12→4" in labels
    assert save_figure(fig, tmp_path / "fig2_1d.png").stat().st_size > 10_000

    with pytest.raises(ValueError):
        plot_relu_aliasing(r1)
    with pytest.raises(ValueError):
        plot_relu_aliasing_1d(r)
    with pytest.raises(ValueError):
        plot_relu_aliasing(r, floor_db=10.0)
    with pytest.raises(ValueError):
        plot_relu_aliasing_1d(r1, max_harmonic=0.2)
