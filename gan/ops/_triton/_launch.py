"""Launchers: plan a call on the host and launch its kernel (``split_backward``: two kernels
per chunk of samples).

Every function here takes filters as per-axis tap stacks (``_plan.filter_terms``: unflipped,
unscaled) plus, per stage, whether to read the taps reversed and a scale, so one set of tensors
serves the forward pass and its transpose. The host does no tensor work besides allocating the
outputs: the kernels gather their tile matrices from the taps. See REFERENCE §4.
"""

from __future__ import annotations

import math
import os
from types import MappingProxyType

import torch
import triton.language as tl
from triton.runtime.errors import OutOfResources

from . import _plan
from ._kernels import _fused_kernel, _single_kernel

INTERPRETED = type(_fused_kernel).__name__ == "InterpretedFunction"
"""True when the kernels run in Triton's CPU interpreter (``TRITON_INTERPRET=1`` at import)."""

_FP32_PRECISIONS = ("ieee", "tf32", "tf32x3")
# Bytes per element of a dot operand as the shared-memory model sees it: fp32 operands are
# split into tf32 pieces for "tf32x3" (measured on an H200: about twice the fp32 size).
_ELEM_BYTES = {torch.float32: 8, torch.float16: 2, torch.bfloat16: 2}


def dot_dtypes(dtype: torch.dtype) -> tl.dtype:
    """Operand dtype of the tile products for an input dtype: fp32 stays fp32 (precision set by
    ``input_precision``), fp16/bf16 use themselves with fp32 accumulation. The interpreter's dot
    cannot multiply bf16 (it sees raw uint16), so there bf16 operands are widened to fp32."""
    if dtype == torch.float16:
        return tl.float16
    if dtype == torch.bfloat16 and not INTERPRETED:
        return tl.bfloat16
    return tl.float32


def check_precision(fp32_precision: str) -> str:
    if fp32_precision not in _FP32_PRECISIONS:
        raise ValueError(
            f"fp32_precision must be one of {_FP32_PRECISIONS}, got {fp32_precision!r}"
        )
    return fp32_precision


class NoPlan(ValueError):
    """No block sizes fit the filters (too long for the candidate blocks and shared memory)."""


def _launch_with_fallback(plan_for, launch):
    """Plan and launch; if the compiled kernel needs more shared memory than the device has,
    plan again under a halved budget (the model in ``_plan`` is an estimate)."""
    budget = _plan.SMEM_BUDGET
    for attempt in range(4):
        plan = plan_for(budget)
        if plan is None:
            raise NoPlan("filters too long for the Triton tiles")
        try:
            return launch(plan)
        except OutOfResources:
            if attempt == 3:
                raise
            budget //= 2
    raise AssertionError("unreachable")


VARIANTS = MappingProxyType(
    {
        # The kernels as first measured (benchmarks/gpu_ops_NOTES.md).
        "base": MappingProxyType({}),
        # Backward: byte-aligned intermediate tile, vectorised mask unpack.
        "vmask": MappingProxyType({"vmask": True}),
        # + 2D bounds masks as nested selects on 1D predicates, unmasked clamped source loads.
        "lean": MappingProxyType({"vmask": True, "lean": True}),
        # + tile matrices re-gathered per plane instead of kept live across the plane loop
        # (sm_90 compile: spills 0.5-1 KiB per thread; kept for the record, not compared).
        "reload": MappingProxyType({"vmask": True, "reload": True}),
        "lean_reload": MappingProxyType({"vmask": True, "lean": True, "reload": True}),
        # More warps per program (16: at most 128 registers per thread).
        "vmask_w8": MappingProxyType({"vmask": True, "num_warps": 8}),
        "vmask_w16": MappingProxyType({"vmask": True, "num_warps": 16}),
        # Blocks of at most 64: less shared memory per program, so that several programs share
        # an SM; 4 warps (planner), 8 warps, or 4 warps with a register cap of 168 (3 programs
        # per SM) or 128 (4 programs per SM).
        "lean_b64": MappingProxyType({"vmask": True, "lean": True, "blocks": (16, 32, 64)}),
        "b64_w8": MappingProxyType({"vmask": True, "blocks": (16, 32, 64), "num_warps": 8}),
        "b64_r168": MappingProxyType({"vmask": True, "blocks": (16, 32, 64), "maxnreg": 168}),
        "b64_r128": MappingProxyType({"vmask": True, "blocks": (16, 32, 64), "maxnreg": 128}),
        # b64_r168 for single-term kernels (the same compiled kernels); the multi-term kernels
        # (config R's radial fd) without the register cap and with 4 warps, either as the term
        # loop or with the terms stacked into two products (the STACK flag).
        "b64_r168_free": MappingProxyType(
            {
                "vmask": True,
                "blocks": (16, 32, 64),
                "maxnreg": 168,
                "maxnreg_multi": 0,
                "num_warps_multi": 4,
            }  # fmt: skip
        ),
        "b64_r168_stack": MappingProxyType(
            {
                "vmask": True,
                "blocks": (16, 32, 64),
                "maxnreg": 168,
                "maxnreg_multi": 0,
                "num_warps_multi": 4,
                "stack": True,
            }  # fmt: skip
        ),
        # b64_r168 with stage 1's products in the other order and, in the forward, the bias
        # added between them (the source goes from the load into the product unchanged);
        # with source rows read as 4-byte pairs where rows have an even length (VEC2); and
        # with that load pipelined into shared memory (cp.async, possible once the loads are
        # 4-byte vectors). benchmarks/gpu_ops_NOTES.md, "Session 13".
        "b64_r168_y": MappingProxyType(
            {"vmask": True, "blocks": (16, 32, 64), "maxnreg": 168, "yfirst": True}
        ),
        "b64_r168_yv": MappingProxyType(
            {"vmask": True, "blocks": (16, 32, 64), "maxnreg": 168, "yfirst": True, "vec2": True}
        ),
        # b64_r168_yv planned with an intermediate sample weighted as 1000 tensor-core MACs
        # instead of 64 (the sm_90 instruction counts against session 9's timing).
        "b64_r168_yve": MappingProxyType(
            {
                "vmask": True,
                "blocks": (16, 32, 64),
                "maxnreg": 168,
                "yfirst": True,
                "vec2": True,
                "epilogue_cost": 1000,
            }  # fmt: skip
        ),
        # b64_r168_yv with the multi-term kernels as b64_r168_free has them (no register cap,
        # 4 warps): config R's radial kernels spill less, at 2 programs per SM instead of 3.
        "b64_r168_yvf": MappingProxyType(
            {
                "vmask": True,
                "blocks": (16, 32, 64),
                "maxnreg": 168,
                "yfirst": True,
                "vec2": True,
                "maxnreg_multi": 0,
                "num_warps_multi": 4,
            }  # fmt: skip
        ),
        # b64_r168_yv with the backward of up-4 layers split in two kernels (split_backward):
        # no intermediate sample computed twice, at the price of a round trip through memory.
        "b64_r168_yvx": MappingProxyType(
            {
                "vmask": True,
                "blocks": (16, 32, 64),
                "maxnreg": 168,
                "yfirst": True,
                "vec2": True,
                "split_bwd": 4,
            }  # fmt: skip
        ),
        "b64_r168_yvs": MappingProxyType(
            {
                "vmask": True,
                "blocks": (16, 32, 64),
                "maxnreg": 168,
                "yfirst": True,
                "vec2": True,
                "num_stages": 2,
            }  # fmt: skip
        ),
    }
)
"""Kernel variants (named sets of ``_tune`` keys), all computing the same result; see
``_kernels._fused_kernel`` and benchmarks/gpu_ops_NOTES.md. ``benchmarks/gpu_ops.py --compare``
measures them against each other."""

DEFAULT_VARIANTS = MappingProxyType(
    {torch.float16: "b64_r168", torch.bfloat16: "b64_r168", torch.float32: "base"}
)
"""The fused kernel's variant per input dtype when neither ``_tune`` nor :data:`ENV_VARIANT`
names one. Half precision: the fastest in the H200 comparison of 2026-11-28 (fp16
forward+backward of the three REFERENCE §6 shapes and a config-R layer, 0.70-0.88x the time of
``base``; bf16 runs the same kernels with bf16 operands; benchmarks/RESULTS.md, "Session 9").
fp32: ``base``, the only variant ever timed in fp32 on a GPU (session 1). The upfirdn2d kernel
(:func:`single`) was never compared across variants and defaults to ``base`` in every dtype."""

ENV_VARIANT = "ALIASFREE_TRITON_VARIANT"
"""Environment variable naming the fused kernel's variant for fp16/bf16 inputs when ``_tune``
names none (for benchmarks that time the whole generator or training step with a variant other
than the half-precision default). It replaces :data:`DEFAULT_VARIANTS`' half-precision entries
only: the variant comparison that picks it times fp16 alone, so fp32 calls and the upfirdn2d
kernel keep their defaults."""

_TUNE_KEYS = frozenset(
    {"variant", "blocks", "num_warps", "num_warps_fwd", "num_warps_bwd", "num_stages", "maxnreg"}
    | {"vmask", "lean", "reload", "blocks_fwd", "blocks_bwd", "maxnreg_fwd", "maxnreg_bwd"}
    | {"stack", "maxnreg_multi", "num_warps_multi", "yfirst", "vec2", "epilogue_cost"}
    | {"split_bwd", "split_chunk"}
)


def resolve_tune(
    tune: dict | None, dtype: torch.dtype = torch.float32, fused_kernel: bool = True
) -> dict:
    """The launch settings of a ``_tune`` dict for inputs of ``dtype``: its ``variant`` (else,
    for the fused kernel, the one named by :data:`ENV_VARIANT` in fp16/bf16 and the dtype's
    :data:`DEFAULT_VARIANTS` entry otherwise; ``base`` for the upfirdn2d kernel) overridden by
    its other keys that are not None."""
    tune = tune or {}
    unknown = set(tune) - _TUNE_KEYS
    if unknown:
        raise ValueError(f"_tune: unknown keys {sorted(unknown)} (known: {sorted(_TUNE_KEYS)})")
    name = tune.get("variant")
    source = "_tune: variant"
    half = dtype in (torch.float16, torch.bfloat16)
    if not name and fused_kernel and half and os.environ.get(ENV_VARIANT):
        name, source = os.environ[ENV_VARIANT], f"environment variable {ENV_VARIANT}"
    name = name or (DEFAULT_VARIANTS.get(dtype, "base") if fused_kernel else "base")
    if name not in VARIANTS:
        raise ValueError(f"{source} must be one of {list(VARIANTS)}, got {name!r}")
    out = dict(VARIANTS[name])
    out.update({k: v for k, v in tune.items() if v is not None and k != "variant"})
    return out


def _extra_options(tune: dict, direction: str | None = None, multi_term: bool = False) -> dict:
    # Compile options passed only when set (the interpreter ignores them); ``maxnreg_fwd`` /
    # ``maxnreg_bwd`` override ``maxnreg`` for the fused kernel's two directions, and
    # ``maxnreg_multi`` (0: no cap) both for kernels with a multi-term stage.
    cap = tune.get("maxnreg_multi") if multi_term else None
    if cap is None and direction:
        cap = tune.get(f"maxnreg_{direction}")
    if cap is None:
        cap = tune.get("maxnreg")
    return {} if not cap else {"maxnreg": int(cap)}


def _tuned(tune: dict, key: str, default):
    return default if tune.get(key) is None else tune[key]


def single(
    x: torch.Tensor,
    h: tuple[torch.Tensor, torch.Tensor],
    rev: bool,
    a: int,
    b: int,
    p0: tuple[int, int],
    dst_hw: tuple[int, int],
    gain: float,
    fp32_precision: str,
    tune: dict | None = None,
    out: torch.Tensor | None = None,
    dsum: torch.Tensor | None = None,
    vec: int = 1,
) -> torch.Tensor:
    """``dst[o] = gain · Σ_j h[o·a − j·b + T − 1 − p0]·x[j]`` per axis and term (taps read
    reversed if ``rev``): the upfirdn2d chain with ``up = b``, ``down = a``, leading padding
    ``p0`` (y, x). ``out``: a contiguous ``[N, C, *dst_hw]`` tensor of ``x``'s dtype to write
    to (else a new one); ``dsum`` (float32 ``[C]``): if given, the per-channel sum of the result
    is added to it (fixed order, as in :func:`fused`); ``vec`` (1, 2 or 4): source rows read
    ``vec`` samples a load where their length is a multiple of ``vec`` and a plan leaves the
    room (the kernel's ``VEC``; else 1)."""
    n, c, sh, sw = x.shape
    dh, dw = dst_hw
    if out is None:
        dst = torch.empty((n, c, dh, dw), dtype=x.dtype, device=x.device)
    else:
        if out.shape != (n, c, dh, dw) or out.dtype != x.dtype or not out.is_contiguous():
            raise ValueError("out must be a contiguous [N, C, *dst_hw] tensor of x's dtype")
        dst = out
    if dst.numel() == 0:
        return dst
    if x.numel() == 0:
        return dst.zero_()
    x = x.contiguous()
    hy, hx = h
    rank = hy.shape[0]
    tune = resolve_tune(tune, x.dtype, fused_kernel=False)
    blocks = _tuned(tune, "blocks", _plan.BLOCKS)
    dot_dtype = dot_dtypes(x.dtype)

    def plan_args(budget, extra):
        return (
            a, b, (hy.shape[1], hx.shape[1]), rank, dst_hw, tuple(blocks), INTERPRETED,
            _ELEM_BYTES[x.dtype], budget, extra,
        )  # fmt: skip

    if vec not in (1, 2, 4):
        raise ValueError(f"vec must be 1, 2 or 4, got {vec}")
    if vec > 1 and (sw % vec or _plan.plan_single(*plan_args(_plan.SMEM_BUDGET, vec - 1)) is None):
        vec = 1
    offy = _plan.floor_offset(0, -p0[0], b)
    offx = _plan.floor_offset(0, -p0[1], b)

    def plan_for(budget):
        return _plan.plan_single(*plan_args(budget, vec - 1))

    def launch(plan):
        tiles_h = math.ceil(dh / plan.tov_h)
        tiles_w = math.ceil(dw / plan.tov_w)
        ppb = _plan.planes_per_program(n * c, tiles_h * tiles_w, INTERPRETED)
        grid = (tiles_h * tiles_w * math.ceil(n * c / ppb),)
        parts = None
        if dsum is not None:
            parts = torch.empty((n, c, tiles_h * tiles_w), dtype=torch.float32, device=x.device)
        _single_kernel[grid](
            x, dst, dst if parts is None else parts, hy, hx, n * c, ppb, sh, sw, dh, dw,
            -p0[0] + offy * b, offy, -p0[1] + offx * b, offx,
            tiles_h, tiles_w, float(gain),
            A=a, B=b, TY=hy.shape[1], TX=hx.shape[1], REV=bool(rev), R=rank,
            BI=plan.bi, BO=plan.bo, TOV_H=plan.tov_h, TOV_W=plan.tov_w,
            DOT_DTYPE=dot_dtype,
            PREC=fp32_precision if x.dtype == torch.float32 else "tf32",
            HAS_DSUM=parts is not None, VEC=vec,
            num_warps=_tuned(tune, "num_warps", plan.num_warps),
            num_stages=_tuned(tune, "num_stages", 1),
        )  # fmt: skip
        if parts is not None:
            dsum.add_(parts.sum(dim=(0, 2)))
        return dst

    return _launch_with_fallback(plan_for, launch)


def fused(
    src: torch.Tensor,
    bias: torch.Tensor | None,
    h1: tuple[torch.Tensor, torch.Tensor],
    rev1: bool,
    scale1: float,
    h2: tuple[torch.Tensor, torch.Tensor],
    rev2: bool,
    scale2: float,
    s1: int,
    s2: int,
    kr: tuple[int, int],
    kv: tuple[int, int],
    dst_hw: tuple[int, int],
    mid_hw: tuple[int, int],
    mode: int,
    mask: torch.Tensor | None,
    gain: float,
    slope: float,
    clamp: float | None,
    fp32_precision: str,
    tune: dict | None = None,
    dsum: torch.Tensor | None = None,
    ident2: bool = False,
) -> torch.Tensor:
    """Run the two-stage kernel (see ``_kernels``). Stage 1 maps the source (stride ``s1``) onto
    the intermediate grid with taps ``h1 = (hy, hx)`` (× ``scale1`` per axis, reversed if
    ``rev1``); stage 2 maps it to the destination (stride ``s2``) with ``h2``. The intermediate
    tile of the destination tile at ``o0`` starts at ``o0·s2 + kr``; its source tile at
    ``ceil((o0·s2 + kr + kv) / s1)``. ``mode`` 0 computes the activation (and writes ``mask``
    unless it is None), 1 multiplies by ``mask``'s derivative. ``dsum`` (float32 ``[C]``,
    zeroed): if given, receives the per-channel sum of the result (the kernel writes one partial
    sum per plane and tile, added here in a fixed order: bitwise reproducible). ``ident2``
    (``mode`` 1, ``s2`` 1, ``kr[1]`` a multiple of 4, an even ``dst_hw[1]``): no stage 2
    (``h2``, ``rev2`` and ``scale2`` are ignored): the result is the intermediate grid times the
    mask's derivative (``dst_hw`` covers ``mid_hw``, zero beyond it; the ``IDENT2`` kernel
    flag, the first half of :func:`split_backward`)."""
    n, c, sh, sw = src.shape
    dh, dw = dst_hw
    dst = torch.empty((n, c, dh, dw), dtype=src.dtype, device=src.device)
    if dst.numel() == 0:
        return dst
    if src.numel() == 0:
        return dst.zero_()
    src = src.contiguous()
    store_mask = mode == 0 and mask is not None
    align_w = 4 // math.gcd(4, s2) if store_mask else 1
    t1 = (h1[0].shape[1], h1[1].shape[1])
    t2 = (h2[0].shape[1], h2[1].shape[1])
    r1, r2 = h1[0].shape[0], h2[0].shape[0]
    if ident2:
        if mode != 1 or s2 != 1 or kr[1] % 4 or dw % 2:
            raise ValueError(
                "ident2 needs mode 1, s2 = 1, a W offset kr[1] divisible by 4 and an even "
                "destination width"
            )
        # Tile strides in multiples of 4 keep every intermediate W tile on a mask byte.
        t2, r2, align_w = (1, 1), 1, 4
    tune = resolve_tune(tune, src.dtype)
    blocks = tune.get("blocks_fwd" if mode == 0 else "blocks_bwd")
    if blocks is None:
        blocks = _tuned(tune, "blocks", _plan.BLOCKS)
    multi_term = max(r1, r2) > 1
    extra = _extra_options(tune, "fwd" if mode == 0 else "bwd", multi_term)
    # VMASK moves the backward's intermediate W tile start down by up to 3 samples.
    vmask = mode == 1 and mask is not None and bool(tune.get("vmask"))
    lean = bool(tune.get("lean"))
    reload = bool(tune.get("reload"))
    # Only multi-term stages change under STACK: separable kernels keep one specialisation.
    stack = bool(tune.get("stack")) and multi_term
    yfirst = bool(tune.get("yfirst"))
    fold_bias = yfirst and bias is not None and r1 == 1
    # VEC2 reads source rows as 4-byte pairs from an even start: rows of an even length only
    # (the kernel rounds W down to even to tell the compiler so).
    vec2 = bool(tune.get("vec2")) and not lean and sw % 2 == 0
    warps = tune.get("num_warps_multi") if multi_term else None
    warps = warps or tune.get("num_warps_fwd" if mode == 0 else "num_warps_bwd")
    warps = warps or tune.get("num_warps")
    mh, mw = mid_hw
    if mask is None:
        mask = torch.empty(1, dtype=torch.uint8, device=src.device)
    dot_dtype = dot_dtypes(src.dtype)

    def plan_args(budget, extra_w):
        return (
            s1, t1, s2, t2, (r1, r2), dst_hw, align_w, tuple(blocks), INTERPRETED,
            _ELEM_BYTES[src.dtype], budget, extra_w, stack, int(vec2),
            int(tune.get("epilogue_cost") or _plan.EPILOGUE_COST), ident2,
        )  # fmt: skip

    # IDENT2's tiles start on mask bytes already: VMASK needs no shift, hence no extra room.
    shift_w = 0 if ident2 else 3
    if vmask and _plan.plan_two_stage(*plan_args(_plan.SMEM_BUDGET, shift_w)) is None:
        vmask = False  # the filters leave no room for the shift: the gather path
    extra_w = shift_w if vmask else 0
    if vec2 and _plan.plan_two_stage(*plan_args(_plan.SMEM_BUDGET, extra_w)) is None:
        vec2 = False  # no room for the extra source column: scalar loads
    offy = _plan.floor_offset(kr[0], kv[0], s1)
    offx = _plan.floor_offset(kr[1] - extra_w, kv[1], s1)

    def plan_for(budget):
        return _plan.plan_two_stage(*plan_args(budget, extra_w))

    def launch(plan):
        tiles_h = math.ceil(dh / plan.tov_h)
        tiles_w = math.ceil(dw / plan.tov_w)
        ppb = _plan.planes_per_program(n * c, tiles_h * tiles_w, INTERPRETED)
        grid = (tiles_h * tiles_w * math.ceil(n * c / ppb),)
        parts = None
        if dsum is not None:
            parts = torch.empty((n, c, tiles_h * tiles_w), dtype=torch.float32, device=src.device)
        _fused_kernel[grid](
            src, src if bias is None else bias, dst, mask, dst if parts is None else parts,
            h1[0], h1[1], h2[0], h2[1], float(scale1), float(scale2),
            n * c, ppb, c, sh, sw, dh, dw, mh, mw, (mw + 3) // 4,
            kr[0], kv[0] + offy * s1, offy, kr[1], kv[1] + offx * s1, offx,
            tiles_h, tiles_w,
            float(gain), float(slope), 0.0 if clamp is None else float(clamp),
            S1=s1, S2=s2, T1Y=t1[0], T1X=t1[1], T2Y=t2[0], T2X=t2[1],
            REV1=bool(rev1), REV2=bool(rev2), R1=r1, R2=r2,
            BI=plan.bi, BM=plan.bm, BO=plan.bo, TOV_H=plan.tov_h, TOV_W=plan.tov_w,
            MODE=mode, HAS_BIAS=bias is not None, HAS_CLAMP=clamp is not None,
            STORE_MASK=store_mask, HAS_DSUM=dsum is not None,
            DOT_DTYPE=dot_dtype,
            PREC=fp32_precision if src.dtype == torch.float32 else "tf32",
            VMASK=vmask, LEAN=lean, RELOAD=reload,
            STACK=stack, RP1=_plan.padded_rank(r1), RP2=_plan.padded_rank(r2),
            YFIRST=yfirst, FOLD_BIAS=fold_bias, VEC2=vec2, IDENT2=ident2,
            num_warps=warps or plan.num_warps,
            num_stages=_tuned(tune, "num_stages", 1),
            **extra,
        )  # fmt: skip
        if parts is not None:
            dsum.copy_(parts.sum(dim=(0, 2)))
        return dst

    return _launch_with_fallback(plan_for, launch)


SPLIT_CHUNK_BYTES = 256 * 2**20
"""Most bytes of the intermediate gradient :func:`split_backward` holds at once (whole samples;
at least one): config T's 84→148 layer at batch 16 would need 1.5 GB in fp16 in one piece."""


SPLIT_EPILOGUE_COST = 1000
"""The planner's weight of one intermediate sample (in tensor-core MACs) for the first kernel
of :func:`split_backward`, whose cost is almost all epilogue (benchmarks/gpu_ops_NOTES.md,
"Session 13": ≈ 1 000 from the sm_90 instruction counts against session 9's timing)."""


def splits_backward(tune: dict | None, dtype: torch.dtype, up: int) -> bool:
    """Whether ``filtered_lrelu``'s backward for these launch settings runs as
    :func:`split_backward`: the variant's ``split_bwd`` (an up factor; 0 or absent: never) is
    at most ``up``."""
    k = resolve_tune(tune, dtype).get("split_bwd")
    return bool(k) and up >= int(k)


def split_backward(
    g: torch.Tensor,
    mask: torch.Tensor,
    hd: tuple[torch.Tensor, torch.Tensor],
    hu: tuple[torch.Tensor, torch.Tensor],
    flip: bool,
    up: int,
    down: int,
    p0: tuple[int, int],
    src_hw: tuple[int, int],
    mid_hw: tuple[int, int],
    gain: float,
    slope: float,
    fp32_precision: str,
    tune: dict | None = None,
    dsum: torch.Tensor | None = None,
) -> torch.Tensor | None:
    """``filtered_lrelu``'s input gradient in two kernels instead of one (benchmarks/
    gpu_ops_NOTES.md, "Session 15"): the fused kernel without its stage 2 (``IDENT2``) writes
    the intermediate gradient (``g`` upsampled by ``down`` with ``fd`` reversed, times the
    mask's derivative) over non-overlapping tiles; the upfirdn2d kernel then filters it with
    ``fu`` reversed (× ``up`` per axis) and decimates by ``up``.

    Why: a fused backward tile must hold the ``(TOV − 1)·up + Tu`` intermediate samples its
    ``TOV`` outputs need per axis. For ``up = 4`` and ``Tu = 24`` a 64-sample block gives 11
    outputs, so neighbouring tiles recompute the same intermediate samples (the epilogue, which
    dominates the kernel) about 3.1 times over on config T's 84→148 layer, against 1.6 on its
    up-2 layers. Split, each is computed once, at the price of writing and reading the
    intermediate gradient (in ``g``'s dtype, as the fused kernel rounds it for its stage-2
    products). Samples are processed in chunks of at most :data:`SPLIT_CHUNK_BYTES` of
    intermediate gradient (``tune["split_chunk"]`` overrides, in bytes); one chunk's is alive
    at a time.

    None if either kernel has no plan under the candidate blocks (a caller forcing small ones;
    the launchers raise :class:`NoPlan`, found on the first chunk, before anything is written
    to the result): the caller then runs the fused backward."""
    n, c = g.shape[:2]
    mh, mw = mid_hw
    tune = dict(tune or {})
    chunk_bytes = int(tune.pop("split_chunk", None) or SPLIT_CHUNK_BYTES)
    # The variant's (or the caller's) candidate blocks hold for the upfirdn2d kernel too: with
    # 128-sample source blocks it would run 8 warps at 164 registers, one program per SM, for
    # 11 % fewer instructions than 64-blocks at 82 registers, five programs per SM (sm_90, L6).
    resolved = resolve_tune(tune, g.dtype)
    blocks = tuple(resolved.get("blocks") or _plan.BLOCKS)
    single_tune = {"blocks": blocks}
    tu = (hu[0].shape[1], hu[1].shape[1])
    td = (hd[0].shape[1], hd[1].shape[1])
    # The intermediate gradient's rows padded to a multiple of 4 samples (zeros: the kernel
    # reads samples past the mask's width as clipped), so that the first kernel stores them as
    # 4-byte pairs and the second reads them 4 at a time (8 bytes in fp16/bf16).
    mid_pad = (max(mh, 0), -(-max(mw, 0) // 4) * 4)
    # The first kernel's plan weighs an intermediate sample as the sm_90 counts say. For
    # separable fd the fixed tile cost (``_plan.IDENT2_TILE_COST``) decides (64-blocks either
    # way); for config R's multi-term fd this weight picks 32-blocks (0.39 loop instructions
    # per sample, no spills) over the 64-blocks of the default weight (0.34, 88 B of spills).
    tune_a = tune | {"epilogue_cost": tune.get("epilogue_cost") or SPLIT_EPILOGUE_COST}
    gx = torch.empty((n, c, *src_hw), dtype=g.dtype, device=g.device)
    if gx.numel() == 0:
        return gx
    if g.numel() == 0 or min(mid_pad) == 0:
        return gx.zero_()  # an empty output: no gradient reaches x (nor the bias)
    per_sample = c * mid_pad[0] * mid_pad[1] * g.element_size()
    chunk = max(1, chunk_bytes // per_sample)
    for i in range(0, n, chunk):
        j = min(n, i + chunk)
        try:
            # Intermediate tile at o0 (stride 1, no offset); its gradient tile as in the fused
            # backward: from ceil((o0 − Td + 1) / down).
            gm = fused(
                g[i:j], None, hd, not flip, 1.0, hd, False, 1.0, down, 1, (0, 0),
                (-(td[0] - 1), -(td[1] - 1)), mid_pad, mid_hw, 1, mask[i * c : j * c], gain,
                slope, None, fp32_precision, tune_a, ident2=True,
            )  # fmt: skip
            # dx[o] = up² Σ_m fu_rev[o·up − m + p0] gm[m]: upfirdn2d's form with a = up,
            # b = 1 and leading padding Tu − 1 − p0.
            single(
                gm, hu, not flip, up, 1, (tu[0] - 1 - p0[0], tu[1] - 1 - p0[1]), src_hw,
                float(up * up), fp32_precision, single_tune, out=gx[i:j], dsum=dsum, vec=4,
            )  # fmt: skip
        except NoPlan:
            # Plans depend on the plane geometry only: the first chunk finds out, before the
            # second kernel has written anything (nor added to dsum).
            if i == 0:
                return None
            raise
        del gm  # before the next chunk's is allocated
    return gx
