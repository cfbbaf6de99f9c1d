"""numba kernels behind ``dsp.resample`` (private; the callers validate every argument).

Every pass evaluates, along one axis,

    out[o] = sum_j g[j] * xu[o * down + j - p0],    xu[r] = x[r / up] if up divides r else 0,

i.e. zero insertion by ``up``, a shift by ``p0`` (the padding before the signal; negative crops),
a correlation with ``g`` (callers flip the filter for a true convolution) and keeping every
``down``-th output. Only taps that meet a real sample are visited (polyphase) and only kept
outputs are computed.

Along a contiguous axis the outputs split into ``P = up / gcd(up, down)`` classes
``o = c + P·m``; inside a class the tap phase is fixed and the first input index grows by
``D = down / gcd(up, down)`` per step of ``m``. The input row is stored de-interleaved into ``D``
phases (``xph[d, q] = xpad[q·D + d]``, ``xpad`` the row between zero margins), so each tap is a
unit-stride multiply-add over ``m`` that LLVM vectorises. Along the strided (row) axis each
output row is a weighted sum of whole input rows, vectorised over the columns.

Only one function is ``parallel=True`` (:func:`_drive`, prange over chunks of planes): each
parallel numba function costs seconds of compilation, and CI compiles from scratch.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import prange

__all__ = [
    "row_plan",
    "upfirdn_rows",
    "upfirdn2d_separable",
    "upfirdn2d_full",
    "filtered_lrelu_separable",
]

_SEPARABLE, _FULL, _FLRELU = 0, 1, 2
# Layout of a plan array: a header, then four arrays of one entry per output class.
_UP, _P, _D, _LEFT, _QLEN, _NCLS, _HDR = 0, 1, 2, 3, 4, 5, 6


def row_plan(n: int, k: int, up: int, down: int, p0: int, nout: int) -> np.ndarray:
    """Polyphase schedule of a contiguous pass, ``n`` inputs -> ``nout`` outputs, ``k`` taps.

    int64 array: ``[up, P, D, left, q_len, ncls]`` then, per class ``c``, the first tap ``j0``,
    the input index of its first output's first tap (``start``, unpadded), its number of outputs
    (``count``) and of taps (``ntaps``). ``left`` is the zero margin stored before the row and
    ``q_len`` the length of each de-interleaved phase, both sized so that no tap leaves the
    buffer.
    """
    g = math.gcd(up, down)
    big_p, big_d = up // g, down // g
    ncls = min(big_p, nout)
    if nout <= big_p:
        # Every class holds at most one output, so the input stride D between a class's
        # outputs is never used: one phase suffices. Without this a huge ``down`` (larger
        # than the row, which scipy accepts) asked for a D-phase buffer of ``down`` samples.
        big_d = 1
    plan = np.zeros(_HDR + 4 * ncls, np.int64)
    lo, hi = 0, n - 1
    for c in range(ncls):
        j0 = (p0 - c * down) % up
        start = (c * down - p0 + j0) // up
        count = (nout - c + big_p - 1) // big_p
        ntaps = (k - j0 + up - 1) // up if j0 < k else 0
        plan[_HDR + c :: ncls] = (j0, start, count, ntaps)
        if ntaps > 0 and count > 0:
            lo = min(lo, start)
            hi = max(hi, start + big_d * (count - 1) + ntaps - 1)
    left = -lo
    plan[:_HDR] = (up, big_p, big_d, left, (left + hi + big_d) // big_d, ncls)
    return plan


@numba.njit(cache=True)
def _load(src, offset, plan, xph):
    # Fill the phases of xph with src + offset; the margins were zeroed once and stay zero.
    # Loops run per phase so that no integer division is done per sample.
    big_d, left = plan[_D], plan[_LEFT]
    n = src.shape[0]
    for d in range(big_d):
        i = (d - left) % big_d
        dst = xph[d, (i + left) // big_d :]
        for q in range((n - i + big_d - 1) // big_d):
            dst[q] = src[i + q * big_d] + offset


@numba.njit(cache=True)
def _row_pass(xph, g, plan, out, acc, accumulate):
    up, big_p, big_d, left, ncls = plan[_UP], plan[_P], plan[_D], plan[_LEFT], plan[_NCLS]
    # With one class and nothing to add to, the class is the output row itself.
    direct = big_p == 1 and not accumulate
    dst = out if direct else acc
    for c in range(ncls):
        j0 = plan[_HDR + c]
        start = plan[_HDR + ncls + c]
        mc = plan[_HDR + 2 * ncls + c]
        for m in range(mc):
            dst[m] = 0.0
        for t in range(plan[_HDR + 3 * ncls + c]):
            w = g[j0 + up * t]
            base = start + left + t
            q0 = base // big_d
            src = xph[base % big_d, q0 : q0 + mc]
            for m in range(mc):
                dst[m] += w * src[m]
        if direct:
            continue
        if accumulate:
            for m in range(mc):
                out[c + big_p * m] += acc[m]
        else:
            for m in range(mc):
                out[c + big_p * m] = acc[m]


@numba.njit(cache=True)
def _col_row(x, g, up, down, p0, o, dst):
    # Output row o of the pass along axis 0: a weighted sum of whole input rows.
    n, k, width = x.shape[0], g.shape[0], x.shape[1]
    for m in range(width):
        dst[m] = 0.0
    j0 = (p0 - o * down) % up
    s = (o * down - p0 + j0) // up
    for j in range(j0, k, up):
        i = s + (j - j0) // up
        if 0 <= i < n:
            w = g[j]
            src = x[i]
            for m in range(width):
                dst[m] += w * src[m]


@numba.njit(cache=True)
def _chunk_separable(x, gx, gy, plan_x, up_y, down_y, py0, out, lo, hi):
    wout = out.shape[2]
    xph = np.zeros((plan_x[_D], plan_x[_QLEN]))
    acc = np.empty(wout)
    tmp = np.empty((x.shape[1], wout))
    for p in range(lo, hi):
        for iy in range(x.shape[1]):
            _load(x[p, iy], 0.0, plan_x, xph)
            _row_pass(xph, gx, plan_x, tmp[iy], acc, False)
        for oy in range(out.shape[1]):
            _col_row(tmp, gy, up_y, down_y, py0, oy, out[p, oy])


@numba.njit(cache=True)
def _chunk_full(x, g2, plan_x, up, down, py0, out, lo, hi):
    h, fh = x.shape[1], g2.shape[0]
    xph = np.zeros((h, plan_x[_D], plan_x[_QLEN]))
    acc = np.empty(out.shape[2])
    for p in range(lo, hi):
        for iy in range(h):
            _load(x[p, iy], 0.0, plan_x, xph[iy])
        for oy in range(out.shape[1]):
            dst = out[p, oy]
            dst[:] = 0.0
            j0 = (py0 - oy * down) % up
            s = (oy * down - py0 + j0) // up
            for jy in range(j0, fh, up):
                iy = s + (jy - j0) // up
                if 0 <= iy < h:
                    _row_pass(xph[iy], g2[jy], plan_x, dst, acc, True)


@numba.njit(cache=True)
def _chunk_flrelu(x, bias, gu, gd, plan_u, plan_d, up, down, py0, hup, fargs, out, lo, hi):
    gain, slope, clamp = fargs[0], fargs[1], fargs[2]
    h, wout = x.shape[1], out.shape[2]
    wup = _row_len(plan_u)
    xph_u = np.zeros((plan_u[_D], plan_u[_QLEN]))
    acc_u = np.empty(wup)
    rows_u = np.empty((h, wup))
    line = np.empty(wup)
    xph_d = np.zeros((plan_d[_D], plan_d[_QLEN]))
    acc_d = np.empty(wout)
    rows_d = np.empty((hup, wout))
    for p in range(lo, hi):
        # Rows are upsampled along W once; then each row of the upsampled plane is formed,
        # activated and down-filtered along W while it sits in L1, so the upsampled plane is
        # never stored.
        for iy in range(h):
            _load(x[p, iy], bias[p], plan_u, xph_u)
            _row_pass(xph_u, gu, plan_u, rows_u[iy], acc_u, False)
        for y in range(hup):
            _col_row(rows_u, gu, up, 1, py0, y, line)
            for m in range(wup):
                v = line[m]
                if v < 0.0:
                    v *= slope
                v *= gain
                if clamp >= 0.0:
                    v = min(max(v, -clamp), clamp)
                line[m] = v
            _load(line, 0.0, plan_d, xph_d)
            _row_pass(xph_d, gd, plan_d, rows_d[y], acc_d, False)
        for oy in range(out.shape[1]):
            _col_row(rows_d, gd, 1, down, 0, oy, out[p, oy])


@numba.njit(cache=True)
def _row_len(plan):
    # Number of outputs of a planned pass: the class counts add up.
    ncls = plan[_NCLS]
    total = 0
    for c in range(ncls):
        total += plan[_HDR + 2 * ncls + c]
    return total


@numba.njit(cache=True, parallel=True)
def _drive(op, x, bias, g_a, g_b, g2, plan_a, plan_b, iargs, fargs, out, nchunks):
    # iargs: separable/full: (up_y, down_y, py0); flrelu: (up, down, py0, hup).
    planes = x.shape[0]
    for ch in prange(nchunks):
        lo = ch * planes // nchunks
        hi = (ch + 1) * planes // nchunks
        if op == _SEPARABLE:
            _chunk_separable(x, g_a, g_b, plan_a, iargs[0], iargs[1], iargs[2], out, lo, hi)
        elif op == _FULL:
            _chunk_full(x, g2, plan_a, iargs[0], iargs[1], iargs[2], out, lo, hi)
        else:
            _chunk_flrelu(
                x,
                bias,
                g_a,
                g_b,
                plan_a,
                plan_b,
                iargs[0],
                iargs[1],
                iargs[2],
                iargs[3],
                fargs,
                out,
                lo,
                hi,
            )


def _arr(a, ndim: int) -> np.ndarray:
    # C-contiguous, writable float64 (or int64 plan): a read-only or differently laid out array
    # would be a new numba type, i.e. a fresh multi-second compilation of the driver.
    if a is None:
        return np.zeros((1,) * ndim)
    a = np.ascontiguousarray(a)
    return a if a.flags.writeable else a.copy()


def _run(
    op,
    x,
    out,
    *,
    bias=None,
    g_a=None,
    g_b=None,
    g2=None,
    plan_a=None,
    plan_b=None,
    iargs=(),
    fargs=(),
):
    # A few chunks per thread: each chunk allocates its scratch once, and the load still
    # balances when another process takes a core for a while.
    nchunks = max(1, min(x.shape[0], 4 * numba.get_num_threads()))
    no_plan = np.zeros(_HDR, np.int64)
    _drive(
        op,
        _arr(x, 3),
        _arr(bias, 1),
        _arr(g_a, 1),
        _arr(g_b, 1),
        _arr(g2, 2),
        no_plan if plan_a is None else plan_a,
        no_plan if plan_b is None else plan_b,
        np.array(list(iargs) + [0] * (4 - len(iargs)), np.int64),
        np.array(list(fargs) + [0.0] * (3 - len(fargs)), np.float64),
        out,
        nchunks,
    )
    return out


def upfirdn_rows(x: np.ndarray, g: np.ndarray, up: int, down: int, p0: int, nout: int):
    """The pass along the last axis of the C-contiguous float64 ``(rows, n)`` array ``x``."""
    rows, n = x.shape
    out = np.empty((rows, 1, nout))
    plan = row_plan(n, g.shape[0], up, down, p0, nout)
    _run(
        _SEPARABLE, x.reshape(rows, 1, n), out, g_a=g, g_b=np.ones(1), plan_a=plan, iargs=(1, 1, 0)
    )
    return out.reshape(rows, nout)


def upfirdn2d_separable(x, gx, gy, up, down, px0, py0, hout, wout):
    """Separable pass on float64 ``(planes, H, W)``: rows with ``gx``, then columns with ``gy``."""
    out = np.empty((x.shape[0], hout, wout))
    plan = row_plan(x.shape[2], gx.shape[0], up, down, px0, wout)
    return _run(_SEPARABLE, x, out, g_a=gx, g_b=gy, plan_a=plan, iargs=(up, down, py0))


def upfirdn2d_full(x, g2, up, down, px0, py0, hout, wout):
    """Non-separable pass on float64 ``(planes, H, W)`` with the 2D correlation kernel ``g2``."""
    out = np.empty((x.shape[0], hout, wout))
    plan = row_plan(x.shape[2], g2.shape[1], up, down, px0, wout)
    return _run(_FULL, x, out, g2=g2, plan_a=plan, iargs=(up, down, py0))


def filtered_lrelu_separable(
    x, bias, gu, gd, up, down, px0, py0, hup, wup, hout, wout, gain, slope, clamp
):
    """Fused separable chain on float64 ``(planes, H, W)``; ``clamp < 0`` means no clamp."""
    out = np.empty((x.shape[0], hout, wout))
    plan_u = row_plan(x.shape[2], gu.shape[0], up, 1, px0, wup)
    plan_d = row_plan(wup, gd.shape[0], 1, down, 0, wout)
    return _run(
        _FLRELU,
        x,
        out,
        bias=bias,
        g_a=gu,
        g_b=gd,
        plan_a=plan_u,
        plan_b=plan_d,
        iargs=(up, down, py0, hup),
        fargs=(gain, slope, clamp),
    )
