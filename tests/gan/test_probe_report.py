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
        LayerRow(
            "pool",
            "Upsample",
            (4, 4, 4),
            (4, 2, 4),
            0.25,
            {"out_of_band": Stat(0.01, 0.05, 0.0, 0.2)},
            rate_w=0.5,
            notes=("measured on the layer's input", "second, note | with the old separator"),
        ),
    ]
    return ProbeReport(
        rows=rows,
        settings={"input_shape": [2, 3, 8, 8], "shifts": [1.0]},
        notes=["measure 'x' found no layer: why"],
    )


def _same(a: ProbeReport, b: ProbeReport) -> None:
    assert [r.name for r in a.rows] == [r.name for r in b.rows]
    for ra, rb in zip(a.rows, b.rows, strict=True):
        assert (ra.type, ra.in_shape, ra.out_shape, ra.rates, ra.notes) == (
            rb.type,
            rb.in_shape,
            rb.out_shape,
            rb.rates,
            rb.notes,
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
    assert raw["rows"][3]["rate"] == 0.25 and raw["rows"][3]["rate_w"] == 0.5
    assert raw["notes"] == rep.notes
    back = ProbeReport.from_json(path)
    _same(rep, back)
    assert back.settings == rep.settings and back.notes == rep.notes
    # A report written before the per-axis rate and the notes reads back with equal rates.
    old = {"rows": [{k: v for k, v in raw["rows"][0].items() if k not in ("rate_w", "notes")}]}
    row = ProbeReport.from_dict(old).rows[0]
    assert row.rates == (1.0, 1.0) and row.notes == ()
    assert not list(tmp_path.glob("sub/.r.json*"))  # no temporary file left behind


def test_csv_round_trip(tmp_path):
    rep = _report()
    path = rep.to_csv(tmp_path / "r.csv")
    lines = path.read_text().splitlines()
    assert lines[0].startswith("name,type,in_shape,out_shape,rate,rate_w,notes,out_of_band_mean,")
    assert lines[1].startswith("conv,Conv2d,3x8x8,4x8x8,1.0,1.0,,,,,")
    assert lines[4].startswith("pool,Upsample,4x4x4,4x2x4,0.25,0.5,")
    _same(rep, ProbeReport.from_csv(path))
    # A CSV written before rate_w and notes existed (five fixed columns) still reads.
    old = tmp_path / "old.csv"
    old.write_text(
        "name,type,in_shape,out_shape,rate,out_of_band_mean,out_of_band_std,out_of_band_min,"
        "out_of_band_max\ndown,Conv2d,4x8x8,4x4x4,0.5,0.4,0.1,0.2,0.6\n"
    )
    (row,) = ProbeReport.from_csv(old).rows
    assert row.rates == (0.5, 0.5) and row.measures["out_of_band"] == Stat(0.4, 0.1, 0.2, 0.6)
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
    assert [r.name for r in rep.worst("out_of_band", 5)] == ["down", "pool"]
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
    assert len(lines) == 2 + 4 + 1 + 1  # header, rule, rows, one row footnote, one report note
    assert "out_of_band [%]" in lines[0] and "equivariance_1 [dB]" in lines[0]
    assert lines[2].split()[0] == "conv" and " - " in lines[2]
    assert "40 ± 10" in lines[3] and "12.50 ± 1.00" in lines[3]
    # Per-axis rates show as H×W; equal ones as one number.
    assert lines[3].split()[3] == "0.5"
    assert lines[5].split()[:5] == ["pool", "[1]", "Upsample", "4x2x4", "0.25×0.5"]
    assert lines[6] == (
        "[1] pool: measured on the layer's input; second, note | with the old separator"
    )
    assert lines[7] == "note: measure 'x' found no layer: why"
    assert str(_report()) == text
    assert _report().table(["out_of_band"]).splitlines()[0].split()[-2:] == ["out_of_band", "[%]"]


def test_table_refuses_unknown_measures():
    # A typo printed a column of '-' instead of saying so.
    with pytest.raises(ValueError, match=r"measures must be among .*out_of_band.*'bogus'"):
        _report().table(measures=["bogus"])
    with pytest.raises(ValueError, match="bogus"):
        _report().table(measures=["out_of_band", "bogus"])


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


def test_depth_plot_draws_only_where_a_measure_is_defined():
    # fill_between(step="mid") shaded across the layers lacking a measure, and mean − std
    # went below 0 % for fractions.
    fig = plot_depth(_report(), ["out_of_band", "equivariance_1"])
    oob_ax, eq_ax = fig.axes
    bars = [p for p in oob_ax.patches if p.get_height() == p.get_height()]  # not NaN
    # rows 1 ('down', 20–60 %) and 3 ('pool', 0–20 %): one bar each, at their own positions
    assert sorted(round(p.get_x() + p.get_width() / 2) for p in bars) == [1, 3]
    assert not [c for c in oob_ax.collections if type(c).__name__ == "PolyCollection"]
    # error bars: 'pool' is 1 ± 5 %: its lower end stops at 0 %, not −4 %; the upper one and
    # the PSNR bars are mean ± std as they are
    (segs,) = [c for c in oob_ax.collections if type(c).__name__ == "LineCollection"]
    ends = sorted((float(np.min(s[:, 1])), float(np.max(s[:, 1]))) for s in segs.get_segments())
    np.testing.assert_allclose(ends, [(0.0, 6.0), (30.0, 50.0)], atol=1e-9)
    (segs,) = [c for c in eq_ax.collections if type(c).__name__ == "LineCollection"]
    lows = sorted(float(np.min(s[:, 1])) for s in segs.get_segments())
    assert lows == pytest.approx([7.0, 11.5, 28.0])
    plt.close(fig)


def test_worst_spectra_leave_out_layers_without_aliasing(rng):
    # A global average pool's stride-1 map is constant: out of band 0. Its panel showed float
    # round-off normalised to 0 dB; it is left out now, and a report where every layer is
    # negligible has no such figure.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2, padding=1), nn.AdaptiveAvgPool2d(1)).double()
    x = torch.from_numpy(rng.standard_normal((2, 1, 16, 16)))
    rep = probe_model(model, x, measures=("downsampling",))
    assert rep.row("1").measures["out_of_band"].max < 1e-20
    assert "1" in rep.spectra
    fig = plot_worst_spectra(rep, "out_of_band", k=4)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible() and ax.get_images()]
    assert len(titles) == 1 and titles[0].startswith("0 (Conv2d)")
    plt.close(fig)
    glob = probe_model(nn.AdaptiveAvgPool2d(1), x, measures=("downsampling",))
    with pytest.raises(ValueError, match="negligible"):
        plot_worst_spectra(glob, "out_of_band")


def test_rows_with_the_same_notes_share_a_footnote():
    def row(name, notes):
        return LayerRow(name, "Conv2d", (1, 8, 8), (1, 8, 8), 1.0, {}, notes=notes)

    same = ("map too small",)
    rep = ProbeReport(
        rows=[row("a", same), row("b", ("other",)), row("c", same), row("d", same), row("e", same)]
    )
    lines = rep.table().splitlines()
    marks = [line.split()[1] for line in lines[2:7]]
    assert marks == ["[1]", "[2]", "[1]", "[1]", "[1]"]
    assert lines[7:] == ["[1] a … e (4 rows): map too small", "[2] b: other"]
    two = ProbeReport(rows=[row("a", same), row("b", same)]).table().splitlines()
    assert two[-1] == "[1] a, b (2 rows): map too small"


def test_table_takes_rows_whose_notes_are_a_list():
    # The shared footnotes keyed rows by their notes, which a hand-made row may give as a list.
    from gan.probe.report import LayerRow, ProbeReport

    shape = (1, 2, 8, 8)
    rows = [
        LayerRow("a", "Conv2d", shape, shape, 1.0, notes=["hand-made note"]),
        LayerRow("b", "ReLU", shape, shape, 1.0, notes=("hand-made note",)),
    ]
    text = ProbeReport(rows=rows).table()
    assert "a [1]" in text and "b [1]" in text and text.count("hand-made note") == 1
