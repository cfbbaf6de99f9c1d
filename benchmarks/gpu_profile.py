"""Where the generator's time goes on the GPU: a kernel-level profile of forward+backward.

    python benchmarks/gpu_profile.py                          # T and R at 256, batch 16
    python benchmarks/gpu_profile.py --cases t:256:16 --cudnn-benchmark --modconv batched
    python benchmarks/gpu_profile.py --smoke                  # no GPU: tiny T at 32 px, CPU ops

For each case ``preset:res:batch`` it builds the paper preset (seed 0, fp16 layers as the
schedule flags them), runs ``G(z).square().mean().backward()`` twice to compile and warm up,
then profiles ``--iters`` more with ``torch.profiler`` and reports, per iteration:

- the wall time (timed without the profiler, which adds host time to every op) and the time
  the GPU was busy (the union of kernel intervals, from the profiled run): a large gap means the
  step is bound by the host (Python, launches, synchronisations), not by kernels;
- device time by category — the fused Triton ops (``_fused_kernel``, ``_single_kernel``),
  convolutions (cuDNN / CUTLASS / implicit-GEMM kernels), matrix products, elementwise and
  reductions, copies and the rest;
- the 25 kernels that take the most device time, with their launch counts.

(``--smoke`` profiles the CPU's top-level ops instead of kernels: a check of the script only.)

The categories are heuristics on kernel names (printed beside every kernel, so a wrong bucket is
visible). With ``OUT`` set, everything goes to ``$OUT/gpu_profile.json`` after each case.
Answers the question issue 4's figures left open: is config T's backward (130 ms of 181 at 256,
batch 16, session 9) in the convolutions, in the fused ops, or in neither.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch

T_PROCESS = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _cli import device_and_cases, log, parse_case  # noqa: E402
from _out import write_out_json  # noqa: E402

from gan.networks.layers import set_grouped_modconv  # noqa: E402
from gan.networks.presets import build_generator  # noqa: E402

DEFAULT_CASES = ("t:256:16", "r:256:16")
SMOKE_CASES = ("t-tiny:32:2",)

#: (category, substrings of the lower-cased kernel name), first match wins.
CATEGORIES = (
    ("fused op (Triton)", ("_fused_kernel",)),
    ("upfirdn2d (Triton)", ("_single_kernel",)),
    ("convolution", ("conv", "cudnn", "implicit_gemm", "xmma_fprop", "xmma_dgrad", "xmma_wgrad",
                     "fprop", "dgrad", "wgrad", "winograd", "im2col", "col2im", "fft",
                     "flip_filter")),
    ("matrix product", ("gemm", "gemv", "nvjet", "cutlass", "sm90_", "sm80_", "ampere", "hopper",
                        "addmm", "mm")),
    ("copy / memset", ("memcpy", "memset", "copy", "cat", "transpose")),
    ("reduction", ("reduce", "norm", "sum", "mean")),
    ("elementwise", ("elementwise", "vectorized", "unrolled", "pointwise", "triton_poi")),
)  # fmt: skip


def category(name: str) -> str:
    low = name.lower()
    for label, keys in CATEGORIES:
        if any(k in low for k in keys):
            return label
    return "other"


def busy_union_us(intervals: list[tuple[float, float]]) -> float:
    """Length of the union of ``[start, end)`` intervals (µs): the time the device was busy."""
    total, end = 0.0, float("-inf")
    for s, e in sorted(intervals):
        if s > end:
            total += e - s
            end = e
        elif e > end:
            total += e - end
            end = e
    return total


def _events(prof, device_kind: str) -> list:
    """The profiler's kernel events (device activity) or, on the CPU, its top-level ops."""
    out = []
    for ev in prof.events():
        if device_kind == "cuda":
            if getattr(ev, "device_type", None) == torch.autograd.DeviceType.CUDA:
                out.append(ev)
        elif ev.cpu_parent is None:
            out.append(ev)
    return out


def profile_case(preset: str, res: int, batch: int, device: torch.device, args) -> dict:
    row: dict = {"preset": preset, "res": res, "batch": batch, "modconv": args.modconv}
    row["cudnn_benchmark"] = bool(args.cudnn_benchmark)
    torch.backends.cudnn.benchmark = bool(args.cudnn_benchmark)
    G = build_generator(preset, res=res, seed=0).to(device).train(False)
    set_grouped_modconv(G, args.modconv == "grouped")
    z = torch.randn(batch, G.z_dim, generator=torch.Generator().manual_seed(1)).to(device)
    params = [p for p in G.parameters() if p.requires_grad]

    def step() -> None:
        for p in params:
            p.grad = None
        G(z, noise_mode="const").square().mean().backward()

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def per_iter_ms(iters: int) -> float:
        sync()
        t0 = time.perf_counter()
        for _ in range(iters):
            step()
        sync()
        return (time.perf_counter() - t0) * 1e3 / iters

    per_iter_ms(2)  # compile (Triton, cuDNN autotuning) and warm up
    # The wall time without the profiler (which adds host time to every op), then the profile,
    # timed inside the block so that the profiler's start and its event collection stay out.
    wall_ms = per_iter_ms(args.iters)
    acts = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        acts.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=acts) as prof:
        profiled_ms = per_iter_ms(args.iters)
    events = _events(prof, device.type)
    if not events:
        raise RuntimeError("the profiler recorded no device kernels (CUPTI unavailable?)")
    per_name: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    intervals = []
    for ev in events:
        dur = float(ev.time_range.end - ev.time_range.start)  # µs
        per_name[ev.name][0] += dur
        per_name[ev.name][1] += 1
        intervals.append((float(ev.time_range.start), float(ev.time_range.end)))
    n = args.iters
    busy_ms = busy_union_us(intervals) / 1e3 / n
    by_cat: dict[str, float] = defaultdict(float)
    for name, (us, _) in per_name.items():
        by_cat[category(name)] += us / 1e3 / n
    total_ms = sum(by_cat.values())
    top = sorted(per_name.items(), key=lambda kv: -kv[1][0])[:25]
    row |= {
        "iters": n,
        "wall_ms": wall_ms,
        "profiled_wall_ms": profiled_ms,
        "device_busy_ms": busy_ms,
        "kernel_sum_ms": total_ms,
        "by_category_ms": dict(sorted(by_cat.items(), key=lambda kv: -kv[1])),
        "top_kernels": [
            {
                "name": name[:160],
                "category": category(name),
                "ms": us / 1e3 / n,
                "launches": round(count / n, 2),
            }
            for name, (us, count) in top
        ],  # fmt: skip
    }
    return row


def report(row: dict) -> None:
    head = f"{row['preset']}:{row['res']}:{row['batch']}  modconv={row['modconv']}"
    print(f"\n## {head}  cudnn.benchmark={row['cudnn_benchmark']}  "
          f"(per iteration, {row['iters']} profiled)")  # fmt: skip
    busy = row["device_busy_ms"]
    print(f"wall {row['wall_ms']:.1f} ms ({row['profiled_wall_ms']:.1f} under the profiler), "
          f"device busy {busy:.1f} ms ({100 * busy / row['wall_ms']:.0f} % of the wall), kernels "
          f"summed {row['kernel_sum_ms']:.1f} ms")  # fmt: skip
    for cat, ms in row["by_category_ms"].items():
        print(f"  {cat:22s} {ms:8.2f} ms  {100 * ms / max(row['kernel_sum_ms'], 1e-9):5.1f} %")
    print("  top kernels (ms, launches, category):")
    for k in row["top_kernels"]:
        print(f"    {k['ms']:8.2f} {k['launches']:7g}  {k['category']:18s} {k['name'][:100]}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=parse_case, nargs="+", default=None)
    ap.add_argument("--iters", type=int, default=3, help="profiled iterations (3)")
    ap.add_argument("--modconv", choices=("grouped", "batched"), default="grouped")
    ap.add_argument("--cudnn-benchmark", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--budget-s", type=float, default=240.0, help="no case starts after this")
    ap.add_argument("--smoke", action="store_true", help="tiny T on the CPU (CPU ops profiled)")
    args = ap.parse_args(argv)
    if args.iters < 1:
        ap.error(f"--iters must be >= 1, got {args.iters}")
    chosen = device_and_cases(args.smoke, args.cases, SMOKE_CASES, DEFAULT_CASES)
    if chosen is None:
        return 2
    device, cases = chosen
    result: dict = {"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
                    "torch": torch.__version__, "rows": []}  # fmt: skip
    saved = torch.backends.cudnn.benchmark
    try:
        for preset, res, batch in cases:
            if time.perf_counter() - T_PROCESS > args.budget_s:
                result["rows"].append({"preset": preset, "res": res, "batch": batch,
                                       "error": "skipped: time budget spent"})  # fmt: skip
                continue
            log(f"{preset}:{res}:{batch}")
            try:
                row = profile_case(preset, res, batch, device, args)
            except Exception as exc:  # one failing case must not lose the others
                row = {"preset": preset, "res": res, "batch": batch, "error": repr(exc)[:400]}
            result["rows"].append(row)
            if device.type == "cuda":
                torch.cuda.empty_cache()  # the case's generator is gone with profile_case
            if "error" in row:
                log(f"  error: {row['error']}")
            else:
                report(row)
            write_out_json("gpu_profile.json", result)
    finally:
        torch.backends.cudnn.benchmark = saved
    if os.environ.get("OUT"):
        log(f"wrote {os.environ['OUT']}/gpu_profile.json")
    return 0 if all("error" not in r for r in result["rows"]) else 1


if __name__ == "__main__":
    sys.exit(main())
