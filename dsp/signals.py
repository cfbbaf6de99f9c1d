"""Analytic test signals with known spectra. See REFERENCE §1.

Every factory returns a small frozen dataclass that is callable on numpy arrays (``sig(x)`` in
1D, ``sig(x, y)`` in 2D, positions in units of length) and carries its spectrum description:

- :func:`tones`, :func:`tones_2d`: finite sums of cosines; spectrum = the listed frequencies
  (cycles per unit length).
- :func:`bandlimited_noise`: random tones drawn strictly inside a band (band-limited by
  construction).
- :func:`zone_plate`: the chirp ``cos(pi k r^2)``, local frequency ``k r``.
- :func:`disc`, :func:`polygon`: indicator functions with closed-form Fourier transforms, and
  :func:`render_disc`, :func:`render_polygon` that sample them *band-limited*: exactly, from the
  analytic transform restricted to a band, on a periodic grid.

Fourier convention: ``F(f) = integral s(x) exp(-2 pi i f . x) dx`` (frequencies in cycles per
unit length). 2D grids are indexed ``[row, column] = [y, x]``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

from dsp._checks import as_finite_array, check_int, check_real
from dsp.sampling import _check_pair

__all__ = [
    "Tones",
    "Tones2D",
    "ZonePlate",
    "Disc",
    "Polygon",
    "tones",
    "tones_2d",
    "bandlimited_noise",
    "zone_plate",
    "disc",
    "polygon",
    "render_disc",
    "render_polygon",
]

_BANDS = ("disc", "square")


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float64)
    a.setflags(write=False)
    return a


def _coords(name: str, v: object) -> np.ndarray:
    return as_finite_array(name, v, allow_empty=True)


# --------------------------------------------------------------------------------------------
# Tones
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Tones:
    """``s(x) = sum_k a_k cos(2 pi f_k x + phi_k)``.

    Spectrum: lines at ``+-f_k`` with complex amplitude ``a_k e^{+-i phi_k} / 2``.

    Attributes
    ----------
    frequencies, amplitudes, phases : numpy.ndarray, shape (K,)
        ``f_k`` (cycles per unit length), ``a_k``, ``phi_k`` (radians). Read-only.
    bandwidth : float or None
        If set (by :func:`bandlimited_noise`), a strict bound: every ``|f_k| < bandwidth``.
    """

    frequencies: np.ndarray
    amplitudes: np.ndarray
    phases: np.ndarray
    bandwidth: float | None = None

    @property
    def max_frequency(self) -> float:
        """Largest ``|f_k|``: the signal is band-limited below any rate above twice this."""
        return float(np.max(np.abs(self.frequencies)))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        xa = _coords("x", x)
        out = np.zeros(xa.shape)
        for f, a, p in zip(self.frequencies, self.amplitudes, self.phases, strict=True):
            out += a * np.cos(2.0 * np.pi * f * xa + p)
        return out


@dataclass(frozen=True, eq=False)
class Tones2D:
    """``s(x, y) = sum_k a_k cos(2 pi (fx_k x + fy_k y) + phi_k)``.

    Attributes
    ----------
    frequencies : numpy.ndarray, shape (K, 2)
        ``(fx_k, fy_k)`` in cycles per unit length. Read-only.
    amplitudes, phases : numpy.ndarray, shape (K,)
    bandwidth : float or None
        If set (by :func:`bandlimited_noise`), a strict bound on every frequency: on the norm
        ``|f_k|`` for ``band == "disc"``, on each of ``|fx_k|, |fy_k|`` for ``band == "square"``.
    band : str or None
        ``"disc"`` or ``"square"`` when ``bandwidth`` is set.
    """

    frequencies: np.ndarray
    amplitudes: np.ndarray
    phases: np.ndarray
    bandwidth: float | None = None
    band: str | None = None

    @property
    def max_frequency(self) -> float:
        """Largest frequency norm ``|f_k|``."""
        return float(np.max(np.hypot(self.frequencies[:, 0], self.frequencies[:, 1])))

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        xa, ya = np.broadcast_arrays(_coords("x", x), _coords("y", y))
        out = np.zeros(xa.shape)
        for (fx, fy), a, p in zip(self.frequencies, self.amplitudes, self.phases, strict=True):
            out += a * np.cos(2.0 * np.pi * (fx * xa + fy * ya) + p)
        return out


def _amps_phases(k: int, amplitudes: object, phases: object) -> tuple[np.ndarray, np.ndarray]:
    if amplitudes is None:
        amps = np.ones(k)
    else:
        amps = as_finite_array("amplitudes", amplitudes, ndim=1)
        if amps.shape != (k,):
            raise ValueError(f"amplitudes must have shape ({k},), got {amps.shape}")
    if phases is None:
        phs = np.zeros(k)
    else:
        phs = as_finite_array("phases", phases, ndim=1)
        if phs.shape != (k,):
            raise ValueError(f"phases must have shape ({k},), got {phs.shape}")
    return amps, phs


def tones(
    frequencies: Sequence[float] | np.ndarray,
    amplitudes: Sequence[float] | np.ndarray | None = None,
    phases: Sequence[float] | np.ndarray | None = None,
) -> Tones:
    """A 1D sum of cosines ``sum_k a_k cos(2 pi f_k x + phi_k)``.

    Parameters
    ----------
    frequencies : array_like, shape (K,)
        Frequencies in cycles per unit length (a scalar is one tone).
    amplitudes : array_like, shape (K,), optional
        Default all ones.
    phases : array_like, shape (K,), optional
        Radians, default all zero.
    """
    freqs = as_finite_array("frequencies", np.atleast_1d(np.asarray(frequencies)), ndim=1)
    amps, phs = _amps_phases(freqs.shape[0], amplitudes, phases)
    return Tones(_frozen(freqs), _frozen(amps), _frozen(phs))


def tones_2d(
    frequencies: Sequence[tuple[float, float]] | np.ndarray,
    amplitudes: Sequence[float] | np.ndarray | None = None,
    phases: Sequence[float] | np.ndarray | None = None,
) -> Tones2D:
    """A 2D sum of plane waves ``sum_k a_k cos(2 pi (fx_k x + fy_k y) + phi_k)``.

    Parameters
    ----------
    frequencies : array_like, shape (K, 2)
        ``(fx, fy)`` pairs in cycles per unit length (a single pair is one tone).
    amplitudes, phases : array_like, shape (K,), optional
        Default ones and zeros.
    """
    freqs = as_finite_array("frequencies", frequencies, ndim=(1, 2))
    if freqs.ndim == 1:
        freqs = freqs[None, :]
    if freqs.shape[1] != 2:
        raise ValueError(f"frequencies must have shape (K, 2), got {freqs.shape}")
    amps, phs = _amps_phases(freqs.shape[0], amplitudes, phases)
    return Tones2D(_frozen(freqs), _frozen(amps), _frozen(phs))


def bandlimited_noise(
    bandwidth: float,
    n_components: int = 64,
    seed: int = 0,
    ndim: int = 1,
    band: str = "disc",
) -> Tones | Tones2D:
    """Random band-limited signal: a sum of ``n_components`` tones strictly inside the band.

    Continuous (a callable; ``bandwidth`` in cycles per unit length). For a sampled, periodic
    test field in cycles/sample (what the aliasing analysers take), see
    ``dsp.figures.bandlimited_field``.

    1D: frequencies uniform in ``[0, bandwidth)``. 2D: uniform in the disc ``|f| < bandwidth``
    (``band="disc"``) or the square ``|fx|, |fy| < bandwidth`` (``band="square"``). Amplitudes
    are Rayleigh with ``E[a^2] = 2 / n_components`` (unit expected power), phases uniform. The
    spectrum is known exactly (the returned tones), so sampling at any rate ``s > 2 * bandwidth``
    (per axis for the square, which the disc fits in) loses nothing.

    Parameters
    ----------
    bandwidth : float
        Band edge in cycles per unit length, ``> 0`` (strict upper bound on the frequencies).
    n_components : int
        Number of tones, ``>= 1``.
    seed : int
        Seed of ``numpy.random.default_rng``.
    ndim : int
        1 or 2.
    band : {"disc", "square"}
        Shape of the 2D band (ignored in 1D).
    """
    bandwidth = check_real("bandwidth", bandwidth, low=0.0, low_inclusive=False)
    n = check_int("n_components", n_components, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    ndim = check_int("ndim", ndim, minimum=1, maximum=2)
    if band not in _BANDS:
        raise ValueError(f"band must be one of {_BANDS}, got {band!r}")
    rng = np.random.default_rng(seed)
    amps = rng.rayleigh(scale=1.0 / math.sqrt(n), size=n)
    phases = rng.uniform(0.0, 2.0 * np.pi, size=n)
    if ndim == 1:
        # uniform() draws from [0, 1): strictly below the band edge.
        freqs = bandwidth * rng.uniform(0.0, 1.0, size=n)
        return Tones(_frozen(freqs), _frozen(amps), _frozen(phases), bandwidth)
    if band == "disc":
        radius = bandwidth * np.sqrt(rng.uniform(0.0, 1.0, size=n))
        theta = rng.uniform(0.0, 2.0 * np.pi, size=n)
        freqs = np.stack([radius * np.cos(theta), radius * np.sin(theta)], axis=1)
        # cos/sin rounding can push |f| up by an ulp; keep the bound strict.
        norm = np.hypot(freqs[:, 0], freqs[:, 1])
        freqs = np.where((norm >= bandwidth)[:, None], freqs * (1.0 - 1e-12), freqs)
    else:
        mags = bandwidth * rng.uniform(0.0, 1.0, size=(n, 2))
        freqs = mags * rng.choice([-1.0, 1.0], size=(n, 2))
    return Tones2D(_frozen(freqs), _frozen(amps), _frozen(phases), bandwidth, band)


# --------------------------------------------------------------------------------------------
# Zone plate / chirp
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ZonePlate:
    """``s(p) = amplitude * cos(pi k |p - c|^2 + phase)`` in 1D (chirp) or 2D (zone plate).

    The phase ``pi k r^2`` has gradient ``2 pi k (p - c)``, so the *local (instantaneous)
    frequency* at distance ``r`` from the centre is ``k r`` cycles per unit length, pointing
    radially. Sampled at rate ``s`` the plate is alias-free only inside the radius
    ``s / (2 |k|)`` (where ``k r < s / 2``); beyond it the rings alias into the familiar
    moiré copies centred at ``c + m s / k`` for integer vectors ``m``. The signal itself is not
    band-limited (its transform is again a chirp: in 2D ``F{e^{i pi k r^2}} =
    (i / k) e^{-i pi |f|^2 / k}``).

    Attributes
    ----------
    k : float
        Chirp rate (cycles per unit length per unit length), non-zero.
    ndim : int
        1 or 2.
    center : tuple of float
        ``c`` (length ``ndim``).
    amplitude, phase : float
    """

    k: float
    ndim: int
    center: tuple[float, ...]
    amplitude: float = 1.0
    phase: float = 0.0

    def _r2(self, coords: tuple) -> np.ndarray:
        if len(coords) != self.ndim:
            raise ValueError(f"this zone plate takes {self.ndim} coordinate array(s)")
        arrs = np.broadcast_arrays(*[_coords(n, c) for n, c in zip("xy", coords, strict=False)])
        return sum((a - c) ** 2 for a, c in zip(arrs, self.center, strict=True))

    def __call__(self, *coords: np.ndarray) -> np.ndarray:
        return self.amplitude * np.cos(np.pi * self.k * self._r2(coords) + self.phase)

    def local_frequency(self, *coords: np.ndarray) -> np.ndarray:
        """Instantaneous frequency ``|k| r`` (cycles per unit length) at the given points."""
        return abs(self.k) * np.sqrt(self._r2(coords))

    def alias_free_radius(self, rate: float) -> float:
        """Radius ``rate / (2 |k|)`` inside which the local frequency stays below Nyquist."""
        rate = check_real("rate", rate, low=0.0, low_inclusive=False)
        return rate / (2.0 * abs(self.k))


def zone_plate(
    k: float,
    ndim: int = 2,
    center: float | Sequence[float] | None = None,
    amplitude: float = 1.0,
    phase: float = 0.0,
) -> ZonePlate:
    """Zone plate ``cos(pi k r^2 + phase)`` (``ndim=2``) or linear chirp (``ndim=1``).

    Local frequency ``k r`` at distance ``r`` from ``center`` (see :class:`ZonePlate`).

    Parameters
    ----------
    k : float
        Chirp rate, non-zero, in cycles per unit length squared.
    ndim : int
        1 (chirp ``cos(pi k (x - c)^2)``) or 2.
    center : float or sequence, optional
        Default the origin.
    amplitude, phase : float
    """
    k = check_real("k", k)
    if k == 0.0:
        raise ValueError("k must be non-zero, got 0")
    ndim = check_int("ndim", ndim, minimum=1, maximum=2)
    if center is None:
        c = (0.0,) * ndim
    else:
        arr = as_finite_array("center", np.atleast_1d(np.asarray(center)), ndim=1)
        if arr.shape != (ndim,):
            raise ValueError(f"center must have {ndim} entries, got {arr.shape[0]}")
        c = tuple(float(v) for v in arr)
    amplitude = check_real("amplitude", amplitude)
    phase = check_real("phase", phase)
    return ZonePlate(k, ndim, c, amplitude, phase)


# --------------------------------------------------------------------------------------------
# Shapes: disc and polygon, with band-limited periodic rendering
# --------------------------------------------------------------------------------------------


def _grid_shape(n: object) -> tuple[int, int]:
    """``n`` or ``(ny, nx)`` -> ``(ny, nx)``."""
    if isinstance(n, numbers.Integral):
        v = check_int("n", n, minimum=1)
        return v, v
    try:
        items = list(n)  # type: ignore[call-overload]
    except TypeError as exc:
        raise ValueError(f"n must be an int or a pair (ny, nx), got {n!r}") from exc
    if len(items) != 2:
        raise ValueError(f"n must be an int or a pair (ny, nx), got {len(items)} entries")
    return check_int("n[0]", items[0], minimum=1), check_int("n[1]", items[1], minimum=1)


def _render(ft, n, rate, band, bandwidth, start) -> np.ndarray:
    """Periodic band-limited rendering from an analytic Fourier transform ``ft(fx, fy)``.

    With period ``L = n / rate`` per axis, the periodised band-limited shape
    ``g = sum_m (s * h_band)(p - m L)`` has the Fourier series coefficients
    ``F(f_k) / (Lx Ly)`` at ``f_k = k / L`` inside the band (Poisson summation), so its samples
    at ``p_j = start + j / rate`` are ``rate^2 * ifft2(F(f_k) e^{2 pi i f_k . start})``.
    """
    ny, nx = _grid_shape(n)
    rate = check_real("rate", rate, low=0.0, low_inclusive=False)
    if band not in _BANDS:
        raise ValueError(f"band must be one of {_BANDS}, got {band!r}")
    if bandwidth is None:
        bandwidth = rate / 2.0
    bandwidth = check_real("bandwidth", bandwidth, low=0.0, high=rate / 2.0, low_inclusive=False)
    if start is None:
        sx, sy = -(nx // 2) / rate, -(ny // 2) / rate
    else:
        sx, sy = _check_pair("start", start)
    fx = np.fft.fftfreq(nx, d=1.0 / rate)
    fy = np.fft.fftfreq(ny, d=1.0 / rate)
    fxx, fyy = np.meshgrid(fx, fy, indexing="xy")
    # Strict inequality: the band is symmetric under f -> -f (so the result is real) and never
    # contains the unpaired Nyquist bin, since bandwidth <= rate / 2.
    if band == "disc":
        inside = np.hypot(fxx, fyy) < bandwidth
    else:
        inside = np.maximum(np.abs(fxx), np.abs(fyy)) < bandwidth
    spec = np.zeros((ny, nx), dtype=np.complex128)
    fxi, fyi = fxx[inside], fyy[inside]
    spec[inside] = ft(fxi, fyi) * np.exp(2j * np.pi * (fxi * sx + fyi * sy))
    return np.ascontiguousarray((rate * rate) * np.fft.ifft2(spec).real)


class _RenderedShape:
    """``render`` for shapes with an analytic ``fourier_transform`` and stored band settings."""

    band: str
    bandwidth: float | None

    def fourier_transform(self, fx: np.ndarray, fy: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def render(
        self,
        n: int | tuple[int, int],
        rate: float,
        band: str | None = None,
        bandwidth: float | None = None,
        start: tuple[float, float] | None = None,
    ) -> np.ndarray:
        """Band-limited periodic samples; see :func:`render_disc` and :func:`render_polygon`.

        ``band`` and ``bandwidth`` default to the ones stored on the shape (and the bandwidth
        to ``rate / 2`` when none is stored).
        """
        band = self.band if band is None else band
        bandwidth = self.bandwidth if bandwidth is None else bandwidth
        return _render(self.fourier_transform, n, rate, band, bandwidth, start)


@dataclass(frozen=True, eq=False)
class Disc(_RenderedShape):
    """Indicator of the disc ``|p - c| < radius`` (value 1/2 on the circle).

    Fourier transform ``F(f) = R J1(2 pi R |f|) / |f| * e^{-2 pi i f . c}``, ``F(0) = pi R^2``.
    """

    radius: float
    center: tuple[float, float]
    bandwidth: float | None = None
    band: str = "disc"

    @property
    def area(self) -> float:
        return math.pi * self.radius**2

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        xa, ya = np.broadcast_arrays(_coords("x", x), _coords("y", y))
        r = np.hypot(xa - self.center[0], ya - self.center[1])
        return np.where(r < self.radius, 1.0, np.where(r == self.radius, 0.5, 0.0))

    def fourier_transform(self, fx: np.ndarray, fy: np.ndarray) -> np.ndarray:
        """``F(fx, fy)`` (complex), frequencies in cycles per unit length."""
        fxa, fya = np.broadcast_arrays(_coords("fx", fx), _coords("fy", fy))
        rho = np.hypot(fxa, fya)
        z = 2.0 * np.pi * self.radius * rho
        # R J1(2 pi R rho) / rho = 2 pi R^2 J1(z) / z, with J1(z) / z -> 1/2 at z = 0.
        safe = np.where(z == 0.0, 1.0, z)
        j1_over_z = np.where(z == 0.0, 0.5, special.j1(safe) / safe)
        phase = np.exp(-2j * np.pi * (fxa * self.center[0] + fya * self.center[1]))
        return 2.0 * np.pi * self.radius**2 * j1_over_z * phase


def _polygon_area_signed(v: np.ndarray) -> float:
    x, y = v[:, 0], v[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


@dataclass(frozen=True, eq=False)
class Polygon(_RenderedShape):
    """Indicator of a simple (non-self-intersecting, convex or not) polygon.

    ``vertices`` are stored counter-clockwise. Fourier transform, from the divergence theorem
    (``e^{-2 pi i f.p} = div(i f / (2 pi |f|^2) e^{-2 pi i f.p})``) summed over the edges
    ``e_k = v_{k+1} - v_k`` with midpoints ``m_k``:

        ``F(f) = i / (2 pi |f|^2) * sum_k (f x e_k) sinc(f . e_k) e^{-2 pi i f . m_k}``

    with ``f x e = fx e_y - fy e_x`` and ``sinc(u) = sin(pi u) / (pi u)``; ``F(0)`` = area.
    Because ``sum_k f x e_k = 0`` the constant part of each term is subtracted before summing
    (``sinc * E - 1 = (sinc - 1) E + (E - 1)``, each computed without cancellation), which keeps
    full relative accuracy down to ``|f| -> 0``.
    """

    vertices: np.ndarray
    bandwidth: float | None = None
    band: str = "disc"

    @property
    def area(self) -> float:
        return _polygon_area_signed(self.vertices)

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """1 inside, 0 outside (crossing-number test; boundary points fall either way)."""
        xa, ya = np.broadcast_arrays(_coords("x", x), _coords("y", y))
        inside = np.zeros(xa.shape, dtype=bool)
        v = self.vertices
        for a, b in zip(v, np.roll(v, -1, axis=0), strict=True):
            crosses = (a[1] > ya) != (b[1] > ya)
            with np.errstate(divide="ignore", invalid="ignore"):
                x_cross = a[0] + (ya - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
            inside ^= crosses & (xa < x_cross)
        return inside.astype(np.float64)

    def fourier_transform(self, fx: np.ndarray, fy: np.ndarray) -> np.ndarray:
        """``F(fx, fy)`` (complex), frequencies in cycles per unit length."""
        fxa, fya = np.broadcast_arrays(_coords("fx", fx), _coords("fy", fy))
        shape = fxa.shape
        fxa, fya = fxa.ravel(), fya.ravel()
        v = self.vertices
        e = np.roll(v, -1, axis=0) - v
        mid = v + 0.5 * e
        cross = fxa[:, None] * e[None, :, 1] - fya[:, None] * e[None, :, 0]
        u = fxa[:, None] * e[None, :, 0] + fya[:, None] * e[None, :, 1]
        theta = 2.0 * np.pi * (fxa[:, None] * mid[None, :, 0] + fya[:, None] * mid[None, :, 1])
        # E - 1 with E = e^{-i theta}: cos(theta) - 1 = -2 sin^2(theta/2), no cancellation.
        em1 = -2.0 * np.sin(0.5 * theta) ** 2 - 1j * np.sin(theta)
        pu = np.pi * u
        pu2 = pu * pu
        small = np.abs(pu) < 1e-3
        safe = np.where(small, 1.0, u)
        sinc_m1 = np.where(small, -pu2 / 6.0 + pu2 * pu2 / 120.0, np.sinc(safe) - 1.0)
        terms = cross * (sinc_m1 * (1.0 + em1) + em1)
        f2 = fxa * fxa + fya * fya
        zero = f2 == 0.0
        out = 1j / (2.0 * np.pi * np.where(zero, 1.0, f2)) * terms.sum(axis=1)
        out[zero] = self.area
        return out.reshape(shape)


def _shape_band(bandwidth: object, band: object) -> tuple[float | None, str]:
    if band not in _BANDS:
        raise ValueError(f"band must be one of {_BANDS}, got {band!r}")
    if bandwidth is None:
        return None, str(band)
    return check_real("bandwidth", bandwidth, low=0.0, low_inclusive=False), str(band)


def disc(
    radius: float,
    center: tuple[float, float] = (0.0, 0.0),
    bandwidth: float | None = None,
    band: str = "disc",
) -> Disc:
    """The disc indicator ``|p - center| < radius`` with its analytic Fourier transform.

    Calling the result gives the sharp (not band-limited) indicator, the reference for
    supersampling; :meth:`Disc.render` / :func:`render_disc` give exact band-limited samples
    (band ``|f| < bandwidth`` for ``band="disc"``, ``|fx|, |fy| < bandwidth`` for ``"square"``;
    ``bandwidth`` in cycles per unit length, stored here as the default of ``render``). For
    band-limited values at arbitrary points, interpolate a rendering with
    ``dsp.interpolation.periodic_interpolate_2d``: it is exact for it (the rendering has no
    Nyquist-bin content).
    """
    radius = check_real("radius", radius, low=0.0, low_inclusive=False)
    cx, cy = _check_pair("center", center)
    bw, bd = _shape_band(bandwidth, band)
    return Disc(radius, (cx, cy), bw, bd)


def polygon(
    vertices: Sequence[tuple[float, float]] | np.ndarray,
    bandwidth: float | None = None,
    band: str = "disc",
) -> Polygon:
    """A simple polygon's indicator with its analytic Fourier transform.

    Calling the result gives the sharp indicator; band-limited samples come from
    :meth:`Polygon.render` / :func:`render_polygon` (``bandwidth`` and ``band`` as in
    :func:`disc`).

    Parameters
    ----------
    vertices : array_like, shape (K, 2)
        ``K >= 3`` vertices ``(x, y)`` in order (either orientation; stored counter-clockwise),
        the last joined to the first. Must not self-intersect (not checked beyond a non-zero
        area).
    bandwidth : float, optional
        Default band edge for :meth:`Polygon.render`, cycles per unit length.
    band : {"disc", "square"}
        Default band shape for :meth:`Polygon.render`.
    """
    bw, bd = _shape_band(bandwidth, band)
    v = as_finite_array("vertices", vertices, ndim=2)
    if v.shape[1] != 2 or v.shape[0] < 3:
        raise ValueError(f"vertices must have shape (K >= 3, 2), got {v.shape}")
    area = _polygon_area_signed(v)
    if area == 0.0:
        raise ValueError("vertices must enclose a non-zero area")
    if area < 0.0:
        v = v[::-1]
    return Polygon(_frozen(v), bw, bd)


def render_disc(
    n: int | tuple[int, int],
    rate: float,
    radius: float,
    center: tuple[float, float] = (0.0, 0.0),
    band: str = "disc",
    bandwidth: float | None = None,
    start: tuple[float, float] | None = None,
) -> np.ndarray:
    """Samples of a disc indicator, ideally low-passed to a band, on a periodic grid.

    The result is exact (to rounding): the samples at ``p_ij = start + (j, i) / rate`` of the
    periodic signal ``sum_m (1_disc * h)(p - m L)``, ``L = n / rate``, where ``h`` is the
    ideal low-pass with spectrum the band. Computed from the analytic transform
    ``F(f) = R J1(2 pi R |f|) / |f| e^{-2 pi i f.c}`` at the DFT frequencies ``f_k = k / L``
    inside the band (see :class:`Disc`), so it has no energy outside the band and no aliasing.

    Parameters
    ----------
    n : int or (ny, nx)
        Grid size.
    rate : float
        Samples per unit length.
    radius : float
        Disc radius (units of length), ``> 0``.
    center : (cx, cy)
        Disc centre.
    band : {"disc", "square"}
        Pass band ``|f| < bandwidth`` or ``|fx|, |fy| < bandwidth``; bins on the edge are out.
    bandwidth : float, optional
        Band edge in cycles per unit length, in ``(0, rate / 2]``; default ``rate / 2``.
    start : (x0, y0), optional
        Position of sample ``[0, 0]``; default ``-(n // 2) / rate`` per axis, which puts the
        origin on pixel ``[ny // 2, nx // 2]``.

    Returns
    -------
    numpy.ndarray
        Real array of shape ``(ny, nx)``.
    """
    return disc(radius, center, bandwidth, band).render(n, rate, start=start)


def render_polygon(
    n: int | tuple[int, int],
    rate: float,
    vertices: Sequence[tuple[float, float]] | np.ndarray,
    band: str = "disc",
    bandwidth: float | None = None,
    start: tuple[float, float] | None = None,
) -> np.ndarray:
    """Samples of a polygon indicator, ideally low-passed to a band, on a periodic grid.

    As :func:`render_disc`, with the polygon transform of :class:`Polygon`.
    """
    return polygon(vertices, bandwidth, band).render(n, rate, start=start)
