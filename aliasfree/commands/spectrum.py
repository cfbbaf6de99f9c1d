"""``aliasfree spectrum``: the average power spectrum of a folder or zip of images.

Top-level imports stay light (argparse, pathlib); numpy and ``dsp`` load inside :func:`run`.
See REFERENCE §7.
"""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_OUT = Path("aliasfree-out") / "spectrum"

# Decimation factors whose alias-free band the summary reports: 2 is the half band.
_FACTORS = (2, 4)


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "spectrum",
        help="average power spectrum of a folder or zip of images",
        description=(
            "Load the PNG/JPEG/WebP/BMP/TIFF images under PATH (a folder, searched recursively, a "
            ".zip archive or one image), centre-crop them to a common size, and compute their "
            "average power spectrum (each image's mean removed, separable analysis window "
            "normalised to preserve power on average). Prints a summary: image count and size, "
            "files skipped and why, and the fraction of power outside the alias-free band of a "
            "stride-2 and stride-4 decimation (square |fx|,|fy| < 1/(2s) and disc |f| < 1/(2s), "
            "cycles/sample). Writes spectrum.png (heatmap in dB), spectrum_slices.png (0 and 45 "
            "degree slices), spectrum.npz (fy, fx, P) and summary.json into --out. Unreadable "
            "files are skipped, never fatal; no usable image at all is an error (exit status 2)."
        ),
        epilog="example: aliasfree spectrum photos.zip --size 256 --limit 500 --out out/photos",
    )
    p.add_argument("path", type=Path, metavar="PATH", help="folder, .zip archive or image file")
    p.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"output folder for the plots, spectrum.npz and summary.json (default {DEFAULT_OUT})",
    )
    p.add_argument(
        "--size",
        type=int,
        default=None,
        metavar="N",
        help="centre-crop every image to N x N pixels, skipping smaller ones (default: crop to "
        "the smallest height and width among the images; images are never resized)",
    )
    colour = p.add_mutually_exclusive_group()
    colour.add_argument(
        "--gray",
        dest="mode",
        action="store_const",
        const="L",
        help="convert to one greyscale channel (the default)",
    )
    colour.add_argument(
        "--rgb",
        dest="mode",
        action="store_const",
        const="RGB",
        help="keep three colour channels; the spectrum is averaged over them",
    )
    p.set_defaults(mode="L")
    p.add_argument(
        "--limit",
        type=int,
        default=None,
        metavar="K",
        help="use at most K images, in sorted file order (skipped files do not count)",
    )
    p.add_argument(
        "--window",
        choices=("hann", "kaiser", "none"),
        default="hann",
        help="separable analysis window applied to each image before its DFT (default hann; "
        "'none' treats each image as periodic, so edge jumps show as a cross on the axes)",
    )
    p.add_argument(
        "--beta",
        type=float,
        default=8.0,
        help="Kaiser window shape parameter for --window kaiser (default 8)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print the summary as JSON to stdout instead of text",
    )
    p.set_defaults(command="spectrum")
    return p


def _save_npz_atomic(path: Path, **arrays) -> Path:
    import os

    import numpy as np

    from dsp._io import mkstemp_output, prepare_output

    path = prepare_output(path)
    fd, tmp = mkstemp_output(path, suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _summary_text(doc: dict) -> str:
    h, w = doc["size"]
    lines = [
        f"{doc['count']} images ({'greyscale' if doc['mode'] == 'L' else 'RGB'}, {h}x{w}) "
        f"from {doc['path']}; window {doc['window']}",
    ]
    if doc["skipped"]:
        lines.append(f"skipped {len(doc['skipped'])} file(s):")
        lines += [f"  {s['name']}: {s['reason']}" for s in doc["skipped"]]
    lines.append("power outside the alias-free band of a stride-s decimation (mean removed):")
    for key, row in doc["out_of_band_fraction"].items():
        lines.append(
            f"  s = {key} (|f| < {row['cutoff']:g} cycles/sample): "
            f"square {row['square']:.2%}, disc {row['disc']:.2%}"
        )
    lines.append("wrote " + ", ".join(doc["files"].values()))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import json

    import matplotlib.pyplot as plt

    from dsp._io import write_json_atomic
    from dsp.aliasing import alias_free_band
    from dsp.imagefiles import load_images
    from dsp.plots._save import save_figure
    from dsp.plots.spectrum import plot_power_spectrum, plot_spectrum_slices
    from dsp.spectrum import power_spectrum

    window = None if args.window == "none" else args.window
    images, skipped = load_images(args.path, size=args.size, mode=args.mode, limit=args.limit)
    fy, fx, p = power_spectrum(images, window=window, beta=args.beta, detrend="mean")
    total = float(p.sum())
    oob = {}
    for s in _FACTORS:
        row: dict[str, float] = {"cutoff": 0.5 / s}
        for band in ("square", "disc"):
            inside = alias_free_band(p.shape, s, band, shift=True)
            row[band] = float(p[~inside].sum()) / total if total > 0 else 0.0
        oob[str(s)] = row

    out: Path = args.out
    files = {
        "heatmap": out / "spectrum.png",
        "slices": out / "spectrum_slices.png",
        "spectrum": out / "spectrum.npz",
        "summary": out / "summary.json",
    }
    marks = [0.5 / s for s in _FACTORS]
    fig = plot_power_spectrum(
        fy, fx, p, marks=marks, title=f"Average power spectrum ({args.path.name})"
    )
    save_figure(fig, files["heatmap"])
    plt.close(fig)
    fig = plot_spectrum_slices(fy, fx, p, marks=marks)
    save_figure(fig, files["slices"])
    plt.close(fig)
    _save_npz_atomic(files["spectrum"], fy=fy, fx=fx, P=p)

    doc = {
        "path": str(args.path),
        "count": int(images.shape[0]),
        "size": [int(images.shape[2]), int(images.shape[3])],
        "mode": args.mode,
        "channels": int(images.shape[1]),
        "window": args.window,
        "beta": args.beta if window == "kaiser" else None,
        "detrend": "mean",
        "mean_intensity": float(images.mean()),
        "total_power": total,
        "out_of_band_fraction": oob,
        "skipped": [{"name": n, "reason": r} for n, r in skipped],
        "files": {k: str(v) for k, v in files.items()},
    }
    write_json_atomic(files["summary"], doc)
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(_summary_text(doc))
    return 0
