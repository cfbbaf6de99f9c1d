"""The alias-free generator against its schedule and the transform conventions (REFERENCE §3)."""

import math

import numpy as np
import pytest
import torch

from dsp.schedule import layer_schedule
from gan.networks import alias_free
from gan.networks.alias_free import AliasFreeGenerator, SynthesisInput, SynthesisLayer
from gan.networks.layers import set_grouped_modconv
from gan.networks.transform import compose, rotate, translate
from gan.ops import output_size, to_filter_tensor

RESOLUTIONS = [16, 32, 64, 128, 256, 512, 1024]
TINY = {"z_dim": 16, "w_dim": 16, "channel_base": 2048, "channel_max": 16, "num_layers": 8}


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = (a.double() - b.double()).square().mean().item()
    return math.inf if mse == 0 else 20 * math.log10(2) - 10 * math.log10(mse)


def _tiny(config: str, res: int = 64, seed: int = 1, **kw) -> AliasFreeGenerator:
    return AliasFreeGenerator(res=res, config=config, seed=seed, **{**TINY, **kw}).eval()


@pytest.mark.parametrize("config", ["t", "r"])
@pytest.mark.parametrize("res", RESOLUTIONS)
def test_module_tree_equals_schedule(res: int, config: str) -> None:
    # Paper depth (14 layers) with tiny channels: the structure is built, not run.
    kw = {"channel_base": 2048, "channel_max": 4}
    G = AliasFreeGenerator(z_dim=4, w_dim=4, res=res, config=config, **kw)
    sched = layer_schedule(res, config, **kw)
    specs = G.synthesis.layer_specs
    assert specs == sched.layers and len(G.synthesis.layers) == len(specs) == 15
    assert G.num_ws == G.mapping.num_ws == 16
    e0 = sched.entries[0]
    inp = G.synthesis.input
    assert (inp.channels, inp.size, inp.rate, inp.bandwidth) == (
        e0.channels,
        e0.size,
        e0.rate,
        e0.cutoff,
    )
    assert inp.grid.shape == (e0.size, e0.size, 2)
    size, channels = e0.size, e0.channels
    for layer, spec in zip(G.synthesis.layers, specs, strict=True):
        assert layer.name == spec.name
        # Each layer reads what the previous one wrote.
        assert (layer.in_size, layer.in_channels) == (size, channels)
        k = spec.conv_kernel
        assert layer.weight.shape == (spec.out_channels, spec.in_channels, k, k)
        assert layer.bias.shape == (spec.out_channels,)
        assert layer.affine.out_features == spec.in_channels
        assert layer.conv_padding == spec.conv_padding == k - 1
        assert (layer.up, layer.down, layer.padding) == (spec.up, spec.down, spec.padding)
        assert layer.use_fp16 == spec.use_fp16
        assert (layer.conv_clamp == 256.0) == spec.use_fp16
        fu, fd = layer.up_filter, layer.down_filter
        assert torch.equal(fu, to_filter_tensor(spec.up_filter()))
        assert torch.equal(fd, to_filter_tensor(spec.down_filter()))
        assert fu.shape == (spec.up_taps,)
        assert fd.shape == ((spec.down_taps,) * 2 if spec.down_radial else (spec.down_taps,))
        # The full conv grows the map by k - 1; the filtered lrelu (REFERENCE §4 size rule)
        # must then land exactly on the schedule's output size.
        conv_out = size + 2 * spec.conv_padding - k + 1
        taps_d = fd.shape if fd.ndim == 2 else fd.shape[0]
        got = output_size(conv_out, conv_out, spec.up, spec.down, spec.padding, fu.shape[0], taps_d)
        assert got == (spec.out_size, spec.out_size)
        size, channels = spec.out_size, spec.out_channels
    assert (size, channels) == (res, 3)


@pytest.mark.parametrize("config", ["t", "r"])
@pytest.mark.parametrize("res", [16, 32])
def test_forward_features_follow_schedule(res: int, config: str) -> None:
    G = _tiny(config, res=res)
    z = torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        img, feats = G(z, return_features=True)
    assert img.shape == (2, 3, res, res) and img.dtype == torch.float32
    assert torch.isfinite(img).all() and img.std() > 1e-3
    specs = G.synthesis.layer_specs
    assert list(feats) == [s.name for s in specs[:-1]]
    for spec, f in zip(specs, feats.values(), strict=False):
        assert f.shape == (2, spec.out_channels, spec.out_size, spec.out_size)
        assert f.dtype == torch.float32 and torch.isfinite(f).all()


@pytest.mark.parametrize("config", ["t", "r"])
def test_output_at_64_and_features_off_by_default(config: str) -> None:
    G = _tiny(config)
    with torch.no_grad():
        img = G(torch.randn(1, G.z_dim))
    assert isinstance(img, torch.Tensor) and img.shape == (1, 3, 64, 64)
    assert torch.isfinite(img).all()
    # Output scale 0.25 with unit-ish ToRGB output: well inside [-1, 1] at init.
    assert 0.005 < img.std().item() < 1.0


def test_input_features_equal_analytic_formula_under_transform() -> None:
    # Independent truth: float64 evaluation of sum_c W[o, c]/sqrt(C) sin(2π(f_c·A⁻¹p + φ_c))
    # at the identity affine (the input's FullyConnected starts at [1, 0, 0, 0]).
    torch.manual_seed(0)
    inp = SynthesisInput(w_dim=4, channels=6, size=12, rate=8, bandwidth=2.0)
    A = compose(translate(0.13, -0.07), rotate(0.4))
    with torch.no_grad():
        x = inp(torch.randn(1, 4), transform=A)[0].double().numpy()
    f = inp.freqs.double().numpy()
    ph = inp.phases.double().numpy()
    W = inp.weight.detach().double().numpy() / math.sqrt(6)
    c = (np.arange(12) + 0.5 - 6) / 8.0
    py, px = np.meshgrid(c, c, indexing="ij")
    pts = np.stack([px, py, np.ones_like(px)], -1) @ np.linalg.inv(A.double().numpy()).T
    feats = np.sin(2 * np.pi * (pts[..., :2] @ f.T + ph))  # [12, 12, C]
    ref = np.einsum("hwc,oc->ohw", feats, W)
    np.testing.assert_allclose(x, ref, atol=2e-5)
    assert np.all(np.hypot(f[:, 0], f[:, 1]) <= 2.0)


def test_input_features_are_float32_under_bfloat16_autocast() -> None:
    # Training on CUDA runs under bf16 autocast; the Fourier features' phases (affine, matrix
    # products, einsum) used to be computed in bf16 there: 1.6 % error at 256 px.
    torch.manual_seed(0)
    inp = SynthesisInput(w_dim=8, channels=64, size=36, rate=16, bandwidth=2.0)
    with torch.no_grad():
        inp.affine.weight.normal_()  # a non-trivial per-sample rotation and translation
    w = torch.randn(2, 8)
    A = compose(translate(0.3, -0.2), rotate(0.7))
    with torch.no_grad():
        want = inp(w, transform=A)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            got = inp(w, transform=A)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_input_frequencies_fill_the_disc() -> None:
    inp = SynthesisInput(w_dim=4, channels=4000, size=4, rate=16, bandwidth=3.0)
    r = inp.freqs.norm(dim=1).numpy()
    # Uniform in a disc: P(r < a) = (a / R)².
    assert r.max() <= 3.0 and abs(np.mean(r < 1.5) - 0.25) < 0.03
    assert abs(inp.freqs[:, 0].mean()) < 0.1 and abs(inp.freqs[:, 1].mean()) < 0.1


@pytest.mark.parametrize("axis", ["x", "y"])
def test_integer_translation_moves_the_image_by_that_shift(axis: str) -> None:
    # Config T at 64 px: the input rate is 16, so a 4-pixel shift is a whole sample on every
    # grid and the network is exactly shift-equivariant away from the borders (measured max
    # diff ~1e-6 with a 16-pixel border). A 1-pixel shift is a quarter sample at the input:
    # only the (approximate) alias-free equivariance holds, measured ~88 dB.
    G = _tiny("t")
    z = torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(0))
    dim = 3 if axis == "x" else 2

    def move(k: int) -> torch.Tensor:
        t = (k / 64, 0.0) if axis == "x" else (0.0, k / 64)
        with torch.no_grad():
            return G(z, transform=translate(*t))

    with torch.no_grad():
        ref = G(z)
    b = 16
    inner = (..., slice(b, -b), slice(b, -b))
    for k in (4, -8):
        moved = move(k)
        assert (moved - ref.roll(k, dims=dim))[inner].abs().max() < 1e-4
        # The opposite sign is far off: the test can fail.
        assert (moved - ref.roll(-k, dims=dim))[inner].abs().max() > 1e-2
    one = move(1)
    assert _psnr(one[inner], ref.roll(1, dims=dim)[inner]) > 75
    assert _psnr(one[inner], ref.roll(-1, dims=dim)[inner]) < 60


def test_quarter_turn_rotates_the_image() -> None:
    # rotate(+π/2) turns the content counter-clockwise as displayed, like np.rot90: with
    # image_A(p) = image_I(A⁻¹ p), out[i, j] = in[j, res-1-i] = torch.rot90(in, 1). In config R
    # (1×1 convs, radial or separable symmetric filters) a quarter turn maps every grid and
    # filter onto itself, so it is exact away from the borders (measured ~1e-7). Config T's
    # random 3×3 kernels are not symmetric: there it is far off (measured ~0.17).
    z = torch.randn(2, TINY["z_dim"], generator=torch.Generator().manual_seed(1))
    err = {}
    for config in ("r", "t"):
        G = _tiny(config)
        with torch.no_grad():
            ref, turned = G(z), G(z, transform=rotate(math.pi / 2))
        inner = (..., slice(8, -8), slice(8, -8))
        err[config] = (turned - torch.rot90(ref, 1, dims=(2, 3)))[inner].abs().max().item()
        wrong = (turned - torch.rot90(ref, -1, dims=(2, 3)))[inner].abs().max().item()
        assert wrong > 1e-2
    assert err["r"] < 1e-4
    assert err["t"] > 1e-2


def test_small_rotation_config_r_close_to_identity_near_centre() -> None:
    # Loose sanity: a 1° turn changes the image only a little (content moves < 0.6 px within
    # 32 px of the centre), and the change grows with the angle.
    G = _tiny("r")
    z = torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ref = G(z)
        d1 = (G(z, transform=rotate(math.radians(1))) - ref).abs().mean()
        d10 = (G(z, transform=rotate(math.radians(10))) - ref).abs().mean()
    assert d1 < 0.3 * d10


def test_truncation_and_w_avg() -> None:
    G = _tiny("t")
    z = torch.randn(3, G.z_dim, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        G(z, update_emas=True)
        assert torch.count_nonzero(G.mapping.w_avg) > 0
        img = G(z, psi=0.0)
    # psi = 0: every latent maps to w_avg, so all images are equal.
    np.testing.assert_allclose(img[0].numpy(), img[1].numpy(), atol=1e-6)
    np.testing.assert_allclose(img[0].numpy(), img[2].numpy(), atol=1e-6)
    with torch.no_grad():
        assert not torch.allclose(G(z)[0], G(z)[1])


def test_magnitude_ema_updates_only_when_asked() -> None:
    G = _tiny("t")
    layer0: SynthesisLayer = G.synthesis.layers[0]
    z = torch.randn(4, G.z_dim, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        before = [float(lay.magnitude_ema) for lay in G.synthesis.layers]
        G(z)
        assert [float(lay.magnitude_ema) for lay in G.synthesis.layers] == before == [1.0] * 9
        ws = G.mapping(z)
        x = G.synthesis.input(ws[:, 0])
        G.synthesis(ws, update_emas=True)
    beta = 0.5 ** (4 / 20000)
    expected = beta * 1.0 + (1 - beta) * x.double().square().mean().item()
    assert float(layer0.magnitude_ema) == pytest.approx(expected, rel=1e-5)
    assert all(float(lay.magnitude_ema) != 1.0 for lay in G.synthesis.layers)
    # A number: the images the update stands for (the global batch of a sharded step).
    layer0.magnitude_ema.fill_(1.0)
    with torch.no_grad():
        G.synthesis(ws, update_emas=32)
    beta = 0.5 ** (32 / 20000)
    expected = beta * 1.0 + (1 - beta) * x.double().square().mean().item()
    assert float(layer0.magnitude_ema) == pytest.approx(expected, rel=1e-5)


def test_gradients_reach_every_parameter() -> None:
    G = _tiny("t", res=32)
    G.train()
    z = torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(5))
    img = G(z, transform=translate(0.01, 0.02))
    (img * torch.randn_like(img)).sum().backward()
    for name, p in G.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("config", ["t", "r"])
@pytest.mark.parametrize("grouped", [True, False])
def test_fp16_layers_run_and_track_fp32(monkeypatch, config: str, grouped: bool) -> None:
    # The GPU's mixed-precision path (float16 in the layers flagged use_fp16, activations clamped),
    # run on the CPU's float16 kernels: same function as float32 up to half-precision rounding,
    # gradients finite everywhere.
    # Both orders of the modulated convolutions (set_grouped_modconv) are held to it.
    G = _tiny(config, res=32)
    assert any(lay.use_fp16 for lay in G.synthesis.layers)
    z = torch.randn(3, G.z_dim, generator=torch.Generator().manual_seed(2))
    exact = G(z)
    set_grouped_modconv(G, grouped)
    monkeypatch.setattr(alias_free, "half_precision_allowed", lambda device: True)
    dtypes = []
    hooks = [
        lay.register_forward_hook(lambda m, a, out: dtypes.append(out.dtype))
        for lay in G.synthesis.layers
        if lay.use_fp16
    ]
    G.train()
    mixed = G(z)
    for h in hooks:
        h.remove()
    assert dtypes and set(dtypes) == {torch.float16}
    assert mixed.dtype == torch.float32 and torch.isfinite(mixed).all()
    assert _psnr(mixed, exact) > 60.0
    (mixed * torch.randn_like(mixed)).sum().backward()
    for name, p in G.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize("config", ["t", "r"])
def test_float64_module_computes_in_float64(config: str) -> None:
    # A generator turned .double() (gradient checks, float64 references) used to fail with
    # "expected scalar type Double but found Float" in the Fourier input.
    G = _tiny(config, res=16)
    z = torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(9))
    a = translate(0.03, -0.02)
    with torch.no_grad():
        ref = G(z, transform=a, psi=0.8)
        G.double()
        img, feats = G(z.double(), transform=a, psi=0.8, return_features=True)
    assert img.dtype == torch.float64
    assert all(f.dtype == torch.float64 for f in feats.values())
    assert _psnr(img, ref) > 100.0  # the float32 forward, up to its rounding
    with torch.no_grad():
        G(z.double(), update_emas=True)
    assert G.mapping.w_avg.dtype == torch.float64
    assert all(lay.magnitude_ema.dtype == torch.float64 for lay in G.synthesis.layers)
    # Float64 gradients through the whole generator agree with finite differences.
    z1 = z[:1].double().requires_grad_(True)
    weights = torch.randn(
        1, 3, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0)
    )
    assert torch.autograd.gradcheck(lambda t: (G(t) * weights).sum(), (z1,), eps=1e-6)


def test_seed_makes_networks_reproducible_and_keeps_global_rng() -> None:
    torch.manual_seed(0)
    state = torch.get_rng_state()
    a = _tiny("r", seed=7).state_dict()
    assert torch.equal(torch.get_rng_state(), state)
    b = _tiny("r", seed=7).state_dict()
    c = _tiny("r", seed=8).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["synthesis.input.freqs"], c["synthesis.input.freqs"])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"res": 100}, "res"),
        ({"res": 2048}, "res"),
        ({"num_layers": 1}, "num_layers"),
        ({"num_layers": 4, "num_critical": 4}, "num_critical"),
        ({"config": "x"}, "config"),
        ({"channel_max": 0}, "channel_max"),
        ({"margin": -1}, "margin"),
        ({"first_cutoff": 40.0, "res": 64}, "first_cutoff"),
        ({"bogus": 1}, "bogus"),
        # The mapping's own argument names, not the schedule's num_layers.
        ({"mapping_layers": 0}, "mapping_layers"),
        ({"mapping_lr_multiplier": 0.0}, "mapping_lr_multiplier"),
    ],
)
def test_invalid_configs_raise(kwargs: dict, match: str) -> None:
    args = {"z_dim": 4, "w_dim": 4, "channel_base": 2048, "channel_max": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        AliasFreeGenerator(**args)


def test_invalid_call_arguments_raise() -> None:
    G = _tiny("t", res=16)
    z = torch.randn(1, G.z_dim)
    with pytest.raises(ValueError, match="transform"):
        G(z, transform=torch.eye(2))
    with pytest.raises(ValueError, match="affine"):
        G(z, transform=torch.ones(3, 3))
    singular = torch.eye(3)
    singular[0, 0] = 0.0
    with pytest.raises(ValueError, match="invertible"):
        G(z, transform=singular)
    with pytest.raises(ValueError, match="noise_mode"):
        G(z, noise_mode="loud")
    with pytest.raises(ValueError, match="ws"):
        G.synthesis(torch.randn(1, 3, G.w_dim))
    with pytest.raises(ValueError, match="z must"):
        G(torch.randn(1, G.z_dim + 1))


def test_per_sample_transforms() -> None:
    G = _tiny("t", res=16)
    z = torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(6))
    a = translate(0.1, -0.05)
    with torch.no_grad():
        both = G(z, transform=torch.stack([torch.eye(3), a]))
        plain, moved = G(z), G(z, transform=a)
    np.testing.assert_allclose(both[0].numpy(), plain[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(both[1].numpy(), moved[1].numpy(), atol=1e-6)
    assert not torch.allclose(both[1], plain[1], atol=1e-3)


# --- mutation-testing additions ---------------------------------------------------------------


def test_input_features_with_a_learned_affine_and_a_scaling_transform() -> None:
    # Independent float64 truth of the documented input: t = affine(w) = (cos θ, sin θ, tx, ty)
    # divided by |(cos θ, sin θ)|, M_w = R(θ)·T(−t) with R(θ) = [[cos, −sin], [sin, cos]],
    # q = M_w A⁻¹ p, features amp_c·sin(2π(f_c·q + φ_c)) with amp_c = clamp(1 − (|f'_c| − bw) /
    # (rate/2 − bw), 0, 1) of the transformed frequency f' = Lᵀ f (L = the 2×2 part of M_w A⁻¹).
    # The existing analytic test runs at the identity affine (θ = 0, t = 0) and without scaling,
    # where none of this shows.
    torch.manual_seed(40)
    inp = SynthesisInput(w_dim=4, channels=6, size=12, rate=8, bandwidth=2.0).double()
    with torch.no_grad():
        inp.affine.weight.normal_(generator=torch.Generator().manual_seed(40))
    w = torch.randn(2, 4, generator=torch.Generator().manual_seed(41), dtype=torch.float64)
    zoom = torch.diag(torch.tensor([0.6, 0.6, 1.0], dtype=torch.float64))
    A = compose(translate(0.13, -0.07, dtype=torch.float64), rotate(0.4, dtype=torch.float64), zoom)
    with torch.no_grad():
        x = inp(w, transform=A).numpy()
    f, ph = inp.freqs.double().numpy(), inp.phases.double().numpy()
    W = inp.weight.detach().numpy() / math.sqrt(6)
    aw, ab = inp.affine.weight.detach().numpy(), inp.affine.bias.detach().numpy()
    t = w.numpy() @ (aw / math.sqrt(4)).T + ab
    c = (np.arange(12) + 0.5 - 6) / 8.0
    py, px = np.meshgrid(c, c, indexing="ij")
    pts = np.stack([px, py, np.ones_like(px)], -1)
    amps_seen = []
    for n in range(2):
        # The whole 4-vector is divided by |(cos θ, sin θ)| (as the reference implementation).
        cos, sin, tx, ty = t[n] / np.hypot(t[n, 0], t[n, 1])
        m_r = np.array([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]])
        m_t = np.array([[1, 0, -tx], [0, 1, -ty], [0, 0, 1]])
        M = m_r @ m_t @ np.linalg.inv(A.numpy())
        q = pts @ M.T
        fp = f @ M[:2, :2]  # rows: Lᵀ f_c
        amp = np.clip(1 - (np.hypot(fp[:, 0], fp[:, 1]) - 2.0) / (4.0 - 2.0), 0, 1)
        feats = np.sin(2 * np.pi * (q[..., :2] @ f.T + ph)) * amp
        np.testing.assert_allclose(x[n], np.einsum("hwc,oc->ohw", feats, W), atol=1e-9)
        amps_seen.append(amp)
    amps_seen = np.concatenate(amps_seen)
    assert np.any((amps_seen > 0.05) & (amps_seen < 0.95))  # the taper is in play
    assert np.all(np.abs(t[:, 1]) > 0.05) and np.all(np.abs(t[:, 2:]) > 0.05)  # non-trivial


@pytest.mark.parametrize("config", ["t", "r"])
def test_every_layer_matches_a_float64_composition_of_independent_truths(config: str) -> None:
    # Each SynthesisLayer in float64 against REFERENCE §3/§4 built from other code: styles from
    # the affine's parameters in numpy (bias 1; ToRGB's scaled by 1/sqrt(in·k²)), the input
    # divided by sqrt(magnitude_ema), a per-sample modulated conv (demodulated except ToRGB)
    # written as a loop, then dsp.resample.filtered_lrelu (float64 numba truth) with slope 0.2
    # and gain √2 (ToRGB: slope 1, gain 1). magnitude_ema ≠ 1 and a non-zero bias, so that the
    # input gain and the bias show (at init both are trivial).
    import dsp.resample

    G = _tiny(config, res=16, num_layers=3).double()  # up/down layers, critical ones, ToRGB
    rng = np.random.default_rng(42)
    for layer in G.synthesis.layers:
        with torch.no_grad():
            layer.magnitude_ema.fill_(float(rng.uniform(0.2, 5.0)))
            layer.bias.normal_(generator=torch.Generator().manual_seed(1))
        n, ci, size = 2, layer.in_channels, layer.in_size
        x = rng.standard_normal((n, ci, size, size))
        w = rng.standard_normal((n, layer.w_dim))
        with torch.no_grad():
            got = layer(torch.from_numpy(x), torch.from_numpy(w)).numpy()
        aw, ab = layer.affine.weight.detach().numpy(), layer.affine.bias.detach().numpy()
        styles = w @ (aw / math.sqrt(layer.w_dim)).T + ab
        k = layer.conv_kernel
        if layer.is_torgb:
            styles = styles / math.sqrt(ci * k * k)
        weight = layer.weight.detach()
        conv = []
        for i in range(n):
            wi = weight * torch.from_numpy(styles[i]).view(1, -1, 1, 1)
            if not layer.is_torgb:
                wi = wi / wi.square().sum(dim=[1, 2, 3], keepdim=True).sqrt()
            xi = torch.from_numpy(x[i : i + 1]) / math.sqrt(float(layer.magnitude_ema))
            conv.append(torch.nn.functional.conv2d(xi, wi, padding=k - 1).numpy())
        gain, slope = (1.0, 1.0) if layer.is_torgb else (math.sqrt(2), 0.2)
        want = dsp.resample.filtered_lrelu(
            np.concatenate(conv), layer.up_filter.double().numpy(),
            layer.down_filter.double().numpy(), layer.bias.detach().numpy(), layer.up,
            layer.down, layer.padding, gain, slope, layer.conv_clamp,
        )  # fmt: skip
        scale = max(1.0, float(np.abs(want).max()))
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9 * scale, err_msg=layer.name)


def test_synthesis_chains_the_layers_and_scales_the_output() -> None:
    # ws[:, 0] drives the input, ws[:, 1 + idx] layer idx, and the image is ToRGB's output
    # times output_scale = 0.25 (REFERENCE §3).
    G = _tiny("t", res=16, num_layers=3).double()
    ws = torch.randn(2, G.num_ws, G.w_dim, generator=torch.Generator().manual_seed(43))
    ws = ws.double()
    with torch.no_grad():
        img = G.synthesis(ws)
        x = G.synthesis.input(ws[:, 0])
        for idx, layer in enumerate(G.synthesis.layers):
            x = layer(x, ws[:, idx + 1])
    torch.testing.assert_close(img, 0.25 * x, rtol=0, atol=0)
