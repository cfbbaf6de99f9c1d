"""Layer schedule (REFERENCE §3) against the reference check values and brute-force derivations."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import signal, special

import dsp.schedule as schedule_module
from dsp.schedule import LayerSpec, Schedule, ScheduleEntry, layer_schedule

ALL_RES = [16, 32, 64, 128, 256, 512, 1024]
CONFIGS = ["t", "r"]

# REFERENCE §3 check values, config T.
CHECK = {
    256: {
        "rates": [16, 16, 16, 32, 32, 64, 64, 128, 128, 128, 256, 256, 256, 256, 256],
        "sizes": [36, 36, 36, 52, 52, 84, 84, 148, 148, 148, 276, 276, 276, 256, 256],
        "channels": [512] * 9 + [362, 256, 181, 128, 128, 3],
    },
    1024: {
        "rates": [16, 16, 32, 32, 64, 128, 128, 256, 256, 512, 1024, 1024, 1024, 1024, 1024],
        "sizes": [36, 36, 52, 52, 84, 148, 148, 276, 276, 532, 1044, 1044, 1044, 1024, 1024],
        "channels": [512] * 7 + [323, 203, 128, 81, 51, 32, 32, 3],
    },
}

# REFERENCE §4: shapes of the filtered-lrelu inputs at res 256, config T (after the 3x3 conv).
FLRELU_SIZES_256 = {38, 54, 86, 150, 278}


def _flrelu_out_size(n_in: int, up: int, down: int, p0: int, p1: int, tu: int, td: int) -> int:
    """REFERENCE §4 output size per axis."""
    return (n_in * up + p0 + p1 - (tu - 1) - (td - 1) + down - 1) // down


def _brute_chain_length(n_in: int, up: int, down: int, p0: int, p1: int, tu: int, td: int) -> int:
    """Run the §4 chain on an actual array and count the samples that come out."""
    x = np.zeros(n_in * up)
    x[::up] = 1.0
    # Negative padding crops.
    x = x[max(-p0, 0) : len(x) - max(-p1, 0)]
    x = np.pad(x, (max(p0, 0), max(p1, 0)))
    x = np.convolve(x, np.ones(tu), mode="valid")
    x = np.convolve(x, np.ones(td), mode="valid")
    return len(x[::down])


def _brute_entries(res, n, nc, fc0, ft0, rel, margin, base, cmax, img_ch):
    """Scalar float64 re-derivation of the entries with math/integer arithmetic."""
    out = []
    for i in range(n + 1):
        e = min(i / (n - nc), 1.0)
        fc = math.exp(math.log(fc0) + e * (math.log(res / 2) - math.log(fc0)))
        ft = math.exp(math.log(ft0) + e * (math.log(res / 2 * rel) - math.log(ft0)))
        target = min(2 * ft, res)
        rate = 1
        while rate < target * (1 - 1e-12):
            rate *= 2
        hw = max(ft, rate / 2) - fc
        size = res if i >= n - 1 else rate + 2 * margin
        ch = img_ch if i == n else int(np.rint(min(base / 2 / fc, cmax)))
        out.append((e, fc, ft, rate, hw, size, ch))
    return out


@pytest.mark.parametrize("res", sorted(CHECK))
def test_check_values_config_t(res):
    s = layer_schedule(res, "t")
    assert list(s.rates) == CHECK[res]["rates"]
    assert list(s.sizes) == CHECK[res]["sizes"]
    assert list(s.channels) == CHECK[res]["channels"]
    assert len(s.entries) == 15 and len(s.layers) == 15


def test_flrelu_input_shapes_res256_match_reference():
    s = layer_schedule(256, "t")
    sizes = {lay.in_size + lay.conv_kernel - 1 for lay in s.layers if not lay.is_torgb}
    assert sizes == FLRELU_SIZES_256
    assert {lay.up_taps for lay in s.layers if not lay.is_torgb} == {12, 24}


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("res", ALL_RES)
def test_entries_match_scalar_derivation(res, config):
    s = layer_schedule(res, config)
    base, cmax = (32768, 512) if config == "t" else (65536, 1024)
    truth = _brute_entries(res, 14, 2, 2.0, 2**2.1, 2**0.3, 10, base, cmax, 3)
    for ent, (e, fc, ft, rate, hw, size, ch) in zip(s.entries, truth, strict=True):
        assert ent.e == pytest.approx(e, rel=1e-12, abs=0)
        assert ent.cutoff == pytest.approx(fc, rel=1e-12)
        assert ent.stopband == pytest.approx(ft, rel=1e-12)
        assert ent.half_width == pytest.approx(hw, rel=1e-10)
        assert (ent.rate, ent.size, ent.channels) == (rate, size, ch)
        assert ent.critically_sampled == (ent.i >= 12)


@pytest.mark.parametrize("res", [64, 256, 1024])
def test_config_r(res):
    t = layer_schedule(res, "t")
    r = layer_schedule(res, "R")
    assert r.config == "R" and r.channel_base == 65536 and r.channel_max == 1024
    assert r.rates == t.rates and r.sizes == t.sizes and r.cutoffs == t.cutoffs
    for ent in r.entries[:-1]:
        assert ent.channels == int(np.rint(min(32768 / ent.cutoff, 1024)))
    assert r.channels[-1] == 3
    for lay in r.layers:
        assert lay.conv_kernel == 1
        assert lay.down_radial == (lay.idx < 12)
        assert lay.up_radial is False
    for lay in t.layers:
        assert lay.conv_kernel == (1 if lay.is_torgb else 3)
        assert lay.down_radial is False and lay.up_radial is False


def test_config_case_insensitive_and_overrides():
    assert layer_schedule(128, "T") == layer_schedule(128, "t")
    s = layer_schedule(128, "r", conv_kernel=3, channel_base=1000, channel_max=64)
    assert all(lay.conv_kernel == 3 for lay in s.layers[:-1]) and s.layers[-1].conv_kernel == 1
    for ent in s.entries[:-1]:
        assert ent.channels == int(np.rint(min(500 / ent.cutoff, 64)))


def _check_layers(s: Schedule) -> None:
    n, nc, m, fsize = s.num_layers, s.num_critical, s.lrelu_upsampling, s.filter_size
    for lay in s.layers:
        src, dst = s.entries[max(lay.idx - 1, 0)], s.entries[lay.idx]
        assert (lay.in_entry, lay.out_entry) == (src.i, dst.i)
        assert (lay.in_rate, lay.in_size, lay.in_channels) == (src.rate, src.size, src.channels)
        assert (lay.out_rate, lay.out_size, lay.out_channels) == (dst.rate, dst.size, dst.channels)
        assert (lay.in_cutoff, lay.out_cutoff) == (src.cutoff, dst.cutoff)
        assert (lay.in_half_width, lay.out_half_width) == (src.half_width, dst.half_width)
        assert (lay.in_stopband, lay.out_stopband) == (src.stopband, dst.stopband)
        assert lay.is_torgb == (lay.idx == n)
        assert lay.critically_sampled == (lay.idx >= n - nc)
        assert lay.name == f"L{lay.idx}_{dst.size}_{dst.channels}"
        mult = 1 if lay.is_torgb else m
        assert lay.tmp_rate == max(src.rate, dst.rate) * mult
        assert lay.up * src.rate == lay.tmp_rate and lay.down * dst.rate == lay.tmp_rate
        assert lay.up_taps == (fsize * lay.up if lay.up > 1 else 1)
        assert lay.down_taps == (fsize * lay.down if lay.down > 1 else 1)
        assert lay.conv_padding == lay.conv_kernel - 1
        # The conv is a full convolution: it grows the map by k - 1 (see dsp.schedule).
        n_conv = lay.in_size + lay.conv_kernel - 1
        p0, p1, q0, q1 = lay.padding
        assert (p0, p1) == (q0, q1)
        args = (n_conv, lay.up, lay.down, p0, p1, lay.up_taps, lay.down_taps)
        assert _flrelu_out_size(*args) == lay.out_size
        assert _brute_chain_length(*args) == lay.out_size
        # Filters must be designable: cutoffs strictly below the intermediate Nyquist.
        if lay.up_taps > 1:
            assert 0 < lay.in_cutoff < lay.tmp_rate / 2
        if lay.down_taps > 1:
            assert 0 < lay.out_cutoff < lay.tmp_rate / 2
        assert lay.in_half_width > 0 and lay.out_half_width > 0
    for ent in s.entries:
        assert ent.stopband > ent.cutoff
        if ent.critically_sampled:
            assert ent.cutoff == ent.rate / 2
        else:
            assert ent.cutoff < ent.rate / 2
    rates = np.array(s.rates)
    assert np.all(np.diff(rates) >= 0)
    assert np.all(np.diff(np.array(s.cutoffs)) >= 0)
    assert np.all(np.diff(np.array(s.channels)) <= 0)
    assert s.sizes[-1] == s.sizes[-2] == s.res == rates[-1]


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("res", ALL_RES)
def test_layer_invariants_defaults(res, config):
    s = layer_schedule(res, config)
    _check_layers(s)
    for lay in s.layers:
        assert lay.up in ({1} if lay.is_torgb else {2, 4})
        assert lay.down in ({1} if lay.is_torgb else {2})
        assert lay.up_taps in (1, 12, 24) and lay.down_taps in (1, 12)
        assert lay.use_fp16 == (lay.out_rate * 16 > res)


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("res", ALL_RES)
def test_padding_keeps_centres_aligned(res, config):
    # Input sample j lands at up*j on the upsampled grid; padding shifts it by p0; each 'valid'
    # convolution with an odd-or-even symmetric filter moves the centre back by (taps-1)/2.
    # The map's centre must land on the output map's centre.
    for lay in layer_schedule(res, config).layers:
        n_conv = lay.in_size + lay.conv_kernel - 1
        pos = lay.up * (n_conv - 1) / 2 + lay.padding[0]
        pos -= (lay.up_taps - 1) / 2 + (lay.down_taps - 1) / 2
        assert pos / lay.down == (lay.out_size - 1) / 2


@given(
    res=st.sampled_from(ALL_RES),
    config=st.sampled_from(CONFIGS),
    n=st.integers(2, 20),
    data=st.data(),
    margin=st.integers(0, 16),
    m=st.integers(1, 3),
    fsize=st.integers(1, 8),
    k=st.integers(1, 5),
)
def test_layer_invariants_property(res, config, n, data, margin, m, fsize, k):
    nc = data.draw(st.integers(1, n - 1))
    s = layer_schedule(
        res,
        config,
        num_layers=n,
        num_critical=nc,
        margin=margin,
        lrelu_upsampling=m,
        filter_size=fsize,
        conv_kernel=k,
    )
    assert len(s.entries) == len(s.layers) == n + 1
    _check_layers(s)


def _jinc_truth(n: int, cutoff: float, width: float, fs: float) -> np.ndarray:
    """REFERENCE §2 radial design, written out directly."""
    x = (np.arange(n) - (n - 1) / 2) / fs
    r = np.hypot(*np.meshgrid(x, x))
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(r == 0, cutoff, special.j1(2 * np.pi * cutoff * r) / (np.pi * r))
    beta = signal.kaiser_beta(signal.kaiser_atten(n, width / (fs / 2)))
    w = np.kaiser(n, beta)
    f = f * np.outer(w, w)
    return f / f.sum()


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("res", [16, 256, 1024])
def test_filters(res, config):
    for lay in layer_schedule(res, config).layers:
        fu, fd = lay.up_filter(), lay.down_filter()
        assert fu.shape == (lay.up_taps,)
        if lay.up_taps == 1:
            np.testing.assert_array_equal(fu, [1.0])
        else:
            want = signal.firwin(
                lay.up_taps, lay.in_cutoff, width=2 * lay.in_half_width, fs=lay.tmp_rate
            )
            np.testing.assert_allclose(fu, want, rtol=0, atol=1e-12)
        assert fu.sum() == pytest.approx(1.0, abs=1e-12)
        if lay.down_radial:
            assert fd.shape == (lay.down_taps, lay.down_taps)
            want = _jinc_truth(lay.down_taps, lay.out_cutoff, 2 * lay.out_half_width, lay.tmp_rate)
            np.testing.assert_allclose(fd, want, rtol=0, atol=1e-10)
        elif lay.down_taps == 1:
            np.testing.assert_array_equal(fd, [1.0])
        else:
            assert fd.shape == (lay.down_taps,)
            want = signal.firwin(
                lay.down_taps, lay.out_cutoff, width=2 * lay.out_half_width, fs=lay.tmp_rate
            )
            np.testing.assert_allclose(fd, want, rtol=0, atol=1e-12)
        assert fd.sum() == pytest.approx(1.0, abs=1e-12)


def test_to_dict_and_table():
    s = layer_schedule(256, "r")
    d = json.loads(json.dumps(s.to_dict()))
    assert d["parameters"]["res"] == 256 and d["parameters"]["config"] == "R"
    assert d["parameters"]["conv_kernel"] == 1 and d["parameters"]["radial"] is True
    assert [e["rate"] for e in d["entries"]] == list(s.rates)
    names = {f.name for f in dataclasses.fields(LayerSpec)}
    assert set(d["layers"][0]) == names
    assert set(d["entries"][0]) == {f.name for f in dataclasses.fields(ScheduleEntry)}
    for lay, dl in zip(s.layers, d["layers"], strict=True):
        assert dl["padding"] == list(lay.padding) and dl["name"] == lay.name
    rows = s.rows()
    assert len(rows) == 15 and rows[-1]["name"] == "L14_256_3"
    text = s.table()
    lines = text.splitlines()
    assert len(lines) == 2 + 15
    assert "L10_276_512" in lines[12] and "148->276" in lines[12] and "4/2" in lines[12]
    assert str(s) == text


def test_frozen():
    s = layer_schedule(64)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.layers[0].up = 3  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.res = 32  # type: ignore[misc]
    hash(s)


@pytest.mark.parametrize("res", [0, 8, 15, 17, 24, 100, 2048, -256, 256.0, True, "256", None])
def test_invalid_res(res):
    with pytest.raises(ValueError, match="res"):
        layer_schedule(res)


@pytest.mark.parametrize("config", ["x", "stylegan2", "", "tr", None, 1])
def test_invalid_config(config):
    with pytest.raises(ValueError, match="config"):
        layer_schedule(256, config)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"num_layers": 1}, "num_layers"),
        ({"num_critical": 0}, "num_critical"),
        ({"num_layers": 4, "num_critical": 4}, "num_critical"),
        ({"first_cutoff": 0.0}, "first_cutoff"),
        ({"first_cutoff": 128.0}, "first_cutoff"),
        ({"first_cutoff": float("nan")}, "first_cutoff"),
        ({"first_stopband": 2.0}, "first_stopband"),
        ({"first_stopband": 200.0}, "first_stopband"),
        ({"first_cutoff": 0.1, "first_stopband": 0.2}, "first_stopband"),
        ({"last_stopband_rel": 1.0}, "last_stopband_rel"),
        ({"last_stopband_rel": float("inf")}, "last_stopband_rel"),
        ({"margin": -1}, "margin"),
        ({"margin": 1.5}, "margin"),
        ({"channel_base": 0}, "channel_base"),
        ({"channel_max": 0}, "channel_max"),
        ({"channel_base": 2}, "channel_base"),
        ({"img_channels": 0}, "img_channels"),
        ({"lrelu_upsampling": 0}, "lrelu_upsampling"),
        ({"filter_size": 0}, "filter_size"),
        ({"conv_kernel": 0}, "conv_kernel"),
        ({"num_fp16_res": -1}, "num_fp16_res"),
    ],
)
def test_invalid_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        layer_schedule(256, **kwargs)


def test_plot_schedule(tmp_path):
    from matplotlib.figure import Figure

    from dsp.plots import save_figure
    from dsp.plots.schedule import plot_schedule

    s = layer_schedule(256, "r")
    fig = plot_schedule(s)
    assert isinstance(fig, Figure)
    ax, axb = fig.axes[:2]
    assert ax.get_yscale() == "log" and axb.get_yscale() == "log"
    ys = [tuple(np.asarray(line.get_ydata(), float)) for line in ax.get_lines()]
    assert tuple(s.cutoffs) in ys and tuple(s.stopbands) in ys
    assert tuple(r / 2 for r in s.rates) in ys
    ylo, yhi = ax.get_ylim()
    assert ylo <= min(s.cutoffs) and yhi >= max(s.stopbands)
    heights = [p.get_height() for p in axb.patches if p.get_width() < 1]
    assert heights == list(s.sizes)
    path = save_figure(fig, tmp_path / "s.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="schedule"):
        plot_schedule(s.to_dict())


def test_the_two_stopbands_are_told_apart():
    # ft is the schedule's target; the filters' transition band [fc - fh, fc + fh] ends at
    # fc + fh = max(ft, s/2) (REFERENCE §3's half-width formula), above ft wherever s/2 > ft.
    from dsp.schedule import FILTER_STOPBAND_COLUMN, TARGET_STOPBAND_COLUMN

    s = layer_schedule(256, "t")
    for ent in s.entries:
        assert ent.filter_stopband == pytest.approx(max(ent.stopband, ent.rate / 2), rel=1e-12)
        assert ent.filter_stopband >= ent.stopband
    # Entry 0 at res 256: ft = 2**2.1, s = 16 (REFERENCE check values), so the edge is 8.
    assert s.entries[0].stopband == pytest.approx(2**2.1)
    assert s.entries[0].filter_stopband == pytest.approx(8.0)
    assert "the stopband starts at ``cutoff + half_width``" not in schedule_module.__doc__
    assert "filter_stopband" not in s.entries[0].to_dict()  # the JSON keys stay as they were

    rows = s.rows()
    assert "stopband" not in rows[0]
    assert rows[0][TARGET_STOPBAND_COLUMN] == pytest.approx(2**2.1)
    assert rows[0][FILTER_STOPBAND_COLUMN] == pytest.approx(8.0)
    for row, lay in zip(rows, s.layers, strict=True):
        assert row[TARGET_STOPBAND_COLUMN] == lay.out_stopband
        assert row[FILTER_STOPBAND_COLUMN] == pytest.approx(lay.out_cutoff + lay.out_half_width)
    head, _, first = s.table().splitlines()[:3]
    assert TARGET_STOPBAND_COLUMN in head and FILTER_STOPBAND_COLUMN in head
    assert "4.287" in first.split() and "8" in first.split()


def test_plot_schedule_shades_the_transition_band_centred_on_the_cutoff():
    import matplotlib.pyplot as plt

    from dsp.plots.schedule import plot_schedule

    s = layer_schedule(256, "t")
    fig = plot_schedule(s)
    ax = fig.axes[0]
    ylo = ax.get_ylim()[0]
    (band,) = ax.containers
    assert band.get_label() == "filter transition band $[f_c - f_h, f_c + f_h]$"
    bars = list(band)
    assert len(bars) == len(s.entries)
    for bar, ent in zip(bars, s.entries, strict=True):
        lo, hi = bar.get_y(), bar.get_y() + bar.get_height()
        assert bar.get_x() + bar.get_width() / 2 == pytest.approx(ent.i)
        assert hi == pytest.approx(ent.cutoff + ent.half_width)
        if ent.cutoff - ent.half_width > ylo:
            # Centred on the cutoff (linear frequency): [fc - fh, fc + fh].
            assert (lo + hi) / 2 == pytest.approx(ent.cutoff)
        else:
            # It reaches DC (or nearly), which the log axis shows as its bottom.
            assert lo == pytest.approx(ylo)
    # Entry 9 at res 256: fc = 2**5.5, s = 128, so fh = 64 - 2**5.5 and the band starts at
    # 2**6.5 - 64, well above DC.
    assert bars[9].get_y() == pytest.approx(2 * 2**5.5 - 64)
    assert "transition band" not in ax.get_legend_handles_labels()[1]
    plt.close(fig)
