"""``aliasfree train``: a tiny run writes the documented run directory and resumes."""

from __future__ import annotations

import argparse
import json
import os
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from aliasfree.commands import train as train_cmd


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="aliasfree")
    sub = parser.add_subparsers(dest="command")
    train_cmd.add_parser(sub)
    return parser.parse_args(["train", *argv])


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def _write_folder(path, n=6, res=32):
    path.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (res, res, 3), np.uint8)).save(path / f"{i}.png")
    return path


def test_tiny_run_writes_the_expected_files(tmp_path, capsys):
    data = _write_folder(tmp_path / "imgs")
    out = tmp_path / "run"
    common = ["--config", "baseline", "--data", str(data), "--batch", "4", "--threads", "1"]
    common += ["--out", str(out), "--metrics", "eqt,fid", "--metric-samples", "2"]
    common += ["--tick-kimg", "0.004", "--snap-kimg", "0.008"]
    args = _parse([*common, "--kimg", "0.008"])
    assert train_cmd.run(args) == 0
    assert "run directory" in capsys.readouterr().out
    names = {p.name for p in out.iterdir()}
    for f in [
        "options.json",
        "README.txt",
        "log.jsonl",
        "metrics.jsonl",
        "reals.png",
        "losses.png",
        "progress.png",
        "generator.json",
        "generator.safetensors",
        "checkpoint-00000002.json",
        "checkpoint-00000002.safetensors",
    ]:
        assert f in names, f
    grids = sorted(n for n in names if n.startswith("samples-kimg"))
    assert grids == ["samples-kimg0000.008.png"]
    # 16 latents of 32 px, pad 1, enlarged 4x by pixel replication for viewing.
    assert Image.open(out / grids[0]).size == (4 * (4 * 32 + 3), 4 * (4 * 32 + 3))
    # progress.png's row is the grid's first row of tiles, cut out exactly.
    from gan.training.loop import _grid_top_row

    row = _grid_top_row(out / grids[0], 32, 16)
    assert row.shape[:2] == (4 * 32, 4 * (4 * 32 + 3))
    np.testing.assert_array_equal(row, np.asarray(Image.open(out / grids[0]))[: 4 * 32])
    assert _grid_top_row(out / grids[0], 30, 16) is None  # geometry that does not fit
    log = [json.loads(line) for line in (out / "log.jsonl").open()]
    assert [r["step"] for r in log] == [1, 2]
    assert all(np.isfinite(r["loss_G"]) and np.isfinite(r["loss_D"]) for r in log)
    (met,) = [json.loads(line) for line in (out / "metrics.jsonl").open()]
    assert isinstance(met["eqt"], float) and "fid-extractor" in met["fid_kid_note"]
    opts = json.loads((out / "options.json").read_text())
    assert opts["res"] == 32 and opts["r1_gamma"] == pytest.approx(0.5 * (32 / 128) ** 2)
    assert "resume latest" in (out / "README.txt").read_text()

    # Resume to 16 images: one more checkpoint, the log continues.
    args = _parse([*common, "--kimg", "0.016", "--resume", "latest"])
    assert train_cmd.run(args) == 0
    assert (out / "checkpoint-00000004.json").is_file()
    log = [json.loads(line) for line in (out / "log.jsonl").open()]
    assert [r["step"] for r in log] == [1, 2, 3, 4]
    times = [r["time_s"] for r in log]  # the run's wall time: it carries on across the resume
    assert times == sorted(times) and times[2] > times[1]

    # Resumed with no length, snapshot or metric flags: the run's own (to its kimg target),
    # said in one note; a typed flag wins, and --minutes replaces the saved --kimg.
    bare = _parse(["--out", str(out), "--resume", "latest", "--threads", "1"])
    opts, notes = train_cmd.resumed_session_options(bare, train_cmd.options_from_args(bare))
    got = (opts.kimg, opts.minutes, opts.snap_kimg, opts.metric_samples, opts.metrics)
    assert got == (0.016, None, 0.008, 2, ("eqt", "fid"))
    assert len(notes) == 1 and all(
        f in notes[0] for f in ("--kimg 0.016", "--snap-kimg 0.008", "--metric-samples 2")
    )
    typed = _parse(["--out", str(out), "--resume", "latest", "--minutes", "1", "--keep", "2"])
    opts, _ = train_cmd.resumed_session_options(typed, train_cmd.options_from_args(typed))
    assert (opts.kimg, opts.minutes, opts.keep, opts.snap_kimg) == (None, 1.0, 2, 0.008)
    assert train_cmd.run(bare) == 0  # already at its 0.016 kimg: no more steps
    assert not (out / "checkpoint-00000005.json").exists()
    assert json.loads((out / "options.json").read_text())["kimg"] == 0.016


def _stop_before_building(monkeypatch):
    """Make ``train`` stop with an error where it would build the networks and load data."""

    def trainer(*args, **kwargs):
        raise ValueError("stopped by the test before any work")

    monkeypatch.setattr("gan.training.loop.Trainer", trainer)


def test_resume_latest_without_a_checkpoint_says_it_starts_a_new_run(tmp_path, capsys, monkeypatch):
    from aliasfree import cli

    args = _parse(["--out", str(tmp_path / "new"), "--resume", "latest"])
    opts, notes = train_cmd.resumed_session_options(args, train_cmd.options_from_args(args))
    assert notes == []  # train() says it, once it has decided (after any skipped checkpoint)
    assert opts == train_cmd.options_from_args(args)
    _stop_before_building(monkeypatch)
    assert cli.main(["train", "--out", str(tmp_path / "new"), "--resume", "latest",
                     "--threads", "1"]) == 2  # fmt: skip
    assert capsys.readouterr().err.splitlines() == [
        f"note: no checkpoint in {tmp_path / 'new'} yet: starting a new run",
        "aliasfree train: error: stopped by the test before any work",
    ]


def test_resume_latest_with_only_unreadable_checkpoints_says_one_thing(tmp_path, capsys):
    # A raw UserWarning (with its source line), then "note: no checkpoint ... starting a new
    # run", then an error saying the folder holds checkpoints.
    from aliasfree import cli
    from gan.training.checkpoint import save_training_state

    out = tmp_path / "run"
    save_training_state(out, 7, modules={"G": torch.nn.Linear(2, 2)})
    tensors = out / "checkpoint-00000007.safetensors"
    tensors.write_bytes(tensors.read_bytes()[:100])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning would be shown raw on the command line
        rc = cli.main(["train", "--out", str(out), "--resume", "latest", "--threads", "1"])
    assert rc == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith(
        f"note: skipping checkpoint {out / 'checkpoint-00000007.json'}: "
        "checkpoint-00000007.safetensors has 100 bytes, expected "
    )
    assert lines[1] == (
        f"aliasfree train: error: --resume latest: {out} holds checkpoints but none is complete "
        "and readable (see the notes above); move them away or choose another --out"
    )


def test_resume_of_the_exported_generator_names_the_flag(tmp_path, capsys):
    from aliasfree import cli
    from gan.networks.io import save_generator
    from gan.networks.presets import build_generator

    save_generator(build_generator("baseline-tiny", res=16, seed=0), tmp_path / "b1" / "generator")
    gen = str(tmp_path / "b1" / "generator.json")
    argv = ["train", "--out", str(tmp_path / "new"), "--resume", gen, "--threads", "1"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"aliasfree train: error: --resume {gen!r}: {gen} is not an aliasfree-training-state "
        "checkpoint (it is an exported generator, for `aliasfree generate --checkpoint`"
    )
    assert not (tmp_path / "new").exists()


def test_fid_extractor_is_checked_and_said_unused_without_fid_or_kid(tmp_path, capsys, monkeypatch):
    # --fid-extractor nope.pt was neither checked nor used unless --metrics had fid or kid.
    from aliasfree import cli

    out = str(tmp_path / "run")
    nope = tmp_path / "nope.pt"
    assert cli.main(["train", "--out", out, "--fid-extractor", str(nope), "--threads", "1"]) == 2
    assert capsys.readouterr().err == (
        f"aliasfree train: error: --fid-extractor {str(nope)!r} does not exist: give an "
        "existing TorchScript feature extractor file (e.g. inception-2015-12-05.pt)\n"
    )
    assert cli.main(["train", "--out", out, "--fid-extractor", str(tmp_path), "--threads",
                     "1", "--metrics", "fid"]) == 2  # fmt: skip
    assert "is not a file" in capsys.readouterr().err
    extractor = tmp_path / "x.pt"
    extractor.write_bytes(b"")
    _stop_before_building(monkeypatch)
    argv = ["train", "--out", out, "--fid-extractor", str(extractor), "--threads", "1"]
    assert cli.main([*argv, "--metrics", "eqt"]) == 2
    assert capsys.readouterr().err.splitlines()[0] == (
        "note: --fid-extractor is unused: --metrics eqt has no fid or kid (add them to "
        "--metrics to compute FID/KID)"
    )
    assert cli.main([*argv, "--metrics", "eqt,kid"]) == 2
    assert "unused" not in capsys.readouterr().err


def test_a_crashed_run_can_be_sampled_from_its_last_snapshot(tmp_path):
    # The generator and the plots are written at every snapshot, not only at the end: a run that
    # dies after its first snapshot (here: an error raised right after it) can be sampled.
    from gan.networks.io import load_generator
    from gan.training import loop
    from gan.training.options import TrainOptions

    data = _write_folder(tmp_path / "imgs")
    out = tmp_path / "run"
    opts = TrainOptions(
        config="baseline", data=str(data), batch=4, kimg=0.016, snap_kimg=0.008,
        tick_kimg=0.004, metrics=(), out=str(out),
    )  # fmt: skip

    def crash_after_snapshot(line: str) -> None:
        if line.startswith("snapshot"):
            raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError, match="simulated crash"):
        loop.train(opts, progress=False, log=crash_after_snapshot)
    G = load_generator(out)
    assert G(torch.randn(1, G.z_dim)).shape[-1] == 32
    assert (out / "losses.png").is_file() and (out / "progress.png").is_file()
    assert not (out / "checkpoint-00000004.json").exists()


def test_bad_arguments_raise_value_errors(tmp_path):
    with pytest.raises(ValueError, match="metrics"):
        train_cmd.options_from_args(_parse(["--metrics", "eqt,psnr"]))
    with pytest.raises(ValueError, match="batch"):
        train_cmd.options_from_args(_parse(["--batch", "0"]))
    with pytest.raises(ValueError, match="res"):
        train_cmd.options_from_args(_parse(["--res", "48"]))
    with pytest.raises(SystemExit):  # argparse: --kimg and --minutes exclude each other
        _parse(["--kimg", "1", "--minutes", "1"])
    with pytest.raises(ValueError, match="pl_weight must be 0 for config 't'"):
        train_cmd.options_from_args(_parse(["--pl-weight", "2"]))
    o = train_cmd.options_from_args(
        _parse(["--config", "baseline", "--style-mixing", "0.5", "--pl-weight", "1"])
    )
    assert (o.style_mixing, o.pl_weight, o.pl_interval) == (0.5, 1.0, 4)


def test_regulariser_flags_name_themselves_in_errors(tmp_path, capsys):
    from aliasfree.cli import main

    for argv, flag in [
        (["--config", "t", "--pl-weight", "2"], "--pl-weight must be 0 for config 't'"),
        (["--config", "baseline", "--style-mixing", "1.5"], "--style-mixing must"),
        (["--config", "baseline", "--pl-interval", "0"], "--pl-interval must"),
    ]:
        assert main(["train", *argv, "--out", str(tmp_path / "never")]) == 2
        assert flag in capsys.readouterr().err
    assert not (tmp_path / "never").exists()


class _MeanColour(torch.nn.Module):
    """A stand-in feature extractor: per-channel means and mean squares of the image."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float() / 255
        return torch.cat([x.mean(dim=[2, 3]), x.square().mean(dim=[2, 3])], dim=1)


def test_fid_kid_at_snapshots_with_an_extractor(tmp_path):
    data = _write_folder(tmp_path / "imgs", n=4, res=16)
    ext = tmp_path / "ext.pt"
    with warnings.catch_warnings():  # TorchScript is deprecated but it is the file format
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(_MeanColour()).save(str(ext))
    out = tmp_path / "run"
    args = _parse(
        ["--config", "baseline", "--data", str(data), "--batch", "2", "--kimg", "0.002"]
        + ["--out", str(out), "--metrics", "fid,kid", "--fid-extractor", str(ext)]
        + ["--fid-samples", "8", "--no-progress", "--threads", "1"]
    )
    assert train_cmd.run(args) == 0
    (met,) = [json.loads(line) for line in (out / "metrics.jsonl").open()]
    assert set(met) >= {"fid", "kid"} and np.isfinite(met["fid"]) and met["fid"] >= 0
    assert np.isfinite(met["kid"])
    with pytest.raises(ValueError, match="fid-extractor|extractor|exist|found"):
        train_cmd.run(
            _parse(
                ["--data", str(data), "--out", str(tmp_path / "r2"), "--metrics", "fid"]
                + ["--fid-extractor", str(tmp_path / "missing.pt"), "--kimg", "0.002"]
            )
        )


def test_tensorboard_scalars_when_tensorboard_is_installed(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    data = _write_folder(tmp_path / "imgs")
    out = tmp_path / "run"
    argv = ["--config", "baseline", "--data", str(data), "--batch", "4", "--threads", "1"]
    argv += ["--out", str(out), "--metrics", "eqt", "--metric-samples", "2"]
    argv += ["--tick-kimg", "0.004", "--snap-kimg", "0.008", "--kimg", "0.008"]
    assert train_cmd.run(_parse(argv)) == 0
    acc = EventAccumulator(str(out / "tensorboard"))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    assert "train/loss_G" in tags and "train/loss_D" in tags and "metrics/eqt" in tags
    steps = [e.step for e in acc.Scalars("train/loss_G")]
    # One scalar per progress tick, keyed by the number of real images shown.
    assert steps == sorted(steps) and steps[-1] == 8
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [e.value for e in acc.Scalars("train/loss_G")] == pytest.approx(
        [r["loss_G"] for r in log], rel=1e-6
    )


def test_default_threads_follow_the_idle_cpus():
    from aliasfree.commands.train import _idle_cpus, default_threads

    assert default_threads(2, 2.0) == 2
    assert default_threads(2, 1.8) == 2  # a core busy 5 % of the time still counts
    assert default_threads(2, 1.7) == 1
    assert default_threads(2, 0.1) == 1  # never fewer than one
    assert default_threads(4, 7.0) == 4  # never more than the process may use
    assert default_threads(3, None) == 3
    idle = _idle_cpus(0.05)
    assert idle is None or 0.0 <= idle <= (os.cpu_count() or 1) + 1e-9


def test_torchrun_processes_share_the_idle_cpus():
    from aliasfree.commands.train import default_threads

    # Two processes on two idle CPUs: one thread each, not two each (measured 15x slower).
    assert default_threads(2, 2.0, processes=2) == 1
    assert default_threads(8, 8.0, processes=2) == 4
    assert default_threads(8, None, processes=3) == 2
    assert default_threads(2, 0.3, processes=4) == 1  # never fewer than one


@pytest.mark.slow  # torchrun starts two fresh Python processes that import torch: ~15 s
def test_torchrun_two_processes_end_cleanly_and_report_once(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    cmd += ["-m", "aliasfree", "train", "--config", "baseline", "--res", "16", "--batch", "4"]
    # 2 steps with a snapshot after each: the run's last step is a snapshot step.
    cmd += ["--kimg", "0.008", "--snap-kimg", "0.004", "--tick-kimg", "0.004"]
    cmd += ["--metrics", "none", "--out", str(out)]
    env = dict(os.environ, PYTHONPATH=str(repo), OMP_NUM_THREADS="1")
    env.pop("LOCAL_WORLD_SIZE", None)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("trained 0.008 kimg (2 steps)") == 1, proc.stdout
    assert "checkpoint-00000002.json" in proc.stdout
    assert proc.stderr.count("kimg 0.01/0.01  step 2") == 1, proc.stderr
    [note] = [line for line in proc.stderr.splitlines() if line.startswith("torch threads:")]
    threads = int(note.split()[2])
    assert "shared by 2 processes" in note and 2 * threads <= max(2, os.cpu_count() or 1)
    assert sorted(p.name for p in out.glob("checkpoint-*.json")) == [
        "checkpoint-00000001.json",
        "checkpoint-00000002.json",
    ]
    steps = [json.loads(line)["step"] for line in (out / "log.jsonl").open()]
    assert steps == [1, 2]
    # Resumed under torchrun: the messages come once, from rank 0.
    cmd[cmd.index("0.008")] = "0.012"
    proc = subprocess.run(
        [*cmd, "--resume", "latest", "--gamma", "0.5"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("trained 0.012 kimg (3 steps)") == 1, proc.stdout
    assert proc.stderr.count("resumed from") == 1, proc.stderr
    assert proc.stderr.count("note: --gamma 0.5 is ignored") == 1, proc.stderr


def test_a_run_stopped_by_a_signal_exits_with_128_plus_its_number(tmp_path, capsys, monkeypatch):
    # The run stops cleanly (final snapshot and checkpoint) but is not "finished": the shell's
    # convention tells scripts and schedulers so (130 for Ctrl-C, 143 for SIGTERM).
    import signal

    data = _write_folder(tmp_path / "imgs")
    out = tmp_path / "run"
    argv = ["--config", "baseline", "--data", str(data), "--batch", "4", "--threads", "1"]
    argv += ["--out", str(out), "--metrics", "none", "--tick-kimg", "0.004", "--kimg", "0.012"]

    def sigint_after_first_tick(line: str) -> None:
        if line.startswith("kimg"):
            os.kill(os.getpid(), signal.SIGINT)

    from gan.training import loop

    real_train = loop.train

    def train_with_ctrl_c(opts, **kw):
        return real_train(opts, **kw, log=sigint_after_first_tick)

    monkeypatch.setattr(loop, "train", train_with_ctrl_c)
    code = train_cmd.run(_parse(argv))
    assert code == 128 + signal.SIGINT
    captured = capsys.readouterr()
    assert "run directory" in captured.out
    assert "stopped early; continue with --resume latest" in captured.err
    assert (out / "checkpoint-00000001.json").is_file()


def test_train_without_scikit_image_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    import sys

    from aliasfree import cli

    for name in ["skimage", "skimage.data", *[m for m in sys.modules if m.startswith("skimage")]]:
        monkeypatch.setitem(sys.modules, name, None)
    # Was a raw ModuleNotFoundError traceback: the default --data builtin needs scikit-image,
    # which only the `data` extra installs.
    rc = cli.main(["train", "--config", "baseline", "--res", "16", "--batch", "4", "--kimg",
                   "0.004", "--metrics", "none", "--out", str(tmp_path / "run")])  # fmt: skip
    assert rc == 2
    err = capsys.readouterr().err
    assert "aliasfree train: error:" in err and "aliasfree[data]" in err


def test_data_path_errors_name_the_data_flag(tmp_path, capsys):
    from aliasfree.cli import main

    # Said "dataset source does not exist: ..." (no flag named).
    (tmp_path / "empty").mkdir()
    for data, text in [
        (tmp_path / "missing", "--data must be 'builtin', 'builtin:<set>', a folder or a .zip"),
        (tmp_path / "empty", "--data must hold PNG/JPEG/WebP/BMP/TIFF images; none found in"),
    ]:
        argv = ["train", "--data", str(data), "--threads", "1", "--out", str(tmp_path / "never")]
        assert main(argv) == 2
        assert f"\naliasfree train: error: {text}" in "\n" + capsys.readouterr().err
    assert not (tmp_path / "never").exists()
