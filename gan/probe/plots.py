"""Figures of a ``ProbeReport``: aliasing per layer along the depth; spectra of the worst layers.

Spectrum panels are drawn by ``dsp.plots.spectrum.plot_power_spectrum``.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from dsp._checks import check_int
from dsp.plots.spectrum import plot_power_spectrum
from gan.probe.report import ProbeReport, higher_is_worse

__all__ = ["NEGLIGIBLE_FRACTION", "plot_depth", "plot_worst_spectra"]

_MAX_TICKS = 40

NEGLIGIBLE_FRACTION = 1e-9
"""A fraction measure (out-of-band energy, aliased or tangled folds, nonlinearity aliasing)
whose mean is at most this is round-off, not aliasing: ``plot_worst_spectra`` leaves the layer
out (a global pool's constant stride-1 map would otherwise fill a panel)."""


def _check_report(report: object) -> ProbeReport:
    if not isinstance(report, ProbeReport):
        raise ValueError(f"report must be a ProbeReport, got {type(report).__name__}")
    return report


def _label(m: str) -> str:
    return f"{m} (dB)" if m.startswith("equivariance_") else f"{m} (%)"


def _is_fraction(measure: str) -> bool:
    # The fractions where a larger value is worse; PSNR and the non-aliased share are not.
    return higher_is_worse(measure)


def plot_depth(report: ProbeReport, measures: Sequence[str] | None = None):
    """One panel per measure: its mean over channels and inputs per layer (forward order), with
    the min–max range shaded and ±std as error bars. Fractions are drawn in percent, PSNR in dB.

    Only the layers that have the measure are drawn (the shading is one bar per layer, not a
    band across the layers in between), and a fraction's lower error bar stops at 0 %.

    Parameters
    ----------
    report : ProbeReport
    measures : sequence of str, optional
        Measure keys (``report.measure_names`` by default).

    Returns
    -------
    matplotlib.figure.Figure
    """
    report = _check_report(report)
    names = report.measure_names if measures is None else list(measures)
    if not names:
        raise ValueError("measures must name at least one measure of the report")
    for m in names:
        if m not in report.measure_names:
            raise ValueError(f"measures must be among {report.measure_names}, got {m!r}")
    fig, axes = plt.subplots(
        len(names),
        1,
        figsize=(max(6.0, 0.22 * len(report.rows) + 3), 2.2 * len(names) + 1),
        sharex=True,
        squeeze=False,
    )
    x_all = np.arange(len(report.rows))
    for ax, m in zip(axes[:, 0], names, strict=True):
        idx = [i for i, r in enumerate(report.rows) if m in r.measures]
        stats = [report.rows[i].measures[m] for i in idx]
        scale = 1.0 if m.startswith("equivariance_") else 100.0
        mean = scale * np.array([s.mean for s in stats], dtype=float)
        std = scale * np.array([s.std for s in stats], dtype=float)
        lo = scale * np.array([s.min for s in stats], dtype=float)
        hi = scale * np.array([s.max for s in stats], dtype=float)
        xs = x_all[idx]
        ax.bar(xs, hi - lo, bottom=lo, width=0.8, color="C0", alpha=0.15, label="min–max")
        # A fraction cannot be negative: the lower bar stops at 0 (mean − std may not).
        below = std if scale == 1.0 else np.minimum(std, np.maximum(mean, 0.0))
        ax.errorbar(
            xs, mean, yerr=(below, std), fmt="o-", ms=3, lw=1, capsize=2, label="mean ± std"
        )
        ax.set_ylabel(_label(m), fontsize="small")
        ax.grid(True, alpha=0.3)
    axes[0, 0].legend(loc="best", fontsize="small")
    step = max(1, int(np.ceil(len(x_all) / _MAX_TICKS)))
    last = axes[-1, 0]
    last.set_xticks(x_all[::step])
    last.set_xticklabels(
        [report.rows[i].name for i in x_all[::step]], rotation=90, fontsize="x-small"
    )
    last.set_xlabel("layer (forward order)")
    fig.suptitle("Aliasing per layer")
    fig.tight_layout()
    return fig


def plot_worst_spectra(report: ProbeReport, measure: str, k: int = 4):
    """Average power spectra of the ``k`` layers worst by ``measure`` (``report.worst``).

    For rate-lowering layers the spectrum is that of the stride-1 equivalent output and the
    square alias-free band ``|f_x|, |f_y| < 1/(2·stride)`` is outlined (a rectangle for
    per-axis strides); otherwise it is the layer's output spectrum. The spectra follow the
    conventions of the ``out_of_band`` measure: the mean kept, no window for circular maps, a
    Hann window on the stride-cropped stride-1 map for non-circular ones. Layers without a stored
    spectrum (e.g. a report read back from JSON, or 1×1 maps) are skipped, and so are layers
    whose fraction ``measure`` is negligible (mean ``<= NEGLIGIBLE_FRACTION``): nothing aliases
    there to show.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        For an unknown measure, ``k < 1`` or when none of the worst layers has a spectrum
        (or a non-negligible value).
    """
    report = _check_report(report)
    k = check_int("k", k, minimum=1)
    rows = [r for r in report.worst(measure, len(report.rows)) if r.name in report.spectra]
    if not rows:
        raise ValueError(
            f"no layer with measure {measure!r} has a stored spectrum (spectra are not kept in "
            "CSV/JSON files; plot the report returned by probe_model)"
        )
    if _is_fraction(measure):
        rows = [r for r in rows if r.measures[measure].mean > NEGLIGIBLE_FRACTION]
        if not rows:
            raise ValueError(
                f"every layer's {measure!r} is negligible (<= {NEGLIGIBLE_FRACTION:g}): no "
                "spectrum to show"
            )
    rows = rows[:k]
    ncol = min(len(rows), 2)
    nrow = int(np.ceil(len(rows) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.8 * ncol, 4.8 * nrow), squeeze=False)
    for ax, r in zip(axes.ravel(), rows, strict=False):
        sp = report.spectra[r.name]
        st = r.measures[measure]
        scale, unit = (1.0, "dB") if measure.startswith("equivariance_") else (100.0, "%")
        title = f"{r.name} ({r.type}): {measure} {scale * st.mean:.3g} {unit}"
        plot_power_spectrum(
            sp.fy,
            sp.fx,
            sp.power,
            marks=None if sp.cutoff is None else [sp.cutoff],
            band="square",
            title=title,
            ax=ax,
        )
        ax.title.set_fontsize("small")
    for ax in axes.ravel()[len(rows) :]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig
