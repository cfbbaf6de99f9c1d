"""``aliasfree tour`` runs end to end on built-in defaults."""

import json

import pytest

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


def test_tour_labels_stopbands_ripple_and_the_radial_showcase(tmp_path, capsys, monkeypatch):
    import dsp.plots.response as response_plots

    calls = []
    plot_2d = response_plots.plot_response_2d

    def recording(h, *args, **kwargs):
        calls.append((h, kwargs))
        return plot_2d(h, *args, **kwargs)

    monkeypatch.setattr(response_plots, "plot_response_2d", recording)
    out = tmp_path / "tour"
    assert main(["tour", "--res", "64", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "stop at" not in text and "stop fc+fh" in text and "pass edge" in text

    for config in ("t", "r"):
        rows = json.loads((out / f"filters_{config}.json").read_text())
        for r in rows:
            # Independent: the default passband edge 2 fc - (fc + fh), floored at DC.
            edge = max(r["cutoff"] - r["half_width"], 0.0)
            assert r["passband_edge"] == edge
            assert r["stopband_edge"] == r["cutoff"] + r["half_width"]
            assert (r["passband_ripple_db"] is None) == (edge == 0.0)
        assert any(r["passband_ripple_db"] is None for r in rows)
        assert any(r["passband_ripple_db"] is not None for r in rows)
    table = text[text.index("Filters of config T") :]
    assert " n/a" in table
    assert "0.0000" not in table.split("Filters of config R")[0]

    # Config R at res 64: layers 0..11 have radial down filters (12, 13 are critically
    # sampled, 14 is ToRGB); the showcase is the last, 11, where the jinc fits the window.
    ((h, kwargs),) = calls
    assert [p.name for p in out.glob("radial_filter_L*.png")] == ["radial_filter_L11.png"]
    assert h.shape == (12, 12)
    # Independent, REFERENCE §3 with e = 11/12: fc = 2 (32/2)**e, ft = 2**2.1 (32·2**0.3 /
    # 2**2.1)**e = 32.7 > s/2 = 32, so the filter's edge fc + fh = max(ft, s/2) is ft; tmp = 2·64.
    e = 11 / 12
    ft = 2**2.1 * (32 * 2**0.3 / 2**2.1) ** e
    assert kwargs["fs"] == 128
    assert kwargs["cutoff"] == pytest.approx(2 * 16**e, rel=1e-12)
    assert kwargs["stopband"] == pytest.approx(max(ft, 32.0), rel=1e-12)
    assert "layer 11" in kwargs["title"] and "12×12" in kwargs["title"]
    assert "fs = 128" in kwargs["title"]
