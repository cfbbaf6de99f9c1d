"""Dirac-comb sampling of continuous 1D and 2D signals. See REFERENCE §1.

A continuous signal is any callable ``fn`` vectorised over numpy arrays (``fn(x)`` in 1D,
``fn(x, y)`` in 2D). Sampling it at rate ``s`` (samples per unit length) multiplies it by the
Dirac comb ``III_s`` of spacing ``1/s``: the feature map ``Z = III_s ⊙ z`` of REFERENCE §1. The
functions here return the comb positions together with the values, so that every consumer knows
exactly where each sample sits.

Grid convention: along each axis the sample positions are ``x_n = start + offset + n / rate`` for
the integers ``n`` that put ``x_n`` inside the half-open extent ``[start, stop)``. A 2D sample
array is indexed ``samples[i, j] = fn(x[j], y[i])``: rows follow y, columns follow x.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from dsp._checks import check_real

__all__ = ["sample_points", "sample_1d", "sample_2d"]

# A comb with more points than this is almost certainly a unit mistake (rate in Hz vs per sample).
_MAX_POINTS = 2**31


def _check_extent(name: str, extent: object) -> tuple[float, float]:
    try:
        items = list(extent)  # type: ignore[call-overload]
    except TypeError as exc:
        raise ValueError(f"{name} must be a pair (start, stop), got {extent!r}") from exc
    if len(items) != 2:
        raise ValueError(f"{name} must be a pair (start, stop), got {len(items)} entries")
    start = check_real(f"{name}[0]", items[0])
    stop = check_real(f"{name}[1]", items[1])
    if not stop > start:
        raise ValueError(f"{name} must have stop > start, got ({start:g}, {stop:g})")
    return start, stop


def _check_pair(name: str, value: object, **kw) -> tuple[float, float]:
    """A real scalar (used for both axes) or a pair ``(along x, along y)``."""
    if isinstance(value, Sequence) or (isinstance(value, np.ndarray) and value.ndim > 0):
        items = list(value)
        if len(items) != 2:
            raise ValueError(f"{name} must be a scalar or a pair (x, y), got {len(items)} entries")
        return check_real(f"{name}[0]", items[0], **kw), check_real(f"{name}[1]", items[1], **kw)
    v = check_real(name, value, **kw)
    return v, v


def sample_points(extent: tuple[float, float], rate: float, offset: float = 0.0) -> np.ndarray:
    """Positions of the Dirac comb of rate ``rate`` inside ``extent``.

    ``x_n = start + offset + n / rate`` for every integer ``n`` (negative too) with
    ``start <= x_n < stop``; returned in increasing order.

    Parameters
    ----------
    extent : (start, stop)
        Half-open interval ``[start, stop)`` in units of length, ``stop > start``.
    rate : float
        Sampling rate ``s > 0`` in samples per unit length (spacing ``1/s``).
    offset : float
        Shift of the comb relative to ``start``, in units of length (any real value; the comb is
        the same for ``offset`` and ``offset + 1/rate``).

    Returns
    -------
    numpy.ndarray
        1D float64 array of positions (at least one).
    """
    rate = check_real("rate", rate, low=0.0, low_inclusive=False)
    offset = check_real("offset", offset)
    return _comb("extent", extent, rate, offset)


def _comb(name: str, extent: object, rate: float, offset: float) -> np.ndarray:
    start, stop = _check_extent(name, extent)
    n_lo = math.floor(-offset * rate) - 1
    n_hi = math.ceil((stop - start - offset) * rate) + 1
    if n_hi - n_lo > _MAX_POINTS:
        raise ValueError(
            f"extent * rate gives {n_hi - n_lo} samples, more than {_MAX_POINTS}; check the units"
        )
    # A one-sample margin on each side, then an exact mask, so that rounding in the bounds
    # above never drops or adds a point.
    n = np.arange(n_lo, n_hi + 1, dtype=np.float64)
    x = (start + offset) + n / rate
    x = x[(x >= start) & (x < stop)]
    if x.size == 0:
        raise ValueError(
            f"{name}: no sample of rate {rate:g} with offset {offset:g} falls in "
            f"[{start:g}, {stop:g})"
        )
    return x


def _evaluate(fn: Callable, shape: tuple[int, ...], *coords: np.ndarray) -> np.ndarray:
    if not callable(fn):
        raise ValueError(f"fn must be callable, got {type(fn).__name__}")
    out = np.asarray(fn(*coords))
    if not (np.issubdtype(out.dtype, np.number) or out.dtype == bool):
        raise ValueError(f"fn must return numbers, got dtype {out.dtype}")
    dtype = np.complex128 if np.iscomplexobj(out) else np.float64
    out = out.astype(dtype)
    if out.ndim == 0:
        # A constant signal written as ``lambda x: 1.0``.
        out = np.full(shape, out[()], dtype=dtype)
    if out.shape != shape:
        raise ValueError(f"fn returned shape {out.shape}, expected {shape} (one value per point)")
    if not np.all(np.isfinite(out)):
        raise ValueError("fn returned NaN or infinity at some sample points")
    return out


def sample_1d(
    fn: Callable[[np.ndarray], np.ndarray],
    extent: tuple[float, float],
    rate: float,
    offset: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample a continuous 1D signal on a Dirac comb: ``Z[n] = fn(x_n)``. See REFERENCE §1.

    Parameters
    ----------
    fn : callable
        Vectorised signal ``fn(x) -> array of x.shape`` (real or complex; a scalar return is
        broadcast, i.e. a constant signal).
    extent, rate, offset
        As in :func:`sample_points` (rate in samples per unit length).

    Returns
    -------
    x : numpy.ndarray
        Sample positions, shape ``(N,)``.
    samples : numpy.ndarray
        ``fn(x)``, float64 (complex128 if ``fn`` is complex), shape ``(N,)``.
    """
    x = sample_points(extent, rate, offset)
    return x, _evaluate(fn, x.shape, x)


def sample_2d(
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
    extent_x: tuple[float, float],
    extent_y: tuple[float, float],
    rate: float | tuple[float, float],
    offset: float | tuple[float, float] = (0.0, 0.0),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample a continuous 2D signal on the product comb: ``samples[i, j] = fn(x[j], y[i])``.

    See REFERENCE §1. Rows follow y and columns follow x (image convention).

    Parameters
    ----------
    fn : callable
        Vectorised signal ``fn(x, y)``; called once with two ``(Ny, Nx)`` coordinate arrays.
    extent_x, extent_y : (start, stop)
        Half-open intervals along x and y.
    rate : float or (rate_x, rate_y)
        Samples per unit length, the same on both axes or one per axis.
    offset : float or (offset_x, offset_y)
        Comb shifts, as in :func:`sample_points`.

    Returns
    -------
    x : numpy.ndarray
        Column positions, shape ``(Nx,)``.
    y : numpy.ndarray
        Row positions, shape ``(Ny,)``.
    samples : numpy.ndarray
        Shape ``(Ny, Nx)``, float64 or complex128.
    """
    rate_x, rate_y = _check_pair("rate", rate, low=0.0, low_inclusive=False)
    off_x, off_y = _check_pair("offset", offset)
    x = _comb("extent_x", extent_x, rate_x, off_x)
    y = _comb("extent_y", extent_y, rate_y, off_y)
    xx, yy = np.meshgrid(x, y, indexing="xy")
    return x, y, _evaluate(fn, xx.shape, xx, yy)
