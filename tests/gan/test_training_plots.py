import math

import numpy as np
import pytest

from gan.training.plots import plot_progress, plot_training, select_snapshots


def test_plot_training_draws_every_finite_series_and_skips_gaps():
    log = [
        {"kimg": 0.1, "loss_G": 0.7, "loss_D": 1.38, "loss_R1": None, "augment_p": 0.0},
        {"kimg": 0.2, "loss_G": 0.8, "loss_D": 1.30, "loss_R1": 0.01, "augment_p": 0.05},
        {"kimg": 0.3, "loss_G": math.nan, "loss_D": 1.25, "loss_R1": None, "augment_p": 0.1},
    ]
    metrics = [{"kimg": 0.3, "eqt": 80.0, "eqt_frac": 60.0, "eqr": 16.0}]
    fig = plot_training(log, metrics)
    ax_loss, ax_p, ax_eq = fig.axes
    lines = {ln.get_label(): ln for ln in ax_loss.lines}
    assert list(lines["G"].get_xdata()) == [0.1, 0.2]  # the NaN is skipped
    assert list(lines["D"].get_ydata()) == [1.38, 1.30, 1.25]
    assert list(lines["R1"].get_xdata()) == [0.2]
    assert list(ax_p.lines[0].get_ydata()) == [0.0, 0.05, 0.1]
    assert sorted(ln.get_label() for ln in ax_eq.lines) == ["EQ-R", "EQ-T", "EQ-T_frac"]


def test_plot_training_with_no_records_still_draws():
    fig = plot_training([], [])
    assert len(fig.axes) == 3


def test_select_snapshots_spreads_and_keeps_both_ends():
    assert select_snapshots(3) == [0, 1, 2]
    for count in (9, 10, 57, 200):
        idx = select_snapshots(count)
        assert len(idx) == 8 and idx[0] == 0 and idx[-1] == count - 1
        assert idx == sorted(set(idx))
        gaps = [b - a for a, b in zip(idx, idx[1:], strict=False)]
        assert max(gaps) - min(gaps) <= 1  # evenly spread


def test_plot_progress_draws_one_labelled_row_per_snapshot():
    rows = [(k, np.full((8, 40, 1), 40 * i, np.uint8)) for i, k in enumerate((1.0, 2.5, 4.0))]
    fig = plot_progress(rows)
    assert [ax.get_ylabel() for ax in fig.axes] == ["1.0 kimg", "2.5 kimg", "4.0 kimg"]
    shown = fig.axes[1].images[0].get_array()
    assert shown.shape == (8, 40) and int(shown.max()) == 40
    rgb = plot_progress([(1.0, np.zeros((8, 40, 3), np.uint8))])
    assert rgb.axes[0].images[0].get_array().shape == (8, 40, 3)
    with pytest.raises(ValueError, match="rows"):
        plot_progress([])


def test_plot_progress_labels_tell_fine_snapshots_apart():
    # Snapshots every 0.048 kimg were all labelled with one decimal: "0.1 kimg" twice.
    row = np.zeros((8, 40, 1), np.uint8)
    fig = plot_progress([(k, row) for k in (0.064, 0.112, 0.16, 0.208)])
    assert [ax.get_ylabel() for ax in fig.axes] == [
        "0.06 kimg", "0.11 kimg", "0.16 kimg", "0.21 kimg",
    ]  # fmt: skip
    fig = plot_progress([(k, row) for k in (0.112, 0.114, 0.2)])
    assert [ax.get_ylabel() for ax in fig.axes] == ["0.112 kimg", "0.114 kimg", "0.200 kimg"]
    # Whole kimg keep one decimal (as before).
    fig = plot_progress([(k, row) for k in (1.0, 2.0)])
    assert [ax.get_ylabel() for ax in fig.axes] == ["1.0 kimg", "2.0 kimg"]
