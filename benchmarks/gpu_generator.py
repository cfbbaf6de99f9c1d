"""GPU benchmark of the whole generator, configs T and R (issue 4; REFERENCE §6).

    python benchmarks/gpu_generator.py                 # T, R at 256 (batch 16) and 1024 (batch 4)
    python benchmarks/gpu_generator.py --cases t:256:16 r:256:16 --impls auto ref
    python benchmarks/gpu_generator.py --smoke         # no GPU: tiny presets at 64 px on the CPU

For each case ``preset:res:batch`` and each ops path it times, on one randomly initialised
generator (seed 0; the same weights for every path):

- ``fwd``: ``G(z)`` under ``torch.no_grad()``;
- ``fwd+bwd``: ``G(z).square().mean().backward()`` into every parameter (grads set to None
  before each run);

with ``triton.testing.do_bench`` (median; CUDA events inside), falling back to a CUDA-event loop
when triton is missing; the first call of each (Triton JIT compilation included) is timed
separately. Peak memory is ``torch.cuda.max_memory_allocated`` over one run after
``reset_peak_memory_stats`` (in total, compared with the goal, and above the memory resident
before the run). Ops paths (``ALIASFREE_OPS_IMPL``, read by ``gan.ops`` on every
call, see ``gan/ops/_params.py``):

- ``auto``: the Triton kernels on CUDA (any call they cannot run falls back to the reference
  path with a ``FallbackWarning``; the warnings are recorded per case, so a "Triton" figure
  that is really the reference path is visible);
- ``ref``: the plain-PyTorch reference path (``gan.ops.reference``);
- ``triton``: the Triton kernels or an error (no silent fallback).

Every case is isolated: an error or out-of-memory is recorded and the run goes on; no case
starts after ``--budget-s`` seconds. The image of the first path is compared with the others'
(PSNR over ``[-1, 1]``, max abs difference). Prints a table with the ratios ref / Triton and
the REFERENCE §6 figures (``ref/this``: forward / forward+backward time of the reference path
over this path's); with ``OUT`` set, every number goes to ``$OUT/gpu_generator.json``
after each case (a killed run still leaves what it measured).

Targets (REFERENCE §6, issue 4): config T at 256, batch 16, fwd+bwd ≤ 120 ms with ≤ 8 GiB peak;
config R at 256, batch 16, fwd+bwd ≤ 190 ms. The reference implementation's own CUDA kernels on
one H100: T 256 fwd 52 ms, fwd+bwd 170 ms / 8.4 GiB; T 1024 batch 4 fwd+bwd 115 ms; R 256
fwd+bwd 270 ms (its plain-PyTorch path: 144 ms, 333 ms / 19.8 GiB, 244 ms, fails).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
import traceback
import warnings
from pathlib import Path

import torch

T_PROCESS = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _cli import device_and_cases, log, parse_case  # noqa: E402
from _out import write_out_json  # noqa: E402

from gan.networks.layers import set_grouped_modconv  # noqa: E402
from gan.networks.presets import build_generator  # noqa: E402
from gan.ops import _params  # noqa: E402

DEFAULT_CASES = ("t:256:16", "r:256:16", "t:1024:4", "r:1024:4")
SMOKE_CASES = ("t-tiny:64:1", "r-tiny:64:1")
#: (preset, res, batch) → (fwd+bwd ms goal, peak GiB goal or None), REFERENCE §6 / issue 4.
TARGETS = {("t", 256, 16): (120.0, 8.0), ("r", 256, 16): (190.0, None)}
#: The reference implementation's figures (REFERENCE §6, one H100): (its CUDA kernels, its
#: plain-PyTorch path), fwd and fwd+bwd in ms; None: not published / failed.
PUBLISHED = {
    ("t", 256, 16): {"fwd": (52.0, 144.0), "fwd+bwd": (170.0, 333.0)},
    ("t", 1024, 4): {"fwd+bwd": (115.0, 244.0)},
    ("r", 256, 16): {"fwd+bwd": (270.0, None)},
}
GIB = 2.0**30


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed_once(fn, device: torch.device) -> float:
    """Wall time of one call in ms (first-call / compile time)."""
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return (time.perf_counter() - t0) * 1e3


def median_ms(fn, device: torch.device, rep_ms: float, min_runs: int = 3) -> tuple[float, int]:
    """Median time of ``fn`` in ms and the number of timed runs."""
    if device.type == "cuda":
        try:
            import triton.testing

            # do_bench sizes its own repeat count from rep (ms) and flushes the L2 cache.
            ms = triton.testing.do_bench(
                fn, warmup=max(1, int(rep_ms / 10)), rep=int(rep_ms), return_mode="median"
            )
            return float(ms), -1  # -1: do_bench chose the number of runs
        except ImportError:
            pass
        times = []
        t_end = time.perf_counter() + rep_ms / 1e3
        while len(times) < min_runs or time.perf_counter() < t_end:
            start = torch.cuda.Event(enable_timing=True)
            stop = torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            stop.record()
            stop.synchronize()
            times.append(start.elapsed_time(stop))
        return statistics.median(times), len(times)
    times = []
    t_end = time.perf_counter() + rep_ms / 1e3
    while len(times) < 2 or time.perf_counter() < t_end:  # CPU: the smoke check only
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), len(times)


def peak_gib(fn, device: torch.device) -> tuple[float | None, float | None]:
    """Peak allocated memory over one call of ``fn`` in GiB: in total (what the goal counts),
    and above what was resident before (weights, inputs): the activations and grads."""
    if device.type != "cuda":
        return None, None
    sync(device)
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    fn()
    sync(device)
    peak = torch.cuda.max_memory_allocated(device)
    return peak / GIB, (peak - base) / GIB


class Case:
    """One (preset, res, batch) generator with its latents, shared by every ops path."""

    def __init__(self, preset: str, res: int, batch: int, device: torch.device) -> None:
        self.key = (preset, res, batch)
        self.device = device
        self.G = build_generator(preset, res=res, seed=0).to(device).train(False)
        gen = torch.Generator().manual_seed(1)
        self.z = torch.randn(batch, self.G.z_dim, generator=gen).to(device)
        self.params = [p for p in self.G.parameters() if p.requires_grad]

    def fwd(self) -> torch.Tensor:
        with torch.no_grad():
            return self.G(self.z, noise_mode="const")

    def fwd_bwd(self) -> None:
        for p in self.params:
            p.grad = None
        self.G(self.z, noise_mode="const").square().mean().backward()


def run_path(
    case: Case, impl: str, rep_ms: float, cudnn_benchmark: bool = False, grouped: bool = True
) -> tuple[dict, torch.Tensor | None]:
    """Time one ops path (with ``torch.backends.cudnn.benchmark`` set as given, restored
    afterwards, and the modulated convolutions in the grouped or batched order); returns the
    row and the first image (CPU float64) for comparison."""
    os.environ[_params.ENV_IMPL] = impl
    set_grouped_modconv(case.G, grouped)
    # Forget earlier fallback reports so every path records its own.
    if hasattr(_params, "_WARNED"):
        _params._WARNED.clear()
    row: dict = {"preset": case.key[0], "res": case.key[1], "batch": case.key[2], "impl": impl}
    row["cudnn_benchmark"] = cudnn_benchmark
    row["modconv"] = "grouped" if grouped else "batched"
    dev = case.device
    image = None
    saved_benchmark = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = cudnn_benchmark
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", _params.FallbackWarning)
        try:
            row["first_fwd_ms"] = timed_once(case.fwd, dev)
            image = case.fwd().to("cpu", torch.float64)
            row["finite"] = bool(torch.isfinite(image).all())
            row["fwd_ms"], row["fwd_runs"] = median_ms(case.fwd, dev, rep_ms)
            row["fwd_peak_gib"], row["fwd_peak_above_resident_gib"] = peak_gib(case.fwd, dev)
            row["first_fwd_bwd_ms"] = timed_once(case.fwd_bwd, dev)
            row["fwd_bwd_ms"], row["fwd_bwd_runs"] = median_ms(case.fwd_bwd, dev, rep_ms)
            peaks = peak_gib(case.fwd_bwd, dev)
            row["fwd_bwd_peak_gib"], row["fwd_bwd_peak_above_resident_gib"] = peaks
        except torch.cuda.OutOfMemoryError as exc:
            row["error"] = f"out of memory: {str(exc).splitlines()[0]}"
        except Exception as exc:  # one failing path must not lose the others
            row["error"] = repr(exc)
            row["traceback"] = traceback.format_exc(limit=6)
        finally:
            torch.backends.cudnn.benchmark = saved_benchmark
            for p in case.params:
                p.grad = None
            if dev.type == "cuda":
                torch.cuda.empty_cache()
    row["fallbacks"] = sorted(
        {str(w.message) for w in caught if issubclass(w.category, _params.FallbackWarning)}
    )
    return row, image


def compare(a: torch.Tensor, b: torch.Tensor) -> dict:
    mse = float((a - b).square().mean())
    psnr = math.inf if mse == 0 else 20 * math.log10(2) - 10 * math.log10(mse)
    return {"psnr_db_vs_first_path": psnr, "max_abs_diff_vs_first_path": float((a - b).abs().max())}


def machine(device: torch.device) -> dict:
    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": str(device),
        "cuda": torch.version.cuda,
    }
    try:
        import triton

        info["triton"] = triton.__version__
    except ImportError:
        info["triton"] = None
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        info |= {"gpu": p.name, "gpu_mem_gib": round(p.total_memory / GIB, 1)}
    else:
        info["torch_threads"] = torch.get_num_threads()
    return info


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return "inf" if math.isinf(v) else f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"
    return str(v)


def table(rows: list[dict]) -> None:
    head = (
        f"{'case':<14}{'impl':<13}{'fwd ms':>9}{'f+b ms':>9}{'f+b GiB':>9}{'1st fwd s':>10}"
        f"{'1st f+b s':>10}{'ref/this':>14}  goal / published (§6)"
    )
    print("\n" + head)
    by_key: dict = {}
    for r in rows:
        by_key.setdefault((r["preset"], r["res"], r["batch"]), {})[_path_label(r)] = r
    for key, paths in by_key.items():
        refs = [r for label, r in paths.items() if r["impl"] == "ref" and "fwd_bwd_ms" in r]
        ref_row = refs[0] if refs else {}
        ref, ref_f = ref_row.get("fwd_bwd_ms"), ref_row.get("fwd_ms")
        for impl, r in paths.items():
            name = f"{key[0]}:{key[1]}:{key[2]}"
            if "error" in r:
                print(f"{name:<14}{impl:<13}  ERROR {r['error'][:90]}")
                continue
            this = r.get("fwd_bwd_ms")
            is_ref = r["impl"] == "ref"
            ratio = ref / this if ref and this and not is_ref else None
            f_ms = r.get("fwd_ms")
            ratio_f = ref_f / f_ms if ref_f and f_ms and not is_ref else None
            ratios = "-" if ratio is None and ratio_f is None else f"{_fmt(ratio_f)}/{_fmt(ratio)}"
            goal = TARGETS.get(key)
            pub = PUBLISHED.get(key, {})
            notes = []
            if goal and not is_ref:
                ms_ok = this is not None and this <= goal[0]
                notes.append(f"goal f+b <= {goal[0]:.0f} ms {'OK' if ms_ok else 'MISSED'}")
                if goal[1] is not None and r.get("fwd_bwd_peak_gib") is not None:
                    mem_ok = r["fwd_bwd_peak_gib"] <= goal[1]
                    notes.append(f"<= {goal[1]:.0f} GiB {'OK' if mem_ok else 'MISSED'}")
            for what, (cuda, plain) in pub.items():
                notes.append(f"{what}: {_fmt(cuda)} (CUDA) / {_fmt(plain)} (plain)")
            if r.get("fallbacks"):
                notes.append(f"{len(r['fallbacks'])} fallback(s)")
            first_f = r.get("first_fwd_ms")
            first_b = r.get("first_fwd_bwd_ms")
            print(
                f"{name:<14}{impl:<13}{_fmt(r.get('fwd_ms')):>9}{_fmt(this):>9}"
                f"{_fmt(r.get('fwd_bwd_peak_gib')):>9}"
                f"{_fmt(first_f / 1e3 if first_f else None):>10}"
                f"{_fmt(first_b / 1e3 if first_b else None):>10}{ratios:>14}  " + "; ".join(notes)
            )


def _path_label(row: dict) -> str:
    # "+cb": torch.backends.cudnn.benchmark on; "+bm": batched modulated convolutions.
    label = row["impl"] + ("+cb" if row.get("cudnn_benchmark") else "")
    return label + ("+bm" if row.get("modconv") == "batched" else "")


def write(result: dict) -> None:
    write_out_json("gpu_generator.json", result)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=parse_case, nargs="+", default=None)
    ap.add_argument("--impls", nargs="+", default=["auto", "ref"], choices=_params.IMPLS)
    ap.add_argument(
        "--cudnn-benchmark", choices=("off", "on"), default="off",
        help="torch.backends.cudnn.benchmark ('on' is what aliasfree train uses on a GPU; rows "
        "and table mark it '+cb'). One setting per process: cuDNN keeps the plan it chose for "
        "a convolution shape (autotuned or by heuristics) for the life of the process, "
        "whatever the flag says later, so 'on' after 'off' would time the heuristic plans",
    )  # fmt: skip
    ap.add_argument(
        "--modconv", nargs="+", choices=("grouped", "batched"), default=["grouped"],
        help="order of the modulated convolutions (gan.networks.layers.modulated_conv2d; "
        "'+bm' in the table)",
    )  # fmt: skip
    ap.add_argument("--rep-ms", type=float, default=400.0, help="timing budget per measurement")
    ap.add_argument("--budget-s", type=float, default=480.0, help="no case starts after this")
    ap.add_argument("--smoke", action="store_true", help="tiny presets at 64 px on the CPU")
    args = ap.parse_args(argv)
    chosen = device_and_cases(args.smoke, args.cases, SMOKE_CASES, DEFAULT_CASES)
    if chosen is None:
        return 2
    device, cases = chosen
    if args.smoke:
        args.rep_ms = min(args.rep_ms, 50.0)
    saved_impl = os.environ.get(_params.ENV_IMPL)
    result = {"machine": machine(device), "args": vars(args) | {"cases": cases}, "rows": []}
    log(json.dumps(result["machine"]))
    for preset, res, batch in cases:
        paths = [
            (impl, cb == "on", mc)
            for impl in dict.fromkeys(args.impls)  # a repeated value would time a path twice
            for mc in dict.fromkeys(args.modconv)
            for cb in (args.cudnn_benchmark,)
        ]
        head = {"preset": preset, "res": res, "batch": batch}

        def stub(impl, cb, mc, head=head):
            return head | {"impl": impl, "cudnn_benchmark": cb, "modconv": mc}

        if time.perf_counter() - T_PROCESS > args.budget_s:
            for path in paths:
                result["rows"].append(stub(*path) | {"error": "skipped: time budget spent"})
            continue
        try:
            case = Case(preset, res, batch, device)
        except Exception as exc:
            for path in paths:
                result["rows"].append(stub(*path) | {"error": f"build failed: {exc!r}"})
            write(result)
            continue
        first = None
        for impl, cb, mc in paths:
            log(f"{preset}:{res}:{batch} impl={impl} cudnn.benchmark={cb} modconv={mc}")
            row, image = run_path(case, impl, args.rep_ms, cb, mc == "grouped")
            if image is not None:
                if first is None:
                    first = image
                else:
                    row |= compare(first, image)
            log("  " + json.dumps({k: v for k, v in row.items() if k != "traceback"}, default=str))
            result["rows"].append(row)
            write(result)
        del case
        if device.type == "cuda":
            torch.cuda.empty_cache()
    if saved_impl is None:
        os.environ.pop(_params.ENV_IMPL, None)
    else:
        os.environ[_params.ENV_IMPL] = saved_impl
    table(result["rows"])
    write(result)
    if os.environ.get("OUT"):
        print(f"wrote {Path(os.environ['OUT']) / 'gpu_generator.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
