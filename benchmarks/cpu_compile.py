"""``torch.compile`` of the tiny generators on the CPU against eager mode: compile time and the
forward+backward step (the compile path of ``gan.ops``, docs/ARCHITECTURE.md).

    python benchmarks/cpu_compile.py                       # 1 thread, batch 16, 32 px
    python benchmarks/cpu_compile.py --presets t-tiny --repeats 3

For each preset (randomly initialised, seed 0, one channel), in a fresh process: ``G(z)`` then
``img.square().mean().backward()``, eager and under ``torch.compile(G, fullgraph=True)``
(inductor; on the CPU every ``gan.ops`` call is traced into the one graph). Reported: the first
compiled call (compilation included; inductor's on-disk cache makes later processes faster, so
the first process of a machine is the cold figure), the median of ``--repeats`` steps after it
for both modes (alternated, so that load drifts hit both), their ratio, and the largest
difference of the compiled output from the eager one. With ``OUT`` set, the rows go to
``$OUT/cpu_compile.json``.
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

PRESETS = ("t-tiny", "r-tiny", "baseline-tiny")


def measure(preset: str, res: int, batch: int, repeats: int) -> dict:
    G = build_generator(preset, res=res, seed=0, img_channels=1)
    z = torch.randn(batch, G.z_dim, generator=torch.Generator().manual_seed(1))

    def step(model) -> tuple[float, torch.Tensor]:
        t0 = time.perf_counter()
        img = model(z, None)
        img.square().mean().backward()
        return time.perf_counter() - t0, img.detach()

    step(G)  # warm-up: allocator, oneDNN primitives
    _, want = step(G)
    compiled = torch.compile(G, fullgraph=True)
    first, got = step(compiled)
    eager_t, comp_t = [], []
    for _ in range(repeats):
        eager_t.append(step(G)[0])
        comp_t.append(step(compiled)[0])
    eager, comp = statistics.median(eager_t), statistics.median(comp_t)
    return {
        "preset": preset,
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
    ap.add_argument("--presets", nargs="+", choices=PRESETS, default=list(PRESETS))
    ap.add_argument("--res", type=int, default=32)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--worker", choices=PRESETS, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.worker is not None:
        print(json.dumps(measure(args.worker, args.res, args.batch, args.repeats)))
        return 0
    rows = []
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"{args.threads} thread(s), torch {torch.__version__}, load {os.getloadavg()[0]:.2f}"
    )
    print("| preset | first compiled call (s) | eager (ms) | compiled (ms) | speed-up | max diff |")
    print("|---|---|---|---|---|---|")
    for preset in args.presets:
        cmd = [sys.executable, __file__, "--worker", preset, "--res", str(args.res)]
        cmd += ["--batch", str(args.batch), "--repeats", str(args.repeats)]
        cmd += ["--threads", str(args.threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
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
        write_out_json("cpu_compile.json", {"args": vars(args), "rows": rows})
    return 0 if len(rows) == len(args.presets) else 1


if __name__ == "__main__":
    raise SystemExit(main())
