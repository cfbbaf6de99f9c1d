"""GPU check and benchmark of the Triton ``filtered_lrelu`` / ``upfirdn2d`` (REFERENCE §4, §6).

    python benchmarks/gpu_ops.py            # the full run (~3-6 min on one H100/H200)
    python benchmarks/gpu_ops.py --quick    # correctness + the three §6 shapes only
    TRITON_INTERPRET=1 python benchmarks/gpu_ops.py --cpu-smoke   # script check, tiny shapes

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
import os
import platform
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import torch

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
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    smoke = args.cpu_smoke
    device = torch.device("cuda" if torch.cuda.is_available() and not smoke else "cpu")
    if device.type == "cpu" and not smoke:
        log("no CUDA device: run with --cpu-smoke (and TRITON_INTERPRET=1) to check the script")
        return 1
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


def kernel_stats():
    """Registers, spills and shared memory of every compiled kernel variant (best effort: the
    cache layout is a Triton internal)."""
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
                        }
                    )
    except Exception as exc:
        out.append({"error": repr(exc)})
    return out


def _fmt(v):
    return float(v) if isinstance(v, (np.floating, float)) else str(v)


def _write(res):
    out = os.environ.get("OUT")
    if out:
        path = Path(out) / "gpu_ops.json"
        path.write_text(json.dumps(res, indent=1, default=_fmt))
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


if __name__ == "__main__":
    sys.exit(main())
