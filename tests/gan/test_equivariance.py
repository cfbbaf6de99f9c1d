"""Equivariance metrics (REFERENCE §5) against analytic truths and a synthetic generator.

The synthetic generator renders a fixed sum of 2D cosines (band-limited well below Nyquist) at
``A⁻¹ p``, so it is exactly equivariant by construction: every dB it loses is the metric's own
reference resampler. Variants break it on purpose (a pattern fixed to the pixel grid, or the
content moved the wrong way) so the metrics are shown to detect what they claim to.
"""

import math
from dataclasses import dataclass

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from gan.metrics.equivariance import (
    EquivarianceResult,
    bandlimit,
    eq_r,
    eq_t,
    eq_t_frac,
    format_db,
    lanczos_weights,
    measure,
    psnr,
    rotate_bandlimited,
    shift_fractional,
    shift_integer,
)
from gan.networks.transform import rotate, translate


@dataclass(frozen=True)
class _Spec:
    name: str
    out_rate: int
    out_size: int


def _waves(gen, k, fmax):
    """k frequencies uniform in the disc of radius fmax, and phases."""
    r = fmax * torch.sqrt(torch.rand(k, generator=gen, dtype=torch.float64))
    a = torch.rand(k, generator=gen, dtype=torch.float64) * 2 * math.pi
    f = torch.stack([r * torch.cos(a), r * torch.sin(a)], dim=1)
    ph = torch.rand(k, generator=gen, dtype=torch.float64) * 2 * math.pi
    return f, ph


class _Synthesis(nn.Module):
    def __init__(self, owner):
        super().__init__()
        self._owner = [owner]  # not a submodule: avoid a module cycle
        r = owner.res
        self.layer_specs = (
            _Spec("L0_fine", r, r + 8),  # equivariant feature map, 4-sample margin
            _Spec("L1_stuck", r, r),  # a map with a pattern stuck to its grid
        )

    def forward(self, ws, transform=None, return_features=False, noise_mode="const"):
        return self._owner[0].render(ws[:, 0], transform, return_features)


class WaveGenerator(nn.Module):
    """Exactly equivariant stand-in for a generator (the project's G interface).

    ``image_A(p) = Σ_k a_ck(z) cos(2π f_k·(A⁻¹p) + φ_k + z·P_k)``; frequencies ``|f_k|`` up to
    ``max_freq`` cycles per pixel. ``stuck > 0`` adds a pattern in pixel coordinates that does
    not move with ``A``; ``wrong_way=True`` renders at ``A p`` (content moves by ``A⁻¹``).
    """

    def __init__(self, res=32, channels=3, z_dim=6, k=12, max_freq=0.2, stuck=0.0,
                 wrong_way=False, seed=0):  # fmt: skip
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.res, self.img_channels, self.z_dim, self.c_dim, self.w_dim = (
            res,
            channels,
            z_dim,
            0,
            z_dim,
        )
        f, ph = _waves(gen, k, max_freq * res)
        fs, phs = _waves(gen, k, max_freq * res)
        self.register_buffer("freqs", f)
        self.register_buffer("phases", ph)
        self.register_buffer("stuck_freqs", fs)
        self.register_buffer("stuck_phases", phs)
        self.register_buffer("mix", torch.randn(channels, k, generator=gen, dtype=torch.float64))
        self.register_buffer("proj", torch.randn(z_dim, k, generator=gen, dtype=torch.float64))
        self.stuck, self.wrong_way, self.k = stuck, wrong_way, k
        self.mapping = lambda z, c=None, psi=1.0, **kw: z[:, None, :]
        self.synthesis = _Synthesis(self)

    def _grid(self, rate, size):
        c = (torch.arange(size, dtype=torch.float64) + 0.5) / rate - size / (2 * rate)
        y, x = torch.meshgrid(c, c, indexing="ij")
        return x, y

    def _field(self, z, x, y, freqs, phases, gain):
        arg = 2 * math.pi * (freqs[:, 0, None, None] * x + freqs[:, 1, None, None] * y)
        ph = phases[None, :] + z.to(torch.float64) @ self.proj  # [N, k]
        w = torch.cos(arg[None] + ph[:, :, None, None])  # [N, k, H, W]
        return gain * torch.einsum("ck,nkhw->nchw", self.mix, w) / math.sqrt(self.k) / 3

    def _sample(self, z, A, rate, size, stuck):
        # A: [3, 3] or one matrix per sample, [N, 3, 3] (as the generators take it).
        A = A.to(torch.float64).expand(z.shape[0], 3, 3)
        return torch.cat([self._sample_one(z[i : i + 1], A[i], rate, size, stuck)
                          for i in range(z.shape[0])])  # fmt: skip

    def _sample_one(self, z, A, rate, size, stuck):
        x, y = self._grid(rate, size)
        M = A if self.wrong_way else torch.linalg.inv(A)
        qx = M[0, 0] * x + M[0, 1] * y + M[0, 2]
        qy = M[1, 0] * x + M[1, 1] * y + M[1, 2]
        img = self._field(z, qx, qy, self.freqs, self.phases, 1.0)
        if stuck:
            img = img + self._field(z * 0, x, y, self.stuck_freqs, self.stuck_phases, stuck)
        return img.float()

    def render(self, z, transform, return_features):
        A = torch.eye(3) if transform is None else transform.cpu()
        img = self._sample(z, A, self.res, self.res, self.stuck)
        if not return_features:
            return img
        feats = {
            "L0_fine": self._sample(z, A, self.res, self.res + 8, 0.0),
            "L1_stuck": self._sample(z, A, self.res, self.res, 1.0),
        }
        return img, feats

    def forward(self, z, c=None, *, psi=1.0, transform=None, return_features=False,
                noise_mode="const"):  # fmt: skip
        return self.synthesis(self.mapping(z, c, psi), transform, return_features, noise_mode)


def _cosine_image(n, fmax=0.2, seed=3, dx=0.0, dy=0.0, angle=0.0):
    """Band-limited test image (sum of cosines, cycles per pixel) with content moved by
    ``(dx, dy)`` pixels or turned by ``angle`` (counter-clockwise as displayed) about the
    centre; analytic: ``image(R⁻¹ p)`` with ``R⁻¹ = [[cos, −sin], [sin, cos]]``, y down."""
    gen = torch.Generator().manual_seed(seed)
    f, ph = _waves(gen, 10, fmax)
    c = torch.arange(n, dtype=torch.float64) + 0.5 - n / 2
    y, x = torch.meshgrid(c, c, indexing="ij")
    cs, sn = math.cos(angle), math.sin(angle)
    qx, qy = cs * x - sn * y - dx, sn * x + cs * y - dy
    arg = 2 * math.pi * (f[:, 0, None, None] * qx + f[:, 1, None, None] * qy) + ph[:, None, None]
    return (torch.cos(arg).sum(0) / math.sqrt(10) / 3)[None, None]


# --- PSNR --------------------------------------------------------------------------------------


def test_psnr_formula_and_infinity():
    assert psnr(0.0, 100) == math.inf
    assert psnr(0.0, 100, cap=100.0) == 100.0
    # MSE 1e-2, peak-to-peak 2: 20·log10(2) + 20.
    assert psnr(1.0, 100) == pytest.approx(20 * math.log10(2) + 20)
    assert psnr(1.0, 100, peak_to_peak=1.0) == pytest.approx(20.0)
    assert psnr(1.0, 100, cap=10.0) == 10.0
    assert format_db(math.inf) == "∞"
    assert format_db(12.3456) == "12.35"


@pytest.mark.parametrize(
    "args", [(-1.0, 10), (1.0, 0), (float("nan"), 10), (1.0, 10, 0.0), (1.0, 10, 2.0, math.nan)]
)
def test_psnr_rejects_bad_input(args):
    with pytest.raises(ValueError):
        psnr(*args)


# --- reference resamplers ----------------------------------------------------------------------


@given(dx=st.integers(-12, 12), dy=st.integers(-12, 12))
def test_shift_integer_matches_loops(dx, dy):
    img = torch.arange(2 * 10 * 9, dtype=torch.float64).reshape(1, 2, 10, 9) + 1
    out, mask = shift_integer(img, dx, dy)
    for i in range(10):
        for j in range(9):
            si, sj = i - dy, j - dx
            inside = 0 <= si < 10 and 0 <= sj < 9
            assert bool(mask[i, j]) == inside
            want = img[0, :, si, sj] if inside else torch.zeros(2, dtype=torch.float64)
            assert torch.equal(out[0, :, i, j], want)


@settings(max_examples=15)
@given(dx=st.integers(-5, 5), dy=st.integers(-5, 5))
def test_fractional_shift_by_whole_pixels_is_the_integer_shift(dx, dy):
    img = torch.randn(2, 1, 12, 12, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    a, ma = shift_fractional(img, float(dx), float(dy))
    b, mb = shift_integer(img, dx, dy)
    assert torch.equal(ma, mb)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-15)


def test_lanczos_weights_formula():
    taps = dict(lanczos_weights(0.3))
    assert sorted(taps) == [-2, -1, 0, 1, 2, 3]
    raw = {m: math.sin(math.pi * (m - 0.3)) * math.sin(math.pi * (m - 0.3) / 3)
           / ((math.pi * (m - 0.3)) ** 2 / 3) for m in taps}  # fmt: skip
    total = sum(raw.values())
    for m in taps:
        assert taps[m] == pytest.approx(raw[m] / total, rel=1e-12)


@pytest.mark.parametrize("frac", [5e-324, 2.2e-308, 1e-300])
def test_lanczos_weights_at_subnormal_fractions(frac):
    # Regression (found by hypothesis): x / a underflowed to 0 and sinc divided by zero. A
    # shift this small is no shift: the single tap of frac = 0.
    assert lanczos_weights(frac) == lanczos_weights(0.0) == [(0, 1.0)]
    img = _cosine_image(16)
    out, _ = shift_fractional(img, 0.0, frac)
    torch.testing.assert_close(out, img, rtol=0, atol=1e-15)


@settings(max_examples=15)
@given(tx=st.floats(-6, 6), ty=st.floats(-6, 6))
def test_fractional_shift_against_analytic_signal(tx, ty):
    img = _cosine_image(40)
    want = _cosine_image(40, dx=tx, dy=ty)
    out, mask = shift_fractional(img, tx, ty)
    assert mask.sum() > 0
    err = (out - want)[..., mask]
    # Measured ≈ 58 dB for content up to 0.2 cycles/pixel.
    assert psnr(float(err.square().sum()), err.numel()) > 50.0


def test_rotation_by_quarter_turn_is_rot90():
    # A quarter turn samples the ×4 grid exactly, and the jinc filter commutes with it, so the
    # reference must equal the band limit of torch's exact rot90 (k=1: counter-clockwise as
    # displayed, like np.rot90).
    img = torch.randn(1, 2, 24, 24, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    out, mask = rotate_bandlimited(img, math.pi / 2)
    want, wmask = bandlimit(torch.rot90(img, k=1, dims=(-2, -1)))
    assert torch.equal(mask, wmask) and mask.sum() > 0
    torch.testing.assert_close(out[..., mask], want[..., mask], rtol=0, atol=1e-12)
    wrong, _ = bandlimit(torch.rot90(img, k=-1, dims=(-2, -1)))
    assert (out - wrong)[..., mask].abs().max() > 0.1


@pytest.mark.parametrize("angle", [0.3, -1.1, 2.9])
def test_rotation_against_analytic_signal(angle):
    n = 48
    out, mask = rotate_bandlimited(_cosine_image(n), angle)
    want, wmask = bandlimit(_cosine_image(n, angle=angle))
    m = mask & wmask
    assert m.sum() > 100
    err = (out - want)[..., m]
    # Measured ≈ 73–74 dB (bicubic at the ×4 rate is the limit).
    assert psnr(float(err.square().sum()), err.numel()) > 60.0


@pytest.mark.parametrize("angle", [0.0, 0.2, math.pi / 4, -2.5])
def test_masks_exclude_exactly_what_sees_the_border(angle):
    # A crop of a larger image has the same content about the same centre: wherever a mask says
    # "valid", the crop's result must equal the larger image's (no zero padding reached).
    big = torch.randn(1, 1, 64, 64, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    small = big[..., 16:48, 16:48]
    for fn in (
        lambda x: rotate_bandlimited(x, angle),
        lambda x: shift_fractional(x, 3.3 * math.cos(angle), -2.2),
        lambda x: shift_integer(x, 3, -2),
        bandlimit,
    ):
        out_s, mask = fn(small)
        out_b, _ = fn(big)
        assert mask.sum() > 50
        torch.testing.assert_close(
            out_s[..., mask], out_b[..., 16:48, 16:48][..., mask], rtol=0, atol=1e-12
        )
    m0 = rotate_bandlimited(small, 0.0)[1]
    m45 = rotate_bandlimited(small, math.pi / 4)[1]
    assert m0[7, 7] and not m45[7, 7]  # corners are lost when turning


@pytest.mark.parametrize(
    "call",
    [
        lambda: shift_integer(torch.zeros(3, 3), 1, 1),
        lambda: shift_integer(torch.zeros(1, 1, 3, 3), 0.5, 1),
        lambda: shift_fractional(torch.zeros(1, 1, 3, 3), math.nan, 0.0),
        lambda: rotate_bandlimited(torch.zeros(1, 1, 8, 9), 0.1),
        lambda: rotate_bandlimited(torch.zeros(1, 1, 8, 8), math.inf),
        lambda: rotate_bandlimited(torch.zeros(1, 1, 8, 8), 0.1, mode="nearest"),
        lambda: shift_integer([[1.0]], 0, 0),
    ],
)
def test_resamplers_reject_bad_input(call):
    with pytest.raises(ValueError):
        call()


# --- the metrics on synthetic generators -------------------------------------------------------


def test_metrics_on_exactly_equivariant_generator():
    G = WaveGenerator()
    t = eq_t(G, 8, batch=2, seed=1)
    tf = eq_t_frac(G, 8, batch=2, seed=1)
    r = eq_r(G, 8, batch=2, seed=1)
    assert isinstance(t, EquivarianceResult) and t.num_samples == 8 and len(t.batch_psnr_db) == 4
    # Integer shifts: identical up to float32 rounding of the rendered cosines (measured: inf).
    assert t.psnr_db > 100.0
    # Measured: EQ-T_frac ≈ 66 dB, EQ-R ≈ 68 dB (the references' own error).
    assert tf.psnr_db > 55.0
    assert r.psnr_db > 55.0
    assert tf.to_dict()["metric"] == "eqt_frac" and tf.num_values > 0


def test_metrics_detect_content_stuck_to_the_grid():
    G = WaveGenerator(stuck=1.0)
    # Measured ≈ 22, 21 and 17.5 dB.
    for res in (eq_t(G, 4, batch=2), eq_t_frac(G, 4, batch=2), eq_r(G, 4, batch=2)):
        assert res.psnr_db < 25.0


def test_metrics_check_the_direction():
    good, bad = WaveGenerator(), WaveGenerator(wrong_way=True)
    for metric in ("eqt", "eqt_frac", "eqr"):
        hi = measure(good, metric, 4, batch=1, seed=5).psnr_db
        lo = measure(bad, metric, 4, batch=1, seed=5).psnr_db
        # Measured: hi ≥ 62 dB (inf for eqt), lo ≈ 17 dB.
        assert hi > 40.0 and lo < 30.0, (metric, hi, lo)


def test_identical_images_give_infinity():
    # A generator that ignores the transform is "equivariant" only to the identity: with the
    # smallest allowed shift rounding to zero pixels, y2 == y1 exactly.
    class Constant(WaveGenerator):
        def render(self, z, transform, return_features):
            return super().render(z, None, return_features)

    res = measure(Constant(), "eqt", 3, max_shift=1e-3, batch=3)
    assert res.psnr_db == math.inf and res.mse == 0.0
    assert res.to_dict()["psnr_db"] == "inf"


def test_translation_matches_the_generator_transform():
    # The metric's sign: y2 = G(z, translate(t)) equals y1 shifted by +t·res pixels.
    G = WaveGenerator()
    z = torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(0))
    y1 = G(z)
    y2 = G(z, transform=translate(3 / 32, -2 / 32))
    ref, mask = shift_integer(y1, 3, -2)
    torch.testing.assert_close(y2[..., mask], ref[..., mask], rtol=0, atol=1e-6)
    y3 = G(z, transform=rotate(math.pi / 2))
    ref3, m3 = rotate_bandlimited(y1.double(), math.pi / 2)
    bl3, b3 = bandlimit(y3.double())
    err = (ref3 - bl3)[..., m3 & b3]
    assert err.abs().max() < 1e-5


def test_per_layer_equivariance():
    G = WaveGenerator()
    fine = eq_t_frac(G, 4, batch=2, layer="L0_fine")
    stuck = eq_t_frac(G, 4, batch=2, layer="L1_stuck")
    assert fine.layer == "L0_fine"
    # Normalised by the map's mean square: the fine map scores high (measured ≈ 49 dB), the stuck
    # one has an error of the order of the signal (measured ≈ 9 dB).
    assert fine.psnr_db > 42.0
    assert stuck.psnr_db < 15.0
    assert eq_r(G, 2, batch=2, layer="L0_fine").psnr_db > 50.0  # measured ≈ 61
    assert eq_t(G, 2, batch=2, layer="L0_fine").psnr_db > 100.0
    with pytest.raises(ValueError, match="layer"):
        eq_t(G, 2, layer="nope")


def test_eqt_refuses_a_map_too_coarse_for_any_whole_sample_shift():
    # At most half a sample of shift: every draw rounds to 0, the map was compared with itself
    # and EQ-T read +inf (a 4-sample layer at the default max_shift of 1/8 did).
    G = WaveGenerator()
    with pytest.raises(ValueError, match="eqt: max_shift.*rounds to 0.*eqt_frac"):
        eq_t(G, 2, batch=2, layer="L0_fine", max_shift=0.5 / G.res)
    assert math.isfinite(eq_t_frac(G, 2, batch=2, layer="L0_fine", max_shift=0.5 / G.res).psnr_db)


class _JunkMargin(WaveGenerator):
    """One exactly equivariant map, "L0_wide": res + 40 samples at rate res (a 20-sample margin
    each side), whose outer 4 samples are noise stuck to the grid, as zero padding leaves the
    outer margin of a real generator's maps. The references never read that band for pixels
    on the image (shift ≤ 4 + Lanczos 3; rotation ≤ 16·√2 + 7.7 < 32 from the centre)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.synthesis.layer_specs = (_Spec("L0_wide", self.res, self.res + 40),)

    def render(self, z, transform, return_features):
        img = super().render(z, transform, False)
        if not return_features:
            return img
        A = torch.eye(3) if transform is None else transform.cpu()
        x = self._sample(z, A, self.res, self.res + 40, 0.0)
        junk = torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
        inner = torch.zeros(x.shape[-2:], dtype=torch.bool)
        inner[4:-4, 4:-4] = True
        return img, {"L0_wide": torch.where(inner, x, junk)}


def test_per_layer_metrics_compare_only_the_image_area_of_a_map():
    # REFERENCE §3, §5: a feature map's margin (samples outside [-0.5, 0.5]²) is scratch space
    # cropped before the image; only the samples on the image are valid. Measured before the
    # fix, with the margin compared: EQ-T ≈ 4 dB, EQ-T_frac ≈ 4 dB, EQ-R ≈ 45 dB.
    G = _JunkMargin()
    assert eq_t(G, 2, batch=2, layer="L0_wide").psnr_db > 100.0
    assert eq_t_frac(G, 4, batch=2, layer="L0_wide").psnr_db > 42.0
    assert eq_r(G, 2, batch=2, layer="L0_wide").psnr_db > 50.0
    # Every compared value lies on the image: res² pixels per channel and sample at most.
    res = eq_t(G, 2, batch=2, layer="L0_wide")
    assert 0 < res.num_values <= 2 * 3 * G.res**2


def test_per_layer_metrics_of_the_alias_free_generator_ignore_its_margin():
    # The first layer of config T at 32 px: rate 16, 36 samples (margin 10), zero padding in the
    # margin. Measured: 145 dB on the image area; ≈ 25 dB when the margin was compared too.
    from gan.networks.presets import build_generator

    G = build_generator("t-tiny", res=32, seed=1).eval()
    spec = G.synthesis.layer_specs[0]
    assert (spec.out_rate, spec.out_size) == (16, 36)
    assert eq_t(G, 2, batch=2, seed=1, layer=spec.name).psnr_db > 100.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"metric": "eqx"},
        {"num_samples": 0},
        {"batch": 0},
        {"max_shift": 0.0},
        {"max_shift": 0.6},
        {"max_angle": 4.0},
        {"seed": -1},
        {"layer": 3},
        {"device": "nonsense"},
    ],
)
def test_measure_rejects_bad_arguments(kwargs):
    args = {"metric": "eqt", "num_samples": 2} | kwargs
    with pytest.raises(ValueError):
        measure(WaveGenerator(res=16), args.pop("metric"), args.pop("num_samples"), **args)


def test_progress_bar_runs(capsys):
    res = eq_t(WaveGenerator(res=16), 2, batch=1, progress=True)
    assert res.num_samples == 2
    assert "eqt" in capsys.readouterr().err


class _SelfShifted(WaveGenerator):
    """y2 is y1 moved by the metrics' own reference resamplers (smoothed random content)."""

    def render(self, z, transform, return_features):
        gen = torch.Generator().manual_seed(int(z[0, 0].abs() * 1e6))
        base = torch.randn(z.shape[0], 3, self.res, self.res, generator=gen, dtype=torch.float64)
        base = torch.nn.functional.avg_pool2d(base, 3, stride=1, padding=1)  # tame the top band
        A = torch.eye(3, dtype=torch.float64) if transform is None else transform.double().cpu()
        A = A.expand(z.shape[0], 3, 3)  # one matrix per sample
        outs = []
        for i, a in enumerate(A):
            x = base[i : i + 1]
            if abs(a[0, 1]) > 0:
                # rotate(θ) = [[cos θ, sin θ], [−sin θ, cos θ]] (counter-clockwise as displayed).
                out, _ = rotate_bandlimited(x, math.atan2(float(a[0, 1]), float(a[0, 0])))
            else:
                out, _ = shift_fractional(x, float(a[0, 2]) * self.res, float(a[1, 2]) * self.res)
            outs.append(out)
        return torch.cat(outs).float()


def test_image_moved_by_the_metrics_own_resampler_scores_high():
    G = _SelfShifted(res=32)
    # Translations: y2 is exactly the reference, up to float32 rounding of the output.
    assert eq_t(G, 4, batch=2).psnr_db > 120.0
    assert eq_t_frac(G, 4, batch=2).psnr_db > 120.0
    # Rotation: y2 gets the band limit once more, which the content feels between 0.25 and
    # 0.5 cycles/pixel (measured ≈ 38 dB; turning the wrong way measured ≈ 13 dB).
    assert eq_r(G, 4, batch=2).psnr_db > 30.0


@pytest.mark.parametrize("metric", ["eqt", "eqt_frac", "eqr"])
def test_result_does_not_depend_on_the_batch_size(metric):
    # Each latent has its own transform, drawn from its own stream: batch 4 gave 80.7 dB and
    # batch 8 gave 100.6 dB for the same seed when one transform was drawn per batch from the
    # latents' stream.
    G = WaveGenerator(res=32, stuck=0.3)
    results = [measure(G, metric, 6, batch=b, seed=5) for b in (1, 4, 6)]
    assert math.isfinite(results[0].psnr_db)
    for r in results[1:]:
        assert r.psnr_db == pytest.approx(results[0].psnr_db, rel=1e-9)
        assert r.num_values == results[0].num_values
    # Another seed draws other latents and transforms.
    assert measure(G, metric, 6, batch=6, seed=6).psnr_db != pytest.approx(results[0].psnr_db)


# --- mutation-testing additions ----------------------------------------------------------------


class _Recording(WaveGenerator):
    """Records every non-identity transform it is asked to render."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.seen = []

    def render(self, z, transform, return_features):
        if transform is not None:
            A = transform.double().cpu().expand(z.shape[0], 3, 3)
            self.seen += [a for a in A if not torch.equal(a, torch.eye(3, dtype=torch.float64))]
        return super().render(z, transform, return_features)


def test_rotation_angles_are_radians_within_max_angle(monkeypatch):
    # angle ~ U[−max_angle, max_angle] radians (REFERENCE §5). An exactly equivariant generator
    # scores the same at any angle, so only the transforms G receives can show a wrong range
    # or unit (degrees; or a range that does not follow max_angle). The (slow) references are
    # stubbed out: only the drawn transforms matter here.
    import gan.metrics.equivariance as eqm

    def keep(img, *args, **kw):
        return img, torch.ones(img.shape[-2:], dtype=torch.bool)

    monkeypatch.setattr(eqm, "rotate_bandlimited", keep)
    monkeypatch.setattr(eqm, "bandlimit", keep)
    G = _Recording()
    measure(G, "eqr", 16, max_angle=0.3, batch=8, seed=2)
    assert len(G.seen) == 16
    angles = torch.tensor([math.atan2(float(a[0, 1]), float(a[0, 0])) for a in G.seen])
    for a, angle in zip(G.seen, angles, strict=True):
        torch.testing.assert_close(a, rotate(float(angle), dtype=torch.float64), atol=1e-7, rtol=0)
    assert angles.abs().max() <= 0.3 and angles.abs().max() > 0.2
    assert angles.min() < 0 < angles.max()


@pytest.mark.parametrize("metric", ["eqt", "eqt_frac"])
def test_translations_are_within_max_shift(metric):
    # t ~ U[−max_shift, max_shift]² image widths; EQ-T rounds t·res to whole pixels.
    G = _Recording(res=32)
    measure(G, metric, 16, max_shift=0.3, batch=8, seed=3)
    t = torch.stack([a[:2, 2] for a in G.seen])
    assert len(G.seen) >= 15 and all(torch.equal(a[:2, :2], torch.eye(2).double()) for a in G.seen)
    assert t.abs().max() <= 0.3 + 0.5 / 32 and t.abs().max() > 0.2
    assert (t[:, 0] - t[:, 1]).abs().max() > 0  # x and y drawn apart
    if metric == "eqt":
        torch.testing.assert_close(t * 32, (t * 32).round(), atol=1e-5, rtol=0)
    else:
        assert ((t * 32) - (t * 32).round()).abs().max() > 0.1


class _ConstantPlusError(WaveGenerator):
    """Every image and map is the constant ``a`` (exactly equivariant), plus ``delta`` when
    rendered with a non-identity transform: each compared value is off by exactly delta."""

    def __init__(self, a, delta, **kw):
        super().__init__(**kw)
        self.a, self.delta = a, delta

    def render(self, z, transform, return_features):
        img, feats = super().render(z, transform, True)
        moved = transform is not None and not torch.equal(transform, torch.eye(3))
        v = self.a + (self.delta if moved else 0.0)
        img = torch.full_like(img, v)
        return (
            (img, {k: torch.full_like(f, v) for k, f in feats.items()}) if return_features else img
        )


def test_image_psnr_of_a_known_error_is_exact():
    # MSE = delta² per value (channels counted), PSNR = 20·log10(2) − 10·log10(delta²), every
    # batch alike.
    delta = 0.1
    res = measure(_ConstantPlusError(0.3, delta), "eqt", 6, batch=4, seed=4)
    assert res.mse == pytest.approx(delta**2, rel=1e-5)
    assert res.psnr_db == pytest.approx(20 * math.log10(2) - 10 * math.log10(delta**2), rel=1e-5)
    assert all(v == pytest.approx(res.psnr_db, rel=1e-5) for v in res.batch_psnr_db)
    # num_values = masked pixels × 3 channels: a multiple of 3, at most 6 · 3 · 32².
    assert res.num_values % 3 == 0 and 0.5 * 6 * 3 * 32**2 < res.num_values <= 6 * 3 * 32**2


@pytest.mark.parametrize("metric", ["eqt", "eqt_frac"])
def test_layer_mse_is_relative_to_the_maps_mean_square(metric):
    # A feature map: mse = Σ mask·(y2 − ref)² / Σ mask·y2² = delta² / (a + delta)² here, and
    # psnr_db = 20·log10(2) − 10·log10(mse); compared on the image area only (32² of the
    # 40² samples of L0_fine per channel and sample).
    a, delta = 0.3, 0.05
    res = measure(_ConstantPlusError(a, delta), metric, 2, batch=2, seed=4, layer="L0_fine")
    want = delta**2 / (a + delta) ** 2
    assert res.mse == pytest.approx(want, rel=1e-5)
    assert res.psnr_db == pytest.approx(20 * math.log10(2) - 10 * math.log10(want), rel=1e-5)
    assert 0 < res.num_values <= 2 * 3 * 32**2
