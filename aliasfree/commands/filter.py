"""``aliasfree filter``: design a Kaiser low-pass, print its figures of merit, save taps and plots.

Top-level imports stay light (argparse, pathlib); numpy and ``dsp`` load inside :func:`run`.
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

DEFAULT_OUT = Path("aliasfree-out") / "filter"

# Every file this command writes into --out. Those a run does not write (plots of an earlier
# --radial or --plots-2d design, or any plot with --no-plots) are removed from --out, so that
# the folder holds one design; nothing else in it is touched.
PLOT_NAMES = ("response_1d.png", "response_2d.png", "response_slices.png")
OUTPUT_NAMES = ("filter_taps.json", *PLOT_NAMES)


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "filter",
        help="design a Kaiser-windowed low-pass filter and measure it",
        description=(
            "Design a Kaiser-windowed low-pass FIR (separable windowed sinc, or radially "
            "symmetric jinc with --radial), the way the alias-free generator does, and report "
            "its figures of merit: DC gain, passband ripple, stopband attenuation, -6/-3 dB "
            "points, measured transition band. Frequencies are in the units of --fs "
            "(cycles per unit length); e.g. --fs 64 --cutoff 16 puts the cutoff at a quarter of "
            "the sampling rate. Writes filter_taps.json and PNG plots into --out, removing the "
            "plots of an earlier design there that this one does not draw."
        ),
        epilog="example: aliasfree filter --numtaps 12 --cutoff 16 --width 20 --fs 64 --radial",
    )
    p.add_argument(
        "--numtaps",
        type=int,
        required=True,
        help="number of taps (per side for --radial), at least 1; 1 means no filter",
    )
    p.add_argument(
        "--cutoff",
        type=float,
        required=True,
        help="design cutoff (the ideal low-pass's edge), units of --fs, in (0, fs/2); "
        "approximately the -6 dB point (within 0.15 width, 0.3 width for --radial; see "
        "dsp.filters) when the transition band [cutoff - width/2, cutoff + width/2] lies "
        "inside (0, fs/2) (a warning says when not)",
    )
    band = p.add_mutually_exclusive_group(required=True)
    band.add_argument(
        "--width",
        type=float,
        help="full transition-band width, units of --fs (stopband edge = cutoff + width/2)",
    )
    band.add_argument(
        "--half-width",
        type=float,
        help="half the transition band, units of --fs (stopband edge = cutoff + half-width)",
    )
    p.add_argument(
        "--fs",
        type=float,
        default=2.0,
        help="sampling rate in samples per unit length (default 2: frequencies "
        "relative to Nyquist = 1)",
    )
    p.add_argument(
        "--radial",
        action="store_true",
        help="radially symmetric 2D jinc design (numtaps x numtaps taps) instead of "
        "the separable 1D windowed sinc",
    )
    p.add_argument(
        "--plots-2d",
        action="store_true",
        help="for a separable filter, also draw the 2D heatmap and 0/45 degree "
        "slices of outer(h, h), and report its figures of merit along both slices "
        "(always so for --radial); along a slice the stopband attenuation is given from the "
        "radial edge |f| = stopband (the spec of a radially symmetric filter) and, for a "
        "separable one, from the square edge max(|fx|, |fy|) = stopband where outer(h, h) "
        "has its stopband (n/a where the slice meets that edge only beyond fs/2)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print the JSON document (spec, figures, taps) to stdout instead of a table; "
        "the figures are dsp.response.FiguresOfMerit.to_dict() (its docstring explains the "
        "floor flags; the square-edge fields apply to separable filters)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"output directory for filter_taps.json and plots (default {DEFAULT_OUT})",
    )
    p.add_argument("--no-plots", action="store_true", help="do not write the PNG plots")
    p.set_defaults(command="filter")
    return p


def _fmt(value: float | None, unit: str = "") -> str:
    # + 0.0 turns a computed -0.0 (e.g. -20 log10(1)) into 0: "-0 dB" reads as a sign error.
    return "n/a" if value is None else f"{value + 0.0:.6g}{unit}"


def _stopband_warning(spec, width_arg: str) -> str | None:
    """The warning for a stopband edge above Nyquist, or ``None``.

    Kaiser's formula is fitted for a transition band inside ``[0, fs/2]``; beyond it, it asks
    for an attenuation no window reaches, and the large beta narrows the window until the
    response no longer crosses -6 dB at the cutoff (19.4 for --cutoff 16 --width 200 --fs 64).
    The taps are still a valid low-pass and ``dsp.filters`` accepts them, so this warns
    instead of refusing.
    """
    nyquist = spec.fs / 2
    if spec.numtaps == 1 or spec.stopband <= nyquist:
        return None
    widest = 2 * (nyquist - spec.cutoff) if width_arg == "--width" else nyquist - spec.cutoff
    return (
        f"aliasfree filter: warning: stopband edge --cutoff + {width_arg}"
        f"{'/2' if width_arg == '--width' else ''} = {spec.stopband:g} is above fs/2 = "
        f"{nyquist:g}: Kaiser's formula assumes the transition band lies below fs/2, so the "
        f"attenuation and beta it gives are not achievable and the -6 dB point can drift from "
        f"--cutoff (use {width_arg} <= {widest:g} for this cutoff and fs)"
    )


def _passband_warning(spec, width_arg: str) -> str | None:
    """The warning for a transition band reaching below DC, or ``None``.

    The design cutoff is the -6 dB point only while the transition band
    ``[cutoff - half_width, cutoff + half_width]`` lies inside ``(0, fs/2)``
    (``dsp.filters``). Below DC the band overlaps its mirror image about ``f = 0`` and the
    measured -6 dB point moves away from the cutoff: 3.20 for ``--numtaps 12 --cutoff 2
    --width 12 --fs 32`` (the generator's first layer at 64 px). The design is still valid
    (the generator uses such filters), so this warns instead of refusing.
    """
    low = spec.cutoff - spec.half_width
    if spec.numtaps == 1 or low >= 0:
        return None
    widest = 2 * spec.cutoff if width_arg == "--width" else spec.cutoff
    return (
        f"aliasfree filter: warning: the transition band reaches below DC: --cutoff - "
        f"{width_arg}{'/2' if width_arg == '--width' else ''} = {low:g} < 0, so it overlaps "
        f"its mirror image about f = 0 and the measured -6 dB point (in the table) moves away "
        f"from --cutoff = {spec.cutoff:g} (use {width_arg} <= {widest:g} to keep it at the "
        f"cutoff)"
    )


# Each attenuation figure and the flag that marks it as the float64 floor (a lower bound).
_FLOOR_FLAGS = {
    "stopband_attenuation_db": "stopband_at_floor",
    "stopband_attenuation_square_db": "stopband_square_at_floor",
}


def _cell(figure: dict, key: str, unit: str) -> str:
    text = _fmt(figure[key], unit)
    flag = _FLOOR_FLAGS.get(key)
    return f">= {text}" if flag and figure.get(flag) and figure[key] is not None else text


def _table(spec: dict, figures: list[dict]) -> str:
    # Frequencies are in the units of --fs, which the rows name: a bare 16 could be cycles
    # per sample, per unit length or relative to Nyquist.
    funit = "(fs units)"
    slices = any(f["angle_deg"] is not None for f in figures)
    # Along a slice, the attenuation counted from the radial edge |f| = stopband is the spec
    # of a radially symmetric filter; outer(h, h) has its stopband on the square
    # max(|fx|, |fy|) >= stopband (REFERENCE §7), which the 45 degree ray enters at
    # sqrt(2) stopband: from the radial edge that figure was transition-band gain.
    square = slices and not spec["radial"]
    atten_rows = [("stopband attenuation", "stopband_attenuation_db", " dB")]
    edge_rows = [(f"stopband edge used {funit}", "stopband_edge", "")]
    if slices:
        atten_rows = [("stopband attenuation, radial edge", "stopband_attenuation_db", " dB")]
        edge_rows = [(f"stopband edge used, radial {funit}", "stopband_edge", "")]
    if square:
        atten_rows.append(
            ("stopband attenuation, square edge", "stopband_attenuation_square_db", " dB")
        )
        edge_rows.append((f"stopband edge used, square {funit}", "stopband_edge_square", ""))
    rows = [
        ("DC gain", "dc_gain", ""),
        ("passband ripple", "passband_ripple_db", " dB"),
        *atten_rows,
        (f"-6 dB point {funit}", "f_6db", ""),
        (f"-3 dB point {funit}", "f_3db", ""),
        (f"transition band, measured {funit}", "transition_band", ""),
        (f"passband edge used {funit}", "passband_edge", ""),
        *edge_rows,
    ]
    kind = "radial (jinc) 2D" if spec["radial"] else "separable (windowed sinc) 1D"
    lines = [
        f"{kind} low-pass: numtaps={spec['numtaps']} cutoff={spec['cutoff']:g} "
        f"half_width={spec['half_width']:g} stopband={spec['stopband']:g} fs={spec['fs']:g}",
        f"Kaiser design: attenuation {spec['kaiser_atten_db']:.4g} dB, "
        f"beta {spec['kaiser_beta']:.4g}",
    ]
    if not spec["radial"] and any(f["angle_deg"] is not None for f in figures):
        lines.append("figures of merit of the 2D filter outer(h, h), along two slices:")
    heads = ["1D" if f["angle_deg"] is None else f"{f['angle_deg']:g} deg slice" for f in figures]
    width = max(len(r[0]) for r in rows)
    lines.append(f"{'':<{width}}  " + "  ".join(f"{h:>14}" for h in heads))
    for name, key, unit in rows:
        cells = "  ".join(f"{_cell(f, key, unit):>14}" for f in figures)
        lines.append(f"{name:<{width}}  {cells}")
    notes: list[str] = []
    if slices:
        notes.append(
            "radial edge: attenuation from |f| = stopband along the slice (the spec of a "
            "radially symmetric filter)"
        )
    if square:
        notes.append(
            "square edge: from max(|fx|, |fy|) = stopband, where outer(h, h) has its stopband "
            "(the square in response_2d.png); n/a where the slice meets it only beyond fs/2"
        )
    if any(f["passband_ripple_db"] is None and f["passband_edge"] == 0.0 for f in figures):
        notes.append(
            "ripple n/a: the passband edge 2 cutoff - stopband is <= 0, so the "
            "passband is DC alone, where the gain is 1 by normalisation"
        )
    if any(f.get(flag) for f in figures for flag in _FLOOR_FLAGS.values()):
        floor = figures[0]["numerical_floor_db"]
        notes.append(
            f">= : the stopband is at the float64 rounding floor of these taps ({floor:.4g} dB, "
            "16 eps sqrt(taps) max|h| relative to DC, twice that for the slices of "
            "outer(h, h)): the true attenuation is at least that, "
            "and the transition band (whose tolerance lies below the floor) is n/a"
        )
    # Notes wrapped like the rest of the output (the table itself is about 80 columns).
    lines += [textwrap.fill(note, width=96, subsequent_indent="  ") for note in notes]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    import matplotlib.pyplot as plt
    import numpy as np

    from dsp._checks import check_cutoff, check_real
    from dsp._io import make_output_dir, prepare_output, remove_stale_outputs, write_json_atomic
    from dsp.filters import FilterSpec
    from dsp.kaiser import kaiser_atten, kaiser_beta
    from dsp.plots import save_figure
    from dsp.plots.response import plot_response_1d, plot_response_2d, plot_response_slices
    from dsp.response import figures_of_merit

    if args.width is None:
        half_width = check_real("--half-width", args.half_width, low=0.0, low_inclusive=False)
    else:
        half_width = check_real("--width", args.width, low=0.0, low_inclusive=False) / 2
    if args.numtaps != 1:
        # Checked here to name the flags: "--cutoff must be in (0, 1) ... with --fs=2".
        fs = check_real("--fs", args.fs, low=0.0, low_inclusive=False)
        check_cutoff("--cutoff", args.cutoff, fs, fs_name="--fs")
    spec = FilterSpec(
        cutoff=args.cutoff,
        half_width=half_width,
        fs=args.fs,
        numtaps=args.numtaps,
        radial=args.radial,
    )
    width_arg = "--width" if args.width is not None else "--half-width"
    for warning in (_stopband_warning(spec, width_arg), _passband_warning(spec, width_arg)):
        if warning:
            print(warning, file=sys.stderr)
    taps = spec.design()
    atten = kaiser_atten(spec.numtaps, spec.width, spec.fs)
    spec_dict = {
        "numtaps": spec.numtaps,
        "cutoff": spec.cutoff,
        "half_width": spec.half_width,
        "width": spec.width,
        "stopband": spec.stopband,
        "fs": spec.fs,
        "radial": spec.radial,
        "kaiser_atten_db": atten,
        "kaiser_beta": kaiser_beta(atten),
    }
    two_d = taps.ndim == 2
    if two_d or args.plots_2d:
        # A separable filter drawn in 2D is outer(h, h), whose diagonal is far weaker than its
        # axes (21 vs 55 dB for --numtaps 12 --cutoff 16 --width 20 --fs 64): the figures
        # must show both directions, as for --radial. Its 0 degree slice equals the 1D figures.
        # (outer(h, h) measured without forming it: its slices are products of 1D responses.)
        angles, separable = (0.0, 45.0), not two_d
    else:
        angles, separable = (0.0,), False
    figures = [
        figures_of_merit(
            taps,
            spec.cutoff,
            stopband=spec.stopband,
            fs=spec.fs,
            angle_deg=a,
            separable=separable,
        ).to_dict()
        for a in angles
    ]

    out: Path = args.out
    names: list[str] = []
    if not args.no_plots:
        names = ["response_1d.png"]
        if two_d or args.plots_2d:
            names += ["response_2d.png", "response_slices.png"]
    # Every target is checked (and its folder made) before the first file is written: a bad
    # JSON path found after the plots used to leave them behind with exit status 2.
    make_output_dir(out)
    json_path = prepare_output(out / "filter_taps.json")
    targets = {name: prepare_output(out / name) for name in names}
    files: list[str] = []
    if names:
        marks = {"cutoff": spec.cutoff, "stopband": spec.stopband}
        plotters = {
            "response_1d.png": plot_response_1d,
            "response_2d.png": plot_response_2d,
            "response_slices.png": plot_response_slices,
        }
        for name, path in targets.items():
            fig = plotters[name](taps, spec.fs, **marks)
            files.append(str(save_figure(fig, path)))
            plt.close(fig)

    doc = {
        "spec": spec_dict,
        "figures": figures,
        "taps": np.asarray(taps).tolist(),
        "plots": files,
    }
    json_path = write_json_atomic(json_path, doc)
    # The plots of an earlier design (a --radial run's 2D plots beside this separable one's
    # filter_taps.json) would contradict it: only this run's outputs stay.
    removed = remove_stale_outputs(out, OUTPUT_NAMES, ["filter_taps.json", *names])
    note = (
        f"removed {', '.join(removed)} from {out} (an earlier design's, not drawn for this one)"
        if removed
        else None
    )
    if args.json:
        # stdout stays pure JSON (pipeable); the note goes to stderr.
        print(json.dumps(doc, indent=2))
        if note:
            print(note, file=sys.stderr)
    else:
        print(_table(spec_dict, figures))
        print(f"wrote {json_path}" + (f" and {len(files)} plots" if files else ""))
        if note:
            print(note)
    return 0
