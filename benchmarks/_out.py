"""Where benchmark scripts leave their numbers: ``$OUT/<name>`` as JSON, written atomically.

``$OUT`` is set by the lent-GPU tool (and by anyone who wants the JSON); without it nothing is
written. Rewriting after every case means a run cut short still leaves what it measured.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_out_json(name: str, doc: Any, *, default: Callable[[Any], Any] = str) -> Path | None:
    out = os.environ.get("OUT")
    if not out:
        return None
    path = Path(out) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=1, default=default))
    os.replace(tmp, path)
    return path
