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


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for a gloo rendezvous)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def run_processes():
    """Start commands together and wait for all, ``run(commands, timeout) → [(returncode,
    output)]`` with ``commands`` a list of ``(argv, env)``; any still running at the timeout
    (or after an error) is killed, so a hung rendezvous can never hang the suite."""
    import subprocess

    def run(commands: list[tuple[list[str], dict[str, str]]], timeout: float):
        procs = [
            subprocess.Popen(
                argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            for argv, env in commands
        ]
        try:
            logs = [p.communicate(timeout=timeout)[0] for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        return [(p.returncode, log) for p, log in zip(procs, logs, strict=True)]

    return run
