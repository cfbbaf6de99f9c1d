"""Host-side planning for the Triton resampling kernels (REFERENCE §4).

Nothing here launches a kernel or imports triton: it turns filters into the per-axis tap stacks
the kernels consume and picks block sizes (a pure function of the geometry, memoised).

The tile algebra
----------------
Along one axis every stage of ``upfirdn2d`` / ``filtered_lrelu`` (and of their transposes) is a
linear map ``dst[o] = sum_j M[o, j] · src[j]`` whose matrix is *banded and periodic*:
``M[o, j] = h[o·a − j·b + c]`` (``h`` the taps, zero outside ``[0, T)``; ``a``, ``b`` the two
resampling factors; ``c`` a constant set by the padding). A kernel program computes a tile of
``dst`` starting at ``o0`` from the ``src`` tile starting at ``j0 = ceil(v / b)``, ``v`` being an
affine function of ``o0``. Within the tile the matrix entry is ``h[lo·a − lj·b + T − 1 − ph]``
with local indices ``lo``, ``lj`` and the phase ``ph = j0·b − v ∈ [0, b)``. So there are only
``b`` distinct tile matrices per axis, and a program (one tile position, several planes) needs one:
it is gathered by the kernel from the taps (once per program) as dense blocks for ``tl.dot``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch

SUPPORTED_FACTORS = (1, 2, 4)
SUPPORTED_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
MAX_RANK = 8
"""Most separable terms a full 2D filter may need (each term costs one more pass of matmuls)."""

BLOCKS = (16, 32, 64, 128)
"""Candidate block sizes (powers of two, at least 16 for ``tl.dot``)."""
_MAX_TILE_ELEMS = 128 * 128
EPILOGUE_COST = 64
"""The cost model's weight of one intermediate sample (the epilogue and its share of the loads
and index work) in tensor-core MACs. The sm_90 instruction counts of session 13 against session
9's timing put it nearer 1000 (benchmarks/gpu_ops_NOTES.md, "Session 13"); the variant
``b64_r168_yve`` plans with that, for the device comparison to decide."""
IDENT2_TILE_COST = 300_000
"""Extra per-tile cost (tensor-core MACs) of ``ident2`` plans on the GPU. Without stage 2 every
block size computes each intermediate sample once, and the model above would take 32-blocks
(fewer wasted MACs); the sm_90 loop counts say otherwise: 276 instructions per warp for a
32×32 tile, 666 for 64×64 (config T's up-4 layers, fp16), i.e. ≈ 150 fixed per tile, which at
the session-13 rate of ≈ 5·10⁻⁴ cycles per MAC is ≈ 300 000 MACs."""
# Shared memory the dot operands of one program may take if all are live at once (H100/H200
# allow 227 KiB per block; leave room for layout conversions).
SMEM_BUDGET = 160 * 1024


def svd_tolerance(dtype: torch.dtype) -> float:
    """Relative singular-value cut-off used to factor full 2D filters for inputs of ``dtype``.

    Dropping the terms below ``tol·σ₁`` changes the filter, as a linear map, by at most
    ``σ_{R+1} ≤ tol·σ₁`` (its spectral norm): with ``tol`` at the operands' unit roundoff
    (fp16 2⁻¹¹, bf16 2⁻⁸) the truncation is no larger than the rounding of the taps and of the
    input to that dtype, which every product already carries. fp32 (tf32x3/ieee products):
    1e-7. Config R's radial down filters need 2-3 terms in fp16 (1-3 in bf16) instead of 2-4
    at a 1e-5 cut-off (singular values of the 256 px schedule's 12×12 jinc filters: 1, 0.11,
    0.012, 1.6e-4, 2e-7 for the critically sampled top layers)."""
    return {torch.float16: 2.0**-11, torch.bfloat16: 2.0**-8}.get(dtype, 1e-7)


_CACHE_ATTR = "_aliasfree_svd"


def _svd(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``torch.linalg.svd`` of a 2D filter in float64 on the host, remembered on the filter
    tensor itself (keyed by its in-place version counter).

    Reading a filter that lives on the GPU back to the host synchronises the device; a layer
    passes the same buffer on every call, so this happens once per layer instead of on every
    forward and backward. The cache lives and dies with the tensor (no module-level state); an
    in-place change of the filter bumps ``_version``, and new storage (``f.data = ...``,
    ``set_``) changes its address: either forces a new factorisation. Writes that bypass the
    version counter on the same storage (``f.data.copy_(...)``, a NumPy view) cannot be seen
    without reading the filter back, which is what the cache avoids: change a filter that way
    only before its first use.
    """
    key = (f._version, f.data_ptr())
    cached = getattr(f, _CACHE_ATTR, None)
    if cached is not None and cached[0] == key:
        return cached[1]
    usv = torch.linalg.svd(f.detach().to("cpu", torch.float64), full_matrices=False)
    try:
        setattr(f, _CACHE_ATTR, (key, usv, {}))
    except (AttributeError, RuntimeError):  # e.g. tensor subclasses that refuse attributes
        pass
    return usv


def filter_rank(f: torch.Tensor, tol: float) -> int:
    """Number of separable terms ``f`` needs: 1 for a 1D filter, else the count of singular values
    above ``tol`` times the largest."""
    if f.ndim == 1:
        return 1
    s = _svd(f)[1]
    if s.numel() == 0 or float(s[0]) == 0.0:
        return 1
    return int((s > tol * s[0]).sum())


def filter_terms(f: torch.Tensor, tol: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Separable terms of a filter as two stacks ``(hy [R, Ty], hx [R, Tx])`` (float32, on
    ``f.device``, contiguous) with ``Σ_k outer(hy[k], hx[k]) = f2``, where ``f2`` is ``f`` itself
    (2D) or ``outer(f, f)`` (1D, separable: then both stacks are ``f`` as one row, no copy).

    A full 2D filter is factored by an SVD in float64 on the host and truncated at ``tol``
    relative to the largest singular value; the square root of each singular value goes to each
    side so that the two stacks have similar magnitudes (matters for fp16 operands). The factors
    are computed once per filter tensor and tolerance (see :func:`_svd`).
    """
    if f.ndim == 1:
        h = f.detach().to(torch.float32).reshape(1, -1).contiguous()
        return h, h
    u, s, vh = _svd(f)
    cached = getattr(f, _CACHE_ATTR, None)
    per_tol = cached[2] if cached is not None and cached[0] == (f._version, f.data_ptr()) else {}
    if tol in per_tol:
        return per_tol[tol]
    rank = max(filter_rank(f, tol), 1)
    root = s[:rank].sqrt()
    hy = (u[:, :rank] * root).T
    hx = vh[:rank] * root[:, None]
    dev = f.device
    terms = (
        hy.to(dev, torch.float32).contiguous(),
        hx.to(dev, torch.float32).contiguous(),
    )
    per_tol[tol] = terms
    return terms


def padded_rank(rank: int) -> int:
    """Term count of a stacked multi-term stage: ``rank`` rounded up to a power of two (Triton
    block shapes are powers of two; the padding terms are zero)."""
    return 1 << max(rank - 1, 0).bit_length()


def floor_offset(kr: int, kv: int, b: int) -> int:
    """Multiple-of-``b`` shift that keeps the kernel's ``v = o0·a + kr + kv`` non-negative, so
    that integer division there never meets a negative numerator (C vs floor semantics)."""
    return max(0, -(kr + kv)) // b + 1


@dataclass(frozen=True)
class Plan:
    """Block sizes of one kernel launch: ``bi`` (source tile), ``bm`` (intermediate tile, two-stage
    only; 0 otherwise), ``bo`` (destination tile), valid destination samples per tile ``tov_h``,
    ``tov_w`` (the tile stride), and ``num_warps``."""

    bi: int
    bm: int
    bo: int
    tov_h: int
    tov_w: int
    num_warps: int


def _src_count(span: int, taps: int, b: int) -> int:
    """Source samples a tile needs when its ``span`` destination-side positions (stride 1 on the
    fine grid) see ``taps`` taps and the source has stride ``b``: worst case over phases."""
    return (span - 1 + taps - 1) // b + 1


def _tov_two_stage(s1, t1, s2, t2, bi, bm, bo, align, extra=0, src_extra=0):
    for tov in range(bo, 0, -1):
        if tov % align:
            continue
        tm = (tov - 1) * s2 + t2 + extra
        if tm <= bm and _src_count(tm, t1, s1) + src_extra <= bi:
            return tov
    return 0


def _tov_single(a, b, t, bi, bo, src_extra=0):
    for tov in range(bo, 0, -1):
        if _src_count((tov - 1) * a + 1, t, b) + src_extra <= bi:
            return tov
    return 0


def _warps(*elems: int) -> int:
    return 8 if max(elems) >= 64 * 128 else 4


def _efficiency(*dims: int) -> float:
    # Small tensor-core tiles waste most of the instruction issue; rough relative throughput.
    return {16: 0.4, 32: 0.75, 64: 0.95}.get(min(dims), 1.0)


def _tile_overhead(interpreted: bool) -> float:
    # Per-tile fixed cost (index math, halo and matrix loads, launch), in MAC equivalents. The
    # CPU interpreter pays a large constant per operation, so there fewer, larger tiles win.
    return 1e8 if interpreted else 2e4


@functools.lru_cache(maxsize=4096)
def plan_two_stage(
    s1: int,
    t1: tuple[int, int],
    s2: int,
    t2: tuple[int, int],
    ranks: tuple[int, int],
    out_hw: tuple[int, int],
    align_w: int,
    blocks: tuple[int, ...] = BLOCKS,
    interpreted: bool = False,
    elem_bytes: int = 2,
    smem_budget: int = SMEM_BUDGET,
    extra_w: int = 0,
    stack: bool = False,
    src_extra_w: int = 0,
    epilogue_cost: int = EPILOGUE_COST,
    ident2: bool = False,
) -> Plan | None:
    """Blocks for the fused kernel: stage 1 (source stride ``s1``, taps ``t1`` per axis (y, x))
    onto the fine intermediate grid, pointwise epilogue, stage 2 (destination stride ``s2``, taps
    ``t2``). Minimises a cost model (tensor-core MACs / efficiency + weighted epilogue ops + a
    per-tile overhead) over the whole output; ``align_w``: the W tile stride must be a multiple of
    it; ``blocks``: candidate block sizes; ``elem_bytes``: size of a dot operand element, so that
    all operands fit ``smem_budget`` bytes; ``extra_w``: intermediate samples the W tile must
    hold beyond its span (the ``VMASK`` variant shifts the tile start by up to 3 to a mask byte
    boundary); ``stack``: multi-term stages run as two products over all terms padded to
    :func:`padded_rank` (the ``STACK`` kernel flag), whose operands are that many times wider;
    ``src_extra_w``: source samples the W block must hold beyond the tile's need (the ``VEC2``
    flag moves the source tile start down to an even sample); ``epilogue_cost``: the cost model's
    weight of one intermediate sample, in tensor-core MACs; ``ident2``: no stage 2 (the
    ``IDENT2`` kernel flag: ``s2 = 1``, one tap, the intermediate tile is the destination
    tile), so ``bo = bm`` and stage 2 costs nothing.
    None if nothing fits.

    Several separable terms in a stage (a full 2D filter: config R's radial ``fd``) keep more
    live per program, so on the GPU those plans use intermediate blocks of at most 64 and, on
    the side of the multi-term stage, source or output blocks of at most 32 (sm_90 AOT counts,
    benchmarks/gpu_ops_NOTES.md pass 4: 0.35-1.6 KiB of spills per thread otherwise in the
    fp16/bf16 backward), unless ``blocks`` leaves no such plan."""
    if max(ranks) > 1 and not interpreted:
        lean = _plan_two_stage(
            s1, t1, s2, t2, ranks, out_hw, align_w, blocks, interpreted, elem_bytes,
            smem_budget, extra_w, stack, True, src_extra_w, epilogue_cost, ident2,
        )  # fmt: skip
        if lean is not None:
            return lean
    return _plan_two_stage(
        s1, t1, s2, t2, ranks, out_hw, align_w, blocks, interpreted, elem_bytes, smem_budget,
        extra_w, stack, False, src_extra_w, epilogue_cost, ident2,
    )  # fmt: skip


def _plan_two_stage(
    s1, t1, s2, t2, ranks, out_hw, align_w, blocks, interpreted, elem_bytes, smem_budget,
    extra_w, stack, multi_term_limits, src_extra_w=0, epilogue_cost=EPILOGUE_COST, ident2=False,
) -> Plan | None:  # fmt: skip
    best, best_cost = None, math.inf
    r1, r2 = ranks
    # Stacked stages multiply by all padded terms at once: k1, k2 terms' worth of operands.
    k1 = padded_rank(r1) if stack and r1 > 1 else 1
    k2 = padded_rank(r2) if stack and r2 > 1 else 1
    for bi in blocks:
        for bm in blocks:
            for bo in blocks:
                if ident2 and bo != bm:
                    continue
                if max(bm * bm, k1 * bi * bm, k2 * bm * bo, bi * bi) > _MAX_TILE_ELEMS:
                    continue
                if multi_term_limits and (bm > 64 or (r1 > 1 and bi > 32) or (r2 > 1 and bo > 32)):
                    continue
                operands = bi * bi + 3 * k1 * bi * bm + bm * bm
                if not ident2:
                    operands += 3 * k2 * bm * bo
                if not interpreted and operands * elem_bytes > smem_budget:
                    continue
                tov_h = _tov_two_stage(s1, t1[0], s2, t2[0], bi, bm, bo, 1)
                tov_w = _tov_two_stage(
                    s1, t1[1], s2, t2[1], bi, bm, bo, align_w, extra_w, src_extra_w
                )
                if tov_h == 0 or tov_w == 0:
                    continue
                tiles = math.ceil(out_hw[0] / tov_h) * math.ceil(out_hw[1] / tov_w)
                macs = max(r1, k1) * (bi * bi * bm + bm * bi * bm)
                if not ident2:
                    macs += max(r2, k2) * (bm * bm * bo + bo * bm * bo)
                per_tile = (
                    macs / _efficiency(bi, bm, bo)
                    + epilogue_cost * bm * bm
                    + (IDENT2_TILE_COST if ident2 and not interpreted else 0)
                    + _tile_overhead(interpreted)
                )
                cost = tiles * per_tile
                if cost < best_cost:
                    best_cost = cost
                    best = Plan(
                        bi, bm, bo, tov_h, tov_w, _warps(bm * bm, k1 * bi * bm, k2 * bm * bo)
                    )
    return best


@functools.lru_cache(maxsize=4096)
def plan_single(
    a: int,
    b: int,
    taps: tuple[int, int],
    rank: int,
    out_hw: tuple[int, int],
    blocks: tuple[int, ...] = BLOCKS,
    interpreted: bool = False,
    elem_bytes: int = 2,
    smem_budget: int = SMEM_BUDGET,
    src_extra_w: int = 0,
) -> Plan | None:
    """Blocks for the one-stage kernel ``dst[o] = Σ_j h[o·a − j·b + c]·src[j]`` per axis;
    ``src_extra_w``: source samples the W block must hold beyond the tile's need (the kernel's
    ``VEC`` moves the source tile start down to a multiple of ``VEC``)."""
    best, best_cost = None, math.inf
    for bi in blocks:
        for bo in blocks:
            if max(bi * bi, bi * bo, bo * bo) > _MAX_TILE_ELEMS:
                continue
            if not interpreted and (bi * bi + 3 * bi * bo) * elem_bytes > smem_budget:
                continue
            tov_h = _tov_single(a, b, taps[0], bi, bo)
            tov_w = _tov_single(a, b, taps[1], bi, bo, src_extra_w)
            if tov_h == 0 or tov_w == 0:
                continue
            tiles = math.ceil(out_hw[0] / tov_h) * math.ceil(out_hw[1] / tov_w)
            macs = rank * (bi * bi * bo + bo * bi * bo)
            per_tile = macs / _efficiency(bi, bo) + 8 * bo * bo + _tile_overhead(interpreted)
            cost = tiles * per_tile
            if cost < best_cost:
                best_cost = cost
                best = Plan(bi, 0, bo, tov_h, tov_w, _warps(bi * bi, bi * bo, bo * bo))
    return best


def planes_per_program(planes: int, tiles: int, interpreted: bool = False) -> int:
    """Planes one program walks through (reusing its tile matrices): enough programs to fill a
    large GPU several times over, at most 16 planes each."""
    if interpreted:
        return planes
    return max(1, min(16, (planes * tiles) // 4096))
