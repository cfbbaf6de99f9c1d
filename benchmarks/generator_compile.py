"""``torch.compile`` of the generators against eager mode: compile time and the forward+backward
step (the compile path of ``gan.ops``, docs/ARCHITECTURE.md).

    python benchmarks/generator_compile.py                 # CPU: tiny presets, 32 px, batch 16
    python benchmarks/generator_compile.py --presets t-tiny --repeats 3
    python benchmarks/generator_compile.py --device cuda   # GPU: T and R at 256, batch 16

For each preset (randomly initialised, seed 0; one channel on the CPU), in a fresh process:
``G(z)`` then ``img.square().mean().backward()``, eager and compiled with inductor: on the CPU
``torch.compile(G, fullgraph=True)`` (every ``gan.ops`` call is traced into the one graph), on
CUDA ``torch.compile(G)`` (each Triton op call is a graph break). Reported: the first
compiled call (compilation included; inductor's on-disk cache makes later processes faster, so
the first process of a machine is the cold figure), the median of ``--repeats`` steps after it
for both modes (alternated, so that load drifts hit both), their ratio, and the largest
difference of the compiled output from the eager one (CUDA: synchronised timings). With ``OUT``
set, the rows go to ``$OUT/generator_compile.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _out import write_out_json

from gan.networks.presets import build_generator  # noqa: E402

PRESETS = ("t-tiny", "r-tiny", "baseline-tiny", "t", "r")
DEFAULTS = {"cpu": (("t-tiny", "r-tiny", "baseline-tiny"), 32), "cuda": (("t", "r"), 256)}


def measure(preset: str, res: int, batch: int, repeats: int, device: str) -> dict:
    kw = {"img_channels": 1} if device == "cpu" else {}
    G = build_generator(preset, res=res, seed=0, **kw).to(device)
    z = torch.randn(batch, G.z_dim, generator=torch.Generator().manual_seed(1)).to(device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def step(model) -> tuple[float, torch.Tensor]:
        sync()
        t0 = time.perf_counter()
        img = model(z, None)
        img.square().mean().backward()
        sync()
        return time.perf_counter() - t0, img.detach()

    step(G)  # warm-up: allocator, oneDNN primitives, Triton JIT
    _, want = step(G)
    compiled = torch.compile(G, fullgraph=device == "cpu")
    first, got = step(compiled)
    eager_t, comp_t = [], []
    for _ in range(repeats):
        eager_t.append(step(G)[0])
        comp_t.append(step(compiled)[0])
    eager, comp = statistics.median(eager_t), statistics.median(comp_t)
    return {
        "preset": preset,
        "device": device,
        "res": res,
        "batch": batch,
        "first_compiled_call_s": round(first, 2),
        "eager_ms": round(eager * 1e3, 1),
        "compiled_ms": round(comp * 1e3, 1),
        "speedup": round(eager / comp, 3),
        "max_abs_diff": float((got - want).abs().max()),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--presets", nargs="+", choices=PRESETS, default=None)
    ap.add_argument("--res", type=int, default=None, help="32 on the CPU, 256 on CUDA")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--budget-s", type=float, default=None, help="no case starts after this")
    ap.add_argument("--case-timeout-s", type=float, default=300.0)
    ap.add_argument("--worker", choices=PRESETS, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    presets, res = DEFAULTS[args.device]
    args.presets = args.presets or list(presets)
    args.res = args.res or res
    torch.set_num_threads(args.threads)
    if args.worker is not None:
        row = measure(args.worker, args.res, args.batch, args.repeats, args.device)
        print(json.dumps(row))
        return 0
    t_start = time.monotonic()
    rows = []
    where = (
        torch.cuda.get_device_name()
        if args.device == "cuda"
        else f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"{args.threads} thread(s)"
    )
    print(f"{where}, torch {torch.__version__}, load {os.getloadavg()[0]:.2f}")
    print("| preset | first compiled call (s) | eager (ms) | compiled (ms) | speed-up | max diff |")
    print("|---|---|---|---|---|---|")
    for preset in args.presets:
        if args.budget_s is not None and time.monotonic() - t_start > args.budget_s:
            print(f"| {preset} | skipped: budget |||||")
            continue
        cmd = [sys.executable, __file__, "--worker", preset, "--res", str(args.res)]
        cmd += ["--batch", str(args.batch), "--repeats", str(args.repeats)]
        cmd += ["--threads", str(args.threads), "--device", args.device]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.case_timeout_s)
        except subprocess.TimeoutExpired:
            print(f"| {preset} | timed out after {args.case_timeout_s:g} s |||||", flush=True)
            continue
        if proc.returncode != 0:
            print(f"| {preset} | failed: {proc.stderr.strip().splitlines()[-1]} |||||")
            continue
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(
            f"| {preset} | {row['first_compiled_call_s']} | {row['eager_ms']} | "
            f"{row['compiled_ms']} | {row['speedup']}× | {row['max_abs_diff']:.1e} |",
            flush=True,
        )
        write_out_json("generator_compile.json", {"args": vars(args), "rows": rows})
    return 0 if len(rows) == len(args.presets) else 1


if __name__ == "__main__":
    raise SystemExit(main())
