"""Argument validation, normalisation and backend selection for ``gan.ops``.

One place for the checks so that both public ops raise the same kind of error: a ``ValueError``
whose message names the argument and the accepted range (the torch-side counterpart of
``dsp._checks``, whose scalar checks it reuses). Both backends (``gan.ops.reference`` and
``gan.ops._triton``) receive the normalised arguments built here:

- filters: torch tensors of rank 1 (separable) or 2 on ``x.device``, dtype :func:`compute_dtype`
  (float64 for float64 ``x``, float32 otherwise); ``None`` becomes the one-tap filter ``[1]``;
- ``padding``: ``(x_before, x_after, y_before, y_after)`` on the upsampled grid (x = width);
- ``up``, ``down``: ints >= 1; ``gain``, ``slope``: floats; ``clamp``: positive float or None
  (each of the three may also be a one-element real tensor, read back as a float);
- ``b``: tensor ``[C]`` on ``x.device`` in :func:`compute_dtype`, or None.

See REFERENCE §4.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import warnings
from dataclasses import dataclass, fields
from types import ModuleType

import numpy as np
import torch

from dsp._checks import check_factor, check_real, parse_padding
from gan._compile import check_finite

__all__ = [
    "ENV_IMPL",
    "IMPLS",
    "FallbackWarning",
    "UpfirdnArgs",
    "astuple_shallow",
    "FilteredLreluArgs",
    "check_input",
    "compute_dtype",
    "as_filter",
    "as_bias",
    "filter_taps",
    "output_size",
    "output_layout",
    "normalize_upfirdn2d",
    "normalize_filtered_lrelu",
    "may_use_triton",
    "resolve_impl",
    "select_backend",
]

ENV_IMPL = "ALIASFREE_OPS_IMPL"
IMPLS = ("auto", "ref", "triton")

Padding4 = tuple[int, int, int, int]
Taps = int | tuple[int, int]


class FallbackWarning(UserWarning):
    """The fast path cannot run a call and the reference path runs it instead."""


# ---------------------------------------------------------------------------------------------
# Tensors and filters


# The dtypes both backends compute in (float8 and other floating dtypes have no convolutions).
_X_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _real(name: str, value: object, **bounds: object) -> float:
    """``check_real`` that also takes a one-element real tensor, read back as a Python float: a
    device synchronisation for a GPU tensor, and data-dependent under ``torch.compile`` (a graph
    break, an error with ``fullgraph=True``), so pass Python numbers where that matters. The ops
    take no gradient with respect to these arguments: a tensor that requires one is refused."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1 or value.is_complex() or value.dtype == torch.bool:
            raise ValueError(f"{name} must be a real number, got a tensor of shape "
                             f"{list(value.shape)} and dtype {value.dtype}")  # fmt: skip
        if value.requires_grad:
            raise ValueError(
                f"{name} is a tensor that requires grad, but the op has no gradient with "
                f"respect to {name}: pass a Python number (or a detached tensor)"
            )
        value = float(value.reshape(()))
    return check_real(name, value, **bounds)


def check_input(x: object) -> torch.Tensor:
    """``x`` must be a ``torch.Tensor`` of shape ``[N, C, H, W]``, C, H, W >= 1, of dtype
    float16, bfloat16, float32 or float64."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x must be a torch.Tensor of shape [N, C, H, W], got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"x must have rank 4 [N, C, H, W], got shape {list(x.shape)}")
    if x.dtype not in _X_DTYPES:
        raise ValueError(
            f"x must have a floating-point dtype: float16, bfloat16, float32 or float64, "
            f"got {x.dtype}"
        )
    if min(x.shape[1:]) < 1:
        raise ValueError(f"x must have C, H, W >= 1, got shape {list(x.shape)}")
    return x


def output_layout(x: torch.Tensor) -> torch.memory_format:
    """The memory layout both paths return: that of the input (channels-last stays so; the
    reference path runs NHWC passes inside on the CPU, the Triton kernels work on NCHW)."""
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
        if not x.is_contiguous():
            return torch.channels_last
    return torch.contiguous_format


def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype of normalised filters and bias: float64 for float64 ``x``, else float32."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def as_filter(name: str, f: object, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Normalise a filter: ``None`` → ``[1]``; tensor or array-like of rank 1 or 2 → tensor.

    Rank 1 means separable (the same taps along width and height), rank 2 a full 2D kernel
    ``[taps_h, taps_w]`` (non-square kernels are allowed). Finiteness is checked for filters
    given as numbers, arrays or CPU tensors; a filter already on an accelerator is not read back
    (that would synchronise the device on every call), so a NaN there shows up as NaN output.
    A tensor keeps its autograd graph.
    """
    if f is None:
        return torch.ones(1, device=device, dtype=dtype)
    if isinstance(f, torch.Tensor):
        t = f
        if t.is_complex() or t.dtype == torch.bool:
            raise ValueError(f"{name} must hold real numbers, got dtype {t.dtype}")
    else:
        try:
            arr = np.asarray(f)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be a 1D or 2D array of taps, got {f!r}") from exc
        if arr.dtype.kind not in "iuf":
            raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
        # ascontiguousarray returns at least rank 1: keep the shape so that a scalar is
        # rejected below, as a 0-d tensor is.
        t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float64).reshape(arr.shape))
    if t.ndim not in (1, 2):
        raise ValueError(
            f"{name} must have rank 1 (separable) or 2 (full 2D), got shape {list(t.shape)}"
        )
    if t.numel() == 0:
        raise ValueError(f"{name} must have at least one tap, got shape {list(t.shape)}")
    if t.device.type == "cpu":
        check_finite(t, f"{name} must be finite (no NaN or infinity)")
    return t.to(device=device, dtype=dtype)


def as_bias(b: object, x: torch.Tensor) -> torch.Tensor | None:
    """Normalise a per-channel bias to a tensor ``[C]`` on ``x.device`` (or None)."""
    if b is None:
        return None
    c = x.shape[1]
    if not isinstance(b, torch.Tensor):
        try:
            b = torch.as_tensor(np.asarray(b, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"b must be a tensor of shape [C] = [{c}], got {b!r}") from exc
    if b.is_complex() or b.dtype == torch.bool:
        raise ValueError(f"b must hold real numbers, got dtype {b.dtype}")
    if b.ndim != 1 or b.shape[0] != c:
        raise ValueError(
            f"b must have shape [C] = [{c}] (one value per channel of x), got {list(b.shape)}"
        )
    return b.to(device=x.device, dtype=compute_dtype(x))


def filter_taps(f: torch.Tensor) -> tuple[int, int]:
    """``(taps_h, taps_w)`` of a normalised filter (a 1D filter has the same along both axes)."""
    if f.ndim == 1:
        return (f.shape[0], f.shape[0])
    return (f.shape[0], f.shape[1])


def _taps_hw(taps: Taps) -> tuple[int, int]:
    if isinstance(taps, tuple):
        return taps
    return (taps, taps)


def output_size(
    in_h: int, in_w: int, up: int, down: int, padding4: Padding4, taps_u: Taps, taps_d: Taps = 1
) -> tuple[int, int]:
    """Output ``(height, width)`` of ``upfirdn2d`` (``taps_d = 1``) or ``filtered_lrelu``.

    Per axis: ``(in·up + p_before + p_after − (taps_u − 1) − (taps_d − 1) + down − 1) // down``
    (REFERENCE §4); ``padding4 = (x_before, x_after, y_before, y_after)``, x being the width.
    ``taps_u`` and ``taps_d`` are an int (same along both axes) or ``(taps_h, taps_w)``. The
    result may be < 1 for impossible geometry; the ops reject that.
    """
    px0, px1, py0, py1 = padding4
    tuh, tuw = _taps_hw(taps_u)
    tdh, tdw = _taps_hw(taps_d)
    h = (in_h * up + py0 + py1 - (tuh - 1) - (tdh - 1) + down - 1) // down
    w = (in_w * up + px0 + px1 - (tuw - 1) - (tdw - 1) + down - 1) // down
    return (h, w)


def _check_geometry(
    x: torch.Tensor,
    up: int,
    padding4: Padding4,
    filters: list[tuple[str, torch.Tensor]],
) -> None:
    """Every filter must fit inside the signal it is applied to ("valid" convolution)."""
    px0, px1, py0, py1 = padding4
    _, _, in_h, in_w = x.shape
    for axis, n, p0, p1, k in (("height", in_h, py0, py1, 0), ("width", in_w, px0, px1, 1)):
        length = n * up + p0 + p1
        terms = "".join(f" {'-' if p < 0 else '+'} {abs(p)}" for p in (p0, p1))
        where = f"the padded, upsampled signal ({n}·{up}{terms} = {length} samples)"
        for name, f in filters:
            taps = filter_taps(f)[k]
            if taps > length:
                raise ValueError(
                    f"{name} has {taps} taps along {axis}, more than {where}; the output would "
                    f"be smaller than 1×1: increase padding or use a shorter filter"
                )
            length -= taps - 1
            where = f"the signal it filters ({length + taps - 1} samples after the previous filter)"


# ---------------------------------------------------------------------------------------------
# Whole-call normalisation


@dataclass(frozen=True)
class UpfirdnArgs:
    """Normalised arguments of ``upfirdn2d`` (field order = the backends' positional order)."""

    x: torch.Tensor
    f: torch.Tensor
    up: int
    down: int
    padding: Padding4
    gain: float
    flip_filter: bool


@dataclass(frozen=True)
class FilteredLreluArgs:
    """Normalised arguments of ``filtered_lrelu`` (field order = the backends' order)."""

    x: torch.Tensor
    fu: torch.Tensor
    fd: torch.Tensor
    b: torch.Tensor | None
    up: int
    down: int
    padding: Padding4
    gain: float
    slope: float
    clamp: float | None
    flip_filter: bool


def astuple_shallow(args: UpfirdnArgs | FilteredLreluArgs) -> tuple:
    """The fields in order, as the backends take them positionally (``dataclasses.astuple``
    would deep-copy the tensors)."""
    return tuple(getattr(args, f.name) for f in fields(args))


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def normalize_upfirdn2d(
    x: object,
    f: object,
    up: object,
    down: object,
    padding: object,
    gain: object,
    flip_filter: object,
) -> UpfirdnArgs:
    """Validate and normalise the arguments of ``upfirdn2d`` (see the module docstring)."""
    x = check_input(x)
    up_i = check_factor("up", up)
    down_i = check_factor("down", down)
    pad = parse_padding(padding)
    g = _real("gain", gain)
    flip = _check_bool("flip_filter", flip_filter)
    ft = as_filter("f", f, x.device, compute_dtype(x))
    _check_geometry(x, up_i, pad, [("f", ft)])
    return UpfirdnArgs(x, ft, up_i, down_i, pad, g, flip)


def normalize_filtered_lrelu(
    x: object,
    fu: object,
    fd: object,
    b: object,
    up: object,
    down: object,
    padding: object,
    gain: object,
    slope: object,
    clamp: object,
    flip_filter: object,
) -> FilteredLreluArgs:
    """Validate and normalise the arguments of ``filtered_lrelu`` (see the module docstring)."""
    x = check_input(x)
    up_i = check_factor("up", up)
    down_i = check_factor("down", down)
    pad = parse_padding(padding)
    g = _real("gain", gain)
    s = _real("slope", slope)
    # 0 is allowed, as in dsp.resample.filtered_lrelu (the float64 truth): a degenerate clamp.
    c = None if clamp is None else _real("clamp", clamp, low=0.0)
    flip = _check_bool("flip_filter", flip_filter)
    dt = compute_dtype(x)
    fut = as_filter("fu", fu, x.device, dt)
    fdt = as_filter("fd", fd, x.device, dt)
    bt = as_bias(b, x)
    _check_geometry(x, up_i, pad, [("fu", fut), ("fd", fdt)])
    return FilteredLreluArgs(x, fut, fdt, bt, up_i, down_i, pad, g, s, c, flip)


# ---------------------------------------------------------------------------------------------
# Backend selection

# Reasons already reported by a FallbackWarning in this process. Deliberate module state: the
# contract is one warning per distinct reason, independent of the caller's warning filters
# (which, under the default action, would repeat it for every new call site).
_WARNED: set[str] = set()


def resolve_impl(impl: object) -> str:
    """``impl`` → ``"auto"``, ``"ref"`` or ``"triton"``; None reads ``ALIASFREE_OPS_IMPL``."""
    if impl is None:
        env = os.environ.get(ENV_IMPL, "").strip().lower()
        if not env:
            return "auto"
        if env not in IMPLS:
            raise ValueError(f"environment variable {ENV_IMPL} must be one of {IMPLS}, got {env!r}")
        return env
    if not isinstance(impl, str) or impl not in IMPLS:
        raise ValueError(f"impl must be None or one of {IMPLS}, got {impl!r}")
    return impl


def _is_cuda(x: torch.Tensor) -> bool:
    return x.device.type == "cuda"


def may_use_triton(impl: object, x: torch.Tensor) -> bool:
    """Whether :func:`select_backend` may pick Triton: ``impl`` "triton", or "auto" (None reads
    ``ALIASFREE_OPS_IMPL``) with a CUDA tensor. Otherwise the call runs the reference path, and
    under ``torch.compile`` it is traced into the graph like any PyTorch code."""
    return _triton_possible(resolve_impl(impl), x)


def _triton_possible(mode: str, x: torch.Tensor) -> bool:
    return mode == "triton" or (mode == "auto" and _is_cuda(x))


def _interpret_mode() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0").strip().lower() in ("1", "true", "on", "yes")


def _load_triton() -> tuple[ModuleType | None, str | None]:
    """The Triton backend module, or the reason it cannot be loaded."""
    if importlib.util.find_spec("triton") is None:
        return None, "the triton package is not installed"
    try:
        return importlib.import_module("gan.ops._triton"), None
    except ImportError as exc:
        return None, f"gan.ops._triton could not be imported ({exc})"


def _generic_reason(x: torch.Tensor, filters: list[torch.Tensor]) -> str | None:
    """Reasons that hold for every Triton kernel, before asking the backend itself."""
    if not _is_cuda(x) and not _interpret_mode():
        return (
            f"x is on {x.device.type}; the Triton path needs a CUDA tensor (or TRITON_INTERPRET=1)"
        )
    if torch.is_grad_enabled() and any(f.requires_grad for f in filters):
        # The Triton ops differentiate w.r.t. x and b only.
        return "a filter requires grad (the Triton path does not differentiate filters)"
    return None


def select_backend(
    op: str,
    impl: object,
    x: torch.Tensor,
    up: int,
    down: int,
    f: torch.Tensor,
    fd: torch.Tensor | None = None,
) -> ModuleType | None:
    """The Triton backend module to run ``op`` with, or None for the reference path.

    ``"ref"`` → None. ``"triton"`` → the backend, or ``ValueError`` naming why it cannot run.
    ``"auto"`` → the backend for CUDA tensors when triton is importable and the combination is
    supported; otherwise None, with one ``FallbackWarning`` per distinct reason (CPU tensors
    fall back silently: that is the expected case, not a degradation).
    """
    mode = resolve_impl(impl)  # read once: it may consult the environment
    if not _triton_possible(mode, x):
        return None
    filters = [f] if fd is None else [f, fd]
    reason = _generic_reason(x, filters)
    backend = None
    if reason is None:
        backend, reason = _load_triton()
    if reason is None:
        reason = backend.unsupported_reason(op, x, up, down, f, fd)
    if reason is None:
        return backend
    if mode == "triton":
        raise ValueError(f"impl='triton' cannot run {op}: {reason}")
    message = f"gan.ops.{op}: using the reference implementation because {reason}"
    if message not in _WARNED:
        # Warn first: under warnings.simplefilter("error") the warning raises, and every later
        # call must raise too rather than fall back silently.
        warnings.warn(message, FallbackWarning, stacklevel=3)
        _WARNED.add(message)
    return None
