"""Built-in example models for the aliasing probe (issue 6; REFERENCE §7).

Two families, chosen to show what users ask about:

- **ResNets** (BasicBlocks; a max-pool stem; strided 3×3 convolutions and strided 1×1 shortcuts)
  in three variants that share the **same weights** (the same seed gives the same parameters and
  the same ``state_dict`` keys in every variant):

  * ``stride``: plain strided convolutions and pooling (rate lowered by keeping every s-th
    sample of the stride-1 map: whatever lies beyond the new Nyquist folds back);
  * ``blurpool``: the same operation at stride 1, then a binomial ``[1, 3, 3, 1]`` blur applied
    with the stride (Zhang 2019, "Making convolutional networks shift-invariant again";
    REFERENCE §7);
  * ``kaiser``: the same, with the DSP core's Kaiser low-pass
    (``dsp.filters.design_lowpass``) whose stopband starts at the new Nyquist frequency.

  The blur is a :class:`LowpassDownsample`: a depthwise ``nn.Conv2d`` holding the fixed 2D taps
  (so tools that know strided convolutions, such as the probe's stride-1 equivalent, see a
  stride-s low-pass) whose forward runs :func:`gan.ops.upfirdn2d` with the separable 1D taps.
  Its taps are non-persistent buffers, so the three variants' state dicts are interchangeable.

- **Generators** (``generator-t``, ``generator-r``, ``generator-baseline``): the tiny presets of
  :func:`gan.networks.presets.build_generator` wrapped in :class:`GeneratorExample`, an
  ``nn.Module`` taking an image-shaped input so that it fits the probe. What we chose:

  * the latents are a fixed, seeded linear function of the input (its 4×4 average-pooled
    content), so a batch gives one image per input and permuting the batch permutes the outputs;
  * every internal feature map of the generator passes through an ``nn.Identity`` tap
    (``features.<layer>``; dots in the generator's names become underscores), so hooks see
    the internal layers without any change to the generator;
  * an image shift of the input does **not** move the generated image (the latent changes
    instead): the probe's equivariance numbers are meaningless for these examples, and the
    generators have no rate-lowering or pointwise-nonlinearity *modules* (their resampling and
    leaky ReLUs are functional ops inside each synthesis layer), so the probe finds nothing
    else to measure unless modules are named. The generator's own equivariance is measured
    through its input ``transform`` by :func:`gan.metrics.equivariance.measure` (``aliasfree
    equivariance``), per internal layer; the taps give the internal maps for spectra
    (``notebooks/04_measure_aliasing.ipynb`` does both).

``build_example(name, **kw)`` builds any of them; :data:`EXAMPLES` lists the names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dsp._checks import check_int, check_real
from dsp.filters import design_lowpass
from gan.ops import to_filter_tensor, upfirdn2d

__all__ = [
    "EXAMPLES",
    "DOWNSAMPLE_KINDS",
    "LowpassDownsample",
    "BasicBlock",
    "ExampleResNet",
    "GeneratorExample",
    "build_example",
    "blur_taps",
    "kaiser_taps",
    "downsample_sites",
]

DOWNSAMPLE_KINDS = ("stride", "blurpool", "kaiser")

#: name → one-line description (what :func:`build_example` accepts).
EXAMPLES: dict[str, str] = {
    "resnet-stride": "small ResNet (16-32-64 channels, 1 block per stage), strided convolutions",
    "resnet-blurpool": "the same weights, [1,3,3,1] blur before every stride (BlurPool)",
    "resnet-kaiser": "the same weights, Kaiser low-pass (dsp.filters) before every stride",
    "resnet18": "ResNet-18-sized (64-128-256-512, [2,2,2,2]), strided convolutions",
    "resnet18-blurpool": "ResNet-18-sized, blur before every stride",
    "resnet18-kaiser": "ResNet-18-sized, Kaiser low-pass before every stride",
    "generator-t": "tiny alias-free generator, config T, internal layers tapped",
    "generator-r": "tiny alias-free generator, config R, internal layers tapped",
    "generator-baseline": "tiny StyleGAN2-style baseline generator, internal layers tapped",
}


def blur_taps() -> np.ndarray:
    """The BlurPool binomial filter ``[1, 3, 3, 1] / 8`` (1D, DC gain 1)."""
    from gan.networks.conv import resample_filter_taps

    return resample_filter_taps((1, 3, 3, 1))


def kaiser_taps(factor: int = 2, numtaps: int = 12, half_width: float | None = None) -> np.ndarray:
    """Kaiser low-pass taps for a stride-``factor`` decimation, from ``dsp.filters``.

    In cycles/sample (``fs = 1``): the new Nyquist frequency is ``f_n = 1 / (2·factor)``; the
    stopband starts there (``cutoff + half_width = f_n``), with ``half_width = f_n / 4`` by
    default, so the -6 dB ``cutoff = f_n − half_width``. ``design_lowpass(cutoff,
    half_width=half_width, fs=1, numtaps=numtaps)`` (REFERENCE §2) designs the separable taps.
    """
    factor = check_int("factor", factor, minimum=2)
    numtaps = check_int("numtaps", numtaps, minimum=2)
    f_n = 0.5 / factor
    if half_width is None:
        half_width = f_n / 4
    half_width = check_real("half_width", half_width, low=0.0, high=f_n, low_inclusive=False,
                            high_inclusive=False)  # fmt: skip
    return design_lowpass(f_n - half_width, half_width=half_width, fs=1.0, numtaps=numtaps)


class LowpassDownsample(nn.Conv2d):
    """Depthwise low-pass then keep every ``factor``-th sample (fixed taps, no parameters).

    ``y = upfirdn2d(x, taps, down=factor, padding=[(k−1)//2, k//2] per axis)``: the "same"-size
    filtered map sampled at ``0, factor, 2·factor, …``, so its size is ``ceil(n / factor)`` like a
    3×3 stride-``factor`` convolution with padding 1. As an ``nn.Conv2d`` (groups = channels,
    weight = the 2D kernel ``taps ⊗ taps``, a non-persistent buffer, symmetric padding
    ``k // 2``) its stride-1 version is the filtered map a tool measures before the decimation.
    """

    def __init__(self, channels: int, taps: np.ndarray, factor: int = 2) -> None:
        channels = check_int("channels", channels, minimum=1)
        factor = check_int("factor", factor, minimum=2)
        taps = np.asarray(taps, dtype=np.float64)
        if taps.ndim != 1 or taps.size < 1:
            raise ValueError(f"taps must be a non-empty 1D array, got shape {taps.shape}")
        k = taps.size
        super().__init__(
            channels, channels, k, stride=factor, padding=k // 2, groups=channels, bias=False
        )
        del self.weight
        kernel = np.outer(taps, taps)[None, None].repeat(channels, axis=0)
        self.register_buffer("weight", torch.from_numpy(kernel).float(), persistent=False)
        self.register_buffer("taps", to_filter_tensor(taps, dtype=torch.float64), persistent=False)
        self.factor = factor
        self._pad = ((k - 1) // 2, k // 2, (k - 1) // 2, k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.taps.to(x.dtype), down=self.factor, padding=self._pad)

    def extra_repr(self) -> str:
        return f"channels={self.in_channels}, taps={self.taps.numel()}, factor={self.factor}"


def _strided(kind: str, channels: int, factor: int, kaiser_numtaps: int) -> nn.Module:
    """The module that lowers the rate after a stride-1 op (Identity for plain strides)."""
    if kind == "stride":
        return nn.Identity()
    if kind == "blurpool":
        return LowpassDownsample(channels, blur_taps(), factor)
    return LowpassDownsample(channels, kaiser_taps(factor, kaiser_numtaps), factor)


class BasicBlock(nn.Module):
    """ResNet BasicBlock: ``relu2(bn2(conv2(relu1(bn1(down1(conv1(x)))))) + shortcut(x))``.

    With ``stride = 2``: ``conv1`` (3×3) and ``shortcut_conv`` (1×1) have stride 2 in the
    ``stride`` variant; in the others they run at stride 1 and ``down1`` / ``shortcut_down``
    low-pass and decimate. In the ``stride`` variant those are ``nn.Identity``.
    """

    def __init__(
        self, in_ch: int, out_ch: int, stride: int, kind: str, kaiser_numtaps: int = 12
    ) -> None:
        super().__init__()
        s_conv = stride if kind == "stride" else 1
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=s_conv, padding=1, bias=False)
        self.down1 = _strided(kind, out_ch, stride, kaiser_numtaps) if stride > 1 else nn.Identity()
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.relu2 = nn.ReLU()
        self.has_shortcut = stride > 1 or in_ch != out_ch
        if self.has_shortcut:
            self.shortcut_conv = nn.Conv2d(in_ch, out_ch, 1, stride=s_conv, bias=False)
            self.shortcut_down = (
                _strided(kind, out_ch, stride, kaiser_numtaps) if stride > 1 else nn.Identity()
            )
            self.shortcut_bn = nn.BatchNorm2d(out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu1(self.bn1(self.down1(self.conv1(x))))
        y = self.bn2(self.conv2(y))
        s = x
        if self.has_shortcut:
            s = self.shortcut_bn(self.shortcut_down(self.shortcut_conv(x)))
        return self.relu2(y + s)


class ExampleResNet(nn.Module):
    """A ResNet of BasicBlocks with a selectable way of lowering the rate.

    Stem: ``conv1`` (``stem="small"``: 3×3 stride 1; ``"imagenet"``: 7×7 stride 2), ``bn1``,
    ``relu``, ``maxpool`` (3×3, stride 2, padding 1); then one stage per width (the first stage
    at stride 1, the others starting with a stride-2 block); then ``avgpool`` (global) and ``fc``.
    In the ``blurpool`` / ``kaiser`` variants every stride runs at stride 1 and is followed by a
    :class:`LowpassDownsample` (``conv1_down``, ``maxpool_down``, ``layerK.0.down1``,
    ``layerK.0.shortcut_down``); BatchNorm (eval) is a per-channel affine map, so it commutes
    with the unit-DC-gain blur and the variants differ only in how they decimate.

    Parameters
    ----------
    widths, blocks : sequences of int
        Channels and number of BasicBlocks per stage.
    downsample : {"stride", "blurpool", "kaiser"}
    in_channels, num_classes : int
    stem : {"small", "imagenet"}
    seed : int
        Seed of the weights: Kaiming-normal convolutions (fan-out, ReLU gain), unit BatchNorm,
        PyTorch's default Linear; drawn in parameter-name order from a private generator, so
        every variant with the same seed has the same parameters.
    kaiser_numtaps : int
        Length of the Kaiser filter (:func:`kaiser_taps`).
    """

    def __init__(
        self,
        widths: Sequence[int] = (16, 32, 64),
        blocks: Sequence[int] = (1, 1, 1),
        downsample: str = "stride",
        in_channels: int = 3,
        num_classes: int = 10,
        stem: str = "small",
        seed: int = 0,
        kaiser_numtaps: int = 12,
    ) -> None:
        super().__init__()
        if downsample not in DOWNSAMPLE_KINDS:
            raise ValueError(f"downsample must be one of {DOWNSAMPLE_KINDS}, got {downsample!r}")
        if stem not in ("small", "imagenet"):
            raise ValueError(f"stem must be 'small' or 'imagenet', got {stem!r}")
        widths = [check_int("widths", w, minimum=1) for w in widths]
        blocks = [check_int("blocks", b, minimum=1) for b in blocks]
        if not widths or len(widths) != len(blocks):
            raise ValueError(
                f"widths and blocks must be non-empty and equally long, got {widths}, {blocks}"
            )
        in_channels = check_int("in_channels", in_channels, minimum=1)
        num_classes = check_int("num_classes", num_classes, minimum=1)
        seed = check_int("seed", seed, minimum=0)
        kaiser_numtaps = check_int("kaiser_numtaps", kaiser_numtaps, minimum=2)
        self.downsample = downsample
        kind = downsample
        w0 = widths[0]
        if stem == "small":
            self.conv1 = nn.Conv2d(in_channels, w0, 3, padding=1, bias=False)
            self.conv1_down = nn.Identity()
        else:
            s = 2 if kind == "stride" else 1
            self.conv1 = nn.Conv2d(in_channels, w0, 7, stride=s, padding=3, bias=False)
            self.conv1_down = _strided(kind, w0, 2, kaiser_numtaps)
        self.bn1 = nn.BatchNorm2d(w0)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2 if kind == "stride" else 1, padding=1)
        self.maxpool_down = _strided(kind, w0, 2, kaiser_numtaps)
        c = w0
        for i, (w, b) in enumerate(zip(widths, blocks, strict=True)):
            stage = [BasicBlock(c, w, 1 if i == 0 else 2, kind, kaiser_numtaps)]
            stage += [BasicBlock(w, w, 1, kind, kaiser_numtaps) for _ in range(b - 1)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*stage))
            c = w
        self.num_stages = len(widths)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, num_classes)
        self.eval()
        _init_weights(self, seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1_down(self.conv1(x))))
        x = self.maxpool_down(self.maxpool(x))
        for i in range(self.num_stages):
            x = getattr(self, f"layer{i + 1}")(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _init_weights(model: nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, m in model.named_modules():
            if isinstance(m, LowpassDownsample):
                continue
            if isinstance(m, nn.Conv2d):
                fan_out = m.out_channels * m.kernel_size[0] * m.kernel_size[1] // m.groups
                m.weight.normal_(0.0, math.sqrt(2.0 / fan_out), generator=g)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.fill_(1.0)
                m.bias.zero_()
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.in_features)
                m.weight.uniform_(-bound, bound, generator=g)
                m.bias.uniform_(-bound, bound, generator=g)


def downsample_sites(model: ExampleResNet) -> dict[str, str]:
    """Where each variant lowers the rate: site → module name in ``model``.

    Sites are named after the plain-stride module (``"maxpool"``, ``"layer2.0.conv1"``,
    ``"layer2.0.shortcut_conv"``, …); in the ``blurpool``/``kaiser`` variants the module that
    decimates there is the matching :class:`LowpassDownsample` (``"maxpool_down"``,
    ``"layer2.0.down1"``, ``"layer2.0.shortcut_down"``, …). Lets one compare the variants site
    by site.
    """
    if not isinstance(model, ExampleResNet):
        raise ValueError(f"model must be an ExampleResNet, got {type(model).__name__}")
    plain = model.downsample == "stride"
    sites: dict[str, str] = {}
    if isinstance(model.conv1_down, LowpassDownsample) or model.conv1.stride[0] > 1:
        sites["conv1"] = "conv1" if plain else "conv1_down"
    sites["maxpool"] = "maxpool" if plain else "maxpool_down"
    for i in range(1, model.num_stages):
        p = f"layer{i + 1}.0"
        sites[f"{p}.conv1"] = f"{p}.conv1" if plain else f"{p}.down1"
        sites[f"{p}.shortcut_conv"] = f"{p}.shortcut_conv" if plain else f"{p}.shortcut_down"
    return sites


class GeneratorExample(nn.Module):
    """A generator seen through an image-shaped input (see the module docstring).

    ``forward(x [N, C, H, W]) → image [N, img_channels, res, res]`` with latents
    ``z = √z_dim · u / ‖u‖``, ``u = P · avgpool₄ₓ₄(x).flatten()``, ``P`` a fixed Gaussian matrix
    drawn from ``seed`` (for ``x`` with ``C·16`` entries after pooling; built on first use for the
    input's channel count and kept as a non-persistent buffer). Internal feature maps pass
    through the ``features.<name>`` identity taps.

    Parameters
    ----------
    generator : nn.Module
        A project generator (``G(z, return_features=True) → (img, OrderedDict)``).
    seed : int
        Seed of the projection ``P``.
    psi : float
        Truncation.
    """

    def __init__(self, generator: nn.Module, seed: int = 0, psi: float = 1.0) -> None:
        super().__init__()
        self.generator = generator.eval()
        self.seed = check_int("seed", seed, minimum=0)
        self.psi = check_real("psi", psi)
        with torch.no_grad():
            z = torch.zeros(1, generator.z_dim)
            c = torch.zeros(1, generator.c_dim) if getattr(generator, "c_dim", 0) else None
            _, feats = generator(z, c, return_features=True)
        self.feature_names = list(feats)
        self.features = nn.ModuleDict({self._key(n): nn.Identity() for n in feats})

    @staticmethod
    def _key(name: str) -> str:
        return name.replace(".", "_")

    def _projection(self, d: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed)
        return torch.randn(self.generator.z_dim, d, generator=g, dtype=torch.float64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4:
            raise ValueError(f"x must be [N, C, H, W], got shape {list(x.shape)}")
        u = F.adaptive_avg_pool2d(x.to(torch.float64), 4).flatten(1)
        u = u - u.mean(dim=1, keepdim=True)
        z = u @ self._projection(u.shape[1]).T
        norm = z.norm(dim=1, keepdim=True).clamp_min(1e-12)
        z = (z / norm * math.sqrt(self.generator.z_dim)).to(torch.float32)
        c = None
        if getattr(self.generator, "c_dim", 0):
            c = torch.zeros(x.shape[0], self.generator.c_dim, device=x.device)
        img, feats = self.generator(z, c, psi=self.psi, return_features=True)
        for name, f in feats.items():
            self.features[self._key(name)](f)
        return img


_RESNET_SMALL = {"widths": (16, 32, 64), "blocks": (1, 1, 1), "stem": "small"}
_RESNET_18 = {"widths": (64, 128, 256, 512), "blocks": (2, 2, 2, 2), "stem": "imagenet"}
_GEN_PRESETS = {"generator-t": "t-tiny", "generator-r": "r-tiny", "generator-baseline":
                "baseline-tiny"}  # fmt: skip


def build_example(name: str, **kw: Any) -> nn.Module:
    """Build a built-in example model by name (see :data:`EXAMPLES`), in eval mode.

    ResNet keywords: ``seed`` (weights; default 0), ``in_channels`` (3), ``num_classes`` (10),
    ``widths``, ``blocks``, ``kaiser_numtaps`` (12). Generator keywords: ``res`` (default 32),
    ``seed`` (0: both the generator's initial weights and the latent projection), ``psi`` (1).

    Raises
    ------
    ValueError
        Unknown name (the message lists the known ones) or bad keyword values.
    """
    key = str(name).strip().lower()
    if key not in EXAMPLES:
        raise ValueError(f"unknown example {name!r}; built-in examples are {sorted(EXAMPLES)}")
    if key.startswith("resnet"):
        base = dict(_RESNET_18 if key.startswith("resnet18") else _RESNET_SMALL)
        kind = key.split("-", 1)[1] if "-" in key else "stride"
        base.update(kw)
        base["downsample"] = kind
        # The default initialisers draw from the global RNG before _init_weights overwrites
        # them: leave the caller's RNG state as it was.
        with torch.random.fork_rng(devices=[]):
            return ExampleResNet(**base).eval()
    from gan.networks.presets import build_generator

    res = kw.pop("res", 32)
    seed = kw.pop("seed", 0)
    psi = kw.pop("psi", 1.0)
    G = build_generator(_GEN_PRESETS[key], res=res, seed=seed, **kw)
    return GeneratorExample(G, seed=seed, psi=psi).eval()
