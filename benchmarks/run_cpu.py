"""Run every CPU benchmark of the DSP core in one process and print a markdown table.

    .venv/bin/python benchmarks/run_cpu.py [--out FILE.md]

Each benchmark module exposes ``run() -> list[dict]`` with the keys name, ours_s, baseline_s,
speedup, max_abs_diff and note. Timings are ratios within this one run; the machine is printed
with them so the figures can go into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

MODULES = ["dsp_resample", "dsp_interpolation"]


def machine() -> str:
    import numba
    import numpy
    import scipy

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    threads = os.environ.get("NUMBA_NUM_THREADS", str(numba.config.NUMBA_NUM_THREADS))
    return (
        f"{cpu}, {os.cpu_count()} cores visible, numba threads {threads}; "
        f"Python {platform.python_version()}, numpy {numpy.__version__}, "
        f"scipy {scipy.__version__}, numba {numba.__version__}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, help="also write the markdown table to this file")
    args = ap.parse_args()
    rows = []
    for name in MODULES:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows.extend(importlib.import_module(name).run())
    lines = [
        f"Machine: {machine()}",
        "",
        "| benchmark | ours (s) | baseline (s) | speedup | max abs diff | note |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['ours_s']:.4f} | {r['baseline_s']:.4f} | "
            f"{r['speedup']:.2f}x | {r['max_abs_diff']:.1e} | {r.get('note', '')} |"
        )
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
