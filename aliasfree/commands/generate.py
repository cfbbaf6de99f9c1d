"""``aliasfree generate``: an image grid from a generator preset (fresh initialisation) or a saved
checkpoint, with seeds, truncation and an input transform.

Also holds the model options shared by the other generator subcommands (``equivariance``,
``sticking``, ``video``). Top-level imports stay light (argparse, pathlib); torch and ``gan``
load inside :func:`run` and :func:`load_model`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

PRESET_NAMES = ("t", "r", "baseline", "t-tiny", "r-tiny", "baseline-tiny")
DEFAULT_PRESET = "t-tiny"
DEFAULT_OUT = Path("aliasfree-out") / "grid.png"
PSI_LIMIT = 10.0
_MAX_SEEDS = 4096


def add_model_args(p: argparse.ArgumentParser) -> None:
    """``--preset``/``--checkpoint``, ``--res``, ``--init-seed``, ``--device``, ``--psi``."""
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--preset",
        default=None,
        help=f"build a freshly initialised generator from a preset ({', '.join(PRESET_NAMES)}; "
        f"default {DEFAULT_PRESET}); the -tiny ones run on a laptop CPU",
    )
    src.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="load a generator written by gan.networks.io.save_generator (the .safetensors "
        "file, its .json config, or their common stem) or an `aliasfree train` run folder "
        "(the generator of its latest snapshot)",
    )
    p.add_argument(
        "--res",
        type=int,
        default=None,
        help="output resolution for --preset, a power of two 16..1024 (default: the preset's, "
        "64 for the tiny ones, 256 for the paper's)",
    )
    p.add_argument(
        "--init-seed",
        type=int,
        default=None,
        help="seed of the fresh initialisation with --preset (default 0): equal seeds give "
        "equal networks; not with --checkpoint",
    )
    p.add_argument(
        "--psi",
        type=float,
        default=1.0,
        help=f"truncation psi in [-{PSI_LIMIT:g}, {PSI_LIMIT:g}]: w = w_avg + psi (w - w_avg); "
        "1 = none (default 1)",
    )
    p.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default="cpu",
        help="where to run (default cpu)",
    )


def load_model(args: argparse.Namespace):
    """The generator chosen by :func:`add_model_args`' options, in eval mode on the device."""
    import torch

    from dsp._checks import check_real

    # Beyond a few units the truncated latents leave the mapping's range (and 1e308 overflows
    # float32 deep inside the network): refuse instead of drawing noise.
    check_real("--psi", args.psi, low=-PSI_LIMIT, high=PSI_LIMIT)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available")
    if args.checkpoint is not None:
        if args.res is not None:
            raise ValueError("--res applies to --preset only (a checkpoint has its resolution)")
        if args.init_seed is not None:
            raise ValueError("--init-seed applies to --preset only (a checkpoint has its weights)")
        from gan.networks.io import load_generator

        try:
            G = load_generator(args.checkpoint, device=args.device)
        except ValueError as exc:
            raise ValueError(f"--checkpoint: {exc}") from None
    else:
        from gan.networks.presets import build_generator

        preset = args.preset or DEFAULT_PRESET
        seed = 0 if args.init_seed is None else args.init_seed
        try:
            G = build_generator(preset, res=args.res, seed=seed)
        except ValueError as exc:
            # build_generator names its own parameters; "seed" would read as --seed(s) here.
            text = str(exc)
            raise ValueError(
                "--init-seed" + text[4:] if text.startswith("seed ") else text
            ) from None
    return G.eval().to(args.device)


def add_class_arg(
    p: argparse.ArgumentParser,
    default: str = "default 0; not for an unconditional generator",
) -> None:
    """``--class K`` for the commands that render a class of a conditional generator;
    ``default`` says in the help what happens without it."""
    p.add_argument(
        "--class",
        dest="class_idx",
        type=int,
        default=None,
        metavar="K",
        help=f"class 0..C-1 of a generator trained with --labels on C classes ({default})",
    )


def class_of(G, class_idx: int | None) -> int | None:
    """``--class`` checked against ``G``: the class to render (0 by default) for a conditional
    generator, None for an unconditional one (which refuses a class)."""
    c_dim = int(getattr(G, "c_dim", 0) or 0)
    if not c_dim:
        if class_idx is not None:
            raise ValueError("--class: this generator is unconditional (trained without --labels)")
        return None
    k = 0 if class_idx is None else class_idx
    if not 0 <= k < c_dim:
        raise ValueError(
            f"--class must be in 0..{c_dim - 1} (the generator has {c_dim} classes), got {k}"
        )
    return k


def model_label(args: argparse.Namespace) -> str:
    """``"preset t-tiny @ 64 px"`` or ``"checkpoint path"``, for titles and JSON."""
    if args.checkpoint is not None:
        return f"checkpoint {args.checkpoint}"
    return f"preset {args.preset or DEFAULT_PRESET}"


def parse_seeds(text: str) -> list[int]:
    """``"0-3,7"`` → ``[0, 1, 2, 3, 7]`` (inclusive ranges, seeds >= 0)."""
    seeds: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        try:
            if "-" in part[1:]:
                a, b = part.split("-", 1)
                lo, hi = int(a), int(b)
                if hi < lo:
                    raise ValueError
                if len(seeds) + hi - lo + 1 > _MAX_SEEDS:  # before a range fills the memory
                    raise OverflowError
                seeds.extend(range(lo, hi + 1))
            else:
                seeds.append(int(part))
        except OverflowError:
            raise ValueError(f"--seeds {text!r} gives more than {_MAX_SEEDS} seeds") from None
        except ValueError:
            raise ValueError(
                f"--seeds must be integers or ranges like 0-7, comma separated, got {text!r}"
            ) from None
    if any(s < 0 for s in seeds):
        raise ValueError(f"--seeds must be >= 0, got {text!r}")
    if any(s > 2**32 - 1 for s in seeds):
        # numpy's RandomState, which names a latent by its seed, takes 32-bit seeds.
        raise ValueError(f"--seeds must be <= {2**32 - 1}, got {text!r}")
    if len(seeds) > _MAX_SEEDS:
        raise ValueError(f"--seeds gives {len(seeds)} seeds, at most {_MAX_SEEDS}")
    return seeds


def parse_pair(name: str, text: str) -> tuple[float, float]:
    """``"0.1,0"`` → ``(0.1, 0.0)``."""
    parts = str(text).split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        return float(parts[0]), float(parts[1])
    except ValueError:
        raise ValueError(f"{name} must be two numbers 'x,y', got {text!r}") from None


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "generate",
        help="generate an image grid from a generator preset or checkpoint",
        description=(
            "Generate one image per seed and tile them into a PNG grid. The generator is a "
            "fresh initialisation of --preset (seeded by --init-seed) or a saved --checkpoint. "
            "--translate and --rotate move the whole image continuously through the "
            "generator's input transform (the content moves right/down by the translation, in "
            "image widths, and turns counter-clockwise as displayed by a positive angle, like "
            "np.rot90)."
        ),
        epilog="example: aliasfree generate --preset t-tiny --res 64 --seeds 0-7 --psi 0.7 "
        "--translate 0.1,0 --rotate 10 --out grid.png",
    )
    add_model_args(p)
    p.add_argument(
        "--seeds",
        default="0-7",
        help="latent seeds, e.g. 0-7 or 1,5,9 (default 0-7): seed s draws z from "
        "numpy.random.RandomState(s)",
    )
    p.add_argument(
        "--translate",
        default="0,0",
        help="input-transform translation 'tx,ty' in image widths, x right, y down (default 0,0)",
    )
    p.add_argument(
        "--rotate",
        type=float,
        default=0.0,
        help="input-transform rotation in degrees, in [-360, 360]; positive turns the content "
        "counter-clockwise as displayed (row 0 at the top, like np.rot90); applied before the "
        "translation (default 0)",
    )
    add_class_arg(p, "of every image; default: image i gets class i mod C, as in the run's "
                  "sample grids")  # fmt: skip
    p.add_argument("--cols", type=int, default=None, help="grid columns (default ~sqrt(#seeds))")
    p.add_argument(
        "--gutter", type=int, default=1, help="black pixels between grid tiles (default 1)"
    )
    p.add_argument("--batch", type=int, default=8, help="images per forward pass (default 8)")
    p.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"output PNG, ending in .png (default {DEFAULT_OUT})",
    )
    p.set_defaults(command="generate")
    return p


def _labels(G, class_idx: int | None, n: int):
    """One-hot labels ``[n, c_dim]`` for a conditional ``G`` (``class_idx``, or image ``i`` gets
    class ``i mod c_dim``), ``None`` for an unconditional one.

    Raises
    ------
    ValueError
        ``class_idx`` outside ``0..c_dim-1``, or given for an unconditional generator.
    """
    import torch

    c_dim = int(getattr(G, "c_dim", 0) or 0)
    k = class_of(G, class_idx)
    if not c_dim:
        return None
    idx = torch.arange(n) % c_dim if class_idx is None else torch.full((n,), int(k))
    return torch.nn.functional.one_hot(idx, c_dim).float()


def run(args: argparse.Namespace) -> int:
    import math

    import torch

    from dsp._checks import check_int, check_real
    from dsp._io import make_output_dir
    from gan.metrics.video import MAX_ROTATE_DEG, image_grid, latents_from_seeds, save_image
    from gan.networks import transform as tf

    if Path(args.out).suffix.lower() != ".png":
        # The help and the other commands promise a PNG; a JPEG's loss would blur the very
        # aliasing artefacts the grids are for.
        raise ValueError(f"--out must end in .png (a PNG grid is written), got {str(args.out)!r}")
    make_output_dir(
        Path(args.out).parent, "--out", create=False, file=args.out
    )  # before the work, not after
    seeds = parse_seeds(args.seeds)
    tx, ty = parse_pair("--translate", args.translate)
    check_real("--translate", tx, low=-1.0, high=1.0)
    check_real("--translate", ty, low=-1.0, high=1.0)
    angle = math.radians(
        check_real("--rotate", args.rotate, low=-MAX_ROTATE_DEG, high=MAX_ROTATE_DEG)
    )
    batch = check_int("--batch", args.batch, minimum=1)
    check_int("--gutter", args.gutter, minimum=0, maximum=64)
    psi = check_real("--psi", args.psi)
    G = load_model(args)
    dev = torch.device(args.device)
    labels = _labels(G, args.class_idx, len(seeds))
    A = tf.compose(tf.translate(tx, ty), tf.rotate(angle)).to(dev)
    z = latents_from_seeds(seeds, G.z_dim)
    imgs = []
    with torch.no_grad():
        for start in range(0, len(seeds), batch):
            zb = z[start : start + batch].to(dev)
            c = None if labels is None else labels[start : start + batch].to(dev)
            imgs.append(G(zb, c, psi=psi, transform=A, noise_mode="const").float().cpu())
    grid = image_grid(torch.cat(imgs), args.cols, pad=args.gutter)
    path = save_image(grid, args.out)
    print(f"wrote {path} ({len(seeds)} images, {G.res} px, {model_label(args)})")
    return 0
