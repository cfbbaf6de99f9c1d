"""What the case-driven benchmark scripts share on the command line: the ``preset:res:batch``
case syntax and a log line stamped with the seconds since the process started."""

from __future__ import annotations

import argparse
import time

_T_START = time.perf_counter()
PRESETS = ("t", "r", "baseline")


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - _T_START:7.1f}s] {msg}", flush=True)


def parse_case(text: str) -> tuple[str, int, int]:
    """``"t:256:16"`` → ``("t", 256, 16)``; the preset one of :data:`PRESETS`, optionally with
    ``-tiny`` (an ``argparse`` type: bad text is an ``ArgumentTypeError`` naming it)."""
    try:
        preset, res, batch = text.split(":")
        res_i, batch_i = int(res), int(batch)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"case must be preset:res:batch, got {text!r}") from exc
    if preset.removesuffix("-tiny") not in PRESETS:
        raise argparse.ArgumentTypeError(f"preset must be t, r, baseline (+ -tiny), got {preset!r}")
    return preset, res_i, batch_i


def device_and_cases(smoke: bool, cases, smoke_cases, gpu_cases):
    """The device and cases of a GPU benchmark: the CPU and ``smoke_cases`` with ``--smoke``,
    else CUDA and ``gpu_cases`` (explicit ``cases`` win in both); None, after saying so, when
    there is no CUDA device and no ``--smoke``."""
    import torch

    if smoke:
        return torch.device("cpu"), cases or [parse_case(c) for c in smoke_cases]
    if not torch.cuda.is_available():
        print("no CUDA device: run with --smoke to check the script on the CPU")
        return None
    return torch.device("cuda"), cases or [parse_case(c) for c in gpu_cases]
