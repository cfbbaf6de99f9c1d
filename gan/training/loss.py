"""GAN losses and the small per-step schedules of training (REFERENCE §6).

- Non-saturating logistic loss: G minimises ``softplus(−D(G(z)))``, D minimises
  ``softplus(D(G(z))) + softplus(−D(x))``.
- Lazy R1 on reals: every ``r1_interval`` steps D also minimises
  ``r1_interval · γ/2 · ‖∇ₓ D(x)‖²`` (mean over the batch); D's Adam then runs with
  ``lr·I/(I+1)`` and ``β ** (I/(I+1))`` (:func:`lazy_adam_hyperparams`).
- D's inputs (reals and fakes alike) are blurred (config R, :func:`gaussian_blur`, σ from
  :func:`blur_sigma_at`) and then augmented (ADA) before D sees them.
- G EMA with half-life ``ema_kimg`` and ramp-up (:func:`ema_beta`, :func:`update_ema`).
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

    def _ctx(self):
        import contextlib

        return self.autocast() if self.autocast is not None else contextlib.nullcontext()

    def run_G(
        self, z: torch.Tensor, c: torch.Tensor | None, *, update_emas: bool | int
    ) -> torch.Tensor:
        # Fresh per-pixel noise for every sample (StyleGAN2 trains so; the baseline's constant
        # noise is for generating fixed images). The alias-free generators have no noise.
        with self._ctx():
            return self.G(z, c, update_emas=update_emas, noise_mode="random").float()

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
        fake = self.run_G(z, c, update_emas=False)
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
            fake = self.run_G(z, c, update_emas=self.ema_images or True)
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
