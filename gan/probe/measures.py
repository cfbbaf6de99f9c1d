"""The three per-layer measures and ``probe_model``. See REFERENCE §5 and §7.

All analysis runs in float64 numpy through the ``dsp`` analyzers; the model runs in its own
dtype and device, in eval mode, under ``torch.no_grad()`` (its training flags are restored
afterwards, its parameters and buffers are not touched).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.fft
import torch
import torch.nn.functional as F
from torch import nn

from dsp._checks import check_int, check_real
from dsp.aliasing import (
    FoldLabel,
    fold_classification,
    nonlinearity_aliasing,
    out_of_band_energy,
)
from dsp.interpolation import fractional_shift
from dsp.spectrum import power_spectrum
from gan._compile import eager_module
from gan.probe.hooks import LayerInfo, discover_layers, run_hooked
from gan.probe.report import (
    FOLD_KEYS,
    PSNR_CAP_DB,
    LayerRow,
    ProbeReport,
    Spectrum,
    Stat,
    equivariance_key,
)

__all__ = [
    "MEASURES",
    "probe_model",
    "stride1_equivalent",
    "downsampling_aliasing",
    "nonlinearity_fraction",
    "shift_maps",
    "equivariance_psnr",
]

MEASURES = ("downsampling", "nonlinearity", "equivariance")
_INT_TOL = 1e-9


# ------------------------------------------------------------------------------ downsampling
def _pair(v: object) -> tuple[int, int]:
    if isinstance(v, Sequence):
        return int(v[0]), int(v[1])
    return int(v), int(v)  # type: ignore[arg-type]


def _ratio_factor(n_in: int, n_out: int) -> int:
    return max(1, int(round(n_in / max(n_out, 1))))


def _conv_stride1(mod: nn.Conv2d, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """The stride-1 output of a strided ``Conv2d`` with input ``x`` and (strided) output ``out``.

    The module's own ``forward`` on a shallow copy set to stride 1 (the model's module is not
    touched), so a subclass that transforms its weights (weight standardisation, fake
    quantisation, parametrizations) keeps doing so, provided that sampling it at the stride
    gives back ``out`` (to the precision of ``out``'s dtype). Otherwise (a subclass whose
    forward does not read ``stride``) ``F.conv2d`` with the module's weight, bias, padding,
    dilation and groups at stride 1.
    """
    # Copied by hand: copy.copy refuses parametrized modules.
    stride1 = type(mod).__new__(type(mod))
    stride1.__dict__.update(mod.__dict__)
    stride1.stride = (1, 1)
    try:
        y = stride1.forward(x)
    except Exception:  # a subclass that cannot run at stride 1: use the plain convolution
        y = None
    if isinstance(y, torch.Tensor) and y.ndim == 4:
        dec = y[..., :: mod.stride[0], :: mod.stride[1]]
        if dec.shape == out.shape:
            tol = math.sqrt(torch.finfo(out.dtype).eps) * float(out.abs().max())
            if float((dec - out).abs().max()) <= tol:
                return y
    pad: object = 0 if isinstance(mod.padding, str) else mod.padding
    xin = x
    if mod.padding_mode != "zeros":
        xin = F.pad(x, mod._reversed_padding_repeated_twice, mode=mod.padding_mode)
        pad = 0
    return F.conv2d(xin, mod.weight, mod.bias, 1, pad, mod.dilation, mod.groups)


def stride1_equivalent(
    info: LayerInfo, x: torch.Tensor, out: torch.Tensor
) -> tuple[torch.Tensor, int] | None:
    """The layer's stride-1 equivalent output and its stride, or ``None`` if the layer does not
    lower the rate.

    - ``Conv2d`` with stride > 1: the same weights, padding, dilation and groups at stride 1,
      through the module's own ``forward`` where it honours the stride (``_conv_stride1``);
    - ``MaxPool2d``/``AvgPool2d`` with stride > 1: the same pooling at stride 1;
    - ``AdaptiveAvgPool2d``/``AdaptiveMaxPool2d`` with an output ``k`` times smaller (integer
      ``k``): a ``k × k`` pooling at stride 1 with circular wrap, so the map keeps its size and
      stays periodic (a global pool then gives a constant map: no aliasing);
    - anything else that lowers the rate (``Upsample``/interpolation with scale < 1, adaptive
      pooling by a non-integer ratio, modules named in ``downsampling_layers``): the input.

    A stride that differs between the axes is reported as the larger one. The map is cropped to a
    multiple of the stride (the strided output samples positions ``0, s, 2s, …``, so the crop
    loses nothing the layer keeps).
    """
    mod = info.module
    h_in, w_in = x.shape[-2:]
    h_out, w_out = out.shape[-2:]
    y: torch.Tensor | None = None
    s = 1
    if isinstance(mod, nn.Conv2d) and max(mod.stride) > 1:
        s = max(mod.stride)
        y = _conv_stride1(mod, x, out)
    elif isinstance(mod, nn.MaxPool2d | nn.AvgPool2d):
        stride = mod.stride if mod.stride is not None else mod.kernel_size
        if max(_pair(stride)) > 1:
            s = max(_pair(stride))
            if isinstance(mod, nn.MaxPool2d):
                y = F.max_pool2d(x, mod.kernel_size, 1, mod.padding, mod.dilation)
            else:
                y = F.avg_pool2d(
                    x,
                    mod.kernel_size,
                    1,
                    mod.padding,
                    False,
                    mod.count_include_pad,
                    mod.divisor_override,
                )
    elif isinstance(mod, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d) and (
        h_out < h_in or w_out < w_in
    ):
        if h_in % h_out == 0 and w_in % w_out == 0:
            ky, kx = h_in // h_out, w_in // w_out
            s = max(ky, kx)
            xin = F.pad(x, (0, kx - 1, 0, ky - 1), mode="circular")
            pool = F.avg_pool2d if isinstance(mod, nn.AdaptiveAvgPool2d) else F.max_pool2d
            y = pool(xin, (ky, kx), 1)
        else:
            s = max(_ratio_factor(h_in, h_out), _ratio_factor(w_in, w_out))
            y = x
    elif info.user_downsampling or (
        isinstance(mod, nn.Upsample) and (h_out < h_in or w_out < w_in)
    ):
        s = max(_ratio_factor(h_in, h_out), _ratio_factor(w_in, w_out))
        y = x
    if y is None or (s < 2 and not info.user_downsampling):
        return None
    hh, ww = (y.shape[-2] // s) * s, (y.shape[-1] // s) * s
    if hh == 0 or ww == 0:
        return None
    return y[..., :hh, :ww], s


def downsampling_aliasing(y1: np.ndarray, stride: int) -> dict[str, np.ndarray]:
    """Per-map downsampling measures of a stride-1 equivalent output ``y1`` ``[N, C, H, W]``.

    Returns ``[N, C]`` arrays: ``"out_of_band"`` from ``dsp.aliasing.out_of_band_energy(y1,
    stride, band="square")``, and the three fold energy fractions (``FOLD_KEYS``) from
    ``dsp.aliasing.fold_classification(average="channel")`` run on each input separately: for
    map ``(n, c)`` the power of its output bins labelled non-aliased / aliased / tangled over the
    power of its non-empty bins (``NaN`` for an all-zero map, which has nothing to classify).
    """
    out = {"out_of_band": out_of_band_energy(y1, stride, band="square")}
    n, c = y1.shape[:2]
    fr = {k: np.full((n, c), np.nan) for k in FOLD_KEYS}
    labs = (FoldLabel.NON_ALIASED, FoldLabel.ALIASED, FoldLabel.TANGLED)
    for i in range(n):
        res = fold_classification(y1[i : i + 1], stride, average="channel")
        filled = res.labels != FoldLabel.EMPTY
        tot = np.sum(res.power * filled, axis=(-2, -1))
        ok = tot > 0
        for key, lab in zip(FOLD_KEYS, labs, strict=True):
            e = np.sum(res.power * (res.labels == lab), axis=(-2, -1))
            fr[key][i, ok] = e[ok] / tot[ok]
    out.update(fr)
    return out


# ------------------------------------------------------------------------------ nonlinearity
def _module_fn(module: nn.Module):
    """``module`` as a numpy → numpy function on ``[k, H, W]`` (each map fed as ``[k, 1, H, W]``
    so shared-parameter modules broadcast), on the module's device, returning float64."""
    p = next(iter(module.parameters()), None)
    device = p.device if p is not None else torch.device("cpu")
    dtype = p.dtype if (p is not None and p.is_floating_point()) else torch.float64

    # An in-place module (ReLU(inplace=True)) would alter the analyzer's array: give it a copy.
    copy = bool(getattr(module, "inplace", False))

    def fn(a: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(a).to(device=device, dtype=dtype, copy=copy)[:, None]
        with torch.no_grad():
            # forward(), not __call__: the probe's own hooks are attached to this module.
            try:
                y = module.forward(t)
            except RuntimeError as e:
                raise ValueError(
                    f"the nonlinearity measure applies each module map by map, as [k, 1, H, W]; "
                    f"{type(module).__name__} failed on that ({e}). Only pointwise modules whose "
                    "parameters are shared by all channels can be measured (not, e.g., "
                    "PReLU(num_parameters=C)): leave it out of nonlinearities, or pass "
                    "measures without 'nonlinearity'"
                ) from e
        return y.to(torch.float64).cpu().numpy().reshape(a.shape)

    return fn


def nonlinearity_fraction(x: np.ndarray, module: nn.Module, oversample: int) -> np.ndarray:
    """Aliased energy ``[N, C]`` of the pointwise ``module`` applied to ``x``, per map, as a
    fraction of the layer's mean map energy for that input.

    ``dsp.aliasing.nonlinearity_aliasing(x, fn, m=oversample)`` gives each map's aliased energy
    ``E[n, c] = ‖y_s − y_ref‖²``: ``fn`` at the input rate against ``fn`` at ``oversample``
    times the rate followed by an ideal low-pass (REFERENCE §7). The value is
    ``E[n, c] / mean_c ‖y_s[n, c]‖²``, so its mean over the channels is the fraction of the
    layer's output energy that is aliased, ``Σ_c E / Σ_c ‖y_s‖²``. Normalising each map by its
    own energy instead would let nearly dead maps (a ReLU channel that is almost all negative:
    tiny, spiky output) reach thousands of percent and swamp the layer's figure. NaN for an
    input whose output is zero in every channel.
    """
    fn = _module_fn(module)
    res = nonlinearity_aliasing(x, fn, m=oversample)
    aliased = np.asarray(res.per_channel_energy, dtype=np.float64).reshape(x.shape[:2])
    output = np.asarray(res.per_channel_output_energy, dtype=np.float64).reshape(x.shape[:2])
    mean_energy = np.mean(output, axis=1, keepdims=True)
    frac = np.full_like(aliased, np.nan)
    np.divide(aliased, mean_energy, out=frac, where=mean_energy > 0)
    return frac


# ------------------------------------------------------------------------------ equivariance
def _is_int(v: float) -> bool:
    return abs(v - round(v)) < _INT_TOL


def _shift_kernel_rfft(h: int, w: int, dy: float, dx: float) -> np.ndarray:
    """``rfft2`` of the separable periodic kernel of ``dsp.interpolation.fractional_shift``.

    The kernel is the shifted unit impulse along each axis, so its spectrum carries exactly
    ``fractional_shift``'s multiplier (Nyquist convention included); one 2D real FFT product then
    applies both axes' shifts at once.
    """
    ky = np.zeros(h)
    ky[0] = 1.0
    kx = np.zeros(w)
    kx[0] = 1.0
    ky = fractional_shift(ky, dy) if dy != 0 else ky
    kx = fractional_shift(kx, dx) if dx != 0 else kx
    return scipy.fft.rfft2(np.outer(ky, kx))


def shift_maps(x: np.ndarray, dy: float, dx: float, *, circular: bool = True) -> np.ndarray:
    """Shift maps ``[..., H, W]`` by ``(dy, dx)`` samples (content moves to higher indices).

    Integer shifts are ``np.roll``; fractional ones the band-limited periodic FFT shift of
    ``dsp.interpolation.fractional_shift`` along each axis (applied as one circular convolution
    with its separable kernel). With ``circular=False`` the ``ceil(|d|)`` samples that wrapped
    around are then set to zero (zero fill instead of wrap).
    """
    out = np.asarray(x, dtype=np.float64)
    h, w = out.shape[-2:]
    if _is_int(dy) and _is_int(dx):
        out = np.roll(out, (int(round(dy)), int(round(dx))), axis=(-2, -1))
    else:
        spec = scipy.fft.rfft2(out, workers=-1) * _shift_kernel_rfft(h, w, dy, dx)
        out = scipy.fft.irfft2(spec, s=(h, w), workers=-1)
    if not circular:
        out = out.copy() if out is x else out
        for axis, d in ((-2, dy), (-1, dx)):
            k = min(int(math.ceil(abs(d) - _INT_TOL)), out.shape[axis])
            if k == 0:
                continue
            idx = [slice(None)] * out.ndim
            idx[axis] = slice(0, k) if d > 0 else slice(out.shape[axis] - k, None)
            out[tuple(idx)] = 0.0
    return out


def _valid_mask(h: int, w: int, dy: float, dx: float, circular: bool) -> tuple[slice, slice]:
    if circular:
        return slice(None), slice(None)
    my = int(math.ceil(abs(dy) - _INT_TOL)) + h // 8
    mx = int(math.ceil(abs(dx) - _INT_TOL)) + w // 8
    return slice(my, h - my), slice(mx, w - mx)


def equivariance_psnr(
    ref: np.ndarray, shifted: np.ndarray, dy: float, dx: float, *, circular: bool = True
) -> np.ndarray:
    """Per-map PSNR ``[N, C]`` of a layer's output ``shifted`` (the model run on the shifted
    input) against its unshifted output ``ref`` shifted by ``(dy, dx)`` layer samples.

    ``PSNR[n, c] = 10·log10(ms[n, c] / mse[n, c])`` dB: the maps normalised by their RMS
    ``sqrt(ms)``, ``ms`` the mean square of ``ref[n, c]`` (of all channels of input ``n`` when
    that map is all zero; 1 when the whole output is), peak 1. ``mse`` is accumulated in float64
    over the compared region: the whole map for ``circular``, else the interior without
    ``ceil(|d|) + size//8`` samples at each border of each axis. Zero error gives
    ``PSNR_CAP_DB``; values are capped there; an empty region gives ``NaN``. A map that is zero
    everywhere in both runs (a dead ReLU channel) gives ``NaN`` too: it carries no information,
    and counted at the cap it would dominate a layer's mean of dB values (the report's
    statistics leave ``NaN`` out).
    """
    ref = np.asarray(ref, dtype=np.float64)
    shifted = np.asarray(shifted, dtype=np.float64)
    expected = shift_maps(ref, dy, dx, circular=True)
    sy, sx = _valid_mask(ref.shape[-2], ref.shape[-1], dy, dx, circular)
    diff = (shifted - expected)[..., sy, sx]
    if diff.shape[-1] == 0 or diff.shape[-2] == 0:
        return np.full(ref.shape[:2], np.nan)
    mse = np.mean(diff * diff, axis=(-2, -1))
    ms = np.mean(ref * ref, axis=(-2, -1))
    ms_sample = np.mean(ms, axis=1, keepdims=True)
    ms = np.where(ms > 0, ms, np.broadcast_to(np.where(ms_sample > 0, ms_sample, 1.0), ms.shape))
    with np.errstate(divide="ignore"):
        db = 10.0 * np.log10(ms / np.maximum(mse, 0.0))
    db = np.minimum(np.where(mse > 0, db, PSNR_CAP_DB), PSNR_CAP_DB)
    dead = ~np.any(ref != 0, axis=(-2, -1)) & ~np.any(shifted != 0, axis=(-2, -1))
    return np.where(dead, np.nan, db)


# ------------------------------------------------------------------------------ the probe
@dataclass
class _Acc:
    """Per-row accumulators across batch chunks."""

    type: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    rate: float
    values: dict[str, list[np.ndarray]] = field(default_factory=dict)
    spec_sum: np.ndarray | None = None
    spec_axes: tuple[np.ndarray, np.ndarray] | None = None
    spec_n: int = 0
    cutoff: float | None = None

    def add(self, key: str, v: np.ndarray) -> None:
        self.values.setdefault(key, []).append(np.asarray(v, dtype=np.float64))

    def add_spectrum(self, y: np.ndarray, cutoff: float | None) -> None:
        if y.shape[-1] < 2 or y.shape[-2] < 2:
            return
        fy, fx, p = power_spectrum(y)
        n = y.shape[0]
        self.spec_sum = p * n if self.spec_sum is None else self.spec_sum + p * n
        self.spec_axes = (fy, fx)
        self.spec_n += n
        self.cutoff = cutoff


def _check_inputs(inputs: object) -> torch.Tensor:
    if not isinstance(inputs, torch.Tensor):
        raise ValueError(f"inputs must be a torch.Tensor [N, C, H, W], got {type(inputs).__name__}")
    if inputs.ndim != 4 or inputs.numel() == 0:
        raise ValueError(
            f"inputs must be a non-empty [N, C, H, W] tensor, got {tuple(inputs.shape)}"
        )
    if not inputs.is_floating_point():
        raise ValueError(f"inputs must be floating point, got {inputs.dtype}")
    if not bool(torch.isfinite(inputs).all()):
        raise ValueError("inputs must be finite (no NaN or infinity)")
    return inputs


def _model_place(model: nn.Module, inputs: torch.Tensor) -> tuple[torch.device, torch.dtype]:
    p = next((q for q in model.parameters() if q.is_floating_point()), None)
    if p is None:
        return inputs.device, inputs.dtype
    return p.device, p.dtype


def _np(t: torch.Tensor) -> np.ndarray:
    # Always a copy: a float64 CPU tensor would otherwise share memory with the model's tensors,
    # which in-place modules overwrite later in the pass.
    return t.detach().to(device="cpu", dtype=torch.float64, copy=True).numpy()


def _layer_output(info: LayerInfo, out: object) -> object:
    """The feature map in a layer's output: the pooled map of a max pooling that also returns
    its indices (``return_indices=True``), else the output itself."""
    if isinstance(info.module, nn.MaxPool2d | nn.AdaptiveMaxPool2d) and isinstance(out, tuple):
        return out[0] if out else out
    return out


@dataclass
class _Prober:
    """Runs the passes for one batch chunk at a time and accumulates per-row values."""

    infos: Sequence[LayerInfo]
    h_net: int
    w_net: int
    do_down: bool
    do_nl: bool
    do_eq: bool
    oversample: int
    circular: bool
    progress: bool
    accs: dict[str, _Acc] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    _first: bool = True
    _seen: list[str] = field(default_factory=list)
    _stored: dict[str, torch.Tensor] = field(default_factory=dict)
    _nl_inputs: dict[str, np.ndarray] = field(default_factory=dict)

    def log(self, msg: str) -> None:
        if self.progress:
            print(f"probe: {msg}", file=sys.stderr, flush=True)

    def on_input(self, key: str, info: LayerInfo, args: tuple) -> None:
        # Copied before the call: an in-place nonlinearity would overwrite its input.
        if not (self.do_nl and info.nonlinearity and args):
            return
        if isinstance(args[0], torch.Tensor) and args[0].ndim == 4:
            self._nl_inputs[key] = _np(args[0])

    def on_output(self, key: str, info: LayerInfo, args: tuple, out: object) -> None:
        out = _layer_output(info, out)
        if not isinstance(out, torch.Tensor) or out.ndim != 4:
            self._nl_inputs.pop(key, None)
            return
        x0 = args[0] if args and isinstance(args[0], torch.Tensor) else None
        if self._first:
            self.accs[key] = _Acc(
                type=info.type,
                in_shape=tuple(x0.shape[1:]) if x0 is not None else (),
                out_shape=tuple(out.shape[1:]),
                rate=out.shape[-2] / self.h_net,
            )
            self.order.append(key)
        elif key not in self.accs:
            raise ValueError(
                f"layer {key!r} appeared only in a later batch chunk; pass batch_size=None"
            )
        self._seen.append(key)
        acc = self.accs[key]
        eq1 = None
        if self.do_down and info.downsampling and x0 is not None and x0.ndim == 4:
            eq1 = stride1_equivalent(info, x0, out)
        if eq1 is not None:
            y1 = _np(eq1[0])
            for k, v in downsampling_aliasing(y1, eq1[1]).items():
                acc.add(k, v)
            acc.add_spectrum(y1, 0.5 / eq1[1])
        elif self.do_eq or key in self._nl_inputs:
            acc.add_spectrum(_np(out), None)
        if key in self._nl_inputs:
            x_nl = self._nl_inputs.pop(key)
            acc.add("nonlinearity", nonlinearity_fraction(x_nl, info.module, self.oversample))
        if self.do_eq:
            self._stored[key] = out.detach().clone()

    def on_shifted(self, key: str, out: object, t: float) -> None:
        ref = self._stored.get(key)
        if ref is None:
            return
        if not isinstance(out, torch.Tensor) or out.shape != ref.shape:
            raise ValueError(f"layer {key!r} output changed shape under a shift of {t:g}")
        dy = t * ref.shape[-2] / self.h_net
        dx = t * ref.shape[-1] / self.w_net
        psnr = equivariance_psnr(_np(ref), _np(out), dy, dx, circular=self.circular)
        self.accs[key].add(equivariance_key(t), psnr)

    def chunk(self, model: nn.Module, xb: torch.Tensor, start: int, shifts: Sequence[float]):
        span = f"inputs {start}..{start + len(xb) - 1}"
        self._seen = []
        self.log(f"{span}: base pass")
        run_hooked(model, xb, self.infos, self.on_output, self.on_input)
        self._nl_inputs.clear()
        if self._first and not self.order:
            raise ValueError(
                "no hooked layer produced a 4D [N, C, H, W] output; candidates are "
                f"{[i.name or '(model)' for i in self.infos]}"
            )
        if self._seen != self.order:
            raise ValueError(
                "the forward pass called different layers for different batch chunks; "
                "pass batch_size=None"
            )
        self._first = False
        if not self.do_eq:
            return
        xnp = _np(xb)
        for t in shifts:
            self.log(f"{span}: shift {t:g}")
            xs = torch.from_numpy(shift_maps(xnp, t, t, circular=self.circular))
            xs = xs.to(device=xb.device, dtype=xb.dtype)
            run_hooked(
                model,
                xs,
                self.infos,
                lambda k, i, _a, o, _t=t: self.on_shifted(k, _layer_output(i, o), _t),
            )
        self._stored.clear()


def probe_model(
    model: nn.Module,
    inputs: torch.Tensor,
    *,
    measures: Sequence[str] = MEASURES,
    layers: Sequence[str] | None = None,
    downsampling_layers: Sequence[str] = (),
    nonlinearities: Sequence[str] = (),
    oversample: int = 4,
    shifts: Sequence[float] = (1.0, 0.5),
    circular: bool = True,
    batch_size: int | None = None,
    progress: bool = False,
) -> ProbeReport:
    """Measure aliasing per layer and per channel of any ``nn.Module``. See REFERENCE §5, §7.

    Forward hooks (removed afterwards) capture each hooked module's input and output; the model
    runs in eval mode under ``torch.no_grad()`` in its own dtype and device (inputs are cast to
    them). Hooked modules: all leaf modules (plus those named below) whose output is a 4D tensor,
    kept if their name matches one of the ``layers`` patterns. A module called several times per
    pass gets one row per call (``name#2``, …). Measures, per (input, channel) map:

    1. ``"downsampling"`` on rate-lowering layers (strided ``Conv2d``/``MaxPool2d``/
       ``AvgPool2d``, adaptive pooling and ``Upsample`` that shrink the map, and
       ``downsampling_layers``): the stride-1 equivalent output (``stride1_equivalent``) →
       ``out_of_band`` (fraction of power outside the square alias-free band
       ``|f_x|, |f_y| < 1/(2s)`` cycles/sample) and the fold classification energy fractions
       (``downsampling_aliasing``);
    2. ``"nonlinearity"`` on ReLU, LeakyReLU, GELU, SiLU, Tanh, ELU, Softplus, Hardswish and
       ``nonlinearities``: the aliased energy of the module applied to its input at rate 1
       against rate ``oversample`` plus an ideal low-pass, per map, relative to the layer's
       mean map energy, so that the mean over maps is the aliased fraction of the layer's
       output energy (``nonlinearity_fraction``);
    3. ``"equivariance"`` on every hooked layer: the model is run on the input shifted by ``t``
       input pixels along both axes for each ``t`` in ``shifts`` (integer: roll; fractional:
       band-limited FFT shift; ``circular=False``: zero fill instead of wrap) and each layer's
       output is compared with its unshifted output shifted by ``t·H_out/H_in`` (resp.
       ``t·W_out/W_in``) of its own samples: PSNR in dB of the RMS-normalised maps
       (``equivariance_psnr``), one measure key per shift (``equivariance_key(t)``).

    The expected shift uses the size ratio ``H_out/H_in`` as the layer's rate (as in the
    report's ``rate`` column), so a layer that crops (``padding=0``) is compared as if it had
    resampled slightly.

    Circular shifts only isolate the network from its borders if its convolutions pad circularly;
    with zero padding the borders count as non-equivariance (use ``circular=False`` to exclude a
    border band instead).

    Parameters
    ----------
    model : nn.Module
    inputs : torch.Tensor
        ``[N, C, H, W]`` floating point, finite.
    measures : sequence of {"downsampling", "nonlinearity", "equivariance"}
    layers : sequence of str, optional
        ``fnmatch`` patterns on module names (a pattern matching a container keeps the modules
        inside it); ``None`` keeps all.
    downsampling_layers, nonlinearities : sequence of str
        Names of further modules to treat as rate-lowering resp. pointwise (a pointwise module
        is applied to single maps ``[k, 1, H, W]``, so per-channel parameters are not supported).
    oversample : int
        Oversampling factor ``m >= 2`` of the nonlinearity reference.
    shifts : sequence of float
        Input shifts in pixels (non-empty when equivariance is measured).
    circular : bool
    batch_size : int, optional
        Inputs per forward pass (default: all at once); results do not depend on it.
    progress : bool
        Print one line per pass to stderr.

    Returns
    -------
    ProbeReport
        One row per hooked layer call in forward order; spectra of each layer's output (of the
        stride-1 equivalent output for rate-lowering layers, with its band edge).

    Raises
    ------
    ValueError
        For invalid arguments, a model that fails on the input (naming the layer), or when no
        hooked layer produces a 4D output (listing the candidates).
    """
    x_all = _check_inputs(inputs)
    # Hooks see nothing inside a compiled graph: measure the module torch.compile wrapped (its
    # names are the uncompiled model's); compiled submodules run eagerly (run_hooked).
    model = eager_module(model)
    if isinstance(measures, str):
        measures = (measures,)
    measures = tuple(measures)
    bad = [m for m in measures if m not in MEASURES]
    if bad or not measures:
        raise ValueError(f"measures must be a non-empty subset of {MEASURES}, got {measures}")
    oversample = check_int("oversample", oversample, minimum=2)
    if not isinstance(circular, bool):
        raise ValueError(f"circular must be a bool, got {circular!r}")
    # Duplicates would only repeat the same measurement under one key.
    shifts = tuple(dict.fromkeys(check_real("shifts", s) for s in shifts))
    if "equivariance" in measures and not shifts:
        raise ValueError("shifts must not be empty when measuring equivariance")
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, minimum=1)
    infos = discover_layers(
        model,
        layers=layers,
        downsampling_layers=downsampling_layers,
        nonlinearities=nonlinearities,
    )
    device, dtype = _model_place(model, x_all)
    n_all, _, h_net, w_net = x_all.shape
    step = n_all if batch_size is None else batch_size
    prober = _Prober(
        infos=infos,
        h_net=h_net,
        w_net=w_net,
        do_down="downsampling" in measures,
        do_nl="nonlinearity" in measures,
        do_eq="equivariance" in measures,
        oversample=oversample,
        circular=circular,
        progress=progress,
    )
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, n_all, step):
                xb = x_all[start : start + step].to(device=device, dtype=dtype)
                prober.chunk(model, xb, start, shifts)
    finally:
        for m, was in flags:
            m.training = was
    accs, order = prober.accs, prober.order

    rows = []
    spectra = {}
    for key in order:
        acc = accs[key]
        if not acc.values:
            continue
        rows.append(
            LayerRow(
                name=key,
                type=acc.type,
                in_shape=acc.in_shape,
                out_shape=acc.out_shape,
                rate=acc.rate,
                measures={k: Stat.from_values(np.concatenate(v)) for k, v in acc.values.items()},
            )
        )
        if acc.spec_sum is not None and acc.spec_axes is not None:
            spectra[key] = Spectrum(
                fy=acc.spec_axes[0],
                fx=acc.spec_axes[1],
                power=acc.spec_sum / acc.spec_n,
                cutoff=acc.cutoff,
            )
    settings = {
        "input_shape": [int(v) for v in x_all.shape],
        "measures": list(measures),
        "layers": None if layers is None else list(layers),
        "downsampling_layers": list(downsampling_layers),
        "nonlinearities": list(nonlinearities),
        "oversample": oversample,
        "shifts": [float(s) for s in shifts],
        "circular": circular,
        "model": type(model).__name__,
    }
    if not rows:
        raise ValueError(
            f"no hooked layer is eligible for measures {list(measures)}; layers with 4D outputs "
            f"are {[f'{k} ({accs[k].type})' for k in order]}"
        )
    return ProbeReport(rows=rows, spectra=spectra, settings=settings)
