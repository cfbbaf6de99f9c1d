"""``aliasfree sticking``: the two texture-sticking panels of the paper's Fig. 1 for a generator
preset or checkpoint: the average over a latent neighbourhood and a pixel column stacked over a
latent interpolation.

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

DEFAULT_OUT = Path("aliasfree-out") / "sticking.png"


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "sticking",
        help="draw the texture-sticking panels (paper Fig. 1) of a generator",
        description=(
            "Left panel: the average of --num images whose latents are drawn around the latent "
            "of --seed (z + sigma * noise). Details stuck to pixel coordinates stay sharp in "
            "the average; an equivariant generator gives a smooth blur. Right panel: pixel "
            "column --column of each image along a latent interpolation from --seed to --seed1, "
            "stacked left to right; stuck details show as horizontal streaks. Writes one PNG."
        ),
        epilog="example: aliasfree sticking --preset baseline-tiny --num 32 --steps 64",
    )
    add_model_args(p)
    add_class_arg(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the central latent (default 0)")
    p.add_argument(
        "--seed1", type=int, default=1, help="seed of the interpolation's end latent (default 1)"
    )
    p.add_argument(
        "--num", type=int, default=32, help="images averaged, at most 65536 (default 32)"
    )
    p.add_argument(
        "--sigma",
        type=float,
        default=0.2,
        help="radius of the latent neighbourhood, standard deviation in z space (default 0.2)",
    )
    p.add_argument(
        "--steps", type=int, default=64, help="interpolation steps, 2 to 65536 (default 64)"
    )
    p.add_argument(
        "--column",
        type=int,
        default=None,
        help="pixel column to slice, 0 to res - 1 (default the middle)",
    )
    p.add_argument(
        "--space",
        choices=("w", "z"),
        default="w",
        help="interpolate the mapped latents w (default) or the inputs z",
    )
    p.add_argument("--batch", type=int, default=8, help="images per forward pass (default 8)")
    p.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output PNG (default {DEFAULT_OUT})"
    )
    p.set_defaults(command="sticking")
    return p


#: Most images averaged or interpolation steps (each one a generator image to render).
_MAX_IMAGES = 65536


def run(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dsp._checks import check_int
    from dsp.plots import save_figure
    from gan.metrics.sticking import (
        average_of_neighbourhood,
        plot_sticking,
        slice_over_interpolation,
    )
    from gan.metrics.video import latents_from_seeds

    if Path(args.out).suffix.lower() != ".png":
        # Checked before the work; lossy formats would blur the very artefacts shown.
        raise ValueError(f"--out must end in .png (a PNG figure is written), got {str(args.out)!r}")
    from dsp._io import make_output_dir

    make_output_dir(
        Path(args.out).parent, "--out", create=False, file=args.out
    )  # before the work, not after
    # Each under its own flag (latents_from_seeds would call both "seed"), and bounded before
    # anything is built: --steps 10**10 used to die allocating 40 GB.
    for flag, value in (("--seed", args.seed), ("--seed1", args.seed1)):
        check_int(flag, value, minimum=0, maximum=2**32 - 1)
    check_int("--num", args.num, minimum=1, maximum=_MAX_IMAGES)
    check_int("--steps", args.steps, minimum=2, maximum=_MAX_IMAGES)
    G = load_model(args)
    if args.column is not None and not 0 <= args.column < G.res:
        # Before the neighbourhood average (the slice would only check it after that work).
        raise ValueError(
            f"--column must be in 0..{G.res - 1} (a pixel column of the {G.res} px images), "
            f"got {args.column}"
        )
    k = class_of(G, args.class_idx)
    z0, z1 = latents_from_seeds([args.seed, args.seed1], G.z_dim)
    avg = average_of_neighbourhood(
        G, z0, num=args.num, sigma=args.sigma, psi=args.psi, batch=args.batch, seed=args.seed,
        device=args.device, class_idx=k or 0,
    )  # fmt: skip
    sl = slice_over_interpolation(
        G, z0, z1, steps=args.steps, column=args.column, psi=args.psi, space=args.space,
        batch=args.batch, device=args.device, class_idx=k or 0,
    )  # fmt: skip
    column = G.res // 2 if args.column is None else args.column
    cls = "" if k is None else f", class {k}"
    fig = plot_sticking(avg, sl, title=f"{model_label(args)}, {G.res} px{cls}", column=column)
    try:
        path = save_figure(fig, args.out)
    finally:
        plt.close(fig)
    print(f"wrote {path}")
    return 0
