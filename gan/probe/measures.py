"""The three per-layer measures and ``probe_model``. See REFERENCE §5 and §7.

All analysis runs in float64 numpy through the ``dsp`` analyzers; the model runs in its own
dtype and device, in eval mode, under ``torch.no_grad()`` (its training flags are restored
afterwards, its parameters and buffers are not touched).
"""

from __future__ import annotations

import math
import sys
import warnings
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

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
from dsp.interpolation import fractional_shift, lanczos_margin, lanczos_shift
from dsp.spectrum import power_spectrum
from gan._compile import eager_module
from gan.probe.hooks import LayerInfo, discover_layers, hooks_paused, run_hooked
from gan.probe.report import (
    FOLD_KEYS,
    PSNR_CAP_DB,
    LayerRow,
    ProbeReport,
    Spectrum,
    Stat,
    equivariance_key,
    rate_text,
)

__all__ = [
    "MEASURES",
    "probe_model",
    "Stride1",
    "stride1_equivalent",
    "downsampling_aliasing",
    "nonlinearity_fraction",
    "shift_maps",
    "equivariance_psnr",
    "layer_rate",
]

MEASURES = ("downsampling", "nonlinearity", "equivariance")
_INT_TOL = 1e-9


# ------------------------------------------------------------------------------ downsampling
def _pair(v: object) -> tuple[int, int]:
    if isinstance(v, Sequence):
        return int(v[0]), int(v[1])
    return int(v), int(v)  # type: ignore[arg-type]


def _ratio_factor(n_in: int, n_out: int) -> int:
    # Rounded up: the band of a layer whose ratio is not a whole stride (a fallback only).
    return max(1, math.ceil(n_in / max(n_out, 1) - 1e-9))


def _axis_stride(mod: nn.Module, axis: int, n_in: int, n_out: int, user: bool) -> list[int]:
    """The whole strides by which a layer may lower the rate along one axis (``axis`` 0: y,
    1: x): one, several (``_pick_stride`` chooses) or none (it is not a whole stride).

    - ``Upsample`` with a ``scale_factor`` (and ``recompute_scale_factor`` off): PyTorch samples
      the input at ``k / scale_factor``, so ``1 / scale_factor`` is the stride whatever the
      map's size (``33 → 16`` for ``0.5`` keeps ``x[::2]``); it must be a whole number;
    - a module named in ``downsampling_layers``: every ``s`` with ``n_out = floor(n_in / s)``
      or ``ceil(n_in / s)`` (a stride-2 layer with or without ceil mode: ``31 → 16``,
      ``33 → 17``, ``33 → 16``). Small maps admit several (``13 → 4``: stride 3 in floor mode
      or stride 4 in ceil mode); an output of one sample gives ``n_in`` (a global pooling);
    - otherwise (``Upsample`` to a given size, adaptive pooling): ``n_in / n_out`` if it is a
      whole number (their sampling positions follow the size ratio).
    """
    if n_out == n_in:
        return [1]
    if n_out > n_in or n_out < 1:
        return []
    sf = getattr(mod, "scale_factor", None) if isinstance(mod, nn.Upsample) else None
    if sf is not None and not getattr(mod, "recompute_scale_factor", None):
        f = float(sf[axis] if isinstance(sf, Sequence) else sf)
        inv = 1.0 / f if f > 0 else 0.0
        s = round(inv)
        if s >= 1 and abs(inv - s) <= 1e-6 * s and n_out in (n_in // s, -(-n_in // s)):
            return [s]
        return []
    if user:
        if n_out == 1:
            return [n_in]
        return [s for s in range(2, n_in + 1) if n_out in (n_in // s, -(-n_in // s))]
    return [n_in // n_out] if n_in % n_out == 0 else []


def _pick_stride(
    mod: nn.Module, x: torch.Tensor, out: torch.Tensor, axis: int, candidates: list[int]
) -> tuple[int | None, str | None]:
    """The stride of a named downsampler along ``axis`` among ``candidates`` (``_axis_stride``),
    and a note where the layer could not tell.

    One candidate is the stride. Among several (the sizes alone cannot tell floor mode at
    stride ``s − 1`` from ceil mode at stride ``s``: ``13 → 4``, ``17 → 5``), the layer is run
    on its input rolled by each candidate ``s`` along the axis: at its own stride the output
    rolls by exactly one sample, ``out_s[k] = out[k − 1]`` for ``k >= 1`` (the wrapped first
    sample left out), which other strides do not give. Taken: the candidate with the smallest
    relative mismatch ``‖out_s[1:] − out[:−1]‖ / ‖out[:−1]‖`` where it matches to round-off or
    at least 4 times better than the next; else (a zero-padded or ceil-mode layer, whose border
    samples see the wrapped rows) the one with the most samples ``k`` matching to round-off
    along the whole of the other axes, if at least twice as many as the next. Otherwise (also
    where no candidate gives a finite mismatch: the layer fails on a rolled input or returns
    zeros) the size ratio rounded (``round(n_in / n_out)``), with a note naming the candidates.
    """
    if not candidates:
        return None, None
    if len(candidates) == 1:
        return candidates[0], None
    dim = out.ndim - 2 + axis
    n_in, n_out = x.shape[dim], out.shape[dim]
    ref = out.narrow(dim, 0, n_out - 1).detach().to(torch.float64)
    scale = float(torch.linalg.vector_norm(ref))
    eps = torch.finfo(out.dtype).eps if out.is_floating_point() else 0.0
    tol = 1000 * eps * float(ref.abs().max()) if ref.numel() else 0.0
    errs: list[float] = []
    rows: list[int] = []
    other = [d for d in range(out.ndim) if d != dim]
    try:
        with hooks_paused():
            for s in candidates:
                o = mod(torch.roll(x, s, dims=x.ndim - 2 + axis))
                if isinstance(o, tuple) and o:  # max pooling with its indices
                    o = o[0]
                if not isinstance(o, torch.Tensor) or o.shape != out.shape:
                    errs.append(math.inf)
                    rows.append(0)
                    continue
                d = (o.narrow(dim, 1, n_out - 1).detach().to(torch.float64) - ref).abs()
                errs.append(float(torch.linalg.vector_norm(d)) / scale if scale > 0 else math.inf)
                rows.append(int((d.amax(dim=other) <= tol).sum()) if scale > 0 else 0)
    except Exception:  # a layer that cannot run on a rolled input: undecided
        errs, rows = [math.inf] * len(candidates), [0] * len(candidates)
    by_err = sorted(range(len(candidates)), key=lambda i: errs[i])
    best = errs[by_err[0]]
    if math.isfinite(best) and (best <= 100 * eps or best * 4 <= errs[by_err[1]]):
        return candidates[by_err[0]], None
    by_rows = sorted(range(len(candidates)), key=lambda i: -rows[i])
    if rows[by_rows[0]] > 0 and rows[by_rows[0]] >= 2 * rows[by_rows[1]]:
        return candidates[by_rows[0]], None
    s = max(1, round(n_in / n_out))
    tried = ", ".join(
        f"{c}: {errs[i]:.2g}, {rows[i]} of {n_out - 1} samples"
        if math.isfinite(errs[i])
        else f"{c}: no output to compare (the layer failed or returned zeros)"
        for i, c in enumerate(candidates)
    )
    note = (
        f"stride ambiguous along {'yx'[axis]}: {n_in} → {n_out} samples fits the strides "
        f"{', '.join(map(str, candidates))} (floor or ceil mode), and the layer run on its "
        "input rolled by each did not single one out (relative mismatch with its output "
        f"rolled by one sample, and the samples matching: {tried}); measured at the rounded "
        f"ratio {s}. An input whose size is a multiple of the stride leaves one candidate only"
    )
    return s, note


def _phase_offsets(n_in: int, n_out: int, s: int) -> list[int]:
    """Roll offsets whose runs cover every stride-1 sample ``0 … n_in − 1`` of one axis.

    The run on the input rolled by ``−r`` gives the stride-1 samples ``r + s·k``,
    ``k < n_out``: offsets ``0 … s−1`` cover ``0 … s·n_out − 1`` (all of them, and more, when
    ``s·n_out >= n_in``, the ceil mode); a floor-mode output (``s·n_out < n_in``) adds the
    offsets ``d … d+s−1``, ``d = n_in − s·n_out``, which cover ``d … n_in − 1``.
    """
    offs = list(range(s))
    d = n_in - s * n_out
    if d > 0:
        offs += [d + i for i in range(s) if d + i not in offs]
    return offs


class Stride1(NamedTuple):
    """A rate-lowering layer's stride-1 equivalent output (``stride1_equivalent``).

    ``map``: ``[N, C, H', W']``, the stride-1 map (an axis of the input's size kept whole, so a
    periodic input gives a periodic map; any other cropped to a multiple of its stride);
    ``stride``:
    ``(s_y, s_x)``; ``note``: why the map is not the layer's own stride-1 output (it is the
    layer's input instead), or why its stride is uncertain (``_pick_stride``), or ``None``.
    """

    map: torch.Tensor
    stride: tuple[int, int]
    note: str | None = None


def _wrap_pad(x: torch.Tensor, reach: tuple[int, int], padding: tuple[int, int]) -> torch.Tensor:
    """``x`` extended circularly by ``reach`` samples after the end of each axis whose layer
    padding is 0 (REFERENCE §7).

    A layer without padding reads only real samples, so its stride-1 output is ``reach`` samples
    shorter than its input and cropping it to a multiple of the stride breaks its periodicity
    (a periodic band-limited input then shows spurious out-of-band power). Wrapping the input
    instead gives a stride-1 map of the input's size that is periodic when the input is, and
    whose samples ``0, s, 2s, …`` are still exactly the layer's output. An axis the layer pads
    keeps the layer's own padding (its map is not periodic anyway: zeros at the borders).
    """
    ry = reach[0] if padding[0] == 0 and reach[0] <= x.shape[-2] else 0
    rx = reach[1] if padding[1] == 0 and reach[1] <= x.shape[-1] else 0
    if ry == 0 and rx == 0:
        return x
    return F.pad(x, (0, rx, 0, ry), mode="circular")


def _conv_stride1(mod: nn.Conv2d, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """The stride-1 output of a strided ``Conv2d`` with input ``x`` and (strided) output ``out``.

    The module's own ``forward`` on a shallow copy set to stride 1 (the model's module is not
    touched), so a subclass that transforms its weights (weight standardisation, fake
    quantisation, parametrizations) keeps doing so, provided that sampling it at the stride
    gives back ``out`` (to the precision of ``out``'s dtype). Otherwise (a subclass whose
    forward does not read ``stride``) ``F.conv2d`` with the module's weight, bias, padding,
    dilation and groups at stride 1. An axis without padding is wrapped circularly first
    (``_wrap_pad``).
    """
    pad = (0, 0) if isinstance(mod.padding, str) else _pair(mod.padding)
    reach = tuple(d * (k - 1) for d, k in zip(mod.dilation, mod.kernel_size, strict=True))
    xin = _wrap_pad(x, reach, pad)  # type: ignore[arg-type]
    # Copied by hand: copy.copy refuses parametrized modules.
    stride1 = type(mod).__new__(type(mod))
    stride1.__dict__.update(mod.__dict__)
    stride1.stride = (1, 1)
    try:
        y = stride1.forward(xin)
    except Exception:  # a subclass that cannot run at stride 1: use the plain convolution
        y = None
    if isinstance(y, torch.Tensor) and y.ndim == 4:
        dec = y[..., :: mod.stride[0], :: mod.stride[1]][..., : out.shape[-2], : out.shape[-1]]
        if dec.shape == out.shape:
            tol = math.sqrt(torch.finfo(out.dtype).eps) * float(out.abs().max())
            if float((dec - out).abs().max()) <= tol:
                return y
    if mod.padding_mode != "zeros":
        xin = F.pad(xin, mod._reversed_padding_repeated_twice, mode=mod.padding_mode)
        pad = (0, 0)
    return F.conv2d(xin, mod.weight, mod.bias, 1, pad, mod.dilation, mod.groups)


def _pool_stride1(mod: nn.MaxPool2d | nn.AvgPool2d, x: torch.Tensor) -> torch.Tensor:
    """The same pooling at stride 1; an axis without padding is wrapped (``_wrap_pad``)."""
    k, pad = _pair(mod.kernel_size), _pair(mod.padding)
    if isinstance(mod, nn.MaxPool2d):
        dil = _pair(mod.dilation)
        xin = _wrap_pad(x, (dil[0] * (k[0] - 1), dil[1] * (k[1] - 1)), pad)
        return F.max_pool2d(xin, k, 1, pad, dil)
    xin = _wrap_pad(x, (k[0] - 1, k[1] - 1), pad)
    return F.avg_pool2d(xin, k, 1, pad, False, mod.count_include_pad, mod.divisor_override)


def _polyphase(
    mod: nn.Module, x: torch.Tensor, out: torch.Tensor, user: bool = False
) -> tuple[torch.Tensor, tuple[int, int], str | None]:
    """The stride-1 equivalent of a layer that lowers the rate by whole factors, built from the
    layer itself, or the input with a note saying why not.

    With ``(s_y, s_x)`` the layer's whole strides (``_axis_stride``: ``Upsample``'s own
    ``scale_factor``; for a named layer the stride that explains its sizes in floor or ceil
    mode, several candidates told apart by running the layer on a rolled input,
    ``_pick_stride``, whose note says where they could not be; else an exact size ratio), the
    stride-1 map ``y1`` (``H_in × W_in``, the input's size) is filled from the layer run on the
    input rolled by each offset: ``y1[..., r_y + s_y·k, r_x + s_x·l] =
    layer(roll(x, (−r_y, −r_x)))[..., k, l]`` for the offsets of ``_phase_offsets``
    (``r = 0`` is the layer's own output), samples past the input's size left out. This is
    exact for any layer that is shift-equivariant at its stride (a fixed blur followed by
    keeping every ``s``-th sample, an interpolation by ``1/s``): the layer's own anti-alias
    filter is in the map, also where the output is ``ceil(n/s)`` or ``floor(n/s)`` of an odd
    ``n`` (a periodic input then gives the periodic stride-1 map of its own size). The roll
    makes the input periodic: for a periodic input (the noise fields) and a circular layer
    nothing changes; with zero padding on a non-periodic input (a photo) the rows and columns
    within the layer's reach of the far border see the wrapped-around first rows instead of
    zeros, a border band that the non-circular measures taper away (``downsampling_aliasing``).
    """
    h_in, w_in = x.shape[-2:]
    h_out, w_out = out.shape[-2:]
    sy, note_y = _pick_stride(mod, x, out, 0, _axis_stride(mod, 0, h_in, h_out, user))
    sx, note_x = _pick_stride(mod, x, out, 1, _axis_stride(mod, 1, w_in, w_out, user))
    if sy is None or sx is None:
        s = (_ratio_factor(h_in, h_out), _ratio_factor(w_in, w_out))
        note = (
            f"downsampling measured on the layer's input: its output {h_out}x{w_out} is not "
            f"its input {h_in}x{w_in} divided by a whole stride per axis, so no stride-1 "
            "equivalent could be built from the layer (its own filter is not seen; the band is "
            f"that of the ratio rounded up to the stride {s[0]}x{s[1]})"
        )
        return x, s, note
    s = (sy, sx)
    y = out.new_empty(out.shape[:-2] + (h_in, w_in))
    try:
        with hooks_paused():
            for i in _phase_offsets(h_in, h_out, sy):
                for j in _phase_offsets(w_in, w_out, sx):
                    phase = out if i == j == 0 else mod(torch.roll(x, (-i, -j), dims=(-2, -1)))
                    if isinstance(phase, tuple) and phase:  # max pooling with its indices
                        phase = phase[0]
                    if not isinstance(phase, torch.Tensor) or phase.shape != out.shape:
                        raise ValueError(f"shape {getattr(phase, 'shape', type(phase))}")
                    ky = min(h_out, -(-(h_in - i) // sy))
                    kx = min(w_out, -(-(w_in - j) // sx))
                    y[..., i : i + sy * ky : sy, j : j + sx * kx : sx] = phase[..., :ky, :kx]
    except Exception as exc:  # any failure: measure the input and say so
        note = (
            "downsampling measured on the layer's input: running the layer on its input rolled "
            f"by a polyphase offset failed or changed the output shape ({exc}), so its own "
            "filter is not seen"
        )
        return x, s, note
    notes = [n for n in (note_y, note_x) if n]
    return y, s, "; ".join(notes) if notes else None


def stride1_equivalent(info: LayerInfo, x: torch.Tensor, out: torch.Tensor) -> Stride1 | None:
    """The layer's stride-1 equivalent output and its per-axis stride, or ``None`` if the layer
    does not lower the rate. See REFERENCE §7.

    - ``Conv2d`` with stride > 1: the same weights, padding, dilation and groups at stride 1,
      through the module's own ``forward`` where it honours the stride (``_conv_stride1``);
    - ``MaxPool2d``/``AvgPool2d`` with stride > 1: the same pooling at stride 1;
    - ``AdaptiveAvgPool2d``/``AdaptiveMaxPool2d`` with an output ``k_y × k_x`` times smaller
      (integers): a ``k_y × k_x`` pooling at stride 1;
    - ``Upsample`` (interpolation) to a smaller map, adaptive pooling by a non-integer ratio and
      modules named in ``downsampling_layers``: the polyphase construction from the layer itself
      (``_polyphase``), so the layer's own anti-alias filter is measured; where the output is
      not the input divided by whole strides (or the layer fails on a rolled input) the layer's
      input, with a note saying so.

    An axis the layer does not pad is wrapped circularly (``_wrap_pad``, as the polyphase roll
    does): the stride-1 map keeps the input's size and stays periodic when the input is (a global
    pool then gives a constant map: no aliasing). The stride is per axis, ``(s_y, s_x)``
    (``stride=(2, 1)`` decimates the rows only). An axis of the input's size is kept whole
    (periodic when the input is: an odd size that is not a multiple of the stride is handled by
    ``downsampling_aliasing``); an axis the layer's padding made shorter or longer (not
    periodic anyway) is cropped to a multiple of its stride, keeping the positions ``0, s, 2s,
    …`` the layer samples (15 → 14 samples for a 4-tap stride-2 convolution with padding 1
    on 16, whose output keeps 8: a sample at the border, a small effect on the spectrum).
    """
    mod = info.module
    h_in, w_in = x.shape[-2:]
    h_out, w_out = out.shape[-2:]
    y: torch.Tensor | None = None
    s = (1, 1)
    note = None
    if isinstance(mod, nn.Conv2d) and max(mod.stride) > 1:
        s = _pair(mod.stride)
        y = _conv_stride1(mod, x, out)
    elif isinstance(mod, nn.MaxPool2d | nn.AvgPool2d):
        stride = _pair(mod.stride if mod.stride is not None else mod.kernel_size)
        if max(stride) > 1:
            s = stride
            y = _pool_stride1(mod, x)
    elif isinstance(mod, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d) and (
        h_out < h_in or w_out < w_in
    ):
        if h_in % h_out == 0 and w_in % w_out == 0:
            s = (h_in // h_out, w_in // w_out)
            xin = _wrap_pad(x, (s[0] - 1, s[1] - 1), (0, 0))
            pool = F.avg_pool2d if isinstance(mod, nn.AdaptiveAvgPool2d) else F.max_pool2d
            y = pool(xin, s, 1)
        else:
            y, s, note = _polyphase(mod, x, out)
    elif info.user_downsampling or (
        isinstance(mod, nn.Upsample) and (h_out < h_in or w_out < w_in)
    ):
        y, s, note = _polyphase(mod, x, out, info.user_downsampling)
    if y is None or (max(s) < 2 and not info.user_downsampling):
        return None
    # An axis whose stride-1 map is not the input's size (the layer's own padding shrank it:
    # not periodic anyway) is cropped to a multiple of its stride, keeping the positions
    # 0, s, 2s, … that the layer samples.
    hh = y.shape[-2] if y.shape[-2] == h_in else (y.shape[-2] // s[0]) * s[0]
    ww = y.shape[-1] if y.shape[-1] == w_in else (y.shape[-1] // s[1]) * s[1]
    if hh < s[0] or ww < s[1]:
        return None
    return Stride1(y[..., :hh, :ww], s, note)


def _measured_map(
    y1: np.ndarray, stride: tuple[int, int], circular: bool
) -> tuple[np.ndarray, str | None]:
    """The map the out-of-band energy and the spectrum panel are computed on, and its window.

    ``circular=True``: ``y1`` itself, no window (a periodic map: its DFT is exact, and cropping
    an odd map to a multiple of the stride would break its periodicity). ``circular=False``:
    ``y1`` cropped to a multiple of the stride per axis (keeping the positions ``0, s, 2s, …``
    the layer samples) under a Hann window (``dsp.spectrum.spectrum_window``, unit mean
    square, so the total energy of white noise is unchanged); see ``downsampling_aliasing``.
    """
    if circular:
        return y1, None
    h, w = y1.shape[-2:]
    return y1[..., : (h // stride[0]) * stride[0], : (w // stride[1]) * stride[1]], "hann"


def downsampling_aliasing(
    y1: np.ndarray, stride: int | tuple[int, int], *, circular: bool = True
) -> dict[str, np.ndarray]:
    """Per-map downsampling measures of a stride-1 equivalent output ``y1`` ``[N, C, H, W]``.

    ``stride``: an integer or ``(s_y, s_x)``. Returns ``[N, C]`` arrays: ``"out_of_band"`` from
    ``dsp.aliasing.out_of_band_energy(y1, stride, band="square")`` (the fraction of the map's
    power outside the rectangle ``|f_y| < 1/(2s_y)``, ``|f_x| < 1/(2s_x)`` cycles/sample), and
    the three fold energy fractions (``FOLD_KEYS``) from
    ``dsp.aliasing.fold_classification(average="channel")`` run on each input separately: for
    map ``(n, c)`` the power of its output bins labelled non-aliased / aliased / tangled over
    the power of its non-empty bins (``NaN`` for an all-zero map, which has nothing to
    classify).

    - ``circular=True`` (periodic maps, the default): no window. The out-of-band energy is
      computed on the whole map, whatever its size (a bin's frequency ``k/H`` needs no
      divisibility). The fold classification needs ``H`` divisible by ``s_y`` and ``W`` by
      ``s_x``; an axis that is not is resampled ideally (``dsp.interpolation.fourier_resample``)
      to the next multiple, ``H' = s_y·ceil(H/s_y)``: the same periodic band-limited signal on
      a finer grid, every frequency scaled by ``H/H'`` (a band-limited periodic map stays
      inside the band; cropping it instead would put a jump between its edges and read
      spurious out-of-band and tangled power). Maps of a multiple size are measured as they
      are.
    - ``circular=False`` (maps that are not periodic, e.g. photos): each axis cropped to a
      multiple of its stride, then both measures under a separable Hann window (``window=
      "hann"`` of the analyzers, normalised to unit mean square so fractions of total power
      keep their meaning). Without it the DFT reads the jump between opposite edges (and the
      seam of the stride-1 construction's wrap-around, which lies within the layer's reach of
      the far border) as broadband power: a pure tone well inside the band read 3.6 % out of
      band and a third of its bins tangled. A window rather than a mirror extension: the
      extension only makes the edges continuous (its kink still leaks power falling as
      ``1/f⁴``), while the Hann sidelobes fall as ``1/f⁶``; the cost is a main lobe two bins
      wide, which blurs the band edge by ``2/H`` cycles/sample.
    """
    sy, sx = (stride, stride) if isinstance(stride, int) else (int(stride[0]), int(stride[1]))
    y, window = _measured_map(np.asarray(y1, dtype=np.float64), (sy, sx), circular)
    out = {"out_of_band": out_of_band_energy(y, (sy, sx), band="square", window=window)}
    h, w = y.shape[-2:]
    if h % sy or w % sx:  # periodic, not a multiple of the stride: resampled for the folds
        from dsp.interpolation import fourier_resample  # loads numba: only when needed

        y = fourier_resample(y, (-(-h // sy) * sy, -(-w // sx) * sx), axis=(-2, -1))
    n, c = y.shape[:2]
    fr = {k: np.full((n, c), np.nan) for k in FOLD_KEYS}
    labs = (FoldLabel.NON_ALIASED, FoldLabel.ALIASED, FoldLabel.TANGLED)
    for i in range(n):
        res = fold_classification(y[i : i + 1], (sy, sx), average="channel", window=window)
        filled = res.labels != FoldLabel.EMPTY
        tot = np.sum(res.power * filled, axis=(-2, -1))
        ok = tot > 0
        for key, lab in zip(FOLD_KEYS, labs, strict=True):
            e = np.sum(res.power * (res.labels == lab), axis=(-2, -1))
            fr[key][i, ok] = e[ok] / tot[ok]
    out.update(fr)
    return out


# ------------------------------------------------------------------------------ nonlinearity
def _module_fn(module: nn.Module, channels_last: bool = False):
    """``module`` as a numpy → numpy function on maps ``[k, C, H, W]`` or single maps
    ``[k, H, W]`` (fed as ``[k, 1, H, W]``; float64 out), on the module's device and in its
    parameters' dtype (float64 for a module without parameters). With ``channels_last`` the
    module is fed ``[k, H, W, C]`` (the layout it saw in the model: after a ``Linear`` or a
    ``LayerNorm`` over the last axis) and its output permuted back.

    ``dsp.aliasing.nonlinearity_aliasing`` calls it at the input rate and at ``oversample``
    times it: on chunks of whole inputs for a module with parameters, so that one with a
    parameter per channel (a ``PReLU(num_parameters=C)``) sees the channels where it expects
    them, and on single maps otherwise (bounded memory). The module gets its
    own copy of the maps (an in-place module, ``ReLU(inplace=True)``, must not overwrite the
    analyzer's array) and runs with the probe's hooks paused (its calls are not rows).
    """
    p = next(iter(module.parameters()), None)
    device = p.device if p is not None else torch.device("cpu")
    dtype = p.dtype if (p is not None and p.is_floating_point()) else torch.float64

    def fn(a: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(a).to(device=device, dtype=dtype, copy=True)
        single = t.ndim == 3  # [k, H, W]: single maps, fed as [k, 1, H, W]
        if single:
            t = t[:, None]
        try:
            with torch.no_grad(), hooks_paused():
                if channels_last:
                    y = module(t.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
                else:
                    y = module(t)
        except RuntimeError as e:
            raise ValueError(
                "the nonlinearity measure applies each module to the maps of whole inputs, "
                "[k, C, H, W], at the input size and at the oversampled size; "
                f"{type(module).__name__} failed on {tuple(a.shape)} ({e}). Only pointwise "
                "modules can be "
                "measured: leave it out of nonlinearities (--nonlinearities), or pass measures "
                "without 'nonlinearity'"
            ) from e
        if not isinstance(y, torch.Tensor) or y.shape != t.shape:
            raise ValueError(
                f"the nonlinearity measure needs a pointwise module (same shape out); "
                f"{type(module).__name__} turned {tuple(t.shape)} into "
                f"{getattr(y, 'shape', type(y).__name__)}: leave it out of nonlinearities "
                "(--nonlinearities)"
            )
        y = y[:, 0] if single else y
        return y.to(torch.float64).cpu().numpy()

    return fn


def _mirror(x: np.ndarray) -> np.ndarray:
    """Maps ``[..., H, W]`` extended to ``[..., 2H, 2W]`` by their mirror images along each
    axis (``x[h]`` for ``h < H``, ``x[2H − 1 − h]`` after): one period of a periodic map that
    is continuous across its edges (half-sample symmetric)."""
    x = np.concatenate([x, x[..., ::-1]], axis=-1)
    return np.concatenate([x, x[..., ::-1, :]], axis=-2)


def nonlinearity_fraction(
    x: np.ndarray,
    module: nn.Module,
    oversample: int,
    *,
    circular: bool = True,
    channels_last: bool = False,
) -> np.ndarray:
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

    The ideal (FFT) upsampling of the reference treats each map as one period of a periodic
    signal. ``circular=True`` (periodic maps) uses ``x`` as it is. ``circular=False`` (maps
    that are not periodic, e.g. photos) runs the analyzer on the mirror extension of each map
    (``2H × 2W``, ``_mirror``): the jump between opposite edges would otherwise ring through
    the upsampled map (Gibbs) and be counted as the nonlinearity's aliasing. A window cannot
    be used here, since tapering the input changes what a nonlinearity computes (ReLU is
    homogeneous, GELU is not). The extension is half-sample symmetric, so the upsampled input,
    the module's output, the reference and their difference are too: each of the four
    quadrants holds the same energy, and ``E`` and ``‖y_s‖²`` are those of the original
    ``H × W`` region (the extended energies divided by 4; the fraction is unchanged).

    ``channels_last``: the module runs on ``[k, H, W, C]`` (see ``_module_fn``); ``x`` is
    ``[N, C, H, W]`` either way.
    """
    fn = _module_fn(module, channels_last)
    # Whole inputs only for a module with parameters (one per channel, a PReLU): others get
    # single maps, whose chunks stay small whatever the channel count.
    per_channel = next(module.parameters(), None) is not None
    xa = np.asarray(x, dtype=np.float64)
    res = nonlinearity_aliasing(
        xa if circular else _mirror(xa), fn, m=oversample, keep_channels=per_channel
    )
    scale = 1.0 if circular else 0.25
    aliased = scale * np.asarray(res.per_channel_energy, dtype=np.float64).reshape(xa.shape[:2])
    output = scale * np.asarray(res.per_channel_output_energy, dtype=np.float64).reshape(
        xa.shape[:2]
    )
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

    - ``circular=True`` (periodic maps): integer shifts are ``np.roll``; fractional ones the
      band-limited periodic FFT shift of ``dsp.interpolation.fractional_shift`` along each axis
      (applied as one circular convolution with its separable kernel).
    - ``circular=False`` (maps that are not periodic, e.g. photos): the local Lanczos-3 shift of
      ``dsp.interpolation.lanczos_shift`` (6 taps per axis, zero fill outside; an integer shift
      is the exact zero-filled shift). The FFT shift would spread the jump between opposite
      edges (Gibbs ringing) over the whole map; a local, shift-invariant kernel commutes
      exactly with any convolution away from the borders, so the interior comparison is exact
      for a linear shift-invariant layer (REFERENCE §5, the EQ-T_frac reference).
    """
    out = np.asarray(x, dtype=np.float64)
    if not circular:
        return lanczos_shift(out, dy=dy, dx=dx)
    h, w = out.shape[-2:]
    if _is_int(dy) and _is_int(dx):
        return np.roll(out, (int(round(dy)), int(round(dx))), axis=(-2, -1))
    spec = scipy.fft.rfft2(out, workers=-1) * _shift_kernel_rfft(h, w, dy, dx)
    return scipy.fft.irfft2(spec, s=(h, w), workers=-1)


def _valid_mask(h: int, w: int, dy: float, dx: float, circular: bool) -> tuple[slice, slice]:
    """The compared region: everything for circular shifts; otherwise the interior without
    ``dsp.interpolation.lanczos_margin(d)`` samples (where the shift reads outside the map:
    ``|d|`` for an integer shift, ``floor(|d|) + 3`` for a fractional one) plus ``size // 8``
    (the layers' receptive field) at each border."""
    if circular:
        return slice(None), slice(None)
    my, mx = _border_margins(h, w, dy, dx)
    return slice(my, h - my), slice(mx, w - mx)


def _border_margins(h: int, w: int, dy: float, dx: float) -> tuple[int, int]:
    """Samples left out at each border of an ``h × w`` map under a non-circular shift of
    ``(dy, dx)`` samples: ``lanczos_margin(d) + size // 8`` per axis (``_valid_mask``)."""
    return lanczos_margin(dy) + h // 8, lanczos_margin(dx) + w // 8


def equivariance_psnr(
    ref: np.ndarray, shifted: np.ndarray, dy: float, dx: float, *, circular: bool = True
) -> np.ndarray:
    """Per-map PSNR ``[N, C]`` of a layer's output ``shifted`` (the model run on the shifted
    input) against its unshifted output ``ref`` shifted by ``(dy, dx)`` layer samples.

    ``PSNR[n, c] = 10·log10(ms[n, c] / mse[n, c])`` dB: the maps normalised by their RMS
    ``sqrt(ms)``, ``ms`` the mean square of ``ref[n, c]`` (of all channels of input ``n`` when
    that map is all zero; 1 when the whole output is), peak 1 (0 dB: an error as large as the
    signal). The generators' per-layer EQ metrics (``gan.metrics.equivariance``) use the image
    metric's peak-to-peak 2 instead, so the same maps read 6.02 dB higher there. The expected map is
    ``shift_maps(ref, dy, dx, circular=circular)`` (the same shift operator as the input's).
    ``mse`` is accumulated in float64 over the compared region: the whole map for ``circular``,
    else the interior without ``lanczos_margin(d) + size//8`` samples at each border of each
    axis (``_valid_mask``). Zero error gives ``PSNR_CAP_DB``; values are capped there; an empty
    region gives ``NaN``. A map that is zero over the compared region in both runs (a dead ReLU
    channel, or one alive only in its border band) gives ``NaN`` too: it carries no
    information, and counted at the cap it would dominate a layer's mean of dB values (the
    report's statistics leave ``NaN`` out).
    """
    ref = np.asarray(ref, dtype=np.float64)
    shifted = np.asarray(shifted, dtype=np.float64)
    expected = shift_maps(ref, dy, dx, circular=circular)
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
    # Dead where nothing is compared: zero over the compared region in both runs (a ReLU map
    # that lives only in its zero-padded border band would otherwise score the cap).
    alive = np.any(expected[..., sy, sx] != 0, axis=(-2, -1))
    alive |= np.any(shifted[..., sy, sx] != 0, axis=(-2, -1))
    return np.where(alive, db, np.nan)


_PAD_TYPES = (
    nn.ReflectionPad2d, nn.ReplicationPad2d, nn.ZeroPad2d, nn.ConstantPad2d, nn.CircularPad2d
)  # fmt: skip


def layer_rate(
    module: nn.Module,
    rate_in: tuple[float, float],
    in_hw: tuple[int, int] | None,
    out_hw: tuple[int, int],
) -> tuple[float, float]:
    """Sampling rate ``(y, x)`` of a layer's output relative to the network input, from the rate
    of its input and the layer's structure (REFERENCE §7).

    A strided ``Conv2d``/``MaxPool2d``/``AvgPool2d`` divides the rate by its stride and a
    ``ConvTranspose2d`` multiplies it, whatever their padding (a stride-2 3×3 convolution
    without padding maps 64 samples to 31 at spacing 2); any other layer whose output has its
    input's size keeps the rate (an unpadded stride-1 convolution crops, but does not resample),
    and so does a padding module (``ReflectionPad2d`` and its kin: more samples, same spacing);
    an ``Upsample`` with a ``scale_factor`` scales it by that factor (PyTorch samples its input
    at ``k / scale_factor``: 0.5 on 33 samples keeps ``x[::2]``, 16 of them at spacing 2);
    a layer that changes the size otherwise (``Upsample`` to a size, adaptive pooling, a
    user's resampler) scales the rate by the size ratio. The expected shift of a layer's map
    under an input shift ``t`` is ``t·rate``: from the size ratio alone an exactly equivariant
    layer that crops would be scored as if it had resampled.
    """
    ry, rx = rate_in
    if isinstance(module, nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d):
        stride = getattr(module, "stride", None)
        if stride is None:  # pooling without a stride: the kernel size
            stride = module.kernel_size
        sy, sx = _pair(stride)
        return ry / sy, rx / sx
    if isinstance(module, nn.ConvTranspose2d):
        sy, sx = _pair(module.stride)
        return ry * sy, rx * sx
    if isinstance(module, _PAD_TYPES):
        return ry, rx  # padding adds samples at the same spacing: no resampling
    sf = getattr(module, "scale_factor", None) if isinstance(module, nn.Upsample) else None
    if sf is not None and not getattr(module, "recompute_scale_factor", None):
        fy, fx = (float(sf[0]), float(sf[1])) if isinstance(sf, Sequence) else (sf, sf)
        return ry * fy, rx * fx
    if in_hw is None:
        return ry, rx
    return ry * out_hw[0] / in_hw[0], rx * out_hw[1] / in_hw[1]


# ------------------------------------------------------------------------------ the probe
@dataclass
class _Acc:
    """Per-row accumulators across batch chunks."""

    type: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    rate: float
    rate_w: float
    values: dict[str, list[np.ndarray]] = field(default_factory=dict)
    spec_sum: np.ndarray | None = None
    spec_axes: tuple[np.ndarray, np.ndarray] | None = None
    spec_n: int = 0
    cutoff: float | tuple[float, float] | None = None
    notes: dict[str, None] = field(default_factory=dict)
    # Non-circular shifts (dy, dx) in layer samples whose border margins (my, mx) leave no
    # interior of this layer's map to compare: its equivariance is NaN there (a row note).
    too_small: dict[tuple[float, float], tuple[int, int]] = field(default_factory=dict)
    # Adaptive pooling: an output size that does not grow with the input.
    fixed_size: bool = False
    # The layer's output (channels_last) and input (channels_last_in) are [N, H, W, C]
    # (ConvNeXt's LayerNorm/Linear/GELU after a permute, _Prober._trace): measured permuted to
    # [N, C, H, W].
    channels_last: bool = False
    channels_last_in: bool = False

    def add(self, key: str, v: np.ndarray) -> None:
        self.values.setdefault(key, []).append(np.asarray(v, dtype=np.float64))

    def add_spectrum(
        self, y: np.ndarray, stride: tuple[int, int] | None, window: str | None = None
    ) -> None:
        """Accumulate the power spectrum of ``y`` in the conventions of the ``out_of_band``
        measure (``dsp.aliasing.out_of_band_energy``): its window (none for periodic maps, Hann
        for the non-circular measures, ``_measured_map``), the mean kept, so the panel shows
        the power that was counted (a removed mean would show a different map, and the
        round-off of a constant map normalised to 0 dB)."""
        if y.shape[-1] < 2 or y.shape[-2] < 2:
            return
        if self.spec_axes is not None and self.spec_sum.shape != y.shape[-2:]:
            return  # a later chunk cannot change the map size; guard against mixing grids
        fy, fx, p = power_spectrum(y, window=window, detrend=None)
        n = y.shape[0]
        self.spec_sum = p * n if self.spec_sum is None else self.spec_sum + p * n
        self.spec_axes = (fy, fx)
        self.spec_n += n
        if stride is None:
            self.cutoff = None
        else:
            cy, cx = 0.5 / stride[0], 0.5 / stride[1]
            self.cutoff = cy if cy == cx else (cy, cx)


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


def _check_shifts(shifts: object) -> tuple[float, ...]:
    """Finite, non-zero shifts, exact duplicates dropped; two shifts that would share a report
    key (``equivariance_key``, 6 significant digits) are refused rather than pooled."""
    if isinstance(shifts, str) or not isinstance(shifts, Sequence | np.ndarray):
        raise ValueError(f"shifts must be a sequence of numbers, got {shifts!r}")
    vals = tuple(dict.fromkeys(check_real("shifts", v) for v in shifts))
    if any(v == 0 for v in vals):
        raise ValueError(
            "shifts must be non-zero: a shift of 0 compares each layer with itself (always the "
            f"{PSNR_CAP_DB:g} dB cap), got {list(vals)}"
        )
    keys: dict[str, float] = {}
    for v in vals:
        k = equivariance_key(v)
        if k in keys:
            raise ValueError(
                f"shifts {keys[k]!r} and {v!r} would share the report key {k!r} (6 significant "
                "digits): pass shifts that differ in their first 6 digits"
            )
        keys[k] = v
    return vals


def _check_forward_kwargs(kw: object) -> dict[str, object]:
    if kw is None:
        return {}
    if not isinstance(kw, Mapping) or not all(isinstance(k, str) for k in kw):
        raise ValueError(f"forward_kwargs must be a dict of keyword arguments, got {kw!r}")
    return dict(kw)


def _model_place(model: nn.Module, inputs: torch.Tensor) -> tuple[torch.device, torch.dtype]:
    p = next((q for q in model.parameters() if q.is_floating_point()), None)
    if p is None:
        return inputs.device, inputs.dtype
    return p.device, p.dtype


def _storage_ptr(t: torch.Tensor) -> int | None:
    """The address of ``t``'s storage (shared by its views), or ``None`` where it has none."""
    try:
        return int(t.untyped_storage().data_ptr()) or None
    except Exception:  # a tensor subclass or a meta tensor without storage
        return None


def _resampling_factor(n: int, n_ref: int) -> float | None:
    """The whole factor by which a size-``n`` map resamples a size-``n_ref`` one, or ``None``
    where it is none (``_Prober._size_rate`` then takes the plain ratio): ``k`` when
    ``|n − k·n_ref| < 2k``, ``1/k`` when ``|n·k − n_ref| < 2k``, ``k >= 2`` the rounded ratio
    (valid padding, ceil mode); 1 for equal sizes."""
    if n == n_ref:
        return 1.0
    if n > n_ref:
        k = round(n / n_ref)
        return float(k) if k >= 2 and abs(n - k * n_ref) < 2 * k else None
    k = round(n_ref / max(n, 1))
    return 1.0 / k if k >= 2 and abs(n * k - n_ref) < 2 * k else None


def _padded_or_cropped(n: int, n_ref: int) -> bool:
    """Whether a size-``n`` copy of a size-``n_ref`` map is taken as padded or cropped (its
    rate kept, ``_Prober._size_rate``): the size changed by at most ``max(2, n_ref // 8)``
    samples (``F.pad(x, (1, 1, 1, 1))`` before an unpadded 3×3 convolution: 32 → 34), and it
    is not a whole factor of it (``4 → 2``: a resampling)."""
    if abs(n - n_ref) > max(2, n_ref // 8):
        return False
    lo, hi = min(n, n_ref), max(n, n_ref)
    return n == n_ref or lo < 1 or hi % lo != 0


# Modules whose maps are [N, C, H, W] by definition: their input and output are never read as
# channels-last.
_NCHW_TYPES: tuple[type[nn.Module], ...] = (
    nn.modules.conv._ConvNd,
    nn.modules.pooling._MaxPoolNd,
    nn.modules.pooling._AvgPoolNd,
    nn.modules.pooling._AdaptiveAvgPoolNd,
    nn.modules.pooling._AdaptiveMaxPoolNd,
    nn.modules.batchnorm._BatchNorm,
    nn.modules.instancenorm._InstanceNorm,
    nn.GroupNorm,
    nn.LocalResponseNorm,
    nn.Upsample,
    nn.PixelShuffle,
    nn.PixelUnshuffle,
)


def _acts_on_last_axis(mod: nn.Module, x: torch.Tensor | None) -> bool:
    """Whether ``mod`` mixes or normalises along the last axis of ``x`` (a ``Linear``, a
    ``LayerNorm``/``RMSNorm`` over it): the layers that channels-last networks put there."""
    if isinstance(mod, nn.Linear):
        return True
    norms = (nn.LayerNorm, getattr(nn, "RMSNorm", nn.LayerNorm))
    shape = getattr(mod, "normalized_shape", None)
    return (
        isinstance(mod, norms)
        and x is not None
        and shape is not None
        and tuple(shape) == (int(x.shape[-1]),)
    )


class _Trace(NamedTuple):
    """Where a layer's input comes from (``_Prober._trace``): whether it is ``[N, H, W, C]``
    (``cl``), its rate, and row notes: how the rate was inferred, how a channels-last layout
    was told (``layout``), why a map read as ``[N, C, H, W]`` might be channels-last."""

    cl: bool
    rate: tuple[float, float]
    rate_note: str | None
    layout: str | None
    ambiguous: str | None
    # The ambiguity is that of the map the input derives from (a layer's output, or a view of
    # it), not the input's own: the row is noted whatever the layer.
    inherited: bool = False


def _chw(t: torch.Tensor, cl: bool) -> tuple[int, int, int]:
    """``(C, H, W)`` of a map ``[N, C, H, W]``, or of ``[N, H, W, C]`` with ``cl``."""
    if cl:
        return int(t.shape[3]), int(t.shape[1]), int(t.shape[2])
    return int(t.shape[1]), int(t.shape[2]), int(t.shape[3])


def _view_reading(t: torch.Tensor, src: torch.Tensor, src_cl: bool) -> tuple[bool, int, int] | None:
    """How ``t``, a view of ``src``'s storage, reads the map ``src`` holds: ``(cl, k_y, k_x)``,
    ``cl`` whether ``t``'s last axis is the channel axis (``src.permute(0, 2, 3, 1)`` of an
    ``[N, C, H, W]`` map), ``k_y``, ``k_x`` its spatial steps (1 for a slice, ``k`` for a
    strided slice ``[::k]``); ``None`` where neither reading fits. From the strides, whatever
    the memory format: the channel axis keeps its stride and each spatial axis steps a whole
    multiple of its own. Both readings fit only in degenerate cases (axes of one sample):
    ``src``'s own layout is kept."""
    st = src.stride()
    sc, sh, sw = (st[3], st[1], st[2]) if src_cl else (st[1], st[2], st[3])
    if sh <= 0 or sw <= 0:
        return None
    hits = []
    for cl, (ac, ah, aw) in ((False, (1, 2, 3)), (True, (3, 1, 2))):
        tc, th, tw = t.stride(ac), t.stride(ah), t.stride(aw)
        if tc == sc and th > 0 and tw > 0 and th % sh == 0 and tw % sw == 0:
            hits.append((cl, th // sh, tw // sw))
    if len(hits) == 2:
        return hits[0] if hits[0][0] == src_cl else hits[1]
    return hits[0] if hits else None


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
    forward_kwargs: dict[str, object] = field(default_factory=dict)
    accs: dict[str, _Acc] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    # Hooked layers whose output is a tuple or list holding 4D maps: not measured (a note).
    tuple_outputs: dict[str, str] = field(default_factory=dict)
    _first: bool = True
    _seen: list[str] = field(default_factory=list)
    _stored: dict[str, torch.Tensor] = field(default_factory=dict)
    _nl_inputs: dict[str, np.ndarray] = field(default_factory=dict)
    # Rates and layouts of the tensors seen in the first pass: by identity (checked through a
    # weak reference: ids are reused once a tensor is freed), by storage (views of a map: a
    # slice that crops it, a strided slice that decimates it, a permutation to channels-last),
    # the latest per spatial size for tensors no hooked module produced (a residual sum, a
    # concatenation), the latest map of all (for a size seen nowhere before: a functional
    # resampling, or a crop that copies), and the [C, H, W] shapes of all (channels-last ones
    # permuted: the layout of a copy is read from its shape).
    _rate_of: dict[int, tuple[object, tuple[float, float]]] = field(default_factory=dict)
    _rate_by_size: dict[tuple[int, int], tuple[float, float]] = field(default_factory=dict)
    _by_storage: dict[int, list[tuple[object, tuple[float, float], bool]]] = field(
        default_factory=dict
    )
    _latest: tuple[tuple[int, int], tuple[float, float]] | None = None
    _shapes: set[tuple[int, int, int]] = field(default_factory=set)
    # Tensors whose last axis is the channel axis, [N, H, W, C] (weak references by id).
    _channels_last: dict[int, object] = field(default_factory=dict)
    # Spatial sizes (H, W) of the measured channels-last maps, with their rates (the latest).
    _cl_sizes: dict[tuple[int, int], tuple[float, float]] = field(default_factory=dict)
    # Layers' outputs whose layout derives from an ambiguous reading (_Trace.ambiguous): the
    # note, by id (with a weak reference), carried to the rows they feed.
    _ambiguous_of: dict[int, tuple[object, str]] = field(default_factory=dict)

    def _remember_rate(self, t: torch.Tensor, rate: tuple[float, float], cl: bool = False) -> None:
        chw = _chw(t, cl)
        hw = chw[1:]
        self._rate_of[id(t)] = (weakref.ref(t), rate)
        self._rate_by_size[hw] = rate
        self._latest = (hw, rate)
        self._shapes.add(chw)
        if cl:
            self._channels_last[id(t)] = weakref.ref(t)
            self._cl_sizes[hw] = rate
        ptr = _storage_ptr(t)
        if ptr is not None:
            self._by_storage.setdefault(ptr, []).append((weakref.ref(t), rate, cl))

    def _ambiguity(self, t: object) -> str | None:
        entry = self._ambiguous_of.get(id(t)) if isinstance(t, torch.Tensor) else None
        return entry[1] if entry is not None and entry[0]() is t else None

    def _merged_cl(self, h: int, w: int) -> tuple[int, tuple[int, int], tuple[float, float]] | None:
        """A measured channels-last map whose ``(H, W)`` is ``(k·h, k·w)``, ``k >= 1`` whole,
        the latest such: ``(k, (H, W), rate)``, or ``None``."""
        for (hh, ww), rate in reversed(self._cl_sizes.items()):
            if h > 0 and w > 0 and hh % h == 0 and ww % w == 0 and hh // h == ww // w:
                return hh // h, (hh, ww), rate
        return None

    def _is_channels_last(self, t: object) -> bool:
        ref = self._channels_last.get(id(t)) if isinstance(t, torch.Tensor) else None
        return ref is not None and ref() is t

    def _trace(self, x: torch.Tensor | None, last_axis: bool = False) -> _Trace:
        """The layout and rate of a layer's input ``x``, with row notes where they were inferred.

        In order:

        - the tensor a hooked module produced (or the network input): its own layout and rate;
        - a view into the storage of such a map, read from the strides (``_view_reading``): a
          ``permute(0, 2, 3, 1)`` of an ``[N, C, H, W]`` map is channels-last (ConvNeXt's
          ``LayerNorm``/``Linear``/``GELU``), a slice ``x[..., a:b, c:d]`` crops (the map's
          rate, a note), a strided slice ``x[..., ::k, ::k]`` decimates (the rate over ``k``);
        - any other tensor (a copy): channels-last only if its shape is that of a measured map
          permuted to ``[N, H, W, C]`` and no ``[N, C, H, W]`` reading fits it (a measured map
          of that shape or spatial size); where both fit (square maps) it is read as
          ``[N, C, H, W]`` with a note. In a network with channels-last maps, a copy fed to a
          layer acting on its last axis (``last_axis``: a ``LayerNorm`` over it, a ``Linear``)
          that no ``[N, C, H, W]`` reading fits, whose ``(H, W)`` read as ``[N, H, W, C]`` is a
          measured channels-last map's divided by a whole ``k >= 1`` on both axes (Swin's patch
          merging: ``cat`` of ``x[..., 0::2, 0::2, :]`` and its like along the channels) is
          channels-last at that map's rate over ``k``, with a note. Its rate: that of the latest
          map of the same spatial
          size (a residual sum, a concatenation), else its size against the latest map's
          (``_size_rate``), with a note. A layer acting on the last axis of an ``[N, C, H, W]``
          map (a ``LayerNorm(W)``, a ``Linear`` along the rows) says nothing more about the
          layout.

        An ambiguous reading (``ambiguous``) is carried to the maps of the layers it feeds and
        to views of them (``inherited``): their rows get the same note.
        """
        if x is None or not isinstance(x, torch.Tensor) or x.ndim != 4:
            return _Trace(False, (1.0, 1.0), None, None, None)
        entry = self._rate_of.get(id(x))
        if entry is not None and entry[0]() is x:
            cl = self._is_channels_last(x)
            how = "its input is the [N, H, W, C] output of a channels-last layer" if cl else None
            amb = self._ambiguity(x)
            return _Trace(cl, entry[1], None, how, amb, amb is not None)
        ptr = _storage_ptr(x)
        for ref, rate, src_cl in reversed(self._by_storage.get(ptr, []) if ptr else []):
            src = ref()
            reading = _view_reading(x, src, src_cl) if src is not None else None
            if reading is None:
                continue
            cl, ky, kx = reading
            how = None
            if cl:
                how = (
                    f"its input {tuple(x.shape)} is a view of the [N, H, W, C] output of a "
                    "channels-last layer"
                    if src_cl
                    else f"its input {tuple(x.shape)} is a permuted view of the [N, C, H, W] "
                    f"map {tuple(src.shape)} of a measured layer"
                )
            size, src_hw = _chw(x, cl)[1:], _chw(src, src_cl)[1:]
            note = None
            if (ky, kx) != (1, 1) or size != src_hw:
                what = (
                    "a crop (a slice in a forward), which keeps the rate"
                    if (ky, kx) == (1, 1)
                    else f"a strided slice (every {ky}x{kx} sample), which divides the rate"
                )
                note = (
                    f"its input {size[0]}x{size[1]} is a view of a {src_hw[0]}x{src_hw[1]} map "
                    f"at rate {rate_text(*rate)}: taken as {what}"
                )
            amb = self._ambiguity(src)
            return _Trace(cl, (rate[0] / ky, rate[1] / kx), note, how, amb, amb is not None)
        d1, d2, d3 = (int(v) for v in x.shape[1:])
        cl_fits = (d3, d1, d2) in self._shapes
        nchw_fits = (d1, d2, d3) in self._shapes or (d2, d3) in self._rate_by_size
        cl = cl_fits and not nchw_fits
        how = ambiguous = None
        if cl:
            how = (
                f"its input {tuple(x.shape)}, no view of a measured map, has the shape of the "
                f"[N, C, H, W] map (N, {d3}, {d1}, {d2}) permuted, and no [N, C, H, W] reading "
                "fits it"
            )
        elif cl_fits:
            ambiguous = (
                f"layout ambiguous: its input {tuple(x.shape)}, no view of a measured map, reads "
                f"as [N, C, H, W] and as a {d1}x{d2} map with {d3} channels in [N, H, W, C] "
                "alike; measured as [N, C, H, W]. If the layer sees channels-last maps, "
                "permute a view (x.permute(0, 2, 3, 1), not .contiguous()) so that the probe "
                "can tell"
            )
        merged = (
            self._merged_cl(d1, d2)
            if last_axis and self._cl_sizes and not cl_fits and not nchw_fits
            else None
        )
        if merged is not None:
            k, (hh, ww), r = merged
            rate = (r[0] / k, r[1] / k)
            how = (
                f"its input {tuple(x.shape)}, no view of a measured map, is acted on along its "
                "last axis and no [N, C, H, W] reading fits it; read as [N, H, W, C], its "
                f"{d1}x{d2} map is the channels-last {hh}x{ww} map's "
                + ("size" if k == 1 else f"divided by {k}")
                + " (a concatenation along the channels"
                + (")" if k == 1 else " of strided slices, a patch merging)")
            )
            note = (
                f"its input {d1}x{d2} (channels-last) is a copy of the {hh}x{ww} channels-last "
                f"map at rate {rate_text(*r)}"
                + ("" if k == 1 else f" taken every {k}x{k} samples")
                + f": rate {rate_text(*rate)}"
            )
            return _Trace(True, rate, note, how, None)
        rate, note = self._size_rate((d1, d2) if cl else (d2, d3))
        return _Trace(cl, rate, note, how, ambiguous)

    def _size_rate(self, size: tuple[int, int]) -> tuple[tuple[float, float], str | None]:
        """The rate of a map of ``size`` that is neither a measured layer's map nor a view of
        one: that of the latest map of the same size (a residual sum, a concatenation), else
        the latest map's rate where the size differs from its by a few samples on both axes
        (``_padded_or_cropped``: ``F.pad`` before an unpadded convolution, a small crop; the
        layers it feeds keep that rate, so pads do not compound), else the size ratio ``r`` to
        the latest map times its rate (a whole factor ``k >= 2`` where the size is the latest's
        times ``k`` or divided by it within ``2k`` samples: valid padding, ceil mode), with a
        note. Sizes alone cannot tell a resampling from a crop
        that copies (``.contiguous()``, ``F.pad`` with negative padding): it is read as a
        resampling, as is any functional ``F.interpolate``; a crop by slicing is a view and
        keeps its rate (``_trace``)."""
        if size in self._rate_by_size:
            return self._rate_by_size[size], None
        if self._latest is None:
            return (size[0] / self.h_net, size[1] / self.w_net), None
        (hl, wl), (ry, rx) = self._latest
        if _padded_or_cropped(size[0], hl) and _padded_or_cropped(size[1], wl):
            note = (
                f"its input {size[0]}x{size[1]} is neither a measured layer's map nor a view of "
                f"one: size changed by a few samples against the latest map ({hl}x{wl}, rate "
                f"{rate_text(ry, rx)}): taken as padding or a crop, rate kept"
            )
            return (ry, rx), note
        fy, fx = _resampling_factor(size[0], hl), _resampling_factor(size[1], wl)
        rate = (
            ry * (size[0] / hl if fy is None else fy),
            rx * (size[1] / wl if fx is None else fx),
        )
        note = (
            f"its input {size[0]}x{size[1]} is neither a measured layer's map nor a view of one "
            f"(a functional resampling or a copy): its rate {rate_text(*rate)} is inferred from "
            f"its size against the latest map ({hl}x{wl}, rate {rate_text(ry, rx)}). A crop "
            "that copies (.contiguous(), F.pad with negative padding) is misread so, as a "
            "resampling: crop by slicing without copying (x[..., a:b, c:d]), which the probe "
            "reads as a crop that keeps the rate"
        )
        return rate, note

    def log(self, msg: str) -> None:
        if self.progress:
            print(f"probe: {msg}", file=sys.stderr, flush=True)

    def on_input(self, key: str, info: LayerInfo, args: tuple) -> None:
        # Copied before the call: an in-place nonlinearity would overwrite its input.
        if not (self.do_nl and info.nonlinearity and args):
            return
        x = args[0]
        if isinstance(x, torch.Tensor) and x.ndim == 4:
            acc = self.accs.get(key)
            if acc is not None:
                cl = acc.channels_last_in
            else:
                cl = not isinstance(info.module, _NCHW_TYPES) and (
                    self._trace(x, _acts_on_last_axis(info.module, x)).cl
                )
            self._nl_inputs[key] = _np(x.permute(0, 3, 1, 2) if cl else x)

    def _out_layout(self, x: torch.Tensor | None, cl_in: bool, out: torch.Tensor) -> bool:
        """Whether a layout-agnostic layer's output is channels-last: the layout of its input
        where it returns it or a tensor of its shape (a ``LayerNorm``, a ``GELU``), also where
        it keeps the three leading axes of a channels-last input (a ``Linear(C, 4C)``); the
        reading of its strides where it returns a view of its input (a ``Permute`` module);
        otherwise as any input would be read (``_trace``)."""
        if x is None:
            return False
        if out is x:
            return cl_in
        if _storage_ptr(out) is not None and _storage_ptr(out) == _storage_ptr(x):
            reading = _view_reading(out, x, cl_in)
            if reading is not None:
                return reading[0]
        if out.shape == x.shape:
            return cl_in
        if cl_in and out.shape[:3] == x.shape[:3]:
            return True
        return self._trace(out).cl

    def on_output(self, key: str, info: LayerInfo, args: tuple, out: object) -> None:
        out = _layer_output(info, out)
        if not isinstance(out, torch.Tensor) or out.ndim != 4:
            self._nl_inputs.pop(key, None)
            if (
                self._first
                and isinstance(out, tuple | list)
                and any(isinstance(o, torch.Tensor) and o.ndim == 4 for o in out)
            ):
                self.tuple_outputs.setdefault(info.name or "(model)", info.type)
            return
        x0 = args[0] if args and isinstance(args[0], torch.Tensor) else None
        if self._first:
            x4 = x0 if x0 is not None and x0.ndim == 4 else None
            tr = self._trace(x4, _acts_on_last_axis(info.module, x4))
            if isinstance(info.module, _NCHW_TYPES):  # [N, C, H, W] by definition
                cl_in = cl_out = False
                ambiguous = None
            else:
                cl_in = tr.cl
                cl_out = self._out_layout(x4, cl_in, out)
                # Only where the layout could matter: a layer acting on the last axis, or a
                # network with channels-last maps (square maps are common elsewhere).
                ambiguous = (
                    tr.ambiguous
                    if tr.inherited or self._channels_last or _acts_on_last_axis(info.module, x4)
                    else None
                )
            x_n = x4.permute(0, 3, 1, 2) if cl_in and x4 is not None else x4
            o_n = out.permute(0, 3, 1, 2) if cl_out else out
            in_hw = tuple(x_n.shape[-2:]) if x_n is not None else None
            rate = layer_rate(info.module, tr.rate, in_hw, tuple(o_n.shape[-2:]))
            self._remember_rate(out, rate, cl_out)
            if ambiguous:  # its layout follows its input's reading (not an [N, C, H, W] type)
                self._ambiguous_of[id(out)] = (weakref.ref(out), ambiguous)
            self.accs[key] = _Acc(
                type=info.type,
                in_shape=tuple(x_n.shape[1:]) if x_n is not None else (),
                out_shape=tuple(o_n.shape[1:]),
                rate=rate[0],
                rate_w=rate[1],
                fixed_size=isinstance(info.module, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d),
                channels_last=cl_out,
                channels_last_in=cl_in,
            )
            self.order.append(key)
            notes = self.accs[key].notes
            if tr.rate_note:
                notes.setdefault(tr.rate_note, None)
            if ambiguous:
                notes.setdefault(ambiguous, None)
            if cl_in or cl_out:
                if cl_in and cl_out:
                    text = f"channels-last map: {tr.layout}, so its maps are measured as "
                    text += "[N, C, H, W] (shapes shown so)"
                elif cl_in:
                    text = f"channels-last input: {tr.layout}; measured as [N, C, H, W] "
                    text += f"(shape shown so), its output {tuple(out.shape)} as it is"
                else:
                    text = f"channels-last output: its output {tuple(out.shape)} is its "
                    text += "[N, C, H, W] input permuted to [N, H, W, C], measured as "
                    text += "[N, C, H, W] (shape shown so)"
                if self.do_down and info.downsampling:
                    text += "; the downsampling measure does not apply to it"
                notes.setdefault(text, None)
            if self.do_down and in_hw is not None and _unmeasured_rate_drop(info, tr.rate, rate):
                # The root module cannot be named: wrapped, it becomes the module '0'.
                name = repr(info.name) if info.name else "'0' of nn.Sequential(model)"
                notes.setdefault(
                    f"lowers the sample rate ({rate_text(*tr.rate)} → {rate_text(*rate)}) but "
                    f"is not a known downsampling module ({info.type}); name {name} in "
                    "downsampling_layers (--downsampling-layers) to measure its aliasing",
                    None,
                )
        elif key not in self.accs:
            raise ValueError(
                f"layer {key!r} appeared only in a later batch chunk; pass batch_size=None "
                "(leave out --batch)"
            )
        self._seen.append(key)
        acc = self.accs[key]
        if acc.channels_last:
            out = out.permute(0, 3, 1, 2)
        if acc.channels_last_in and x0 is not None and x0.ndim == 4:
            x0 = x0.permute(0, 3, 1, 2)
        eq1 = None
        if (
            self.do_down
            and info.downsampling
            and not (acc.channels_last or acc.channels_last_in)
            and x0 is not None
            and x0.ndim == 4
        ):
            eq1 = stride1_equivalent(info, x0, out)
        if eq1 is not None:
            y1 = _np(eq1.map)
            for k, v in downsampling_aliasing(y1, eq1.stride, circular=self.circular).items():
                acc.add(k, v)
            y_spec, window = _measured_map(y1, eq1.stride, self.circular)
            acc.add_spectrum(y_spec, eq1.stride, window=window)
            if eq1.note:
                acc.notes.setdefault(eq1.note, None)
        elif self.do_eq or key in self._nl_inputs:
            acc.add_spectrum(_np(out), None)
        if key in self._nl_inputs:
            x_nl = self._nl_inputs.pop(key)
            acc.add(
                "nonlinearity",
                nonlinearity_fraction(
                    x_nl,
                    info.module,
                    self.oversample,
                    circular=self.circular,
                    channels_last=acc.channels_last_in,
                ),
            )
        if self.do_eq:
            self._stored[key] = out.detach().clone()

    def on_shifted(self, key: str, out: object, t: float) -> None:
        ref = self._stored.get(key)
        if ref is None:
            return
        if self.accs[key].channels_last and isinstance(out, torch.Tensor) and out.ndim == 4:
            out = out.permute(0, 3, 1, 2)
        if not isinstance(out, torch.Tensor) or out.shape != ref.shape:
            raise ValueError(f"layer {key!r} output changed shape under a shift of {t:g}")
        acc = self.accs[key]
        dy, dx = t * acc.rate, t * acc.rate_w
        if not self.circular:
            h, w = ref.shape[-2:]
            margins = _border_margins(h, w, dy, dx)
            if h - 2 * margins[0] <= 0 or w - 2 * margins[1] <= 0:
                acc.too_small[(dy, dx)] = margins
        psnr = equivariance_psnr(_np(ref), _np(out), dy, dx, circular=self.circular)
        self.accs[key].add(equivariance_key(t), psnr)

    def chunk(self, model: nn.Module, xb: torch.Tensor, start: int, shifts: Sequence[float]):
        span = f"inputs {start}..{start + len(xb) - 1}"
        self._seen = []
        self.log(f"{span}: base pass")
        if self._first:
            self._remember_rate(xb, (1.0, 1.0))
        run_hooked(model, xb, self.infos, self.on_output, self.on_input, self.forward_kwargs)
        self._rate_of.clear()
        self._by_storage.clear()
        self._channels_last.clear()
        self._shapes.clear()
        self._cl_sizes.clear()
        self._ambiguous_of.clear()
        self._latest = None
        self._nl_inputs.clear()
        if self._first and not self.order:
            raise ValueError(
                "no hooked layer produced a 4D [N, C, H, W] output; candidates are "
                f"{[i.name or '(model)' for i in self.infos]}"
            )
        if self._seen != self.order:
            raise ValueError(
                "the forward pass called different layers for different batch chunks; "
                "pass batch_size=None (leave out --batch)"
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
                forward_kwargs=self.forward_kwargs,
            )
        self._stored.clear()


#: Why a requested measure can find no layer (a warning and a report note say so).
_EMPTY_MEASURE_REASONS = {
    "downsampling": (
        "no hooked layer lowers the rate (a strided Conv2d/MaxPool2d/AvgPool2d, adaptive pooling "
        "or Upsample to a smaller map, or a module named in downsampling_layers "
        "(--downsampling-layers)); functional calls inside a forward (F.interpolate, "
        "F.avg_pool2d, a strided F.conv2d) are not modules, so hooks cannot see them: name the "
        "module that makes them in downsampling_layers (--downsampling-layers)"
    ),
    "nonlinearity": (
        "no hooked layer is a pointwise nonlinearity module (NONLINEARITY_TYPES or a module "
        "named in nonlinearities (--nonlinearities)); functional calls inside a forward (F.relu, "
        "torch.tanh, x.clamp) are not modules, so hooks cannot see them: use the module form "
        "(nn.ReLU) or name a module that only applies the function in nonlinearities "
        "(--nonlinearities)"
    ),
    "equivariance": "no hooked layer produced a map to compare",
}


def _few(names: Sequence[str], k: int = 3) -> str:
    """``'a', 'b', 'c' and 4 more``: the first ``k`` names, quoted."""
    shown = ", ".join(repr(n) for n in names[:k])
    return shown + (f" and {len(names) - k} more" if len(names) > k else "")


def _unmeasured_rate_drop(
    info: LayerInfo, rate_in: tuple[float, float], rate: tuple[float, float]
) -> bool:
    """Whether a hooked layer lowers the rate (as followed by ``layer_rate``) without being a
    candidate of the downsampling measure: a user's module that resamples with a functional call
    (a strided ``F.conv2d`` in a ``Blur``), which only ``downsampling_layers`` gets measured.
    ``PixelUnshuffle`` moves samples into channels without discarding any: not aliasing. Only
    a drop by about an integer factor ≥ 2 counts (a valid-padded strided convolution is a few
    samples off): a crop or negative padding changes the size, and so the followed rate, by
    a few samples, which is not resampling."""
    if info.downsampling or isinstance(info.module, nn.PixelUnshuffle):
        return False
    for r, r_in in zip(rate, rate_in, strict=True):
        if r <= 0 or r >= r_in * (1 - 1e-9):
            continue
        factor = r_in / r
        if round(factor) >= 2 and abs(factor - round(factor)) <= 0.1 * round(factor):
            return True
    return False


def _strided(mod: nn.Module) -> bool:
    """A module of a known rate-lowering type that lowers the rate whatever its input: a strided
    convolution or pooling, adaptive pooling (to a map smaller than most inputs)."""
    if isinstance(mod, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d):
        return True
    if isinstance(mod, nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d):
        stride = mod.stride if mod.stride is not None else mod.kernel_size  # type: ignore[union-attr]
        return max(_pair(stride)) > 1
    return False


def _left_out_by_layers(
    model: nn.Module,
    infos: Sequence[LayerInfo],
    measures: Sequence[str],
    layers: Sequence[str] | None,
    downsampling_layers: Sequence[str],
    nonlinearities: Sequence[str],
) -> dict[str, tuple[str | None, str | None]]:
    """Per measure, what the ``layers`` patterns left out: ``(named, known)``, a sentence on the
    modules named in ``downsampling_layers`` / ``nonlinearities`` that ``layers`` drops (they are
    not measured although the user asked for them) and one on dropped modules of a known type
    that would have been measured (a reason for a measure that found no layer), or ``None``."""
    if layers is None:
        return {}
    kept = {i.name for i in infos}
    shown = f"layers={list(layers)} (--layers)"
    everything: list[LayerInfo] | None = None
    out: dict[str, tuple[str | None, str | None]] = {}
    kinds = (
        ("downsampling", "downsampling_layers (--downsampling-layers)", downsampling_layers),
        ("nonlinearity", "nonlinearities (--nonlinearities)", nonlinearities),
    )
    for measure, arg, named in kinds:
        if measure not in measures:
            continue
        left = [n for n in dict.fromkeys(named) if n not in kept]
        named_text = None
        if left:
            one = len(left) == 1
            it, them = ("it", "it is") if one else ("them", "they are")
            named_text = (
                f"{arg} names {_few(left)}, but {shown} leaves {it} out, so {them} not "
                f"measured: add {it} to layers (--layers)"
            )
        if everything is None:
            everything = discover_layers(
                model, downsampling_layers=downsampling_layers, nonlinearities=nonlinearities
            )
        if measure == "downsampling":
            known = [i.name for i in everything if i.name not in kept and _strided(i.module)]
            what = "the strided convolutions and pooling layers"
        else:
            known = [
                i.name
                for i in everything
                if i.name not in kept and i.nonlinearity and i.name not in named
            ]
            what = "the nonlinearity modules"
        known_text = (
            f"{shown} leaves out {what} {_few(known)}: add them to layers (--layers)"
            if known
            else None
        )
        out[measure] = (named_text, known_text)
    return out


def _small_map_note(acc: _Acc, shifts: Sequence[float]) -> str:
    """The row note of a layer whose map is too small for the border margins of some
    non-circular shifts (its equivariance is ``NaN`` for those)."""
    h, w = acc.out_shape[-2:]
    descs, keys = [], []
    for t in shifts:
        d = (t * acc.rate, t * acc.rate_w)
        if d not in acc.too_small:
            continue
        my, mx = acc.too_small[d]
        shift = f"{d[0]:g}" if d[0] == d[1] else f"{d[0]:g}×{d[1]:g} (H×W)"
        margin = f"{my}" if my == mx else f"{my}×{mx} (H×W)"
        descs.append(f"{shift} samples ({margin} samples at each border)")
        keys.append(equivariance_key(t))
    verb = "is" if len(keys) == 1 else "are"
    circ = "periodic inputs with circular shifts (circular=True; --images noise)"
    advice = (
        f"the output size of adaptive pooling does not grow with the input: use {circ}"
        if acc.fixed_size
        else f"use a larger input (--input-shape), or {circ}"
    )
    return (
        f"{h}×{w} map too small for the border margin of a non-circular shift of "
        f"{' or of '.join(descs)}: {' and '.join(keys)} {verb} NaN; {advice}"
    )


def _zero_padded(mod: nn.Module) -> bool:
    """A ``Conv2d`` that pads with zeros."""
    if not isinstance(mod, nn.Conv2d) or mod.padding_mode != "zeros":
        return False
    if isinstance(mod.padding, str):
        reach = (d * (k - 1) for d, k in zip(mod.dilation, mod.kernel_size, strict=True))
        return mod.padding == "same" and any(r > 0 for r in reach)
    return any(p > 0 for p in _pair(mod.padding))


def _measure_present(measure: str, rows: Sequence[LayerRow]) -> bool:
    if measure == "downsampling":
        return any("out_of_band" in r.measures for r in rows)
    if measure == "nonlinearity":
        return any("nonlinearity" in r.measures for r in rows)
    return any(k.startswith("equivariance_") for r in rows for k in r.measures)


def probe_model(
    model: nn.Module,
    inputs: torch.Tensor,
    *,
    measures: Sequence[str] | None = None,
    layers: Sequence[str] | None = None,
    downsampling_layers: Sequence[str] = (),
    nonlinearities: Sequence[str] = (),
    oversample: int = 4,
    shifts: Sequence[float] = (1.0, 0.5),
    circular: bool = True,
    batch_size: int | None = None,
    progress: bool = False,
    forward_kwargs: Mapping[str, object] | None = None,
) -> ProbeReport:
    """Measure aliasing per layer and per channel of any ``nn.Module``. See REFERENCE §5, §7.

    Forward hooks (removed afterwards) capture each hooked module's input and output; the model
    runs in eval mode under ``torch.no_grad()`` in its own dtype and device (inputs are cast to
    them), as ``model(x, **forward_kwargs)``. Hooked modules: all leaf modules (plus those named
    below) whose output is a 4D tensor, kept if their name matches one of the ``layers``
    patterns. A module called several times per pass gets one row per call (``name#2``, …).
    Measures, per (input, channel) map:

    1. ``"downsampling"`` on rate-lowering layers (strided ``Conv2d``/``MaxPool2d``/
       ``AvgPool2d``, adaptive pooling and ``Upsample`` that shrink the map, and
       ``downsampling_layers``): the stride-1 equivalent output (``stride1_equivalent``; for
       ``Upsample``, non-integer adaptive pooling and named layers built from polyphase runs of
       the layer itself, so its own anti-alias filter counts) → ``out_of_band`` (fraction of
       power outside the alias-free band ``|f_y| < 1/(2s_y)``, ``|f_x| < 1/(2s_x)``
       cycles/sample, per-axis strides ``(s_y, s_x)``) and the fold classification energy
       fractions (``downsampling_aliasing``). A row whose map had to be the layer's input says
       so in its ``notes``;
    2. ``"nonlinearity"`` on the modules of ``hooks.NONLINEARITY_TYPES`` (ReLU, ReLU6,
       LeakyReLU, PReLU, GELU, SiLU, Mish, Tanh, Sigmoid, …) and ``nonlinearities``: the
       aliased energy of the module applied to its input at rate 1 against rate ``oversample``
       plus an ideal low-pass, per map, relative to the layer's mean map energy, so that the
       mean over maps is the aliased fraction of the layer's output energy
       (``nonlinearity_fraction``);
    3. ``"equivariance"`` on every hooked layer: the model is run on the input shifted by ``t``
       input pixels along both axes for each ``t`` in ``shifts`` and each layer's output is
       compared with its unshifted output shifted by ``t·rate`` (resp. ``t·rate_w``) of its
       own samples with the same shift operator (``shift_maps``): PSNR in dB of the
       RMS-normalised maps (``equivariance_psnr``), one measure key per shift
       (``equivariance_key(t)``).

    A layer's rate (the report's ``rate`` and ``rate_w`` columns, relative to the input's) is
    followed through the network from the layers' structure (:func:`layer_rate`: strides, else
    size ratios), so a layer that crops (``padding=0``) keeps its stride's spacing and an
    exactly equivariant one scores as such. Tensors made in a ``forward`` are followed by
    evidence (``_Prober._trace``): a slice of a map without copying (a U-Net skip cropped as
    ``x[..., a:b, c:d]``) keeps its rate, a strided slice divides it (row notes say so); any
    other tensor of a size a few samples off the latest map's (``F.pad`` by 1 before an
    unpadded convolution, a small crop that copies) keeps its rate, and of any other new size
    (``F.interpolate``, an FFT resampling, but also a large crop that copies: ``.contiguous()``,
    ``F.pad`` with negative padding) gets its size ratio to the latest map, with a row note
    saying so. Maps are channels-last, ``[N, H, W, C]``, only on
    layout evidence: a ``permute(0, 2, 3, 1)`` view of a measured map (ConvNeXt's
    ``LayerNorm``/``Linear``/``GELU``), the layers that keep such a layout, a copy whose
    shape only a permuted map explains, or a copy fed to a ``LayerNorm``/``Linear`` over its
    last axis whose ``(H, W)`` is a channels-last map's over a whole factor (Swin's patch
    merging); they are measured permuted to ``[N, C, H, W]`` (a row
    note). A ``LayerNorm`` or ``Linear`` acting on the last axis of an ``[N, C, H, W]`` map
    (along the rows) stays ``[N, C, H, W]``; a copy that both readings explain (square maps)
    is read as ``[N, C, H, W]`` with a note, carried to the rows it feeds. Layers returning a
    tuple of maps are not measured (a report note).

    **Which shifts (``circular``).** ``circular=True`` (default) rolls the input (integer
    shifts) or shifts it with the periodic band-limited FFT shift (fractional), and compares
    whole maps: right for periodic inputs (such as ``dsp.figures.bandlimited_field`` noise)
    and networks that pad circularly. On non-periodic inputs (photos) the roll brings the
    opposite edge in as a seam, which dominates the error (a zero-padded convolution reads about
    11 dB at a 1-pixel shift): use ``circular=False`` there. It shifts with zero fill and the
    local Lanczos-3 kernel (``dsp.interpolation.lanczos_shift``, input and expected map alike)
    and compares the interior only (``|d|`` samples from each border for an integer shift of
    ``d`` layer samples, ``floor(|d|) + 3`` for a fractional one, plus ``size//8``; a map too
    small for that gets ``NaN`` and a row note naming its size and the margin, plus one report
    note), so a layer that is shift-invariant away from its borders scores near float precision
    at integer and fractional shifts alike. ``aliasfree aliasing`` picks the mode from its image
    source. ``circular`` also says how the other two measures treat a map's edges:
    ``circular=False`` measures downsampling on the stride-1 map under a Hann window
    (``downsampling_aliasing``) and the nonlinearity on mirror-extended maps
    (``nonlinearity_fraction``), so the jump between opposite edges of a photo is not counted
    as aliasing; ``circular=True`` treats the maps as periodic (exact for periodic inputs).
    Circular shifts of a model with zero-padded ``Conv2d`` layers get a report note: the
    zero border does not move with the content, so those layers read a low PSNR.

    If a measure finds no layer (the nonlinearities of a model that calls ``F.relu`` in its
    ``forward`` are not modules, so hooks cannot see them), the report's ``notes`` say which
    measure and why (the ``layers`` patterns, where they left its candidates out), and a
    ``UserWarning`` is issued when ``measures`` asked for it by name. A module named in
    ``downsampling_layers`` or ``nonlinearities`` that ``layers`` leaves out gets a report
    note, and a hooked module that lowers the rate without being a downsampling candidate (a
    user's module resampling with ``F.conv2d(..., stride=2)``) a row note asking to name it in
    ``downsampling_layers``. Notes name the command line's flag beside the argument
    (``downsampling_layers (--downsampling-layers)``).

    Parameters
    ----------
    model : nn.Module
    inputs : torch.Tensor
        ``[N, C, H, W]`` floating point, finite.
    measures : sequence of {"downsampling", "nonlinearity", "equivariance"}, optional
        Default: all three.
    layers : sequence of str, optional
        ``fnmatch`` patterns on module names (a pattern matching a container keeps the modules
        inside it); ``None`` keeps all.
    downsampling_layers, nonlinearities : sequence of str
        Names of further modules to treat as rate-lowering resp. pointwise (a pointwise module
        is applied to maps ``[k, C, H, W]``, so per-channel parameters work).
    oversample : int
        Oversampling factor ``m >= 2`` of the nonlinearity reference.
    shifts : sequence of float
        Input shifts in pixels, non-zero (non-empty when equivariance is measured); exact
        duplicates are dropped, shifts that share a report key (6 significant digits) refused.
    circular : bool
        Periodic shifts over whole maps (``True``) or zero-filled Lanczos shifts over the
        interior (``False``); see above.
    batch_size : int, optional
        Inputs per forward pass (default: all at once); results do not depend on it.
    progress : bool
        Print one line per pass to stderr.
    forward_kwargs : dict, optional
        Keyword arguments passed to every call of the model (``model(x, **forward_kwargs)``).

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
    requested = measures is not None
    if measures is None:
        measures = MEASURES
    if isinstance(measures, str):
        measures = (measures,)
    measures = tuple(measures)
    bad = [m for m in measures if m not in MEASURES]
    if bad or not measures:
        raise ValueError(f"measures must be a non-empty subset of {MEASURES}, got {measures}")
    oversample = check_int("oversample", oversample, minimum=2)
    if not isinstance(circular, bool):
        raise ValueError(f"circular must be a bool, got {circular!r}")
    shifts = _check_shifts(shifts)
    if "equivariance" in measures and not shifts:
        raise ValueError("shifts must not be empty when measuring equivariance")
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, minimum=1)
    fwd_kw = _check_forward_kwargs(forward_kwargs)
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
        forward_kwargs=fwd_kw,
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
    small = []  # rows whose maps are too small for some non-circular shifts
    for key in order:
        acc = accs[key]
        if not acc.values:
            continue
        if acc.too_small:
            acc.notes.setdefault(_small_map_note(acc, shifts), None)
            small.append(key)
        rows.append(
            LayerRow(
                name=key,
                type=acc.type,
                in_shape=acc.in_shape,
                out_shape=acc.out_shape,
                rate=acc.rate,
                measures={k: Stat.from_values(np.concatenate(v)) for k, v in acc.values.items()},
                rate_w=acc.rate_w,
                notes=tuple(acc.notes),
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
        "forward_kwargs": sorted(fwd_kw),
        "model": type(model).__name__,
    }
    if not rows:
        raise ValueError(
            f"no hooked layer is eligible for measures {list(measures)}; layers with 4D outputs "
            f"are {[f'{k} ({accs[k].type})' for k in order]}"
        )
    notes = []
    left_out = _left_out_by_layers(
        model, infos, measures, layers, downsampling_layers, nonlinearities
    )
    for m in measures:
        named, known = left_out.get(m, (None, None))
        if not _measure_present(m, rows):
            if named or known:  # the layers patterns dropped its candidates (and say so)
                note = f"measure {m!r} found no layer: {'; '.join(t for t in (named, known) if t)}"
            else:
                among = (
                    ""
                    if layers is None
                    else f" among the layers kept by layers={list(layers)} (--layers)"
                )
                note = f"measure {m!r} found no layer{among}: {_EMPTY_MEASURE_REASONS[m]}"
            if requested:  # asked for by name: say it loudly; by default the note suffices
                warnings.warn(note, UserWarning, stacklevel=2)
            notes.append(note)
        elif named:  # measured elsewhere, but not where the user asked
            notes.append(named)
    if prober.tuple_outputs:
        names = list(prober.tuple_outputs)
        shown = ", ".join(f"{n!r} ({prober.tuple_outputs[n]})" for n in names[:3])
        shown += f" and {len(names) - 3} more" if len(names) > 3 else ""
        notes.append(
            f"not measured: {shown} "
            f"return{'s' if len(names) == 1 else ''} a tuple of maps, not one [N, C, H, W] "
            "tensor; the layers that consume those maps are measured, or wrap each map's "
            "computation in a module of its own to measure it"
        )
    if small:
        names = small if len(small) <= 3 else [small[0], "…", small[-1]]
        notes.append(
            f"equivariance is NaN in {len(small)} row{'s' if len(small) > 1 else ''} "
            f"({', '.join(names)}): {'their maps are' if len(small) > 1 else 'its map is'} too "
            "small for the border margins of non-circular shifts (the row notes say which "
            "shifts, and what to change)"
        )
    if circular and "equivariance" in measures:
        # Every zero-padded convolution of the model, measured or not: one left out by layers
        # still feeds the layers after it its border.
        padded = [
            name or type(model).__name__ for name, m in model.named_modules() if _zero_padded(m)
        ]
        if padded:
            notes.append(
                f"circular shifts with zero-padded convolutions ({_few(padded)}): a circular "
                "shift moves the content but not the zero border, so these layers and the ones "
                "after them read a low equivariance PSNR even where they are equivariant away "
                "from the borders; to leave the borders out, shift without wrap-around "
                "(circular=False; --no-circular, the default for --images builtin and image "
                "folders)"
            )
    return ProbeReport(rows=rows, spectra=spectra, settings=settings, notes=notes)
