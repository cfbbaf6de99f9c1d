"""``aliasfree schedule`` run in-process through ``aliasfree.cli.main``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from aliasfree.cli import build_parser, main
from dsp.schedule import layer_schedule

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_table_json_and_png(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["schedule", "--res", "256", "--config", "t", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    # Title, header, rule, 15 layers, then the written files.
    assert any(line.split()[:2] == ["14", "L14_256_3"] for line in lines)
    assert any("L10_276_256" in line and "148->276" in line for line in lines)
    assert str(out / "schedule.json") in text and str(out / "schedule.png") in text

    data = json.loads((out / "schedule.json").read_text())
    want = json.loads(json.dumps(layer_schedule(256, "t").to_dict()))
    assert data == want
    assert [e["size"] for e in data["entries"]][-3:] == [276, 256, 256]

    png = out / "schedule.png"
    assert png.read_bytes()[:8] == PNG_MAGIC
    with Image.open(png) as im:
        w, h = im.size
        arr = np.asarray(im.convert("L"))
    assert w > 300 and h > 300
    assert arr.std() > 10  # not a blank image


def test_json_stdout_config_r_no_plot(tmp_path, capsys):
    out = tmp_path / "r"
    rc = main(
        ["schedule", "--res", "64", "--config", "R", "--json", "--no-plot", "--out", str(out)]
    )
    assert rc == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["parameters"]["config"] == "R" and data["parameters"]["res"] == 64
    assert [lay["down_radial"] for lay in data["layers"]] == [True] * 12 + [False] * 3
    assert data == json.loads((out / "schedule.json").read_text())
    assert not (out / "schedule.png").exists()
    assert "schedule.json" in captured.err


def test_parameters_and_filters(tmp_path, capsys):
    out = tmp_path / "p"
    rc = main(
        [
            "schedule",
            "--res",
            "128",
            "--num-layers",
            "8",
            "--num-critical",
            "1",
            "--margin",
            "4",
            "--filters",
            "--no-plot",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    capsys.readouterr()
    data = json.loads((out / "schedule.json").read_text())
    assert len(data["layers"]) == 9 and data["parameters"]["margin"] == 4
    sched = layer_schedule(128, num_layers=8, num_critical=1, margin=4)
    for lay, d in zip(sched.layers, data["layers"], strict=True):
        assert len(d["up_filter"]) == lay.up_taps and len(d["down_filter"]) == lay.down_taps
        np.testing.assert_allclose(d["up_filter"], lay.up_filter(), rtol=0, atol=0)
        assert sum(d["down_filter"]) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "argv, word",
    [
        (["--res", "100"], "--res must be"),
        (["--res", "2048"], "res"),
        (["--config", "x"], "config"),
        (["--num-critical", "0"], "--num-critical must be >= 1"),
    ],
)
def test_bad_input_exit_2(tmp_path, capsys, argv, word):
    assert main(["schedule", *argv, "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "aliasfree schedule: error:" in err and word in err
    assert not (tmp_path / "bad" / "schedule.json").exists()


def test_help_explains_every_flag(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["schedule", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["schedule"]
    for action in sub._actions:
        assert action.help, action.option_strings
        for opt in action.option_strings:
            assert opt in text


def test_table_tells_the_target_stopband_from_the_filters_edge(tmp_path, capsys):
    assert main(["schedule", "--res", "256", "--no-plot", "--out", str(tmp_path / "s")]) == 0
    lines = capsys.readouterr().out.splitlines()
    head = next(line for line in lines if line.split()[:2] == ["idx", "name"])
    cols = [c.strip() for c in head.split("  ") if c.strip()]
    assert "stopband" not in cols
    assert "f_t (target)" in cols and "fc+fh (filter)" in cols
    assert any(line.startswith("f_t (target): the schedule's target stopband") for line in lines)
    row0 = next(line for line in lines if line.split()[:2] == ["0", "L0_36_512"])
    # Layer 0 at res 256: f_t = 2**2.1 = 4.287 (REFERENCE §3); the rate is 16, so the filters'
    # half-width is 16/2 - 2 = 6 and their stopband starts at 2 + 6 = 8.
    values = row0.split()
    assert values[5:9] == ["2", "6", f"{2**2.1:.4g}", "8"]


def test_no_plot_removes_an_earlier_schedule_png(tmp_path, capsys):
    # schedule.png of an earlier run stayed beside a schedule.json of another resolution.
    out = tmp_path / "o"
    assert main(["schedule", "--res", "16", "--out", str(out)]) == 0
    (out / "other.png").write_bytes(b"x")
    capsys.readouterr()
    assert main(["schedule", "--res", "32", "--no-plot", "--out", str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"removed schedule.png from {out} (an earlier schedule's, not written by this run)"
    )
    assert sorted(p.name for p in out.iterdir()) == ["other.png", "schedule.json"]


def test_an_out_that_cannot_be_written_names_the_flag(capsys):
    assert main(["schedule", "--res", "16", "--no-plot", "--out", "/proc/aliasfree-nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aliasfree schedule: error: --out: cannot write /proc/aliasfree-nope: ")
