"""ADA augmentation pipe and its p controller (gan.training.augment)."""

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gan.training.augment import TRANSFORMS, AdaController, AugmentPipe, resample_affine


def only(name: str, p: float = 1.0, **kwargs) -> AugmentPipe:
    """A pipe with one transform enabled (weight 1), all others off."""
    weights = {t: 0 for t in TRANSFORMS}
    weights[name] = 1
    return AugmentPipe(**weights, **kwargs, p=p)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def rand_images(n=8, c=3, h=12, w=12, seed=1, dtype=torch.float32) -> torch.Tensor:
    return torch.rand(n, c, h, w, generator=gen(seed), dtype=dtype) * 2 - 1


def blob(h, w, cx, cy, sigma) -> torch.Tensor:
    """A Gaussian centred at (cx, cy) in pixel-centre coordinates (pixel j at j + 0.5)."""
    y = torch.arange(h, dtype=torch.float64).view(h, 1) + 0.5
    x = torch.arange(w, dtype=torch.float64).view(1, w) + 0.5
    return torch.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma**2))


# -- identity at p = 0 ------------------------------------------------------------------------


def test_p_zero_is_exact_identity():
    x = rand_images()
    pipe = AugmentPipe()  # every transform enabled, p = 0
    assert float(pipe.p) == 0.0
    out = pipe(x, generator=gen())
    assert torch.equal(out, x)
    pipe.p.fill_(0.0)
    assert torch.equal(pipe(x), x)


def test_default_buffer_is_saved_with_state():
    pipe = AugmentPipe(p=0.3)
    assert "p" in pipe.state_dict()
    assert pipe.p.ndim == 0 and pipe.p.dtype.is_floating_point
    other = AugmentPipe()
    other.load_state_dict(pipe.state_dict())
    assert float(other.p) == pytest.approx(0.3)


def test_default_weights_are_adas_bgc_pipeline():
    # ADA's "bgc" pipeline (Karras et al. 2020, the one StyleGAN3 trains with) enables every
    # blit, geometric and colour transform with weight 1, anisotropic scaling and fractional
    # translation and the luma flip included. The defaults had aniso = xfrac = 0 while claiming
    # to follow "bgc", and the luma flip was missing.
    pipe = AugmentPipe()
    assert pipe.weights == {t: 1.0 for t in TRANSFORMS}
    assert set(TRANSFORMS) == {
        "xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac",
        "brightness", "contrast", "lumaflip", "hue", "saturation",
    }  # fmt: skip
    assert AugmentPipe(aniso=0, xfrac=0).weights["aniso"] == 0.0  # still switchable


# -- pixel blitting: exact permutations ------------------------------------------------------


def test_xflip_is_exact():
    x = rand_images(n=16)
    out = only("xflip")(x, generator=gen())
    flipped = 0
    for i in range(len(x)):
        same, flip = torch.equal(out[i], x[i]), torch.equal(out[i], x[i].flip(-1))
        assert same or flip
        flipped += flip
    assert 0 < flipped < len(x)  # flip is drawn with probability 1/2 when applied


def test_rotate90_is_exact_rotation():
    x = rand_images(n=16)
    out = only("rotate90")(x, generator=gen())
    seen = set()
    for i in range(len(x)):
        ks = [k for k in range(4) if torch.equal(out[i], torch.rot90(x[i], k, dims=(1, 2)))]
        assert len(ks) == 1
        seen.add(ks[0])
    assert len(seen) >= 3


def test_rotate90_moves_a_pixel_to_the_four_quarter_turn_positions():
    # k is drawn uniformly from {0, 1, 2, 3}, so the turn direction is not observable here (the
    # exact rot90 check above ties k to np.rot90's counter-clockwise convention); every quarter
    # turn must occur and nothing else.
    x = torch.zeros(64, 1, 9, 9)
    x[:, 0, 4, 7] = 1.0
    out = only("rotate90")(x, generator=gen(3))
    positions = {tuple(torch.nonzero(o[0])[0].tolist()) for o in out}
    assert positions == {(4, 7), (7, 4), (4, 1), (1, 4)}


def test_rotate90_needs_square_images():
    with pytest.raises(ValueError, match="square"):
        only("rotate90")(rand_images(h=8, w=10), generator=gen())
    # Also at p = 0 (ADA's start): the error used to wait until p rose mid-run.
    with pytest.raises(ValueError, match="square"):
        AugmentPipe(p=0.0)(rand_images(h=8, w=10))


def test_integer_translation_is_exact_roll():
    h, w = 10, 16
    x = rand_images(n=16, h=h, w=w)
    pipe = only("xint", xint_max=0.25)
    out = pipe(x, generator=gen())
    shifts = set()
    for i in range(len(x)):
        found = [
            (dy, dx)
            for dy in range(-3, 4)
            for dx in range(-4, 5)
            if torch.equal(out[i], torch.roll(x[i], (dy, dx), dims=(1, 2)))
        ]
        assert len(found) == 1, "each sample is a wrapped integer shift within xint_max"
        shifts.add(found[0])
        # A permutation: the multiset of values is unchanged.
        assert torch.equal(out[i].flatten().sort().values, x[i].flatten().sort().values)
    assert len(shifts) > 4


# -- general geometric path: band-limited affine resampling ------------------------------------


def test_resample_affine_identity_keeps_smooth_images():
    x = blob(32, 32, 18.0, 13.0, 3.0).view(1, 1, 32, 32)
    eye = torch.eye(3, dtype=torch.float64).unsqueeze(0)
    y = resample_affine(x, eye)
    # Two passes of the Kaiser low-pass (about 1e-3 passband ripple each); this blob has no
    # energy worth mentioning above 0.25 cycles/pixel (its spectrum is 1.5e-5 there).
    assert torch.allclose(y, x, atol=3e-3)
    assert not torch.equal(y, x)


@pytest.mark.parametrize(
    "matrix, centre, sigma",
    [
        # Quarter turn: content at +x (right of centre) moves to +y (below).
        ([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0]], (16.0, 22.0), 3.0),
        # 40° turn.
        (
            [[math.cos(0.7), -math.sin(0.7), 0.0], [math.sin(0.7), math.cos(0.7), 0.0]],
            (16.0 + 6 * math.cos(0.7), 16.0 + 6 * math.sin(0.7)),
            3.0,
        ),
        # Fractional translation by (2.5, −1.25) pixels.
        ([[1.0, 0.0, 2.5], [0.0, 1.0, -1.25]], (24.5, 14.75), 3.0),
        # Zoom ×1.5 about the centre: the offset and the width grow by 1.5.
        ([[1.5, 0.0, 0.0], [0.0, 1.5, 0.0]], (25.0, 16.0), 4.5),
    ],
)
def test_resample_affine_matches_analytic_blob(matrix, centre, sigma):
    # Source blob 6 px right of the centre of a 32×32 image, σ = 3 px (negligible energy
    # above 0.25 cycles/pixel, where the band limit is flat).
    x = blob(32, 32, 22.0, 16.0, 3.0).view(1, 1, 32, 32)
    a = torch.tensor([matrix], dtype=torch.float64)
    y = resample_affine(x, a)[0, 0]
    want = blob(32, 32, centre[0], centre[1], sigma)
    # Compare where every source lies inside the frame (beyond, the reflection padding shows
    # mirrored content by design). Tolerance: bilinear sampling of the ×2 image (error about
    # (½ px)²/8 · |g''|) and the band limit.
    yy, xx = torch.meshgrid(torch.arange(32) + 0.5 - 16, torch.arange(32) + 0.5 - 16, indexing="ij")
    inside = (xx**2 + yy**2) < 13**2
    assert torch.allclose(y[inside], want[inside], atol=1e-2)


def tone(n: int, freq: float) -> torch.Tensor:
    """cos(2π·freq·x) along x about the image centre, [1, 1, n, n] (freq in cycles/pixel)."""
    j = torch.arange(n, dtype=torch.float64) + 0.5 - n / 2
    return torch.cos(2 * math.pi * freq * j).view(1, 1, 1, n).expand(1, 1, n, n).contiguous()


def test_resample_affine_does_not_alias_when_zooming_out():
    # Shrinking a 0.4 cycles/pixel tone by 2 would put it at 0.8 cycles/pixel, beyond Nyquist:
    # a band-limited resampler removes it; point sampling folds it to 0.2 cycles/pixel.
    x = tone(64, 0.4)
    half = torch.tensor([[[0.5, 0.0, 0.0], [0.0, 0.5, 0.0]]], dtype=torch.float64)
    y = resample_affine(x, half)[0, 0, 16:48, 16:48]
    assert y.pow(2).mean().sqrt() < 0.05  # the tone's own RMS is 0.707
    # The same transform by plain bilinear sampling, for contrast: strongly aliased.
    c = (torch.arange(64, dtype=torch.float64) + 0.5 - 32) / 0.5 + 32
    g = c / 64 * 2 - 1
    gy, gx = torch.meshgrid(g, g, indexing="ij")
    grid = torch.stack([gx, gy], -1)[None]
    naive = F.grid_sample(x, grid, align_corners=False, padding_mode="reflection")
    assert naive[0, 0, 16:48, 16:48].pow(2).mean().sqrt() > 0.15


def test_resample_affine_keeps_low_frequencies_when_zooming_in():
    x = tone(64, 0.2)
    double = torch.tensor([[[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]]], dtype=torch.float64)
    y = resample_affine(x, double)[0, 0, 16:48, 16:48]
    want = tone(64, 0.1)[0, 0, 16:48, 16:48]
    assert torch.allclose(y, want, atol=0.05)  # bilinear on the ×2 grid: ≈ (π·0.2·½)²/2


def test_resample_affine_rejects_bad_matrix():
    x = rand_images(n=2)
    with pytest.raises(ValueError, match="matrix"):
        resample_affine(x, torch.eye(3).repeat(3, 1, 1))
    with pytest.raises(ValueError, match="matrix"):
        resample_affine(x, torch.eye(4).repeat(2, 1, 1))
    with pytest.raises(ValueError, match="finite"):
        resample_affine(x, torch.full((2, 3, 3), float("nan")))


def test_arbitrary_rotation_keeps_a_centred_round_blob():
    x = blob(24, 24, 12.0, 12.0, 3.0).to(torch.float32).expand(6, 1, 24, 24).contiguous()
    out = only("rotate")(x, generator=gen())
    assert not torch.equal(out, x)  # the band-limited path ran
    # Inside the inscribed disc every source lies in the frame; outside it the rotated corners
    # show the reflection padding (a mirrored blob), by design.
    yy, xx = torch.meshgrid(torch.arange(24) + 0.5 - 12, torch.arange(24) + 0.5 - 12, indexing="ij")
    disc = (xx**2 + yy**2) < 11**2
    assert torch.allclose(out[..., disc], x[..., disc], atol=1e-2)


def test_scale_changes_blob_width_by_lognormal_factor():
    x = blob(32, 32, 16.0, 16.0, 2.5).to(torch.float32).expand(8, 1, 32, 32).contiguous()
    out = only("scale", scale_std=0.3)(x, generator=gen())
    # Second moment of a centred Gaussian image: Σ r² g / Σ g = 2 σ²; zoom by s gives s·σ.
    yy, xx = torch.meshgrid(torch.arange(32) + 0.5 - 16, torch.arange(32) + 0.5 - 16, indexing="ij")
    r2 = (xx**2 + yy**2).to(torch.float32)
    widths = torch.sqrt((out[:, 0] * r2).sum((1, 2)) / out[:, 0].sum((1, 2)) / 2)
    ratio = widths / 2.5
    assert torch.all(ratio > 2 ** (-4 * 0.3)) and torch.all(ratio < 2 ** (4 * 0.3))
    assert ratio.std() > 0.02  # independent per sample


# -- colour ------------------------------------------------------------------------------------


def luma(x: torch.Tensor) -> torch.Tensor:
    return x.mean(dim=1)


@pytest.mark.parametrize("name", ["hue", "saturation"])
def test_hue_and_saturation_keep_luma(name):
    x = rand_images(n=8, dtype=torch.float64)
    out = only(name)(x, generator=gen())
    assert not torch.allclose(out, x)
    assert torch.allclose(luma(out), luma(x), atol=1e-12)


def test_hue_is_a_rotation_of_the_chroma():
    x = rand_images(n=8, dtype=torch.float64)
    out = only("hue")(x, generator=gen())
    chroma_in = x - luma(x).unsqueeze(1)
    chroma_out = out - luma(out).unsqueeze(1)
    # A rotation about the grey axis keeps the length of the chroma vector of every pixel.
    assert torch.allclose(chroma_out.norm(dim=1), chroma_in.norm(dim=1), atol=1e-12)
    # Same angle for all pixels of a sample: the cosine between in and out chroma is constant.
    cos = (chroma_in * chroma_out).sum(1) / (chroma_in.norm(dim=1) * chroma_out.norm(dim=1))
    assert torch.allclose(cos, cos[:, :1, :1].expand_as(cos), atol=1e-9)
    # Grey pixels are fixed points.
    grey = x[:, :1].expand(-1, 3, -1, -1).contiguous()
    assert torch.allclose(only("hue")(grey, generator=gen()), grey, atol=1e-12)


def test_saturation_scales_the_chroma():
    x = rand_images(n=8, dtype=torch.float64)
    out = only("saturation")(x, generator=gen())
    ci = x - luma(x).unsqueeze(1)
    co = out - luma(out).unsqueeze(1)
    s = (co * ci).sum((1, 2, 3)) / (ci * ci).sum((1, 2, 3))
    assert torch.all(s > 0)
    assert torch.allclose(co, s.view(-1, 1, 1, 1) * ci, atol=1e-12)


def test_brightness_adds_and_contrast_scales_per_sample():
    x = rand_images(n=8, dtype=torch.float64)
    out = only("brightness")(x, generator=gen())
    d = out - x
    assert torch.allclose(d, d[:, :1, :1, :1].expand_as(d), atol=1e-12)
    assert d[:, 0, 0, 0].std() > 0.02
    out = only("contrast")(x, generator=gen())
    r = out / x
    assert torch.allclose(r, r[:, :1, :1, :1].expand_as(r), atol=1e-9)
    assert torch.all(r[:, 0, 0, 0] > 0)
    # Luma moves with brightness and contrast (unlike hue and saturation).
    assert not torch.allclose(luma(out), luma(x))


def test_colour_transform_strengths_follow_their_stds():
    # brightness: + N(0, brightness_std²); contrast and saturation: × 2^N(0, std²). Over 2048
    # samples the sample std is within ~3 % of the true one (±15 % would catch e.g. exp for
    # exp2, or a doubled std).
    n = 2048
    x = rand_images(n=n, h=2, w=2, dtype=torch.float64)
    d = (only("brightness", brightness_std=0.3)(x, generator=gen()) - x)[:, 0, 0, 0]
    r = (only("contrast", contrast_std=0.5)(x, generator=gen()) / x)[:, 0, 0, 0]
    sat = only("saturation", saturation_std=1.0)(x, generator=gen())
    ci, co = x - luma(x).unsqueeze(1), sat - luma(sat).unsqueeze(1)
    s = (co * ci).sum((1, 2, 3)) / (ci * ci).sum((1, 2, 3))
    for values, std in ((d, 0.3), (torch.log2(r), 0.5), (torch.log2(s), 1.0)):
        assert float(values.std()) == pytest.approx(std, rel=0.15)
        assert abs(float(values.mean())) < 4 * std / n**0.5


def test_grayscale_images_get_brightness_contrast_and_lumaflip_only():
    x = rand_images(n=4, c=1, dtype=torch.float64)
    assert torch.equal(only("hue")(x, generator=gen()), x)
    assert torch.equal(only("saturation")(x, generator=gen()), x)
    d = only("brightness")(x, generator=gen()) - x
    assert torch.allclose(d, d[:, :1, :1, :1].expand_as(d), atol=1e-12)
    out = only("lumaflip")(rand_images(n=64, c=1, dtype=torch.float64), generator=gen())
    x64 = rand_images(n=64, c=1, dtype=torch.float64)
    flipped = (out + x64).abs().flatten(1).amax(1) < 1e-12
    kept = (out - x64).abs().flatten(1).amax(1) == 0
    assert bool((flipped | kept).all()) and 10 < int(flipped.sum()) < 54


def test_lumaflip_negates_the_luma_and_keeps_the_chroma():
    # ADA's luma flip: C ← (I − 2·v vᵀ)·C with v the unit grey axis, for half of the samples it
    # is drawn for (p·weight): the pixel's grey component x̄ = mean(r, g, b) becomes −x̄.
    n = 2000
    x = rand_images(n=n, h=3, w=3, dtype=torch.float64)
    out = only("lumaflip")(x, generator=gen())
    flipped_ref = x - 2 * luma(x).unsqueeze(1)  # x − 2·v vᵀx, written out
    flipped = (out - flipped_ref).abs().flatten(1).amax(1) < 1e-12
    kept = (out - x).abs().flatten(1).amax(1) == 0
    assert bool((flipped | kept).all())
    assert abs(flipped.double().mean().item() - 0.5) < 0.04  # p·weight·½ with p = 1
    ci, co = x - luma(x).unsqueeze(1), out - luma(out).unsqueeze(1)
    assert torch.allclose(co, ci, atol=1e-12)
    assert torch.allclose(luma(out)[flipped], -luma(x)[flipped], atol=1e-12)
    half = only("lumaflip", p=0.5)(x, generator=gen())
    rate = ((half - x).abs().flatten(1).amax(1) > 0).double().mean().item()
    assert abs(rate - 0.25) < 0.03


def test_colour_matrix_is_adas_chain_in_its_order():
    # M = S·R·L·K·B (brightness, contrast, luma flip, hue, saturation: ADA's order), against an
    # independent float64 build: scipy's rotation about the grey axis, numpy products.
    from scipy.spatial.transform import Rotation

    from gan.training.augment import colour_matrix

    rng = np.random.default_rng(3)
    n = 6
    b, k = rng.normal(0, 0.2, n), 2 ** rng.normal(0, 0.5, n)
    th, s = rng.uniform(-np.pi, np.pi, n), 2 ** rng.normal(0, 1, n)
    flip = np.array([0, 1, 0, 1, 1, 0], dtype=bool)
    got = colour_matrix(*(torch.from_numpy(a) for a in (b, k, th, s)), torch.from_numpy(flip))
    v = np.ones(3) / np.sqrt(3)
    vv = np.outer(v, v)
    for i in range(n):
        B, K, L, R, S = (np.eye(4) for _ in range(5))
        B[:3, 3] = b[i]
        K[:3, :3] *= k[i]
        L[:3, :3] -= 2 * flip[i] * vv
        R[:3, :3] = Rotation.from_rotvec(th[i] * v).as_matrix()
        S[:3, :3] = vv + s[i] * (np.eye(3) - vv)
        np.testing.assert_allclose(got[i].numpy(), S @ R @ L @ K @ B, atol=1e-12)
    without = colour_matrix(*(torch.from_numpy(a) for a in (b, k, th, s)))
    np.testing.assert_allclose(without[~torch.from_numpy(flip)], got[~torch.from_numpy(flip)])


def test_grayscale_images_are_augmented_as_grey_rgb_images():
    # ADA's rule for one channel: the colour matrix acting on a grey pixel (r = g = b). The same
    # draws (the random stream does not depend on the channel count) on the grey RGB image must
    # give the same grey values, for the whole pipe.
    x = rand_images(n=32, c=1, h=8, w=8, dtype=torch.float64)
    pipe = AugmentPipe(p=1.0)
    one = pipe(x, generator=gen(4))
    rgb = pipe(x.expand(-1, 3, -1, -1).contiguous(), generator=gen(4))
    assert torch.allclose(rgb, one.expand(-1, 3, -1, -1), atol=1e-10)
    assert not torch.allclose(one, x)


# -- the whole pipe ----------------------------------------------------------------------------


def test_gradients_flow_to_the_images():
    pipe = AugmentPipe(p=1.0)
    x = rand_images(n=4, h=8, w=8, dtype=torch.float64).requires_grad_(True)
    w = torch.randn(4, 3, 8, 8, generator=gen(7), dtype=torch.float64)
    (pipe(x, generator=gen()) * w).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0

    # For fixed random draws the pipe is affine in the images: f(u) = L·u + b. So the gradient
    # of ⟨f(x), w⟩ is Lᵀw, and ⟨f(u) − f(0), w⟩ must equal ⟨u, Lᵀw⟩ for any u (adjoint test of
    # the backward pass against the forward pass).
    u = torch.randn(4, 3, 8, 8, generator=gen(8), dtype=torch.float64)
    lhs = ((pipe(u, generator=gen()) - pipe(torch.zeros_like(u), generator=gen())) * w).sum()
    rhs = (u * x.grad).sum()
    assert torch.isclose(lhs, rhs, rtol=1e-9, atol=1e-9)


def test_seeded_generator_is_deterministic():
    x = rand_images(n=6)
    pipe = AugmentPipe(p=0.8)
    a = pipe(x, generator=gen(5))
    b = pipe(x, generator=gen(5))
    c = pipe(x, generator=gen(6))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_samples_are_independent():
    pipe = AugmentPipe(p=0.7)
    x = rand_images(n=1, h=10, w=10).expand(6, -1, -1, -1).contiguous().requires_grad_(True)
    out = pipe(x, generator=gen())
    # Identical inputs, different augmentations.
    assert len({out[i].detach().numpy().tobytes() for i in range(6)}) > 3
    # Each output depends on its own input only: the Jacobian is block diagonal.
    for i in range(6):
        (g,) = torch.autograd.grad(out[i].sum(), x, retain_graph=True)
        others = torch.cat([g[:i], g[i + 1 :]])
        assert others.abs().max() == 0
        assert g[i].abs().sum() > 0


def test_transform_frequency_matches_p():
    # x-flip happens with probability p·weight·½ per sample.
    n = 4000
    x = torch.arange(2.0).view(1, 1, 1, 2).expand(n, 1, 2, 2).contiguous()
    out = only("xflip", p=0.5)(x, generator=gen())
    rate = (out[:, 0, 0, 0] == 1.0).double().mean().item()
    assert abs(rate - 0.25) < 0.03


def test_half_precision_input_keeps_dtype():
    x = rand_images(n=3, h=8, w=8).to(torch.bfloat16)
    out = AugmentPipe(p=1.0)(x, generator=gen())
    assert out.dtype == torch.bfloat16 and out.shape == x.shape
    assert torch.isfinite(out.float()).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"xflip": -1}, "xflip"),
        ({"p": 1.5}, "p"),
        ({"xint_max": 0.9}, "xint_max"),
        ({"rotate_max": float("nan")}, "rotate_max"),
        ({"hue_max": 2}, "hue_max"),
    ],
)
def test_invalid_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AugmentPipe(**kwargs)


@pytest.mark.parametrize(
    "images",
    [torch.zeros(3, 8, 8), torch.zeros(2, 3, 8, 8, dtype=torch.uint8), np.zeros((2, 3, 8, 8))],
)
def test_invalid_images(images):
    with pytest.raises(ValueError, match="images"):
        AugmentPipe(p=0.5)(images)


# -- the controller ------------------------------------------------------------------------------


def expected_p(p0, logits, target, batch, interval, speed_kimg):
    """The update rule written out in numpy."""
    rt = np.mean(np.sign(np.concatenate([np.ravel(v) for v in logits])))
    return float(np.clip(p0 + np.sign(rt - target) * batch * interval / (speed_kimg * 1000), 0, 1))


@pytest.mark.parametrize("positive_fraction", [0.3, 0.9])
def test_controller_update_rule(rng, positive_fraction):
    pipe = AugmentPipe(p=0.5)
    ada = AdaController(pipe, target=0.6, interval=4, speed_kimg=2.0)
    batch = 16
    logits = []
    for step in range(4):
        v = rng.standard_normal(batch)
        v = np.abs(v) * np.where(rng.random(batch) < positive_fraction, 1.0, -1.0)
        logits.append(v)
        ada.accumulate(torch.from_numpy(v).float().view(batch, 1))
        p = ada.step(batch)
        if step < 3:
            assert p == 0.5  # only every `interval` steps
    want = expected_p(0.5, logits, 0.6, batch, 4, 2.0)
    assert p == pytest.approx(want, abs=1e-7)  # p is a float32 buffer
    assert ada.rt == pytest.approx(np.mean(np.sign(np.concatenate(logits))))
    assert abs(p - 0.5) == pytest.approx(16 * 4 / 2000)


def test_controller_clamps_and_restarts_statistics():
    pipe = AugmentPipe(p=0.01)
    ada = AdaController(pipe, target=0.6, interval=1, speed_kimg=0.1)
    ada.accumulate(-torch.ones(8, 1))
    assert ada.step(8) == 0.0  # 0.01 − 0.08, clamped
    for _ in range(20):
        ada.accumulate(torch.ones(8, 1))
        ada.step(8)
    assert ada.p == 1.0
    # The statistics restart after each update: one negative step now lowers p again.
    ada.accumulate(-torch.ones(8, 1))
    assert ada.step(8) == pytest.approx(1.0 - 0.08)
    # No logits since the last update: p stays.
    assert ada.step(8) == pytest.approx(1.0 - 0.08)


def test_controller_reduce_hook_sums_over_ranks():
    # A fake second rank whose logits are all negative outweighs this rank's positives.
    other = torch.tensor([-24.0, 24.0], dtype=torch.float64)
    pipe = AugmentPipe(p=0.5)
    ada = AdaController(pipe, interval=2, speed_kimg=1.0, reduce=lambda t: t + other)
    for _ in range(2):
        ada.accumulate(torch.ones(8, 1))
        ada.step(32)
    assert ada.rt == pytest.approx((16 - 24) / 40)
    assert ada.p == pytest.approx(0.5 - 32 * 2 / 1000)


def test_controller_state_round_trip_continues_identically(rng):
    logits = [torch.from_numpy(rng.standard_normal((8, 1)) + 0.3).float() for _ in range(10)]
    a = AdaController(AugmentPipe(p=0.2), interval=3, speed_kimg=0.5)
    for v in logits[:5]:
        a.accumulate(v)
        a.step(8)
    state = json.loads(json.dumps(a.state_dict()))  # plain JSON
    b = AdaController(AugmentPipe(), interval=7, speed_kimg=9)
    b.load_state_dict(state)
    assert b.p == a.p and b.interval == 3 and b.calls == 5
    for v in logits[5:]:
        for ctl in (a, b):
            ctl.accumulate(v)
            ctl.step(8)
        assert a.p == b.p
    assert a.p != pytest.approx(0.2)


class _TwoRanks:
    """Two controllers whose ``reduce`` is an all-reduce over both (called by each in turn, as
    the collective is: the sum is taken when the first rank arrives)."""

    def __init__(self, state=None, main_only=False):
        self.c = [AdaController(AugmentPipe(p=0.3), interval=2, speed_kimg=1.0) for _ in "ab"]
        self._sum = None
        for rank, c in enumerate(self.c):
            c.reduce = self._reduce
            if state is not None:
                c.load_state_dict(state)
                if main_only and rank:
                    c.discard_partial()

    def _reduce(self, t):
        if self._sum is None:
            self._sum = sum(c._acc for c in self.c).clone()
            self._left = len(self.c)
        out, self._left = self._sum.clone(), self._left - 1
        if self._left == 0:
            self._sum = None
        return out

    def step(self):
        # Rank 0 sees only positive logits, rank 1 half and half: r_t = 0.5 < 0.6.
        self.c[0].accumulate(torch.ones(16))
        self.c[1].accumulate(torch.tensor([1.0] * 8 + [-1.0] * 8))
        for c in self.c:
            c.step(32)


def test_multi_process_resume_mid_interval_continues_exactly():
    # Only rank 0 writes checkpoints and every rank restores them: rank 0's own partial sums
    # were then counted once per rank at the next update (r_t 0.75 instead of 0.5: p went up
    # instead of down). The sums are now gathered onto rank 0 before the checkpoint, and the
    # other ranks drop theirs after loading it.
    whole = _TwoRanks()
    whole.step()
    whole.step()
    part = _TwoRanks()
    part.step()  # mid-interval: the accumulators hold one step
    for rank, c in enumerate(part.c):
        c.consolidate(keep=rank == 0)
    state = json.loads(json.dumps(part.c[0].state_dict()))
    resumed = _TwoRanks(state, main_only=True)
    resumed.step()
    assert whole.c[0].rt == 0.5 and whole.c[0].p < 0.3
    for a, b in zip(whole.c, resumed.c, strict=True):
        assert (b.rt, b.p) == (a.rt, a.p)
    # Consolidating does not change an uninterrupted run either.
    again = _TwoRanks()
    again.step()
    for rank, c in enumerate(again.c):
        c.consolidate(keep=rank == 0)
    again.step()
    assert [(c.rt, c.p) for c in again.c] == [(c.rt, c.p) for c in whole.c]


def test_controller_invalid_arguments():
    pipe = AugmentPipe()
    with pytest.raises(ValueError, match="target"):
        AdaController(pipe, target=1.0)
    with pytest.raises(ValueError, match="interval"):
        AdaController(pipe, interval=0)
    with pytest.raises(ValueError, match="speed_kimg"):
        AdaController(pipe, speed_kimg=0)
    with pytest.raises(ValueError, match="pipe"):
        AdaController(object())
    ada = AdaController(pipe)
    with pytest.raises(ValueError, match="batch_size"):
        ada.step(0)
    with pytest.raises(ValueError, match="lacks"):
        ada.load_state_dict({"p": 0.1})
    with pytest.raises(ValueError, match="p"):
        ada.load_state_dict({"p": 2.0, "calls": 0, "sum_sign": 0.0, "count": 0.0})


def test_controller_speed_matches_definition():
    # From 0 to 1 in speed_kimg thousand images when always overfitting.
    pipe = AugmentPipe()
    ada = AdaController(pipe, interval=4, speed_kimg=0.064)
    steps = 0
    while ada.p < 1.0:
        ada.accumulate(torch.ones(4, 1))
        ada.step(4)
        steps += 1
        assert steps < 1000
    assert steps * 4 == pytest.approx(64, abs=16)
    assert math.isclose(ada.p, 1.0)


# -- mutation-testing additions ----------------------------------------------------------------


def test_colour_matrix_is_saturation_hue_contrast_brightness_in_that_order():
    # Independent truth: scipy's rotation about the grey axis (right-hand rule, angle θ) and
    # the documented chain M = S(sat)·R(hue)·K(contrast)·B(brightness), applied to RGB
    # vectors: S·R·(k·(p + b)). Every transform is non-trivial at once, so that their order
    # and the hue's direction both show (the pipe's own tests draw one transform at a time,
    # and a symmetric hue distribution hides the sign).
    from scipy.spatial.transform import Rotation

    from gan.training.augment import colour_matrix

    b = np.array([0.3, -0.2])
    k = np.array([1.7, 0.6])
    th = np.array([0.9, -2.1])
    s = np.array([0.4, 2.5])
    mat = colour_matrix(*(torch.from_numpy(v) for v in (b, k, th, s))).numpy()
    v = np.ones(3) / math.sqrt(3)
    vv = np.outer(v, v)
    rgb = np.random.default_rng(50).uniform(-1, 1, (3, 5))  # five pixels as columns
    for i in range(2):
        rot = Rotation.from_rotvec(th[i] * v).as_matrix()
        sat = vv + s[i] * (np.eye(3) - vv)
        want = sat @ rot @ (k[i] * (rgb + b[i]))
        got = mat[i, :3, :3] @ rgb + mat[i, :3, 3:]
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(mat[i, 3], [0, 0, 0, 1], atol=0)


def test_anisotropic_scaling_stretches_x_and_squeezes_y():
    # aniso: x scaled by a = 2^N(0, std²), y by 1/a (area kept). Second moments of a centred
    # round blob along x and y: widths a·σ and σ/a, so their product stays σ².
    x = blob(32, 32, 16.0, 16.0, 2.5).to(torch.float32).expand(8, 1, 32, 32).contiguous()
    out = only("aniso", aniso_std=0.3)(x, generator=gen(3))[:, 0].double()
    c = torch.arange(32, dtype=torch.float64) + 0.5 - 16
    mass = out.sum((1, 2))
    wx = torch.sqrt((out * c.view(1, 32) ** 2).sum((1, 2)) / mass)
    wy = torch.sqrt((out * c.view(32, 1) ** 2).sum((1, 2)) / mass)
    assert torch.allclose(wx * wy, torch.full_like(wx, 2.5**2), rtol=0.03)
    assert (wx / wy - 1).abs().max() > 0.1  # anisotropic for some samples


def test_integer_translation_range_follows_xint_max():
    # Shifts are round(U(−1, 1)·xint_max·size) per axis: with xint_max = 0.4 some exceed the
    # default 0.125 of the size, none exceeds 0.4 of it. Each sample's shift is read off a
    # one-hot image (a wrapped roll moves the hot pixel).
    n, h, w = 32, 10, 20
    x = torch.zeros(n, 1, h, w)
    x[:, 0, 0, 0] = 1.0
    out = only("xint", xint_max=0.4)(x, generator=gen(11))
    idx = out[:, 0].flatten(1).argmax(dim=1)
    dy, dx = idx // w, idx % w
    dy = torch.where(dy > h // 2, dy - h, dy).abs()
    dx = torch.where(dx > w // 2, dx - w, dx).abs()
    assert (dx <= round(0.4 * w)).all() and (dy <= round(0.4 * h)).all()
    assert dx.max() > 0.125 * w + 0.5 and dy.max() > 0.125 * h + 0.5


def test_transform_probability_is_p_times_its_weight():
    # Each transform fires with probability min(1, p·weight) per sample (×½ for the x-flip
    # coin): weight 0.5 at p = 0.8 gives 0.2, not 0.4.
    n = 4000
    x = torch.arange(2.0).view(1, 1, 1, 2).expand(n, 1, 2, 2).contiguous()
    weights = {t: 0 for t in TRANSFORMS} | {"xflip": 0.5}
    out = AugmentPipe(**weights, p=0.8)(x, generator=gen(12))
    rate = (out[:, 0, 0, 0] == 1.0).double().mean().item()
    assert abs(rate - 0.2) < 0.03


def test_geometric_chain_scales_before_it_rotates(monkeypatch):
    # Content order: isotropic scale, anisotropic scale, rotation, translation, i.e. the linear
    # part is L = R(θ)·diag(a·s, s/a): LᵀL is diagonal (the stretch happens along the image
    # axes, then the stretched content turns), while L·Lᵀ is not for a generic angle. The
    # reverse order (rotate, then stretch along the axes) swaps the two.
    import gan.training.augment as aug

    seen = []
    real = aug.resample_affine

    def spy(x, m):
        seen.append(m.clone())
        return real(x, m)

    monkeypatch.setattr(aug, "resample_affine", spy)
    weights = {t: 0 for t in TRANSFORMS}
    weights.update(scale=1, aniso=1, rotate=1)
    x = rand_images(n=16, h=8, w=8, dtype=torch.float64)
    AugmentPipe(**weights, aniso_std=0.5, p=1.0)(x, generator=gen(2))
    (m,) = seen
    lin = m[:, :2, :2]
    gram = lin.transpose(1, 2) @ lin  # LᵀL
    cogram = lin @ lin.transpose(1, 2)  # L·Lᵀ
    assert torch.allclose(gram[:, 0, 1], torch.zeros(16, dtype=torch.float64), atol=1e-12)
    assert (cogram[:, 0, 1].abs() > 1e-3).sum() >= 12


def test_lumaflip_off_draws_nothing(monkeypatch):
    # A run checkpointed before the flip existed resumes with weight 0; its two draws per batch
    # (even at weight 0) shifted every later draw, so the resumed augmentation differed from
    # the old code's.
    import gan.training.augment as aug

    calls = []
    real = aug._rand

    def counting(n, g, dev):
        calls.append(n)
        return real(n, g, dev)

    monkeypatch.setattr(aug, "_rand", counting)
    x = rand_images(n=4, h=8, w=8, dtype=torch.float64)
    counts = {}
    for w in (0, 1):
        calls.clear()
        AugmentPipe(lumaflip=w, p=0.5)(x, generator=gen())
        counts[w] = len(calls)
    assert counts[1] - counts[0] == 2
