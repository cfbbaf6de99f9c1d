"""Conv2dLayer against float64 brute force (zero insertion, [1,3,3,1] filter, scipy convolve)."""

import math

import numpy as np
import pytest
import torch
from scipy import signal

from gan.networks.conv import Conv2dLayer, downsample_2x, resample_filter_taps, upsample_2x

F13 = np.array([1.0, 3.0, 3.0, 1.0]) / 8.0
K2 = np.outer(F13, F13)


def _conv_same(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """torch-style (correlation) "same" conv of [C, H, W] with [O, C, k, k] in float64."""
    return np.stack(
        [
            sum(signal.correlate2d(x[c], w[o, c], mode="same") for c in range(x.shape[0]))
            for o in range(w.shape[0])
        ]
    )


def _conv_valid(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return np.stack(
        [
            sum(signal.correlate2d(x[c], w[o, c], mode="valid") for c in range(x.shape[0]))
            for o in range(w.shape[0])
        ]
    )


def _brute(layer: Conv2dLayer, x: np.ndarray) -> np.ndarray:
    """The layer's definition written out per sample in float64 with scipy."""
    w = layer.weight.detach().double().numpy() / math.sqrt(layer.in_channels * layer.kernel_size**2)
    b = layer.bias.detach().double().numpy() if layer.bias is not None else 0.0
    out = []
    for xi in x:
        if layer.up == 2:
            z = np.zeros((xi.shape[0], 2 * xi.shape[1], 2 * xi.shape[2]))
            z[:, ::2, ::2] = xi
            z = np.pad(z, ((0, 0), (2, 1), (2, 1)))
            z = np.stack([4.0 * signal.convolve2d(zc, K2, mode="valid") for zc in z])
            y = _conv_same(z, w)
        elif layer.down == 2:
            p = 1 + layer.kernel_size // 2
            z = np.pad(xi, ((0, 0), (p, p), (p, p)))
            z = np.stack([signal.convolve2d(zc, K2, mode="valid") for zc in z])
            y = _conv_valid(z, w)[:, ::2, ::2]
        else:
            y = _conv_same(xi, w)
        y = y + np.reshape(b, (-1, 1, 1))
        if layer.activation == "lrelu":
            y = np.where(y >= 0, y, 0.2 * y) * math.sqrt(2.0)
        if layer.conv_clamp is not None:
            y = np.clip(y, -layer.conv_clamp, layer.conv_clamp)
        out.append(y)
    return np.stack(out)


@pytest.mark.parametrize(
    ("k", "up", "down", "act", "bias", "clamp"),
    [
        (3, 1, 1, "lrelu", True, None),
        (3, 2, 1, "lrelu", True, None),
        (3, 1, 2, "lrelu", True, 0.5),
        (1, 1, 2, "linear", False, None),
        (1, 2, 1, "linear", True, None),
        (5, 1, 2, "linear", True, None),
    ],
)
def test_matches_brute_force(k, up, down, act, bias, clamp, torch_gen):
    torch.manual_seed(0)
    layer = Conv2dLayer(3, 4, k, bias=bias, activation=act, up=up, down=down, conv_clamp=clamp)
    if bias:
        with torch.no_grad():
            layer.bias.normal_(generator=torch_gen)
    layer = layer.double()
    x = torch.randn(2, 3, 8, 8, generator=torch_gen, dtype=torch.float64)
    y = layer(x)
    size = 8 * up // down
    assert y.shape == (2, 4, size, size)
    np.testing.assert_allclose(y.detach().numpy(), _brute(layer, x.numpy()), atol=1e-12)


def test_float32_close_to_float64(torch_gen):
    torch.manual_seed(1)
    layer = Conv2dLayer(4, 5, 3, activation="lrelu", up=2)
    x = torch.randn(2, 4, 8, 8, generator=torch_gen)
    y32 = layer(x)
    y64 = layer.double()(x.double())
    assert y32.dtype == torch.float32
    np.testing.assert_allclose(y32.detach().numpy(), y64.detach().numpy(), atol=1e-5)


def test_equalized_lr_scaling():
    """Unit-normal weights times 1/sqrt(fan_in) give unit output variance for unit input."""
    torch.manual_seed(2)
    layer = Conv2dLayer(64, 64, 3)
    assert layer.weight_gain == pytest.approx(1.0 / math.sqrt(64 * 9))
    assert abs(layer.weight.std().item() - 1.0) < 0.05
    x = torch.randn(4, 64, 16, 16)
    # Interior only: zero padding lowers the variance at the border.
    var = layer(x)[:, :, 1:-1, 1:-1].var().item()
    assert 0.85 < var < 1.15
    # Scaling the stored weight by a scales the output by exactly a (runtime scaling, not init).
    with torch.no_grad():
        y1 = layer(x)
        layer.weight.mul_(3.0)
        np.testing.assert_allclose(layer(x).numpy(), 3.0 * y1.numpy(), rtol=1e-5, atol=1e-5)


def test_resampling_is_centred_and_keeps_dc():
    """A linear ramp x[j] = j maps to the ×2 grid's centres (i + 0.5)/2 − 0.5 (up) and to
    2i + 0.5 (down), away from the zero-padded borders; constants keep their value."""
    f = torch.tensor(resample_filter_taps(), dtype=torch.float64)
    n = 16
    ramp = torch.arange(n, dtype=torch.float64).view(1, 1, 1, n).expand(1, 1, n, n).contiguous()
    up = upsample_2x(ramp, f)[0, 0, 4:-4, 4:-4]
    want_up = (torch.arange(2 * n, dtype=torch.float64) + 0.5) / 2 - 0.5
    torch.testing.assert_close(up, want_up[4:-4].expand_as(up), rtol=0, atol=1e-12)
    down = downsample_2x(ramp, f)[0, 0, 1:-1, 1:-1]
    want_down = 2 * torch.arange(n // 2, dtype=torch.float64) + 0.5
    torch.testing.assert_close(down, want_down[1:-1].expand_as(down), rtol=0, atol=1e-12)


def test_gain_argument_scales_output(torch_gen):
    layer = Conv2dLayer(2, 2, 1, bias=False, down=2)
    x = torch.randn(2, 2, 8, 8, generator=torch_gen)
    torch.testing.assert_close(layer(x, gain=math.sqrt(0.5)), layer(x) * math.sqrt(0.5))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"in_channels": 0},
        {"kernel_size": 2},
        {"kernel_size": 0},
        {"activation": "relu"},
        {"up": 3},
        {"down": 4},
        {"up": 2, "down": 2},
        {"conv_clamp": 0.0},
        {"conv_clamp": float("nan")},
        {"resample_filter": (1.0, -1.0)},
        {"resample_filter": ()},
        {"resample_filter": ((1, 2), (3, 4))},
    ],
)
def test_invalid_arguments(kwargs):
    args = {"in_channels": 2, "out_channels": 2, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError):
        Conv2dLayer(**args)


def test_wrong_input_channels():
    with pytest.raises(ValueError, match="x must have shape"):
        Conv2dLayer(3, 2, 3)(torch.zeros(1, 2, 8, 8))


# --- mutation-testing additions ---------------------------------------------------------------


@pytest.mark.parametrize("up, down", [(1, 1), (2, 1), (1, 2)])
def test_gain_scales_the_activation_and_the_clamp(up, down, torch_gen):
    # Documented: clamp(act(conv + b)·√2·gain, ±conv_clamp·gain). The brute force of the
    # unclamped layer, scaled and clipped in numpy; the clamp must bite for the test to mean
    # anything, and with gain < 1 a clamp at conv_clamp (not ·gain) would bite less.
    torch.manual_seed(3)
    layer = Conv2dLayer(3, 4, 3, activation="lrelu", up=up, down=down, conv_clamp=0.4).double()
    with torch.no_grad():
        layer.bias.normal_(generator=torch_gen)
    x = torch.randn(2, 3, 8, 8, generator=torch_gen, dtype=torch.float64)
    gain = 0.5
    y = layer(x, gain=gain).detach().numpy()
    layer.conv_clamp = None
    free = _brute(layer, x.numpy()) * gain
    np.testing.assert_allclose(y, np.clip(free, -0.4 * gain, 0.4 * gain), atol=1e-12)
    assert np.mean(np.abs(free) > 0.4 * gain) > 0.05  # the clamp is active
