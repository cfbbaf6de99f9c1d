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


def test_transition_band_below_dc_warns_and_ripple_is_na(tmp_path, capsys):
    # The generator's first filter at 64 px: cutoff 2, width 12, fs 32. Its band reaches -4, the
    # -6 dB point sits at 3.20 (not the cutoff), and the passband is DC alone.
    out = tmp_path / "dc"
    assert main(["filter", "--numtaps", "12", "--cutoff", "2", "--width", "12", "--fs", "32",
                 "--no-plots", "--out", str(out)]) == 0  # fmt: skip
    captured = capsys.readouterr()
    assert "warning: the transition band reaches below DC" in captured.err
    assert "--cutoff - --width/2 = -4 < 0" in captured.err and "--width <= 4" in captured.err
    (line,) = [x for x in captured.out.splitlines() if x.startswith("passband ripple ")]
    assert line.split()[-1] == "n/a"
    assert "passband is DC alone" in captured.out
    (fig,) = json.loads((out / "filter_taps.json").read_text())["figures"]
    assert fig["passband_ripple_db"] is None and fig["passband_edge"] == 0.0
    # Independent: scipy's response at the reported -6 dB point is one half, far from 2.
    h = ss.firwin(12, 2, width=12, fs=32)
    assert abs(ss.freqz(h, worN=[fig["f_6db"]], fs=32)[1][0]) == pytest.approx(0.5, abs=1e-9)
    assert fig["f_6db"] == pytest.approx(3.20, abs=0.01)
    # --half-width names its own flag; a band inside (0, fs/2) gives no warning.
    assert main(["filter", "--numtaps", "12", "--cutoff", "2", "--half-width", "6", "--fs",
                 "32", "--no-plots", "--out", str(out)]) == 0  # fmt: skip
    assert "--cutoff - --half-width = -4 < 0" in capsys.readouterr().err
    assert main([*FILTER_ARGS, "--no-plots", "--out", str(out)]) == 0
    assert "warning" not in capsys.readouterr().err


def test_plots_2d_reports_the_square_edge_figure(tmp_path, capsys):
    # The 45 degree slice of outer(h, h) from |f| = 26 is transition-band gain (21.3 dB: each
    # axis component 18.4 lies in the 1D transition band [6, 26]); the square's stopband starts
    # at 26 sqrt 2 = 36.8 along it, beyond fs/2 = 32: n/a.
    out = tmp_path / "sq"
    assert main([*FILTER_ARGS, "--plots-2d", "--no-plots", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    (radial,) = [x for x in lines if x.startswith("stopband attenuation, radial edge")]
    (square,) = [x for x in lines if x.startswith("stopband attenuation, square edge")]
    assert radial.split()[-2:] == ["21.3458", "dB"]
    assert square.split()[-1] == "n/a" and square.split()[-3:-1] == ["54.7322", "dB"]
    f0, f45 = json.loads((out / "filter_taps.json").read_text())["figures"]
    assert f45["stopband_attenuation_square_db"] is None
    assert f45["stopband_edge_square"] == pytest.approx(26 * np.sqrt(2))
    assert f0["stopband_attenuation_square_db"] == f0["stopband_attenuation_db"]
    # Where the square edge lies below fs/2 along the diagonal: 24 taps, cutoff 0.3, width 0.1
    # (fs 2), edge 0.35 sqrt 2 = 0.495. Independent: |H(r / sqrt 2)|^2 from scipy.
    assert main(["filter", "--numtaps", "24", "--cutoff", "0.3", "--width", "0.1",
                 "--plots-2d", "--no-plots", "--out", str(out)]) == 0  # fmt: skip
    capsys.readouterr()
    _, f45 = json.loads((out / "filter_taps.json").read_text())["figures"]
    h = ss.firwin(24, 0.3, width=0.1, fs=2)
    u = np.linspace(0.35, 1 / np.sqrt(2), 40001)
    want = -40 * np.log10(np.abs(ss.freqz(h, worN=u, fs=2)[1]).max())
    assert f45["stopband_attenuation_square_db"] == pytest.approx(want, abs=0.01)
    assert f45["stopband_attenuation_square_db"] > f45["stopband_attenuation_db"] + 20


def test_radial_table_has_no_square_rows(tmp_path, capsys):
    assert main([*FILTER_ARGS, "--radial", "--no-plots", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "stopband attenuation, radial edge" in text and "square edge" not in text


def test_stopband_at_the_float64_floor_is_a_lower_bound(tmp_path, capsys):
    # Kaiser predicts 1444 dB; the table printed "228.6 dB" and a measured transition band of
    # 0.000528 (designed 0.001), both rounding noise.
    out = tmp_path / "floor"
    assert main(["filter", "--numtaps", "200001", "--cutoff", "0.3", "--width", "0.001",
                 "--no-plots", "--out", str(out)]) == 0  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    (fig,) = json.loads((out / "filter_taps.json").read_text())["figures"]
    assert fig["stopband_at_floor"] is True and fig["transition_band"] is None
    (line,) = [x for x in lines if x.startswith("stopband attenuation")]
    assert line.split()[-3:] == [">=", f"{fig['numerical_floor_db']:.6g}", "dB"]
    (line,) = [x for x in lines if x.startswith("transition band")]
    assert line.split()[-1] == "n/a"
    assert any("float64 rounding floor" in x for x in lines)


def test_cutoff_error_names_the_fs_flag(tmp_path, capsys):
    # --cutoff 16 --width 20 meant for --fs 64, which was forgotten.
    assert main(["filter", "--numtaps", "12", "--cutoff", "16", "--width", "20",
                 "--out", str(tmp_path)]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "--cutoff must be in (0, 1), got 16" in err and "--fs=2" in err
    assert "pass --fs=... if --cutoff is in other units" in err


def test_cutoff_help_says_when_it_is_the_6db_point(capsys):
    with pytest.raises(SystemExit):
        main(["filter", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "design cutoff" in text and "-6 dB cutoff frequency" not in text
    assert "square edge" in text and "radial edge" in text
