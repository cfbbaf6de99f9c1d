"""gan.probe report: Stat, table, CSV/JSON round-trip, worst layers, plots (issue 6)."""

from __future__ import annotations

import json
import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from gan.probe import LayerRow, ProbeReport, Stat, probe_model
from gan.probe.plots import plot_depth, plot_worst_spectra

NAN = float("nan")


def _report() -> ProbeReport:
    rows = [
        LayerRow(
            "conv", "Conv2d", (3, 8, 8), (4, 8, 8), 1.0, {"equivariance_1": Stat(30, 2, 25, 33)}
        ),
        LayerRow(
            "down",
            "Conv2d",
            (4, 8, 8),
            (4, 4, 4),
            0.5,
            {
                "out_of_band": Stat(0.4, 0.1, 0.2, 0.6),
                "fold_non_aliased": Stat(NAN, NAN, NAN, NAN),
                "equivariance_1": Stat(12.5, 1.0, 10.0, 14.0),
            },
        ),
        LayerRow(
            "act#2",
            "ReLU",
            (4, 4, 4),
            (4, 4, 4),
            0.5,
            {"nonlinearity": Stat(0.07, 0.01, 0.05, 0.09), "equivariance_1": Stat(8, 1, 6, 9)},
        ),
    ]
    return ProbeReport(rows=rows, settings={"input_shape": [2, 3, 8, 8], "shifts": [1.0]})


def _same(a: ProbeReport, b: ProbeReport) -> None:
    assert [r.name for r in a.rows] == [r.name for r in b.rows]
    for ra, rb in zip(a.rows, b.rows, strict=True):
        assert (ra.type, ra.in_shape, ra.out_shape, ra.rate) == (
            rb.type,
            rb.in_shape,
            rb.out_shape,
            rb.rate,
        )
        assert ra.measures.keys() == rb.measures.keys()
        for k in ra.measures:
            np.testing.assert_array_equal(
                [getattr(ra.measures[k], f) for f in ("mean", "std", "min", "max")],
                [getattr(rb.measures[k], f) for f in ("mean", "std", "min", "max")],
            )


# ------------------------------------------------------------------------------ Stat
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=30), st.randoms())
def test_stat_matches_numpy_and_ignores_order(values, rnd):
    s = Stat.from_values(values)
    v = np.array(values)
    assert s.mean == pytest.approx(np.mean(v), rel=1e-12, abs=1e-9)
    assert s.std == pytest.approx(np.std(v), rel=1e-9, abs=1e-6)
    assert (s.min, s.max) == (v.min(), v.max())
    shuffled = list(values)
    rnd.shuffle(shuffled)
    assert Stat.from_values(shuffled) == s


def test_stat_ignores_nan_and_empty_is_nan():
    assert Stat.from_values([1.0, NAN, 3.0]) == Stat(2.0, 1.0, 1.0, 3.0)
    assert all(math.isnan(x) for x in Stat.from_values([NAN]).__dict__.values())


# ------------------------------------------------------------------------------ files
def test_json_round_trip_and_nan_as_null(tmp_path):
    rep = _report()
    path = rep.to_json(tmp_path / "sub" / "r.json")
    raw = json.loads(path.read_text())  # strict JSON: no NaN tokens
    assert raw["rows"][1]["measures"]["fold_non_aliased"]["mean"] is None
    assert raw["settings"]["input_shape"] == [2, 3, 8, 8]
    assert raw["measures"] == [
        "out_of_band",
        "fold_non_aliased",
        "nonlinearity",
        "equivariance_1",
    ]
    back = ProbeReport.from_json(path)
    _same(rep, back)
    assert back.settings == rep.settings
    assert not list(tmp_path.glob("sub/.r.json*"))  # no temporary file left behind


def test_csv_round_trip(tmp_path):
    rep = _report()
    path = rep.to_csv(tmp_path / "r.csv")
    lines = path.read_text().splitlines()
    assert lines[0].startswith("name,type,in_shape,out_shape,rate,out_of_band_mean,")
    assert lines[1].startswith("conv,Conv2d,3x8x8,4x8x8,1.0,,,,,")
    _same(rep, ProbeReport.from_csv(path))
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="probe report CSV"):
        ProbeReport.from_csv(bad)


def test_round_trip_of_a_probed_model(tmp_path, rng):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Tanh(), nn.AvgPool2d(2))
    rep = probe_model(model, torch.from_numpy(rng.standard_normal((2, 1, 8, 8))).float())
    _same(rep, ProbeReport.from_json(rep.to_json(tmp_path / "p.json")))
    _same(rep, ProbeReport.from_csv(rep.to_csv(tmp_path / "p.csv")))
    assert rep.to_dict()["settings"]["measures"] == [
        "downsampling",
        "nonlinearity",
        "equivariance",
    ]


# ------------------------------------------------------------------------------ queries
def test_worst_orders_by_badness():
    rep = _report()
    assert [r.name for r in rep.worst("equivariance_1", 2)] == ["act#2", "down"]
    assert [r.name for r in rep.worst("out_of_band", 5)] == ["down"]
    assert rep.worst("fold_non_aliased", 1) == []  # only a NaN value
    with pytest.raises(ValueError, match="measure must be one of"):
        rep.worst("aliasing", 1)
    with pytest.raises(ValueError, match="k must be"):
        rep.worst("out_of_band", 0)
    with pytest.raises(ValueError, match="no layer named"):
        rep.row("missing")


def test_table_lists_every_row_and_measure():
    text = _report().table()
    lines = text.splitlines()
    assert len(lines) == 2 + 3
    assert "out_of_band [%]" in lines[0] and "equivariance_1 [dB]" in lines[0]
    assert lines[2].split()[0] == "conv" and " - " in lines[2]
    assert "40 ± 10" in lines[3] and "12.50 ± 1.00" in lines[3]
    assert str(_report()) == text


# ------------------------------------------------------------------------------ plots
def test_plots_build(rng):
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Conv2d(2, 2, 3, stride=2, padding=1)
    )
    rep = probe_model(
        model, torch.from_numpy(rng.standard_normal((2, 1, 16, 16))).float(), oversample=2
    )
    fig = plot_depth(rep)
    assert len(fig.axes) == len(rep.measure_names)
    plt.close(fig)
    fig = plot_worst_spectra(rep, "out_of_band", k=4)
    assert "2 (Conv2d)" in fig.axes[0].get_title()
    plt.close(fig)
    fig = plot_worst_spectra(rep, "equivariance_1", k=2)
    assert sum(ax.get_visible() for ax in fig.axes if ax.get_images()) == 2
    plt.close(fig)
    with pytest.raises(ValueError, match="measures must be among"):
        plot_depth(rep, ["nope"])
    with pytest.raises(ValueError, match="stored spectrum"):
        plot_worst_spectra(ProbeReport.from_dict(rep.to_dict()), "out_of_band")
    with pytest.raises(ValueError, match="report"):
        plot_depth("not a report")  # type: ignore[arg-type]
