"""Saving and loading generators without pickle: safetensors weights + a JSON config.

``save_generator(G, "out/g")`` writes ``out/g.safetensors`` (every parameter and buffer of
``G.state_dict()``, float32/float16 as stored) and ``out/g.json``::

    {"format": "aliasfree-generator", "version": 1, "kind": "alias_free" | "baseline",
     "preset": "t-tiny" | null, "kwargs": {...constructor kwargs...},
     "weights": "g.safetensors"}

Both files are written atomically (temporary file + rename; the JSON last, so a config always
points at complete weights). Loading rebuilds the class named by ``kind`` (only the generator
classes of :func:`gan.networks.presets.generator_class`; nothing is imported by name from the
file) with ``kwargs`` and loads the weights strictly.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dsp._io import mkstemp_output, output_mode, prepare_output, write_json_atomic
from gan._compile import eager_module

from .presets import generator_class

__all__ = ["save_generator", "load_generator", "generator_paths"]

FORMAT = "aliasfree-generator"
VERSION = 1
# gan.training.checkpoint.FORMAT, spelled out: the networks package does not import training.
_TRAINING_FORMAT = "aliasfree-training-state"


def generator_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """``(weights, config)`` paths for ``path`` given as the stem, ``.safetensors`` or ``.json``;
    a folder (existing, or written with a trailing separator) means ``folder/generator``, the
    name a training run uses, so that saving and loading a run folder agree."""
    p = Path(path)
    if p.is_dir() or str(path).endswith(("/", os.sep)):
        p = p / "generator"
    elif p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    if not p.name:
        raise ValueError(f"path must name a file, got {str(path)!r}")
    return p.with_name(p.name + ".safetensors"), p.with_name(p.name + ".json")


def _kind_and_kwargs(G: nn.Module) -> tuple[str, dict[str, Any]]:
    kind = getattr(G, "preset_kind", None)
    kwargs = getattr(G, "build_kwargs", None)
    if kwargs is None:
        kwargs = getattr(G, "init_kwargs", None)
    if kind is None:
        for k in ("alias_free", "baseline"):
            try:
                cls = generator_class(k)
            except ImportError:
                continue
            if type(G) is cls:
                kind = k
                break
    if kind is None or kwargs is None:
        raise ValueError(
            "G must come from gan.networks.presets.build_generator or be an AliasFreeGenerator "
            f"(constructor kwargs unknown for {type(G).__name__})"
        )
    return kind, dict(kwargs)


def save_generator(G: nn.Module, path: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``G``'s weights (safetensors) and config (JSON) beside each other, atomically.

    Returns ``(weights_path, config_path)``.

    Raises
    ------
    ValueError
        ``G`` is not a generator whose constructor kwargs are known, or the kwargs are not
        JSON-serialisable.
    """
    from safetensors.torch import save_file

    if not isinstance(G, nn.Module):
        raise ValueError(f"G must be a torch.nn.Module, got {type(G).__name__}")
    G = eager_module(G)  # a compiled G's state_dict keys carry the wrapper's "_orig_mod." prefix
    kind, kwargs = _kind_and_kwargs(G)
    config = {
        "format": FORMAT,
        "version": VERSION,
        "kind": kind,
        "preset": getattr(G, "preset", None),
        "kwargs": kwargs,
    }
    weights_path, config_path = generator_paths(path)
    config["weights"] = weights_path.name
    try:
        json.dumps(config)
    except TypeError as exc:
        raise ValueError(f"G's constructor kwargs are not JSON-serialisable: {exc}") from exc

    # Cloned: safetensors refuses tensors that share storage (tied weights, views of a buffer).
    state = {k: v.detach().cpu().contiguous().clone() for k, v in G.state_dict().items()}
    prepare_output(weights_path)
    prepare_output(config_path)
    fd, tmp = mkstemp_output(weights_path)
    os.close(fd)
    try:
        save_file(state, tmp, metadata={"format": FORMAT, "kind": kind})
        os.chmod(tmp, output_mode())  # safetensors recreates the file private (0o600)
        os.replace(tmp, weights_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    write_json_atomic(config_path, config)
    return weights_path, config_path


def load_generator(
    path: str | os.PathLike, *, device: torch.device | str | None = None
) -> nn.Module:
    """Rebuild a generator written by :func:`save_generator` (in eval mode, on ``device``).

    A generator saved in float64 (every floating tensor float64, as after ``G.double()``) is
    rebuilt in float64; otherwise in float32, as built.

    ``path`` may be the stem, the ``.safetensors`` or the ``.json`` file, or a folder holding
    ``generator.json`` (a training run folder: its final generator).

    Raises
    ------
    ValueError
        Missing files, a config of another format/version or unknown kind, an unreadable
        (e.g. truncated) weights file, or weights that do not match the rebuilt network.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if Path(path).is_dir():
        if not (Path(path) / "generator.json").is_file():
            raise ValueError(
                f"{str(path)!r} is a folder without generator.json: pass a generator written by "
                "save_generator (stem, .json or .safetensors) or a training run folder (it has "
                "one from its first snapshot on)"
            )
        path = Path(path) / "generator"
    _, config_path = generator_paths(path)
    if not config_path.is_file():
        # An image, a zip, ...: "no generator config at x.png.json" would mislead.
        if Path(path).is_file() and Path(path).suffix not in (".json", ".safetensors"):
            raise ValueError(
                f"{str(path)!r} is not a generator: pass one written by save_generator (its "
                "stem, .json or .safetensors file) or a training run folder"
            )
        raise ValueError(
            f"no generator config at {config_path} (a generator is a .json config beside its "
            ".safetensors weights: pass either file, their stem, or a training run folder)"
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{config_path} is not valid JSON: {exc}") from exc
    if isinstance(config, dict) and config.get("format") == _TRAINING_FORMAT:
        # It holds G_ema's weights, but not the generator's constructor arguments (c_dim
        # comes from the dataset): the run's generator.json is the loadable form.
        raise ValueError(
            f"{config_path} is a training checkpoint, not a generator: pass its run folder "
            f"{str(config_path.parent)!r} or the generator.json there (the EMA generator of "
            "the run's latest snapshot)"
        )
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(f"{config_path} is not an {FORMAT} config")
    if config.get("version") != VERSION:
        raise ValueError(f"{config_path}: unsupported version {config.get('version')!r}")
    kwargs = config.get("kwargs")
    if not isinstance(kwargs, dict):
        raise ValueError(f"{config_path}: 'kwargs' must be an object")
    cls = generator_class(config.get("kind"))
    weights_path = config_path.with_name(str(config.get("weights", "")))
    if not weights_path.is_file():
        raise ValueError(f"no generator weights at {weights_path}")

    G = cls(**kwargs)
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError) as exc:
        # A truncated or overwritten file: say which file, not a deserializer's traceback.
        raise ValueError(f"{weights_path} is not a readable safetensors file: {exc}") from exc
    dtypes = {v.dtype for v in state.values() if v.is_floating_point()}
    if dtypes == {torch.float64}:
        # Saved from a float64 generator (``G.double()``): loading into the float32 build would
        # round every weight silently.
        G = G.double()
    try:
        G.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{weights_path} does not match the configured generator: {exc}") from exc
    G.preset = config.get("preset")
    G.preset_kind = config["kind"]
    G.build_kwargs = kwargs
    return G.to(device).eval() if device is not None else G.eval()
