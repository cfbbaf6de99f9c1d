"""Figures of average power spectra and fold classifications (REFERENCE §7).

Every function returns a ``matplotlib.figure.Figure`` (the one holding ``ax`` when given) and
never shows it; save with :func:`dsp.plots.save_figure`. Power is drawn in dB relative to
the largest value shown, clipped at ``floor_db``. Frequencies are in the units of the axes passed
in (cycles/sample for ``dsp.spectrum.power_spectrum`` with ``fs=1``).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.patches import Patch

from dsp._checks import as_finite_array, check_real
from dsp.aliasing import FoldLabel, FoldResult
from dsp.spectrum import spectrum_slices

__all__ = ["plot_power_spectrum", "plot_spectrum_slices", "plot_fold_map"]

_BANDS = ("square", "disc", "both")

# (colour, line style) of the vertical marks of plot_spectrum_slices, in turn; C0 and C1 are
# the slices' own colours.
_MARK_STYLES = (("k", "--"), ("C3", ":"), ("C2", "-."), ("C4", (0, (5, 2, 1, 2, 1, 2))))


def _axes(ax, figsize: tuple[float, float]):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def _db(p: np.ndarray, ref: float, floor_db: float) -> np.ndarray:
    ref = ref if ref > 0 else 1.0
    return 10.0 * np.log10(np.maximum(p / ref, 10.0 ** (floor_db / 10.0)))


def _check_marks(marks: Sequence[float] | float | None) -> list[float]:
    if marks is None:
        return []
    values = [marks] if np.ndim(marks) == 0 else list(marks)
    return [check_real("marks", m, low=0.0, low_inclusive=False) for m in values]


def _check_band_marks(marks: object) -> list[tuple[float, float]]:
    """Marks as ``(half-height, half-width)`` pairs: a number is the same on both axes."""
    if marks is None:
        return []
    values = [marks] if np.ndim(marks) == 0 else list(marks)
    out = []
    for m in values:
        if np.ndim(m) == 0:
            r = check_real("marks", m, low=0.0, low_inclusive=False)
            out.append((r, r))
        elif np.ndim(m) == 1 and len(m) == 2:
            ry, rx = (check_real("marks", v, low=0.0, low_inclusive=False) for v in m)
            out.append((ry, rx))
        else:
            raise ValueError(f"marks must hold numbers or (f_y, f_x) pairs, got {m!r}")
    return out


def _check_unit(unit: object) -> str:
    if not isinstance(unit, str) or not unit.strip():
        raise ValueError(f"unit must be a non-empty string, got {unit!r}")
    return unit


def plot_power_spectrum(
    fy: object,
    fx: object,
    P: object,
    *,
    marks: Sequence[float | tuple[float, float]] | float | None = (0.25,),
    band: str = "both",
    floor_db: float = -80.0,
    unit: str = "cycles/sample",
    title: str | None = None,
    ax=None,
):
    """Heatmap of ``10 log10(P / max P)`` with the alias-free band(s) of a decimation marked.

    Parameters
    ----------
    fy, fx : array_like
        Frequency axes of ``P`` (centred or DFT order; the map is drawn centred).
    P : array_like
        ``[len(fy), len(fx)]`` power spectrum, e.g. from ``dsp.spectrum.power_spectrum``.
    marks : float or sequence of float or of (float, float), optional
        Half-sides / radii of the bands to outline, same units as the axes; the default ``0.25``
        cycles/sample is the new Nyquist frequency of a stride-2 decimation (the half band). An
        entry ``(f_y, f_x)`` (e.g. ``marks=[(0.25, 0.5)]``) outlines the rectangle
        ``|f_y'| < f_y``, ``|f_x'| < f_x`` (resp. the ellipse) of a decimation whose strides
        differ between the axes.
    band : {"square", "disc", "both"}
        Outline the square ``|fx|, |fy| < mark``, the disc ``|f| < mark``, or both.
    floor_db : float
        Lowest level drawn (negative).
    unit : str
        Unit of ``fy`` and ``fx`` for the axis labels: the default matches
        ``power_spectrum(fs=1)``; with another ``fs`` the axes are in the units of ``fs``
        (e.g. ``"cycles per image width"``).
    ax : matplotlib Axes, optional
        Draw into this axes instead of a new figure.
    """
    p = as_finite_array("P", P, ndim=2)
    fy = as_finite_array("fy", fy, ndim=1)
    fx = as_finite_array("fx", fx, ndim=1)
    if p.shape != (fy.size, fx.size):
        raise ValueError(f"P must have shape {(fy.size, fx.size)}, got {p.shape}")
    if band not in _BANDS:
        raise ValueError(f"band must be 'square', 'disc' or 'both', got {band!r}")
    floor_db = check_real("floor_db", floor_db, high=0.0, high_inclusive=False)
    radii = _check_band_marks(marks)
    unit = _check_unit(unit)
    oy, ox = np.argsort(fy), np.argsort(fx)
    fy, fx, p = fy[oy], fx[ox], p[np.ix_(oy, ox)]
    dy = (fy[-1] - fy[0]) / max(fy.size - 1, 1) if fy.size > 1 else 1.0
    dx = (fx[-1] - fx[0]) / max(fx.size - 1, 1) if fx.size > 1 else 1.0
    extent = (fx[0] - dx / 2, fx[-1] + dx / 2, fy[0] - dy / 2, fy[-1] + dy / 2)
    fig, ax = _axes(ax, (5.6, 4.8))
    im = ax.imshow(
        _db(p, float(p.max()), floor_db),
        origin="lower",
        extent=extent,
        cmap="magma",
        vmin=floor_db,
        vmax=0.0,
        interpolation="nearest",
    )
    fig.colorbar(im, ax=ax, label="power (dB re max)")
    t = np.linspace(0.0, 2.0 * np.pi, 361)
    for i, (ry, rx) in enumerate(radii):
        if band in ("square", "both"):
            ax.plot(
                [-rx, rx, rx, -rx, -rx],
                [-ry, -ry, ry, ry, -ry],
                "c--",
                lw=0.9,
                label="square band" if i == 0 else None,
            )
        if band in ("disc", "both"):
            # Lime and cyan stay visible on both ends of the magma colour map.
            label = "disc band" if i == 0 else None
            ax.plot(rx * np.cos(t), ry * np.sin(t), ":", color="lime", lw=1.1, label=label)
    if radii:
        ax.legend(loc="upper right", fontsize="small")
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal")
    ax.set_xlabel(f"f_x ({unit})")
    ax.set_ylabel(f"f_y ({unit})")
    ax.set_title(title or "Average power spectrum")
    return fig


def plot_spectrum_slices(
    fy: object,
    fx: object,
    P: object,
    *,
    marks: Sequence[float] | float | None = (0.25,),
    floor_db: float = -120.0,
    unit: str = "cycles/sample",
    title: str | None = None,
    ax=None,
):
    """``10 log10(P / max P)`` along the 0° and 45° slices versus radial frequency.

    Slices as in ``dsp.spectrum.spectrum_slices``; ``marks`` are vertical lines (e.g. the half
    band ``0.25`` cycles/sample). A spectrum that is isotropic gives overlapping curves.
    ``unit`` names the unit of ``fy``/``fx`` on the axis label (see :func:`plot_power_spectrum`).
    """
    p = as_finite_array("P", P, ndim=2)
    floor_db = check_real("floor_db", floor_db, high=0.0, high_inclusive=False)
    radii = _check_marks(marks)
    unit = _check_unit(unit)
    f0, p0, f45, p45 = spectrum_slices(p, fy, fx)
    ref = float(max(p0.max(), p45.max()))
    d0, d45 = _db(p0, ref, floor_db), _db(p45, ref, floor_db)
    fig, ax = _axes(ax, (6.4, 4.0))
    ax.plot(f0, d0, lw=1.2, label="0 deg")
    ax.plot(f45, d45, lw=1.2, label="45 deg")
    for i, r in enumerate(radii):
        # One colour and dash per mark, so that each legend entry names one line.
        colour, style = _MARK_STYLES[i % len(_MARK_STYLES)]
        ax.axvline(r, color=colour, ls=style, lw=0.9, label=f"|f| = {r:g}")
    ax.set_xlim(0.0, max(float(f0[-1]), float(f45[-1])))
    # Zoom to the data: the floor only matters when the spectrum actually reaches it.
    ax.set_ylim(max(floor_db, float(min(d0.min(), d45.min())) - 5.0), 5.0)
    ax.set_xlabel(f"radial frequency ({unit})")
    ax.set_ylabel("power (dB re max)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower left", fontsize="small")
    ax.set_title(title or "Power spectrum slices")
    return fig


_FOLD_COLOURS = {
    FoldLabel.NON_ALIASED: "#2ca02c",
    FoldLabel.ALIASED: "#d62728",
    FoldLabel.TANGLED: "#ff7f0e",
    FoldLabel.EMPTY: "#dddddd",
}


def plot_fold_map(
    result: FoldResult, *, channel: int | None = None, title: str | None = None, ax=None
):
    """Categorical map of ``fold_classification`` labels over the decimated map's frequencies.

    Parameters
    ----------
    result : FoldResult
    channel : int, optional
        Which channel to draw when the result holds one map per channel (``average="channel"``);
        required then, not allowed otherwise.
    """
    if not isinstance(result, FoldResult):
        raise ValueError(f"result must be a FoldResult, got {type(result).__name__}")
    labels = result.labels
    if labels.ndim == 3:
        if channel is None:
            raise ValueError("channel is required for a per-channel FoldResult")
        if not 0 <= int(channel) < labels.shape[0]:
            raise ValueError(f"channel must be in [0, {labels.shape[0] - 1}], got {channel}")
        labels = labels[int(channel)]
    elif channel is not None:
        raise ValueError("channel is only allowed for a per-channel FoldResult")
    order = list(FoldLabel)
    cmap = ListedColormap([_FOLD_COLOURS[lab] for lab in order])
    norm = BoundaryNorm(np.arange(len(order) + 1) - 0.5, cmap.N)
    fy, fx = result.fy, result.fx
    dy = 1.0 / fy.size
    dx = 1.0 / fx.size
    extent = (fx[0] - dx / 2, fx[-1] + dx / 2, fy[0] - dy / 2, fy[-1] + dy / 2)
    fig, ax = _axes(ax, (5.6, 4.8))
    ax.imshow(labels, origin="lower", extent=extent, cmap=cmap, norm=norm, interpolation="nearest")
    fr = result.fractions
    handles = [
        Patch(color=_FOLD_COLOURS[lab], label=lab.name.lower().replace("_", "-")) for lab in order
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small")
    ax.set_aspect("equal")
    ax.set_xlabel("output f_x (cycles/sample)")
    ax.set_ylabel("output f_y (cycles/sample)")
    ax.set_title(
        title
        or (
            f"Folds, stride {result.stride}, {result.threshold_db:g} dB: "
            f"non-aliased {fr['non_aliased']:.0%}, aliased {fr['aliased']:.0%}, "
            f"tangled {fr['tangled']:.0%}"
        ),
        fontsize="medium",
    )
    return fig
