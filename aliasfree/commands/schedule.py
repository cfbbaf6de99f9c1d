"""``aliasfree schedule``: print, save and plot the generator's layer schedule (REFERENCE §3)."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_OUT = Path("aliasfree-out") / "schedule"

# Every file this command writes into --out; one a run does not write (schedule.png with
# --no-plot) is removed, lest an earlier schedule's plot sit beside this one's JSON.
OUTPUT_NAMES = ("schedule.json", "schedule.png")

# The table has two stopband columns that differ on every layer that is not critically sampled;
# the note keeps a reader from taking the target for the filters' edge.
STOPBAND_NOTE = (
    "f_t (target): the schedule's target stopband (REFERENCE §3); fc+fh (filter): where the "
    "filters' stopband starts, their transition band being [fc-fh, fc+fh]"
)


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "schedule",
        help="layer schedule of the alias-free generator (cutoffs, rates, sizes, filters)",
        description=(
            "Compute the alias-free generator's layer schedule (StyleGAN3 config T or R) for "
            "one output resolution: per layer the input/output size, sampling rate, cutoff fc, "
            "filter half-width fh, the schedule's target stopband f_t, the filters' actual "
            "stopband edge fc+fh (= max(f_t, rate/2), their transition band being "
            "[fc-fh, fc+fh]), channels, up/down factors, filter taps and padding. "
            "Prints a table (or JSON with --json) and writes schedule.json and schedule.png "
            "(like Fig. 4c of the paper) to --out (with --no-plot, an earlier schedule.png "
            "there is removed). Frequencies are in cycles per image width, "
            "rates in samples per image width."
        ),
    )
    p.add_argument(
        "--res",
        type=int,
        default=256,
        help="output resolution, a power of two in 16..1024 (default 256)",
    )
    p.add_argument(
        "--config",
        default="t",
        metavar="{t,r}",
        help="t: 3x3 convs, separable filters; r: 1x1 convs, radial (jinc) down "
        "filters except in critically sampled layers; case-insensitive (default t)",
    )
    p.add_argument(
        "--json", action="store_true", help="print the full schedule as JSON instead of the table"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"directory for schedule.json and schedule.png (default {DEFAULT_OUT})",
    )
    p.add_argument("--no-plot", "--no-plots", action="store_true", help="do not write schedule.png")
    p.add_argument(
        "--filters",
        action="store_true",
        help="include every layer's up/down filter taps in schedule.json",
    )
    g = p.add_argument_group("schedule parameters (REFERENCE §3)")
    g.add_argument(
        "--num-layers",
        type=int,
        default=14,
        help="N, synthesis layers; ToRGB comes on top (default 14)",
    )
    g.add_argument(
        "--num-critical",
        type=int,
        default=2,
        help="critically sampled synthesis layers at the end, 1..N-1 (default 2)",
    )
    g.add_argument(
        "--first-cutoff",
        type=float,
        default=2.0,
        help="cutoff fc of the first layer, cycles per image width (default 2)",
    )
    g.add_argument(
        "--first-stopband",
        type=float,
        default=2**2.1,
        help="target stopband f_t of the first layer (default 2**2.1)",
    )
    g.add_argument(
        "--last-stopband-rel",
        type=float,
        default=2**0.3,
        help="target stopband f_t of the last layers relative to res/2, > 1 (default 2**0.3)",
    )
    g.add_argument(
        "--margin",
        type=int,
        default=10,
        help="extra samples on each side of the feature maps (default 10)",
    )
    g.add_argument(
        "--channel-base",
        type=int,
        default=None,
        help="channels = min(channel_base/2 / fc, channel_max); default: T 32768, R 65536",
    )
    g.add_argument(
        "--channel-max",
        type=int,
        default=None,
        help="most channels per layer; default: T 512, R 1024",
    )
    g.add_argument(
        "--img-channels", type=int, default=3, help="channels of the output image (default 3)"
    )
    g.add_argument(
        "--lrelu-upsampling",
        type=int,
        default=2,
        help="m: the leaky ReLU runs at rate max(s_in, s_out) * m (default 2)",
    )
    g.add_argument(
        "--filter-size",
        type=int,
        default=6,
        help="filter taps per unit of up/down factor (default 6)",
    )
    g.add_argument(
        "--conv-kernel",
        type=int,
        default=None,
        help="conv kernel of the synthesis layers; default: T 3, R 1",
    )
    g.add_argument(
        "--num-fp16-res",
        type=int,
        default=4,
        help="layers in the top this-many octaves of resolution are flagged fp16 (default 4)",
    )
    return p


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from dsp._io import make_output_dir, remove_stale_outputs, write_json_atomic
    from dsp.schedule import layer_schedule

    sched = layer_schedule(
        args.res,
        args.config,
        num_layers=args.num_layers,
        num_critical=args.num_critical,
        first_cutoff=args.first_cutoff,
        first_stopband=args.first_stopband,
        last_stopband_rel=args.last_stopband_rel,
        margin=args.margin,
        channel_base=args.channel_base,
        channel_max=args.channel_max,
        img_channels=args.img_channels,
        lrelu_upsampling=args.lrelu_upsampling,
        filter_size=args.filter_size,
        conv_kernel=args.conv_kernel,
        num_fp16_res=args.num_fp16_res,
    )
    data = sched.to_dict()
    if args.filters:
        for lay, d in zip(sched.layers, data["layers"], strict=True):
            d["up_filter"] = lay.up_filter().tolist()
            d["down_filter"] = lay.down_filter().tolist()

    out = make_output_dir(args.out)
    json_path = write_json_atomic(out / "schedule.json", data)
    written = [json_path]
    if not args.no_plot:
        from dsp.plots import save_figure
        from dsp.plots.schedule import plot_schedule

        written.append(save_figure(plot_schedule(sched), out / "schedule.png"))
    removed = remove_stale_outputs(out, OUTPUT_NAMES, [p.name for p in written])
    note = (
        f"removed {', '.join(removed)} from {out} (an earlier schedule's, not written by this run)"
        if removed
        else None
    )

    if args.json:
        # stdout stays pure JSON (pipeable); the file notes go to stderr.
        print(json.dumps(data, indent=2))
        for path in written:
            print(f"wrote {path}", file=sys.stderr)
        if note:
            print(note, file=sys.stderr)
    else:
        print(
            f"Layer schedule, config {sched.config}, res {sched.res} "
            f"(frequencies in cycles per image width, of each layer's output)"
        )
        print(STOPBAND_NOTE)
        print(sched.table())
        for path in written:
            print(f"wrote {path}")
        if note:
            print(note)
    return 0
