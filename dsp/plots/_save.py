"""Atomic figure saving shared by the plot modules and the command line."""

from __future__ import annotations

import os
from pathlib import Path

from dsp._io import mkstemp_output, prepare_output


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 120) -> Path:
    """Save ``fig`` to ``path`` atomically (temporary file + rename); format from the suffix."""
    path = prepare_output(path)
    fd, tmp = mkstemp_output(path, suffix=path.suffix)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
