"""Training of the reference alias-free generator: data, losses, checkpoints and the loop.

The names a user starts from: :class:`TrainOptions` (every setting, REFERENCE §6 defaults),
:func:`train` (the whole run: folder, snapshots, metrics, checkpoints, resume), :class:`Trainer`
(one step at a time, for your own loop), :class:`ImageDataset` and :func:`make_dataset` (a
training zip from a folder of images).

They are imported on first use: ``import gan.training.dataset_tool`` (the ``aliasfree dataset``
command) must not pull in torch and the networks through this package.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "ImageDataset": "data",
    "TrainOptions": "options",
    "Trainer": "loop",
    "make_dataset": "dataset_tool",
    "train": "loop",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
