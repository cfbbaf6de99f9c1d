"""``aliasfree aliasing MODEL``: per-layer aliasing report of any torch model (issue 6;
REFERENCE §5, §7).

Top-level imports stay light (argparse, pathlib); torch, ``gan`` and matplotlib load inside
:func:`run`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

MEASURES = ("downsampling", "nonlinearity", "equivariance")

#: scikit-image sample photos shipped with the package (no download), in the order used.
BUILTIN_PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "immunohistochemistry",
    "hubble_deep_field",
    "camera",
    "brick",
    "grass",
    "gravel",
)


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "aliasing",
        help="per-layer aliasing report of a torch model (downsampling, nonlinearities, "
        "equivariance)",
        description=(
            "Attach forward hooks to MODEL (no change to the model), run a batch of images "
            "through it and measure per layer and channel: (1) downsampling aliasing of every "
            "rate-lowering layer (strided conv, pooling, scale<1 interpolation): energy of its "
            "stride-1 equivalent beyond the new Nyquist band and the fold classification; (2) "
            "nonlinearity aliasing of every pointwise nonlinearity (ReLU, GELU, SiLU, ...): the "
            "aliased fraction against the same function applied at a higher rate and ideally "
            "low-passed; (3) equivariance: PSNR (dB) of each layer's output under integer and "
            "fractional input shifts. Prints the table and writes report.csv, report.json, "
            "depth.png and worst_spectra.png under --out. MODEL is 'package.module:factory' "
            "(a callable with no arguments returning an nn.Module) or a built-in example: "
            "resnet-stride, resnet-blurpool, resnet-kaiser, resnet18[-blurpool|-kaiser], "
            "generator-t, generator-r, generator-baseline."
        ),
        epilog=(
            "examples: aliasfree aliasing resnet-blurpool --input-shape 3,64,64 --num 4; "
            "aliasfree aliasing mypkg.nets:build --layers 'layer2.*,*relu*' --shifts=-1,0.5 "
            "(lists are comma-separated; one that starts with a minus sign needs the '=' form)"
        ),
    )
    p.add_argument(
        "model",
        metavar="MODEL",
        help="'package.module:factory' or an example name; package.module is imported from "
        "the current folder or sys.path (set PYTHONPATH to reach a package elsewhere)",
    )
    p.add_argument(
        "--weights",
        type=Path,
        default=None,
        help="weights to load: .safetensors, or a torch state dict (loaded with "
        "weights_only=True; pickled objects are refused); keys saved from torch.compile "
        "('_orig_mod.') or DataParallel ('module.') load into the plain model",
    )
    p.add_argument(
        "--input-shape",
        default="3,64,64",
        help="C,H,W of one input (default 3,64,64)",
    )
    p.add_argument(
        "--images",
        default="builtin",
        help="inputs: 'builtin' (scikit-image sample photos, centre-cropped to the aspect of "
        "H,W and resized with anti-aliasing), 'noise' (periodic band-limited noise fields of "
        "H×W, dsp.figures.bandlimited_field, bandwidth 0.4 cycles/sample) or a folder / zip / "
        "image file (centre-cropped to H,W, never resized; smaller images skipped); default "
        "builtin",
    )
    p.add_argument("--num", type=int, default=8, help="number of input images (default 8)")
    p.add_argument(
        "--normalize",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="standardise each image per channel to zero mean and unit variance (default on)",
    )
    # Comma-separated single values (repeating the flag adds more): nargs="+" swallowed the
    # positional MODEL when a list came before it.
    p.add_argument(
        "--layers",
        action="extend",
        type=parse_names,
        default=None,
        metavar="PATTERNS",
        help="only layers whose module name matches one of these comma-separated fnmatch "
        "patterns (e.g. 'layer2.*,*relu*'; the flag may be repeated); default all eligible "
        "layers",
    )
    p.add_argument(
        "--downsampling-layers",
        action="extend",
        type=parse_names,
        default=None,
        metavar="NAMES",
        help="comma-separated module names to treat as rate-lowering (measured through "
        "polyphase runs of the module itself, so its own anti-alias filter counts)",
    )
    p.add_argument(
        "--nonlinearities",
        action="extend",
        type=parse_names,
        default=None,
        metavar="NAMES",
        help="comma-separated module names to treat as pointwise nonlinearities",
    )
    p.add_argument(
        "--measures",
        default=",".join(MEASURES),
        help=f"comma-separated subset of {','.join(MEASURES)} (default all)",
    )
    p.add_argument(
        "--shifts",
        default="1,0.5",
        help="comma-separated non-zero input shifts in pixels for the equivariance measure "
        "(default 1,0.5; negative ones as --shifts=-1,0.5); with circular shifts integers roll "
        "and fractions use the band-limited FFT shift, otherwise zero fill and a Lanczos-3 "
        "kernel",
    )
    p.add_argument(
        "--oversample", type=int, default=4, help="rate factor of the nonlinearity reference "
        "(default 4)"
    )  # fmt: skip
    p.add_argument(
        "--circular",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="circular shifts over whole maps (periodic inputs) or zero-filled Lanczos shifts "
        "compared inside a border margin (non-periodic inputs); non-circular also measures "
        "downsampling under a Hann window and nonlinearities on mirror-extended maps, so the "
        "jump between opposite edges is not counted as aliasing. Default: by image source, "
        "circular for --images noise (periodic), not circular for photos and folders (a roll "
        "would bring the opposite edge in as a seam, which dominates the error)",
    )
    p.add_argument(
        "--batch", type=int, default=None, help="inputs per forward pass (default all at once)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the noise inputs (default 0)")
    p.add_argument(
        "--out",
        type=Path,
        default=Path("aliasfree-out/aliasing"),
        help="output folder (default aliasfree-out/aliasing)",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show progress on stderr (default: when stderr is a terminal)",
    )
    p.set_defaults(command="aliasing")
    return p


def parse_input_shape(text: str) -> tuple[int, int, int]:
    """``"C,H,W"`` → ``(C, H, W)``, each a positive integer (H, W at least 4)."""
    parts = [s.strip() for s in str(text).replace("x", ",").split(",")]
    try:
        c, h, w = (int(s) for s in parts)
    except ValueError:
        raise ValueError(f"--input-shape must be C,H,W (three integers), got {text!r}") from None
    if c < 1 or h < 4 or w < 4:
        raise ValueError(f"--input-shape needs C >= 1 and H, W >= 4, got {text!r}")
    return c, h, w


def parse_names(text: str) -> list[str]:
    """``"a,b"`` → ``["a", "b"]`` (module names or patterns; empty items dropped)."""
    names = [n.strip() for n in str(text).split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {text!r}")
    return names


def default_circular(images: str) -> bool:
    """Circular shifts for periodic inputs (``"noise"``), zero-filled ones for photos."""
    return images == "noise"


def parse_measures(text: str) -> list[str]:
    names = [m.strip() for m in str(text).split(",") if m.strip()]
    bad = [m for m in names if m not in MEASURES]
    if bad or not names:
        raise ValueError(f"--measures must be a comma-separated subset of {MEASURES}, got {text!r}")
    return list(dict.fromkeys(names))


def parse_shifts(text: str) -> list[float]:
    import math

    try:
        vals = [float(s) for s in str(text).split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"--shifts must be comma-separated numbers, got {text!r}") from None
    if not vals or not all(math.isfinite(v) and v != 0 for v in vals):
        raise ValueError(
            f"--shifts must be finite and non-zero (a shift of 0 compares each layer with "
            f"itself), got {text!r}"
        )
    return vals


def _photo(name: str, c: int, h: int, w: int):
    """One scikit-image sample photo as ``[C, H, W]`` float64 in [0, 1]."""
    import numpy as np

    try:
        import skimage.data
        from skimage.color import gray2rgb, rgb2gray
        from skimage.transform import resize
    except ImportError as exc:
        raise ValueError(
            "--images builtin uses scikit-image's sample photos, but scikit-image is not "
            f"installed ({exc}); install it with `pip install 'aliasfree[data]'` (or `pip "
            "install scikit-image`), or pass --images noise or a folder of images"
        ) from exc

    img = np.asarray(getattr(skimage.data, name)(), dtype=np.float64)
    if img.max() > 1.0:
        img = img / 255.0
    if img.ndim == 3:
        img = img[..., :3]
    if c == 3 and img.ndim == 2:
        img = gray2rgb(img)
    elif c != 3 and img.ndim == 3:
        img = rgb2gray(img)
    # Centre crop to the target aspect first so the resize does not distort the content.
    ih, iw = img.shape[:2]
    scale = min(ih / h, iw / w)
    ch, cw = int(round(h * scale)), int(round(w * scale))
    top, left = (ih - ch) // 2, (iw - cw) // 2
    img = img[top : top + ch, left : left + cw]
    img = resize(img, (h, w), anti_aliasing=True, order=3, mode="reflect")
    if img.ndim == 2:
        return np.repeat(img[None], c, axis=0)
    return np.moveaxis(img, -1, 0)


def make_inputs(
    images: str, shape: tuple[int, int, int], num: int, *, normalize: bool = True, seed: int = 0
):
    """The probe's input batch ``[num, C, H, W]`` (float32 tensor) and a one-line description.

    ``images``: ``"builtin"`` (the first ``num`` of :data:`BUILTIN_PHOTOS`, cycling if more are
    asked; C = 3 → RGB, otherwise greyscale repeated over the C channels), ``"noise"`` (periodic
    band-limited noise fields ``dsp.figures.bandlimited_field((H, W), 0.4, seed=seed + k)``, one
    per channel, generated at ``H × W``: cropping a larger field would break both its
    periodicity and its band limit) or a path for ``dsp.imagefiles.load_images``.
    ``normalize`` standardises every image per channel (zero mean, unit variance).
    """
    import numpy as np
    import torch

    from dsp._checks import check_int

    num = check_int("--num", num, minimum=1)
    c, h, w = shape
    if images == "builtin":
        names = [BUILTIN_PHOTOS[i % len(BUILTIN_PHOTOS)] for i in range(num)]
        x = np.stack([_photo(n, c, h, w) for n in names])
        desc = f"{num} scikit-image photos ({', '.join(dict.fromkeys(names))})"
    elif images == "noise":
        from dsp.figures import bandlimited_field

        x = np.stack(
            [
                np.stack([bandlimited_field((h, w), 0.4, seed=seed + i * c + j) for j in range(c)])
                for i in range(num)
            ]
        )
        desc = f"{num} band-limited noise fields (bandwidth 0.4 cycles/sample, seed {seed})"
    else:
        from dsp.imagefiles import load_images

        path = Path(images)
        if not path.exists():
            raise ValueError(
                f"--images must be 'builtin', 'noise' or an existing path, got {images!r}"
            )
        if c not in (1, 3):
            raise ValueError(f"--images PATH needs C = 1 (greyscale) or 3 (RGB), got C = {c}")
        x, skipped = load_images(path, size=(h, w), mode="L" if c == 1 else "RGB", limit=num)
        desc = f"{x.shape[0]} images from {images}" + (
            f" ({len(skipped)} skipped)" if skipped else ""
        )
    if normalize:
        mean = x.mean(axis=(2, 3), keepdims=True)
        std = x.std(axis=(2, 3), keepdims=True)
        x = (x - mean) / np.where(std > 0, std, 1.0)
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), desc


def _worst_measure(report) -> str | None:
    names = report.measure_names
    for m in ("out_of_band", "nonlinearity"):
        if m in names:
            return m
    eq = [m for m in names if m.startswith("equivariance_")]
    return eq[0] if eq else None


def run(args: argparse.Namespace) -> int:
    import sys
    import warnings

    import torch

    from dsp._checks import check_int
    from dsp._io import make_output_dir
    from gan.probe import probe_model
    from gan.probe.loading import load_model, parse_spec

    shape = parse_input_shape(args.input_shape)
    measures = parse_measures(args.measures)
    shifts = parse_shifts(args.shifts)
    oversample = check_int("--oversample", args.oversample, minimum=2)
    batch = None if args.batch is None else check_int("--batch", args.batch, minimum=1)
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    make_output_dir(args.out, "--out", create=False)  # before the probe runs, not after
    spec = parse_spec(args.model)
    # Built-in ResNets take the channel count of --input-shape (generators ignore it).
    kw = {"in_channels": shape[0]} if isinstance(spec, str) and spec.startswith("resnet") else {}
    model = load_model(args.model, weights=args.weights, **kw)
    if isinstance(spec, str) and spec.startswith("generator"):
        print(
            "note: a generator example ignores image shifts of its input (latents come from the "
            "input's content), so its equivariance rows are not meaningful; measure a "
            "generator's equivariance with `aliasfree equivariance --layers`",
            file=sys.stderr,
        )
    inputs, desc = make_inputs(
        args.images, shape, args.num, normalize=args.normalize, seed=args.seed
    )
    circular = default_circular(args.images) if args.circular is None else args.circular
    # A measure that finds no layer is said in the table's notes; the Python warning would only
    # repeat it with a source line.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="measure '.*' found no layer", category=UserWarning
        )
        report = probe_model(
            model,
            inputs,
            measures=measures,
            layers=args.layers,
            downsampling_layers=list(args.downsampling_layers or ()),
            nonlinearities=list(args.nonlinearities or ()),
            oversample=oversample,
            shifts=shifts,
            circular=circular,
            batch_size=batch,
            progress=progress,
        )
    # Where the numbers came from, so report.json can be reproduced.
    report.settings.update(
        {
            "model_spec": args.model,
            "weights": None if args.weights is None else str(args.weights),
            "images": args.images,
            "images_description": desc,
            "num": int(inputs.shape[0]),
            "normalize": bool(args.normalize),
            "seed": int(args.seed),
            "circular_source": "default for the images" if args.circular is None else "option",
        }
    )
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    report.to_csv(out / "report.csv")
    report.to_json(out / "report.json")
    written = [out / "report.csv", out / "report.json"]
    written += _plots(report, out)
    mode = "circular" if circular else "zero-filled (non-circular)"
    print(f"{args.model}: input {shape[0]}x{shape[1]}x{shape[2]}, {desc}; {mode} shifts")
    print(report.table())
    for path in written:
        print(f"wrote {path}")
    return 0


def _plots(report, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from dsp.plots import save_figure
    from gan.probe.plots import plot_depth, plot_worst_spectra

    written = []
    fig = plot_depth(report)
    written.append(save_figure(fig, out / "depth.png"))
    plt.close(fig)
    worst = _worst_measure(report)
    fig = None
    if worst is not None and report.spectra:
        try:
            fig = plot_worst_spectra(report, worst, k=4)
        except ValueError:
            fig = None  # every layer's value is negligible: no spectrum worth a panel
    if fig is not None:
        written.append(save_figure(fig, out / "worst_spectra.png"))
        plt.close(fig)
    else:
        # A plot left by an earlier run in the same folder would pass for this report's.
        (out / "worst_spectra.png").unlink(missing_ok=True)
    return written
