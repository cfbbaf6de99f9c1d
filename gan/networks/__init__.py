"""Generators and the discriminator (REFERENCE §3). Layer sizes, filters and paddings come from
``dsp.schedule``; nothing here re-derives them.

The names a user starts from: :func:`build_generator` / :func:`build_discriminator` (named
presets, ``PRESETS``), the classes themselves, :func:`save_generator` / :func:`load_generator`
(safetensors + JSON, no pickle) and the input transforms (:mod:`gan.networks.transform`).
They are imported on first use, so that importing one submodule does not import them all.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "PRESETS": "presets",
    "AliasFreeGenerator": "alias_free",
    "BaselineGenerator": "baseline",
    "Discriminator": "discriminator",
    "build_discriminator": "presets",
    "build_generator": "presets",
    "load_generator": "io",
    "save_generator": "io",
}

__all__ = sorted([*_EXPORTS, "transform"])


def __getattr__(name: str):
    if name == "transform":
        return importlib.import_module(".transform", __name__)
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
