"""Where a metric runs: the one place that turns a ``device`` argument into a torch device."""

from __future__ import annotations

import torch
from torch import nn


def run_device(G: nn.Module, device: object = None) -> torch.device:
    """``torch.device(device)``, or, for ``None``, the device ``G``'s weights are on (CPU for a
    module without any), so that a metric never moves the caller's model unasked.

    Raises
    ------
    ValueError
        ``device`` is not something ``torch.device`` accepts.
    """
    if device is None:
        for t in (*G.parameters(), *G.buffers()):
            return t.device
        return torch.device("cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be a torch device such as 'cpu' or 'cuda', got {device!r}"
        ) from exc
