"""Fused Triton kernels for ``upfirdn2d`` and ``filtered_lrelu`` (REFERENCE §4).

The dispatcher (``gan.ops``) calls these with validated, normalised arguments: ``x`` of shape
``[N, C, H, W]`` (fp32/fp16/bf16), filters as float32 tensors on ``x``'s device, 1D (separable)
or 2D (full), ``padding = (x_before, x_after, y_before, y_after)`` on the upsampled grid.
:func:`unsupported_reason` says beforehand whether a call can take this path.

Design (details in ``_kernels`` and ``_plan``): per (n, c)-plane output tile, each separable FIR
resampling stage is a banded matrix product ``P_y · tile · P_xᵀ`` on tensor cores (``tl.dot``,
fp32 accumulation); a full 2D filter is factored by SVD into a few separable terms.
``filtered_lrelu`` runs in ONE kernel: upsample+filter, bias/leaky ReLU/gain/clamp, and
filter+downsample, the upsampled intermediate never touching device memory; only a 2-bit mask
(positive, clamped) per intermediate sample is written for the backward pass, which is the same
kernel run on the transposed operators.

Gradients: ``upfirdn2d`` is linear, its backward is ``upfirdn2d`` of the gradient with ``up``
and ``down`` swapped, the filter reversed and leading padding ``taps − 1 − p_before`` (same
gain), itself differentiable (double backward for R1 penalties works). ``filtered_lrelu``'s
backward is once-differentiable; ``db`` is the sum of ``dx`` over N, H, W, from one fp32
partial per plane and tile added in a fixed order (bitwise reproducible, unlike atomic adds).
Variants with ``split_bwd`` run the backward of layers with a large ``up`` in two kernels
(``_launch.split_backward``), the same function: there the intermediate gradient does go
through device memory (the forward and every other backward keep it on chip).
"""

from __future__ import annotations

import math
import os

import torch

from .._params import output_layout
from . import _plan

try:
    import triton  # noqa: F401

    _TRITON_MISSING = None
except ImportError as exc:  # pragma: no cover - triton is a hard dependency of the gpu extra
    _TRITON_MISSING = f"triton is not importable ({exc})"

__all__ = ["filtered_lrelu", "unsupported_reason", "upfirdn2d"]


def _lib():
    # Imported lazily so that ``unsupported_reason`` works (and says why) without triton.
    from . import _launch as launch

    return launch


def _interpreted() -> bool:
    if _TRITON_MISSING is None:
        return _lib().INTERPRETED
    return os.environ.get("TRITON_INTERPRET", "0").lower() in ("1", "true", "yes", "on")


def _taps(f: torch.Tensor) -> tuple[int, int]:
    return (f.shape[0], f.shape[0]) if f.ndim == 1 else (f.shape[0], f.shape[1])


def unsupported_reason(
    op: str,
    x: torch.Tensor,
    up: int,
    down: int,
    fu_or_f: torch.Tensor,
    fd: torch.Tensor | None = None,
) -> str | None:
    """Why ``op`` (``"upfirdn2d"`` or ``"filtered_lrelu"``) cannot run on the Triton path for
    these arguments, or None if it can. Padding, gain, slope, clamp, bias and flip never matter.
    """
    if op not in ("upfirdn2d", "filtered_lrelu"):
        return f"unknown op {op!r}"
    if _TRITON_MISSING is not None:
        return _TRITON_MISSING
    interpreted = _interpreted()
    if x.device.type == "cuda" and interpreted:
        return "TRITON_INTERPRET=1 runs kernels on the CPU; CUDA tensors are not supported"
    if x.device.type != "cuda" and not interpreted:
        return f"Triton kernels need a CUDA device (got {x.device.type}; no TRITON_INTERPRET=1)"
    if x.ndim != 4:
        return f"x must be [N, C, H, W], got {x.ndim} dimensions"
    if x.dtype not in _plan.SUPPORTED_DTYPES:
        return f"dtype {x.dtype} is not supported (fp32, fp16, bf16)"
    for name, factor in (("up", up), ("down", down)):
        if factor not in _plan.SUPPORTED_FACTORS:
            return f"{name}={factor} is not supported (factors {_plan.SUPPORTED_FACTORS})"
    filters = [("f" if op == "upfirdn2d" else "fu", fu_or_f)]
    if op == "filtered_lrelu":
        if fd is None:
            return "filtered_lrelu needs fd"
        filters.append(("fd", fd))
    tol = _plan.svd_tolerance(x.dtype)
    ranks = []
    for name, f in filters:
        if f.ndim not in (1, 2):
            return f"{name} must be 1D (separable) or 2D, got {f.ndim} dimensions"
        if min(_taps(f)) < 1:
            return f"{name} has no taps"
        rank = _plan.filter_rank(f, tol)
        if rank > _plan.MAX_RANK:
            return (
                f"{name} is a 2D filter of numerical rank {rank} > {_plan.MAX_RANK} "
                "(each rank costs one more separable pass)"
            )
        ranks.append(rank)
    probe = (64, 64)
    if op == "upfirdn2d":
        t = _taps(fu_or_f)
        fwd = _plan.plan_single(down, up, t, ranks[0], probe)
        bwd = _plan.plan_single(up, down, t, ranks[0], probe)
    else:
        tu, td = _taps(fu_or_f), _taps(fd)
        fwd = _plan.plan_two_stage(up, tu, down, td, (ranks[0], ranks[1]), probe, 4)
        bwd = _plan.plan_two_stage(down, td, up, tu, (ranks[1], ranks[0]), probe, 1)
    if fwd is None or bwd is None:
        return "filter too long for the Triton tiles (at most 128-sample intermediate tiles)"
    return None


def _check_supported(op, x, up, down, f1, f2=None) -> None:
    reason = unsupported_reason(op, x, up, down, f1, f2)
    if reason is not None:
        raise ValueError(f"{op}: not supported by the Triton path: {reason}")


def _out_size(n: int, up: int, down: int, p0: int, p1: int, t1: int, t2: int) -> int:
    return max(0, (n * up + p0 + p1 - (t1 - 1) - (t2 - 1) + down - 1) // down)


class _UpFirDn2dFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, hy, hx, rev, up, down, p0, dst_hw, gain, prec, tune):
        ctx.save_for_backward(hy, hx)
        ctx.cfg = (rev, up, down, p0, (x.shape[2], x.shape[3]), gain, prec, tune)
        ctx.layout = output_layout(x)  # the input gradient's, as on the reference path
        return _lib().single(x, (hy, hx), rev, down, up, p0, dst_hw, gain, prec, tune)

    @staticmethod
    def backward(ctx, g):
        hy, hx = ctx.saved_tensors
        rev, up, down, p0, src_hw, gain, prec, tune = ctx.cfg
        gx = None
        if ctx.needs_input_grad[0]:
            # Transpose of dst[o] = Σ h[o·down − i·up + T − 1 − p0]·x[i]: the same form with the
            # taps reversed, up/down swapped and leading padding T − 1 − p0. Itself an
            # autograd Function, so double backward works.
            p0t = (hy.shape[1] - 1 - p0[0], hx.shape[1] - 1 - p0[1])
            gx = _UpFirDn2dFn.apply(g, hy, hx, not rev, down, up, p0t, src_hw, gain, prec, tune)
            gx = gx.contiguous(memory_format=ctx.layout)
        return gx, None, None, None, None, None, None, None, None, None, None


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor,
    up: int = 1,
    down: int = 1,
    padding: tuple[int, int, int, int] = (0, 0, 0, 0),
    gain: float = 1.0,
    flip_filter: bool = False,
    *,
    fp32_precision: str = "tf32x3",
    _tune: dict | None = None,
) -> torch.Tensor:
    """Upsample (zero insertion) → pad/crop → FIR filter (valid, true convolution unless
    ``flip_filter``) → downsample, times ``gain`` (REFERENCE §4). Differentiable w.r.t. ``x``
    (to any order).

    Output size per axis ``(in·up + p_before + p_after − (taps − 1) + down − 1) // down``.
    ``fp32_precision`` (fp32 inputs only): ``tl.dot`` input precision, ``"tf32x3"`` (default,
    ~fp32 accurate), ``"ieee"`` (exact fp32) or ``"tf32"`` (fastest, ~3e-3 relative error).
    ``_tune`` (testing/tuning hook): ``{"blocks": candidate block sizes, "num_warps": ...,
    "num_stages": ...}``, e.g. small blocks to force many tiles.
    """
    prec = _lib().check_precision(fp32_precision)
    _check_supported("upfirdn2d", x, up, down, f)
    px0, px1, py0, py1 = (int(p) for p in padding)
    ty, tx = _taps(f)
    dst_hw = (
        _out_size(x.shape[2], up, down, py0, py1, ty, 1),
        _out_size(x.shape[3], up, down, px0, px1, tx, 1),
    )
    hy, hx = _plan.filter_terms(f, _plan.svd_tolerance(x.dtype))
    return _UpFirDn2dFn.apply(
        x, hy, hx, bool(flip_filter), int(up), int(down), (py0, px0), dst_hw, float(gain), prec,
        _tune,
    )  # fmt: skip


class _FilteredLReLUFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, b, hu, hd, flip, up, down, p0, dst_hw, gain, slope, clamp, prec, tune):
        need_grad = ctx.needs_input_grad[0] or ctx.needs_input_grad[1]
        n, c = x.shape[:2]
        mid_hw = (
            (dst_hw[0] - 1) * down + hd[0].shape[1],
            (dst_hw[1] - 1) * down + hd[1].shape[1],
        )
        mask = None
        if need_grad:
            mask = torch.empty(
                (n * c, max(mid_hw[0], 0), max((mid_hw[1] + 3) // 4, 0)),
                dtype=torch.uint8,
                device=x.device,
            )
        # Stage 1 = fu (× up per axis) upsampling by `up`, stage 2 = fd decimating by `down`.
        # The intermediate tile of the output tile at o0 starts at o0·down; its input tile at
        # ceil((o0·down − p0) / up).
        out = _lib().fused(
            x, b, hu, flip, float(up), hd, flip, 1.0, up, down, (0, 0), (-p0[0], -p0[1]),
            dst_hw, mid_hw, 0, mask, gain, slope, clamp, prec, tune,
        )  # fmt: skip
        if need_grad:
            ctx.save_for_backward(mask, *hu, *hd)
            ctx.bias_dtype = None if b is None else b.dtype
            ctx.cfg = (flip, up, down, p0, (x.shape[2], x.shape[3]), mid_hw, gain, slope, prec)
            ctx.tune = tune
            ctx.layout = output_layout(x)
        return out

    @staticmethod
    def backward(ctx, g):
        if torch.is_grad_enabled():
            # create_graph=True (autograd runs backward in grad mode only then). Decorated
            # once_differentiable instead, autograd.grad of the gradient reported it "not used
            # in the graph" (or, with allow_unused, silently returned None).
            raise RuntimeError(
                "the Triton filtered_lrelu has no second derivative (its backward is a fused "
                "kernel): use impl='ref' for a double backward (create_graph=True)"
            )
        mask, huy, hux, hdy, hdx = ctx.saved_tensors
        flip, up, down, p0, src_hw, mid_hw, gain, slope, prec = ctx.cfg
        # Transposed chain: upsample g by `down` with fd reversed, × mask derivative, filter with
        # fu reversed (× up per axis) and decimate by `up`. The input-gradient tile at o0 reads
        # intermediate samples from o0·up + p0 − Tu + 1 and gradient samples from
        # ceil((that − Td + 1) / down).
        dsum = None
        if ctx.needs_input_grad[1]:
            dsum = torch.zeros(g.shape[1], dtype=torch.float32, device=g.device)
        gx = None
        if _lib().splits_backward(ctx.tune, g.dtype, up):
            gx = _lib().split_backward(
                g, mask, (hdy, hdx), (huy, hux), flip, up, down, p0, src_hw, mid_hw, gain,
                slope, prec, ctx.tune, dsum,
            )  # fmt: skip
        if gx is None:
            gx = _lib().fused(
                g, None, (hdy, hdx), not flip, 1.0, (huy, hux), not flip, float(up), down, up,
                (p0[0] - huy.shape[1] + 1, p0[1] - hux.shape[1] + 1),
                (-(hdy.shape[1] - 1), -(hdx.shape[1] - 1)),
                src_hw, mid_hw, 1, mask, gain, slope, None, prec, ctx.tune, dsum,
            )  # fmt: skip
        db = None if dsum is None else dsum.to(ctx.bias_dtype)
        gx = gx.contiguous(memory_format=ctx.layout) if ctx.needs_input_grad[0] else None
        return (gx, db) + (None,) * 12


def filtered_lrelu(
    x: torch.Tensor,
    fu: torch.Tensor,
    fd: torch.Tensor,
    b: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: tuple[int, int, int, int] = (0, 0, 0, 0),
    gain: float = math.sqrt(2.0),
    slope: float = 0.2,
    clamp: float | None = None,
    flip_filter: bool = False,
    *,
    fp32_precision: str = "tf32x3",
    _tune: dict | None = None,
) -> torch.Tensor:
    """Fused bias → upsample → pad → FIR ``fu`` (× up²) → leaky ReLU → × gain → clamp → FIR ``fd``
    → downsample, in one kernel (REFERENCE §4). Differentiable w.r.t. ``x`` and ``b`` (once).

    Output size per axis ``(in·up + p_before + p_after − (Tu − 1) − (Td − 1) + down − 1) // down``.
    ``fp32_precision`` and ``_tune`` as in :func:`upfirdn2d`.
    """
    prec = _lib().check_precision(fp32_precision)
    _check_supported("filtered_lrelu", x, up, down, fu, fd)
    px0, px1, py0, py1 = (int(p) for p in padding)
    tu, td = _taps(fu), _taps(fd)
    dst_hw = (
        _out_size(x.shape[2], up, down, py0, py1, tu[0], td[0]),
        _out_size(x.shape[3], up, down, px0, px1, tu[1], td[1]),
    )
    tol = _plan.svd_tolerance(x.dtype)
    hu = _plan.filter_terms(fu, tol)
    hd = _plan.filter_terms(fd, tol)
    if b is not None:
        b = b.contiguous()
    return _FilteredLReLUFn.apply(
        x, b, hu, hd, bool(flip_filter), int(up), int(down), (py0, px0), dst_hw, float(gain),
        float(slope), None if clamp is None else float(clamp), prec, _tune,
    )  # fmt: skip
