"""Regressions found by adversarial QA of training runs: the run folder's logs and resuming."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gan.training.loop import train
from gan.training.options import TrainOptions

RES = 16


class TinyData:
    """A fixed random uint8 dataset with the ImageDataset interface."""

    def __init__(self, n: int = 4) -> None:
        rng = np.random.default_rng(0)
        self.images = torch.from_numpy(rng.integers(0, 256, (n, 3, RES, RES), np.uint8))
        self.res, self.num_channels, self.c_dim, self.name = RES, 3, 0, "tiny"

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.images[i], torch.zeros(0)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _opts(out, **kw) -> TrainOptions:
    base = dict(config="baseline", res=RES, batch=2, metrics=(), snap_kimg=1000.0)
    base.update(grid_size=4, device="cpu", out=str(out), **kw)
    return TrainOptions(**base)


def _jsonl(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_steps_after_the_last_tick_are_logged(tmp_path):
    # A run shorter than one tick wrote no log.jsonl at all (README.txt lists it, losses.png was
    # empty), and every run dropped the statistics of its steps after the last full tick.
    out = tmp_path / "run"
    train(_opts(out, tick_kimg=0.006), progress=False, dataset=TinyData(), max_steps=2)
    assert [r["step"] for r in _jsonl(out / "log.jsonl")] == [2]
    train(
        _opts(out, tick_kimg=0.006, resume="latest"),
        progress=False,
        dataset=TinyData(),
        max_steps=7,
    )
    assert [r["step"] for r in _jsonl(out / "log.jsonl")] == [2, 3, 6, 7]


def test_resume_with_nothing_left_to_train_adds_no_snapshot(tmp_path):
    # Each such --resume latest appended a duplicate metrics.jsonl record (and progress.png row)
    # and rewrote the checkpoint of the same step.
    out = tmp_path / "run"
    train(_opts(out, kimg=0.004), progress=False, dataset=TinyData())
    before = _jsonl(out / "metrics.jsonl")
    again = train(_opts(out, kimg=0.004, resume="latest"), progress=False, dataset=TinyData())
    assert again["step"] == 2 and again["checkpoint"].endswith("checkpoint-00000002.json")
    assert _jsonl(out / "metrics.jsonl") == before


def test_fresh_run_does_not_append_to_an_earlier_runs_logs(tmp_path):
    # A folder whose earlier run left logs but no checkpoint (killed before its first snapshot,
    # or checkpoints deleted): a new run appended its records to the old ones, so log.jsonl,
    # metrics.jsonl, losses.png and progress.png mixed two runs.
    out = tmp_path / "run"
    train(_opts(out, tick_kimg=0.002), progress=False, dataset=TinyData(), max_steps=3)
    old_grid = _jsonl(out / "metrics.jsonl")[0]["grid"]
    for f in out.glob("checkpoint-*"):
        f.unlink()
    notes: list[str] = []
    train(_opts(out, tick_kimg=0.002), dataset=TinyData(), max_steps=1, log=notes.append)
    assert [r["step"] for r in _jsonl(out / "log.jsonl")] == [1]
    assert [r["step"] for r in _jsonl(out / "metrics.jsonl")] == [1]
    assert not (out / old_grid).exists()
    assert any("earlier run" in n for n in notes)
