"""Multi-process training through ``torch.distributed`` (torchrun; NCCL on GPUs, gloo on CPUs).

The training loop runs one process per device. Every process builds the same networks, takes
its own disjoint slice of each step's global batch (the data order of
:class:`gan.training.loop.Trainer`; :func:`shard_indices` deals a whole epoch the same way for
loops of one's own), computes gradients on its share and averages them with
:func:`average_gradients` before each optimizer step, so the optimizer sees the gradient of the
mean loss over the global batch and the parameters stay identical on every rank. Statistics
(losses, ADA's sign of D(real)) are averaged with :func:`reduce_mean`; only the main rank
(``env.is_main``) writes checkpoints, images and logs.

Without torchrun (no ``WORLD_SIZE`` in the environment, or ``WORLD_SIZE=1``) every function
here is a no-op on a single-process :class:`DistEnv`, so the loop needs no special cases.

No collective here pickles: only tensors travel between processes.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from dsp._checks import check_int, check_real

__all__ = [
    "DistEnv",
    "init_distributed",
    "launch_ranks",
    "average_gradients",
    "broadcast_module",
    "reduce_mean",
    "reduce_sum",
    "shard_indices",
    "barrier",
    "cleanup",
]


@dataclass(frozen=True)
class DistEnv:
    """Where this process sits in the job.

    Attributes
    ----------
    rank : int
        Global rank in ``[0, world_size)``.
    world_size : int
        Number of processes (1 when not distributed).
    local_rank : int
        Rank on this node; selects the GPU ``cuda:{local_rank}``.
    device : torch.device
        The device this process computes on.
    backend : str or None
        ``"nccl"`` or ``"gloo"`` when a process group is in use, ``None`` for a single process.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        """True on rank 0, the process that writes checkpoints, images and logs."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        """True when collectives go through a process group (``world_size > 1``)."""
        return self.backend is not None and self.world_size > 1


def _env_int(name: str, default: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None:
        if default is None:
            raise ValueError(f"environment variable {name} is required under torchrun")
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from None


def launch_ranks() -> tuple[int, int, int]:
    """``(rank, local_rank, local_world_size)`` that torchrun gave this process, read from the
    environment before any process group exists (``(0, 0, 1)`` without torchrun), so that a
    command can print once per run or per machine before :func:`init_distributed`.

    Raises
    ------
    ValueError
        A variable that is set but not an integer.
    """
    return _env_int("RANK", 0), _env_int("LOCAL_RANK", 0), max(1, _env_int("LOCAL_WORLD_SIZE", 1))


def _resolve_device(device: str | torch.device, local_rank: int) -> torch.device:
    if isinstance(device, torch.device):
        dev = device
    elif isinstance(device, str):
        if device == "auto":
            if torch.cuda.is_available():
                return torch.device("cuda", local_rank % torch.cuda.device_count())
            return torch.device("cpu")
        try:
            dev = torch.device(device)
        except RuntimeError:
            raise ValueError(
                f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}"
            ) from None
    else:
        raise ValueError(f"device must be a string or torch.device, got {type(device).__name__}")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={str(dev)!r} requested but CUDA is not available")
        if dev.index is None:
            dev = torch.device("cuda", local_rank % torch.cuda.device_count())
    elif dev.type != "cpu":
        raise ValueError(f"device must be a CPU or CUDA device, got {str(dev)!r}")
    return dev


def init_distributed(
    device: str | torch.device = "auto",
    *,
    backend: str | None = None,
    timeout_s: float = 1800.0,
) -> DistEnv:
    """Join the process group described by torchrun's environment, or run as one process.

    Reads ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` (as set
    by ``torchrun``) and initialises ``torch.distributed`` with ``init_method="env://"``. The
    backend is NCCL when the device is a GPU and gloo on the CPU, unless ``backend`` says
    otherwise. When ``WORLD_SIZE`` is absent or 1 no process group is created and a
    single-process :class:`DistEnv` is returned. If a process group already exists it is
    reused.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device
        ``"auto"`` picks ``cuda:{LOCAL_RANK}`` when CUDA is available, else the CPU. ``"cuda"``
        without an index also means ``cuda:{LOCAL_RANK}``. The chosen GPU becomes the current
        device.
    backend : {"nccl", "gloo"} or None
        Override the backend (``None``: NCCL for CUDA, gloo for CPU).
    timeout_s : float
        Collective timeout in seconds, > 0.

    Raises
    ------
    ValueError
        Malformed or inconsistent environment variables (``RANK`` outside
        ``[0, WORLD_SIZE)``, missing ``MASTER_ADDR``/``MASTER_PORT``), an unknown device or
        backend, CUDA requested without CUDA, or NCCL on a CPU device.
    """
    timeout_s = check_real("timeout_s", timeout_s, low=0.0, low_inclusive=False)
    if backend is not None and backend not in ("nccl", "gloo"):
        raise ValueError(f"backend must be 'nccl', 'gloo' or None, got {backend!r}")

    world_size = _env_int("WORLD_SIZE", 1)
    if world_size < 1:
        raise ValueError(f"environment variable WORLD_SIZE must be >= 1, got {world_size}")
    rank = _env_int("RANK", 0)
    if not 0 <= rank < world_size:
        raise ValueError(f"environment variable RANK must be in [0, {world_size}), got {rank}")
    local_rank = _env_int("LOCAL_RANK", rank if world_size > 1 else 0)
    if local_rank < 0:
        raise ValueError(f"environment variable LOCAL_RANK must be >= 0, got {local_rank}")
    dev = _resolve_device(device, local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)

    if world_size == 1:
        return DistEnv(rank=0, world_size=1, local_rank=local_rank, device=dev, backend=None)

    if backend is None:
        backend = "nccl" if dev.type == "cuda" else "gloo"
    if backend == "nccl" and dev.type != "cuda":
        raise ValueError("backend='nccl' needs a CUDA device; use gloo on the CPU")
    if not dist.is_available():
        raise ValueError("this torch build has no torch.distributed support")
    if not dist.is_initialized():
        for name in ("MASTER_ADDR", "MASTER_PORT"):
            if not os.environ.get(name):
                raise ValueError(
                    f"environment variable {name} is required when WORLD_SIZE={world_size} "
                    "(launch with torchrun)"
                )
        _env_int("MASTER_PORT")
        kwargs = {}
        if dev.type == "cuda":
            kwargs["device_id"] = dev
        dist.init_process_group(
            backend=backend,
            init_method="env://",
            rank=rank,
            world_size=world_size,
            timeout=datetime.timedelta(seconds=timeout_s),
            **kwargs,
        )
    else:
        backend = dist.get_backend()
        if dist.get_rank() != rank or dist.get_world_size() != world_size:
            raise ValueError(
                "an existing process group disagrees with RANK/WORLD_SIZE "
                f"({dist.get_rank()}/{dist.get_world_size()} vs {rank}/{world_size})"
            )
    return DistEnv(
        rank=rank, world_size=world_size, local_rank=local_rank, device=dev, backend=backend
    )


def _comm_device(env: DistEnv, t: torch.Tensor) -> torch.device:
    # NCCL only moves CUDA tensors; gloo handles CPU (and CUDA via staging).
    return env.device if env.backend == "nccl" else t.device


def average_gradients(
    module: nn.Module,
    env: DistEnv,
    *,
    bucket_mb: float = 25.0,
    nan_to_num: bool = False,
) -> int:
    """Replace every parameter gradient by its mean over all ranks, in place.

    ``p.grad ← (Σ_ranks p.grad) / world_size``: with each rank's loss the mean over its local
    batch (equal local batches), this is the gradient of the mean loss over the global batch,
    so identical optimizers on identical parameters stay identical. Gradients are flattened
    into buckets of at most ``bucket_mb`` MiB per dtype/device so that one ``all_reduce``
    moves many small tensors.

    Only parameters whose ``.grad`` is not ``None`` take part; every rank must have gradients
    for the same parameters (true when all ranks run the same graph), otherwise the
    collectives would not match.

    Parameters
    ----------
    module : nn.Module
        The network whose ``parameters()`` hold the local gradients.
    env : DistEnv
        From :func:`init_distributed`; single process → only ``nan_to_num`` is applied.
    bucket_mb : float
        Bucket size in MiB, > 0.
    nan_to_num : bool
        Replace NaN by 0 and ±inf by ±1e5 in the averaged gradients (as the StyleGAN
        reference does) so one bad sample cannot poison the weights.

    Returns
    -------
    int
        Number of gradient tensors averaged.
    """
    if not isinstance(module, nn.Module):
        raise ValueError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    bucket_mb = check_real("bucket_mb", bucket_mb, low=0.0, low_inclusive=False)
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not env.is_distributed:
        if nan_to_num:
            for g in grads:
                torch.nan_to_num_(g, nan=0.0, posinf=1e5, neginf=-1e5)
        return len(grads)

    limit = max(1, int(bucket_mb * 2**20))
    groups: dict[tuple[torch.dtype, torch.device], list[list[torch.Tensor]]] = {}
    sizes: dict[tuple[torch.dtype, torch.device], int] = {}
    for g in grads:
        key = (g.dtype, g.device)
        nbytes = g.numel() * g.element_size()
        buckets = groups.setdefault(key, [[]])
        if buckets[-1] and sizes.get(key, 0) + nbytes > limit:
            buckets.append([])
            sizes[key] = 0
        buckets[-1].append(g)
        sizes[key] = sizes.get(key, 0) + nbytes

    for (_, gdev), buckets in groups.items():
        for bucket in buckets:
            flat = torch.cat([g.reshape(-1) for g in bucket])
            comm = _comm_device(env, flat)
            flat = flat.to(comm)
            dist.all_reduce(flat, op=dist.ReduceOp.SUM)
            flat = flat.to(gdev)
            flat.div_(env.world_size)
            if nan_to_num:
                torch.nan_to_num_(flat, nan=0.0, posinf=1e5, neginf=-1e5)
            _scatter(flat, bucket)
    return len(grads)


def _scatter(flat: torch.Tensor, tensors: Sequence[torch.Tensor]) -> None:
    """Copy consecutive slices of the 1D ``flat`` into ``tensors`` (the inverse of a flat
    concatenation), in place."""
    offset = 0
    for t in tensors:
        n = t.numel()
        t.copy_(flat[offset : offset + n].view_as(t))
        offset += n


def broadcast_module(module: nn.Module, env: DistEnv, *, src: int = 0) -> None:
    """Copy rank ``src``'s parameters and buffers to every rank, in place.

    Call once after building (or loading) the networks so that all ranks start from the same
    weights even if their initialisation differed; afterwards :func:`average_gradients` keeps
    them identical.
    """
    if not isinstance(module, nn.Module):
        raise ValueError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    src = check_int("src", src, minimum=0, maximum=env.world_size - 1)
    if not env.is_distributed:
        return
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            comm = _comm_device(env, t)
            buf = t.detach().to(comm).contiguous()
            dist.broadcast(buf, src=src)
            if buf.data_ptr() != t.data_ptr():
                t.copy_(buf)


def average_buffers(
    module: nn.Module, env: DistEnv, suffixes: tuple[str, ...] | None = None
) -> int:
    """Replace floating-point buffers of ``module`` by their mean over the ranks, in place:
    every one, or those whose name ends with one of ``suffixes`` (the running statistics, so
    that constant buffers such as filters and fixed noise are not sent each step); returns the
    number of buffers averaged (0 in a single process).

    Running statistics a forward pass updates from its own shard of the batch (the generator's
    ``w_avg`` and magnitude EMAs) otherwise drift apart between the ranks, although the
    parameters stay identical: rank 0's checkpoint would then not hold the state the other ranks
    continue from, and a resumed run would not take the steps of an uninterrupted one. With the
    same decay on every rank, the mean of the ranks' updates is the update by the mean of their
    statistics, i.e. by the global batch's. One collective for all of them.
    """
    if not env.is_distributed:
        return 0
    bufs = [
        b
        for name, b in module.named_buffers()
        if b.is_floating_point() and (suffixes is None or name.endswith(suffixes))
    ]
    if not bufs:
        return 0
    with torch.no_grad():
        flat = torch.cat([b.detach().reshape(-1).to(torch.float64) for b in bufs])
        _scatter(_allreduce_copy(flat.to(bufs[0].device), env, mean=True), bufs)
    return len(bufs)


_Reducible = torch.Tensor | float | int | Mapping


def _as_tensor(name: object, v: object) -> torch.Tensor:
    if isinstance(v, torch.Tensor):
        return v
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise ValueError(
            f"values to reduce must be tensors or real numbers; {name!r} is {type(v).__name__}"
        )
    return torch.tensor(float(v), dtype=torch.float64)


def _allreduce_copy(t: torch.Tensor, env: DistEnv, mean: bool) -> torch.Tensor:
    """All-reduce a copy of ``t`` (SUM, then ÷ world_size when ``mean``); ``t`` is untouched."""
    if mean and not (t.is_floating_point() or t.is_complex()):
        raise ValueError(f"reduce_mean needs floating-point tensors, got {t.dtype}")
    if not env.is_distributed:
        return t.detach().clone()
    comm = t.detach().to(_comm_device(env, t), copy=True).contiguous()
    dist.all_reduce(comm, op=dist.ReduceOp.SUM)
    if mean:
        comm.div_(env.world_size)
    return comm.to(t.device)


def _reduce(x: _Reducible, env: DistEnv, mean: bool) -> _Reducible:
    if isinstance(x, Mapping):
        keys = list(x.keys())
        vals = [_as_tensor(k, x[k]) for k in keys]
        if not all(v.numel() == 1 and v.is_floating_point() for v in vals):
            return {k: _reduce(x[k], env, mean) for k in keys}
        if not keys:
            return {}
        # One collective for all scalars; float64 so that float32 and Python floats survive.
        flat = torch.stack([v.detach().to("cpu", torch.float64).reshape(()) for v in vals])
        flat = _allreduce_copy(flat, env, mean)
        out: dict = {}
        for i, k in enumerate(keys):
            orig = x[k]
            if isinstance(orig, torch.Tensor):
                out[k] = flat[i].to(dtype=orig.dtype, device=orig.device).reshape(orig.shape)
            else:
                out[k] = float(flat[i])
        return out
    if isinstance(x, torch.Tensor):
        return _allreduce_copy(x, env, mean)
    return float(_allreduce_copy(_as_tensor("x", x), env, mean))


def reduce_mean(x: _Reducible, env: DistEnv) -> _Reducible:
    """Mean over ranks of a tensor, a number, or a dict of them (a new object; inputs unchanged).

    ``mean = (Σ_ranks x) / world_size``. A dict of scalars (e.g. ``{"loss_G": 0.7,
    "loss_D": t}``) goes through a single ``all_reduce``. Tensors come back with their dtype,
    shape and device; numbers as ``float``. Single process: the values themselves (tensors
    cloned).

    Raises
    ------
    ValueError
        A value that is neither a tensor nor a real number, or an integer tensor.
    """
    return _reduce(x, env, mean=True)


def reduce_sum(x: _Reducible, env: DistEnv) -> _Reducible:
    """Sum over ranks, same conventions as :func:`reduce_mean` (integer tensors allowed).

    Suitable as the ``reduce`` hook of :class:`gan.training.augment.AdaController`:
    ``reduce=lambda t: reduce_sum(t, env)``.
    """
    return _reduce(x, env, mean=False)


def shard_indices(
    n: int, env: DistEnv, seed: int = 0, epoch: int = 0, shuffle: bool = True
) -> np.ndarray:
    """This rank's share of ``range(n)`` for one epoch.

    A permutation ``π`` of ``range(n)`` (identity when ``shuffle`` is false, otherwise drawn
    from ``numpy.random.default_rng([seed, epoch])``, so it is the same on every rank and
    changes with the epoch) is dealt round-robin: rank ``r`` gets ``π[r::world_size]``. The
    shards of all ranks are disjoint, their union is ``range(n)``, and their lengths differ by
    at most one (``ceil`` vs ``floor`` of ``n / world_size``).

    Returns
    -------
    numpy.ndarray
        int64 indices, possibly empty when ``n < world_size``.

    Raises
    ------
    ValueError
        ``n`` < 0, ``seed`` < 0 or ``epoch`` < 0, or not integers.
    """
    n = check_int("n", n, minimum=0)
    seed = check_int("seed", seed, minimum=0)
    epoch = check_int("epoch", epoch, minimum=0)
    if shuffle:
        perm = np.random.default_rng([seed, epoch]).permutation(n).astype(np.int64)
    else:
        perm = np.arange(n, dtype=np.int64)
    return perm[env.rank :: env.world_size].copy()


def barrier(env: DistEnv) -> None:
    """Wait until every rank gets here (no-op for a single process)."""
    if not env.is_distributed:
        return
    if env.backend == "nccl":
        dist.barrier(device_ids=[env.device.index])
    else:
        dist.barrier()


def cleanup(env: DistEnv) -> None:
    """Leave the process group (no-op when none was created). Safe to call twice."""
    if env.is_distributed and dist.is_initialized():
        dist.destroy_process_group()
