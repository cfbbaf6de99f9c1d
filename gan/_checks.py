"""Checks that read tensor values back (finiteness, affinity, invertibility).

They run in eager mode only: :func:`values_checked` is False while ``torch.compile`` traces.
Reading a value back is data-dependent control flow that TorchDynamo cannot trace (a graph break
after which every layer recompiles for its own shapes, or an error under ``fullgraph=True``), so
a compiled model skips them; shapes, dtypes and Python arguments are still checked while tracing.
"""

from __future__ import annotations

import torch

__all__ = ["check_finite", "values_checked"]


def values_checked() -> bool:
    """True in eager mode, False while ``torch.compile`` traces."""
    return not torch.compiler.is_compiling()


def check_finite(t: torch.Tensor, message: str) -> None:
    """``ValueError(message)`` if ``t`` holds a NaN or an infinity (eager mode only)."""
    if values_checked() and not bool(torch.isfinite(t).all()):
        raise ValueError(message)
