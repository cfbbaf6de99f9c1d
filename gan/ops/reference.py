"""Plain-PyTorch reference path of ``upfirdn2d`` and ``filtered_lrelu`` (REFERENCE §4).

Runs on any device and floating dtype; gradients come from torch's autograd (every step is a
differentiable torch op, or a small ``autograd.Function`` whose backward is itself made of
differentiable torch ops, so double backward works). ``torch.func.grad`` / ``vjp`` / ``jacrev``
work too; ``vmap`` and forward-mode AD (``jvp``) do not (channels-last layout queries, no
``jvp`` rules). The functions take the NORMALISED arguments built by ``gan.ops._params``
(same names and order as the Triton backend), so call them through ``gan.ops.upfirdn2d`` /
``gan.ops.filtered_lrelu`` unless the arguments are already normalised. The result has the
memory layout of ``x`` (NCHW or channels-last).

How the chain maps to torch ops, per axis of length ``n`` with factor ``up``, filter of ``K``
taps and padding ``(p0, p1)`` on the upsampled grid (``L = n·up + p0 + p1 − K + 1`` samples
before the down-sampling):

- ``up == 1``: pad/crop, then a depthwise ``conv2d`` (correlation, so the filter is flipped for
  a true convolution) with ``stride = down``: only the kept outputs are computed. A symmetric,
  non-negative padding goes into ``conv2d``'s own ``padding`` argument (no padded copy).
- ``up > 1``: polyphase. The full true convolution of the zero-inserted signal is
  ``y[up·q + r] = Σ_t x[q − t] · f[up·t + r]``: phase ``r`` is an ordinary convolution of ``x``
  with the sub-filter ``f[r::up]`` (``T = ceil(K / up)`` taps, zero-extended). Output sample
  ``j`` is ``y[j + K − 1 − p0]``, so each phase is computed only for the ``q`` that cover
  ``j = 0 … L − 1``, as one depthwise ``conv2d`` per phase on a window of ``x`` (zero-extended
  where it leaves the support); the phases are interleaved (one ``torch.stack``, in a custom
  node whose backward hands each phase a dense gradient) and the ends cropped; then every
  ``down``-th sample is kept. A 2D filter has ``up²`` phases. (A grouped
  ``conv_transpose2d``, or one ``conv2d`` with ``up·C`` outputs, computes the same but runs on
  slow CPU kernels for ``groups = C``; depthwise convolutions of multiplier 1 do not.)
- A 1D (separable) filter runs as two 1D passes, width first, then height; scalar gains are
  folded into the (tiny) filter instead of a pass over the tensor.
- On the CPU, the passes of an up-sampling call run channels-last (NHWC): oneDNN's depthwise
  kernels read it directly, while on NCHW every ``conv2d`` pays two layout reorders of the
  whole tensor. Down-sampling-only calls keep the input's layout.
- ``filtered_lrelu`` adds the bias, folds a positive gain into the up filter
  (``lrelu(a·v) = a·lrelu(v)``) and runs leaky ReLU + clamp as one ``autograd.Function`` that
  keeps only its output for the backward (two elementwise passes instead of autograd's
  leaky-ReLU, ≥, ≤ and where nodes; at exactly ``±clamp`` its gradient is 0, ``hardtanh``'s
  convention, where ``clamp`` would pass it). With 1D filters and ``up == down`` nothing is
  interleaved: the ``up × up`` phases go through the activation as separate tensors and each
  down pass sums one stride-1 convolution per phase (taps ``h[up·s + r − offset]`` meet phase
  ``r`` only), width first, then height. Other factors chain the two ``upfirdn`` calls.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ._params import output_layout as _layout

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


def _conv_window(
    x: torch.Tensor,
    weight: torch.Tensor,
    start: tuple[int, int],
    length: tuple[int, int],
    stride: tuple[int, int],
) -> torch.Tensor:
    """Depthwise ``conv2d`` of the window ``start[d] .. start[d] + length[d] − 1`` of ``x``.

    Per axis, a window that extends ``x`` by the same number of zeros on both sides is left to
    ``conv2d``'s ``padding`` (no padded copy); any other window is cut out by :func:`_window`.
    """
    conv_pad = [0, 0]
    for d in range(2):
        before = -start[d]
        after = start[d] + length[d] - x.shape[2 + d]
        if before == after and before > 0:
            conv_pad[d] = before
        elif before or after:
            x = _window(x, 2 + d, start[d], length[d])
    return F.conv2d(x, weight, stride=stride, padding=tuple(conv_pad), groups=x.shape[1])


def _split_phases(t: torch.Tensor, u: int, dim: int, nhwc: bool) -> list[torch.Tensor]:
    """The ``u`` phases ``t[..., r::u, ...]`` along ``dim`` (2 or 3) as dense tensors.

    Each phase is copied out in ``t``'s layout (channels-last when ``nhwc``): autograd's own
    backward of a stack hands on strided slices, which conv2d's backward would then gather
    into NCHW, element by element.
    """
    if nhwc:
        t = t.contiguous(memory_format=torch.channels_last).permute(0, 2, 3, 1)
        t = t.unflatten(dim - 1, (-1, u))
        return [t.select(dim, r).contiguous().permute(0, 3, 1, 2) for r in range(u)]
    t = t.contiguous().unflatten(dim, (-1, u))
    return [t.select(dim + 1, r).contiguous() for r in range(u)]


def _stack_phases(phases: tuple[torch.Tensor, ...], dim: int, nhwc: bool) -> torch.Tensor:
    if nhwc:
        rows = [p.permute(0, 2, 3, 1) for p in phases]
        return torch.stack(rows, dim=dim).flatten(dim - 1, dim).permute(0, 3, 1, 2)
    return torch.stack(phases, dim=dim + 1).flatten(dim, dim + 1)


class _Interleave(torch.autograd.Function):
    """``out[..., u·q + r, ...] = phases[r][..., q, ...]`` along ``dim`` (2 or 3) of 4D tensors.

    One copy each way, in the phases' memory layout: channels-last phases are stacked as
    ``[N, H, W, C]`` so the copy moves whole channel vectors, and the result stays channels-last;
    the backward splits the gradient into dense phases the same way (differentiable ops, so a
    double backward works). ``forward`` and ``setup_context`` are separate, as ``torch.func``
    transforms require.
    """

    @staticmethod
    def forward(dim: int, *phases: torch.Tensor) -> torch.Tensor:
        nhwc = phases[0].is_contiguous(memory_format=torch.channels_last)
        return _stack_phases(phases, dim, nhwc)

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: torch.Tensor) -> None:
        dim, *phases = inputs
        ctx.dim, ctx.u = dim, len(phases)
        ctx.nhwc = phases[0].is_contiguous(memory_format=torch.channels_last)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        return (None, *_split_phases(grad, ctx.u, ctx.dim, ctx.nhwc))


def _interleave(phases: list[torch.Tensor], dim: int) -> torch.Tensor:
    if len(phases) == 1:
        return phases[0]
    if not (torch.is_grad_enabled() and any(p.requires_grad for p in phases)):
        # No graph to record: the stack itself. (torch.compile's fullgraph tracing also fails
        # on the Function under no_grad, torch 2.13: an AttributeError inside its forward.)
        nhwc = phases[0].is_contiguous(memory_format=torch.channels_last)
        return _stack_phases(tuple(phases), dim, nhwc)
    return _Interleave.apply(dim, *phases)


def _axis_window(
    x: torch.Tensor, dim: int, start: int, length: int
) -> tuple[tuple[int, int], tuple[int, int]]:
    """``(start, length)`` pairs for :func:`_conv_window` that cut only along ``dim``."""
    starts, lengths = [0, 0], [x.shape[2], x.shape[3]]
    starts[dim - 2], lengths[dim - 2] = start, length
    return tuple(starts), tuple(lengths)


def _taps_1d(taps: torch.Tensor, c: int, dim: int) -> torch.Tensor:
    """Depthwise ``conv2d`` weight ``[c, 1, T, 1]`` (``dim`` 2) or ``[c, 1, 1, T]`` (``dim`` 3)."""
    shape = (c, 1, taps.shape[0], 1) if dim == 2 else (c, 1, 1, taps.shape[0])
    return taps.view(1, 1, *shape[2:]).expand(shape)


def _up_phases(
    x: torch.Tensor, g: torch.Tensor, u: int, dim: int, p0: int, p1: int
) -> tuple[list[torch.Tensor], int, int]:
    """The ``u`` phases of a ×``u`` pass along ``dim`` with true-convolution taps ``g``.

    Returns ``(phases, offset, out)``: kept sample ``j < out`` of the pass (padding ``p0, p1``)
    is ``phases[(j + offset) % u]`` at index ``(j + offset) // u`` along ``dim``.
    """
    n, k = x.shape[dim], g.shape[0]
    t = -(-k // u)
    sub = F.pad(g, (0, t * u - k)).view(t, u).t().flip(1)  # row r: g[r::u], flipped
    m0, out = k - 1 - p0, n * u + p0 + p1 - k + 1  # first sample of the full result kept, count
    q0, q1 = m0 // u, (m0 + out - 1) // u  # the phase samples that cover them
    start, length = _axis_window(x, dim, q0 - t + 1, q1 - q0 + t)
    c = x.shape[1]
    phases = [_conv_window(x, _taps_1d(sub[r], c, dim), start, length, (1, 1)) for r in range(u)]
    return phases, m0 - u * q0, out


def _down_phases(
    phases: list[torch.Tensor], h: torch.Tensor, dim: int, offset: int, n: int
) -> torch.Tensor:
    """``out[o] = Σ_k h[k] · a[u·o + k]`` (valid correlation, ``u = len(phases)``) of the signal
    ``a[j] = phases[(j + offset) % u][(j + offset) // u]``, ``j < n``, along ``dim``.

    Taps ``k = u·s + r − offset`` meet phase ``r`` only, at index ``o + s``: one stride-1
    depthwise convolution per phase, summed; the phases are never interleaved.
    """
    u, k, c = len(phases), h.shape[0], phases[0].shape[1]
    n_out = (n - k) // u + 1
    total = None
    for r, p in enumerate(phases):
        s0 = 1 if r < offset else 0
        taps = h[u * s0 + r - offset :: u]
        if taps.shape[0] == 0:
            continue
        start, length = _axis_window(p, dim, s0, n_out + taps.shape[0] - 1)
        y = _conv_window(p, _taps_1d(taps, c, dim), start, length, (1, 1))
        total = y if total is None else total + y
    return total


def _filtered_lrelu_phases(
    x: torch.Tensor,
    fu: torch.Tensor,
    fd: torch.Tensor,
    u: int,
    padding: tuple[int, int, int, int],
    up_gain: float,
    act: Callable[[torch.Tensor], torch.Tensor],
    flip_filter: bool,
) -> torch.Tensor:
    """Separable ``filtered_lrelu`` with ``up == down == u``, the up-sampled signal never
    interleaved: its ``u × u`` phases go through the activation and the down passes (width,
    then height; :func:`_down_phases`) as separate tensors."""
    px0, px1, py0, py1 = padding
    # Negative padding crops: cut both axes of x once, before the width pass, rather than a copy
    # per pass and phase. Only x[q0 − T + 1 … q1] reaches the kept samples (see _up_phases);
    # cutting i samples off the front moves the padding by u·i.
    k = fu.shape[0]
    for dim, p0, p1 in ((2, py0, py1), (3, px0, px1)):
        n = x.shape[dim]
        m0, out = k - 1 - p0, n * u + p0 + p1 - k + 1
        lo = max(m0 // u - (-(-k // u)) + 1, 0)
        hi = min((m0 + out - 1) // u + 1, n)
        if hi > lo and (lo > 0 or hi < n):
            x = x.narrow(dim, lo, hi - lo)
            p0, p1 = p0 + u * lo, p1 + u * (n - hi)
            if dim == 2:
                py0, py1 = p0, p1
            else:
                px0, px1 = p0, p1
    g = (fu.flip(0) if flip_filter else fu).to(x.dtype)  # true convolution
    h = (fd if flip_filter else fd.flip(0)).to(x.dtype)  # correlation
    # Each pass restores its own axis' zero insertion (× u); the rest of the gain rides on the
    # second, so the first pass's intermediate keeps the input's scale (all of it on the first
    # made that up to u× the output and overflowed fp16 where the output is finite).
    cols, off_x, n_x = _up_phases(x, g * u, u, 3, px0, px1)
    grid = []
    for col in cols:
        rows, off_y, n_y = _up_phases(col, g * (up_gain / u), u, 2, py0, py1)
        grid.append([act(r) for r in rows])
    rows = [_down_phases([grid[rx][ry] for rx in range(u)], h, 3, off_x, n_x) for ry in range(u)]
    return _down_phases(rows, h, 2, off_y, n_y)


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
    # The true-convolution kernel; conv2d correlates, so it gets the flipped one.
    g = w.flip((0, 1)) if flip_filter else w
    if up == (1, 1):
        weight = g.flip((0, 1)).expand(c, 1, kh, kw)
        return _conv_window(x, weight, (-py0, -px0), (in_h + py0 + py1, in_w + px0 + px1), down)
    uy, ux = up
    ty, tx = -(-kh // uy), -(-kw // ux)
    # Sub-filter (ry, rx) is g[ry::uy, rx::ux], zero-extended to ty × tx taps, then flipped.
    g = F.pad(g, (0, tx * ux - kw, 0, ty * uy - kh))
    sub = g.view(ty, uy, tx, ux).permute(1, 3, 0, 2).flip((2, 3))
    start, length, crop = [], [], []
    for n, u, k, t, p0, p1 in ((in_h, uy, kh, ty, py0, py1), (in_w, ux, kw, tx, px0, px1)):
        m0, out = k - 1 - p0, n * u + p0 + p1 - k + 1  # first sample of y kept, samples kept
        q0, q1 = m0 // u, (m0 + out - 1) // u  # the phase samples that cover them
        start.append(q0 - t + 1)
        length.append(q1 - q0 + t)
        crop.append((m0 - u * q0, out))
    rows = []
    for ry in range(uy):
        phases = [
            _conv_window(x, sub[ry, rx].expand(c, 1, ty, tx), start, length, (1, 1))
            for rx in range(ux)
        ]
        rows.append(_interleave(phases, 3))
    y = _interleave(rows, 2)
    for d, (offset, out) in enumerate(crop):
        if offset or out != y.shape[2 + d]:
            y = y.narrow(2 + d, offset, out)
    if down != (1, 1):
        y = y[:, :, :: down[0], :: down[1]]
    return y


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
    px0, px1, py0, py1 = padding
    if x.device.type == "cpu" and up > 1:
        # oneDNN's depthwise kernels read and write NHWC directly; on NCHW every conv2d pays two
        # layout reorders of the whole tensor (they cost more than the convolution itself).
        x = x.contiguous(memory_format=torch.channels_last)
    if f.ndim == 2:
        return _upfirdn_core(x, f * gain, (up, up), (down, down), padding, flip_filter)
    if f.shape[0] == 1 and up == 1 and down == 1:
        # One tap: a scale and a pad/crop; skip the convolutions.
        x = _window(x, 2, -py0, x.shape[2] + py0 + py1)
        return _window(x, 3, -px0, x.shape[3] + px0 + px1) * (f[0] * f[0] * gain)
    # The width pass restores its zero insertion (× up) and the height pass takes the rest of
    # the gain: the intermediate keeps the input's scale (the whole gain on the width pass made
    # it up× the output, which overflowed fp16 where the output is finite).
    gx = float(up)
    x = _upfirdn_core(x, (f * gx)[None, :], (1, up), (1, down), (px0, px1, 0, 0), flip_filter)
    return _upfirdn_core(
        x, (f * (gain / gx))[:, None], (up, 1), (down, 1), (0, 0, py0, py1), flip_filter
    )


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
    return _upfirdn(x, f, up, down, padding, gain, flip_filter).contiguous(memory_format=_layout(x))


class _LeakyReluClamp(torch.autograd.Function):
    """``y = clamp(lrelu(v, slope), ±clamp)`` for ``slope > 0``, keeping only ``y``.

    With a positive slope ``y`` has the sign of ``v`` and ``|y| < clamp`` exactly where the clamp
    passes the gradient (ties at ``±clamp`` aside), so ``y`` alone gives the derivative
    ``1`` (``y > 0``), ``slope`` (``y ≤ 0``) or ``0`` (``|y| ≥ clamp``). The backward is built from
    differentiable ops, so a double backward works (its second derivative is 0). ``forward`` and
    ``setup_context`` are separate, as ``torch.func`` transforms require.
    """

    @staticmethod
    def forward(v: torch.Tensor, slope: float, clamp: float) -> torch.Tensor:
        return F.leaky_relu(v, slope).clamp_(-clamp, clamp)

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: torch.Tensor) -> None:
        _, ctx.slope, ctx.clamp = inputs
        ctx.save_for_backward(output)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (y,) = ctx.saved_tensors
        g = torch.ops.aten.hardtanh_backward(grad, y, -ctx.clamp, ctx.clamp)
        if torch.is_grad_enabled():
            # A double backward records this one: stay out of place (out= is not differentiable).
            return torch.ops.aten.leaky_relu_backward(g, y, ctx.slope, True), None, None
        # In place into the fresh ``g``: one full-size buffer fewer per layer.
        lrelu_bwd = torch.ops.aten.leaky_relu_backward.grad_input
        return lrelu_bwd(g, y, ctx.slope, True, grad_input=g), None, None


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
    layout = _layout(x)
    if b is not None:
        x = x + b.to(x.dtype).view(1, -1, 1, 1)
    # lrelu(a·v) = a·lrelu(v) for a > 0, so a positive gain rides along in the up filter.
    fold = gain > 0
    up_gain = up * up * (gain if fold else 1.0)

    def act(y: torch.Tensor) -> torch.Tensor:
        if fold and slope > 0 and clamp is not None:
            return _LeakyReluClamp.apply(y, slope, clamp)
        y = F.leaky_relu(y, negative_slope=slope)
        if not fold:
            y = y * gain
        if clamp is None:
            return y
        # Derivative 0 at ties |y| = clamp too, as _LeakyReluClamp and the Triton kernel
        # (torch's clamp would pass it there).
        return torch.where(y.abs() < clamp, y, y.clamp(-clamp, clamp).detach())

    if fu.ndim == 1 and fd.ndim == 1 and up == down > 1:
        # (down dividing up would work alike with output phases; measured, the backward of
        # its many small windows cost more than the interleave saved.)
        if x.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        y = _filtered_lrelu_phases(x, fu, fd, up, padding, up_gain, act, flip_filter)
    else:
        y = act(_upfirdn(x, fu, up, 1, padding, up_gain, flip_filter))
        y = _upfirdn(y, fd, 1, down, (0, 0, 0, 0), 1.0, flip_filter)
    return y.contiguous(memory_format=layout)
