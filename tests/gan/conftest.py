"""Shared setup for the torch-side tests.

Without a CUDA device the Triton kernels run in Triton's interpreter on CPU tensors; the switch
is read from the environment, so it is set here, before any test module imports a kernel.
"""

import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402

from gan.ops import _params  # noqa: E402


@pytest.fixture
def device() -> torch.device:
    """The accelerator when there is one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@pytest.fixture
def torch_gen() -> torch.Generator:
    """A seeded CPU generator (draw on CPU, then move: same numbers on every device)."""
    return torch.Generator().manual_seed(12345)


@pytest.fixture
def fresh_fallback_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget which fast-path fallback reasons were already reported in this process."""
    monkeypatch.setattr(_params, "_WARNED", set())
