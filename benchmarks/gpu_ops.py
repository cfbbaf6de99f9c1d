"""GPU check and benchmark of the Triton ``filtered_lrelu`` / ``upfirdn2d`` (REFERENCE §4, §6).

    python benchmarks/gpu_ops.py            # the full run (~3-6 min on one H100/H200)
    python benchmarks/gpu_ops.py --quick    # correctness + the three §6 shapes only
    python benchmarks/gpu_ops.py --compare  # kernel variants against each other (~100 s)
    TRITON_INTERPRET=1 python benchmarks/gpu_ops.py --cpu-smoke   # script check, tiny shapes
    TRITON_INTERPRET=1 python benchmarks/gpu_ops.py --compare --cpu-smoke
    python benchmarks/gpu_ops.py --regs [VARIANT,...]  # no GPU: sm_90 registers/spills

``--compare`` (one process, for a short device session): for the three §6 shapes and a config-R
layer in fp16 (with a few fp32 rows on one shape after the first two variants) it runs every
kernel variant of ``gan.ops._triton._launch.VARIANTS`` listed in
``COMPARE_VARIANTS``, checks its forward, dx and db against the first variant's (relative
error), times forward and forward+backward (``do_bench`` median, few repeats), records the
compiled kernels' registers/spills, prints a table and writes ``$OUT/gpu_ops_compare.json``
after every case (so a killed run still leaves its numbers), and ``$OUT/best_variant.txt``
(the ranking so far, when it names a variant other than the half-precision default, faster
than it by more than ``OVERRIDE_MARGIN`` (2 %), and rests on at least two complete variants).
Every case is isolated (a compile failure or ``OutOfResources`` is recorded, the run goes on; a
sticky CUDA error such as an illegal address ends the comparison with what it has, exit status
1); no case starts after ``GPU_OPS_BUDGET_S`` seconds (default 100) from the start of the
process.

``--regs`` needs no GPU (nor ``TRITON_INTERPRET``): it compiles the fused kernels of the §6
shapes (fp16) for sm_90 ahead of time, exactly as the launcher would launch them, and prints
registers per thread, stack bytes (spills) and shared memory from the cubin
(``cuobjdump -res-usage``, bundled with Triton); a quick check of a kernel change before a GPU run.

Sections (each case is isolated: a failure is recorded and the run goes on):

1. correctness on the GPU: Triton vs the plain-PyTorch reference path (``gan.ops.reference``),
   both against the reference path run in float64 on the GPU; fp32 (three ``tl.dot``
   precisions), fp16, bf16; forward, dx, db; relative error ``‖out − ref‖ / ‖ref‖``;
2. device-to-device copy bandwidth (the memory floor's denominator);
3. timings (``triton.testing.do_bench``, median) of forward and forward+backward for the
   config-T layer shapes of REFERENCE §4 (res 256, batch 16) in fp16 and fp32, 12-tap (factor 2)
   and 24-tap (factor 4) Kaiser filters, paddings from REFERENCE §3 so the output is the
   layer's size; first-call (JIT) time, peak memory, bytes moved, GB/s, memory floor, speed-up
   over the reference path, ratio to the §6 figures;
4. a few alternative tile plans for one shape (tuning data).

Prints a compact table at the end; with ``OUT`` set, writes every number to
``$OUT/gpu_ops.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import torch
from _out import write_out_json

T_PROCESS = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# §6: the reference implementation's CUDA kernels, fwd+bwd ms on one H100, and our goals.
TARGETS = {
    "L6 84->148 up4": (7.6, 5.0),
    "L8 148->148 up2": (7.7, 5.1),
    "L12 276->276 up2": (5.6, 3.7),
}
TIME_BUDGET_S = float(os.environ.get("GPU_OPS_BUDGET_S", "330"))

# (name, C, size_in, size_out, up, down, radial fd) -- REFERENCE §3, config T, res 256.
LAYERS = [
    ("L1 36->36 up2", 512, 36, 36, 2, 2, False),
    ("L3 36->52 up4", 512, 36, 52, 4, 2, False),
    ("L4 52->52 up2", 512, 52, 52, 2, 2, False),
    ("L5 52->84 up4", 512, 52, 84, 4, 2, False),
    ("L6 84->148 up4", 512, 84, 148, 4, 2, False),
    ("L8 148->148 up2", 512, 148, 148, 2, 2, False),
    ("L9 148->148 up2", 362, 148, 148, 2, 2, False),
    ("L10 148->276 up4", 256, 148, 276, 4, 2, False),
    ("L11 276->276 up2", 181, 276, 276, 2, 2, False),
    ("L12 276->276 up2", 128, 276, 276, 2, 2, False),
    ("R 52->52 up2 radial", 512, 52, 52, 2, 2, True),
    # Config R's radial (jinc) fd at the size of L8 (the op only; config R's 1x1 convs would
    # make the input 148 instead of 150).
    ("R 148->148 up2 radial", 512, 148, 148, 2, 2, True),
]
QUICK = {"L1 36->36 up2", "L6 84->148 up4", "L8 148->148 up2", "L12 276->276 up2"}


def log(msg: str) -> None:
    print(msg, flush=True)


def padding_for(size_in: int, size_out: int, up: int, down: int, tu: int, td: int, k: int = 3):
    """REFERENCE §3: padding of the upsampled signal so the output has ``size_out`` samples
    (the op's input is ``size_in + k − 1`` after the layer's convolution)."""
    total = (size_out - 1) * down + 1 - (size_in + k - 1) * up + tu + td - 2
    lo = (total + up) // 2
    hi = total - lo
    return (lo, hi, lo, hi)


def kaiser_lowpass(numtaps: int, cutoff: float, width: float, fs: float) -> np.ndarray:
    import scipy.signal

    if numtaps == 1:
        return np.ones(1)
    return scipy.signal.firwin(numtaps, cutoff, width=width, fs=fs)


def radial_lowpass(numtaps: int, cutoff: float, width: float, fs: float) -> np.ndarray:
    """REFERENCE §2 jinc design (used only to exercise the 2D path)."""
    import scipy.signal
    import scipy.special

    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = np.hypot(x[:, None], x[None, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        f = scipy.special.j1(2 * np.pi * cutoff * r) / (np.pi * r)
    f[r == 0] = cutoff
    atten = scipy.signal.kaiser_atten(numtaps, width / (fs / 2))
    w = np.kaiser(numtaps, scipy.signal.kaiser_beta(atten))
    f = f * np.outer(w, w)
    return f / f.sum()


def layer_filters(up: int, down: int, radial: bool, device):
    """Up/down Kaiser low-passes with 6 taps per unit of factor, rates relative to the input."""
    mid = float(up)
    out_rate = up / down
    fu = kaiser_lowpass(6 * up, 0.45, 0.3, mid) if up > 1 else np.ones(1)
    cut = 0.45 * min(1.0, out_rate)
    if down == 1:
        fd = np.ones(1)
    elif radial:
        fd = radial_lowpass(6 * down, cut, 0.3 * min(1.0, out_rate), mid)
    else:
        fd = kaiser_lowpass(6 * down, cut, 0.3 * min(1.0, out_rate), mid)
    as_t = lambda a: torch.tensor(a, dtype=torch.float32, device=device)  # noqa: E731
    return as_t(fu), as_t(fd)


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).norm() / b.norm().clamp_min(1e-300))


class Ops:
    """The two backends with normalised arguments (see gan.ops._triton's contract)."""

    def __init__(self):
        from gan.ops import _triton

        self.tri = _triton
        try:
            from gan.ops import reference

            self.ref = reference
            self.ref_name = "gan.ops.reference"
        except Exception as exc:  # the reference path is someone else's module: stay usable
            log(f"! gan.ops.reference not importable ({exc}); using the local composition")
            self.ref = _LocalReference()
            self.ref_name = "benchmarks/gpu_ops.py composition"

    def tri_flrelu(self, x, fu, fd, b, up, down, pad, gain, slope, clamp, prec="tf32x3", tune=None):
        return self.tri.filtered_lrelu(
            x, fu, fd, b, up, down, pad, gain, slope, clamp, False,
            fp32_precision=prec, _tune=tune,
        )  # fmt: skip

    def ref_flrelu(self, x, fu, fd, b, up, down, pad, gain, slope, clamp):
        if x.dtype == torch.float64:
            fu, fd = fu.double(), fd.double()
            b = None if b is None else b.double()
        return self.ref.filtered_lrelu(x, fu, fd, b, up, down, pad, gain, slope, clamp, False)

    def tri_upfirdn(self, x, f, up, down, pad, gain, prec="tf32x3"):
        return self.tri.upfirdn2d(x, f, up, down, pad, gain, False, fp32_precision=prec)

    def ref_upfirdn(self, x, f, up, down, pad, gain):
        if x.dtype == torch.float64:
            f = f.double()
        return self.ref.upfirdn2d(x, f, up, down, pad, gain, False)


class _LocalReference:
    """Plain-PyTorch fallback: zero insertion, padding, grouped conv2d (separable passes)."""

    @staticmethod
    def upfirdn2d(x, f, up, down, pad, gain, flip):
        import torch.nn.functional as F

        n, c, h, w = x.shape
        f = f.to(x.dtype)
        u = x.new_zeros(n, c, h * up, w * up)
        u[:, :, ::up, ::up] = x
        u = F.pad(u, list(pad))
        k = f if flip else f.flip(-1) if f.ndim == 1 else f.flip((0, 1))
        if f.ndim == 1:
            t = f.numel()
            u = F.conv2d(u, k.view(1, 1, 1, t).expand(c, 1, 1, t), groups=c)
            u = F.conv2d(u, k.view(1, 1, t, 1).expand(c, 1, t, 1), groups=c)
        else:
            u = F.conv2d(u, k.expand(c, 1, *k.shape), groups=c)
        return u[:, :, ::down, ::down] * gain

    def filtered_lrelu(self, x, fu, fd, b, up, down, pad, gain, slope, clamp, flip):
        if b is not None:
            x = x + b.to(x.dtype).view(1, -1, 1, 1)
        y = self.upfirdn2d(x, fu, up, 1, pad, up * up, flip)
        y = torch.nn.functional.leaky_relu(y, slope) * gain
        if clamp is not None:
            y = y.clamp(-clamp, clamp)
        return self.upfirdn2d(y, fd, 1, down, (0, 0, 0, 0), 1.0, flip)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench(fn, device, grad_to_none=None, rep=60):
    if device.type == "cuda":
        import triton.testing

        return float(
            triton.testing.do_bench(
                fn, warmup=10, rep=rep, grad_to_none=grad_to_none, return_mode="median"
            )
        )
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times))


# ---------------------------------------------------------------------------------------------
# 1. correctness


def correctness(ops, device, smoke):
    rows = []
    shapes = [
        ("flrelu up2/down2", (4, 64, 54, 54), 2, 2, 0.0, False),
        ("flrelu up4/down2 clamp", (4, 64, 38, 38), 4, 2, 0.8, False),
        ("flrelu up2/down2 radial fd", (2, 32, 54, 54), 2, 2, 0.0, True),
    ]
    if smoke:
        shapes = [(n, (1, 2, 10, 10), u, d, c, r) for n, _, u, d, c, r in shapes]
    variants = [
        (torch.float32, "tf32x3"),
        (torch.float32, "ieee"),
        (torch.float32, "tf32"),
        (torch.float16, None),
        (torch.bfloat16, None),
    ]
    gen = torch.Generator().manual_seed(0)
    for name, shape, up, down, clamp_rel, radial in shapes:
        fu, fd = layer_filters(up, down, radial, device)
        size = shape[2] - 2
        pad = padding_for(size, size if up == 2 else (size - 2) * 2 + 2, up, down,
                          fu.shape[0], fd.shape[0])  # fmt: skip
        x0 = torch.randn(shape, generator=gen).to(device)
        b0 = (0.2 * torch.randn(shape[1], generator=gen)).to(device)
        x64 = x0.double().requires_grad_()
        b64 = b0.double().requires_grad_()
        clamp = None
        try:
            y64 = ops.ref_flrelu(x64, fu, fd, b64, up, down, pad, 2**0.5, 0.2, None)
            if clamp_rel:
                clamp = float(clamp_rel * y64.abs().max())
                y64 = ops.ref_flrelu(x64, fu, fd, b64, up, down, pad, 2**0.5, 0.2, clamp)
            g = torch.randn(y64.shape, generator=gen).to(device)
            dx64, db64 = torch.autograd.grad(y64, (x64, b64), g.double())
        except Exception as exc:
            rows.append({"case": name, "error": f"float64 reference failed: {exc!r}"})
            continue
        for dtype, prec in variants:
            for impl in ("triton", "ref"):
                if impl == "ref" and prec not in (None, "tf32x3"):
                    continue
                label = f"{name} {str(dtype)[6:]}{'' if prec is None else ' ' + prec} {impl}"
                try:
                    x = x0.to(dtype).requires_grad_()
                    b = b0.clone().requires_grad_()
                    if impl == "triton":
                        y = ops.tri_flrelu(x, fu, fd, b, up, down, pad, 2**0.5, 0.2, clamp,
                                           prec or "tf32x3")  # fmt: skip
                    else:
                        y = ops.ref_flrelu(x, fu, fd, b, up, down, pad, 2**0.5, 0.2, clamp)
                    dx, db = torch.autograd.grad(y, (x, b), g.to(dtype))
                    row = {
                        "case": label,
                        "key": f"flrelu {str(dtype)[6:]} {prec or ''} {impl}",
                        "fwd": rel(y, y64),
                        "dx": rel(dx, dx64),
                        "db": rel(db, db64),
                    }
                except Exception as exc:
                    row = {"case": label, "error": repr(exc)[:300]}
                rows.append(row)
                log(f"  {row}")
    # upfirdn2d: up2 and down2 (the generator's and discriminator's uses)
    for name, up, down in (("upfirdn2d up2", 2, 1), ("upfirdn2d down2", 1, 2)):
        f = layer_filters(max(up, down), 1, False, device)[0]
        shape = (1, 2, 12, 12) if smoke else (4, 64, 64, 64)
        pad = (6, 5, 6, 5) if up == 2 else (5, 5, 5, 5)
        x0 = torch.randn(shape, generator=gen).to(device)
        x64 = x0.double().requires_grad_()
        try:
            y64 = ops.ref_upfirdn(x64, f, up, down, pad, float(up * up))
            g = torch.randn(y64.shape, generator=gen).to(device)
            (dx64,) = torch.autograd.grad(y64, x64, g.double())
        except Exception as exc:
            rows.append({"case": name, "error": f"float64 reference failed: {exc!r}"})
            continue
        for dtype in (torch.float32, torch.float16, torch.bfloat16):
            label = f"{name} {str(dtype)[6:]} triton"
            try:
                x = x0.to(dtype).requires_grad_()
                y = ops.tri_upfirdn(x, f, up, down, pad, float(up * up))
                (dx,) = torch.autograd.grad(y, x, g.to(dtype))
                row = {
                    "case": label,
                    "key": f"upfirdn2d {str(dtype)[6:]} triton",
                    "fwd": rel(y, y64),
                    "dx": rel(dx, dx64),
                }
            except Exception as exc:
                row = {"case": label, "error": repr(exc)[:300]}
            rows.append(row)
            log(f"  {row}")
    return rows


# ---------------------------------------------------------------------------------------------
# 2. copy bandwidth


def copy_bandwidth(device, smoke):
    n = (1 << 20) if smoke else (1 << 29)  # 2 GiB of fp32 on the GPU
    a = torch.empty(n, dtype=torch.float32, device=device)
    b = torch.empty_like(a)
    ms = bench(lambda: b.copy_(a), device)
    return 2 * a.numel() * 4 / (ms * 1e-3)


# ---------------------------------------------------------------------------------------------
# 3. timings


def time_case(ops, device, layer, dtype, copy_bw, with_ref, smoke, tune=None):
    name, c, s_in, s_out, up, down, radial = layer
    n = 16
    if smoke:
        n, c = 1, 2
        s_in, s_out = min(s_in, 12), min(s_out, 12 if up == 2 else 20)
    fu, fd = layer_filters(up, down, radial, device)
    pad = padding_for(s_in, s_out, up, down, fu.shape[0], fd.shape[0])
    h = s_in + 2
    row = {
        "case": name,
        "dtype": str(dtype)[6:],
        "shape": [n, c, h, h],
        "up": up,
        "down": down,
        "taps": [fu.shape[0], list(fd.shape)],
        "padding": list(pad),
        "tune": tune,
    }
    gen = torch.Generator().manual_seed(1)
    x = torch.randn((n, c, h, h), generator=gen).to(device, dtype).requires_grad_()
    b = torch.zeros(c, device=device, requires_grad=True)
    clamp = 256.0 if dtype == torch.float16 else None

    def tri():
        return ops.tri_flrelu(x, fu, fd, b, up, down, pad, 2**0.5, 0.2, clamp, tune=tune)

    def ref():
        return ops.ref_flrelu(x, fu, fd, b, up, down, pad, 2**0.5, 0.2, clamp)

    # first call: JIT compile of forward and backward kernels (cached on disk afterwards)
    sync(device)
    t0 = time.perf_counter()
    y = tri()
    sync(device)
    row["first_fwd_s"] = time.perf_counter() - t0
    g = torch.randn_like(y)
    t0 = time.perf_counter()
    y.backward(g)
    sync(device)
    row["first_bwd_s"] = time.perf_counter() - t0
    row["out_shape"] = list(y.shape)
    del y
    x.grad = b.grad = None

    def fwd_bwd(fn):
        def run():
            fn().backward(g)

        return run

    base = torch.cuda.memory_allocated() if device.type == "cuda" else 0
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    fwd_bwd(tri)()
    if device.type == "cuda":
        row["peak_mib"] = (torch.cuda.max_memory_allocated() - base) / 2**20
    x.grad = b.grad = None
    row["fwd_ms"] = bench(tri, device, [x, b])
    row["fwdbwd_ms"] = bench(fwd_bwd(tri), device, [x, b])
    with torch.no_grad():
        row["fwd_nograd_ms"] = bench(tri, device)

    esize = x.element_size()
    n_in = x.numel()
    n_out = n * c * row["out_shape"][2] * row["out_shape"][3]
    mid_h = (row["out_shape"][2] - 1) * down + fd.shape[0]
    mid_w = (row["out_shape"][3] - 1) * down + fd.shape[-1]
    mask_bytes = n * c * mid_h * ((mid_w + 3) // 4)
    fwd_bytes = (n_in + n_out) * esize + mask_bytes
    bwd_bytes = (n_out + n_in) * esize + mask_bytes
    row["fwd_bytes"] = fwd_bytes
    row["fwd_GBps"] = fwd_bytes / (row["fwd_ms"] * 1e-3) / 1e9
    row["fwd_floor_ms"] = fwd_bytes / copy_bw * 1e3
    row["fwdbwd_floor_ms"] = (fwd_bytes + bwd_bytes) / copy_bw * 1e3
    up_elems = n * c * (h * up) ** 2  # samples on the upsampled grid
    # useful MACs: separable up filter (taps/up per output per axis) + down filter per output
    tu, td = fu.shape[0], fd.shape[0]
    macs = up_elems * (tu / up) * 2 / up + n_out * (down * mid_w / row["out_shape"][3]) * td
    row["fwd_useful_TFLOPs"] = 2 * macs / (row["fwd_ms"] * 1e-3) / 1e12

    if with_ref:
        try:
            x.grad = b.grad = None
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            fwd_bwd(ref)()
            if device.type == "cuda":
                row["ref_peak_mib"] = (torch.cuda.max_memory_allocated() - base) / 2**20
            x.grad = b.grad = None
            row["ref_fwd_ms"] = bench(ref, device, [x, b], rep=40)
            row["ref_fwdbwd_ms"] = bench(fwd_bwd(ref), device, [x, b], rep=40)
            row["speedup_vs_ref"] = row["ref_fwdbwd_ms"] / row["fwdbwd_ms"]
        except Exception as exc:
            row["ref_error"] = repr(exc)[:300]
    if name in TARGETS and dtype == torch.float16:
        cuda_ms, goal_ms = TARGETS[name]
        row["s6_cuda_ms"] = cuda_ms
        row["goal_ms"] = goal_ms
        row["vs_s6_cuda"] = cuda_ms / row["fwdbwd_ms"]
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="correctness + the §6 shapes only")
    ap.add_argument("--cpu-smoke", action="store_true", help="tiny shapes, checks the script")
    ap.add_argument("--no-ref", action="store_true", help="skip reference-path timings")
    ap.add_argument("--compare", action="store_true", help="kernel variants against each other")
    ap.add_argument(
        "--regs", nargs="?", const=",".join(COMPARE_VARIANTS), metavar="VARIANTS",
        help="no GPU: compile for sm_90, print registers/spills (comma-separated variants)",
    )  # fmt: skip
    args = ap.parse_args(argv)
    if args.regs:
        return regs_main(args.regs.split(","))
    t_start = time.perf_counter()
    smoke = args.cpu_smoke
    device = torch.device("cuda" if torch.cuda.is_available() and not smoke else "cpu")
    if device.type == "cpu" and not smoke:
        log("no CUDA device: run with --cpu-smoke (and TRITON_INTERPRET=1) to check the script")
        return 1
    if args.compare:
        return compare_main(device, smoke)
    import triton

    res = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu (interpreter)",
        "torch": torch.__version__,
        "triton": triton.__version__,
        "python": platform.python_version(),
        "errors": [],
    }
    log(f"# gpu_ops on {res['device']}, torch {res['torch']}, triton {res['triton']}")
    try:
        ops = Ops()
        res["reference_path"] = ops.ref_name
    except Exception as exc:
        log(f"! cannot import gan.ops._triton: {exc!r}")
        res["errors"].append(traceback.format_exc())
        _write(res)
        return 1

    log("## correctness (relative error vs float64 reference on the same device)")
    try:
        res["correctness"] = correctness(ops, device, smoke)
    except Exception:
        res["errors"].append(traceback.format_exc())
        log(res["errors"][-1])
    log(f"  [{time.perf_counter() - t_start:.0f} s]")

    try:
        res["copy_Bps"] = copy_bandwidth(device, smoke)
    except Exception:
        res["copy_Bps"] = 3.0e12
        res["errors"].append(traceback.format_exc())
    log(f"## device copy: {res['copy_Bps'] / 1e12:.2f} TB/s (read + write)")

    log("## timings")
    res["timings"] = []
    cases = []
    for layer in LAYERS:
        if args.quick and layer[0] not in QUICK:
            continue
        for dtype in (torch.float16, torch.float32):
            cases.append((layer, dtype))
    # the §6 shapes first, so they are measured even if the time budget runs out
    cases.sort(key=lambda c: (c[0][0] not in TARGETS, c[1] != torch.float16))
    for layer, dtype in cases:
        if time.perf_counter() - t_start > TIME_BUDGET_S:
            res["timings"].append({"case": layer[0], "dtype": str(dtype)[6:], "skipped": "time"})
            continue
        with_ref = not args.no_ref and (layer[0] in TARGETS or layer[0].startswith("L1 "))
        try:
            row = time_case(ops, device, layer, dtype, res["copy_Bps"], with_ref, smoke)
        except Exception as exc:
            row = {"case": layer[0], "dtype": str(dtype)[6:], "error": repr(exc)[:400]}
            res["errors"].append(traceback.format_exc())
        res["timings"].append(row)
        log("  " + json.dumps(row, default=_fmt))
        if device.type == "cuda":
            torch.cuda.empty_cache()

    log("## alternative launch settings (fp16; rel_vs_default checks the variant's output)")
    res["plans"] = []
    variants = [
        ("L8 148->148 up2", {"num_stages": 2}),
        ("L8 148->148 up2", {"num_warps": 4}),
        ("L8 148->148 up2", {"blocks": (32, 64)}),
        ("L6 84->148 up4", {"num_stages": 2}),
        ("L6 84->148 up4", {"blocks": (32, 64)}),
        ("L12 276->276 up2", {"num_stages": 2}),
    ]
    for name, tune in variants:
        if time.perf_counter() - t_start > TIME_BUDGET_S + 40:
            break
        layer = next(lay for lay in LAYERS if lay[0] == name)
        try:
            row = time_case(ops, device, layer, torch.float16, res["copy_Bps"], False, smoke, tune)
            row["rel_vs_default"] = variant_error(ops, device, layer, tune)
        except Exception as exc:
            row = {"case": name, "tune": tune, "error": repr(exc)[:300]}
        res["plans"].append(row)
        log("  " + json.dumps(row, default=_fmt))

    res["kernels"] = kernel_stats()
    for k in res["kernels"]:
        log(f"  {k}")
    res["total_s"] = time.perf_counter() - t_start
    _table(res)
    _write(res)
    return 0


def variant_error(ops, device, layer, tune):
    """Forward and input gradient of a launch variant against the default launch (fp16, a few
    planes of the layer's shape)."""
    name, c, s_in, s_out, up, down, radial = layer
    fu, fd = layer_filters(up, down, radial, device)
    pad = padding_for(s_in, s_out, up, down, fu.shape[0], fd.shape[0])
    gen = torch.Generator().manual_seed(2)
    x0 = torch.randn((2, 8, s_in + 2, s_in + 2), generator=gen).to(device, torch.float16)
    outs = []
    for t in (None, tune):
        x = x0.clone().requires_grad_()
        y = ops.tri_flrelu(x, fu, fd, None, up, down, pad, 2**0.5, 0.2, 256.0, tune=t)
        (dx,) = torch.autograd.grad(y, x, torch.ones_like(y))
        outs.append((y, dx))
    return max(rel(outs[1][0], outs[0][0]), rel(outs[1][1], outs[0][1]))


def _cubin_tool(cubin: bytes, tool: str, *args: str) -> tuple[str, str]:
    """(stdout, stderr) of one of the CUDA binary tools Triton ships (``cuobjdump``,
    ``nvdisasm``) run on a cubin; ('', reason) if it cannot run."""
    import subprocess
    import tempfile

    import triton

    exe = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / tool
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "k.cubin"
        path.write_bytes(cubin)
        try:
            done = subprocess.run([str(exe), *args, str(path)], capture_output=True, text=True)
        except OSError as exc:
            return "", repr(exc)
    return done.stdout, done.stderr


def _disassemble(cubin: bytes) -> str:
    """``nvdisasm -c`` of a cubin ('' if it cannot run)."""
    return _cubin_tool(cubin, "nvdisasm", "-c")[0]


def sass_counts(kernel) -> dict:
    """:func:`sass_loop_counts` of a compiled kernel (its ``asm["cubin"]``); {} when there is
    none (the interpreter) or it cannot be disassembled. Recorded beside each timed kernel, so
    that instructions and time come from the same compile."""
    try:
        cubin = kernel.asm["cubin"]
        counts = sass_loop_counts(_disassemble(cubin))
    except Exception:
        return {}
    return counts if counts["sass"] else {}


def kernel_stats(with_kernel: bool = False):
    """Registers, spills and shared memory of every compiled kernel variant (best effort: the
    cache layout is a Triton internal); with ``with_kernel``, the compiled kernel itself under
    ``"kernel_obj"``."""
    out = []
    try:
        from gan.ops._triton import _kernels

        for fn in (_kernels._fused_kernel, _kernels._single_kernel):
            for caches in getattr(fn, "device_caches", {}).values():
                for key, k in caches[0].items():
                    meta = getattr(k, "metadata", None)
                    out.append(
                        {
                            "kernel": fn.__name__,
                            "n_regs": getattr(k, "n_regs", None),
                            "n_spills": getattr(k, "n_spills", None),
                            "shared": getattr(meta, "shared", None),
                            "num_warps": getattr(meta, "num_warps", None),
                            "key": str(key)[-300:],
                            "key_hash": hash(str(key)),
                        }
                        | ({"kernel_obj": k} if with_kernel else {})
                    )
    except Exception as exc:
        out.append({"error": repr(exc)})
    return out


def _fmt(v):
    return float(v) if isinstance(v, (np.floating, float)) else str(v)


def _write(res, name="gpu_ops.json", quiet=False):
    path = write_out_json(name, res, default=_fmt)
    if path and not quiet:
        log(f"wrote {path}")


def _table(res):
    log("\n## summary (ms; fwd+bwd unless noted)")
    log(
        f"{'case':22s} {'dt':5s} {'fwd':>7s} {'f+b':>7s} {'ref f+b':>8s} {'x ref':>6s} "
        f"{'§6':>5s} {'goal':>5s} {'GB/s':>6s} {'floor':>6s} {'peakMiB':>8s} {'jit s':>6s}"
    )
    for r in res.get("timings", []):
        if "fwd_ms" not in r:
            log(f"{r['case']:22s} {r.get('dtype', ''):5s} {r.get('error', r.get('skipped'))}")
            continue

        def f(key, fmt="7.2f", r=r):
            v = r.get(key)
            return format(v, fmt) if isinstance(v, (int, float)) else "-"

        jit = r.get("first_fwd_s", 0) + r.get("first_bwd_s", 0)
        log(
            f"{r['case']:22s} {r['dtype']:5s} {f('fwd_ms')} {f('fwdbwd_ms')} "
            f"{f('ref_fwdbwd_ms', '8.2f')} {f('speedup_vs_ref', '6.2f')} {f('s6_cuda_ms', '5.1f')} "
            f"{f('goal_ms', '5.1f')} {f('fwd_GBps', '6.0f')} {f('fwdbwd_floor_ms', '6.2f')} "
            f"{f('peak_mib', '8.0f')} {jit:6.1f}"
        )
    bad = [r for r in res.get("correctness", []) if "error" in r]
    worst = {}
    for r in res.get("correctness", []):
        if "fwd" in r:
            key = r["key"]
            worst[key] = max(worst.get(key, 0.0), r["fwd"], r["dx"], r.get("db", 0.0))
    log("\n## worst relative error per dtype/precision/impl (fwd, dx, db)")
    for k, v in sorted(worst.items()):
        log(f"  {k:28s} {v:.2e}")
    for r in bad:
        log(f"  ERROR {r['case']}: {r['error']}")
    log(f"\n{len(res.get('errors', []))} errors; total {res.get('total_s', 0):.0f} s")


# ---------------------------------------------------------------------------------------------
# --compare: kernel variants (gan.ops._triton._launch.VARIANTS) against each other

COMPARE_VARIANTS = [
    "base",
    "b64_r168",
    "b64_r168_yv",
    "b64_r168_yvx",
    "b64_r168_yvs",
    "b64_r168_yvf",
    "b64_r168_stack",
    "b64_r168_free",
    "b64_r168_y",
    "b64_r128",
    "b64_w8",
    "lean_b64",
    "vmask_w8",
    "vmask",
    "lean",
    "vmask_w16",
]
"""In priority order: the budget cuts the tail. The first is the reference of the errors.
The H200 comparison of 2026-11-28 ranked b64_r168 first (the half-precision default since),
then vmask, then base; the row-slab variants (all slower, one of them an illegal memory access)
were removed. Next (session 13, no device; gpu_ops_NOTES.md): b64_r168 with stage 1's
products in the other order, the bias folded in and the source rows read as 4-byte pairs
(yv: 11–27 % fewer loop instructions per plane than b64_r168, 34 % per output in the L12
backward, whose plan it changes; sm_90 compile), yv with the up-4 backward split in two kernels
(yvx, session 15: L6's backward 0.64× yv's instructions per plane, plus a round trip of the
intermediate gradient through memory; its other three columns repeat yv's kernels), the same
with that load pipelined (yvs:
cp.async, two stages), yv with the multi-term kernels of config R's radial fd without the
register cap (yvf; session 14: radial loop 1 165 / 961 instructions, spills 72 / 0 B instead of
312 / 176), two variants that differ from b64_r168 only in those multi-term kernels (stacked
terms; the loop without the register cap), the y-first order alone (y), then the variants of
the same family not reached then, then vmask again.
(b64_r168_yve is left out: on these four shapes its kernels are yv's.)"""
COMPARE_SHAPES = ["L6 84->148 up4", "L8 148->148 up2", "L12 276->276 up2", "R 148->148 up2 radial"]
"""The three §6 shapes and one config-R layer (radial fd: 4 separable terms in fp16), whose kernels
the variants change differently (gpu_ops_NOTES.md, pass 4); the ranking sums all four."""
# fp32 rows: (layer, variant, fp32_precision).
COMPARE_FP32 = [
    ("L12 276->276 up2", "base", "tf32x3"),
    ("L12 276->276 up2", "b64_r168", "tf32x3"),
    ("L12 276->276 up2", "vmask", "tf32x3"),
    ("L12 276->276 up2", "base", "ieee"),
]
"""fp32 rows (run after the first two variants' fp16 rows): whether the half-precision default
(b64_r168) also beats base, the fp32 default, in fp32 (its register cap spills there in the
sm_90 compile)."""


def _process_age() -> float:
    """Seconds since this process started (Linux: from /proc, so that the interpreter start and
    the torch import count against the budget too); else since this module was imported."""
    try:
        start_ticks = float(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except Exception:
        return time.perf_counter() - T_PROCESS


class _Problem:
    """Inputs of one timed shape, kept for all variants (the same x, b, g for every one)."""

    def __init__(self, ops, device, layer, dtype, smoke):
        name, c, s_in, s_out, up, down, radial = layer
        n = 16
        if smoke:
            n, c = 1, 2
            s_in, s_out = min(s_in, 12), min(s_out, 12 if up == 2 else 20)
        self.ops, self.name, self.dtype = ops, name, dtype
        self.up, self.down = up, down
        self.fu, self.fd = layer_filters(up, down, radial, device)
        self.pad = padding_for(s_in, s_out, up, down, self.fu.shape[0], self.fd.shape[0])
        h = s_in + 2
        gen = torch.Generator().manual_seed(1)
        self.x = torch.randn((n, c, h, h), generator=gen).to(device, dtype).requires_grad_()
        self.b = (0.1 * torch.randn(c, generator=gen)).to(device).requires_grad_()
        self.clamp = 256.0 if dtype == torch.float16 else None
        self.g = None
        self.ref = None  # (y, dx, db) of the first variant run on this problem

    def run(self, tune, prec):
        p = self
        return p.ops.tri_flrelu(
            p.x, p.fu, p.fd, p.b, p.up, p.down, p.pad, 2**0.5, 0.2, p.clamp, prec, tune
        )


def compare_case(prob, device, variant, prec, smoke):
    """JIT + check + time one variant on one problem; returns the row."""
    tune = {"variant": variant}
    row = {"case": prob.name, "dtype": str(prob.dtype)[6:], "variant": variant, "prec": prec}
    row["shape"] = list(prob.x.shape)
    seen = {k["key_hash"] for k in kernel_stats() if "key_hash" in k}
    row["kernels"] = []

    def new_kernels(label):
        # Kernels compiled since the last look (none if the variant reuses a cached one).
        for ks in kernel_stats(with_kernel=True):
            if "key_hash" in ks and ks["key_hash"] not in seen:
                seen.add(ks["key_hash"])
                kept = {k: v for k, v in ks.items() if k not in ("key", "key_hash", "kernel_obj")}
                row["kernels"].append(kept | sass_counts(ks["kernel_obj"]) | {"dir": label})

    sync(device)
    t0 = time.perf_counter()
    y = prob.run(tune, prec)
    sync(device)
    row["first_fwd_s"] = time.perf_counter() - t0
    new_kernels("fwd")
    if prob.g is None:
        gen = torch.Generator().manual_seed(3)
        prob.g = torch.randn(y.shape, generator=gen).to(device, prob.dtype)
    t0 = time.perf_counter()
    dx, db = torch.autograd.grad(y, (prob.x, prob.b), prob.g)
    sync(device)
    row["first_bwd_s"] = time.perf_counter() - t0
    new_kernels("bwd")
    ref = prob.ref
    if ref is None:
        prob.ref = (y.detach(), dx, db)
        row["ref_of_errors"] = True
    else:
        row["err_fwd"] = rel(y, ref[0])
        row["err_dx"] = rel(dx, ref[1])
        row["err_db"] = rel(db, ref[2])
        tol = 2e-2 if prob.dtype != torch.float32 else 1e-3
        row["ok"] = max(row["err_fwd"], row["err_dx"], row["err_db"]) < tol
    del y, dx, db
    if device.type == "cuda":
        import triton.testing

        def fwd():
            return prob.run(tune, prec)

        def fwd_bwd():
            torch.autograd.backward(prob.run(tune, prec), prob.g)

        grads = [prob.x, prob.b]
        row["fwd_ms"] = float(
            triton.testing.do_bench(fwd, warmup=5, rep=20, grad_to_none=grads, return_mode="median")
        )
        row["fwdbwd_ms"] = float(
            triton.testing.do_bench(
                fwd_bwd, warmup=10, rep=40, grad_to_none=grads, return_mode="median"
            )
        )
        prob.x.grad = prob.b.grad = None
    elif smoke:
        row["fwd_ms"] = bench(lambda: prob.run(tune, prec), device)
        row["fwdbwd_ms"] = row["fwd_ms"]
    return row


def compare_main(device, smoke) -> int:
    import triton

    from gan.ops._triton import _launch

    budget = float(os.environ.get("GPU_OPS_BUDGET_S", "100"))
    res = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu (interpreter)",
        "torch": torch.__version__,
        "triton": triton.__version__,
        "python": platform.python_version(),
        "default_variants": {str(k)[6:]: v for k, v in _launch.DEFAULT_VARIANTS.items()},
        "variants": {k: dict(v) for k, v in _launch.VARIANTS.items()},
        "budget_s": budget,
        "rows": [],
    }
    log(f"# gpu_ops --compare on {res['device']}, torch {res['torch']}, triton {res['triton']}")
    ops = Ops()
    problems = {}

    def problem(name, dtype):
        key = (name, dtype)
        if key not in problems:
            layer = next(lay for lay in LAYERS if lay[0] == name)
            problems[key] = _Problem(ops, device, layer, dtype, smoke)
        return problems[key]

    fp16 = [(v, name, torch.float16, "tf32x3") for v in COMPARE_VARIANTS for name in COMPARE_SHAPES]
    # The fp32 rows after the first two variants' fp16 rows, before the budget can cut them.
    lead = 2 * len(COMPARE_SHAPES)
    fp32 = [(v, name, torch.float32, prec) for name, v, prec in COMPARE_FP32]
    cases = fp16[:lead] + fp32 + fp16[lead:]
    for variant, name, dtype, prec in cases:
        elapsed = _process_age()
        head = {"case": name, "dtype": str(dtype)[6:], "variant": variant, "prec": prec}
        if elapsed > budget - 4:
            res["rows"].append(head | {"skipped": f"time budget ({elapsed:.0f} s)"})
            continue
        poisoned = False
        try:
            row = compare_case(problem(name, dtype), device, variant, prec, smoke)
        except Exception as exc:
            row = head | {"error": repr(exc)[:400]}
            log(traceback.format_exc(limit=3))
            poisoned = _context_lost(exc)
        row["t_s"] = _process_age()
        res["rows"].append(row)
        log("  " + json.dumps({k: v for k, v in row.items() if k != "kernels"}, default=_fmt))
        for k in row.get("kernels", []):
            log(f"    {k.get('dir')} kernel regs={k.get('n_regs')} spills={k.get('n_spills')} "
                f"smem={k.get('shared')} warps={k.get('num_warps')} "
                f"loop/all SASS={k.get('loop_sass')}/{k.get('sass')}")  # fmt: skip
        # The ranking so far, after every case: a run cut short still names its best.
        res["best_variant"] = best_variant(res["rows"])
        _write_best(res["rows"])
        if poisoned:
            # An illegal address (or any sticky CUDA error) ends the process's CUDA context:
            # every later case would fail the same way.
            log("CUDA context lost: the comparison stops here")
            res["stopped"] = row["error"]
            break
        if device.type == "cuda":
            torch.cuda.empty_cache()
        _write(res, "gpu_ops_compare.json", quiet=True)
    res["total_s"] = _process_age()
    _compare_table(res)
    log(f"best variant: {res['best_variant']}")
    _write(res, "gpu_ops_compare.json")
    return 1 if res.get("stopped") else 0


def _context_lost(exc: BaseException) -> bool:
    """Whether ``exc`` is a sticky CUDA error (the context cannot run anything afterwards)."""
    text = f"{type(exc).__name__}: {exc}"
    sticky = ("illegal memory access", "illegal address", "misaligned address",
              "illegal instruction", "unspecified launch failure",
              "device-side assert triggered")  # fmt: skip
    return any(s in text for s in sticky)


def _write_best(rows: list[dict]) -> None:
    """``$OUT/best_variant.txt`` (read by benchmarks/gpu_session.sh, which then runs the later
    stages with it) when the ranking can override the half-precision default: at least two
    qualifying variants (so a comparison cut short after ``base`` alone names nothing), and the
    winner not the default already; removed otherwise."""
    out = os.environ.get("OUT")
    if not out:
        return
    from gan.ops._triton import _launch

    path = Path(out, "best_variant.txt")
    name = best_variant(rows, min_candidates=2)
    default = _launch.DEFAULT_VARIANTS[torch.float16]
    totals = _full_times(rows)
    # Variants that share the default's kernels on most shapes (b64_r168_stack and _free differ
    # only in config R's multi-term kernels) must win by more than the timing noise.
    clear = name in totals and (
        default not in totals or totals[name] <= (1 - OVERRIDE_MARGIN) * totals[default]
    )
    if name and name != default and clear:
        tmp = Path(out, ".best_variant.txt")
        tmp.write_text(name + "\n")
        tmp.replace(path)
    else:
        path.unlink(missing_ok=True)


OVERRIDE_MARGIN = 0.02
"""How much less summed fp16 time (fraction) a variant needs than the half-precision default
to replace it in the session's later stages (``best_variant.txt``)."""


def best_variant(rows: list[dict], min_candidates: int = 1) -> str | None:
    """The variant with the smallest fp16 forward+backward time summed over the shapes, among
    those that finished every fp16 shape any variant finished, with every checked error within
    tolerance (``ok``: fp16 2e-2, fp32 1e-3 relative to the first variant) and the fp16 errors
    within the stricter 1e-2 of the decision rule (gpu_ops_NOTES.md); None if fewer than
    ``min_candidates`` qualify."""
    full = _full_times(rows)
    return min(full, key=full.get) if full and len(full) >= min_candidates else None


def _full_times(rows: list[dict]) -> dict[str, float]:
    """Summed fp16 forward+backward ms of the variants :func:`best_variant` ranks."""
    times: dict[str, list[float]] = {}
    failed = set()
    for r in rows:
        errs = [r[k] for k in ("err_fwd", "err_dx", "err_db") if k in r]
        strict = r.get("dtype") == "float16" and errs and max(errs) > 1e-2
        if "error" in r or not r.get("ok", True) or strict:
            failed.add(r["variant"])
        elif r.get("dtype") == "float16" and "fwdbwd_ms" in r:
            times.setdefault(r["variant"], []).append(r["fwdbwd_ms"])
    n = max((len(v) for v in times.values()), default=0)
    return {k: sum(v) for k, v in times.items() if len(v) == n and k not in failed}


def _compare_table(res):
    log("\n## variants (ms; f+b = forward+backward; x = ref f+b / variant f+b; err = worst of")
    log("## fwd/dx/db relative to the ref (the first row of the shape and dtype: base, fp32 with")
    log("## tf32x3); regs/spills of the kernels the row compiled, none if cached)")
    base = {}  # the reference row of each (shape, dtype): the first variant run on it
    for r in res["rows"]:
        if r.get("ref_of_errors") and "fwdbwd_ms" in r:
            base[(r["case"], r["dtype"])] = r["fwdbwd_ms"]
    log(f"{'variant':16s} {'case':17s} {'dt':4s} {'prec':6s} {'fwd':>6s} {'f+b':>6s} {'x':>5s} "
        f"{'err':>8s} regs/spills")  # fmt: skip
    for r in res["rows"]:
        lead = f"{r['variant']:16s} {r['case']:17s} {r['dtype']:4s} {r['prec']:6s}"
        if "fwdbwd_ms" not in r:
            log(f"{lead} {r.get('error', r.get('skipped', '?'))[:90]}")
            continue
        b = base.get((r["case"], r["dtype"]))
        speed = f"{b / r['fwdbwd_ms']:5.2f}" if b else "    -"
        errs = [r[k] for k in ("err_fwd", "err_dx", "err_db") if k in r]
        err = f"{max(errs):8.1e}" if errs else "     ref"
        if errs and not r.get("ok", True):
            err += "!"
        regs = " ".join(
            f"{k.get('dir')}:{k.get('n_regs')}/{k.get('n_spills')}/{k.get('loop_sass', '-')}"
            for k in r.get("kernels", [])
        )
        log(f"{lead} {r['fwd_ms']:6.2f} {r['fwdbwd_ms']:6.2f} {speed} {err} {regs}")
    best = {}
    for r in res["rows"]:
        if "fwdbwd_ms" in r and r.get("ok", True) and r["dtype"] == "float16":
            best.setdefault(r["variant"], []).append(r["fwdbwd_ms"])
    n_shapes = max((len(v) for v in best.values()), default=0)
    full = {k: sum(v) for k, v in best.items() if len(v) == n_shapes}
    if full:
        log("\n## fp16 f+b summed over the shapes every listed variant finished (ms):")
        for k, v in sorted(full.items(), key=lambda kv: kv[1]):
            log(f"  {k:16s} {v:7.2f}")
    for line in per_direction_best(res["rows"]):
        log(line)
    log(f"\ntotal {res.get('total_s', 0):.0f} s")


def per_direction_best(rows: list[dict]) -> list[str]:
    """The fastest variant per fp16 shape for the forward and for the backward alone
    (``f+b − fwd``), among rows within tolerance: where they differ, a variant with
    per-direction blocks (``blocks_fwd``/``blocks_bwd``) may beat every listed one."""
    fwd: dict[str, tuple[float, str]] = {}
    bwd: dict[str, tuple[float, str]] = {}
    for r in rows:
        if r.get("dtype") != "float16" or "fwdbwd_ms" not in r or not r.get("ok", True):
            continue
        case, v = r["case"], r["variant"]
        fwd[case] = min(fwd.get(case, (math.inf, "")), (r["fwd_ms"], v))
        bwd[case] = min(bwd.get(case, (math.inf, "")), (r["fwdbwd_ms"] - r["fwd_ms"], v))
    if not fwd:
        return []
    out = ["\n## fastest per direction (fp16 ms; bwd = f+b − fwd):"]
    for case in fwd:
        (tf, vf), (tb, vb) = fwd[case], bwd[case]
        out.append(f"  {case:22s} fwd {tf:6.2f} {vf:18s} bwd {tb:6.2f} {vb}")
    return out


# ---------------------------------------------------------------------------------------------
# --regs: ahead-of-time compile for sm_90 on the host


def _captured_launches(name, dtype, variant):
    """The launches of the forward and the backward of one §6 layer (one plane pair: the
    constexprs depend on the plane geometry only), as ``(label, kernel, args, kwargs)``: ``fwd``
    and ``bwd`` (the fused kernel), or for a variant that splits this layer's backward
    (``_launch.splits_backward``) ``bwd1`` (the fused kernel without stage 2) and ``bwd2`` (the
    upfirdn2d kernel)."""
    from gan.ops._triton import _launch, _plan

    layer = next(lay for lay in LAYERS if lay[0] == name)
    _, _, s_in, s_out, up, down, radial = layer
    fu, fd = layer_filters(up, down, radial, "cpu")
    px0, _, py0, _ = padding_for(s_in, s_out, up, down, fu.shape[0], fd.shape[0])
    tu, td = fu.shape[0], fd.shape[0]
    h = s_in + 2
    mid = ((s_out - 1) * down + td, (s_out - 1) * down + td)
    tol = _plan.svd_tolerance(dtype)
    hu, hd = _plan.filter_terms(fu, tol), _plan.filter_terms(fd, tol)
    x = torch.zeros((1, 2, h, h), dtype=dtype)
    g = torch.zeros((1, 2, s_out, s_out), dtype=dtype)
    mask = torch.zeros((2, mid[0], (mid[1] + 3) // 4), dtype=torch.uint8)
    tune = {"variant": variant}
    clamp = 256.0 if dtype == torch.float16 else None
    captured = []
    split = _launch.splits_backward(tune, dtype, up)

    class _Capture:
        def __init__(self, kernel, labels):
            self.kernel, self.labels = kernel, labels

        def __getitem__(self, grid):
            def launch(*a, **kw):
                captured.append((self.labels[len(captured)], self.kernel, a, kw))
                # The upfirdn2d kernel's output is the caller's to keep: nothing to write.

            return launch

    labels = ["fwd", "bwd1", "bwd2"] if split else ["fwd", "bwd"]
    real = (_launch._fused_kernel, _launch._single_kernel)
    _launch._fused_kernel = _Capture(real[0], labels)
    _launch._single_kernel = _Capture(real[1], labels)
    try:
        _launch.fused(
            x, torch.zeros(2), hu, False, float(up), hd, False, 1.0, up, down, (0, 0),
            (-py0, -px0), (s_out, s_out), mid, 0, mask, 2**0.5, 0.2, clamp, "tf32x3", tune,
        )  # fmt: skip
        if split:
            _launch.split_backward(
                g, mask, hd, hu, False, up, down, (py0, px0), (h, h), mid, 2**0.5, 0.2,
                "tf32x3", tune, torch.zeros(2),
            )  # fmt: skip
        else:
            _launch.fused(
                g, None, hd, True, 1.0, hu, True, float(up), down, up,
                (py0 - tu + 1, px0 - tu + 1), (-(td - 1), -(td - 1)), (h, h), mid, 1, mask,
                2**0.5, 0.2, None, "tf32x3", tune, torch.zeros(2),
            )  # fmt: skip
    finally:
        _launch._fused_kernel, _launch._single_kernel = real
    return captured


def sass_loop_counts(sass: str) -> dict:
    """Instructions of a kernel's SASS (``nvdisasm -c``): in all, and in the body of its
    outermost loop (the backward branch spanning the most instructions: the plane loop of the
    fused kernel) — per warp and per plane, the count the issue rate bounds (four schedulers
    per SM issue one instruction each per cycle)."""
    import re

    labels: dict[str, int] = {}
    branches: list[tuple[int, str]] = []
    n = 0
    for line in sass.splitlines():
        m = re.match(r"^(\.L_x_\d+):", line)
        if m:
            labels[m[1]] = n
            continue
        if re.match(r"^\s+/\*[0-9a-f]+\*/\s", line):
            b = re.search(r"BRA\s+`\((\.L_x_\d+)\)", line)
            if b:
                branches.append((n, b[1]))
            n += 1
    spans = [end + 1 - labels[lab] for end, lab in branches if labels.get(lab, end + 1) <= end]
    return {"sass": n, "loop_sass": max(spans, default=0)}


def _aot_resources(fn, args, kw):
    """Compile ``fn`` for sm_90 with these launch arguments; registers, stack and shared bytes."""
    import re

    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    kw = dict(kw)
    opts = {k: kw.pop(k) for k in ("num_warps", "num_stages", "maxnreg") if k in kw}
    ptr = {torch.float16: "*fp16", torch.float32: "*fp32", torch.bfloat16: "*bf16"}
    ptr[torch.uint8] = "*u8"
    sig, consts, attrs = {}, {}, {}
    for i, name in enumerate(fn.arg_names):
        if i >= len(args):
            sig[name], consts[name] = "constexpr", kw[name]
            continue
        v = args[i]
        if isinstance(v, torch.Tensor):
            sig[name] = ptr[v.dtype]
            attrs[(i,)] = [["tt.divisibility", 16]]
        else:
            sig[name] = "fp32" if isinstance(v, float) else "i32"
    t0 = time.perf_counter()
    k = triton.compile(ASTSource(fn, sig, consts, attrs), target=GPUTarget("cuda", 90, 32),
                       options=opts)  # fmt: skip
    out = {"compile_s": round(time.perf_counter() - t0, 1), "warps": opts.get("num_warps")}
    out |= {key: consts[key] for key in ("BI", "BM", "BO", "TOV_H", "TOV_W") if key in consts}
    usage, err = _cubin_tool(k.asm["cubin"], "cuobjdump", "-res-usage")
    out |= sass_loop_counts(_disassemble(k.asm["cubin"]))
    m = re.search(r"REG:(\d+) STACK:(\d+)", usage)
    out["smem"] = k.metadata.shared  # dynamic shared memory (the cubin lists static only)
    if m:
        out |= {"regs": int(m[1]), "stack": int(m[2])}
    else:
        out["cuobjdump"] = (usage + err)[-300:]
    return out


def regs_main(variants) -> int:
    if os.environ.get("TRITON_INTERPRET", "0") not in ("", "0"):
        log("--regs compiles real kernels: unset TRITON_INTERPRET")
        return 1
    for name in COMPARE_SHAPES:
        for variant in variants:
            try:
                launches = _captured_launches(name, torch.float16, variant)
            except Exception as exc:
                log(f"{name:17s} {variant:16s} planning failed: {exc!r}")
                continue
            for label, kernel, args, kw in launches:
                try:
                    r = _aot_resources(kernel, args, kw)
                    # Tiles per plane, so that loop_sass · tiles · num_warps compares the
                    # instructions a plane costs across plans and kernels.
                    fused = "MODE" in kw
                    r["tiles"] = args[27] * args[28] if fused else args[15] * args[16]
                except Exception as exc:
                    r = {"error": repr(exc)[:300]}
                log(f"{name:17s} {variant:16s} {label} {json.dumps(r)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
