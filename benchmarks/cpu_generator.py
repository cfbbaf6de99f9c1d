"""Images per second of the tiny generator presets and the tiny discriminator on the CPU
(issue 4; REFERENCE §6 gives no CPU target: these figures size the tests and notebooks).

    python benchmarks/cpu_generator.py                 # 1 thread, batches 1 and 8, 64 px
    python benchmarks/cpu_generator.py --threads 2 --repeats 3
    python benchmarks/cpu_generator.py --quick         # one repeat, batch 1 only (script check)

For each of ``t-tiny``, ``r-tiny``, ``baseline-tiny`` (randomly initialised, seed 0) and the
tiny discriminator (``build_discriminator("t-tiny")``, shared by every tiny preset) it times:

- ``fwd``: ``G(z)`` (``noise_mode="const"``) or ``D(img)`` under ``torch.no_grad()``;
- ``fwd+bwd``: the same with autograd, then ``out.square().mean().backward()`` into every
  parameter (and, for D, into the input image as the R1 penalty needs).

The median wall time of ``--repeats`` runs after one warm-up gives images per second
(``batch / median``; the fastest run's figure is reported beside it).
``torch.set_num_threads`` is fixed (``--threads``) and reported with the machine and the load
average; with ``OUT`` set, the rows go to ``$OUT/cpu_generator.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _out import write_out_json

from gan.networks.presets import build_discriminator, build_generator  # noqa: E402

GENERATORS = ("t-tiny", "r-tiny", "baseline-tiny")


def _times(fn, repeats: int) -> tuple[float, float]:
    """Median and minimum wall time of ``repeats`` runs after one warm-up (first-call
    allocations). On shared cores the minimum is the closer estimate of the uncontended time."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def _generator_cases(name: str, res: int, batch: int):
    G = build_generator(name, res=res, seed=0).eval()
    z = torch.randn(batch, G.z_dim, generator=torch.Generator().manual_seed(1))

    def fwd():
        with torch.no_grad():
            G(z, noise_mode="const")

    def fwd_bwd():
        G.zero_grad(set_to_none=True)
        G(z, noise_mode="const").square().mean().backward()

    return {"fwd": fwd, "fwd+bwd": fwd_bwd}


def _discriminator_cases(res: int, batch: int):
    D = build_discriminator("t-tiny", res, seed=0).eval()
    img = torch.randn(batch, 3, res, res, generator=torch.Generator().manual_seed(2))

    def fwd():
        with torch.no_grad():
            D(img)

    def fwd_bwd():
        D.zero_grad(set_to_none=True)
        x = img.detach().requires_grad_(True)
        D(x).square().mean().backward()

    return {"fwd": fwd, "fwd+bwd": fwd_bwd}


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return {
        "cpu": cpu,
        "cpus_visible": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch_threads": torch.get_num_threads(),
        "load_1min_at_start": round(load, 2),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    ap.add_argument("--res", type=int, default=64)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="one repeat, batch 1 (script check)")
    args = ap.parse_args(argv)
    if args.quick:
        args.repeats, args.batches = 1, [1]
    torch.set_num_threads(args.threads)
    info = machine()
    print(json.dumps(info), flush=True)
    rows = []
    nets = [*GENERATORS, "D (tiny)"]
    for net in nets:
        for batch in args.batches:
            if net.startswith("D"):
                cases = _discriminator_cases(args.res, batch)
            else:
                cases = _generator_cases(net, args.res, batch)
            for mode, fn in cases.items():
                try:
                    t, t_min = _times(fn, args.repeats)
                    row = {"net": net, "res": args.res, "batch": batch, "mode": mode}
                    row |= {"median_s": t, "min_s": t_min, "img_per_s": batch / t}
                    row["img_per_s_best"] = batch / t_min
                except Exception as exc:  # one failing case must not lose the others
                    row = {"net": net, "batch": batch, "mode": mode, "error": repr(exc)}
                rows.append(row)
                print(json.dumps(row), flush=True)
    if hasattr(os, "getloadavg"):
        # Other processes on the same cores lower every figure: report the load around the run.
        info["load_1min_at_end"] = round(os.getloadavg()[0], 2)
    print(
        f"\n{args.res} px, torch threads {info['torch_threads']}, {info['cpu']}, load "
        f"{info['load_1min_at_start']} → {info.get('load_1min_at_end')}"
    )
    print("images/s from the median run (from the fastest run in brackets)")
    print(f"{'net':<15}{'batch':>6}  {'fwd img/s':>16}  {'fwd+bwd img/s':>16}")
    for net in nets:
        for batch in args.batches:
            v = {r["mode"]: r for r in rows if r["net"] == net and r["batch"] == batch}
            f = [
                f"{v[m]['img_per_s']:.1f} ({v[m]['img_per_s_best']:.1f})"
                if "img_per_s" in v.get(m, {})
                else "error"
                for m in ("fwd", "fwd+bwd")
            ]
            print(f"{net:<15}{batch:>6}  {f[0]:>16}  {f[1]:>16}")
    path = write_out_json("cpu_generator.json", {"machine": info, "rows": rows})
    if path:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
