"""Average power spectra of feature-map or image batches, radial averages and slices.

See REFERENCE §1 and §7. Arrays of maps are ``[N, C, H, W]``; ``[H, W]`` (one map) and
``[C, H, W]`` (one sample) are accepted too and read as ``N = 1`` (and ``C = 1``). Frequencies
are in cycles/sample unless a sampling rate ``fs`` is given, in which case they are in the units
of ``fs`` (cycles per unit length).

Normalisation (used everywhere in this module): for one map ``x[h, w]`` of ``H × W`` samples with
the 2D window ``w2[h, w]`` and DFT ``X[k_y, k_x] = Σ_{h,w} w2·x·exp(-2πi(k_y h/H + k_x w/W))``,
the power in bin ``(k_y, k_x)`` is ``|X|² / (H·W)``, and the average power spectrum is the mean of
that over the batch and the channels. By Parseval, ``Σ_k P[k]`` then equals the energy
``Σ_{h,w} (w2·x)²`` of one map, averaged over the batch and channels (for ``window=None`` and
``detrend=None``: exactly the mean of ``Σ x²`` per map).
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import scipy.ndimage
import scipy.signal

from dsp._checks import as_finite_array, check_int, check_real, check_shape_2d

__all__ = ["power_spectrum", "spectrum_window", "radial_average", "spectrum_slices"]

# Bound on the number of complex values held at once when transforming a batch (about 64 MiB).
_CHUNK_ELEMENTS = 1 << 22

_WINDOWS = ("hann", "kaiser")


def as_nchw(name: str, x: object) -> np.ndarray:
    """``x`` as a finite float64 ``[N, C, H, W]`` array; ``[H, W]`` and ``[C, H, W]`` are promoted.

    Shared by the spectrum and aliasing analyzers so that every one of them accepts the same ranks
    and raises the same ``ValueError`` for a wrong rank or non-finite values.
    """
    arr = as_finite_array(name, x, ndim=(2, 3, 4))
    while arr.ndim < 4:
        arr = arr[np.newaxis]
    return arr


def spectrum_window(
    shape: tuple[int, int], window: str | None = "hann", *, beta: float = 8.0
) -> np.ndarray:
    """The separable 2D analysis window ``w(h)·w(w)``, normalised to unit mean square.

    Parameters
    ----------
    shape : (int, int)
        ``(H, W)`` of the maps.
    window : {"hann", "kaiser", None}
        The 1D window along each axis (DFT-even, i.e. ``scipy.signal.get_window(...,
        fftbins=True)``, the usual choice for spectral analysis). ``None`` is the rectangular
        window (all ones).
    beta : float
        Kaiser shape parameter, ``>= 0``; ignored, and not checked, for any other ``window``.

    Returns
    -------
    numpy.ndarray
        ``[H, W]`` float64 window scaled so that ``mean(w2²) = 1``: the expected power of white
        noise, ``E[Σ_k P[k]] = H·W·σ²``, is the same with or without the window ("power is
        preserved on average"). A single tone's peak is lowered and spread over a few bins
        instead.
    """
    h, w = check_shape_2d("shape", shape)
    if window is None:
        return np.ones((h, w))
    if window not in _WINDOWS:
        raise ValueError(f"window must be 'hann', 'kaiser' or None, got {window!r}")
    # beta shapes the Kaiser window only; another window ignores it, whatever its value.
    if window == "kaiser":
        spec = ("kaiser", check_real("beta", beta, low=0.0))
    else:
        spec = "hann"
    wy = scipy.signal.get_window(spec, h, fftbins=True) if h > 1 else np.ones(1)
    wx = scipy.signal.get_window(spec, w, fftbins=True) if w > 1 else np.ones(1)
    w2 = np.outer(wy, wx)
    ms = float(np.mean(w2 * w2))
    if ms <= 0.0:
        raise ValueError(f"window {window!r} is identically zero for shape {(h, w)}")
    return w2 / np.sqrt(ms)


def _full_from_half(ph: np.ndarray, width: int) -> np.ndarray:
    """Expand an ``rfft2`` power array ``[..., H, W//2+1]`` to the full ``[..., H, W]`` grid.

    A real map's spectrum is conjugate-symmetric, so ``P[k_y, k_x] = P[-k_y, -k_x]``: the columns
    that ``rfft2`` leaves out are mirrored copies (half the FFT work for the same result).
    """
    height = ph.shape[-2]
    half = width // 2 + 1
    out = np.empty(ph.shape[:-1] + (width,), dtype=ph.dtype)
    out[..., :half] = ph
    if width > half:
        src_x = width - np.arange(half, width)
        src_y = (-np.arange(height)) % height
        out[..., half:] = ph[..., src_y[:, None], src_x[None, :]]
    return out


def map_power(maps: np.ndarray, w2: np.ndarray | None) -> np.ndarray:
    """Per-map power ``|DFT(w2·x)|² / (H·W)`` on the full unshifted grid, ``[..., H, W]``.

    ``maps`` is ``[..., H, W]`` real. Used by the analyzers that need each map's spectrum.
    """
    height, width = maps.shape[-2:]
    src = maps if w2 is None else maps * w2
    ph = np.abs(scipy.fft.rfft2(src, workers=-1)) ** 2
    ph /= height * width
    return _full_from_half(ph, width)


def mean_power(x4: np.ndarray, w2: np.ndarray | None, *, per_channel: bool = False) -> np.ndarray:
    """Average of ``map_power`` over the batch (and the channels unless ``per_channel``).

    Transforms the batch in chunks so memory stays bounded for large ``N``. Returns ``[H, W]``
    or ``[C, H, W]`` (unshifted).
    """
    n, c, height, width = x4.shape
    per = max(1, _CHUNK_ELEMENTS // max(1, c * height * width))
    acc = np.zeros((c, height, width))
    for start in range(0, n, per):
        acc += map_power(x4[start : start + per], w2).sum(axis=0)
    acc /= n
    return acc if per_channel else acc.mean(axis=0)


def power_spectrum(
    x: object,
    *,
    window: str | None = "hann",
    beta: float = 8.0,
    detrend: str | None = "mean",
    shift: bool = True,
    fs: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Average power spectrum of a batch of maps. See REFERENCE §7.

    ``P[k] = mean_{n,c} |DFT_2(w2 · (x[n, c] − mean))[k]|² / (H·W)`` (module docstring), so that
    ``Σ_k P[k] = mean_{n,c} Σ_{h,w} (w2·(x − mean))²``. With ``window=None, detrend=None`` this is
    exactly the mean energy per map (Parseval). The DFT treats each map as one period of a
    periodic signal; the window tapers the map's edges so that the jump between opposite edges
    does not smear power along the axes.

    Parameters
    ----------
    x : array_like
        ``[N, C, H, W]``, ``[C, H, W]`` or ``[H, W]`` real, finite.
    window : {"hann", "kaiser", None}
        Separable analysis window, normalised to unit mean square (see ``spectrum_window``).
    beta : float
        Kaiser ``β`` for ``window="kaiser"``.
    detrend : {"mean", None}
        ``"mean"`` subtracts each map's mean before windowing, which removes the DC spike (and
        its window leakage) so the rest of the spectrum is visible; ``None`` keeps it.
    shift : bool
        If true (default), ``P`` and the axes are centred (``fftshift``): zero frequency at index
        ``(H//2, W//2)``, frequencies increasing. Otherwise the DFT order of ``numpy.fft.fftfreq``.
    fs : float
        Sampling rate; frequency axes are ``fftfreq(n, d=1/fs)``, i.e. cycles/sample for ``fs=1``.

    Returns
    -------
    fy, fx : numpy.ndarray
        Frequency axes ``[H]`` and ``[W]`` (cycles/sample times ``fs``). For even ``n`` the
        Nyquist bin is listed once, as ``−fs/2``.
    P : numpy.ndarray
        ``[H, W]`` float64 average power per bin (units of ``x²``).
    """
    x4 = as_nchw("x", x)
    if detrend not in ("mean", None):
        raise ValueError(f"detrend must be 'mean' or None, got {detrend!r}")
    fs = check_real("fs", fs, low=0.0, low_inclusive=False)
    height, width = x4.shape[-2:]
    w2 = None if window is None else spectrum_window((height, width), window, beta=beta)
    if detrend == "mean":
        x4 = x4 - x4.mean(axis=(-2, -1), keepdims=True)
    p = mean_power(x4, w2)
    fy = np.fft.fftfreq(height, d=1.0 / fs)
    fx = np.fft.fftfreq(width, d=1.0 / fs)
    if shift:
        fy, fx, p = np.fft.fftshift(fy), np.fft.fftshift(fx), np.fft.fftshift(p)
    return fy, fx, p


def _check_spectrum(p: object, fy: object, fx: object) -> tuple[np.ndarray, ...]:
    p = as_finite_array("P", p, ndim=2)
    fy = as_finite_array("fy", fy, ndim=1)
    fx = as_finite_array("fx", fx, ndim=1)
    if p.shape != (fy.size, fx.size):
        raise ValueError(
            f"P must have shape (len(fy), len(fx)) = {(fy.size, fx.size)}, got {p.shape}"
        )
    return p, fy, fx


def radial_average(
    P: object, fy: object, fx: object, nbins: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``P`` over rings of equal radial frequency ``|f| = hypot(fy, fx)``.

    The rings are ``nbins`` equal-width bins over ``[0, f_max]`` with ``f_max = min(max|fy|,
    max|fx|)`` (the Nyquist frequency of the coarser axis, so every ring is a full circle); each
    bin is half-open ``[lo, hi)`` except the last, which includes ``f_max``. Corner bins beyond
    ``f_max`` are ignored. Works for centred or DFT-ordered ``P`` (only the axis values matter).

    Parameters
    ----------
    P : array_like
        ``[len(fy), len(fx)]`` power spectrum.
    fy, fx : array_like
        Frequency axes of ``P``.
    nbins : int, optional
        Number of rings, ``>= 1``; default ``min(H, W) // 2`` (one DFT bin wide for unit ``fs``).

    Returns
    -------
    f : numpy.ndarray
        ``[nbins]`` ring centres, in the units of ``fy``/``fx``.
    Pr : numpy.ndarray
        ``[nbins]`` mean power in each ring; ``NaN`` where a ring holds no bin.
    """
    p, fy, fx = _check_spectrum(P, fy, fx)
    if nbins is None:
        nbins = max(1, min(p.shape) // 2)
    nbins = check_int("nbins", nbins, minimum=1)
    fmax = float(min(np.max(np.abs(fy)), np.max(np.abs(fx))))
    if fmax <= 0.0:
        raise ValueError("fy and fx must each contain a nonzero frequency")
    r = np.hypot(fy[:, None], fx[None, :]).ravel()
    keep = r <= fmax
    idx = np.minimum((r[keep] / fmax * nbins).astype(np.int64), nbins - 1)
    sums = np.bincount(idx, weights=p.ravel()[keep], minlength=nbins)
    counts = np.bincount(idx, minlength=nbins)
    with np.errstate(invalid="ignore", divide="ignore"):
        pr = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    f = (np.arange(nbins) + 0.5) * (fmax / nbins)
    return f, pr


def spectrum_slices(
    P: object, fy: object, fx: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Slices of ``P`` from the origin along 0° (the ``+fx`` axis) and 45° (``fx = fy > 0``).

    The 0° slice is the row ``fy = 0`` at ``fx >= 0``. The 45° slice is sampled at the points
    ``(fy, fx) = (t, t)``, ``t = j·min(Δfy, Δfx)`` up to the smaller axis' largest positive
    frequency, by bilinear interpolation of ``P`` on its grid; for square maps these points are
    exactly the diagonal bins and no interpolation happens. Works for centred or DFT-ordered
    ``P``.

    Returns
    -------
    f0, P0 : numpy.ndarray
        Frequencies ``fx >= 0`` and ``P`` along them.
    f45, P45 : numpy.ndarray
        Radial frequency ``|f| = √2·t`` of the 45° points and ``P`` there.
    """
    p, fy, fx = _check_spectrum(P, fy, fx)
    oy, ox = np.argsort(fy, kind="stable"), np.argsort(fx, kind="stable")
    fy, fx, p = fy[oy], fx[ox], p[np.ix_(oy, ox)]
    if np.any(np.diff(fy) <= 0) or np.any(np.diff(fx) <= 0):
        raise ValueError("fy and fx must not repeat values")
    if not (np.any(fy == 0.0) and np.any(fx == 0.0)):
        raise ValueError("fy and fx must contain the zero frequency")
    iy0, ix0 = int(np.flatnonzero(fy == 0.0)[0]), int(np.flatnonzero(fx == 0.0)[0])
    f0, p0 = fx[ix0:], p[iy0, ix0:]
    dfy = float(fy[iy0 + 1] - fy[iy0]) if iy0 + 1 < fy.size else np.inf
    dfx = float(fx[ix0 + 1] - fx[ix0]) if ix0 + 1 < fx.size else np.inf
    step = min(dfy, dfx)
    tmax = min(fy[-1], fx[-1])
    if not np.isfinite(step) or tmax <= 0.0:
        return f0, p0, np.zeros(1), p[iy0, ix0 : ix0 + 1].copy()
    # A tiny tolerance keeps the last diagonal point when t_max is an exact multiple of step.
    nt = int(np.floor(tmax / step + 1e-9)) + 1
    t = np.arange(nt) * step
    coords = np.stack([iy0 + t / dfy, ix0 + t / dfx])
    # Snap to exact grid indices where the points are on the grid (square maps), so no
    # interpolation round-off changes the values.
    rounded = np.rint(coords)
    coords = np.where(np.abs(coords - rounded) < 1e-9, rounded, coords)
    p45 = scipy.ndimage.map_coordinates(p, coords, order=1, mode="nearest")
    return f0, p0, np.sqrt(2.0) * t, p45
