"""Public ``upfirdn2d``: validation, backend dispatch (REFERENCE §4)."""

from __future__ import annotations

import torch

from . import reference
from ._params import (
    UpfirdnArgs,
    astuple_shallow,
    may_use_triton,
    normalize_upfirdn2d,
    output_layout,
    select_backend,
)

__all__ = ["upfirdn2d"]


def upfirdn2d(
    x: torch.Tensor,
    f: object = None,
    up: int = 1,
    down: int = 1,
    padding: int | tuple[int, int] | tuple[int, int, int, int] = 0,
    gain: float = 1.0,
    flip_filter: bool = False,
    impl: str | None = None,
) -> torch.Tensor:
    """Upsample, pad, FIR-filter and downsample a batch of 2D signals. See REFERENCE §4.

    Per channel of ``x [N, C, H, W]``: zero insertion (sample ``i`` → ``i·up``, so ``n``
    samples become ``n·up``), padding on the upsampled grid (negative values crop), "valid" true
    convolution with ``f`` (correlation when ``flip_filter``), keep samples
    ``0, down, 2·down, …``, multiply by ``gain``. Output size per axis:
    ``(in·up + p_before + p_after − (taps − 1) + down − 1) // down``.

    Parameters
    ----------
    x : Tensor
        ``[N, C, H, W]``, float16, bfloat16, float32 or float64, any device.
    f : Tensor, array-like or None
        Filter taps: rank 1 = separable (applied along width, then height), rank 2 =
        ``[taps_h, taps_w]`` full 2D kernel; None = the one-tap filter ``[1]``. Filter taps are
        not differentiated on the Triton path (a filter that requires grad runs on the reference
        path). Use ``gan.ops.filters`` to turn ``dsp`` designs into tensors.
    up, down : int
        Integer factors >= 1.
    padding : int, [x, y] or [x_before, x_after, y_before, y_after]
        In samples of the upsampled grid; x is the width axis.
    gain : float or one-element tensor
        Scale of the output (the generator passes ``up²`` when upsampling with a DC-gain-1
        filter).
    flip_filter : bool
        Correlate instead of convolving.
    impl : {None, "auto", "ref", "triton"}
        None reads ``ALIASFREE_OPS_IMPL`` (default "auto"). "auto" runs Triton for CUDA tensors
        when it supports the call and the reference otherwise (warning once per reason on
        CUDA); "ref" forces plain PyTorch; "triton" forces the kernels (``ValueError`` if they
        cannot run the call; on CPU only with ``TRITON_INTERPRET=1``). Under ``torch.compile``
        a reference-bound call ("ref", or "auto" with a non-CUDA ``x``) is traced into the graph
        and any other call is a graph break that runs eagerly.

    Returns
    -------
    Tensor
        ``[N, C, out_h, out_w]`` in ``x``'s dtype, device and memory layout (channels-last
        stays channels-last on both paths). A non-finite input sample makes
        its whole output tile non-finite on the Triton path (dense tile products: ``0·inf`` is
        NaN); the reference path keeps it within the filter's footprint.

    Raises
    ------
    ValueError
        Bad rank or dtype of ``x`` or ``f``, non-integer or < 1 factors, non-finite taps, a
        filter longer than the padded signal (output < 1×1), unknown ``impl``.
    """
    a = normalize_upfirdn2d(x, f, up, down, padding, gain, flip_filter)
    if torch.compiler.is_compiling() and not may_use_triton(impl, a.x):
        return reference.upfirdn2d(*astuple_shallow(a))
    return _dispatch(a, impl)


# Under torch.compile, a call that may take the Triton path is a graph break: the kernels, their
# planner and the filters' cached factorisations run eagerly, as outside torch.compile.
@torch.compiler.disable
def _dispatch(a: UpfirdnArgs, impl: object) -> torch.Tensor:
    backend = select_backend("upfirdn2d", impl, a.x, a.up, a.down, a.f)
    if backend is None:
        return reference.upfirdn2d(*astuple_shallow(a))
    return backend.upfirdn2d(*astuple_shallow(a)).contiguous(memory_format=output_layout(a.x))
