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
    """``compose(A, B)`` applies ``B`` first, then ``A`` (matrix product ``A @ B``)."""
    out = mats[0]
    for m in mats[1:]:
        out = out @ m
    return out
