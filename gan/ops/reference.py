"""Plain-PyTorch reference path of ``upfirdn2d`` and ``filtered_lrelu`` (REFERENCE §4).

Runs on any device and floating dtype; gradients come from torch's autograd (every step is a
differentiable torch op). The functions take the NORMALISED arguments built by
``gan.ops._params`` (same names and order as the Triton backend), so call them through
``gan.ops.upfirdn2d`` / ``gan.ops.filtered_lrelu`` unless the arguments are already normalised.

How the chain maps to torch ops, per axis of length ``n`` with factor ``up``, filter of ``K``
taps and padding ``(p0, p1)`` on the upsampled grid:

- ``up == 1``: pad/crop, then ``conv2d`` (correlation, so the filter is flipped for a true
  convolution) with ``stride = down``: only the kept outputs are computed.
- ``up > 1``: ``conv_transpose2d`` with ``stride = up`` is the full true convolution of the
  zero-inserted signal, computed without multiplying by the inserted zeros. Its sample ``m``
  is the valid output ``j = m − (K − 1 − p0)``, so a window of ``n·up + p0 + p1 − K + 1``
  samples starting at ``K − 1 − p0`` (zero-extended where it leaves the support) is the padded
  "valid" result; then every ``down``-th sample is kept.
- A 1D (separable) filter runs as two 1D passes, width first, then height; scalar gains are
  folded into the (tiny) filter instead of a pass over the tensor.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["upfirdn2d", "filtered_lrelu"]


def _window(t: torch.Tensor, dim: int, start: int, length: int) -> torch.Tensor:
    """Samples ``start .. start + length − 1`` of ``t`` along ``dim``, zero outside ``t``.

    Covers padding (``start < 0`` or running past the end) and cropping in one differentiable
    step, including windows that miss ``t`` entirely.
    """
    n = t.shape[dim]
    lo, hi = max(start, 0), min(start + length, n)
    if hi <= lo:
        t, before, after = t.narrow(dim, 0, 0), length, 0
    else:
        if lo > 0 or hi < n:
            t = t.narrow(dim, lo, hi - lo)
        before, after = lo - start, start + length - hi
    if before or after:
        pads = [0, 0, 0, 0]
        k = 2 * (t.ndim - 1 - dim)  # F.pad lists the last dimension first
        pads[k], pads[k + 1] = before, after
        t = F.pad(t, pads)
    return t


def _upfirdn_core(
    x: torch.Tensor,
    w: torch.Tensor,
    up: tuple[int, int],
    down: tuple[int, int],
    pad: tuple[int, int, int, int],
    flip_filter: bool,
) -> torch.Tensor:
    """One 2D kernel ``w [kh, kw]`` with per-axis factors ``(y, x)`` and ``pad (x0, x1, y0, y1)``.

    ``w`` is already in ``x.dtype`` with the gain folded in.
    """
    c, (in_h, in_w) = x.shape[1], x.shape[2:]
    kh, kw = w.shape
    px0, px1, py0, py1 = pad
    if up == (1, 1):
        x = _window(x, 2, -py0, in_h + py0 + py1)
        x = _window(x, 3, -px0, in_w + px0 + px1)
        # conv2d correlates: flip for a true convolution.
        weight = w if flip_filter else w.flip((0, 1))
        return F.conv2d(x, weight.expand(c, 1, kh, kw), stride=down, groups=c)
    # conv_transpose2d convolves: flip for a correlation.
    weight = w.flip((0, 1)) if flip_filter else w
    t = F.conv_transpose2d(x, weight.expand(c, 1, kh, kw), stride=up, groups=c)
    t = _window(t, 2, kh - 1 - py0, in_h * up[0] + py0 + py1 - kh + 1)
    t = _window(t, 3, kw - 1 - px0, in_w * up[1] + px0 + px1 - kw + 1)
    if down != (1, 1):
        t = t[:, :, :: down[0], :: down[1]]
    return t


def _upfirdn(
    x: torch.Tensor,
    f: torch.Tensor,
    up: int,
    down: int,
    padding: tuple[int, int, int, int],
    gain: float,
    flip_filter: bool,
) -> torch.Tensor:
    f = f.to(x.dtype)
    fg = f * gain if gain != 1.0 else f
    px0, px1, py0, py1 = padding
    if f.ndim == 2:
        return _upfirdn_core(x, fg, (up, up), (down, down), padding, flip_filter)
    if f.shape[0] == 1 and up == 1 and down == 1:
        # One tap: a scale and a pad/crop; skip the convolutions.
        x = _window(x, 2, -py0, x.shape[2] + py0 + py1)
        return _window(x, 3, -px0, x.shape[3] + px0 + px1) * (f[0] * f[0] * gain)
    # The gain rides along in one of the two passes only.
    x = _upfirdn_core(x, fg[None, :], (1, up), (1, down), (px0, px1, 0, 0), flip_filter)
    return _upfirdn_core(x, f[:, None], (up, 1), (down, 1), (0, 0, py0, py1), flip_filter)


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor,
    up: int,
    down: int,
    padding: tuple[int, int, int, int],
    gain: float,
    flip_filter: bool,
) -> torch.Tensor:
    """Upsample, pad, FIR-filter, downsample ``x [N, C, H, W]``; output multiplied by ``gain``.

    Zero insertion (sample ``i`` → ``i·up``), padding ``(x0, x1, y0, y1)`` on the upsampled grid
    (negative crops), "valid" true convolution with ``f`` (correlation if ``flip_filter``; a 1D
    ``f`` is applied along width then height), keep samples ``0, down, 2·down, …``. Output size
    per axis ``(in·up + p0 + p1 − (taps − 1) + down − 1) // down``. See REFERENCE §4.
    """
    return _upfirdn(x, f, up, down, padding, gain, flip_filter)


def filtered_lrelu(
    x: torch.Tensor,
    fu: torch.Tensor,
    fd: torch.Tensor,
    b: torch.Tensor | None,
    up: int,
    down: int,
    padding: tuple[int, int, int, int],
    gain: float,
    slope: float,
    clamp: float | None,
    flip_filter: bool,
) -> torch.Tensor:
    """Bias → upsample and filter with ``fu`` (× up²) → leaky ReLU → × gain → clamp → filter with
    ``fd`` and downsample. See REFERENCE §4.

    ``y = clamp(gain · lrelu(up² · (fu ∗ pad(zero_insert(x + b)))), ±clamp)``, then
    ``out = (fd ∗ y)[::down, ::down]`` (valid convolutions; ``fd`` gets no padding).
    """
    if b is not None:
        x = x + b.to(x.dtype).view(1, -1, 1, 1)
    # lrelu(a·v) = a·lrelu(v) for a > 0, so a positive gain rides along in the up filter.
    fold = gain > 0
    y = _upfirdn(x, fu, up, 1, padding, up * up * (gain if fold else 1.0), flip_filter)
    y = F.leaky_relu(y, negative_slope=slope)
    if not fold:
        y = y * gain
    if clamp is not None:
        y = y.clamp(-clamp, clamp)
    return _upfirdn(y, fd, 1, down, (0, 0, 0, 0), 1.0, flip_filter)
