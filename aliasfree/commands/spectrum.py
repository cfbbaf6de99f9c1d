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

# Smallest analysis size. The stride-4 band |f| < 1/8 holds a bin besides DC only for more than
# 8 samples (8|k| < N), and DC is removed, so below that its fraction is 1 or undefined by
# construction; 16 is the next power of two and leaves the Hann window a few samples of taper.
# One 1x1 file used to shrink the whole analysis to 1x1.
MIN_SIZE = 16


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
        help=f"centre-crop every image to N x N pixels (N >= {MIN_SIZE}), skipping smaller ones "
        f"(default: crop to the smallest height and width among the images, skipping any "
        f"under {MIN_SIZE} pixels and naming the files that set the size; images are never "
        f"resized)",
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
        help="Kaiser window shape parameter, >= 0; used (and checked) only with "
        "--window kaiser (default 8)",
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


def _percent(fraction: float | None) -> str:
    # None is a 0/0 fraction (no power at all): no percentage describes it.
    return "undefined (no power)" if fraction is None else f"{fraction:.2%}"


def _summary_text(doc: dict) -> str:
    h, w = doc["size"]
    lines = [
        f"{doc['count']} images ({'greyscale' if doc['mode'] == 'L' else 'RGB'}, {h}x{w}) "
        f"from {doc['path']}; window {doc['window']}",
    ]
    if doc["size_from"]:
        src = doc["size_from"]
        who = (
            src["height"]
            if src["height"] == src["width"]
            else f"{src['height']} (height), {src['width']} (width)"
        )
        lines.append(
            f"note: larger images cropped to {h}x{w}, the size of {who}; "
            f"pass --size N to skip images under N instead"
        )
    if doc["skipped"]:
        lines.append(f"skipped {len(doc['skipped'])} file(s):")
        lines += [f"  {s['name']}: {s['reason']}" for s in doc["skipped"]]
    lines.append("power outside the alias-free band of a stride-s decimation (mean removed):")
    for key, row in doc["out_of_band_fraction"].items():
        lines.append(
            f"  s = {key} (|f| < {row['cutoff']:g} cycles/sample): "
            f"square {_percent(row['square'])}, disc {_percent(row['disc'])}"
        )
    lines.append("wrote " + ", ".join(doc["files"].values()))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import json
    import math

    import matplotlib.pyplot as plt

    from dsp._checks import check_int, check_real
    from dsp._io import make_output_dir, write_json_atomic
    from dsp.aliasing import out_of_band_fraction
    from dsp.imagefiles import load_images
    from dsp.plots import save_figure
    from dsp.plots.spectrum import plot_power_spectrum, plot_spectrum_slices
    from dsp.spectrum import power_spectrum

    if args.size is not None:
        check_int("--size", args.size, minimum=MIN_SIZE)
    window = None if args.window == "none" else args.window
    # --beta only shapes the Kaiser window: checked (before any image is read) only then.
    if window == "kaiser":
        check_real("--beta", args.beta, low=0.0)
    # An --out that cannot be written is found before the images are read, not after; the
    # folder itself is made only once there is something to write into it.
    make_output_dir(args.out, create=False)
    images, skipped, sources = load_images(
        args.path,
        size=args.size,
        mode=args.mode,
        limit=args.limit,
        min_size=MIN_SIZE,
        return_sources=True,
    )
    height, width = images.shape[2], images.shape[3]
    size_from = None
    if args.size is None and any(hw != (height, width) for _, hw in sources):
        size_from = {
            "height": next(n for n, hw in sources if hw[0] == height),
            "width": next(n for n, hw in sources if hw[1] == width),
        }
    fy, fx, p = power_spectrum(images, window=window, beta=args.beta, detrend="mean")
    total = float(p.sum())
    oob = {}
    for s in _FACTORS:
        row: dict[str, float | None] = {"cutoff": 0.5 / s}
        for band in ("square", "disc"):
            r = out_of_band_fraction(p, s, band)
            # JSON has no NaN: an undefined fraction is null.
            row[band] = None if math.isnan(r) else r
        oob[str(s)] = row

    out: Path = make_output_dir(args.out)
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
        "size": [int(height), int(width)],
        "size_from": size_from,
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
