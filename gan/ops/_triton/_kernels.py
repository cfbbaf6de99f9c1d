"""Triton kernels for ``upfirdn2d`` and the fused ``filtered_lrelu`` (REFERENCE §4).

Both kernels evaluate a separable FIR resampler over a 2D tile as banded matrix products
(``tl.dot``): for one separable term, ``dst_tile = P_y · src_tile · P_xᵀ``. The tile matrices
(see ``_plan``: ``P[lo, lj] = h[lo·a − lj·b + T − 1 − ph]``) are gathered from the taps once per
program and reused for all the planes it walks through. A full 2D filter is a short sum of such
terms (its SVD).

``_fused_kernel`` chains two such stages with a pointwise epilogue on the fine intermediate grid,
which never leaves registers/shared memory:

* forward (``MODE == 0``): stage 1 = upsample+filter (``fu``), epilogue = leaky ReLU · gain,
  clamp, and the 2-bit mask (bit 0: positive, bit 1: clamped) packed 4 per byte along W,
  stage 2 = filter+downsample (``fd``);
* backward (``MODE == 1``): stage 1 = the transpose of the down stage (upsample the output
  gradient by ``down`` with ``fd`` reversed), epilogue = × stored mask derivative
  (gain or gain·slope; clipped samples set to 0 by a select, so an infinite gradient there gives
  0 as on the reference path), stage 2 = the transpose of the up stage.

Tile ownership of the mask: the program whose output tile starts at ``o0`` owns the intermediate
samples ``[o0·down, (o0 + TOV)·down)`` per axis (the last tile also owns the tail), so every mask
bit is written exactly once, and W tile strides are multiples of 4 samples so no byte is shared.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _source_start(r0, KVP, OFF, S1: tl.constexpr):
    # Source tile start j0 = ceil(v / S1) and phase j0·S1 − v of the intermediate tile at r0, with
    # v = r0 + KVP − OFF·S1; KVP carries the OFF·S1 shift so the numerators stay >= 0.
    vp = r0 + KVP
    ph = (S1 - vp % S1) % S1
    j0 = (vp + ph) // S1 - OFF
    return j0, ph


@triton.jit
def _tile_start(o0, KR, KVP, OFF, S1: tl.constexpr, S2: tl.constexpr):
    # Intermediate tile start r0 = o0·S2 + KR, and its source tile start and phase.
    r0 = o0 * S2 + KR
    j0, ph = _source_start(r0, KVP, OFF, S1)
    return r0, j0, ph


@triton.jit
def _tile_matrix(
    h_ptr,
    T: tl.constexpr,
    REV: tl.constexpr,
    scale,
    lo,
    lj,
    A: tl.constexpr,
    B: tl.constexpr,
    ph,
    TRANS: tl.constexpr,
    DOT_DTYPE: tl.constexpr,
):
    # P[lo, lj] = scale · h[lo·A − lj·B + T − 1 − ph] (taps read reversed if REV), zero outside
    # the taps; returned as [len(lj), len(lo)] when TRANS.
    if TRANS:
        idx = lo[None, :] * A - lj[:, None] * B + (T - 1) - ph
    else:
        idx = lo[:, None] * A - lj[None, :] * B + (T - 1) - ph
    valid = (idx >= 0) & (idx < T)
    if REV:
        idx = (T - 1) - idx
    taps = tl.load(h_ptr + idx, mask=valid, other=0.0)
    return (taps * scale).to(DOT_DTYPE)


@triton.jit
def _stacked_matrix(
    h_ptr,
    T: tl.constexpr,
    REV: tl.constexpr,
    scale,
    NLO: tl.constexpr,
    NLJ: tl.constexpr,
    A: tl.constexpr,
    B: tl.constexpr,
    ph,
    TRANS: tl.constexpr,
    DOT_DTYPE: tl.constexpr,
    R: tl.constexpr,
    RP: tl.constexpr,
):
    # The R terms' tile matrices of ``_tile_matrix`` side by side, term k in column block k
    # (RP >= R blocks, a power of two; the blocks k >= R are zero): [NLO, RP·NLJ], or when
    # TRANS [NLJ, RP·NLO] (each block transposed).
    if TRANS:
        c = tl.arange(0, RP * NLO)
        k = c // NLO
        idx = (c % NLO)[None, :] * A - tl.arange(0, NLJ)[:, None] * B + (T - 1) - ph
    else:
        c = tl.arange(0, RP * NLJ)
        k = c // NLJ
        idx = tl.arange(0, NLO)[:, None] * A - (c % NLJ)[None, :] * B + (T - 1) - ph
    valid = (idx >= 0) & (idx < T) & (k < R)[None, :]
    if REV:
        idx = (T - 1) - idx
    taps = tl.load(h_ptr + k[None, :] * T + idx, mask=valid, other=0.0)
    return (taps * scale).to(DOT_DTYPE)


@triton.jit
def _stacked(
    src,
    py_all,
    px_all,
    acc,
    NS: tl.constexpr,
    ND: tl.constexpr,
    RP: tl.constexpr,
    DOT_DTYPE: tl.constexpr,
    PREC: tl.constexpr,
):
    # acc + Σ_k py_k · src · px_k in two products instead of 2·R dependent ones: t = src ·
    # [px_0 | px_1 | …] is [NS, RP·ND]; its column blocks restacked as row blocks give
    # [RP·NS, ND], and [py_0 | py_1 | …] ([ND, RP·NS]) times that sums over the terms.
    t = tl.dot(src, px_all, input_precision=PREC)
    t = tl.permute(tl.reshape(t, (NS, RP, ND)), (1, 0, 2))
    t = tl.reshape(t, (RP * NS, ND))
    return tl.dot(py_all, t.to(DOT_DTYPE), acc, input_precision=PREC)


@triton.jit
def _load_source(ptrs, inside, bias_val, HAS_BIAS: tl.constexpr, DOT_DTYPE: tl.constexpr):
    # Source samples as dot operands: outside the plane the zero padding, and the bias added to
    # real samples only (before the zero insertion, as the op is defined).
    src = tl.load(ptrs, mask=inside, other=0.0).to(tl.float32)
    if HAS_BIAS:
        src = tl.where(inside, src + bias_val, 0.0)
    return src.to(DOT_DTYPE)


@triton.jit
def _separable(src, py, px, acc, DOT_DTYPE: tl.constexpr, PREC: tl.constexpr):
    # acc + py · src · px, both products on tensor cores with fp32 accumulation.
    t = tl.dot(src, px, input_precision=PREC)
    return tl.dot(py, t.to(DOT_DTYPE), acc, input_precision=PREC)


@triton.jit
def _stage1_term(src, py, px, acc, YFIRST: tl.constexpr, DOT_DTYPE: tl.constexpr,
                 PREC: tl.constexpr):  # fmt: skip
    # ``_separable``, or with YFIRST the same sum with the y product first: the source is then
    # the second operand (on sm_90 it goes from the load to shared memory once, where wgmma
    # reads it) and ``py · src`` the first operand of the x product, which wgmma takes from
    # registers.
    if YFIRST:
        t = tl.dot(py, src, input_precision=PREC)
        return tl.dot(t.to(DOT_DTYPE), px, acc, input_precision=PREC)
    else:
        return _separable(src, py, px, acc, DOT_DTYPE, PREC)


@triton.jit
def _fused_kernel(
    src_ptr,
    bias_ptr,
    dst_ptr,
    mask_ptr,
    dsum_ptr,
    h1y_ptr,
    h1x_ptr,
    h2y_ptr,
    h2x_ptr,
    scale1,
    scale2,
    PLANES,
    PPB,
    C,
    SH,
    SW,
    DH,
    DW,
    MH,
    MW,
    MROW,
    KRY,
    KVPY,
    OFFY,
    KRX,
    KVPX,
    OFFX,
    TILES_H,
    TILES_W,
    gain,
    slope,
    clamp,
    S1: tl.constexpr,
    S2: tl.constexpr,
    T1Y: tl.constexpr,
    T1X: tl.constexpr,
    T2Y: tl.constexpr,
    T2X: tl.constexpr,
    REV1: tl.constexpr,
    REV2: tl.constexpr,
    R1: tl.constexpr,
    R2: tl.constexpr,
    BI: tl.constexpr,
    BM: tl.constexpr,
    BO: tl.constexpr,
    TOV_H: tl.constexpr,
    TOV_W: tl.constexpr,
    MODE: tl.constexpr,
    HAS_BIAS: tl.constexpr,
    HAS_CLAMP: tl.constexpr,
    STORE_MASK: tl.constexpr,
    HAS_DSUM: tl.constexpr,
    DOT_DTYPE: tl.constexpr,
    PREC: tl.constexpr,
    VMASK: tl.constexpr = False,
    LEAN: tl.constexpr = False,
    RELOAD: tl.constexpr = False,
    STACK: tl.constexpr = False,
    YFIRST: tl.constexpr = False,
    FOLD_BIAS: tl.constexpr = False,
    VEC2: tl.constexpr = False,
    RP1: tl.constexpr = 1,
    RP2: tl.constexpr = 1,
    IDENT2: tl.constexpr = False,
):
    # One program: one tile position, PPB consecutive planes (the tile matrices depend on the
    # tile position only, so they are loaded once and reused for every plane).
    #
    # Variants (``_launch.VARIANTS``; all compute the same result):
    # VMASK (backward only): the intermediate tile starts at the mask byte boundary at or below
    #   its natural start (the shift ``dx`` enters the stage-2 x matrix as the phase −dx), so the
    #   mask is read as [BM, BM/4] bytes, each sample tested in its byte against a per-column
    #   bit, instead of a per-sample gather with [BM, BM] offset/shift/bounds tensors live
    #   across the plane loop; the samples the tile does not need read as clipped.
    # LEAN: 2D bounds masks are applied as nested selects on 1D predicates (no [BM, BM] boolean
    #   tensor to keep live; in the backward only without VMASK), the source is loaded from
    #   clamped indices without a mask.
    # RELOAD: the tile matrices are gathered again for every plane (from the L1-resident taps)
    #   instead of being kept live across the loop.
    # STACK (multi-term stages only): a stage with R > 1 separable terms runs as two products
    #   over all terms at once (``_stacked``, the terms padded to RP, a power of two) instead
    #   of a loop of 2·R dependent products; its stacked matrices are gathered per plane.
    # YFIRST: stage 1's products in the other order (``_stage1_term``).
    # FOLD_BIAS (YFIRST forward, one stage-1 term): the source is used as loaded (zero outside
    #   the plane) and the bias is added between the two products: the zero padding is the
    #   outer product of the per-axis in-plane masks, so
    #   ``P1y · (src + bias·iny ⊗ inx) · P1xᵀ = (P1y · src + bias · by ⊗ inx) · P1xᵀ`` with
    #   ``by = P1y · iny``. The source then goes from the load into the product unchanged,
    #   and the term is added in the first product's accumulator layout (added after the
    #   second product instead, the compiler moved it into that product's accumulator through a
    #   16 KiB shared-memory shuffle per plane: sm_90 compile).
    # VEC2 (rows of even length, not with LEAN): the source tile starts at the even sample at
    #   or below its natural start (the shift enters stage 1's x matrix as its phase, and the
    #   planner leaves a column for it), and the row length is written as twice its half, so
    #   that the compiler knows every pair of source samples is 4-byte aligned and reads them
    #   with one load instead of two.
    # IDENT2 (backward only): no stage 2; the destination is the intermediate grid itself
    #   (S2 = 1, BO = BM, KRX = 0 and W tile strides that are multiples of 4, so the intermediate
    #   tile starts on a mask byte without VMASK's shift). The first half of the split backward
    #   (``_launch.split_backward``): the upfirdn2d kernel then applies the up stage's transpose.
    tl.static_assert(not IDENT2 or (MODE == 1 and S2 == 1 and BO == BM and R2 == 1))
    if VEC2:
        SW = (SW // 2) * 2
    if IDENT2:
        # The launcher gives the destination an even row length (and tiles start at multiples
        # of 4), so the stored rows go out as 4-byte pairs.
        DW = (DW // 2) * 2
    pid = tl.program_id(0)
    n_tiles = TILES_H * TILES_W
    tile = pid % n_tiles
    group = pid // n_tiles
    ty = tile // TILES_W
    tx = tile % TILES_W
    o0y = ty * TOV_H
    o0x = tx * TOV_W
    r0y, j0y, phy = _tile_start(o0y, KRY, KVPY, OFFY, S1, S2)
    r0x = o0x * S2 + KRX
    if VMASK and not IDENT2:
        # ((r % 4) + 4) % 4 is the floor remainder under both C and floor semantics.
        dx = ((r0x % 4) + 4) % 4
        r0x = r0x - dx
    else:
        dx = 0
    j0x, phx = _source_start(r0x, KVPX, OFFX, S1)
    if VEC2:
        ex = ((j0x % 2) + 2) % 2  # the floor remainder under both C and floor semantics
        j0x = ((j0x - ex) // 2) * 2  # an exact division
        phx = phx - ex * S1

    ai = tl.arange(0, BI)
    am = tl.arange(0, BM)
    ao = tl.arange(0, BO)
    jy = j0y + ai
    jx = j0x + ai
    # Source samples outside the plane are the zero padding.
    iny = (jy >= 0) & (jy < SH)
    inx = (jx >= 0) & (jx < SW)
    if LEAN:
        jyc = tl.minimum(tl.maximum(jy, 0), SH - 1)
        jxc = tl.minimum(tl.maximum(jx, 0), SW - 1)
        soffs = jyc[:, None] * SW + jxc[None, :]
    else:
        smask = iny[:, None] & inx[None, :]
        soffs = jy[:, None] * SW + jx[None, :]

    if not RELOAD:
        p1y0 = _tile_matrix(h1y_ptr, T1Y, REV1, scale1, am, ai, 1, S1, phy, False, DOT_DTYPE)
        p1x0 = _tile_matrix(h1x_ptr, T1X, REV1, scale1, am, ai, 1, S1, phx, True, DOT_DTYPE)
        if not IDENT2:
            q2y0 = _tile_matrix(h2y_ptr, T2Y, REV2, scale2, ao, am, S2, 1, 0, False, DOT_DTYPE)
            q2x0 = _tile_matrix(h2x_ptr, T2X, REV2, scale2, ao, am, S2, 1, -dx, True, DOT_DTYPE)

    if FOLD_BIAS:
        # The y tile matrix as the product sees it (rounded to the operand dtype).
        f1y = _tile_matrix(h1y_ptr, T1Y, REV1, scale1, am, ai, 1, S1, phy, False, DOT_DTYPE)
        by = tl.sum(tl.where(iny[None, :], f1y.to(tl.float32), 0.0), axis=1)
        inx_f = inx.to(tl.float32)

    # Intermediate samples this tile needs; the rest of the block is zeroed so that nothing
    # (not even an overflow in a truncated sum) leaks into stage 2.
    tm_y = (TOV_H - 1) * S2 + T2Y
    tm_x = (TOV_W - 1) * S2 + T2X
    ry = r0y + am
    rx = r0x + am
    need_y = am < tm_y
    need_x = (am >= dx) & (am < tm_x + dx)
    if MODE == 0:
        ab = tl.arange(0, BM // 4)
        # Owned span: the tile stride, or everything up to the end for the last tile.
        lim_y = tl.minimum(tl.where(ty == TILES_H - 1, BM, TOV_H * S2), tm_y)
        lim_x = tl.minimum(tl.where(tx == TILES_W - 1, BM, TOV_W * S2), tm_x)
        own_y = (am < lim_y) & (ry < MH)
        own_x = (ab * 4 < lim_x) & (r0x + ab * 4 < MW)
        own = own_y[:, None] & own_x[None, :]
        moffs = ry[:, None] * MROW + (r0x // 4 + ab)[None, :]
        shift = tl.arange(0, 4) * 2
    elif VMASK:
        ab = tl.arange(0, BM // 4)
        bx = r0x // 4 + ab  # r0x is a multiple of 4: exact under both division semantics
        moffs = ry[:, None] * MROW + bx[None, :]
        need_y = need_y & (ry >= 0) & (ry < MH)
        need_x = need_x & (rx >= 0) & (rx < MW)
        # Samples this tile does not need read as clipped (derivative 0, code 2 = 0b10): whole
        # rows and bytes from the load's `other` (0xAA: four clipped codes), the unneeded
        # columns of the remaining bytes from `force`, OR-ed into every byte. Their act is then
        # zeroed by the same select as the clipped samples, one select instead of two.
        mload = need_y[:, None] & ((bx >= 0) & (bx < MROW))[None, :]
        clip_bit = 2 << (tl.arange(0, 4) * 2)
        force = tl.sum(tl.where(tl.reshape(need_x, (BM // 4, 4)), 0, clip_bit[None, :]), axis=1)
        # Column am's code sits at bits 2·(am % 4) of byte am // 4 (r0x is a multiple of 4).
        pos_bit = 1 << ((am % 4) * 2)
    else:
        need_y = need_y & (ry >= 0) & (ry < MH)
        need_x = need_x & (rx >= 0) & (rx < MW)
        moffs = ry[:, None] * MROW + (rx >> 2)[None, :]
        mshift = ((rx & 3) * 2)[None, :]
        mload = need_y[:, None] & need_x[None, :]
    if not LEAN and not (MODE != 0 and VMASK):
        need = need_y[:, None] & need_x[None, :]

    oy = o0y + ao
    ox = o0x + ao
    omask = ((ao < TOV_H) & (oy < DH))[:, None] & ((ao < TOV_W) & (ox < DW))[None, :]
    doffs = oy[:, None] * DW + ox[None, :]

    p_end = tl.minimum(group * PPB + PPB, PLANES)
    # The plane's channel, stepped with the plane instead of a division per plane (≈ 20
    # instructions of a 32-bit remainder by a runtime divisor in the sm_90 loop).
    channel = (group * PPB) % C
    for plane in range(group * PPB, p_end):
        if RELOAD:
            p1y = _tile_matrix(h1y_ptr, T1Y, REV1, scale1, am, ai, 1, S1, phy, False, DOT_DTYPE)
            p1x = _tile_matrix(h1x_ptr, T1X, REV1, scale1, am, ai, 1, S1, phx, True, DOT_DTYPE)
            if not IDENT2:
                q2y = _tile_matrix(h2y_ptr, T2Y, REV2, scale2, ao, am, S2, 1, 0, False, DOT_DTYPE)
                q2x = _tile_matrix(h2x_ptr, T2X, REV2, scale2, ao, am, S2, 1, -dx, True, DOT_DTYPE)
        else:
            p1y = p1y0
            p1x = p1x0
            if not IDENT2:
                q2y = q2y0
                q2x = q2x0
        plane64 = tl.cast(plane, tl.int64)
        bias_val = 0.0
        if HAS_BIAS:
            bias_val = tl.load(bias_ptr + channel).to(tl.float32)
        if FOLD_BIAS and LEAN:
            src = tl.load(src_ptr + plane64 * SH * SW + soffs)
            src = tl.where(iny[:, None], tl.where(inx[None, :], src, 0.0), 0.0).to(DOT_DTYPE)
        elif FOLD_BIAS:
            src = tl.load(src_ptr + plane64 * SH * SW + soffs, mask=smask, other=0.0)
            src = src.to(DOT_DTYPE)
        elif LEAN:
            src = tl.load(src_ptr + plane64 * SH * SW + soffs).to(tl.float32)
            if HAS_BIAS:
                src = src + bias_val
            # The bias goes on real samples only, before the zero insertion.
            src = tl.where(iny[:, None], tl.where(inx[None, :], src, 0.0), 0.0)
            src = src.to(DOT_DTYPE)
        else:
            src = _load_source(src_ptr + plane64 * SH * SW + soffs, smask, bias_val, HAS_BIAS,
                               DOT_DTYPE)  # fmt: skip

        # Stage 1: mid = Σ_k P1y_k · src · P1x_k on the fine grid.
        mid = tl.zeros([BM, BM], dtype=tl.float32)
        if STACK and R1 > 1:
            p1ya = _stacked_matrix(
                h1y_ptr, T1Y, REV1, scale1, BM, BI, 1, S1, phy, False, DOT_DTYPE, R1, RP1
            )
            p1xa = _stacked_matrix(
                h1x_ptr, T1X, REV1, scale1, BM, BI, 1, S1, phx, True, DOT_DTYPE, R1, RP1
            )
            mid = _stacked(src, p1ya, p1xa, mid, BI, BM, RP1, DOT_DTYPE, PREC)
        elif FOLD_BIAS:
            t = tl.dot(p1y, src, input_precision=PREC)
            t = t + (bias_val * by)[:, None] * inx_f[None, :]
            mid = tl.dot(t.to(DOT_DTYPE), p1x, mid, input_precision=PREC)
        else:
            mid = _stage1_term(src, p1y, p1x, mid, YFIRST, DOT_DTYPE, PREC)
            # A runtime loop, not static_range: unrolled, the compiler hoists every term's
            # plane-invariant tile matrices out of the plane loop and spills them (sm_90 AOT:
            # 0.6-0.8 KiB per thread for config R's 3-5-term fd in fp32).
            for k in range(1, R1):
                p1yk = _tile_matrix(
                    h1y_ptr + k * T1Y, T1Y, REV1, scale1, am, ai, 1, S1, phy, False, DOT_DTYPE
                )
                p1xk = _tile_matrix(
                    h1x_ptr + k * T1X, T1X, REV1, scale1, am, ai, 1, S1, phx, True, DOT_DTYPE
                )
                mid = _stage1_term(src, p1yk, p1xk, mid, YFIRST, DOT_DTYPE, PREC)

        mask_base = mask_ptr + plane64 * MH * MROW
        if MODE == 0:
            act, code = _activate(mid, gain, slope, clamp, HAS_CLAMP)
            if STORE_MASK:
                # 4 consecutive W samples per byte, sample rx at bits 2·(rx & 3).
                quad = tl.reshape(code, (BM, BM // 4, 4))
                packed = tl.sum(quad << shift[None, None, :], axis=2)
                tl.store(mask_base + moffs, packed.to(tl.uint8), mask=own)
        elif VMASK:
            byte = tl.load(mask_base + moffs, mask=mload, other=0xAA).to(tl.int32)
            byte = byte | force[None, :]
            # Each sample's byte, tested with a per-column bit instead of shifted per sample:
            # 738 → 657 instructions per plane in the sm_90 backward loop (L8, b64_r168_yv;
            # benchmarks/gpu_ops_NOTES.md, "Session 14").
            code = tl.reshape(tl.broadcast_to(byte[:, :, None], (BM, BM // 4, 4)), (BM, BM))
            act = _derivative_times(mid, (code & pos_bit[None, :]) != 0,
                                    (code & (pos_bit << 1)[None, :]) != 0, gain, slope)  # fmt: skip
        else:
            byte = tl.load(mask_base + moffs, mask=mload, other=0)
            bits = (byte.to(tl.int32) >> mshift) & 3
            act = _derivative_times(mid, (bits & 1) != 0, (bits & 2) != 0, gain, slope)
        if MODE != 0 and VMASK:
            pass  # the unneeded samples were zeroed with the clipped ones
        elif LEAN:
            act = tl.where(need_y[:, None], tl.where(need_x[None, :], act, 0.0), 0.0)
        else:
            act = tl.where(need, act, 0.0)

        # Stage 2: dst = Σ_k Q2y_k · act · Q2x_k.
        if IDENT2:
            out = act
        elif STACK and R2 > 1:
            act = act.to(DOT_DTYPE)
            out = tl.zeros([BO, BO], dtype=tl.float32)
            q2ya = _stacked_matrix(
                h2y_ptr, T2Y, REV2, scale2, BO, BM, S2, 1, 0, False, DOT_DTYPE, R2, RP2
            )
            q2xa = _stacked_matrix(
                h2x_ptr, T2X, REV2, scale2, BO, BM, S2, 1, -dx, True, DOT_DTYPE, R2, RP2
            )
            out = _stacked(act, q2ya, q2xa, out, BM, BO, RP2, DOT_DTYPE, PREC)
        else:
            act = act.to(DOT_DTYPE)
            out = tl.zeros([BO, BO], dtype=tl.float32)
            out = _separable(act, q2y, q2x, out, DOT_DTYPE, PREC)
            for k in range(1, R2):
                q2yk = _tile_matrix(
                    h2y_ptr + k * T2Y, T2Y, REV2, scale2, ao, am, S2, 1, 0, False, DOT_DTYPE
                )
                q2xk = _tile_matrix(
                    h2x_ptr + k * T2X, T2X, REV2, scale2, ao, am, S2, 1, -dx, True, DOT_DTYPE
                )
                out = _separable(act, q2yk, q2xk, out, DOT_DTYPE, PREC)
        dst = dst_ptr + plane64 * DH * DW + doffs
        tl.store(dst, out.to(dst_ptr.dtype.element_ty), mask=omask)
        if HAS_DSUM:
            # Sum of the fp32 result before rounding (the bias gradient): summing the rounded
            # fp16/bf16 gradient instead loses digits to cancellation. One partial per (plane,
            # tile), reduced by the launcher in a fixed order: atomic adds would make the bias
            # gradient differ between identical runs.
            part = tl.sum(tl.sum(tl.where(omask, out, 0.0), axis=1), axis=0)
            tl.store(dsum_ptr + plane64 * n_tiles + tile, part)
        channel = tl.where(channel == C - 1, 0, channel + 1)


@triton.jit
def _activate(mid, gain, slope, clamp, HAS_CLAMP: tl.constexpr):
    # Forward epilogue: gain · leaky ReLU, then the clamp; the 2-bit mask code per sample
    # (bit 0: positive, bit 1: clamped) that the backward reads.
    pos = mid > 0.0
    # One multiply by the branch's gain (gain·slope for negatives; equal to the leaky ReLU
    # times gain up to rounding), and one absolute-value compare for the clamp instead of two
    # compares and an or: 1 245 → 1 045 instructions per plane in the sm_90 forward loop
    # (benchmarks/gpu_ops_NOTES.md, "Session 13").
    act = mid * tl.where(pos, gain, gain * slope)
    code = pos.to(tl.int32)
    if HAS_CLAMP:
        # Ties count as clipped (derivative 0 at |act| = clamp), as on the reference path,
        # which keeps only the clamped output and cannot tell a tie from a clipped value.
        clipped = tl.abs(act) >= clamp
        # NaN stays NaN: a plain min/max would turn it into -clamp and hide an overflow. (The
        # enum inline: Triton 3.6 cannot bind it to a local name.)
        act = tl.maximum(act, -clamp, propagate_nan=tl.PropagateNan.ALL)
        act = tl.minimum(act, clamp, propagate_nan=tl.PropagateNan.ALL)
        code = code | (clipped.to(tl.int32) << 1)
    return act, code


@triton.jit
def _derivative_times(mid, pos, clipped, gain, slope):
    # Backward epilogue: the incoming gradient times the forward epilogue's derivative: 0 where
    # clipped, else gain or gain·slope by the code's positive bit. The zero comes from a select
    # on the gradient, not from a multiply by 0, so an infinite gradient at a clipped sample
    # gives 0 (as torch's hardtanh_backward on the reference path) instead of NaN; and the
    # select is on the float32 gradient before the multiply, where the compiler keeps it (a
    # select on the product was moved past the conversion to the dot dtype: one per 16-bit
    # half).
    return tl.where(clipped, 0.0, mid) * tl.where(pos, gain, gain * slope)


@triton.jit
def _single_kernel(
    src_ptr,
    dst_ptr,
    dsum_ptr,
    hy_ptr,
    hx_ptr,
    PLANES,
    PPB,
    SH,
    SW,
    DH,
    DW,
    KVPY,
    OFFY,
    KVPX,
    OFFX,
    TILES_H,
    TILES_W,
    gain,
    A: tl.constexpr,
    B: tl.constexpr,
    TY: tl.constexpr,
    TX: tl.constexpr,
    REV: tl.constexpr,
    R: tl.constexpr,
    BI: tl.constexpr,
    BO: tl.constexpr,
    TOV_H: tl.constexpr,
    TOV_W: tl.constexpr,
    DOT_DTYPE: tl.constexpr,
    PREC: tl.constexpr,
    HAS_DSUM: tl.constexpr = False,
    VEC: tl.constexpr = 1,
):
    # VEC (2 or 4; rows whose length is a multiple of VEC): the source tile starts at the
    # multiple of VEC at or below its natural start (the shift enters the x matrix as its
    # phase; the planner leaves VEC − 1 more source columns), and the row length is written as
    # a multiple of VEC, so that the compiler reads VEC samples with one load.
    if VEC > 1:
        SW = (SW // VEC) * VEC
    pid = tl.program_id(0)
    n_tiles = TILES_H * TILES_W
    tile = pid % n_tiles
    group = pid // n_tiles
    ty = tile // TILES_W
    tx = tile % TILES_W
    o0y = ty * TOV_H
    o0x = tx * TOV_W
    _, j0y, phy = _tile_start(o0y, 0, KVPY, OFFY, B, A)
    _, j0x, phx = _tile_start(o0x, 0, KVPX, OFFX, B, A)
    if VEC > 1:
        ex = ((j0x % VEC) + VEC) % VEC  # the floor remainder under both division semantics
        j0x = ((j0x - ex) // VEC) * VEC  # an exact division
        phx = phx - ex * B

    ai = tl.arange(0, BI)
    ao = tl.arange(0, BO)
    jy = j0y + ai
    jx = j0x + ai
    smask = ((jy >= 0) & (jy < SH))[:, None] & ((jx >= 0) & (jx < SW))[None, :]
    soffs = jy[:, None] * SW + jx[None, :]
    py = _tile_matrix(hy_ptr, TY, REV, 1.0, ao, ai, A, B, phy, False, DOT_DTYPE)
    px = _tile_matrix(hx_ptr, TX, REV, 1.0, ao, ai, A, B, phx, True, DOT_DTYPE)
    oy = o0y + ao
    ox = o0x + ao
    omask = ((ao < TOV_H) & (oy < DH))[:, None] & ((ao < TOV_W) & (ox < DW))[None, :]
    doffs = oy[:, None] * DW + ox[None, :]

    p_end = tl.minimum(group * PPB + PPB, PLANES)
    for plane in range(group * PPB, p_end):
        plane64 = tl.cast(plane, tl.int64)
        src = tl.load(src_ptr + plane64 * SH * SW + soffs, mask=smask, other=0.0)
        src = src.to(DOT_DTYPE)
        out = _separable(src, py, px, tl.zeros([BO, BO], dtype=tl.float32), DOT_DTYPE, PREC)
        for k in tl.static_range(1, R):
            pyk = _tile_matrix(hy_ptr + k * TY, TY, REV, 1.0, ao, ai, A, B, phy, False, DOT_DTYPE)
            pxk = _tile_matrix(hx_ptr + k * TX, TX, REV, 1.0, ao, ai, A, B, phx, True, DOT_DTYPE)
            out = _separable(src, pyk, pxk, out, DOT_DTYPE, PREC)
        out = out * gain
        tl.store(dst_ptr + plane64 * DH * DW + doffs, out.to(dst_ptr.dtype.element_ty), mask=omask)
        if HAS_DSUM:
            # As in ``_fused_kernel``: one fp32 partial per (plane, tile) of the unrounded result.
            part = tl.sum(tl.sum(tl.where(omask, out, 0.0), axis=1), axis=0)
            tl.store(dsum_ptr + plane64 * n_tiles + tile, part)
