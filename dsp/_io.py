"""Atomic file writing for outputs (JSON, CSV, text), and the checks every output path gets."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def _umask() -> int:
    # Linux reports the umask without changing it; elsewhere set-and-restore is the only way.
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def output_mode() -> int:
    """Permission bits of a new output file: ``0o666`` less the umask, as ``open()`` gives.

    ``tempfile.mkstemp`` creates files ``0o600``; atomic writers ``fchmod`` their temporary
    file to this so that outputs are as readable as any other file the user creates.
    """
    return 0o666 & ~_umask()


def prepare_output(path: str | os.PathLike) -> Path:
    """Check that ``path`` can be an output file and create its parent folders.

    Raises
    ------
    ValueError
        ``path`` is an existing folder, or a file stands where a parent folder must go.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"output {str(path)!r} is a folder; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in reversed(path.parents) if p.exists() and not p.is_dir()), None)
        where = str(blocker) if blocker is not None else str(path.parent)
        raise ValueError(
            f"cannot create the folder of output {str(path)!r}: {where!r} is a file"
        ) from None
    return path


def make_output_dir(
    path: str | os.PathLike,
    name: str = "--out",
    *,
    create: bool = True,
    file: str | os.PathLike | None = None,
) -> Path:
    """Create the output folder ``path`` (and its parents) and check that files can be made in
    it; with ``create=False`` only check, creating nothing, that it could be (a command that
    works a while first checks early and creates the folder when it writes).

    The check writes and removes a hidden empty file (in ``path``, or without ``create`` in its
    nearest existing parent): only that tells reliably whether the file system takes new files
    (``os.access`` says yes to root in ``/proc``, which takes none).

    Raises
    ------
    ValueError
        ``"{name}: cannot write {path}: {reason}"`` (``file`` in place of ``path`` when given:
        the output file the folder is for): a file stands where a folder must go, the
        folder cannot be created, or no file can be written in it (exit status 2 from the
        command line, which names the flag ``name``).
    """
    path = Path(path)
    dangling = next((p for p in (path, *path.parents) if p.is_symlink() and not p.exists()), None)
    blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
    if dangling is not None:
        # mkdir would say "File exists" (the link) only after the work, at the first write.
        reason = f"{str(dangling)!r} is a symbolic link to a missing {os.readlink(dangling)!r}"
    elif blocker is not None:
        reason = f"{str(blocker)!r} is a file"
    else:
        try:
            if create:
                path.mkdir(parents=True, exist_ok=True)
                where = path
            else:
                where = next(p for p in (path, *path.parents) if p.is_dir())
            fd, probe = tempfile.mkstemp(prefix=".aliasfree-write-check.", dir=where)
            os.close(fd)
            os.unlink(probe)
            return path
        except OSError as exc:
            reason = exc.strerror or str(exc)
    raise ValueError(f"{name}: cannot write {file if file is not None else path}: {reason}")


def remove_stale_outputs(
    folder: str | os.PathLike, known: Iterable[str], written: Iterable[str]
) -> list[str]:
    """Remove from ``folder`` the files among ``known`` (the names a command can write there)
    that this run did not write (``written``): left by an earlier run, they would describe
    something else beside this run's outputs. Nothing else in ``folder`` is touched; folders of
    those names are left alone. Returns the names removed, in the order of ``known``."""
    folder = Path(folder)
    keep = set(written)
    removed = []
    for name in known:
        path = folder / name
        if name in keep or path.is_dir() or not (path.is_file() or path.is_symlink()):
            continue
        path.unlink(missing_ok=True)
        removed.append(name)
    return removed


def mkstemp_output(path: Path, *, suffix: str = "") -> tuple[int, str]:
    """A temporary file beside ``path`` (for write-then-rename) with :func:`output_mode`."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    try:
        os.fchmod(fd, output_mode())
    except (AttributeError, OSError):  # no fchmod on Windows; the file stays private there
        pass
    return fd, tmp


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file and rename, so no half file is left."""
    path = prepare_output(path)
    fd, tmp = mkstemp_output(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON atomically."""
    return write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")
