"""Adaptive discriminator augmentation (ADA; Karras et al. 2020, "Training Generative Adversarial
Networks with Limited Data").

:class:`AugmentPipe` transforms a batch of images in ``[-1, 1]`` with a random chain of
geometric and colour transforms, each applied to each sample independently with probability
``p`` (times a per-transform weight). Every transform is differentiable with respect to the
images, so the generator is trained through the augmentation of its fakes.
:class:`AdaController` steers ``p`` with the overfitting heuristic
``r_t = E[sign(D(real))]`` towards a target (REFERENCE §6 lists the other hyperparameters).

The chain, in order:

1. *Pixel blitting* (exact, a per-sample gather of pixels): x-flip, rotation by a multiple of
   90°, integer translation by up to ``xint_max`` of the image size with wrap-around. Each is a
   permutation of the pixels, so nothing is interpolated and nothing is lost.
2. *General geometric* transforms: isotropic scaling ``2^(N(0, scale_std²))``, anisotropic
   scaling ``2^(N(0, aniso_std²))`` along x (inverse along y), rotation by
   ``U(−π, π)·rotate_max``, fractional translation ``N(0, xfrac_std²)`` of the image size.
   They are composed into one affine matrix per sample and applied by :func:`resample_affine`,
   which is band-limited like ADA's own geometric path: mirror-extend (reflection about the
   first and last pixel centres, so content from outside the frame is mirrored, never black or
   repeated), upsample ×2 through ``gan.ops.upfirdn2d`` with a Kaiser low-pass designed in
   ``dsp`` (cutoff at the input Nyquist, 0.5 cycles/pixel, transition band 0.25–0.75
   cycles/pixel, 16 taps: ≥ 61 dB stopband), sample the ×2 image bilinearly at the
   transformed ×2 output grid (``grid_sample``), low-pass with the same filter and decimate
   ×2. The ×2 oversampling keeps the bilinear interpolation's own error and its spectral
   images far from the baseband, and the final low-pass keeps zoomed-in content from
   aliasing. Samples whose matrix is the identity skip this path and keep their pixels
   exactly.
3. *Colour* transforms, one 4×4 affine colour matrix per sample acting on RGB: brightness
   (add ``N(0, brightness_std²)``), contrast (scale by ``2^(N(0, contrast_std²))`` about
   mid-grey 0), luma flip (with probability ½ reflect each pixel's component along the grey
   axis ``v = (1, 1, 1)/√3``: ``x − 2·v vᵀx``, i.e. subtract twice the channel mean), hue
   rotation by ``U(−π, π)·hue_max`` about the grey axis, saturation (scale the part orthogonal
   to the grey axis by ``2^(N(0, saturation_std²))``). Hue rotation and saturation leave each
   pixel's *luma* — here the projection onto the grey axis, i.e. the mean of the three
   channels, not Rec. 601 luma, whose unequal weights no rotation about the grey axis keeps —
   unchanged; the luma flip negates it and keeps the chroma. Images with other than 3 channels
   get brightness, contrast and the luma flip (which negates them: each is its own grey axis),
   as ADA treats grayscale.

Differences from the ADA paper's pipeline, all deliberate: integer translation wraps around
(an exact permutation; ADA mirrors, which duplicates border pixels), arbitrary rotation is
drawn once per sample with probability ``p`` (ADA splits it around the anisotropic scaling),
and the band-limiting filter is a ``dsp`` Kaiser design rather than a wavelet.

Every random number comes from the ``generator`` passed to :meth:`AugmentPipe.forward` (or
the global torch RNG), so a seeded generator makes the augmentation reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dsp._checks import check_int, check_real
from gan.ops.filters import lowpass_filter
from gan.ops.upfirdn2d import upfirdn2d

__all__ = ["AugmentPipe", "AdaController", "resample_affine", "colour_matrix", "TRANSFORMS"]

#: Names of the transforms (the weights accepted by :class:`AugmentPipe`), in chain order.
TRANSFORMS = (
    "xflip",
    "rotate90",
    "xint",
    "scale",
    "rotate",
    "aniso",
    "xfrac",
    "brightness",
    "contrast",
    "lumaflip",
    "hue",
    "saturation",
)

# Band-limiting filter of the general geometric path, designed on the ×2 grid (fs = 2 samples
# per input pixel). An even tap count puts the decimated samples exactly on the input pixel
# centres (see resample_affine).
_NUMTAPS = 16
_CUTOFF = 0.5
_HALF_WIDTH = 0.25
_FS = 2.0


def _check_images(images: object) -> torch.Tensor:
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"images must be a torch tensor, got {type(images).__name__}")
    if images.ndim != 4:
        raise ValueError(f"images must have rank 4 [N, C, H, W], got shape {tuple(images.shape)}")
    if not images.dtype.is_floating_point:
        raise ValueError(f"images must be floating point, got {images.dtype}")
    if images.shape[2] < 2 or images.shape[3] < 2:
        raise ValueError(f"images must be at least 2×2, got shape {tuple(images.shape)}")
    return images


def _reflect_pad(x: torch.Tensor, pad: int) -> torch.Tensor:
    # F.pad's reflect mode needs pad < size; repeating it continues the same mirror extension
    # (period 2·(size − 1)), so small images can be padded in steps.
    while pad > 0:
        step = min(pad, x.shape[2] - 1, x.shape[3] - 1)
        x = F.pad(x, [step] * 4, mode="reflect")
        pad -= step
    return x


def _band_filter(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    return lowpass_filter(
        _CUTOFF, half_width=_HALF_WIDTH, fs=_FS, numtaps=_NUMTAPS, device=device, dtype=dtype
    )


def resample_affine(images: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Apply one affine transform per sample with band-limited resampling.

    The output is ``y(q) = x(A⁻¹ q)``: the content moves by ``A``. Positions ``q`` are in
    pixels relative to the image centre, x to the right and y *down* (pixel ``(i, j)``'s centre
    is at ``(j + 0.5 − W/2, i + 0.5 − H/2)``), so the rotation matrix
    ``[[cos θ, sin θ], [−sin θ, cos θ]]`` turns the content by ``θ`` counter-clockwise as
    displayed (row 0 at the top, like ``np.rot90``), the project's one convention
    (``gan.networks.transform.rotate``).

    Method: extend ``x`` by mirroring about its first and last pixel centres (as ``F.pad``'s
    reflect mode, so sources outside the frame see mirrored content), upsample ×2 with the
    Kaiser low-pass (cutoff 0.5 cycles/pixel, transition 0.25–0.75 cycles/pixel, 16 taps, from
    ``dsp.filters.design_lowpass``) so that the ×2 samples sit at ``(k + ½)/2``, sample it
    bilinearly (``grid_sample``) at the transformed ×2 output grid extended by 7 samples per
    side, then low-pass with the same filter and keep every second sample (the extension makes
    the decimated samples land on the pixel centres without zero padding). The identity matrix
    therefore returns ``x`` low-passed twice: gain 1 within the filter's passband ripple
    (0.9975–1.0007 measured below 0.25 cycles/pixel), attenuated in the transition band, and
    off by up to a few percent at the border, where the mirror extension has a kink.

    Parameters
    ----------
    images : Tensor
        ``[N, C, H, W]`` floating point.
    matrix : Tensor
        ``[N, 3, 3]`` or ``[N, 2, 3]`` forward affine matrices ``A`` (pixel units, centre
        origin); only the first two rows are used.

    Returns
    -------
    Tensor
        ``[N, C, H, W]``, differentiable with respect to ``images``.
    """
    x = _check_images(images)
    shape = tuple(matrix.shape) if isinstance(matrix, torch.Tensor) else ()
    if len(shape) != 3 or shape[1:] not in ((3, 3), (2, 3)):
        raise ValueError("matrix must be a tensor [N, 3, 3] or [N, 2, 3]")
    n, _, h, w = x.shape
    if matrix.shape[0] != n:
        raise ValueError(f"matrix must have {n} rows (one per image), got {matrix.shape[0]}")
    if not torch.isfinite(matrix).all():
        raise ValueError("matrix must be finite (no NaN or infinity)")
    work = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    dev, dt = work.device, work.dtype
    a = torch.eye(3, dtype=torch.float64, device=dev).repeat(n, 1, 1)
    a[:, :2, :] = matrix[:, :2, :].to(dev, torch.float64)
    a_inv = torch.linalg.inv(a)

    # The ×2 output grid, extended by ext samples per side for the decimation filter.
    ext = _NUMTAPS // 2 - 1
    jx = torch.arange(-ext, 2 * w + ext, device=dev, dtype=torch.float64)
    jy = torch.arange(-ext, 2 * h + ext, device=dev, dtype=torch.float64)
    qx = (jx + 0.5) / 2 - w / 2
    qy = (jy + 0.5) / 2 - h / 2
    gy, gx = torch.meshgrid(qy, qx, indexing="ij")
    q = torch.stack([gx, gy, torch.ones_like(gx)], dim=-1)  # [Hq, Wq, 3]
    src = torch.einsum("nij,hwj->nhwi", a_inv, q)[..., :2]  # centre-relative source, pixels
    sx = src[..., 0] + w / 2  # absolute: pixel j spans [j, j + 1)
    sy = src[..., 1] + h / 2

    # Mirror-extend x by the upsampling filter's reach, upsample ×2 (sample k of the result sits
    # at (k + ½)/2 − pad input pixels: the symmetric filter's centre is at (taps − 1)/2, padding
    # taps/2 before), and keep the samples inside [½, size − ½], i.e. between the centres of the
    # first and last pixels. Those are computed from real or mirrored pixels only (no zero
    # padding), and reflecting them about their outer edge — what grid_sample does with
    # align_corners=False — continues the same mirror extension of x (reflection about the
    # first/last pixel centres), so sources far outside the frame need no further padding.
    pad = _NUMTAPS // 4 + 1
    xp = _reflect_pad(work, pad)
    f = _band_filter(dev, dt)
    xu = upfirdn2d(xp, f, up=2, padding=[_NUMTAPS // 2, _NUMTAPS // 2 - 1] * 2, gain=4.0)
    first = 2 * pad + 1  # (k + ½)/2 − pad = ¾: the first ×2 sample right of ½
    xu = xu[:, :, first : first + 2 * h - 2, first : first + 2 * w - 2]  # up to size − ¾
    # grid_sample, align_corners=False: −1 and +1 are the outer edges of xu, i.e. input
    # positions ½ and size − ½.
    nx = 2.0 * (sx - 0.5) / (w - 1) - 1.0
    ny = 2.0 * (sy - 0.5) / (h - 1) - 1.0
    grid = torch.stack([nx, ny], dim=-1).to(dt)
    yu = F.grid_sample(xu, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    y = upfirdn2d(yu, f, down=2)
    return y.to(x.dtype)


def _rot2(theta: torch.Tensor) -> torch.Tensor:
    c, s = torch.cos(theta), torch.sin(theta)
    m = torch.eye(3, dtype=theta.dtype, device=theta.device).repeat(theta.shape[0], 1, 1)
    # Counter-clockwise as displayed (y points down), as gan.networks.transform.rotate.
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = c, s, -s, c
    return m


def _scale2(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    m = torch.eye(3, dtype=sx.dtype, device=sx.device).repeat(sx.shape[0], 1, 1)
    m[:, 0, 0], m[:, 1, 1] = sx, sy
    return m


def _translate2(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    m = torch.eye(3, dtype=tx.dtype, device=tx.device).repeat(tx.shape[0], 1, 1)
    m[:, 0, 2], m[:, 1, 2] = tx, ty
    return m


class AugmentPipe(nn.Module):
    """ADA augmentation pipeline (see the module docstring for the chain and its band limit).

    Each transform ``t`` is applied to each sample independently with probability
    ``min(1, p · weight_t)``; ``p`` is the buffer :attr:`p` (a 0-dim float tensor, saved with the
    module's state and steered by :class:`AdaController`). ``p = 0`` returns the input itself.

    Parameters
    ----------
    xflip, rotate90, xint, scale, rotate, aniso, xfrac, brightness, contrast, lumaflip, hue, \
saturation
        Non-negative probability weights (0 disables a transform). All default to 1: ADA's
        "bgc" pipeline (Karras et al. 2020, used by StyleGAN3), which enables anisotropic
        scaling, fractional translation and the luma flip too.
    xint_max : float
        Largest integer translation, fraction of the image size, in ``[0, 0.5]``.
    scale_std, aniso_std : float
        Standard deviation of the log2 scale factor.
    rotate_max : float
        Largest arbitrary rotation, fraction of π, in ``[0, 1]``.
    xfrac_std : float
        Standard deviation of the fractional translation, fraction of the image size.
    brightness_std : float
        Standard deviation of the added brightness (images in ``[-1, 1]``).
    contrast_std, saturation_std : float
        Standard deviation of the log2 contrast / saturation factor.
    hue_max : float
        Largest hue rotation, fraction of π, in ``[0, 1]``.
    p : float
        Initial probability, in ``[0, 1]``.
    """

    def __init__(
        self,
        xflip: float = 1,
        rotate90: float = 1,
        xint: float = 1,
        scale: float = 1,
        rotate: float = 1,
        brightness: float = 1,
        contrast: float = 1,
        saturation: float = 1,
        hue: float = 1,
        xint_max: float = 0.125,
        scale_std: float = 0.2,
        rotate_max: float = 1.0,
        *,
        aniso: float = 1,
        xfrac: float = 1,
        lumaflip: float = 1,
        aniso_std: float = 0.2,
        xfrac_std: float = 0.125,
        brightness_std: float = 0.2,
        contrast_std: float = 0.5,
        saturation_std: float = 1.0,
        hue_max: float = 1.0,
        p: float = 0.0,
    ) -> None:
        super().__init__()
        weights = {
            "xflip": xflip,
            "rotate90": rotate90,
            "xint": xint,
            "scale": scale,
            "rotate": rotate,
            "aniso": aniso,
            "xfrac": xfrac,
            "brightness": brightness,
            "contrast": contrast,
            "lumaflip": lumaflip,
            "hue": hue,
            "saturation": saturation,
        }
        self.weights = {k: check_real(k, v, low=0.0) for k, v in weights.items()}
        self.xint_max = check_real("xint_max", xint_max, low=0.0, high=0.5)
        self.scale_std = check_real("scale_std", scale_std, low=0.0)
        self.aniso_std = check_real("aniso_std", aniso_std, low=0.0)
        self.rotate_max = check_real("rotate_max", rotate_max, low=0.0, high=1.0)
        self.xfrac_std = check_real("xfrac_std", xfrac_std, low=0.0)
        self.brightness_std = check_real("brightness_std", brightness_std, low=0.0)
        self.contrast_std = check_real("contrast_std", contrast_std, low=0.0)
        self.saturation_std = check_real("saturation_std", saturation_std, low=0.0)
        self.hue_max = check_real("hue_max", hue_max, low=0.0, high=1.0)
        self.register_buffer("p", torch.tensor(check_real("p", p, low=0.0, high=1.0)))

    def extra_repr(self) -> str:
        on = ", ".join(f"{k}={v:g}" for k, v in self.weights.items() if v > 0)
        return f"{on}, p={float(self.p):.4f}"

    def _mask(self, name: str, p: float, n: int, gen: torch.Generator | None, dev) -> torch.Tensor:
        prob = min(1.0, p * self.weights[name])
        return _rand(n, gen, dev) < prob

    def forward(
        self, images: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Augment ``images`` (``[N, C, H, W]`` float, nominally in ``[-1, 1]``).

        ``generator`` supplies every random number (draws happen on its device, then move to the
        images' device, so a CPU generator gives the same augmentation on any device); None uses
        the global RNG. Rotations by 90° need square images. Returns a new tensor of the same
        shape and dtype, differentiable with respect to ``images``; at ``p = 0``, ``images``
        itself.
        """
        x = _check_images(images)
        if self.weights["rotate90"] > 0 and x.shape[-2] != x.shape[-1]:
            # Before the p = 0 shortcut: the error must not wait until ADA raises p mid-run.
            raise ValueError(
                f"rotate90 needs square images, got {x.shape[-2]}×{x.shape[-1]}; set rotate90=0"
            )
        p = float(self.p)
        if p <= 0.0:
            return x
        x = self._blit(x, p, generator)
        x = self._geometric(x, p, generator)
        x = self._colour(x, p, generator)
        return x

    # -- pixel blitting: an exact per-sample permutation of the pixels ------------------------
    def _blit(self, x: torch.Tensor, p: float, gen: torch.Generator | None) -> torch.Tensor:
        n, c, h, w = x.shape
        dev = x.device
        flip = self._mask("xflip", p, n, gen, dev) & (_rand(n, gen, dev) < 0.5)
        k = torch.where(
            self._mask("rotate90", p, n, gen, dev),
            torch.floor(_rand(n, gen, dev) * 4).clamp(max=3).long(),
            torch.zeros(n, dtype=torch.long, device=dev),
        )
        use_t = self._mask("xint", p, n, gen, dev)
        tx = torch.round((_rand(n, gen, dev) * 2 - 1) * self.xint_max * w).long()
        ty = torch.round((_rand(n, gen, dev) * 2 - 1) * self.xint_max * h).long()
        tx, ty = tx * use_t, ty * use_t
        if not (flip.any() or (k != 0).any() or (tx != 0).any() or (ty != 0).any()):
            return x
        # Map each output pixel back to its source: undo translation (wrap), then the rotation
        # by k·90° (counter-clockwise as displayed, like np.rot90), then the flip.
        i = torch.arange(h, device=dev).view(1, h, 1)
        j = torch.arange(w, device=dev).view(1, 1, w)
        si = (i - ty.view(n, 1, 1)) % h
        sj = (j - tx.view(n, 1, 1)) % w
        si, sj = si.expand(n, h, w), sj.expand(n, h, w)
        kk = k.view(n, 1, 1)
        # np.rot90(k=1): output (i, j) comes from source (j, w − 1 − i).
        r1i, r1j = sj, w - 1 - si
        r2i, r2j = h - 1 - si, w - 1 - sj
        r3i, r3j = w - 1 - sj, si
        ri = torch.where(kk == 1, r1i, torch.where(kk == 2, r2i, torch.where(kk == 3, r3i, si)))
        rj = torch.where(kk == 1, r1j, torch.where(kk == 2, r2j, torch.where(kk == 3, r3j, sj)))
        rj = torch.where(flip.view(n, 1, 1), w - 1 - rj, rj)
        idx = (ri * w + rj).reshape(n, 1, h * w).expand(n, c, h * w)
        return x.reshape(n, c, h * w).gather(2, idx).reshape(n, c, h, w)

    # -- general geometric: one affine matrix per sample, band-limited resampling ---------------
    def _geometric(self, x: torch.Tensor, p: float, gen: torch.Generator | None) -> torch.Tensor:
        n, c, h, w = x.shape
        dev = x.device
        f64 = torch.float64
        one = torch.ones(n, dtype=f64, device=dev)
        zero = torch.zeros(n, dtype=f64, device=dev)
        s = torch.exp2(_randn(n, gen, dev) * self.scale_std)
        s = torch.where(self._mask("scale", p, n, gen, dev), s, one)
        theta = (_rand(n, gen, dev) * 2 - 1) * math.pi * self.rotate_max
        theta = torch.where(self._mask("rotate", p, n, gen, dev), theta, zero)
        a = torch.exp2(_randn(n, gen, dev) * self.aniso_std)
        a = torch.where(self._mask("aniso", p, n, gen, dev), a, one)
        use_t = self._mask("xfrac", p, n, gen, dev)
        tx = torch.where(use_t, _randn(n, gen, dev) * self.xfrac_std * w, zero)
        ty = torch.where(use_t, _randn(n, gen, dev) * self.xfrac_std * h, zero)
        # Content order: isotropic scale, anisotropic scale, rotation, translation.
        m = _translate2(tx, ty) @ _rot2(theta) @ _scale2(a, 1 / a) @ _scale2(s, s)
        eye = torch.eye(3, dtype=f64, device=dev)
        moved = (m != eye).flatten(1).any(dim=1)
        if not bool(moved.any()):
            return x
        sel = moved.nonzero().flatten()
        ys = resample_affine(x[sel], m[sel])
        return x.index_copy(0, sel, ys)

    # -- colour: one affine colour matrix per sample ------------------------------------------
    def _colour(self, x: torch.Tensor, p: float, gen: torch.Generator | None) -> torch.Tensor:
        n, c, h, w = x.shape
        dev = x.device
        f64 = torch.float64
        one = torch.ones(n, dtype=f64, device=dev)
        zero = torch.zeros(n, dtype=f64, device=dev)
        b = torch.where(
            self._mask("brightness", p, n, gen, dev),
            _randn(n, gen, dev) * self.brightness_std,
            zero,
        )
        k = torch.where(
            self._mask("contrast", p, n, gen, dev),
            torch.exp2(_randn(n, gen, dev) * self.contrast_std),
            one,
        )
        if self.weights["lumaflip"] > 0:
            flip = self._mask("lumaflip", p, n, gen, dev) & (_rand(n, gen, dev) < 0.5)
        else:  # no draws: the random stream of the pipeline before the flip existed
            flip = torch.zeros(n, dtype=torch.bool, device=dev)
        theta = torch.where(
            self._mask("hue", p, n, gen, dev),
            (_rand(n, gen, dev) * 2 - 1) * math.pi * self.hue_max,
            zero,
        )
        sat = torch.where(
            self._mask("saturation", p, n, gen, dev),
            torch.exp2(_randn(n, gen, dev) * self.saturation_std),
            one,
        )
        if c != 3:
            theta, sat = zero, one  # hue and saturation need three colour channels
        if not bool(((b != 0) | (k != 1) | flip | (theta != 0) | (sat != 1)).any()):
            return x
        mat = colour_matrix(b, k, theta, sat, lumaflip=flip)  # [N, 4, 4]
        if c == 3:
            lin = mat[:, :3, :3].to(x.dtype)
            off = mat[:, :3, 3].to(x.dtype)
            return torch.einsum("nij,njhw->nihw", lin, x) + off.view(n, 3, 1, 1)
        # Without hue and saturation the 3×3 block is k·(I − 2·v vᵀ·flip), whose rows all sum to
        # k·(1 − 2·flip): the gain a grey pixel (r = g = b) sees, applied to every channel (ADA's
        # grayscale rule); the offset is the same on the three rows.
        gain = mat[:, 0, :3].sum(dim=1).to(x.dtype).view(n, 1, 1, 1)
        off = mat[:, 0, 3].to(x.dtype).view(n, 1, 1, 1)
        return x * gain + off


def colour_matrix(
    brightness: torch.Tensor,
    contrast: torch.Tensor,
    hue: torch.Tensor,
    saturation: torch.Tensor,
    lumaflip: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-sample 4×4 homogeneous colour matrices (RGB + 1), in chain order.

    ``M = S(saturation) · R(hue) · L(lumaflip) · K(contrast) · B(brightness)`` (ADA's order)
    with ``B`` adding ``brightness`` to each channel, ``K = contrast·I``, ``L = I − 2·v vᵀ``
    where ``lumaflip`` is true (else ``I``; None: nowhere), ``R`` the rotation by ``hue`` radians
    about the unit grey axis ``v = (1, 1, 1)/√3`` (Rodrigues:
    ``cos θ·I + sin θ·[v]× + (1 − cos θ)·v vᵀ``) and ``S = v vᵀ + saturation·(I − v vᵀ)``.
    ``R`` and ``S`` satisfy ``vᵀR = vᵀ`` and ``vᵀS = vᵀ``, so they keep every pixel's grey-axis
    component (the channel mean, "luma" here); ``vᵀL = −vᵀ`` negates it and keeps the rest.
    """
    n = brightness.shape[0]
    dt, dev = torch.float64, brightness.device
    eye4 = torch.eye(4, dtype=dt, device=dev).repeat(n, 1, 1)
    bm = eye4.clone()
    bm[:, :3, 3] = brightness.to(dt).view(n, 1)
    km = eye4.clone()
    km[:, :3, :3] *= contrast.to(dt).view(n, 1, 1)
    v = torch.full((3,), 1 / math.sqrt(3), dtype=dt, device=dev)
    vv = torch.outer(v, v)
    vx = torch.tensor(
        [[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]], dtype=dt, device=dev
    )
    th = hue.to(dt).view(n, 1, 1)
    eye3 = torch.eye(3, dtype=dt, device=dev)
    rm = eye4.clone()
    rm[:, :3, :3] = torch.cos(th) * eye3 + torch.sin(th) * vx + (1 - torch.cos(th)) * vv
    sm = eye4.clone()
    sm[:, :3, :3] = vv + saturation.to(dt).view(n, 1, 1) * (eye3 - vv)
    lm = eye4.clone()
    if lumaflip is not None:
        lm[:, :3, :3] -= 2 * lumaflip.to(dt).view(n, 1, 1) * vv
    return sm @ rm @ lm @ km @ bm


def _rand(n: int, gen: torch.Generator | None, dev: torch.device) -> torch.Tensor:
    where = gen.device if gen is not None else dev
    return torch.rand(n, generator=gen, device=where, dtype=torch.float64).to(dev)


def _randn(n: int, gen: torch.Generator | None, dev: torch.device) -> torch.Tensor:
    where = gen.device if gen is not None else dev
    return torch.randn(n, generator=gen, device=where, dtype=torch.float64).to(dev)


class AdaController:
    """Steer :attr:`AugmentPipe.p` with ADA's overfitting heuristic.

    Every call of :meth:`step` counts one training step; every ``interval`` steps::

        r_t = Σ sign(D(real)) / Σ count          (over the logits accumulated since last update)
        p  ← clamp(p + sign(r_t − target) · batch·interval / (speed_kimg·1000), 0, 1)

    so ``p`` can move from 0 to 1 in ``speed_kimg`` thousand real images (ADA: 500 kimg).
    ``r_t = 1`` means D is positive on every real: overfitting, more augmentation.

    Parameters
    ----------
    pipe : AugmentPipe
        Whose ``p`` buffer is updated in place.
    target : float
        Target ``r_t`` in ``(0, 1)`` (ADA: 0.6).
    interval : int
        Steps between updates, >= 1.
    speed_kimg : float
        Thousands of images for ``p`` to go from 0 to 1, > 0.
    reduce : callable, optional
        ``reduce(tensor) -> tensor`` summing a float64 ``[2]`` tensor (sum of signs, count) over
        processes (e.g. an all-reduce); None = single process. ``batch`` passed to :meth:`step`
        is then the global batch.
    """

    def __init__(
        self,
        pipe: AugmentPipe,
        target: float = 0.6,
        interval: int = 4,
        speed_kimg: float = 500,
        *,
        reduce: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        if not isinstance(pipe, AugmentPipe):
            raise ValueError(f"pipe must be an AugmentPipe, got {type(pipe).__name__}")
        self.pipe = pipe
        self.target = check_real(
            "target", target, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False
        )
        self.interval = check_int("interval", interval, minimum=1)
        self.speed_kimg = check_real("speed_kimg", speed_kimg, low=0.0, low_inclusive=False)
        if reduce is not None and not callable(reduce):
            raise ValueError("reduce must be callable or None")
        self.reduce = reduce
        self.calls = 0
        self.rt: float | None = None
        self._acc = torch.zeros(2, dtype=torch.float64)

    @property
    def p(self) -> float:
        """The pipe's current probability."""
        return float(self.pipe.p)

    def accumulate(self, real_logits: torch.Tensor) -> None:
        """Add the signs of D's logits on real images (any shape) to the running statistics."""
        if not isinstance(real_logits, torch.Tensor):
            raise ValueError("real_logits must be a torch tensor")
        t = real_logits.detach()
        if t.numel() == 0:
            return
        if self._acc.device != t.device:
            self._acc = self._acc.to(t.device)
        signs = torch.sign(t.to(torch.float64))
        self._acc += torch.stack(
            [signs.sum(), torch.tensor(float(t.numel()), dtype=torch.float64, device=t.device)]
        )

    def step(self, batch_size: int) -> float:
        """Count one training step of ``batch_size`` images; update ``p`` when due; return it.

        An update with no accumulated logits leaves ``p`` unchanged. The statistics restart
        after every update.
        """
        batch = check_int("batch_size", batch_size, minimum=1)
        self.calls += 1
        if self.calls % self.interval != 0:
            return self.p
        acc = self._acc
        if self.reduce is not None:
            acc = self.reduce(acc.clone())
        total, count = (float(v) for v in acc.cpu())
        self._acc = torch.zeros_like(self._acc)
        if count <= 0:
            return self.p
        self.rt = total / count
        adjust = math.copysign(1.0, self.rt - self.target) if self.rt != self.target else 0.0
        adjust *= batch * self.interval / (self.speed_kimg * 1000)
        new_p = min(1.0, max(0.0, self.p + adjust))
        with torch.no_grad():
            self.pipe.p.fill_(new_p)
        return self.p

    def consolidate(self, keep: bool) -> None:
        """Sum the processes' partial accumulators (since the last update of ``p``) onto the
        one process with ``keep`` True and zero them elsewhere (a collective: every process
        calls it; no-op without ``reduce``). The next update sums the same totals, so the run
        goes on exactly as before, while that process's :meth:`state_dict` now holds the whole
        interval's sums: a checkpoint written by one process, taken mid-interval, must not
        carry its own share only (every process would restore it, and the next update would
        count it once per process)."""
        if self.reduce is None:
            return
        total = self.reduce(self._acc.clone())
        self._acc = total if keep else torch.zeros_like(self._acc)

    def discard_partial(self) -> None:
        """Zero the accumulators: a process other than the one whose :meth:`consolidate`-d
        state it restored (that one carries the sums for all)."""
        self._acc = torch.zeros_like(self._acc)

    def state_dict(self) -> dict[str, Any]:
        """Plain JSON-able state: ``p``, the accumulators, the step count and the settings.
        In a multi-process run call :meth:`consolidate` first on every process."""
        total, count = (float(v) for v in self._acc.cpu())
        return {
            "p": self.p,
            "calls": self.calls,
            "sum_sign": total,
            "count": count,
            "rt": self.rt,
            "target": self.target,
            "interval": self.interval,
            "speed_kimg": self.speed_kimg,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (sets the pipe's ``p``; settings are restored too)."""
        try:
            p = check_real("p", state["p"], low=0.0, high=1.0)
            calls = check_int("calls", state["calls"], minimum=0)
            total = check_real("sum_sign", state["sum_sign"])
            count = check_real("count", state["count"], low=0.0)
        except KeyError as exc:
            raise ValueError(f"AdaController state lacks {exc.args[0]!r}") from exc
        self.target = check_real(
            "target",
            state.get("target", self.target),
            low=0.0,
            high=1.0,
            low_inclusive=False,
            high_inclusive=False,
        )
        self.interval = check_int("interval", state.get("interval", self.interval), minimum=1)
        self.speed_kimg = check_real(
            "speed_kimg", state.get("speed_kimg", self.speed_kimg), low=0.0, low_inclusive=False
        )
        rt = state.get("rt")
        self.rt = None if rt is None else float(rt)
        self.calls = calls
        self._acc = torch.tensor([total, count], dtype=torch.float64, device=self._acc.device)
        with torch.no_grad():
            self.pipe.p.fill_(p)
