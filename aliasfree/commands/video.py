"""``aliasfree video``: an animated GIF of one generated image under continuous sub-pixel
translation and rotation through the generator's input transform.

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
    parse_pair,
)

DEFAULT_OUT = Path("aliasfree-out") / "video.gif"

# Names in the errors of gan.metrics.video that differ from the flag's dest (aliasfree.cli
# rewrites a leading "name must ..." to the flag).
FLAG_NAMES = {"path": "--out"}


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "video",
        help="animated GIF of an image under continuous translation and rotation",
        description=(
            "Render --frames frames of the image of --seed while the input transform follows "
            "one closed loop: frame k (u = k/frames) translates the content by "
            "translate*sin(2 pi u) image widths and turns it by rotate*sin(2 pi u) degrees "
            "(positive: counter-clockwise as displayed, like np.rot90). "
            "An equivariant generator moves the whole image smoothly; texture sticking shows "
            "as details that stay on the pixel grid. Writes a looping GIF."
        ),
        epilog="example: aliasfree video --preset t-tiny --translate 0.05,0 --rotate 10 "
        "--frames 48 --scale 4 --out video.gif",
    )
    add_model_args(p)
    add_class_arg(p)
    p.add_argument("--seed", type=int, default=0, help="latent seed (default 0)")
    p.add_argument("--frames", type=int, default=48, help="frames in the loop (default 48)")
    p.add_argument(
        "--translate",
        default="0.05,0",
        help="peak translation 'tx,ty' in image widths, each in [-1, 1], x right, y down "
        "(default 0.05,0)",
    )
    p.add_argument(
        "--rotate",
        type=float,
        default=0.0,
        help="peak rotation in degrees, in [-360, 360]; positive turns the content "
        "counter-clockwise as displayed (default 0)",
    )
    p.add_argument(
        "--fps",
        type=float,
        default=24.0,
        help="frames per second, in (0, 100] (default 24); GIF stores each frame's delay in "
        "10 ms steps (24 plays at 25), and many viewers slow delays under 20 ms (over 50 fps) "
        "down",
    )
    p.add_argument(
        "--scale", type=int, default=1, help="enlarge each frame by this integer, 1..16 (default 1)"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"output GIF (default {DEFAULT_OUT}); a 256-colour palette per frame (RGB may "
        "shift by a level or two), identical consecutive frames merged",
    )
    p.set_defaults(command="video")
    return p


def run(args: argparse.Namespace) -> int:
    from dsp._io import make_output_dir
    from gan.metrics.video import latents_from_seeds, transform_video

    make_output_dir(
        Path(args.out).parent, "--out", create=False, file=args.out
    )  # before the work, not after
    translate = parse_pair("--translate", args.translate)
    G = load_model(args)
    k = class_of(G, args.class_idx)
    (z,) = latents_from_seeds([args.seed], G.z_dim)
    path = transform_video(
        G, z, args.out, frames=args.frames, translate=translate, rotate=args.rotate,
        fps=args.fps, psi=args.psi, scale=args.scale, device=args.device, class_idx=k or 0,
    )  # fmt: skip
    cls = "" if k is None else f", class {k}"
    from PIL import Image

    with Image.open(path) as gif:
        stored = getattr(gif, "n_frames", 1)
    # GIF merges identical consecutive frames (a still loop, or --fps delays in 10 ms steps).
    merged = "" if stored == args.frames else f" (of {args.frames}; identical ones merged)"
    noun = "frame" if stored == 1 else "frames"
    print(f"wrote {path} ({stored} {noun}{merged}, {model_label(args)}{cls})")
    return 0
