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
        else:  # a copy, not a view: read from the size ratio (see the review 5 tests)
            y = F.pad(y, (-8, -8, -8, -8))
        return self.c2(y)


def test_crop_in_forward_keeps_the_rate():
    # A centre crop by slicing (U-Net skip) does not resample: c2 is exactly equivariant in
    # its interior. Taken as a 0.75 rate it read 18.1 dB at a 1-pixel shift.
    x = torch.from_numpy(np.random.default_rng(3).standard_normal((2, 1, 64, 64)))
    model = _CropNet("slice")
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


# ------------------------------------------------------------------------------ review 5
# Channels-last only on layout evidence; sizes that are no view of a map read as a resampling
# with a note; named downsamplers' strides told apart by running the layer.
class _AlongRows(nn.Module):
    """Circular conv, then a LayerNorm or a Linear along the rows (W) of the [N, C, H, W] map
    on purpose, Identity, the nonlinearity, a strided conv."""

    def __init__(self, kind: str, w: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.c = nn.Conv2d(1, 4, 3, padding=1, padding_mode="circular")
        self.along_w = nn.LayerNorm(w) if kind == "layernorm" else nn.Linear(w, w)
        self.id = nn.Identity()
        self.act = nn.GELU() if kind == "layernorm" else nn.ReLU()
        self.down = nn.Conv2d(4, 4, 3, stride=2, padding=1, padding_mode="circular")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(self.act(self.id(self.along_w(self.c(x)))))


def _input_of(model: nn.Module, layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    got = {}
    hook = layer.register_forward_hook(lambda m, a, o: got.setdefault("in", a[0].clone()))
    with torch.no_grad():
        model(x)
    hook.remove()
    return got["in"]


@pytest.mark.parametrize("kind", ["layernorm", "linear"])
def test_a_layer_along_the_rows_of_an_nchw_map_is_not_channels_last(kind):
    # LayerNorm(W) or Linear(W, W) on [N, C, H, W] said nothing about the layout, yet both
    # were read as channels-last and the flag spread to Identity and the nonlinearity: GELU
    # 4.19 % instead of 0.74 % and −2.8 dB instead of the cap (LayerNorm), ReLU 2.13 %
    # instead of 4.71 % (Linear), shapes shown as (24, 4, 16).
    h, w = 15, 21  # odd: no Nyquist bin for the brute force
    model = _AlongRows(kind, w).double()
    x = _fields(2, (h, w), 0.3)
    rep = probe_model(model, x, shifts=(1.0,))
    for name in ("along_w", "id", "act"):
        row = rep.row(name)
        assert row.out_shape == (4, h, w), name
        assert (row.rate, row.rate_w) == (1.0, 1.0), name
        assert not any("channels-last" in t for t in row.notes), (name, row.notes)
    fn = (lambda v: F.gelu(torch.from_numpy(v)).numpy()) if kind == "layernorm" else (
        lambda v: np.maximum(v, 0.0)
    )  # fmt: skip
    want = _nl_truth(_input_of(model, model.act, x).numpy(), fn, 4)
    assert rep.row("act").measures["nonlinearity"].mean == pytest.approx(want.mean(), rel=1e-6)
    if kind == "layernorm":
        # Normalising each row is circularly equivariant: brute force, then the probe.
        with torch.no_grad():
            a = model.act(model.along_w(model.c(x))).numpy()
            b = model.act(model.along_w(model.c(torch.roll(x, (1, 1), (-2, -1))))).numpy()
        assert np.allclose(b, np.roll(a, (1, 1), (-2, -1)), rtol=0, atol=1e-12)
        for name in ("along_w", "id", "act"):
            assert rep.row(name).measures["equivariance_1"].min > 150, name


class _Permute(nn.Module):
    def __init__(self, *dims: int) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(*self.dims)


class _TVConvNeXt(nn.Module):
    """ConvNeXt block as torchvision builds it: the permutations are modules of their own."""

    def __init__(self, d: int = 4) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.stem = nn.Conv2d(3, d, 4, 4)
        self.dw = nn.Conv2d(d, d, 7, padding=3, groups=d)
        self.to_nhwc = _Permute(0, 2, 3, 1)
        self.norm = nn.LayerNorm(d)
        self.pw1 = nn.Linear(d, 4 * d)
        self.act = nn.GELU()
        self.pw2 = nn.Linear(4 * d, d)
        self.to_nchw = _Permute(0, 3, 1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        y = self.pw2(self.act(self.pw1(self.norm(self.to_nhwc(self.dw(x))))))
        return x + self.to_nchw(y)


def test_channels_last_maps_behind_a_permute_module_are_told_from_the_strides():
    # The Permute module's output is a permuted view of the conv's map: channels-last. Read as
    # [N, C, H, W] its rate was 0.25·11/9 × 0.25·4/11 and every layer after it inherited that.
    model = _TVConvNeXt().double()
    x = _fields(2, (36, 44), 0.1, c=3)  # 9×11 maps after the stem (odd: no Nyquist bin)
    rep = probe_model(model, x, shifts=(1.0,))
    for name in ("dw", "to_nhwc", "norm", "pw1", "act", "pw2", "to_nchw"):
        row = rep.row(name)
        assert (row.rate, row.rate_w) == (0.25, 0.25), name
        assert row.out_shape[1:] == (9, 11), name
    assert any("channels-last output" in t for t in rep.row("to_nhwc").notes)
    assert any("channels-last input" in t for t in rep.row("to_nchw").notes)
    xin = _input_of(model, model.act, x).permute(0, 3, 1, 2).numpy()
    want = _nl_truth(xin, lambda v: F.gelu(torch.from_numpy(v)).numpy(), 4)
    assert rep.row("act").measures["nonlinearity"].mean == pytest.approx(want.mean(), rel=1e-6)


class _CopiedNHWC(nn.Module):
    """A conv map permuted to [N, H, W, C] and copied (no view: read from its shape)."""

    def __init__(self, d: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.c = nn.Conv2d(1, d, 3, padding=1, padding_mode="circular")
        self.norm = nn.LayerNorm(d)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.c(x).permute(0, 2, 3, 1).contiguous()
        return self.act(self.norm(y)).permute(0, 3, 1, 2)


def test_a_copied_channels_last_map_is_read_from_its_shape_unless_square():
    # 9×11 with 4 channels: only the permuted reading fits the copy, so it is channels-last.
    model = _CopiedNHWC(4).double()
    x = _fields(2, (9, 11), 0.3)
    rep = probe_model(model, x, shifts=(1.0,))
    assert rep.row("act").out_shape == (4, 9, 11)
    assert any("channels-last" in t for t in rep.row("norm").notes)
    xin = _input_of(model, model.act, x).permute(0, 3, 1, 2).numpy()
    want = _nl_truth(xin, lambda v: F.gelu(torch.from_numpy(v)).numpy(), 4)
    assert rep.row("act").measures["nonlinearity"].mean == pytest.approx(want.mean(), rel=1e-6)
    # 8×8 with 8 channels: both readings fit; kept [N, C, H, W] and said so (a LayerNorm over
    # the last axis was taken as channels-last whatever the shape).
    rep_sq = probe_model(_CopiedNHWC(8).double(), _fields(1, (8, 8), 0.3), shifts=(1.0,))
    norm = rep_sq.row("norm")
    assert not any(t.startswith("channels-last") for t in norm.notes)
    assert any(
        t.startswith("layout ambiguous") and "x.permute(0, 2, 3, 1)" in t for t in norm.notes
    )


class _Resample(nn.Module):
    """1×1 conv at 64 px, a functional resampling or crop, 1×1 conv."""

    def __init__(self, how: str) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.c1 = nn.Conv2d(1, 4, 1).double()
        self.c2 = nn.Conv2d(4, 4, 1).double()
        self.how = how

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.c1(x)
        if self.how == "fft":  # exact periodic resampling 64 → 48 (the input is band-limited)
            spec = torch.fft.fftshift(torch.fft.fft2(y), dim=(-2, -1))[..., 8:-8, 8:-8]
            y = torch.fft.ifft2(torch.fft.ifftshift(spec, dim=(-2, -1))).real * (48 / 64) ** 2
        elif self.how == "bicubic":
            y = F.interpolate(y, size=(48, 48), mode="bicubic")
        elif self.how == "copied_crop":
            y = y[..., 16:48, 16:48].contiguous()
        else:  # negative padding: a crop that copies, 64 → 48
            y = F.pad(y, (-8, -8, -8, -8))
        return self.c2(y)


@pytest.mark.parametrize(
    "how, rate", [("fft", 0.75), ("bicubic", 0.75), ("copied_crop", 0.5), ("negative_pad", 0.75)]
)
def test_a_tensor_of_a_new_size_gets_its_size_ratio_with_a_note(how, rate):
    # A resampling 64 → 48 in a forward was read as a crop (rate 1: 13 dB for an exact FFT
    # resampling that scores the cap). Sizes cannot tell it from a crop that copies: both read
    # as the size ratio, with a note naming the way to crop that keeps the rate (a slice).
    x = _fields(2, (64, 64), 0.2)
    model = _Resample(how)
    row = probe_model(model, x, measures=["equivariance"], shifts=(2.0,)).row("c2")
    assert (row.rate, row.rate_w) == (rate, rate)
    assert any("inferred from its size" in t and "x[..., a:b, c:d]" in t for t in row.notes)
    if how == "fft":
        # Truth: a 2-sample roll of the input moves c2's map by exactly 1.5 of its samples.
        with torch.no_grad():
            a = model(x).numpy()
            b = model(torch.roll(x, (2, 2), (-2, -1))).numpy()
        f = np.fft.fftfreq(48)
        ph = np.exp(-2j * np.pi * 1.5 * (f[:, None] + f[None, :]))
        assert np.allclose(b, np.fft.ifft2(np.fft.fft2(a) * ph).real, rtol=0, atol=1e-10)
        assert row.measures["equivariance_2"].min > 150


class _BoxDown(nn.Module):
    """Circular s×s box blur, then every s-th sample (ceil mode) or the floor-mode crop."""

    def __init__(self, s: int, mode: str) -> None:
        super().__init__()
        self.s, self.mode = s, mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.s
        z = sum(torch.roll(x, (-i, -j), (-2, -1)) for i in range(s) for j in range(s)) / s**2
        if self.mode == "ceil":
            return z[..., ::s, ::s]
        m = (x.shape[-1] // s) * s
        return z[..., :m:s, :m:s]


class _BoxNet(nn.Module):
    def __init__(self, s: int, mode: str) -> None:
        super().__init__()
        self.d = _BoxDown(s, mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.d(x)


@pytest.mark.parametrize(
    "n, s, mode", [(13, 4, "ceil"), (17, 4, "ceil"), (14, 3, "floor"), (19, 4, "floor")]
)
def test_named_downsampler_stride_is_told_by_running_the_layer(n, s, mode):
    # 13 → 4 fits stride 3 (floor) and 4 (ceil); the rounded ratio took 3 and read 38.8 %
    # instead of 53.7 % (17 → 5: 53.6 % instead of 33.7 %).
    x = _fields(2, (n, n), 0.45)
    rep = probe_model(_BoxNet(s, mode), x, measures=["downsampling"], downsampling_layers=["d"])
    row = rep.rows[0]
    want = _oob_truth(_circular_blur(x.numpy(), np.ones(s) / s, 0), s)
    assert row.measures["out_of_band"].mean == pytest.approx(want.mean(), rel=1e-9)
    assert row.notes == ()


class _Patterned(nn.Module):
    """Every 4th sample plus a large fixed pattern: not shift-equivariant at any stride."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x[..., ::4, ::4]
        g = torch.Generator().manual_seed(0)
        return y + 100 * torch.randn(y.shape[-2:], generator=g, dtype=y.dtype)


def test_named_downsampler_with_an_undecidable_stride_gets_a_note():
    x = _fields(1, (13, 13), 0.3)
    model = nn.Sequential(_Patterned())
    row = probe_model(model, x, measures=["downsampling"], downsampling_layers=["0"]).rows[0]
    assert any(t.startswith("stride ambiguous along y") and "3, 4" in t for t in row.notes)
    assert any("stride ambiguous along x" in t for t in row.notes)


# ------------------------------------------------------------------------------ review 8
class _PadBlock(nn.Module):
    """CycleGAN-style residual block: functional circular padding by 1, unpadded 3×3 convs."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(c, c, 3)
        self.act = nn.ReLU()
        self.c2 = nn.Conv2d(c, c, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.c1(F.pad(x, (1, 1, 1, 1), mode="circular")))
        return x + self.c2(F.pad(y, (1, 1, 1, 1), mode="circular"))


class _PadNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.stem = nn.Conv2d(1, 4, 3, padding=1, padding_mode="circular")
        self.r1 = _PadBlock(4)
        self.r2 = _PadBlock(4)
        self.head = nn.Conv2d(4, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.r2(self.r1(self.stem(x))))


class _PadModuleNet(nn.Module):
    # The same blocks with padding modules instead of F.pad (ReflectionPad2d-style ResNets).
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.stem = nn.Conv2d(1, 4, 3, padding=1, padding_mode="circular")
        self.p1, self.c1 = nn.CircularPad2d(1), nn.Conv2d(4, 4, 3)
        self.act = nn.LeakyReLU(0.2)
        self.p2, self.c2 = nn.CircularPad2d(1), nn.Conv2d(4, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.stem(x)
        return y + self.c2(self.p2(self.act(self.c1(self.p1(y)))))


@pytest.mark.parametrize("net", [_PadNet, _PadModuleNet])
def test_padding_keeps_the_rate_without_compounding(net):
    # 16 → 18 by F.pad (or a padding module) was read as a resampling by 18/16 and every pad
    # compounded it (1.125, 1.27, 1.42, ...): equivariance fell from the cap to ~10 dB.
    # Truth: circular padding then a valid 3×3 conv is a circular conv, so the whole network
    # is exactly circularly equivariant at rate 1 (hand-derived; checked by rolling).
    model = net().double()
    x = _fields(2, (16, 16), 0.3)
    with torch.no_grad():
        a = model(x).numpy()
        b = model(torch.roll(x, (1, 1), (-2, -1))).numpy()
    assert np.allclose(b, np.roll(a, (1, 1), (-2, -1)), rtol=0, atol=1e-12)
    rep = probe_model(model, x, measures=["equivariance"], shifts=(1.0,))
    for row in rep.rows:
        assert (row.rate, row.rate_w) == (1.0, 1.0), row.name
        # A padding module's 18×18 map is a window of a 16-periodic map: a circular roll of
        # the window is not its shift, so only the 16×16 maps are compared.
        if row.out_shape[-2:] == (16, 16):
            assert row.measures["equivariance_1"].min > 150, row.name
    if net is _PadNet:
        for name in ("r1.c1", "r1.c2", "r2.c1", "r2.c2"):
            notes = rep.row(name).notes
            assert any("taken as padding or a crop, rate kept" in t for t in notes)


class _PatchMerging(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(4 * c)
        self.red = nn.Linear(4 * c, 2 * c, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = [x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :]]
        parts.append(x[..., 1::2, 1::2, :])
        return self.red(self.norm(torch.cat(parts, -1)))


class _SwinMlp(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(c)
        self.fc1 = nn.Linear(c, 2 * c)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(2 * c, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc2(self.act(self.fc1(self.norm(x))))


class _Swin(nn.Module):
    """Swin-style stages without attention: patch embedding, MLP block, patch merging (a copy
    [N, H/2, W/2, 4C] of strided slices concatenated along the channels), MLP block."""

    def __init__(self, c: int = 4) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Conv2d(1, c, 4, stride=4)
        self.enorm = nn.LayerNorm(c)
        self.b1 = _SwinMlp(c)
        self.merge = _PatchMerging(c)
        self.b2 = _SwinMlp(2 * c)
        self.head = nn.Conv2d(2 * c, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.enorm(self.embed(x).permute(0, 2, 3, 1))
        x = self.b2(self.merge(self.b1(x)))
        return self.head(x.permute(0, 3, 1, 2))


def test_a_patch_merging_copy_stays_channels_last():
    # The merged copy (N, 5, 7, 16) is no measured map permuted: it was read as [N, C, H, W]
    # (5 channels of 7×16) and every later row got wrong shapes, rates and nonlinearity.
    model = _Swin().double()
    x = _fields(2, (40, 56), 0.3)  # 10×14 after the embedding, 5×7 after the merge (odd)
    rep = probe_model(model, x, measures=["nonlinearity", "equivariance"], shifts=(8.0,))
    # Hand-derived: the embedding has stride 4, the merge keeps every other sample.
    for name in ("merge.norm", "merge.red", "b2.norm", "b2.fc1", "b2.act", "b2.fc2", "head"):
        row = rep.row(name)
        assert (row.rate, row.rate_w) == (0.125, 0.125), name
        assert row.out_shape[1:] == (5, 7), name
        # An 8-sample roll moves every map by one sample exactly (no padding anywhere).
        assert row.measures["equivariance_8"].min > 150, name
    assert any("channels-last" in t for t in rep.row("merge.norm").notes)
    xin = _input_of(model, model.b2.act, x).permute(0, 3, 1, 2).numpy()
    want = _nl_truth(xin, lambda v: F.gelu(torch.from_numpy(v)).numpy(), 4)
    assert rep.row("b2.act").measures["nonlinearity"].mean == pytest.approx(want.mean(), rel=1e-6)


class _CopiedNHWCMlp(nn.Module):
    """_CopiedNHWC with a Linear between the LayerNorm and the nonlinearity."""

    def __init__(self, d: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.c = nn.Conv2d(1, d, 3, padding=1, padding_mode="circular")
        self.norm = nn.LayerNorm(d)
        self.pw = nn.Linear(d, 2 * d)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.c(x).permute(0, 2, 3, 1).contiguous()
        return self.act(self.pw(self.norm(y))).permute(0, 3, 1, 2)


def test_rows_fed_by_an_ambiguous_reading_carry_its_note():
    # 8×8 with 8 channels: the copy reads both ways; the LayerNorm said so, but the Linear and
    # the GELU it feeds inherited the [N, C, H, W] reading silently.
    rep = probe_model(_CopiedNHWCMlp(8).double(), _fields(1, (8, 8), 0.3), shifts=(1.0,))
    for name in ("norm", "pw", "act"):
        assert any(t.startswith("layout ambiguous") for t in rep.row(name).notes), name
    assert not any(t.startswith("layout ambiguous") for t in rep.row("c").notes)


class _Zeros(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., ::4, ::4] * 0


class _FailsOnSecondCall(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("no second call")
        return x[..., ::4, ::4]


@pytest.mark.parametrize("mod", [_Zeros(), _FailsOnSecondCall()], ids=["zeros", "fails"])
def test_a_stride_no_run_can_tell_gets_a_note(mod):
    # 13 → 4 fits strides 3 and 4. With no finite mismatch (all-zero output, or the layer
    # raising on the rolled input) inf·4 <= inf picked 3 silently; nothing tells them apart.
    from gan.probe.measures import _axis_stride, _pick_stride

    x = _fields(1, (13, 13), 0.3)
    out = mod(x)
    cands = _axis_stride(mod, 1, 13, 4, True)
    assert cands == [3, 4]
    s, note = _pick_stride(mod, x, out, 1, cands)
    assert s == 3 and note is not None and note.startswith("stride ambiguous along x")
