"""Figures for sampled test signals: a 1D signal with its samples and reconstruction, and a
rendered 2D image with its spectrum. See REFERENCE §1 and :mod:`dsp.signals`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from matplotlib.figure import Figure

from dsp._checks import as_finite_array, check_int, check_real
from dsp.interpolation import sinc_interpolate
from dsp.sampling import sample_1d

__all__ = ["plot_sampling_1d", "plot_rendering"]


def plot_sampling_1d(
    fn: Callable[[np.ndarray], np.ndarray],
    extent: tuple[float, float],
    rate: float,
    *,
    offset: float = 0.0,
    oversample: int = 32,
    title: str | None = None,
) -> Figure:
    """The continuous signal, its Dirac-comb samples and their Whittaker–Shannon reconstruction.

    Parameters
    ----------
    fn : callable
        Real 1D signal, vectorised.
    extent, rate, offset
        As in :func:`dsp.sampling.sample_1d` (rate in samples per unit length).
    oversample : int
        Dense points per sample interval for drawing the continuous curves, ``>= 2``.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    oversample = check_int("oversample", oversample, minimum=2)
    rate = check_real("rate", rate, low=0.0, low_inclusive=False)
    x, z = sample_1d(fn, extent, rate, offset)
    if np.iscomplexobj(z):
        raise ValueError("fn must be real-valued for plotting")
    dense = np.linspace(extent[0], extent[1], oversample * x.size + 1)
    fig = Figure(figsize=(8, 3.5))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(dense, np.asarray(fn(dense), dtype=np.float64), color="0.6", lw=2, label="signal")
    ax.plot(
        dense, sinc_interpolate(z, dense, rate, x[0]), color="C0", lw=1, label="sinc reconstruction"
    )
    ax.stem(x, z, linefmt="C1-", markerfmt="C1o", basefmt=" ", label=f"samples, rate {rate:g}")
    ax.set_xlabel("position (units of length)")
    ax.legend(loc="upper right", fontsize="small")
    ax.set_title(title or "Sampling and Whittaker–Shannon reconstruction")
    return fig


def plot_rendering(
    image: np.ndarray,
    rate: float,
    *,
    start: tuple[float, float] | None = None,
    title: str | None = None,
) -> Figure:
    """A 2D rendering (e.g. :func:`dsp.signals.render_disc`) and its log power spectrum.

    Parameters
    ----------
    image : array_like, shape (H, W)
        Real samples, rows = y.
    rate : float
        Samples per unit length (sets the axes: positions and cycles per unit length).
    start : (x0, y0), optional
        Position of pixel ``[0, 0]``; default ``-(n // 2) / rate`` as in the renderers.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    img = as_finite_array("image", image, ndim=2)
    rate = check_real("rate", rate, low=0.0, low_inclusive=False)
    h, w = img.shape
    x0, y0 = (-(w // 2) / rate, -(h // 2) / rate) if start is None else start
    fig = Figure(figsize=(9, 4))
    ax0, ax1 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    ext = (x0 - 0.5 / rate, x0 + (w - 0.5) / rate, y0 - 0.5 / rate, y0 + (h - 0.5) / rate)
    im = ax0.imshow(img, origin="lower", extent=ext, cmap="gray")
    fig.colorbar(im, ax=ax0, shrink=0.8)
    ax0.set_xlabel("x")
    ax0.set_ylabel("y")
    ax0.set_title("samples")
    power = np.abs(np.fft.fftshift(np.fft.fft2(img))) ** 2
    db = 10.0 * np.log10(power / max(power.max(), np.finfo(float).tiny) + 1e-30)
    fext = (-rate / 2, rate / 2, -rate / 2, rate / 2)
    im1 = ax1.imshow(np.clip(db, -160.0, 0.0), origin="lower", extent=fext, cmap="magma")
    fig.colorbar(im1, ax=ax1, shrink=0.8, label="dB")
    ax1.set_xlabel("f_x (cycles / unit)")
    ax1.set_ylabel("f_y (cycles / unit)")
    ax1.set_title("power spectrum")
    fig.suptitle(title or "Band-limited rendering")
    return fig
