"""``aliasfree tour`` runs end to end on built-in defaults."""

import json

from aliasfree.cli import main


def test_tour_writes_schedules_filters_and_plots(tmp_path, capsys):
    out = tmp_path / "tour"
    assert main(["tour", "--res", "64", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "ReLU aliasing" in text
    for config in ("t", "r"):
        sched = json.loads((out / f"schedule_{config}.json").read_text())
        assert sched["parameters"]["res"] == 64
        filters = json.loads((out / f"filters_{config}.json").read_text())
        assert filters and all(f["stopband_attenuation_db"] > 20 for f in filters)
        assert (out / f"schedule_{config}.png").stat().st_size > 1000
        assert (out / f"filters_{config}.png").stat().st_size > 1000
    assert list(out.glob("radial_filter_L*.png")), "config R has radial down filters"
    assert (out / "relu_aliasing.png").stat().st_size > 1000
    summary = json.loads((out / "summary.json").read_text())
    # Config R's radial filters are measured along the diagonal too, where most are weakest,
    # and the summary's worst figure counts both directions.
    rows = json.loads((out / "filters_r.json").read_text())
    radial = [f for f in rows if f["radial"]]
    weaker = [f["stopband_attenuation_db_45deg"] < f["stopband_attenuation_db"] for f in radial]
    assert radial and sum(weaker) > len(weaker) // 2
    worst = min(
        min(f["stopband_attenuation_db"], f.get("stopband_attenuation_db_45deg", 1e9)) for f in rows
    )
    assert summary["configs"]["r"]["worst_stopband_attenuation_db"] == worst
    relu = summary["relu_aliasing_db"]
    # The filtered nonlinearity must beat the plain ReLU by a wide margin (measured with the
    # defaults: -27.8 dB plain vs -44.8 dB filtered; tests/dsp/test_figures.py has the details).
    assert relu["filtered"] < relu["plain"] - 15
    # No temporary files left behind by the atomic writers.
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_tour_rejects_bad_resolution(tmp_path, capsys):
    assert main(["tour", "--res", "100", "--out", str(tmp_path)]) == 2
    assert "res" in capsys.readouterr().err


def test_worst_attenuation_counts_the_diagonal():
    from aliasfree.commands.tour import _worst_attenuation

    row = {"stopband_attenuation_db": 60.0, "stopband_attenuation_db_45deg": 45.0}
    assert _worst_attenuation(row) == 45.0
    assert _worst_attenuation({"stopband_attenuation_db": 60.0}) == 60.0
