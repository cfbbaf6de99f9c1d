"""Named generator and discriminator configurations (REFERENCE §3).

``t``, ``r``: the paper's alias-free configs T and R (capacities from
:data:`dsp.schedule.CONFIGS`: channel_base 32768/65536, channel_max 512/1024, 14 layers).
``baseline``: the StyleGAN2-style generator (8 mapping layers, constant-size 3×3 convs, Fourier
4×4 input so that it honours ``transform``). The ``-tiny`` variants keep the structure but cut
the capacity (channel_base 2048, channel_max 32, 64-d latents, 8 alias-free layers, 2 mapping
layers) so that a 64 px image takes well under a second on 2 CPU cores.

The baseline generator and the discriminator are imported only when built.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import torch
from torch import nn

from dsp._checks import check_int

__all__ = ["PRESETS", "build_generator", "build_discriminator", "generator_class"]

_PAPER_D = {"channel_base": 32768, "channel_max": 512, "mbstd_group_size": 4}
_TINY_D = {"channel_base": 2048, "channel_max": 32, "mbstd_group_size": 4}
_TINY_AF = {
    "z_dim": 64,
    "w_dim": 64,
    "channel_base": 2048,
    "channel_max": 32,
    "num_layers": 8,
    "num_critical": 2,
}


def _freeze(d: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(d))


#: preset name → ``{"kind": "alias_free" | "baseline", "res": default resolution,
#: "generator": constructor kwargs, "discriminator": Discriminator kwargs}`` (read-only).
PRESETS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "t": _freeze(
            {
                "kind": "alias_free",
                "res": 256,
                "generator": _freeze({"z_dim": 512, "w_dim": 512, "config": "t"}),
                "discriminator": _freeze(_PAPER_D),
            }
        ),
        "r": _freeze(
            {
                "kind": "alias_free",
                "res": 256,
                "generator": _freeze({"z_dim": 512, "w_dim": 512, "config": "r"}),
                "discriminator": _freeze(_PAPER_D),
            }
        ),
        "baseline": _freeze(
            {
                "kind": "baseline",
                "res": 256,
                "generator": _freeze(
                    {
                        "z_dim": 512,
                        "w_dim": 512,
                        "channel_base": 32768,
                        "channel_max": 512,
                        "num_mapping_layers": 8,
                        "input": "fourier",
                    }
                ),
                "discriminator": _freeze(_PAPER_D),
            }
        ),
        "t-tiny": _freeze(
            {
                "kind": "alias_free",
                "res": 64,
                "generator": _freeze({**_TINY_AF, "config": "t"}),
                "discriminator": _freeze(_TINY_D),
            }
        ),
        "r-tiny": _freeze(
            {
                "kind": "alias_free",
                "res": 64,
                "generator": _freeze({**_TINY_AF, "config": "r"}),
                "discriminator": _freeze(_TINY_D),
            }
        ),
        "baseline-tiny": _freeze(
            {
                "kind": "baseline",
                "res": 64,
                "generator": _freeze(
                    {
                        "z_dim": 64,
                        "w_dim": 64,
                        "channel_base": 2048,
                        "channel_max": 32,
                        "num_mapping_layers": 2,
                        "input": "fourier",
                    }
                ),
                "discriminator": _freeze(_TINY_D),
            }
        ),
    }
)


def _preset(preset: object) -> tuple[str, Mapping[str, Any]]:
    name = preset.lower() if isinstance(preset, str) else preset
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    return name, PRESETS[name]


def generator_class(kind: str) -> type[nn.Module]:
    """The generator class for a preset ``kind`` (``"alias_free"`` or ``"baseline"``)."""
    if kind == "alias_free":
        from .alias_free import AliasFreeGenerator

        return AliasFreeGenerator
    if kind == "baseline":
        from .baseline import BaselineGenerator

        return BaselineGenerator
    raise ValueError(f"kind must be 'alias_free' or 'baseline', got {kind!r}")


def _check_overrides(cls: type[nn.Module], kwargs: Mapping[str, Any]) -> None:
    """Unknown constructor arguments are a ``ValueError`` naming them (not a ``TypeError``)."""
    params = inspect.signature(cls.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return  # the constructor checks its own extra keywords
    known = [n for n in params if n != "self"]
    unknown = sorted(set(kwargs) - set(known))
    if unknown:
        raise ValueError(
            f"unknown {cls.__name__} arguments: {', '.join(unknown)} (accepted: {', '.join(known)})"
        )


def build_generator(
    preset: str, *, res: int | None = None, seed: int | None = None, **overrides: Any
) -> nn.Module:
    """Build a generator from a named preset.

    Parameters
    ----------
    preset : str
        One of :data:`PRESETS` (case-insensitive).
    res : int, optional
        Output resolution (power of two, 16…1024); the preset's default (256, tiny: 64).
    seed : int, optional
        Draw every initial parameter and buffer from a torch RNG seeded with it (the global RNG
        state is restored afterwards), so equal seeds give equal networks.
    **overrides
        Constructor keyword arguments replacing the preset's (``channel_base``,
        ``num_layers``, ``c_dim``, ...); invalid values raise the constructor's ``ValueError``.

    Returns
    -------
    nn.Module
        The generator, with attributes ``preset`` (the name) and ``build_kwargs`` (the full
        constructor kwargs, JSON-serialisable) used by :func:`gan.networks.io.save_generator`.
    """
    name, p = _preset(preset)
    kwargs = {**p["generator"], **overrides, "res": p["res"] if res is None else res}
    cls = generator_class(p["kind"])
    _check_overrides(cls, kwargs)
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(check_int("seed", seed, minimum=0))
        G = cls(**kwargs)
    G.preset = name
    G.preset_kind = p["kind"]
    G.build_kwargs = kwargs
    return G


def build_discriminator(
    preset: str, res: int | None = None, *, seed: int | None = None, **overrides: Any
) -> nn.Module:
    """Build the StyleGAN2 residual discriminator matching a generator preset.

    ``res`` defaults to the preset's; ``overrides`` replace the preset's Discriminator kwargs
    (``c_dim``, ``img_channels``, ``channel_base``, ``channel_max``, ``mbstd_group_size``,
    ...). ``seed`` as in :func:`build_generator`.
    """
    name, p = _preset(preset)
    from .discriminator import Discriminator

    kwargs = {**p["discriminator"], **overrides, "res": p["res"] if res is None else res}
    _check_overrides(Discriminator, kwargs)
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(check_int("seed", seed, minimum=0))
        D = Discriminator(**kwargs)
    D.preset = name
    D.build_kwargs = kwargs
    return D
