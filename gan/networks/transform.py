"""The user-facing input transform of the alias-free generator: continuous translation and
rotation of the whole image.

Coordinates: the output image covers ``[-0.5, 0.5]²`` in units of the image width (the unit of
length of the layer schedule, REFERENCE §3, whose last rate is ``res`` samples per unit), x to
the right (width axis) and y down (height axis); pixel ``(i, j)`` has its centre at
``x = (j + 0.5) / res − 0.5``, ``y = (i + 0.5) / res − 0.5``.

A transform is a 3×3 affine matrix ``A`` on homogeneous coordinates ``(x, y, 1)``. Generating
with ``A`` moves the content by ``A``: ``image_A(p) = image_I(A⁻¹ p)``. So
``translate(tx, ty)`` moves the content ``tx·res`` pixels right and ``ty·res`` pixels down, and
``rotate(angle)`` turns it by ``angle`` radians about the image centre.

Rotation convention (the same everywhere in the project): a positive angle turns the content
counter-clockwise as displayed, row 0 at the top, like ``np.rot90``, ``scipy.ndimage.rotate``,
``PIL.Image.rotate`` and ``dsp.interpolation.rotate_bandlimited``. With y pointing down that is
from +x towards −y: ``rotate(π/2)`` moves the content right of the centre to above it, and
generating with it gives ``torch.rot90(image, 1, dims=(-2, -1))`` (exactly so only for a
generator that a quarter turn maps onto itself).
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["identity", "translate", "rotate", "compose"]


def identity(*, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """The 3×3 identity transform."""
    return torch.eye(3, dtype=dtype, device=device)


def _finite(name: str, value: object) -> float:
    # NaN would otherwise flow silently into every pixel of the generated image.
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def translate(
    tx: float, ty: float, *, dtype: torch.dtype = torch.float32, device=None
) -> torch.Tensor:
    """Move the content by ``(tx, ty)`` image widths (x right, y down)."""
    tx, ty = _finite("tx", tx), _finite("ty", ty)
    m = identity(dtype=dtype, device=device)
    m[0, 2] = tx
    m[1, 2] = ty
    return m


def rotate(angle: float, *, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """Turn the content by ``angle`` radians about the image centre.

    A positive angle turns the content counter-clockwise as displayed, row 0 at the top, like
    ``np.rot90``. In the x-right, y-down coordinates the matrix is
    ``[[cos θ, sin θ, 0], [−sin θ, cos θ, 0], [0, 0, 1]]`` (content at ``p`` moves to ``A p``).
    """
    angle = _finite("angle", angle)
    c, s = math.cos(angle), math.sin(angle)
    m = identity(dtype=dtype, device=device)
    m[0, 0], m[0, 1], m[1, 0], m[1, 1] = c, s, -s, c
    return m


def compose(*mats: torch.Tensor) -> torch.Tensor:
    """``compose(A, B)`` applies ``B`` first, then ``A`` (matrix product ``A @ B``).

    Takes one or more ``[3, 3]`` (or batched ``[N, 3, 3]``) tensors or numpy arrays; the
    result has their promoted dtype (float32 with float64 gives float64).

    Raises
    ------
    ValueError
        No matrix, or one that is not a floating-point tensor of shape ``[..., 3, 3]``.
    """
    if not mats:
        raise ValueError("compose needs at least one transform matrix")
    mats = tuple(torch.from_numpy(m) if isinstance(m, np.ndarray) else m for m in mats)
    for i, m in enumerate(mats):
        if not isinstance(m, torch.Tensor) or m.ndim < 2 or tuple(m.shape[-2:]) != (3, 3):
            got = list(m.shape) if isinstance(m, torch.Tensor) else type(m).__name__
            raise ValueError(f"transform {i} must be a [3, 3] (or [N, 3, 3]) tensor, got {got}")
        if not m.is_floating_point():
            raise ValueError(f"transform {i} must be floating point, got {m.dtype}")
    dtype = mats[0].dtype
    for m in mats[1:]:
        dtype = torch.promote_types(dtype, m.dtype)
    out = mats[0].to(dtype)
    for m in mats[1:]:
        out = out @ m.to(dtype)
    return out
