"""Figures of filter frequency responses: 1D magnitude, 2D heatmap, 0/45 degree slices.

Every function returns a ``matplotlib.figure.Figure`` (the one holding ``ax`` when given) and
never shows it; save with :func:`dsp.plots.save_figure`. Frequencies on the axes are in
the units of ``fs``; magnitudes in dB relative to 1 (designed filters have DC gain 1), clipped
at ``floor_db``.

Sampling. A filter of ``N`` taps has sidelobes about ``fs / N`` wide, so a fixed grid misses
their peaks once ``N`` is large (2048 points drew the stopband of a 20 001-tap filter 13 dB
too low). By default every curve is evaluated on at least ``8 N + 1`` points of
``[0, fs / 2]`` (about 16 per sidelobe, as :func:`dsp.response.figures_of_merit`), with one FFT
(``O(M log M)``), and a curve of more than ``8192`` points is drawn as its peak envelope: each
drawn point is the largest of its run of consecutive samples, at that sample's frequency, so
the drawn maxima are the sampled ones. The heatmap is evaluated likewise and drawn with each
pixel the maximum over its block of samples. Where a grid must stay coarser than that (an
explicit ``n_freqs`` or ``shape``, or the memory and time bounds below), the legend or title
says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from dsp._checks import as_finite_array, check_int, check_real
from dsp.response import dtft, dtft2, dtft_uniform, freqz2

__all__ = ["plot_response_1d", "plot_response_2d", "plot_response_slices"]

_MIN_FREQS = 2048
"""Fewest points of a curve drawn with the default grid."""
_MAX_DRAWN = 8192
"""Most points of a drawn curve; a denser grid is drawn as its peak envelope."""
_MAX_FREQS = 2**22 + 1
"""Most points of a curve's default grid (an FFT of 2**23 points, about 200 MB with its
temporaries): 8 N + 1 for filters up to 524 287 taps; longer ones are drawn undersampled."""
_DIRECT_BUDGET = 2**28
"""Multiply-adds of a slice evaluated by direct sums (an angle not a multiple of 45 degrees)
above which its default grid stays coarser than 16 points per sidelobe (about a second); the
grid never drops below ``_MIN_FREQS`` points, so very long filters (2·10⁵ taps at 30 degrees:
8·10⁸ multiply-adds, about half a minute) take longer."""
_HEATMAP_PIXELS = 256
"""Pixels per axis of the default heatmap."""
_MAX_GRID_2D = 2048
"""Most frequencies per axis of a 2D taps' heatmap grid (4M complex values, 64 MB)."""
_BUDGET_2D = 2**31
"""Most multiply-adds of a 2D taps' heatmap grid (``freqz2``: ``n N (N + n)``), a few
seconds."""


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


def _needed_freqs(h: np.ndarray, c: float, s: float) -> int:
    """Points on ``[0, fs / 2]`` that give the slice along ``(c, s)`` about 16 per sidelobe.

    The taps span ``L = (n_x - 1) |c| + (n_y - 1) |s|`` samples along the direction (a 1D ``h``
    stands for ``outer(h, h)``), so the slice's lobes are about ``fs / (L + 1)`` wide:
    ``8 (L + 1) + 1`` points, ``8 numtaps + 1`` along an axis.
    """
    ny, nx = (h.size, h.size) if h.ndim == 1 else h.shape
    extent = (nx - 1) * abs(c) + (ny - 1) * abs(s)
    return 8 * math.ceil(extent + 1 - 1e-9) + 1


def _ray_taps(h: np.ndarray, angle_deg: float) -> tuple[np.ndarray, float] | None:
    """1D taps ``g`` and a scale ``sigma`` with ``|H(r cos a, r sin a)| = |G(sigma r)|``.

    The slice of a 2D response along a multiple of 45 degrees is the 1D response of the taps
    summed across it (projection-slice): along x the column sums, along the diagonal the sums
    over ``i_x + i_y = m`` (tap ``m`` sits at ``m / sqrt(2)`` along the ray, hence
    ``sigma = 1 / sqrt(2)``). A 1D ``h`` stands for ``outer(h, h)``, whose diagonal sums are
    ``h * h`` (convolution). Other angles: ``None``. Real taps make ``|H(-f)| = |H(f)|``, so
    the angle counts modulo 180 degrees.
    """
    a = float(angle_deg) % 180.0
    if a not in (0.0, 45.0, 90.0, 135.0):
        return None
    if a in (0.0, 90.0):
        if h.ndim == 1:
            return h * np.sum(h), 1.0  # H(f) H(0)
        return h.sum(axis=0 if a == 0.0 else 1), 1.0
    if h.ndim == 1:
        from scipy.signal import fftconvolve

        g = fftconvolve(h, h) if h.size > 64 else np.convolve(h, h)
        return g, 1.0 / math.sqrt(2.0)
    ny, nx = h.shape
    iy, ix = np.indices(h.shape)
    m = ix + iy if a == 45.0 else ix - iy + (ny - 1)
    return np.bincount(m.ravel(), weights=h.ravel(), minlength=nx + ny - 1), 1.0 / math.sqrt(2)


def _ray_gain(g: np.ndarray, sigma: float, n: int, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """``|G(sigma r)|`` on about ``n`` radii of ``[0, fs / 2]``, spaced at most ``fs / (2 (n -
    1))``, by one FFT: ``G`` on the grid ``k fs / P`` is the length-``P`` FFT of ``g`` folded
    modulo ``P`` (see :func:`dsp.response.dtft_uniform`); ``P = ceil(2 (n - 1) / sigma)``.
    The last radius is ``fs / 2`` itself (one direct sum where the grid stops short)."""
    if sigma == 1.0:
        r, H = dtft_uniform(g, n, fs)
        return r, np.abs(H)
    period = math.ceil(2 * (n - 1) / sigma)
    last = math.floor(sigma * period / 2)
    folded = np.bincount(np.arange(g.size) % period, weights=g, minlength=period)
    mag = np.abs(np.fft.rfft(folded)[: last + 1])
    r = np.arange(last + 1) * (fs / (period * sigma))
    if r[-1] < fs / 2:
        r = np.append(r, fs / 2)
        mag = np.append(mag, np.abs(dtft(g, [sigma * fs / 2], fs)))
    return r, mag


def _peak_envelope(f: np.ndarray, mag: np.ndarray, max_points: int) -> tuple[np.ndarray, ...]:
    """At most ``max_points`` samples: of each run of ``k = ceil(len / max_points)``
    consecutive ones, the largest (its frequency and value)."""
    if f.size <= max_points:
        return f, mag
    k = math.ceil(f.size / max_points)
    rows = math.ceil(f.size / k)
    padded = np.full(rows * k, -np.inf)
    padded[: mag.size] = mag
    idx = np.argmax(padded.reshape(rows, k), axis=1) + k * np.arange(rows)
    return f[idx], mag[idx]


def _undersampled(n: int, needed: int) -> str:
    return f" [{n} freqs < {needed} needed: peaks may be missed]" if n < needed else ""


def _slice_curve(
    h: np.ndarray, fs: float, angle_deg: float, n_freqs: int | None
) -> tuple[np.ndarray, np.ndarray, str]:
    """``(r, |H|, note)`` along the ray at ``angle_deg``, for drawing.

    ``n_freqs`` given: exactly ``linspace(0, fs / 2, n_freqs)``. ``None``: the default grid
    (module docstring) drawn as its peak envelope; ``note`` says when it is undersampled.
    """
    c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    needed = _needed_freqs(h, c, s)
    ray = _ray_taps(h, angle_deg)
    if n_freqs is not None:
        if ray is not None and ray[1] == 1.0:
            r, mag = _ray_gain(ray[0], 1.0, n_freqs, fs)
        else:
            r = np.linspace(0.0, fs / 2, n_freqs)
            mag = np.abs(dtft2(h, r * c, r * s, fs))
        return r, mag, _undersampled(n_freqs, needed)
    n = min(max(_MIN_FREQS, needed), _MAX_FREQS)
    if ray is not None:
        r, mag = _ray_gain(ray[0], ray[1], n, fs)
    else:
        per_point = 2 * h.size if h.ndim == 1 else h.size
        n = max(_MIN_FREQS, min(n, _DIRECT_BUDGET // per_point))
        r = np.linspace(0.0, fs / 2, n)
        mag = np.abs(dtft2(h, r * c, r * s, fs))
    r, mag = _peak_envelope(r, mag, _MAX_DRAWN)
    return r, mag, _undersampled(n, needed)


def plot_response_1d(
    h: np.ndarray | Sequence[np.ndarray],
    fs: float | Sequence[float] = 2.0,
    *,
    cutoff: float | None = None,
    stopband: float | None = None,
    labels: Sequence[str] | None = None,
    n_freqs: int | None = None,
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
    n_freqs : int, optional
        Draw exactly the ``n_freqs`` frequencies ``linspace(0, fs / 2, n_freqs)``, at least 2.
        Default: per filter of ``N`` taps, ``max(2048, 8 N + 1)`` of them (up to
        ``2**22 + 1``), drawn as their peak envelope beyond 8192 (module docstring), so the
        curve shows the sidelobe peaks. A grid under ``8 N + 1`` is flagged in the legend.
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
    if n_freqs is not None:
        n_freqs = check_int("n_freqs", n_freqs, minimum=2)
    if labels is not None and len(labels) != len(filters):
        raise ValueError(f"labels must have {len(filters)} entries, got {len(labels)}")
    fig, ax = _axes(ax, (6.4, 4.0))
    for i, (hi, rate) in enumerate(zip(filters, rates, strict=True)):
        # The 0 degree slice of a 2D filter is the response of its column sums (f_y = 0 makes
        # every row's phase 1). A uniform grid from 0 to fs/2 is one FFT of the folded taps,
        # where the direct sum took minutes for 10^6 taps.
        # A 1D filter goes in as one row: its own response, not outer(h, h)'s.
        f, mag, note = _slice_curve(hi[None, :] if hi.ndim == 1 else hi, rate, 0.0, n_freqs)
        if labels is not None:
            label = labels[i]
        elif hi.ndim == 1:
            label = f"{hi.shape[0]} taps"
        else:
            label = f"{hi.shape[0]}x{hi.shape[1]} taps, 0 deg slice"
        ax.plot(f, _db(mag, floor_db), lw=1.2, label=label + note)
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


def _block_max(x: np.ndarray, b: int, axis: int) -> np.ndarray:
    """Maximum over consecutive blocks of ``b`` along ``axis`` (its length a multiple of b)."""
    shape = list(x.shape)
    shape[axis : axis + 1] = [shape[axis] // b, b]
    return x.reshape(shape).max(axis=axis + 1)


def _heatmap(
    h: np.ndarray, fs: float, shape: int | tuple[int, int] | None
) -> tuple[np.ndarray, int, int, str]:
    """``(|H| image, n_y, n_x, note)``: the image drawn over the grid ``freqz2(h, (n_y, n_x))``.

    ``shape`` given: that grid's samples. ``None``: ``256 x 256`` pixels, each the maximum of
    ``|H|`` over its ``b x b`` block of a grid ``b`` times finer, ``16 N`` points per axis
    (``N`` taps along it, so about 16 per sidelobe over the period ``fs``) when 256 is too
    coarse. A 1D ``h`` (``outer(h, h)``, response ``H(f_y) H(f_x)``) takes the block maxima of
    the 1D response per axis, whose outer product is exactly the 2D block maximum; its fine
    grid is one FFT, up to ``2**22`` points. 2D taps need the 2D grid, bounded by 2048 per
    axis and ``n N (N + n)`` multiply-adds; a grid kept under ``16 N`` is flagged in ``note``.
    """
    ny_taps, nx_taps = (h.size, h.size) if h.ndim == 1 else h.shape
    needed = (16 * ny_taps, 16 * nx_taps)
    if shape is not None:
        fx, fy, H = freqz2(h, shape, fs)
        n_y, n_x = fy.size, fx.size
        mag, block = np.abs(H), 1
    else:
        pixels = _HEATMAP_PIXELS
        block = max(1, math.ceil(max(needed) / pixels))
        if h.ndim == 1:
            block = min(block, (_MAX_FREQS - 1) // pixels)
        else:
            block = min(block, _MAX_GRID_2D // pixels)
            while block > 1 and block * pixels * h.size * (1 + block * pixels / max(h.shape)) > (
                _BUDGET_2D
            ):
                block //= 2
        n_y = n_x = block * pixels
        if h.ndim == 1:
            # |H| on the centred grid (k - n // 2) fs / n: the FFT's bins, shifted.
            # n_x is even; real taps give |H(-f)| = |H(f)|, so bins -n/2 .. n/2 - 1 are the
            # bins 0 .. n/2 of one FFT, mirrored.
            half = np.abs(dtft_uniform(h, n_x // 2 + 1, fs)[1])
            line = _block_max(np.concatenate((half[:0:-1], half[:-1])), block, 0)
            mag = np.outer(line, line)
        else:
            _, _, H = freqz2(h, n_x, fs)
            mag = _block_max(_block_max(np.abs(H), block, 0), block, 1)
    note = ""
    if n_y < needed[0] or n_x < needed[1]:
        note = f"{n_y}x{n_x} grid < {needed[0]}x{needed[1]} needed: sidelobe peaks may be missed"
    return mag, n_y, n_x, note


def plot_response_2d(
    h: np.ndarray,
    fs: float = 2.0,
    *,
    shape: int | tuple[int, int] | None = None,
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
    shape : int or (int, int), optional
        Draw exactly this frequency grid's samples, as in :func:`dsp.response.freqz2`.
        Default: 256 x 256 pixels; for a filter of more than 16 taps per axis each pixel is
        the maximum of ``|H|`` over a block of a finer grid with about 16 points per sidelobe
        (module docstring), so that no sidelobe peak falls between pixels. A grid coarser
        than that (given, or bounded for large 2D taps: 2048 per axis) is said in the title.
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
    mag, n_y, n_x, note = _heatmap(h, fs, shape)
    fig, ax = _axes(ax, (5.6, 4.8))
    # The grid (k - n // 2) fs / n, k = 0 .. n - 1, each sample a cell fs / n wide; a pixel
    # spans its block of cells.
    dx, dy = fs / n_x, fs / n_y
    extent = (
        -(n_x // 2) * dx - dx / 2,
        (n_x - 1 - n_x // 2) * dx + dx / 2,
        -(n_y // 2) * dy - dy / 2,
        (n_y - 1 - n_y // 2) * dy + dy / 2,
    )
    im = ax.imshow(
        _db(mag, floor_db),
        origin="lower",
        extent=extent,
        cmap="viridis",
        vmin=floor_db,
        vmax=0.0,
        interpolation="nearest",
    )
    pooled = mag.shape != (n_y, n_x)
    label = "|H| (dB), max over each pixel" if pooled else "|H| (dB)"
    fig.colorbar(im, ax=ax, label=label)
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
    heading = title or "2D magnitude response"
    ax.set_title(f"{heading}\n({note})" if note else heading)
    return fig


def plot_response_slices(
    h: np.ndarray,
    fs: float = 2.0,
    *,
    angles: Sequence[float] = (0.0, 45.0),
    cutoff: float | None = None,
    stopband: float | None = None,
    n_freqs: int | None = None,
    floor_db: float = -140.0,
    title: str | None = None,
    ax=None,
):
    """``20 log10 |H|`` along rays at ``angles`` (degrees from the x axis) versus radial
    frequency ``0 .. fs / 2``. A 1D ``h`` is the separable filter ``outer(h, h)``; the gap
    between its 0 and 45 degree slices shows its anisotropy.

    Parameters
    ----------
    h : array_like
        2D taps, or 1D taps standing for ``outer(h, h)``.
    fs : float
        Sampling rate, positive.
    angles : sequence of float
        Ray directions, degrees from the x axis.
    cutoff, stopband : float, optional
        Vertical markers at these radii (the circular edges of a radially symmetric design).
        For a 1D ``h`` the stopband of ``outer(h, h)`` is the square
        ``max(|f_x|, |f_y|) >= stopband``, which a ray at angle ``a`` enters at radius
        ``stopband / max(|cos a|, |sin a|)``: marked too where that lies below ``fs / 2``.
    n_freqs : int, optional
        Draw exactly ``linspace(0, fs / 2, n_freqs)``, at least 2. Default: about 16 points per
        sidelobe of each slice (``8 numtaps + 1`` along an axis), one FFT for multiples of 45
        degrees (the slice is the 1D response of the taps summed across it), direct sums
        (about ``2**28`` multiply-adds per slice, at least 2048 points) otherwise; drawn as
        the peak envelope beyond 8192 points (module docstring). A coarser grid is flagged in
        the legend.
    floor_db : float
        Lowest dB level drawn.
    title : str, optional
        Axes title.
    ax : matplotlib Axes, optional
        Draw into this axes instead of a new figure.
    """
    h = as_finite_array("h", h, ndim=(1, 2))
    fs = check_real("fs", fs, low=0.0, low_inclusive=False)
    if n_freqs is not None:
        n_freqs = check_int("n_freqs", n_freqs, minimum=2)
    angles = [check_real("angles", a) for a in angles]
    if not angles:
        raise ValueError("angles must not be empty")
    fig, ax = _axes(ax, (6.4, 4.0))
    for a in angles:
        f, mag, note = _slice_curve(h, fs, a, n_freqs)
        ax.plot(f, _db(mag, floor_db), lw=1.2, label=f"{a:g} deg{note}")
    _mark_edges(ax, cutoff, stopband)
    if stopband is not None and h.ndim == 1:
        for a in angles:
            c, s = math.cos(math.radians(a)), math.sin(math.radians(a))
            edge = stopband / max(abs(c), abs(s))
            if not math.isclose(edge, stopband) and edge < fs / 2:
                label = f"square stopband along {a:g} deg: {edge:.4g}"
                ax.axvline(edge, color="0.4", ls="-.", lw=0.8, label=label)
    ax.set_xlim(0, fs / 2)
    ax.set_ylim(floor_db, 10)
    ax.set_xlabel(f"radial frequency (cycles per unit length, fs = {fs:g})")
    ax.set_ylabel("|H| (dB)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower left", fontsize="small")
    ax.set_title(title or "Slices of the 2D response")
    return fig
