"""Filter taps from ``dsp`` as torch tensors. Filters are designed in ``dsp`` only, never here.

See REFERENCE §2 (design) and §4 (how the ops apply them).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["to_filter_tensor", "lowpass_filter"]


def to_filter_tensor(
    taps: np.ndarray,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Filter taps (rank 1 = separable, rank 2 = full 2D) as a tensor for ``gan.ops``.

    Parameters
    ----------
    taps : array-like
        Real, finite, non-empty taps of rank 1 or 2, e.g. from ``dsp.filters.design_lowpass``.
    device, dtype
        Where and how to store the tensor (float32 by default; the ops compute in float64 for
        float64 inputs, so pass ``torch.float64`` to keep float64 designs exact there).

    Raises
    ------
    ValueError
        Wrong rank, empty, non-real or non-finite taps, non-floating ``dtype``.
    """
    arr = np.asarray(taps)
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"taps must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim not in (1, 2):
        raise ValueError(f"taps must have rank 1 or 2, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"taps must not be empty, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("taps must be finite (no NaN or infinity)")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating-point torch dtype, got {dtype!r}")
    t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float64))
    return t.to(device=device, dtype=dtype)


def lowpass_filter(
    cutoff: float,
    *,
    half_width: float,
    fs: float,
    numtaps: int,
    radial: bool = False,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Kaiser low-pass from ``dsp.filters.design_lowpass`` as a tensor (REFERENCE §2).

    ``cutoff`` (the −6 dB point), ``half_width`` (half the transition band) and ``fs`` share one
    unit (cycles and samples per unit length). ``radial=False`` gives the separable 1D taps,
    ``radial=True`` the 2D jinc design; ``numtaps == 1`` gives ``[1]`` (no filtering). Argument
    checks are ``dsp``'s.
    """
    from dsp.filters import design_lowpass

    taps = design_lowpass(cutoff, half_width=half_width, fs=fs, numtaps=numtaps, radial=radial)
    return to_filter_tensor(taps, device=device, dtype=dtype)
