"""Building blocks shared by every generator: equalized-lr fully connected layers, the mapping
network and the modulated convolution. See REFERENCE §3 ("Other generator pieces").

Equalized learning rate (StyleGAN): a parameter is stored divided by its learning-rate multiplier
and rescaled at run time, so that Adam's per-parameter step (roughly scale-free) moves the
effective weight by ``lr · lr_multiplier`` and every layer learns at the same speed whatever its
fan-in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import nullcontext

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from dsp._checks import check_int, check_real
from gan._compile import check_finite

__all__ = [
    "FullyConnected",
    "MappingNetwork",
    "modulated_conv2d",
    "normalize_2nd_moment",
    "set_grouped_modconv",
]

_ACTIVATIONS = ("linear", "lrelu")
_LRELU_SLOPE = 0.2
_LRELU_GAIN = math.sqrt(2.0)


def _check_activation(activation: object) -> str:
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {_ACTIVATIONS}, got {activation!r}")
    return str(activation)


def compute_dtype(t: torch.Tensor) -> torch.dtype:
    """float64 for a float64 tensor (a module turned ``.double()``: gradient checks, float64
    references), else float32, the networks' working precision (REFERENCE §3)."""
    return torch.float64 if t.dtype == torch.float64 else torch.float32


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """``x / sqrt(mean(x², dim) + eps)``: unit mean square along ``dim`` (StyleGAN's z norm)."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


class FullyConnected(nn.Module):
    """Equalized-learning-rate linear layer ``y = act(x Wᵀ g_w + b g_b)``.

    The stored weight is ``randn(out, in) · weight_init / lr_multiplier`` and is multiplied by
    ``g_w = lr_multiplier / sqrt(in_features)`` at run time, so the effective initial weight has
    standard deviation ``weight_init / sqrt(in_features)``. The stored bias is
    ``bias_init / lr_multiplier`` and is multiplied by ``g_b = lr_multiplier``, so the effective
    initial bias is exactly ``bias_init``. ``activation="lrelu"`` is a leaky ReLU with slope 0.2
    followed by a gain of √2.

    Parameters
    ----------
    in_features, out_features : int
        ``>= 1``.
    bias : bool
        Whether to add a bias.
    activation : {'linear', 'lrelu'}
    lr_multiplier : float
        ``> 0``; the mapping network uses 0.01.
    bias_init : float or sequence of float
        Initial effective bias; a sequence must have ``out_features`` entries (the Fourier
        input's affine starts at ``[1, 0, 0, 0]``).
    weight_init : float
        ``>= 0``; scales the initial weight (0 makes the layer output its bias at init).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        activation: str = "linear",
        lr_multiplier: float = 1.0,
        bias_init: float | Sequence[float] = 0.0,
        weight_init: float = 1.0,
    ) -> None:
        super().__init__()
        self.in_features = check_int("in_features", in_features, minimum=1)
        self.out_features = check_int("out_features", out_features, minimum=1)
        self.activation = _check_activation(activation)
        self.lr_multiplier = check_real(
            "lr_multiplier", lr_multiplier, low=0.0, low_inclusive=False
        )
        weight_init = check_real("weight_init", weight_init, low=0.0)
        binit = np.asarray(bias_init, dtype=np.float64)
        if binit.ndim > 1 or (binit.ndim == 1 and binit.shape[0] != self.out_features):
            raise ValueError(
                f"bias_init must be a scalar or have {self.out_features} entries, "
                f"got shape {binit.shape}"
            )
        if not np.all(np.isfinite(binit)):
            raise ValueError("bias_init must be finite (no NaN or infinity)")
        w = torch.randn(self.out_features, self.in_features) * (weight_init / self.lr_multiplier)
        self.weight = nn.Parameter(w)
        if bias:
            b = np.broadcast_to(binit, (self.out_features,)) / self.lr_multiplier
            self.bias = nn.Parameter(torch.tensor(b, dtype=torch.float32))
        else:
            self.register_parameter("bias", None)
        self.weight_gain = self.lr_multiplier / math.sqrt(self.in_features)
        self.bias_gain = self.lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"x must have shape [N, {self.in_features}], got {list(x.shape)}")
        w = self.weight.to(x.dtype) * self.weight_gain
        b = None
        if self.bias is not None:
            b = self.bias.to(x.dtype)
            if self.bias_gain != 1:
                b = b * self.bias_gain
        y = F.linear(x, w, b)
        if self.activation == "lrelu":
            y = F.leaky_relu(y, _LRELU_SLOPE) * _LRELU_GAIN
        return y

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"activation={self.activation}, lr_multiplier={self.lr_multiplier:g}"
        )


class MappingNetwork(nn.Module):
    """z (and optional class label c) → ``num_ws`` copies of the intermediate latent w.

    REFERENCE §3: ``num_layers`` fully connected lrelu layers (2 in StyleGAN3, 8 in StyleGAN2)
    with learning-rate multiplier 0.01. z and the embedded c are each normalised to unit mean
    square before concatenation. During training (``update_emas=True``) the buffer ``w_avg``
    tracks the mean w: ``w_avg ← w_avg + (1 − w_avg_beta)(mean_batch(w) − w_avg)``. Truncation
    (``psi < 1``) replaces ``w`` by ``w_avg + psi (w − w_avg)`` in the first ``truncation_cutoff``
    ws (all of them when None).

    Parameters
    ----------
    z_dim, c_dim : int
        Latent and label sizes, ``>= 0`` each, not both 0.
    w_dim : int
        Size of w, ``>= 1``.
    num_ws : int
        How many copies of w the synthesis network consumes, ``>= 1``.
    num_layers : int
        ``>= 1``.
    lr_multiplier : float
        ``> 0``.
    w_avg_beta : float
        EMA decay of ``w_avg``, in ``[0, 1]``.
    """

    def __init__(
        self,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        num_ws: int,
        num_layers: int = 2,
        lr_multiplier: float = 0.01,
        w_avg_beta: float = 0.998,
    ) -> None:
        super().__init__()
        self.z_dim = check_int("z_dim", z_dim, minimum=0)
        self.c_dim = check_int("c_dim", c_dim, minimum=0)
        if self.z_dim + self.c_dim == 0:
            raise ValueError("z_dim and c_dim must not both be 0")
        self.w_dim = check_int("w_dim", w_dim, minimum=1)
        self.num_ws = check_int("num_ws", num_ws, minimum=1)
        self.num_layers = check_int("num_layers", num_layers, minimum=1)
        self.w_avg_beta = check_real("w_avg_beta", w_avg_beta, low=0.0, high=1.0)
        lr_multiplier = check_real("lr_multiplier", lr_multiplier, low=0.0, low_inclusive=False)

        self.embed = FullyConnected(self.c_dim, self.w_dim) if self.c_dim > 0 else None
        in_features = self.z_dim + (self.w_dim if self.c_dim > 0 else 0)
        dims = [in_features] + [self.w_dim] * self.num_layers
        self.layers = nn.ModuleList(
            FullyConnected(dims[i], dims[i + 1], activation="lrelu", lr_multiplier=lr_multiplier)
            for i in range(self.num_layers)
        )
        self.register_buffer("w_avg", torch.zeros(self.w_dim))

    def forward(
        self,
        z: torch.Tensor | None,
        c: torch.Tensor | None = None,
        psi: float = 1.0,
        truncation_cutoff: int | None = None,
        update_emas: bool | int = False,
    ) -> torch.Tensor:
        """Return ws ``[N, num_ws, w_dim]`` (float32; float64 for a float64 module)."""
        psi = check_real("psi", psi)
        dtype = compute_dtype(self.w_avg)
        parts = []
        n = None
        if self.z_dim > 0:
            if not isinstance(z, torch.Tensor) or z.ndim != 2 or z.shape[1] != self.z_dim:
                got = list(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
                raise ValueError(f"z must be a tensor of shape [N, {self.z_dim}], got {got}")
            parts.append(normalize_2nd_moment(z.to(dtype)))
            n = z.shape[0]
        if self.c_dim > 0:
            if not isinstance(c, torch.Tensor) or c.ndim != 2 or c.shape[1] != self.c_dim:
                got = list(c.shape) if isinstance(c, torch.Tensor) else type(c).__name__
                raise ValueError(f"c must be a tensor of shape [N, {self.c_dim}], got {got}")
            if n is not None and c.shape[0] != n:
                raise ValueError(f"c must have {n} rows like z, got {c.shape[0]}")
            parts.append(normalize_2nd_moment(self.embed(c.to(dtype))))
        elif c is not None and (not isinstance(c, torch.Tensor) or c.numel() > 0):
            # Labels given to an unconditional network are almost surely a mistake (wrong
            # checkpoint, forgotten --labels): silently ignoring them would hide it.
            raise ValueError("this network is unconditional (c_dim = 0): pass c=None, not labels")
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        if x.shape[0] == 0:  # the grouped convolutions downstream fail cryptically on N = 0
            raise ValueError("z (or c) must hold at least one row, got N = 0")
        check_finite(x, "z and c must be finite (no NaN or infinity)")
        # In float32 even under autocast: w sets every style, and w_avg is a float32 running mean.
        with autocast_off(x.device):
            for layer in self.layers:
                x = layer(x)

        if update_emas:
            with torch.no_grad():
                self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))

        ws = x.unsqueeze(1).repeat(1, self.num_ws, 1)
        if psi != 1.0:
            cut = self.num_ws
            if truncation_cutoff is not None:
                cut = check_int("truncation_cutoff", truncation_cutoff, minimum=0)
            ws = ws.clone()
            ws[:, :cut] = self.w_avg.lerp(ws[:, :cut], psi)
        return ws

    def extra_repr(self) -> str:
        return (
            f"z_dim={self.z_dim}, c_dim={self.c_dim}, w_dim={self.w_dim}, "
            f"num_ws={self.num_ws}, w_avg_beta={self.w_avg_beta:g}"
        )


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    demodulate: bool = True,
    padding: int = 0,
    input_gain: torch.Tensor | None = None,
    grouped: bool = True,
) -> torch.Tensor:
    """Per-sample modulated (and optionally demodulated) 2D convolution. REFERENCE §3.

    For sample ``n``: ``w'[o, i] = weight[o, i] · styles[n, i]``; when ``demodulate``,
    ``w'[o] ← w'[o] / sqrt(sum_{i, kh, kw} w'[o, i]² + 1e-8)`` (unit-norm output channels for
    unit-variance input); then the input gain, ``w''[o, i] = w'[o, i] · input_gain[n, i]``
    (after the demodulation, which therefore does not undo it), and
    ``out[n] = conv2d(x[n], w'', padding)`` (a cross-correlation, as
    ``torch.nn.functional.conv2d``). When demodulating, ``weight`` and ``styles`` are first
    normalised to unit RMS (per output channel, resp. per sample), which the demodulation cancels
    mathematically but keeps fp16 in range.

    With the shared normalised weight ``ŵ``, the per-sample input scale ``s'[n, i] = styles[n, i]
    · input_gain[n, i]`` (normalised styles when demodulating) and the demodulation
    ``d[n, o] = 1 / sqrt(Σ_i (Σ_{kh,kw} ŵ[o, i]²) · s[n, i]² + 1e-8)`` (or 1), there are two
    evaluation orders of the same function (equal up to rounding):

    - ``grouped=True``: the modulated weights ``w''`` are formed per sample in float32 (float64
      for a float64 ``x``) as one product ``ŵ[o, i] · s'[n, i] · d[n, o]`` (so that backward
      keeps them only once, in ``x.dtype``), cast to ``x.dtype``, and the batch runs as one
      grouped convolution (groups = N), as the reference implementation;
    - ``grouped=False``: the modulation moves onto the activations (the StyleGAN2 form):
      ``out[n] = d[n] · conv2d(x[n] · s'[n], ŵ)``, so the convolution is an ordinary batched one
      (one weight for all samples: a different algorithm choice for cuDNN, above all for the
      weight gradient). When
      demodulating, ``ŵ`` enters the convolution divided by ``sqrt(I·k·k)`` (and ``d`` multiplied
      by it), so that the convolution's output is of the input's magnitude in fp16 rather than
      ``sqrt(I·k·k)`` times it. The output has the convolution's dtype (that of ``x``, or
      autocast's), as in the grouped order.

    Parameters
    ----------
    x : Tensor
        ``[N, I, H, W]``.
    weight : Tensor
        ``[O, I, k, k]``.
    styles : Tensor
        ``[N, I]``.
    demodulate : bool
    padding : int
        Zero padding on every side, ``>= 0`` (``k − 1`` gives a full convolution).
    input_gain : Tensor or None
        Scalar, ``[I]`` or ``[N, I]``; multiplies the input channels (the magnitude EMA's
        normalisation), folded into the weights (into ``s'`` when not ``grouped``).
    grouped : bool
        The evaluation order (above).

    Returns
    -------
    Tensor
        ``[N, O, H + 2 padding − k + 1, W + 2 padding − k + 1]`` in ``x.dtype``.
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise ValueError(f"x must be a tensor [N, I, H, W], got {_shape(x)}")
    if not isinstance(weight, torch.Tensor) or weight.ndim != 4:
        raise ValueError(f"weight must be a tensor [O, I, k, k], got {_shape(weight)}")
    n, in_ch = x.shape[:2]
    out_ch, w_in, kh, kw = weight.shape
    if w_in != in_ch:
        raise ValueError(f"weight must have {in_ch} input channels like x, got {w_in}")
    if not isinstance(styles, torch.Tensor) or tuple(styles.shape) != (n, in_ch):
        raise ValueError(f"styles must be a tensor of shape [{n}, {in_ch}], got {_shape(styles)}")
    padding = check_int("padding", padding, minimum=0)

    if not isinstance(grouped, bool):
        raise ValueError(f"grouped must be True or False, got {grouped!r}")

    wdt = compute_dtype(x)
    w = weight.to(wdt)  # [O, I, k, k]
    s = styles.to(wdt)
    if demodulate:
        w = w * w.square().mean(dim=[1, 2, 3], keepdim=True).rsqrt()
        # Per sample, so that no sample's output depends on the rest of the batch.
        s = s * s.square().mean(dim=1, keepdim=True).rsqrt()
    gain = None
    if input_gain is not None:
        g = torch.as_tensor(input_gain, dtype=wdt, device=w.device)
        if g.ndim == 0:
            g = g.expand(in_ch)
        if g.ndim == 1:
            g = g.unsqueeze(0)
        if g.ndim != 2 or g.shape[1] != in_ch or g.shape[0] not in (1, n):
            raise ValueError(
                f"input_gain must be a scalar or have shape [{in_ch}] or [{n}, {in_ch}], "
                f"got {list(g.shape)}"
            )
        gain = g.expand(n, in_ch)

    # Both orders take the demodulation d[n, o] from the per-(o, i) energies of ŵ, a [N, I] x
    # [I, O] product: the same sum as over the per-sample weights, without forming them first.
    scale = s if gain is None else s * gain  # s'[n, i]
    d = None
    if demodulate:
        # In the weights' precision even under autocast (which would run the product in bf16:
        # a per-channel scale error of ~0.4 %, systematic across the channel).
        with autocast_off(x.device):
            d = (s.square() @ w.square().sum(dim=[2, 3]).t() + 1e-8).rsqrt()  # [N, O]

    if not grouped:
        fan = in_ch * kh * kw if demodulate else 1
        xs = x * scale.to(x.dtype).reshape(n, in_ch, 1, 1)
        y = F.conv2d(xs, (w * fan**-0.5).to(x.dtype), padding=padding)
        if d is not None:
            y = y * (d * fan**0.5).to(y.dtype).reshape(n, out_ch, 1, 1)
        return y

    # w''[n, o, i] = ŵ[o, i] · (s'[n, i] · d[n, o]): one product of the shared weight with an
    # [N, O, I] coefficient, so that backward keeps that coefficient (and the weights the
    # convolution needs, in its dtype) instead of also a float32 per-sample weight tensor.
    coef = scale.unsqueeze(1) if d is None else scale.unsqueeze(1) * d.unsqueeze(2)  # [N, O|1, I]
    wr = (w.unsqueeze(0) * coef.unsqueeze(-1).unsqueeze(-1)).to(x.dtype)
    xr = x.reshape(1, n * in_ch, *x.shape[2:])
    y = F.conv2d(xr, wr.reshape(n * out_ch, in_ch, kh, kw), padding=padding, groups=n)
    return y.reshape(n, out_ch, *y.shape[2:])


def set_grouped_modconv(model: nn.Module, grouped: bool) -> int:
    """Set the evaluation order of every modulated convolution in ``model`` (the
    ``grouped_modconv`` attribute of its layers, see :func:`modulated_conv2d`; default True).
    Returns the number of layers set. Not part of the saved weights or config: the two orders
    compute the same function, and which is faster depends on the device (benchmarks/)."""
    if not isinstance(grouped, bool):
        raise ValueError(f"grouped must be True or False, got {grouped!r}")
    count = 0
    for m in model.modules():
        if hasattr(m, "grouped_modconv"):
            m.grouped_modconv = grouped
            count += 1
    return count


def autocast_off(device: torch.device):
    """A context computing in the tensors' own dtypes even inside an autocast region (a meta
    tensor has no autocast to leave)."""
    return nullcontext() if device.type == "meta" else torch.autocast(device.type, enabled=False)


def _shape(t: object) -> object:
    return list(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
