"""Generators and the discriminator (REFERENCE §3). Layer sizes, filters and paddings come from
``dsp.schedule``; nothing here re-derives them.

The names a user starts from: :func:`build_generator` / :func:`build_discriminator` (named
presets, ``PRESETS``), the classes themselves, :func:`save_generator` / :func:`load_generator`
(safetensors + JSON, no pickle) and the input transforms (:mod:`gan.networks.transform`).
"""

from . import transform
from .alias_free import AliasFreeGenerator
from .baseline import BaselineGenerator
from .discriminator import Discriminator
from .io import load_generator, save_generator
from .presets import PRESETS, build_discriminator, build_generator

__all__ = [
    "PRESETS",
    "AliasFreeGenerator",
    "BaselineGenerator",
    "Discriminator",
    "build_discriminator",
    "build_generator",
    "load_generator",
    "save_generator",
    "transform",
]
