"""``aliasfree equivariance``: table of EQ-T, EQ-T_frac and EQ-R (REFERENCE §5) of a generator
preset or checkpoint, for the output image and optionally for internal layers.

Top-level imports stay light (argparse, pathlib); torch and ``gan`` load inside :func:`run`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from aliasfree.commands.generate import (
    add_class_arg,
    add_model_args,
    class_of,
    load_model,
    model_label,
)

METRIC_NAMES = ("eqt", "eqt_frac", "eqr")
_HEADS = {"eqt": "EQ-T", "eqt_frac": "EQ-T_frac", "eqr": "EQ-R"}


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "equivariance",
        help="measure EQ-T, EQ-T_frac and EQ-R (PSNR in dB) of a generator",
        description=(
            "Measure translation and rotation equivariance as in the alias-free GAN paper: "
            "generate y1 = G(z) and y2 = G(z) with the input transform moved by t (or turned by "
            "an angle), apply the same transform to y1 with a reference resampler (EQ-T: whole-"
            "pixel shift; EQ-T_frac: Lanczos a=3; EQ-R: band-limited rotation, the same band "
            "limit applied to y2), and report the PSNR over the valid pixels, accumulated over "
            "--num latents. Higher is more equivariant; identical images give infinity. For "
            "--layers the MSE is normalised by the feature map's mean square."
        ),
        epilog="example: aliasfree equivariance --preset r-tiny --num 64 --metrics eqt_frac,eqr",
    )
    add_model_args(p)
    add_class_arg(p)
    p.add_argument(
        "--num", type=int, default=32, help="number of latents per metric (default 32; the "
        "paper uses 50000)"
    )  # fmt: skip
    p.add_argument(
        "--batch", type=int, default=8, help="latents per forward pass (default 8; memory "
        "only: every latent has its own random transform, the results do not depend on it)"
    )  # fmt: skip
    p.add_argument(
        "--metrics",
        default=",".join(METRIC_NAMES),
        help=f"comma-separated subset of {','.join(METRIC_NAMES)} (default all)",
    )
    p.add_argument(
        "--layers",
        default=None,
        help="also measure these feature maps (comma-separated layer names, or 'all'); names "
        "are L<index>_<size>_<channels>, e.g. L3_52_32 for the -tiny presets at 64 px, and "
        "b<res>.conv0/conv1 (e.g. b8.conv0) for the baseline; an unknown name's error lists "
        "the generator's layers (`aliasfree schedule --res R --config C` prints the paper "
        "presets' ones; add --num-layers 8 --channel-base 2048 --channel-max 32 for the -tiny "
        "ones). A metric a map is too small for shows n/a with the reason (exit status 1)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of latents and transforms (default 0)")
    p.add_argument(
        "--max-shift",
        type=float,
        default=0.125,
        help="largest translation per axis in image widths, in (0, 0.5] (default 1/8)",
    )
    p.add_argument(
        "--max-angle",
        type=float,
        default=180.0,
        help="largest rotation in degrees, in (0, 180] (default 180)",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar on stderr (default: when stderr is a terminal)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print the JSON document (model, settings, results) instead of the table",
    )
    p.add_argument("--out", type=Path, default=None, help="also write the JSON document here")
    p.set_defaults(command="equivariance")
    return p


def _parse_metrics(text: str) -> list[str]:
    names = [m.strip() for m in str(text).split(",") if m.strip()]
    bad = [m for m in names if m not in METRIC_NAMES]
    if bad or not names:
        raise ValueError(
            f"--metrics must be a comma-separated subset of {METRIC_NAMES}, got {text!r}"
        )
    return list(dict.fromkeys(names))


def _feature_names(G, device) -> list[str]:
    """The feature maps a generator without a layer schedule (the baseline) returns, from one
    forward pass of one latent (cheap next to the measurement, and before it: a typo must not
    cost the whole run)."""
    import torch

    from gan.metrics._device import run_device

    dev = run_device(G, device)
    G = G.to(dev)
    z = torch.zeros(1, G.z_dim, device=dev)
    c = torch.zeros(1, G.c_dim, device=dev) if getattr(G, "c_dim", 0) else None
    with torch.no_grad():
        _, feats = G(z, c, return_features=True, noise_mode="const")
    return list(feats)


def _layer_names(G, text: str | None, device=None) -> list[str]:
    if text is None:
        return []
    specs = getattr(getattr(G, "synthesis", None), "layer_specs", None)
    if specs is not None:
        known = [s.name for s in specs if not s.is_torgb]
    else:
        known = _feature_names(G, device)
    if not text.strip(" ,"):
        # An empty list would quietly measure the image only, as if --layers were not given.
        raise ValueError(
            f"--layers must name layers (comma-separated) or 'all', got {text!r}; this "
            f"generator has {known}"
        )
    if text.strip() == "all":
        return known
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in known]
    if bad:
        raise ValueError(f"--layers: unknown layer(s) {bad}; this generator has {known}")
    return names


def _table(results, metrics: list[str], targets: list[str | None] | None = None) -> str:
    """Rows: ``targets`` (None: the image; default: those with results); a pair without a
    result (not measurable) shows ``n/a``."""
    from gan.metrics.equivariance import format_db

    if targets is None:
        targets = list(dict.fromkeys(r.layer for r in results))
    by_key = {(r.layer, r.metric): r for r in results}
    names = ["image" if t is None else t for t in targets]
    w = max(8, *(len(n) for n in names))
    unit = "   (dB)"
    if any(t is not None for t in targets):
        # Two scales: the image's PSNR is against its peak-to-peak 2 (REFERENCE §5), a layer's
        # against the map's own RMS (so layers of different magnitude compare).
        unit = "   (dB; image: peak-to-peak 2, layers: relative to the map's RMS)"
    lines = [f"{'':<{w}}  " + "  ".join(f"{_HEADS[m]:>10}" for m in metrics) + unit]
    for t, name in zip(targets, names, strict=True):
        cells = "  ".join(
            f"{format_db(by_key[(t, m)].psnr_db) if (t, m) in by_key else 'n/a':>10}"
            for m in metrics
        )
        lines.append(f"{name:<{w}}  {cells}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import json
    import math
    import sys
    import time

    from dsp._checks import check_int, check_real
    from dsp._io import make_output_dir, write_json_atomic
    from gan.metrics.equivariance import measure

    if args.out is not None:  # before the work, not after
        make_output_dir(Path(args.out).parent, "--out", create=False, file=args.out)
    metrics = _parse_metrics(args.metrics)
    # Checked here too (measure() checks them under its own names) so errors name the flags.
    check_int("--num", args.num, minimum=1)
    check_int("--batch", args.batch, minimum=1)
    check_real("--max-shift", args.max_shift, low=0.0, high=0.5, low_inclusive=False)
    max_angle = math.radians(
        check_real("--max-angle", args.max_angle, low=0.0, high=180.0, low_inclusive=False)
    )
    G = load_model(args)
    k = class_of(G, args.class_idx)
    layers = _layer_names(G, args.layers, args.device)
    if "eqt" in metrics and args.max_shift * G.res <= 0.5:
        # EQ-T rounds the shift to whole pixels: below half a pixel every draw rounds to 0 and
        # the image is compared with itself (+inf dB, nothing measured). measure() allows it
        # (a test of its identity case); from the command line it is a mistake.
        raise ValueError(
            f"--max-shift must be > {0.5 / G.res:g} image widths (half a pixel at {G.res} px) "
            f"for eqt, whose shifts are whole pixels; got {args.max_shift:g} (measure "
            "eqt_frac for sub-pixel shifts)"
        )
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    # Without bars (a log file, a pipe) a per-layer run is silent for minutes (EQ-R of one
    # layer: about a minute at 32 px on 2 cores): one line per finished measurement instead.
    lines = not progress and args.progress is None and bool(layers)
    jobs = [(t, m) for t in [None, *layers] for m in metrics]
    results = []
    failed: dict[tuple[str | None, str], str] = {}
    for j, (target, metric) in enumerate(jobs, 1):
        t0 = time.perf_counter()
        try:
            result = measure(
                G,
                metric,
                args.num,
                layer=target,
                max_shift=args.max_shift,
                max_angle=max_angle,
                batch=args.batch,
                seed=args.seed,
                psi=args.psi,
                device=args.device,
                progress=progress,
                class_idx=k or 0,
            )
        except ValueError as exc:
            # A map too small for one metric (EQ-R's margins, EQ-T's whole-pixel shifts)
            # must not throw away what the others measured: the cell says why instead.
            failed[(target, metric)] = str(exc)
            if lines:
                print(f"[{j}/{len(jobs)}] {metric} {target or 'image'}: n/a", file=sys.stderr)
            continue
        results.append(result)
        if lines:
            took = time.perf_counter() - t0
            print(
                f"[{j}/{len(jobs)}] {metric} {target or 'image'}: {result.psnr_db:.2f} dB "
                f"({took:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    doc = {
        "model": model_label(args),
        "res": int(G.res),
        "num": args.num,
        "batch": args.batch,
        "seed": args.seed,
        "max_shift": args.max_shift,
        "max_angle_deg": args.max_angle,
        "psi": args.psi,
        "class": k,
        "results": [r.to_dict() for r in results],
        "not_measured": [
            {"layer": t, "metric": m, "reason": why} for (t, m), why in failed.items()
        ],
    }
    if args.out is not None:
        write_json_atomic(args.out, doc)
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        cls = "" if k is None else f", class {k}"
        print(f"{model_label(args)}, {G.res} px, {args.num} latents{cls}")
        print(_table(results, metrics, [None, *layers]))
        for (t, m), why in failed.items():
            print(f"n/a  {m} of {t or 'image'}: {why}")
        if args.out is not None:
            print(f"wrote {args.out}")
    if failed:
        print(
            f"aliasfree equivariance: {len(failed)} measurement(s) not possible (n/a above)",
            file=sys.stderr,
        )
        return 1
    return 0
