"""Argument validation shared by every ``dsp`` module.

One place for the checks so that every public function raises the same kind of error: a
``ValueError`` whose message names the argument and the accepted range.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence

import numpy as np

__all__ = [
    "as_finite_array",
    "check_int",
    "check_real",
    "check_power_of_two",
    "check_shape_2d",
    "check_factor",
    "check_factor_pair",
    "check_callable",
    "apply_pointwise",
    "MAX_INDEX",
    "check_cutoff",
    "parse_padding",
]


def as_finite_array(
    name: str,
    x: object,
    *,
    ndim: int | Sequence[int] | None = None,
    min_ndim: int | None = None,
    dtype: type = np.float64,
    allow_empty: bool = False,
) -> np.ndarray:
    """Convert ``x`` to an array of ``dtype`` and check rank and finiteness.

    Raises ``ValueError`` naming ``name`` if the rank is wrong, the array is empty (unless
    ``allow_empty``), holds NaN or infinity, or is complex while ``dtype`` is real (numpy would
    silently drop the imaginary part).
    """
    try:
        complex_in = np.iscomplexobj(x)
        arr = None if complex_in else np.asarray(x, dtype=dtype)
    except RuntimeError as exc:
        # E.g. a torch tensor that requires grad or lives on a GPU: numpy cannot read it.
        raise ValueError(
            f"{name} must be a numeric array, got {type(x).__name__} ({exc}); a torch tensor "
            "goes in as x.detach().cpu()"
        ) from exc
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array, got {type(x).__name__}") from exc
    if complex_in:
        if not np.issubdtype(np.dtype(dtype), np.complexfloating):
            raise ValueError(f"{name} must be real, got complex values")
        arr = np.asarray(x, dtype=dtype)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise ValueError(f"{name} must have rank {want}, got shape {arr.shape}")
    if min_ndim is not None and arr.ndim < min_ndim:
        raise ValueError(f"{name} must have rank >= {min_ndim}, got shape {arr.shape}")
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or infinity)")
    return arr


def check_callable(name: str, fn: object) -> Callable:
    """Return ``fn`` if it is callable, else ``ValueError`` naming ``name``."""
    if not callable(fn):
        raise ValueError(f"{name} must be callable, got {type(fn).__name__}")
    return fn


def apply_pointwise(fn: Callable, x: np.ndarray) -> np.ndarray:
    """``fn(x)`` for a user's pointwise nonlinearity, checked: the result must be real, finite
    and of ``x``'s shape (returned as float64); ``ValueError`` naming ``fn`` otherwise."""
    try:
        y = np.asarray(fn(x))
    except TypeError as exc:
        # The common case: a torch function or module given numpy arrays.
        raise ValueError(
            f"fn must map numpy arrays to numpy arrays (pointwise); calling it on one raised "
            f"TypeError: {exc}. A torch function or module m can be wrapped as "
            "lambda a: m(torch.from_numpy(a)).numpy()"
        ) from exc
    if np.iscomplexobj(y):
        raise ValueError("fn must return real values")
    if y.shape != x.shape:
        raise ValueError(f"fn must be pointwise (same shape out), got {x.shape} -> {y.shape}")
    return as_finite_array("fn(x)", y, allow_empty=True)


def _scalar(value: object) -> object:
    # A 0-d numpy array (what numpy reductions and indexing often return) is a scalar here.
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value[()]
    return value


def check_int(
    name: str, value: object, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """Return ``value`` as ``int`` if it is an integer in ``[minimum, maximum]``.

    Booleans and non-integral floats are rejected; integral numpy scalars (and 0-d arrays) are
    accepted.
    """
    value = _scalar(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    v = int(value)
    if minimum is not None and v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    if maximum is not None and v > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {v}")
    return v


def check_real(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Return ``value`` as a finite ``float`` inside the given interval (numpy scalars and 0-d
    arrays accepted)."""
    value = _scalar(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    lo_ok = low is None or (v >= low if low_inclusive else v > low)
    hi_ok = high is None or (v <= high if high_inclusive else v < high)
    if not (lo_ok and hi_ok):
        lb = "-inf" if low is None else f"{low:g}"
        hb = "inf" if high is None else f"{high:g}"
        lbr = "[" if (low is not None and low_inclusive) else "("
        hbr = "]" if (high is not None and high_inclusive) else ")"
        raise ValueError(f"{name} must be in {lbr}{lb}, {hb}{hbr}, got {v:g}")
    return v


def check_power_of_two(name: str, value: object, minimum: int, maximum: int) -> int:
    """Return ``value`` as ``int`` if it is a power of two in ``[minimum, maximum]`` (image
    resolutions: the networks, the schedule and the dataset tools all double per level)."""
    v = check_int(name, value, minimum=minimum, maximum=maximum)
    if v & (v - 1):
        raise ValueError(f"{name} must be a power of two in [{minimum}, {maximum}], got {v}")
    return v


def check_shape_2d(name: str, shape: object, *, minimum: int = 1) -> tuple[int, int]:
    """``(H, W)``: a pair of integers, each at least ``minimum``."""
    try:
        items = tuple(shape)  # type: ignore[arg-type]
    except TypeError:
        items = ()
    if len(items) != 2:
        raise ValueError(f"{name} must be a pair (H, W) of integers, got {shape!r}")
    h = check_int(f"{name}[0]", items[0], minimum=minimum)
    w = check_int(f"{name}[1]", items[1], minimum=minimum)
    return h, w


MAX_INDEX = 2**62
"""Largest resampling factor (and, in ``dsp.resample``, upsampled and padded axis length): the
numba kernels and torch's convolutions index in int64; beyond it their errors are overflows."""


def check_factor(name: str, value: object) -> int:
    """An integer resampling factor (``up``, ``down``, ``stride``), in ``[1, MAX_INDEX]``."""
    return check_int(name, value, minimum=1, maximum=MAX_INDEX)


def check_factor_pair(name: str, value: object) -> tuple[int, int]:
    """A per-axis integer factor ``(f_y, f_x)`` (rows, columns), each in ``[1, MAX_INDEX]``.

    An integer means the same factor on both axes; a pair (any length-2 sequence, e.g. the
    ``stride`` of a torch layer) gives one per axis. ``ValueError`` naming ``name`` otherwise.
    """
    value = _scalar(value)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        f = check_factor(name, value)
        return f, f
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
        raise ValueError(
            f"{name} must be an integer >= 1 or a pair (f_y, f_x) of them, got {value!r}"
        )
    items = list(value)
    if len(items) != 2:
        raise ValueError(
            f"{name} must be an integer >= 1 or a pair (f_y, f_x) of them, got {value!r}"
        )
    return check_factor(f"{name}[0]", items[0]), check_factor(f"{name}[1]", items[1])


def check_cutoff(
    name: str,
    cutoff: object,
    fs: float,
    *,
    fs_name: str = "fs",
    nyquist_inclusive: bool = False,
) -> float:
    """A low-pass cutoff in ``(0, fs / 2)`` (or ``(0, fs / 2]`` with ``nyquist_inclusive``), in
    the units of ``fs``.

    Out of range, the ``ValueError`` names ``name``, the interval, the ``fs`` it derives from
    and the argument ``fs_name`` that sets it: a cutoff of 16 for a filter meant to run at
    ``fs = 64`` but called with the default ``fs = 2`` is the usual mistake, and "must be in
    (0, 1)" alone does not say why.
    """
    value = _scalar(cutoff)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    nyquist = fs / 2
    above = v > nyquist if nyquist_inclusive else v >= nyquist
    if not math.isfinite(v) or v <= 0.0 or above:
        bracket = "]" if nyquist_inclusive else ")"
        raise ValueError(
            f"{name} must be in (0, {nyquist:g}{bracket}, got {v:g}: the range is (0, fs/2"
            f"{bracket} with {fs_name}={fs:g} (same units as {fs_name}); pass {fs_name}=... if "
            f"{name} is in other units"
        )
    return v


def parse_padding(padding: object) -> tuple[int, int, int, int]:
    """Normalise a 2D padding to ``(x_before, x_after, y_before, y_after)``.

    Accepts an int (all four sides), ``[x, y]`` (each axis symmetric) or
    ``[x_before, x_after, y_before, y_after]``; x is the width (last) axis. Negative values crop.
    See REFERENCE §4.
    """
    if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
        p = int(padding)
        return (p, p, p, p)
    try:
        items = list(padding)  # type: ignore[arg-type]
    except TypeError as exc:
        raise ValueError(
            f"padding must be an int, [x, y] or [x0, x1, y0, y1], got {padding!r}"
        ) from exc
    vals = [check_int("padding", v) for v in items]
    if len(vals) == 1:
        return (vals[0],) * 4
    if len(vals) == 2:
        return (vals[0], vals[0], vals[1], vals[1])
    if len(vals) == 4:
        return (vals[0], vals[1], vals[2], vals[3])
    raise ValueError(f"padding must have 1, 2 or 4 entries, got {len(vals)}")
