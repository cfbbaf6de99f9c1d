"""Figure of a generator layer schedule, in the style of Fig. 4c of the StyleGAN3 paper.

See REFERENCE §3 and :func:`dsp.schedule.layer_schedule`.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from dsp.schedule import Schedule

__all__ = ["plot_schedule"]


def _pow2_label(v: float, _pos: int) -> str:
    return f"{v:g}"


def _pow2_axis(ax, lo: float, hi: float) -> tuple[float, float]:
    """Log2 y axis from ``lo`` to ``hi`` with ticks at powers of two; returns its limits."""
    ax.set_yscale("log", base=2)
    ticks = 2.0 ** np.arange(np.floor(np.log2(lo)), np.ceil(np.log2(hi)) + 1)
    # Every other power of two once the labels would crowd.
    shown = ticks[::2] if len(ticks) > 9 else ticks
    ax.yaxis.set_major_locator(FixedLocator(shown))
    ax.yaxis.set_major_formatter(FuncFormatter(_pow2_label))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_ylim(ticks[0] / 1.15, ticks[-1] * 1.15)
    return ticks[0] / 1.15, ticks[-1] * 1.15


def plot_schedule(schedule: Schedule, *, title: str | None = None) -> Figure:
    """Draw the schedule's band limits per layer, like the paper's Fig. 4c.

    Top panel (log2 frequency axis, cycles per unit length = per image width), one point per
    schedule entry ``i``, which is also the output of layer ``i``:

    - cutoff ``fc_i`` and the schedule's target stopband ``ft_i`` (lines with markers),
    - the filters' stopband edge ``fc_i + fh_i`` (triangles) and their transition band
      ``[max(fc_i - fh_i, 0), fc_i + fh_i]``, centred on the cutoff, shaded as one block per
      entry (down to the bottom of the axis where it reaches DC),
    - Nyquist ``s_i / 2`` (step line) and the intermediate Nyquist ``tmp / 2`` of each layer's
      upsampled leaky ReLU (dotted step),
    - the critically sampled layers shaded grey.

    Bottom panel (log2 axis): feature-map size per entry (bars, labelled) and channel count
    (line).

    Parameters
    ----------
    schedule : Schedule
        From :func:`dsp.schedule.layer_schedule`.
    title : str, optional
        Figure title; defaults to the config and resolution.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(schedule, Schedule):
        raise ValueError(f"schedule must be a dsp.schedule.Schedule, got {type(schedule).__name__}")
    ent = schedule.entries
    x = np.array([e.i for e in ent])
    fc = np.array([e.cutoff for e in ent])
    ft = np.array([e.stopband for e in ent])
    fh = np.array([e.half_width for e in ent])
    nyq = np.array([e.rate for e in ent]) / 2
    tmp_nyq = np.array([lay.tmp_rate for lay in schedule.layers]) / 2
    sizes = np.array([e.size for e in ent])
    chans = np.array([e.channels for e in ent])
    crit = [lay.idx for lay in schedule.layers if lay.critically_sampled]

    fig = Figure(figsize=(8.0, 7.0), layout="constrained")
    ax, axb = fig.subplots(2, 1, sharex=True, height_ratios=[2.2, 1.0])

    for a in (ax, axb):
        if crit:
            a.axvspan(min(crit) - 0.5, max(crit) + 0.5, color="0.88", zorder=0, lw=0)
    lo, _ = _pow2_axis(ax, fc.min(), max(tmp_nyq.max(), ft.max(), (fc + fh).max()))
    # The band [fc - fh, fc + fh] is centred on the cutoff; where it reaches DC (fh >= fc, the
    # wide bands of the early layers) a log axis cannot show 0, so it runs off the bottom.
    # One block per entry: a band interpolated between entries belongs to no filter.
    band_lo = np.maximum(fc - fh, lo)
    ax.bar(
        x,
        fc + fh - band_lo,
        bottom=band_lo,
        width=0.8,
        color="C0",
        alpha=0.15,
        lw=0,
        label="filter transition band $[f_c - f_h, f_c + f_h]$",
    )
    ax.step(
        x, tmp_nyq, where="mid", color="0.5", ls=":", lw=1.2, label="intermediate Nyquist tmp/2"
    )
    ax.step(x, nyq, where="mid", color="k", lw=1.5, label="Nyquist s/2")
    ax.plot(x, fc + fh, "v", color="C0", ms=5, label="filter stopband edge $f_c + f_h$")
    ax.plot(x, ft, "o-", color="C1", ms=4, label="target stopband $f_t$")
    ax.plot(x, fc, "o-", color="C0", ms=4, label="cutoff $f_c$")
    ax.set_ylabel("frequency (cycles per image width)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
    if crit:
        ax.text(
            (min(crit) + max(crit)) / 2,
            0.02,
            "critically\nsampled",
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=8,
            color="0.3",
        )
    ax.set_title(
        title
        if title is not None
        else f"Layer schedule, config {schedule.config}, {schedule.res}×{schedule.res}"
    )

    bars = axb.bar(x, sizes, width=0.6, color="C2", alpha=0.6, label="size (samples)")
    for rect, s in zip(bars, sizes, strict=True):
        axb.annotate(
            str(int(s)),
            (rect.get_x() + rect.get_width() / 2, s),
            ha="center",
            va="bottom",
            fontsize=7,
            rotation=90,
            xytext=(0, 2),
            textcoords="offset points",
        )
    axb.plot(x, chans, "s-", color="C3", ms=3, label="channels")
    _pow2_axis(axb, min(sizes.min(), chans.min()), max(sizes.max(), chans.max()) * 8)
    axb.set_ylabel("size / channels")
    axb.grid(True, which="major", axis="y", alpha=0.3)
    # The headroom above the tallest bar (ylim up to 8x) keeps the legend off the data.
    axb.legend(loc="upper left", fontsize=8, framealpha=0.9, ncols=2)

    labels = [str(i) for i in x]
    labels[-1] = f"{x[-1]}\nToRGB"
    axb.set_xticks(x, labels)
    axb.set_xlabel("layer (output of layer i = schedule entry i; entry 0 also the input)")
    axb.set_xlim(x[0] - 0.6, x[-1] + 0.6)
    return fig
