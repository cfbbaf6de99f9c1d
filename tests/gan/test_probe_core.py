"""gan.probe core: the three measures against analytic truths, hooks, errors (issue 6)."""

from __future__ import annotations

import copy
import math

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


def test_per_channel_user_nonlinearity_gets_an_error_naming_the_argument():
    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.PReLU(3)).double()
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((1, 1, 16, 16)))
    with pytest.raises(ValueError, match="nonlinearities.*PReLU|PReLU.*nonlinearities"):
        probe_model(model, x, measures=("nonlinearity",), nonlinearities=["1"])
    # A PReLU with one shared parameter is pointwise and is measured.
    model[1] = nn.PReLU(1).double()
    rep = probe_model(model, x, measures=("nonlinearity",), nonlinearities=["1"])
    assert any(r.name == "1" for r in rep.rows)


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
