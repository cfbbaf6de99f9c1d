"""Images and animations of a generator: latents from seeds, image grids, atomic PNG/GIF output,
and the video of an image under continuous sub-pixel translation and rotation through the input
transform (``gan.networks.transform``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from dsp._checks import check_int, check_real
from dsp._io import mkstemp_output, prepare_output

from ._device import run_device

__all__ = [
    "latents_from_seeds",
    "to_uint8",
    "image_grid",
    "save_image",
    "save_gif",
    "video_transforms",
    "transform_video",
    "class_labels",
    "MAX_ROTATE_DEG",
]

MAX_ROTATE_DEG = 360.0
"""Largest input-transform rotation (degrees) a video or grid takes: a full turn covers every
angle, and huge angles lose all precision in sin and cos."""


def latents_from_seeds(seeds: Sequence[int], z_dim: int) -> torch.Tensor:
    """``[len(seeds), z_dim]`` float32 latents, row ``i`` = ``N(0, 1)`` draws of
    ``numpy.random.RandomState(seeds[i])`` (the StyleGAN convention: a seed names one image on
    every device and batch size)."""
    z_dim = check_int("z_dim", z_dim, minimum=1)
    seeds = [check_int("seed", s, minimum=0, maximum=2**32 - 1) for s in seeds]
    if not seeds:
        raise ValueError("seeds must not be empty")
    rows = [np.random.RandomState(s).randn(z_dim) for s in seeds]
    return torch.from_numpy(np.stack(rows)).to(torch.float32)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Images in ``[-1, 1]`` → uint8 channels-last: ``round((x + 1)·127.5)`` clipped to 0…255.

    ``[C, H, W]`` → ``[H, W, C]``; ``[N, C, H, W]`` → ``[N, H, W, C]``. ``C`` must be 1 or 3.
    """
    if not isinstance(images, torch.Tensor) or images.ndim not in (3, 4):
        raise ValueError("images must be a tensor [C, H, W] or [N, C, H, W]")
    if images.shape[-3] not in (1, 3):
        raise ValueError(f"images must have 1 or 3 channels, got {images.shape[-3]}")
    x = images.detach().to("cpu", torch.float64)
    if not torch.isfinite(x).all():
        raise ValueError("images must be finite (no NaN or infinity)")
    x = ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return x.movedim(-3, -1).numpy()


def image_grid(images: torch.Tensor, cols: int | None = None, *, pad: int = 0) -> np.ndarray:
    """Tile ``[N, C, H, W]`` images in ``[-1, 1]`` into one uint8 ``[rows·H, cols·W, C]`` array,
    row-major; ``cols`` defaults to ``ceil(sqrt(N))`` and is at most ``N`` (more columns would
    only add black); ``pad`` black pixels between tiles."""
    arr = to_uint8(images)
    if arr.ndim != 4:
        raise ValueError("images must be [N, C, H, W]")
    n, h, w, c = arr.shape
    cols = math.ceil(math.sqrt(n)) if cols is None else check_int("cols", cols, minimum=1)
    cols = min(cols, max(n, 1))
    pad = check_int("pad", pad, minimum=0)
    rows = math.ceil(n / cols)
    grid = np.zeros((rows * h + (rows - 1) * pad, cols * w + (cols - 1) * pad, c), np.uint8)
    for i in range(n):
        r, q = divmod(i, cols)
        grid[r * (h + pad) : r * (h + pad) + h, q * (w + pad) : q * (w + pad) + w] = arr[i]
    return grid


def _pil(arr: np.ndarray):
    from PIL import Image

    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    return Image.fromarray(np.ascontiguousarray(arr))


def _atomic(path: str | os.PathLike, write) -> Path:
    path = prepare_output(path)
    try:
        fd, tmp = mkstemp_output(path, suffix=path.suffix)
    except OSError as exc:
        # Named after the output, not the temporary file the user never asked for.
        raise OSError(exc.errno, f"cannot write {path}: {exc.strerror}") from exc
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_image(array: np.ndarray, path: str | os.PathLike) -> Path:
    """Write a uint8 ``[H, W]``/``[H, W, 1|3]`` array as an image (format from the suffix,
    e.g. PNG) atomically: temporary file in the same folder, then ``os.replace``."""
    array = np.asarray(array)
    if array.dtype != np.uint8 or array.ndim not in (2, 3):
        raise ValueError(
            f"array must be uint8 [H, W] or [H, W, C], got {array.dtype} {array.shape}"
        )
    from PIL import Image

    suffix = Path(path).suffix.lower()
    formats = Image.registered_extensions()  # ".png" -> "PNG", ".tif" -> "TIFF", ...
    if suffix and suffix not in formats:
        raise ValueError(
            f"path {str(path)!r}: unknown image suffix {suffix!r}; use an image format Pillow "
            "writes, e.g. .png, .jpg, .webp, .tif, .bmp"
        )
    fmt = formats.get(suffix, "PNG")
    if fmt not in Image.SAVE:
        raise ValueError(f"path {str(path)!r}: Pillow cannot write {fmt} images; use .png")
    img = _pil(array)
    return _atomic(path, lambda tmp: img.save(tmp, format=fmt))


def _check_gif_path(path: str | os.PathLike) -> None:
    # The frames are always GIF-encoded; another suffix would mislabel the file.
    if Path(path).suffix.lower() != ".gif":
        raise ValueError(f"path must end in .gif (an animated GIF is written), got {str(path)!r}")


def save_gif(frames: Sequence[np.ndarray], path: str | os.PathLike, fps: float = 24.0) -> Path:
    """Write uint8 ``[H, W, C]`` frames as a looping animated GIF, atomically.

    Pillow merges identical consecutive frames into one (adding their durations), so the file
    may hold fewer frames than given while playing the same animation.
    """
    fps = check_real("fps", fps, low=0.0, high=100.0, low_inclusive=False)
    _check_gif_path(path)
    if len(frames) == 0:
        raise ValueError("frames must not be empty")
    imgs = [_pil(np.asarray(f, dtype=np.uint8)) for f in frames]
    # GIF stores delays in centiseconds.
    duration = max(int(round(1000.0 / fps / 10)) * 10, 10)

    def write(tmp: str) -> None:
        imgs[0].save(
            tmp, format="GIF", save_all=True, append_images=imgs[1:], duration=duration, loop=0
        )

    return _atomic(path, write)


def video_transforms(
    frames: int, translate: tuple[float, float] = (0.0, 0.0), rotate: float = 0.0
) -> torch.Tensor:
    """``[frames, 3, 3]`` transforms of a closed loop: frame ``k`` (``u = k / frames``) moves
    the content by ``translate·sin(2πu)`` image widths and turns it by
    ``rotate·sin(2πu)`` degrees (a positive angle turns the content counter-clockwise as
    displayed, row 0 at the top, like ``np.rot90``), rotation first
    (``compose(translate(...), rotate(...))``)."""
    from gan.networks import transform as tf

    frames = check_int("frames", frames, minimum=1)
    tx = check_real("translate[0]", translate[0], low=-1.0, high=1.0)
    ty = check_real("translate[1]", translate[1], low=-1.0, high=1.0)
    rot = check_real("rotate", rotate, low=-MAX_ROTATE_DEG, high=MAX_ROTATE_DEG)
    mats = []
    for k in range(frames):
        s = math.sin(2 * math.pi * k / frames)
        mats.append(tf.compose(tf.translate(tx * s, ty * s), tf.rotate(math.radians(rot * s))))
    return torch.stack(mats)


def transform_video(
    G,
    z: torch.Tensor,
    path: str | os.PathLike,
    *,
    frames: int = 48,
    translate: tuple[float, float] = (0.05, 0.0),
    rotate: float = 0.0,
    fps: float = 24.0,
    psi: float = 1.0,
    scale: int = 1,
    device=None,
    class_idx: int = 0,
) -> Path:
    """Animated GIF of ``G(z)`` under continuous sub-pixel translation and rotation through the
    input transform (frames of :func:`video_transforms`), written atomically to ``path``.

    Parameters
    ----------
    G : generator with the project interface.
    z : Tensor
        ``[z_dim]`` or ``[1, z_dim]`` latent.
    path : str or os.PathLike
        Output file; must end in ``.gif`` (``ValueError`` otherwise). Returned as a ``Path``.
    frames : int
        Number of frames (one loop).
    translate : (tx, ty)
        Peak translation in image widths (``0.05`` at 64 px = 3.2 pixels).
    rotate : float
        Peak rotation in degrees (positive: counter-clockwise as displayed, like ``np.rot90``).
    fps, psi, scale, device
        Frame rate; truncation; integer nearest-neighbour enlargement of each frame; where to
        run (default: the device ``G`` is on).
    class_idx : int
        Class of a conditional ``G`` (:func:`class_labels`).
    """
    scale = check_int("scale", scale, minimum=1, maximum=16)
    psi = check_real("psi", psi)
    check_real("fps", fps, low=0.0, high=100.0, low_inclusive=False)
    _check_gif_path(path)
    z = _one_latent(z, G.z_dim)
    dev = run_device(G, device)
    mats = video_transforms(frames, translate, rotate)
    G = G.to(dev)
    out = []
    with torch.no_grad():
        for A in mats:
            img = G(
                z.to(dev),
                class_labels(G, 1, class_idx, dev),
                psi=psi,
                transform=A.to(dev),
                noise_mode="const",
            )
            arr = to_uint8(img[0])
            if scale > 1:
                arr = arr.repeat(scale, axis=0).repeat(scale, axis=1)
            out.append(arr)
    return save_gif(out, path, fps=fps)


def class_labels(G, n: int, class_idx: int = 0, device=None) -> torch.Tensor | None:
    """The condition of ``n`` images of class ``class_idx``: one-hot ``[n, G.c_dim]`` for a
    conditional ``G`` (the all-zero vector is no class it was trained on), None for an
    unconditional one (``class_idx`` is then ignored).

    Raises
    ------
    ValueError
        ``class_idx`` outside ``0..G.c_dim − 1`` for a conditional ``G``.
    """
    c_dim = int(getattr(G, "c_dim", 0) or 0)
    if not c_dim:
        return None
    k = check_int("class_idx", class_idx, minimum=0, maximum=c_dim - 1)
    c = torch.zeros(n, c_dim, device=device)
    c[:, k] = 1.0
    return c


def _one_latent(z: object, z_dim: int) -> torch.Tensor:
    if not isinstance(z, torch.Tensor):
        raise ValueError(f"z must be a tensor, got {type(z).__name__}")
    z = z.reshape(1, -1) if z.ndim == 1 else z
    if z.ndim != 2 or z.shape != (1, z_dim):
        raise ValueError(f"z must have shape [{z_dim}] or [1, {z_dim}], got {list(z.shape)}")
    if not torch.isfinite(z).all():
        raise ValueError("z must be finite (no NaN or infinity)")
    return z.to(torch.float32)
