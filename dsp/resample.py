"""Upsample, FIR filter, downsample: 1D (``upfirdn``, equal to scipy's), 2D (``upfirdn2d``) and
the filtered leaky ReLU of alias-free generators (``filtered_lrelu``). See REFERENCE §4.

Everything is computed in float64 by numba kernels (``dsp._resample_kernels``), parallel over
the rows (1D) or the ``[H, W]`` planes (2D). The kernels are polyphase: they never multiply by
the zeros that upsampling inserts and only compute the outputs that downsampling keeps. These
functions are the float64 truth that the torch/Triton kernels of ``gan.ops`` are tested against.

Two conventions for the length of a zero-inserted signal coexist, and both are used here:

- ``upfirdn`` follows ``scipy.signal.upfirdn``: ``n`` samples upsampled by ``up`` give
  ``(n - 1)·up + 1`` samples (nothing after the last sample), then a *full* convolution.
- ``upfirdn2d`` and ``filtered_lrelu`` follow StyleGAN3: ``n`` samples give ``n·up`` samples
  (sample ``i`` at ``i·up``, and the last one is followed by ``up − 1`` zeros), then padding on
  that grid and a *valid* convolution. The trailing zeros matter through the padding
  arithmetic: an after-padding of ``p`` reaches ``p + up − 1`` samples past the last input.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dsp import _resample_kernels as _k
from dsp._checks import (
    MAX_INDEX,
    as_finite_array,
    check_factor,
    check_int,
    check_real,
    parse_padding,
)

__all__ = ["upfirdn", "upfirdn2d", "filtered_lrelu", "FilteredLreluResult"]


def _check_span(what: str, n: int, up: int, p0: int, p1: int, taps: int) -> None:
    span = n * up + abs(p0) + abs(p1) + taps
    if span >= MAX_INDEX:
        padded = f" and padded by ({p0}, {p1})" if p0 or p1 else ""
        raise ValueError(
            f"the {what} axis ({n} samples) upsampled by up={up}{padded} would be about "
            f"{span} samples long, more than MAX_INDEX = 2**62; use smaller factors"
        )


def _as_bool(name: str, value: object) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def _as_filter(name: str, f: object, ndim: tuple[int, ...]) -> np.ndarray:
    if f is None:
        return np.ones(1)
    if np.iscomplexobj(f):
        raise ValueError(f"{name} must be real")
    return as_finite_array(name, f, ndim=ndim)


def upfirdn(h: object, x: object, up: int = 1, down: int = 1, axis: int = -1) -> np.ndarray:
    """Upsample, FIR filter and downsample along one axis; equal to ``scipy.signal.upfirdn``.

    With ``xu`` the input upsampled by zero insertion (``xu[i·up] = x[i]``, zeros between, length
    ``(n − 1)·up + 1``), the output is the full convolution decimated from sample 0::

        y[k] = sum_j h[j] · xu[k·down − j],    k = 0 .. ((n − 1)·up + len(h) − 1) // down

    Parameters
    ----------
    h : array_like, 1D
        FIR filter taps (real or complex), not empty.
    x : array_like
        Input signal (real or complex), any rank >= 1; filtered along ``axis``, which must hold
        at least one sample (the other axes may be empty: the result is then empty too).
    up, down : int
        Upsampling and downsampling factors, integers in ``[1, 2**62]`` (``down`` may exceed the
        signal: one output sample, as in scipy).
    axis : int
        Axis of ``x`` to filter along.

    Returns
    -------
    numpy.ndarray
        float64 (complex128 if ``h`` or ``x`` is complex); the shape of ``x`` with
        ``((n − 1)·up + len(h) − 1) // down + 1`` samples along ``axis``.

    Notes
    -----
    Polyphase: only the taps that meet a real (non-inserted) sample are evaluated and only the
    kept outputs are computed. Complex data runs as real passes over the real and imaginary
    parts, recombined. Unlike scipy, non-finite input raises ``ValueError`` and the result is
    always double precision (scipy keeps float32 input in float32). See REFERENCE §4.
    """
    up = check_factor("up", up)
    down = check_factor("down", down)
    cplx = np.iscomplexobj(h) or np.iscomplexobj(x)
    dtype = np.complex128 if cplx else np.float64
    h = as_finite_array("h", h, ndim=1, dtype=dtype)
    # Empty along the other axes is fine (an empty batch gives an empty result, as in scipy);
    # along the filtered axis there is no first sample to define the output grid.
    x = as_finite_array("x", x, min_ndim=1, dtype=dtype, allow_empty=True)
    axis = check_int("axis", axis, minimum=-x.ndim, maximum=x.ndim - 1) % x.ndim
    n, k = x.shape[axis], h.shape[0]
    if n == 0:
        raise ValueError(f"x must have at least one sample along axis {axis}, got shape {x.shape}")
    _check_span("filtered", n - 1, up, 0, 0, k)
    nout = ((n - 1) * up + k - 1) // down + 1
    xm = np.moveaxis(x, axis, -1)
    lead = xm.shape[:-1]
    rows = xm.reshape(-1, n)
    # Full convolution = valid correlation with the flipped filter after k − 1 zeros of padding.
    g = h[::-1]
    if not cplx:
        out = _k.upfirdn_rows(
            np.ascontiguousarray(rows), np.ascontiguousarray(g), up, down, k - 1, nout
        )
    else:
        # Complex data as real passes (one compiled kernel): each filter part on the stacked
        # real and imaginary rows, then (gr + i·gi) * (xr + i·xi) recombined.
        stacked = np.ascontiguousarray(np.concatenate([rows.real, rows.imag]))
        r = len(rows)
        by_gr = _k.upfirdn_rows(stacked, np.ascontiguousarray(g.real), up, down, k - 1, nout)
        by_gi = _k.upfirdn_rows(stacked, np.ascontiguousarray(g.imag), up, down, k - 1, nout)
        out = (by_gr[:r] - by_gi[r:]) + 1j * (by_gr[r:] + by_gi[:r])
    return np.moveaxis(out.reshape(*lead, nout), -1, axis)


def _as_image_batch(x: object, **rank: int) -> np.ndarray:
    """Finite float64 planes ``[..., H, W]``: H, W >= 1; the leading axes may be empty (an empty
    batch gives an empty result, like :func:`upfirdn` and scipy)."""
    x = as_finite_array("x", x, allow_empty=True, **rank)
    if min(x.shape[-2:]) < 1:
        raise ValueError(f"x must have H, W >= 1 (its last two axes), got shape {x.shape}")
    return x


def _axis_sizes(n: int, up: int, p0: int, p1: int, taps: tuple[int, ...], what: str) -> list[int]:
    """Lengths after upsampling+padding and after each valid convolution in ``taps``."""
    _check_span(what, n, up, p0, p1, sum(taps))
    length = n * up + p0 + p1
    if length < 1:
        raise ValueError(
            f"padding crops the whole {what} axis: {n}·{up} samples with padding "
            f"({p0}, {p1}) leave {length}"
        )
    sizes = [length]
    for t, name in zip(taps, ("filter", "down filter"), strict=False):
        if t > length:
            raise ValueError(
                f"{name} ({t} taps along {what}) is longer than the padded signal "
                f"({length} samples along {what}); increase padding or shorten the filter"
            )
        length = length - t + 1
        sizes.append(length)
    return sizes


def _planes(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.reshape(-1, x.shape[-2], x.shape[-1]))


def upfirdn2d(
    x: object,
    f: object,
    up: int = 1,
    down: int = 1,
    padding: object = 0,
    gain: float = 1.0,
    flip_filter: bool = False,
) -> np.ndarray:
    """Upsample, pad, FIR filter and downsample 2D planes (StyleGAN3 conventions, float64).

    Per plane and axis: zero insertion (sample ``i`` goes to ``i·up``; ``n`` samples become
    ``n·up``, the last one followed by ``up − 1`` zeros) → pad by ``padding`` on that upsampled
    grid (negative crops) → "valid" convolution with ``f`` (every output's footprint lies inside
    the padded plane) → keep samples ``0, down, 2·down, …`` → multiply by ``gain``::

        y[oy, ox] = gain · sum_{jy, jx} f[jy, jx] · s[oy·down + fh − 1 − jy, ox·down + fw − 1 − jx]

    where ``s`` is the upsampled and padded plane (``f[jy, jx]`` replaced by
    ``f[fh − 1 − jy, fw − 1 − jx]``, i.e. a correlation, when ``flip_filter``).

    Parameters
    ----------
    x : array_like, shape ``[..., H, W]``
        Real input, any number of leading dimensions (typically ``[N, C, H, W]``).
    f : array_like or None
        1D filter ``[taps]``: separable, applied along W then along H (the 2D kernel is the outer
        product ``f ⊗ f``); or 2D ``[fh, fw]``, applied as is. ``None`` means one tap ``[1]``.
    up, down : int
        Integer factors in ``[1, 2**62]``.
    padding : int or sequence
        ``p``, ``[px, py]`` or ``[x_before, x_after, y_before, y_after]`` (x is the width axis),
        in samples of the upsampled grid; negative values crop.
    gain : float
        Output multiplier (StyleGAN3 passes ``up**2`` when upsampling, so that a filter with DC
        gain 1 keeps the mean).
    flip_filter : bool
        ``False``: true convolution; ``True``: correlation.

    Returns
    -------
    numpy.ndarray
        float64, shape ``[..., Ho, Wo]`` with, per axis,
        ``(in·up + p_before + p_after − (taps − 1) + down − 1) // down`` samples.

    Raises
    ------
    ValueError
        Wrong ranks, non-finite or complex values, factors that are not integers >= 1, a bad
        ``padding``, or a filter longer than the padded plane (which is also the only way for the
        output to be smaller than 1×1).

    Notes
    -----
    A separable filter runs as two polyphase 1D passes (rows, then columns); a 2D filter as
    polyphase row passes summed over the filter's rows. See REFERENCE §4.
    """
    up = check_factor("up", up)
    down = check_factor("down", down)
    px0, px1, py0, py1 = parse_padding(padding)
    gain = check_real("gain", gain)
    flip_filter = _as_bool("flip_filter", flip_filter)
    if np.iscomplexobj(x):
        raise ValueError("x must be real")
    x = _as_image_batch(x, min_ndim=2)
    f = _as_filter("f", f, (1, 2))
    h, w = x.shape[-2:]
    fh, fw = (f.shape[0], f.shape[0]) if f.ndim == 1 else f.shape
    hs = _axis_sizes(h, up, py0, py1, (fh,), "H")
    ws = _axis_sizes(w, up, px0, px1, (fw,), "W")
    hout = (hs[1] + down - 1) // down
    wout = (ws[1] + down - 1) // down
    planes = _planes(x)
    if f.ndim == 1:
        g = f if flip_filter else f[::-1]
        gx = np.ascontiguousarray(g)
        gy = np.ascontiguousarray(g * gain)
        out = _k.upfirdn2d_separable(planes, gx, gy, up, down, px0, py0, hout, wout)
    else:
        g2 = f if flip_filter else f[::-1, ::-1]
        g2 = np.ascontiguousarray(g2 * gain)
        out = _k.upfirdn2d_full(planes, g2, up, down, px0, py0, hout, wout)
    return out.reshape(*x.shape[:-2], hout, wout)


class FilteredLreluResult(NamedTuple):
    """``filtered_lrelu(..., return_intermediate=True)``.

    Attributes
    ----------
    y : numpy.ndarray
        The output, as returned without ``return_intermediate``.
    activation : numpy.ndarray, shape ``[N, C, Hu, Wu]``
        The activated plane just before the down filter: ``clamp(gain · lrelu(v))`` where ``v``
        is the upsampled, padded, ``fu``-filtered input (``Hu = H·up + py0 + py1 − (fh_u − 1)``).
    mask : numpy.ndarray of uint8, same shape as ``activation``
        Bit 0 set where ``v < 0`` (the slope side), bit 1 set where the clamp was active
        (``|gain · lrelu(v)| > clamp``). The activation's derivative is
        ``0`` where bit 1 is set, else ``gain · (slope if bit 0 else 1)``: what the backward pass
        needs (2 bits per element).
    """

    y: np.ndarray
    activation: np.ndarray
    mask: np.ndarray


def filtered_lrelu(
    x: object,
    fu: object = None,
    fd: object = None,
    b: object = None,
    up: int = 1,
    down: int = 1,
    padding: object = 0,
    gain: float = float(np.sqrt(2.0)),
    slope: float = 0.2,
    clamp: float | None = None,
    flip_filter: bool = False,
    return_intermediate: bool = False,
) -> np.ndarray | FilteredLreluResult:
    """Bias, upsample, filter, leaky ReLU, clamp, filter, downsample (float64 truth).

    Per channel of ``x``: add ``b[c]`` → upsample by ``up`` (zero insertion, ``n → n·up``) → pad
    by ``padding`` on the upsampled grid (negative crops) → valid convolution with ``fu``, times
    ``up²`` (``up`` per axis for a separable ``fu``; a filter of DC gain 1 keeps the mean) →
    ``v ↦ gain · (v if v >= 0 else slope · v)`` → clip to ``[−clamp, clamp]`` → valid
    convolution with ``fd`` → keep samples ``0, down, 2·down, …``. Equivalent to::

        a = upfirdn2d(x + b, fu, up=up, padding=padding, gain=up**2)
        a = clip(gain * where(a < 0, slope * a, a), -clamp, clamp)
        y = upfirdn2d(a, fd, down=down)

    Parameters
    ----------
    x : array_like, shape ``[N, C, H, W]``
        Real input.
    fu, fd : array_like or None
        Up and down filters: 1D (separable: width axis, then height) or 2D ``[fh, fw]`` (as is);
        ``None`` is one tap ``[1]``. True convolution unless ``flip_filter``.
    b : array_like, shape ``[C]``, or None
        Per-channel bias (``None``: zero).
    up, down : int
        Integer factors in ``[1, 2**62]``.
    padding : int or sequence
        As in :func:`upfirdn2d`, counted on the upsampled grid.
    gain : float
        Multiplier after the leaky ReLU (default ``√2``).
    slope : float
        Leaky ReLU slope on the negative side (default 0.2).
    clamp : float or None
        Clip the activation to ``±clamp`` (``>= 0``); ``None`` disables.
    flip_filter : bool
        Correlate instead of convolving (both filters).
    return_intermediate : bool
        Also return the activation before ``fd`` and its sign/clamp mask
        (:class:`FilteredLreluResult`), for testing backward passes.

    Returns
    -------
    numpy.ndarray or FilteredLreluResult
        float64 ``[N, C, Ho, Wo]`` with, per axis,
        ``(in·up + p_before + p_after − (taps_u − 1) − (taps_d − 1) + down − 1) // down``.

    Notes
    -----
    With 1D filters (and no intermediates requested) the chain runs fused, one plane per
    thread: rows are upsampled once, then each row of the upsampled plane is formed, activated
    and down-filtered along W while it sits in cache, so the full upsampled plane is never
    stored. 2D filters run as the composition of :func:`upfirdn2d` calls. See REFERENCE §4.
    """
    up = check_factor("up", up)
    down = check_factor("down", down)
    px0, px1, py0, py1 = parse_padding(padding)
    gain = check_real("gain", gain)
    slope = check_real("slope", slope)
    if clamp is not None:
        clamp = check_real("clamp", clamp, low=0.0)
    flip_filter = _as_bool("flip_filter", flip_filter)
    return_intermediate = _as_bool("return_intermediate", return_intermediate)
    if np.iscomplexobj(x):
        raise ValueError("x must be real")
    x = _as_image_batch(x, ndim=4)
    n, c, h, w = x.shape
    if b is None:
        bias = np.zeros(c)
    else:
        bias = as_finite_array("b", b, ndim=1)
        if bias.shape != (c,):
            raise ValueError(f"b must have shape ({c},) (one bias per channel), got {bias.shape}")
    fu = _as_filter("fu", fu, (1, 2))
    fd = _as_filter("fd", fd, (1, 2))
    fuh, fuw = (fu.shape[0],) * 2 if fu.ndim == 1 else fu.shape
    fdh, fdw = (fd.shape[0],) * 2 if fd.ndim == 1 else fd.shape
    hs = _axis_sizes(h, up, py0, py1, (fuh, fdh), "H")
    ws = _axis_sizes(w, up, px0, px1, (fuw, fdw), "W")
    hout = (hs[2] + down - 1) // down
    wout = (ws[2] + down - 1) // down

    if fu.ndim == 1 and fd.ndim == 1 and not return_intermediate:
        gu = np.ascontiguousarray((fu if flip_filter else fu[::-1]) * up)
        gd = np.ascontiguousarray(fd if flip_filter else fd[::-1])
        y = _k.filtered_lrelu_separable(
            np.ascontiguousarray(x.reshape(n * c, h, w)),
            np.tile(bias, n),
            gu,
            gd,
            up,
            down,
            px0,
            py0,
            hs[1],
            ws[1],
            hout,
            wout,
            gain,
            slope,
            -1.0 if clamp is None else clamp,
        )
        return y.reshape(n, c, hout, wout)

    v = upfirdn2d(
        x + bias[:, None, None], fu, up=up, padding=padding, gain=up * up, flip_filter=flip_filter
    )
    neg = v < 0
    a = gain * np.where(neg, slope * v, v)
    clamped = np.zeros_like(neg) if clamp is None else np.abs(a) > clamp
    if clamp is not None:
        a = np.clip(a, -clamp, clamp)
    y = upfirdn2d(a, fd, down=down, flip_filter=flip_filter)
    if not return_intermediate:
        return y
    mask = neg.astype(np.uint8) | (clamped.astype(np.uint8) << 1)
    return FilteredLreluResult(y, a, mask)
