"""BaselineGenerator (StyleGAN2 style): shapes, noise modes, input transform, errors."""

import math

import numpy as np
import pytest
import torch

from gan.networks.baseline import BaselineGenerator
from gan.networks.transform import compose, identity, rotate, translate

Z = 8


def _tiny(res: int = 16, **kw) -> BaselineGenerator:
    torch.manual_seed(0)
    args = {"z_dim": Z, "w_dim": 8, "res": res, "channel_base": 8 * res, "channel_max": 8}
    return BaselineGenerator(**{**args, **kw}).eval()


def _z(n: int = 2, seed: int = 3) -> torch.Tensor:
    return torch.randn(n, Z, generator=torch.Generator().manual_seed(seed))


def _set_noise_strength(G: BaselineGenerator, value: float) -> None:
    with torch.no_grad():
        for layer in G.synthesis.convs.values():
            layer.noise_strength.fill_(value)


@pytest.mark.parametrize("res", [16, 32, 64])
def test_shapes_dtype_finite(res):
    G = _tiny(res)
    assert (G.z_dim, G.c_dim, G.w_dim, G.res, G.img_channels) == (Z, 0, 8, res, 3)
    levels = int(math.log2(res)) - 1
    assert G.num_ws == G.synthesis.num_ws == G.mapping.num_ws == 2 * levels
    with torch.no_grad():
        img, feats = G(_z(), return_features=True)
    assert img.shape == (2, 3, res, res) and img.dtype == torch.float32
    assert torch.isfinite(img).all()
    # One map per synthesis layer (plus the input), each at its declared rate.
    assert list(feats) == list(G.synthesis.feature_rates)
    assert len(feats) == 1 + 1 + 2 * (levels - 1)
    assert list(feats)[-1] == f"b{res}.conv1"
    for name, f in feats.items():
        r = G.synthesis.feature_rates[name]
        assert f.shape == (2, G.synthesis.channels[r], r, r)
        assert torch.isfinite(f).all()


def test_synthesis_uses_each_ws_entry():
    """Changing one w entry changes the image: every entry feeds some layer."""
    G = _tiny(16)
    with torch.no_grad():
        ws = G.mapping(_z())
        base = G.synthesis(ws)
        for k in range(G.num_ws):
            ws2 = ws.clone()
            ws2[:, k] += 1.0
            assert not torch.allclose(G.synthesis(ws2), base), k


def test_noise_modes():
    G = _tiny(16)
    z = _z()
    with torch.no_grad():
        # Noise strength starts at 0 (StyleGAN2): every mode gives the same image.
        a, b = G(z, noise_mode="none"), G(z, noise_mode="random")
        torch.testing.assert_close(a, b)
        _set_noise_strength(G, 1.0)
        const1, const2 = G(z, noise_mode="const"), G(z, noise_mode="const")
        rand1, rand2 = G(z, noise_mode="random"), G(z, noise_mode="random")
        none = G(z, noise_mode="none")
    torch.testing.assert_close(const1, const2, rtol=0, atol=0)
    assert (rand1 - rand2).abs().max() > 1e-3
    assert (const1 - none).abs().max() > 1e-3
    torch.testing.assert_close(none, a)


def test_truncation_to_w_avg_gives_one_image():
    G = _tiny(16)
    with torch.no_grad():
        img = G(_z(3), psi=0.0)
    assert (img - img[:1]).abs().max() < 1e-6


def test_fourier_input_matches_formula():
    """input[k](p) = Σ_f W[k, f]/√F · sin(2π (freq_f · A⁻¹p + phase_f)), float64 by hand."""
    G = _tiny(16)
    inp = G.synthesis.input
    A = compose(translate(0.1, -0.2), rotate(0.7)).double().numpy()
    with torch.no_grad():
        got = G(_z(1), transform=torch.from_numpy(A), return_features=True)[1]["input"][0]
    freqs = inp.freqs.double().numpy()
    phases = inp.phases.double().numpy()
    wt = inp.weight.detach().double().numpy() / math.sqrt(inp.num_features)
    c = (np.arange(4) + 0.5) / 4 - 0.5
    want = np.zeros(got.shape)
    ainv = np.linalg.inv(A)
    for i in range(4):
        for j in range(4):
            p = ainv @ np.array([c[j], c[i], 1.0])
            want[:, i, j] = wt @ np.sin(2 * np.pi * (freqs @ p[:2] + phases))
    np.testing.assert_allclose(got.numpy(), want, atol=2e-5)
    # Disc of radius 2 (the 4×4 grid's Nyquist), phases in [0, 1).
    assert np.hypot(freqs[:, 0], freqs[:, 1]).max() <= 2.0 + 1e-6
    assert phases.min() >= 0 and phases.max() < 1


def test_fourier_input_moves_with_transform():
    G = _tiny(16)
    z = _z()
    with torch.no_grad():
        img0, f0 = G(z, return_features=True)
        img_id = G(z, transform=identity())
        img_t, ft = G(z, transform=translate(0.25, 0.0), return_features=True)
        _, fr = G(z, transform=rotate(math.pi / 2), return_features=True)
        img_batch = G(z, transform=torch.stack([identity(), translate(0.25, 0.0)]))
    torch.testing.assert_close(img_id, img0)
    assert (img_t - img0).abs().max() > 1e-2
    # Translating by one 4×4 pixel (0.25 units) right moves the input grid one column right.
    torch.testing.assert_close(ft["input"][..., 1:], f0["input"][..., :-1], atol=1e-5, rtol=0)
    # A quarter turn maps the grid onto itself: input_A[i, j] = input_I[j, 3 − i] (rot90, k=1).
    want = torch.rot90(f0["input"], 1, dims=(-2, -1))
    torch.testing.assert_close(fr["input"], want, atol=1e-5, rtol=0)
    # Per-sample transforms.
    torch.testing.assert_close(img_batch[0], img0[0])
    torch.testing.assert_close(img_batch[1], img_t[1])


def test_const_input():
    G = _tiny(16, input="const")
    z = _z()
    with torch.no_grad():
        img = G(z)
        torch.testing.assert_close(G(z, transform=identity()), img)
        with pytest.raises(ValueError, match="transform"):
            G(z, transform=translate(0.25, 0.0))
    assert img.shape == (2, 3, 16, 16)


def test_gradients_reach_every_parameter():
    G = _tiny(16)
    _set_noise_strength(G, 0.5)
    G(_z()).square().mean().backward()
    for name, p in G.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_conditional_generator():
    G = _tiny(16, c_dim=3)
    c = torch.eye(3)[:2]
    with torch.no_grad():
        img = G(_z(), c)
        other = G(_z(), torch.eye(3)[1:])  # the same latents, other labels
    assert img.shape == (2, 3, 16, 16)
    assert (img - other).abs().amax(dim=(1, 2, 3)).min() > 1e-3  # the labels reach the image
    with pytest.raises(ValueError):
        G(_z())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"res": 48},
        {"res": 4},
        {"res": 16.0},
        {"channel_base": 8},
        {"input": "constant"},
        {"img_channels": 0},
        {"conv_clamp": -1.0},
        {"num_mapping_layers": 0},
    ],
)
def test_invalid_config(kwargs):
    with pytest.raises(ValueError):
        _tiny(**{"res": 16, **kwargs})


@pytest.mark.parametrize("name", ["num_mapping_layers", "mapping_lr_multiplier"])
def test_invalid_mapping_arguments_are_named(name):
    with pytest.raises(ValueError, match=name):
        _tiny(**{"res": 16, name: 0})


def test_invalid_call_arguments():
    G = _tiny(16)
    z = _z()
    with pytest.raises(ValueError, match="noise_mode"):
        G(z, noise_mode="off")
    with pytest.raises(ValueError, match="transform"):
        G(z, transform=torch.eye(2))
    with pytest.raises(ValueError, match="transform"):
        G(z, transform=torch.zeros(3, 3))
    with pytest.raises(ValueError, match="transform"):
        G(z, transform=torch.stack([identity()] * 3))
    with pytest.raises(ValueError, match="ws"):
        G.synthesis(torch.zeros(2, G.num_ws + 1, G.w_dim))
