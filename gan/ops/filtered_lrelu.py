"""Public ``filtered_lrelu``: validation, backend dispatch (REFERENCE §4)."""

from __future__ import annotations

import math

import torch

from . import reference
from ._params import (
    FilteredLreluArgs,
    astuple_shallow,
    may_use_triton,
    normalize_filtered_lrelu,
    output_layout,
    select_backend,
)

__all__ = ["filtered_lrelu"]


def filtered_lrelu(
    x: torch.Tensor,
    fu: object = None,
    fd: object = None,
    b: object = None,
    up: int = 1,
    down: int = 1,
    padding: int | tuple[int, int] | tuple[int, int, int, int] = 0,
    gain: float = math.sqrt(2.0),
    slope: float = 0.2,
    clamp: float | None = None,
    flip_filter: bool = False,
    impl: str | None = None,
) -> torch.Tensor:
    """Alias-free leaky ReLU: upsample, filter, activate, filter, downsample. See REFERENCE §4.

    Per channel of ``x [N, C, H, W]``::

        v   = zero_insert_up(x + b), padded (negative = crop)
        y   = clamp(gain · lrelu(up² · (fu ∗ v), slope), −clamp, clamp)
        out = (fd ∗ y)[::down, ::down]

    with "valid" true convolutions (correlations when ``flip_filter``); a 1D filter is separable
    (width, then height), a 2D one is applied as is. ``lrelu(v) = v`` for ``v >= 0`` and
    ``slope·v`` otherwise. Output size per axis:
    ``(in·up + p_before + p_after − (taps_u − 1) − (taps_d − 1) + down − 1) // down``.

    Parameters
    ----------
    x : Tensor
        ``[N, C, H, W]``, float16, bfloat16, float32 or float64, any device.
    fu, fd : Tensor, array-like or None
        Up and down filters, rank 1 (separable) or 2 (``[taps_h, taps_w]``); None = ``[1]``.
        Not differentiated on the Triton path. A 2D filter's factorisation is cached on the
        tensor there: change it in place only through autograd-visible writes.
    b : Tensor or None
        Bias ``[C]``, added before upsampling; differentiable (``x`` and ``b`` once on the
        Triton path, whose backward has no derivative of its own: a double backward, e.g.
        ``create_graph=True``, raises there; the reference path has one).
    up, down : int
        Integer factors >= 1.
    padding : int, [x, y] or [x_before, x_after, y_before, y_after]
        Applied to the upsampled signal before ``fu``; x is the width axis.
    gain : float or one-element tensor
        Multiplies the activation's output (default √2).
    slope : float or one-element tensor
        Leaky ReLU slope on the negative side (default 0.2).
    clamp : float, one-element tensor or None
        Clamp the scaled activation to ``[−clamp, clamp]``, ``>= 0`` (0: every activation 0).
        Its derivative is 0 where ``|act| >= clamp``, ties included, on both paths. NaN
        activations stay NaN.
    flip_filter : bool
        Correlate instead of convolving.
    impl : {None, "auto", "ref", "triton"}
        Backend choice, as in :func:`gan.ops.upfirdn2d`.

    Returns
    -------
    Tensor
        ``[N, C, out_h, out_w]`` in ``x``'s dtype, device and memory layout (channels-last
        stays channels-last on both paths). A non-finite input sample makes
        its whole output tile non-finite on the Triton path (its FIR stages are dense tile
        products, where ``0·inf`` is NaN); the reference path keeps it within the filters'
        footprint.

    Raises
    ------
    ValueError
        Bad ranks/dtypes/shapes (``b`` must be ``[C]``), non-integer or < 1 factors, non-finite
        taps, NaN/infinite ``gain`` or ``slope``, ``clamp < 0``, filters longer than the signal
        they filter (output < 1×1), unknown ``impl``.
    """
    a = normalize_filtered_lrelu(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter)
    if torch.compiler.is_compiling() and not may_use_triton(impl, a.x):
        return reference.filtered_lrelu(*astuple_shallow(a))
    return _dispatch(a, impl)


# Under torch.compile, a call that may take the Triton path is a graph break (as in upfirdn2d).
@torch.compiler.disable
def _dispatch(a: FilteredLreluArgs, impl: object) -> torch.Tensor:
    backend = select_backend("filtered_lrelu", impl, a.x, a.up, a.down, a.fu, a.fd)
    if backend is None:
        return reference.filtered_lrelu(*astuple_shallow(a))
    y = backend.filtered_lrelu(*astuple_shallow(a))
    return y.contiguous(memory_format=output_layout(a.x))
