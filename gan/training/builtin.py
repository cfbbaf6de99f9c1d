"""Built-in training images made from data shipped inside scikit-image (nothing is downloaded).

- ``"lfw"``: the 100 face images of ``skimage.data.lfw_subset()`` (25 x 25 greyscale crops of
  Labeled Faces in the Wild; the archive's other 100 images are non-face patches and are left
  out), brought to ``res`` with ideal band-limited interpolation. One channel.
- ``"textures"``: random square crops of scikit-image's bundled textures and photographs (brick,
  grass, gravel, immunohistochemistry, Hubble deep field, coffee, astronaut, cat, rocket), each
  crop ``S x S`` with ``res <= S <= 2 res`` pixels, band-limited down to ``res``. Three channels
  (greyscale sources repeated).

Both are deterministic: the same arguments give the same bytes.
"""

from __future__ import annotations

import numpy as np

from dsp._checks import check_int
from gan.training.dataset_tool import check_resolution, resize_bandlimited, to_uint8

__all__ = ["BUILTIN_SETS", "builtin_images"]

BUILTIN_SETS = ("lfw", "textures")

# scikit-image loaders used by "textures" (all bundled with the package).
_TEXTURE_SOURCES = (
    "brick",
    "grass",
    "gravel",
    "immunohistochemistry",
    "hubble_deep_field",
    "coffee",
    "astronaut",
    "chelsea",
    "rocket",
)
_NUM_FACES = 100
_DEFAULT_NUM_TEXTURES = 1000


def _skimage_data():
    """``skimage.data``, or a ``ValueError`` that says how to get it (``data`` extra)."""
    try:
        import skimage.data
    except ImportError as exc:
        raise ValueError(
            "the built-in training images come from scikit-image, which is not installed "
            f"({exc}); install it with `pip install 'aliasfree[data]'` (or `pip install "
            "scikit-image`), or pass a folder or zip of images instead"
        ) from exc
    return skimage.data


def _faces(res: int, num: int | None) -> np.ndarray:
    faces = _skimage_data().lfw_subset()[:_NUM_FACES]
    if num is not None:
        faces = faces[:num]
    # lfw_subset holds floats in [0, 1]; resizing in 0..255 units keeps the rounding at the end.
    out = resize_bandlimited(faces * 255.0, res)
    return to_uint8(out)[:, None]


def _load_rgb(name: str) -> np.ndarray:
    img = np.asarray(getattr(_skimage_data(), name)())
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    return np.ascontiguousarray(np.moveaxis(img[:, :, :3], -1, 0), dtype=np.float64)


def _textures(res: int, num: int | None, seed: int) -> np.ndarray:
    num = _DEFAULT_NUM_TEXTURES if num is None else num
    sources = [_load_rgb(name) for name in _TEXTURE_SOURCES]
    rng = np.random.default_rng(seed)
    crops: dict[int, list[tuple[int, np.ndarray]]] = {}
    for i in range(num):
        src = sources[int(rng.integers(len(sources)))]
        h, w = src.shape[1:]
        side = int(rng.integers(res, min(2 * res, h, w) + 1))
        top = int(rng.integers(h - side + 1))
        left = int(rng.integers(w - side + 1))
        crops.setdefault(side, []).append((i, src[:, top : top + side, left : left + side]))
    out = np.empty((num, 3, res, res), dtype=np.uint8)
    # Crops of one size share one resize (one matrix, one large product).
    for side, items in crops.items():
        index = [i for i, _ in items]
        batch = np.stack([c for _, c in items])
        out[index] = batch if side == res else to_uint8(resize_bandlimited(batch, res))
    return out


def builtin_images(
    name: str = "lfw", res: int = 32, *, num: int | None = None, seed: int = 0
) -> np.ndarray:
    """Deterministic built-in training images as ``uint8 [N, C, res, res]``.

    Parameters
    ----------
    name : {"lfw", "textures"}
        ``"lfw"``: 100 greyscale faces (``C = 1``), 25 x 25 pixels in the source, brought to
        ``res`` with :func:`gan.training.dataset_tool.resize_bandlimited` (ideal band-limited
        interpolation, pixel centres aligned, symmetric edges). ``"textures"``: ``num`` RGB
        random crops (``C = 3``) of bundled textures and photos.
    res : int
        Output side in pixels, a power of two in ``[4, 8192]``; ``"textures"`` needs
        ``res <= 128`` (the crops come from images of 300-1000 pixels).
    num : int, optional
        Number of images: at most 100 for ``"lfw"`` (default 100); default 1000 for
        ``"textures"``.
    seed : int
        Seed of the crop positions and sizes (``"textures"`` only).

    Returns
    -------
    numpy.ndarray
        ``uint8 [N, C, res, res]``.

    Raises
    ------
    ValueError
        Bad arguments, or scikit-image (the ``data`` extra) not installed.
    """
    if name not in BUILTIN_SETS:
        raise ValueError(f"built-in set must be one of {', '.join(BUILTIN_SETS)}, got {name!r}")
    res = check_resolution(res)
    seed = check_int("seed", seed, minimum=0)
    if name == "lfw":
        if num is not None:
            num = check_int("num", num, minimum=1, maximum=_NUM_FACES)
        return _faces(res, num)
    if num is not None:
        num = check_int("num", num, minimum=1)
    if res > 128:
        raise ValueError(f"res must be <= 128 for the 'textures' set, got {res}")
    return _textures(res, num, seed)
