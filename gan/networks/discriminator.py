"""The StyleGAN2 residual discriminator, used for every generator config.

FromRGB (1×1 conv) at the top resolution; residual blocks ``r → r/2`` down to 4×4, each two 3×3
convs (the second with FIR-filtered downsampling ×2, :class:`gan.networks.conv.Conv2dLayer`) plus
a 1×1 skip with the same downsampling and no bias, the sum scaled by ``1/√2`` (both branches
carry gain ``√½``); epilogue at 4×4: minibatch standard deviation, 3×3 conv, fully connected
layer, output layer. Conditional (``c_dim > 0``): a mapping network embeds the label into
``cmap`` and the score is the projection ``Σ_k x_k · cmap_k / √cmap_dim``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from dsp._checks import check_int

from .baseline import check_resolution
from .conv import Conv2dLayer
from .layers import FullyConnected, MappingNetwork

__all__ = ["Discriminator", "DiscriminatorBlock", "MinibatchStd", "mbstd_group"]

_SQRT_HALF = math.sqrt(0.5)


def mbstd_group(group_size: int, batch: int) -> int:
    """The group size actually used: the largest divisor of ``batch`` not above ``group_size``.

    StyleGAN2 uses ``min(group_size, batch)`` and requires it to divide the batch; this equals
    that whenever it divides, and otherwise (e.g. batch 6 with groups of 4 → 3) still forms
    equal groups instead of failing.
    """
    g = max(1, min(group_size, batch))
    while batch % g:
        g -= 1
    return g


class MinibatchStd(nn.Module):
    """Append ``num_channels`` feature maps holding the batch-group standard deviation.

    Samples ``i`` and ``j`` share a group when ``i ≡ j (mod N/G)`` (``G`` from
    :func:`mbstd_group`). Per group and channel slice (``C/num_channels`` channels each): the
    standard deviation over the group's samples, ``sqrt(var + 1e-8)``, averaged over the slice's
    channels and pixels, broadcast as a constant map to every sample of the group.
    """

    def __init__(self, group_size: int = 4, num_channels: int = 1) -> None:
        super().__init__()
        self.group_size = check_int("mbstd_group_size", group_size, minimum=1)
        self.num_channels = check_int("mbstd_num_channels", num_channels, minimum=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.num_channels == 0:
            return x
        n, c, h, w = x.shape
        g = mbstd_group(self.group_size, n)
        f = self.num_channels
        y = x.reshape(g, n // g, f, c // f, h, w)
        y = y - y.mean(dim=0)
        y = (y.square().mean(dim=0) + 1e-8).sqrt()  # [n/g, F, c/F, h, w]
        y = y.mean(dim=[2, 3, 4])  # [n/g, F]
        y = y.reshape(-1, f, 1, 1).repeat(g, 1, h, w)  # sample i gets group i mod n/g
        return torch.cat([x, y], dim=1)


class DiscriminatorBlock(nn.Module):
    """Residual block ``[N, in, r, r] → [N, out, r/2, r/2]`` (FromRGB first if ``from_rgb``)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        img_channels: int | None = None,
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.fromrgb = (
            None
            if img_channels is None
            else Conv2dLayer(
                img_channels, in_channels, 1, activation="lrelu", conv_clamp=conv_clamp
            )
        )
        self.conv0 = Conv2dLayer(
            in_channels, in_channels, 3, activation="lrelu", conv_clamp=conv_clamp
        )
        self.conv1 = Conv2dLayer(
            in_channels, out_channels, 3, activation="lrelu", down=2, conv_clamp=conv_clamp
        )
        self.skip = Conv2dLayer(in_channels, out_channels, 1, bias=False, down=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fromrgb is not None:
            x = self.fromrgb(x)
        y = self.skip(x, gain=_SQRT_HALF)
        x = self.conv1(self.conv0(x), gain=_SQRT_HALF)
        return x + y


class Discriminator(nn.Module):
    """StyleGAN2 residual discriminator: ``D(img, c=None) → [N, 1]`` scores (float32; float64
    for a float64 module and input).

    Channels at resolution ``r``: ``min(channel_base // r, channel_max)``.

    Parameters
    ----------
    c_dim : int
        Label size, ``>= 0`` (0 = unconditional).
    res : int
        Input resolution, a power of two in [8, 4096].
    img_channels : int
    channel_base, channel_max : int
        Capacity (``channel_base >= res``).
    mbstd_group_size : int
        Minibatch-stddev group size, ``>= 1``; the batch is split into equal groups of
        :func:`mbstd_group` samples (the largest divisor of N not above it), so any N works.
    mbstd_num_channels : int
        Number of stddev maps, ``>= 0`` (0 disables); must divide the 4×4 channel count.
    conv_clamp : float or None
        Clamp of the activated conv outputs.
    cmap_dim : int or None
        Size of the label embedding for the projection (None: the 4×4 channel count);
        ignored when ``c_dim == 0``.

    Raises
    ------
    ValueError
        Invalid arguments; at call time images not ``[N, img_channels, res, res]``, missing or
        mis-shaped ``c``, or labels for an unconditional network (``c_dim = 0``; None and an
        empty tensor mean no labels).
    """

    def __init__(
        self,
        c_dim: int = 0,
        res: int = 256,
        img_channels: int = 3,
        channel_base: int = 32768,
        channel_max: int = 512,
        mbstd_group_size: int = 4,
        mbstd_num_channels: int = 1,
        conv_clamp: float | None = None,
        cmap_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.c_dim = check_int("c_dim", c_dim, minimum=0)
        self.res = check_resolution("res", res)
        self.img_channels = check_int("img_channels", img_channels, minimum=1)
        self.channel_base = check_int("channel_base", channel_base, minimum=self.res)
        self.channel_max = check_int("channel_max", channel_max, minimum=1)
        resolutions = [2**i for i in range(int(np.log2(self.res)), 1, -1)]
        self.channels = {r: min(self.channel_base // r, self.channel_max) for r in resolutions}
        ch4 = self.channels[4]
        self.mbstd = MinibatchStd(mbstd_group_size, mbstd_num_channels)
        if mbstd_num_channels and ch4 % mbstd_num_channels:
            raise ValueError(
                f"mbstd_num_channels must divide the 4×4 channel count {ch4}, "
                f"got {mbstd_num_channels}"
            )
        if self.c_dim > 0:
            self.cmap_dim = ch4 if cmap_dim is None else check_int("cmap_dim", cmap_dim, minimum=1)
            self.mapping = MappingNetwork(0, self.c_dim, self.cmap_dim, num_ws=1, num_layers=8)
        else:
            self.cmap_dim = 0
            self.mapping = None
        self.blocks = nn.ModuleDict()
        for r in resolutions[:-1]:
            self.blocks[f"b{r}"] = DiscriminatorBlock(
                self.channels[r],
                self.channels[r // 2],
                img_channels=self.img_channels if r == self.res else None,
                conv_clamp=conv_clamp,
            )
        self.conv = Conv2dLayer(
            ch4 + self.mbstd.num_channels, ch4, 3, activation="lrelu", conv_clamp=conv_clamp
        )
        self.fc = FullyConnected(ch4 * 16, ch4, activation="lrelu")
        self.out = FullyConnected(ch4, max(self.cmap_dim, 1))

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        want = (self.img_channels, self.res, self.res)
        if not isinstance(img, torch.Tensor) or img.ndim != 4 or tuple(img.shape[1:]) != want:
            got = list(img.shape) if isinstance(img, torch.Tensor) else type(img).__name__
            raise ValueError(f"img must have shape [N, {', '.join(map(str, want))}], got {got}")
        if self.mapping is None and c is not None:
            if not isinstance(c, torch.Tensor) or c.numel() > 0:
                # As the generators: labels given to an unconditional D were silently ignored.
                raise ValueError(
                    "this network is unconditional (c_dim = 0): pass c=None, not labels"
                )
        # float32 unless the caller asks for float64 (gradient checks).
        x = img if img.dtype == torch.float64 else img.to(torch.float32)
        for block in self.blocks.values():
            x = block(x)
        x = self.mbstd(x)
        x = self.conv(x)
        x = self.fc(x.flatten(1))
        x = self.out(x)
        if self.mapping is None:
            return x
        if c is None:
            raise ValueError(f"c must be a tensor of shape [N, {self.c_dim}] (c_dim > 0)")
        cmap = self.mapping(None, c)[:, 0]
        if cmap.shape[0] != x.shape[0]:
            raise ValueError(f"c must have {x.shape[0]} rows like img, got {cmap.shape[0]}")
        return (x * cmap).sum(dim=1, keepdim=True) / math.sqrt(self.cmap_dim)
