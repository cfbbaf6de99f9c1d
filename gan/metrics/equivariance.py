"""Equivariance metrics EQ-T, EQ-T_frac and EQ-R, for the output image or any layer's feature
maps. See REFERENCE §5.

Conventions (``gan.networks.transform``): generating with transform ``A`` gives
``image_A(p) = image_I(A⁻¹ p)``, so ``translate(tx, ty)`` moves the content by ``tx·rate``
samples right and ``ty·rate`` samples down (``rate = res`` for the image) and ``rotate(angle)``
turns it about the centre: a positive angle turns the content counter-clockwise as displayed, row
0 at the top, like ``np.rot90`` (the convention of :func:`rotate_bandlimited` and
``dsp.interpolation.rotate_bandlimited``, too). Each metric generates ``y1 = G(z)`` and
``y2 = G(z, transform=A)``, applies ``A`` to ``y1`` with a reference resampler, and reports the
PSNR of ``y2`` against it over the pixels where the reference is valid (a mask), accumulated in
float64 over all samples::

    PSNR = 20·log10(2) − 10·log10(MSE),   MSE = Σ mask·(y2 − ref)² / Σ mask   (per value)

For a feature map (``layer=...``) the MSE is divided by the mean square of ``y2`` over the same
mask, i.e. the PSNR the map would have if it were rescaled to unit RMS, so that layers of
different magnitude compare (``20·log10(2) ≈ 6.02`` dB is then "error as large as the signal"),
and the mask keeps only the samples on the image, ``[-0.5, 0.5]²``: a map's margin (REFERENCE
§3) is corrupted by zero padding by design and cropped before the image, so it is compared
nowhere (the reference resamplers still read it).
Identical images give ``+inf``. The aliasing probe's per-layer PSNR
(``gan.probe.measures.equivariance_psnr``, for any network) keeps peak 1 instead, normalised by
the unshifted map and capped at 200 dB: the same maps read 6.02 dB lower there.

Ceilings of the references (what a perfectly equivariant generator would score; measured with
analytic shifts and rotations, 2026-11-28). Lanczos a = 3 (REFERENCE §5) is exact only well
below Nyquist: an exact shift of content near 0.2 cycles/sample scores 54–57 dB, so on coarse
feature maps, whose content fills their band, per-layer EQ-T_frac measures mostly the
reference (a 36-sample map of config R: 51 dB at a = 3, 59 at a = 5, 63 at a = 7; its EQ-T
145 dB). The rotation reference low-passes at the input Nyquist, as the paper's does, with a
transition band (0.25–0.75 cycles/pixel) that straddles it, so spectral copies of content
above 0.25 cycles/pixel survive the ×4 upsampling and fold back rotated: a perfectly rotated
sinusoid scores 77 / 64 / 59 / 51 / 38 / 32 dB at 0.1 / 0.2 / 0.3 / 0.4 / 0.45 / 0.49 cycles
per pixel, broadband content ≈ 58 dB (1/f² spectrum, natural images) and ≈ 50 dB (white). A
stopband at Nyquist would remove that floor but narrow the mask by twice the filter length
(48 taps at 12 per factor: 32-px images would keep a few pixels) and depart from the paper's
definition, against which the published EQ-R figures (≈ 40 dB) were measured.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from dsp._checks import check_int, check_real
from dsp.interpolation import lanczos_weights

from ._device import run_device
from .video import class_labels

__all__ = [
    "EquivarianceResult",
    "METRICS",
    "psnr",
    "format_db",
    "shift_integer",
    "shift_fractional",
    "lanczos_weights",
    "rotate_bandlimited",
    "bandlimit",
    "rotation_filter",
    "eq_t",
    "eq_t_frac",
    "eq_r",
    "measure",
]

#: Metric names accepted by :func:`measure` and the command line.
METRICS = ("eqt", "eqt_frac", "eqr")

# Rotation reference (REFERENCE §5): upsample ×4 with a Kaiser-windowed jinc low-pass whose
# cutoff is the input Nyquist (0.5 cycles/sample) and whose transition band is 0.25–0.75
# cycles/sample, 6 taps per unit of factor like the generator's filters (REFERENCE §3).
_ROT_UP = 4
_ROT_CUTOFF = 0.5
_ROT_HALF_WIDTH = 0.25
_ROT_TAPS_PER_FACTOR = 6


@dataclass(frozen=True)
class EquivarianceResult:
    """One equivariance measurement.

    Attributes
    ----------
    metric : str
        ``"eqt"``, ``"eqt_frac"`` or ``"eqr"``.
    layer : str or None
        Feature-map name, or None for the output image.
    psnr_db : float
        PSNR in dB over all samples (``inf`` when every compared value is identical).
    mse : float
        Masked mean squared error per value (divided by the mean square of ``y2`` for a layer).
    num_samples : int
        Number of latents measured.
    num_values : int
        Number of compared values (masked pixels × channels, summed over samples).
    batch_psnr_db : tuple of float
        PSNR of each batch alone (its samples' errors pooled): a rough spread.
    """

    metric: str
    layer: str | None
    psnr_db: float
    mse: float
    num_samples: int
    num_values: int
    batch_psnr_db: tuple[float, ...] = field(default=())

    @property
    def psnr_scale(self) -> str:
        """What the PSNR is relative to: ``"peak-to-peak 2"`` (the image, REFERENCE §5) or
        ``"map RMS"`` (a layer: the MSE over the map's mean square, module docstring)."""
        return "peak-to-peak 2" if self.layer is None else "map RMS"

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (with :attr:`psnr_scale`); infinite dB values become the string
        ``"inf"``."""
        d = asdict(self)
        d["psnr_scale"] = self.psnr_scale
        d["psnr_db"] = _json_db(self.psnr_db)
        d["batch_psnr_db"] = [_json_db(v) for v in self.batch_psnr_db]
        return d


def _json_db(v: float) -> float | str:
    return "inf" if math.isinf(v) else v


def psnr(
    mse_sum: float, count: float, peak_to_peak: float = 2.0, cap: float | None = None
) -> float:
    """``PSNR = 20·log10(peak_to_peak) − 10·log10(mse_sum / count)`` in dB (REFERENCE §5).

    Parameters
    ----------
    mse_sum : float
        Sum of squared errors, ``>= 0``.
    count : float
        Number of values summed, ``> 0``.
    peak_to_peak : float
        Signal range; 2 for images in ``[-1, 1]``.
    cap : float, optional
        If given, the result is at most ``cap`` (identical images give ``cap``); by default
        identical images give ``+inf``.
    """
    mse_sum = check_real("mse_sum", mse_sum, low=0.0)
    count = check_real("count", count, low=0.0, low_inclusive=False)
    peak_to_peak = check_real("peak_to_peak", peak_to_peak, low=0.0, low_inclusive=False)
    if cap is not None:
        cap = check_real("cap", cap)
    mse = mse_sum / count
    value = math.inf if mse == 0.0 else 20 * math.log10(peak_to_peak) - 10 * math.log10(mse)
    return value if cap is None else min(value, cap)


def format_db(value: float, digits: int = 2) -> str:
    """A dB value for tables: ``"∞"`` for ``+inf``, else fixed-point with ``digits`` decimals."""
    return "∞" if math.isinf(value) and value > 0 else f"{value:.{digits}f}"


def _check_image(name: str, img: object) -> torch.Tensor:
    if not isinstance(img, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(img).__name__}")
    if img.ndim != 4:
        raise ValueError(f"{name} must have shape [N, C, H, W], got {tuple(img.shape)}")
    if not img.is_floating_point():
        raise ValueError(f"{name} must be floating point, got {img.dtype}")
    if min(img.shape) < 1:
        raise ValueError(f"{name} must not be empty, got {tuple(img.shape)}")
    return img


def _shift_axis(x: torch.Tensor, n: int, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``out[i] = x[i − n]`` along ``dim`` with zero fill, and the 1D validity mask."""
    size = x.shape[dim]
    out = torch.zeros_like(x)
    valid = torch.zeros(size, dtype=torch.bool, device=x.device)
    if abs(n) < size:
        src = x.narrow(dim, max(-n, 0), size - abs(n))
        out.narrow(dim, max(n, 0), size - abs(n)).copy_(src)
        valid[max(n, 0) : size - max(-n, 0)] = True
    return out, valid


def shift_integer(img: torch.Tensor, dx: int, dy: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Move the content of ``img [N, C, H, W]`` by whole pixels, zero fill (EQ-T reference).

    ``out[..., i, j] = img[..., i − dy, j − dx]`` (``dx`` right, ``dy`` down, the direction of
    ``translate``). Returns ``(out, mask)``, ``mask [H, W]`` bool: True where the source pixel
    exists.
    """
    img = _check_image("img", img)
    dx = check_int("dx", dx)
    dy = check_int("dy", dy)
    out, mx = _shift_axis(img, dx, 3)
    out, my = _shift_axis(out, dy, 2)
    return out, my[:, None] & mx[None, :]


def _lanczos_axis(x: torch.Tensor, d: float, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    n = math.floor(d)
    frac = d - n
    if frac >= 1.0:
        # d a hair below an integer: d − floor(d) rounds up to 1.
        n, frac = n + 1, 0.0
    out = torch.zeros_like(x)
    valid = torch.ones(x.shape[dim], dtype=torch.bool, device=x.device)
    for m, w in lanczos_weights(frac):
        shifted, v = _shift_axis(x, n + m, dim)
        out += w * shifted
        valid &= v
    return out, valid


def shift_fractional(img: torch.Tensor, tx: float, ty: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Move the content of ``img [N, C, H, W]`` by ``(tx, ty)`` pixels with separable Lanczos
    a = 3 resampling (EQ-T_frac reference, REFERENCE §5).

    ``out(i, j) = Σ img[k, l] · L(i − ty − k) · L(j − tx − l)`` with the normalised taps of
    ``dsp.interpolation.lanczos_weights`` (6 per axis; the numpy twin is
    ``dsp.interpolation.lanczos_shift``, whose shifts are keyword-only ``dy=``, ``dx=``: here
    x comes first, as in :func:`shift_integer`). An integer shift equals :func:`shift_integer`.
    Returns ``(out, mask)``: ``mask [H, W]`` is True where every tap's source pixel exists.
    """
    img = _check_image("img", img)
    tx = check_real("tx", tx)
    ty = check_real("ty", ty)
    out, mx = _lanczos_axis(img, tx, 3)
    out, my = _lanczos_axis(out, ty, 2)
    return out, my[:, None] & mx[None, :]


def rotation_filter(device=None, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The 2D low-pass of the rotation reference, designed by ``dsp.filters.design_lowpass``.

    Radially symmetric (jinc, Kaiser window), ``24 × 24`` taps at ``fs = 4`` samples per input
    pixel, cutoff 0.5 cycles/pixel (the input Nyquist, −6 dB), transition band 0.25–0.75
    cycles/pixel. Being radial, it commutes with rotation (up to its separable window), which is
    what lets :func:`bandlimit` give ``y2`` the same band limit as the rotated reference.
    """
    from gan.ops.filters import lowpass_filter

    return lowpass_filter(
        _ROT_CUTOFF,
        half_width=_ROT_HALF_WIDTH,
        fs=float(_ROT_UP),
        numtaps=_ROT_TAPS_PER_FACTOR * _ROT_UP,
        radial=True,
        device=device,
        dtype=dtype,
    )


def _upsample4(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    from gan.ops import upfirdn2d

    taps = f.shape[-1]
    # Output sample k of the ×4 grid sits at (k + 0.5)/4 pixels, the input pixel j at j + 0.5.
    lo = (taps + _ROT_UP - 2) // 2
    hi = taps - 1 - lo
    return upfirdn2d(x, f, up=_ROT_UP, padding=(lo, hi, lo, hi), gain=_ROT_UP**2, impl="ref")


def _downsample4(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    from gan.ops import upfirdn2d

    p = (f.shape[-1] - _ROT_UP) // 2
    return upfirdn2d(x, f, down=_ROT_UP, padding=(p, p, p, p), impl="ref")


def _rotation_grid(size: int, angle: float, device, dtype) -> torch.Tensor:
    """``grid_sample`` grid: output point ``q`` of the ×4 grid reads the input at ``R⁻¹ q``.

    ``R = [[cos, sin], [−sin, cos]]`` in x-right, y-down coordinates (counter-clockwise as
    displayed for a positive angle), so ``R⁻¹ = [[cos, −sin], [sin, cos]]``.
    """
    # Normalised coordinates (align_corners=False): sample centres at (2k + 1)/n − 1.
    coords = (torch.arange(size, device=device, dtype=dtype) * 2 + 1) / size - 1
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    c, s = math.cos(angle), math.sin(angle)
    src_x = c * x - s * y
    src_y = s * x + c * y
    return torch.stack([src_x, src_y], dim=-1)[None]


def _box_mask(h: int, w: int, margin: float, angle: float, device) -> torch.Tensor:
    """True where ``R(angle)⁻¹ p`` is at least ``margin`` pixels inside the image (p = centres)."""
    v = torch.arange(h, device=device, dtype=torch.float64) + 0.5 - h / 2
    u = torch.arange(w, device=device, dtype=torch.float64) + 0.5 - w / 2
    vv, uu = torch.meshgrid(v, u, indexing="ij")
    c, s = math.cos(angle), math.sin(angle)
    su = c * uu - s * vv
    sv = s * uu + c * vv
    # 1e-9: the exact-border case of a 90° turn must not flip on rounding.
    return (su.abs() <= w / 2 - margin + 1e-9) & (sv.abs() <= h / 2 - margin + 1e-9)


def _filter_radius() -> float:
    """Reach of one ×4 filter in input pixels (12 taps either side at 4 samples per pixel)."""
    return _ROT_TAPS_PER_FACTOR * _ROT_UP / 2 / _ROT_UP


def _check_square(img: torch.Tensor) -> None:
    h, w = img.shape[-2:]
    if h != w:
        raise ValueError(f"img must be square for rotation, got {h}x{w}")
    if h < 2:
        raise ValueError(f"img must be at least 2x2, got {h}x{w}")


def rotate_bandlimited(
    img: torch.Tensor, angle: float, *, mode: str = "bicubic"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Band-limited rotation of ``img [N, C, H, W]`` about its centre (EQ-R reference,
    REFERENCE §5).

    Upsample ×4 with :func:`rotation_filter` (``gan.ops.upfirdn2d``, gain 16), turn by
    ``angle`` radians (the matrix of ``gan.networks.transform.rotate``: the content at ``p``
    moves to ``R p``) with ``grid_sample`` (``mode``, zero padding) at the ×4 rate, then
    low-pass with the same filter and keep every 4th sample. A positive angle turns the content
    counter-clockwise as displayed, row 0 at the top, like ``np.rot90``: ``angle = π/2`` equals
    ``bandlimit(torch.rot90(img, 1, dims=(-2, -1)))`` inside the mask. Compare the result with
    :func:`bandlimit` of the other image, which gets the same band limit.

    Returns ``(out, mask)``: ``mask [H, W]`` is True where every input sample reached by the
    filters lies inside the image: ``p`` at least 3 pixels from the border (the down filter,
    ±3 pixels) and ``R⁻¹ p`` at least ``3·(|cos θ| + |sin θ|) + 2/4 + 3`` pixels from it (the
    down filter's footprint turned back, the bicubic kernel, the up filter).
    """
    img = _check_image("img", img)
    _check_square(img)
    angle = check_real("angle", angle)
    if mode not in ("bicubic", "bilinear"):
        raise ValueError(f"mode must be 'bicubic' or 'bilinear', got {mode!r}")
    f = rotation_filter(device=img.device, dtype=img.dtype)
    up = _upsample4(img, f)
    grid = _rotation_grid(up.shape[-1], angle, img.device, img.dtype).expand(
        up.shape[0], -1, -1, -1
    )
    turned = F.grid_sample(up, grid, mode=mode, padding_mode="zeros", align_corners=False)
    out = _downsample4(turned, f)
    h, w = img.shape[-2:]
    r = _filter_radius()
    interp = 2.0 / _ROT_UP if mode == "bicubic" else 1.0 / _ROT_UP
    # The down filter's square footprint around p, turned back into the input frame, reaches
    # r·(|cos| + |sin|) per axis; the interpolation kernel and the up filter add to that.
    reach = r * (abs(math.cos(angle)) + abs(math.sin(angle))) + interp + r
    mask = _box_mask(h, w, reach, angle, img.device) & _box_mask(h, w, r, 0.0, img.device)
    return out, mask


def bandlimit(img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The band limit of :func:`rotate_bandlimited` without the rotation (REFERENCE §5: "the
    same band limit applied to both images"): ×4 upsampling and decimation with
    :func:`rotation_filter`. Returns ``(out, mask)``, mask True at least 6 pixels inside.
    """
    img = _check_image("img", img)
    _check_square(img)
    f = rotation_filter(device=img.device, dtype=img.dtype)
    out = _downsample4(_upsample4(img, f), f)
    h, w = img.shape[-2:]
    return out, _box_mask(h, w, 2 * _filter_radius(), 0.0, img.device)


# --- the metrics -------------------------------------------------------------------------------


def _find_rate(G, layer: str | None) -> float | None:
    """Samples per unit length of the output image (``G.res``) or of layer ``layer``."""
    if layer is None:
        return float(G.res)
    specs = getattr(getattr(G, "synthesis", None), "layer_specs", None)
    if specs is None:
        return None
    for spec in specs:
        if spec.name == layer:
            return float(spec.out_rate)
    names = ", ".join(s.name for s in specs)
    raise ValueError(f"layer must be one of the generator's layers ({names}), got {layer!r}")


def _pick(out, layer: str | None, rate: float | None) -> tuple[torch.Tensor, float]:
    if layer is None:
        img = out[0] if isinstance(out, tuple) else out
        return img, rate
    _, feats = out
    if layer not in feats:
        raise ValueError(f"layer must be one of {', '.join(feats)}, got {layer!r}")
    x = feats[layer]
    # Generators without a schedule (the baseline): the map is assumed to cover one unit.
    return x, float(x.shape[-1]) if rate is None else rate


def _image_mask(size: int, rate: float, device) -> torch.Tensor:
    """``[size, size]`` bool: True at the samples of a feature map that lie on the image.

    A map of ``size`` samples at ``rate`` samples per unit, centred on the image centre, has
    sample ``j`` at ``(j + 0.5 − size/2) / rate`` (:mod:`gan.networks.alias_free`); True where
    both coordinates are in ``[-0.5, 0.5]``. The rest is the schedule's ``margin`` (REFERENCE
    §3): scratch space where the zero padding beyond the map's edge corrupts the signal by
    design, cropped away before the image, so it is no part of the valid region that REFERENCE
    §5 compares (it would dominate the error). The margin still feeds the reference resamplers.
    """
    pos = torch.arange(size, device=device, dtype=torch.float64) + 0.5 - size / 2
    inside = pos.abs() <= rate / 2 + 1e-9
    return inside[:, None] & inside[None, :]


def measure(
    G,
    metric: str,
    num_samples: int,
    *,
    layer: str | None = None,
    max_shift: float = 0.125,
    max_angle: float = math.pi,
    batch: int = 8,
    seed: int = 0,
    psi: float = 1.0,
    device=None,
    progress: bool = False,
    class_idx: int = 0,
) -> EquivarianceResult:
    """One equivariance metric of generator ``G`` (REFERENCE §5).

    Each latent ``z_i ~ N(0, I)`` gets its own random transform: ``t ~ U[−max_shift,
    max_shift]²`` image widths for ``"eqt"``/``"eqt_frac"`` (``"eqt"`` rounds ``t·rate`` to whole
    samples of the compared map and generates with the rounded ``t``), ``angle ~ U[−max_angle,
    max_angle]`` radians for ``"eqr"``. ``y1 = G(z)`` and ``y2 = G(z, transform=A)`` are compared
    as described in the module docstring, in float64, each sample inside its own mask; the
    squared errors of all samples are pooled into one PSNR. Latents and transforms come from two
    streams seeded by ``seed``, one draw per latent, so the result does not depend on
    ``batch``.

    Parameters
    ----------
    G : torch.nn.Module
        A generator with the project's interface: ``G(z, c, *, psi, transform,
        return_features, noise_mode)``, attributes ``z_dim``, ``c_dim``, ``res``; for ``layer``
        the feature dict of ``return_features=True`` and ``G.synthesis.layer_specs``
        (``dsp.schedule.LayerSpec``: the map of layer ``name`` is sampled at ``out_rate``
        samples per unit, centred on the image centre).
    metric : {"eqt", "eqt_frac", "eqr"}
    num_samples : int
        Number of latents, ``>= 1``.
    layer : str, optional
        Name of a feature map instead of the output image (MSE normalised by its mean square,
        compared only on the samples inside the image, ``[-0.5, 0.5]²``, not on the margin).
    max_shift : float
        Largest translation per axis in image widths, in ``(0, 0.5]`` (the paper: 1/8).
    max_angle : float
        Largest rotation in radians, in ``(0, π]`` (the paper: π).
    batch : int
        Latents per forward pass, ``>= 1`` (memory and speed only).
    seed : int
        Seed of the latents and transforms (CPU generator: same draws on every device).
    psi : float
        Truncation passed to ``G``.
    device : str or torch.device, optional
        Where to run (default: the device ``G`` is on); ``G`` is moved there.
    progress : bool
        Show a tqdm progress bar.
    class_idx : int
        Class of a conditional ``G`` (one-hot; ``gan.metrics.video.class_labels``).

    Returns
    -------
    EquivarianceResult

    Raises
    ------
    ValueError
        Bad arguments, an unknown layer, or a batch whose mask is empty (EQ-R needs maps of
        roughly 24 samples or more: the rotation reference loses up to ``3·√2 + 3.5`` samples
        at each border; 16 px images fail at angles near 45°), or ``"eqt"`` on a feature map
        so coarse that ``max_shift`` is at most half a sample of it (every whole-sample shift
        would round to 0: a 4-sample map at the default 1/8).
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    num_samples = check_int("num_samples", num_samples, minimum=1)
    batch = check_int("batch", batch, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    max_shift = check_real("max_shift", max_shift, low=0.0, high=0.5, low_inclusive=False)
    max_angle = check_real("max_angle", max_angle, low=0.0, high=math.pi, low_inclusive=False)
    psi = check_real("psi", psi)
    if layer is not None and not isinstance(layer, str):
        raise ValueError(f"layer must be a layer name (str) or None, got {layer!r}")
    dev = run_device(G, device)
    from tqdm.auto import tqdm

    from gan.networks.transform import identity, rotate, translate

    rate = _find_rate(G, layer)
    G = G.to(dev)
    # Two streams, one draw per latent from each: latent i and its transform are the same
    # whatever the batch size (a shared stream drawn per batch made the result depend on it).
    gen_z, gen_t = (torch.Generator().manual_seed(v) for v in _stream_seeds(seed))
    err_sum = 0.0
    ref_sum = 0.0
    count = 0
    batch_db: list[float] = []
    want_features = layer is not None
    eye = identity(device=dev)
    with tqdm(total=num_samples, disable=not progress, desc=f"{metric}:{layer or 'image'}") as bar:
        for start in range(0, num_samples, batch):
            n = min(batch, num_samples - start)
            z = torch.stack([torch.randn(G.z_dim, generator=gen_z) for _ in range(n)]).to(dev)
            draws = [torch.rand(2, generator=gen_t, dtype=torch.float64) * 2 - 1 for _ in range(n)]
            c = class_labels(G, n, class_idx, dev)
            kw = dict(psi=psi, return_features=want_features, noise_mode="const")
            with torch.no_grad():
                out1 = G(z, c, transform=eye, **kw)
                x1, r = _pick(out1, layer, rate)
                if metric == "eqt" and want_features and max_shift * r <= 0.5:
                    # |t·rate| < 1/2 for every draw: each shift rounds to 0 and the map would
                    # be compared with itself (+inf dB, nothing measured), as happens to the
                    # 4-sample maps of a generator at the default max_shift.
                    raise ValueError(
                        f"eqt: max_shift ({max_shift:g} image widths) is at most half a sample "
                        f"of this {r:g}-samples-per-width map, so every whole-sample shift "
                        "rounds to 0; measure eqt_frac here, or raise max_shift"
                    )
                if metric == "eqr":
                    params = [float(d[0]) * max_angle for d in draws]
                    mats = [rotate(angle, device=dev) for angle in params]
                else:
                    params = [tuple(float(v) * max_shift for v in d) for d in draws]
                    if metric == "eqt":
                        params = [(round(tx * r) / r, round(ty * r) / r) for tx, ty in params]
                    mats = [translate(tx, ty, device=dev) for tx, ty in params]
                out2 = G(z, c, transform=torch.stack(mats), **kw)
                x2, _ = _pick(out2, layer, rate)
                x1 = x1.to(torch.float64)
                x2 = x2.to(torch.float64)
                e = s = 0.0
                k = 0
                for i, p in enumerate(params):
                    a, b = x1[i : i + 1], x2[i : i + 1]
                    if metric == "eqt":
                        ref, mask = shift_integer(a, round(p[0] * r), round(p[1] * r))
                    elif metric == "eqt_frac":
                        ref, mask = shift_fractional(a, p[0] * r, p[1] * r)
                    else:
                        ref, m1 = rotate_bandlimited(a, p)
                        b, m2 = bandlimit(b)
                        mask = m1 & m2
                    if want_features:
                        mask = mask & _image_mask(b.shape[-1], r, dev)
                    m = mask.to(torch.float64)
                    e += float(((b - ref).square() * m).sum())
                    s += float((b.square() * m).sum())
                    k += int(mask.sum()) * b.shape[1]
            if k == 0:
                raise ValueError(
                    f"{metric}: no valid pixels left after the transform: {x2.shape[-1]} "
                    "samples is too small for the reference resampler's margins (measure a "
                    "larger map, or leave this metric out)"
                )
            err_sum += e
            ref_sum += s
            count += k
            batch_db.append(_db(e, k, s if want_features else None))
            bar.update(n)
    mse = err_sum / count
    if want_features:
        mse = err_sum / ref_sum if ref_sum > 0 else (0.0 if err_sum == 0 else math.inf)
    return EquivarianceResult(
        metric=metric,
        layer=layer,
        psnr_db=_db(err_sum, count, ref_sum if want_features else None),
        mse=mse,
        num_samples=num_samples,
        num_values=count,
        batch_psnr_db=tuple(batch_db),
    )


def _stream_seeds(seed: int) -> tuple[int, int]:
    """Seeds of the latent and the transform streams of :func:`measure`'s ``seed``."""
    a, b = np.random.SeedSequence([int(seed), 0xE0]).generate_state(2, dtype=np.uint64)
    return int(a) >> 1, int(b) >> 1


def _db(err_sum: float, count: int, ref_sum: float | None) -> float:
    if ref_sum is None:
        return psnr(err_sum, count)
    if err_sum == 0.0:
        return math.inf
    if ref_sum == 0.0:
        return -math.inf
    return psnr(err_sum, ref_sum)


def eq_t(G, num_samples: int, *, integer: bool = True, **kwargs: Any) -> EquivarianceResult:
    """EQ-T (``integer=True``: whole-pixel shift, zero fill) or EQ-T_frac (``integer=False``:
    Lanczos a = 3). Keyword arguments as :func:`measure` (``max_shift``, ``batch``, ``seed``,
    ``device``, ``layer``, ``psi``, ``progress``)."""
    return measure(G, "eqt" if integer else "eqt_frac", num_samples, **kwargs)


def eq_t_frac(G, num_samples: int, **kwargs: Any) -> EquivarianceResult:
    """EQ-T_frac: fractional translation with the Lanczos a = 3 reference (see :func:`measure`)."""
    return measure(G, "eqt_frac", num_samples, **kwargs)


def eq_r(G, num_samples: int, **kwargs: Any) -> EquivarianceResult:
    """EQ-R: rotation by ``U[−max_angle, max_angle]`` with the band-limited reference (see
    :func:`measure`)."""
    return measure(G, "eqr", num_samples, **kwargs)
