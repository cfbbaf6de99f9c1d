"""Choices the device session makes from its own earlier stages (stdlib only, so that it runs
before anything else is imported).

    python benchmarks/_pick.py modconv gpu_generator_256.json   # prints grouped or batched
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def modconv(rows: list[dict], preset: str = "t") -> str:
    """The order of the modulated convolutions with the smaller generator forward+backward time
    for ``preset`` on the Triton path (``auto``) with cudnn.benchmark on, as training runs;
    ``grouped`` (the default) unless ``batched`` was measured faster there."""
    best: dict[str, float] = {}
    for r in rows:
        ok = r.get("impl") == "auto" and r.get("cudnn_benchmark") and r.get("preset") == preset
        ms = r.get("fwd_bwd_ms")
        if ok and isinstance(ms, (int, float)) and "error" not in r:
            order = r.get("modconv", "grouped")
            best[order] = min(ms, best.get(order, float("inf")))
    if "batched" in best and best["batched"] < best.get("grouped", float("inf")):
        return "batched"
    return "grouped"


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "modconv":
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    try:
        rows = json.loads(Path(argv[1]).read_text()).get("rows", [])
    except (OSError, ValueError, AttributeError):
        rows = []
    print(modconv(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
