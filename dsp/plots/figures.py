"""Figures of the paper's illustrative experiments (:mod:`dsp.figures`), e.g. its Fig. 2.

Every function returns a ``matplotlib.figure.Figure`` built without pyplot (nothing is left
open, nothing is shown); save with :func:`dsp.plots.save_figure`. See REFERENCE §1, §4.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from dsp._checks import check_int, check_real
from dsp.figures import ReluAliasing, ReluAliasing1D
from dsp.interpolation import resample_rational

__all__ = ["plot_relu_aliasing", "plot_relu_aliasing_1d"]

_TINY = 1e-300


def _band_part(e: np.ndarray, band: float) -> np.ndarray:
    """The part of a periodic map inside the square ``|fx|, |fy| < band`` (cycles/sample)."""
    keep = (np.abs(np.fft.fftfreq(e.shape[0]))[:, None] < band) & (
        np.abs(np.fft.fftfreq(e.shape[1]))[None, :] < band
    )
    return np.fft.ifft2(np.fft.fft2(e) * keep).real


def _power_db(x: np.ndarray, ref: float, floor_db: float) -> np.ndarray:
    """Centred ``10 log10(|DFT x|² / ref)``, clipped at ``floor_db``."""
    p = np.abs(np.fft.fftshift(np.fft.fft2(x))) ** 2
    return np.maximum(10 * np.log10(np.maximum(p, _TINY) / ref), floor_db)


def _square(ax, half: float, **kw) -> None:
    ax.add_patch(Rectangle((-half, -half), 2 * half, 2 * half, fill=False, **kw))


def plot_relu_aliasing(result: ReluAliasing, *, floor_db: float = -80.0) -> Figure:
    """The paper's Fig. 2 in 2D: a ReLU on samples aliases, the filtered ReLU much less.

    Top row (images, ``n × n`` samples): the band-limited input; the ideal continuous result
    ``LP_{s/2}(σ(z))``; the in-band error of σ on the samples, ``LP_B(plain − ideal)``; the same
    for the filtered path (up → σ → down), on the same colour scale as the plain error.

    Bottom row (power spectra, centred, cycles/sample, dB relative to the ideal's strongest
    non-DC bin): the input (its disc band outlined); the ideal; the error spectra
    ``|DFT(plain − ideal)|²`` and ``|DFT(filtered − ideal)|²``. The square
    ``|fx|, |fy| < bandwidth`` (dashed) is where the errors are measured: the plain ReLU's folded
    harmonics fill it, the filtered path's error sits in the filters' transition band outside.

    Parameters
    ----------
    result : ReluAliasing
        From :func:`dsp.figures.relu_aliasing`.
    floor_db : float
        Lowest level of the spectra, negative.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(result, ReluAliasing):
        raise ValueError(f"result must be a dsp.figures.ReluAliasing, got {type(result).__name__}")
    floor_db = check_real("floor_db", floor_db, high=0.0, high_inclusive=False)
    r = result
    b = r.bandwidth
    err_plain = _band_part(r.plain - r.ideal, b)
    err_filt = _band_part(r.filtered - r.ideal, b)

    fig = Figure(figsize=(16, 8.4), layout="constrained")
    axes = fig.subplots(2, 4)
    n = r.x.shape[0]
    ext = (-0.5, n - 0.5, -0.5, n - 0.5)
    emax = float(np.max(np.abs(err_plain))) or 1.0
    images = [
        (r.x, "input z (samples, rate s = 1)", "gray", None),
        (r.ideal, "ideal: σ(z) continuous, then LP at s/2", "gray", None),
        (err_plain, f"in-band error, σ on samples\n{r.plain_error_db:.1f} dB", "RdBu_r", emax),
        (
            err_filt,
            f"in-band error, up{r.up} → σ → down{r.up}\n{r.filtered_error_db:.1f} dB",
            "RdBu_r",
            emax,
        ),
    ]
    for ax, (img, title, cmap, lim) in zip(axes[0], images, strict=True):
        kw = {} if lim is None else {"vmin": -lim, "vmax": lim}
        im = ax.imshow(img, origin="lower", extent=ext, cmap=cmap, interpolation="nearest", **kw)
        fig.colorbar(im, ax=ax, shrink=0.8)
        ax.set_title(title, fontsize="medium")
        ax.set_xlabel("x (samples)")
        ax.set_ylabel("y (samples)")

    p_ideal = np.abs(np.fft.fft2(r.ideal)) ** 2
    p_ideal[0, 0] = 0.0  # DC would set the scale and hide the rest
    ref = float(p_ideal.max()) or 1.0
    f = np.fft.fftshift(np.fft.fftfreq(n))
    d = 1.0 / n
    fext = (f[0] - d / 2, f[-1] + d / 2, f[0] - d / 2, f[-1] + d / 2)
    spectra = [
        (r.x, f"input spectrum, disc |f| < {b:g}"),
        (r.ideal, "ideal: σ's harmonics fill the band"),
        (r.plain - r.ideal, "error spectrum, σ on samples\n(folded harmonics, everywhere)"),
        (r.filtered - r.ideal, "error spectrum, filtered σ\n(mostly outside the band)"),
    ]
    t = np.linspace(0, 2 * np.pi, 241)
    for i, (ax, (img, title)) in enumerate(zip(axes[1], spectra, strict=True)):
        im = ax.imshow(
            _power_db(img, ref, floor_db),
            origin="lower",
            extent=fext,
            cmap="magma",
            vmin=floor_db,
            vmax=0.0,
            interpolation="nearest",
        )
        fig.colorbar(im, ax=ax, shrink=0.8, label="dB re ideal's peak")
        if i == 0:
            ax.plot(b * np.cos(t), b * np.sin(t), ":", color="lime", lw=1.2)
        _square(ax, b, ec="cyan", ls="--", lw=1.0)
        ax.set_title(title, fontsize="medium")
        ax.set_xlabel("f_x (cycles/sample)")
        ax.set_ylabel("f_y (cycles/sample)")
    fig.suptitle(
        f"ReLU aliasing (paper Fig. 2): n = {n}, band {b:g} cycles/sample, "
        f"{r.numtaps}-tap Kaiser filters at {r.up}× rate (cutoff {r.cutoff:g}, "
        f"stopband {r.cutoff + r.half_width:g}); errors inside the dashed square"
    )
    return fig


def _alias(h: np.ndarray, n: int) -> np.ndarray:
    """Where frequency ``h`` (cycles per period) lands after sampling ``n`` per period."""
    return np.abs(h - n * np.round(h / n))


def plot_relu_aliasing_1d(
    result: ReluAliasing1D, *, max_harmonic: float = 3.0, n_arrows: int = 4
) -> Figure:
    """The paper's Fig. 2 in 1D: continuous vs sampled ReLU, and where the harmonics fold.

    Three panels over one period:

    1. The signal ``z`` (grey) and its samples; ``σ(z)`` (black); the ideal ``LP_{s/2}(σ(z))``;
       the periodic (band-limited) reconstructions of σ applied to the samples and of the
       filtered path.
    2. Amplitude of ``σ(z)``'s harmonics (cycles per period) up to ``max_harmonic·n``: those
       beyond Nyquist ``n/2`` (shaded) cannot be represented; sampling folds harmonic ``h`` onto
       ``|h − k·n|`` (arrows for the ``n_arrows`` strongest), which is what the spectrum of the
       sampled ReLU (markers) shows on top of the ideal's lines.
    3. Error spectra ``|DFT(plain − ideal)|`` and ``|DFT(filtered − ideal)|`` per bin, with the
       error band ``|f| < bandwidth`` shaded.

    Parameters
    ----------
    result : ReluAliasing1D
        From :func:`dsp.figures.relu_aliasing_1d`.
    max_harmonic : float
        Extent of the harmonic axis in units of ``n``, ``> 0.5``.
    n_arrows : int
        Number of fold arrows, ``>= 0``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(result, ReluAliasing1D):
        raise ValueError(
            f"result must be a dsp.figures.ReluAliasing1D, got {type(result).__name__}"
        )
    max_harmonic = check_real("max_harmonic", max_harmonic, low=0.5, low_inclusive=False)
    n_arrows = check_int("n_arrows", n_arrows, minimum=0)
    r = result
    n, os_ = r.n, r.oversample
    fig = Figure(figsize=(11, 11), layout="constrained")
    ax0, ax1, ax2 = fig.subplots(3, 1)

    ax0.plot(r.t, r.z, color="0.65", lw=1.5, label="z (continuous)")
    ax0.plot(r.t, r.activated, color="k", lw=1.5, label="σ(z) (continuous)")
    ax0.plot(r.t, r.ideal_dense, color="C0", lw=1.5, ls="--", label="ideal: LP at s/2 of σ(z)")
    ax0.plot(
        r.t,
        resample_rational(r.plain, os_, 1),
        color="C3",
        lw=1.1,
        label=f"σ on samples, reconstructed ({r.plain_error_db:.1f} dB)",
    )
    ax0.plot(
        r.t,
        resample_rational(r.filtered, os_, 1),
        color="C2",
        lw=1.1,
        label=f"up{r.up} → σ → down{r.up}, reconstructed ({r.filtered_error_db:.1f} dB)",
    )
    k = np.arange(n)
    ax0.plot(k, r.x, "o", color="0.4", ms=4, label="samples of z")
    ax0.plot(k, r.plain, "o", color="C3", ms=4, mfc="none", label="σ(samples)")
    ax0.set_xlim(0, n)
    ax0.set_xlabel("t (samples; one period)")
    ax0.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize="small", ncol=4)
    ax0.set_title("Signal and nonlinearity: continuous vs on samples")

    # One-sided amplitude of each integer harmonic (cycles per period).
    spec = np.fft.rfft(r.activated) / r.t.size
    amp = np.abs(spec) * np.where(np.arange(spec.size) == 0, 1.0, 2.0)
    hmax = min(int(max_harmonic * n), spec.size - 1)
    h = np.arange(hmax + 1)
    a = amp[: hmax + 1]
    # The dense grid folds harmonics above oversample·n/2 onto every bin at a tiny level: hide
    # that numerical floor.
    floor = 1e-4 * float(a.max())
    ax1.axvspan(n / 2, hmax + 0.5, color="0.92", label="above Nyquist s/2 (lost)")
    present = a > floor
    ax1.vlines(h[present], floor, a[present], color="k", lw=1.5, label="harmonics of σ(z)")
    ps = np.fft.rfft(r.plain) / n
    pa = np.abs(ps) * np.where(np.arange(ps.size) == 0, 1.0, 2.0)
    if n % 2 == 0:
        pa[-1] /= 2  # the Nyquist bin is not doubled
    shown = pa > floor
    ax1.plot(
        np.arange(pa.size)[shown],
        pa[shown],
        "o",
        color="C3",
        mfc="none",
        label="spectrum of σ(samples)",
    )
    above = np.nonzero((h > n / 2) & present)[0]
    for j in above[np.argsort(a[above])[::-1][:n_arrows]]:
        dest = float(_alias(np.array(float(h[j])), n))
        ax1.annotate(
            "",
            xy=(dest, a[j]),
            xytext=(h[j], a[j]),
            arrowprops={
                "arrowstyle": "->",
                "color": "C3",
                "lw": 1.0,
                "connectionstyle": "arc3,rad=0.25",
            },
        )
        ax1.text(h[j], a[j] * 1.6, f"{h[j]}→{dest:g}", color="C3", ha="center", fontsize="small")
    for m in np.arange(1, max_harmonic + 1):
        ax1.axvline(m * n, color="0.5", lw=0.7, ls=":")
    ax1.axvline(n / 2, color="k", lw=0.9, ls="--")
    ax1.set_yscale("log")
    ax1.set_ylim(floor, 2 * float(a.max()))
    ax1.set_xlim(-0.5, hmax + 0.5)
    ax1.set_xlabel(f"frequency (cycles per period; n = {n} samples, Nyquist {n / 2:g})")
    ax1.set_ylabel("amplitude")
    ax1.legend(loc="upper right", fontsize="small")
    ax1.set_title("Harmonics above Nyquist fold back: h shows up at |h − k·n|")

    bins = np.arange(n // 2 + 1)
    lowest = 0.0
    for y, label, col, dx in (
        (r.plain, "σ on samples", "C3", -0.12),
        (r.filtered, "filtered", "C2", 0.12),
    ):
        e = np.abs(np.fft.rfft(y - r.ideal)) / n
        # Bins the error does not reach (exact zeros up to rounding) are left out.
        keep = e > 1e-12 * max(float(np.max(np.abs(r.ideal))), _TINY)
        db = 20 * np.log10(e[keep])
        lowest = min(lowest, float(db.min()) if db.size else 0.0)
        ax2.vlines(bins[keep] + dx, -400, db, color=col, lw=2.5, label=label)
    ax2.set_ylim(lowest - 10, 0)
    ax2.axvspan(-0.5, r.bandwidth * n, color="C0", alpha=0.1, label="error band")
    ax2.set_xlim(-0.5, n / 2 + 0.5)
    ax2.set_xlabel("frequency (cycles per period)")
    ax2.set_ylabel("|error| (dB)")
    ax2.grid(True, alpha=0.3)
    ax2.legend(loc="upper right", fontsize="small")
    ax2.set_title("Error spectra against the ideal")
    return fig
