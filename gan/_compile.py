"""The torch side under ``torch.compile``: what must not be traced, and compiled wrappers.

- Checks that read tensor values back (finiteness, affinity, invertibility) run in eager mode
  only: :func:`values_checked` is False while ``torch.compile`` traces. Reading a value back is
  data-dependent control flow that TorchDynamo cannot trace (a graph break after which every
  layer recompiles for its own shapes, or an error under ``fullgraph=True``), so a compiled model
  skips them; shapes, dtypes and Python arguments are still checked while tracing.
- :func:`eager_module` unwraps what ``torch.compile(module)`` returns, for the code that needs
  the module itself: its ``state_dict`` (whose keys the wrapper prefixes with ``_orig_mod.``)
  or forward hooks on its submodules (which a compiled graph never calls).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["check_finite", "eager_module", "values_checked"]


def values_checked() -> bool:
    """True in eager mode, False while ``torch.compile`` traces."""
    return not torch.compiler.is_compiling()


def check_finite(t: torch.Tensor, message: str) -> None:
    """``ValueError(message)`` if ``t`` holds a NaN or an infinity (eager mode only)."""
    if values_checked() and not bool(torch.isfinite(t).all()):
        raise ValueError(message)


def eager_module(model: object) -> object:
    """The module ``torch.compile`` wrapped (recursively), else ``model`` itself."""
    # OptimizedModule is torch-private; its documented attribute _orig_mod is the wrapped module.
    while type(model).__name__ == "OptimizedModule" and isinstance(
        getattr(model, "_orig_mod", None), nn.Module
    ):
        model = model._orig_mod
    return model
