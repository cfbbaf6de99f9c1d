"""Training checkpoints: exact resume, RNG restore, atomicity under SIGKILL, pruning, errors."""

from __future__ import annotations

import json
import os
import pickle
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from gan.training import checkpoint as ckpt
from gan.training.checkpoint import (
    CheckpointError,
    find_latest,
    list_checkpoints,
    load_training_state,
    read_checkpoint_info,
    resolve_resume,
    save_training_state,
)

REPO = Path(__file__).resolve().parents[2]


class Tiny(nn.Module):
    """Parameters, a BatchNorm (running buffers) and a plain buffer, like G's EMA/w_avg."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(5, 7)
        self.bn = nn.BatchNorm1d(7)
        self.fc2 = nn.Linear(7, 1)
        self.register_buffer("counter", torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.counter += 1
        return self.fc2(torch.relu(self.bn(self.fc1(x))))


def _build(seed: int) -> tuple[dict[str, nn.Module], dict[str, torch.optim.Optimizer]]:
    torch.manual_seed(seed)
    G, D = Tiny(), Tiny()
    opt_G = torch.optim.Adam(G.parameters(), lr=0.01, betas=(0.0, 0.99), eps=1e-8)
    # D's optimizer with lazy-regularisation style hyperparameters and a second group.
    opt_D = torch.optim.Adam(
        [
            {"params": list(D.fc1.parameters()) + list(D.bn.parameters())},
            {"params": D.fc2.parameters(), "lr": 0.003},
        ],
        lr=0.002 * 16 / 17,
        betas=(0.0, 0.99 ** (16 / 17)),
    )
    return {"G": G, "D": D}, {"G": opt_G, "D": opt_D}


def _train(modules, optimizers, steps: int) -> None:
    """Steps that consume torch, numpy and Python random numbers, so RNG restore matters."""
    G, D = modules["G"], modules["D"]
    for _ in range(steps):
        x = torch.randn(8, 5)
        noise = torch.from_numpy(np.random.standard_normal((8, 1)).astype(np.float32))  # noqa: NPY002
        scale = random.random()
        for net, opt in ((G, optimizers["G"]), (D, optimizers["D"])):
            opt.zero_grad(set_to_none=True)
            loss = ((net(x) - scale * noise) ** 2).mean()
            loss.backward()
            opt.step()


def _seed_all(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)  # noqa: NPY002
    random.seed(seed)


def _assert_same_state(a: dict[str, nn.Module], b: dict[str, nn.Module]) -> None:
    for name in a:
        sa, sb = a[name].state_dict(), b[name].state_dict()
        assert sa.keys() == sb.keys()
        for k in sa:
            assert torch.equal(sa[k], sb[k]), f"{name}.{k} differs"


def test_resume_continues_bit_identically(tmp_path: Path) -> None:
    n_steps, m_steps = 4, 3
    _seed_all(7)
    ref_modules, ref_opts = _build(0)
    _train(ref_modules, ref_opts, n_steps + m_steps)

    _seed_all(7)
    modules, opts = _build(0)
    _train(modules, opts, n_steps)
    path = save_training_state(
        tmp_path, n_steps, modules=modules, optimizers=opts, extra={"kimg": 0.5, "p": 0.25}
    )

    # Fresh objects with another initialisation and scrambled global random states.
    _seed_all(999)
    fresh_modules, fresh_opts = _build(123)
    extra = load_training_state(path, modules=fresh_modules, optimizers=fresh_opts)
    assert extra == {"kimg": 0.5, "p": 0.25}
    _train(fresh_modules, fresh_opts, m_steps)

    _assert_same_state(ref_modules, fresh_modules)
    for name in ref_opts:
        ra, fa = ref_opts[name].state_dict(), fresh_opts[name].state_dict()
        assert ra["param_groups"] == fa["param_groups"]
        for i, st in ra["state"].items():
            for k, v in st.items():
                assert torch.equal(v, fa["state"][i][k]), f"{name} state {i}.{k} differs"


def test_adam_states_and_hyperparameters_restored(tmp_path: Path) -> None:
    modules, opts = _build(0)
    _train(modules, opts, 2)
    path = save_training_state(tmp_path, 2, modules=modules, optimizers=opts)
    fresh_modules, fresh_opts = _build(5)
    load_training_state(path, modules=fresh_modules, optimizers=fresh_opts)
    _assert_same_state(modules, fresh_modules)
    groups = fresh_opts["D"].param_groups
    assert groups[1]["lr"] == 0.003
    assert groups[0]["betas"] == (0.0, 0.99 ** (16 / 17))  # tuple and exact float back
    st = fresh_opts["G"].state_dict()["state"]
    ref = opts["G"].state_dict()["state"]
    assert st.keys() == ref.keys() and len(st) == 6
    for i in ref:
        assert set(st[i]) == {"step", "exp_avg", "exp_avg_sq"}
        for k in ref[i]:
            assert torch.equal(st[i][k], ref[i][k])


def test_rng_states_restored(tmp_path: Path) -> None:
    _seed_all(3)
    gen = torch.Generator().manual_seed(42)
    torch.randn(3)
    gen_draw = torch.rand(2, generator=gen)  # advance the explicit generator too
    assert gen_draw.shape == (2,)
    np.random.standard_normal()  # noqa: NPY002  (leaves a cached Gaussian in the state)
    random.gauss(0, 1)
    modules, _ = _build(0)
    path = save_training_state(tmp_path, 0, modules=modules, generators={"aug": gen})
    expect = (
        torch.randn(5),
        np.random.standard_normal(5),  # noqa: NPY002
        [random.random() for _ in range(3)],
        random.gauss(0, 1),
        torch.rand(4, generator=gen),
    )
    _seed_all(11)
    gen.manual_seed(0)
    load_training_state(path, modules=modules, generators={"aug": gen})
    got = (
        torch.randn(5),
        np.random.standard_normal(5),  # noqa: NPY002
        [random.random() for _ in range(3)],
        random.gauss(0, 1),
        torch.rand(4, generator=gen),
    )
    assert torch.equal(expect[0], got[0])
    np.testing.assert_array_equal(expect[1], got[1])
    assert expect[2] == got[2] and expect[3] == got[3]
    assert torch.equal(expect[4], got[4])

    # restore_rng=False leaves the current states alone.
    _seed_all(11)
    before = torch.get_rng_state()
    load_training_state(path, modules=modules, restore_rng=False)
    assert torch.equal(before, torch.get_rng_state())


def test_files_are_safetensors_and_json_without_pickle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(*args, **kwargs):
        raise AssertionError("pickle used")

    for mod, names in ((pickle, ("dump", "dumps", "load", "loads")), (torch, ("save", "load"))):
        for name in names:
            monkeypatch.setattr(mod, name, forbidden)
    monkeypatch.setattr(pickle, "Pickler", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    modules, opts = _build(0)
    _train(modules, opts, 1)
    path = save_training_state(tmp_path, 12, modules=modules, optimizers=opts, extra={"a": [1]})
    load_training_state(path, modules=modules, optimizers=opts)
    assert path.name == "checkpoint-00000012.json"
    info = json.loads(path.read_text())
    assert info["format"] == ckpt.FORMAT and info["step"] == 12 and info["extra"] == {"a": [1]}

    # Independent parse of the safetensors layout: 8-byte little-endian header size + JSON.
    raw = (tmp_path / "checkpoint-00000012.safetensors").read_bytes()
    hlen = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + hlen])
    keys = set(header) - {"__metadata__"}
    assert "module/G/fc1.weight" in keys and "module/D/bn.running_mean" in keys
    assert "optim/G/state/0/exp_avg_sq" in keys and "rng/torch_cpu" in keys
    assert header["rng/torch_cpu"]["dtype"] == "U8"
    w = modules["G"].fc1.weight.detach().numpy()
    start, end = header["module/G/fc1.weight"]["data_offsets"]
    stored = np.frombuffer(raw[8 + hlen + start : 8 + hlen + end], dtype="<f4").reshape(w.shape)
    np.testing.assert_array_equal(stored, w)


def test_keep_prunes_old_checkpoints(tmp_path: Path) -> None:
    modules, opts = _build(0)
    for step in (0, 10, 20, 30, 40):
        save_training_state(tmp_path, step, modules=modules, optimizers=opts, keep=2)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [30, 40]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint-00000030.json",
        "checkpoint-00000030.safetensors",
        "checkpoint-00000040.json",
        "checkpoint-00000040.safetensors",
    ]
    save_training_state(tmp_path, 50, modules=modules, keep=1)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [50]


def test_latest_skips_a_same_size_corruption_and_a_missing_tensor_file(tmp_path: Path) -> None:
    # A flipped byte kept the size, so `--resume latest` chose that checkpoint and the run
    # failed on its checksum instead of resuming from the previous, intact one.
    modules, opts = _build(0)
    for step in (5, 6, 7):
        save_training_state(tmp_path, step, modules=modules, optimizers=opts)
    t6 = tmp_path / "checkpoint-00000006.safetensors"
    data = bytearray(t6.read_bytes())
    data[-1] ^= 0xFF
    t6.write_bytes(bytes(data))
    (tmp_path / "checkpoint-00000007.safetensors").unlink()
    with pytest.warns(UserWarning) as record:
        assert find_latest(tmp_path) == tmp_path / "checkpoint-00000005.json"
    said = " ".join(str(w.message) for w in record)
    assert "SHA-256" in said and "00000007.safetensors is missing" in said


def test_incomplete_checkpoints_ignored_and_cleaned(tmp_path: Path) -> None:
    modules, opts = _build(0)
    save_training_state(tmp_path, 5, modules=modules, optimizers=opts)
    good = tmp_path / "checkpoint-00000005.json"
    # Leftovers of interrupted saves of step 9: a partial temporary file and tensors without a
    # commit file.
    (tmp_path / ".checkpoint-00000009.safetensors.tmp-abc").write_bytes(b"\x00" * 100)
    (tmp_path / "checkpoint-00000009.safetensors").write_bytes(b"partial")
    assert find_latest(tmp_path) == good
    assert resolve_resume("latest", tmp_path) == good
    with pytest.raises(CheckpointError, match="missing JSON commit"):
        load_training_state(tmp_path / "checkpoint-00000009", modules=modules)
    save_training_state(tmp_path, 6, modules=modules, optimizers=opts)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "checkpoint-00000005.json",
        "checkpoint-00000005.safetensors",
        "checkpoint-00000006.json",
        "checkpoint-00000006.safetensors",
    ]


def test_resave_same_step_replaces(tmp_path: Path) -> None:
    modules, _ = _build(0)
    save_training_state(tmp_path, 3, modules=modules, extra={"v": 1})
    with torch.no_grad():
        modules["G"].fc1.weight.add_(1.0)
    path = save_training_state(tmp_path, 3, modules=modules, extra={"v": 2})
    fresh, _ = _build(1)
    assert load_training_state(path, modules=fresh) == {"v": 2}
    _assert_same_state(modules, fresh)


_CHILD = textwrap.dedent(
    """
    import os, sys, time
    import torch
    from gan.training import checkpoint as ckpt

    run_dir, mode = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    net = torch.nn.Linear(64, 64)
    ckpt.save_training_state(run_dir, 1, modules={"net": net}, extra={"which": "first"})
    with torch.no_grad():
        net.weight.add_(1.0)

    real_write = ckpt._write_bytes

    def slow_write(fh, data, tmp_path):
        target = "safetensors" if mode == "tensors" else ".json"
        if target in os.path.basename(tmp_path):
            half = len(data) // 2
            real_write(fh, memoryview(data)[:half], tmp_path)
            fh.flush()
            os.fsync(fh.fileno())
            print("WRITING", flush=True)
            time.sleep(120)
        real_write(fh, data, tmp_path)

    if mode == "loop":
        print("WRITING", flush=True)
        step = 2
        while True:
            ckpt.save_training_state(run_dir, step, modules={"net": net}, extra={"step": step})
            step += 1
    ckpt._write_bytes = slow_write
    ckpt.save_training_state(run_dir, 2, modules={"net": net}, extra={"which": "second"})
    print("DONE", flush=True)
    """
)


def _run_and_kill(tmp_path: Path, mode: str, delay: float = 0.0) -> None:
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    run_dir = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, str(script), str(run_dir), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.strip() == "WRITING", proc.stderr.read()
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("mode", ["tensors", "commit"])
def test_sigkill_during_save_leaves_previous_loadable(tmp_path: Path, mode: str) -> None:
    _run_and_kill(tmp_path, mode)
    run_dir = tmp_path / "run"
    names = {p.name for p in run_dir.iterdir()}
    if mode == "tensors":
        # Killed halfway through the tensor file: only a temporary file of step 2 exists.
        assert any(n.startswith(".checkpoint-00000002.safetensors.tmp-") for n in names)
        assert "checkpoint-00000002.safetensors" not in names
    else:
        # Killed while writing the commit record: step 2's tensors are complete but uncommitted.
        assert "checkpoint-00000002.safetensors" in names
        assert any(n.startswith(".checkpoint-00000002.json.tmp-") for n in names)
    assert "checkpoint-00000002.json" not in names

    latest = find_latest(run_dir)
    assert latest == run_dir / "checkpoint-00000001.json"
    torch.manual_seed(0)
    expect = nn.Linear(64, 64)
    net = nn.Linear(64, 64)
    assert load_training_state(latest, modules={"net": net}) == {"which": "first"}
    assert torch.equal(net.weight, expect.weight) and torch.equal(net.bias, expect.bias)


def test_sigkill_at_arbitrary_moment_of_repeated_saves(tmp_path: Path) -> None:
    _run_and_kill(tmp_path, "loop", delay=0.4)
    run_dir = tmp_path / "run"
    latest = find_latest(run_dir)
    assert latest is not None
    net = nn.Linear(64, 64)
    extra = load_training_state(latest, modules={"net": net})
    step = read_checkpoint_info(latest)["step"]
    assert extra == ({"which": "first"} if step == 1 else {"step": step})
    torch.manual_seed(0)
    expect = nn.Linear(64, 64)
    offset = 0.0 if step == 1 else 1.0
    assert torch.equal(net.weight, expect.weight + offset)


def test_corrupt_or_truncated_files_give_clear_errors(tmp_path: Path) -> None:
    modules, opts = _build(0)
    path = save_training_state(tmp_path, 1, modules=modules, optimizers=opts)
    tensors = tmp_path / "checkpoint-00000001.safetensors"
    raw = bytearray(tensors.read_bytes())
    before = {k: v.clone() for k, v in modules["G"].state_dict().items()}

    raw[-10] ^= 0xFF
    tensors.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="corrupt"):
        load_training_state(path, modules=modules, optimizers=opts)
    for k, v in modules["G"].state_dict().items():
        assert torch.equal(v, before[k])

    tensors.write_bytes(bytes(raw[: len(raw) // 2]))
    with pytest.raises(CheckpointError, match="truncated"):
        load_training_state(path, modules=modules)
    with pytest.warns(UserWarning, match="skipping"):
        assert find_latest(tmp_path) is None

    path.write_text('{"format": "aliasfree-training-state", "vers')
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_training_state(path, modules=modules)
    path.write_text('{"format": "something-else"}')
    with pytest.raises(CheckpointError, match="not an aliasfree-training-state"):
        load_training_state(path, modules=modules)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_training_state(tmp_path / "checkpoint-00000077.json", modules=modules)
    assert issubclass(CheckpointError, ValueError)


def test_mismatched_networks_rejected_before_any_change(tmp_path: Path) -> None:
    modules, opts = _build(0)
    path = save_training_state(tmp_path, 1, modules=modules, optimizers=opts)
    other = {"G": nn.Linear(5, 7), "D": modules["D"]}
    with pytest.raises(CheckpointError, match="module 'G' does not match"):
        load_training_state(path, modules=other)
    wide = Tiny()
    wide.fc1 = nn.Linear(5, 7, bias=True)
    wide.fc2 = nn.Linear(7, 2)
    d_before = {k: v.clone() for k, v in modules["D"].state_dict().items()}
    fresh, _ = _build(3)
    d_fresh_before = {k: v.clone() for k, v in fresh["D"].state_dict().items()}
    with pytest.raises(CheckpointError, match="shape"):
        load_training_state(path, modules={"D": fresh["D"], "G": wide})
    for k, v in fresh["D"].state_dict().items():
        assert torch.equal(v, d_fresh_before[k])  # D untouched although listed first
    assert d_before  # original unchanged object
    with pytest.raises(CheckpointError, match="no module 'E'"):
        load_training_state(path, modules={"E": Tiny()})
    with pytest.raises(CheckpointError, match="no optimizer 'X'"):
        load_training_state(path, modules={}, optimizers={"X": opts["G"]})
    one_group = torch.optim.Adam(fresh["D"].parameters())
    with pytest.raises(CheckpointError, match="parameter groups"):
        load_training_state(path, modules={}, optimizers={"D": one_group})


def test_resolve_resume(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert resolve_resume(None, run) is None
    assert resolve_resume("", run) is None
    assert resolve_resume("latest", run) is None  # nothing yet: a fresh start
    modules, _ = _build(0)
    save_training_state(run, 3, modules=modules)
    p7 = save_training_state(run, 7, modules=modules)
    assert resolve_resume("latest", run) == p7
    assert resolve_resume(str(run), tmp_path / "elsewhere") == p7
    p3 = run / "checkpoint-00000003.json"
    assert resolve_resume(run / "checkpoint-00000003", run) == p3
    assert resolve_resume(str(run / "checkpoint-00000003.safetensors"), run) == p3
    with pytest.raises(CheckpointError, match="no checkpoint commit file"):
        resolve_resume(run / "checkpoint-00000004", run)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no complete checkpoint"):
        resolve_resume(tmp_path / "empty", run)


def test_skipped_checkpoints_can_be_reported_without_warnings(tmp_path: Path) -> None:
    # The command showed find_latest's raw UserWarning (with its source line) next to its own
    # notes; on_skip takes each reason instead.
    import warnings

    modules, _ = _build(0)
    save_training_state(tmp_path, 3, modules=modules)
    save_training_state(tmp_path, 7, modules=modules)
    t7 = tmp_path / "checkpoint-00000007.safetensors"
    t7.write_bytes(t7.read_bytes()[:50])
    said: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert find_latest(tmp_path, on_skip=said.append) == tmp_path / "checkpoint-00000003.json"
        assert resolve_resume("latest", tmp_path, on_skip=said.append) == (
            tmp_path / "checkpoint-00000003.json"
        )
    assert said == [f"skipping checkpoint {tmp_path / 'checkpoint-00000007.json'}: "
                    f"checkpoint-00000007.safetensors has 50 bytes, expected "
                    f"{read_checkpoint_info(tmp_path / 'checkpoint-00000007')['tensors_bytes']}"
                    ] * 2  # fmt: skip


def test_resume_of_a_file_that_is_no_training_checkpoint_names_the_flag(tmp_path: Path) -> None:
    # A run's exported generator.json said "... is not an aliasfree-training-state checkpoint"
    # only once its options were read, without naming --resume.
    from gan.networks.io import save_generator
    from gan.networks.presets import build_generator

    save_generator(build_generator("baseline-tiny", res=16, seed=0), tmp_path / "generator")
    arg = str(tmp_path / "generator.json")
    with pytest.raises(CheckpointError) as info:
        resolve_resume(arg, tmp_path)
    text = str(info.value)
    assert text.startswith(f"--resume {arg!r}: {arg} is not an aliasfree-training-state checkpoint")
    assert "exported generator" in text and "aliasfree generate --checkpoint" in text
    (tmp_path / "other.json").write_text('{"format": "something-else"}')
    with pytest.raises(
        CheckpointError, match=r"^--resume '.*other': .*other\.json is not an aliasfree"
    ):
        resolve_resume(tmp_path / "other", tmp_path)


def test_invalid_arguments(tmp_path: Path) -> None:
    modules, opts = _build(0)
    with pytest.raises(ValueError, match="step"):
        save_training_state(tmp_path, -1, modules=modules)
    with pytest.raises(ValueError, match="step"):
        save_training_state(tmp_path, 1.5, modules=modules)
    with pytest.raises(ValueError, match="keep"):
        save_training_state(tmp_path, 1, modules=modules, keep=0)
    with pytest.raises(ValueError, match="without '/'"):
        save_training_state(tmp_path, 1, modules={"a/b": modules["G"]})
    with pytest.raises(ValueError, match="must be a Module"):
        save_training_state(tmp_path, 1, modules={"G": 3})
    with pytest.raises(ValueError, match="must be a Optimizer"):
        save_training_state(tmp_path, 1, modules=modules, optimizers={"G": modules["G"]})
    with pytest.raises(ValueError, match="JSON-serialisable"):
        save_training_state(tmp_path, 1, modules=modules, extra={"t": torch.zeros(1)})
    with pytest.raises(ValueError, match="JSON-serialisable"):
        save_training_state(tmp_path, 1, modules=modules, extra={"x": float("nan")})
    assert list_checkpoints(tmp_path) == []


def test_resumed_from_older_checkpoint_keeps_the_new_one(tmp_path: Path) -> None:
    modules, _ = _build(0)
    for step in (10, 20, 30):
        save_training_state(tmp_path, step, modules=modules, keep=2)
    with pytest.warns(UserWarning, match="newer than step 15"):
        save_training_state(tmp_path, 15, modules=modules, keep=2)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [15, 30]


def test_real_networks_round_trip(tmp_path: Path) -> None:
    from gan.networks.presets import build_discriminator, build_generator

    G = build_generator("t-tiny", res=32, seed=0)
    G_ema = build_generator("t-tiny", res=32, seed=0)
    D = build_discriminator("t-tiny", res=32)
    opt = torch.optim.Adam(D.parameters(), lr=0.002, betas=(0.0, 0.99))
    path = save_training_state(
        tmp_path, 0, modules={"G": G, "G_ema": G_ema, "D": D}, optimizers={"D": opt}
    )
    G2 = build_generator("t-tiny", res=32, seed=1)
    D2 = build_discriminator("t-tiny", res=32)
    G2_ema = build_generator("t-tiny", res=32, seed=2)
    assert any(not torch.equal(a, b) for a, b in zip(G.parameters(), G2.parameters(), strict=True))
    load_training_state(
        path,
        modules={"G": G2, "G_ema": G2_ema, "D": D2},
        optimizers={"D": torch.optim.Adam(D2.parameters())},
    )
    _assert_same_state({"G": G, "G_ema": G_ema, "D": D}, {"G": G2, "G_ema": G2_ema, "D": D2})


def test_compiled_modules_save_and_load_as_the_bare_network(tmp_path: Path) -> None:
    lin = torch.nn.Linear(3, 3)
    save_training_state(tmp_path, 1, modules={"m": torch.compile(lin)})
    plain = torch.nn.Linear(3, 3)
    load_training_state(tmp_path / "checkpoint-00000001", modules={"m": plain})
    torch.testing.assert_close(plain.weight, lin.weight)
    again = torch.nn.Linear(3, 3)
    load_training_state(tmp_path / "checkpoint-00000001", modules={"m": torch.compile(again)})
    torch.testing.assert_close(again.weight, lin.weight)


def test_prune_warning_names_what_survives(tmp_path: Path) -> None:
    # keep=1 after newer checkpoints: it warned that '--resume latest' would pick one it then
    # deleted.
    modules, _ = _build(0)
    for step in (10, 20, 30):
        save_training_state(tmp_path, step, modules=modules, keep=3)
    with pytest.warns(UserWarning, match=r"would pick step 30"):
        save_training_state(tmp_path, 15, modules=modules, keep=3)
    with pytest.warns(UserWarning, match=r"deleted checkpoints newer than step 12"):
        save_training_state(tmp_path, 12, modules=modules, keep=1)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [12]
