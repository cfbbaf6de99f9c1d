"""Average power spectrum, radial average and slices (dsp.spectrum), against brute force."""

import numpy as np
import pytest
import scipy.signal
from hypothesis import given
from hypothesis import strategies as st

from dsp.spectrum import power_spectrum, radial_average, spectrum_slices, spectrum_window


def _dft_matrix(n: int) -> np.ndarray:
    k = np.arange(n)
    return np.exp(-2j * np.pi * np.outer(k, k) / n)


def _brute_power(x4: np.ndarray) -> np.ndarray:
    """Mean over maps of |X|²/(HW) with an explicit DFT-matrix product (no FFT)."""
    _, _, h, w = x4.shape
    fy, fx = _dft_matrix(h), _dft_matrix(w)
    spec = np.einsum("ah,nchw,bw->ncab", fy, x4, fx)
    return (np.abs(spec) ** 2).mean(axis=(0, 1)) / (h * w)


@given(
    n=st.integers(1, 3),
    c=st.integers(1, 3),
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    seed=st.integers(0, 2**32 - 1),
)
def test_parseval_without_window(n, c, h, w, seed):
    x = np.random.default_rng(seed).standard_normal((n, c, h, w))
    _, _, p = power_spectrum(x, window=None, detrend=None)
    mean_energy = np.mean(np.sum(x**2, axis=(-2, -1)))
    assert np.sum(p) == pytest.approx(mean_energy, rel=1e-12)


@given(
    h=st.integers(2, 8),
    w=st.integers(2, 8),
    window=st.sampled_from([None, "hann", "kaiser"]),
    shift=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_matches_brute_force_dft(h, w, window, shift, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, h, w)) + 0.7
    fy, fx, p = power_spectrum(x, window=window, beta=5.0, detrend="mean", shift=shift)
    # Independent window: built from scipy's 1D windows and normalised here.
    if window is None:
        w2 = np.ones((h, w))
    else:
        spec = ("kaiser", 5.0) if window == "kaiser" else "hann"
        w2 = np.outer(scipy.signal.get_window(spec, h), scipy.signal.get_window(spec, w))
        w2 /= np.sqrt(np.mean(w2**2))
    xd = (x - x.mean(axis=(-2, -1), keepdims=True)) * w2
    want = _brute_power(xd)
    efy, efx = np.fft.fftfreq(h), np.fft.fftfreq(w)
    if shift:
        want, efy, efx = np.fft.fftshift(want), np.fft.fftshift(efy), np.fft.fftshift(efx)
    np.testing.assert_allclose(p, want, rtol=1e-10, atol=1e-12 * want.max())
    np.testing.assert_array_equal(fy, efy)
    np.testing.assert_array_equal(fx, efx)


def test_tone_lands_on_its_bins_with_analytic_power():
    h, w, ky, kx, a = 16, 12, 3, -2, 1.7
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    x = a * np.cos(2 * np.pi * (ky * yy / h + kx * xx / w) + 0.4)
    fy, fx, p = power_spectrum(x, window=None, detrend=None)
    want = np.zeros((h, w))
    # cos = (e^{iθ} + e^{-iθ})/2: |X|²/(HW) = a²·HW/4 at ±(ky, kx).
    iy = np.flatnonzero(np.isclose(fy, ky / h))[0]
    ix = np.flatnonzero(np.isclose(fx, kx / w))[0]
    jy = np.flatnonzero(np.isclose(fy, -ky / h))[0]
    jx = np.flatnonzero(np.isclose(fx, -kx / w))[0]
    want[iy, ix] = want[jy, jx] = a**2 * h * w / 4
    np.testing.assert_allclose(p, want, atol=1e-9)


def test_window_preserves_white_noise_power_on_average(rng):
    x = rng.standard_normal((400, 1, 16, 16))
    for window in ("hann", "kaiser"):
        _, _, p = power_spectrum(x, window=window, detrend=None)
        # E[Σ P] = H·W·σ² = 256; the estimate's standard error is well under 1 %.
        assert np.sum(p) == pytest.approx(256.0, rel=0.02)
        assert np.mean(spectrum_window((16, 16), window) ** 2) == pytest.approx(1.0, rel=1e-12)


def test_fs_scales_frequency_axes():
    x = np.random.default_rng(0).standard_normal((8, 6))
    fy, fx, p = power_spectrum(x, fs=64.0)
    fy1, fx1, p1 = power_spectrum(x)
    np.testing.assert_allclose(fy, 64 * fy1)
    np.testing.assert_allclose(fx, 64 * fx1)
    np.testing.assert_array_equal(p, p1)


def test_batch_order_invariance(rng):
    x = rng.standard_normal((7, 2, 10, 10))
    perm = rng.permutation(7)
    _, _, p = power_spectrum(x)
    _, _, q = power_spectrum(x[perm])
    np.testing.assert_allclose(p, q, rtol=1e-12)


def test_ranks_are_promoted(rng):
    x = rng.standard_normal((3, 8, 8))
    _, _, p3 = power_spectrum(x)
    _, _, p4 = power_spectrum(x[None])
    np.testing.assert_array_equal(p3, p4)
    _, _, p2 = power_spectrum(x[0])
    _, _, p2b = power_spectrum(x[None, :1])
    np.testing.assert_array_equal(p2, p2b)


def test_mean_detrend_removes_constant():
    _, _, p = power_spectrum(np.full((2, 1, 8, 8), 3.0))
    np.testing.assert_allclose(p, 0.0, atol=1e-20)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"x": np.zeros(5)}, "rank"),
        ({"x": np.zeros((1, 1, 1, 2, 2))}, "rank"),
        ({"x": np.array([[1.0, np.nan]])}, "finite"),
        ({"x": np.zeros((4, 4)), "window": "hamming"}, "window"),
        ({"x": np.zeros((4, 4)), "detrend": "linear"}, "detrend"),
        ({"x": np.zeros((4, 4)), "window": "kaiser", "beta": -1.0}, "beta"),
        ({"x": np.zeros((4, 4)), "fs": 0.0}, "fs"),
    ],
)
def test_power_spectrum_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        power_spectrum(**kwargs)


def test_radial_average_matches_brute_force(rng):
    fy, fx, p = power_spectrum(rng.standard_normal((3, 16, 16)))
    f, pr = radial_average(p, fy, fx, nbins=8)
    fmax = 0.5
    edges = np.linspace(0, fmax, 9)
    for i in range(8):
        vals = [
            p[a, b]
            for a in range(16)
            for b in range(16)
            if edges[i] <= np.hypot(fy[a], fx[b]) < edges[i + 1]
            or (i == 7 and np.hypot(fy[a], fx[b]) == fmax)
        ]
        assert pr[i] == pytest.approx(np.mean(vals), rel=1e-12)
        assert f[i] == pytest.approx((edges[i] + edges[i + 1]) / 2)


def test_radial_average_of_ring():
    # A spectrum that depends on radius only has ring means equal to that function's values.
    fy = np.fft.fftshift(np.fft.fftfreq(32))
    fx = np.fft.fftshift(np.fft.fftfreq(32))
    r = np.hypot(fy[:, None], fx[None, :])
    p = np.where(r < 0.2, 1.0, 0.0)
    f, pr = radial_average(p, fy, fx, nbins=16)
    inner = f + 0.5 / 32 < 0.2
    outer = f - 0.5 / 32 >= 0.2
    np.testing.assert_array_equal(pr[inner], 1.0)
    np.testing.assert_array_equal(pr[outer], 0.0)


def test_slices_square_are_row_and_diagonal(rng):
    fy, fx, p = power_spectrum(rng.standard_normal((2, 12, 12)))
    f0, p0, f45, p45 = spectrum_slices(p, fy, fx)
    np.testing.assert_array_equal(p0, p[6, 6:])
    np.testing.assert_allclose(f0, np.arange(6) / 12)
    np.testing.assert_array_equal(p45, np.diagonal(p)[6:])
    np.testing.assert_allclose(f45, np.sqrt(2) * np.arange(6) / 12)
    # DFT order gives the same slices.
    fyu, fxu, pu = power_spectrum(rng.standard_normal((2, 12, 12)), shift=False)
    g0, q0, g45, q45 = spectrum_slices(pu, fyu, fxu)
    ps = np.fft.fftshift(pu)
    np.testing.assert_array_equal(q0, ps[6, 6:])
    np.testing.assert_array_equal(q45, np.diagonal(ps)[6:])


def test_slices_non_square_interpolate_bilinearly():
    fy = np.fft.fftshift(np.fft.fftfreq(8))
    fx = np.fft.fftshift(np.fft.fftfreq(16))
    # P linear in fy and fx: bilinear interpolation is exact.
    p = 2.0 + 3.0 * fy[:, None] - 5.0 * fx[None, :]
    _, _, f45, p45 = spectrum_slices(p, fy, fx)
    t = f45 / np.sqrt(2)
    np.testing.assert_allclose(t, np.arange(7) / 16)
    np.testing.assert_allclose(p45, 2.0 + 3.0 * t - 5.0 * t, atol=1e-12)


def test_radial_and_slices_reject_bad_input():
    fy = fx = np.fft.fftfreq(4)
    with pytest.raises(ValueError, match="shape"):
        radial_average(np.zeros((4, 5)), fy, fx)
    with pytest.raises(ValueError, match="nbins"):
        radial_average(np.zeros((4, 4)), fy, fx, nbins=0)
    with pytest.raises(ValueError, match="finite"):
        spectrum_slices(np.full((4, 4), np.nan), fy, fx)


def test_plots_draw_the_spectrum_in_db(tmp_path, rng):
    import matplotlib.pyplot as plt

    from dsp.plots import save_figure
    from dsp.plots.spectrum import plot_power_spectrum, plot_spectrum_slices

    fy, fx, p = power_spectrum(rng.standard_normal((2, 16, 16)))
    fig = plot_power_spectrum(fy, fx, p, marks=(0.25, 0.125), floor_db=-60.0)
    drawn = np.asarray(fig.axes[0].images[0].get_array())
    np.testing.assert_allclose(drawn, np.maximum(10 * np.log10(p / p.max()), -60.0))
    assert save_figure(fig, tmp_path / "s.png").stat().st_size > 0
    plt.close(fig)
    fig = plot_spectrum_slices(fy, fx, p)
    f0, p0, _, _ = spectrum_slices(p, fy, fx)
    line = fig.axes[0].lines[0]
    np.testing.assert_allclose(line.get_xdata(), f0)
    plt.close(fig)
    with pytest.raises(ValueError, match="band"):
        plot_power_spectrum(fy, fx, p, band="hexagon")
    with pytest.raises(ValueError, match="marks"):
        plot_power_spectrum(fy, fx, p, marks=-0.1)
    with pytest.raises(ValueError, match="shape"):
        plot_power_spectrum(fy[:-1], fx, p)


def test_band_marks_can_differ_between_the_axes(rng):
    # A stride (2, 1) keeps |f_y| < 1/4 and |f_x| < 1/2: the outline is that rectangle (and
    # the ellipse through its edges), not a square.
    import matplotlib.pyplot as plt

    from dsp.plots.spectrum import plot_power_spectrum

    fy, fx, p = power_spectrum(rng.standard_normal((2, 16, 16)))
    fig = plot_power_spectrum(fy, fx, p, marks=[(0.25, 0.5)], band="both")
    square, disc = fig.axes[0].lines[:2]
    assert (max(square.get_xdata()), max(square.get_ydata())) == (0.5, 0.25)
    assert max(disc.get_xdata()) == pytest.approx(0.5)
    assert max(disc.get_ydata()) == pytest.approx(0.25)
    plt.close(fig)
    with pytest.raises(ValueError, match="marks"):
        plot_power_spectrum(fy, fx, p, marks=[(0.25, 0.5, 1.0)])
    with pytest.raises(ValueError, match="marks"):
        plot_power_spectrum(fy, fx, p, marks=[(0.25, -0.5)])


def test_plots_label_the_frequency_unit_of_the_axes(rng):
    # power_spectrum(fs=...) gives axes in the units of fs, but both plots always said
    # "cycles/sample": the unit label must follow the axes the caller passes.
    import matplotlib.pyplot as plt

    from dsp.plots.spectrum import plot_power_spectrum, plot_spectrum_slices

    fy, fx, p = power_spectrum(rng.standard_normal((2, 16, 16)))
    for plot in (plot_power_spectrum, plot_spectrum_slices):
        fig = plot(fy, fx, p)
        assert "(cycles/sample)" in fig.axes[0].get_xlabel()
        plt.close(fig)
    fy, fx, p = power_spectrum(rng.standard_normal((2, 16, 16)), fs=64.0)
    fig = plot_power_spectrum(fy, fx, p, marks=16.0, unit="cycles per image width")
    assert fig.axes[0].get_xlabel() == "f_x (cycles per image width)"
    assert fig.axes[0].get_ylabel() == "f_y (cycles per image width)"
    plt.close(fig)
    fig = plot_spectrum_slices(fy, fx, p, marks=16.0, unit="cycles per image width")
    assert fig.axes[0].get_xlabel() == "radial frequency (cycles per image width)"
    plt.close(fig)
    with pytest.raises(ValueError, match="unit"):
        plot_power_spectrum(fy, fx, p, unit="")


def test_slice_marks_are_told_apart(rng):
    import matplotlib.pyplot as plt

    from dsp.plots.spectrum import plot_spectrum_slices

    fy, fx, p = power_spectrum(rng.standard_normal((2, 16, 16)))
    marks = (0.25, 0.125, 0.0625, 0.03125)
    fig = plot_spectrum_slices(fy, fx, p, marks=marks)
    ax = fig.axes[0]
    vlines = ax.get_lines()[2:]
    assert [line.get_xdata()[0] for line in vlines] == list(marks)
    styles = {(str(line.get_color()), str(line.get_linestyle())) for line in vlines}
    assert len(styles) == len(marks)
    # Every mark has its own legend entry, drawn in its own style.
    legend = ax.get_legend()
    texts = [t.get_text() for t in legend.get_texts()]
    handles = dict(zip(texts, legend.legend_handles, strict=True))
    for line, m in zip(vlines, marks, strict=True):
        handle = handles[f"|f| = {m:g}"]
        assert (handle.get_color(), handle.get_linestyle()) == (
            line.get_color(),
            line.get_linestyle(),
        )
    plt.close(fig)


def test_beta_only_matters_for_the_kaiser_window():
    hann = spectrum_window((8, 12), "hann")
    np.testing.assert_array_equal(spectrum_window((8, 12), "hann", beta=-1.0), hann)
    np.testing.assert_array_equal(spectrum_window((8, 12), None, beta=float("nan")), 1.0)
    # Independent: scipy's DFT-even Hann, scaled to unit mean square.
    w = np.outer(scipy.signal.get_window("hann", 8), scipy.signal.get_window("hann", 12))
    np.testing.assert_allclose(hann, w / np.sqrt(np.mean(w * w)))
    with pytest.raises(ValueError, match="beta"):
        spectrum_window((8, 12), "kaiser", beta=-1.0)
