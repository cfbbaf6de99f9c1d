"""gan.probe: odd-sized downsamplers, channels-last maps, crops in a forward, non-periodic
inputs (review 2). Truths are float64 FFT brute force written here, not the dsp analyzers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dsp.figures import bandlimited_field
from gan.probe import PSNR_CAP_DB, probe_model


# ------------------------------------------------------------------------------ brute force
def _hann(n: int) -> np.ndarray:
    """DFT-even Hann window ``0.5 − 0.5·cos(2πk/n)``."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)


def _oob_truth(y: np.ndarray, s: int, window: bool = False) -> np.ndarray:
    """Fraction of each map's DFT power outside ``|f_y|, |f_x| < 1/(2s)`` (per ``[..., H, W]``)."""
    h, w = y.shape[-2:]
    if window:
        y = y * np.outer(_hann(h), _hann(w))
    p = np.abs(np.fft.fft2(y)) ** 2
    ky, kx = np.fft.fftfreq(h) * h, np.fft.fftfreq(w) * w
    # |k/n| < 1/(2s) in integers: 2·s·|k| < n.
    inside = (2 * s * np.abs(ky)[:, None] < h) & (2 * s * np.abs(kx)[None, :] < w)
    return (p * ~inside).sum(axis=(-2, -1)) / p.sum(axis=(-2, -1))


def _circular_blur(x: np.ndarray, taps: np.ndarray, first: int) -> np.ndarray:
    """``z[n] = Σ_i taps[i]·x[(n + i − first) mod N]`` along both axes, through the DFT."""
    out = x
    for axis in (-2, -1):
        n = x.shape[axis]
        f = np.fft.fftfreq(n)
        k = sum(t * np.exp(2j * np.pi * f * (i - first)) for i, t in enumerate(taps))
        shape = [1] * x.ndim
        shape[axis] = n
        out = np.fft.ifft(np.fft.fft(out, axis=axis) * k.reshape(shape), axis=axis).real
    return out


def _nl_truth(x: np.ndarray, fn, m: int) -> np.ndarray:
    """Aliased energy of ``fn`` per map over the layer's mean map energy, for odd-sized maps
    (no Nyquist bin): ideal zero-padding upsampling by ``m``, ``fn``, ideal low-pass back."""
    h, w = x.shape[-2:]
    assert h % 2 and w % 2
    hh, ww = m * h, m * w
    spec = np.fft.fftshift(np.fft.fft2(x), axes=(-2, -1))
    big = np.zeros(x.shape[:-2] + (hh, ww), dtype=complex)
    oy, ox = hh // 2 - h // 2, ww // 2 - w // 2  # DC of both at the same bin
    big[..., oy : oy + h, ox : ox + w] = spec
    up = np.fft.ifft2(np.fft.ifftshift(big, axes=(-2, -1))).real * m * m
    g = np.fft.fftshift(np.fft.fft2(fn(up)), axes=(-2, -1))[..., oy : oy + h, ox : ox + w]
    ref = np.fft.ifft2(np.fft.ifftshift(g, axes=(-2, -1))).real / (m * m)
    ys = fn(x)
    e = ((ys - ref) ** 2).sum(axis=(-2, -1))
    return e / (ys**2).sum(axis=(-2, -1)).mean(axis=1, keepdims=True)


def _fields(n: int, size: tuple[int, int], band: float, c: int = 1) -> torch.Tensor:
    return torch.from_numpy(
        np.stack(
            [
                np.stack([bandlimited_field(size, band, seed=7 * i + j) for j in range(c)])
                for i in range(n)
            ]
        )  # fmt: skip
    )


# ------------------------------------------------------------------------------ defect 1
class _Blur(nn.Module):
    """BlurPool-like: separable [1, 3, 3, 1]/8, circular padding (1, 2), stride 2 (ceil mode)."""

    def __init__(self) -> None:
        super().__init__()
        k = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=torch.float64)
        self.register_buffer("k", (torch.outer(k, k) / 64)[None, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        return F.conv2d(F.pad(x, (1, 2, 1, 2), mode="circular"), self.k.expand(c, 1, 4, 4),
                        stride=2, groups=c)  # fmt: skip


class _BlurNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blur1 = _Blur()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blur1(x)


@pytest.mark.parametrize("n", [32, 31, 33])
def test_named_downsampler_on_odd_maps_is_measured_with_its_own_filter(n):
    # 31 → 16 and 33 → 17 (ceil mode) were measured on the unblurred input with the stride-3
    # band (60.5 % and 62.7 % instead of 7.7 % and 5.2 %).
    x = _fields(2, (n, n), 0.45)
    row = probe_model(_BlurNet(), x, measures=["downsampling"], downsampling_layers=["blur1"]).rows[
        0
    ]
    taps = np.array([1.0, 3.0, 3.0, 1.0]) / 8
    want = _oob_truth(_circular_blur(x.numpy(), taps, 1), 2)
    got = row.measures["out_of_band"]
    assert got.mean == pytest.approx(want.mean(), rel=1e-9)
    assert got.min == pytest.approx(want.min(), rel=1e-9)
    assert row.notes == ()


@pytest.mark.parametrize("n", [33, 35])
@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_half_scale_upsample_on_odd_maps_uses_stride_2(n, mode):
    # nn.Upsample(scale_factor=0.5) keeps x[::2] (nearest) or averages pairs (bilinear) on any
    # size; 33 → 16 was rounded up to stride 3 (79.1 % instead of 45.5 %) and 100 % tangled.
    x = _fields(2, (n, n), 0.4)
    up = nn.Upsample(scale_factor=0.5, mode=mode)
    row = probe_model(nn.Sequential(up), x, measures=["downsampling"]).rows[0]
    y1 = x.numpy() if mode == "nearest" else _circular_blur(x.numpy(), np.array([0.5, 0.5]), 0)
    assert row.rate == 0.5 and row.rate_w == 0.5
    assert row.measures["out_of_band"].mean == pytest.approx(_oob_truth(y1, 2).mean(), rel=1e-9)
    assert row.notes == ()


def test_odd_periodic_map_through_strided_conv_has_no_aliasing():
    # A 31×31 periodic field band-limited to 0.2 through a 1×1 stride-2 convolution: nothing
    # lies beyond 1/4, nothing folds. Cropping it to 30×30 read 0.44 % and 3.9 % tangled.
    x = _fields(2, (31, 31), 0.2)
    conv = nn.Conv2d(1, 1, 1, stride=2, bias=False).double()
    with torch.no_grad():
        conv.weight.fill_(1.0)
    assert _oob_truth(x.numpy(), 2).max() < 1e-25
    m = probe_model(nn.Sequential(conv), x, measures=["downsampling"]).rows[0].measures
    assert m["out_of_band"].max < 1e-25
    assert m["fold_tangled"].max == 0 and m["fold_aliased"].max == 0
    assert m["fold_non_aliased"].min == pytest.approx(1.0, abs=1e-12)


# ------------------------------------------------------------------------------ defect 2
class _CNBlock(nn.Module):
    """ConvNeXt block as in torchvision: depthwise conv, NHWC LayerNorm/Linear/GELU/Linear."""

    def __init__(self, d: int = 4) -> None:
        super().__init__()
        self.dw = nn.Conv2d(d, d, 7, padding=3, groups=d)
        self.norm = nn.LayerNorm(d)
        self.pw1 = nn.Linear(d, 4 * d)
        self.act = nn.GELU()
        self.pw2 = nn.Linear(4 * d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dw(x).permute(0, 2, 3, 1)
        y = self.pw2(self.act(self.pw1(self.norm(y))))
        return x + y.permute(0, 3, 1, 2)


class _ConvNeXt(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.stem = nn.Conv2d(3, 4, 4, 4)
        self.block = _CNBlock(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(self.stem(x))


def test_channels_last_layers_are_measured_in_their_own_layout():
    # GELU between two Linear layers sees [N, H, W, C]: read as [N, C, H, W] it reported
    # 5.49 % instead of 2.49 %, rates like 0.375×0.0833 and a note asking to name a Linear in
    # --downsampling-layers.
    model = _ConvNeXt().double()
    x = _fields(2, (36, 44), 0.1, c=3)  # stem stride 4: 9×11 maps (odd: no Nyquist bin)
    rep = probe_model(model, x, shifts=(1.0,))
    got = {}
    hook = model.block.act.register_forward_hook(lambda m, a, o: got.setdefault("in", a[0]))
    with torch.no_grad():
        model(x)
    hook.remove()
    xin = got["in"].permute(0, 3, 1, 2).numpy()
    want = _nl_truth(xin, lambda v: F.gelu(torch.from_numpy(v)).numpy(), 4)
    act = rep.row("block.act")
    assert act.out_shape == (16, 9, 11)
    assert act.measures["nonlinearity"].mean == pytest.approx(want.mean(), rel=1e-6)
    for name in ("block.dw", "block.norm", "block.pw1", "block.act", "block.pw2"):
        row = rep.row(name)
        assert (row.rate, row.rate_w) == (0.25, 0.25), name
        assert not any("downsampling_layers" in t for t in row.notes), (name, row.notes)
    assert any("channels-last" in t for t in act.notes)


# ------------------------------------------------------------------------------ defect 3
class _CropNet(nn.Module):
    def __init__(self, crop: str) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.c1 = nn.Conv2d(1, 4, 3, padding=1).double()
        self.c2 = nn.Conv2d(4, 4, 3, padding=1).double()
        self.crop = crop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.c1(x)
        if self.crop == "slice":
            y = y[..., 8:-8, 8:-8]
        else:  # a copy, not a view: found from the size ratio
            y = F.pad(y, (-8, -8, -8, -8))
        return self.c2(y)


@pytest.mark.parametrize("crop", ["slice", "negative_pad"])
def test_crop_in_forward_keeps_the_rate(crop):
    # A centre crop (U-Net skip) does not resample: c2 is exactly equivariant in its
    # interior. Taken as a 0.75 rate it read 18.1 dB at a 1-pixel shift.
    x = torch.from_numpy(np.random.default_rng(3).standard_normal((2, 1, 64, 64)))
    model = _CropNet(crop)
    rep = probe_model(model, x, measures=["equivariance"], shifts=(1.0, 2.0), circular=False)
    row = rep.row("c2")
    assert (row.rate, row.rate_w) == (1.0, 1.0)
    # Truth: a zero-filled integer shift of the input moves c2's interior exactly.
    with torch.no_grad():
        a = model(x).numpy()
        for d in (1, 2):
            xs = torch.zeros_like(x)
            xs[..., d:, d:] = x[..., :-d, :-d]
            b = model(xs).numpy()
            assert np.array_equal(b[..., 8:-8, 8:-8], a[..., 8 - d : -8 - d, 8 - d : -8 - d])
    for key in ("equivariance_1", "equivariance_2"):
        assert row.measures[key].min == PSNR_CAP_DB, key
    assert any("crop" in t for t in row.notes)


# ------------------------------------------------------------------------------ defect 4
def test_non_circular_downsampling_uses_a_window():
    # A product of tones at 0.1 and 0.07 cycles/sample, not periodic on 64 samples, through a
    # 1×1 stride-2 convolution: no aliasing. Unwindowed it read 3.6 % out of band and 32.6 %
    # tangled.
    n = np.arange(64)
    t = np.cos(2 * np.pi * 0.07 * n)[:, None] * np.cos(2 * np.pi * 0.1 * n)[None, :]
    x = torch.from_numpy(t[None, None])
    conv = nn.Conv2d(1, 1, 1, stride=2, bias=False).double()
    with torch.no_grad():
        conv.weight.fill_(1.0)
    m = (
        probe_model(nn.Sequential(conv), x, measures=["downsampling"], circular=False)
        .rows[0]
        .measures
    )
    want = _oob_truth(t, 2, window=True)
    assert want < 1e-6
    assert m["out_of_band"].mean == pytest.approx(float(want), rel=1e-9)
    assert m["fold_tangled"].max < 1e-5
    # Periodic inputs keep the unwindowed measure.
    m_c = probe_model(nn.Sequential(conv), x, measures=["downsampling"]).rows[0].measures
    assert m_c["out_of_band"].mean == pytest.approx(float(_oob_truth(t, 2)), rel=1e-9)


class _Square(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * x


def test_non_circular_nonlinearity_ignores_the_edge_jump():
    # x² of a map band-limited below 0.1 cycles/sample stays below 0.2: no aliasing at all.
    # The map is not periodic; treated as periodic, the jump between its edges rang through
    # the ideal upsampling and read 0.12 %.
    h, w = 24, 40
    yy, xx = np.mgrid[:h, :w]
    x = np.cos(2 * np.pi * (0.031 * xx + 0.047 * yy) + 0.3)
    x = x + 0.5 * np.cos(2 * np.pi * 0.053 * xx - 1.0)
    model = nn.Sequential(_Square())
    x_t = torch.from_numpy(x[None, None])
    rep = probe_model(model, x_t, measures=["nonlinearity"], nonlinearities=["0"], circular=False)
    assert rep.rows[0].measures["nonlinearity"].mean < 1e-5
    # Periodic maps are measured as before (and a periodic band-limited map is exact).
    xp = _fields(1, (24, 40), 0.1)
    rep_p = probe_model(model, xp, measures=["nonlinearity"], nonlinearities=["0"])
    assert rep_p.rows[0].measures["nonlinearity"].max < 1e-20


# ------------------------------------------------------------------------------ defect 5
class _Split(nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x[:, :2], x[:, 2:]


class _Pair(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(3, 3, 3, 1, 1)
        self.split = _Split()
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, _ = self.split(self.c(x))
        return self.act(a)


def test_a_layer_returning_a_tuple_of_maps_gets_a_note():
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((1, 3, 16, 16))).float()
    rep = probe_model(_Pair(), x, measures=["nonlinearity"])
    assert [r.name for r in rep.rows] == ["act"]
    assert any("'split' (_Split)" in t and "tuple" in t for t in rep.notes)


@pytest.mark.parametrize("prefix", ["_orig_mod.", "module.", "module._orig_mod."])
def test_weights_saved_from_compiled_or_data_parallel_models_load(tmp_path, prefix):
    from gan.probe.loading import load_weights

    torch.manual_seed(1)
    src = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 1, 1))
    path = tmp_path / "w.pt"
    torch.save({prefix + k: v for k, v in src.state_dict().items()}, path)
    torch.manual_seed(2)
    dst = load_weights(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 1, 1)), path)
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v), k
    # Keys that are not a wrapper's prefix are still refused, naming them.
    torch.save({"other." + k: v for k, v in src.state_dict().items()}, path)
    with pytest.raises(ValueError, match=r"unexpected keys \[other\.0\.bias"):
        load_weights(dst, path)
