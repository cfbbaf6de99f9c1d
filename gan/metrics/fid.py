"""Fréchet Inception Distance (FID) and Kernel Inception Distance (KID) with the standard
definitions, from a user-supplied TorchScript feature extractor (nothing is downloaded).

FID (Heusel et al. 2017): fit a Gaussian ``N(μ, Σ)`` to each feature set (sample mean,
unbiased covariance) and report the Fréchet distance between them::

    FID = ‖μ_r − μ_g‖² + Tr(Σ_r + Σ_g − 2 (Σ_r Σ_g)^{1/2})

with the principal matrix square root (``scipy.linalg.sqrtm``), real part.

KID (Bińkowski et al. 2018): the unbiased estimate of the squared maximum mean discrepancy with
the cubic polynomial kernel ``k(x, y) = (xᵀy / d + 1)³`` (``d`` = feature dimension), averaged
over random subsets of ``m`` real and ``m`` generated features::

    MMD²_u = Σ_{i≠j} k(x_i, x_j) / (m(m−1)) + Σ_{i≠j} k(y_i, y_j) / (m(m−1))
             − 2 Σ_{i,j} k(x_i, y_j) / m²

The usual extractor is the TorchScript "inception-2015-12-05" network used by the StyleGAN
papers; it takes uint8-valued images ``[N, 3, H, W]`` of any size and returns 2048-d pool
features when called with ``return_features=True``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import scipy.linalg
import torch

from dsp._checks import as_finite_array, check_int, check_real

__all__ = [
    "load_feature_extractor",
    "extract_features",
    "dataset_features",
    "generator_features",
    "fid_from_features",
    "kid_from_features",
    "compute_fid_kid",
]

_NEED_EXTRACTOR = (
    "FID/KID need a feature extractor: pass --fid-extractor FILE, a TorchScript network such "
    "as inception-2015-12-05.pt (nothing is downloaded)"
)


def load_feature_extractor(
    path: str | os.PathLike | None, device: torch.device | str = "cpu"
) -> torch.jit.ScriptModule:
    """Load a TorchScript feature extractor (``torch.jit.load``) in eval mode on ``device``.

    Raises
    ------
    ValueError
        ``path`` is None or empty (FID/KID need ``--fid-extractor FILE``), does not exist, is not
        a file, or is not a TorchScript archive.
    """
    if path is None or (isinstance(path, str) and not path.strip()):
        raise ValueError(_NEED_EXTRACTOR)
    p = Path(path)
    if not p.exists():
        raise ValueError(f"{_NEED_EXTRACTOR}; the feature extractor {str(p)!r} does not exist")
    if not p.is_file():
        raise ValueError(f"the feature extractor {str(p)!r} is not a file")
    try:
        with warnings.catch_warnings():
            # The published extractors are TorchScript archives, which torch now flags as
            # deprecated on every load; the warning says nothing the user can act on.
            warnings.filterwarnings("ignore", category=DeprecationWarning, module="torch")
            module = torch.jit.load(str(p), map_location=device)
    except Exception as exc:  # torch raises RuntimeError or its own types for bad archives
        hint = ""
        if p.suffix.lower() == ".pkl":
            # StyleGAN3's own metrics load a pickled network; this loader takes no pickle.
            hint = (
                "; a .pkl (StyleGAN3's pickled detector) cannot be used: take the TorchScript "
                "inception-2015-12-05.pt that stylegan2-ada-pytorch's metrics use"
            )
        raise ValueError(
            f"the feature extractor {str(p)!r} is not a TorchScript archive ({exc}){hint}"
        ) from exc
    return module.eval()


def _accepts_return_features(extractor: Any) -> bool:
    # The inception TorchScript returns logits unless asked for the pool features.
    try:
        schema = extractor.forward.schema
    except AttributeError:
        return False
    return any(a.name == "return_features" for a in schema.arguments)


def _as_uint8_batch(images: object) -> torch.Tensor:
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"images must be a uint8 tensor or array, got {type(images).__name__}")
    if images.dtype != torch.uint8:
        raise ValueError(f"images must be uint8 [N, C, H, W], got dtype {images.dtype}")
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(
            f"images must have shape [N, C, H, W] with C = 1 or 3, got {tuple(images.shape)}"
        )
    return images


@torch.no_grad()
def extract_features(
    extractor: Any,
    images: torch.Tensor | np.ndarray,
    batch: int = 64,
    device: torch.device | str | None = None,
) -> np.ndarray:
    """Features of uint8 images, float64 ``[N, D]``.

    The extractor receives uint8 ``[n, 3, H, W]`` batches (single-channel images repeated to
    three channels), plus ``return_features=True`` when its ``forward`` takes that argument (as
    the inception TorchScript does), and must return ``[n, D]`` (or ``[n, D, 1, 1]``).

    Parameters
    ----------
    extractor
        A callable module (see :func:`load_feature_extractor`).
    images : Tensor or ndarray
        uint8 ``[N, C, H, W]``, ``C`` 1 or 3.
    batch : int
        Images per call, >= 1.
    device
        Where to run; the extractor is moved there (in place) if its parameters live elsewhere.
        Default: the extractor's parameters' device (CPU if it has none).
    """
    x = _as_uint8_batch(images)
    batch = check_int("batch", batch, minimum=1)
    if device is not None:
        dev = torch.device(device)
        if isinstance(extractor, torch.nn.Module) and _module_device(extractor) != dev:
            extractor.to(dev)  # in place: the caller's extractor stays on dev afterwards
    else:
        dev = _module_device(extractor)
    kwargs = {"return_features": True} if _accepts_return_features(extractor) else {}
    out = []
    for start in range(0, x.shape[0], batch):
        chunk = x[start : start + batch].to(dev)
        if chunk.shape[1] == 1:
            chunk = chunk.repeat(1, 3, 1, 1)
        f = extractor(chunk, **kwargs)
        if not isinstance(f, torch.Tensor):
            raise ValueError(f"the feature extractor must return a tensor, got {type(f).__name__}")
        f = f.reshape(f.shape[0], -1) if f.ndim > 2 and all(s == 1 for s in f.shape[2:]) else f
        if f.ndim != 2 or f.shape[0] != chunk.shape[0]:
            raise ValueError(
                f"the feature extractor must return [N, D] features, got {tuple(f.shape)}"
            )
        out.append(f.detach().to("cpu", torch.float64))
    feats = torch.cat(out).numpy() if out else np.zeros((0, 0))
    if not np.all(np.isfinite(feats)):
        raise ValueError("the feature extractor returned NaN or infinite features")
    return feats


def _module_device(module: Any) -> torch.device:
    try:
        return next(iter(module.parameters())).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")


def _check_pair(f_real: object, f_fake: object, min_rows: int) -> tuple[np.ndarray, np.ndarray]:
    a = as_finite_array("f_real", f_real, ndim=2)
    b = as_finite_array("f_fake", f_fake, ndim=2)
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"f_real and f_fake must have the same feature dimension, got {a.shape[1]} and "
            f"{b.shape[1]}"
        )
    for name, f in (("f_real", a), ("f_fake", b)):
        if f.shape[0] < min_rows:
            raise ValueError(f"{name} must have at least {min_rows} rows, got {f.shape[0]}")
    return a, b


def fid_from_features(f_real: np.ndarray, f_fake: np.ndarray) -> float:
    """Fréchet distance between Gaussians fit to two feature sets (standard FID).

    ``‖μ_r − μ_g‖² + Tr(Σ_r + Σ_g − 2 (Σ_r Σ_g)^{1/2})`` with sample means, unbiased
    covariances (``N − 1``) and the real part of ``scipy.linalg.sqrtm``; float64 throughout.
    Fewer samples than dimensions give singular covariances (the value is then biased high, as
    any small-sample FID); should ``sqrtm`` fail to return a finite root, it is retried with
    ``10⁻⁶·I`` added to both covariances.

    Parameters
    ----------
    f_real, f_fake : array-like
        ``[N_r, D]`` and ``[N_g, D]`` features, at least 2 rows each, finite.
    """
    a, b = _check_pair(f_real, f_fake, 2)
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    with warnings.catch_warnings():
        # With fewer samples than feature dimensions (quick snapshots: hundreds of images,
        # 2048-d features) the covariances are singular by construction; sqrtm still returns
        # the principal root, and warning at every snapshot would only be noise.
        warnings.filterwarnings("ignore", category=scipy.linalg.LinAlgWarning)
        root = scipy.linalg.sqrtm(cov_a @ cov_b)
        if not np.all(np.isfinite(root)):
            # The usual remedy (as in pytorch-fid): regularise both covariances slightly.
            eps = 1e-6 * np.eye(cov_a.shape[0])
            root = scipy.linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    diff = mu_a - mu_b
    value = diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(np.real(root))
    return float(value)


def kid_from_features(
    f_real: np.ndarray,
    f_fake: np.ndarray,
    num_subsets: int = 100,
    max_subset_size: int = 1000,
    seed: int = 0,
) -> float:
    """KID: the unbiased MMD² with the kernel ``(xᵀy / d + 1)³``, mean over random subsets.

    Each subset draws ``m = min(N_r, N_g, max_subset_size)`` rows of each set without
    replacement (``numpy.random.default_rng(seed)``); see the module docstring for the
    estimator. Unbiased, so it can be slightly negative for matching distributions.

    Parameters
    ----------
    f_real, f_fake : array-like
        ``[N_r, D]`` and ``[N_g, D]`` features, at least 2 rows each, finite.
    num_subsets : int
        Number of subsets, >= 1.
    max_subset_size : int
        Largest subset size, >= 2.
    seed : int
        Seed of the subset draws, >= 0.
    """
    a, b = _check_pair(f_real, f_fake, 2)
    num_subsets = check_int("num_subsets", num_subsets, minimum=1)
    max_subset_size = check_int("max_subset_size", max_subset_size, minimum=2)
    seed = check_int("seed", seed, minimum=0)
    d = a.shape[1]
    m = min(a.shape[0], b.shape[0], max_subset_size)
    rng = np.random.default_rng(seed)
    total = 0.0
    for _ in range(num_subsets):
        x = a[rng.choice(a.shape[0], m, replace=False)]
        y = b[rng.choice(b.shape[0], m, replace=False)]
        kxx = (x @ x.T / d + 1.0) ** 3
        kyy = (y @ y.T / d + 1.0) ** 3
        kxy = (x @ y.T / d + 1.0) ** 3
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        total += within - 2.0 * kxy.sum() / (m * m)
    return float(total / num_subsets)


def _dataset_batches(dataset: Any, count: int, batch: int) -> Iterator[torch.Tensor]:
    for start in range(0, count, batch):
        items = []
        for i in range(start, min(start + batch, count)):
            img = dataset[i][0]
            img = torch.as_tensor(np.asarray(img)) if not isinstance(img, torch.Tensor) else img
            if img.dtype != torch.uint8 or img.ndim != 3:
                raise ValueError(
                    f"dataset item {i} must hold a uint8 [C, H, W] image, got "
                    f"{img.dtype} {tuple(img.shape)}"
                )
            items.append(img)
        yield torch.stack(items)


def dataset_features(
    dataset: Any,
    extractor: Any,
    batch: int = 64,
    device: torch.device | str | None = None,
    max_items: int | None = None,
) -> np.ndarray:
    """Features of the first ``max_items`` (default all) images of ``dataset``, ``[N, D]``.

    ``dataset`` has ``__len__`` and ``__getitem__(i) -> (uint8 [C, H, W], label)`` (as
    ``gan.training.data.ImageDataset``). Its mirrored copies are left out (a dataset with
    ``num_images`` counts only those; ``ImageDataset`` puts the x-flips after them), as the
    standard FID of a dataset is taken on its images as they are. Compute once and pass to
    :func:`compute_fid_kid` as ``real_features`` to reuse across snapshots.
    """
    n = int(getattr(dataset, "num_images", len(dataset)))
    if max_items is not None:
        n = min(n, check_int("max_items", max_items, minimum=1))
    if n < 2:
        raise ValueError(f"dataset must hold at least 2 images for FID/KID, got {n}")
    batch = check_int("batch", batch, minimum=1)
    parts = [
        extract_features(extractor, imgs, batch, device)
        for imgs in _dataset_batches(dataset, n, batch)
    ]
    return np.concatenate(parts)


def _images_to_uint8(images: torch.Tensor) -> torch.Tensor:
    # Same rounding as gan.metrics.video.to_uint8: round((x + 1)·127.5), clipped.
    return ((images.detach().float() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)


@torch.no_grad()
def generator_features(
    G: torch.nn.Module,
    extractor: Any,
    num_gen: int,
    batch: int = 64,
    device: torch.device | str | None = None,
    psi: float = 1.0,
    seed: int = 0,
    dataset: Any = None,
) -> np.ndarray:
    """Features of ``num_gen`` images ``G(z, c, psi=psi)``, ``z ~ N(0, I)`` from a CPU generator
    seeded with ``seed``.

    For a conditional ``G`` (``c_dim > 0``) the labels ``c`` are those of random ``dataset``
    items (the training label distribution); ``dataset`` is then required.
    """
    num_gen = check_int("num_gen", num_gen, minimum=2)
    batch = check_int("batch", batch, minimum=1)
    psi = check_real("psi", psi)
    seed = check_int("seed", seed, minimum=0)
    dev = torch.device(device) if device is not None else _module_device(G)
    gen = torch.Generator().manual_seed(seed)
    c_dim = int(getattr(G, "c_dim", 0) or 0)
    if c_dim and dataset is None:
        raise ValueError("dataset is needed for the labels of a conditional generator")
    was_training = G.training
    G.eval()
    try:
        parts = []
        for start in range(0, num_gen, batch):
            n = min(batch, num_gen - start)
            z = torch.randn(n, G.z_dim, generator=gen).to(dev)
            c = None
            if c_dim:
                idx = torch.randint(len(dataset), (n,), generator=gen).tolist()
                c = torch.stack([torch.as_tensor(dataset[i][1]) for i in idx]).float().to(dev)
            img = G(z, c, psi=psi)
            parts.append(extract_features(extractor, _images_to_uint8(img).cpu(), batch, device))
    finally:
        G.train(was_training)
    return np.concatenate(parts)


def compute_fid_kid(
    G: torch.nn.Module,
    dataset: Any,
    extractor: Any,
    num_gen: int,
    batch: int = 64,
    device: torch.device | str | None = None,
    psi: float = 1.0,
    *,
    real_features: np.ndarray | None = None,
    max_real: int | None = None,
    seed: int = 0,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
) -> dict[str, float]:
    """FID and KID between ``dataset`` and ``num_gen`` images of ``G``.

    Parameters
    ----------
    G : nn.Module
        Generator with the project's interface ``G(z, c, psi=)``, images in ``[-1, 1]``,
        converted to uint8 as ``round((x + 1)·127.5)``.
    dataset
        ``__len__`` and ``__getitem__(i) -> (uint8 [C, H, W], label)``.
    extractor
        Feature extractor (see :func:`load_feature_extractor` and :func:`extract_features`).
    num_gen : int
        Generated images, >= 2 (the papers use 50 000).
    batch : int
        Batch size for generation and feature extraction.
    device
        Where G and the extractor run (default G's device).
    psi : float
        Truncation.
    real_features : ndarray, optional
        Precomputed :func:`dataset_features` (reused across snapshots); else computed here from
        the first ``max_real`` (default all) dataset images.
    seed : int
        Seed of the latents and of the KID subsets.
    kid_subsets, kid_subset_size : int
        KID's number of subsets and largest subset size.

    Returns
    -------
    dict
        ``{"fid": float, "kid": float, "num_real": int, "num_gen": int}``.
    """
    if real_features is None:
        real_features = dataset_features(dataset, extractor, batch, device, max_items=max_real)
    f_real = as_finite_array("real_features", real_features, ndim=2)
    f_fake = generator_features(G, extractor, num_gen, batch, device, psi, seed, dataset)
    return {
        "fid": fid_from_features(f_real, f_fake),
        "kid": kid_from_features(
            f_real, f_fake, num_subsets=kid_subsets, max_subset_size=kid_subset_size, seed=seed
        ),
        "num_real": int(f_real.shape[0]),
        "num_gen": int(f_fake.shape[0]),
    }
