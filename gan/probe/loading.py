"""Load the model to probe: a ``package.module:factory`` spec or a built-in example, with
optional weights read safely (issue 6).

Weights are never unpickled as arbitrary objects: ``.safetensors`` files go through
``safetensors.torch.load_file``; anything else through ``torch.load(..., weights_only=True)``,
which only rebuilds tensors and plain containers.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import os
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import torch
from torch import nn

from gan._compile import eager_module

__all__ = ["parse_spec", "load_model", "load_weights", "read_state_dict"]

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_SPEC = re.compile(rf"^({_IDENT}(?:\.{_IDENT})*):({_IDENT}(?:\.{_IDENT})*)$")


def parse_spec(spec: str) -> tuple[str, str] | str:
    """Split a MODEL spec.

    Returns ``(module, attribute)`` for ``"package.module:factory"`` (the attribute may be
    dotted, e.g. ``"pkg.mod:Class.build"``), or the lower-cased name of a built-in example
    (:data:`gan.probe.examples.EXAMPLES`).

    Raises
    ------
    ValueError
        Neither a valid ``module:factory`` spec nor a built-in example name.
    """
    from gan.probe.examples import EXAMPLES

    if not isinstance(spec, str):
        raise ValueError(f"model spec must be a string, got {type(spec).__name__}")
    text = spec.strip()
    if text.lower() in EXAMPLES:
        return text.lower()
    m = _SPEC.match(text)
    if m is None:
        raise ValueError(
            f"model spec must be 'package.module:factory' (a callable taking no arguments that "
            f"returns an nn.Module) or a built-in example {sorted(EXAMPLES)}, got {spec!r}"
        )
    return m.group(1), m.group(2)


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors of a weights file: safetensors (by the ``.safetensors`` suffix) or a torch state
    dict (``torch.load(weights_only=True)``; a checkpoint dict holding the state dict under
    ``"state_dict"`` or ``"model"`` is unwrapped).

    Raises
    ------
    ValueError
        Missing file, unreadable content, or content that is not a mapping of names to tensors.
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"weights file {str(p)!r} does not exist")
    try:
        if p.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            sd = load_file(str(p), device="cpu")
        else:
            sd = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        # torch.load refuses pickled non-tensor objects with an UnpicklingError; safetensors
        # raises its own error types; both mean "not a weights file we can read safely".
        raise ValueError(
            f"cannot read weights from {str(p)!r} ({type(exc).__name__}: {exc}); expected a "
            "safetensors file or a torch state dict saved with torch.save(model.state_dict())"
        ) from exc
    if isinstance(sd, Mapping):
        for key in ("state_dict", "model"):
            if key in sd and isinstance(sd[key], Mapping):
                sd = sd[key]
                break
    if not isinstance(sd, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in sd.items()
    ):
        raise ValueError(f"weights file {str(p)!r} does not hold a mapping of names to tensors")
    return dict(sd)


def load_weights(model: nn.Module, path: str | os.PathLike) -> nn.Module:
    """Load the weights file ``path`` into ``model`` (strict: same keys and shapes), after
    removing the key prefixes of ``torch.compile`` (``_orig_mod.``) and ``DataParallel``
    (``module.``) where all of the file's keys carry them and the model's do not.

    Raises
    ------
    ValueError
        Unreadable file (see :func:`read_state_dict`), missing or unexpected keys (listed), or
        shape mismatches (listed).
    """
    own = model.state_dict()
    sd = _strip_wrapper_prefixes(read_state_dict(path), own)
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    wrong = sorted(
        f"{k}: file {list(sd[k].shape)} vs model {list(own[k].shape)}"
        for k in set(own) & set(sd)
        if tuple(sd[k].shape) != tuple(own[k].shape)
    )
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing keys {_clip(missing)}")
        if unexpected:
            parts.append(f"unexpected keys {_clip(unexpected)}")
        if wrong:
            parts.append(f"shape mismatches {_clip(wrong)}")
        raise ValueError(f"weights {str(path)!r} do not fit the model: " + "; ".join(parts))
    model.load_state_dict(sd, strict=True)
    return model


#: Key prefixes that wrappers add to a saved state dict: ``torch.compile`` (``_orig_mod.``) and
#: ``nn.DataParallel`` / ``DistributedDataParallel`` (``module.``).
WRAPPER_PREFIXES = ("_orig_mod.", "module.")


def _strip_wrapper_prefixes(
    sd: dict[str, torch.Tensor], own: Mapping[str, object]
) -> dict[str, torch.Tensor]:
    """``sd`` without the prefixes of ``WRAPPER_PREFIXES`` (repeatedly: ``module._orig_mod.``)
    where every key of the file carries one and no key of the model does: weights saved from
    a compiled or data-parallel model load into the plain module."""
    while sd:
        for prefix in WRAPPER_PREFIXES:
            if all(k.startswith(prefix) for k in sd) and not any(k.startswith(prefix) for k in own):
                sd = {k[len(prefix) :]: v for k, v in sd.items()}
                break
        else:
            return sd
    return sd


def _clip(items: list[str], n: int = 10) -> str:
    shown = ", ".join(items[:n])
    return f"[{shown}{', ...' if len(items) > n else ''}] ({len(items)})"


def _check_no_argument_call(spec: str, attr: str, obj: object) -> None:
    """Raise ``ValueError`` if ``obj`` cannot be called without arguments (checked up front, so
    that a TypeError raised inside a working factory still surfaces as itself)."""
    try:
        sig = inspect.signature(obj)  # type: ignore[arg-type]
    except (TypeError, ValueError):  # some builtins have no signature: just try the call
        return
    try:
        sig.bind()
    except TypeError as exc:
        raise ValueError(
            f"model spec {spec!r}: {attr} must be callable without arguments ({exc}); wrap it "
            "in a factory function that returns the nn.Module"
        ) from None


def _on_sys_path(directory: str) -> bool:
    """Whether ``directory`` is already searched by imports (``""`` means the working folder)."""
    here = os.path.realpath(directory)
    return any(os.path.realpath(p or os.curdir) == here for p in sys.path if isinstance(p, str))


@contextlib.contextmanager
def _user_module(mod_name: str) -> Iterator[object]:
    """Import ``mod_name``; if its top-level package is not found, retry with the current
    working folder at the front of ``sys.path`` (the ``aliasfree`` console script, unlike
    ``python -m``, does not put it there), as uvicorn's ``--app-dir`` does. The folder stays on
    ``sys.path`` while the ``with`` block runs (the factory call, which may import more of the
    user's modules) and is removed afterwards; modules imported meanwhile stay imported."""
    added = None
    try:
        mod = importlib.import_module(mod_name)
    except ModuleNotFoundError as exc:
        cwd = os.getcwd()
        if exc.name != mod_name.partition(".")[0] or _on_sys_path(cwd):
            raise
        sys.path.insert(0, cwd)
        added = cwd
        try:
            mod = importlib.import_module(mod_name)
        except BaseException:
            _remove_path(added)
            raise
    try:
        yield mod
    finally:
        if added is not None:
            _remove_path(added)


def _remove_path(entry: str) -> None:
    # Our one entry, wherever it is now (the user's code may have edited sys.path meanwhile).
    with contextlib.suppress(ValueError):
        sys.path.remove(entry)


def _a_type(obj: object) -> str:
    """``obj``'s type name with its indefinite article: ``"an int"``, ``"a str"``."""
    name = type(obj).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _model_from(spec: str, mod: object, mod_name: str, attr: str) -> nn.Module:
    """The module named by ``attr`` in ``mod``: an ``nn.Module`` itself or what its factory
    returns."""
    obj: object = mod
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"model spec {spec!r}: module {mod_name!r} has no {attr!r}")
        obj = getattr(obj, part)
    if isinstance(obj, nn.Module):
        model = obj
    elif not callable(obj):
        raise ValueError(f"model spec {spec!r}: {attr!r} is {_a_type(obj)}, not callable")
    else:
        _check_no_argument_call(spec, attr, obj)
        model = obj()
        if not isinstance(model, nn.Module):
            raise ValueError(
                f"model spec {spec!r}: {attr}() returned {_a_type(model)}, not an nn.Module"
            )
    return model


def load_model(spec: str, *, weights: str | os.PathLike | None = None, **kw: object) -> nn.Module:
    """The model named by ``spec``, in eval mode, with ``weights`` loaded if given.

    Parameters
    ----------
    spec : str
        ``"package.module:factory"``: imports ``package.module`` and calls ``factory()`` (no
        arguments; it must return an ``nn.Module``), or a built-in example name
        (:func:`gan.probe.examples.build_example`, which also takes ``**kw``). A package that
        ``sys.path`` does not hold is looked for in the current working folder, which is on
        ``sys.path`` only while the module is imported and the factory runs.
    weights : path, optional
        Safetensors or torch state dict (:func:`load_weights`).

    Raises
    ------
    ValueError
        Bad spec format, module not found, missing attribute, factory not callable or not
        returning an ``nn.Module``, or weights that do not fit (keys listed).
    """
    parsed = parse_spec(spec)
    if isinstance(parsed, str):
        from gan.probe.examples import build_example

        model = build_example(parsed, **kw)
    else:
        if kw:
            raise ValueError(f"keyword arguments {sorted(kw)} apply to built-in examples only")
        mod_name, attr = parsed
        stack = contextlib.ExitStack()
        try:
            mod = stack.enter_context(_user_module(mod_name))
        except ModuleNotFoundError as exc:
            raise ValueError(
                f"model spec {spec!r}: cannot import module {mod_name!r} ({exc}; looked on "
                "sys.path and in the current folder)"
            ) from exc
        with stack:
            model = _model_from(spec, mod, mod_name, attr)
    # A factory may return torch.compile(model): the probe measures the module itself, and its
    # weights file has the module's keys (the wrapper prefixes them with "_orig_mod.").
    model = eager_module(model)
    if weights is not None:
        load_weights(model, weights)
    return model.eval()
