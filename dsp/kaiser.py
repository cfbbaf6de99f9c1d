"""Kaiser window and Kaiser's empirical design formulas (REFERENCE §2).

Same conventions as ``scipy.signal.kaiser_atten``, ``kaiser_beta`` and ``kaiserord``, except that
transition widths are given in the units of ``fs`` (cycles per unit length) rather than
normalised to Nyquist; the default ``fs = 2`` reproduces scipy's normalisation exactly.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from dsp._checks import check_int, check_real

__all__ = ["kaiser_atten", "kaiser_beta", "kaiserord", "kaiser_window"]


def kaiser_atten(numtaps: int, width: float, fs: float = 2.0) -> float:
    """Stopband attenuation (dB) reached by a Kaiser-windowed FIR of ``numtaps`` taps.

    Kaiser's formula, see REFERENCE §2::

        A = 2.285 * (numtaps - 1) * pi * delta + 7.95,    delta = width / (fs / 2)

    The formula is Kaiser's empirical fit for transition bands inside the Nyquist band; a
    ``width`` that puts the stopband edge above ``fs / 2`` still gets a number (not an error:
    the design remains a valid low-pass), but an attenuation no filter of that length reaches.

    Parameters
    ----------
    numtaps : int
        Number of taps, at least 1.
    width : float
        Full transition-band width (stopband edge minus passband edge), in the units of ``fs``;
        non-negative.
    fs : float
        Sampling rate (samples per unit length), positive. ``fs = 2`` makes ``width`` a
        fraction of Nyquist, like scipy.

    Returns
    -------
    float
        Attenuation in positive dB.
    """
    numtaps = check_int("numtaps", numtaps, minimum=1)
    fs = check_real("fs", fs, low=0.0, low_inclusive=False)
    width = check_real("width", width, low=0.0)
    delta = width / (fs / 2)
    return 2.285 * (numtaps - 1) * math.pi * delta + 7.95


def kaiser_beta(atten: float) -> float:
    """Kaiser window shape parameter ``beta`` for a stopband attenuation ``atten`` (dB).

    REFERENCE §2::

        beta = 0.1102 * (A - 8.7)                              if A > 50
        beta = 0.5842 * (A - 21)**0.4 + 0.07886 * (A - 21)     if 21 <= A <= 50
        beta = 0                                               if A < 21
    """
    a = check_real("atten", atten)
    if a > 50:
        return 0.1102 * (a - 8.7)
    if a > 21:
        return 0.5842 * (a - 21) ** 0.4 + 0.07886 * (a - 21)
    return 0.0


def kaiserord(ripple_db: float, width: float, fs: float = 2.0) -> tuple[int, float]:
    """Smallest Kaiser design (``numtaps``, ``beta``) meeting a ripple/attenuation spec.

    Inverts :func:`kaiser_atten`: ``numtaps = ceil((A - 7.95) / (2.285 * pi * delta) + 1)`` with
    ``A = |ripple_db|`` and ``delta = width / (fs / 2)``; ``beta = kaiser_beta(A)``. As in scipy,
    ``A`` below 8 dB is outside the formula's range and rejected.

    Parameters
    ----------
    ripple_db : float
        Wanted attenuation (positive dB; the sign is ignored like scipy), ``|ripple_db| >= 8``.
    width : float
        Full transition-band width in the units of ``fs``, positive.
    fs : float
        Sampling rate, positive (default 2: ``width`` as a fraction of Nyquist).
    """
    a = abs(check_real("ripple_db", ripple_db))
    if a < 8:
        raise ValueError(f"ripple_db must have magnitude >= 8 dB for Kaiser's formula, got {a:g}")
    fs = check_real("fs", fs, low=0.0, low_inclusive=False)
    width = check_real("width", width, low=0.0, low_inclusive=False)
    delta = width / (fs / 2)
    numtaps = (a - 7.95) / 2.285 / (math.pi * delta) + 1
    return int(math.ceil(numtaps)), kaiser_beta(a)


def kaiser_window(numtaps: int, beta: float) -> np.ndarray:
    """Symmetric Kaiser window ``w[n] = I0(beta * sqrt(1 - t_n^2)) / I0(beta)``.

    ``t_n = 2 n / (numtaps - 1) - 1`` runs from -1 to 1 (``numtaps = 1`` gives ``[1.0]``). The
    exponentially scaled Bessel function ``i0e`` keeps large ``beta`` from overflowing.

    Parameters
    ----------
    numtaps : int
        Window length, at least 1.
    beta : float
        Shape parameter, non-negative (0 is the rectangular window).
    """
    numtaps = check_int("numtaps", numtaps, minimum=1)
    beta = check_real("beta", beta, low=0.0)
    if numtaps == 1:
        return np.ones(1)
    t = np.arange(numtaps, dtype=np.float64) * (2.0 / (numtaps - 1)) - 1.0
    arg = beta * np.sqrt(np.clip(1.0 - t * t, 0.0, None))
    # i0(x) = i0e(x) * exp(x): the ratio becomes i0e(arg)/i0e(beta) * exp(arg - beta).
    return special.i0e(arg) / special.i0e(beta) * np.exp(arg - beta)
