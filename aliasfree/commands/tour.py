"""``aliasfree tour``: a tour of the DSP core on built-in defaults.

Designs the paper's layer schedule and filters (configs T and R), prints their figures of merit,
measures the aliasing of a plain ReLU against the filtered nonlinearity (paper Fig. 2), and writes
plots and JSON. Needs no data and no torch.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

DEFAULT_OUT = Path("aliasfree-out") / "tour"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tour",
        help="design the paper's filters and layer schedule; write plots and figures of merit",
        description=(
            "A tour of the DSP core on built-in defaults: the layer schedule of configs T and R "
            "(REFERENCE §3), every layer's Kaiser and jinc filters with their figures of merit, "
            "and the aliasing of a plain ReLU against the filtered nonlinearity (paper Fig. 2). "
            "Writes PNG plots and JSON files into --out."
        ),
    )
    p.add_argument(
        "--res",
        type=int,
        default=256,
        help="output resolution of the generator, a power of two in 16..1024 (default 256)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"output folder for plots and JSON (default {DEFAULT_OUT})",
    )
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots (JSON only)")


def _filter_rows(sched) -> list[dict]:
    """Figures of merit of every distinct filter in a schedule, with the layers that use it."""
    from dsp.response import figures_of_merit

    rows: dict[tuple, dict] = {}
    for layer in sched.layers:
        for kind in ("up", "down"):
            taps = getattr(layer, f"{kind}_taps")
            if taps <= 1:
                continue
            cutoff = layer.in_cutoff if kind == "up" else layer.out_cutoff
            half = layer.in_half_width if kind == "up" else layer.out_half_width
            radial = kind == "down" and layer.down_radial
            key = (kind, round(cutoff, 9), round(half, 9), layer.tmp_rate, taps, radial)
            if key in rows:
                rows[key]["layers"].append(layer.idx)
                continue
            h = layer.up_filter() if kind == "up" else layer.down_filter()
            fom = figures_of_merit(h, cutoff=cutoff, width=2 * half, fs=layer.tmp_rate)
            extra = {}
            if radial:
                # The jinc-Kaiser design (separable window) is often weakest along the
                # diagonal (up to 16 dB under its 0 degree figure): report both directions.
                fom45 = figures_of_merit(
                    h, cutoff=cutoff, width=2 * half, fs=layer.tmp_rate, angle_deg=45.0
                )
                extra["stopband_attenuation_db_45deg"] = fom45.stopband_attenuation_db
            row = {
                "kind": kind,
                "layers": [layer.idx],
                "numtaps": taps,
                "radial": bool(radial),
                "cutoff": cutoff,
                "half_width": half,
                "fs": layer.tmp_rate,
                **fom.to_dict(),
                **extra,
            }
            if row["passband_edge"] == 0.0:
                # The default passband edge 2 cutoff - (cutoff + half_width) is negative for
                # these wide transition bands, so the "passband" is DC alone, where the gain is
                # 1 by normalisation: a ripple of 0 dB would claim a flatness nobody measured.
                row["passband_ripple_db"] = None
            rows[key] = row
    return list(rows.values())


def _worst_attenuation(row: dict) -> float:
    """The smallest stopband attenuation of a filter row over the directions measured."""
    return min(row["stopband_attenuation_db"], row.get("stopband_attenuation_db_45deg", math.inf))


def _print_filters(config: str, rows: list[dict]) -> None:
    print(
        f"\nFilters of config {config.upper()} (frequencies in cycles per unit length). Each "
        f"filter's transition band is [fc-fh, fc+fh]:\n'stop fc+fh' is where its stopband "
        f"starts (not the schedule's target f_t); 'pass edge' ends the band the ripple is "
        f"measured on\n(2 fc - (fc+fh), or 0: then the passband is DC alone and the ripple n/a)"
    )
    head = (
        f"{'kind':>4} {'layers':>14} {'taps':>4} {'radial':>6} {'fs':>6} {'cutoff':>8} "
        f"{'-6dB at':>8} {'stop fc+fh':>10} {'atten dB':>8} {'at 45°':>6} {'pass edge':>9} "
        f"{'ripple dB':>9}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        layers = ",".join(str(i) for i in r["layers"])
        a45 = r.get("stopband_attenuation_db_45deg")
        at45 = "-" if a45 is None else f"{a45:.1f}"
        ripple = r["passband_ripple_db"]
        ripple_text = "n/a" if ripple is None else f"{ripple:.4f}"
        print(
            f"{r['kind']:>4} {layers:>14} {r['numtaps']:>4} {str(r['radial']):>6} "
            f"{r['fs']:>6g} {r['cutoff']:>8.3f} {r['f_6db']:>8.3f} "
            f"{r['stopband_edge']:>10.3f} {r['stopband_attenuation_db']:>8.1f} "
            f"{at45:>6} {r['passband_edge']:>9.3f} {ripple_text:>9}"
        )


def run(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from aliasfree.commands.schedule import STOPBAND_NOTE
    from dsp._io import make_output_dir, write_json_atomic
    from dsp.figures import relu_aliasing
    from dsp.plots import save_figure
    from dsp.schedule import layer_schedule

    out: Path = args.out
    # Both schedules first: a bad --res fails before anything is printed or created.
    schedules = {config: layer_schedule(args.res, config) for config in ("t", "r")}
    make_output_dir(out)
    summary: dict = {"res": args.res, "configs": {}}
    written: list[Path] = []

    for config, sched in schedules.items():
        print(f"[{config.upper()}] layer schedule at {args.res} px ...", flush=True)
        print(sched.table())
        print(STOPBAND_NOTE)
        rows = _filter_rows(sched)
        _print_filters(config, rows)
        written.append(write_json_atomic(out / f"schedule_{config}.json", sched.to_dict()))
        written.append(write_json_atomic(out / f"filters_{config}.json", rows))
        summary["configs"][config] = {
            "num_layers": len(sched.layers),
            "worst_stopband_attenuation_db": min(_worst_attenuation(r) for r in rows),
            "num_distinct_filters": len(rows),
        }
        if not args.no_plots:
            import matplotlib.pyplot as plt

            from dsp.plots.response import plot_response_1d, plot_response_2d
            from dsp.plots.schedule import plot_schedule

            fig = plot_schedule(sched)
            written.append(save_figure(fig, out / f"schedule_{config}.png"))
            plt.close(fig)
            sep = [ly for ly in sched.layers if ly.up_taps > 1]
            picks = sorted({sep[0].idx, sep[len(sep) // 2].idx, sep[-1].idx})
            filters = [(sched.layers[i].up_filter(), f"L{i} up") for i in picks]
            fig = plot_response_1d(
                [h for h, _ in filters],
                fs=[sched.layers[i].tmp_rate for i in picks],
                labels=[lab for _, lab in filters],
            )
            written.append(save_figure(fig, out / f"filters_{config}.png"))
            plt.close(fig)
            radial = [ly for ly in sched.layers if ly.down_radial]
            if radial:
                # The last radial layer (down_radial excludes the critically sampled ones): in
                # the first ones the jinc's main lobe is wider than the window, which then
                # sets the shape, and the response looks square.
                ly = radial[-1]
                fig = plot_response_2d(
                    ly.down_filter(),
                    fs=ly.tmp_rate,
                    cutoff=ly.out_cutoff,
                    stopband=ly.out_cutoff + ly.out_half_width,
                    title=(
                        f"Config {config.upper()}, layer {ly.idx} down filter\n"
                        f"{ly.down_taps}×{ly.down_taps} jinc taps, fs = {ly.tmp_rate:g}"
                    ),
                )
                written.append(save_figure(fig, out / f"radial_filter_L{ly.idx}.png"))
                plt.close(fig)

    print("\nReLU aliasing (paper Fig. 2): error vs the ideal continuous ReLU in the passband")
    demo = relu_aliasing()
    print(f"  plain ReLU on samples      : {demo.plain_error_db:7.1f} dB")
    print(f"  up2 -> ReLU -> LP -> down2 : {demo.filtered_error_db:7.1f} dB")
    if not args.no_plots:
        import matplotlib.pyplot as plt

        from dsp.plots.figures import plot_relu_aliasing

        fig = plot_relu_aliasing(demo)
        written.append(save_figure(fig, out / "relu_aliasing.png"))
        plt.close(fig)
    summary["relu_aliasing_db"] = {
        "plain": demo.plain_error_db,
        "filtered": demo.filtered_error_db,
    }
    written.append(write_json_atomic(out / "summary.json", summary))
    print(f"\nWrote {len(written)} files to {out}/")
    return 0
