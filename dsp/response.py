"""Frequency responses of 1D and 2D FIR filters and their figures of merit (REFERENCE §2).

Units: ``fs`` is the sampling rate (samples per unit length); every frequency argument and
result is in the same units (cycles per unit length). The default ``fs = 2`` makes Nyquist
equal 1, like ``scipy.signal.freqz(..., fs=2)`` (scipy's own default is ``2 pi``, radians per
sample).

Phase conventions:

- :func:`freqz` and :func:`dtft` (default) are causal, like scipy: tap ``n`` sits at time
  ``n / fs``, ``H(f) = sum_n h[n] exp(-2 pi i f n / fs)``.
- :func:`freqz2` and :func:`dtft2` (default) are zero-phase: tap ``(iy, ix)`` sits at
  ``((ix - cx) / fs, (iy - cy) / fs)`` with ``c = (numtaps - 1) / 2`` the filter centre, so a
  symmetric filter's response is real up to rounding.

A 1D filter passed where a 2D one is expected stands for the separable filter
``outer(h, h)``, whose response is ``H(f_y) H(f_x)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from scipy import fft as sp_fft
from scipy import optimize

from dsp._checks import as_finite_array, check_cutoff, check_int, check_real

__all__ = [
    "freqz",
    "dtft",
    "dtft_uniform",
    "dtft2",
    "freqz2",
    "RadialProfile",
    "radial_profile",
    "angular_deviation",
    "FiguresOfMerit",
    "figures_of_merit",
]

# Elements per temporary matrix of the direct DTFT sums (points x taps): 2**20 complex values
# are 16 MB, whatever the filter length (a fixed number of points per chunk was not: 16384
# points x 100k taps asked for 26 GB).
_CHUNK_ELEMS = 1 << 20


def _chunk(taps: int) -> int:
    """Frequency points per chunk for ``taps`` taps along the summed axis."""
    return max(1, _CHUNK_ELEMS // max(1, taps))


def _check_fs(fs: float) -> float:
    return check_real("fs", fs, low=0.0, low_inclusive=False)


# Tap positions (doubled, as integers) up to this bound get an exactly reduced phase: the high
# half of a Veltkamp split (26 significant bits) times an integer below 2**27 is exact.
_EXACT_PHASE_LIMIT = 2**27


def _phase_matrix(f: np.ndarray, n: np.ndarray, fs: float) -> np.ndarray:
    """``exp(-2 pi i f n / fs)`` for every pair, shape ``f.shape + n.shape``.

    ``n`` holds tap positions, integers or half-integers (a centred origin). The phase in
    turns, ``x * n2`` with ``x = f / (2 fs)`` and the integer ``n2 = 2 n``, is reduced modulo
    1 before it is scaled by ``2 pi``, without rounding the large product: ``x`` is reduced
    modulo 1 (exact), then split as ``hi + lo`` with ``hi`` of 26 significant bits, so
    ``hi * n2`` is exact for ``|n2| < 2**27`` and its integer part is dropped exactly; only
    ``lo * n2``, below ``2**-26 |x n2|``, rounds. The plain product ``f * n`` rounds by up to
    ``eps |f n / fs|`` turns, which for 2·10⁵ taps put a noise of 3e-12 (-230 dB) on the
    response of a filter whose true stopband lay near 1e-14. Other ``n`` (not used here)
    take the plain product. Exact means exact for the given ``x``: when ``fs`` is not a power
    of two, ``f / (2 fs)`` itself is rounded once, which moves the evaluated frequency by at
    most one unit in its last place (harmless: the response is evaluated at a neighbouring
    frequency, without noise).
    """
    f = np.asarray(f, dtype=np.float64)
    n2 = 2.0 * np.asarray(n, dtype=np.float64)
    if n2.size and not (
        np.max(np.abs(n2)) < _EXACT_PHASE_LIMIT and np.array_equal(n2, np.rint(n2))
    ):
        return np.exp((-2j * np.pi / fs) * np.multiply.outer(f, n2 / 2))
    x = 0.5 * (f / fs)
    x -= np.rint(x)  # exact; |x| <= 1/2 and x * n2 = nu * n modulo 1 (n2 is an integer)
    c = x * 134217729.0  # 2**27 + 1: Veltkamp's split
    hi = c - (c - x)
    lo = x - hi
    turns = np.multiply.outer(hi, n2)  # exact
    turns -= np.rint(turns)  # exact
    turns += np.multiply.outer(lo, n2)
    return np.exp((-2j * np.pi) * turns)


def dtft(h: np.ndarray, f: np.ndarray, fs: float = 2.0, centered: bool = False) -> np.ndarray:
    """Exact DTFT of 1D taps at arbitrary frequencies, by direct summation.

    ``H(f) = sum_n h[n] exp(-2 pi i f (n - c) / fs)``, with ``c = 0`` (causal, like scipy) or
    ``c = (len(h) - 1) / 2`` when ``centered`` (zero-phase: real for symmetric taps).

    Parameters
    ----------
    h : array_like
        1D taps.
    f : array_like
        Frequencies in the units of ``fs`` (any shape, any values: the response has period
        ``fs``).
    fs : float
        Sampling rate, positive.
    centered : bool
        Put the time origin at the filter centre.

    Returns
    -------
    numpy.ndarray
        Complex response, shape of ``f``.
    """
    h = as_finite_array("h", h, ndim=1)
    f = as_finite_array("f", f, allow_empty=True)
    fs = _check_fs(fs)
    n = np.arange(h.size, dtype=np.float64)
    if centered:
        n -= (h.size - 1) / 2
    flat = f.reshape(-1)
    out = np.empty(flat.size, dtype=np.complex128)
    step = _chunk(h.size)
    for start in range(0, flat.size, step):
        sl = slice(start, start + step)
        out[sl] = _phase_matrix(flat[sl], n, fs) @ h
    return out.reshape(f.shape)


def dtft_uniform(h: np.ndarray, n_freqs: int, fs: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Exact DTFT of 1D taps on ``n_freqs`` equally spaced frequencies of ``[0, fs / 2]``.

    ``f_k = k · fs / M`` for ``k = 0 .. n_freqs - 1`` with ``M = 2 (n_freqs - 1)``, i.e.
    ``numpy.linspace(0, fs / 2, n_freqs)`` (both ends included), and ``H(f) = sum_n h[n]
    exp(-2 pi i f n / fs)`` (causal phase, as :func:`dtft`). On this grid the exponential has
    period ``M`` in ``n``, so ``H(f_k)`` is the ``k``-th bin of the length-``M`` FFT of ``h``
    folded modulo ``M`` (``g[m] = sum_{n ≡ m mod M} h[n]``; :func:`freqz` with ``worN = M``,
    ``whole=True``): ``O(numtaps + M log M)`` work instead of the ``O(numtaps · n_freqs)`` of
    the direct sum, for any ``numtaps``.

    Parameters
    ----------
    h : array_like
        1D taps.
    n_freqs : int
        Number of frequencies, at least 2.
    fs : float
        Sampling rate, positive.

    Returns
    -------
    f : numpy.ndarray
        ``(n_freqs,)`` frequencies in the units of ``fs``, from 0 to ``fs / 2``.
    H : numpy.ndarray
        ``(n_freqs,)`` complex response at ``f``.
    """
    n_freqs = check_int("n_freqs", n_freqs, minimum=2)
    # freqz's whole circle of M points holds this grid (Nyquist included) in its first half.
    _, H = freqz(h, 2 * (n_freqs - 1), fs, whole=True)
    return np.linspace(0.0, _check_fs(fs) / 2, n_freqs), H[:n_freqs]


def freqz(
    h: np.ndarray, worN: int | np.ndarray = 512, fs: float = 2.0, whole: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Frequency response of 1D FIR taps, agreeing with ``scipy.signal.freqz(h, 1, ...)``.

    ``H(f) = sum_n h[n] exp(-2 pi i f n / fs)`` (causal phase).

    Two differences from scipy's signature: there is no denominator (the second positional
    argument is ``worN``, so ``freqz(h, 1)`` asks for one frequency, not ``a = 1``), and ``fs``
    defaults to 2 (Nyquist = 1) where scipy's default ``2 pi`` gives radians per sample.

    Parameters
    ----------
    h : array_like
        1D taps.
    worN : int or array_like
        Number of frequencies ``N`` (at least 1), spaced ``f_k = k * F / N`` for ``k < N`` with
        ``F = fs / 2`` (or ``fs`` when ``whole``); Nyquist itself is excluded as in scipy. Or an
        array of frequencies in the units of ``fs``.
    fs : float
        Sampling rate, positive.
    whole : bool
        Cover ``[0, fs)`` instead of ``[0, fs / 2)``.

    Returns
    -------
    f : numpy.ndarray
        Frequencies in the units of ``fs``.
    H : numpy.ndarray
        Complex response at ``f``.
    """
    h = as_finite_array("h", h, ndim=1)
    fs = _check_fs(fs)
    if not isinstance(whole, (bool, np.bool_)):
        raise ValueError(f"whole must be a bool, got {whole!r}")
    if isinstance(worN, np.ndarray) and worN.ndim == 0 and worN.dtype.kind in "iu":
        worN = int(worN)  # a 0-d integer array is a count, as in scipy.signal.freqz
    if isinstance(worN, bool) or (np.ndim(worN) == 0 and not isinstance(worN, (int, np.integer))):
        raise ValueError(
            f"worN must be an integer count >= 1 or a 1D array of frequencies, got {worN!r}"
        )
    if isinstance(worN, (int, np.integer)):  # bool was refused above
        n_freq = check_int("worN", worN, minimum=1)
        period = n_freq if whole else 2 * n_freq
        f = np.arange(n_freq) * (fs / period)
        # Sampling the DTFT on a grid of `period` points equals the FFT of h folded modulo
        # `period` (time aliasing), which also covers filters longer than the grid.
        folded = np.bincount(np.arange(h.size) % period, weights=h, minlength=period)
        return f, np.fft.fft(folded)[:n_freq]
    f = as_finite_array("worN", worN, ndim=1)
    return f, dtft(h, f, fs)


def dtft2(
    h: np.ndarray, fx: np.ndarray, fy: np.ndarray, fs: float = 2.0, centered: bool = True
) -> np.ndarray:
    """Exact 2D DTFT of taps ``h[iy, ix]`` at arbitrary points ``(fx, fy)``, by direct sum.

    ``H(fx, fy) = sum_{iy, ix} h[iy, ix] exp(-2 pi i (fx (ix - cx) + fy (iy - cy)) / fs)``,
    with ``c = (numtaps - 1) / 2`` (zero-phase, default) or ``c = 0`` (causal). A 1D ``h`` is
    the separable filter ``outer(h, h)``.

    Parameters
    ----------
    h : array_like
        1D (separable) or 2D taps, axis 0 = y, axis 1 = x.
    fx, fy : array_like
        Frequencies in the units of ``fs``, broadcast together.
    fs : float
        Sampling rate (same on both axes), positive.
    centered : bool
        Time origin at the filter centre (zero-phase).

    Returns
    -------
    numpy.ndarray
        Complex response, shape ``broadcast(fx, fy).shape``.
    """
    h = as_finite_array("h", h, ndim=(1, 2))
    fx = as_finite_array("fx", fx, allow_empty=True)
    fy = as_finite_array("fy", fy, allow_empty=True)
    fs = _check_fs(fs)
    try:
        fx, fy = np.broadcast_arrays(fx, fy)
    except ValueError as exc:
        raise ValueError(f"fx and fy must broadcast, got {fx.shape} and {fy.shape}") from exc
    if h.ndim == 1:
        # Each distinct frequency once: a 0 degree ray has fy = 0 throughout and a 45 degree
        # ray fx = fy, so this halves the direct sums that dominate for long filters.
        both = np.concatenate((fx.reshape(-1), fy.reshape(-1)))
        uniq, inv = np.unique(both, return_inverse=True)
        H = dtft(h, uniq, fs, centered)[inv.reshape(-1)]
        return (H[: fx.size] * H[fx.size :]).reshape(fx.shape)
    ny, nx = h.shape
    n_x = np.arange(nx, dtype=np.float64) - ((nx - 1) / 2 if centered else 0.0)
    n_y = np.arange(ny, dtype=np.float64) - ((ny - 1) / 2 if centered else 0.0)
    px, py = fx.reshape(-1), fy.reshape(-1)
    out = np.empty(px.size, dtype=np.complex128)
    step = _chunk(max(nx, ny))  # bounds the (K, ny) and (K, nx) matrices
    for start in range(0, px.size, step):
        sl = slice(start, start + step)
        rows = _phase_matrix(py[sl], n_y, fs) @ h  # (K, nx): sum over iy first
        out[sl] = np.sum(rows * _phase_matrix(px[sl], n_x, fs), axis=1)
    return out.reshape(fx.shape)


def _shape2(shape: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        n = check_int("shape", shape, minimum=1)
        return n, n
    try:
        items = tuple(shape)  # type: ignore[arg-type]
    except TypeError as exc:
        raise ValueError(f"shape must be an int or (ny, nx), got {shape!r}") from exc
    if len(items) != 2:
        raise ValueError(f"shape must be an int or (ny, nx), got {shape!r}")
    return check_int("shape[0]", items[0], minimum=1), check_int("shape[1]", items[1], minimum=1)


def _centred_grid(n: int, fs: float) -> np.ndarray:
    return (np.arange(n) - n // 2) * (fs / n)


def freqz2(
    h: np.ndarray, shape: int | tuple[int, int] = (256, 256), fs: float = 2.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """2D frequency response on a centred grid (like MATLAB ``freqz2``, in units of ``fs``).

    The default ``fs = 2`` (Nyquist at 1) follows ``scipy.signal``; ``dsp.spectrum`` and
    ``dsp.aliasing`` work in cycles/sample (``fs = 1``): pass ``fs=1`` to overlay this on a
    feature map's spectrum. The axes come back x first (MATLAB's order), unlike
    ``power_spectrum``'s ``(fy, fx, P)``.

    The grid along each axis is ``f_k = (k - n // 2) * fs / n`` for ``k = 0..n-1``: from
    ``-fs / 2`` (included for even ``n``) to just below ``fs / 2``, with ``f = 0`` at index
    ``n // 2``. It is a full period, so ``mean(|H|^2) == sum(h^2)`` (Parseval) whenever
    ``n >= numtaps``. The response is zero-phase (see :func:`dtft2`): real up to rounding for a
    symmetric filter. Computed exactly as ``Ey @ h @ Ex.T`` (no FFT, so any ``shape`` works).

    Parameters
    ----------
    h : array_like
        1D taps (separable filter ``outer(h, h)``) or 2D taps ``h[iy, ix]``.
    shape : int or (ny, nx)
        Number of frequencies along y and x.
    fs : float
        Sampling rate, positive.

    Returns
    -------
    fx : numpy.ndarray
        ``(nx,)`` frequencies along x.
    fy : numpy.ndarray
        ``(ny,)`` frequencies along y.
    H : numpy.ndarray
        ``(ny, nx)`` complex response, ``H[iy, ix] = H(fx[ix], fy[iy])``.
    """
    h = as_finite_array("h", h, ndim=(1, 2))
    ny, nx = _shape2(shape)
    fs = _check_fs(fs)
    fx, fy = _centred_grid(nx, fs), _centred_grid(ny, fs)
    if h.ndim == 1:
        # outer(h, h) itself would need numtaps² values (80 GB for 10^5 taps); its response
        # is the outer product of the 1D responses.
        return fx, fy, np.outer(dtft(h, fy, fs, True), dtft(h, fx, fs, True))
    n_y = np.arange(h.shape[0]) - (h.shape[0] - 1) / 2
    n_x = np.arange(h.shape[1]) - (h.shape[1] - 1) / 2
    H = _phase_matrix(fy, n_y, fs) @ h @ _phase_matrix(fx, n_x, fs).T
    return fx, fy, H


def _polar_magnitude(
    h: np.ndarray, radii: np.ndarray, n_angles: int, fs: float
) -> tuple[np.ndarray, np.ndarray]:
    """``|H|`` on a polar grid ``(len(radii), n_angles)``, angles uniform on ``[0, pi)``.

    Half a turn suffices: real taps give ``|H(-f)| = |H(f)|``.
    """
    angles = np.arange(n_angles) * (np.pi / n_angles)
    fx = radii[:, None] * np.cos(angles)[None, :]
    fy = radii[:, None] * np.sin(angles)[None, :]
    return angles, np.abs(dtft2(h, fx, fy, fs))


@dataclass(frozen=True)
class RadialProfile:
    """``|H|`` statistics over angle at each radius (see :func:`radial_profile`).

    Attributes
    ----------
    radius : numpy.ndarray
        Radial frequencies (units of ``fs``).
    mean, min, max : numpy.ndarray
        Mean, minimum and maximum of ``|H|`` (linear) over the angles at each radius.
    """

    radius: np.ndarray
    mean: np.ndarray
    min: np.ndarray
    max: np.ndarray


def radial_profile(
    h: np.ndarray,
    fs: float = 2.0,
    nbins: int = 129,
    n_angles: int = 90,
    r_max: float | None = None,
) -> RadialProfile:
    """Magnitude response averaged over angle versus radial frequency, with min and max.

    ``|H(r cos t, r sin t)|`` is evaluated exactly (direct DTFT, :func:`dtft2`) on ``nbins``
    radii ``linspace(0, r_max, nbins)`` and ``n_angles`` angles uniform on ``[0, pi)``; the
    other half turn mirrors it for real taps.

    Parameters
    ----------
    h : array_like
        Taps, 1D (separable ``outer(h, h)``) or 2D.
    fs : float
        Sampling rate, positive.
    nbins : int
        Number of radii, at least 2.
    n_angles : int
        Number of angles, at least 1.
    r_max : float, optional
        Largest radius (units of ``fs``), positive; default ``fs / 2`` (the inscribed disc).
    """
    fs = _check_fs(fs)
    nbins = check_int("nbins", nbins, minimum=2)
    n_angles = check_int("n_angles", n_angles, minimum=1)
    r_max = fs / 2 if r_max is None else check_real("r_max", r_max, low=0.0, low_inclusive=False)
    radius = np.linspace(0.0, r_max, nbins)
    _, mag = _polar_magnitude(h, radius, n_angles, fs)
    return RadialProfile(radius, mag.mean(axis=1), mag.min(axis=1), mag.max(axis=1))


def angular_deviation(
    h: np.ndarray,
    fs: float = 2.0,
    radii: np.ndarray | None = None,
    n_angles: int = 180,
    db: bool = False,
    floor_db: float = -200.0,
) -> tuple[np.ndarray, np.ndarray]:
    """How far a 2D response is from radially symmetric: spread of ``|H|`` over angle.

    For each radius ``r``: ``max_t |H(r, t)| - min_t |H(r, t)|`` (linear magnitude, default), or
    with ``db=True`` the same spread of ``20 log10 |H|`` in dB, magnitudes clipped below at
    ``floor_db`` so that exact zeros stay finite. Angles: ``n_angles`` uniform on ``[0, pi)``;
    evaluation is exact (direct DTFT).

    Parameters
    ----------
    h : array_like
        1D (separable) or 2D taps.
    fs : float
        Sampling rate, positive.
    radii : array_like, optional
        Radial frequencies (units of ``fs``); default 65 radii ``linspace(0, fs / 2, 65)``.
    n_angles : int
        Number of angles, at least 2.
    db : bool
        Return the spread in dB instead of linear magnitude.
    floor_db : float
        Clip level for ``db=True``.

    Returns
    -------
    radii : numpy.ndarray
    deviation : numpy.ndarray
        Same length as ``radii``; 0 means exactly radially symmetric at that radius.
    """
    fs = _check_fs(fs)
    n_angles = check_int("n_angles", n_angles, minimum=2)
    if radii is None:
        radii = np.linspace(0.0, fs / 2, 65)
    radii = as_finite_array("radii", radii, ndim=1)
    _, mag = _polar_magnitude(h, radii, n_angles, fs)
    if db:
        floor = check_real("floor_db", floor_db)
        level = 20.0 * np.log10(np.maximum(mag, 10.0 ** (floor / 20.0)))
        return radii, level.max(axis=1) - level.min(axis=1)
    return radii, mag.max(axis=1) - mag.min(axis=1)


@dataclass(frozen=True)
class FiguresOfMerit:
    """Figures of merit of a low-pass filter (see :func:`figures_of_merit`).

    Gains are relative to the DC gain ``|H(0)|``. Frequencies are in the units of ``fs``.
    A figure that does not exist (no stopband below Nyquist, no -3 dB crossing, a passband
    that is DC alone, ...) is NaN; :meth:`to_dict` turns NaN into ``None`` so the dictionary
    is valid JSON.

    Attributes
    ----------
    dc_gain : float
        ``H(0) = sum(h)``.
    passband_ripple_db : float
        ``max |20 log10(|H| / |H(0)|)|`` over ``[0, passband_edge]`` (dB, >= 0). NaN when
        ``passband_edge`` is 0: the band is DC alone, where the gain is 1 by definition, and
        0 dB would claim a flatness nobody measured. Below ``20 log10(1 + floor)`` dB (floor
        the gain of ``numerical_floor_db``, about 4e-12 dB for 2·10⁵ taps) it is rounding
        noise: the passband is flat to float64 precision.
    stopband_attenuation_db : float
        ``-20 log10(max |H| / |H(0)|)`` over ``[stopband_edge, fs / 2]`` (positive dB). For a
        2D filter, along the slice from the *radial* edge ``|f| = stopband_edge``: the spec of
        a radially symmetric filter. A separable filter ``outer(h, h)`` has its edges on the
        square ``max(|f_x|, |f_y|) = stopband`` instead, so off the axes this figure includes
        part of its transition band (``stopband_attenuation_square_db`` is its own figure).
        At the numerical floor (``stopband_at_floor``) it is ``numerical_floor_db``, a lower
        bound.
    f_6db, f_3db : float
        First frequency where the gain falls to -6.0206 dB (one half) and to -3.0103 dB
        (``1/sqrt(2)``).
    transition_band : float
        The measured transition band, in Kaiser's sense (ripple ``delta`` in both bands): with
        ``delta = 10^(-stopband_attenuation_db / 20)``, from the last frequency below ``f_6db``
        where the gain is still ``>= 1 - delta`` to the first frequency where it falls to
        ``delta``. For a Kaiser design it is close to the designed ``width``. NaN when the
        attenuation is at most 6.02 dB (``delta >= 1/2``: the two levels cross over) and when
        the stopband is at the numerical floor (``delta`` is not resolved there).
    passband_edge, stopband_edge : float
        The edges used for ripple and attenuation (for a 2D filter, radii along the slice).
    angle_deg : float or None
        Direction of the slice for a 2D filter (degrees from the x axis); None for 1D.
    stopband_at_floor : bool
        The measured stopband peak is at or below the numerical floor: float64 rounding, not
        the design, sets it, and ``stopband_attenuation_db`` holds ``numerical_floor_db``.
    stopband_edge_square : float
        2D only (NaN for 1D taps unless ``separable``): where the slice leaves the square
        ``max(|f_x|, |f_y|) < stopband``, the stopband of a separable filter (REFERENCE §7):
        ``stopband / max(|cos a|, |sin a|)`` for the slice angle ``a``; equal to
        ``stopband_edge`` at 0 degrees, ``sqrt(2) stopband_edge`` at 45 degrees.
    stopband_attenuation_square_db : float
        2D only (as above): ``-20 log10(max |H| / |H(0)|)`` along the slice over
        ``[stopband_edge_square, fs / 2]``. NaN for 1D taps (unless ``separable``) and when that
        edge is at or beyond ``fs / 2`` (the slice never reaches the square's stopband).
    stopband_square_at_floor : bool
        As ``stopband_at_floor``, for ``stopband_attenuation_square_db``.
    numerical_floor_db : float
        ``-20 log10(16 eps sqrt(N) max|h| / |H(0)|)``, ``N`` the number of taps and ``eps``
        float64's machine epsilon: an attenuation the measurement cannot resolve. Rounding
        leaves each tap off by about ``eps max|h|`` (a sinc argument of ``k`` turns carries
        ``k eps`` of absolute error; the Kaiser window's Bessel ratio ``beta eps`` relative),
        and ``N`` such errors add like a random walk to ``eps sqrt(N) max|h|`` at every
        frequency; the evaluation (FFT, direct sums with exactly reduced phases) adds less.
        Measured: a 200 001-tap design (Kaiser asks for 1444 dB) whose float64 taps have a
        true stopband peak (80-bit evaluation) of 3.1e-14 = 270 dB, against
        ``eps sqrt(N) max|h| = 2.9e-14``. The factor 16 keeps a peak reported above the
        floor within about 0.5 dB of the taps' true one.
    """

    dc_gain: float
    passband_ripple_db: float
    stopband_attenuation_db: float
    f_6db: float
    f_3db: float
    transition_band: float
    passband_edge: float
    stopband_edge: float
    angle_deg: float | None = None
    stopband_at_floor: bool = False
    stopband_edge_square: float = math.nan
    stopband_attenuation_square_db: float = math.nan
    stopband_square_at_floor: bool = False
    numerical_floor_db: float = math.nan

    def to_dict(self) -> dict[str, float | bool | None]:
        """Plain dict, NaN replaced by ``None`` (JSON-safe); the flags stay ``bool``."""
        out: dict[str, float | bool | None] = {}
        for key, value in asdict(self).items():
            if isinstance(value, (bool, np.bool_)):
                out[key] = bool(value)
            else:
                out[key] = None if value is None or math.isnan(value) else float(value)
        return out


def _scaled_grid_gain(h: np.ndarray, n: int, scale: float) -> np.ndarray:
    """``|H(scale · k fs / (2 (n − 1)))|`` for ``k = 0 … n − 1`` (``0 <= scale <= 1``): the 1D
    response along one axis of a ray's grid, scaled by that axis's direction cosine. ``scale``
    1: one real FFT (the grid is ``k fs / M``, ``M = 2 (n − 1)``); 0: ``|H(0)|``; otherwise
    Bluestein's chirp-z algorithm (``O((n + numtaps) log)``), the DTFT on a uniform grid of any
    spacing, with its chirps' phases reduced exactly (:func:`_chirp`): scipy's ``czt`` rounds
    the phases ``π x j²`` of its chirps, which for 20 001 taps put 1.7e-8 of noise (−155 dB) on
    the response, far above these taps' float64 floor (1.5e-13); here the error stays near
    the FFTs' roundoff (≤ 2.3e-14 measured up to 20 001 taps). Magnitudes only: the phase
    origin does not matter."""
    if scale == 1.0:
        return np.abs(sp_fft.rfft(h, n=2 * (n - 1)))
    if scale == 0.0:
        return np.full(n, abs(float(np.sum(h))))
    # H(f_k) = Σ_m h[m] e^{−2πi x k m}, x = scale / (2 (n − 1)), and k m = (k² + m² − (k − m)²)/2.
    y = scale / (4 * (n - 1))
    a = h * _chirp(y, np.arange(h.size))
    b = np.conj(_chirp(y, np.arange(-(h.size - 1), n)))
    size = sp_fft.next_fast_len(h.size + n - 1)
    conv = sp_fft.ifft(sp_fft.fft(a, size) * sp_fft.fft(b, size))
    return np.abs(conv[h.size - 1 : h.size - 1 + n])


def _chirp(y: float, j: np.ndarray) -> np.ndarray:
    """``exp(−2 pi i y j²)`` for integers ``j``, the phase ``y j²`` reduced modulo 1 exactly:
    ``y`` is split into parts of 15 significant bits (and a remainder), whose products with
    ``j²`` (an integer, exact in float64 below 2**53) are exact for ``|j| < 2**19``, so their
    whole turns drop out exactly; only the remainder's product rounds, by about eps turns."""
    jj = (j.astype(np.int64) ** 2).astype(np.float64)
    turns = np.zeros(jj.shape)
    rest = float(y)
    for _ in range(3):
        if rest == 0.0:
            break
        e = math.frexp(rest)[1]
        part = math.ldexp(round(math.ldexp(rest, 15 - e)), e - 15)
        rest -= part  # exact: the part holds rest's leading bits
        prod = part * jj
        turns += prod - np.rint(prod)
    turns += rest * jj
    return np.exp(-2j * np.pi * (turns - np.rint(turns)))


# The numerical floor's margin over float64's rounding level eps sqrt(N) max|h| (see
# FiguresOfMerit.numerical_floor_db): a peak above it is at least 16 times the rounding noise,
# so within 20 log10(1 + 1/16) = 0.53 dB of the taps' true peak.
_FLOOR_MARGIN = 16.0


def _first_crossing(
    gain: Callable[[np.ndarray], np.ndarray], f: np.ndarray, g: np.ndarray, level: float
) -> float:
    """First ``f`` where the sampled gain ``g`` falls to ``level``, refined by Brent's method."""
    below = np.nonzero(g <= level)[0]
    if below.size == 0:
        return math.nan
    i = int(below[0])
    if i == 0 or g[i] == level:
        return float(f[i])

    def fun(x: float) -> float:
        return float(gain(np.array([x]))[0]) - level

    # A point evaluation can round to the other side of ``level`` than the grid's vectorised
    # one (both are within ~1e-16 of it there): the crossing is then that end of the bracket.
    if fun(f[i]) > 0:
        return float(f[i])
    if fun(f[i - 1]) <= 0:
        return float(f[i - 1])
    return float(optimize.brentq(fun, f[i - 1], f[i], xtol=1e-14 * max(f[i], 1.0)))


def _last_crossing_before(
    gain: Callable[[np.ndarray], np.ndarray],
    f: np.ndarray,
    g: np.ndarray,
    level: float,
    f_end: float,
) -> float:
    """Last ``f < f_end`` where the sampled gain is still ``>= level``, refined to the crossing."""
    above = np.nonzero((g >= level) & (f < f_end))[0]
    if above.size == 0:
        return 0.0  # the gain is below ``level`` from DC on: the passband is empty
    i = int(above[-1])
    if i + 1 >= f.size or g[i] == level:
        return float(f[i])

    def fun(x: float) -> float:
        return float(gain(np.array([x]))[0]) - level

    # As in _first_crossing: rounding can put a point evaluation on the other side of level.
    if fun(f[i]) < 0:
        return float(f[i])
    if fun(f[i + 1]) >= 0:
        return float(f[i + 1])
    return float(optimize.brentq(fun, f[i], f[i + 1], xtol=1e-14 * max(f[i + 1], 1.0)))


def _refined_max(gain: Callable[[np.ndarray], np.ndarray], f: np.ndarray, g: np.ndarray) -> float:
    """Maximum of a smooth gain sampled as ``g`` on ``f``.

    Every sampled local maximum within 3 dB of the largest is refined between its grid
    neighbours, since the grid may catch the tallest lobe off its peak.
    """
    interior = (g[1:-1] >= g[:-2]) & (g[1:-1] >= g[2:])
    peaks = np.concatenate(([0], np.nonzero(interior)[0] + 1, [g.size - 1]))
    peaks = peaks[g[peaks] >= g.max() / math.sqrt(2.0)]
    best = float(g.max())
    for i in peaks[np.argsort(g[peaks])[::-1][:16]]:
        lo, hi = f[max(i - 1, 0)], f[min(i + 1, f.size - 1)]
        if hi <= lo:
            continue
        res = optimize.minimize_scalar(
            lambda x: -float(gain(np.array([x]))[0]),
            bounds=(lo, hi),
            method="bounded",
            options={"xatol": 1e-12 * max(hi, 1.0)},
        )
        best = max(best, -float(res.fun))
    return best


def figures_of_merit(
    h: np.ndarray,
    cutoff: float,
    *,
    width: float | None = None,
    stopband: float | None = None,
    fs: float = 2.0,
    passband: float | None = None,
    angle_deg: float = 0.0,
    n_freqs: int = 4096,
    separable: bool = False,
) -> FiguresOfMerit:
    """Measure a low-pass filter: ripple, attenuation, -6/-3 dB points, transition band.

    The gain ``|H(f)| / |H(0)|`` is sampled (exact DTFT) on ``n_freqs`` points of
    ``[0, fs / 2]``; crossings are refined by root finding, and the stopband maximum and the
    largest passband deviation (band edges included) by bounded maximisation on the exact
    response. For a 2D filter (or, to measure a 1D filter as the separable ``outer(h, h)``,
    ``separable=True`` or the 2D array) the response is taken along the ray at
    ``angle_deg`` from the x axis, ``f`` being the radial frequency (still up to ``fs / 2``);
    the 0 and 45 degree slices bracket a separable filter's anisotropy.

    The design edges: the stopband starts at ``stopband`` or ``cutoff + width / 2``; the
    passband ends at ``passband`` or, by default, at the mirror image ``2 cutoff - stopband``
    (only DC when that is not positive, e.g. for the generator's wide transition bands: the
    ripple is then NaN). For a 2D filter both edges are radii along the slice (the circular
    spec of a radially symmetric design); the stopband is measured from the square edge
    ``max(|f_x|, |f_y|) = stopband`` of a separable design as well
    (``stopband_attenuation_square_db``).

    A stopband peak at or below the float64 rounding floor (``numerical_floor_db``) is
    reported as the floor, flagged ``stopband_at_floor``, with no transition band: a measured
    228.6 dB for a design Kaiser puts at 1444 dB was rounding noise.

    Parameters
    ----------
    h : array_like
        1D or 2D taps.
    cutoff : float
        Design cutoff (the ideal filter's edge; see ``dsp.filters`` for when it is the -6 dB
        point), units of ``fs``, in ``(0, fs / 2]``.
    width, stopband : float
        Exactly one: the full transition width (positive) or the stopband edge (> cutoff).
    fs : float
        Sampling rate, positive.
    passband : float, optional
        Passband edge for the ripple, in ``[0, cutoff]``.
    angle_deg : float
        Slice direction for a 2D filter, degrees (ignored for 1D taps unless ``separable``).
    separable : bool
        With 1D taps ``h``: measure the 2D filter ``outer(h, h)`` along the slice without
        forming it, from ``H(r cos a, r sin a) = H_1(r cos a) H_1(r sin a)``: the same figures
        as passing ``np.outer(h, h)`` (to rounding), at the cost of the 1D filter (FFTs and
        chirp-z transforms, ``O(M log M)``) instead of ``O(M numtaps²)`` direct 2D sums. The
        numerical floor is then that of the two 1D passes (twice the 1D filter's), as when the
        filter is applied separably, not that of a formed 2D array (whose rounding noise grows
        with its ``numtaps²`` taps).
    n_freqs : int
        Number of dense samples, at least 16 (raised to ``8 * numtaps + 1`` for long filters, so
        that every sidelobe gets about 16 samples).

    Returns
    -------
    FiguresOfMerit
        If the stopband starts at or beyond ``fs / 2``, ``stopband_attenuation_db`` and
        ``transition_band`` are NaN.
    """
    h = as_finite_array("h", h, ndim=(1, 2))
    fs = _check_fs(fs)
    cutoff = check_cutoff("cutoff", cutoff, fs, nyquist_inclusive=True)
    if (width is None) == (stopband is None):
        raise ValueError("give exactly one of width and stopband")
    if width is not None:
        stopband = cutoff + check_real("width", width, low=0.0, low_inclusive=False) / 2
    else:
        stopband = check_real("stopband", stopband, low=cutoff, low_inclusive=False)
    if passband is None:
        passband = max(2 * cutoff - stopband, 0.0)
    else:
        passband = check_real("passband", passband, low=0.0, high=cutoff)
    angle = check_real("angle_deg", angle_deg)
    n_freqs = check_int("n_freqs", n_freqs, minimum=16)
    # At least ~16 samples per sidelobe: lobes are about fs / L wide, L the taps' extent along
    # the measured direction (numtaps for 1D taps; off the axes of a 2D filter up to √2 more).
    if h.ndim == 2 or separable:
        ny, nx = (h.size, h.size) if separable else h.shape
        ca, sa = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
        extent = math.ceil((nx - 1) * ca + (ny - 1) * sa + 1 - 1e-9)
    else:
        extent = h.size
    n_freqs = max(n_freqs, 8 * extent + 1)

    if separable and h.ndim != 1:
        raise ValueError(
            f"separable=True needs 1D taps h (the 2D filter is outer(h, h)), got {h.ndim}D"
        )
    two_d = h.ndim == 2 or separable
    dc = float(np.sum(h))
    # Size and largest tap of the 2D array measured (outer(h, h) when separable): the floor.
    size, peak_tap = h.size, float(np.max(np.abs(h)))
    if separable:
        c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))

        def response(f: np.ndarray) -> np.ndarray:
            return dtft(h, f * c, fs) * dtft(h, f * s, fs)

        angle_out: float | None = angle
    elif h.ndim == 1:

        def response(f: np.ndarray) -> np.ndarray:
            return dtft(h, f, fs)

        angle_out = None
    else:
        c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))

        def response(f: np.ndarray) -> np.ndarray:
            return dtft2(h, f * c, f * s, fs)

        angle_out = angle
    if dc == 0:
        raise ValueError("h has zero DC gain; figures relative to DC are undefined")
    floor_gain = _FLOOR_MARGIN * np.finfo(np.float64).eps * math.sqrt(size)
    floor_gain *= peak_tap / abs(dc)
    if separable:
        # |H1(a) H1(b)| with |H1| <= about 1 carries at most the two factors' rounding noise.
        floor_gain *= 2.0
        dc *= dc
    floor_db = -20.0 * math.log10(floor_gain)

    def gain(f: np.ndarray) -> np.ndarray:
        return np.abs(response(f)) / abs(dc)

    f = np.linspace(0.0, fs / 2, n_freqs)
    if separable:
        g = _scaled_grid_gain(h, n_freqs, abs(c)) * _scaled_grid_gain(h, n_freqs, abs(s))
        g /= abs(dc)
    elif h.ndim == 1:
        # The grid is k·fs/M with M = 2 (n_freqs − 1) >= numtaps, where one real FFT of the
        # zero-padded taps is the exact DTFT: O(M log M) instead of the direct O(M · numtaps),
        # which took minutes for 10⁴-tap filters.
        g = np.abs(sp_fft.rfft(h, n=2 * (n_freqs - 1))) / abs(dc)
    else:
        g = gain(f)

    def deviation_db(x: np.ndarray) -> np.ndarray:
        return np.abs(20.0 * np.log10(np.maximum(x, 1e-300)))

    if passband > 0:
        # The closed band [0, passband]: the edge itself is evaluated (a Kaiser design's
        # largest deviation is often right there) and the grid's peaks are refined, as in
        # the stopband.
        in_pass = f < passband
        fp_band = np.concatenate((f[in_pass], [passband]))
        gp = np.concatenate((g[in_pass], gain(fp_band[-1:])))
        if np.max(np.abs(gp - 1.0)) < floor_gain / 2:
            # Rounding noise (16 samples per lobe catch a lobe's peak to 2 %): refining its
            # many equal peaks took seconds for 2·10⁵ taps and could not change the verdict.
            ripple = float(np.max(deviation_db(gp)))
        else:
            ripple = _refined_max(lambda x: deviation_db(gain(x)), fp_band, deviation_db(gp))
    else:
        # DC alone, where the gain is 1 by normalisation: nothing was measured.
        ripple = math.nan

    def attenuation(edge: float) -> tuple[float, bool]:
        """Attenuation over ``[edge, fs / 2]`` (NaN if empty) and whether it is at the floor."""
        in_stop = f >= edge
        if not (edge < fs / 2 and np.count_nonzero(in_stop) >= 1):
            return math.nan, False
        fs_band = np.concatenate(([edge], f[in_stop]))
        g_band = np.concatenate((gain(fs_band[:1]), g[in_stop]))
        if np.max(g_band) < floor_gain / 2:
            return floor_db, True  # no refinement of noise (as for the ripple above)
        peak = _refined_max(gain, fs_band, g_band)
        if peak <= floor_gain:
            return floor_db, True
        # 0.0 - x, not -x: a flat response (peak 1) gives 0 dB, not -0.
        return 0.0 - 20.0 * math.log10(peak), False

    atten, at_floor = attenuation(stopband)
    if two_d:
        # The ray leaves the square max(|f_x|, |f_y|) < stopband where its larger component
        # reaches the edge.
        edge_sq = stopband / max(abs(c), abs(s))
        atten_sq, sq_at_floor = attenuation(edge_sq)
    else:
        edge_sq, atten_sq, sq_at_floor = math.nan, math.nan, False

    f6 = _first_crossing(gain, f, g, 0.5)
    f3 = _first_crossing(gain, f, g, 1.0 / math.sqrt(2.0))
    if math.isnan(atten) or math.isnan(f6) or atten <= 20.0 * math.log10(2.0) or at_floor:
        # At most 6.02 dB, delta >= 1/2: the pass level 1 - delta is at or under the stop level
        # delta and the band is undefined (it came out negative). At the floor, delta is not
        # resolved: the crossings found were those of rounding noise (0.000528 measured for a
        # designed 0.001).
        transition = math.nan
    else:
        delta = 10.0 ** (-atten / 20.0)
        f_stop = _first_crossing(gain, f, g, delta * (1 + 1e-12))
        f_pass = _last_crossing_before(gain, f, g, 1.0 - delta, f6)
        transition = f_stop - f_pass
    return FiguresOfMerit(
        dc_gain=dc,
        passband_ripple_db=float(ripple),
        stopband_attenuation_db=float(atten),
        f_6db=f6,
        f_3db=f3,
        transition_band=float(transition),
        passband_edge=float(passband),
        stopband_edge=float(stopband),
        angle_deg=angle_out,
        stopband_at_floor=at_floor,
        stopband_edge_square=float(edge_sq),
        stopband_attenuation_square_db=float(atten_sq),
        stopband_square_at_floor=sq_at_floor,
        numerical_floor_db=floor_db,
    )
