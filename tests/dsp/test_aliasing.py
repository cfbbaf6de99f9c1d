"""Aliasing analyzers (dsp.aliasing) against analytic tone spectra and exact rational sums."""

from fractions import Fraction

import numpy as np
import pytest
import scipy.signal
from hypothesis import assume, given
from hypothesis import strategies as st

from dsp.aliasing import (
    FoldLabel,
    alias_free_band,
    channel_out_of_band_energy,
    fold_classification,
    nonlinearity_aliasing,
    out_of_band_energy,
    out_of_band_fraction,
)
from dsp.spectrum import spectrum_window


def _tone(shape, ky, kx, amp=1.0, phase=0.0):
    """``amp·cos(2π(ky·y/H + kx·x/W) + phase)``: power only in DFT bins ±(ky, kx)."""
    h, w = shape
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    return amp * np.cos(2 * np.pi * (ky * yy / h + kx * xx / w) + phase)


# --------------------------------------------------------------------------- alias-free band


@pytest.mark.parametrize("shape", [(8, 8), (12, 18), (10, 7), (16, 6)])
@pytest.mark.parametrize("factor", [1, 2, 3, 4])
@pytest.mark.parametrize("band", ["square", "disc"])
def test_band_mask_matches_exact_rationals(shape, factor, band):
    h, w = shape
    fc = Fraction(1, 2 * factor)
    want = np.zeros(shape, dtype=bool)
    for a in range(h):
        for b in range(w):
            fy = Fraction(a if a < h - h // 2 else a - h, h)
            fx = Fraction(b if b < w - w // 2 else b - w, w)
            if band == "square":  # stride 1: nothing decimated, the whole plane inside
                want[a, b] = factor == 1 or (abs(fy) < fc and abs(fx) < fc)
            else:
                want[a, b] = fy * fy + fx * fx < fc * fc
    np.testing.assert_array_equal(alias_free_band(shape, factor, band), want)
    np.testing.assert_array_equal(
        alias_free_band(shape, factor, band, shift=True), np.fft.fftshift(want)
    )


def test_band_mask_large_disc_does_not_overflow():
    # 4097 x 4096 with factor 8 exceeds int64 in the naive integer comparison.
    m = alias_free_band((4097, 4096), 8, "disc")
    assert m[0, 0] and m[0, 255] and not m[0, 256] and m[255, 0] and not m[257, 0]
    assert not m[182, 182] and m[181, 180]


# ------------------------------------------------------------------------- out-of-band energy


@given(
    factor=st.integers(2, 4),
    mult=st.integers(2, 4),
    band=st.sampled_from(["square", "disc"]),
    data=st.data(),
)
def test_band_limited_input_has_zero_out_of_band_energy(factor, mult, band, data):
    n = 2 * factor * mult  # band holds |k| < mult
    lim = mult - 1
    n_tones = data.draw(st.integers(1, 4))
    x = np.zeros((n, n))
    for _ in range(n_tones):
        ky = data.draw(st.integers(-lim, lim))
        kx = data.draw(st.integers(-lim, lim))
        if band == "disc":
            assume(4 * factor * factor * (ky * ky + kx * kx) < n * n)
        x += _tone((n, n), ky, kx, data.draw(st.floats(0.1, 3)), data.draw(st.floats(0, 6.3)))
    x += data.draw(st.floats(-2, 2))  # DC is in band
    assert out_of_band_energy(x, factor, band)[0, 0] < 1e-12


@pytest.mark.parametrize("band", ["square", "disc"])
def test_tone_above_new_nyquist_is_all_out_of_band(band):
    x = _tone((32, 32), 3, 11, 2.0, 0.3)  # |fx| = 11/32 > 1/4
    assert out_of_band_energy(x, 2, band)[0, 0] == pytest.approx(1.0, abs=1e-12)


def test_boundary_bin_counts_as_out_of_band():
    x = _tone((32, 32), 0, 8, 1.0, 0.5)  # fx = 8/32 = exactly 1/4
    assert out_of_band_energy(x, 2)[0, 0] == pytest.approx(1.0, abs=1e-12)


@given(
    a=st.floats(0.01, 10),
    b=st.floats(0.01, 10),
    kin=st.integers(1, 7),
    kout=st.integers(9, 15),
    phases=st.tuples(st.floats(0, 6.3), st.floats(0, 6.3)),
)
def test_mix_gives_exact_energy_ratio(a, b, kin, kout, phases):
    x = _tone((32, 32), kin, 0, a, phases[0]) + _tone((32, 32), 2, kout, b, phases[1])
    want = b * b / (a * a + b * b)
    assert out_of_band_energy(x, 2)[0, 0] == pytest.approx(want, rel=1e-10)


def test_square_and_disc_differ_on_corner_tone():
    x = _tone((32, 32), 6, 6)  # |f| = 6√2/32 ≈ 0.265 > 1/4 but |fx|, |fy| < 1/4
    assert out_of_band_energy(x, 2, "square")[0, 0] < 1e-12
    assert out_of_band_energy(x, 2, "disc")[0, 0] == pytest.approx(1.0, abs=1e-12)


def test_shapes_channel_pooling_and_zero_maps():
    x = np.zeros((3, 2, 16, 16))
    x[0, 0] = _tone((16, 16), 1, 1, 1.0)  # in band
    x[1, 0] = _tone((16, 16), 6, 0, 2.0)  # out
    x[2, 1] = _tone((16, 16), 0, 2, 1.0) + _tone((16, 16), 0, 7, 1.0)  # half
    r = out_of_band_energy(x, 2)
    assert r.shape == (3, 2)
    np.testing.assert_allclose(r, [[0, 0], [1, 0], [0, 0.5]], atol=1e-12)
    c = channel_out_of_band_energy(x, 2)
    # Channel 0 pools energies 1 (in) and 4 (out); channel 1 holds one half-out map.
    np.testing.assert_allclose(c, [4 / 5, 0.5], atol=1e-12)
    assert out_of_band_energy(x[0, 0], 2).shape == (1, 1)
    assert out_of_band_energy(x[0], 2).shape == (1, 2)


def test_window_option_equals_prewindowed_input(rng):
    x = rng.standard_normal((2, 1, 12, 16))
    w2 = spectrum_window((12, 16), "kaiser", beta=6.0)
    got = out_of_band_energy(x, 2, window="kaiser", beta=6.0)
    np.testing.assert_allclose(got, out_of_band_energy(x * w2, 2), rtol=1e-12)


def test_matches_brute_force_dft(rng):
    x = rng.standard_normal((2, 2, 6, 10))
    k6, k10 = np.arange(6), np.arange(10)
    f6 = np.exp(-2j * np.pi * np.outer(k6, k6) / 6)
    f10 = np.exp(-2j * np.pi * np.outer(k10, k10) / 10)
    p = np.abs(np.einsum("ah,nchw,bw->ncab", f6, x, f10)) ** 2
    inside = alias_free_band((6, 10), 2, "disc")
    want = (p * ~inside).sum(axis=(-2, -1)) / p.sum(axis=(-2, -1))
    np.testing.assert_allclose(out_of_band_energy(x, 2, "disc"), want, rtol=1e-12)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((np.zeros((8, 8)), 1.5), {}, "factor"),
        ((np.zeros((8, 8)), 0), {}, "factor"),
        ((np.zeros((8, 8)), True), {}, "factor"),
        ((np.zeros((8, 8)), 2), {"band": "circle"}, "band"),
        ((np.zeros(8), 2), {}, "rank"),
        ((np.full((4, 4), np.nan), 2), {}, "finite"),
        ((np.zeros((4, 4)), 2), {"window": "bartlett"}, "window"),
    ],
)
def test_out_of_band_rejects_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        out_of_band_energy(*args, **kwargs)


# ---------------------------------------------------------------------- fold classification


def _centred_index(k: int, n_out: int) -> int:
    """Centred index of output bin ``k mod n_out``."""
    l = k % n_out
    signed = l if l < n_out - n_out // 2 else l - n_out
    return signed + n_out // 2


def test_fold_in_band_tone_is_non_aliased():
    x = _tone((16, 16), 2, -3, 1.0, 0.2)
    res = fold_classification(x, 2)
    assert res.labels.shape == (8, 8)
    want = np.full((8, 8), FoldLabel.EMPTY)
    want[_centred_index(2, 8), _centred_index(-3, 8)] = FoldLabel.NON_ALIASED
    want[_centred_index(-2, 8), _centred_index(3, 8)] = FoldLabel.NON_ALIASED
    np.testing.assert_array_equal(res.labels, want)
    assert res.fractions == pytest.approx({"non_aliased": 1.0, "aliased": 0.0, "tangled": 0.0})
    assert res.empty_fraction == pytest.approx(62 / 64)
    np.testing.assert_allclose(res.fy, np.fft.fftshift(np.fft.fftfreq(8)))


def test_fold_tone_in_non_base_fold_is_aliased_at_expected_bin():
    # fx = 6/16 = 0.375 > 1/4 decimates to 0.75 cycles/output sample, i.e. -0.25: bin -2 of 8.
    x = _tone((16, 16), 0, 6, 1.0, 0.7)
    res = fold_classification(x, 2)
    assert res.labels[4, _centred_index(-2, 8)] == FoldLabel.ALIASED
    assert res.labels[4, _centred_index(2, 8)] == FoldLabel.ALIASED
    assert np.sum(res.labels == FoldLabel.ALIASED) == 2
    assert np.sum(res.labels != FoldLabel.EMPTY) == 2
    # The decimated signal really is the tone at -2/8 (independent check of the fold geometry).
    y = x[::2, ::2]
    spec = np.abs(np.fft.fftshift(np.fft.fft2(y)))
    assert spec[4, _centred_index(-2, 8)] > 1 and spec[4, _centred_index(2, 8)] > 1


def test_fold_two_strong_folds_are_tangled():
    # 2/16 (base) and 2/16 + 8/16 = 10/16 land on the same output bin with similar power.
    x = _tone((16, 16), 0, 2, 1.0) + _tone((16, 16), 0, 10, 0.8, 1.0)
    res = fold_classification(x, 2)
    assert res.labels[4, _centred_index(2, 8)] == FoldLabel.TANGLED
    assert res.labels[4, _centred_index(-2, 8)] == FoldLabel.TANGLED
    assert res.fractions["tangled"] == 1.0


@pytest.mark.parametrize("weak, label", [(0.05, FoldLabel.ALIASED), (0.2, FoldLabel.TANGLED)])
def test_fold_threshold_with_weak_base_fold(weak, label):
    # Base fold at 20·log10(weak) dB below the aliased one: -26 dB fails, -14 dB passes 20 dB.
    x = _tone((16, 16), 0, 2, weak) + _tone((16, 16), 0, 10, 1.0, 1.0)
    res = fold_classification(x, 2, threshold_db=20.0)
    assert res.labels[4, _centred_index(2, 8)] == label
    # With a 30 dB threshold both pass.
    res30 = fold_classification(x, 2, threshold_db=30.0)
    assert res30.labels[4, _centred_index(2, 8)] == FoldLabel.TANGLED


def test_fold_energy_weighted_fractions():
    a, b = 1.0, 3.0
    x = _tone((16, 16), 1, 0, a) + _tone((16, 16), 0, 7, b, 0.3)
    res = fold_classification(x, 2)
    assert res.fractions == pytest.approx({"non_aliased": 0.5, "aliased": 0.5, "tangled": 0.0})
    want = {"non_aliased": a * a / (a * a + b * b), "aliased": b * b / (a * a + b * b)}
    assert res.energy_fractions["non_aliased"] == pytest.approx(want["non_aliased"], rel=1e-12)
    assert res.energy_fractions["aliased"] == pytest.approx(want["aliased"], rel=1e-12)
    assert res.energy_fractions["tangled"] == pytest.approx(0.0, abs=1e-20)
    # Power per output bin: |X|²/(HW) of the stride-1 map summed over folds = amp²·HW/4.
    assert res.power.max() == pytest.approx(b * b * 256 / 4, rel=1e-12)


def test_fold_per_channel():
    x = np.zeros((2, 2, 12, 12))
    x[:, 0] = _tone((12, 12), 1, 1)
    x[:, 1] = _tone((12, 12), 0, 5)  # 5/12 > 1/6 with stride 3... output bin 5 mod 4 = 1
    res = fold_classification(x, 3, average="channel")
    assert res.labels.shape == (2, 4, 4)
    ch0 = res.labels[0][res.labels[0] != FoldLabel.EMPTY]
    ch1 = res.labels[1][res.labels[1] != FoldLabel.EMPTY]
    np.testing.assert_array_equal(ch0, FoldLabel.NON_ALIASED)
    np.testing.assert_array_equal(ch1, FoldLabel.ALIASED)
    assert res.labels[1, 2, _centred_index(5, 4)] == FoldLabel.ALIASED


@given(
    s=st.integers(2, 3),
    ho=st.integers(2, 5),
    wo=st.integers(2, 5),
    data=st.data(),
)
def test_fold_single_tone_label_matches_its_frequency(s, ho, wo, data):
    h, w = s * ho, s * wo
    ky = data.draw(st.integers(-(h // 2) + 1, h - h // 2 - 1))
    kx = data.draw(st.integers(-(w // 2) + 1, w - w // 2 - 1))
    ly, lx = ky % ho, kx % wo
    # Skip output bins at the output Nyquist (ambiguous ±) and self-mirrored bins (tone and its
    # conjugate land on the same output bin).
    assume(not (ho % 2 == 0 and ly == ho // 2) and not (wo % 2 == 0 and lx == wo // 2))
    assume(not ((2 * ly) % ho == 0 and (2 * lx) % wo == 0))
    x = _tone((h, w), ky, kx, 1.0, data.draw(st.floats(0, 6.3)))
    res = fold_classification(x, s)
    in_band = 2 * s * abs(ky) < h and 2 * s * abs(kx) < w
    want = FoldLabel.NON_ALIASED if in_band else FoldLabel.ALIASED
    assert res.labels[_centred_index(ky, ho), _centred_index(kx, wo)] == want
    assert res.labels[_centred_index(-ky, ho), _centred_index(-kx, wo)] == want
    assert np.sum(res.labels != FoldLabel.EMPTY) == 2


def test_fold_batch_order_invariance(rng):
    x = rng.standard_normal((5, 2, 8, 8))
    a = fold_classification(x, 2)
    b = fold_classification(x[::-1], 2)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.fractions == b.fractions


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((np.zeros((9, 8)), 2), {}, "divisible"),
        ((np.zeros((8, 8)), 2.0), {}, "stride"),
        ((np.zeros((8, 8)), 2), {"threshold_db": -1.0}, "threshold_db"),
        ((np.zeros((8, 8)), 2), {"average": "batch"}, "average"),
        ((np.zeros((8, 8)), 2), {"empty_db": 0.0}, "empty_db"),
        ((np.zeros((1, 1, 1, 8, 8)), 2), {}, "rank"),
        ((np.full((8, 8), np.inf), 2), {}, "finite"),
    ],
)
def test_fold_rejects_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fold_classification(*args, **kwargs)


def test_fold_zero_input_is_all_empty():
    res = fold_classification(np.zeros((8, 8)), 2)
    assert np.all(res.labels == FoldLabel.EMPTY)
    assert res.empty_fraction == 1.0


# ---------------------------------------------------------------------- nonlinearity aliasing


def _series_fraction(coef: dict, ks: tuple, ns: tuple, m: int) -> tuple[float, float]:
    """Aliased fraction and energy of ``y = Σ_h a_h·e^{ih·θ}``, ``θ = 2π·k·n/N`` per axis.

    ``coef`` maps harmonic index arrays ``h`` to complex-exponential coefficients ``a_h``. At rate
    ``N`` harmonic ``h`` lands on bin ``h·k mod N``; the reference lands it on ``h·k mod m·N``,
    keeps ``|b| <= N/2`` per axis (both ``±N/2`` kept and merged, as the analyzer does) and maps
    it to ``b mod N``. Parseval: energy ``= Π N · Σ |c_b|²``.
    """
    h, a = coef["h"], coef["a"]
    size = int(np.prod(ns))
    idx_s = np.zeros(h.shape, dtype=np.int64)
    idx_r = np.zeros(h.shape, dtype=np.int64)
    keep = np.ones(h.shape, dtype=bool)
    for k, n in zip(ks, ns, strict=True):
        idx_s = idx_s * n + (h * k) % n
        b = (h * k) % (m * n)
        signed = np.where(b <= m * n // 2, b, b - m * n)
        keep &= np.abs(2 * signed) <= n
        idx_r = idx_r * n + signed % n
    c_s = np.bincount(idx_s, weights=a, minlength=size)
    c_r = np.bincount(idx_r[keep], weights=a[keep], minlength=size)
    energy = size * np.sum((c_s - c_r) ** 2)
    return energy / (size * np.sum(c_s**2)), energy


def _half_wave_coefficients(hmax: int) -> dict:
    """Fourier series of max(cos θ, 0): a_0 = 1/π, a_±1 = 1/4, a_±2j = (-1)^(j+1)/(π(4j²-1))."""
    h = np.arange(-hmax, hmax + 1)
    a = np.zeros(h.shape)
    a[h == 0] = 1 / np.pi
    a[np.abs(h) == 1] = 0.25
    even = (h % 2 == 0) & (h != 0)
    j = np.abs(h[even]) // 2
    a[even] = (-1.0) ** (j + 1) / (np.pi * (4.0 * j * j - 1.0))
    return {"h": h, "a": a}


@given(seed=st.integers(0, 2**32 - 1), m=st.integers(2, 5), ndim=st.integers(1, 2))
def test_identity_and_linear_fn_give_zero(seed, m, ndim):
    rng = np.random.default_rng(seed)
    shape = (2,) + tuple(rng.integers(3, 9, size=ndim))
    x = rng.standard_normal(shape)
    assert nonlinearity_aliasing(x, lambda v: v, m, ndim=ndim).fraction < 1e-24
    assert nonlinearity_aliasing(x, lambda v: 2 * v - 1, m, ndim=ndim).fraction < 1e-24


@pytest.mark.parametrize("m", [2, 3, 4])
@pytest.mark.parametrize("L, k", [(16, 5), (16, 7), (15, 6), (20, 9)])
def test_square_of_tone_folds_half_its_harmonic(L, k, m):
    # cos² = 1/2 + cos(2θ)/2; 2k/L > 1/2, so the harmonic is out of band: fraction = (1/8)/(3/8).
    x = 1.5 * np.cos(2 * np.pi * k * np.arange(L) / L + 0.3)
    r = nonlinearity_aliasing(x, np.square, m, ndim=1)
    assert r.fraction == pytest.approx(1 / 3, rel=1e-12)
    assert r.energy == pytest.approx(L * (1.5**2 / 2) ** 2 / 2, rel=1e-12)


def test_square_of_in_band_tone_has_no_aliasing():
    x = np.cos(2 * np.pi * 3 * np.arange(16) / 16)  # 2·3/16 < 1/2
    assert nonlinearity_aliasing(x, np.square, 2, ndim=1).fraction < 1e-24


def test_square_of_2d_tone():
    x = _tone((12, 16), 2, 5, 1.0, 0.4)  # harmonic (4, 10): |10/16| > 1/2 → out of the square
    r = nonlinearity_aliasing(x, np.square, 2)
    assert r.fraction == pytest.approx(1 / 3, rel=1e-12)


def _relu_series(ks: tuple, ns: tuple, m: int, hmax: int) -> tuple[float, float]:
    """``_series_fraction`` for the half-wave series, its truncation error removed.

    The truncated tail of ``a_h ~ 1/h²`` shifts the sums by ``O(1/hmax)``; Richardson
    extrapolation from ``hmax`` and ``2·hmax`` cancels that term, leaving ``O(1/hmax²)``.
    """
    f1, e1 = _series_fraction(_half_wave_coefficients(hmax), ks, ns, m)
    f2, e2 = _series_fraction(_half_wave_coefficients(2 * hmax), ks, ns, m)
    return 2 * f2 - f1, 2 * e2 - e1


@pytest.mark.parametrize("m", [4, 16])
@pytest.mark.parametrize("L, k", [(16, 3), (15, 4)])
def test_relu_of_tone_matches_half_wave_series(L, k, m):
    x = np.cos(2 * np.pi * k * np.arange(L) / L)
    r = nonlinearity_aliasing(x, lambda v: np.maximum(v, 0.0), m, ndim=1)
    want, energy = _relu_series((k,), (L,), m, 200_000)
    assert 0.001 < want < 0.5
    assert r.fraction == pytest.approx(want, rel=1e-8)
    assert r.energy == pytest.approx(energy, rel=1e-8)


def test_relu_reference_converges_with_m():
    # The reference itself aliases ReLU's endless harmonics; the measured fraction settles as m
    # grows (the 16x and 64x values differ by under 1 %, the 2x and 64x by about 40 %).
    x = np.cos(2 * np.pi * 3 * np.arange(16) / 16)
    f = [
        nonlinearity_aliasing(x, lambda v: np.maximum(v, 0.0), m, ndim=1).fraction
        for m in (2, 16, 64)
    ]
    assert abs(f[1] - f[2]) < 0.01 * f[2] and abs(f[0] - f[2]) > 0.3 * f[2]


def test_relu_of_2d_tone_matches_half_wave_series():
    x = _tone((8, 12), 1, 2)
    r = nonlinearity_aliasing(x, lambda v: np.maximum(v, 0.0), 4)
    want, _ = _relu_series((1, 2), (8, 12), 4, 100_000)
    assert r.fraction == pytest.approx(want, rel=1e-8)


@pytest.mark.parametrize("shape, m", [((3, 2, 14, 14), 4), ((2, 9, 12), 3), ((4, 10, 7), 2)])
def test_nonlinearity_reference_equals_scipy_resample_pipeline(shape, m, rng):
    # Independent reference built from scipy.signal.resample (same ideal resampler and Nyquist
    # convention), axis by axis: up by m, ReLU, back down. Equal to rounding.
    x = rng.standard_normal(shape)
    relu = lambda v: np.maximum(v, 0.0)  # noqa: E731
    up = x
    for a in (-2, -1):
        up = scipy.signal.resample(up, m * x.shape[a], axis=a)
    ref = relu(up)
    for a in (-2, -1):
        ref = scipy.signal.resample(ref, x.shape[a], axis=a)
    diff = np.sum((relu(x) - ref) ** 2, axis=(-2, -1))
    tot = np.sum(relu(x) ** 2, axis=(-2, -1))
    r = nonlinearity_aliasing(x, relu, m)
    np.testing.assert_allclose(r.per_channel_energy, diff, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(r.per_channel_output_energy, tot, rtol=1e-12)
    assert r.fraction == pytest.approx(diff.sum() / tot.sum(), rel=1e-10)


def test_nonlinearity_per_channel():
    n = np.arange(16)
    x = np.stack(
        [np.cos(2 * np.pi * 3 * n / 16), np.cos(2 * np.pi * 6 * n / 16), np.zeros(16)]
    ).reshape(3, 1, 16)
    r = nonlinearity_aliasing(x, np.square, 2, ndim=1)
    assert r.per_channel_fraction.shape == (3, 1)
    np.testing.assert_allclose(r.per_channel_fraction[:, 0], [0, 1 / 3, 0], atol=1e-12)
    np.testing.assert_allclose(r.per_channel_energy[:, 0], [0, 16 / 8, 0], atol=1e-12)
    np.testing.assert_allclose(r.per_channel_output_energy[:, 0], [6, 6, 0], atol=1e-12)
    # Total: aliased 2 over total energy (16·3/8 for each tone).
    assert r.fraction == pytest.approx(2 / 12, rel=1e-12)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((np.zeros(8), np.square, 1), {"ndim": 1}, "m"),
        ((np.zeros(8), np.square, 2.5), {"ndim": 1}, "m"),
        ((np.zeros(8), np.square, 2), {"ndim": 3}, "ndim"),
        ((np.zeros(8), np.square, 2), {"ndim": 2}, "rank"),
        ((np.zeros(8), "square", 2), {"ndim": 1}, "callable"),
        ((np.zeros(8), lambda v: v[..., :-1], 2), {"ndim": 1}, "pointwise"),
        ((np.ones(8), lambda v: v / 0.0, 2), {"ndim": 1}, "finite"),
        ((np.ones(8), lambda v: v + 1j, 2), {"ndim": 1}, "real"),
        ((np.array([1.0, np.nan]), np.square, 2), {"ndim": 1}, "finite"),
    ],
)
def test_nonlinearity_rejects_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match), np.errstate(divide="ignore"):
        nonlinearity_aliasing(*args, **kwargs)


def test_plot_fold_map_draws_labels():
    import matplotlib.pyplot as plt

    from dsp.plots.spectrum import plot_fold_map

    x = np.stack([_tone((16, 16), 1, 2), _tone((16, 16), 0, 6)])
    res = fold_classification(x, 2)
    fig = plot_fold_map(res)
    np.testing.assert_array_equal(np.asarray(fig.axes[0].images[0].get_array()), res.labels)
    plt.close(fig)
    per = fold_classification(x, 2, average="channel")
    fig = plot_fold_map(per, channel=1)
    np.testing.assert_array_equal(np.asarray(fig.axes[0].images[0].get_array()), per.labels[1])
    plt.close(fig)
    with pytest.raises(ValueError, match="channel"):
        plot_fold_map(per)
    with pytest.raises(ValueError, match="channel"):
        plot_fold_map(per, channel=2)
    with pytest.raises(ValueError, match="channel"):
        plot_fold_map(res, channel=0)


# --------------------------------------------------------------------------- spectrum fraction


@pytest.mark.parametrize("band", ["square", "disc"])
@pytest.mark.parametrize("shift", [False, True])
def test_out_of_band_fraction_of_a_spectrum_matches_the_per_map_measure(band, shift, rng):
    x = rng.standard_normal((12, 10))
    p = np.abs(np.fft.fft2(x)) ** 2
    want = out_of_band_energy(x, 2, band)[0, 0]
    got = out_of_band_fraction(np.fft.fftshift(p) if shift else p, 2, band, shift=shift)
    assert got == pytest.approx(want, rel=1e-12)


def test_out_of_band_fraction_of_no_power_is_nan_not_zero():
    # 0/0: reporting 0 % (the old CLI arithmetic) claimed a 1x1 analysis was band-limited.
    assert np.isnan(out_of_band_fraction(np.zeros((1, 1)), 2))
    assert np.isnan(out_of_band_fraction(np.zeros((8, 8)), 4, "disc"))
    assert out_of_band_fraction(np.eye(1), 2) == 0.0  # DC only: all inside
    with pytest.raises(ValueError, match="non-negative"):
        out_of_band_fraction(-np.ones((4, 4)), 2)


# ------------------------------------------------------------------- per-axis strides (sy, sx)


@pytest.mark.parametrize("shape", [(8, 12), (12, 18), (10, 7)])
@pytest.mark.parametrize("factor", [(2, 1), (1, 3), (2, 4), (3, 3)])
@pytest.mark.parametrize("band", ["square", "disc"])
def test_band_mask_per_axis_matches_exact_rationals(shape, factor, band):
    # Truth: the rectangle |fy| < 1/(2 sy), |fx| < 1/(2 sx) (resp. the ellipse) in exact
    # rationals, bin by bin.
    h, w = shape
    cy, cx = Fraction(1, 2 * factor[0]), Fraction(1, 2 * factor[1])
    want = np.zeros(shape, dtype=bool)
    for a in range(h):
        for b in range(w):
            fy = Fraction(a if a < h - h // 2 else a - h, h)
            fx = Fraction(b if b < w - w // 2 else b - w, w)
            if band == "square":  # an axis of stride 1 is not decimated: all inside
                want[a, b] = (abs(fy) < cy or factor[0] == 1) and (abs(fx) < cx or factor[1] == 1)
            else:
                want[a, b] = (fy / cy) ** 2 + (fx / cx) ** 2 < 1
    np.testing.assert_array_equal(alias_free_band(shape, factor, band), want)
    if factor[0] == factor[1]:
        np.testing.assert_array_equal(alias_free_band(shape, factor[0], band), want)


def test_tone_along_an_undecimated_axis_is_in_band():
    # cos(2π·0.375·w) varies only along W; a stride (2, 1) decimates the rows only, so nothing
    # is lost (the probe reported 100 % when it used max(stride) for both axes).
    x = _tone((8, 16), 0, 6)
    assert out_of_band_energy(x, (2, 1))[0, 0] < 1e-30
    assert out_of_band_energy(x, (1, 2))[0, 0] == pytest.approx(1.0, rel=1e-12)
    assert out_of_band_energy(x, 2)[0, 0] == pytest.approx(1.0, rel=1e-12)
    res = fold_classification(x, (2, 1))
    assert res.labels.shape == (4, 16) and res.stride == (2, 1)
    assert res.energy_fractions["non_aliased"] == pytest.approx(1.0, rel=1e-12)
    res = fold_classification(x, (1, 2))
    assert res.energy_fractions["aliased"] == pytest.approx(1.0, rel=1e-12)
    assert fold_classification(x, 2).stride == 2


def test_per_axis_out_of_band_matches_brute_force_dft(rng):
    x = rng.standard_normal((2, 2, 6, 10))
    k6, k10 = np.arange(6), np.arange(10)
    f6 = np.exp(-2j * np.pi * np.outer(k6, k6) / 6)
    f10 = np.exp(-2j * np.pi * np.outer(k10, k10) / 10)
    p = np.abs(np.einsum("ah,nchw,bw->ncab", f6, x, f10)) ** 2
    fy = np.fft.fftfreq(6)[:, None]
    fx = np.fft.fftfreq(10)[None, :]
    inside = (np.abs(fy) < 1 / 6) & (np.abs(fx) < 1 / 4)  # strides (3, 2)
    want = (p * ~inside).sum(axis=(-2, -1)) / p.sum(axis=(-2, -1))
    np.testing.assert_allclose(out_of_band_energy(x, (3, 2)), want, rtol=1e-12)
    pooled = (p * ~inside).sum(axis=(0, -2, -1)) / p.sum(axis=(0, -2, -1))
    np.testing.assert_allclose(channel_out_of_band_energy(x, (3, 2)), pooled, rtol=1e-12)
    spec = p.mean(axis=(0, 1))
    assert out_of_band_fraction(spec, (3, 2), shift=False) == pytest.approx(
        float((spec * ~inside).sum() / spec.sum()), rel=1e-12
    )


@pytest.mark.parametrize("stride", [(2, 1), (1, 3), (2, 3)])
def test_per_axis_folds_match_brute_force(stride, rng):
    # Truth: the power of every input bin added to the output bin it lands on after
    # y[i, j] = x[sy·i, sx·j], folds listed by brute force over all input bins.
    sy, sx = stride
    h, w = 4 * sy, 3 * sx
    x = rng.standard_normal((3, 1, h, w))
    x[1] *= 1e-3  # different levels so the 20 dB test passes and fails in places
    res = fold_classification(x, stride, average="all")
    p = (np.abs(np.fft.fft2(x)) ** 2 / (h * w)).mean(axis=(0, 1))
    ho, wo = h // sy, w // sx
    fy, fx = np.fft.fftfreq(h), np.fft.fftfreq(w)
    for ly in range(ho):
        for lx in range(wo):
            folds = {}
            for ky in range(h):
                for kx in range(w):
                    if ky % ho == ly and kx % wo == lx:
                        base = (-1 / (2 * sy) <= fy[ky] < 1 / (2 * sy)) and (
                            -1 / (2 * sx) <= fx[kx] < 1 / (2 * sx)
                        )
                        folds[(ky, kx)] = (p[ky, kx], base)
            top = max(v for v, _ in folds.values())
            passing = [b for v, b in folds.values() if v >= top * 0.01]
            if len(passing) >= 2:
                want = FoldLabel.TANGLED
            else:
                want = FoldLabel.NON_ALIASED if passing[0] else FoldLabel.ALIASED
            got = res.labels[_centred_index(ly, ho), _centred_index(lx, wo)]
            assert got == want, (ly, lx)
            total = sum(v for v, _ in folds.values())
            assert res.power[_centred_index(ly, ho), _centred_index(lx, wo)] == pytest.approx(
                total, rel=1e-12
            )


@pytest.mark.parametrize("bad", [(2, 0), (2, 2, 2), "22", (2.5, 1), (True, 2), [None, 1]])
def test_per_axis_factor_is_validated(bad):
    with pytest.raises(ValueError, match="factor"):
        out_of_band_energy(np.zeros((8, 8)), bad)
    with pytest.raises(ValueError, match="stride"):
        fold_classification(np.zeros((8, 8)), bad)


def test_fold_per_axis_divisibility_is_checked_per_axis():
    fold_classification(np.zeros((8, 9)), (2, 3))  # 8 % 2 == 0 and 9 % 3 == 0
    with pytest.raises(ValueError, match="stride along x"):
        fold_classification(np.zeros((8, 9)), (2, 2))


def test_nonlinearity_fn_sees_whole_channel_blocks():
    # A per-channel nonlinearity (one leaky slope per channel, read from axis 1) must get the
    # channels where it expects them; truth: each channel alone with its scalar slope.
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4, 8, 8))
    slopes = np.array([0.0, 0.1, 0.5, 1.0])
    shapes = []

    def prelu(v):
        shapes.append(v.shape)
        return np.where(v > 0, v, slopes[None, :, None, None] * v)

    got = nonlinearity_aliasing(x, prelu, m=2, keep_channels=True)
    assert all(s[1:2] == (4,) for s in shapes)
    for c, a in enumerate(slopes):
        want = nonlinearity_aliasing(x[:, c], lambda v, a=a: np.where(v > 0, v, a * v), m=2)
        np.testing.assert_allclose(
            got.per_channel_energy[:, c], want.per_channel_energy, rtol=1e-12, atol=1e-30
        )
    assert np.all(got.per_channel_energy[:, 3] < 1e-25)  # slope 1: linear, no aliasing
    # By default single signals ([k, H, W]: bounded memory), the same energies for a function
    # without per-channel parameters.
    shapes.clear()
    relu = lambda v: (shapes.append(v.shape), np.maximum(v, 0))[1]  # noqa: E731
    plain = nonlinearity_aliasing(x, relu, m=2)
    assert all(len(s) == 3 for s in shapes)
    whole = nonlinearity_aliasing(x, lambda v: np.maximum(v, 0), m=2, keep_channels=True)
    np.testing.assert_allclose(plain.per_channel_energy, whole.per_channel_energy, rtol=1e-12)


def test_out_of_band_fraction_of_an_unwindowed_spectrum_equals_the_energy_measure():
    # The documented bridge between the two routes (dsp.aliasing docstrings, ARCHITECTURE): the
    # spectrum's defaults (Hann window, mean removed) change the fraction, the plain spectrum
    # gives the pooled energy measure exactly.
    from dsp.aliasing import channel_out_of_band_energy, out_of_band_fraction
    from dsp.spectrum import power_spectrum

    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 1, 20, 24)) + 1.0
    plain = out_of_band_fraction(power_spectrum(x, window=None, detrend=None)[2], 2)
    np.testing.assert_allclose(plain, channel_out_of_band_energy(x, 2)[0], rtol=1e-12)
    assert abs(out_of_band_fraction(power_spectrum(x)[2], 2) - plain) > 0.05
