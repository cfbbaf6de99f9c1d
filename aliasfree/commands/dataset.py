"""``aliasfree dataset``: turn a folder of arbitrary images into a training zip.

Top-level imports stay light (argparse, pathlib); numpy, Pillow and ``dsp`` load inside
:func:`run` (torch is never imported by this command).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# Skipped files listed one per line before the rest is summarised (all are in dataset.json).
_MAX_LISTED = 20
# Labels that name no file, given on one line: a few names identify a typo or a stale list.
_MAX_NAMED = 5


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "dataset",
        help="make a training zip from a folder of images (band-limited resize)",
        description=(
            "Read every PNG/JPEG/WebP/BMP/TIFF image under SRC (a folder, searched recursively, "
            "or a zip), make it square (centre crop to the shorter side, or centre pad with black"
            " to the longer side), resize it to RES x RES with ideal band-limited resampling (no "
            "naive resize: the spectrum is cut below the smaller Nyquist frequency), and write "
            "img00000000.png, ... with a dataset.json into the zip DEST, atomically (an existing "
            "DEST is an error unless --overwrite is given). Files that cannot be used are "
            "skipped and listed with the reason."
        ),
        epilog="example: aliasfree dataset photos/ faces64.zip --res 64 --mode crop --rgb",
    )
    p.add_argument("src", type=Path, metavar="SRC", help="folder or zip of images")
    p.add_argument("dest", type=Path, metavar="DEST.zip", help="training zip to write")
    p.add_argument(
        "--res",
        type=int,
        default=64,
        help="output resolution, a power of two in [4, 8192] (default 64)",
    )
    p.add_argument(
        "--mode",
        choices=("crop", "pad"),
        default="crop",
        help="make images square by centre crop or by black padding (default crop)",
    )
    colour = p.add_mutually_exclusive_group()
    colour.add_argument(
        "--gray",
        dest="channels",
        action="store_const",
        const=1,
        help="one greyscale channel (without --gray or --rgb: greyscale if every image is "
        "stored as greyscale, else RGB)",
    )
    colour.add_argument(
        "--rgb",
        dest="channels",
        action="store_const",
        const=3,
        help="three colour channels (greyscale images are repeated on all three)",
    )
    p.add_argument(
        "--labels",
        type=Path,
        default=None,
        metavar="FILE",
        help='class labels JSON {"labels": [["name.png", class], ...]} with names relative to '
        "SRC (default: SRC/dataset.json when present); a file with no labels is an error, "
        "and so is a file listed twice with different classes",
    )
    p.add_argument(
        "--no-upscale",
        dest="allow_upscale",
        action="store_false",
        help="skip images smaller than RES instead of enlarging them",
    )
    p.add_argument(
        "--max-upscale",
        type=float,
        default=8.0,
        help="skip images that would be enlarged more than this many times (>= 1; default 8)",
    )
    p.add_argument(
        "--max-images", type=int, default=None, help="stop after this many images (default all)"
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace DEST if it exists (atomically, once the new zip is complete); without "
        "it an existing DEST is an error, since a training run may read it",
    )
    p.set_defaults(command="dataset", channels=None)
    return p


def _check_paths(src: Path, dest: Path) -> None:
    """SRC and DEST as ``--help`` names them (``make_dataset`` checks the same, in its own
    parameter names ``src`` and ``dest``)."""
    if not os.path.lexists(src):
        raise ValueError(f"SRC {str(src)!r} does not exist (give a folder or zip of images)")
    if dest.suffix.lower() != ".zip":
        raise ValueError(f"DEST must be a .zip file, got {str(dest)!r}")
    if dest.exists() and src.exists() and dest.resolve() == src.resolve():
        raise ValueError(
            f"DEST must differ from SRC, got {str(src)!r} for both (the zip is read while "
            "the new one is written)"
        )


def run(args: argparse.Namespace) -> int:
    from gan.training.dataset_tool import DestinationExists, LabelsError, make_dataset

    _check_paths(Path(args.src), Path(args.dest))
    try:
        report = make_dataset(
            args.src, args.dest, res=args.res, mode=args.mode, channels=args.channels,
            labels=args.labels, allow_upscale=args.allow_upscale, max_upscale=args.max_upscale,
            max_images=args.max_images, overwrite=args.overwrite,
        )  # fmt: skip
    except DestinationExists as exc:
        # Checked before any image is read. A training run may depend on the zip, as `train`
        # refuses an --out that holds checkpoints.
        raise ValueError(
            f"DEST {str(exc.dest)!r} already exists; pass --overwrite to replace it"
        ) from None
    except LabelsError as exc:
        if args.labels is None or exc.source != str(args.labels):
            raise  # SRC/dataset.json: its message names it
        # The file's own messages start with its path: say which flag gave it.
        raise ValueError(f"--labels {exc}") from None
    colour = "greyscale" if report.channels == 1 else "RGB"
    classes = "class" if report.c_dim == 1 else "classes"
    labels = f", {report.c_dim} {classes}" if report.c_dim else ""
    images = "image" if report.written == 1 else "images"
    print(
        f"wrote {report.dest}: {report.written} {images}, {report.res}x{report.res} {colour}, "
        f"{report.mode}{labels}"
    )
    if report.upscaled:
        print(
            f"{report.upscaled} image(s) enlarged to {report.res}x{report.res} (at most "
            f"{report.max_upscale_factor:.3g}x; --no-upscale skips them)"
        )
    orphans = report.labels_without_image
    if orphans:
        first = ", ".join(orphans[:_MAX_NAMED])
        more = f", ... ({len(orphans) - _MAX_NAMED} more in dataset.json)"
        print(
            f"{len(orphans)} label(s) name no image file under {args.src}: {first}"
            + (more if len(orphans) > _MAX_NAMED else "")
        )
    if report.skipped:
        print(f"skipped {len(report.skipped)} file(s):")
        for name, reason in report.skipped[:_MAX_LISTED]:
            print(f"  {name}: {reason}")
        rest = len(report.skipped) - _MAX_LISTED
        if rest > 0:
            print(f"  ... and {rest} more (all listed under 'skipped' in dataset.json)")
    sys.stdout.flush()
    return 0
