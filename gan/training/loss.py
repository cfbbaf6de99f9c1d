"""GAN losses and the small per-step schedules of training (REFERENCE §6).

- Non-saturating logistic loss: G minimises ``softplus(−D(G(z)))``, D minimises
  ``softplus(D(G(z))) + softplus(−D(x))``.
- Lazy R1 on reals: every ``r1_interval`` steps D also minimises
  ``r1_interval · γ/2 · ‖∇ₓ D(x)‖²`` (mean over the batch); D's Adam then runs with
  ``lr·I/(I+1)`` and ``β ** (I/(I+1))`` (:func:`lazy_adam_hyperparams`).
- D's inputs (reals and fakes alike) are blurred (config R, :func:`gaussian_blur`, σ from
  :func:`blur_sigma_at`) and then augmented (ADA) before D sees them.
- G EMA with half-life ``ema_kimg`` and ramp-up (:func:`ema_beta`, :func:`update_ema`).
- The StyleGAN2 baseline's regularisers (Karras et al. 2020, "Analyzing and Improving the Image
  Quality of StyleGAN", Sec. 2.2 and 3.2): style mixing (with probability ``p`` a batch's ws
  come from a second latent from a random layer ``k ∈ [1, num_ws)`` on) and lazy path-length
  regularisation every ``pl_interval`` steps: G also minimises ``pl_interval · w_pl ·
  mean_n (‖J_wᵀ y‖₂ − a)²`` with ``J_w`` the Jacobian of the image with respect to ws (per
  sample, ``‖·‖₂`` over the ws' entries averaged over the ``num_ws`` copies before the square
  root), ``y`` Gaussian noise of std ``1/sqrt(H·W)`` and ``a`` the running mean of the lengths
  (decay ``pl_decay``), on ``batch // pl_batch_shrink`` samples; G's Adam then runs with
  ``lr·I/(I+1)`` and ``β ** (I/(I+1))``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from dsp._checks import check_int, check_real

__all__ = [
    "gaussian_taps",
    "gaussian_blur",
    "blur_sigma_at",
    "ema_beta",
    "update_ema",
    "lazy_adam_hyperparams",
    "mixing_cutoff",
    "GANLoss",
]


def gaussian_taps(sigma: float) -> torch.Tensor:
    """Normalised 1-D Gaussian taps ``exp(−k²/(2σ²)) / Σ``, ``k = −r…r``, ``r = ceil(3σ)``
    (float64; σ in pixels, > 0).

    σ is the standard deviation, as REFERENCE §6 states the blur ("Gaussian σ = 10 px"). The
    reference implementation's kernel is ``exp2(−(k/σ)²)`` with ``r = floor(3σ)``: a standard
    deviation of ``σ/sqrt(2 ln 2) ≈ 0.85σ``, and no blur below σ = 1/3. So the same
    ``blur_sigma`` blurs about 18 % wider here; ``0.85·blur_sigma`` reproduces the reference's.
    """
    sigma = check_real("sigma", sigma, low=0.0, low_inclusive=False)
    r = max(1, math.ceil(3 * sigma))
    k = torch.arange(-r, r + 1, dtype=torch.float64)
    f = torch.exp(-(k**2) / (2 * sigma**2))
    return f / f.sum()


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur ``[N, C, H, W]`` images with a separable Gaussian of std ``sigma`` pixels.

    Zero padding outside the image (``0`` is mid-grey for images in ``[-1, 1]``), output the
    size of the input. ``sigma == 0`` returns ``images`` itself. Differentiable.
    """
    sigma = check_real("sigma", sigma, low=0.0)
    if sigma == 0:
        return images
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise ValueError("images must be a tensor [N, C, H, W]")
    f = gaussian_taps(sigma).to(images.device, images.dtype)
    c, r = images.shape[1], f.numel() // 2
    fx = f.view(1, 1, 1, -1).expand(c, 1, 1, -1)
    fy = f.view(1, 1, -1, 1).expand(c, 1, -1, 1)
    x = F.conv2d(images, fx, padding=(0, r), groups=c)
    return F.conv2d(x, fy, padding=(r, 0), groups=c)


def blur_sigma_at(cur_nimg: int, sigma0: float, fade_kimg: float) -> float:
    """σ of D's input blur after ``cur_nimg`` images: ``σ0·max(1 − cur_nimg/(fade_kimg·1000),
    0)`` (linear fade-out; ``fade_kimg <= 0`` disables the blur)."""
    if sigma0 <= 0 or fade_kimg <= 0:
        return 0.0
    return float(sigma0) * max(1.0 - cur_nimg / (fade_kimg * 1000.0), 0.0)


def ema_beta(batch: int, cur_nimg: int, ema_kimg: float, ema_rampup: float | None) -> float:
    """EMA decay per step: ``β = 0.5 ** (batch / ema_nimg)`` with the half-life
    ``ema_nimg = ema_kimg·1000`` images, limited to ``cur_nimg·ema_rampup`` during the ramp-up
    (so ``β = 0`` at the very first step: the EMA starts as a copy of G)."""
    batch = check_int("batch", batch, minimum=1)
    ema_nimg = ema_kimg * 1000.0
    if ema_rampup is not None:
        ema_nimg = min(ema_nimg, cur_nimg * ema_rampup)
    return 0.5 ** (batch / max(ema_nimg, 1e-8))


@torch.no_grad()
def update_ema(G: nn.Module, G_ema: nn.Module, beta: float) -> None:
    """``p_ema ← p + β·(p_ema − p)`` for every parameter; buffers (w_avg, magnitude EMAs,
    Fourier features) are copied from ``G``."""
    for p, p_ema in zip(G.parameters(), G_ema.parameters(), strict=True):
        p_ema.copy_(p.detach().lerp(p_ema, beta))
    for b, b_ema in zip(G.buffers(), G_ema.buffers(), strict=True):
        b_ema.copy_(b)


def lazy_adam_hyperparams(
    lr: float, betas: tuple[float, float], interval: int | None
) -> tuple[float, tuple[float, float]]:
    """Adam's lr and betas for a network regularised lazily every ``interval`` steps:
    ``lr·I/(I+1)`` and ``β ** (I/(I+1))`` (unchanged for ``interval`` None)."""
    if interval is None:
        return lr, betas
    interval = check_int("interval", interval, minimum=1)
    ratio = interval / (interval + 1)
    return lr * ratio, (betas[0] ** ratio, betas[1] ** ratio)


def mixing_cutoff(prob: float, num_ws: int, generator: torch.Generator | None = None) -> int:
    """The first ws index that takes the second latent's w in a style-mixed batch: ``num_ws``
    (no mixing) with probability ``1 − prob``, else uniform in ``[1, num_ws)`` (always
    ``num_ws`` when there is only one w). Draws two numbers from ``generator`` whenever
    ``prob > 0``, so the draws that follow do not depend on the outcome."""
    cut = int(torch.randint(1, max(num_ws, 2), (), generator=generator))
    mix = float(torch.rand((), generator=generator)) < prob
    return cut if mix and num_ws > 1 else num_ws


class GANLoss:
    """The three loss terms of one training step, with blur and augmentation before D.

    Parameters
    ----------
    G, D : nn.Module
        Generator ``G(z, c, update_emas=, noise_mode=)`` (called with ``noise_mode="random"``)
        and discriminator ``D(img, c) -> [N, 1]``.
    augment_pipe : callable, optional
        ``augment_pipe(images, generator=gen)`` applied to every image D sees (reals and fakes).
    r1_gamma : float
        R1 weight γ (>= 0).
    r1_interval : int
        Lazy R1 interval I: the penalty is weighted by I.
    autocast : callable, optional
        Context manager factory for mixed precision around the forward passes.
    ema_images : int, optional
        Images one update of G's running statistics (its layers' magnitude EMAs) stands for:
        the global batch when each process generates a shard of it (the decay per step then
        follows the global batch, REFERENCE §3); None: the local batch.
    style_mixing : float
        Probability of a style-mixed batch, in ``[0, 1]`` (G must have ``mapping`` and
        ``synthesis`` when > 0).
    pl_weight : float
        Path-length regularisation weight ``w_pl`` (>= 0; 0: :meth:`loss_Gpl` is never due).
    pl_interval : int
        Lazy interval of the path-length penalty (the loss is weighted by it).
    pl_batch_shrink : int
        The penalty runs on ``batch // pl_batch_shrink`` samples (at least 1).
    pl_decay : float
        Decay of the running mean length ``a`` per penalty step, in ``(0, 1]``.
    reduce_mean : callable, optional
        ``reduce_mean(t)``: the mean of a scalar tensor over the processes (distributed runs),
        so that every rank keeps the same ``a``; None: this process's value.

    Attributes
    ----------
    pl_mean : float
        The running mean path length ``a`` (0 before the first penalty step; part of the
        training state).
    """

    def __init__(
        self,
        G: nn.Module,
        D: nn.Module,
        *,
        augment_pipe=None,
        r1_gamma: float = 0.0,
        r1_interval: int = 16,
        autocast=None,
        ema_images: int | None = None,
        style_mixing: float = 0.0,
        pl_weight: float = 0.0,
        pl_interval: int = 4,
        pl_batch_shrink: int = 2,
        pl_decay: float = 0.01,
        reduce_mean=None,
    ) -> None:
        self.G = G
        self.ema_images = (
            None if ema_images is None else check_int("ema_images", ema_images, minimum=1)
        )
        self.D = D
        self.augment_pipe = augment_pipe
        self.r1_gamma = check_real("r1_gamma", r1_gamma, low=0.0)
        self.r1_interval = check_int("r1_interval", r1_interval, minimum=1)
        self.autocast = autocast
        self.style_mixing = check_real("style_mixing", style_mixing, low=0.0, high=1.0)
        self.pl_weight = check_real("pl_weight", pl_weight, low=0.0)
        self.pl_interval = check_int("pl_interval", pl_interval, minimum=1)
        self.pl_batch_shrink = check_int("pl_batch_shrink", pl_batch_shrink, minimum=1)
        self.pl_decay = check_real("pl_decay", pl_decay, low=0.0, high=1.0, low_inclusive=False)
        self.reduce_mean = reduce_mean
        self.pl_mean = 0.0

    def _ctx(self):
        import contextlib

        return self.autocast() if self.autocast is not None else contextlib.nullcontext()

    def run_G(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None,
        *,
        update_emas: bool | int,
        generator: torch.Generator | None = None,
        return_ws: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``G(z, c)`` as float32, style-mixed with probability ``style_mixing`` (the second
        latent and the cutoff drawn from ``generator``); with ``return_ws`` also the ws the
        synthesis saw (part of the autograd graph: the path-length penalty differentiates
        the image with respect to them)."""
        # Fresh per-pixel noise for every sample (StyleGAN2 trains so; the baseline's constant
        # noise is for generating fixed images). The alias-free generators have no noise.
        with self._ctx():
            if self.style_mixing == 0 and not return_ws:
                return self.G(z, c, update_emas=update_emas, noise_mode="random").float()
            G = self.G
            ws = G.mapping(z, c, update_emas=update_emas)
            if self.style_mixing > 0:
                cut = mixing_cutoff(self.style_mixing, ws.shape[1], generator)
                # Drawn whether used or not, so the draws after it do not depend on the coin.
                z2 = torch.randn(z.shape, generator=generator)
                if cut < ws.shape[1]:
                    # The second latent's w does not enter w_avg (as in StyleGAN2).
                    ws2 = G.mapping(z2.to(z.device, z.dtype), c, update_emas=False)
                    ws = torch.cat([ws[:, :cut], ws2[:, cut:]], dim=1)
            img = G.synthesis(ws, update_emas=update_emas, noise_mode="random").float()
        return (img, ws) if return_ws else img

    def run_D(
        self,
        img: torch.Tensor,
        c: torch.Tensor | None,
        *,
        blur_sigma: float,
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        """``D(augment(blur(img)))`` as float32 ``[N, 1]``."""
        img = gaussian_blur(img, blur_sigma)
        if self.augment_pipe is not None:
            img = self.augment_pipe(img, generator=generator)
        with self._ctx():
            return self.D(img, c).float()

    def loss_G(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None,
        *,
        blur_sigma: float,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Non-saturating G loss ``mean softplus(−D(G(z)))``."""
        fake = self.run_G(z, c, update_emas=False, generator=generator)
        logits = self.run_D(fake, c, blur_sigma=blur_sigma, generator=generator)
        loss = F.softplus(-logits).mean()
        return loss, {"loss_G": float(loss.detach()), "logits_fake_G": _mean(logits)}

    def loss_D(
        self,
        real: torch.Tensor,
        c_real: torch.Tensor | None,
        z: torch.Tensor,
        c: torch.Tensor | None,
        *,
        blur_sigma: float,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """D loss ``mean softplus(D(G(z))) + mean softplus(−D(x))``; returns
        ``(loss, real_logits, stats)`` (the real logits steer ADA). G runs without gradients
        and with ``update_emas=True``."""
        with torch.no_grad():
            fake = self.run_G(z, c, update_emas=self.ema_images or True, generator=generator)
        logits_fake = self.run_D(fake, c, blur_sigma=blur_sigma, generator=generator)
        logits_real = self.run_D(real, c_real, blur_sigma=blur_sigma, generator=generator)
        loss_fake = F.softplus(logits_fake).mean()
        loss_real = F.softplus(-logits_real).mean()
        stats = {
            "loss_D_fake": float(loss_fake.detach()),
            "loss_D_real": float(loss_real.detach()),
            "logits_fake": _mean(logits_fake),
            "logits_real": _mean(logits_real),
        }
        stats["loss_D"] = stats["loss_D_fake"] + stats["loss_D_real"]
        return loss_fake + loss_real, logits_real.detach(), stats

    def loss_Gpl(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None,
        *,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Lazy path-length penalty ``I · w_pl · mean_n (L_n − a)²`` on the first
        ``len(z) // pl_batch_shrink`` latents, ``L_n = sqrt(mean_k ‖(J_wᵀ y)_{n,k}‖²)`` (``k``
        over the ws copies, as StyleGAN2's code does), ``y ~ N(0, 1/(H·W))`` drawn from
        ``generator`` when it is on the image's device (else from that device's global
        generator, which a training step seeds); updates
        :attr:`pl_mean` (``a ← a + pl_decay·(mean_n L_n − a)``, the mean over all processes)
        before the penalty uses it."""
        n = max(z.shape[0] // self.pl_batch_shrink, 1)
        img, ws = self.run_G(
            z[:n], None if c is None else c[:n], update_emas=False, generator=generator,
            return_ws=True,
        )  # fmt: skip
        h, w = img.shape[2], img.shape[3]
        if generator is not None and generator.device == img.device:
            noise = torch.randn(img.shape, generator=generator, device=img.device)
        else:
            # The device's own (per-step seeded) generator: a full-size image of CPU draws
            # copied to the GPU every few steps would make the host wait (192 MiB at 1024 px).
            noise = torch.randn(img.shape, device=img.device)
        noise = noise / math.sqrt(h * w)
        (grad,) = torch.autograd.grad((img * noise).sum(), ws, create_graph=True)
        lengths = grad.float().square().sum(dim=2).mean(dim=1).sqrt()
        batch_mean = lengths.detach().mean()
        if self.reduce_mean is not None:
            batch_mean = self.reduce_mean(batch_mean)
        self.pl_mean += self.pl_decay * (float(batch_mean) - self.pl_mean)
        penalty = (lengths - self.pl_mean).square()
        # img·0 gives every G parameter a (zero) gradient, as in loss_R1.
        loss = penalty.mean() * self.pl_weight * self.pl_interval + img.mean() * 0
        stats = {
            "pl_penalty": float(penalty.detach().mean()),
            "pl_mean": self.pl_mean,
            "loss_Gpl": float(loss.detach()),
        }
        return loss, stats

    def loss_R1(
        self,
        real: torch.Tensor,
        c_real: torch.Tensor | None,
        *,
        blur_sigma: float,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Lazy R1: ``I · γ/2 · mean_n ‖∇ₓ D(x_n)‖²`` with ``x`` the reals before blur and
        augmentation (the gradient flows through both)."""
        x = real.detach().requires_grad_(True)
        logits = self.run_D(x, c_real, blur_sigma=blur_sigma, generator=generator)
        (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
        penalty = grad.square().sum(dim=[1, 2, 3])
        # logits·0 gives every D parameter a (zero) gradient, so Adam steps all of them as in
        # the reference implementation, and every rank reduces the same set of gradients.
        loss = penalty.mean() * (self.r1_gamma / 2) * self.r1_interval + logits.mean() * 0
        return loss, {"r1_penalty": float(penalty.detach().mean()), "loss_R1": float(loss.detach())}


def _mean(t: torch.Tensor) -> float:
    return float(t.detach().float().mean())
