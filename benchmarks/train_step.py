"""Seconds per kimg and peak memory of one training step (issue 5; REFERENCE §6).

    python benchmarks/train_step.py                      # GPU: configs T and R, 256 px, batch 32
    python benchmarks/train_step.py --cases t:256:32 --cycles 1
    python benchmarks/train_step.py --device cpu         # tiny presets, 32 px, batch 16, 1 thread
    python benchmarks/train_step.py --smoke              # no GPU: the GPU path's code on the CPU

A case ``preset:res:batch`` (``t``, ``r``, ``baseline``: the paper's networks; ``t-tiny`` ...:
the tiny ones) builds a :class:`gan.training.loop.Trainer` exactly as ``aliasfree train`` does
(same losses, optimizers, EMA, config-R blur of D's inputs starting at σ = 10 px, bfloat16
autocast on CUDA), with two differences that keep the timed region to the optimisation
phases, as REFERENCE §6's training rows do:

- no data loading: the real batches of the steps of a cycle (``r1_interval`` steps; the
  baseline's: the least common multiple of it and its path-length interval) are read and moved
  to the device before timing (``--data synthetic``: random uint8 RGB images, the GPU default;
  ``--data builtin``: the built-in faces, the CPU default, the data of ``aliasfree train``);
- no augmentation by default (``--augment ada`` adds ADA's pipeline; its p starts at 0).

Timing. After a warm-up of one step with R1 and one without (first calls, Triton JIT
compilation, allocator growth; timed and reported apart), ``--cycles`` full lazy-R1 cycles are
timed step by step: ``r1_interval`` (16) consecutive steps, the first of which runs the R1 phase,
so R1 is amortised exactly as in training (the baseline's path-length phase, every 4 steps,
falls on steps 0, 4, 8, 12 of each cycle: amortised exactly too). ``s/kimg = (time of the
cycles) / (images in them) · 1000``. The per-step times also give the same figure as
``(15·median plain step + median R1 step) / 16`` (the baseline: its 3 path-length steps and 12
plain ones apart), printed beside it as a check. Then ``--phase-steps`` (3) plain steps and as many
R1 steps run again with each phase synchronised and timed on its own (medians reported):
G phase (G forward, D forward, backward into G, Adam), D phase (G forward without grad, D on
fakes and reals, backward, Adam), R1 phase (D forward with a double backward, Adam); the rest of
a step is the batch, the EMA and ADA. The phase times include those synchronisations, so they
do not add up exactly to the step times.

Memory: on CUDA, ``torch.cuda.max_memory_allocated`` over each step and each phase (peak over
the cycles reported, with the memory resident before them: weights, EMA, Adam states, cached
reals); on the CPU, the process's peak RSS (``ru_maxrss``: the whole process, Python and the
cached batches included).

Every case runs in its own subprocess (an out-of-memory, a CUDA fault or a hang loses only
that case; ``--case-timeout-s``) and writes its row after every stage, so a killed case keeps
what it measured; no case starts after ``--budget-s``. With ``OUT`` set, every row goes to
``$OUT/train_step.json`` after each case. The final table prints the REFERENCE §6 figures of
the reference implementation on one H100 (T 27.4 s/kimg, R 39.7, StyleGAN2 13.6 with its own
regulariser) and the issue's goals: **T ≤ 18 s/kimg, R ≤ 26 s/kimg** (1.5× faster).
Expected GPU run time: ≈ 1–2 min per case (most of it compilation on the first steps).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

from _cli import log, parse_case
from _out import write_out_json

ROOT = Path(__file__).resolve().parents[1]
T_PROCESS = time.perf_counter()

GPU_CASES = ("t:256:32", "r:256:32")
CPU_CASES = ("t-tiny:32:16", "r-tiny:32:16", "baseline-tiny:32:16")
SMOKE_CASES = ("t-tiny:32:4", "r-tiny:32:4", "baseline-tiny:32:4")
#: REFERENCE §6: the reference implementation on one H100, s/kimg (training phases only).
PUBLISHED = {("t", 256, 32): 27.4, ("r", 256, 32): 39.7, ("baseline", 256, 32): 13.6}
#: Issue 5's goals (1.5× faster than PUBLISHED), s/kimg.
GOALS = {("t", 256, 32): 18.0, ("r", 256, 32): 26.0}
GIB = 2.0**30


def machine(device: str) -> dict:
    import torch

    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": device,
        "cuda": torch.version.cuda,
        "cpu_cores_visible": len(os.sched_getaffinity(0)),
        "load_average": os.getloadavg(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import triton

        info["triton"] = triton.__version__
    except ImportError:
        info["triton"] = None
    if device == "cuda" and torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        info |= {"gpu": p.name, "gpu_mem_gib": round(p.total_memory / GIB, 1)}
    return info


# ---- the worker: one case in this process ---------------------------------------------------


class SyntheticImages:
    """Random uint8 images: a dataset-like object for :class:`Trainer` (content does not
    change the work of a step)."""

    def __init__(self, res: int, channels: int = 3, n: int = 1024) -> None:
        self.res, self.num_channels, self.c_dim, self.n = res, channels, 0, n
        self.name = "synthetic"

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        import torch

        g = torch.Generator().manual_seed(int(i))
        img = torch.randint(0, 256, (self.num_channels, self.res, self.res), generator=g)
        return img.to(torch.uint8), torch.zeros(0)


def _write_row(path: Path, row: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(row, default=str))
    tmp.replace(path)


def run_case(args: argparse.Namespace, row_path: Path) -> None:
    """Measure one case; the row is rewritten at ``row_path`` after every stage."""
    import torch

    preset, res, batch = args.case
    row: dict = {"preset": preset, "res": res, "batch": batch, "device": args.device}
    row |= {"data": args.data, "augment": args.augment, "impl": args.impl}

    def save() -> None:
        row["rss_peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        row["load_average"] = os.getloadavg()
        _write_row(row_path, row)

    caught: list = []
    try:
        if args.impl:
            os.environ["ALIASFREE_OPS_IMPL"] = args.impl
        if args.device == "cpu":
            torch.set_num_threads(args.threads)
        row["torch_threads"] = torch.get_num_threads()
        sys.path.insert(0, str(ROOT))
        from gan.ops import _params
        from gan.training.loop import Trainer
        from gan.training.options import TrainOptions

        warnings.simplefilter("always", _params.FallbackWarning)
        warnings.showwarning = lambda msg, cat, *a, **k: caught.append(f"{cat.__name__}: {msg}")
        cuda = args.device == "cuda"

        def sync() -> None:
            if cuda:
                torch.cuda.synchronize()

        config = preset.removesuffix("-tiny")
        opts = TrainOptions(
            config=config,
            size="tiny" if preset.endswith("-tiny") else "paper",
            res=res,
            batch=batch,
            augment=args.augment,
            metrics=(),
            device=args.device,
            out=str(row_path.parent / "unused-run-dir"),
            fp16=args.fp16,
        )
        if args.data == "builtin":
            from gan.training.data import ImageDataset

            dataset = ImageDataset("builtin", res=res)
        else:
            dataset = SyntheticImages(res)
        t0 = time.perf_counter()
        trainer = Trainer(opts, dataset=dataset)
        if args.cudnn_benchmark is not None:
            torch.backends.cudnn.benchmark = args.cudnn_benchmark
        row["cudnn_benchmark"] = torch.backends.cudnn.benchmark
        from gan.networks.layers import set_grouped_modconv

        for net in (trainer.G, trainer.G_ema):
            set_grouped_modconv(net, args.modconv == "grouped")
        row["modconv"] = args.modconv
        row["build_s"] = time.perf_counter() - t0
        o = trainer.opts
        # One cycle amortises every lazy regulariser exactly: R1 and (the baseline's) path
        # length both run at its first step, path length again every pl_interval steps.
        interval = math.lcm(
            o.r1_interval if o.r1_gamma > 0 else 1, o.pl_interval if o.pl_weight > 0 else 1
        )
        row |= {
            "cycle_steps": interval,
            "pl_interval": o.pl_interval if o.pl_weight > 0 else None,
            "r1_interval": o.r1_interval if o.r1_gamma > 0 else None,
            "r1_gamma": o.r1_gamma,
            "blur_sigma_start": o.blur_sigma,
            "fp16": trainer.fp16,
            "img_channels": int(dataset.num_channels),
            "G_params": sum(p.numel() for p in trainer.G.parameters()),
            "D_params": sum(p.numel() for p in trainer.D.parameters()),
        }
        # No data loading while timed: every real batch of one cycle lives on the device.
        cache = {s: trainer.real_batch(s) for s in range(interval)}
        trainer.real_batch = lambda s: cache[s % interval]
        save()

        def timed_step() -> tuple[float, float | None, dict]:
            sync()
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            t = time.perf_counter()
            st = trainer.step()
            sync()
            dt = time.perf_counter() - t
            peak = torch.cuda.max_memory_allocated() / GIB if cuda else None
            return dt, peak, st

        # Warm-up: step 0 runs R1, step 1 does not; both compile what they need.
        for name in ("first_step_r1_s", "second_step_s"):
            dt, peak, st = timed_step()
            row[name] = dt
            row["finite_losses"] = all(
                v == v and abs(v) != float("inf") for v in st.values() if isinstance(v, float)
            )
            save()
        log(f"  warm-up {row['first_step_r1_s']:.2f} s (R1) + {row['second_step_s']:.2f} s")

        resident = torch.cuda.memory_allocated() / GIB if cuda else None
        plain, r1, pl, peaks, t_cycles = [], [], [], [], 0.0
        trainer.step_idx = interval  # the start of a cycle: its first step runs R1
        for c in range(args.cycles):
            for _ in range(interval):
                due = trainer.r1_due()
                dt, peak, st = timed_step()
                if bool(st["r1_applied"]) != due:
                    raise RuntimeError("the R1 schedule differs from r1_due()")
                (r1 if due else pl if st.get("pl_applied") else plain).append(dt)
                t_cycles += dt
                if peak is not None:
                    peaks.append(peak)
            n_img = (c + 1) * interval * batch
            row["sec_per_kimg"] = t_cycles / n_img * 1000
            row["cycles_done"] = c + 1
            row["plain_step_s"] = statistics.median(plain) if plain else None
            row["r1_step_s"] = statistics.median(r1)
            row["pl_step_s"] = statistics.median(pl) if pl else None
            if plain:
                n_pl = len(pl) // (c + 1)
                amort = (
                    row["plain_step_s"] * (interval - 1 - n_pl)
                    + (row["pl_step_s"] or 0.0) * n_pl
                    + row["r1_step_s"]
                ) / interval
                row["sec_per_kimg_from_medians"] = amort / batch * 1000
            row["img_per_s"] = n_img / t_cycles
            if peaks:
                row["peak_gib"] = max(peaks)
                row["resident_gib"] = resident
            save()
            log(f"  cycle {c + 1}: {row['sec_per_kimg']:.2f} s/kimg")

        # Per-phase breakdown of one plain and one R1 step (synchronised phases).
        phases = {}
        orig = {k: getattr(trainer.loss, k) for k in ("loss_G", "loss_Gpl", "loss_D", "loss_R1")}
        orig_opt = trainer._optimize
        current: dict = {}

        def wrap_loss(name):
            def f(*a, **k):
                sync()
                if cuda:
                    torch.cuda.reset_peak_memory_stats()
                current["name"], current["t"] = name, time.perf_counter()
                return orig[name](*a, **k)

            return f

        def wrapped_opt(module, opt, loss):
            orig_opt(module, opt, loss)
            sync()
            name = current.pop("name")
            rec = {"s": time.perf_counter() - current.pop("t")}
            if cuda:
                rec["peak_gib"] = torch.cuda.max_memory_allocated() / GIB
            phases.setdefault(name.removeprefix("loss_") + " phase", []).append(rec)

        for k in orig:
            setattr(trainer.loss, k, wrap_loss(k))
        trainer._optimize = wrapped_opt
        base = trainer.step_idx - trainer.step_idx % interval
        starts = [base + 1 + i for i in range(args.phase_steps)]  # plain steps
        starts += [base + interval * (1 + i) for i in range(args.phase_steps)]  # R1 steps
        for start in starts:
            trainer.step_idx = start
            due = trainer.r1_due()
            dt, peak, _ = timed_step()
            phases.setdefault("whole R1 step" if due else "whole plain step", []).append(
                {"s": dt, "peak_gib": peak}
            )
        row["phases"] = {
            k: {
                "s": statistics.median(r["s"] for r in v),
                "peak_gib": max(r["peak_gib"] for r in v) if cuda else None,
                "runs": len(v),
            }
            for k, v in phases.items()
        }
        for k in orig:
            setattr(trainer.loss, k, orig[k])
        trainer._optimize = orig_opt
    except Exception as exc:  # one failing case must not lose the others
        oom = type(exc).__name__ == "OutOfMemoryError"
        row["error"] = ("out of memory: " if oom else "") + str(exc).splitlines()[0][:300]
        if not oom:
            row["traceback"] = traceback.format_exc(limit=8)
    row["warnings"] = sorted(set(caught))[:20]
    save()


# ---- the driver ---------------------------------------------------------------------------


def _fmt(v, nd: int = 2) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.1f}" if abs(v) >= 100 else f"{v:.{nd}f}"
    return str(v)


def table(rows: list[dict]) -> None:
    print(
        f"\n{'case':<21}{'s/kimg':>8}{'(medians)':>10}{'img/s':>8}{'plain s':>9}{'R1 s':>7}"
        f"{'peak GiB':>9}{'RSS MiB':>9}{'1st s':>7}  reference (§6, H100) / goal"
    )
    for r in rows:
        name = f"{r['preset']}:{r['res']}:{r['batch']}"
        if "sec_per_kimg" not in r:
            print(f"{name:<21}ERROR {r.get('error', 'no result')[:100]}")
            continue
        key = (r["preset"], r["res"], r["batch"])
        notes = []
        if key in PUBLISHED:
            ratio = PUBLISHED[key] / r["sec_per_kimg"]
            notes.append(f"ref {PUBLISHED[key]} s/kimg ({ratio:.2f}x faster)")
        if key in GOALS:
            ok = r["sec_per_kimg"] <= GOALS[key]
            notes.append(f"goal <= {GOALS[key]:.0f}: {'MET' if ok else 'MISSED'}")
        if r.get("error"):
            notes.append(f"partial: {r['error'][:60]}")
        if r.get("warnings"):
            notes.append(f"{len(r['warnings'])} warning(s)")
        print(
            f"{name:<21}{_fmt(r['sec_per_kimg']):>8}{_fmt(r.get('sec_per_kimg_from_medians')):>10}"
            f"{_fmt(r.get('img_per_s')):>8}{_fmt(r.get('plain_step_s'), 3):>9}"
            f"{_fmt(r.get('r1_step_s'), 3):>7}{_fmt(r.get('peak_gib')):>9}"
            f"{_fmt(r.get('rss_peak_mib')):>9}{_fmt(r.get('first_step_r1_s')):>7}  "
            + "; ".join(notes)
        )
        if r.get("pl_step_s") is not None:
            # The baseline: its R1 steps run the path-length phase too (both at cycle step 0).
            print(f"{'':<23}{'path-length step':<18}{r['pl_step_s'] * 1e3:9.1f} ms (median; "
                  "the R1 step column includes one)")  # fmt: skip
        for ph, rec in (r.get("phases") or {}).items():
            mem = f", peak {rec['peak_gib']:.2f} GiB" if rec.get("peak_gib") is not None else ""
            print(f"{'':<23}{ph:<18}{rec['s'] * 1e3:9.1f} ms (median){mem}")
    print(
        "\nREFERENCE §6 (reference implementation, one H100, phases only): T 27.4 s/kimg, "
        "R 39.7, StyleGAN2 13.6 (with path-length reg.); issue 5 goals: T <= 18, R <= 26."
    )


def write(result: dict) -> None:
    write_out_json("train_step.json", result)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=parse_case, nargs="+", default=None)
    ap.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    ap.add_argument("--data", choices=("synthetic", "builtin"), default=None)
    ap.add_argument("--augment", choices=("noaug", "ada"), default="noaug")
    ap.add_argument("--impl", choices=("auto", "ref", "triton"), default=None, help="ops path")
    ap.add_argument("--fp16", action=argparse.BooleanOptionalAction, default=None)
    ap.add_argument(
        "--modconv", choices=("grouped", "batched"), default="grouped",
        help="order of G's modulated convolutions (gan.networks.layers.set_grouped_modconv)",
    )  # fmt: skip
    ap.add_argument(
        "--cudnn-benchmark", action=argparse.BooleanOptionalAction, default=None,
        help="torch.backends.cudnn.benchmark (default: as aliasfree train, on with CUDA)",
    )  # fmt: skip
    ap.add_argument("--cycles", type=int, default=None, help="timed R1 cycles (default 2)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads on the CPU (1)")
    ap.add_argument(
        "--phase-steps", type=int, default=None, help="steps of each kind timed per phase (3)"
    )
    ap.add_argument("--budget-s", type=float, default=480.0, help="no case starts after this")
    ap.add_argument("--case-timeout-s", type=float, default=300.0)
    ap.add_argument("--smoke", action="store_true", help="tiny presets on the CPU, 1 cycle")
    ap.add_argument("--worker", type=parse_case, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--row", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.smoke:
        args.device = "cpu"
    if args.data is None:
        args.data = "builtin" if args.device == "cpu" and not args.smoke else "synthetic"
    if args.cycles is None:
        args.cycles = 1 if args.smoke else 2
    if args.phase_steps is None:
        args.phase_steps = 1 if args.smoke else 3
    if args.cycles < 1 or args.phase_steps < 1:
        ap.error("--cycles and --phase-steps must be >= 1")

    if args.worker is not None:
        args.case = args.worker
        run_case(args, args.row)
        return 0

    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print("no CUDA device: use --device cpu, or --smoke to check the script on the CPU")
            return 2
    default = SMOKE_CASES if args.smoke else GPU_CASES if args.device == "cuda" else CPU_CASES
    cases = args.cases or [parse_case(c) for c in default]
    result = {
        "machine": machine(args.device),
        "args": {k: v for k, v in vars(args).items() if k not in ("worker", "row")},
        "rows": [],
    }
    log(json.dumps(result["machine"]))
    # Under $OUT when set: a case cut off by an outer timeout (the device session's) still
    # leaves the row its worker wrote after every stage where the session packs its results.
    out = os.environ.get("OUT")
    if out:
        tmpdir = Path(out, "train_step_rows")
        tmpdir.mkdir(parents=True, exist_ok=True)
    else:
        tmpdir = Path(tempfile.mkdtemp(prefix="train_step_"))
    for i, (preset, res, batch) in enumerate(cases):
        row = {"preset": preset, "res": res, "batch": batch}
        left = args.budget_s - (time.perf_counter() - T_PROCESS)
        if left <= 0:
            result["rows"].append(row | {"error": "skipped: time budget spent"})
            write(result)
            continue
        log(f"{preset}:{res}:{batch} ({args.device}, data {args.data}, {args.augment})")
        row_path = tmpdir / f"row{i}.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", f"{preset}:{res}:{batch}"]
        cmd += ["--row", str(row_path), "--device", args.device, "--data", args.data]
        cmd += ["--augment", args.augment, "--cycles", str(args.cycles)]
        cmd += ["--threads", str(args.threads), "--phase-steps", str(args.phase_steps)]
        if args.impl:
            cmd += ["--impl", args.impl]
        if args.fp16 is not None:
            cmd += ["--fp16" if args.fp16 else "--no-fp16"]
        if args.cudnn_benchmark is not None:
            cmd += ["--cudnn-benchmark" if args.cudnn_benchmark else "--no-cudnn-benchmark"]
        cmd += ["--modconv", args.modconv]
        try:
            proc = subprocess.run(cmd, timeout=args.case_timeout_s, text=True, capture_output=True)
            note = None if proc.returncode == 0 else f"worker exit status {proc.returncode}"
            tail = (proc.stdout + proc.stderr)[-2000:]
        except subprocess.TimeoutExpired as exc:
            note = f"timed out after {args.case_timeout_s:.0f} s"
            # TimeoutExpired carries bytes even with text=True.
            raw = exc.stdout or b""
            tail = (raw.decode(errors="replace") if isinstance(raw, bytes) else raw)[-2000:]
        if tail.strip():
            print(tail.rstrip())
        if row_path.is_file():
            row = json.loads(row_path.read_text())
        if note:
            row["error"] = f"{note}; {row['error']}" if row.get("error") else note
        if row.get("error"):
            log(f"  error: {row['error'][:200]}")
        result["rows"].append(row)
        write(result)
    shutil.rmtree(tmpdir, ignore_errors=True)  # every row is in train_step.json now
    result["machine"]["load_average_end"] = os.getloadavg()
    table(result["rows"])
    write(result)
    if os.environ.get("OUT"):
        print(f"wrote {Path(os.environ['OUT']) / 'train_step.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
