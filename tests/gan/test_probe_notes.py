"""gan.probe: notes that explain a row or a report (NaN cells, unmeasured layers, advice that
names the right argument), and the wording of the errors around them (issue 6)."""

from __future__ import annotations

import ast
import re
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dsp.figures import bandlimited_field
from dsp.interpolation import lanczos_margin
from gan.probe import equivariance_key, probe_model
from gan.probe.report import rate_text


def _noise(n: int, c: int, size: int) -> torch.Tensor:
    x = [[bandlimited_field((size, size), 0.4, seed=i * c + j) for j in range(c)] for i in range(n)]
    return torch.from_numpy(np.asarray(x))


class Blur(nn.Module):
    """A [1, 3, 3, 1] binomial blur keeping every second sample, through ``F.conv2d``: it lowers
    the rate, but is no module type the probe knows."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        k = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=torch.float64)
        self.register_buffer("k", (torch.outer(k, k) / 64).expand(channels, 1, 4, 4).clone())

    def forward(self, x):
        return F.conv2d(F.pad(x, (1, 2, 1, 2)), self.k, stride=2, groups=self.k.shape[0])


class BlurNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 2, 3, stride=2, padding=1, padding_mode="circular")
        self.relu = nn.ReLU()
        self.blur = Blur(2)
        self.relu2 = nn.ReLU()
        self.double()

    def forward(self, x):
        return self.relu2(self.blur(self.relu(self.conv(x))))


# ------------------------------------------------------------------------------ NaN cells
def _small_map_net() -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1),
        nn.AvgPool2d(4),
        nn.Conv2d(2, 2, 3, padding=1),
        nn.AdaptiveAvgPool2d(1),
    ).double()


def test_maps_too_small_for_a_non_circular_shift_get_a_note_saying_so():
    shifts = (1.0, 0.5)
    rep = probe_model(_small_map_net(), _noise(2, 1, 32), shifts=shifts, circular=False)
    nan_rows = set()
    for r in rep.rows:
        h, w = r.out_shape[-2:]
        nan_keys = [
            equivariance_key(t) for t in shifts if np.isnan(r.measures[equivariance_key(t)].mean)
        ]
        small = [n for n in r.notes if "too small" in n]
        if not nan_keys:
            assert not small, r.name
            continue
        nan_rows.add(r.name)
        assert len(small) == 1, r.name
        note = small[0]
        # The note names the map's size, each shift in the layer's own samples and the margin
        # that the compared region leaves out at each border (REFERENCE §5: lanczos_margin(d)
        # plus size // 8), and which measures are NaN.
        assert note.startswith(f"{h}×{w} map too small"), note
        for t in shifts:
            d = t * r.rates[0]
            margin = lanczos_margin(d) + h // 8
            assert h - 2 * margin <= 0  # nothing of the map is left to compare
            assert f"{d:g} samples ({margin} samples at each border)" in note, note
        assert all(k in note for k in nan_keys)
    # The 32×32 maps are measured; the 8×8 ones (rate 1/4) and the 1×1 global pool are not.
    assert nan_rows == {"1", "2", "3"}
    assert "--input-shape" in rep.row("1").notes[0] and "--images noise" in rep.row("1").notes[0]
    # A global pool's 1×1 output does not grow with the input: only circular shifts help.
    assert "--input-shape" not in rep.row("3").notes[0]
    assert "circular=True" in rep.row("3").notes[0]
    # One report note sums it up; the table, the JSON rows and notes carry it all.
    summary = [n for n in rep.notes if "equivariance is NaN in 3 rows" in n]
    assert len(summary) == 1 and "'1'" not in summary[0] and "(1, 2, 3)" in summary[0]
    table = rep.table()
    # Rows with the same notes share one footnote.
    assert "\n[1] 1, 2 (2 rows): 8×8 map too small" in table, table
    assert "\n[2] 3: 1×1 map too small" in table, table
    assert rep.to_dict()["rows"][1]["notes"] == list(rep.row("1").notes)
    # The advice holds: with four times larger maps the 8×8 maps become 32×32 and are measured.
    big = probe_model(_small_map_net(), _noise(2, 1, 128), shifts=shifts, circular=False)
    for name in ("1", "2"):
        assert not big.row(name).notes
        assert all(np.isfinite(s.mean) for s in big.row(name).measures.values())
    # Circular shifts compare whole maps: nothing is NaN, nothing to note.
    circ = probe_model(_small_map_net(), _noise(2, 1, 32), shifts=shifts, circular=True)
    assert not any("too small" in n for r in circ.rows for n in r.notes)
    assert not any("too small" in n for n in circ.notes)


# ------------------------------------------------------------------------------ rate drops
def test_a_custom_module_that_lowers_the_rate_is_noted_until_named():
    x = _noise(2, 1, 32)
    rep = probe_model(BlurNet(), x, shifts=(1.0,))
    row = rep.row("blur")
    # The rate is followed through the blur (16 → 8 samples), but nothing measures it.
    assert row.rates == (0.25, 0.25) and rep.row("relu").rates == (0.5, 0.5)
    assert "out_of_band" not in row.measures
    (note,) = row.notes
    assert f"({rate_text(0.5)} → {rate_text(0.25)})" in note
    assert "not a known downsampling module (Blur)" in note
    assert "name 'blur' in downsampling_layers (--downsampling-layers)" in note
    assert not rep.row("conv").notes and not rep.row("relu2").notes
    # Named, it is measured and the note is gone.
    named = probe_model(BlurNet(), x, shifts=(1.0,), downsampling_layers=["blur"])
    assert "out_of_band" in named.row("blur").measures and not named.row("blur").notes
    # Without the downsampling measure there is nothing to advise.
    eq = probe_model(BlurNet(), x, shifts=(1.0,), measures=("equivariance",))
    assert not eq.row("blur").notes
    # A PixelUnshuffle moves samples into channels and discards none: no note.
    shuffle = probe_model(nn.Sequential(nn.PixelUnshuffle(2)).double(), x, shifts=(1.0,))
    assert shuffle.row("0").rates == (0.5, 0.5) and not shuffle.row("0").notes
    # A crop (or negative padding) changes the size by a few samples: not a resampling to
    # advise measuring (the note told users to treat Crop as a downsampling module).

    class Crop(nn.Module):
        def forward(self, t):
            return t[..., 2:-2, 2:-2]

    crop = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), Crop(), nn.ZeroPad2d(-4)).double()
    rep = probe_model(crop, x, shifts=(1.0,))
    assert not rep.row("1").notes and not rep.row("2").notes


# ------------------------------------------------------------------------------ --layers
def test_a_named_layer_left_out_by_layers_gets_the_right_reason():
    x = _noise(1, 1, 32)
    kw = {"shifts": (1.0,), "measures": ("downsampling", "nonlinearity")}
    with pytest.warns(UserWarning, match="'downsampling' found no layer") as caught:
        rep = probe_model(BlurNet(), x, layers=["relu*"], downsampling_layers=["blur"], **kw)
    (note,) = [n for n in rep.notes if "'downsampling'" in n]
    assert str(caught[0].message) == note
    # The reason is the layers patterns, not a module missing from downsampling_layers.
    assert "downsampling_layers (--downsampling-layers) names 'blur'" in note
    assert "layers=['relu*'] (--layers) leaves it out" in note
    assert "add it to layers" in note
    assert "name the module" not in note and "functional calls" not in note
    # The strided convolution the patterns drop too is named in the same note (it said only
    # the named module).
    assert "leaves out the strided convolutions and pooling layers 'conv'" in note
    # Measured elsewhere, a named module left out still gets a report note.
    rep = probe_model(BlurNet(), x, layers=["conv", "relu*"], downsampling_layers=["blur"], **kw)
    assert "out_of_band" in rep.row("conv").measures
    assert any("names 'blur'" in n and "leaves it out" in n for n in rep.notes), rep.notes
    # Nothing named, but the strided convolution is left out: that is the reason given.
    with pytest.warns(UserWarning):
        rep = probe_model(BlurNet(), x, layers=["relu*"], **kw)
    (note,) = [n for n in rep.notes if "'downsampling'" in n]
    assert "leaves out the strided convolutions and pooling layers 'conv'" in note
    # Nonlinearities likewise.
    with pytest.warns(UserWarning, match="'nonlinearity' found no layer"):
        rep = probe_model(BlurNet(), x, layers=["conv"], **kw)
    (note,) = [n for n in rep.notes if "'nonlinearity'" in n]
    assert "leaves out the nonlinearity modules 'relu', 'relu2'" in note
    # Patterns that keep everything: no such note.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rep = probe_model(BlurNet(), x, layers=["*"], downsampling_layers=["blur"], **kw)
    assert not rep.notes


def test_unknown_module_names_list_the_candidates_without_the_root():
    with pytest.raises(ValueError, match="downsampling_layers must name modules") as err:
        probe_model(BlurNet(), _noise(1, 1, 16), downsampling_layers=["nope"])
    listed = ast.literal_eval(re.search(r"is not one of (\[.*?\])", str(err.value)).group(1))
    assert listed == sorted(n for n, _ in BlurNet().named_modules() if n)
    assert "" not in listed


# ------------------------------------------------------------------------------ zero padding
@pytest.mark.parametrize(
    ("conv", "circular", "noted"),
    [
        (nn.Conv2d(1, 2, 3, padding=1), True, True),
        (nn.Conv2d(1, 2, 3, padding="same"), True, True),
        (nn.Conv2d(1, 2, 3, padding=1, padding_mode="circular"), True, False),
        (nn.Conv2d(1, 2, 3), True, False),  # no padding: it crops, no zero border
        (nn.Conv2d(1, 2, 3, padding=1), False, False),
    ],
)
def test_circular_shifts_of_a_zero_padded_convolution_are_noted(conv, circular, noted):
    x = _noise(1, 1, 16)
    rep = probe_model(nn.Sequential(conv, nn.ReLU()).double(), x, shifts=(1.0,), circular=circular)
    notes = [n for n in rep.notes if "zero-padded" in n]
    assert bool(notes) == noted, rep.notes
    if noted:
        assert "('0')" in notes[0] and "circular=False" in notes[0]
        # The reason for the note: well below the float64 precision of an equivariant layer.
        assert rep.row("0").measures["equivariance_1"].mean < 60
    # A convolution that layers leaves out still feeds its border to the layers kept.
    kept = probe_model(nn.Sequential(conv, nn.ReLU()).double(), x, shifts=(1.0,),
                       circular=circular, layers=["1"])  # fmt: skip
    assert bool([n for n in kept.notes if "zero-padded" in n]) == noted, kept.notes
    # Without the equivariance measure there is nothing to explain.
    net = nn.Sequential(conv, nn.ReLU()).double()
    rep = probe_model(net, x, measures=("nonlinearity",), circular=True)
    assert not any("zero-padded" in n for n in rep.notes)
