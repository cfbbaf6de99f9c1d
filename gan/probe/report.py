"""The per-layer aliasing report: rows, table, CSV and JSON. See REFERENCE §5 and §7.

Measure keys (``LayerRow.measures``):

- ``"out_of_band"``: fraction of the stride-1 equivalent output's power outside the alias-free
  band of the layer's stride (square band ``|f_x|, |f_y| < 1/(2s)`` cycles/sample);
- ``"fold_non_aliased"``, ``"fold_aliased"``, ``"fold_tangled"``: energy fractions of the fold
  classification (Ribeiro & Schön) of the same stride-1 map;
- ``"nonlinearity"``: aliased fraction of a pointwise nonlinearity's output energy;
- ``"equivariance_<shift>"`` (e.g. ``"equivariance_1"``, ``"equivariance_0.5"``; see
  ``equivariance_key``): PSNR in dB of the layer's output under an input shift of ``shift``
  pixels, feature maps normalised by their RMS, capped at ``PSNR_CAP_DB``; maps that are zero
  in both runs (dead channels) are left out.

Each measure is a ``Stat``: mean, standard deviation, minimum and maximum over all (input,
channel) values of that layer. Stats are computed with exactly rounded sums of the sorted values,
so they do not depend on the order of the batch.

A layer's rate is given per axis (``rate`` along H, ``rate_w`` along W: a stride ``(2, 1)``
halves the rows only); ``notes`` say how a row was measured where that is not the default (e.g.
a rate-lowering layer measured on its input because its stride-1 equivalent could not be built,
a map too small for the border margin of a non-circular shift, a layer that lowers the rate
unmeasured). The report's own ``notes`` say which requested measure found no layer, and why, and
what concerns the whole report (a summary of the too small maps, circular shifts of zero-padded
convolutions, a named module that ``layers`` leaves out).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dsp._io import write_json_atomic, write_text_atomic

__all__ = [
    "PSNR_CAP_DB",
    "FOLD_KEYS",
    "Stat",
    "LayerRow",
    "Spectrum",
    "ProbeReport",
    "equivariance_key",
    "higher_is_worse",
    "rate_text",
]

PSNR_CAP_DB = 200.0
"""Upper limit of the reported PSNR: identical maps (zero error) report this instead of ``inf``
(float64 round-off sits near 300 dB, float32 near 140 dB)."""

FOLD_KEYS = ("fold_non_aliased", "fold_aliased", "fold_tangled")
_CSV_FIXED_V1 = ("name", "type", "in_shape", "out_shape", "rate")
_CSV_FIXED = _CSV_FIXED_V1 + ("rate_w", "notes")
_STAT_FIELDS = ("mean", "std", "min", "max")


def _read_notes(cell: str) -> tuple[str, ...]:
    """A CSV ``notes`` cell: a JSON list of strings (any text, separators included); a cell that
    is not one (reports written before the JSON form) is one note per ``" | "``-separated part."""
    try:
        notes = json.loads(cell)
    except json.JSONDecodeError:
        return tuple(cell.split(" | "))
    if isinstance(notes, list) and all(isinstance(n, str) for n in notes):
        return tuple(notes)
    return (cell,)


def equivariance_key(shift: float) -> str:
    """The measure key of the equivariance PSNR for an input shift of ``shift`` pixels
    (``"equivariance_<shift:g>"``: 6 significant digits, so nearby shifts can share a key;
    ``probe_model`` refuses such a set)."""
    return f"equivariance_{float(shift):g}"


def rate_text(rate_h: float, rate_w: float | None = None) -> str:
    """A layer's rate for display: ``"0.5"`` when both axes share it, ``"0.5×1"`` (H×W)
    otherwise."""
    if rate_w is None or rate_w == rate_h:
        return f"{rate_h:.4g}"
    return f"{rate_h:.4g}×{rate_w:.4g}"


def higher_is_worse(measure: str) -> bool:
    """Whether a larger value of ``measure`` means more aliasing (false for PSNR and the
    non-aliased fold fraction)."""
    return not (measure.startswith("equivariance_") or measure == "fold_non_aliased")


@dataclass(frozen=True)
class Stat:
    """Spread of one measure over channels and inputs: ``mean``, ``std`` (population), ``min``,
    ``max``. All ``NaN`` when the layer had no valid value."""

    mean: float
    std: float
    min: float
    max: float

    @classmethod
    def from_values(cls, values: object) -> Stat:
        """Stats of the finite entries of ``values`` (NaNs are ignored), independent of order.

        ``mean = fsum(v)/n`` and ``std = sqrt(fsum((v − mean)²)/n)``, with ``math.fsum`` (exactly
        rounded), so any permutation of ``values`` gives bit-identical results.
        """
        v = np.asarray(values, dtype=np.float64).ravel()
        v = v[~np.isnan(v)]
        if v.size == 0:
            nan = float("nan")
            return cls(nan, nan, nan, nan)
        v = np.sort(v)
        mean = math.fsum(v.tolist()) / v.size
        var = math.fsum(((v - mean) ** 2).tolist()) / v.size
        return cls(float(mean), math.sqrt(var), float(v[0]), float(v[-1]))

    def to_dict(self) -> dict[str, float | None]:
        return {k: _json_float(getattr(self, k)) for k in _STAT_FIELDS}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Stat:
        return cls(*(_float(d.get(k)) for k in _STAT_FIELDS))


@dataclass(frozen=True)
class LayerRow:
    """One hooked layer call.

    Attributes
    ----------
    name : str
        Module name as in ``model.named_modules()``; a module called ``k > 1`` times in one
        forward pass gets ``"name#k"`` for its ``k``-th call.
    type : str
        The module's class name.
    in_shape, out_shape : tuple of int
        Per-sample shapes ``(C, H, W)`` (no batch axis) of the first input and the output.
    rate : float
        Output sampling rate along H (rows) relative to the network input, followed through
        the layers' strides (``gan.probe.measures.layer_rate``; ``H_out / H_in`` for a network
        that neither crops nor resamples by other means).
    measures : dict
        Measure key → ``Stat`` (module docstring).
    rate_w : float, optional
        The same along W (columns); ``None`` (rows written before it existed)
        means equal to ``rate``.
    notes : tuple of str
        How this row was measured where that is not the default (``probe_model``).
    """

    name: str
    type: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    rate: float
    measures: dict[str, Stat] = field(default_factory=dict)
    rate_w: float | None = None
    notes: tuple[str, ...] = ()

    @property
    def rates(self) -> tuple[float, float]:
        """``(rate along H, rate along W)``."""
        return self.rate, self.rate if self.rate_w is None else self.rate_w

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "in_shape": list(self.in_shape),
            "out_shape": list(self.out_shape),
            "rate": self.rates[0],
            "rate_w": self.rates[1],
            "notes": list(self.notes),
            "measures": {k: s.to_dict() for k, s in self.measures.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LayerRow:
        return cls(
            name=str(d["name"]),
            type=str(d["type"]),
            in_shape=tuple(int(v) for v in d["in_shape"]),
            out_shape=tuple(int(v) for v in d["out_shape"]),
            rate=float(d["rate"]),
            measures={k: Stat.from_dict(v) for k, v in d.get("measures", {}).items()},
            rate_w=float(d["rate_w"]) if d.get("rate_w") is not None else None,
            notes=tuple(str(v) for v in d.get("notes", ())),
        )


@dataclass(frozen=True, eq=False)
class Spectrum:
    """Average power spectrum of one layer's map, from ``dsp.spectrum.power_spectrum``.

    ``fy``, ``fx``: centred frequency axes in cycles/sample of the map; ``power``: ``[H, W]``,
    ``mean_{n,c} |DFT_2(x[n, c])|² / (H·W)`` with the mean kept, no window for circular maps and
    a Hann window for non-circular rate-lowering layers (the conventions of the ``out_of_band``
    measure, ``dsp.aliasing.out_of_band_energy``, so the power outside the band drawn is what the
    ``out_of_band`` measure counts). ``cutoff``: for rate-lowering layers the spectrum is that
    of the stride-1 equivalent output and ``cutoff = 1/(2·stride)`` cycles/sample is the edge of
    its alias-free band (a pair ``(1/(2·s_y), 1/(2·s_x))`` when the strides differ between the
    axes); otherwise the spectrum is of the layer's output and ``cutoff`` is ``None``.
    """

    fy: np.ndarray
    fx: np.ndarray
    power: np.ndarray
    cutoff: float | tuple[float, float] | None = None


@dataclass(frozen=True, eq=False)
class ProbeReport:
    """Result of ``probe_model``: one ``LayerRow`` per hooked layer call, in forward order.

    Attributes
    ----------
    rows : list of LayerRow
    spectra : dict
        Layer name → ``Spectrum`` (not written to CSV/JSON; kept for ``gan.probe.plots``).
    settings : dict
        The ``probe_model`` arguments that shape the numbers (input shape, measures, oversample,
        shifts, circular), JSON-serialisable; the command line adds where the model and the
        inputs came from.
    notes : list of str
        Remarks on the whole report, e.g. a requested measure that found no layer, and why.
    """

    rows: list[LayerRow]
    spectra: dict[str, Spectrum] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    # ---------------------------------------------------------------- queries
    @property
    def measure_names(self) -> list[str]:
        """All measure keys present in any row: ``out_of_band``, the fold fractions,
        ``nonlinearity``, then the equivariance keys in first-seen order (others last)."""
        seen: dict[str, None] = {}
        for r in self.rows:
            for k in r.measures:
                seen.setdefault(k, None)
        return sorted(seen, key=lambda k: (_measure_rank(k), list(seen).index(k)))

    def row(self, name: str) -> LayerRow:
        """The row called ``name``; ``ValueError`` listing the names if there is none."""
        for r in self.rows:
            if r.name == name:
                return r
        raise ValueError(f"no layer named {name!r}; layers: {[r.name for r in self.rows]}")

    def worst(self, measure: str, k: int = 5) -> list[LayerRow]:
        """The ``k`` rows with the worst mean ``measure`` (largest fraction, lowest PSNR).

        Rows without the measure (or with a NaN mean) are left out. Ties keep forward order.
        """
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be an integer >= 1, got {k!r}")
        have = [r for r in self.rows if measure in r.measures]
        if not have:
            raise ValueError(
                f"measure must be one of {self.measure_names}, got {measure!r}"
                if self.measure_names
                else f"the report holds no measures (asked for {measure!r})"
            )
        have = [r for r in have if not math.isnan(r.measures[measure].mean)]
        sign = -1.0 if higher_is_worse(measure) else 1.0
        return sorted(have, key=lambda r: sign * r.measures[measure].mean)[:k]

    # ---------------------------------------------------------------- output
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``{"settings": ..., "measures": [...], "notes": [...],
        "rows": [...]}`` (NaN → null)."""
        return {
            "settings": self.settings,
            "measures": self.measure_names,
            "notes": list(self.notes),
            "rows": [r.to_dict() for r in self.rows],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ProbeReport:
        """Inverse of ``to_dict`` (spectra are not stored, so they come back empty)."""
        return cls(
            rows=[LayerRow.from_dict(r) for r in d.get("rows", [])],
            settings=dict(d.get("settings", {})),
            notes=[str(v) for v in d.get("notes", [])],
        )

    def to_json(self, path: str | os.PathLike) -> Path:
        """Write ``to_dict()`` as JSON atomically; returns the path."""
        return write_json_atomic(path, self.to_dict())

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> ProbeReport:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write one line per row atomically: name, type, in_shape, out_shape (``CxHxW``), rate
        (along H), rate_w (along W), notes (a JSON list of strings), then
        ``<measure>_mean, _std, _min, _max`` for every measure (empty where a row lacks it,
        ``nan`` for a NaN value). The report's own notes are not in the CSV (see the JSON)."""
        return write_text_atomic(path, self.csv_text())

    def csv_text(self) -> str:
        """The CSV that ``to_csv`` writes."""
        names = self.measure_names
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(list(_CSV_FIXED) + [f"{m}_{s}" for m in names for s in _STAT_FIELDS])
        for r in self.rows:
            rh, rw = r.rates
            line = [r.name, r.type, _shape_str(r.in_shape), _shape_str(r.out_shape), repr(rh)]
            line += [repr(rw), json.dumps(list(r.notes)) if r.notes else ""]
            for m in names:
                st = r.measures.get(m)
                line += [""] * 4 if st is None else [repr(getattr(st, s)) for s in _STAT_FIELDS]
            w.writerow(line)
        return buf.getvalue()

    @classmethod
    def from_csv(cls, path: str | os.PathLike) -> ProbeReport:
        """Read rows back from ``to_csv`` output (settings, report notes and spectra are not in
        the CSV). CSVs written before the per-axis rate (no ``rate_w``, ``notes``) are read too.
        """
        text = Path(path).read_text(encoding="utf-8")
        reader = csv.reader(io.StringIO(text))
        header = next(reader)
        if tuple(header[: len(_CSV_FIXED)]) == _CSV_FIXED:
            fixed = len(_CSV_FIXED)
        elif tuple(header[: len(_CSV_FIXED_V1)]) == _CSV_FIXED_V1:
            fixed = len(_CSV_FIXED_V1)
        else:
            raise ValueError(f"path is not a probe report CSV (header {header[:5]})")
        measure_cols = header[fixed:]
        names = [c[: -len("_mean")] for c in measure_cols[::4]]
        rows = []
        for line in reader:
            measures = {}
            for i, m in enumerate(names):
                cells = line[fixed + 4 * i : fixed + 4 + 4 * i]
                if all(c == "" for c in cells):
                    continue
                measures[m] = Stat(*(float(c) for c in cells))
            new = fixed == len(_CSV_FIXED)
            rows.append(
                LayerRow(
                    name=line[0],
                    type=line[1],
                    in_shape=_parse_shape(line[2]),
                    out_shape=_parse_shape(line[3]),
                    rate=float(line[4]),
                    measures=measures,
                    rate_w=float(line[5]) if new else None,
                    notes=_read_notes(line[6]) if new and line[6] else (),
                )
            )
        return cls(rows=rows)

    def table(self, measures: Sequence[str] | None = None, digits: int = 3) -> str:
        """A fixed-width text table: name, type, output shape, rate (``"0.5"``, or ``"0.5×1"``
        (H×W) when the axes differ) and ``mean ± std`` per measure (fractions as percentages,
        PSNR in dB); ``-`` where a layer lacks a measure. Rows with notes get a marker ``[k]``
        after the name (rows with the same notes share one) and the notes follow the table, then
        the report's own notes.

        Raises
        ------
        ValueError
            If ``measures`` names a measure that no row has (the message lists the known ones).
        """
        known = self.measure_names
        names = known if measures is None else _check_measures(measures, known)
        header = ["layer", "type", "out_shape", "rate"] + [_column_title(m) for m in names]
        lines = [header]
        # Rows with the same notes share one footnote (a too small map in every layer of a
        # stage would otherwise repeat its note once per layer).
        marks: dict[tuple[str, ...], list[str]] = {}
        for r in self.rows:
            label = r.name
            if r.notes:
                key = tuple(r.notes)  # a list from a hand-made row is not hashable
                marks.setdefault(key, []).append(r.name)
                label = f"{r.name} [{list(marks).index(key) + 1}]"
            cells = [label, r.type, _shape_str(r.out_shape), rate_text(*r.rates)]
            for m in names:
                st = r.measures.get(m)
                cells.append("-" if st is None else _format_stat(m, st, digits))
            lines.append(cells)
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        out = []
        for j, line in enumerate(lines):
            out.append("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
            if j == 0:
                out.append("  ".join("-" * w for w in widths))
        for k, (notes, named) in enumerate(marks.items(), start=1):
            who = ", ".join(named) if len(named) <= 3 else f"{named[0]} … {named[-1]}"
            who += f" ({len(named)} rows)" if len(named) > 1 else ""
            out.append(f"[{k}] {who}: " + "; ".join(notes))
        out += [f"note: {n}" for n in self.notes]
        return "\n".join(out)

    def __str__(self) -> str:
        return self.table()


def _check_measures(measures: Sequence[str], known: list[str]) -> list[str]:
    if isinstance(measures, str):
        measures = [measures]
    names = list(measures)
    bad = [m for m in names if m not in known]
    if bad:
        raise ValueError(f"measures must be among {known}, got unknown {bad}")
    return names


def _measure_rank(m: str) -> int:
    fixed = ("out_of_band",) + FOLD_KEYS + ("nonlinearity",)
    if m in fixed:
        return fixed.index(m)
    return len(fixed) if m.startswith("equivariance_") else len(fixed) + 1


def _column_title(m: str) -> str:
    return f"{m} [dB]" if m.startswith("equivariance_") else f"{m} [%]"


def _format_stat(m: str, st: Stat, digits: int) -> str:
    if math.isnan(st.mean):
        return "nan"
    if m.startswith("equivariance_"):
        return f"{st.mean:.{max(1, digits - 1)}f} ± {st.std:.{max(1, digits - 1)}f}"
    return f"{100 * st.mean:.{digits}g} ± {100 * st.std:.{max(1, digits - 1)}g}"


def _shape_str(shape: Iterable[int]) -> str:
    return "x".join(str(int(v)) for v in shape)


def _parse_shape(s: str) -> tuple[int, ...]:
    return tuple(int(v) for v in s.split("x")) if s else ()


def _json_float(v: float) -> float | None:
    return None if math.isnan(v) else float(v)


def _float(v: object) -> float:
    return float("nan") if v is None else float(v)  # type: ignore[arg-type]
