"""Equalized-learning-rate convolution with FIR-filtered ×2 up/downsampling (StyleGAN2 style).

The resampling filter is a small fixed FIR (``[1, 3, 3, 1]`` by default), normalised to DC gain
1 and applied separably through :func:`gan.ops.upfirdn2d` (REFERENCE §4). Size conventions:
``up=2`` maps ``H → 2H``, ``down=2`` maps ``H → H/2`` (even ``H``), an odd ``k × k`` kernel is
"same"; the resampled grids stay centred (pixel ``i`` of the ×2 grid sits at
``(i + 0.5)/2 − 0.5`` input pixels).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dsp._checks import as_finite_array, check_int, check_real
from gan.ops import to_filter_tensor, upfirdn2d

__all__ = [
    "Conv2dLayer",
    "resample_filter_taps",
    "upsample_2x",
    "downsample_2x",
    "upsample_padding",
    "downsample_padding",
]

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)
_ACTIVATIONS = ("linear", "lrelu")


def resample_filter_taps(taps: Sequence[float] = (1, 3, 3, 1)) -> np.ndarray:
    """The separable resampling filter as float64 taps normalised to DC gain 1.

    ``f = taps / Σ taps``; applied separably its 2D kernel is ``f ⊗ f`` (also sum 1).

    Raises
    ------
    ValueError
        Empty, non-finite or non-1D taps, or taps summing to zero.
    """
    arr = as_finite_array("resample_filter", taps, ndim=1)
    total = float(arr.sum())
    if total == 0.0:
        raise ValueError("resample_filter must have a non-zero sum (it is normalised to DC gain 1)")
    return arr / total


def upsample_padding(numtaps: int) -> tuple[int, int, int, int]:
    """``upfirdn2d`` padding that upsamples ×2 with ``numtaps`` taps to exactly ``2H``, centred.

    Output size ``2H + p0 + p1 − (numtaps − 1)`` is ``2H`` when ``p0 + p1 = numtaps − 1``;
    ``p0 = (numtaps + 1)//2`` puts the ×2 grid's pixel centres at ``(i + 0.5)/2 − 0.5`` input
    pixels for even ``numtaps``.
    """
    lo, hi = (numtaps + 1) // 2, (numtaps - 2) // 2
    return (lo, hi, lo, hi)


def downsample_padding(numtaps: int, kernel_size: int = 1) -> tuple[int, int, int, int]:
    """``upfirdn2d`` padding for ×2 filtering before a ``kernel_size`` conv of stride 2.

    Filtering with this padding and then a valid stride-2 convolution with an odd kernel gives
    ``H/2`` samples whose centres sit halfway between input pixels ``2i`` and ``2i + 1``.
    """
    lo = (numtaps - 1) // 2 + kernel_size // 2
    hi = (numtaps - 2) // 2 + kernel_size // 2
    return (lo, hi, lo, hi)


def upsample_2x(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """Zero insertion ×2 and FIR filter ``f`` (DC gain 1) with gain 4: ``[N, C, H, W] → 2H × 2W``.

    See REFERENCE §4: ``upfirdn2d(x, f, up=2, padding=upsample_padding(taps), gain=up²)``.
    """
    return upfirdn2d(x, f, up=2, padding=upsample_padding(f.shape[-1]), gain=4.0)


def downsample_2x(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """FIR filter ``f`` (DC gain 1) and keep every second sample: ``[N, C, H, W] → H/2 × W/2``."""
    return upfirdn2d(x, f, down=2, padding=downsample_padding(f.shape[-1]))


class Conv2dLayer(nn.Module):
    """Equalized-lr 2D convolution with optional bias, leaky ReLU, clamp and ×2 FIR resampling.

    ``y = clamp(act(conv(R(x), w · g) + b) · gain_act, ±conv_clamp)`` with
    ``g = 1/sqrt(in_channels · k²)`` (the weight is stored as unit normal samples, so every
    parameter learns at the same rate), ``act`` leaky ReLU (slope 0.2, gain √2) or identity.
    ``R`` is the resampling, in the StyleGAN2 order:

    - ``up=2``: zero insertion, the filter ``f ⊗ f`` times 4 (DC gain preserved), then the
      ``k × k`` "same" convolution (``H → 2H``).
    - ``down=2``: the filter (padded by ``k//2 + 1`` for 4 taps), then a valid convolution of
      stride 2 (``H → H/2``).

    Parameters
    ----------
    in_channels, out_channels : int
        Channel counts, >= 1.
    kernel_size : int
        Odd kernel size >= 1 ("same" padding ``k//2``).
    bias : bool
        Learned per-channel bias (initialised to 0).
    activation : {"linear", "lrelu"}
        Output activation.
    up, down : int
        1 or 2 (not both 2).
    resample_filter : sequence of float
        1D taps, normalised to DC gain 1 and applied separably (default ``[1, 3, 3, 1]``).
    conv_clamp : float or None
        Clamp the output to ``±conv_clamp`` (> 0), None = no clamp.

    Raises
    ------
    ValueError
        Any argument outside the ranges above.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: str = "linear",
        up: int = 1,
        down: int = 1,
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = check_int("in_channels", in_channels, minimum=1)
        self.out_channels = check_int("out_channels", out_channels, minimum=1)
        self.kernel_size = check_int("kernel_size", kernel_size, minimum=1)
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd ('same' padding), got {kernel_size}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {_ACTIVATIONS}, got {activation!r}")
        self.activation = activation
        self.up = check_int("up", up, minimum=1, maximum=2)
        self.down = check_int("down", down, minimum=1, maximum=2)
        if self.up > 1 and self.down > 1:
            raise ValueError("up and down cannot both be 2")
        self.conv_clamp = (
            None
            if conv_clamp is None
            else check_real("conv_clamp", conv_clamp, low=0.0, low_inclusive=False)
        )
        self.weight_gain = 1.0 / math.sqrt(self.in_channels * self.kernel_size**2)
        self.weight = nn.Parameter(
            torch.randn(self.out_channels, self.in_channels, self.kernel_size, self.kernel_size)
        )
        self.bias = nn.Parameter(torch.zeros(self.out_channels)) if bias else None
        self.register_buffer(
            "resample_filter", to_filter_tensor(resample_filter_taps(resample_filter))
        )

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        """``x [N, in_channels, H, W]`` → ``[N, out_channels, H', W']``; ``gain`` scales the
        activated output (and the clamp, as in StyleGAN2)."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"x must have shape [N, {self.in_channels}, H, W], got {tuple(x.shape)}"
            )
        w = (self.weight * self.weight_gain).to(x.dtype)
        f = self.resample_filter
        pad = self.kernel_size // 2
        if self.up > 1:
            x = upsample_2x(x, f)
            x = F.conv2d(x, w, padding=pad)
        elif self.down > 1:
            x = upfirdn2d(x, f, padding=downsample_padding(f.shape[-1], self.kernel_size))
            x = F.conv2d(x, w, stride=2)
        else:
            x = F.conv2d(x, w, padding=pad)
        if self.bias is not None:
            x = x + self.bias.to(x.dtype).view(1, -1, 1, 1)
        act_gain = gain
        if self.activation == "lrelu":
            x = F.leaky_relu(x, LRELU_SLOPE)
            act_gain = act_gain * LRELU_GAIN
        if act_gain != 1.0:
            x = x * act_gain
        if self.conv_clamp is not None:
            c = self.conv_clamp * gain
            x = x.clamp(-c, c)
        return x

    def extra_repr(self) -> str:
        return (
            f"in={self.in_channels}, out={self.out_channels}, k={self.kernel_size}, "
            f"act={self.activation}, up={self.up}, down={self.down}, clamp={self.conv_clamp}"
        )
