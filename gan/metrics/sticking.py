"""Texture sticking, the two panels of the paper's Fig. 1.

- :func:`average_of_neighbourhood`: the mean of images generated from latents in a small
  neighbourhood of ``z``. When details are glued to pixel coordinates ("texture sticking") they
  stay put while the rest moves, and the average keeps them sharp; an equivariant generator
  gives a smooth average.
- :func:`slice_over_interpolation`: one vertical pixel column per step of a latent
  interpolation, stacked left to right. Details that move with the content make slanted or
  curved lines; stuck details make horizontal streaks.
"""

from __future__ import annotations

import torch

from dsp._checks import check_int, check_real

from ._device import run_device
from .video import _one_latent, class_labels, to_uint8

__all__ = ["average_of_neighbourhood", "slice_over_interpolation", "plot_sticking"]


def average_of_neighbourhood(
    G,
    z: torch.Tensor,
    *,
    num: int = 32,
    sigma: float = 0.2,
    psi: float = 1.0,
    transform: torch.Tensor | None = None,
    batch: int = 8,
    seed: int = 0,
    device=None,
    class_idx: int = 0,
) -> torch.Tensor:
    """Mean of ``G(z + sigma·ε_i)``, ``ε_i ~ N(0, I)``, ``i = 1…num`` (Fig. 1, left).

    Parameters
    ----------
    G : generator with the project interface.
    z : Tensor
        ``[z_dim]`` or ``[1, z_dim]`` centre of the neighbourhood.
    num : int
        Number of images averaged, ``>= 1``.
    sigma : float
        Radius of the neighbourhood (standard deviation in z space), ``>= 0``.
    psi, transform
        Truncation and input transform passed to every call of ``G``.
    batch, seed, device
        Images per forward pass; seed of ``ε`` (CPU generator); where to run (default: the
        device ``G`` is on).
    class_idx : int
        Class of a conditional ``G`` (``gan.metrics.video.class_labels``).

    Returns
    -------
    Tensor
        ``[C, H, W]`` float32 on the CPU, accumulated in float64.
    """
    z = _one_latent(z, G.z_dim)
    num = check_int("num", num, minimum=1)
    sigma = check_real("sigma", sigma, low=0.0)
    psi = check_real("psi", psi)
    batch = check_int("batch", batch, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    dev = run_device(G, device)
    gen = torch.Generator().manual_seed(seed)
    G = G.to(dev)
    total = None
    with torch.no_grad():
        for start in range(0, num, batch):
            n = min(batch, num - start)
            zs = z + sigma * torch.randn(n, G.z_dim, generator=gen)
            tf = None if transform is None else transform.to(dev)
            c = class_labels(G, n, class_idx, dev)
            img = G(zs.to(dev), c, psi=psi, transform=tf, noise_mode="const")
            s = img.to(torch.float64).sum(0).cpu()
            total = s if total is None else total + s
    return (total / num).to(torch.float32)


def slice_over_interpolation(
    G,
    z0: torch.Tensor,
    z1: torch.Tensor,
    *,
    steps: int = 64,
    column: int | None = None,
    psi: float = 1.0,
    space: str = "w",
    batch: int = 8,
    device=None,
    class_idx: int = 0,
) -> torch.Tensor:
    """Column ``column`` of each image along the interpolation ``z0 → z1`` (Fig. 1, right).

    Step ``k`` of ``steps`` uses ``u = k / (steps − 1)``: with ``space="w"`` the mapped latents
    are interpolated, ``w = (1 − u)·mapping(z0) + u·mapping(z1)``, and the synthesis network
    renders them; with ``space="z"`` the input latents are interpolated linearly. A conditional
    ``G`` renders class ``class_idx`` (``gan.metrics.video.class_labels``).

    Returns
    -------
    Tensor
        ``[C, H, steps]`` float32 on the CPU: column ``k`` is pixel column ``column`` (default
        the middle one, ``W // 2``) of step ``k``.
    """
    z0 = _one_latent(z0, G.z_dim)
    z1 = _one_latent(z1, G.z_dim)
    steps = check_int("steps", steps, minimum=2)
    batch = check_int("batch", batch, minimum=1)
    psi = check_real("psi", psi)
    if space not in ("w", "z"):
        raise ValueError(f"space must be 'w' or 'z', got {space!r}")
    res = int(G.res)
    if column is None:
        column = res // 2
    else:
        column = check_int("column", column)
        if not 0 <= column < res:
            raise ValueError(f"column must be in 0..{res - 1} (a pixel column), got {column}")
    dev = run_device(G, device)
    G = G.to(dev)
    u = torch.linspace(0.0, 1.0, steps)[:, None]
    cols = []
    with torch.no_grad():
        if space == "w":
            c = class_labels(G, 2, class_idx, dev)
            ws = G.mapping(torch.cat([z0, z1]).to(dev), c, psi=psi)
            w0, w1 = ws[:1], ws[1:]
        for start in range(0, steps, batch):
            uu = u[start : start + batch].to(dev)
            n = uu.shape[0]
            if space == "w":
                w = (1 - uu[:, :, None]) * w0 + uu[:, :, None] * w1
                img = G.synthesis(w, noise_mode="const")
            else:
                z = (1 - uu) * z0.to(dev) + uu * z1.to(dev)
                img = G(z, class_labels(G, n, class_idx, dev), psi=psi, noise_mode="const")
            cols.append(img[:, :, :, column].to(torch.float32).cpu())
    return torch.cat(cols).permute(1, 2, 0).contiguous()


def plot_sticking(
    average: torch.Tensor,
    slice_: torch.Tensor,
    *,
    title: str | None = None,
    column: int | None = None,
):
    """Figure with the two panels: the neighbourhood average and the interpolation slice.

    Both inputs are ``[C, H, W]`` in ``[-1, 1]`` (outputs of :func:`average_of_neighbourhood`
    and :func:`slice_over_interpolation`); ``column`` marks the sliced column on the average.
    Returns a matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt

    a = to_uint8(average)
    s = to_uint8(slice_)
    fig, axes = plt.subplots(1, 2, figsize=(8, 4), gridspec_kw={"width_ratios": [1, 1]})
    cmap = "gray" if a.shape[-1] == 1 else None
    axes[0].imshow(a[..., 0] if cmap else a, cmap=cmap, interpolation="nearest")
    axes[0].set_title("average over a latent neighbourhood")
    if column is not None:
        axes[0].axvline(column, color="red", lw=0.8, alpha=0.7)
    axes[1].imshow(s[..., 0] if cmap else s, cmap=cmap, interpolation="nearest", aspect="auto")
    axes[1].set_title("pixel column over a latent interpolation")
    axes[1].set_xlabel("interpolation step")
    axes[1].set_ylabel("row")
    axes[0].set_xticks([])
    axes[0].set_yticks([])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
