"""The alias-free generator's layer schedule (StyleGAN3 configs T and R). See REFERENCE §3.

The generator is a stack of ``N + 1`` layers, ``idx = 0..N``: ``0..N-1`` are synthesis layers,
``N`` is ToRGB. Each layer reads a feature map described by schedule *entry*
``max(idx - 1, 0)`` and writes one described by entry ``idx`` (entry 0 is both the Fourier
input's description and the first layer's output). An entry fixes the continuous signal's
band limit and the grid that samples it:

- ``e_i = min(i / (N - num_critical), 1)``
- cutoff ``fc_i = first_cutoff * (res/2 / first_cutoff) ** e_i``
- stopband ``ft_i = first_stopband * ((res/2) * last_stopband_rel / first_stopband) ** e_i``
- sampling rate ``s_i = 2 ** ceil(log2(min(2 ft_i, res)))``
- half-width ``fh_i = max(ft_i, s_i/2) - fc_i``
- size ``s_i + 2 margin``, except entries ``N-1`` and ``N``, whose size is ``res``
- channels ``rint(min(channel_base/2 / fc_i, channel_max))``, entry ``N``: ``img_channels``

All frequencies are in cycles per unit length, where the unit length is the output image's
width (``s_i`` samples span the image, ``margin`` extra samples on each side). Cutoffs are
design cutoffs, the ideal filters' edges, as in ``scipy.signal.firwin``; they are the -6 dB
points only where the transition band ``[fc_i - fh_i, fc_i + fh_i]`` lies inside
``(0, tmp / 2)``, ``tmp`` the rate the filter runs at (below). Many entries' bands reach
below DC (``fh_i > fc_i``), and their filters' -6 dB points lie away from ``fc_i`` (3.20
instead of 2 for the first layer's filters at 64 px; ``dsp.filters``).

Two stopband frequencies belong to an entry and differ almost everywhere: ``ft_i`` (the
``stopband`` fields) is the schedule's *target* stopband of REFERENCE §3, the input to the
rate and half-width formulas; the filters designed from the entry have the transition band
``[fc_i - fh_i, fc_i + fh_i]`` centred on the cutoff, so *their* stopband starts at
``fc_i + fh_i = max(ft_i, s_i / 2) >= ft_i`` (:attr:`ScheduleEntry.filter_stopband`). The two
agree only where ``ft_i >= s_i / 2`` (the critically sampled entries).

A synthesis layer runs: modulated conv (kernel ``k``) -> upsample by ``up`` with the up filter
-> leaky ReLU -> low-pass with the down filter and keep every ``down``-th sample, at the
intermediate rate ``tmp = max(s_in, s_out) * m``. ToRGB uses ``m = 1`` (so ``up = down = 1``
and both filters are one tap ``[1.0]``) and ``k = 1``.

Decisions where REFERENCE §3 leaves room (checked against its check values for res 256 and
1024, which this module reproduces exactly):

- **The conv grows the map.** The padding formula
  ``total = (size_out - 1) down + 1 - (size_in + k - 1) up + up_taps + down_taps - 2`` only
  yields ``size_out`` through the filtered-lrelu size rule (REFERENCE §4) if the conv's output
  has ``size_in + k - 1`` samples, i.e. the modulated conv is a *full* convolution with
  zero padding ``k - 1`` on each side (``LayerSpec.conv_padding``). A 'valid' conv
  (``size_in - k + 1``) would give the wrong output size for every ``k > 1`` layer.
- ``lo = (total + up) // 2`` and ``hi = total - lo`` are the same for x and y, so
  ``padding = (lo, hi, lo, hi)`` in REFERENCE §4's ``(x_before, x_after, y_before, y_after)``.
  With input sample ``j`` at ``up * j`` on the upsampled grid, the input map's centre lands
  exactly on the output map's centre whenever ``total + up`` is odd, which holds for every
  layer when the factors are even or 1 (all default schedules; tested).
- **Critically sampled** layers are those with ``idx >= N - num_critical`` (three layers,
  12, 13, 14, for the defaults). Correspondingly an entry is critically sampled when
  ``i >= N - num_critical``: exactly the entries with ``e_i = 1``, where ``fc_i = s_i / 2``
  (every other entry has ``fc_i < ft_i <= s_i / 2``). At ``e_i = 1`` the cutoff and stopband
  are set to exactly ``res/2`` and ``res/2 * last_stopband_rel`` so that no rounding error
  lets the cutoff cross Nyquist.
- The two entries of size ``res`` are always the last two (the last synthesis layer crops
  the margin; ToRGB is 1x1), independent of ``num_critical``; ``num_critical >= 1`` is
  required so that both sit at rate ``res``.
- ``up_taps = filter_size * up`` and ``down_taps = filter_size * down`` when the factor
  exceeds 1, else 1 (no filter). ``down_radial`` is true in config R for layers that are not
  critically sampled and have a real down filter (with the default ``m = 2`` that is every
  non-critical layer). Up filters are never radial.
- ``use_fp16`` follows the reference generator: ``out_rate * 2**num_fp16_res > res`` (fp16 in
  the last ``num_fp16_res`` octaves of resolution); the generator may ignore it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from dsp._checks import check_int, check_power_of_two, check_real

__all__ = [
    "ScheduleEntry",
    "LayerSpec",
    "Schedule",
    "layer_schedule",
    "CONFIGS",
    "TARGET_STOPBAND_COLUMN",
    "FILTER_STOPBAND_COLUMN",
]

#: Per-config defaults (REFERENCE §3): conv kernel, channel_base, channel_max, radial down filters.
CONFIGS: Mapping[str, Mapping[str, Any]] = {
    "T": {"conv_kernel": 3, "channel_base": 32768, "channel_max": 512, "radial": False},
    "R": {"conv_kernel": 1, "channel_base": 65536, "channel_max": 1024, "radial": True},
}

#: Table column of the schedule's target stopband ``ft`` (``LayerSpec.out_stopband``).
TARGET_STOPBAND_COLUMN = "f_t (target)"
#: Table column of the filters' stopband edge ``fc + fh`` (``ScheduleEntry.filter_stopband``).
FILTER_STOPBAND_COLUMN = "fc+fh (filter)"

_MIN_RES = 16
_MAX_RES = 1024


@dataclass(frozen=True)
class ScheduleEntry:
    """The band limit and sampling grid of one feature map (REFERENCE §3).

    Attributes
    ----------
    i : int
        Entry index, ``0..N``.
    e : float
        Interpolation exponent ``min(i / (N - num_critical), 1)``.
    cutoff : float
        ``fc``: design cutoff (the ideal filters' edge; their -6 dB point only when
        ``fc - fh > 0``, see the module docstring), cycles per unit length (unit = image
        width).
    stopband : float
        ``ft``: the schedule's target stopband (REFERENCE §3), cycles per unit length. Not the
        filters' stopband edge, which is :attr:`filter_stopband` ``= cutoff + half_width``.
    rate : int
        ``s``: sampling rate, samples per unit length (a power of two).
    half_width : float
        ``fh = max(ft, s/2) - fc``: half the transition band of the filters at this entry.
    size : int
        Samples per axis of the feature map (``s + 2 margin``, or ``res`` for the last two).
    channels : int
        Feature channels (image channels for the last entry).
    critically_sampled : bool
        ``i >= N - num_critical``; then ``cutoff == rate / 2``.
    """

    i: int
    e: float
    cutoff: float
    stopband: float
    rate: int
    half_width: float
    size: int
    channels: int
    critically_sampled: bool

    @property
    def filter_stopband(self) -> float:
        """``fc + fh = max(ft, s/2)``: where the stopband of this entry's filters starts.

        Cycles per unit length; at least :attr:`stopband` (``ft``), equal to it only where
        ``ft >= s/2``. Derived, so it is not among the fields and not in :meth:`to_dict`.
        """
        return self.cutoff + self.half_width

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict of the fields."""
        return asdict(self)


@dataclass(frozen=True)
class LayerSpec:
    """Everything the generator needs to build one layer (REFERENCE §3 and §4).

    The layer computes: full modulated conv of ``conv_kernel`` (zero padding ``conv_padding``
    per side, so ``in_size + conv_kernel - 1`` samples) -> filtered leaky ReLU with
    ``up``/``down``, filters :meth:`up_filter`/:meth:`down_filter` and ``padding`` ->
    ``out_size`` samples. Rates in samples per unit length, frequencies in cycles per unit
    length; ``up_filter`` and ``down_filter`` are designed at ``fs = tmp_rate``.

    Attributes
    ----------
    idx, name, is_torgb : int, str, bool
        Layer index ``0..N``, name ``L{idx}_{out_size}_{out_channels}`` (``ToRGB`` flagged).
    in_entry, out_entry : int
        Schedule entries read (``max(idx - 1, 0)``) and written (``idx``).
    in_rate, out_rate, tmp_rate : int
        Sampling rates of input, output and the upsampled intermediate signal
        (``tmp = max(in_rate, out_rate) * m``, ``m = 1`` for ToRGB).
    in_size, out_size, in_channels, out_channels : int
        Feature-map sizes (per axis) and channel counts.
    in_cutoff, out_cutoff, in_half_width, out_half_width : float
        Cutoffs ``fc`` and half-widths ``fh`` of the input and output entries (those of the up
        and the down filter), cycles per unit length.
    in_stopband, out_stopband : float
        Target stopbands ``ft`` of the input and output entries (REFERENCE §3), cycles per unit
        length. The filters' stopband edges are ``in_cutoff + in_half_width`` and
        ``out_cutoff + out_half_width`` (:attr:`ScheduleEntry.filter_stopband`), at least as high.
    up, down : int
        ``tmp_rate / in_rate`` and ``tmp_rate / out_rate``.
    up_taps, down_taps : int
        ``filter_size * factor`` when the factor exceeds 1, else 1 (no filter).
    up_radial, down_radial : bool
        Whether the filter is a 2D jinc design; ``up_radial`` is always False.
    conv_kernel, conv_padding : int
        Conv kernel size ``k`` and its zero padding ``k - 1`` per side.
    padding : tuple of int
        ``(x_before, x_after, y_before, y_after)`` on the upsampled grid (REFERENCE §4).
    critically_sampled : bool
        ``idx >= N - num_critical``.
    use_fp16 : bool
        ``out_rate * 2**num_fp16_res > res``.
    """

    idx: int
    name: str
    is_torgb: bool
    in_entry: int
    out_entry: int
    in_rate: int
    out_rate: int
    in_size: int
    out_size: int
    in_channels: int
    out_channels: int
    in_cutoff: float
    out_cutoff: float
    in_half_width: float
    out_half_width: float
    in_stopband: float
    out_stopband: float
    tmp_rate: int
    up: int
    down: int
    up_taps: int
    down_taps: int
    up_radial: bool
    down_radial: bool
    conv_kernel: int
    conv_padding: int
    padding: tuple[int, int, int, int]
    critically_sampled: bool
    use_fp16: bool

    def up_filter(self) -> np.ndarray:
        """The upsampling low-pass: cutoff ``in_cutoff``, half-width ``in_half_width``.

        Designed at ``fs = tmp_rate`` with ``up_taps`` taps by ``dsp.filters.design_lowpass``
        (1D Kaiser windowed sinc, DC gain 1); ``array([1.0])`` when ``up == 1``.
        """
        return _design(self.in_cutoff, self.in_half_width, self.tmp_rate, self.up_taps, False)

    def down_filter(self) -> np.ndarray:
        """The downsampling low-pass: cutoff ``out_cutoff``, half-width ``out_half_width``.

        Designed at ``fs = tmp_rate`` with ``down_taps`` taps; a ``(down_taps, down_taps)`` jinc
        filter when ``down_radial``, else 1D; ``array([1.0])`` when ``down == 1``.
        """
        return _design(
            self.out_cutoff, self.out_half_width, self.tmp_rate, self.down_taps, self.down_radial
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict of the fields (``padding`` as a list)."""
        d = asdict(self)
        d["padding"] = list(self.padding)
        return d


def _design(cutoff: float, half_width: float, fs: float, numtaps: int, radial: bool) -> np.ndarray:
    if numtaps == 1:
        return np.ones(1)
    # Imported here: dsp.filters is a sibling module and only filter users need it.
    from dsp.filters import design_lowpass

    return design_lowpass(cutoff, half_width=half_width, fs=fs, numtaps=numtaps, radial=radial)


@dataclass(frozen=True)
class Schedule:
    """A complete layer schedule: the parameters, ``N + 1`` entries and ``N + 1`` layers.

    Build one with :func:`layer_schedule`. ``entries[i]`` describes feature map ``i``;
    ``layers[idx]`` describes layer ``idx`` (``layers[-1]`` is ToRGB).
    """

    res: int
    config: str
    num_layers: int
    num_critical: int
    first_cutoff: float
    first_stopband: float
    last_stopband_rel: float
    margin: int
    channel_base: int
    channel_max: int
    img_channels: int
    lrelu_upsampling: int
    filter_size: int
    conv_kernel: int
    radial: bool
    num_fp16_res: int
    entries: tuple[ScheduleEntry, ...]
    layers: tuple[LayerSpec, ...]

    @property
    def parameters(self) -> dict[str, Any]:
        """The inputs the schedule was built from (everything except entries and layers)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _DERIVED}

    @property
    def rates(self) -> tuple[int, ...]:
        return tuple(e.rate for e in self.entries)

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(e.size for e in self.entries)

    @property
    def channels(self) -> tuple[int, ...]:
        return tuple(e.channels for e in self.entries)

    @property
    def cutoffs(self) -> tuple[float, ...]:
        return tuple(e.cutoff for e in self.entries)

    @property
    def stopbands(self) -> tuple[float, ...]:
        return tuple(e.stopband for e in self.entries)

    @property
    def half_widths(self) -> tuple[float, ...]:
        return tuple(e.half_width for e in self.entries)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict: ``parameters``, ``entries`` and ``layers``."""
        return {
            "parameters": self.parameters,
            "entries": [e.to_dict() for e in self.entries],
            "layers": [lay.to_dict() for lay in self.layers],
        }

    def rows(self) -> list[dict[str, Any]]:
        """One summary dict per layer (the columns of :meth:`table`).

        Frequencies are those of the layer's output entry, cycles per unit length: ``cutoff``
        ``fc``, ``half_width`` ``fh``, the target stopband ``ft`` (column
        :data:`TARGET_STOPBAND_COLUMN`) and the down filter's stopband edge ``fc + fh``
        (column :data:`FILTER_STOPBAND_COLUMN`).
        """
        out = []
        for lay in self.layers:
            out.append(
                {
                    "idx": lay.idx,
                    "name": lay.name,
                    "size": f"{lay.in_size}->{lay.out_size}",
                    "rate": f"{lay.in_rate}->{lay.out_rate}",
                    "tmp": lay.tmp_rate,
                    "cutoff": lay.out_cutoff,
                    "half_width": lay.out_half_width,
                    TARGET_STOPBAND_COLUMN: lay.out_stopband,
                    FILTER_STOPBAND_COLUMN: lay.out_cutoff + lay.out_half_width,
                    "channels": f"{lay.in_channels}->{lay.out_channels}",
                    "k": lay.conv_kernel,
                    "up/down": f"{lay.up}/{lay.down}",
                    "taps": f"{lay.up_taps}/{lay.down_taps}",
                    "padding": ",".join(str(p) for p in lay.padding),
                    "radial": "yes" if lay.down_radial else "no",
                    "critical": "yes" if lay.critically_sampled else "no",
                    "fp16": "yes" if lay.use_fp16 else "no",
                }
            )
        return out

    def table(self) -> str:
        """A fixed-width text table, one line per layer (frequencies of the output entry)."""
        rows = self.rows()
        cols = list(rows[0])
        cells = [[_fmt(r[c]) for c in cols] for r in rows]
        widths = [max(len(c), *(len(row[j]) for row in cells)) for j, c in enumerate(cols)]
        head = "  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True))
        lines = [head, "-" * len(head)]
        lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


_DERIVED = frozenset({"entries", "layers"})


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _parse_config(config: object) -> str:
    if not isinstance(config, str) or config.upper() not in CONFIGS:
        raise ValueError(f"config must be 't' or 'r' (case-insensitive), got {config!r}")
    return config.upper()


def layer_schedule(
    res: int,
    config: str = "t",
    *,
    num_layers: int = 14,
    num_critical: int = 2,
    first_cutoff: float = 2.0,
    first_stopband: float = 2**2.1,
    last_stopband_rel: float = 2**0.3,
    margin: int = 10,
    channel_base: int | None = None,
    channel_max: int | None = None,
    img_channels: int = 3,
    lrelu_upsampling: int = 2,
    filter_size: int = 6,
    conv_kernel: int | None = None,
    num_fp16_res: int = 4,
) -> Schedule:
    """Layer schedule of the alias-free generator for output resolution ``res``. REFERENCE §3.

    Parameters
    ----------
    res : int
        Output image size, a power of two in ``[16, 1024]``.
    config : {'t', 'r'}
        Case-insensitive. T: 3x3 convs, separable filters, channel_base 32768, channel_max 512.
        R: 1x1 convs, radial (jinc) down filters except in critically sampled layers,
        channel_base 65536, channel_max 1024.
    num_layers : int
        ``N``, the number of synthesis layers (ToRGB comes on top), ``>= 2``.
    num_critical : int
        Number of critically sampled synthesis layers, ``1 <= num_critical < num_layers``.
    first_cutoff : float
        ``fc_0`` in cycles per unit length (image width); ``0 < first_cutoff < res/2``.
    first_stopband : float
        ``ft_0``; ``first_cutoff < first_stopband < res/2 * last_stopband_rel`` and ``>= 0.5``.
    last_stopband_rel : float
        ``ft_N / fc_N``, ``> 1``.
    margin : int
        Extra samples on each side of non-final feature maps, ``>= 0``.
    channel_base, channel_max : int, optional
        Channel budget ``ch = rint(min(channel_base/2 / fc, channel_max))``; config default.
    img_channels : int
        Channels of the output image (last entry).
    lrelu_upsampling : int
        ``m``: the intermediate rate is ``max(s_in, s_out) * m`` for synthesis layers.
    filter_size : int
        Filter taps per unit of up/down factor.
    conv_kernel : int, optional
        Conv kernel of the synthesis layers; config default (T: 3, R: 1). ToRGB always 1.
    num_fp16_res : int
        Layers whose output rate is in the top ``num_fp16_res`` octaves get ``use_fp16``.

    Returns
    -------
    Schedule
        ``N + 1`` entries and ``N + 1`` layers; see the module docstring for the formulas and
        the decisions taken where REFERENCE §3 is terse.

    Raises
    ------
    ValueError
        For a bad ``res``, ``config`` or any parameter out of its range.
    """
    res = check_power_of_two("res", res, _MIN_RES, _MAX_RES)
    cfg = _parse_config(config)
    defaults = CONFIGS[cfg]
    n = check_int("num_layers", num_layers, minimum=2)
    nc = check_int("num_critical", num_critical, minimum=1, maximum=n - 1)
    fc0 = check_real(
        "first_cutoff",
        first_cutoff,
        low=0.0,
        high=res / 2,
        low_inclusive=False,
        high_inclusive=False,
    )
    rel = check_real("last_stopband_rel", last_stopband_rel, low=1.0, low_inclusive=False)
    ft_last = res / 2 * rel
    ft0 = check_real(
        "first_stopband",
        first_stopband,
        low=fc0,
        high=ft_last,
        low_inclusive=False,
        high_inclusive=False,
    )
    if ft0 < 0.5:
        # Below this the first sampling rate 2**ceil(log2(2 ft0)) is not a whole number.
        raise ValueError(f"first_stopband must be >= 0.5, got {ft0:g}")
    margin = check_int("margin", margin, minimum=0)
    base = check_int(
        "channel_base",
        defaults["channel_base"] if channel_base is None else channel_base,
        minimum=1,
    )
    cmax = check_int(
        "channel_max", defaults["channel_max"] if channel_max is None else channel_max, minimum=1
    )
    img_ch = check_int("img_channels", img_channels, minimum=1)
    m = check_int("lrelu_upsampling", lrelu_upsampling, minimum=1)
    fsize = check_int("filter_size", filter_size, minimum=1)
    k = check_int(
        "conv_kernel", defaults["conv_kernel"] if conv_kernel is None else conv_kernel, minimum=1
    )
    fp16 = check_int("num_fp16_res", num_fp16_res, minimum=0)
    radial = bool(defaults["radial"])

    i = np.arange(n + 1)
    e = np.minimum(i / (n - nc), 1.0)
    full = e >= 1.0
    # Pin the critically sampled band limits to their exact values: fc == s/2 there, and a
    # rounding error of one ulp above Nyquist would break the filter design.
    cutoffs = np.where(full, res / 2, fc0 * (res / 2 / fc0) ** e)
    stopbands = np.where(full, ft_last, ft0 * (ft_last / ft0) ** e)
    rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, res)))).astype(np.int64)
    half_widths = np.maximum(stopbands, rates / 2) - cutoffs
    sizes = rates + 2 * margin
    sizes[-2:] = res
    channels = np.rint(np.minimum(base / 2 / cutoffs, cmax)).astype(np.int64)
    channels[-1] = img_ch
    if np.any(channels < 1):
        raise ValueError(
            f"channel_base={base} gives zero channels at cutoff {cutoffs.max():g}; raise it"
        )

    entries = tuple(
        ScheduleEntry(
            i=int(j),
            e=float(e[j]),
            cutoff=float(cutoffs[j]),
            stopband=float(stopbands[j]),
            rate=int(rates[j]),
            half_width=float(half_widths[j]),
            size=int(sizes[j]),
            channels=int(channels[j]),
            critically_sampled=bool(j >= n - nc),
        )
        for j in range(n + 1)
    )
    layers = tuple(
        _layer(idx, entries, n=n, nc=nc, res=res, m=m, fsize=fsize, k=k, radial=radial, fp16=fp16)
        for idx in range(n + 1)
    )
    return Schedule(
        res=res,
        config=cfg,
        num_layers=n,
        num_critical=nc,
        first_cutoff=fc0,
        first_stopband=ft0,
        last_stopband_rel=rel,
        margin=margin,
        channel_base=base,
        channel_max=cmax,
        img_channels=img_ch,
        lrelu_upsampling=m,
        filter_size=fsize,
        conv_kernel=k,
        radial=radial,
        num_fp16_res=fp16,
        entries=entries,
        layers=layers,
    )


def _layer(
    idx: int,
    entries: tuple[ScheduleEntry, ...],
    *,
    n: int,
    nc: int,
    res: int,
    m: int,
    fsize: int,
    k: int,
    radial: bool,
    fp16: int,
) -> LayerSpec:
    src = entries[max(idx - 1, 0)]
    dst = entries[idx]
    torgb = idx == n
    critical = idx >= n - nc
    tmp = max(src.rate, dst.rate) * (1 if torgb else m)
    # Rates are powers of two and non-decreasing, so both factors are exact integers.
    up, down = tmp // src.rate, tmp // dst.rate
    up_taps = fsize * up if up > 1 and not torgb else 1
    down_taps = fsize * down if down > 1 and not torgb else 1
    kernel = 1 if torgb else k
    total = (dst.size - 1) * down + 1 - (src.size + kernel - 1) * up + up_taps + down_taps - 2
    lo = (total + up) // 2
    hi = total - lo
    return LayerSpec(
        idx=idx,
        name=f"L{idx}_{dst.size}_{dst.channels}",
        is_torgb=torgb,
        in_entry=src.i,
        out_entry=dst.i,
        in_rate=src.rate,
        out_rate=dst.rate,
        in_size=src.size,
        out_size=dst.size,
        in_channels=src.channels,
        out_channels=dst.channels,
        in_cutoff=src.cutoff,
        out_cutoff=dst.cutoff,
        in_half_width=src.half_width,
        out_half_width=dst.half_width,
        in_stopband=src.stopband,
        out_stopband=dst.stopband,
        tmp_rate=tmp,
        up=up,
        down=down,
        up_taps=up_taps,
        down_taps=down_taps,
        up_radial=False,
        down_radial=radial and not critical and down_taps > 1,
        conv_kernel=kernel,
        conv_padding=kernel - 1,
        padding=(lo, hi, lo, hi),
        critically_sampled=critical,
        use_fp16=dst.rate * 2**fp16 > res,
    )
