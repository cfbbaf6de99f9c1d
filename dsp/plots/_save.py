"""Atomic figure saving shared by the plot modules and the command line."""

from __future__ import annotations

import os
from pathlib import Path

from dsp._io import mkstemp_output, prepare_output


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 120) -> Path:
    """Save ``fig`` to ``path`` atomically (temporary file + rename); format from the suffix.

    Raises
    ------
    ValueError
        ``path`` has no suffix naming an image format matplotlib writes.
    """
    path = prepare_output(path)
    fmt = path.suffix[1:].lower()
    supported = fig.canvas.get_supported_filetypes()
    if fmt not in supported:
        # Told before writing: matplotlib would otherwise guess from the temporary file's name.
        raise ValueError(
            f"{str(path)!r}: the suffix must name an image format ({', '.join(sorted(supported))})"
        )
    fd, tmp = mkstemp_output(path, suffix=path.suffix)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=fmt)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
