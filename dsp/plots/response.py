"""Figures of filter frequency responses: 1D magnitude, 2D heatmap, 0/45 degree slices.

Every function returns a ``matplotlib.figure.Figure`` (the one holding ``ax`` when given) and
never shows it; save with :func:`dsp.plots.save_figure`. Frequencies on the axes are in
the units of ``fs``; magnitudes in dB relative to 1 (designed filters have DC gain 1), clipped
at ``floor_db``.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from dsp._checks import as_finite_array, check_int, check_real
from dsp.response import dtft2, dtft_uniform, freqz2

__all__ = ["plot_response_1d", "plot_response_2d", "plot_response_slices"]


def _db(mag: np.ndarray, floor_db: float) -> np.ndarray:
    return 20.0 * np.log10(np.maximum(mag, 10.0 ** (floor_db / 20.0)))


def _axes(ax, figsize: tuple[float, float]):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def _mark_edges(ax, cutoff: float | None, stopband: float | None) -> None:
    if cutoff is not None:
        ax.axvline(cutoff, color="k", ls="--", lw=0.8, label=f"cutoff {cutoff:g}")
    if stopband is not None:
        ax.axvline(stopband, color="r", ls=":", lw=0.8, label=f"stopband {stopband:g}")


def _as_filter_list(h: object) -> list[np.ndarray]:
    # A list/tuple holds several filters; an ndarray is one filter (1D or 2D).
    if isinstance(h, (list, tuple)) and len(h) > 0 and np.ndim(h[0]) >= 1:
        return [as_finite_array(f"h[{i}]", hi, ndim=(1, 2)) for i, hi in enumerate(h)]
    return [as_finite_array("h", h, ndim=(1, 2))]


def plot_response_1d(
    h: np.ndarray | Sequence[np.ndarray],
    fs: float | Sequence[float] = 2.0,
    *,
    cutoff: float | None = None,
    stopband: float | None = None,
    labels: Sequence[str] | None = None,
    n_freqs: int = 2048,
    floor_db: float = -140.0,
    title: str | None = None,
    ax=None,
):
    """Magnitude response ``20 log10 |H(f)|`` on ``[0, fs / 2]``, one line per filter.

    Parameters
    ----------
    h : array_like or sequence of array_like
        One filter, or a list/tuple of filters overlaid. A 2D filter is drawn along its 0 degree
        slice (``f_y = 0``).
    fs : float or sequence of float
        Sampling rate, positive; or one rate per filter (each drawn on ``[0, fs_i / 2]``, the
        axis spanning the largest).
    cutoff, stopband : float, optional
        Vertical markers (units of ``fs``).
    labels : sequence of str, optional
        Legend entries, one per filter.
    n_freqs : int
        Number of frequencies.
    floor_db : float
        Lowest dB level drawn.
    ax : matplotlib Axes, optional
        Draw into this axes instead of a new figure.
    """
    filters = _as_filter_list(h)
    if np.ndim(fs) == 0:
        rates = [check_real("fs", fs, low=0.0, low_inclusive=False)] * len(filters)
    else:
        rates = [check_real("fs", r, low=0.0, low_inclusive=False) for r in fs]
        if len(rates) != len(filters):
            raise ValueError(f"fs must be one rate or {len(filters)} rates, got {len(rates)}")
    n_freqs = check_int("n_freqs", n_freqs, minimum=2)
    if labels is not None and len(labels) != len(filters):
        raise ValueError(f"labels must have {len(filters)} entries, got {len(labels)}")
    fig, ax = _axes(ax, (6.4, 4.0))
    for i, (hi, rate) in enumerate(zip(filters, rates, strict=True)):
        # The 0 degree slice of a 2D filter is the response of its column sums (f_y = 0 makes
        # every row's phase 1). A uniform grid from 0 to fs/2 is one FFT of the folded taps,
        # where the direct sum took minutes for 10^6 taps.
        taps = hi if hi.ndim == 1 else hi.sum(axis=0)
        f, H = dtft_uniform(taps, n_freqs, rate)
        if labels is not None:
            label = labels[i]
        elif hi.ndim == 1:
            label = f"{hi.shape[0]} taps"
        else:
            label = f"{hi.shape[0]}x{hi.shape[1]} taps, 0 deg slice"
        ax.plot(f, _db(np.abs(H), floor_db), lw=1.2, label=label)
    _mark_edges(ax, cutoff, stopband)
    ax.set_xlim(0, max(rates) / 2)
    ax.set_ylim(floor_db, 10)
    rate_text = f"fs = {rates[0]:g}" if len(set(rates)) == 1 else "fs per filter"
    ax.set_xlabel(f"frequency (cycles per unit length, {rate_text})")
    ax.set_ylabel("|H| (dB)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower left", fontsize="small")
    ax.set_title(title or "Magnitude response")
    return fig


def plot_response_2d(
    h: np.ndarray,
    fs: float = 2.0,
    *,
    shape: int | tuple[int, int] = 256,
    cutoff: float | None = None,
    stopband: float | None = None,
    floor_db: float = -120.0,
    edges: str | None = None,
    title: str | None = None,
    ax=None,
):
    """Heatmap of ``20 log10 |H(f_x, f_y)|`` over the centred period ``[-fs/2, fs/2)^2``.

    Parameters
    ----------
    h : array_like
        2D taps, or 1D taps standing for the separable filter ``outer(h, h)``.
    fs : float
        Sampling rate, positive; the axes are in its units (cycles per unit length).
    shape : int or (int, int)
        Frequency grid, as in :func:`dsp.response.freqz2`.
    cutoff, stopband : float, optional
        Band edges to outline (units of ``fs``).
    floor_db : float
        Lowest dB level drawn.
    edges : {"square", "circle"}, optional
        Shape of the outlines: the square ``max(|f_x|, |f_y|) = edge`` where a separable
        filter has its edges, or the circle ``|f| = edge`` of a radially symmetric one.
        Default: square for 1D ``h``, circle for 2D ``h``.
    title : str, optional
        Axes title.
    ax : matplotlib Axes, optional
        Draw into this axes instead of a new figure.
    """
    h = as_finite_array("h", h, ndim=(1, 2))
    fs = check_real("fs", fs, low=0.0, low_inclusive=False)
    if edges is None:
        edges = "square" if h.ndim == 1 else "circle"
    elif edges not in ("square", "circle"):
        raise ValueError(f"edges must be 'square', 'circle' or None, got {edges!r}")
    fx, fy, H = freqz2(h, shape, fs)
    fig, ax = _axes(ax, (5.6, 4.8))
    dx, dy = fs / fx.size, fs / fy.size
    extent = (fx[0] - dx / 2, fx[-1] + dx / 2, fy[0] - dy / 2, fy[-1] + dy / 2)
    im = ax.imshow(
        _db(np.abs(H), floor_db),
        origin="lower",
        extent=extent,
        cmap="viridis",
        vmin=floor_db,
        vmax=0.0,
        interpolation="nearest",
    )
    fig.colorbar(im, ax=ax, label="|H| (dB)")
    if edges == "square":
        # outer(h, h) responds H(f_x) H(f_y): its band edges lie where one axis reaches the
        # 1D edge, so a square, not a circle.
        ux, uy = np.array([-1.0, 1.0, 1.0, -1.0, -1.0]), np.array([-1.0, -1.0, 1.0, 1.0, -1.0])
    else:
        t = np.linspace(0, 2 * np.pi, 361)
        ux, uy = np.cos(t), np.sin(t)
    for edge, style, name in ((cutoff, "--", "cutoff"), (stopband, ":", "stopband")):
        if edge is not None:
            ax.plot(edge * ux, edge * uy, "w" + style, lw=0.9, label=f"{name} {edge:g}")
    if cutoff is not None or stopband is not None:
        ax.legend(loc="upper right", fontsize="small")
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal")
    ax.set_xlabel(f"f_x (cycles per unit length, fs = {fs:g})")
    ax.set_ylabel(f"f_y (cycles per unit length, fs = {fs:g})")
    ax.set_title(title or "2D magnitude response")
    return fig


def plot_response_slices(
    h: np.ndarray,
    fs: float = 2.0,
    *,
    angles: Sequence[float] = (0.0, 45.0),
    cutoff: float | None = None,
    stopband: float | None = None,
    n_freqs: int = 2048,
    floor_db: float = -140.0,
    title: str | None = None,
    ax=None,
):
    """``20 log10 |H|`` along rays at ``angles`` (degrees from the x axis) versus radial
    frequency ``0 .. fs / 2``. A 1D ``h`` is the separable filter ``outer(h, h)``; the gap
    between its 0 and 45 degree slices shows its anisotropy.
    """
    h = as_finite_array("h", h, ndim=(1, 2))
    fs = check_real("fs", fs, low=0.0, low_inclusive=False)
    n_freqs = check_int("n_freqs", n_freqs, minimum=2)
    angles = [check_real("angles", a) for a in angles]
    if not angles:
        raise ValueError("angles must not be empty")
    fig, ax = _axes(ax, (6.4, 4.0))
    f = np.linspace(0.0, fs / 2, n_freqs)
    for a in angles:
        c, s = np.cos(np.radians(a)), np.sin(np.radians(a))
        ax.plot(f, _db(np.abs(dtft2(h, f * c, f * s, fs)), floor_db), lw=1.2, label=f"{a:g} deg")
    _mark_edges(ax, cutoff, stopband)
    ax.set_xlim(0, fs / 2)
    ax.set_ylim(floor_db, 10)
    ax.set_xlabel(f"radial frequency (cycles per unit length, fs = {fs:g})")
    ax.set_ylabel("|H| (dB)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower left", fontsize="small")
    ax.set_title(title or "Slices of the 2D response")
    return fig
