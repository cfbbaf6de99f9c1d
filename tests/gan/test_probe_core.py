"""gan.probe core: the three measures against analytic truths, hooks, errors (issue 6)."""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dsp.aliasing import out_of_band_energy
from gan.probe import PSNR_CAP_DB, equivariance_key, probe_model
from gan.probe.measures import equivariance_psnr, shift_maps

H, W = 8, 64


def _tone_batch(k: int, n: int = 2, c: int = 1, h: int = H, w: int = W) -> torch.Tensor:
    """cos(2π k x / W + φ), constant along y: one tone at k/W cycles/sample (float64)."""
    xs = np.arange(w)
    phases = np.linspace(0.0, 1.0, n * c, endpoint=False).reshape(n, c, 1, 1)
    x = np.cos(2 * np.pi * k * xs / w + phases) * np.ones((n, c, h, w))
    return torch.from_numpy(x)


def _bandlimited(rng: np.random.Generator, n: int, c: int, size: int, fmax: float) -> np.ndarray:
    """Random sums of 2D cosines with every frequency component |f| < fmax cycles/sample."""
    out = np.zeros((n, c, size, size))
    yy, xx = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    kmax = int(math.ceil(fmax * size)) - 1
    for _ in range(6):
        ky, kx = rng.integers(-kmax, kmax + 1, size=2)
        amp = rng.standard_normal((n, c, 1, 1))
        ph = rng.uniform(0, 2 * np.pi, (n, c, 1, 1))
        out += amp * np.cos(2 * np.pi * (ky * yy + kx * xx) / size + ph)
    return out


def _identity_conv(stride: int) -> nn.Conv2d:
    conv = nn.Conv2d(1, 1, 1, stride=stride, bias=False).double()
    with torch.no_grad():
        conv.weight.fill_(1.0)
    return conv


# ------------------------------------------------------------------------------ truths
def test_identity_network_bandlimited_input_gives_zero_aliasing(rng):
    """Identity maps, a band-limited input below the stride-2 band: all measures say none."""
    model = nn.Sequential(nn.Identity(), _identity_conv(2), nn.Identity()).double()
    x = torch.from_numpy(_bandlimited(rng, 3, 1, 32, fmax=0.24))
    rep = probe_model(model, x, nonlinearities=["0"], shifts=(1.0, 0.5, 2.0))
    ident = rep.row("0")
    assert ident.measures["nonlinearity"].max < 1e-20
    down = rep.row("1")
    assert down.measures["out_of_band"].max < 1e-20
    assert down.measures["fold_non_aliased"].min == pytest.approx(1.0, abs=1e-12)
    assert down.measures["fold_aliased"].max == 0.0
    assert down.measures["fold_tangled"].max == 0.0
    # Identity maps commute exactly with any shift; so does stride 2 on content below 1/4.
    for name in ("0", "1", "2"):
        for t in (1.0, 0.5, 2.0):
            assert rep.row(name).measures[equivariance_key(t)].min == PSNR_CAP_DB


def test_stride2_tone_above_new_nyquist_is_fully_aliased():
    """1×1 identity conv with stride 2 on a tone at 0.375 cycles/sample (> 1/4): 100 %."""
    rep = probe_model(_identity_conv(2), _tone_batch(24), measures=("downsampling",))
    (row,) = rep.rows
    assert row.name == "(model)" and row.rate == 0.5
    assert row.measures["out_of_band"].min == pytest.approx(1.0, rel=1e-12)
    assert row.measures["fold_aliased"].min == pytest.approx(1.0, rel=1e-12)
    assert row.measures["fold_non_aliased"].max == pytest.approx(0.0, abs=1e-12)
    # the same tone below the new Nyquist: nothing out of band, every fold is the base one.
    low = probe_model(_identity_conv(2), _tone_batch(10), measures=("downsampling",)).rows[0]
    assert low.measures["out_of_band"].max < 1e-20
    assert low.measures["fold_non_aliased"].min == pytest.approx(1.0, rel=1e-12)


def _relu_folded_fraction(k0: int, n: int, kmax: int = 20000) -> float:
    """Aliased fraction of ReLU(cos θ) sampled at θ = 2π k0 j / n, from its Fourier series.

    ReLU(cos θ) = 1/π + cos(θ)/2 + Σ_{k even ≥ 2} (2/π)(−1)^(k/2+1)/(k²−1) cos(kθ); the
    harmonics with k·k0/n ≥ 1/2 fold back when sampled. Their sampled sum over the energy of the
    sampled ReLU output is the aliased fraction.
    """
    j = np.arange(n)
    ks = np.arange(2, kmax + 1, 2)
    above = ks[ks * k0 / n > 0.5]
    amp = (2 / np.pi) * (-1.0) ** (above // 2 + 1) / (above.astype(float) ** 2 - 1)
    folded = np.zeros(n)
    for start in range(0, above.size, 2000):
        a, kk = amp[start : start + 2000], above[start : start + 2000]
        folded += np.cos(2 * np.pi * np.outer(kk, j) * k0 / n).T @ a
    y = np.maximum(np.cos(2 * np.pi * k0 * j / n), 0.0)
    return float(np.sum(folded**2) / np.sum(y**2))


def test_relu_on_a_tone_matches_the_analytic_harmonic_energy():
    k0 = 13  # 0.203 cycles/sample: harmonics 4, 6, 8, ... lie above Nyquist and fold
    truth = _relu_folded_fraction(k0, W)
    assert 1e-3 < truth < 1e-2
    x = _tone_batch(k0, n=1)
    # The reference (ReLU at 16× the rate, ideal low-pass) still folds harmonics above 8
    # cycles/sample: its error falls with the oversampling; at 16× it is ~0.1 %.
    rep = probe_model(nn.Sequential(nn.ReLU()), x, measures=("nonlinearity",), oversample=16)
    st = rep.row("0").measures["nonlinearity"]
    assert st.mean == pytest.approx(truth, rel=2e-3)
    coarse = probe_model(nn.Sequential(nn.ReLU()), x, measures=("nonlinearity",), oversample=4)
    assert abs(coarse.rows[0].measures["nonlinearity"].mean - truth) > abs(st.mean - truth)
    assert st.std == pytest.approx(0.0, abs=1e-12)


def test_blur_before_stride_aliases_less_than_plain_stride(rng):
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 4, 3, stride=2, padding=1, bias=False).double()
    blur = nn.Conv2d(4, 4, 4, padding="same", groups=4, bias=False, padding_mode="circular")
    blur = blur.double()
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=torch.float64) / 8
    with torch.no_grad():
        blur.weight.copy_(torch.outer(taps, taps).expand(4, 1, 4, 4))
    plain = nn.Sequential(conv)
    blurred = nn.Sequential(blur, conv)
    x = torch.from_numpy(rng.standard_normal((3, 4, 32, 32)))
    a = probe_model(plain, x, measures=("downsampling",)).row("0").measures
    b = probe_model(blurred, x, measures=("downsampling",)).row("1").measures
    assert b["out_of_band"].mean < 0.5 * a["out_of_band"].mean
    assert b["out_of_band"].max < a["out_of_band"].min
    assert b["fold_non_aliased"].mean > a["fold_non_aliased"].mean


def test_circular_lsi_layer_is_equivariant_zero_padded_is_not(rng):
    torch.manual_seed(1)
    circ = nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular").double()
    zero = nn.Conv2d(2, 3, 3, padding=1).double()
    with torch.no_grad():
        zero.weight.copy_(circ.weight)
        zero.bias.copy_(circ.bias)
    x = torch.from_numpy(_bandlimited(rng, 2, 2, 16, fmax=0.45))
    rc = probe_model(nn.Sequential(circ), x, measures=("equivariance",), shifts=(1.0, 0.25))
    rz = probe_model(nn.Sequential(zero), x, measures=("equivariance",), shifts=(1.0, 0.25))
    for t in (1.0, 0.25):
        key = equivariance_key(t)
        assert rc.row("0").measures[key].min > 150.0
        assert rz.row("0").measures[key].max < 60.0
    # a border band excluded: the zero-padded conv commutes with integer shifts inside it.
    ri = probe_model(
        nn.Sequential(zero), x, measures=("equivariance",), shifts=(1.0,), circular=False
    )
    assert ri.row("0").measures[equivariance_key(1.0)].min > 150.0


def test_equivariance_psnr_formula(rng):
    ref = rng.standard_normal((2, 3, 8, 8))
    noise = 1e-3 * rng.standard_normal(ref.shape)
    shifted = shift_maps(ref, 1.5, -0.5) + noise
    got = equivariance_psnr(ref, shifted, 1.5, -0.5)
    want = 10 * np.log10(np.mean(ref**2, axis=(-2, -1)) / np.mean(noise**2, axis=(-2, -1)))
    np.testing.assert_allclose(got, want, rtol=1e-9)
    assert np.all(equivariance_psnr(ref, shift_maps(ref, 2, 3), 2, 3) == PSNR_CAP_DB)


def test_dead_maps_are_left_out_of_the_equivariance_statistics(rng):
    # Dead ReLU channels (zero in both runs) counted at the 200 dB cap: a ResNet layer read
    # 11.6 ± 34.6 dB with max 200 while its live channels were all near 10 dB.
    ref = rng.standard_normal((2, 4, 8, 8))
    ref[:, 1:3] = 0.0
    shifted = shift_maps(ref, 1.0, 0.0) + 0.1 * rng.standard_normal(ref.shape) * (ref != 0)
    got = equivariance_psnr(ref, shifted, 1.0, 0.0)
    assert np.all(np.isnan(got[:, 1:3])) and np.all(np.isfinite(got[:, [0, 3]]))
    assert np.all(got[:, [0, 3]] < 30)
    # A map that is zero in one run only is a real error, not a dead map.
    shifted[0, 1, 2, 2] = 1.0
    assert np.isfinite(equivariance_psnr(ref, shifted, 1.0, 0.0)[0, 1])
    # Alive only in the border band the non-circular comparison leaves out: nothing compared,
    # NaN (it scored the 200 dB cap, 10 of 256 maps of a ResNet layer).
    border = np.zeros((1, 1, 32, 32))
    border[..., :2, :] = 1.0
    assert np.isnan(equivariance_psnr(border, border.copy(), 1.0, 0.0, circular=False)[0, 0])
    x = torch.from_numpy(rng.standard_normal((2, 2, 16, 16)))
    conv = nn.Conv2d(2, 4, 3, padding=1, padding_mode="circular").double()
    with torch.no_grad():
        conv.bias[:2] = -1e6  # two channels always negative: dead after the ReLU
    r = probe_model(nn.Sequential(conv, nn.ReLU()), x, measures=("equivariance",), shifts=(0.5,))
    st = r.row("1").measures[equivariance_key(0.5)]
    # Only the live channels: the ReLU's sub-pixel error keeps every value well below the cap.
    assert math.isfinite(st.mean) and st.max < 100.0


def test_shift_maps_matches_roll_and_zero_fill(rng):
    x = rng.standard_normal((1, 2, 6, 10))
    np.testing.assert_array_equal(shift_maps(x, 2, -3), np.roll(x, (2, -3), axis=(-2, -1)))
    z = shift_maps(x, 2, 0, circular=False)
    assert np.all(z[..., :2, :] == 0)
    np.testing.assert_array_equal(z[..., 2:, :], x[..., :-2, :])
    # fractional: a tone moves by exactly the shift (band-limited interpolation)
    t = np.cos(2 * np.pi * 3 * np.arange(10) / 10) * np.ones((6, 1))
    got = shift_maps(t, 0.0, 0.3)
    np.testing.assert_allclose(got, np.cos(2 * np.pi * 3 * (np.arange(10) - 0.3) / 10) + 0 * t)


def _dft_out_of_band(y1: np.ndarray, sy: int, sx: int) -> np.ndarray:
    """Brute-force truth [N, C]: |fft2|² outside |fy| < 1/(2 sy), |fx| < 1/(2 sx) (an axis of
    stride 1 is not decimated: all of it inside)."""
    p = np.abs(np.fft.fft2(y1)) ** 2
    fy = np.fft.fftfreq(y1.shape[-2])[:, None]
    fx = np.fft.fftfreq(y1.shape[-1])[None, :]
    inside = ((np.abs(fy) < 0.5 / sy) | (sy == 1)) & ((np.abs(fx) < 0.5 / sx) | (sx == 1))
    return (p * ~inside).sum(axis=(-2, -1)) / p.sum(axis=(-2, -1))


def test_anisotropic_stride_is_measured_per_axis():
    # cos(2π·0.375·w) varies only along W; stride (2, 1) decimates H only: nothing aliases.
    # max(stride) for both axes reported 100 % out of band and 100 % aliased folds.
    conv = nn.Conv2d(1, 1, 1, stride=(2, 1), bias=False).double()
    with torch.no_grad():
        conv.weight.fill_(1.0)
    rep = probe_model(conv, _tone_batch(24), measures=("downsampling",))
    (row,) = rep.rows
    assert row.rates == (0.5, 1.0) and row.rate == 0.5
    assert row.measures["out_of_band"].max < 1e-20
    assert row.measures["fold_aliased"].max == 0.0
    assert row.measures["fold_non_aliased"].min == pytest.approx(1.0, abs=1e-12)
    assert rep.spectra["(model)"].cutoff == (0.25, 0.5)
    assert rep.table().splitlines()[2].split()[3] == "0.5×1"
    # The other axis decimated: the tone is beyond 1/4 cycle/sample along W, all aliased.
    conv.stride = (1, 2)
    row = probe_model(conv, _tone_batch(24), measures=("downsampling",)).rows[0]
    assert row.rates == (1.0, 0.5)
    assert row.measures["out_of_band"].min == pytest.approx(1.0, rel=1e-12)
    assert row.measures["fold_aliased"].min == pytest.approx(1.0, rel=1e-12)


def test_anisotropic_stride_matches_brute_force(rng):
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 3, 3, stride=(1, 3), padding=1, bias=False).double()
    x = torch.from_numpy(rng.standard_normal((2, 2, 10, 18)))
    rep = probe_model(conv, x, measures=("downsampling",))
    with torch.no_grad():
        y1 = F.conv2d(x, conv.weight, None, 1, 1).numpy()
    want = _dft_out_of_band(y1, 1, 3)
    st = rep.rows[0].measures["out_of_band"]
    assert st.mean == pytest.approx(want.mean(), rel=1e-9)
    assert (st.min, st.max) == pytest.approx((want.min(), want.max()), rel=1e-9)


def test_global_pool_of_a_non_square_map_is_measured():
    # 4×6 map, AdaptiveAvgPool2d(1): factors (4, 6); cropping both axes to multiples of 6 left
    # no row. Its stride-1 map is constant: nothing out of band.
    x = torch.from_numpy(np.random.default_rng(1).standard_normal((2, 3, 4, 6)))
    rep = probe_model(nn.AdaptiveAvgPool2d(1), x, measures=("downsampling",))
    (row,) = rep.rows
    assert row.rates == (0.25, 1 / 6)
    assert row.measures["out_of_band"].max < 1e-20


class _BlurPool(nn.Module):
    """Zhang's BlurPool as users write it: a fixed separable blur and stride 2 in one
    F.conv2d call (circular padding), not an nn.Conv2d the probe could recognise."""

    def __init__(self, taps: np.ndarray | None) -> None:
        super().__init__()
        t = torch.ones(1, dtype=torch.float64) if taps is None else torch.from_numpy(taps)
        self.register_buffer("kernel", torch.outer(t, t)[None, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernel.shape[-1]
        c = x.shape[1]
        xp = F.pad(x, ((k - 1) // 2, k // 2, (k - 1) // 2, k // 2), mode="circular")
        return F.conv2d(xp, self.kernel.expand(c, 1, k, k), stride=2, groups=c)


def test_named_blurpool_is_measured_with_its_own_filter():
    # A layer named in downsampling_layers was measured on its input: the blur was invisible
    # and BlurPool read the same as plain decimation. Truth: the stride-1 blurred map (the
    # same F.conv2d at stride 1) through a brute-force DFT.
    from dsp.figures import bandlimited_field
    from gan.probe.examples import kaiser_taps

    x = torch.from_numpy(
        np.stack([[bandlimited_field(32, 0.5, seed=2 * i + c) for c in range(2)] for i in range(2)])
    )
    taps = kaiser_taps(2, 12)
    oob = {}
    for name, taps_ in (("plain", None), ("blur", taps)):
        net = nn.Sequential(nn.Identity(), _BlurPool(taps_))
        rep = probe_model(net, x, measures=("downsampling",), downsampling_layers=["1"])
        row = rep.row("1")
        assert row.notes == () and row.rates == (0.5, 0.5)
        oob[name] = row.measures["out_of_band"].mean
        k = 1 if taps_ is None else taps_.size
        xp = F.pad(x, ((k - 1) // 2, k // 2, (k - 1) // 2, k // 2), mode="circular")
        kern = net[1].kernel.expand(2, 1, k, k)
        want = _dft_out_of_band(F.conv2d(xp, kern, groups=2).numpy(), 2, 2)
        assert oob[name] == pytest.approx(want.mean(), rel=1e-9)
    assert oob["plain"] > 0.5 and oob["blur"] < 0.02 * oob["plain"]


def test_bilinear_half_scale_upsample_equals_avgpool2():
    # nn.Upsample(scale_factor=0.5, mode="bilinear") averages each 2×2 block: it is
    # AvgPool2d(2), so every number must agree (it was measured on its input before).
    from dsp.figures import bandlimited_field

    x = torch.from_numpy(np.stack([[bandlimited_field(16, 0.5, seed=i)] for i in range(3)]))
    up = nn.Upsample(scale_factor=0.5, mode="bilinear", align_corners=False)
    with torch.no_grad():
        torch.testing.assert_close(up(x), F.avg_pool2d(x, 2), rtol=1e-12, atol=1e-12)
    a = probe_model(up, x, shifts=(1.0, 0.5)).rows[0]
    b = probe_model(nn.AvgPool2d(2), x, shifts=(1.0, 0.5)).rows[0]
    assert a.measures.keys() == b.measures.keys() and "out_of_band" in a.measures
    for k in a.measures:
        np.testing.assert_allclose(
            [getattr(a.measures[k], f) for f in ("mean", "std", "min", "max")],
            [getattr(b.measures[k], f) for f in ("mean", "std", "min", "max")],
            rtol=1e-9,
            atol=1e-12,
            err_msg=k,
        )
    assert a.notes == ()


def test_polyphase_fallback_is_noted():
    # 7 → 3 by size (PyTorch samples at k·7/3) is not a whole stride: the input is measured
    # and the row says so. (scale_factor=0.5 on 7 is stride 2 in floor mode: measured.)
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((1, 1, 7, 7)))
    up = nn.Upsample(size=(3, 3), mode="bilinear")
    rep = probe_model(up, x, measures=("downsampling",))
    (row,) = rep.rows
    assert len(row.notes) == 1 and "layer's input" in row.notes[0]
    assert "[1]" in rep.table() and rep.to_dict()["rows"][0]["notes"] == list(row.notes)


@pytest.mark.parametrize(
    "layer",
    [nn.AvgPool2d(2), nn.Conv2d(1, 1, 2, stride=2, bias=False), nn.AvgPool2d(3, stride=2)],
    ids=["avgpool2", "conv2x2", "avgpool3s2"],
)
def test_unpadded_layers_keep_a_periodic_input_periodic(layer):
    # Band 0.1 cycles/sample, periodic, 16×16: every stride-1 map of an LSI layer stays below
    # 0.1, well inside |f| < 1/4. Cropping the unpadded stride-1 map (15×15 → 14×14) broke its
    # periodicity and read ~1 % out of band.
    from dsp.figures import bandlimited_field

    layer = layer.double()
    if isinstance(layer, nn.Conv2d):
        with torch.no_grad():
            layer.weight.copy_(torch.tensor([[[[1.0, -0.5], [0.25, 2.0]]]]))
    x = torch.from_numpy(np.stack([[bandlimited_field(16, 0.1, seed=i)] for i in range(2)]))
    row = probe_model(layer, x, measures=("downsampling",)).rows[0]
    assert row.measures["out_of_band"].max < 1e-20


def test_zero_padded_conv_is_equivariant_inside_the_borders(rng):
    # Non-periodic input, zero padding, circular=False: with the local Lanczos shift on both the
    # input and the expected map, an LSI layer commutes exactly with the shift in the interior
    # (the FFT shift's ringing from the borders read ~35 dB at 0.5).
    torch.manual_seed(2)
    conv = nn.Conv2d(2, 3, 3, padding=1).double()
    x = torch.from_numpy(rng.standard_normal((2, 2, 24, 24)))
    rep = probe_model(
        nn.Sequential(conv), x, measures=("equivariance",), shifts=(1.0, 0.5), circular=False
    )
    for t in (1.0, 0.5):
        assert rep.row("0").measures[equivariance_key(t)].min >= 100.0, t


def test_stored_spectrum_uses_the_out_of_band_conventions(rng):
    # The panel must show what out_of_band counted: |fft2|²/(H·W), no window, mean kept.
    torch.manual_seed(0)
    conv = nn.Conv2d(1, 2, 3, stride=2, padding=1).double()
    x = torch.from_numpy(rng.standard_normal((3, 1, 16, 16)) + 2.0)
    rep = probe_model(conv, x, measures=("downsampling",))
    with torch.no_grad():
        y1 = F.conv2d(x, conv.weight, conv.bias, 1, 1).numpy()
    want = np.fft.fftshift((np.abs(np.fft.fft2(y1)) ** 2 / 256).mean(axis=(0, 1)))
    sp = rep.spectra["(model)"]
    np.testing.assert_allclose(sp.power, want, rtol=1e-9)
    np.testing.assert_array_equal(sp.fy, np.fft.fftshift(np.fft.fftfreq(16)))
    assert sp.cutoff == 0.25


def test_shifts_are_checked(rng):
    x = torch.from_numpy(rng.standard_normal((1, 1, 8, 8)))
    net = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1)).double()
    with pytest.raises(ValueError, match=r"shifts .*0\.5.*0\.5000001.*share"):
        probe_model(net, x, measures=("equivariance",), shifts=(0.5, 0.5000001))
    with pytest.raises(ValueError, match="shifts must be non-zero"):
        probe_model(net, x, measures=("equivariance",), shifts=(1.0, 0.0))
    rep = probe_model(net, x, measures=("equivariance",), shifts=(1, 1.0, 0.5))
    assert rep.settings["shifts"] == [1.0, 0.5]
    assert [k for k in rep.measure_names] == ["equivariance_1", "equivariance_0.5"]


def test_forward_kwargs_reach_every_model_call(rng):
    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3, stride=2, padding=1).double()

        def forward(self, x, *, gain: float = 1.0):
            return self.conv(x * gain)

    torch.manual_seed(0)
    net = Scaled()
    x = torch.from_numpy(rng.standard_normal((1, 1, 16, 16)))
    got = probe_model(net, x, forward_kwargs={"gain": 3.0}, shifts=(1.0,))
    want = probe_model(nn.Sequential(net.conv), 3.0 * x, shifts=(1.0,))
    for a, b in zip(got.rows, want.rows, strict=True):
        assert a.measures == b.measures
    assert got.settings["forward_kwargs"] == ["gain"]
    with pytest.raises(ValueError, match="forward_kwargs"):
        probe_model(net, x, forward_kwargs=[("gain", 3.0)])


# ------------------------------------------------------------------------------ invariances
def _small_net() -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(inplace=True),
        nn.Conv2d(4, 4, 3, stride=2, padding=1),
        nn.GELU(),
        nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(1),
    ).double()


def _numbers(rep) -> dict:
    return {
        (r.name, m): (s.mean, s.std, s.min, s.max) for r in rep.rows for m, s in r.measures.items()
    }


def test_report_is_invariant_to_batch_order_and_chunking(rng):
    model = _small_net()
    x = torch.from_numpy(rng.standard_normal((5, 2, 16, 16)))
    perm = torch.tensor([3, 0, 4, 2, 1])
    kw = {"shifts": (1.0, 0.5), "oversample": 2}
    a = _numbers(probe_model(model, x, **kw))
    b = _numbers(probe_model(model, x[perm], **kw))
    c = _numbers(probe_model(model, x[perm], batch_size=2, **kw))
    assert a.keys() == b.keys() == c.keys()
    for key in a:
        np.testing.assert_allclose(b[key], a[key], rtol=1e-9, atol=1e-12, err_msg=str(key))
        np.testing.assert_allclose(c[key], a[key], rtol=1e-9, atol=1e-12, err_msg=str(key))


def test_model_state_is_left_unchanged(rng):
    model = _small_net().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    probe_model(model, torch.from_numpy(rng.standard_normal((2, 2, 16, 16))), oversample=2)
    assert model.training and all(m.training for m in model.modules())
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert not model._forward_hooks and not model[0]._forward_pre_hooks


def test_inplace_relu_is_measured_on_its_input(rng):
    x = torch.from_numpy(rng.standard_normal((2, 3, 16, 16)))
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 3, 3, padding=1).double()
    a = probe_model(nn.Sequential(conv, nn.ReLU(inplace=True)), x, measures=("nonlinearity",))
    b = probe_model(nn.Sequential(conv, nn.ReLU()), x, measures=("nonlinearity",))
    assert a.row("1").measures["nonlinearity"] == b.row("1").measures["nonlinearity"]
    assert a.row("1").measures["nonlinearity"].mean > 1e-3


def test_rows_layers_filter_and_repeated_calls(rng):
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3, padding=1)
            self.act = nn.SiLU()
            self.pool = nn.AvgPool2d(2)

        def forward(self, x):
            return self.pool(self.act(self.act(self.conv(x))))

    x = torch.from_numpy(rng.standard_normal((2, 1, 8, 8))).float()
    rep = probe_model(Twice(), x, shifts=(1.0,), oversample=2)
    assert [r.name for r in rep.rows] == ["conv", "act", "act#2", "pool"]
    assert [r.type for r in rep.rows] == ["Conv2d", "SiLU", "SiLU", "AvgPool2d"]
    assert rep.row("pool").out_shape == (2, 4, 4) and rep.row("pool").rate == 0.5
    assert "out_of_band" in rep.row("pool").measures
    assert "nonlinearity" in rep.row("act#2").measures
    assert rep.spectra["pool"].cutoff == 0.25 and rep.spectra["conv"].cutoff is None
    only = probe_model(Twice(), x, layers=["po*"], shifts=(1.0,))
    assert [r.name for r in only.rows] == ["pool"]
    nested = nn.Sequential(Twice(), nn.Conv2d(2, 2, 1))
    assert [r.name for r in probe_model(nested, x, layers=["0"], shifts=(1.0,)).rows] == [
        "0.conv",
        "0.act",
        "0.act#2",
        "0.pool",
    ]
    with pytest.raises(ValueError, match=r"match no module.*conv"):
        probe_model(Twice(), x, layers=["nothing*"])


def test_user_named_layers_and_interpolation(rng):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.down = nn.Upsample(scale_factor=0.5, mode="nearest")
            self.sq = nn.Identity()

        def forward(self, x):
            return self.sq(self.down(x))

    x = _tone_batch(24, h=8, w=64)
    rep = probe_model(Net(), x, measures=("downsampling", "nonlinearity"), nonlinearities=["sq"])
    # a large valid convolution shrinks the map without lowering the rate: not measured
    crop = nn.Sequential(nn.Conv2d(1, 1, (1, 33)).double())
    with pytest.raises(ValueError, match="no hooked layer is eligible"):
        probe_model(crop, x, measures=("downsampling",))
    # nearest ×0.5 keeps every second sample: the input tone at 0.375 aliases fully
    assert rep.row("down").measures["out_of_band"].min == pytest.approx(1.0, rel=1e-12)
    assert rep.row("sq").measures["nonlinearity"].max < 1e-20


# ------------------------------------------------------------------------------ errors
def test_model_failing_on_the_input_shape_names_the_layer():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(10, 2))
    with pytest.raises(ValueError, match=r"layer '2' \(Linear\)") as info:
        probe_model(model, torch.zeros(2, 3, 8, 8))
    assert "(2, 3, 8, 8)" in str(info.value)
    with pytest.raises(ValueError, match=r"layer '0' \(Conv2d\)"):
        probe_model(model, torch.zeros(2, 1, 8, 8))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"inputs": torch.zeros(3, 8, 8)}, "inputs"),
        ({"inputs": torch.full((1, 1, 8, 8), float("nan"))}, "finite"),
        ({"inputs": np.zeros((1, 1, 8, 8))}, "inputs"),
        ({"measures": ("aliasing",)}, "measures"),
        ({"oversample": 1}, "oversample"),
        ({"shifts": ()}, "shifts"),
        ({"shifts": (float("inf"),)}, "shifts"),
        ({"batch_size": 0}, "batch_size"),
        ({"downsampling_layers": ["nope"]}, "downsampling_layers"),
        ({"nonlinearities": "0"}, "nonlinearities"),
        ({"circular": 1}, "circular"),
    ],
)
def test_invalid_arguments(kwargs, match):
    args = {"inputs": torch.zeros(1, 1, 8, 8)} | kwargs
    inputs = args.pop("inputs")
    with pytest.raises(ValueError, match=match):
        probe_model(nn.Sequential(nn.ReLU()), inputs, **args)


def test_no_eligible_layer_lists_what_exists():
    with pytest.raises(ValueError, match=r"no hooked layer is eligible.*0 \(ReLU\)"):
        probe_model(nn.Sequential(nn.ReLU()), torch.zeros(1, 1, 8, 8), measures=("downsampling",))
    with pytest.raises(ValueError, match="4D"):
        probe_model(nn.Sequential(nn.Flatten()), torch.zeros(1, 1, 8, 8))


def test_global_pool_does_not_alias_and_progress_is_reported(rng, capsys):
    """A global average is a perfect low-pass for its 1×1 output: nothing out of band."""
    model = _small_net()
    x = torch.from_numpy(rng.standard_normal((2, 2, 16, 16)))
    rep = probe_model(model, x, measures=("downsampling",), progress=True)
    assert [r.name for r in rep.rows] == ["3", "5", "6"]
    assert rep.row("6").measures["out_of_band"].max < 1e-20
    assert rep.row("6").measures["fold_non_aliased"].min == pytest.approx(1.0, abs=1e-12)
    assert rep.row("3").measures["out_of_band"].mean > 0.05
    err = capsys.readouterr().err
    assert "probe: inputs 0..1: base pass" in err


def test_nonlinearity_mean_is_the_aliased_fraction_of_the_layer_energy():
    from dsp.aliasing import nonlinearity_aliasing
    from gan.probe.measures import nonlinearity_fraction

    n = 32
    t = np.arange(n) / n
    tone = np.cos(2 * np.pi * 5 * t)[None, :] * np.cos(2 * np.pi * 3 * t)[:, None]
    live = tone
    # Almost all negative: the ReLU leaves a tiny, spiky output whose own aliased fraction is
    # large (in real networks up to thousands of percent); it must not swamp the layer figure.
    nearly_dead = -0.99 + tone
    x = np.stack([live, nearly_dead])[None]  # [1, 2, H, W]
    relu = lambda a: np.maximum(a, 0.0)  # noqa: E731
    assert nonlinearity_aliasing(x[:, 1:], relu, m=4).fraction > 0.5  # the old per-map value
    frac = nonlinearity_fraction(x, torch.nn.ReLU(), oversample=4)
    whole = nonlinearity_aliasing(x, relu, m=4)  # Σ aliased / Σ output energy, both maps
    np.testing.assert_allclose(frac.mean(), whole.fraction, rtol=1e-9)
    assert frac[0, 1] < 0.1 * frac[0, 0]
    # An input whose output is zero everywhere says nothing: NaN, which Stat ignores.
    dead = nonlinearity_fraction(-np.ones((1, 2, n, n)), torch.nn.ReLU(), oversample=4)
    assert np.isnan(dead).all()


def test_per_channel_prelu_is_measured_channel_by_channel(rng):
    # Maps were fed as [k, 1, H, W], so PReLU(num_parameters=C) failed. Truth: each channel's
    # leaky ReLU with its own slope through dsp's analyzer, normalised by the layer's mean map
    # energy as nonlinearity_fraction documents.
    from dsp.aliasing import nonlinearity_aliasing

    torch.manual_seed(0)
    conv = nn.Conv2d(1, 3, 3, padding=1, padding_mode="circular").double()
    act = nn.PReLU(3).double()
    with torch.no_grad():
        act.weight.copy_(torch.tensor([0.0, 0.2, 0.7], dtype=torch.float64))
    x = torch.from_numpy(rng.standard_normal((2, 1, 16, 16)))
    rep = probe_model(nn.Sequential(conv, act), x, measures=("nonlinearity",))
    with torch.no_grad():
        z = conv(x).numpy()
    energy, output = np.empty((2, 3)), np.empty((2, 3))
    for c, slope in enumerate((0.0, 0.2, 0.7)):
        r = nonlinearity_aliasing(z[:, c], lambda v, a=slope: np.where(v > 0, v, a * v), m=4)
        energy[:, c], output[:, c] = r.per_channel_energy, r.per_channel_output_energy
    want = energy / output.mean(axis=1, keepdims=True)
    st = rep.row("1").measures["nonlinearity"]
    assert st.mean == pytest.approx(want.mean(), rel=1e-9)
    assert st.min == pytest.approx(want.min(), rel=1e-9)
    assert st.max == pytest.approx(want.max(), rel=1e-9)


_POINTWISE = [
    nn.ReLU6(),
    nn.PReLU(),
    nn.RReLU(),
    nn.Mish(),
    nn.Sigmoid(),
    nn.Hardtanh(),
    nn.SELU(),
    nn.CELU(),
    nn.Hardsigmoid(),
    nn.Softsign(),
    nn.LogSigmoid(),
    nn.Threshold(0.1, -1.0),
    nn.Hardshrink(),
    nn.Softshrink(),
    nn.Tanhshrink(),
]


@pytest.mark.parametrize("act", _POINTWISE, ids=lambda m: type(m).__name__)
def test_common_nonlinearities_are_measured(act, rng):
    # Truth: the module's own function on numpy maps through dsp's analyzer (RReLU in eval mode
    # is the leaky ReLU with the mean slope).
    from dsp.aliasing import nonlinearity_aliasing

    act = act.double()
    x = torch.from_numpy(1.5 * rng.standard_normal((2, 2, 12, 12)))
    rep = probe_model(nn.Sequential(act), x, measures=("nonlinearity",))
    act.eval()

    def fn(v):
        with torch.no_grad():
            return act(torch.from_numpy(v)).numpy()

    r = nonlinearity_aliasing(x.numpy(), fn, m=4)
    want = r.per_channel_energy / r.per_channel_output_energy.mean(axis=1, keepdims=True)
    assert rep.row("0").measures["nonlinearity"].mean == pytest.approx(want.mean(), rel=1e-9)


def test_functional_nonlinearities_give_a_warning_and_a_note(rng):
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            # Circular padding: circular shifts of a zero-padded one would add a note of their own.
            self.conv = nn.Conv2d(1, 2, 3, padding=1, padding_mode="circular")

        def forward(self, x):
            return F.relu(self.conv(x))

    x = torch.from_numpy(rng.standard_normal((1, 1, 8, 8))).float()
    with pytest.warns(UserWarning, match=r"'nonlinearity' found no layer.*F\.relu"):
        rep = probe_model(Net(), x, measures=("nonlinearity", "equivariance"), shifts=(1.0,))
    assert len(rep.notes) == 1 and "not modules" in rep.notes[0]
    assert rep.notes[0] in rep.table() and rep.to_dict()["notes"] == rep.notes
    # Not asked for by name (the default measures): the note, without the warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rep = probe_model(Net(), x, shifts=(1.0,))
    assert any("'nonlinearity' found no layer" in n for n in rep.notes)


# ------------------------------------------------------------------------------ user models
class _StdConv2d(nn.Conv2d):
    """Weight-standardised convolution (as in BiT / timm ``StdConv2d``): its forward transforms
    the weights, so the stride-1 equivalent must run the module's own forward."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight
        w = (w - w.mean(dim=(1, 2, 3), keepdim=True)) / w.std(dim=(1, 2, 3), keepdim=True)
        return self._conv_forward(x, w, self.bias)


def test_conv2d_subclass_is_measured_with_its_own_forward(rng):
    torch.manual_seed(0)
    conv = _StdConv2d(2, 3, 3, stride=2, padding=1).double()
    with torch.no_grad():
        conv.weight.add_(1.0)  # raw weights: a low-pass; standardised ones: zero-mean
    x = torch.from_numpy(rng.standard_normal((2, 2, 16, 16)))
    rep = probe_model(conv, x, measures=("downsampling",))
    stride1 = F.conv2d(
        x,
        (conv.weight - conv.weight.mean((1, 2, 3), keepdim=True))
        / conv.weight.std((1, 2, 3), keepdim=True),
        conv.bias,
        1,
        1,
    )
    truth = out_of_band_energy(stride1.detach().numpy(), 2, band="square")
    got = rep.rows[0].measures["out_of_band"]
    assert got.mean == pytest.approx(float(np.mean(truth)), rel=1e-9)
    assert conv.stride == (2, 2)


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_torchscript_models_are_refused_clearly():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2, padding=1), nn.ReLU())
    x = torch.zeros(1, 1, 8, 8)
    for scripted in (torch.jit.script(net), torch.jit.trace(net, x)):
        with pytest.raises(ValueError, match=r"model .*TorchScript.*eager"):
            probe_model(scripted, x)
    inner = nn.Sequential(nn.Conv2d(1, 1, 1), torch.jit.script(nn.ReLU()))
    with pytest.raises(ValueError, match=r"'1' .*TorchScript"):
        probe_model(inner, x)
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in inner[:1].modules())


def test_max_pool_returning_indices_is_measured(rng):
    class SegNetPool(nn.Module):
        def __init__(self):
            super().__init__()
            self.pool = nn.MaxPool2d(2, return_indices=True)
            self.unpool = nn.MaxUnpool2d(2)

        def forward(self, x):
            y, idx = self.pool(x)
            return self.unpool(y, idx)

    x = torch.from_numpy(rng.standard_normal((2, 2, 16, 16)))
    rep = probe_model(SegNetPool(), x, shifts=(1.0,))
    plain = probe_model(nn.MaxPool2d(2), x, shifts=(1.0,)).rows[0]
    row = rep.row("pool")
    assert row.out_shape == (2, 8, 8) and row.rate == 0.5
    assert row.measures == plain.measures


def test_parametrized_convs_are_layers_and_their_weights_are_not(rng):
    """spectral_norm / weight_norm put the weight's parametrization modules under the conv: the
    conv stays the measured layer (with its parametrized weight); the weight is no feature map."""
    from torch.nn.utils.parametrizations import spectral_norm, weight_norm

    torch.manual_seed(0)
    plain = nn.Sequential(nn.Conv2d(2, 3, 3, 2, 1), nn.LeakyReLU(0.2), nn.ConvTranspose2d(3, 2, 1))
    param = copy.deepcopy(plain)
    spectral_norm(param[0])
    weight_norm(param[2])
    with torch.no_grad():
        plain[0].weight.copy_(param[0].weight)
        plain[2].weight.copy_(param[2].weight)
    x = torch.from_numpy(rng.standard_normal((2, 2, 16, 16))).float()
    got = probe_model(param, x, shifts=(1.0,))
    want = probe_model(plain, x, shifts=(1.0,))
    assert [(r.name, r.type) for r in got.rows] == [
        ("0", "ParametrizedConv2d"),
        ("1", "LeakyReLU"),
        ("2", "ParametrizedConvTranspose2d"),
    ]
    for a, b in zip(got.rows, want.rows, strict=True):
        assert a.measures.keys() == b.measures.keys()
        for k in a.measures:
            assert a.measures[k].mean == pytest.approx(b.measures[k].mean, rel=1e-4, abs=1e-6)


def test_layers_called_with_a_keyword_input_are_measured(rng):
    # A module called as self.act(input=x) reached the hooks with no positional argument, so
    # it got no nonlinearity measure and an empty input shape, silently.
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular").double()
            self.act = nn.ReLU()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.act(input=self.conv(input=x))

    x = torch.from_numpy(rng.standard_normal((2, 2, 16, 16)))
    net = Net()
    kw = probe_model(net, x, measures=("nonlinearity",))
    pos = probe_model(nn.Sequential(net.conv, net.act), x, measures=("nonlinearity",))
    row = kw.row("act")
    assert row.in_shape == (3, 16, 16)
    assert "nonlinearity" in row.measures and math.isfinite(row.measures["nonlinearity"].mean)
    assert row.measures["nonlinearity"].mean > 0
    # The same layers called positionally give the same measure.
    assert row.measures["nonlinearity"] == pos.row("1").measures["nonlinearity"]


def test_compiled_models_are_probed_like_their_eager_modules(rng):
    # Forward hooks do not fire inside a compiled graph (dynamo refused the probe's hooks with
    # an internal AssertionError): the probe measures the module torch.compile wrapped, and runs
    # compiled submodules eagerly.
    from gan.probe.examples import build_example

    x = torch.from_numpy(rng.standard_normal((2, 3, 32, 32))).float()
    model = build_example("resnet-stride")
    want = probe_model(model, x, measures=("downsampling", "nonlinearity"))
    got = probe_model(torch.compile(model), x, measures=("downsampling", "nonlinearity"))
    assert [r.name for r in got.rows] == [r.name for r in want.rows]
    for a, b in zip(got.rows, want.rows, strict=True):
        assert a.measures.keys() == b.measures.keys()
        for k in a.measures:
            np.testing.assert_allclose(a.measures[k].mean, b.measures[k].mean, rtol=1e-6)
    model.layer2 = torch.compile(model.layer2)
    nested = probe_model(model, x, measures=("downsampling", "nonlinearity"))
    inside = [r.name for r in nested.rows if r.name.startswith("layer2.")]
    assert len(nested.rows) == len(want.rows) and inside
    assert all(name.startswith("layer2._orig_mod.") for name in inside)


def test_a_layer_that_crops_keeps_its_strides_rate():
    # A stride-2 3x3 convolution without padding maps 64 samples to 31 at spacing 2: an input
    # shift of 2 pixels moves its output by exactly 1 sample (the size ratio 31/64 made it
    # 0.97, scoring an exactly equivariant layer at ~31 dB).
    from dsp.figures import bandlimited_field

    torch.manual_seed(0)
    conv = nn.Conv2d(1, 2, 3, stride=2, padding=0)
    x = torch.from_numpy(bandlimited_field(64, 0.1, seed=1)[None, None]).float()
    rep = probe_model(conv, x, measures=("equivariance",), shifts=(2.0,), circular=False)
    (row,) = rep.rows
    assert row.rate == 0.5
    assert row.measures[equivariance_key(2.0)].mean > 100


class _FftCrop(nn.Module):
    """A resampler no stride describes: periodic (FFT) resampling of 64 samples to 56."""

    def forward(self, x):
        spec = torch.fft.fftshift(torch.fft.fft2(x), dim=(-2, -1))
        c, h = x.shape[-1] // 2, 28
        spec = spec[..., c - h : c + h, c - h : c + h]
        y = torch.fft.ifft2(torch.fft.ifftshift(spec, dim=(-2, -1))).real
        return y * (56 / 64) ** 2


def test_rates_follow_the_layers_not_their_sizes():
    # Unpadded stride-1 convs crop without resampling (rate 1 at every depth, also beyond a 15 %
    # crop); a stride-3 conv divides by 3; a resampler no stride describes scales by its size
    # ratio; a residual sum (no module output) takes the rate of its same-sized operand.
    from dsp.figures import bandlimited_field

    class Residual(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3, padding=1)
            self.down = nn.Conv2d(1, 1, 3, stride=3, padding=1)

        def forward(self, x):
            return self.down(x + self.conv(x))

    torch.manual_seed(0)
    crop = nn.Sequential(*[nn.Conv2d(1, 1, 3) for _ in range(6)])
    x = torch.from_numpy(bandlimited_field(64, 0.1, seed=2)[None, None]).float()
    rep = probe_model(crop, x, measures=("equivariance",), shifts=(1.0,), circular=False)
    assert [r.rate for r in rep.rows] == [1.0] * 6
    assert all(r.measures[equivariance_key(1.0)].mean > 100 for r in rep.rows)
    rep = probe_model(Residual(), x, measures=("equivariance",), shifts=(6.0,))
    assert rep.row("down").rate == pytest.approx(1 / 3)
    rep = probe_model(_FftCrop(), x, measures=("equivariance",), shifts=(1.0,))
    (row,) = rep.rows
    assert row.rate == 56 / 64 and row.measures[equivariance_key(1.0)].mean > 100


def test_a_non_integer_rate_reduction_is_measured_with_a_note():
    # Upsample(0.75): 32 -> 24 lowers the rate by 4/3; rounding the ratio to 1 skipped the layer
    # and the report then said no layer lowers the rate.
    x = torch.from_numpy(np.random.default_rng(2).standard_normal((1, 1, 32, 32)))
    up = nn.Upsample(scale_factor=0.75, mode="bilinear", align_corners=False)
    rep = probe_model(up, x, measures=("downsampling",))
    (row,) = rep.rows
    assert "out_of_band" in row.measures and row.rate == 0.75
    assert any("rounded up to the stride 2x2" in n for n in row.notes)
    assert not rep.notes
