"""``aliasfree filter`` run in-process: table, JSON, files, errors."""

import json

import numpy as np
import pytest
import scipy.signal as ss

from aliasfree.cli import main


def _png_ok(path):
    assert path.is_file()
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_separable_filter_table_and_files(tmp_path, capsys):
    out = tmp_path / "sep"
    rc = main(
        ["filter", "--numtaps", "12", "--cutoff", "16", "--width", "20", "--fs", "64",
         "--out", str(out)]
    )  # fmt: skip
    assert rc == 0
    text = capsys.readouterr().out
    assert "stopband attenuation" in text and "-6 dB point" in text
    doc = json.loads((out / "filter_taps.json").read_text())
    assert doc["spec"]["numtaps"] == 12 and doc["spec"]["radial"] is False
    assert doc["spec"]["half_width"] == 10.0 and doc["spec"]["stopband"] == 26.0
    assert doc["spec"]["kaiser_atten_db"] == pytest.approx(ss.kaiser_atten(12, 20 / 32))
    np.testing.assert_allclose(doc["taps"], ss.firwin(12, 16, width=20, fs=64), atol=1e-12)
    (fig,) = doc["figures"]
    assert fig["angle_deg"] is None
    assert fig["dc_gain"] == pytest.approx(1.0)
    assert fig["f_6db"] == pytest.approx(16.0, abs=0.5)
    _png_ok(out / "response_1d.png")
    assert not (out / "response_2d.png").exists()


def test_radial_json_to_stdout(tmp_path, capsys):
    out = tmp_path / "rad"
    rc = main(
        ["filter", "--numtaps", "12", "--cutoff", "16", "--half-width", "10", "--fs", "64",
         "--radial", "--json", "--out", str(out)]
    )  # fmt: skip
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == json.loads((out / "filter_taps.json").read_text())
    taps = np.array(doc["taps"])
    assert taps.shape == (12, 12)
    assert taps.sum() == pytest.approx(1.0)
    assert [f["angle_deg"] for f in doc["figures"]] == [0.0, 45.0]
    for f in doc["figures"]:
        assert f["stopband_attenuation_db"] > 20.0
    for name in ("response_1d.png", "response_2d.png", "response_slices.png"):
        _png_ok(out / name)
    assert sorted(doc["plots"]) == sorted(str(out / n) for n in
                                          ("response_1d.png", "response_2d.png",
                                           "response_slices.png"))  # fmt: skip


def test_no_plots_and_plots_2d(tmp_path, capsys):
    out = tmp_path / "np"
    assert main(["filter", "--numtaps", "8", "--cutoff", "0.3", "--width", "0.2", "--no-plots",
                 "--out", str(out)]) == 0  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == ["filter_taps.json"]
    out2 = tmp_path / "p2"
    assert main(["filter", "--numtaps", "8", "--cutoff", "0.3", "--width", "0.2", "--plots-2d",
                 "--out", str(out2)]) == 0  # fmt: skip
    _png_ok(out2 / "response_2d.png")
    _png_ok(out2 / "response_slices.png")
    capsys.readouterr()


@pytest.mark.parametrize(
    "args, word",
    [
        (["--numtaps", "12", "--cutoff", "40", "--width", "20", "--fs", "64"], "cutoff"),
        (["--numtaps", "0", "--cutoff", "16", "--width", "20", "--fs", "64"], "numtaps"),
        (["--numtaps", "12", "--cutoff", "nan", "--width", "20", "--fs", "64"], "cutoff"),
        (["--numtaps", "12", "--cutoff", "16", "--width", "-2", "--fs", "64"], "--width"),
        (["--numtaps", "12", "--cutoff", "16", "--half-width", "0", "--fs", "64"], "--half-width"),
        (["--numtaps", "12", "--cutoff", "16", "--width", "2", "--fs", "-64"], "fs"),
    ],
)
def test_bad_values_exit_2_with_message(tmp_path, capsys, args, word):
    rc = main(["filter", *args, "--out", str(tmp_path)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "aliasfree filter: error:" in err and word in err


def test_width_and_half_width_are_exclusive(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["filter", "--numtaps", "12", "--cutoff", "16", "--width", "20",
              "--half-width", "10", "--out", str(tmp_path)])  # fmt: skip
    assert exc.value.code == 2
    capsys.readouterr()


def test_help_lists_flags_with_units(capsys):
    with pytest.raises(SystemExit):
        main(["filter", "--help"])
    text = capsys.readouterr().out
    for flag in ("--numtaps", "--cutoff", "--width", "--half-width", "--fs", "--radial",
                 "--json", "--out", "--no-plots"):  # fmt: skip
        assert flag in text
    assert "units of --fs" in text


def test_plots_2d_reports_both_slices_of_the_separable_filter(tmp_path, capsys):
    out = tmp_path / "sep2d"
    rc = main(["filter", "--numtaps", "12", "--cutoff", "16", "--width", "20", "--fs", "64",
               "--plots-2d", "--out", str(out)])  # fmt: skip
    assert rc == 0
    text = capsys.readouterr().out
    assert "0 deg slice" in text and "45 deg slice" in text and "outer(h, h)" in text
    doc = json.loads((out / "filter_taps.json").read_text())
    assert [f["angle_deg"] for f in doc["figures"]] == [0.0, 45.0]
    # Independent: outer(h, h) responds H(fx) H(fy), so along 45 degrees at radial frequency
    # f it is H(f / sqrt 2) ** 2, along 0 degrees H(f) (H(0) = 1); dense grid from scipy.
    h = ss.firwin(12, 16, width=20, fs=64)
    f = np.linspace(26.0, 32.0, 20001)
    h0 = np.abs(ss.freqz(h, worN=f, fs=64)[1])
    h45 = np.abs(ss.freqz(h, worN=f / np.sqrt(2), fs=64)[1]) ** 2
    atten0 = -20 * np.log10(h0.max())
    atten45 = -20 * np.log10(h45.max())
    assert doc["figures"][0]["stopband_attenuation_db"] == pytest.approx(atten0, abs=0.01)
    assert doc["figures"][1]["stopband_attenuation_db"] == pytest.approx(atten45, abs=0.01)
    assert atten45 < atten0 - 30  # 21.3 vs 54.7 dB: the diagonal is what --plots-2d must show


def test_table_gives_the_frequency_unit(tmp_path, capsys):
    assert main(["filter", "--numtaps", "12", "--cutoff", "16", "--width", "20", "--fs", "64",
                 "--no-plots", "--out", str(tmp_path / "u")]) == 0  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    for name in ("-6 dB point", "-3 dB point", "transition band", "passband edge",
                 "stopband edge"):  # fmt: skip
        (line,) = [x for x in lines if x.startswith(name)]
        assert "(fs units)" in line
    assert "fs=64" in lines[0]
    (line,) = [x for x in lines if x.startswith("DC gain")]
    assert "fs units" not in line


def test_bad_json_target_writes_no_plot(tmp_path, capsys):
    out = tmp_path / "D"
    (out / "filter_taps.json").mkdir(parents=True)
    rc = main(["filter", "--numtaps", "12", "--cutoff", "16", "--width", "20", "--fs", "64",
               "--plots-2d", "--out", str(out)])  # fmt: skip
    assert rc == 2
    assert "filter_taps.json" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["filter_taps.json"]
    # A plot path taken by a folder stops the run before the JSON is written, too.
    out2 = tmp_path / "E"
    (out2 / "response_slices.png").mkdir(parents=True)
    rc = main(["filter", "--numtaps", "12", "--cutoff", "16", "--width", "20", "--fs", "64",
               "--plots-2d", "--out", str(out2)])  # fmt: skip
    assert rc == 2
    assert sorted(p.name for p in out2.iterdir()) == ["response_slices.png"]
    capsys.readouterr()


FILTER_ARGS = ["filter", "--numtaps", "12", "--cutoff", "16", "--width", "20", "--fs", "64"]


def test_plots_of_an_earlier_design_are_removed(tmp_path, capsys):
    # A radial design then a separable one in the same --out left the radial run's 2D plots
    # beside the new filter_taps.json.
    out = tmp_path / "o"
    assert main([*FILTER_ARGS, "--radial", "--out", str(out)]) == 0
    (out / "notes.txt").write_text("mine")
    (out / "response_2d.png.keep").write_text("mine too")
    capsys.readouterr()
    assert main([*FILTER_ARGS, "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == (
        f"removed response_2d.png, response_slices.png from {out} (an earlier design's, "
        "not drawn for this one)"
    )
    names = sorted(p.name for p in out.iterdir())
    assert names == ["filter_taps.json", "notes.txt", "response_1d.png", "response_2d.png.keep"]
    doc = json.loads((out / "filter_taps.json").read_text())
    assert doc["plots"] == [str(out / "response_1d.png")]
    # --no-plots: no plot is this design's; --json keeps stdout pure JSON (the note: stderr).
    assert main([*FILTER_ARGS, "--no-plots", "--json", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    json.loads(captured.out)
    assert captured.err.startswith("removed response_1d.png from")
    assert sorted(p.name for p in out.iterdir()) == [
        "filter_taps.json", "notes.txt", "response_2d.png.keep"
    ]  # fmt: skip
    # Nothing to remove: nothing said.
    assert main([*FILTER_ARGS, "--no-plots", "--out", str(out)]) == 0
    assert "removed" not in capsys.readouterr().out


def test_an_out_that_cannot_be_written_is_exit_status_2_naming_the_flag(capsys):
    # Was exit status 1 with a bare "No such file or directory: '/proc/nope'".
    assert main([*FILTER_ARGS, "--out", "/proc/aliasfree-nope"]) == 2
    assert capsys.readouterr().err.startswith(
        "aliasfree filter: error: --out: cannot write /proc/aliasfree-nope: "
    )
