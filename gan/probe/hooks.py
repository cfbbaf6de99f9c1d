"""Layer discovery and forward-hook capture for ``probe_model``; the model is never modified.

Hooks are registered for the duration of one forward pass and removed afterwards (also when the
pass fails). A forward pre-hook on every module keeps the stack of modules being executed, so an
exception raised by the model is re-raised as a ``ValueError`` naming the innermost module that
was running (the one that failed).
"""

from __future__ import annotations

import contextlib
import fnmatch
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.parametrize import is_parametrized

__all__ = [
    "RATE_LOWERING_TYPES",
    "NONLINEARITY_TYPES",
    "LayerInfo",
    "discover_layers",
    "run_hooked",
    "hooks_paused",
    "call_key",
]

NONLINEARITY_TYPES: tuple[type[nn.Module], ...] = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.RReLU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Tanh,
    nn.Sigmoid,
    nn.Hardtanh,
    nn.ELU,
    nn.SELU,
    nn.CELU,
    nn.Softplus,
    nn.Softsign,
    nn.LogSigmoid,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.Threshold,
    nn.Hardshrink,
    nn.Softshrink,
    nn.Tanhshrink,
)
"""Pointwise nonlinearities measured by default: each output sample depends on its input sample
only (``PReLU`` with one slope per channel included: it is applied to ``[k, C, H, W]`` maps;
``RReLU`` is deterministic in eval mode, where the probe runs the model). Functional calls
(``F.relu`` in a ``forward``) are not modules: hooks cannot see them."""

RATE_LOWERING_TYPES: tuple[type[nn.Module], ...] = (
    nn.Conv2d,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveMaxPool2d,
    nn.Upsample,
)
"""Module types that may lower the rate (strided conv/pool; adaptive pooling and resampling when
their output is smaller than their input)."""


@dataclass(frozen=True, eq=False)
class LayerInfo:
    """A module to hook.

    Attributes
    ----------
    name : str
        Name in ``model.named_modules()``.
    module : nn.Module
    downsampling : bool
        Candidate for the downsampling measure: one of ``RATE_LOWERING_TYPES`` or named in
        ``downsampling_layers`` (whether it really lowers the rate is decided from its shapes).
    nonlinearity : bool
        One of ``NONLINEARITY_TYPES`` or named in ``nonlinearities``.
    user_downsampling : bool
        Named in ``downsampling_layers``.
    """

    name: str
    module: nn.Module
    downsampling: bool
    nonlinearity: bool
    user_downsampling: bool = False

    @property
    def type(self) -> str:
        return type(self.module).__name__


def _check_names(arg: str, names: Sequence[str], known: dict[str, nn.Module]) -> set[str]:
    if isinstance(names, str):
        raise ValueError(f"{arg} must be a sequence of module names, got the string {names!r}")
    out = set()
    for n in names:
        if not isinstance(n, str) or n not in known or n == "":
            # The root module ('') is the whole model, not a layer one could name.
            candidates = sorted(k for k in known if k)
            more = f" and {len(candidates) - 50} more" if len(candidates) > 50 else ""
            raise ValueError(
                f"{arg} must name modules of the model; {n!r} is not one of {candidates[:50]}{more}"
            )
        out.add(n)
    return out


def discover_layers(
    model: nn.Module,
    *,
    layers: Sequence[str] | None = None,
    downsampling_layers: Sequence[str] = (),
    nonlinearities: Sequence[str] = (),
) -> list[LayerInfo]:
    """The modules ``probe_model`` hooks, in registration order.

    Candidates are the leaf modules (no children), the modules of ``RATE_LOWERING_TYPES`` and
    ``NONLINEARITY_TYPES``, plus the modules named in ``downsampling_layers`` and
    ``nonlinearities`` (which may have children); a layer's internals are left out (the weight
    parametrizations of ``spectral_norm``/``weight_norm``, which do not count as children
    either, and modules inside a module of a known type); ``layers``, a list
    of ``fnmatch`` patterns on module names, keeps only the candidates whose name, or the name of
    one of their parents (``"layer1"`` for ``"layer1.0.conv1"``), matches a pattern. Which
    candidates produce 4D outputs is only known once the model has run.

    Raises
    ------
    ValueError
        If a named module does not exist, ``layers`` matches no candidate (the message lists
        the candidates), or the model is or holds a TorchScript module (which cannot be hooked).
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    named = dict(model.named_modules())
    for name, mod in named.items():
        if isinstance(mod, torch.jit.ScriptModule):
            where = f"the model's submodule {name!r}" if name else "the model"
            raise ValueError(
                f"{where} is a TorchScript module ({type(mod).__name__}, from torch.jit.script "
                "or torch.jit.trace): forward hooks cannot be attached to it (scripting refuses "
                "them, tracing never calls them); pass the eager nn.Module instead"
            )
    user_down = _check_names("downsampling_layers", downsampling_layers, named)
    user_nl = _check_names("nonlinearities", nonlinearities, named)
    if layers is not None:
        if isinstance(layers, str):
            raise ValueError(f"layers must be a sequence of patterns, got the string {layers!r}")
        layers = list(layers)
        for p in layers:
            if not isinstance(p, str):
                raise ValueError(f"layers must hold fnmatch patterns (str), got {p!r}")
    internal = _internal_modules(named)
    infos = []
    for name, mod in named.items():
        leaf = all(_child_name(name, c) in internal for c, _ in mod.named_children())
        if name in user_down or name in user_nl:
            pass
        elif name in internal or not (leaf or isinstance(mod, _KNOWN_TYPES)):
            continue
        infos.append(
            LayerInfo(
                name=name,
                module=mod,
                downsampling=name in user_down or isinstance(mod, RATE_LOWERING_TYPES),
                nonlinearity=name in user_nl or isinstance(mod, NONLINEARITY_TYPES),
                user_downsampling=name in user_down,
            )
        )
    if layers is not None:
        kept = [i for i in infos if any(_matches(i.name, p) for p in layers)]
        if not kept:
            raise ValueError(
                f"layers must match a module: {layers} match no module; candidates are "
                f"{[i.name or '(model)' for i in infos]}"
            )
        infos = kept
    return infos


_KNOWN_TYPES = RATE_LOWERING_TYPES + NONLINEARITY_TYPES


def _child_name(parent: str, child: str) -> str:
    return f"{parent}.{child}" if parent else child


def _internal_modules(named: dict[str, nn.Module]) -> set[str]:
    """Names of modules that are a layer's internals, not layers: the weight parametrizations
    of ``torch.nn.utils.parametrize`` (``spectral_norm``, ``weight_norm``: their output is a
    weight, not a feature map) and everything below a module of a known type (such as the
    fake-quantisation observers of a quantisation-aware ``Conv2d``)."""
    owners = {n for n, m in named.items() if isinstance(m, _KNOWN_TYPES)}
    containers = {
        _child_name(n, "parametrizations") for n, m in named.items() if is_parametrized(m)
    }
    out = set()
    for name in named:
        parts = name.split(".") if name else []
        ancestors = {".".join(parts[:i]) for i in range(len(parts))}
        if name in containers or ancestors & (owners | containers):
            out.add(name)
    return out


def _matches(name: str, pattern: str) -> bool:
    parts = name.split(".")
    return any(fnmatch.fnmatchcase(".".join(parts[:i]), pattern) for i in range(1, len(parts) + 1))


def call_key(name: str, count: int) -> str:
    """Row key of the ``count``-th call (1-based) of module ``name`` in one forward pass.

    The root module (name ``""``, hooked when the model is a single leaf module) is ``"(model)"``.
    """
    name = name or "(model)"
    return name if count == 1 else f"{name}#{count}"


class _CallbackError(Exception):
    """Wraps an exception raised by the probe's own callback, so it is not blamed on the model."""


Callback = Callable[[str, LayerInfo, tuple, object], None]
PreCallback = Callable[[str, LayerInfo, tuple], None]

# Depth of hooks_paused() blocks: while > 0 the probe's hooks ignore every call.
_PAUSED = [0]


@contextlib.contextmanager
def hooks_paused() -> Iterator[None]:
    """Within this block ``run_hooked``'s hooks ignore module calls: the probe's own runs of a
    layer (its polyphase stride-1 equivalent, a nonlinearity applied to the analyzer's maps) are
    not rows, do not count as calls and do not enter the stack of running modules."""
    _PAUSED[0] += 1
    try:
        yield
    finally:
        _PAUSED[0] -= 1


def run_hooked(
    model: nn.Module,
    x: torch.Tensor,
    infos: Sequence[LayerInfo],
    on_output: Callback,
    on_input: PreCallback | None = None,
    forward_kwargs: Mapping[str, object] | None = None,
) -> object:
    """Run ``model(x, **forward_kwargs)`` with hooks; return its output.

    ``on_input(key, info, inputs)`` runs before and ``on_output(key, info, inputs, output)`` after
    each call of a hooked module, ``key`` from ``call_key`` (calls counted within this pass),
    except inside ``hooks_paused()``.

    Raises
    ------
    ValueError
        If the model raises: the message names the innermost module that was running, its type
        and the input shape, and chains the original exception.
    """
    by_module: dict[int, LayerInfo] = {id(i.module): i for i in infos}
    counts: dict[str, int] = {}
    pending: dict[int, list[str]] = {}
    stack: list[tuple[str, nn.Module]] = []
    handles = []

    def track_pre(mod: nn.Module, args: tuple, kwargs: dict, name: str) -> None:
        if _PAUSED[0]:
            return
        args = _positional(args, kwargs)
        stack.append((name, mod))
        info = by_module.get(id(mod))
        if info is not None:
            counts[info.name] = counts.get(info.name, 0) + 1
            key = call_key(info.name, counts[info.name])
            pending.setdefault(id(mod), []).append(key)
            if on_input is not None:
                try:
                    on_input(key, info, args)
                except Exception as exc:
                    raise _CallbackError() from exc

    def track_post(mod: nn.Module, args: tuple, kwargs: dict, out: object) -> None:
        if _PAUSED[0]:
            return
        args = _positional(args, kwargs)
        if stack:
            stack.pop()
        info = by_module.get(id(mod))
        if info is not None:
            key = pending[id(mod)].pop()
            try:
                on_output(key, info, args, out)
            except Exception as exc:
                raise _CallbackError() from exc

    try:
        for name, mod in model.named_modules():
            handles.append(
                mod.register_forward_pre_hook(
                    lambda m, a, kw, _n=name: track_pre(m, a, kw, _n), with_kwargs=True
                )
            )
            handles.append(mod.register_forward_hook(track_post, with_kwargs=True))
        try:
            # Compiled submodules run eagerly, so that the hooks inside them see every call.
            with torch.compiler.set_stance("force_eager"):
                return model(x, **(forward_kwargs or {}))
        except _CallbackError as wrapped:
            raise wrapped.__cause__ from None  # type: ignore[misc]
        except Exception as exc:
            if stack:
                name, mod = stack[-1]
                where = (
                    f"layer {name!r} ({type(mod).__name__})"
                    if name
                    else (f"the model's own forward ({type(mod).__name__})")
                )
            else:
                where = f"the model ({type(model).__name__})"
            raise ValueError(
                f"model failed on input shape {tuple(x.shape)} in {where}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    finally:
        for h in handles:
            h.remove()


def _positional(args: tuple, kwargs: dict) -> tuple:
    """A call's input as positional arguments: ``args``, or, for a module called with its one
    tensor as a keyword (``self.act(input=x)``), that tensor alone — otherwise such a layer
    would be measured without an input."""
    if args or not kwargs:
        return args
    tensors = [v for v in kwargs.values() if isinstance(v, torch.Tensor)]
    return (tensors[0],) if len(tensors) == 1 else args
