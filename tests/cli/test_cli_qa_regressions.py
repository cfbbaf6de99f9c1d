"""Regressions found by adversarial QA of the ``aliasfree`` commands: bad output paths, run
folders as checkpoints, image suffixes, factories that need arguments, resume overrides."""

from __future__ import annotations

import argparse
import stat
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from aliasfree import cli
from aliasfree.commands import train as train_cmd
from dsp._io import output_mode
from gan.networks.io import load_generator, save_generator
from gan.networks.presets import build_generator
from gan.probe.loading import load_model

FILTER = ["filter", "--numtaps", "8", "--cutoff", "16", "--width", "20", "--fs", "64"]


@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    for name in (
        "filter",
        "tour",
        "schedule",
        "generate",
        "video",
        "aliasing",
        "equivariance",
        "sticking",
        "spectrum",
        "dataset",
    ):
        monkeypatch.setitem(cli.COMMANDS, name, name)


def test_out_blocked_by_a_file_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "afile"
    blocker.write_text("keep")
    assert cli.main([*FILTER, "--out", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert "aliasfree filter: error:" in err and "is a file" in err and "Traceback" not in err
    assert blocker.read_text() == "keep"


@pytest.mark.parametrize(
    "argv",
    [
        ["tour", "--res", "16", "--no-plots"],
        ["aliasing", "resnet-stride", "--num", "1", "--input-shape", "3,16,16"],
    ],
)
def test_output_folder_blocked_by_a_file(argv, tmp_path, capsys):
    blocker = tmp_path / "afile"
    blocker.write_text("keep")
    assert cli.main([*argv, "--out", str(blocker / "sub")]) == 2
    captured = capsys.readouterr()
    assert "is a file" in captured.err and captured.out == ""
    with pytest.raises(ValueError, match="is a file"):
        train_cmd.run(_parse(["--out", str(blocker), "--kimg", "0.002"]))
    assert blocker.read_text() == "keep"


@pytest.mark.parametrize(
    "argv, name",
    [
        (["generate", "--res", "16", "--seeds", "0"], "g.png"),
        (["sticking", "--res", "16", "--num", "2", "--steps", "2"], "s.png"),
        (["video", "--res", "16", "--frames", "2"], "v.gif"),
        (["equivariance", "--res", "16", "--num", "1", "--metrics", "eqt_frac"], "e.json"),
        (["tour", "--res", "16", "--no-plots"], ""),
    ],
)
@pytest.mark.parametrize("where", ["blocked", "proc"])
def test_an_unwritable_out_is_status_2_naming_the_flag_before_any_work(
    argv, name, where, tmp_path, capsys, monkeypatch
):
    # generate and tour exited 1 with a bare "No such file or directory" after doing the work.
    parent = tmp_path / "afile" / "sub" if where == "blocked" else Path("/proc/nope")
    (tmp_path / "afile").write_text("keep")
    import gan.networks.presets as presets

    def no_work(*a, **k):
        raise AssertionError("the network was built before --out was checked")

    monkeypatch.setattr(presets, "build_generator", no_work)
    out = parent / name if name else parent
    assert cli.main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--out: cannot write" in err and "Traceback" not in err
    assert (tmp_path / "afile").read_text() == "keep"


def test_file_system_errors_are_one_line_messages(tmp_path, capsys, monkeypatch):
    import dsp._io

    def refuse(path, obj):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(dsp._io, "write_json_atomic", refuse)
    rc = cli.main([*FILTER, "--no-plots", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.strip().splitlines() == [
        f"aliasfree filter: error: Permission denied: '{tmp_path / 'o' / 'filter_taps.json'}'"
    ]


def test_broken_pipe_stops_quietly(capsys, monkeypatch):
    # `aliasfree schedule | head` closed the pipe: that is no "error: Broken pipe".
    from aliasfree.commands import schedule

    def closed(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(schedule, "run", closed)
    assert cli.main(["schedule"]) == 1
    assert capsys.readouterr().err == ""


def test_interrupt_is_a_message_and_status_130(capsys, monkeypatch):
    from aliasfree.commands import schedule

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(schedule, "run", interrupted)
    assert cli.main(["schedule"]) == 130
    assert capsys.readouterr().err == "aliasfree schedule: interrupted\n"


def test_outputs_are_readable_like_other_files(tmp_path):
    assert cli.main([*FILTER, "--out", str(tmp_path / "o")]) == 0
    for p in (tmp_path / "o").iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == output_mode(), p.name


def test_tour_rejects_bad_res_before_printing_or_creating(tmp_path, capsys):
    out = tmp_path / "tour"
    assert cli.main(["tour", "--res", "100", "--out", str(out), "--no-plots"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "power of two" in captured.err
    assert not out.exists()


def test_schedule_accepts_no_plots_like_the_other_commands(tmp_path):
    out = tmp_path / "s"
    assert cli.main(["schedule", "--res", "16", "--no-plots", "--out", str(out)]) == 0
    assert [p.name for p in out.iterdir()] == ["schedule.json"]


def test_generate_from_a_run_folder(tmp_path, capsys):
    G = build_generator("t-tiny", res=16, seed=3)
    run = tmp_path / "run"
    save_generator(G, run / "generator")
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert cli.main(["generate", "--checkpoint", str(run), "--seeds", "0", "--out", str(a)]) == 0
    stem = str(run / "generator")
    assert cli.main(["generate", "--checkpoint", stem, "--seeds", "0", "--out", str(b)]) == 0
    assert np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))
    assert isinstance(load_generator(run), torch.nn.Module)
    empty = tmp_path / "empty"
    empty.mkdir()
    capsys.readouterr()
    assert cli.main(["generate", "--checkpoint", str(empty), "--out", str(a)]) == 2
    assert "without generator.json" in capsys.readouterr().err


def test_generate_writes_png_files_only(tmp_path, capsys):
    # The help says "output PNG", yet g.jpg got a (lossy) JPEG and "noext" a PNG without suffix.
    common = ["generate", "--res", "16", "--seeds", "0"]
    assert cli.main([*common, "--out", str(tmp_path / "g.PNG")]) == 0
    assert Image.open(tmp_path / "g.PNG").format == "PNG"
    for name in ("g.jpg", "g.tif", "noext"):
        assert cli.main([*common, "--out", str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert "--out must end in .png" in err and name in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.PNG"]


def test_generate_psi_range_and_column_count(tmp_path, capsys):
    out = tmp_path / "g.png"
    common = ["generate", "--res", "16", "--seeds", "0-1", "--out", str(out)]
    assert cli.main([*common, "--psi", "1e308"]) == 2  # was a float32 overflow traceback
    assert "--psi must be in [-10, 10]" in capsys.readouterr().err
    assert not out.exists()
    # More columns than images used to add black tiles (a 6400 px wide grid for 2 images).
    assert cli.main([*common, "--cols", "100"]) == 0
    assert Image.open(out).size == (2 * 16 + 1, 16)  # two tiles and the gutter


def test_video_refuses_a_suffix_it_would_mislabel(tmp_path, capsys):
    out = tmp_path / "v.mp4"
    assert cli.main(["video", "--res", "16", "--frames", "2", "--out", str(out)]) == 2
    assert ".gif" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_factory_that_needs_arguments_is_a_value_error(capsys):
    with pytest.raises(ValueError, match="callable without arguments"):
        load_model("os:system")
    assert cli.main(["aliasing", "os:system", "--num", "1"]) == 2
    assert "callable without arguments" in capsys.readouterr().err


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="aliasfree")
    train_cmd.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["train", *argv])


def test_resume_reports_training_flags_it_ignores(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "imgs"
    data.mkdir()
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), np.uint8)).save(data / f"{i}.png")
    out = tmp_path / "run"
    common = ["--config", "baseline", "--data", str(data), "--batch", "2", "--threads", "1"]
    common += ["--out", str(out), "--metrics", "none", "--kimg", "0.002"]
    n = torch.get_num_threads()
    try:
        assert train_cmd.run(_parse(common)) == 0
    finally:
        torch.set_num_threads(n)
    again = _parse([*common, "--resume", "latest"])
    assert train_cmd._ignored_on_resume(again, train_cmd.options_from_args(again)) == []
    other = _parse([*common, "--resume", "latest", "--config", "r", "--gamma", "2"])
    notes = train_cmd._ignored_on_resume(other, train_cmd.options_from_args(other))
    assert len(notes) == 2
    assert "--config r is ignored" in notes[0] and "baseline" in notes[0]
    assert "--gamma 2.0 is ignored" in notes[1]
    switch = _parse([*common, "--resume", "latest", "--no-ada-lumaflip"])
    (note,) = train_cmd._ignored_on_resume(switch, train_cmd.options_from_args(switch))
    assert note.startswith("note: --no-ada-lumaflip is ignored")  # as typed, not "… False"

    # A checkpoint of one run resumed into a folder holding another run's checkpoints would
    # overwrite them step for step and leave the rest to a later --resume latest.
    import shutil

    other = tmp_path / "other"
    other.mkdir()
    for f in out.glob("checkpoint-*"):
        shutil.copy(f, other / f.name)
    (ckpt,) = sorted(out.glob("checkpoint-*.json"))
    foreign = [*common, "--out", str(other), "--resume", str(ckpt)]  # the last --out counts
    with pytest.raises(ValueError, match="checkpoints of another run"):
        train_cmd.run(_parse(foreign))

    # Every checkpoint truncated: --resume latest must not say "continue it with --resume latest".
    for f in out.glob("checkpoint-*.safetensors"):
        f.write_bytes(f.read_bytes()[:100])
    # Each skipped checkpoint is a note on stderr (train's log), not a raw UserWarning.
    with pytest.raises(ValueError, match="none is complete and readable"):
        train_cmd.run(_parse([*common, "--resume", "latest"]))


def test_seed_ranges_are_bounded_before_they_are_expanded():
    # "0-99999999999999" (a typo away from "0-99") built the whole list before the 4096 check:
    # gigabytes of memory, then a kill.
    from aliasfree.commands.generate import parse_seeds

    for text in ("0-99999999999999", "0-4095,9"):
        with pytest.raises(ValueError, match="4096"):
            parse_seeds(text)
    assert parse_seeds("0-4095") == list(range(4096))
    assert parse_seeds("1,3,5") == [1, 3, 5]


def test_generate_conditions_a_labelled_generator_on_real_classes(tmp_path, capsys):
    # A generator trained with --labels was fed the all-zero condition, a class it never saw
    # (the run's own sample grids use one-hot labels), and no flag could choose a class.
    from gan.metrics.video import image_grid, latents_from_seeds

    G = build_generator("t-tiny", res=16, seed=3, c_dim=3).eval()
    save_generator(G, tmp_path / "generator")
    ckpt = str(tmp_path / "generator")
    z = latents_from_seeds([0, 1, 2, 3], G.z_dim)

    def expected(classes: list[int]) -> np.ndarray:
        c = torch.nn.functional.one_hot(torch.tensor(classes), 3).float()
        with torch.no_grad():
            return image_grid(G(z, c, noise_mode="const"), pad=1)  # generate's gutter

    def made(*extra: str) -> np.ndarray:
        out = tmp_path / "g.png"
        argv = ["generate", "--checkpoint", ckpt, "--seeds", "0-3", "--out", str(out), *extra]
        assert cli.main(argv) == 0
        return np.asarray(Image.open(out))

    assert np.array_equal(made(), expected([0, 1, 2, 0]))
    assert np.array_equal(made("--class", "2"), expected([2, 2, 2, 2]))
    capsys.readouterr()
    assert cli.main(["generate", "--checkpoint", ckpt, "--class", "3"]) == 2
    assert "--class must be in 0..2" in capsys.readouterr().err
    plain = ["generate", "--res", "16", "--class", "0", "--out", str(tmp_path / "u.png")]
    assert cli.main(plain) == 2
    assert "unconditional" in capsys.readouterr().err


def test_data_path_is_stored_absolute_so_resume_works_from_anywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    opts = train_cmd.options_from_args(_parse(["--data", "imgs/faces.zip"]))
    assert opts.data == str(tmp_path / "imgs" / "faces.zip")
    assert train_cmd.options_from_args(_parse(["--data", "builtin:lfw"])).data == "builtin:lfw"
    assert train_cmd.options_from_args(_parse([])).data == "builtin"


def _tiny_baseline_run(tmp_path) -> list[str]:
    """Train 1 step of a 16 px baseline into ``tmp_path/run``; its common arguments."""
    rng = np.random.default_rng(0)
    data = tmp_path / "imgs"
    data.mkdir()
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), np.uint8)).save(data / f"{i}.png")
    common = ["--config", "baseline", "--data", str(data), "--batch", "2", "--threads", "1"]
    common += ["--out", str(tmp_path / "run"), "--metrics", "none", "--kimg", "0.002"]
    n = torch.get_num_threads()
    try:
        assert train_cmd.run(_parse(common)) == 0
    finally:
        torch.set_num_threads(n)
    return common


def test_resume_reports_given_flags_equal_to_the_defaults_and_a_reached_kimg(tmp_path, capsys):
    from gan.training.options import TRAINING_FIELDS

    # Every option a resume takes from the checkpoint and that has a flag is tracked.
    flagless = {"betas", "eps", "ema_rampup", "ada_interval"}
    assert set(train_cmd._FIELD_OF_DEST.values()) == set(TRAINING_FIELDS) - flagless
    common = _tiny_baseline_run(tmp_path)
    resume = [*common, "--resume", "latest"]

    def notes(*extra: str) -> list[str]:
        args = _parse([*resume, *extra])
        return train_cmd._ignored_on_resume(args, train_cmd.options_from_args(args))

    # --config t is the CLI default, so it went unreported although the run stays a baseline.
    (note,) = notes("--config", "t")
    assert "--config t is ignored" in note and "baseline" in note
    assert notes("--seed", "0", "--augment", "ada") == []  # given, but as in the checkpoint
    assert [n.split(" is ")[0] for n in notes("--xflip", "--seed", "5")] == [
        "note: --xflip",  # as typed
        "note: --seed 5",
    ]

    # A --kimg the checkpoint already reached trained nothing, silently.
    capsys.readouterr()
    n = torch.get_num_threads()
    try:
        assert train_cmd.run(_parse([*resume, "--kimg", "0.001"])) == 0
    finally:
        torch.set_num_threads(n)
    err = capsys.readouterr().err
    assert "step 1 (0.002 kimg)" in err  # was rounded to 0.00
    assert "already at 0.002 kimg >= --kimg 0.001: nothing to train" in err


def _training_checkpoint(folder) -> tuple:
    """A training checkpoint's file pair (only its format matters to load_generator)."""
    folder.mkdir()
    ckpt = folder / "checkpoint-00000013.json"
    ckpt.write_text('{"format": "aliasfree-training-state", "version": 1}')
    (folder / "checkpoint-00000013.safetensors").write_bytes(b"")
    return ckpt, folder / "checkpoint-00000013.safetensors"


def test_generate_explains_training_checkpoints_and_other_files(tmp_path, capsys):
    out = str(tmp_path / "g.png")
    for ckpt in _training_checkpoint(tmp_path / "run"):
        assert cli.main(["generate", "--checkpoint", str(ckpt), "--out", out]) == 2
        err = capsys.readouterr().err
        assert "--checkpoint:" in err and "is a training checkpoint, not a generator" in err
        assert "run folder" in err and "generator.json" in err
    image = tmp_path / "rgb.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(image)
    assert cli.main(["generate", "--checkpoint", str(image), "--out", out]) == 2
    err = capsys.readouterr().err
    assert f"'{image}' is not a generator" in err and "rgb.png.json" not in err
    assert not (tmp_path / "g.png").exists()


@pytest.mark.parametrize("command", ["generate", "equivariance", "sticking", "video"])
def test_init_seed_with_a_checkpoint_is_an_error_like_res(command, tmp_path, capsys):
    # --res with --checkpoint was refused while --init-seed was silently ignored.
    save_generator(build_generator("t-tiny", res=16, seed=3), tmp_path / "generator")
    out = tmp_path / {"video": "v.gif", "equivariance": "e.json"}.get(command, "g.png")
    argv = [command, "--checkpoint", str(tmp_path), "--init-seed", "3", "--out", str(out)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "--init-seed applies to --preset only" in err and "Traceback" not in err


def test_equivariance_refuses_empty_layers_and_sub_pixel_eqt_shifts(capsys):
    common = ["equivariance", "--res", "16", "--num", "1", "--batch", "1"]
    for text in ("", " , "):
        assert cli.main([*common, "--layers", text, "--metrics", "eqt_frac"]) == 2
        err = capsys.readouterr().err
        assert "--layers must name layers" in err and "L0_36_32" in err
    # 0.001 image widths is 0.016 px at 16 px: every EQ-T shift rounded to 0 (+inf dB).
    assert cli.main([*common, "--max-shift", "0.001"]) == 2
    err = capsys.readouterr().err
    assert "--max-shift must be > 0.03125" in err and "16 px" in err
    assert cli.main([*common, "--max-shift", "0.001", "--metrics", "eqt_frac"]) == 0
    assert cli.main([*common, "--max-shift", "0.04", "--metrics", "eqt"]) == 0


def test_equivariance_layer_help_names_a_schedule_that_matches_the_tiny_presets(tmp_path):
    # The help said "names as in `aliasfree schedule`", whose defaults are the paper's capacity
    # (L3_36_512 at 64 px); the tiny presets' layers are e.g. L3_52_32.
    import json
    import re

    from aliasfree.commands import equivariance

    parser = argparse.ArgumentParser(prog="aliasfree")
    equivariance.add_parser(parser.add_subparsers())
    (help_text,) = [
        a.help for p in parser._subparsers._group_actions[0].choices.values()
        for a in p._actions if a.dest == "layers"
    ]  # fmt: skip
    extra = re.search(r"add (--num-layers [^)]*) for the -tiny", help_text).group(1).split()
    out = tmp_path / "s"
    argv = ["schedule", "--res", "64", *extra, "--no-plots", "--out", str(out)]
    assert cli.main(argv) == 0
    names = [lay["name"] for lay in json.loads((out / "schedule.json").read_text())["layers"]]
    for preset in ("t-tiny", "r-tiny"):
        G = build_generator(preset, res=64)
        assert names == [s.name for s in G.synthesis.layer_specs]
    assert "L3_52_32" in names and "L3_52_32" in help_text


def test_generate_rotate_is_bounded_like_video(tmp_path, capsys):
    out = tmp_path / "g.png"
    for angle in ("1e20", "361", "-360.5"):
        assert cli.main(["generate", "--res", "16", "--rotate", angle, "--out", str(out)]) == 2
        assert "--rotate must be in [-360, 360]" in capsys.readouterr().err
    assert not out.exists()


def test_filter_warns_when_the_stopband_edge_is_above_nyquist(tmp_path, capsys):
    # cutoff 16 + 200/2 = 116 against fs/2 = 32: Kaiser's 501.5 dB and beta 54.3 were printed
    # as if meaningful, and the -6 dB point (19.4) missed --cutoff without a word.
    wide = ["filter", "--numtaps", "12", "--cutoff", "16", "--fs", "64", "--no-plots"]
    assert cli.main([*wide, "--width", "200", "--out", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    # The band also reaches below DC (16 - 100 < 0): that warning follows on its own line.
    assert len(err) == 2 and all(e.startswith("aliasfree filter: warning:") for e in err)
    assert "--cutoff + --width/2 = 116" in err[0] and "fs/2 = 32" in err[0]
    assert "--width <= 32" in err[0]
    assert "below DC: --cutoff - --width/2 = -84" in err[1]
    assert cli.main([*wide, "--half-width", "20", "--out", str(tmp_path / "b")]) == 0
    assert "--cutoff + --half-width = 36" in capsys.readouterr().err
    assert cli.main([*wide, "--width", "32", "--out", str(tmp_path / "c")]) == 0
    assert capsys.readouterr().err == ""


def test_filter_of_one_tap_prints_zero_not_negative_zero_db(tmp_path, capsys):
    argv = ["filter", "--numtaps", "1", "--cutoff", "16", "--width", "20", "--fs", "64"]
    assert cli.main([*argv, "--no-plots", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "-0 " not in out and "-0\n" not in out
    assert [line.split()[-2:] for line in out.splitlines() if "stopband atten" in line] == [
        ["0", "dB"]
    ]


def _noise_images(folder, sizes):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name, (h, w) in sizes.items():
        Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8)).save(folder / name)
    return folder


def test_spectrum_skips_a_tiny_image_instead_of_shrinking_every_image(tmp_path, capsys):
    # One 1x1 PNG made the default crop 1x1: 0 % out of band and total power 0, silently.
    folder = _noise_images(
        tmp_path / "imgs", {"a.png": (32, 32), "b.png": (32, 40), "t.png": (1, 1)}
    )
    assert cli.main(["spectrum", str(folder), "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 images (greyscale, 32x32)")
    assert "t.png: smaller than the minimum 16x16: 1x1" in out
    assert "note: larger images cropped to 32x32, the size of a.png;" in out
    assert cli.main(["spectrum", str(folder), "--size", "1"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "aliasfree spectrum: error: --size must be >= 16, got 1"


def test_spectrum_of_no_power_reports_an_undefined_fraction(tmp_path, capsys):
    import json

    folder = tmp_path / "black"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(np.zeros((16, 16), dtype=np.uint8)).save(folder / f"{i}.png")
    out = tmp_path / "o"
    assert cli.main(["spectrum", str(folder), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "square undefined (no power), disc undefined (no power)" in text and "%" not in text
    doc = json.loads((out / "summary.json").read_text())
    assert doc["total_power"] == 0.0 and doc["size_from"] is None
    assert doc["out_of_band_fraction"]["2"] == {"cutoff": 0.25, "square": None, "disc": None}


def test_dataset_reports_labels_that_name_no_file(tmp_path, capsys):
    import json
    import zipfile

    from gan.training.dataset_tool import make_dataset

    # ["nonexist.png", 2] was dropped silently; the count said "1 images".
    src = _noise_images(tmp_path / "src", {"a.png": (20, 20)})
    labels = tmp_path / "labels.json"
    names = ["a.png", "gone1.png", "gone2.png", "gone3.png", "gone4.png", "gone5.png", "zz.png"]
    labels.write_text(json.dumps({"labels": [[n, 1] for n in names]}))
    dest = tmp_path / "x.zip"
    argv = ["dataset", str(src), str(dest), "--res", "16", "--labels", str(labels)]
    assert cli.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"wrote {dest}: 1 image, 16x16 greyscale")
    assert lines[1] == (
        f"6 label(s) name no image file under {src}: gone1.png, gone2.png, gone3.png, "
        "gone4.png, gone5.png, ... (1 more in dataset.json)"
    )
    with zipfile.ZipFile(dest) as zf:
        meta = json.loads(zf.read("dataset.json"))
    assert meta["labels_without_image"] == names[1:]
    # Labels of files that exist but were not reached (--max-images) are not orphans.
    _noise_images(src, {"b.png": (20, 20)})
    labels.write_text(json.dumps({"labels": [["a.png", 0], ["b.png", 1]]}))
    report = make_dataset(src, dest, res=16, labels=labels, max_images=1, overwrite=True)
    assert report.written == 1 and report.labels_without_image == []


def test_dataset_help_says_how_the_colour_is_chosen_by_default(capsys):
    with pytest.raises(SystemExit):
        cli.main(["dataset", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "without --gray or --rgb: greyscale if every image is stored as greyscale, else RGB" in (
        help_text
    )


@pytest.mark.parametrize(
    "argv,start",
    [
        (["train", "--batch", "0"], "--batch must be >= 1"),
        (["train", "--snap-kimg", "0"], "--snap-kimg must be in (0, inf)"),
        (["train", "--metric-samples", "0"], "--metric-samples must be >= 1"),
        (["train", "--gamma", "-1"], "--gamma must be"),
        (["generate", "--init-seed", "-1"], "--init-seed must be >= 0"),
        (["generate", "--cols", "0"], "--cols must be >= 1"),
        (["sticking", "--steps", "1"], "--steps must be >= 2"),
        (["video", "--fps", "0"], "--fps must be in (0, 100]"),
        (["video", "--translate", "2,0"], "--translate[0] must be in [-1, 1]"),
        (["video", "--out", "v.png"], "--out must end in .gif"),
    ],
)
def test_errors_name_the_flag_not_the_library_parameter(argv, start, tmp_path, capsys):
    # The library functions name their parameters (num, snap_kimg, r1_gamma, path); the error
    # the user sees names the flag they typed.
    if argv[0] == "train":
        argv = [*argv, "--out", str(tmp_path / "run")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"aliasfree {argv[0]}: error: {start}"), err


def test_flag_named_leaves_other_messages_alone():
    import argparse

    from aliasfree.cli import flag_named

    p = argparse.ArgumentParser()
    p.add_argument("--num-layers", dest="num_layers")
    p.add_argument("source")
    assert flag_named("num_layers must be >= 2", p, {}) == "--num-layers must be >= 2"
    assert flag_named("source must exist", p, {}) == "source must exist"  # a positional
    assert flag_named("other must be >= 2", p, {}) == "other must be >= 2"
    assert flag_named("the num_layers must be", p, {}) == "the num_layers must be"
    assert flag_named("x=True but", p, {"x": "--why"}) == "--why=True but"


def test_library_warnings_print_as_one_line_of_the_command(monkeypatch, capsys, recwarn):
    # A warning the project's code raises during a command (e.g. checkpoint pruning during
    # training) reads like the command's notes and errors, not like Python's warning format
    # with a file name and a source line; other packages' warnings go to Python's own handling
    # (recorded here by pytest).
    import warnings
    from pathlib import Path

    import gan
    from aliasfree.commands import schedule

    inside = str(Path(gan.__file__).parent / "training" / "checkpoint.py")

    def run(args):
        warnings.warn_explicit("kept 2 checkpoints newer than step 5", UserWarning, inside, 9)
        warnings.warn_explicit("third party", UserWarning, "/elsewhere/lib.py", 7)
        return 0

    monkeypatch.setattr(schedule, "run", run)
    shown_before = warnings.showwarning
    assert cli.main(["schedule", "--res", "16"]) == 0
    err = capsys.readouterr().err
    assert err == "aliasfree schedule: warning: kept 2 checkpoints newer than step 5\n"
    assert [str(w.message) for w in recwarn] == ["third party"]
    assert warnings.showwarning is shown_before  # the command's handler only while it runs
