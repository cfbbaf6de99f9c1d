"""Time and peak memory of the aliasing probe on a ResNet-18-sized network (issue 6).

    .venv/bin/python benchmarks/cpu_probe.py [--threads 2] [--num 8] [--size 224] [--quick]

The ResNet-18-sized example (``gan.probe.examples``: 64-128-256-512 channels, [2, 2, 2, 2]
BasicBlocks, 7×7 stride-2 stem and max pool) is probed on ``--num`` scikit-image photos of
``--size``² pixels (``aliasfree.commands.aliasing.make_inputs``), once per measure and once with
all three, on ``--threads`` torch threads (numba follows ``NUMBA_NUM_THREADS``; set it before
running). Wall time is ``time.perf_counter``; peak memory is the process's peak resident set
size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``, a high-water mark: each case runs in a fresh
subprocess so the peaks do not mix) and the peak of Python-level allocations (``tracemalloc``:
numpy arrays included, torch's own allocator not). Goal: all three measures under 60 s on 2
cores. Prints a markdown table; writes JSON to ``$OUT/cpu_probe.json`` when ``OUT`` is set.
Every case is caught on its own: a failure is reported in the table and the others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from _out import write_out_json

ROOT = Path(__file__).resolve().parents[1]
CASES = {
    "downsampling": ("downsampling",),
    "nonlinearity": ("nonlinearity",),
    "equivariance": ("equivariance",),
    "all three": ("downsampling", "nonlinearity", "equivariance"),
}
GOAL_S = 60.0


def machine(threads: int) -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = ", load average " + " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        load = ""
    return (
        f"{cpu}, {os.cpu_count()} cores visible, torch threads {threads}, numba threads "
        f"{os.environ.get('NUMBA_NUM_THREADS', 'default')}{load}; Python "
        f"{platform.python_version()}, torch {torch.__version__}"
    )


def one_case(measures: list[str], threads: int, num: int, size: int) -> dict:
    """Run one probe in this process; returns timings and peaks."""
    import resource
    import time
    import tracemalloc

    import torch

    torch.set_num_threads(threads)
    sys.path.insert(0, str(ROOT))
    from aliasfree.commands.aliasing import make_inputs
    from gan.probe import probe_model
    from gan.probe.examples import build_example

    model = build_example("resnet18")
    x, desc = make_inputs("builtin", (3, size, size), num)
    # Warm-up on a tiny input: numba compilation and lazy imports are not the measure's cost.
    with torch.no_grad():
        probe_model(model, x[:1, :, :32, :32], measures=measures)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    t0 = time.perf_counter()
    with torch.no_grad():
        rep = probe_model(model, x, measures=measures)
    dt = time.perf_counter() - t0
    _, peak_py = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": dt,
        "peak_rss_mib": rss / 1024.0,
        "rss_before_mib": rss0 / 1024.0,
        "peak_python_mib": peak_py / 2**20,
        "rows": len(rep.rows),
        "inputs": desc,
    }


def run_subprocess(name: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--one", name, "--threads", str(args.threads),
           "--num", str(args.num), "--size", str(args.size)]  # fmt: skip
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"case": name, "error": f"timed out after {args.timeout} s"}
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
    if res.returncode != 0 or not lines:
        tail = (res.stderr or res.stdout).strip().splitlines()[-3:]
        return {"case": name, "error": f"exit {res.returncode}: {' | '.join(tail)}"}
    return {"case": name, **json.loads(lines[-1])}


def table(results: list[dict]) -> str:
    out = [
        "| measures | time (s) | peak RSS (MiB) | peak Python allocations (MiB) | rows | goal |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        if "error" in r:
            out.append(f"| {r['case']} | failed: {r['error']} | | | | |")
            continue
        goal = ("met" if r["seconds"] < GOAL_S else "missed") if r["case"] == "all three" else ""
        out.append(
            f"| {r['case']} | {r['seconds']:.1f} | {r['peak_rss_mib']:.0f} | "
            f"{r['peak_python_mib']:.0f} | {r['rows']} | {goal} |"
        )
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--num", type=int, default=8)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--timeout", type=float, default=900.0, help="per case, seconds")
    ap.add_argument("--quick", action="store_true", help="only the all-three case")
    ap.add_argument("--one", choices=list(CASES), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one_case(list(CASES[args.one]), args.threads, args.num, args.size)))
        return 0
    names = ["all three"] if args.quick else list(CASES)
    results = []
    for name in names:
        r = run_subprocess(name, args)
        results.append(r)
        msg = r["error"] if "error" in r else f"{r['seconds']:.1f} s"
        print(f"{name}: {msg}", file=sys.stderr, flush=True)
    print(f"ResNet-18-sized example, {args.num} images of {args.size}x{args.size}")
    print(f"machine: {machine(args.threads)}")
    print(table(results))
    doc = {"machine": machine(args.threads), "num": args.num, "size": args.size,
           "results": results}  # fmt: skip
    write_out_json("cpu_probe.json", doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
