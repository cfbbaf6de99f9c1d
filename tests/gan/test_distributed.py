"""torch.distributed helpers: a real 2-process gloo run, sharding properties, env parsing."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from safetensors.torch import load_file
from torch import nn

from gan.training.checkpoint import list_checkpoints, load_training_state
from gan.training.distributed import (
    DistEnv,
    average_gradients,
    barrier,
    broadcast_module,
    cleanup,
    init_distributed,
    reduce_mean,
    reduce_sum,
    shard_indices,
)

REPO = Path(__file__).resolve().parents[2]
N_DATA, STEPS, WORLD, LR = 24, 3, 2, 0.1


def _model() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(N_DATA, 4, generator=g), torch.randn(N_DATA, 1, generator=g)


# The worker is what torchrun would start: it reads RANK/WORLD_SIZE/... from the environment.
_WORKER = textwrap.dedent(
    f"""
    import json, sys
    import torch
    from safetensors.torch import save_file
    from gan.training.checkpoint import save_training_state
    from gan.training.distributed import (
        average_gradients, barrier, broadcast_module, cleanup, init_distributed, reduce_mean,
        reduce_sum, shard_indices,
    )

    def _sgd(model):
        # Plain SGD by hand: constructing a torch.optim optimizer imports torch._dynamo,
        # seconds per process; Adam's exact resume is covered in test_checkpoint.py.
        with torch.no_grad():
            for p in model.parameters():
                p -= {LR} * p.grad

    out, run_dir = sys.argv[1], sys.argv[2]
    env = init_distributed("cpu")
    assert env.backend == "gloo" and env.world_size == {WORLD} and env.is_distributed
    # Different initialisation on purpose: broadcast_module must make the ranks agree.
    torch.manual_seed(100 + env.rank)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)
    )
    broadcast_module(model, env)
    g = torch.Generator().manual_seed(0)
    X, Y = torch.randn({N_DATA}, 4, generator=g), torch.randn({N_DATA}, 1, generator=g)
    shards, stats = [], []
    for step in range({STEPS}):
        idx = shard_indices({N_DATA}, env, seed=1, epoch=step)
        shards.append(idx.tolist())
        loss = ((model(X[idx]) - Y[idx]) ** 2).mean()
        model.zero_grad(set_to_none=True)
        loss.backward()
        # Tiny buckets: several all_reduce calls, one tensor split per bucket.
        n = average_gradients(model, env, bucket_mb=1e-4)
        assert n == 4
        _sgd(model)
        stats.append(reduce_mean({{"loss": loss.detach(), "rank": float(env.rank)}}, env))
    total = reduce_sum(torch.tensor([env.rank + 1], dtype=torch.int64), env)
    mean_t = reduce_mean(torch.full((2, 3), float(env.rank)), env)
    if env.is_main:
        save_training_state(run_dir, {STEPS}, modules={{"model": model}},
                            extra={{"world": env.world_size}})
    barrier(env)
    save_file({{k: v.contiguous() for k, v in model.state_dict().items()}},
              f"{{out}}/rank{{env.rank}}.safetensors")
    with open(f"{{out}}/rank{{env.rank}}.json", "w") as fh:
        json.dump({{"shards": shards, "loss": [s["loss"].item() for s in stats],
                   "rank_mean": [s["rank"] for s in stats], "total": total.tolist(),
                   "mean_t": mean_t.tolist(), "mean_dtype": str(mean_t.dtype)}}, fh)
    cleanup(env)
    """
)


def test_two_process_gloo_training(tmp_path: Path, free_port: int, run_processes) -> None:
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    out, run_dir = tmp_path / "out", tmp_path / "run"
    out.mkdir()
    commands = []
    for rank in range(WORLD):
        env = dict(
            os.environ,
            PYTHONPATH=str(REPO),
            RANK=str(rank),
            LOCAL_RANK=str(rank),
            WORLD_SIZE=str(WORLD),
            LOCAL_WORLD_SIZE=str(WORLD),
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=str(free_port),
            OMP_NUM_THREADS="1",
        )
        commands.append(([sys.executable, str(script), str(out), str(run_dir)], env))
    for returncode, log in run_processes(commands, timeout=120):
        assert returncode == 0, log

    states = [load_file(str(out / f"rank{r}.safetensors")) for r in range(WORLD)]
    infos = [json.loads((out / f"rank{r}.json").read_text()) for r in range(WORLD)]
    # Ranks stay bit-identical after averaging although each saw different data.
    for k in states[0]:
        assert torch.equal(states[0][k], states[1][k]), k

    # Independent truth: one process, rank 0's initial weights, the full global batch. Equal
    # shards make the mean of per-rank mean losses the global mean loss.
    torch.manual_seed(100)
    ref = _model()
    X, Y = _data()
    for step in range(STEPS):
        shards = [infos[r]["shards"][step] for r in range(WORLD)]
        assert sorted(shards[0] + shards[1]) == list(range(N_DATA))
        assert not set(shards[0]) & set(shards[1])
        losses = [((ref(X[s]) - Y[s]) ** 2).mean() for s in shards]
        loss = sum(losses) / WORLD
        ref.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in ref.parameters():
                p -= LR * p.grad
        # reduce_mean of the per-rank losses equals the reference mean (before the step).
        assert infos[0]["loss"][step] == pytest.approx(loss.item(), rel=1e-5)
        assert infos[0]["loss"][step] == infos[1]["loss"][step]
        assert infos[0]["rank_mean"][step] == 0.5
    for k, v in ref.state_dict().items():
        torch.testing.assert_close(states[0][k], v, rtol=1e-5, atol=1e-6)
    assert not torch.equal(states[0]["0.weight"], _model().state_dict()["0.weight"])

    assert infos[0]["total"] == [3] and infos[1]["total"] == [3]
    assert infos[1]["mean_t"] == [[0.5] * 3] * 2 and infos[1]["mean_dtype"] == "torch.float32"

    # Only rank 0 wrote a checkpoint: exactly one file pair, loadable, equal to the weights.
    assert sorted(p.name for p in run_dir.iterdir()) == [
        f"checkpoint-{STEPS:08d}.json",
        f"checkpoint-{STEPS:08d}.safetensors",
    ]
    [(step, path)] = list_checkpoints(run_dir)
    loaded = _model()
    extra = load_training_state(path, modules={"model": loaded}, restore_rng=False)
    assert step == STEPS and extra == {"world": WORLD}
    for k, v in loaded.state_dict().items():
        assert torch.equal(v, states[0][k])


@given(
    n=st.integers(0, 200),
    world=st.integers(1, 9),
    seed=st.integers(0, 2**31),
    epoch=st.integers(0, 50),
    shuffle=st.booleans(),
)
def test_shard_indices_disjoint_covering_deterministic(
    n: int, world: int, seed: int, epoch: int, shuffle: bool
) -> None:
    shards = [
        shard_indices(n, DistEnv(rank=r, world_size=world), seed, epoch, shuffle)
        for r in range(world)
    ]
    allidx = np.concatenate(shards)
    assert allidx.dtype == np.int64
    np.testing.assert_array_equal(np.sort(allidx), np.arange(n))  # covering, no duplicates
    lengths = [len(s) for s in shards]
    assert max(lengths) - min(lengths) <= 1
    assert sum(lengths) == n
    again = shard_indices(n, DistEnv(rank=world - 1, world_size=world), seed, epoch, shuffle)
    np.testing.assert_array_equal(again, shards[-1])
    if not shuffle:
        np.testing.assert_array_equal(shards[0], np.arange(0, n, world))


def test_shard_indices_shuffle_changes_with_epoch_and_seed() -> None:
    env = DistEnv(rank=1, world_size=3)
    a = shard_indices(300, env, seed=0, epoch=0)
    assert not np.array_equal(a, shard_indices(300, env, seed=0, epoch=1))
    assert not np.array_equal(a, shard_indices(300, env, seed=1, epoch=0))
    assert not np.array_equal(np.sort(a), a)  # actually shuffled
    assert len(a) == 100


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"n": -1}, "n must be"), ({"seed": -2}, "seed"), ({"epoch": 0.5}, "epoch")],
)
def test_shard_indices_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    args = {"n": 10, "seed": 0, "epoch": 0} | kwargs
    with pytest.raises(ValueError, match=match):
        shard_indices(args["n"], DistEnv(), args["seed"], args["epoch"])


_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in _TORCHRUN_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_single_process_fallback(clean_env: pytest.MonkeyPatch) -> None:
    env = init_distributed("cpu")
    assert env == DistEnv(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
    assert env.is_main and not env.is_distributed and env.backend is None
    auto = init_distributed()
    assert auto.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    clean_env.setenv("WORLD_SIZE", "1")
    assert init_distributed("cpu").world_size == 1

    # Every collective is an identity / no-op for one process.
    model = _model()
    model(torch.randn(3, 4)).sum().backward()
    grads = [p.grad.clone() for p in model.parameters()]
    assert average_gradients(model, env) == 4
    for p, g in zip(model.parameters(), grads, strict=True):
        assert torch.equal(p.grad, g)
    t = torch.arange(3.0)
    r = reduce_mean(t, env)
    assert torch.equal(r, t) and r is not t
    assert reduce_mean({"a": 2.0, "b": torch.tensor(3.0)}, env) == {"a": 2.0, "b": 3.0}
    assert reduce_sum(4, env) == 4.0
    broadcast_module(model, env)
    barrier(env)
    cleanup(env)


def test_nan_to_num_single_process() -> None:
    p = nn.Parameter(torch.zeros(3))
    p.grad = torch.tensor([float("nan"), float("inf"), -float("inf")])
    holder = nn.Module()
    holder.p = p
    average_gradients(holder, DistEnv(), nan_to_num=True)
    assert p.grad.tolist() == [0.0, 1e5, -1e5]


@pytest.mark.parametrize(
    ("env_vars", "match"),
    [
        ({"WORLD_SIZE": "2", "RANK": "2"}, "RANK must be in"),
        ({"WORLD_SIZE": "two"}, "WORLD_SIZE must be an integer"),
        ({"WORLD_SIZE": "0"}, "WORLD_SIZE must be >= 1"),
        ({"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "-1"}, "LOCAL_RANK"),
        ({"WORLD_SIZE": "2", "RANK": "1", "MASTER_PORT": "29500"}, "MASTER_ADDR"),
        ({"WORLD_SIZE": "2", "RANK": "1", "MASTER_ADDR": "127.0.0.1"}, "MASTER_PORT"),
    ],
)
def test_init_distributed_rejects_bad_environment(
    clean_env: pytest.MonkeyPatch, env_vars: dict, match: str
) -> None:
    for k, v in env_vars.items():
        clean_env.setenv(k, v)
    with pytest.raises(ValueError, match=match):
        init_distributed("cpu")


def test_init_distributed_rejects_bad_arguments(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="device"):
        init_distributed("tpu")
    with pytest.raises(ValueError, match="device"):
        init_distributed(3)
    with pytest.raises(ValueError, match="backend"):
        init_distributed("cpu", backend="mpi")
    with pytest.raises(ValueError, match="timeout_s"):
        init_distributed("cpu", timeout_s=0)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            init_distributed("cuda")
    clean_env.setenv("WORLD_SIZE", "2")
    clean_env.setenv("RANK", "0")
    with pytest.raises(ValueError, match="nccl"):
        init_distributed("cpu", backend="nccl")
