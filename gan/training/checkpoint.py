"""Training checkpoints: safetensors tensors + a JSON commit file, written atomically, no pickle.

A checkpoint of step ``s`` in ``run_dir`` is two files::

    checkpoint-{s:08d}.safetensors   every tensor: module states, optimizer tensor states, RNGs
    checkpoint-{s:08d}.json          everything else, and the commit record

Tensor keys in the safetensors file:

* ``module/{name}/{state_dict key}`` -- parameters and buffers of each module;
* ``optim/{name}/...`` -- every tensor inside ``optimizer.state_dict()`` (Adam's ``exp_avg``,
  ``exp_avg_sq``, tensor ``step``; tensor hyperparameters), at the path of its keys;
* ``rng/torch_cpu``, ``rng/cuda/{i}``, ``rng/numpy/keys``, ``generator/{name}`` -- random
  number generator states as uint8 tensors.

The JSON holds the format and version, the step, the safetensors file name with its size and
SHA-256, the non-tensor parts of the optimizer states (``param_groups`` hyperparameters,
non-tensor step counts; tensors replaced by ``{"__tensor__": key}``), numpy's and Python's
scalar RNG state, and the caller's ``extra`` dict (ADA p, kimg counters, options...).

Atomicity: each file goes to a temporary file in ``run_dir``, is flushed and ``fsync``-ed and
then renamed over its final name (``os.replace``, atomic on POSIX and Windows), and the
directory is ``fsync``-ed. The JSON is written last and names the checksum of the tensors, so a
checkpoint counts as complete only when its JSON exists and matches; a process killed at any
moment leaves either the new complete checkpoint or the previous ones untouched, plus at most
stray temporary or orphaned files that :func:`find_latest` ignores and the next save removes.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dsp._checks import check_int
from dsp._io import output_mode

__all__ = [
    "FORMAT",
    "VERSION",
    "save_training_state",
    "load_training_state",
    "read_checkpoint_info",
    "list_checkpoints",
    "find_latest",
    "resolve_resume",
    "checkpoint_at",
    "checkpoint_paths",
    "CheckpointError",
]

FORMAT = "aliasfree-training-state"
VERSION = 1
_PREFIX = "checkpoint-"
_NAME_RE = re.compile(r"^checkpoint-(\d{8,})\.json$")
_TMP_MARK = ".tmp-"
# gan.networks.io.FORMAT: the generator a run exports (generator.json), named in the error when
# it is given where a training checkpoint is expected.
_GENERATOR_FORMAT = "aliasfree-generator"


class CheckpointError(ValueError):
    """A checkpoint is missing, incomplete, corrupt, or does not fit the given networks."""


# ----------------------------------------------------------------------------------------------
# Paths


def checkpoint_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """``(tensors, commit)`` = the ``.safetensors`` and ``.json`` paths of one checkpoint.

    ``path`` may be the stem (``run/checkpoint-00000100``) or either file.
    """
    p = Path(path)
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    if not p.name:
        raise CheckpointError(f"checkpoint path must name a file, got {str(path)!r}")
    return p.with_name(p.name + ".safetensors"), p.with_name(p.name + ".json")


def _step_of(json_path: Path) -> int:
    m = _NAME_RE.match(json_path.name)
    return int(m.group(1)) if m else -1


def checkpoint_at(run_dir: str | os.PathLike, step: int) -> Path:
    """The commit (``.json``) path of the checkpoint of ``step`` in ``run_dir``, written or not."""
    return checkpoint_paths(Path(run_dir) / f"{_PREFIX}{step:08d}")[1]


# ----------------------------------------------------------------------------------------------
# Durable atomic writes


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not supported on every platform (e.g. Windows).
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_bytes(fh: Any, data: bytes | memoryview, tmp_path: str) -> None:
    """Write all of ``data`` to ``fh``, open on ``tmp_path`` (separate so tests can slow it)."""
    fh.write(data)


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{_TMP_MARK}", dir=path.parent)
    try:
        os.fchmod(fd, output_mode())  # mkstemp's 0o600 would hide checkpoints from the group
        with os.fdopen(fd, "wb") as fh:
            _write_bytes(fh, data, tmp)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


# ----------------------------------------------------------------------------------------------
# Encoding nested state (optimizer state_dicts) into JSON + named tensors


def _encode(obj: Any, key: str, tensors: dict[str, torch.Tensor]) -> Any:
    """JSON-able copy of ``obj``; tensors go to ``tensors[key/...]`` and leave a reference."""
    if isinstance(obj, torch.Tensor):
        tensors[key] = obj.detach().cpu().contiguous().clone()
        return {"__tensor__": key}
    if isinstance(obj, Mapping):
        items = list(obj.items())
        if all(isinstance(k, str) and not k.startswith("__") for k, _ in items):
            return {k: _encode(v, f"{key}/{k}", tensors) for k, v in items}
        out = []
        for k, v in items:
            if isinstance(k, bool) or not isinstance(k, (str, int)):
                raise CheckpointError(f"cannot store a dict key of type {type(k).__name__}")
            out.append([k, _encode(v, f"{key}/{k}", tensors)])
        return {"__items__": out}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, f"{key}/{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, f"{key}/{i}", tensors) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        # JSON has no inf/nan; keep them exact through a tagged string.
        return obj if math.isfinite(obj) else {"__float__": repr(obj)}
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return _encode(obj.item(), key, tensors)
    raise CheckpointError(f"cannot store a value of type {type(obj).__name__} at {key!r}")


def _decode(obj: Any, tensors: Mapping[str, torch.Tensor], where: str) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors, where) for v in obj]
    if isinstance(obj, dict):
        if set(obj) == {"__tensor__"}:
            name = obj["__tensor__"]
            if name not in tensors:
                raise CheckpointError(f"{where}: tensor {name!r} missing from the safetensors file")
            return tensors[name]
        if set(obj) == {"__tuple__"}:
            return tuple(_decode(v, tensors, where) for v in obj["__tuple__"])
        if set(obj) == {"__items__"}:
            return {k: _decode(v, tensors, where) for k, v in obj["__items__"]}
        if set(obj) == {"__float__"}:
            return float(obj["__float__"])
        return {k: _decode(v, tensors, where) for k, v in obj.items()}
    return obj


# ----------------------------------------------------------------------------------------------
# Random number generators


def _capture_rng(
    tensors: dict[str, torch.Tensor], generators: Mapping[str, torch.Generator]
) -> dict[str, Any]:
    tensors["rng/torch_cpu"] = torch.get_rng_state().clone()
    n_cuda = 0
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{i}"] = s.cpu().clone()
            n_cuda += 1
    # The legacy global state is exactly what third-party code drawing from np.random uses.
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)  # noqa: NPY002
    tensors["rng/numpy/keys"] = torch.from_numpy(
        np.ascontiguousarray(keys, dtype="<u4").view(np.uint8).copy()
    )
    for name, gen in generators.items():
        tensors[f"generator/{name}"] = gen.get_state().clone()
    version, internal, gauss_next = random.getstate()
    return {
        "cuda_devices": n_cuda,
        "numpy": {"kind": kind, "pos": int(pos), "has_gauss": int(has_gauss), "cached": cached},
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
        "generators": sorted(generators),
    }


def _restore_rng(
    info: Mapping[str, Any],
    tensors: Mapping[str, torch.Tensor],
    generators: Mapping[str, torch.Generator],
    where: str,
) -> None:
    try:
        torch_cpu = tensors["rng/torch_cpu"]
        keys = tensors["rng/numpy/keys"].numpy().view("<u4").astype(np.uint32)
        npi = info["numpy"]
        py = info["python"]
        np_state = (npi["kind"], keys, npi["pos"], npi["has_gauss"], float(npi["cached"]))
        py_state = (py["version"], tuple(py["internal"]), py["gauss_next"])
        gen_states = {}
        for name in generators:
            if f"generator/{name}" not in tensors:
                raise KeyError(f"generator/{name}")
            gen_states[name] = tensors[f"generator/{name}"]
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{where}: random state missing or malformed ({exc})") from exc
    torch.set_rng_state(torch_cpu.to(torch.uint8).cpu())
    np.random.set_state(np_state)  # noqa: NPY002
    random.setstate(py_state)
    n_cuda = int(info.get("cuda_devices", 0))
    if n_cuda and torch.cuda.is_available():
        for i in range(min(n_cuda, torch.cuda.device_count())):
            torch.cuda.set_rng_state(tensors[f"rng/cuda/{i}"].to(torch.uint8).cpu(), i)
    for name, gen in generators.items():
        gen.set_state(gen_states[name].to(torch.uint8).cpu())


# ----------------------------------------------------------------------------------------------
# Save


def _check_names(kind: str, d: object, cls: type) -> dict:
    if d is None:
        return {}
    if not isinstance(d, Mapping):
        raise ValueError(f"{kind} must be a dict of name -> {cls.__name__}")
    for name, obj in d.items():
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"{kind} names must be non-empty strings without '/', got {name!r}")
        if not isinstance(obj, cls):
            raise ValueError(f"{kind}[{name!r}] must be a {cls.__name__}, got {type(obj).__name__}")
    return dict(d)


def _unwrap(module: nn.Module) -> nn.Module:
    # DistributedDataParallel prefixes keys with "module.", torch.compile's wrapper with
    # "_orig_mod.": store (and load into) the bare network.
    from gan._compile import eager_module

    inner = getattr(module, "module", None)
    if isinstance(module, nn.parallel.DistributedDataParallel) and isinstance(inner, nn.Module):
        module = inner
    return eager_module(module)


def save_training_state(
    run_dir: str | os.PathLike,
    step: int,
    *,
    modules: Mapping[str, nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
    extra: Mapping[str, Any] | None = None,
    keep: int = 3,
    generators: Mapping[str, torch.Generator] | None = None,
) -> Path:
    """Write a checkpoint of the whole training state atomically and prune old ones.

    Writes ``run_dir/checkpoint-{step:08d}.safetensors`` (module states, optimizer tensor
    states, RNG states) and then ``run_dir/checkpoint-{step:08d}.json`` (commit record; see
    the module docstring for the layout), then deletes all but the ``keep`` newest complete
    checkpoints and any stray temporary/orphaned files of earlier interrupted saves. In a
    multi-process run call this on the main rank only.

    Parameters
    ----------
    run_dir : path
        Output folder (created if needed).
    step : int
        Training step (or image count) that names the checkpoint, >= 0. Saving a step that
        already exists replaces it.
    modules : dict of str -> nn.Module
        E.g. ``{"G": G, "D": D, "G_ema": G_ema, "augment": pipe}``; parameters and buffers.
    optimizers : dict of str -> torch.optim.Optimizer, optional
        Their full ``state_dict()``.
    extra : dict, optional
        JSON-serialisable caller state (ADA p, counters, options), returned by
        :func:`load_training_state`.
    keep : int
        Number of newest complete checkpoints to keep, >= 1.
    generators : dict of str -> torch.Generator, optional
        Explicit generators whose states are saved besides the global torch (CPU and every
        initialised CUDA device), numpy (legacy global) and Python ``random`` states.

    Returns
    -------
    Path
        The JSON commit file of the new checkpoint.

    Raises
    ------
    ValueError
        Bad arguments, names containing ``/``, or ``extra`` not JSON-serialisable.
    """
    step = check_int("step", step, minimum=0)
    keep = check_int("keep", keep, minimum=1)
    modules = _check_names("modules", modules, nn.Module)
    optimizers = _check_names("optimizers", optimizers, torch.optim.Optimizer)
    generators = _check_names("generators", generators, torch.Generator)
    extra = {} if extra is None else extra
    if not isinstance(extra, Mapping):
        raise ValueError(f"extra must be a dict, got {type(extra).__name__}")
    try:
        extra_json = json.loads(json.dumps(dict(extra), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"extra must be JSON-serialisable (finite numbers): {exc}") from exc

    from safetensors.torch import save as st_save

    tensors: dict[str, torch.Tensor] = {}
    module_keys: dict[str, list[str]] = {}
    for name, module in modules.items():
        state = _unwrap(module).state_dict()
        module_keys[name] = list(state.keys())
        for k, v in state.items():
            # clone: safetensors refuses tensors that share memory (tied weights, views).
            tensors[f"module/{name}/{k}"] = v.detach().cpu().contiguous().clone()
    optim_json = {
        name: _encode(opt.state_dict(), f"optim/{name}", tensors)
        for name, opt in optimizers.items()
    }
    rng_json = _capture_rng(tensors, generators)

    data = st_save(tensors, metadata={"format": FORMAT, "version": str(VERSION)})
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    tensor_path, json_path = checkpoint_paths(checkpoint_at(run_dir, step))
    commit = {
        "format": FORMAT,
        "version": VERSION,
        "step": step,
        "tensors": tensor_path.name,
        "tensors_bytes": len(data),
        "tensors_sha256": hashlib.sha256(data).hexdigest(),
        "modules": module_keys,
        "optimizers": optim_json,
        "rng": rng_json,
        "extra": extra_json,
        "torch_version": torch.__version__,
    }
    commit_bytes = (json.dumps(commit, indent=1) + "\n").encode("utf-8")

    # Un-commit an existing checkpoint of this step before its tensors are replaced, so a crash
    # in between never pairs an old JSON with new tensors.
    if json_path.exists():
        json_path.unlink()
        _fsync_dir(run_dir)
    _write_atomic(tensor_path, data)
    _write_atomic(json_path, commit_bytes)
    _prune(run_dir, keep, current=tensor_path)
    return json_path


def _prune(run_dir: Path, keep: int, current: Path) -> None:
    # The checkpoint just written always survives, even when newer steps exist (a run resumed
    # from an older checkpoint): the others compete for the remaining keep - 1 places.
    current_json = checkpoint_paths(current)[1]
    others = [(s, p) for s, p in list_checkpoints(run_dir) if p != current_json]
    step = _step_of(current_json)
    newer = [s for s, _ in others if s > step]
    removed = others[: max(0, len(others) - (keep - 1))]
    for _, json_path in removed:
        tensor_path, _ = checkpoint_paths(json_path)
        json_path.unlink(missing_ok=True)  # un-commit first
        tensor_path.unlink(missing_ok=True)
    gone = {s for s, _ in removed}
    kept = [s for s in newer if s not in gone]
    if kept:
        warnings.warn(
            f"{run_dir} holds checkpoints newer than step {step} (steps {kept}); "
            f"'--resume latest' would pick step {max(kept)}",
            stacklevel=3,
        )
    elif newer:
        warnings.warn(
            f"deleted checkpoints newer than step {step} in {run_dir} (steps {newer}): "
            f"keep={keep} leaves only the newest saved",
            stacklevel=3,
        )
    committed = {checkpoint_paths(p)[0].name for _, p in list_checkpoints(run_dir)}
    for f in run_dir.iterdir():
        name = f.name
        stray_tmp = name.startswith(f".{_PREFIX}") and _TMP_MARK in name
        orphan = (
            name.startswith(_PREFIX)
            and name.endswith(".safetensors")
            and name not in committed
            and f != current
        )
        if (stray_tmp or orphan) and f.is_file():
            f.unlink(missing_ok=True)


# ----------------------------------------------------------------------------------------------
# Find / inspect


def _read_commit(json_path: Path) -> dict[str, Any]:
    if not json_path.is_file():
        raise CheckpointError(
            f"no checkpoint at {json_path} (missing JSON commit file; an interrupted save "
            "leaves none)"
        )
    try:
        info = json.loads(json_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{json_path} is corrupt (not valid JSON: {exc})") from exc
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        hint = ""
        if isinstance(info, dict) and info.get("format") == _GENERATOR_FORMAT:
            hint = (
                " (it is an exported generator, for `aliasfree generate --checkpoint`; a run "
                "continues from one of its checkpoint-*.json files, or from --resume latest)"
            )
        raise CheckpointError(f"{json_path} is not an {FORMAT} checkpoint{hint}")
    if info.get("version") != VERSION:
        raise CheckpointError(
            f"{json_path}: unsupported checkpoint version {info.get('version')!r} "
            f"(this code reads version {VERSION})"
        )
    for key, typ in (("step", int), ("tensors", str), ("tensors_bytes", int)):
        if not isinstance(info.get(key), typ):
            raise CheckpointError(f"{json_path} is corrupt (field {key!r} missing or malformed)")
    return info


def read_checkpoint_info(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON commit record of a checkpoint (``step``, ``extra``, ...) without its tensors.

    Raises
    ------
    CheckpointError
        Missing, unreadable or foreign JSON.
    """
    return _read_commit(checkpoint_paths(path)[1])


def list_checkpoints(run_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """``(step, json_path)`` of every committed checkpoint in ``run_dir``, oldest first.

    A checkpoint is listed when its JSON commit file and its tensor file both exist (cheap
    check; contents are verified by :func:`load_training_state`). A missing folder → ``[]``.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    out = []
    for f in run_dir.iterdir():
        m = _NAME_RE.match(f.name)
        if m and f.is_file() and checkpoint_paths(f)[0].is_file():
            out.append((int(m.group(1)), f))
    return sorted(out)


def find_latest(
    run_dir: str | os.PathLike, *, on_skip: Callable[[str], None] | None = None
) -> Path | None:
    """JSON path of the newest complete, readable checkpoint in ``run_dir``, or ``None``.

    Checkpoints are tried newest first; one whose commit record cannot be read, whose tensor
    file is missing, has the wrong size (truncated) or fails its SHA-256 (a same-size
    corruption, which would otherwise block the resume) is skipped, and said: ``on_skip(text)``
    is called with the reason (``"skipping checkpoint ...: ..."``), or, without ``on_skip``, a
    ``UserWarning`` is issued. The hash reads the chosen tensor file once: a resume reads it
    anyway.
    """

    def skip(text: str) -> None:
        if on_skip is None:
            warnings.warn(text, stacklevel=3)
        else:
            on_skip(text)

    run_dir = Path(run_dir)
    if run_dir.is_dir():
        for f in sorted(run_dir.iterdir()):
            if _NAME_RE.match(f.name) and f.is_file() and not checkpoint_paths(f)[0].is_file():
                skip(
                    f"skipping checkpoint {f}: its tensor file {checkpoint_paths(f)[0].name} "
                    "is missing"
                )
    for _, json_path in reversed(list_checkpoints(run_dir)):
        try:
            info = _read_commit(json_path)
            tensor_path = json_path.with_name(info["tensors"])
            size = tensor_path.stat().st_size
        except (CheckpointError, OSError) as exc:
            skip(f"skipping unreadable checkpoint {json_path}: {exc}")
            continue
        if size != info["tensors_bytes"]:
            skip(
                f"skipping checkpoint {json_path}: {tensor_path.name} has {size} bytes, "
                f"expected {info['tensors_bytes']}"
            )
            continue
        want = info.get("tensors_sha256")
        if want is not None and _file_sha256(tensor_path) != want:
            skip(
                f"skipping checkpoint {json_path}: {tensor_path.name} is corrupt (SHA-256 does "
                "not match its commit record)"
            )
            continue
        return json_path
    return None


def _file_sha256(path: Path) -> str | None:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 24), b""):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()


def resolve_resume(
    arg: str | os.PathLike | None,
    run_dir: str | os.PathLike,
    *,
    on_skip: Callable[[str], None] | None = None,
) -> Path | None:
    """Turn a ``--resume`` argument into a checkpoint's JSON path.

    * ``None`` or ``""`` → ``None`` (start fresh);
    * ``"latest"`` → :func:`find_latest` of ``run_dir`` (``None`` when there is none yet, so
      ``--resume latest`` also works for the first run);
    * a folder → its newest checkpoint (error if it has none);
    * otherwise a checkpoint stem, ``.json`` or ``.safetensors`` path (error if it has no
      commit file, or one that is no training checkpoint, such as a run's exported
      ``generator.json``).

    ``on_skip`` is passed to :func:`find_latest` (how skipped checkpoints are reported).

    Raises
    ------
    CheckpointError
        The named checkpoint or folder has no complete checkpoint; the message starts with
        ``--resume`` and the argument as given.
    """
    if arg is None or (isinstance(arg, str) and arg == ""):
        return None
    if isinstance(arg, str) and arg == "latest":
        return find_latest(run_dir, on_skip=on_skip)
    p = Path(arg)
    if p.is_dir():
        latest = find_latest(p, on_skip=on_skip)
        if latest is None:
            raise CheckpointError(f"--resume {str(arg)!r}: no complete checkpoint in {p}")
        return latest
    _, json_path = checkpoint_paths(p)
    if not json_path.is_file():
        raise CheckpointError(f"--resume {str(arg)!r}: no checkpoint commit file {json_path}")
    try:
        _read_commit(json_path)  # here, not when its options are read: say what was typed
    except CheckpointError as exc:
        raise CheckpointError(f"--resume {str(arg)!r}: {exc}") from None
    return json_path


# ----------------------------------------------------------------------------------------------
# Load


def load_training_state(
    path: str | os.PathLike,
    *,
    modules: Mapping[str, nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
    map_location: str | torch.device | None = None,
    restore_rng: bool = True,
    generators: Mapping[str, torch.Generator] | None = None,
) -> dict[str, Any]:
    """Restore a checkpoint written by :func:`save_training_state` into existing objects.

    Everything is verified before anything is changed: the JSON commit record, the size and
    SHA-256 of the tensor file, that every named module and optimizer is in the checkpoint and
    that each module's keys and shapes match exactly. Then module parameters/buffers are copied
    in (``strict``), optimizer states loaded (moved to their parameters' devices by torch),
    and, when ``restore_rng``, the torch CPU/CUDA, numpy, Python and ``generators`` states
    set back. Modules/optimizers stored in the checkpoint but not passed are ignored.

    Only the main rank saves, so in a multi-process run the random states in a checkpoint
    are rank 0's: pass ``restore_rng=env.is_main`` (other ranks keep their own rank-dependent
    seeding), otherwise every rank would continue with the same random stream.

    Parameters
    ----------
    path : path
        Checkpoint stem, ``.json`` or ``.safetensors`` file (e.g. from :func:`resolve_resume`).
    modules, optimizers : dict
        Same names as at save time; freshly built objects of the same architecture.
    map_location : str or torch.device, optional
        Device for the loaded tensors before they are copied (default CPU; modules and
        optimizers place them on their own devices anyway).
    restore_rng : bool
        Restore the global random states (and ``generators``).
    generators : dict of str -> torch.Generator, optional
        Explicit generators saved under the same names.

    Returns
    -------
    dict
        The ``extra`` dict given at save time.

    Raises
    ------
    CheckpointError (a ValueError)
        Missing files, an incomplete or corrupt checkpoint (bad JSON, truncated or altered
        tensors), or states that do not fit the given modules/optimizers.
    """
    modules = _check_names("modules", modules, nn.Module)
    optimizers = _check_names("optimizers", optimizers, torch.optim.Optimizer)
    generators = _check_names("generators", generators, torch.Generator)
    _, json_path = checkpoint_paths(path)
    info = _read_commit(json_path)
    tensor_path = json_path.with_name(info["tensors"])
    try:
        data = tensor_path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint tensors {tensor_path}: {exc}") from exc
    if len(data) != info["tensors_bytes"]:
        raise CheckpointError(
            f"{tensor_path} is corrupt or truncated: {len(data)} bytes, expected "
            f"{info['tensors_bytes']}"
        )
    if hashlib.sha256(data).hexdigest() != info.get("tensors_sha256"):
        raise CheckpointError(f"{tensor_path} is corrupt (SHA-256 does not match {json_path.name})")

    from safetensors.torch import load as st_load

    try:
        tensors = st_load(data)
    except Exception as exc:  # safetensors raises its own error types
        raise CheckpointError(f"{tensor_path} is corrupt (safetensors: {exc})") from exc
    del data
    if map_location is not None:
        dev = torch.device(map_location)
        tensors = {k: v.to(dev) for k, v in tensors.items()}

    where = str(json_path)
    module_states: dict[str, dict[str, torch.Tensor]] = {}
    stored = info.get("modules", {})
    for name, module in modules.items():
        if name not in stored:
            raise CheckpointError(
                f"{where}: no module {name!r} in checkpoint (has {sorted(stored)})"
            )
        prefix = f"module/{name}/"
        state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        target = _unwrap(module).state_dict()
        missing = sorted(set(target) - set(state))
        unexpected = sorted(set(state) - set(target))
        if missing or unexpected:
            raise CheckpointError(
                f"{where}: module {name!r} does not match the checkpoint "
                f"(missing {missing[:5]}, unexpected {unexpected[:5]})"
            )
        for k, v in target.items():
            if tuple(v.shape) != tuple(state[k].shape):
                raise CheckpointError(
                    f"{where}: module {name!r} key {k!r} has shape {tuple(v.shape)}, "
                    f"checkpoint has {tuple(state[k].shape)}"
                )
        module_states[name] = state

    optim_states = {}
    stored_opt = info.get("optimizers", {})
    for name, opt in optimizers.items():
        if name not in stored_opt:
            raise CheckpointError(
                f"{where}: no optimizer {name!r} in checkpoint (has {sorted(stored_opt)})"
            )
        sd = _decode(stored_opt[name], tensors, where)
        groups = sd.get("param_groups") if isinstance(sd, dict) else None
        if (
            not isinstance(groups, list)
            or len(groups) != len(opt.param_groups)
            or any(
                len(g.get("params", ())) != len(h["params"])
                for g, h in zip(groups, opt.param_groups, strict=True)
            )
        ):
            raise CheckpointError(
                f"{where}: optimizer {name!r} parameter groups do not match the checkpoint"
            )
        optim_states[name] = sd

    for name, module in modules.items():
        _unwrap(module).load_state_dict(module_states[name], strict=True)
    for name, opt in optimizers.items():
        try:
            opt.load_state_dict(optim_states[name])
        except (ValueError, KeyError, RuntimeError) as exc:
            raise CheckpointError(f"{where}: optimizer {name!r}: {exc}") from exc
    if restore_rng:
        _restore_rng(info.get("rng", {}), tensors, generators, where)
    return dict(info.get("extra", {}))
