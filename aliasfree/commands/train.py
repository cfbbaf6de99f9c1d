"""``aliasfree train``: train config T, config R or the baseline on the built-in data or a folder
or zip of images, with progress, snapshots, metrics, checkpoints and resume (REFERENCE §6).

Top-level imports stay light (argparse, pathlib); torch and ``gan`` load inside :func:`run`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

DEFAULT_OUT = Path("runs") / "train"
METRIC_NAMES = ("eqt", "eqt_frac", "eqr", "fid", "kid")


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "train",
        help="train an alias-free GAN (config T/R) or the baseline; resume with --resume latest",
        description=(
            "Train a generator and discriminator with the non-saturating logistic loss, lazy R1, "
            "a G EMA, adaptive augmentation and (config R; tiny networks T and R) a fading "
            "blur of D's inputs, as in the alias-free GAN paper. The run directory gets a "
            "progress log (log.jsonl), sample grids of fixed latents at every snapshot, "
            "metrics (metrics.jsonl), "
            "checkpoints, the final generator, a loss plot and a README.txt explaining them. "
            "Ctrl-C (or SIGTERM) stops cleanly after the current step with a checkpoint and "
            "exits with 128 + the signal number (130, 143); --resume latest continues exactly. "
            "The defaults (tiny networks, built-in faces at 32 px, batch 16, 5 minutes) run on "
            "a laptop CPU."
        ),
        epilog=(
            "examples: aliasfree train --out runs/demo   |   "
            "aliasfree train --out runs/demo --resume latest --minutes 10   |   "
            "aliasfree train --config r --data my_images.zip --size paper --kimg 5000 "
            "--device cuda"
        ),
    )
    p.add_argument("--config", choices=("t", "r", "baseline"), default="t", help="generator (t)")
    p.add_argument(
        "--size",
        choices=("tiny", "paper"),
        default="tiny",
        help="network capacity: tiny (CPU-sized) or the paper's (default tiny)",
    )
    p.add_argument(
        "--data",
        default="builtin",
        help="builtin, builtin:lfw, builtin:textures, a folder or a .zip of images made by "
        "`aliasfree dataset` (default builtin)",
    )
    p.add_argument(
        "--res", type=int, default=None, help="resolution (default: the data's; builtin 32)"
    )
    p.add_argument("--batch", type=int, default=16, help="global batch size (default 16)")
    length = p.add_mutually_exclusive_group()
    length.add_argument(
        "--kimg", type=float, default=None, help="train until this many thousand real images"
    )
    length.add_argument(
        "--minutes", type=float, default=None, help="train for this many minutes (default 5)"
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"run directory ({DEFAULT_OUT})")
    p.add_argument(
        "--resume",
        default=None,
        metavar="PATH|latest",
        help="continue from a checkpoint, or 'latest' for the newest one in --out (a new run "
        "when --out has none yet); the run keeps its training settings and, unless typed "
        "again, its --kimg/--minutes, snapshot and metric settings",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of data order, latents, augmentation")
    p.add_argument("--init-seed", type=int, default=0, help="seed of the network initialisation")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument(
        "--fp16",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="mixed precision (bfloat16 autocast; default: on with CUDA, off on the CPU)",
    )
    p.add_argument("--augment", choices=("ada", "noaug"), default="ada", help="(default ada)")
    p.add_argument("--augment-p", type=float, default=0.0, help="initial augmentation p (0)")
    p.add_argument("--ada-target", type=float, default=0.6, help="ADA target (0.6)")
    p.add_argument(
        "--ada-lumaflip",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="ADA's luma flip among the colour transforms (on, as in its bgc pipeline)",
    )
    p.add_argument(
        "--ada-kimg",
        type=float,
        default=None,
        help="kimg for ADA's p to move by 1 (500; tiny networks: 10)",
    )
    p.add_argument("--gamma", type=float, default=None, help="R1 weight (default 0.5·(res/128)²)")
    p.add_argument("--r1-interval", type=int, default=16, help="lazy R1 interval (16)")
    p.add_argument(
        "--style-mixing",
        type=float,
        default=None,
        metavar="P",
        help="probability of a style-mixed batch (baseline 0.9, T and R 0)",
    )
    p.add_argument(
        "--pl-weight",
        type=float,
        default=None,
        help="path-length regularisation weight, baseline only (baseline 2; 0 disables)",
    )
    p.add_argument(
        "--pl-interval", type=int, default=4, help="lazy path-length regularisation interval (4)"
    )
    p.add_argument("--g-lr", type=float, default=None, help="G lr (0.0025; baseline 0.002)")
    p.add_argument("--d-lr", type=float, default=None, help="D lr (0.002)")
    p.add_argument(
        "--ema-kimg", type=float, default=None, help="G EMA half-life in kimg (batch·10/32)"
    )
    p.add_argument(
        "--blur-sigma",
        type=float,
        default=None,
        help="initial σ (px) of D's input blur, any config (config R 10, T and baseline 0; "
        "tiny: T and R res/16)",
    )
    p.add_argument(
        "--blur-fade-kimg",
        type=float,
        default=None,
        help="kimg of the blur fade (batch·200/32; tiny: 40)",
    )
    p.add_argument("--xflip", action="store_true", help="add mirrored copies of the images")
    p.add_argument("--labels", action="store_true", help="condition on dataset.json labels")
    p.add_argument("--max-images", type=int, default=None, help="use only the first N images")
    p.add_argument("--snap-kimg", type=float, default=1.0, help="snapshot every N kimg (1)")
    p.add_argument("--tick-kimg", type=float, default=0.1, help="progress line every N kimg")
    p.add_argument(
        "--metrics",
        default="eqt,eqt_frac,eqr",
        help=f"comma-separated subset of {','.join(METRIC_NAMES)}, or 'none' "
        "(default eqt,eqt_frac,eqr; fid/kid need --fid-extractor)",
    )
    p.add_argument(
        "--metric-samples", type=int, default=16, help="latents per equivariance metric (16)"
    )
    p.add_argument(
        "--fid-extractor",
        type=Path,
        default=None,
        help="TorchScript feature extractor for FID/KID (e.g. inception-2015-12-05.pt), an "
        "existing file; used only when --metrics includes fid or kid (they are not turned on by "
        "it: a note says it is unused otherwise); nothing is downloaded",
    )
    p.add_argument("--fid-samples", type=int, default=1000, help="generated images for FID/KID")
    p.add_argument("--keep", type=int, default=3, help="checkpoints kept (3)")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for torch on the CPU (default: the CPUs idle at start, at least 1)",
    )
    p.add_argument(
        "--loader-threads",
        type=int,
        default=None,
        metavar="N",
        help="threads reading and decoding the next step's images while a step trains (default: "
        "4 with CUDA for an image folder or zip, else 0: read on the main thread)",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="print a progress line every tick (default on)",
    )
    for action in p._actions:
        if action.dest in _FIELD_OF_DEST or action.dest in _SESSION_DESTS:
            action.__class__ = _recording(type(action))
    p.set_defaults(command="train", given=frozenset())
    return p


# Names in the errors of gan.training that differ from the flag's dest (aliasfree.cli rewrites
# a leading "name must ..." to the flag).
FLAG_NAMES = {"use_labels": "--labels", "r1_gamma": "--gamma", "path": "--out", "source": "--data"}

# Flag destinations of the options a resumed run takes from its checkpoint
# (``gan.training.options.TRAINING_FIELDS``), mapped to those fields.
_FIELD_OF_DEST = {
    **{
        d: d
        for d in (
            "config", "size", "data", "res", "batch", "xflip", "max_images", "g_lr", "d_lr",
            "r1_interval", "style_mixing", "pl_weight", "pl_interval", "ema_kimg", "blur_sigma",
            "blur_fade_kimg", "augment", "augment_p", "ada_lumaflip",
            "ada_target", "ada_kimg", "seed", "init_seed",
        )
    },
    "labels": "use_labels",
    "gamma": "r1_gamma",
}  # fmt: skip


# Flags of the run's length, snapshots and metrics: a resumed run keeps the checkpoint's
# values of those the user does not type again (``--resume latest`` alone continues the run as
# it was set up: to its --kimg target, with its snapshot interval and metric settings).
_SESSION_DESTS = (
    "kimg", "minutes", "snap_kimg", "tick_kimg", "metrics", "metric_samples", "fid_extractor",
    "fid_samples", "keep",
)  # fmt: skip


def _recording(base: type) -> type:
    """``base`` (an argparse action class) that also adds its ``dest`` to ``namespace.given``.

    A resume must report every such flag the user typed whose value the checkpoint overrides,
    also one equal to the CLI default (``--config t`` on a config R run); comparing the parsed
    value with the default cannot tell those apart.
    """

    def __call__(self, parser, namespace, values, option_string=None):
        base.__call__(self, parser, namespace, values, option_string)
        namespace.given = frozenset(getattr(namespace, "given", ())) | {self.dest}

    return type(f"Recording{base.__name__}", (base,), {"__call__": __call__})


def _metrics(text: str) -> tuple[str, ...]:
    if text.strip().lower() == "none":
        return ()
    names = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in names if m not in METRIC_NAMES]
    if bad:
        raise ValueError(
            f"--metrics must be a comma-separated subset of {METRIC_NAMES}, got {text!r}"
        )
    return tuple(dict.fromkeys(names))


def _data_source(data: object) -> str:
    """``--data`` as stored in the run's options: a built-in set by name, a path made absolute,
    so that ``--resume`` works from any working directory."""
    text = str(data)
    if text == "builtin" or text.startswith("builtin:"):
        return text
    return str(Path(text).expanduser().absolute())


def options_from_args(args: argparse.Namespace):
    """The :class:`gan.training.options.TrainOptions` of parsed arguments."""
    from gan.training.options import TrainOptions

    return TrainOptions(
        config=args.config,
        size=args.size,
        data=_data_source(args.data),
        res=args.res,
        batch=args.batch,
        kimg=args.kimg,
        minutes=args.minutes,
        g_lr=args.g_lr,
        d_lr=args.d_lr,
        r1_gamma=args.gamma,
        r1_interval=args.r1_interval,
        style_mixing=args.style_mixing,
        pl_weight=args.pl_weight,
        pl_interval=args.pl_interval,
        ema_kimg=args.ema_kimg,
        blur_sigma=args.blur_sigma,
        blur_fade_kimg=args.blur_fade_kimg,
        augment=args.augment,
        augment_p=args.augment_p,
        ada_lumaflip=args.ada_lumaflip,
        ada_target=args.ada_target,
        ada_kimg=args.ada_kimg,
        xflip=args.xflip,
        use_labels=args.labels,
        max_images=args.max_images,
        snap_kimg=args.snap_kimg,
        tick_kimg=args.tick_kimg,
        metrics=_metrics(args.metrics),
        metric_samples=args.metric_samples,
        # Absolute, like --data: a resumed run reuses it from any working directory.
        fid_extractor=(
            None if args.fid_extractor is None else str(Path(args.fid_extractor).absolute())
        ),
        fid_samples=args.fid_samples,
        out=str(args.out),
        resume=args.resume,
        keep=args.keep,
        seed=args.seed,
        init_seed=args.init_seed,
        device=args.device,
        loader_threads=args.loader_threads,
        fp16=args.fp16,
    )


def _given(args: argparse.Namespace) -> set[str]:
    """Flag destinations typed on the command line: ``args.given`` (recorded by the parser), or
    for a namespace built by hand, the flags whose value differs from the parser's default."""
    given = getattr(args, "given", None)
    if given is not None:
        return set(given)
    holder = argparse.ArgumentParser().add_subparsers()
    defaults = add_parser(holder).parse_args([])
    dests = list(_FIELD_OF_DEST) + list(_SESSION_DESTS)
    return {d for d in dests if getattr(args, d, None) != getattr(defaults, d)}


def _saved_options(opts):
    """The options stored in the checkpoint ``opts.resume`` names (None: nothing to resume)."""
    from gan.training.checkpoint import read_checkpoint_info, resolve_resume
    from gan.training.options import TrainOptions

    if not opts.resume:
        return None
    # Silent: train() resolves it again and says which checkpoints it skips, and why (or that
    # it starts a new run, or that none is usable), once and in that order.
    path = resolve_resume(opts.resume, opts.out, on_skip=lambda text: None)
    if path is None:
        return None
    return TrainOptions.from_checkpoint(read_checkpoint_info(path)["extra"]["options"])


def resumed_session_options(args: argparse.Namespace, opts):
    """``opts`` with the run's length, snapshot and metric settings (``_SESSION_DESTS``) taken
    from the checkpoint it resumes wherever the user did not type the flag, and the notes that
    say so (one line listing those that differ from the command-line defaults), followed by
    :func:`_ignored_on_resume`'s (the checkpoint is read once).

    ``--kimg`` and ``--minutes`` count as one setting: typing either replaces both. Without a
    checkpoint to resume (no ``--resume``, or ``--resume latest`` in a folder without a usable
    one) the options are returned unchanged, without notes: :func:`gan.training.loop.train`
    then says what it does (a new run, with a note; or an error when the folder holds only
    unusable checkpoints, after a note on each).
    """
    import dataclasses

    saved = _saved_options(opts)
    if saved is None:
        return opts, []
    given = _given(args)
    holder = argparse.ArgumentParser().add_subparsers()
    defaults = options_from_args(add_parser(holder).parse_args([]))
    fields = [f for f in _SESSION_DESTS if f not in ("kimg", "minutes") and f not in given]
    if not {"kimg", "minutes"} & given:
        fields += ["kimg", "minutes"]
    kept = {f: getattr(saved, f) for f in fields}
    shown = [
        f"--{f.replace('_', '-')} {(','.join(v) or 'none') if isinstance(v, tuple) else v}"
        for f, v in kept.items()
        if v != getattr(defaults, f) and v is not None
    ]
    notes = []
    if shown:
        notes.append(
            f"note: the resumed run keeps its {', '.join(shown)} (type a flag to change it)"
        )
    return dataclasses.replace(opts, **kept), notes + _ignored_notes(given, opts, saved)


def _ignored_on_resume(args: argparse.Namespace, opts) -> list[str]:
    """Notes for training options given on the command line that a resumed run overrides.

    A resumed run keeps the checkpoint's optimisation options (``TRAINING_FIELDS``) so that it
    continues exactly; a flag that asks for something else would otherwise be dropped silently.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed ``train`` arguments; ``args.given`` names the flags typed on the command line.
        Without it (a namespace built by hand) every flag that differs from its default counts
        as given.
    opts : TrainOptions
        :func:`options_from_args` of ``args``.

    Returns
    -------
    list of str
        One note per given flag whose value differs from the checkpoint's.
    """
    saved = _saved_options(opts)
    return [] if saved is None else _ignored_notes(_given(args), opts, saved)


def _ignored_notes(given: set[str], opts, saved) -> list[str]:
    notes = []
    for dest, field in _FIELD_OF_DEST.items():
        value = getattr(opts, field)
        if dest in given and value != getattr(saved, field):
            flag = dest.replace("_", "-")
            # A switch as typed: --no-ada-lumaflip, not "--ada-lumaflip False".
            typed = (
                f"--{'' if value else 'no-'}{flag}"
                if isinstance(value, bool)
                else f"--{flag} {value}"
            )
            notes.append(
                f"note: {typed} is ignored: the resumed run keeps the checkpoint's "
                f"{getattr(saved, field)} (start a new run with another --out to change it)"
            )
    return notes


def _available_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _cpu_times() -> tuple[int, int] | None:
    """``(idle, total)`` jiffies of all CPUs from ``/proc/stat`` (None where there is none)."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    if len(fields) < 5:
        return None
    # user nice system idle iowait irq softirq steal [guest guest_nice: already in user/nice]
    return fields[3] + fields[4], sum(fields[:8])


def _idle_cpus(interval: float = 0.3) -> float | None:
    """How many CPUs sat idle over the next ``interval`` seconds (None if unknown).

    Measured, not taken from the load average: that lags by a minute, so right after another
    job ends it would still report the cores as busy.
    """
    a = _cpu_times()
    time.sleep(interval)
    b = _cpu_times()
    if a is None or b is None or b[1] <= a[1]:
        return None
    return (os.cpu_count() or 1) * (b[0] - a[0]) / (b[1] - a[1])


def default_threads(available: int, idle: float | None, processes: int = 1) -> int:
    """torch threads for CPU training: the CPUs that are idle now, at least 1.

    Measured on 2 cores (issue 5, benchmarks/RESULTS.md): on an idle machine 2 threads run a
    tiny training step 1.4–1.6× faster than 1; when another process keeps a core busy, a second
    thread waits on it and the step gets 2–10× slower. So count a CPU only when it is mostly
    idle (``idle`` rounded down after adding 0.25), and use every CPU when idleness is unknown.
    Under torchrun the ``processes`` training on this machine (``LOCAL_WORLD_SIZE``) measure
    the same idle CPUs at once, so they share them: each gets its part, at least 1.
    """
    cpus = available if idle is None else min(available, int(idle + 0.25))
    return max(1, cpus // max(1, processes))


def run(args: argparse.Namespace) -> int:
    from dsp._io import make_output_dir

    opts = options_from_args(args)
    make_output_dir(opts.out, "--out", create=False)  # before the data and networks load
    if args.fid_extractor is not None:
        # Checked whatever --metrics says: a typo would otherwise surface only once a run
        # with fid/kid reached its first snapshot, or never.
        extractor = Path(args.fid_extractor)
        if not extractor.is_file():
            what = "is not a file" if extractor.exists() else "does not exist"
            raise ValueError(
                f"--fid-extractor {str(extractor)!r} {what}: give an existing TorchScript "
                "feature extractor file (e.g. inception-2015-12-05.pt)"
            )
    import torch

    from gan.training.distributed import launch_ranks

    rank, local_rank, procs = launch_ranks()  # under torchrun, rank 0 speaks for all
    threads = args.threads
    on_cpu = opts.device == "cpu" or (opts.device == "auto" and not torch.cuda.is_available())
    if threads is not None:
        if threads < 1:
            raise ValueError(f"--threads must be >= 1, got {threads}")
    elif on_cpu:
        available = _available_cpus()
        idle = _idle_cpus()
        threads = default_threads(available, idle, procs)
        seen = "unknown" if idle is None else f"{idle:.1f}"
        shared = f", shared by {procs} processes" if procs > 1 else ""
        if local_rank == 0:
            print(
                f"torch threads: {threads} ({seen} of {available} CPUs idle{shared}; "
                "--threads overrides)",
                file=sys.stderr,
                flush=True,
            )
    if threads is not None:
        torch.set_num_threads(threads)
    from gan.training.loop import train

    opts, resume_notes = resumed_session_options(args, opts)
    if args.fid_extractor is not None and not {"fid", "kid"} & set(opts.metrics):
        resume_notes.append(
            f"note: --fid-extractor is unused: --metrics {','.join(opts.metrics) or 'none'} has "
            "no fid or kid (add them to --metrics to compute FID/KID)"
        )
    if rank == 0:
        for note in resume_notes:
            print(note, file=sys.stderr, flush=True)
    result = train(opts, progress=args.progress)
    # Stopped by a signal (after the final snapshot and checkpoint): the shell's 128 + signal
    # number, so that scripts and schedulers see an interrupted run, not a finished one.
    code = 0 if result["signal"] is None else 128 + result["signal"]
    if not result["trainer"].env.is_main:
        # Other ranks write nothing, so they skip the interpreter's finalisation: there, now and
        # then, a gloo thread still alive made the C++ runtime abort ("terminate called without
        # an active exception", SIGABRT after a complete run; 1 run in about 20 of the 2-process
        # test under load), and torchrun then killed rank 0 and reported the run as failed.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    out = Path(result["run_dir"])
    print(
        f"trained {result['kimg']:.3g} kimg ({result['step']} step"
        f"{'' if result['step'] == 1 else 's'}); run directory {out}: "
        "progress.png, samples-kimg*.png, metrics.jsonl, losses.png, "
        f"{Path(result['checkpoint']).name}, generator.json (see README.txt there)"
    )
    if code:
        print(f"stopped early; continue with --resume latest --out {out}", file=sys.stderr)
    return code
