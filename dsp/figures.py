"""Numerical recreations of the paper's illustrative experiments (arrays, not plots).

Shared by the ``aliasfree tour`` command and the notebooks so each experiment is defined once;
``dsp.plots.figures`` draws them.

Fig. 2 of the paper in numbers (REFERENCE §1 and §4): a band-limited signal ``z`` sampled at
rate ``s = 1`` goes through a pointwise (leaky) ReLU σ three ways,

- *ideal*: σ applied to the continuous ``z``, then the ideal low-pass to the input's Nyquist band
  ``|f| < s/2`` and sampled at ``s`` (:func:`ideal_nonlinearity`);
- *plain*: σ applied to the samples. The harmonics σ creates above ``s/2`` fold back
  (a frequency ``f`` shows up at ``|f − k·s|``), on top of the ideal result;
- *filtered*: upsample by ``up`` with a low-pass, σ at rate ``up·s``, low-pass, downsample
  (:func:`dsp.resample.filtered_lrelu`, REFERENCE §4). Only harmonics above ``up·s − B`` can fold
  into the signal band ``|f| < B``, and the ReLU's harmonics decay, so far less energy does.

Errors are measured inside the signal band, where the filtered path's filters are flat: the
band above it is the filters' transition band, which a generator leaves for the next layer to
remove (StyleGAN3's design), so no path is expected to match the ideal there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dsp._checks import (
    apply_pointwise,
    as_finite_array,
    check_callable,
    check_factor,
    check_int,
    check_real,
    check_shape_2d,
)
from dsp.filters import design_lowpass
from dsp.interpolation import resample_rational
from dsp.resample import filtered_lrelu, upfirdn

__all__ = [
    "MAX_FIELD_SIZE",
    "MAX_SIGNAL_LENGTH",
    "ReluAliasing",
    "ReluAliasing1D",
    "bandlimited_field",
    "ideal_nonlinearity",
    "relu_aliasing",
    "relu_aliasing_1d",
]


MAX_FIELD_SIZE = 4096
"""Largest side ``n`` of the 2D illustrations (their oversampled stand-ins are 16× larger):
a clear error instead of a ``MemoryError`` deep inside numpy."""
MAX_SIGNAL_LENGTH = 2**20
"""Largest ``n`` of the 1D illustration."""


def bandlimited_field(n: int | tuple[int, int], bandwidth: float, *, seed: int = 0) -> np.ndarray:
    """A periodic ``H × W`` random field whose spectrum is flat inside ``|f| < bandwidth``.

    ``n`` is the side ``H = W`` or the pair ``(H, W)``, each in ``[4, MAX_FIELD_SIZE]``.
    ``bandwidth`` is in cycles/sample (``0 < bandwidth ≤ 0.5``): every DFT bin with
    ``f_y² + f_x² ≥ bandwidth²`` (``f_y = k_y/H``, ``f_x = k_x/W``) is exactly zero, so the
    field is band-limited for any rotation and, being one period of a sum of its DFT bins,
    periodic with period ``(H, W)``. Normalised to unit RMS. A square ``n`` and ``(n, n)`` give
    the same field.

    Sampled already (an array); ``dsp.signals.bandlimited_noise`` is its continuous counterpart
    (a callable sum of tones, bandwidth in cycles per unit length, sampled at any rate).
    """
    if isinstance(n, tuple | list):
        height, width = check_shape_2d("n", n, minimum=4)
        height = check_int("n[0]", height, maximum=MAX_FIELD_SIZE)
        width = check_int("n[1]", width, maximum=MAX_FIELD_SIZE)
    else:
        height = width = check_int("n", n, minimum=4, maximum=MAX_FIELD_SIZE)
    bandwidth = check_real("bandwidth", bandwidth, low=0.0, high=0.5, low_inclusive=False)
    rng = np.random.default_rng(seed)
    fy, fx = np.meshgrid(np.fft.fftfreq(height), np.fft.fftfreq(width), indexing="ij")
    inside = np.hypot(fx, fy) < bandwidth
    # Taking the real part of a random complex field keeps the support symmetric (f and -f).
    noise = rng.standard_normal((height, width)) + 1j * rng.standard_normal((height, width))
    x = np.fft.ifft2(noise * inside).real
    return x / np.sqrt(np.mean(x**2))


def _ideal_lowpass_square(x: np.ndarray, cutoff: float) -> np.ndarray:
    """Periodic ideal low-pass keeping ``|fx|, |fy| < cutoff`` (cycles/sample), last two axes."""
    h, w = x.shape[-2:]
    fy = np.abs(np.fft.fftfreq(h))[:, None]
    fx = np.abs(np.fft.fftfreq(w))[None, :]
    keep = (fy < cutoff) & (fx < cutoff)
    return np.fft.ifft2(np.fft.fft2(x) * keep).real


def ideal_nonlinearity(
    x: np.ndarray, fn: Callable[[np.ndarray], np.ndarray], *, oversample: int = 16
) -> np.ndarray:
    """The continuous-domain result ``LP_{s/2}(fn(z))`` sampled back at the input rate.

    ``x`` holds periodic samples (last two axes, rate ``s``) of a band-limited ``z``; ``z`` is
    reconstructed ideally at ``oversample``× the rate (FFT zero padding), ``fn`` applied
    pointwise, the result low-passed to the square ``|fx|, |fy| < s/2`` (bins exactly at ``s/2``
    removed) and decimated. The harmonics ``fn`` creates above ``oversample·s/2`` still fold, so
    this is exact only in the limit (and exactly for polynomials of degree ``< oversample``); 16×
    leaves them below −60 dB for a ReLU of a typical band-limited field.

    Parameters
    ----------
    x : array_like, shape ``[..., H, W]``
        Real, finite periodic samples.
    fn : callable
        Pointwise function on arrays, e.g. ``lambda v: np.maximum(v, 0)``.
    oversample : int
        Oversampling factor of the continuous-domain stand-in, ``>= 2``.

    Returns
    -------
    numpy.ndarray
        Same shape as ``x``.
    """
    x = as_finite_array("x", x, min_ndim=2)
    fn = check_callable("fn", fn)
    m = check_int("oversample", oversample, minimum=2)
    up = resample_rational(resample_rational(x, m, 1, axis=-1), m, 1, axis=-2)
    y = _ideal_lowpass_square(apply_pointwise(fn, up), 0.5 / m)
    return y[..., ::m, ::m]


def _lrelu(v: np.ndarray, slope: float) -> np.ndarray:
    return np.where(v < 0, slope * v, v)


def _error_db(y: np.ndarray, ref: np.ndarray, band: float) -> float:
    """``10 log10(‖LP(y − ref)‖² / ‖LP(ref)‖²)`` with LP the square ideal low-pass at ``band``."""
    d = _ideal_lowpass_square(np.atleast_2d(y - ref), band)
    r = _ideal_lowpass_square(np.atleast_2d(ref), band)
    return float(10 * np.log10(max(np.sum(d**2), 1e-300) / np.sum(r**2)))


def _design_args(
    bandwidth: float, cutoff: float | None, half_width: float | None, up: int, numtaps: int
) -> tuple[float, float, np.ndarray]:
    up = check_factor("up", up)
    if up < 2:
        raise ValueError(f"up must be >= 2, got {up}")
    numtaps = check_int("numtaps", numtaps, minimum=2)
    cutoff = 0.5 if cutoff is None else cutoff
    if half_width is None:
        # The default transition band runs from the signal's band edge up to the cutoff.
        cutoff = check_real("cutoff", cutoff)
        if not cutoff > bandwidth:
            raise ValueError(
                f"cutoff must be > bandwidth ({bandwidth:g}) when half_width is not given "
                f"(the default half_width is cutoff - bandwidth), got {cutoff:g}"
            )
        half_width = cutoff - bandwidth
    f = design_lowpass(cutoff, half_width=half_width, fs=float(up), numtaps=numtaps)
    return float(cutoff), float(half_width), f


@dataclass(frozen=True, eq=False)
class ReluAliasing:
    """Result of :func:`relu_aliasing` (2D); arrays are ``[n, n]`` at rate ``s = 1``.

    Attributes
    ----------
    x : numpy.ndarray
        The band-limited input (:func:`bandlimited_field`).
    ideal, plain, filtered : numpy.ndarray
        σ in the continuous domain then ``LP_{s/2}``; σ on the samples; up → σ → down.
    bandwidth : float
        The input's band (disc radius, cycles/sample); errors are measured in the square
        ``|fx|, |fy| < bandwidth``.
    cutoff, half_width : float
        The Kaiser filters' −6 dB point and half transition band, cycles/sample of the input.
    up : int
        Oversampling factor of the filtered path.
    numtaps : int
        Taps of the (separable) up and down filters, designed at ``fs = up``.
    slope : float
        Negative-side slope of σ (0: ReLU).
    filter : numpy.ndarray
        The 1D taps used for both filters.
    plain_error_db, filtered_error_db : float
        Energy of the difference to ``ideal`` inside the band, relative to the ideal's energy
        there, in dB (lower is better).
    """

    x: np.ndarray
    ideal: np.ndarray
    plain: np.ndarray
    filtered: np.ndarray
    bandwidth: float
    cutoff: float
    half_width: float
    up: int
    numtaps: int
    slope: float
    filter: np.ndarray
    plain_error_db: float
    filtered_error_db: float


def _filtered_2d(x: np.ndarray, f: np.ndarray, up: int, slope: float) -> np.ndarray:
    """Periodic up → σ → down of ``x`` ``[n, n]`` with the same 1D filter ``f`` both times.

    The input is wrapped by ``wrap`` samples so that every kept output sees only true periodic
    data; the padding puts output ``q`` on input sample ``q``.
    """
    total = 2 * (len(f) - 1)  # both filters' spans on the up-sampled grid
    # Output q sits at (up·q + total/2) of the padded up-sampled plane, which must be
    # up·(q + wrap) + p0 (input sample q); wrap >= total / (2·up) keeps p0 <= 0 (a crop) so no
    # zero padding enters the kept outputs.
    wrap = -(-total // (2 * up)) + 1
    p0 = total // 2 - up * wrap
    # Chosen so that the output has exactly n samples (REFERENCE §4 output size).
    p1 = total - 2 * up * wrap - p0 - (up - 1)
    xp = np.pad(x, wrap, mode="wrap")[None, None]
    pad = (p0, p1, p0, p1)
    return filtered_lrelu(xp, f, f, up=up, down=up, padding=pad, gain=1.0, slope=slope)[0, 0]


def relu_aliasing(
    n: int = 64,
    *,
    bandwidth: float = 0.3,
    cutoff: float | None = None,
    half_width: float | None = None,
    up: int = 2,
    numtaps: int = 24,
    slope: float = 0.0,
    seed: int = 0,
) -> ReluAliasing:
    """Paper Fig. 2 in numbers: a ReLU applied to samples aliases; up → ReLU → low-pass → down
    much less.

    A periodic band-limited field at rate ``s = 1`` (disc band ``|f| < bandwidth``
    cycles/sample, :func:`bandlimited_field`) goes through σ(v) = ``v if v >= 0 else slope·v``:

    - *plain*: σ on the samples;
    - *filtered*: the filtered nonlinearity of REFERENCE §4 (``filtered_lrelu`` with
      ``up = down = up``, gain 1), both filters the same separable Kaiser low-pass of ``numtaps``
      taps at ``fs = up`` with ``cutoff`` and ``half_width`` (cycles/sample of the input). The
      defaults, cutoff ``s/2`` and stopband at ``s − bandwidth``, keep the signal band in both
      filters' passband and put the stopband exactly where decimation by ``up`` would fold
      energy back into the band;
    - both compared with the ideal continuous result (:func:`ideal_nonlinearity`) inside the
      square ``|fx|, |fy| < bandwidth``: ``10 log10(‖LP(y − ideal)‖² / ‖LP(ideal)‖²)`` dB.

    Everything is periodic (the filtered path runs on a wrapped copy), so borders play no part.
    Measured with the defaults (n = 64, seed 0): plain −27.8 dB, filtered −44.8 dB; the filtered
    path's floor is the σ harmonics above ``up·s − bandwidth`` that still fold at rate ``up·s``
    (larger ``up`` lowers it), not the filters (with ``slope = 1`` it reproduces the input to
    −67 dB).

    Parameters
    ----------
    n : int
        Field size, ``>= 8``.
    bandwidth : float
        Input band, cycles/sample, in ``(0, 0.5)``.
    cutoff, half_width : float, optional
        Filter design (cycles/sample of the input), default ``0.5`` and ``cutoff − bandwidth``
        (so without ``half_width``, ``cutoff`` must exceed ``bandwidth``).
    up : int
        Oversampling factor, ``>= 2`` (the paper uses 2).
    numtaps : int
        Filter taps, ``>= 2`` (the paper's generator uses ``6·up``; the wide-band default needs
        more for a flat passband).
    slope : float
        σ's negative-side slope (0: ReLU, 0.2: the generator's leaky ReLU, 1: identity).
    seed : int
        Seed of the random field.
    """
    n = check_int("n", n, minimum=8, maximum=MAX_FIELD_SIZE)
    bandwidth = check_real(
        "bandwidth", bandwidth, low=0.0, high=0.5, low_inclusive=False, high_inclusive=False
    )
    slope = check_real("slope", slope)
    up = check_factor("up", up)
    cutoff, half_width, f = _design_args(bandwidth, cutoff, half_width, up, numtaps)
    x = bandlimited_field(n, bandwidth, seed=seed)

    def sigma(v: np.ndarray) -> np.ndarray:
        return _lrelu(v, slope)

    ideal = ideal_nonlinearity(x, sigma)
    plain = sigma(x)
    filtered = _filtered_2d(x, f, up, slope)
    return ReluAliasing(
        x=x,
        ideal=ideal,
        plain=plain,
        filtered=filtered,
        bandwidth=bandwidth,
        cutoff=cutoff,
        half_width=half_width,
        up=up,
        numtaps=len(f),
        slope=slope,
        filter=f,
        plain_error_db=_error_db(plain, ideal, bandwidth),
        filtered_error_db=_error_db(filtered, ideal, bandwidth),
    )


@dataclass(frozen=True, eq=False)
class ReluAliasing1D:
    """Result of :func:`relu_aliasing_1d`: one period of a 1D signal, ``n`` samples at rate 1.

    Attributes
    ----------
    t : numpy.ndarray
        Dense positions (in samples) ``k / oversample``, ``k = 0 .. n·oversample − 1``.
    z, activated : numpy.ndarray
        The continuous signal and σ of it on ``t`` (exact: analytic tones).
    ideal_dense : numpy.ndarray
        ``LP_{s/2}(σ(z))`` on ``t``.
    x, plain, ideal, filtered : numpy.ndarray
        At the ``n`` sample positions: the samples, σ of them, the ideal and the filtered path.
    freqs, amplitudes, phases : numpy.ndarray
        The tones ``Σ a·cos(2π f t / n + φ)`` (``f`` in cycles per period).
    bandwidth : float
        Error band (cycles/sample), ``max(freqs)/n < bandwidth``.
    up, numtaps, slope, filter
        As in :class:`ReluAliasing`.
    plain_error_db, filtered_error_db : float
        As in :class:`ReluAliasing`, over ``|f| < bandwidth``.
    """

    t: np.ndarray
    z: np.ndarray
    activated: np.ndarray
    ideal_dense: np.ndarray
    x: np.ndarray
    plain: np.ndarray
    ideal: np.ndarray
    filtered: np.ndarray
    freqs: np.ndarray
    amplitudes: np.ndarray
    phases: np.ndarray
    bandwidth: float
    up: int
    numtaps: int
    slope: float
    filter: np.ndarray
    plain_error_db: float
    filtered_error_db: float

    @property
    def n(self) -> int:
        """Samples per period."""
        return int(self.x.size)

    @property
    def oversample(self) -> int:
        """Dense points per sample."""
        return int(self.t.size // self.x.size)


def _filtered_1d(x: np.ndarray, f: np.ndarray, up: int, slope: float) -> np.ndarray:
    """Periodic up → σ → down of a 1D ``x`` with scipy-convention :func:`upfirdn` (full
    convolutions), reading each output at the delay of the two filters."""
    n = x.size
    span = len(f) - 1
    wrap = -(-span // up) + 1
    xp = x[np.arange(-wrap, n + wrap) % n]
    v = upfirdn(f * up, xp, up=up)  # v[j] is the interpolant at fine position j − span/2
    y = upfirdn(f, _lrelu(v, slope))  # y[j] belongs to fine position j − span
    return y[up * (np.arange(n) + wrap) + span]


def relu_aliasing_1d(
    n: int = 32,
    *,
    freqs: Sequence[int] = (5,),
    amplitudes: Sequence[float] | None = None,
    phases: Sequence[float] | None = None,
    bandwidth: float = 0.3,
    up: int = 2,
    numtaps: int = 24,
    slope: float = 0.0,
    oversample: int = 64,
) -> ReluAliasing1D:
    """The 1D version of :func:`relu_aliasing`: tones, their ReLU, and where the harmonics fold.

    ``z(t) = Σ a_i cos(2π f_i t / n + φ_i)`` (``t`` in samples, ``f_i`` integer cycles per period
    of ``n`` samples, so everything is periodic and exact). σ(z) is evaluated analytically on
    ``oversample`` points per sample; the ideal result keeps its harmonics ``|k| < n/2``; the
    plain path applies σ to the ``n`` samples; the filtered path is up → σ → down as in
    :func:`relu_aliasing` (same filter design). A single tone ``f`` makes the folding legible:
    the ReLU of a cosine has harmonics at ``0, f, 2f, 4f, 6f, …`` and a harmonic ``h`` above
    Nyquist shows up at ``|h − k·n|``.

    Parameters
    ----------
    n : int
        Samples per period, ``>= 8``.
    freqs : sequence of int
        Tone frequencies in cycles per period, ``1 <= f < bandwidth·n``.
    amplitudes, phases : sequence of float, optional
        Per tone; default amplitudes 1 and phases 0.
    bandwidth : float
        Band of the error measure and of the filter design, cycles/sample, in ``(0, 0.5)``.
    up, numtaps, slope
        As in :func:`relu_aliasing`.
    oversample : int
        Dense points per sample for the continuous stand-in, ``>= 4`` (harmonics above
        ``oversample·n/2`` fold in the ideal too; ReLU's fall like ``1/h²``).
    """
    n = check_int("n", n, minimum=8, maximum=MAX_SIGNAL_LENGTH)
    bandwidth = check_real(
        "bandwidth", bandwidth, low=0.0, high=0.5, low_inclusive=False, high_inclusive=False
    )
    slope = check_real("slope", slope)
    up = check_factor("up", up)
    oversample = check_int("oversample", oversample, minimum=4)
    fr = np.asarray(freqs)
    if fr.ndim != 1 or fr.size == 0 or not np.issubdtype(fr.dtype, np.integer):
        raise ValueError(f"freqs must be a non-empty sequence of integers, got {freqs!r}")
    if np.any(fr < 1) or np.any(fr >= bandwidth * n):
        raise ValueError(
            f"freqs must be in [1, bandwidth·n) = [1, {bandwidth * n:g}), got {freqs!r}"
        )
    amps = (
        np.ones(fr.size)
        if amplitudes is None
        else as_finite_array("amplitudes", amplitudes, ndim=1)
    )
    phs = np.zeros(fr.size) if phases is None else as_finite_array("phases", phases, ndim=1)
    if amps.size != fr.size or phs.size != fr.size:
        raise ValueError("amplitudes and phases must have one entry per frequency")
    _, _, f = _design_args(bandwidth, None, None, up, numtaps)

    def tones(t: np.ndarray) -> np.ndarray:
        return np.sum(amps[:, None] * np.cos(2 * np.pi * np.outer(fr, t) / n + phs[:, None]), 0)

    t = np.arange(n * oversample) / oversample
    z = tones(t)
    activated = _lrelu(z, slope)
    k = np.fft.fftfreq(t.size, d=1.0 / t.size)
    ideal_dense = np.fft.ifft(np.fft.fft(activated) * (np.abs(k) < n / 2)).real
    x = z[::oversample]
    plain = _lrelu(x, slope)
    ideal = ideal_dense[::oversample]
    filtered = _filtered_1d(x, f, up, slope)
    return ReluAliasing1D(
        t=t,
        z=z,
        activated=activated,
        ideal_dense=ideal_dense,
        x=x,
        plain=plain,
        ideal=ideal,
        filtered=filtered,
        freqs=fr.astype(np.int64),
        amplitudes=amps,
        phases=phs,
        bandwidth=bandwidth,
        up=up,
        numtaps=len(f),
        slope=slope,
        filter=f,
        plain_error_db=_error_db(plain, ideal, bandwidth),
        filtered_error_db=_error_db(filtered, ideal, bandwidth),
    )
