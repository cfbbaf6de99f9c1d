"""The alias-free generator (StyleGAN3 configs T and R). See REFERENCE §3 and §4.

Every size, rate, cutoff, channel count, filter, padding, factor, kernel and fp16 flag comes from
:func:`dsp.schedule.layer_schedule`; filters are the schedule's own designs
(:meth:`~dsp.schedule.LayerSpec.up_filter`, :meth:`~dsp.schedule.LayerSpec.down_filter`)
converted by :func:`gan.ops.to_filter_tensor` and registered as buffers, never re-derived.

Coordinates and the user ``transform`` follow :mod:`gan.networks.transform`: the image covers
``[-0.5, 0.5]²`` image widths, and generating with ``A`` gives
``image_A(p) = image_I(A⁻¹ p)``. A feature map of ``size`` samples at ``rate`` samples per unit
covers ``size / rate`` units centred on the image centre, sample ``j`` at
``(j + 0.5 − size/2) / rate``.

Note on speed: on CUDA the Triton ``filtered_lrelu`` factors 2D (radial, config R) down
filters by an SVD on every call; nothing is precomputed here yet.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from dsp._checks import check_int, check_real
from dsp.schedule import LayerSpec, Schedule, layer_schedule
from gan._compile import check_finite, values_checked
from gan.ops import filtered_lrelu, to_filter_tensor

from .layers import (
    FullyConnected,
    MappingNetwork,
    autocast_off,
    compute_dtype,
    modulated_conv2d,
)

__all__ = ["SynthesisInput", "SynthesisLayer", "SynthesisNetwork", "AliasFreeGenerator"]

_NOISE_MODES = ("const", "random", "none")


def half_precision_allowed(device: torch.device) -> bool:
    """Whether layers flagged ``use_fp16`` compute in float16 on ``device``: on CUDA only (the
    CPU has no fast float16 convolution). Tests patch this to run the GPU's fp16 path on the
    CPU."""
    return device.type == "cuda"


def _check_noise_mode(noise_mode: object) -> None:
    # The alias-free generator has no per-pixel noise; the argument exists for a uniform call
    # signature across generators.
    if noise_mode not in _NOISE_MODES:
        raise ValueError(f"noise_mode must be one of {_NOISE_MODES}, got {noise_mode!r}")


def _check_ws(ws: object, num_ws: int, w_dim: int) -> torch.Tensor:
    if not isinstance(ws, torch.Tensor) or ws.ndim != 3 or tuple(ws.shape[1:]) != (num_ws, w_dim):
        got = list(ws.shape) if isinstance(ws, torch.Tensor) else type(ws).__name__
        raise ValueError(f"ws must be a tensor of shape [N, {num_ws}, {w_dim}], got {got}")
    return ws


def check_transform(transform: object, n: int, device: torch.device) -> torch.Tensor | None:
    """Validate a user transform: None, ``[3, 3]`` or ``[n, 3, 3]``, finite, affine, invertible.

    Returns it as float64 ``[n, 3, 3]`` on ``device`` (None stays None).
    """
    if transform is None:
        return None
    t = torch.as_tensor(transform)
    given = list(t.shape)  # as passed: a [2, 3] input is not reported as [1, 2, 3]
    if t.ndim == 2:
        t = t.unsqueeze(0)
    if t.ndim != 3 or tuple(t.shape[1:]) != (3, 3) or t.shape[0] not in (1, n):
        raise ValueError(f"transform must have shape [3, 3] or [{n}, 3, 3], got {given}")
    t = t.to(device=device, dtype=torch.float64)
    if not values_checked():
        return t.expand(n, 3, 3)
    check_finite(t, "transform must be finite (no NaN or infinity)")
    bottom = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64, device=device)
    if not torch.allclose(t[:, 2], bottom.expand(t.shape[0], 3), atol=1e-6):
        raise ValueError("transform must be affine: its last row must be [0, 0, 1]")
    det = torch.linalg.det(t[:, :2, :2])
    if (det.abs() < 1e-8).any():
        raise ValueError("transform must be invertible (its 2x2 part has determinant ~0)")
    return t.expand(n, 3, 3)


class SynthesisInput(nn.Module):
    """Fourier-feature input (REFERENCE §3): ``channels`` sinusoids sampled on the first grid.

    Frequencies are drawn uniformly in the disc of radius ``bandwidth`` (= ``fc_0``, cycles per
    unit) and phases uniformly in ``[-0.5, 0.5)`` cycles; both are fixed buffers. For each
    sample, ``FullyConnected(w_dim, 4)`` predicts ``(cos θ, sin θ, tx, ty)`` (zero weight, bias
    ``[1, 0, 0, 0]``: the identity at init), normalised by ``|(cos θ, sin θ)|``. With
    ``M_w = R(θ) · T(−t)`` and the user transform ``A`` the features at point ``p`` are
    ``amp_c · sin(2π (f_c · q + φ_c))`` with ``q = M_w A⁻¹ p``, so the image moves by ``A``.
    Amplitudes ``clamp(1 − (|f'_c| − bandwidth) / (rate/2 − bandwidth), 0, 1)`` of the
    transformed frequencies ``f'`` taper to zero between ``bandwidth`` and Nyquist (they only
    matter for transforms that scale). A learned 1×1 linear map mixes the channels.
    """

    def __init__(
        self,
        w_dim: int,
        channels: int,
        size: int,
        rate: float,
        bandwidth: float,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.w_dim = check_int("w_dim", w_dim, minimum=1)
        self.channels = check_int("channels", channels, minimum=1)
        self.size = check_int("size", size, minimum=1)
        self.rate = check_real("rate", rate, low=0.0, low_inclusive=False)
        self.bandwidth = check_real(
            "bandwidth", bandwidth, low=0.0, high=self.rate / 2, low_inclusive=False
        )
        radius = self.bandwidth * torch.rand(self.channels, generator=generator).sqrt()
        angle = 2 * math.pi * torch.rand(self.channels, generator=generator)
        freqs = torch.stack([radius * angle.cos(), radius * angle.sin()], dim=1)
        phases = torch.rand(self.channels, generator=generator) - 0.5
        self.register_buffer("freqs", freqs)
        self.register_buffer("phases", phases)
        self.affine = FullyConnected(self.w_dim, 4, weight_init=0.0, bias_init=[1.0, 0.0, 0.0, 0.0])
        self.weight = nn.Parameter(torch.randn(self.channels, self.channels, generator=generator))
        # Sample positions (units of image width), x along the width, y along the height.
        coords = (torch.arange(self.size, dtype=torch.float64) + 0.5 - self.size / 2) / self.rate
        gy, gx = torch.meshgrid(coords, coords, indexing="ij")
        self.register_buffer("grid", torch.stack([gx, gy], dim=-1).to(torch.float32))

    def coordinate_transforms(
        self, w: torch.Tensor, transform: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The per-sample map ``M_w A⁻¹`` from image points to feature coordinates ``[N, 3, 3]``."""
        n = w.shape[0]
        dtype = compute_dtype(self.weight)
        t = self.affine(w.to(dtype))
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        eye = torch.eye(3, device=w.device, dtype=dtype).expand(n, 3, 3)
        m_r = eye.clone()
        m_r[:, 0, 0], m_r[:, 0, 1] = t[:, 0], -t[:, 1]
        m_r[:, 1, 0], m_r[:, 1, 1] = t[:, 1], t[:, 0]
        m_t = eye.clone()
        m_t[:, 0, 2], m_t[:, 1, 2] = -t[:, 2], -t[:, 3]
        m = m_r @ m_t
        a = check_transform(transform, n, w.device)
        if a is not None:
            m = m @ torch.linalg.inv(a).to(dtype)
        return m

    def forward(self, w: torch.Tensor, transform: torch.Tensor | None = None) -> torch.Tensor:
        """``w [N, w_dim]`` → features ``[N, channels, size, size]`` (float32; float64 for a
        float64 module), computed in those dtypes even inside an autocast region: bfloat16
        would round the Fourier features' phases to about 0.01 cycle (1.6 % error at 256 px),
        a misplacement no later layer can undo."""
        with autocast_off(w.device):
            return self._features(w, transform)

    def _features(self, w: torch.Tensor, transform: torch.Tensor | None) -> torch.Tensor:
        m = self.coordinate_transforms(w, transform)
        # f · (L p + t) = (f L) · p + f · t
        freqs = self.freqs.unsqueeze(0) @ m[:, :2, :2]  # [N, C, 2]
        phases = self.phases.unsqueeze(0) + (self.freqs.unsqueeze(0) @ m[:, :2, 2:]).squeeze(2)
        amps = 1 - (freqs.norm(dim=2) - self.bandwidth) / (self.rate / 2 - self.bandwidth)
        amps = amps.clamp(0, 1)
        x = torch.einsum("hwk,nck->nhwc", self.grid, freqs) + phases[:, None, None, :]
        x = torch.sin(x * (2 * math.pi)) * amps[:, None, None, :]
        x = x @ (self.weight / math.sqrt(self.channels)).t()
        return x.permute(0, 3, 1, 2).contiguous()

    def extra_repr(self) -> str:
        return (
            f"channels={self.channels}, size={self.size}, rate={self.rate:g}, "
            f"bandwidth={self.bandwidth:g}"
        )


class SynthesisLayer(nn.Module):
    """One schedule layer (REFERENCE §3, §4): modulated conv → filtered leaky ReLU.

    ``x ← x / sqrt(magnitude_ema)`` (folded into the conv weights; the EMA of the input's mean
    square is updated with ``β = magnitude_ema_beta ** batch`` when ``update_emas``, i.e.
    ``0.5^(batch/20000)`` by default, and frozen otherwise; ``batch`` is ``x``'s, or
    ``update_emas`` itself when it is a number: the images the update stands for, the global
    batch when each process sees a shard of it), styles ``= FullyConnected(w)``
    (bias 1), full modulated conv (``padding = conv_padding = k − 1``; demodulated, except
    ToRGB whose styles are scaled by ``1/sqrt(in_channels k²)``), then
    ``filtered_lrelu(x, fu, fd, bias, up, down, padding, gain=√2, slope=0.2, clamp)``
    (ToRGB: ``gain=1, slope=1``, i.e. bias and clamp only). In fp16 (CUDA and
    ``spec.use_fp16``) the activations are clamped to ``±conv_clamp``; the clamp follows
    ``spec.use_fp16`` on every device so CPU and GPU compute the same function.
    """

    def __init__(
        self,
        spec: LayerSpec,
        w_dim: int,
        conv_clamp: float | None = 256.0,
        magnitude_ema_beta: float = 0.5 ** (1 / 20000),
    ) -> None:
        super().__init__()
        if not isinstance(spec, LayerSpec):
            raise ValueError(f"spec must be a dsp.schedule.LayerSpec, got {type(spec).__name__}")
        self.spec = spec
        self.name = spec.name
        self.is_torgb = spec.is_torgb
        self.w_dim = check_int("w_dim", w_dim, minimum=1)
        self.in_channels, self.out_channels = spec.in_channels, spec.out_channels
        self.in_size, self.out_size = spec.in_size, spec.out_size
        self.conv_kernel, self.conv_padding = spec.conv_kernel, spec.conv_padding
        self.up, self.down = spec.up, spec.down
        self.padding = tuple(spec.padding)
        self.use_fp16 = spec.use_fp16
        if conv_clamp is not None:
            conv_clamp = check_real("conv_clamp", conv_clamp, low=0.0, low_inclusive=False)
        self.conv_clamp = conv_clamp if spec.use_fp16 else None
        self.magnitude_ema_beta = check_real(
            "magnitude_ema_beta", magnitude_ema_beta, low=0.0, high=1.0
        )
        self.gain = 1.0 if self.is_torgb else math.sqrt(2.0)
        self.slope = 1.0 if self.is_torgb else 0.2
        self.grouped_modconv = True  # see layers.set_grouped_modconv

        self.affine = FullyConnected(self.w_dim, self.in_channels, bias_init=1.0)
        k = self.conv_kernel
        self.weight = nn.Parameter(torch.randn(self.out_channels, self.in_channels, k, k))
        self.bias = nn.Parameter(torch.zeros(self.out_channels))
        self.register_buffer("magnitude_ema", torch.ones([]))
        self.register_buffer("up_filter", to_filter_tensor(spec.up_filter()))
        self.register_buffer("down_filter", to_filter_tensor(spec.down_filter()))

    def forward(
        self,
        x: torch.Tensor,
        w: torch.Tensor,
        update_emas: bool | int = False,
        force_fp32: bool = False,
    ) -> torch.Tensor:
        """``x [N, in_channels, in_size, in_size]``, ``w [N, w_dim]`` → ``[N, out_channels,
        out_size, out_size]`` (float16 in fp16 layers, else float32; float64 for a float64
        module)."""
        want = (x.shape[0], self.in_channels, self.in_size, self.in_size)
        if x.ndim != 4 or tuple(x.shape) != want:
            raise ValueError(f"{self.name}: x must have shape {list(want)}, got {list(x.shape)}")
        if update_emas:
            images = x.shape[0] if update_emas is True else int(update_emas)
            with torch.no_grad():
                beta = self.magnitude_ema_beta**images
                mag = x.detach().to(self.magnitude_ema.dtype).square().mean()
                self.magnitude_ema.copy_(mag.lerp(self.magnitude_ema, beta))
        input_gain = self.magnitude_ema.rsqrt()

        full = compute_dtype(self.weight)
        styles = self.affine(w.to(full))
        if self.is_torgb:
            styles = styles * (1 / math.sqrt(self.in_channels * self.conv_kernel**2))

        fp16 = self.use_fp16 and not force_fp32 and half_precision_allowed(x.device)
        dtype = torch.float16 if fp16 else full
        x = modulated_conv2d(
            x.to(dtype),
            self.weight,
            styles,
            demodulate=not self.is_torgb,
            padding=self.conv_padding,
            input_gain=input_gain,
            grouped=self.grouped_modconv,
        )
        x = filtered_lrelu(
            x,
            self.up_filter,
            self.down_filter,
            self.bias.to(x.dtype),
            up=self.up,
            down=self.down,
            padding=self.padding,
            gain=self.gain,
            slope=self.slope,
            clamp=self.conv_clamp,
        )
        return x

    def extra_repr(self) -> str:
        return (
            f"name={self.name}, channels={self.in_channels}->{self.out_channels}, "
            f"size={self.in_size}->{self.out_size}, k={self.conv_kernel}, "
            f"up={self.up}, down={self.down}, padding={self.padding}, fp16={self.use_fp16}"
        )


class SynthesisNetwork(nn.Module):
    """ws → image through the Fourier input, ``N`` synthesis layers and ToRGB (REFERENCE §3).

    ``ws[:, 0]`` drives the input, ``ws[:, 1 + idx]`` layer ``idx`` (so ``num_ws = N + 2``).
    The image is ToRGB's output times ``output_scale`` (0.25), in float32 (float64 for a
    float64 module, e.g. after ``.double()``).

    Attributes
    ----------
    schedule : dsp.schedule.Schedule
    layer_specs : tuple of LayerSpec
        ``schedule.layers``; ``layer_specs[-1]`` is ToRGB.
    input : SynthesisInput
    layers : nn.ModuleList of SynthesisLayer
        One per spec, in order.
    """

    def __init__(
        self,
        schedule: Schedule,
        w_dim: int,
        conv_clamp: float | None = 256.0,
        output_scale: float = 0.25,
        magnitude_ema_beta: float = 0.5 ** (1 / 20000),
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(schedule, Schedule):
            raise ValueError(
                f"schedule must be a dsp.schedule.Schedule, got {type(schedule).__name__}"
            )
        self.schedule = schedule
        self.layer_specs: tuple[LayerSpec, ...] = schedule.layers
        self.w_dim = check_int("w_dim", w_dim, minimum=1)
        self.res = schedule.res
        self.img_channels = schedule.img_channels
        self.num_ws = len(self.layer_specs) + 1
        self.output_scale = check_real("output_scale", output_scale)
        e0 = schedule.entries[0]
        self.input = SynthesisInput(
            self.w_dim, e0.channels, e0.size, e0.rate, e0.cutoff, generator=generator
        )
        self.layers = nn.ModuleList(
            SynthesisLayer(spec, self.w_dim, conv_clamp, magnitude_ema_beta)
            for spec in self.layer_specs
        )

    def forward(
        self,
        ws: torch.Tensor,
        transform: torch.Tensor | None = None,
        return_features: bool = False,
        noise_mode: str = "const",
        update_emas: bool | int = False,
        force_fp32: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, OrderedDict[str, torch.Tensor]]:
        """Image ``[N, img_channels, res, res]`` (float32; float64 for a float64 module), plus
        the feature dict if asked.

        ``features`` maps each synthesis layer's ``LayerSpec.name`` (in order, ToRGB
        excluded) to its output in the image's dtype: the samples of schedule entry ``idx`` on
        its grid.
        """
        _check_noise_mode(noise_mode)
        dtype = compute_dtype(self.input.weight)
        ws = _check_ws(ws, self.num_ws, self.w_dim).to(dtype)
        check_finite(ws, "ws must be finite (no NaN or infinity)")
        x = self.input(ws[:, 0], transform)
        features: OrderedDict[str, torch.Tensor] = OrderedDict()
        for idx, layer in enumerate(self.layers):
            x = layer(x, ws[:, idx + 1], update_emas=update_emas, force_fp32=force_fp32)
            if return_features and not layer.is_torgb:
                features[layer.name] = x.to(dtype)
        img = (x.to(dtype) * self.output_scale).contiguous()
        return (img, features) if return_features else img


class AliasFreeGenerator(nn.Module):
    """The StyleGAN3 generator, configs T and R (REFERENCE §3): mapping + synthesis.

    ``G(z, c=None, *, psi=1.0, transform=None, return_features=False, noise_mode="const",
    truncation_cutoff=None, update_emas=False)`` → image ``[N, img_channels, res, res]``
    (float32; float64 after ``.double()``, e.g. for gradient checks) or ``(image, features)``.

    Parameters
    ----------
    z_dim, c_dim, w_dim : int
        Latent, label and intermediate-latent sizes.
    res : int
        Output resolution, a power of two in ``[16, 1024]``.
    img_channels : int
    config : {'t', 'r'}
    mapping_layers : int
        Fully connected layers of the mapping network (2).
    mapping_lr_multiplier : float
        0.01.
    w_avg_beta : float
        EMA decay of the tracked mean w.
    conv_clamp : float or None
        Activation clamp in fp16 layers (256).
    output_scale : float
        0.25.
    magnitude_ema_beta : float
        Per-image decay of the magnitude EMA; the batch decays by ``β ** batch``.
    seed : int or None
        When given, parameters and the Fourier buffers are drawn from a generator seeded with
        it (the global RNG is untouched), so equal seeds give equal networks.
    **schedule_kwargs
        Passed to :func:`dsp.schedule.layer_schedule`: ``num_layers``, ``num_critical``,
        ``first_cutoff``, ``first_stopband``, ``last_stopband_rel``, ``margin``,
        ``channel_base``, ``channel_max``, ``lrelu_upsampling``, ``filter_size``,
        ``conv_kernel``, ``num_fp16_res``. Invalid values raise its ``ValueError``.

    Attributes
    ----------
    init_kwargs : dict
        The constructor arguments (JSON-serialisable), used by :mod:`gan.networks.io`.
    """

    def __init__(
        self,
        z_dim: int = 512,
        c_dim: int = 0,
        w_dim: int = 512,
        res: int = 256,
        img_channels: int = 3,
        config: str = "t",
        *,
        mapping_layers: int = 2,
        mapping_lr_multiplier: float = 0.01,
        w_avg_beta: float = 0.998,
        conv_clamp: float | None = 256.0,
        output_scale: float = 0.25,
        magnitude_ema_beta: float = 0.5 ** (1 / 20000),
        seed: int | None = None,
        **schedule_kwargs: Any,
    ) -> None:
        super().__init__()
        allowed = {
            "num_layers",
            "num_critical",
            "first_cutoff",
            "first_stopband",
            "last_stopband_rel",
            "margin",
            "channel_base",
            "channel_max",
            "lrelu_upsampling",
            "filter_size",
            "conv_kernel",
            "num_fp16_res",
        }
        unknown = sorted(set(schedule_kwargs) - allowed)
        if unknown:
            raise ValueError(f"unknown AliasFreeGenerator arguments: {', '.join(unknown)}")
        self.init_kwargs: dict[str, Any] = {
            "z_dim": z_dim,
            "c_dim": c_dim,
            "w_dim": w_dim,
            "res": res,
            "img_channels": img_channels,
            "config": config,
            "mapping_layers": mapping_layers,
            "mapping_lr_multiplier": mapping_lr_multiplier,
            "w_avg_beta": w_avg_beta,
            "conv_clamp": conv_clamp,
            "output_scale": output_scale,
            "magnitude_ema_beta": magnitude_ema_beta,
            "seed": seed,
            **schedule_kwargs,
        }
        schedule = layer_schedule(res, config, img_channels=img_channels, **schedule_kwargs)
        self.z_dim = check_int("z_dim", z_dim, minimum=0)
        self.c_dim = check_int("c_dim", c_dim, minimum=0)
        self.w_dim = check_int("w_dim", w_dim, minimum=1)
        # Checked under their own names: the mapping's "num_layers" would point at the schedule.
        mapping_layers = check_int("mapping_layers", mapping_layers, minimum=1)
        check_real("mapping_lr_multiplier", mapping_lr_multiplier, low=0.0, low_inclusive=False)
        self.res = schedule.res
        self.img_channels = schedule.img_channels
        self.config = schedule.config

        gen = None
        if seed is not None:
            gen = torch.Generator().manual_seed(check_int("seed", seed, minimum=0))
        with _seeded(gen):
            self.synthesis = SynthesisNetwork(
                schedule,
                self.w_dim,
                conv_clamp=conv_clamp,
                output_scale=output_scale,
                magnitude_ema_beta=magnitude_ema_beta,
                generator=gen,
            )
            self.num_ws = self.synthesis.num_ws
            self.mapping = MappingNetwork(
                self.z_dim,
                self.c_dim,
                self.w_dim,
                self.num_ws,
                num_layers=mapping_layers,
                lr_multiplier=mapping_lr_multiplier,
                w_avg_beta=w_avg_beta,
            )

    @property
    def layer_specs(self) -> tuple[LayerSpec, ...]:
        return self.synthesis.layer_specs

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        *,
        psi: float = 1.0,
        transform: torch.Tensor | None = None,
        return_features: bool = False,
        noise_mode: str = "const",
        truncation_cutoff: int | None = None,
        update_emas: bool | int = False,
    ) -> torch.Tensor | tuple[torch.Tensor, OrderedDict[str, torch.Tensor]]:
        ws = self.mapping(
            z, c, psi=psi, truncation_cutoff=truncation_cutoff, update_emas=update_emas
        )
        return self.synthesis(
            ws,
            transform=transform,
            return_features=return_features,
            noise_mode=noise_mode,
            update_emas=update_emas,
        )


class _seeded:
    """Draw module initialisations from ``gen`` (``torch.randn`` without a generator argument
    inside nn layers reads the global RNG, so fork it and seed it from ``gen``)."""

    def __init__(self, gen: torch.Generator | None) -> None:
        self.gen = gen
        self._fork = None

    def __enter__(self) -> None:
        if self.gen is None:
            return
        self._fork = torch.random.fork_rng(devices=[])
        self._fork.__enter__()
        seed = int(torch.randint(0, 2**62, (1,), generator=self.gen).item())
        torch.manual_seed(seed)

    def __exit__(self, *exc: object) -> None:
        if self._fork is not None:
            self._fork.__exit__(*exc)
