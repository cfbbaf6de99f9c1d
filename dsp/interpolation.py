"""Ideal (Whittaker–Shannon) interpolation, shifts, resampling and rotation. See REFERENCE §1.

Conventions
-----------
A 1D sample array ``Z`` of length ``N`` holds ``Z[n] = z(start + n / rate)``: ``rate`` is in
samples per unit length and ``start`` is the position of sample 0. Inside the numerical kernels
positions are measured in samples, ``t = rate * (x - start)``.

- *Finite* (cardinal sinc) reconstruction: ``z(x) = sum_{n=0}^{N-1} Z[n] sinc(t - n)`` with
  ``sinc(u) = sin(pi u) / (pi u)``. It is exact for a signal band-limited below ``rate / 2``
  only when all its non-zero samples are in ``Z``; otherwise the missing samples cause an error
  that decays like ``1 / distance`` away from the ends.
- *Periodic* reconstruction treats ``Z`` as one period (period ``N / rate``) and uses the
  Dirichlet (periodic sinc) kernel. It is exact for every periodic signal whose Fourier series
  has only the harmonics ``|k| < N / 2`` (``|f| < rate / 2``), plus, for even ``N``, a cosine at
  exactly the Nyquist frequency (see *Nyquist convention*).
- 2D arrays are indexed ``[..., row, column] = [..., y, x]``.

Nyquist convention (even ``N``)
-------------------------------
The DFT bin ``k = N/2`` is shared by ``+rate/2`` and ``-rate/2``. Every periodic operation here
splits it evenly between the two, so the interpolant is real for real samples:
``z(t) = (1/N) [sum_{|k| < N/2} X[k] e^{2 pi i k t / N} + X[N/2] cos(pi t)]``. The matching kernel
is ``D_N(u) = sin(pi u) / (N tan(pi u / N))`` (``sin(pi u) / (N sin(pi u / N))`` for odd ``N``).
A Nyquist-frequency cosine ``cos(pi n)`` therefore interpolates to ``cos(pi t)``, and a shift by
``a`` samples multiplies the Nyquist bin by ``cos(pi a)`` (not by ``e^{-i pi a}``): the sine part
of a Nyquist component is invisible in the samples and stays zero. Resampling to an even number
``M`` of samples (:func:`fourier_resample`, :func:`resample_rational`) does the inverse: the input
bins at ``+-M/2`` are both kept and summed onto the single output Nyquist bin.

Rotation convention: a positive angle turns the content counter-clockwise as displayed, row 0 at
the top, like ``np.rot90`` (the project's one convention, see :func:`rotate_bandlimited`).
"""

from __future__ import annotations

import math

import numba
import numpy as np
import scipy.fft
from numba import prange
from scipy import special

from dsp._checks import as_finite_array, check_factor, check_int, check_real
from dsp.sampling import _check_pair

__all__ = [
    "sinc_interpolate",
    "periodic_interpolate",
    "sinc_interpolate_2d",
    "jinc_interpolate_2d",
    "periodic_interpolate_2d",
    "fractional_shift",
    "lanczos_weights",
    "lanczos_shift",
    "lanczos_margin",
    "LANCZOS_A",
    "fourier_resample",
    "resample_rational",
    "rotate_bandlimited",
]

# Points handled by one parallel task in the weight-then-contract kernels: large enough to
# amortise the scratch allocation, small enough to balance two to sixteen threads.
_CHUNK = 32
# Elements of the (points x samples) jinc kernel matrix built at once.
_JINC_BLOCK = 1 << 21
# Entries of the (bins x outputs) exponential matrix of resample_rational's direct sum (16 MB).
_DIRECT_BLOCK = 1 << 20


# Offsets from a sample point below this are treated as exactly on it: the kernels run with
# fastmath, which flushes subnormals to zero, and sin(pi r) / (t - j) would then give 0 / 0.
_TINY_OFFSET = 1e-150

# --------------------------------------------------------------------------------------------
# numba kernels (private; the public functions validate every argument)
# --------------------------------------------------------------------------------------------


@numba.njit(cache=True, parallel=True, fastmath=True)
def _sinc_sum(z, z_alt, t, out):  # pragma: no cover - compiled
    # sinc(t - n) = sin(pi t) (-1)^n / (pi (t - n)). With t = k + r (k the nearest integer)
    # sin(pi t) = (-1)^k sin(pi r): the sine is hoisted out of the sum and evaluated on the
    # exactly reduced argument r, so it stays accurate for large t.
    n = z.shape[0]
    for p in prange(t.shape[0]):
        tp = t[p]
        k = np.floor(tp + 0.5)
        r = tp - k
        if abs(r) < _TINY_OFFSET:
            if k >= 0.0 and k < n:
                out[p] = z[int(k)]
            else:
                out[p] = 0.0
            continue
        acc = 0.0
        for j in range(n):
            acc += z_alt[j] / (tp - j)
        s = math.sin(math.pi * r) / math.pi
        if k - 2.0 * np.floor(0.5 * k) != 0.0:
            s = -s
        out[p] = s * acc


@numba.njit(cache=True, fastmath=True)
def _sinc_weights(t, alt, w):  # pragma: no cover - compiled
    # w[j] = sinc(t - j), j = 0..n-1, with the same hoisting as _sinc_sum.
    n = w.shape[0]
    k = np.floor(t + 0.5)
    r = t - k
    if abs(r) < _TINY_OFFSET:
        for j in range(n):
            w[j] = 0.0
        if k >= 0.0 and k < n:
            w[int(k)] = 1.0
        return
    s = math.sin(math.pi * r) / math.pi
    if k - 2.0 * np.floor(0.5 * k) != 0.0:
        s = -s
    for j in range(n):
        w[j] = s * alt[j] / (t - j)


@numba.njit(cache=True, fastmath=True)
def _dirichlet_weights(t, sin_tab, cos_tab, sign_tab, w):  # pragma: no cover - compiled
    # w[j] = D_N(t - j). Reduce t to [0, N), write t = k + r (|r| <= 1/2) and m = (k - j) mod N:
    # D_N = (-1)^m sin(pi r) / (N sin(phi_m))            (odd N)
    #     = (-1)^m sin(pi r) cos(phi_m) / (N sin(phi_m)) (even N),  phi_m = pi (m + r) / N,
    # with sin/cos(phi_m) from the tables of pi m / N and one sine/cosine of pi r / N. The only
    # small denominator (m = 0) is sin(pi r / N) itself, so no cancellation.
    n = w.shape[0]
    tt = t - n * np.floor(t / n)
    k = np.floor(tt + 0.5)
    r = tt - k
    ki = int(k)
    if ki >= n:
        ki -= n
    if abs(r) < _TINY_OFFSET:
        for j in range(n):
            w[j] = 0.0
        w[ki] = 1.0
        return
    sr = math.sin(math.pi * r / n)
    cr = math.cos(math.pi * r / n)
    s = math.sin(math.pi * r) / n
    even = n % 2 == 0
    for m in range(n):
        j = ki - m
        if j < 0:
            j += n
        sphi = sin_tab[m] * cr + cos_tab[m] * sr
        if even:
            w[j] = s * sign_tab[m] * (cos_tab[m] * cr - sin_tab[m] * sr) / sphi
        else:
            w[j] = s * sign_tab[m] / sphi


@numba.njit(cache=True, parallel=True, fastmath=True)
def _periodic_sum(z2, t, sin_tab, cos_tab, sign_tab, out):  # pragma: no cover - compiled
    # The weights of _dirichlet_weights fused with the sum. z2 = [rev, rev] with
    # rev[i] = z[-i mod N], so z[(k - m) mod N] = z2[m + N - k]: one contiguous, branch-free
    # loop over m for every point.
    n = sin_tab.shape[0]
    even = n % 2 == 0
    for p in prange(t.shape[0]):
        tt = t[p] - n * np.floor(t[p] / n)
        k = np.floor(tt + 0.5)
        r = tt - k
        ki = int(k)
        if ki >= n:
            ki -= n
        if abs(r) < _TINY_OFFSET:
            out[p] = z2[n - ki]
            continue
        sr = math.sin(math.pi * r / n)
        cr = math.cos(math.pi * r / n)
        off = n - ki
        acc = 0.0
        if even:
            for m in range(n):
                sphi = sin_tab[m] * cr + cos_tab[m] * sr
                cphi = cos_tab[m] * cr - sin_tab[m] * sr
                acc += sign_tab[m] * z2[m + off] * cphi / sphi
        else:
            for m in range(n):
                acc += sign_tab[m] * z2[m + off] / (sin_tab[m] * cr + cos_tab[m] * sr)
        out[p] = math.sin(math.pi * r) / n * acc


@numba.njit(cache=True, parallel=True, fastmath=True)
def _separable_sum(z, tx, ty, periodic, tabs_x, tabs_y, out):  # pragma: no cover - compiled
    # out[b, p] = sum_i wy_p[i] sum_j z[b, i, j] wx_p[j], weights from the sinc or Dirichlet
    # kernel; rows with a zero weight (a point exactly on a sample row) are skipped.
    nb, h, wd = z.shape
    npts = tx.shape[0]
    nchunk = (npts + _CHUNK - 1) // _CHUNK
    for c in prange(nchunk):
        wx = np.empty(wd)
        wy = np.empty(h)
        for p in range(c * _CHUNK, min(npts, (c + 1) * _CHUNK)):
            if periodic:
                _dirichlet_weights(tx[p], tabs_x[0], tabs_x[1], tabs_x[2], wx)
                _dirichlet_weights(ty[p], tabs_y[0], tabs_y[1], tabs_y[2], wy)
            else:
                _sinc_weights(tx[p], tabs_x[2], wx)
                _sinc_weights(ty[p], tabs_y[2], wy)
            for b in range(nb):
                acc = 0.0
                for i in range(h):
                    wyi = wy[i]
                    if wyi == 0.0:
                        continue
                    row = 0.0
                    for j in range(wd):
                        row += z[b, i, j] * wx[j]
                    acc += wyi * row
                out[b, p] = acc


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _signal(name: str, x: object, **kw) -> np.ndarray:
    """A finite real (float64) or complex (complex128) array."""
    if np.iscomplexobj(x):
        return as_finite_array(name, x, dtype=np.complex128, **kw)
    return as_finite_array(name, x, **kw)


def _per_part(fn, z: np.ndarray, *args) -> np.ndarray:
    """Apply a real linear operator to a possibly complex array, part by part."""
    if np.iscomplexobj(z):
        return fn(np.ascontiguousarray(z.real), *args) + 1j * fn(
            np.ascontiguousarray(z.imag), *args
        )
    return fn(z, *args)


def _check_axis(axis: object, ndim: int) -> int:
    a = check_int("axis", axis, minimum=-ndim, maximum=ndim - 1)
    return a % ndim


def _alternating(n: int) -> np.ndarray:
    return np.where(np.arange(n) % 2 == 0, 1.0, -1.0)


def _dirichlet_tables(n: int) -> np.ndarray:
    """Rows sin(pi m / N), cos(pi m / N), (-1)^m for m = 0..N-1, each to full accuracy."""
    m = np.arange(n, dtype=np.float64)
    # sin(pi m/N) = sin(pi min(m, N-m)/N) and cos(pi m/N) = sin(pi (N - 2m)/(2N)) avoid the
    # absolute rounding of a large argument near the zeros at m = N and m = N/2.
    sin_tab = np.sin(np.pi * np.minimum(m, n - m) / n)
    cos_tab = np.sin(np.pi * (n - 2.0 * m) / (2.0 * n))
    return np.ascontiguousarray(np.stack([sin_tab, cos_tab, _alternating(n)]))


def _sinc_tables(n: int) -> np.ndarray:
    tabs = np.zeros((3, n))
    tabs[2] = _alternating(n)
    return tabs


def _positions(name: str, x: object) -> np.ndarray:
    return as_finite_array(name, x, allow_empty=True)


def _points_2d(x: object, y: object) -> tuple[np.ndarray, np.ndarray]:
    xa = _positions("x", x)
    ya = _positions("y", y)
    try:
        xa, ya = np.broadcast_arrays(xa, ya)
    except ValueError as exc:
        raise ValueError(
            f"x and y must have broadcastable shapes, got {xa.shape} and {ya.shape}"
        ) from exc
    return xa, ya


# --------------------------------------------------------------------------------------------
# 1D
# --------------------------------------------------------------------------------------------


def sinc_interpolate(
    samples: np.ndarray, x: np.ndarray, rate: float = 1.0, start: float = 0.0
) -> np.ndarray:
    """Whittaker–Shannon reconstruction from finitely many samples. See REFERENCE §1.

    ``z(x) = sum_{n=0}^{N-1} Z[n] sinc(rate * (x - start) - n)``, ``sinc(u) = sin(pi u)/(pi u)``.
    The interpolant passes through every sample (``z(start + n / rate) = Z[n]`` exactly) and is
    band-limited below ``rate / 2``. For a signal band-limited below ``rate / 2`` it is exact up
    to the contribution of the samples outside ``Z`` (truncation error, largest near the ends).

    Parameters
    ----------
    samples : array_like, shape (N,)
        Real or complex samples ``Z[n] = z(start + n / rate)``.
    x : array_like
        Evaluation positions (any shape), in units of length.
    rate : float
        Sampling rate in samples per unit length, ``> 0``.
    start : float
        Position of sample 0, in units of length.

    Returns
    -------
    numpy.ndarray
        ``z(x)``, same shape as ``x``; float64 (complex128 for complex samples).

    Notes
    -----
    numba kernel, parallel over the points: the identity
    ``sinc(t - n) = (-1)^n sin(pi t) / (pi (t - n))`` leaves one division per sample and point.
    """
    z = _signal("samples", samples, ndim=1)
    xa = _positions("x", x)
    rate = check_real("rate", rate, low=0.0, low_inclusive=False)
    start = check_real("start", start)
    t = np.ascontiguousarray((rate * (xa - start)).ravel())

    def run(part: np.ndarray) -> np.ndarray:
        out = np.empty_like(t)
        _sinc_sum(part, part * _alternating(part.shape[0]), t, out)
        return out

    return _per_part(run, z).reshape(xa.shape)


def periodic_interpolate(
    samples: np.ndarray, x: np.ndarray, rate: float = 1.0, start: float = 0.0
) -> np.ndarray:
    """Periodic Whittaker–Shannon reconstruction with the Dirichlet kernel. See REFERENCE §1.

    ``z(x) = sum_{n=0}^{N-1} Z[n] D_N(rate * (x - start) - n)``, with period ``N / rate`` and
    ``D_N(u) = sin(pi u) / (N sin(pi u / N))`` for odd ``N``, ``sin(pi u) / (N tan(pi u / N))``
    for even ``N`` (Nyquist bin split evenly between ``+-rate/2``; see the module docstring).
    Equivalently, the Fourier series of the DFT of ``Z`` evaluated at ``x``. Exact for periodic
    signals with harmonics ``|f| < rate / 2`` (plus a Nyquist cosine for even ``N``).

    Parameters
    ----------
    samples : array_like, shape (N,)
        Real or complex samples of one period, ``Z[n] = z(start + n / rate)``.
    x : array_like
        Evaluation positions (any shape, any real value), in units of length.
    rate : float
        Samples per unit length, ``> 0``.
    start : float
        Position of sample 0.

    Returns
    -------
    numpy.ndarray
        ``z(x)``, same shape as ``x``.
    """
    z = _signal("samples", samples, ndim=1)
    xa = _positions("x", x)
    rate = check_real("rate", rate, low=0.0, low_inclusive=False)
    start = check_real("start", start)
    t = np.ascontiguousarray((rate * (xa - start)).ravel())
    tabs = _dirichlet_tables(z.shape[0])

    def run(part: np.ndarray) -> np.ndarray:
        out = np.empty_like(t)
        rev = np.roll(part[::-1], 1)  # rev[i] = part[-i mod N]
        _periodic_sum(np.concatenate([rev, rev]), t, tabs[0], tabs[1], tabs[2], out)
        return out

    return _per_part(run, z).reshape(xa.shape)


# --------------------------------------------------------------------------------------------
# 2D
# --------------------------------------------------------------------------------------------


def _separable(samples, x, y, rate, start, periodic: bool) -> np.ndarray:
    z = _signal("samples", samples, min_ndim=2)
    xa, ya = _points_2d(x, y)
    rate_x, rate_y = _check_pair("rate", rate, low=0.0, low_inclusive=False)
    start_x, start_y = _check_pair("start", start)
    batch, (h, w) = z.shape[:-2], z.shape[-2:]
    tx = np.ascontiguousarray((rate_x * (xa - start_x)).ravel())
    ty = np.ascontiguousarray((rate_y * (ya - start_y)).ravel())
    make = _dirichlet_tables if periodic else _sinc_tables
    tabs_x, tabs_y = make(w), make(h)

    def run(part: np.ndarray) -> np.ndarray:
        zz = np.ascontiguousarray(part.reshape(-1, h, w))
        out = np.empty((zz.shape[0], tx.shape[0]))
        _separable_sum(zz, tx, ty, periodic, tabs_x, tabs_y, out)
        return out

    return _per_part(run, z).reshape(batch + xa.shape)


def sinc_interpolate_2d(
    samples: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    rate: float | tuple[float, float] = 1.0,
    start: float | tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """Separable Whittaker–Shannon reconstruction at scattered points. See REFERENCE §1.

    ``z(x, y) = sum_{i,j} Z[..., i, j] sinc(s_x (x - x_0) - j) sinc(s_y (y - y_0) - i)``: the
    ideal kernel ``phi_s = sinc(s x) sinc(s y)`` whose spectrum is the box
    ``|f_x| < s_x / 2, |f_y| < s_y / 2``. Exact at the sample points; truncation error as in
    :func:`sinc_interpolate` near the borders.

    Parameters
    ----------
    samples : array_like, shape (..., H, W)
        Real or complex samples ``Z[..., i, j] = z(x_0 + j / s_x, y_0 + i / s_y)``.
    x, y : array_like
        Coordinates of the evaluation points, broadcast together (point ``k`` is
        ``(x[k], y[k])``, not a grid).
    rate : float or (s_x, s_y)
        Samples per unit length, ``> 0``.
    start : float or (x_0, y_0)
        Position of sample ``[0, 0]``.

    Returns
    -------
    numpy.ndarray
        Shape ``samples.shape[:-2] + broadcast(x, y).shape``.
    """
    return _separable(samples, x, y, rate, start, periodic=False)


def periodic_interpolate_2d(
    samples: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    rate: float | tuple[float, float] = 1.0,
    start: float | tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """Separable periodic (Dirichlet) reconstruction at scattered points. See REFERENCE §1.

    ``z(x, y) = sum_{i,j} Z[..., i, j] D_W(s_x (x - x_0) - j) D_H(s_y (y - y_0) - i)`` with the
    kernel of :func:`periodic_interpolate` on each axis (same even-size Nyquist convention).
    Exact for signals periodic with period ``(W / s_x, H / s_y)`` whose 2D Fourier series has
    only harmonics ``|f_x| < s_x / 2, |f_y| < s_y / 2``.

    Parameters and returns as in :func:`sinc_interpolate_2d`. Cost ``O(points * H * W)``.
    """
    return _separable(samples, x, y, rate, start, periodic=True)


def jinc_interpolate_2d(
    samples: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    rate: float = 1.0,
    start: float | tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """Reconstruction with the radially symmetric (disc-band) ideal kernel. See REFERENCE §1.

    ``z(p) = sum_{i,j} Z[..., i, j] K(|p - p_ij|)`` with ``p_ij = (x_0 + j/s, y_0 + i/s)`` and

        ``K(r) = (pi / 4) jinc(r),   jinc(r) = 2 J1(pi s r) / (pi s r),   jinc(0) = 1``.

    ``K`` is the ideal low-pass with the disc spectrum ``|f| < s / 2`` (cutoff = the Nyquist
    frequency) divided by the sample density ``s^2``: its Fourier transform is exactly 1 on the
    disc. The factor ``pi / 4`` (disc area over box area, i.e. ``K(0) = pi / 4``) is what makes
    ``sum_n K(p - p_n) = 1`` over the infinite lattice, so a constant stays constant (up to the
    slowly decaying truncation error, ``K ~ r^{-3/2}``, in the interior of a finite grid).
    Unlike the sinc, ``K`` does not interpolate the samples (``z(p_ij) != Z[i, j]`` in general);
    it reconstructs exactly every signal band-limited to the disc ``|f| < s / 2`` and projects
    other signals onto that disc band.

    Parameters
    ----------
    samples : array_like, shape (..., H, W)
        Real or complex samples.
    x, y : array_like
        Evaluation points, broadcast together.
    rate : float
        Samples per unit length, the same on both axes (a disc band needs a square lattice).
    start : float or (x_0, y_0)
        Position of sample ``[0, 0]``.

    Returns
    -------
    numpy.ndarray
        Shape ``samples.shape[:-2] + broadcast(x, y).shape``.

    Notes
    -----
    Evaluated as blocked matrix products with ``scipy.special.j1`` (the Bessel function is
    the cost, which numba cannot call), ``O(points * H * W)``.
    """
    z = _signal("samples", samples, min_ndim=2)
    xa, ya = _points_2d(x, y)
    rate = check_real("rate", rate, low=0.0, low_inclusive=False)
    start_x, start_y = _check_pair("start", start)
    batch, (h, w) = z.shape[:-2], z.shape[-2:]
    tx = (rate * (xa - start_x)).ravel()
    ty = (rate * (ya - start_y)).ravel()
    zz = z.reshape(-1, h * w)
    out = np.empty((zz.shape[0], tx.shape[0]), dtype=z.dtype)
    cols = np.arange(w, dtype=np.float64)
    rows = np.arange(h, dtype=np.float64)
    block = max(1, _JINC_BLOCK // (h * w))
    for lo in range(0, tx.shape[0], block):
        dx = tx[lo : lo + block, None, None] - cols[None, None, :]
        dy = ty[lo : lo + block, None, None] - rows[None, :, None]
        d = np.hypot(dx, dy).reshape(dx.shape[0], h * w)
        safe = np.where(d == 0.0, 1.0, d)
        kern = np.where(d == 0.0, np.pi / 4.0, special.j1(np.pi * safe) / (2.0 * safe))
        out[:, lo : lo + block] = zz @ kern.T
    return out.reshape(batch + xa.shape)


# --------------------------------------------------------------------------------------------
# FFT-based periodic operators
# --------------------------------------------------------------------------------------------


def _signed_bins(n: int) -> np.ndarray:
    """DFT bin indices ``k`` in numpy's order (``-N/2`` for the Nyquist bin of even ``N``)."""
    k = np.arange(n)
    k[k >= (n + 1) // 2] -= n
    return k


def fractional_shift(x: np.ndarray, shift: float, axis: int = -1) -> np.ndarray:
    """Band-limited periodic shift by ``shift`` samples (any real). See REFERENCE §1.

    ``y[n] = z(n - shift)``, ``z`` the periodic interpolant of :func:`periodic_interpolate`
    along ``axis``: in the DFT, ``Y[k] = X[k] exp(-2 pi i k shift / N)`` for ``|k| < N/2`` and,
    for even ``N``, ``Y[N/2] = X[N/2] cos(pi shift)`` (Nyquist convention of the module). A
    positive shift moves the content towards higher indices; an integer shift equals
    ``np.roll(x, shift, axis)``.

    Parameters
    ----------
    x : array_like
        Real or complex array, rank >= 1.
    shift : float
        Shift in samples.
    axis : int
        Axis to shift along.

    Returns
    -------
    numpy.ndarray
        Same shape as ``x``; real for real input.
    """
    arr = _signal("x", x, min_ndim=1)
    shift = check_real("shift", shift)
    axis = _check_axis(axis, arr.ndim)
    n = arr.shape[axis]
    # Reduce modulo the period first: the phase k * shift / N then stays small and accurate.
    shift = shift - n * round(shift / n)
    k = _signed_bins(n)
    mult = np.exp(-2j * np.pi * k * shift / n)
    if n % 2 == 0:
        mult[n // 2] = np.cos(np.pi * shift)
    shape = [1] * arr.ndim
    shape[axis] = n
    out = np.fft.ifft(np.fft.fft(arr, axis=axis) * mult.reshape(shape), axis=axis)
    return out if np.iscomplexobj(arr) else out.real


# --------------------------------------------------------------------------------------------
# Local (Lanczos) shifts
# --------------------------------------------------------------------------------------------

LANCZOS_A = 3
"""Lanczos order of the EQ-T_frac reference (REFERENCE §5): ``2·a = 6`` taps per axis."""


def _sinc_scalar(x: float) -> float:
    # Below 1e-8 sinc is 1 to double precision; a subnormal x (a shift of 5e-324 samples) would
    # otherwise underflow to 0 in x / a and divide by zero.
    if abs(x) < 1e-8:
        return 1.0
    return math.sin(math.pi * x) / (math.pi * x)


def lanczos_weights(frac: float, a: int = LANCZOS_A) -> list[tuple[int, float]]:
    """Taps of a Lanczos-``a`` shift by ``frac`` samples, ``0 <= frac < 1``. See REFERENCE §5.

    A shift by ``d = n + frac`` samples (``n = floor(d)``) is
    ``out[i] = Σ_m w_m · x[i − n − m]`` with ``w_m = L(m − frac)`` for ``m = −a+1 … a``, where
    ``L(u) = sinc(u)·sinc(u/a)`` for ``|u| < a`` (normalised ``sinc(u) = sin(πu)/(πu)``) and 0
    otherwise. The weights are divided by their sum so that a constant stays constant; taps of
    weight exactly 0 are dropped (``frac = 0`` gives the single tap ``(0, 1.0)``).

    Parameters
    ----------
    frac : float
        Fractional part of the shift in samples, in ``[0, 1)``.
    a : int
        Lanczos order ``>= 1`` (``2·a`` taps).

    Returns
    -------
    list of (int, float)
        ``(m, w_m)`` pairs, dimensionless weights summing to 1.
    """
    frac = check_real("frac", frac, low=0.0, high=1.0, high_inclusive=False)
    a = check_int("a", a, minimum=1)
    taps = []
    for m in range(-a + 1, a + 1):
        u = m - frac
        if u == 0:
            w = 1.0
        elif u == round(u):
            # sin(π·m) is ~1e-16, not 0, in floating point: the exact zero crossings.
            w = 0.0
        else:
            w = _sinc_scalar(u) * _sinc_scalar(u / a)
        if w != 0.0 and abs(u) < a:
            taps.append((m, w))
    total = sum(w for _, w in taps)
    return [(m, w / total) for m, w in taps]


def _split_shift(d: float) -> tuple[int, float]:
    """``d = n + frac`` with integer ``n`` and ``0 <= frac < 1``."""
    n = math.floor(d)
    frac = d - n
    if frac >= 1.0:
        # d a hair below an integer: d − floor(d) rounds up to 1.
        n, frac = n + 1, 0.0
    return n, frac


def _zero_fill_shift(x: np.ndarray, k: int, axis: int) -> np.ndarray:
    """``out[i] = x[i − k]`` along ``axis``, zero where ``i − k`` is outside the array."""
    out = np.zeros_like(x)
    size = x.shape[axis]
    if abs(k) < size:
        src = [slice(None)] * x.ndim
        dst = [slice(None)] * x.ndim
        src[axis] = slice(max(-k, 0), size - max(k, 0))
        dst[axis] = slice(max(k, 0), size - max(-k, 0))
        out[tuple(dst)] = x[tuple(src)]
    return out


def lanczos_margin(d: float, a: int = LANCZOS_A) -> int:
    """Samples at each border of an axis where :func:`lanczos_shift` by ``d`` reads outside the
    array: ``|d|`` for an integer shift (the zero fill), ``floor(|d|) + a`` otherwise (with
    ``n = floor(d)`` the taps reach ``x[i − n − a] … x[i − n + a − 1]``).

    Parameters
    ----------
    d : float
        Shift in samples.
    a : int
        Lanczos order ``>= 1``.

    Returns
    -------
    int
        The margin in samples.
    """
    d = check_real("d", d)
    a = check_int("a", a, minimum=1)
    n, frac = _split_shift(abs(d))
    return n if frac == 0.0 else n + a


def lanczos_shift(x: object, *, dy: float, dx: float, a: int = LANCZOS_A) -> np.ndarray:
    """Local shift of maps ``[..., H, W]`` by ``(dy, dx)`` samples with a separable Lanczos-``a``
    kernel, zero fill outside. See REFERENCE §5 (the EQ-T_frac reference).

    Along each axis, with ``d = n + frac`` (``n = floor(d)``) and the taps ``w_m`` of
    :func:`lanczos_weights`: ``out[i] = Σ_m w_m · x[i − n − m]``, ``m = −a+1 … a``, a sample
    ``x[j]`` with ``j`` outside ``[0, size)`` counting as 0. A positive shift moves the content
    towards higher indices (as :func:`fractional_shift` and ``np.roll``); an integer shift is
    the exact zero-filled shift. Unlike :func:`fractional_shift` the operator is local (``2·a``
    taps) and not periodic: it is a linear shift-invariant filter on the infinite grid, so it
    commutes with any other one (a convolution) wherever neither sees the borders. The output
    is exact along an axis for ``n + a <= i <= size + n − a`` when ``frac > 0`` (every tap
    inside), ``n <= i < size + n`` when ``frac = 0``: :func:`lanczos_margin` samples at each
    border cover both.

    Parameters
    ----------
    x : array_like
        Real maps, rank ``>= 2`` (rows, columns last).
    dy, dx : float
        Shifts in samples along the rows (axis −2) and the columns (axis −1).
    a : int
        Lanczos order ``>= 1``.

    Returns
    -------
    numpy.ndarray
        float64, the shape of ``x``.
    """
    arr = as_finite_array("x", x, min_ndim=2)
    dy = check_real("dy", dy)
    dx = check_real("dx", dx)
    a = check_int("a", a, minimum=1)
    out = arr
    for axis, d in ((arr.ndim - 2, dy), (arr.ndim - 1, dx)):
        n, frac = _split_shift(d)
        acc = np.zeros_like(out)
        for m, w in lanczos_weights(frac, a):
            acc += w * _zero_fill_shift(out, n + m, axis)
        out = acc
    return out


def _resize_full(spec: np.ndarray, n: int, m: int, k: int, axis: int) -> np.ndarray:
    """DFT (full layout along ``axis``) of ``n`` samples -> DFT of ``m`` samples, band ``k`` bins.

    Copies the ``k`` bins ``-(k-1)//2 .. k//2``: ``k = min(n, m)``, or an odd ``k`` below it for
    an extra low-pass. For an even ``k = min(n, m)`` the bin ``k/2`` is the Nyquist bin of the
    smaller grid: split in half onto ``+-k/2`` when ``m > n``, or ``+-k/2`` summed onto it when
    ``m < n`` (see :func:`fourier_resample`).
    """
    s = np.moveaxis(spec, axis, -1)
    out = np.zeros(s.shape[:-1] + (m,), dtype=np.complex128)
    pos, neg = (k + 1) // 2, (k - 1) // 2
    out[..., :pos] = s[..., :pos]
    if neg:
        out[..., m - neg :] = s[..., n - neg :]
    if k % 2 == 0:
        h = k // 2
        if m > n:
            out[..., h] = 0.5 * s[..., h]
            out[..., m - h] = out[..., h]
        else:
            out[..., h] = s[..., h] + s[..., n - h]
    return np.moveaxis(out, -1, axis)


def _resize_half(spec: np.ndarray, n: int, m: int, k: int, axis: int) -> np.ndarray:
    """:func:`_resize_full` for the ``rfft`` layout (bins ``0 .. n//2``) of real rows.

    The bin ``-k/2`` is the conjugate of ``+k/2`` in each real row, so the even-``k`` fold
    ``X[k/2] + X[-k/2]`` is ``2 Re X[k/2]``; valid only while the other axes are in the signal
    domain (the caller does the fold before transforming them).
    """
    s = np.moveaxis(spec, axis, -1)
    out = np.zeros(s.shape[:-1] + (m // 2 + 1,), dtype=np.complex128)
    out[..., : k // 2 + 1] = s[..., : k // 2 + 1]
    if k % 2 == 0:
        h = k // 2
        if m > n:
            out[..., h] *= 0.5
        else:
            out[..., h] = 2.0 * s[..., h].real
    return np.moveaxis(out, -1, axis)


def _fourier_resize(
    arr: np.ndarray,
    sizes: tuple[int, ...],
    axes: tuple[int, ...],
    bands: tuple[int, ...] | None = None,
) -> np.ndarray:
    """Unvalidated core of :func:`fourier_resample` (``axes`` non-negative and distinct).

    ``bands[i]`` (default ``min(n_i, sizes[i])``) is the number of DFT bins kept along
    ``axes[i]`` (see :func:`_resize_full`). The forward transforms use ``norm="forward"`` and
    the inverses no scaling, so sample amplitudes are kept without a separate ``m / n`` factor.
    Real input goes through ``rfft``/``irfft`` along the last listed axis (half the work);
    ``dsp.aliasing`` calls this directly on already validated maps.
    """
    if bands is None:
        bands = tuple(min(arr.shape[a], m) for a, m in zip(axes, sizes, strict=True))
    todo = [
        (a, arr.shape[a], m, k)
        for a, m, k in zip(axes, sizes, bands, strict=True)
        if arr.shape[a] != m or k < m
    ]
    if not todo:
        return arr.copy()

    def complex_axis(s: np.ndarray, a: int, n: int, m: int, k: int) -> np.ndarray:
        s = scipy.fft.fft(s, axis=a, norm="forward", workers=-1)
        return scipy.fft.ifft(_resize_full(s, n, m, k, a), axis=a, norm="forward", workers=-1)

    if np.iscomplexobj(arr):
        out = arr
        for a, n, m, k in todo:
            out = complex_axis(out, a, n, m, k)
        return out
    # The real axis is resized where its rows are real signals: before the other axes are
    # transformed when shrinking (the fold needs 2 Re), after they are back when growing
    # (fewer columns for the other axes' transforms).
    a_r, n_r, m_r, k_r = todo[-1]
    spec = scipy.fft.rfft(arr, axis=a_r, norm="forward", workers=-1)
    if m_r <= n_r:
        spec = _resize_half(spec, n_r, m_r, k_r, a_r)
    for a, n, m, k in todo[:-1]:
        spec = complex_axis(spec, a, n, m, k)
    if m_r > n_r:
        spec = _resize_half(spec, n_r, m_r, k_r, a_r)
    out = scipy.fft.irfft(spec, n=m_r, axis=a_r, norm="forward", workers=-1)
    return np.ascontiguousarray(out)


def fourier_resample(
    x: np.ndarray, num: int | tuple[int, ...], axis: int | tuple[int, ...] = -1
) -> np.ndarray:
    """Ideal periodic (FFT) resampling to ``num`` samples along ``axis``. See REFERENCE §1.

    Along each axis the ``N`` samples are one period of a periodic signal; the output is the
    ``M = num`` samples ``y[m] = z(m N / M)`` of its periodic band-limited interpolant low-passed
    to ``|f| < min(N, M) / 2`` cycles per period (the DFT bins ``|k| < min(N, M) / 2``, times
    ``M / N`` so amplitudes are kept). Several axes are resampled separably.

    Nyquist convention: when the smaller of ``N`` and ``M`` is even, its bin ``k = +-min/2`` sits
    exactly on the cut. Upsampling an even ``N`` splits the input Nyquist bin evenly onto
    ``+-N/2`` (the module convention: a real signal stays real and the input samples are
    reproduced exactly). Downsampling to an even ``M`` sums the input bins ``+M/2`` and ``-M/2``
    onto the single output Nyquist bin (the inverse of the split, so
    upsample-then-downsample is the identity; the sine part of that bin cannot be represented in
    ``M`` samples and vanishes). This matches ``scipy.signal.resample`` on real input.

    Parameters
    ----------
    x : array_like
        Real or complex array, rank >= 1.
    num : int or tuple of int
        Output length(s), ``>= 1``, one per axis in ``axis``.
    axis : int or tuple of int
        Axis or distinct axes to resample.

    Returns
    -------
    numpy.ndarray
        float64 for real input (computed with ``rfft``/``irfft``), complex128 otherwise.

    Notes
    -----
    ``scipy.fft`` with ``workers=-1``; the spectra are cut or zero-padded by slicing, so the cost
    is that of one forward and one inverse FFT per axis.
    """
    arr = _signal("x", x, min_ndim=1)
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    nums = (num,) if np.ndim(num) == 0 else tuple(num)
    if len(nums) != len(axes):
        raise ValueError(
            f"num must give one length per axis ({len(axes)}), got {len(nums)}: {num!r}"
        )
    axes = tuple(_check_axis(a, arr.ndim) for a in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"axis must list distinct axes, got {axis!r}")
    sizes = tuple(check_int("num", m, minimum=1) for m in nums)
    return _fourier_resize(arr, sizes, axes)


def _resample_direct(
    arr: np.ndarray, up: int, down: int, band: int, m_out: int, axis: int
) -> np.ndarray:
    """:func:`resample_rational`'s non-closing case as a direct sum over the ``band`` DFT bins.

    ``y[m] = sum_k X[k] / N exp(2 pi i k t_m / N)`` at ``t_m = m down / up``, with ``t_m / N``
    reduced exactly (integers) as ``((m down) mod (N up)) / (N up)``; an even ``band`` (only
    when growing an even ``N``) adds the split Nyquist bin as ``X[N/2] / N cos(pi t_m)``. The
    same values as the fine-grid path, in ``O(band · m_out)`` work and bounded memory.
    """
    n = arr.shape[axis]
    big_l = n * up
    spec = np.moveaxis(scipy.fft.fft(arr, axis=axis, norm="forward", workers=-1), axis, -1)
    kmax = (band - 1) // 2
    k = np.arange(-kmax, kmax + 1)
    coef = spec[..., k % n]
    nyquist = spec[..., n // 2 : n // 2 + 1] if band % 2 == 0 else None
    frac = ((np.arange(m_out, dtype=object) * down) % big_l).astype(np.float64) / big_l
    out = np.empty(coef.shape[:-1] + (m_out,), dtype=np.complex128)
    step = max(1, _DIRECT_BLOCK // k.size)
    for lo in range(0, m_out, step):
        f = frac[lo : lo + step]
        block = coef @ np.exp((2j * np.pi) * np.multiply.outer(k, f))
        if nyquist is not None:
            block += nyquist * np.cos(np.pi * n * f)
        out[..., lo : lo + step] = block
    out = np.moveaxis(out, -1, axis)
    return np.ascontiguousarray(out if np.iscomplexobj(arr) else out.real)


def resample_rational(x: np.ndarray, up: int, down: int, axis: int = -1) -> np.ndarray:
    """Ideal periodic resampling by the rational factor ``up / down``. See REFERENCE §1.

    The input (one period of ``N`` samples at rate 1) is low-passed to the output band
    ``|f| < min(1/2, up / (2 down))`` cycles per input sample and its periodic interpolant is
    sampled at ``t_m = m * down / up``, ``m = 0 .. ceil(N up / down) - 1``.

    - If ``N up / down`` is an integer ``M`` the output is one period of the resampled signal
      (``M`` samples), i.e. ``fourier_resample(x, M, axis)``, and
      ``resample_rational(tone sampled at rate s) == tone sampled at rate s up / down`` for every
      tone below both Nyquist frequencies. Bins on the cut follow the Nyquist convention of
      :func:`fourier_resample`: when upsampling an even ``N`` the input Nyquist bin is split
      evenly; when downsampling to an even ``M`` both bins ``+-M/2`` are kept and summed onto the
      output Nyquist bin (whose sine part cannot be represented and vanishes in the samples).
    - Otherwise the grid ``t_m`` does not close on the period and the output is the
      ``ceil(N up / down)`` samples of the low-passed interpolant (as in
      ``scipy.signal.resample_poly``'s output length): the band-limited signal is resampled to
      the common grid ``N up`` and every ``down``-th sample kept. No bin lies exactly on the cut
      ``N up / (2 down)`` then (it is not an integer).

    Parameters
    ----------
    x : array_like
        Real or complex array, rank >= 1.
    up, down : int
        Integer factors ``>= 1``.
    axis : int
        Axis to resample.

    Returns
    -------
    numpy.ndarray
        The resampled array (float64 for real input, complex128 otherwise).
    """
    arr = _signal("x", x, min_ndim=1)
    up = check_factor("up", up)
    down = check_factor("down", down)
    axis = _check_axis(axis, arr.ndim)
    g = math.gcd(up, down)
    up, down = up // g, down // g
    if up == down:
        return arr.copy()
    n = arr.shape[axis]
    big_l = n * up  # the common fine grid t = i / up
    if big_l % down == 0:
        return _fourier_resize(arr, (big_l // down,), (axis,))
    # Keep |k| < L / (2 down): 2 kmax + 1 bins (odd, so no Nyquist bin), all n when growing.
    band = n if up > down else 2 * ((big_l - 1) // (2 * down)) + 1
    m_out = -(-big_l // down)
    if band * m_out < big_l:
        # Large coprime factors (e.g. 1000001 / 1000000): the fine grid of N·up samples would
        # take gigabytes for a handful of outputs; the direct Fourier sum is cheaper then.
        return _resample_direct(arr, up, down, band, m_out, axis)
    fine = _fourier_resize(arr, (big_l,), (axis,), (band,))
    index = [slice(None)] * arr.ndim
    index[axis] = slice(None, None, down)
    return np.ascontiguousarray(fine[tuple(index)])


def rotate_bandlimited(
    image: np.ndarray,
    angle: float,
    center: tuple[float, float] | None = None,
) -> np.ndarray:
    """Band-limited rotation of ``[..., H, W]`` images about ``center``. See REFERENCE §1.

    Each output pixel is the periodic band-limited interpolant of the input
    (:func:`periodic_interpolate_2d`) evaluated at the rotated position:
    ``out(q) = z(c + R(-angle) (q - c))`` in the frame with x to the right (columns) and y up
    (decreasing rows). A positive angle therefore turns the content counter-clockwise as
    displayed, row 0 at the top, like ``np.rot90`` and ``scipy.ndimage.rotate`` (the project's
    one rotation convention, shared by ``gan.networks.transform.rotate`` and the EQ-R
    reference); ``angle = pi / 2`` about the default centre of a square image equals
    ``np.rot90``.

    Why this method: it is exact (to rounding) for every periodic band-limited image and every
    angle, because it samples the rotated continuous signal directly. The fast alternative, three
    FFT shears, is exact only while every intermediate sheared image is still periodic and
    band-limited on the grid, which fails for generic angles (a shear by ``a`` samples per row
    breaks the vertical periodicity unless ``a H`` is a multiple of ``W``) and corrupts the
    borders. The price is ``O((H W)^2)`` operations per image (fine up to a few hundred pixels
    a side).

    Limits: the output holds point samples of the rotated signal. The rotated spectrum is the
    input spectrum rotated; frequencies that leave the square band ``|f_x|, |f_y| < 1/2`` (the
    corners of the input band) alias in the output, and content near the image border comes
    from the periodic continuation of the input. Band-limit the input to the disc
    ``|f| < 1/2`` (or upsample first) when that matters.

    Parameters
    ----------
    image : array_like, shape (..., H, W)
        Real or complex image(s), one period of a periodic signal sampled at rate 1.
    angle : float
        Rotation angle in radians.
    center : (c_x, c_y), optional
        Centre of rotation in pixel coordinates (column, row); default the array centre
        ``((W - 1) / 2, (H - 1) / 2)``.

    Returns
    -------
    numpy.ndarray
        Same shape as ``image``.
    """
    img = _signal("image", image, min_ndim=2)
    angle = check_real("angle", angle)
    h, w = img.shape[-2:]
    if center is None:
        cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    else:
        cx, cy = _check_pair("center", center)
    rows, cols = np.meshgrid(
        np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij"
    )
    u = cols - cx
    v = cy - rows
    c, s = math.cos(angle), math.sin(angle)
    src_col = cx + (c * u + s * v)
    src_row = cy - (-s * u + c * v)
    return periodic_interpolate_2d(img, src_col, src_row)
