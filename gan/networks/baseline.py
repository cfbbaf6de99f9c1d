"""The StyleGAN2-style baseline generator, built from the same blocks as the alias-free one.

Mapping network of 8 layers; a 4×4 input (Fourier features honouring the input ``transform``,
or StyleGAN2's learned constant); per resolution ``8 … res``: FIR upsampling ×2 with the fixed
``[1, 3, 3, 1]`` filter and a 3×3 modulated convolution, per-pixel noise, leaky ReLU, a second
3×3 modulated convolution, and a skip ToRGB whose running image is upsampled with the same
filter. Aliasing is not suppressed on purpose: it is the comparison point for texture sticking
and equivariance (REFERENCE §3 "Other generator pieces", §5).

Coordinates follow :mod:`gan.networks.transform`: the image covers ``[-0.5, 0.5]²`` and every
feature map of size ``r`` samples it at rate ``r`` per unit (pixel ``j`` at
``(j + 0.5)/r − 0.5``).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dsp._checks import check_int, check_power_of_two, check_real
from gan._compile import values_checked
from gan.ops import to_filter_tensor

from .alias_free import check_transform
from .conv import LRELU_GAIN, LRELU_SLOPE, resample_filter_taps, upsample_2x
from .layers import FullyConnected, MappingNetwork, compute_dtype, modulated_conv2d

__all__ = [
    "BaselineGenerator",
    "BaselineSynthesis",
    "FourierInput4",
    "ConstInput",
    "SynthesisLayer",
    "ToRGBLayer",
    "check_resolution",
]

NOISE_MODES = ("const", "random", "none")
INPUT_KINDS = ("fourier", "const")


def check_resolution(name: str, res: object, minimum: int = 8, maximum: int = 4096) -> int:
    """A power-of-two resolution in ``[minimum, maximum]``."""
    return check_power_of_two(name, res, minimum, maximum)


class FourierInput4(nn.Module):
    """Fourier features on a ``size × size`` grid, moved by the user transform.

    ``feat_k(p) = sin(2π (f_k · A⁻¹p + φ_k))`` at the pixel centres ``p`` of the grid (rate
    ``size`` per unit over ``[-0.5, 0.5]²``), so ``input_A(p) = input_I(A⁻¹p)`` exactly, as in
    :mod:`gan.networks.transform`; then a learned 1×1 projection (equalized lr) to ``channels``.
    Frequencies ``f_k`` are uniform in the disc of radius ``cutoff`` (cycles per unit; default
    ``size/2``, the grid's Nyquist), phases ``φ_k`` uniform in ``[0, 1)``; both fixed buffers.
    """

    def __init__(
        self, channels: int, size: int = 4, num_features: int | None = None, cutoff: float = 2.0
    ) -> None:
        super().__init__()
        self.channels = check_int("channels", channels, minimum=1)
        self.size = check_int("size", size, minimum=1)
        nf = self.channels if num_features is None else num_features
        self.num_features = check_int("num_features", nf, minimum=1)
        self.cutoff = check_real("cutoff", cutoff, low=0.0, low_inclusive=False)
        radius = self.cutoff * torch.rand(self.num_features).sqrt()
        angle = 2 * math.pi * torch.rand(self.num_features)
        self.register_buffer("freqs", torch.stack([radius * angle.cos(), radius * angle.sin()], 1))
        self.register_buffer("phases", torch.rand(self.num_features))
        self.weight = nn.Parameter(torch.randn(self.channels, self.num_features))
        centres = (torch.arange(self.size, dtype=torch.float32) + 0.5) / self.size - 0.5
        gy, gx = torch.meshgrid(centres, centres, indexing="ij")
        grid = torch.stack([gx, gy, torch.ones_like(gx)], -1).reshape(-1, 3)
        self.register_buffer("grid", grid)  # [size², 3] homogeneous (x, y, 1)

    def forward(self, n: int, transform: torch.Tensor | None = None) -> torch.Tensor:
        """``[n, channels, size, size]``; ``transform`` is None or validated ``[n, 3, 3]``."""
        p = self.grid.unsqueeze(0).expand(n, -1, -1)  # [n, P, 3]
        if transform is not None:
            inv = torch.linalg.inv(transform.to(torch.float64)).to(p.dtype)
            p = p @ inv.transpose(1, 2)
        arg = p[..., :2] @ self.freqs.t() + self.phases  # [n, P, F]
        feats = torch.sin(2 * math.pi * arg)
        x = feats @ (self.weight / math.sqrt(self.num_features)).t()  # [n, P, C]
        return x.transpose(1, 2).reshape(n, self.channels, self.size, self.size)


class ConstInput(nn.Module):
    """StyleGAN2's learned constant ``[channels, size, size]`` (cannot honour a transform)."""

    def __init__(self, channels: int, size: int = 4) -> None:
        super().__init__()
        self.channels = check_int("channels", channels, minimum=1)
        self.size = check_int("size", size, minimum=1)
        self.const = nn.Parameter(torch.randn(self.channels, self.size, self.size))

    def forward(self, n: int, transform: torch.Tensor | None = None) -> torch.Tensor:
        if transform is not None and values_checked():
            eye = torch.eye(3, dtype=transform.dtype, device=transform.device)
            if not torch.allclose(transform, eye.expand_as(transform), atol=1e-7):
                raise ValueError(
                    'transform must be None or the identity with input="const" (a learned '
                    'constant cannot be translated or rotated); use input="fourier"'
                )
        return self.const.unsqueeze(0).expand(n, -1, -1, -1)


class SynthesisLayer(nn.Module):
    """[FIR up ×2 →] 3×3 modulated conv (demodulated) → + noise·strength → + bias → lrelu·√2
    → clamp. Styles ``affine(w)`` start at 1 (bias init 1), noise strength starts at 0."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        kernel_size: int = 3,
        up: int = 1,
        conv_clamp: float | None = None,
        resample_filter: Sequence[float] = (1, 3, 3, 1),
    ) -> None:
        super().__init__()
        self.in_channels = check_int("in_channels", in_channels, minimum=1)
        self.out_channels = check_int("out_channels", out_channels, minimum=1)
        self.resolution = check_int("resolution", resolution, minimum=1)
        self.kernel_size = check_int("kernel_size", kernel_size, minimum=1)
        self.up = check_int("up", up, minimum=1, maximum=2)
        self.conv_clamp = conv_clamp
        self.affine = FullyConnected(w_dim, self.in_channels, bias_init=1.0)
        self.weight = nn.Parameter(
            torch.randn(self.out_channels, self.in_channels, self.kernel_size, self.kernel_size)
        )
        self.bias = nn.Parameter(torch.zeros(self.out_channels))
        self.grouped_modconv = True  # see layers.set_grouped_modconv
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.register_buffer("noise_const", torch.randn(self.resolution, self.resolution))
        self.register_buffer(
            "resample_filter", to_filter_tensor(resample_filter_taps(resample_filter))
        )

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        styles = self.affine(w)
        if self.up > 1:
            x = upsample_2x(x, self.resample_filter)
        x = modulated_conv2d(
            x,
            self.weight,
            styles,
            demodulate=True,
            padding=self.kernel_size // 2,
            grouped=self.grouped_modconv,
        )
        if noise_mode == "const":
            x = x + (self.noise_const * self.noise_strength).to(x.dtype)
        elif noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, self.resolution, self.resolution, device=x.device)
            x = x + (noise * self.noise_strength).to(x.dtype)
        x = x + self.bias.to(x.dtype).view(1, -1, 1, 1)
        x = F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN
        if self.conv_clamp is not None:
            x = x.clamp(-self.conv_clamp, self.conv_clamp)
        return x


class ToRGBLayer(nn.Module):
    """1×1 modulated conv without demodulation, styles scaled by ``1/sqrt(in_channels)``."""

    def __init__(
        self, in_channels: int, out_channels: int, w_dim: int, conv_clamp: float | None = None
    ) -> None:
        super().__init__()
        self.in_channels = check_int("in_channels", in_channels, minimum=1)
        self.out_channels = check_int("out_channels", out_channels, minimum=1)
        self.conv_clamp = conv_clamp
        self.affine = FullyConnected(w_dim, self.in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(self.out_channels, self.in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(self.out_channels))
        self.grouped_modconv = True  # see layers.set_grouped_modconv
        self.weight_gain = 1.0 / math.sqrt(self.in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, grouped=self.grouped_modconv)
        x = x + self.bias.to(x.dtype).view(1, -1, 1, 1)
        if self.conv_clamp is not None:
            x = x.clamp(-self.conv_clamp, self.conv_clamp)
        return x


class BaselineSynthesis(nn.Module):
    """ws ``[N, num_ws, w_dim]`` → image ``[N, img_channels, res, res]`` (StyleGAN2 skip net).

    ``num_ws = 2·log2(res) − 2``: block 4 uses ``ws[0]`` (conv1) and ``ws[1]`` (ToRGB); block
    ``2^(l+2)``, ``l >= 1``, uses ``ws[2l−1]`` (conv0, with up ×2), ``ws[2l]`` (conv1) and
    ``ws[2l+1]`` (ToRGB). Channels at resolution ``r``: ``min(channel_base // r, channel_max)``.

    Feature names (``return_features`` and :attr:`feature_rates`): ``"input"``, ``"b4.conv1"``,
    ``"b8.conv0"``, ``"b8.conv1"``, …, ``"b{res}.conv1"`` (the last is the map before ToRGB).
    Every feature map of size ``r`` has rate ``r`` samples per unit and covers the image.
    """

    def __init__(
        self,
        w_dim: int = 512,
        res: int = 256,
        img_channels: int = 3,
        channel_base: int = 32768,
        channel_max: int = 512,
        input: str = "fourier",
        conv_clamp: float | None = None,
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        fourier_cutoff: float = 2.0,
    ) -> None:
        super().__init__()
        self.w_dim = check_int("w_dim", w_dim, minimum=1)
        self.res = check_resolution("res", res)
        self.img_channels = check_int("img_channels", img_channels, minimum=1)
        self.channel_base = check_int("channel_base", channel_base, minimum=self.res)
        self.channel_max = check_int("channel_max", channel_max, minimum=1)
        if input not in INPUT_KINDS:
            raise ValueError(f"input must be one of {INPUT_KINDS}, got {input!r}")
        self.input_kind = input
        self.conv_clamp = (
            None
            if conv_clamp is None
            else check_real("conv_clamp", conv_clamp, low=0.0, low_inclusive=False)
        )
        self.resolutions = tuple(2**i for i in range(2, int(np.log2(self.res)) + 1))
        self.channels = {r: min(self.channel_base // r, self.channel_max) for r in self.resolutions}
        self.num_ws = 2 * len(self.resolutions)
        ch4 = self.channels[4]
        if input == "fourier":
            self.input = FourierInput4(ch4, size=4, cutoff=fourier_cutoff)
        else:
            self.input = ConstInput(ch4, size=4)
        self.convs = nn.ModuleDict()
        self.torgbs = nn.ModuleDict()
        rates: OrderedDict[str, int] = OrderedDict(input=4)
        for r in self.resolutions:
            if r > 4:
                self.convs[f"b{r}_conv0"] = SynthesisLayer(
                    self.channels[r // 2], self.channels[r], self.w_dim, r, up=2,
                    conv_clamp=self.conv_clamp, resample_filter=resample_filter,
                )  # fmt: skip
                rates[f"b{r}.conv0"] = r
            self.convs[f"b{r}_conv1"] = SynthesisLayer(
                self.channels[r], self.channels[r], self.w_dim, r,
                conv_clamp=self.conv_clamp, resample_filter=resample_filter,
            )  # fmt: skip
            rates[f"b{r}.conv1"] = r
            self.torgbs[f"b{r}"] = ToRGBLayer(
                self.channels[r], self.img_channels, self.w_dim, conv_clamp=self.conv_clamp
            )
        self.feature_rates = rates
        self.register_buffer(
            "resample_filter", to_filter_tensor(resample_filter_taps(resample_filter))
        )

    def forward(
        self,
        ws: torch.Tensor,
        transform: object = None,
        return_features: bool = False,
        noise_mode: str = "const",
        update_emas: bool | int = False,
    ) -> torch.Tensor | tuple[torch.Tensor, OrderedDict[str, torch.Tensor]]:
        # update_emas: accepted for the alias-free synthesis' signature; nothing to update here.
        if (
            not isinstance(ws, torch.Tensor)
            or ws.ndim != 3
            or ws.shape[1:]
            != (
                self.num_ws,
                self.w_dim,
            )
        ):
            got = list(ws.shape) if isinstance(ws, torch.Tensor) else type(ws).__name__
            raise ValueError(f"ws must have shape [N, {self.num_ws}, {self.w_dim}], got {got}")
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        n = ws.shape[0]
        # The module's precision (float64 after .double(): gradient checks, float64 truths).
        full = compute_dtype(next(self.parameters()))
        ws = ws.to(full)
        tf = check_transform(transform, n, ws.device)
        feats: OrderedDict[str, torch.Tensor] = OrderedDict()
        x = self.input(n, tf)
        feats["input"] = x
        img = None
        for level, r in enumerate(self.resolutions):
            if r == 4:
                x = self.convs["b4_conv1"](x, ws[:, 0], noise_mode)
                feats["b4.conv1"] = x
                img = self.torgbs["b4"](x, ws[:, 1])
                continue
            x = self.convs[f"b{r}_conv0"](x, ws[:, 2 * level - 1], noise_mode)
            feats[f"b{r}.conv0"] = x
            x = self.convs[f"b{r}_conv1"](x, ws[:, 2 * level], noise_mode)
            feats[f"b{r}.conv1"] = x
            img = upsample_2x(img, self.resample_filter) + self.torgbs[f"b{r}"](
                x, ws[:, 2 * level + 1]
            )
        img = img.to(full)
        return (img, feats) if return_features else img


class BaselineGenerator(nn.Module):
    """StyleGAN2-style generator: :class:`MappingNetwork` (8 layers) + :class:`BaselineSynthesis`.

    ``G(z, c=None, *, psi=1.0, transform=None, return_features=False, noise_mode="const")``
    returns the image ``[N, img_channels, res, res]`` (float32), or ``(image, features)``.
    ``input="fourier"`` (default) makes the 4×4 input Fourier features that honour ``transform``
    (a ``[3, 3]`` or ``[N, 3, 3]`` affine matrix, :mod:`gan.networks.transform`);
    ``input="const"`` is StyleGAN2's learned constant and rejects any non-identity transform.

    Raises
    ------
    ValueError
        ``res`` not a power of two in [8, 4096], ``channel_base < res``, non-positive sizes,
        unknown ``input``; at call time bad shapes of z, c, ws or transform, unknown
        ``noise_mode``.
    """

    def __init__(
        self,
        z_dim: int = 512,
        c_dim: int = 0,
        w_dim: int = 512,
        res: int = 256,
        img_channels: int = 3,
        channel_base: int = 32768,
        channel_max: int = 512,
        num_mapping_layers: int = 8,
        input: str = "fourier",
        conv_clamp: float | None = None,
        mapping_lr_multiplier: float = 0.01,
        w_avg_beta: float = 0.998,
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        fourier_cutoff: float = 2.0,
    ) -> None:
        super().__init__()
        # Checked under their own names (the mapping network calls them num_layers, ...).
        num_mapping_layers = check_int("num_mapping_layers", num_mapping_layers, minimum=1)
        check_real("mapping_lr_multiplier", mapping_lr_multiplier, low=0.0, low_inclusive=False)
        self.synthesis = BaselineSynthesis(
            w_dim=w_dim,
            res=res,
            img_channels=img_channels,
            channel_base=channel_base,
            channel_max=channel_max,
            input=input,
            conv_clamp=conv_clamp,
            resample_filter=resample_filter,
            fourier_cutoff=fourier_cutoff,
        )
        self.mapping = MappingNetwork(
            z_dim,
            c_dim,
            w_dim,
            self.synthesis.num_ws,
            num_layers=num_mapping_layers,
            lr_multiplier=mapping_lr_multiplier,
            w_avg_beta=w_avg_beta,
        )
        self.z_dim = self.mapping.z_dim
        self.c_dim = self.mapping.c_dim
        self.w_dim = self.mapping.w_dim
        self.res = self.synthesis.res
        self.img_channels = self.synthesis.img_channels
        self.num_ws = self.synthesis.num_ws

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        *,
        psi: float = 1.0,
        transform: object = None,
        return_features: bool = False,
        noise_mode: str = "const",
        truncation_cutoff: int | None = None,
        update_emas: bool | int = False,
    ) -> torch.Tensor | tuple[torch.Tensor, OrderedDict[str, torch.Tensor]]:
        ws = self.mapping(
            z, c, psi=psi, truncation_cutoff=truncation_cutoff, update_emas=update_emas
        )
        return self.synthesis(
            ws, transform=transform, return_features=return_features, noise_mode=noise_mode
        )
