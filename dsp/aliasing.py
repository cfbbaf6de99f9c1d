"""Aliasing analyzers for batches of feature maps. See REFERENCE §1 and §7.

Three measurements, all on the DFT of whole maps (each map is read as one period of a periodic
signal, so a map whose opposite edges do not match shows spurious power along the axes; pass a
``window`` where that matters):

- ``out_of_band_energy``: fraction of a map's power outside the alias-free band of a stride-``s``
  decimation (the square ``|fx|, |fy| < 1/(2s)`` or the disc ``|f| < 1/(2s)``, cycles/sample).
- ``out_of_band_fraction``: the same fraction for an average power spectrum (``NaN`` when it
  holds no power).
- ``fold_classification``: Ribeiro & Schön's fold analysis of which input frequencies land on each
  output frequency of the decimated map.
- ``nonlinearity_aliasing``: the energy a pointwise nonlinearity folds back when applied at the
  sampling rate instead of at ``m`` times that rate followed by an ideal low-pass.

Maps are ``[N, C, H, W]``; ``[H, W]`` and ``[C, H, W]`` are accepted and read as ``N = C = 1``
resp. ``N = 1``. Frequencies are in cycles/sample. ``power_spectrum`` (the average power spectrum)
lives in ``dsp.spectrum`` and is re-exported here.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dsp._checks import (
    apply_pointwise,
    as_finite_array,
    check_callable,
    check_factor_pair,
    check_int,
    check_real,
    check_shape_2d,
)
from dsp.spectrum import as_nchw, map_power, mean_power, power_spectrum, spectrum_window

__all__ = [
    "power_spectrum",
    "alias_free_band",
    "out_of_band_energy",
    "out_of_band_fraction",
    "channel_out_of_band_energy",
    "FoldLabel",
    "FoldResult",
    "fold_classification",
    "NonlinearityAliasing",
    "nonlinearity_aliasing",
]

_CHUNK_ELEMENTS = 1 << 22
_BANDS = ("square", "disc")


def _signed_bins(n: int) -> np.ndarray:
    """DFT bin indices in ``numpy.fft.fftfreq`` order as signed integers (Nyquist negative)."""
    k = np.arange(n, dtype=np.int64)
    return np.where(k < n - n // 2, k, k - n)


def alias_free_band(
    shape: tuple[int, int],
    factor: int | tuple[int, int],
    band: str = "square",
    *,
    shift: bool = False,
) -> np.ndarray:
    """Boolean mask of the DFT bins inside the alias-free band of a decimation by ``factor``.

    ``factor`` is the stride: an integer ``s`` (both axes) or a pair ``(s_y, s_x)`` (rows,
    columns; a layer with ``stride=(2, 1)`` decimates the rows only). With ``f_y = k_y/H`` and
    ``f_x = k_x/W`` (cycles/sample, signed as in ``numpy.fft.fftfreq``) and the new Nyquist
    frequencies ``c_y = 1/(2·s_y)``, ``c_x = 1/(2·s_x)``:

    - ``band="square"`` (separable decimation; a rectangle when the strides differ):
      ``|f_y| < c_y`` and ``|f_x| < c_x``;
    - ``band="disc"`` (radial; an ellipse when the strides differ):
      ``(f_y/c_y)² + (f_x/c_x)² < 1``.

    The inequalities are strict and evaluated in exact integer arithmetic: a bin exactly on the
    boundary (``|f| = c``) is **outside**, because ``+c`` and ``−c`` land on the same
    Nyquist bin of the decimated map, which cannot tell them apart (a cosine there survives, a
    sine vanishes). DC (``f = 0``) is always inside. With ``band="square"`` an axis of stride
    1 is not decimated, so the whole axis is inside (its Nyquist bin too: nothing folds that
    was not already there); the disc keeps its ellipse.

    Parameters
    ----------
    shape : (int, int)
        ``(H, W)``.
    factor : int or (int, int)
        Decimation stride ``s`` or ``(s_y, s_x)``, each ``>= 1``.
    band : {"square", "disc"}
    shift : bool
        If true, the mask is centred (``fftshift`` order, as ``power_spectrum(shift=True)``).

    Returns
    -------
    numpy.ndarray
        ``[H, W]`` bool, true inside the band.
    """
    height, width = check_shape_2d("shape", shape)
    fy, fx = check_factor_pair("factor", factor)
    if band not in _BANDS:
        raise ValueError(f"band must be 'square' or 'disc', got {band!r}")
    ky, kx = _signed_bins(height), _signed_bins(width)
    if band == "square":
        # |k/n| < 1/(2·f)  <=>  2·f·|k| < n
        in_y = (2 * fy * np.abs(ky) < height) | (fy == 1)
        in_x = (2 * fx * np.abs(kx) < width) | (fx == 1)
        mask = in_y[:, None] & in_x
    else:
        # (2·fy·ky/H)² + (2·fx·kx/W)² < 1  <=>  4·(fy²·ky²·w² + fx²·kx²·h²) < g²·h²·w²  with
        # H = g·h, W = g·w: dividing by gcd² keeps the integers small (exact for square maps of
        # any size).
        g = math.gcd(height, width)
        h, w = height // g, width // g
        rhs = g * g * h * h * w * w
        lhs_max = 4 * (fy * fy * height * height * w * w + fx * fx * width * width * h * h)
        dtype = np.int64 if max(lhs_max, rhs) < 2**62 else object
        ky_, kx_ = ky.astype(dtype), kx.astype(dtype)
        lhs = 4 * (fy * fy * ky_[:, None] ** 2 * (w * w) + fx * fx * kx_[None, :] ** 2 * (h * h))
        mask = np.asarray(lhs < rhs, dtype=bool)
    return np.fft.fftshift(mask) if shift else mask


def _band_energies(
    x: object, factor: int | tuple[int, int], band: str, window: str | None, beta: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-map ``(E_out, E_total)``, each ``[N, C]``, from the (windowed) DFT power."""
    x4 = as_nchw("x", x)
    n, c, height, width = x4.shape
    outside = ~alias_free_band((height, width), factor, band)
    w2 = None if window is None else spectrum_window((height, width), window, beta=beta)
    e_out = np.empty((n, c))
    e_tot = np.empty((n, c))
    per = max(1, _CHUNK_ELEMENTS // max(1, c * height * width))
    for start in range(0, n, per):
        p = map_power(x4[start : start + per], w2)
        # Summing the outside bins directly (not 1 − inside) keeps tiny fractions accurate.
        e_out[start : start + per] = np.sum(p * outside, axis=(-2, -1))
        e_tot[start : start + per] = np.sum(p, axis=(-2, -1))
    return e_out, e_tot


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    # A map with no power has nothing to alias: its fraction is 0, not NaN.
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def out_of_band_energy(
    x: object,
    factor: int | tuple[int, int],
    band: str = "square",
    *,
    window: str | None = None,
    beta: float = 8.0,
) -> np.ndarray:
    """Fraction of each map's power outside the alias-free band of a stride-``factor`` decimation.

    See REFERENCE §7. For each map, ``r = Σ_{k ∉ B} |X[k]|² / Σ_k |X[k]|²`` with ``X`` the 2D DFT
    of the whole (optionally windowed) map and ``B = alias_free_band((H, W), factor, band)``:
    the square ``|f_x|, |f_y| < 1/(2·factor)`` cycles/sample for separable decimation (a radial cut
    miscounts the corners) or the disc ``|f| < 1/(2·factor)``; with a per-axis stride
    ``factor = (s_y, s_x)`` the rectangle ``|f_y| < 1/(2·s_y)``, ``|f_x| < 1/(2·s_x)`` (resp.
    the ellipse). Bins exactly on the boundary count as outside; DC counts as inside (the mean
    is not removed). The DFT treats the map as periodic. A map with zero power gets ``r = 0``.

    Parameters
    ----------
    x : array_like
        ``[N, C, H, W]`` (or ``[C, H, W]``, ``[H, W]``) real maps before the decimation.
    factor : int or (int, int)
        The decimation stride ``>= 1``: one for both axes or ``(s_y, s_x)`` (rows, columns).
    band : {"square", "disc"}
    window : {"hann", "kaiser", None}
        Optional separable analysis window (``dsp.spectrum.spectrum_window``); default none.
    beta : float
        Kaiser ``β`` for ``window="kaiser"``.

    Returns
    -------
    numpy.ndarray
        ``[N, C]`` fractions in ``[0, 1]``.
    """
    e_out, e_tot = _band_energies(x, factor, band, window, beta)
    return _safe_ratio(e_out, e_tot)


def out_of_band_fraction(
    P: object, factor: int | tuple[int, int], band: str = "square", *, shift: bool = True
) -> float:
    """Fraction of a power spectrum's power outside the alias-free band of a stride-``factor``
    decimation. See REFERENCE §7.

    ``r = Σ_{k ∉ B} P[k] / Σ_k P[k]`` with ``B = alias_free_band(P.shape, factor, band,
    shift=shift)`` (cycles/sample; boundary bins outside, DC inside). Dimensionless, in
    ``[0, 1]``.

    ``power_spectrum``'s defaults (Hann window, mean removed) change the fraction; with
    ``window=None, detrend=None`` it equals ``out_of_band_energy`` on the same maps.

    Unlike ``out_of_band_energy``, which gives a silent map ``r = 0`` so that batch averages of
    feature maps stay finite, a spectrum with no power at all (a constant image with its mean
    removed, or 1-pixel images) has no defined fraction and gets ``NaN``: reporting 0 % would
    claim the images are perfectly band-limited.

    Parameters
    ----------
    P : array_like
        ``[H, W]`` non-negative power per bin, e.g. from ``dsp.spectrum.power_spectrum``.
    factor : int or (int, int)
        The decimation stride ``>= 1``, or ``(s_y, s_x)`` per axis (``alias_free_band``).
    band : {"square", "disc"}
    shift : bool
        ``P`` is centred (``fftshift`` order, the ``power_spectrum`` default) if true, in DFT
        order otherwise.

    Returns
    -------
    float
        ``r``, or ``NaN`` when ``Σ_k P[k] = 0``.
    """
    p = as_finite_array("P", P, ndim=2)
    if np.any(p < 0):
        raise ValueError("P must be non-negative (a power spectrum)")
    inside = alias_free_band(p.shape, factor, band, shift=shift)
    total = float(p.sum())
    if total == 0.0:
        return math.nan
    # Summing the outside bins directly (not 1 − inside) keeps tiny fractions accurate.
    return float(p[~inside].sum()) / total


def channel_out_of_band_energy(
    x: object,
    factor: int | tuple[int, int],
    band: str = "square",
    *,
    window: str | None = None,
    beta: float = 8.0,
) -> np.ndarray:
    """``out_of_band_energy`` pooled over the batch: ``Σ_n E_out[n, c] / Σ_n E_total[n, c]``.

    The energy-weighted fraction per channel (a loud sample counts more than a quiet one), as
    used for a per-channel, per-layer report. Returns ``[C]``; see ``out_of_band_energy``.
    """
    e_out, e_tot = _band_energies(x, factor, band, window, beta)
    return _safe_ratio(e_out.sum(axis=0), e_tot.sum(axis=0))


class FoldLabel(enum.IntEnum):
    """Label of one output frequency in ``fold_classification``."""

    NON_ALIASED = 0
    ALIASED = 1
    TANGLED = 2
    EMPTY = 3


_LABEL_KEYS = {
    FoldLabel.NON_ALIASED: "non_aliased",
    FoldLabel.ALIASED: "aliased",
    FoldLabel.TANGLED: "tangled",
}


@dataclass(frozen=True, eq=False)
class FoldResult:
    """Result of ``fold_classification``.

    Attributes
    ----------
    labels : numpy.ndarray
        ``FoldLabel`` values (int8), ``[H/s_y, W/s_x]`` (``average="all"``) or
        ``[C, H/s_y, W/s_x]`` (``average="channel"``), centred: zero output frequency at
        ``(H/s_y//2, W/s_x//2)``.
    fy, fx : numpy.ndarray
        Output frequency axes in cycles/sample **of the decimated map** (centred).
    power : numpy.ndarray
        Total power per output bin (sum over its ``s_y·s_x`` folds), same shape as ``labels``.
    fractions : dict
        ``{"non_aliased", "aliased", "tangled"}`` → fraction of the non-empty output bins.
    energy_fractions : dict
        Same keys, each label's share of the total power of the non-empty bins.
    empty_fraction : float
        Fraction of all output bins labelled ``EMPTY``.
    stride : int or (int, int)
        The stride as given: an integer (both axes) or ``(s_y, s_x)``.
    threshold_db : float
    """

    labels: np.ndarray
    fy: np.ndarray
    fx: np.ndarray
    power: np.ndarray
    fractions: dict[str, float]
    energy_fractions: dict[str, float]
    empty_fraction: float
    stride: int | tuple[int, int]
    threshold_db: float


def fold_classification(
    x: object,
    stride: int | tuple[int, int],
    threshold_db: float = 20.0,
    *,
    average: str = "all",
    window: str | None = None,
    beta: float = 8.0,
    empty_db: float = 120.0,
) -> FoldResult:
    """Classify each output frequency of a stride-``s`` decimation by its folds.

    See REFERENCE §7 (Ribeiro & Schön, ICASSP 2021). Decimating ``x[h, w]`` (``H × W``,
    ``H`` divisible by ``s_y`` and ``W`` by ``s_x``; ``s_y = s_x = s`` for an integer stride) to
    ``y[i, j] = x[s_y·i, s_x·j]`` gives
    ``Y[l_y, l_x] = (1/(s_y·s_x)) Σ_{a<s_y, b<s_x} X[l_y + a·H/s_y, l_x + b·W/s_x]``: the
    ``s_y·s_x`` input bins ("folds") ``(l_y + a·H/s_y, l_x + b·W/s_x)`` land on output bin
    ``(l_y, l_x)``. The **base fold** is the one whose signed input frequency is the output
    frequency divided by the stride, i.e. the fold inside ``[−1/(2s_y), 1/(2s_y))`` along y
    (``a = 0`` for ``l_y < H/(2s_y)``, ``a = s_y−1`` otherwise; the same for ``b`` along x; at
    the output Nyquist row/column of an even ``H/s_y`` this follows numpy's ``fftfreq`` and picks
    ``−1/(2s_y)``, so power exactly at ``±1/(2s_y)``, which the decimated map cannot resolve,
    usually classifies as tangled). An axis of stride 1 has a single fold, its base fold.

    Fold powers are the average power spectrum ``|X|²/(H·W)`` over the batch and channels
    (``average="all"``: one label map) or over the batch only (``average="channel"``: one label
    map per channel). At each output bin a fold **passes** if its power is at least
    ``P_max · 10^(−threshold_db/10)``, ``P_max`` being the bin's strongest fold (which always
    passes). With ``S`` the set of passing folds:

    - ``NON_ALIASED``: ``S`` is exactly the base fold;
    - ``ALIASED``: ``S`` is exactly one fold and it is not the base fold (so when the base fold
      does not pass and a single other fold dominates, the bin is aliased);
    - ``TANGLED``: two or more folds pass, whether or not the base fold is among them;
    - ``EMPTY``: the bin's total power is more than ``empty_db`` below the strongest output bin
      (of the same channel), i.e. numerically zero; such bins get no other label.

    Parameters
    ----------
    x : array_like
        ``[N, C, H, W]`` (or ``[C, H, W]``, ``[H, W]``) stride-1 maps.
    stride : int or (int, int)
        ``s >= 1`` for both axes, or ``(s_y, s_x)``; ``H`` must be divisible by ``s_y`` and
        ``W`` by ``s_x``.
    threshold_db : float
        Pass threshold in dB below the strongest fold, ``>= 0`` (20 dB in the paper).
    average : {"all", "channel"}
    window : {"hann", "kaiser", None}
        Optional analysis window (default none: periodic maps).
    beta : float
        Kaiser ``β`` for ``window="kaiser"``.
    empty_db : float
        Dynamic range below which an output bin counts as empty, ``> 0``.

    Returns
    -------
    FoldResult
        Label map, output frequency axes, per-bin power, bin and energy fractions.
    """
    x4 = as_nchw("x", x)
    sy, sx = check_factor_pair("stride", stride)
    threshold_db = check_real("threshold_db", threshold_db, low=0.0)
    empty_db = check_real("empty_db", empty_db, low=0.0, low_inclusive=False)
    if average not in ("all", "channel"):
        raise ValueError(f"average must be 'all' or 'channel', got {average!r}")
    _, _, height, width = x4.shape
    if height % sy or width % sx:
        raise ValueError(
            f"x's height must be divisible by the stride along y ({sy}) and its width by the "
            f"stride along x ({sx}) (stride={stride!r}), got {height}x{width}"
        )
    ho, wo = height // sy, width // sx
    w2 = None if window is None else spectrum_window((height, width), window, beta=beta)
    p = mean_power(x4, w2, per_channel=True)
    if average == "all":
        p = p.mean(axis=0, keepdims=True)
    k = p.shape[0]
    # Input bin l + a·(H/s) sits at index (a, l) of the reshaped axis: folds become explicit axes.
    folds = p.reshape(k, sy, ho, sx, wo).transpose(0, 2, 4, 1, 3).reshape(k, ho, wo, sy * sx)
    a_base = np.where(_signed_bins(ho) < 0, sy - 1, 0)
    b_base = np.where(_signed_bins(wo) < 0, sx - 1, 0)
    base = (a_base[:, None] * sx + b_base[None, :]).astype(np.intp)

    strongest = folds.max(axis=-1, keepdims=True)
    passes = folds >= strongest * 10.0 ** (-threshold_db / 10.0)
    n_pass = passes.sum(axis=-1)
    base_passes = np.take_along_axis(passes, base[None, :, :, None], axis=-1)[..., 0]
    total = folds.sum(axis=-1)
    loudest = total.reshape(k, -1).max(axis=-1)[:, None, None]
    empty = (total <= loudest * 10.0 ** (-empty_db / 10.0)) | (loudest <= 0.0)

    labels = np.where(
        n_pass >= 2,
        FoldLabel.TANGLED,
        np.where(base_passes, FoldLabel.NON_ALIASED, FoldLabel.ALIASED),
    )
    labels = np.where(empty, FoldLabel.EMPTY, labels).astype(np.int8)

    n_full = labels.size
    filled = ~empty
    n_filled = int(filled.sum())
    e_filled = float(total[filled].sum())
    fractions = {}
    energy_fractions = {}
    for lab, key in _LABEL_KEYS.items():
        sel = labels == lab
        fractions[key] = int(sel.sum()) / n_filled if n_filled else 0.0
        energy_fractions[key] = float(total[sel].sum()) / e_filled if e_filled > 0 else 0.0

    labels = np.fft.fftshift(labels, axes=(-2, -1))
    total = np.fft.fftshift(total, axes=(-2, -1))
    if average == "all":
        labels, total = labels[0], total[0]
    return FoldResult(
        labels=labels,
        fy=np.fft.fftshift(np.fft.fftfreq(ho)),
        fx=np.fft.fftshift(np.fft.fftfreq(wo)),
        power=total,
        fractions=fractions,
        energy_fractions=energy_fractions,
        empty_fraction=(n_full - n_filled) / n_full,
        stride=(sy, sx) if np.ndim(stride) == 1 else sy,
        threshold_db=threshold_db,
    )


@dataclass(frozen=True, eq=False)
class NonlinearityAliasing:
    """Result of ``nonlinearity_aliasing``.

    Attributes
    ----------
    fraction : float
        ``Σ‖y_s − y_ref‖² / Σ‖y_s‖²`` over all signals (0 if ``y_s`` is all zero).
    energy : float
        ``Σ‖y_s − y_ref‖²``, the absolute aliased energy (sum of squares over all samples).
    per_channel_fraction, per_channel_energy : numpy.ndarray
        The same per signal, shape ``x.shape[:-ndim]`` (``()`` for a single signal).
    per_channel_output_energy : numpy.ndarray
        ``‖y_s‖²`` per signal, same shape: the output energy the fractions are relative to, for
        callers that normalise differently (e.g. by a layer's mean map energy).
    m : int
        The oversampling factor used for the reference.
    """

    fraction: float
    energy: float
    per_channel_fraction: np.ndarray
    per_channel_energy: np.ndarray
    per_channel_output_energy: np.ndarray
    m: int


def _fourier_resample(x: np.ndarray, sizes: tuple[int, ...]) -> np.ndarray:
    """Separable ideal resampling of the last ``len(sizes)`` axes of real ``x`` (REFERENCE §1).

    ``dsp.interpolation.fourier_resample`` without re-validating the maps (``rfft``/``irfft``,
    its Nyquist convention: split when upsampling, ``±M/2`` summed when downsampling).
    """
    # Imported here: dsp.interpolation loads numba, which only this analyzer needs.
    from dsp.interpolation import _fourier_resize

    axes = tuple(range(x.ndim - len(sizes), x.ndim))
    return _fourier_resize(x, sizes, axes)


def nonlinearity_aliasing(
    x: object,
    fn: Callable[[np.ndarray], object],
    m: int = 4,
    *,
    ndim: int = 2,
    keep_channels: bool = False,
) -> NonlinearityAliasing:
    """Energy that a pointwise nonlinearity ``fn`` folds back when applied at the sampling rate.

    See REFERENCE §1 and §7. ``x`` holds periodic band-limited signals sampled at rate ``s``
    (``ndim = 2``: maps ``[..., H, W]``; ``ndim = 1``: sequences ``[..., L]``).

    - ``y_s = fn(x)``, applied at rate ``s``;
    - reference: ideal (FFT zero-padding, ``dsp.interpolation.fourier_resample``) upsampling of
      ``x`` by ``m`` along each signal axis, ``fn`` at rate ``m·s``, ideal square low-pass to
      the original band ``|f| < s/2`` per axis
      (the bins at exactly ``±s/2`` are summed onto the output Nyquist bin, the inverse of how
      upsampling splits that bin, so a linear ``fn`` gives ``y_ref = y_s`` for any ``x``) and
      sampling back to rate ``s``: ``y_ref``;
    - aliased energy ``E = ‖y_s − y_ref‖²`` and fraction ``E / ‖y_s‖²`` (0 if ``y_s = 0``).

    The reference is itself approximate: ``fn(x)`` at rate ``m·s`` aliases the harmonics above
    ``m·s/2``, and those that fold below ``s/2`` stay in ``y_ref``. For smooth ``fn`` the error
    falls quickly with ``m``; raise ``m`` to check convergence (``x²`` doubles the band, so
    ``m >= 2`` is exact for it; ReLU's harmonics decay like ``1/f²`` and never end).

    Parameters
    ----------
    x : array_like
        Real, finite; rank ``>= ndim``. Leading axes are independent signals ("channels").
    fn : callable
        Pointwise function on arrays (same shape out, real, finite), e.g. ``np.square`` or
        ``lambda v: np.maximum(v, 0)``, called on chunks of signals at the input rate and at
        ``m`` times it: ``[k, *signal]`` with all leading axes flattened, or with
        ``keep_channels`` ``[k, C, …, *signal]`` (chunks along the first axis only).
    m : int
        Oversampling factor of the reference, an integer ``>= 2``.
    ndim : {1, 2}
        Number of trailing signal axes.
    keep_channels : bool
        Give ``fn`` whole inputs (every channel of a sample together), for a function with one
        parameter per channel (a per-channel PReLU). A chunk then holds at least one input's
        channels at ``m²`` times the size, so leave it off for functions that do not need it.

    Returns
    -------
    NonlinearityAliasing
        Total and per-signal fractions and energies.
    """
    ndim = check_int("ndim", ndim, minimum=1, maximum=2)
    m = check_int("m", m, minimum=2)
    check_callable("fn", fn)
    arr = as_finite_array("x", x, min_ndim=ndim)
    sig = arr.shape[arr.ndim - ndim :]
    lead = arr.shape[: arr.ndim - ndim]
    if keep_channels:  # chunks along the first axis only: the channels stay together
        blocks = arr.reshape((lead[0] if lead else 1,) + lead[1:] + sig)
    else:  # chunks of single signals: memory bounded whatever the channel count
        blocks = arr.reshape((-1,) + sig)
    per_block = int(np.prod(blocks.shape[1:]))
    up_sizes = tuple(m * n for n in sig)
    per = max(1, _CHUNK_ELEMENTS // (per_block * m**ndim))
    diff_e = np.empty(blocks.shape[: blocks.ndim - ndim])
    tot_e = np.empty(blocks.shape[: blocks.ndim - ndim])
    axes = tuple(range(blocks.ndim - ndim, blocks.ndim))
    for start in range(0, blocks.shape[0], per):
        chunk = blocks[start : start + per]
        y_s = apply_pointwise(fn, chunk)
        y_up = apply_pointwise(fn, _fourier_resample(chunk, up_sizes))
        y_ref = _fourier_resample(y_up, sig)
        diff_e[start : start + per] = np.sum((y_s - y_ref) ** 2, axis=axes)
        tot_e[start : start + per] = np.sum(y_s**2, axis=axes)
    diff_e, tot_e = diff_e.ravel(), tot_e.ravel()
    per_frac = _safe_ratio(diff_e, tot_e)
    tot = float(tot_e.sum())
    energy = float(diff_e.sum())
    return NonlinearityAliasing(
        fraction=energy / tot if tot > 0 else 0.0,
        energy=energy,
        per_channel_fraction=per_frac.reshape(lead),
        per_channel_energy=diff_e.reshape(lead),
        per_channel_output_energy=tot_e.reshape(lead),
        m=m,
    )
