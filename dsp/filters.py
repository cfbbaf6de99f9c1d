"""Low-pass FIR design: windowed sinc, separable and radially symmetric (jinc) 2D filters,
the generator's filter specification and polyphase decomposition (REFERENCE §2, §3).

Units: ``fs`` is the sampling rate (samples per unit length); ``cutoff`` and ``width`` are in
the same units (cycles per unit length). ``cutoff`` is the design cutoff, the edge of the ideal
low-pass that the window smooths, and ``width`` the full transition band, centred on the cutoff,
as in ``scipy.signal.firwin``.

The design cutoff is the -6 dB point (gain 1/2) only while the transition band
``[cutoff - width / 2, cutoff + width / 2]`` lies inside ``(0, fs / 2)`` and the filter is long
enough to realise it: for Kaiser designs with ``kaiser_atten`` in [21, 120] dB (the range
Kaiser's formula was fitted over) and such a band, the windowed sinc's -6 dB point lies within
0.15 ``width`` of ``cutoff`` (measured: at most 0.12 ``width`` over 4000 random designs, the
largest for the shortest filters; ``tests/dsp/test_filters.py``). A transition band reaching
below DC (or above Nyquist) overlaps its mirror image about ``f = 0`` (``fs / 2``), and the
measured -6 dB point moves away from ``cutoff``: the generator's first layer at 64 px
(``cutoff = 2``, ``width = 12``, ``fs = 32``, 12 taps) has it at 3.20. The jinc design holds
it only approximately (:func:`jinc_lowpass`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from dsp._checks import as_finite_array, check_cutoff, check_factor, check_int, check_real
from dsp.kaiser import kaiser_atten, kaiser_beta, kaiser_window

__all__ = [
    "firwin_lowpass",
    "separable_2d",
    "jinc_lowpass",
    "FilterSpec",
    "design_lowpass",
    "polyphase",
    "from_polyphase",
]

_WINDOWS = ("hamming", "hann", "boxcar", "kaiser")

MAX_TAPS_1D = 2**24
"""Largest ``numtaps`` of a 1D design (128 MiB of float64 taps): far beyond any useful filter,
low enough to fail with a clear error instead of a ``MemoryError`` deep inside numpy."""
MAX_TAPS_2D = 2048
"""Largest ``numtaps`` per side of a 2D (jinc) design: ``numtaps²`` taps and a few temporaries
of that size (≈ 200 MB at the limit)."""


def _window(numtaps: int, window: object) -> np.ndarray:
    """Symmetric window by name: 'hamming', 'hann', 'boxcar' or ('kaiser', beta)."""
    name, beta = window, None
    if not isinstance(window, (str, tuple)):
        raise ValueError(
            f"window must be one of {_WINDOWS} or ('kaiser', beta), got {type(window).__name__}"
        )
    if isinstance(window, tuple):
        if len(window) != 2 or window[0] != "kaiser":
            raise ValueError(f"window tuple must be ('kaiser', beta), got {window!r}")
        name, beta = window
    if name not in _WINDOWS:
        raise ValueError(f"window must be one of {_WINDOWS} or ('kaiser', beta), got {window!r}")
    if name == "kaiser":
        if beta is None:
            raise ValueError("window 'kaiser' needs a beta: pass ('kaiser', beta) or a width")
        return kaiser_window(numtaps, beta)
    if name == "boxcar" or numtaps == 1:
        return np.ones(numtaps)
    phase = 2.0 * np.pi * np.arange(numtaps) / (numtaps - 1)
    a0 = 0.54 if name == "hamming" else 0.5
    return a0 - (1.0 - a0) * np.cos(phase)


def firwin_lowpass(
    numtaps: int,
    cutoff: float,
    width: float | None = None,
    fs: float = 2.0,
    window: str | tuple[str, float] | None = None,
) -> np.ndarray:
    """Windowed-sinc low-pass FIR, equal to ``scipy.signal.firwin(numtaps, cutoff, width, fs)``.

    REFERENCE §2::

        m_n = n - (numtaps - 1) / 2,   c = cutoff / (fs / 2)
        h[n] = c * sinc(c * m_n) * w[n],   then h /= sum(h)      (DC gain exactly 1)

    with ``sinc(t) = sin(pi t) / (pi t)``. The window ``w`` is a Kaiser window with
    ``beta = kaiser_beta(kaiser_atten(numtaps, width, fs))`` when ``width`` is given, else
    ``window`` (default Hamming, like scipy). Even ``numtaps`` give a type II filter (zero at
    Nyquist); ``numtaps = 1`` gives ``[1.0]``.

    Parameters
    ----------
    numtaps : int
        Filter length, in ``[1, MAX_TAPS_1D]`` (2²⁴).
    cutoff : float
        Design cutoff (the ideal low-pass's edge), in the units of ``fs``, strictly between 0
        and ``fs / 2``. It is the -6 dB point, to within 0.15 ``width``, when the transition
        band ``[cutoff - width / 2, cutoff + width / 2]`` lies inside ``(0, fs / 2)`` and
        ``kaiser_atten`` is at least 21 dB (see the module docstring); a band reaching below
        DC or above ``fs / 2`` moves the -6 dB point away from it.
    width : float, optional
        Full transition-band width in the units of ``fs`` (positive); selects the Kaiser window.
    fs : float
        Sampling rate (samples per unit length), positive.
    window : str or ('kaiser', beta), optional
        'hamming' (default without ``width``), 'hann', 'boxcar' or ('kaiser', beta). Giving
        both ``width`` and ``window`` is an error (scipy silently ignores ``window``).

    Returns
    -------
    numpy.ndarray
        ``(numtaps,)`` float64 taps, symmetric, summing to 1.
    """
    numtaps = check_int("numtaps", numtaps, minimum=1, maximum=MAX_TAPS_1D)
    fs = check_real("fs", fs, low=0.0, low_inclusive=False)
    cutoff = check_cutoff("cutoff", cutoff, fs)
    if width is not None:
        if window is not None:
            raise ValueError("give either width (Kaiser window) or window, not both")
        width = check_real("width", width, low=0.0, low_inclusive=False)
        window = ("kaiser", kaiser_beta(kaiser_atten(numtaps, width, fs)))
    elif window is None:
        window = "hamming"
    w = _window(numtaps, window)
    c = cutoff / (fs / 2)
    m = np.arange(numtaps, dtype=np.float64) - (numtaps - 1) / 2
    h = c * np.sinc(c * m) * w
    total = np.sum(h)
    if not abs(total) > 0:
        # e.g. a 2-tap Hann window is all zeros.
        raise ValueError(f"window {window!r} with numtaps={numtaps} gives a zero-sum filter")
    return h / total


def separable_2d(hx: np.ndarray, hy: np.ndarray | None = None) -> np.ndarray:
    """Separable 2D filter ``f[iy, ix] = hy[iy] * hx[ix]`` (``hy`` defaults to ``hx``).

    REFERENCE §2: a separable filter's 2D response is the product ``Hy(f_y) * Hx(f_x)``.
    Axis 0 is y (rows), axis 1 is x (columns).
    """
    hx = as_finite_array("hx", hx, ndim=1)
    hy = hx if hy is None else as_finite_array("hy", hy, ndim=1)
    return hy[:, None] * hx[None, :]


def jinc_lowpass(numtaps: int, cutoff: float, width: float, fs: float) -> np.ndarray:
    """Radially symmetric (jinc) low-pass, ``(numtaps, numtaps)``, normalised to sum 1.

    REFERENCE §2: taps sit at ``x_i = (i - (numtaps - 1) / 2) / fs`` (units of length), with
    ``r = hypot(x, y)``::

        f(x, y) = J1(2 pi cutoff r) / (pi r)        (limit ``cutoff`` at r = 0)
        f *= outer(w, w)
        f /= sum(f)

    where ``w = kaiser_window(numtaps, kaiser_beta(kaiser_atten(numtaps, width, fs)))``.

    The continuous kernel's spectrum is the disc of radius ``cutoff``. Note the window is the
    separable product ``w(x) w(y)``, not a radial window, as in the paper's implementation.

    ``cutoff`` is the design (ideal-edge) radius. The -6 dB contour lies near the circle of
    that radius, not on it, even when the transition band
    ``[cutoff - width / 2, cutoff + width / 2]`` lies inside ``(0, fs / 2)``: smoothing a disc
    moves its half-level contour inward (the edge is curved), more so for a small ``cutoff``.
    Measured over random designs with ``kaiser_atten`` in [21, 120] dB and the transition band
    inside ``(0, fs / 2)``: within 0.22 ``width`` of ``cutoff`` along 0 and 45 degrees (stated
    bound: 0.3 ``width``; ``tests/dsp/test_filters.py``). With a transition band reaching DC it
    moves further: config R's layer 9 down filter at 64 px (``cutoff = 16``, ``width = 32``,
    ``fs = 128``) has its -6 dB point at 14.81 along the x axis.

    Parameters
    ----------
    numtaps : int
        Taps per side, in ``[1, MAX_TAPS_2D]`` (2048).
    cutoff : float
        Design disc radius (ideal edge; approximately the -6 dB radius, see above), in the
        units of ``fs``, strictly in ``(0, fs / 2)``.
    width : float
        Full transition-band width in the units of ``fs``, positive (sets the Kaiser beta).
    fs : float
        Sampling rate, positive.
    """
    numtaps = check_int("numtaps", numtaps, minimum=1, maximum=MAX_TAPS_2D)
    fs = check_real("fs", fs, low=0.0, low_inclusive=False)
    cutoff = check_cutoff("cutoff", cutoff, fs)
    width = check_real("width", width, low=0.0, low_inclusive=False)
    x = (np.arange(numtaps, dtype=np.float64) - (numtaps - 1) / 2) / fs
    r = np.hypot(x[None, :], x[:, None])
    # The r = 0 tap (odd numtaps only) takes the analytic limit; elsewhere r >= 1/(2 fs) > 0.
    safe_r = np.where(r > 0, r, 1.0)
    f = np.where(r > 0, special.j1(2 * np.pi * cutoff * safe_r) / (np.pi * safe_r), cutoff)
    w = kaiser_window(numtaps, kaiser_beta(kaiser_atten(numtaps, width, fs)))
    f = f * np.outer(w, w)
    total = np.sum(f)
    if not abs(total) > 0:
        raise ValueError("jinc filter sums to zero; increase numtaps or change cutoff")
    return f / total


def _check_design_args(
    cutoff: float, half_width: float, fs: float, numtaps: int
) -> tuple[float, float, float, int]:
    numtaps = check_int("numtaps", numtaps, minimum=1)
    fs = check_real("fs", fs, low=0.0, low_inclusive=False)
    half_width = check_real("half_width", half_width, low=0.0, low_inclusive=False)
    if numtaps == 1:
        # No filtering: the generator's ToRGB layer has cutoff == fs/2 exactly (REFERENCE §3).
        cutoff = check_real("cutoff", cutoff, low=0.0, high=fs / 2, low_inclusive=False)
    else:
        cutoff = check_cutoff("cutoff", cutoff, fs)
    return cutoff, half_width, fs, numtaps


@dataclass(frozen=True)
class FilterSpec:
    """One low-pass filter of the generator (REFERENCE §3).

    Attributes
    ----------
    cutoff : float
        Design cutoff (the ideal filter's edge), units of ``fs``; the -6 dB point only when the
        transition band ``[cutoff - half_width, cutoff + half_width]`` lies inside
        ``(0, fs / 2)`` (see the module docstring).
    half_width : float
        Half the transition band, units of ``fs``; the stopband starts at ``cutoff + half_width``.
    fs : float
        Sampling rate the filter runs at (the layer's intermediate rate).
    numtaps : int
        Taps per side; 1 means no filtering.
    radial : bool
        Radially symmetric jinc design (2D taps) instead of the separable 1D design.
    """

    cutoff: float
    half_width: float
    fs: float
    numtaps: int
    radial: bool = False

    def __post_init__(self) -> None:
        _check_design_args(self.cutoff, self.half_width, self.fs, self.numtaps)

    @property
    def stopband(self) -> float:
        """Stopband edge ``cutoff + half_width`` (units of ``fs``)."""
        return self.cutoff + self.half_width

    @property
    def width(self) -> float:
        """Full transition band ``2 * half_width`` (units of ``fs``)."""
        return 2.0 * self.half_width

    def design(self) -> np.ndarray:
        """The taps: ``design_lowpass(cutoff, half_width=…, fs=…, numtaps=…, radial=…)``."""
        return design_lowpass(
            self.cutoff,
            half_width=self.half_width,
            fs=self.fs,
            numtaps=self.numtaps,
            radial=self.radial,
        )


def design_lowpass(
    cutoff: float, *, half_width: float, fs: float, numtaps: int, radial: bool = False
) -> np.ndarray:
    """The generator's low-pass filter (REFERENCE §3).

    - ``numtaps == 1``: ``array([1.0])`` (a factor of 1: no filtering); here ``cutoff`` may equal
      ``fs / 2``.
    - otherwise, separable: ``firwin_lowpass(numtaps, cutoff, width=2 * half_width, fs=fs)``
      (1D taps, applied along x then y);
    - ``radial``: ``jinc_lowpass(numtaps, cutoff, 2 * half_width, fs)`` (2D taps).

    Everything after ``cutoff`` is keyword-only: this takes the *half* width and ``numtaps``
    last (the paper's parametrisation), where ``firwin_lowpass`` takes the full ``width``
    after ``numtaps`` as scipy does; positional arguments would mix the two up silently.

    Parameters
    ----------
    cutoff : float
        Design cutoff (the ideal filter's edge) in the units of ``fs``, in ``(0, fs / 2)``; the
        -6 dB point only when the transition band lies inside ``(0, fs / 2)`` (module
        docstring).
    half_width : float
        Half the transition band, units of ``fs``, positive. A stopband edge
        ``cutoff + half_width`` above ``fs / 2`` is accepted, but Kaiser's formula then gives a
        beta far too large (see ``kaiser_atten``) and the -6 dB point drifts above ``cutoff``;
        a passband edge ``cutoff - half_width`` below 0 (the generator's wide transition bands)
        moves it away from ``cutoff`` too (upward, for the separable design).
    fs : float
        Sampling rate the filter runs at, positive.
    numtaps : int
        Taps per side, at least 1.
    radial : bool
        Jinc design instead of the separable windowed sinc.
    """
    cutoff, half_width, fs, numtaps = _check_design_args(cutoff, half_width, fs, numtaps)
    if numtaps == 1:
        return np.ones(1)
    if radial:
        return jinc_lowpass(numtaps, cutoff, 2.0 * half_width, fs)
    return firwin_lowpass(numtaps, cutoff, width=2.0 * half_width, fs=fs)


def polyphase(h: np.ndarray, factor: int) -> np.ndarray:
    """Polyphase components of a 1D filter, ``(factor, ceil(len(h) / factor))``.

    Row ``p`` is ``h[p::factor]`` zero-padded at the end. Upsampling by ``factor`` (zero
    insertion) then filtering with ``h`` equals filtering ``x`` with each component:
    ``y[q * factor + p] = (x * E_p)[q]``, where ``E_p = polyphase(h, factor)[p]``, which costs
    ``factor`` times fewer multiplications.

    Parameters
    ----------
    h : array_like
        1D taps.
    factor : int
        Up/down factor, at least 1.
    """
    h = as_finite_array("h", h, ndim=1)
    factor = check_factor("factor", factor)
    ncols = math.ceil(h.size / factor)
    padded = np.zeros(ncols * factor)
    padded[: h.size] = h
    return padded.reshape(ncols, factor).T.copy()


def from_polyphase(components: np.ndarray, numtaps: int | None = None) -> np.ndarray:
    """Inverse of :func:`polyphase`: interleave the rows back into ``numtaps`` taps.

    ``numtaps`` defaults to ``components.size`` (keeping any zero padding).
    """
    components = as_finite_array("components", components, ndim=2)
    total = components.size
    numtaps = total if numtaps is None else check_int("numtaps", numtaps, minimum=1, maximum=total)
    return components.T.reshape(-1)[:numtaps].copy()
