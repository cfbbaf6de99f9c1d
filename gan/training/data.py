"""Training images: a folder or zip of equally sized square images, or a built-in set.

A source is ``"builtin"`` (the default built-in set, :data:`DEFAULT_BUILTIN`), ``"builtin:lfw"``,
``"builtin:textures"`` (see :mod:`gan.training.builtin`), a folder (searched recursively) or a
``.zip`` archive of PNG/JPEG/WebP/BMP/TIFF images, such as the output of ``aliasfree dataset``.
Optional class labels come from a ``dataset.json`` at the top of the folder or archive:
``{"labels": [["file.png", class], ...]}`` with integer classes ``>= 0`` and names relative to
the top.

Images are not resized here: every image must already be ``res x res`` (make a training zip with
``aliasfree dataset`` first). The file headers are checked when the dataset is built (sizes,
colour modes), so a wrongly sized file fails at once with its name; pixels are decoded on access.
"""

from __future__ import annotations

import os
import threading
import zipfile
from pathlib import Path

import numpy as np
import torch

from dsp._checks import check_int
from dsp.imagefiles import iter_image_files, zip_image_entries
from gan.training.dataset_tool import (
    check_resolution,
    decode_image,
    describe_error,
    is_gray_image,
    read_source_labels,
)

__all__ = ["DEFAULT_BUILTIN", "ImageDataset"]

DEFAULT_BUILTIN = "lfw"
# Resolution of a built-in set when none is asked for: small enough to train on a CPU.
DEFAULT_BUILTIN_RES = 32

# The way out of an unreadable file, named with the error (the dataset tool reports and skips).
_CLEAN_HINT = (
    " (`aliasfree dataset SRC DEST.zip --res N` makes a training zip, skipping unreadable files "
    "with their reasons)"
)


class ImageDataset(torch.utils.data.Dataset):
    """Square training images as ``uint8`` tensors with one-hot labels.

    Parameters
    ----------
    source : str or path-like
        ``"builtin"``, ``"builtin:lfw"``, ``"builtin:textures"``, a folder or a ``.zip``.
    res : int, optional
        Resolution in pixels (a power of two). For a folder or zip every image must be
        ``res x res``; ``None`` takes the size of the first image (which must then be square
        with a power-of-two side). Built-in sets are generated at ``res`` (default 32).
    xflip : bool
        Double the dataset with mirror images: index ``i + N`` is image ``i`` flipped left-right.
    use_labels : bool
        Return the ``dataset.json`` class labels as one-hot vectors (``c_dim`` = largest class
        in ``dataset.json`` + 1, whatever ``max_images`` keeps). If false, or for built-in
        sets, ``c_dim = 0`` and labels have shape ``[0]``.
    max_images : int, optional
        Use only the first ``max_images`` images (sorted file order). A zip holding two entries
        of the same name yields both (as ``aliasfree dataset`` reads them).

    Attributes
    ----------
    res : int
        Image side in pixels.
    num_channels : int
        1 (greyscale: every image has a colourless mode) or 3 (RGB; greyscale files repeated).
    c_dim : int
        Label dimension (0 without labels).
    name : str
        ``"builtin:<set>"`` or the folder/zip name without extension.
    num_images : int
        Images before the x-flip doubling.

    Raises
    ------
    ValueError
        Unknown built-in set, missing or empty source, an image that is not ``res x res`` or
        cannot be read (the message names the file), bad labels, ``use_labels`` without labels.

    Notes
    -----
    ``dataset[i]`` returns ``(image, label)``: ``image`` a ``uint8`` tensor ``[C, res, res]``,
    ``label`` a ``float32`` one-hot tensor ``[c_dim]``. Decoding errors at access time raise
    ``ValueError`` naming the file.
    """

    def __init__(
        self,
        source: str | os.PathLike = "builtin",
        *,
        res: int | None = None,
        xflip: bool = False,
        use_labels: bool = False,
        max_images: int | None = None,
    ) -> None:
        if res is not None:
            res = check_resolution(res)
        if max_images is not None:
            max_images = check_int("max_images", max_images, minimum=1)
        self.xflip = bool(xflip)
        self._images: np.ndarray | None = None  # in-memory sets (built-in)
        self._files: list[str] = []
        # Zip entries by position in _files: opened by ZipInfo, since a name may appear twice
        # (zf.open(name) would return the last copy for both) or have been re-decoded.
        self._infos: list[zipfile.ZipInfo] | None = None
        self._path: Path | None = None
        self._is_zip = False
        self._zip: zipfile.ZipFile | None = None
        self._zip_pid: int | None = None
        # Reads may come from several threads (gan.training.prefetch): the handle is opened
        # once under this lock; ZipFile serialises the reads themselves.
        self._zip_lock = threading.Lock()
        raw_labels: np.ndarray | None = None
        c_dim = 0

        src = os.fspath(source)
        if isinstance(src, str) and (src == "builtin" or src.startswith("builtin:")):
            from gan.training.builtin import builtin_images

            which = src.partition(":")[2] or DEFAULT_BUILTIN
            if use_labels:
                raise ValueError(f"use_labels=True but {src!r} has no class labels")
            images = builtin_images(which, res=res if res is not None else DEFAULT_BUILTIN_RES)
            if max_images is not None:
                images = images[:max_images]
            self._images = images
            self.name = f"builtin:{which}"
            self.res = int(images.shape[-1])
            self.num_channels = int(images.shape[1])
            self.num_images = int(images.shape[0])
        else:
            self._init_files(Path(src), res, max_images)
            if use_labels:
                raw_labels, c_dim = self._read_labels()
        self.c_dim = c_dim
        self._raw_labels = raw_labels

    # ---- construction helpers ---------------------------------------------------------------

    def _init_files(self, path: Path, res: int | None, max_images: int | None) -> None:
        from PIL import Image

        # Messages start "source must ..." (the parameter's name), which the train command
        # writes as --data.
        kinds = "'builtin', 'builtin:<set>', a folder or a .zip archive"
        if not path.exists():
            raise ValueError(f"source must be {kinds}; {str(path)!r} does not exist")
        if not (path.is_dir() or zipfile.is_zipfile(path)):
            raise ValueError(f"source must be {kinds}, got {str(path)!r}")
        self._path = path
        self._is_zip = not path.is_dir()
        self.name = path.stem if self._is_zip else path.name
        infos = None
        if self._is_zip:
            try:
                with zipfile.ZipFile(path) as zf:
                    entries = zip_image_entries(zf)  # the order and names of iter_image_files
            except (zipfile.BadZipFile, OSError) as exc:
                raise ValueError(
                    f"source must be a readable .zip archive; cannot open {str(path)!r}: {exc}"
                ) from None
            names = [name for name, _ in entries]
            infos = [info for _, info in entries]
        else:
            names = [name for name, _ in iter_image_files(path)]
        if max_images is not None:
            names = names[:max_images]
            infos = infos[:max_images] if infos is not None else None
        self._files, self._infos = names, infos
        if not names:
            raise ValueError(
                f"source must hold PNG/JPEG/WebP/BMP/TIFF images; none found in {str(path)!r}"
            )
        colour = False
        for i, name in enumerate(names):
            try:
                with self._open_file(i) as fh, Image.open(fh) as img:
                    size, gray = img.size, is_gray_image(img)
            except Exception as exc:
                raise ValueError(
                    f"cannot read image {name!r} in {str(path)!r}: {describe_error(exc)}"
                    f"{_CLEAN_HINT}"
                ) from None
            if res is None:
                res = size[0]
                if size[0] != size[1] or size[0] & (size[0] - 1) or size[0] < 4:
                    raise ValueError(
                        f"image {name!r} in {str(path)!r} is {size[0]}x{size[1]} (width x "
                        f"height): training images must be square with a power-of-two side; "
                        f"convert the folder with 'aliasfree dataset SRC DEST.zip --res N'"
                    )
            if size != (res, res):
                raise ValueError(
                    f"image {name!r} in {str(path)!r} is {size[0]}x{size[1]} (width x height), "
                    f"expected {res}x{res}; convert the folder with "
                    f"'aliasfree dataset SRC DEST.zip --res {res}'"
                )
            colour = colour or not gray
        self.res = int(res)
        self.num_channels = 3 if colour else 1
        self.num_images = len(names)

    def _read_labels(self) -> tuple[np.ndarray, int]:
        """The classes of the images used, and ``c_dim`` from every label in ``dataset.json``
        (so that a subset, ``max_images``, keeps the label dimension of the whole set)."""
        assert self._path is not None
        mapping = read_source_labels(self._path)
        where = f"{str(self._path)!r}"
        if not mapping:
            raise ValueError(
                f"use_labels=True but {where} has no labels (dataset.json with "
                f'{{"labels": [["file.png", class], ...]}})'
            )
        missing = [n for n in self._files if n not in mapping]
        if missing:
            raise ValueError(
                f"dataset.json in {where} has no label for {len(missing)} image(s), "
                f"first {missing[0]!r}"
            )
        c_dim = max(mapping.values()) + 1
        return np.array([mapping[n] for n in self._files], dtype=np.int64), c_dim

    # ---- file access ------------------------------------------------------------------------

    def _open_file(self, i: int):
        """Image ``i`` of ``_files`` opened for reading."""
        assert self._path is not None
        if not self._is_zip:
            return open(self._path / self._files[i], "rb")
        # One handle per process: a ZipFile must not be shared across DataLoader workers.
        assert self._infos is not None
        # Opened under the lock, so that close() cannot come between; an entry already open
        # keeps reading after a close (ZipFile counts the handle's users).
        with self._zip_lock:
            if self._zip is None or self._zip_pid != os.getpid():
                self._zip = zipfile.ZipFile(self._path)
                self._zip_pid = os.getpid()
            return self._zip.open(self._infos[i])

    def _read_bytes(self, i: int) -> bytes:
        name = self._files[i]
        try:
            with self._open_file(i) as fh:
                return fh.read()
        except Exception as exc:
            raise ValueError(
                f"cannot read image {name!r} in {str(self._path)!r}: {type(exc).__name__}: {exc}"
            ) from None

    def close(self) -> None:
        """Close the zip archive handle, if one is open (it reopens on the next access)."""
        with self._zip_lock:
            if self._zip is not None:
                self._zip.close()
                self._zip = None

    @property
    def in_memory(self) -> bool:
        """Whether the images are held decoded in memory (the built-in sets), so that reading
        one costs a copy, not a file read and decode."""
        return self._images is not None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_zip"] = None
        state["_zip_pid"] = None
        del state["_zip_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._zip_lock = threading.Lock()

    # ---- access -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return self.num_images * (2 if self.xflip else 1)

    def _index(self, index: int) -> tuple[int, bool]:
        n = len(self)
        i = int(index)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"index {index} out of range for a dataset of {n} items")
        return (i - self.num_images, True) if i >= self.num_images else (i, False)

    def load_image(self, i: int) -> np.ndarray:
        """Image ``i`` (``0 <= i < num_images``, no flip) as ``uint8 [C, res, res]``."""
        if self._images is not None:
            return self._images[i]
        name = self._files[i]
        mode = "RGB" if self.num_channels == 3 else "L"
        try:
            arr = decode_image(self._read_bytes(i), mode, name, source=self._path)
        except ValueError as exc:
            raise ValueError(f"{exc}{_CLEAN_HINT}") from None
        if arr.shape[:2] != (self.res, self.res):
            raise ValueError(
                f"image {name!r} in {str(self._path)!r} is {arr.shape[1]}x{arr.shape[0]}, "
                f"expected {self.res}x{self.res}"
            )
        return np.moveaxis(arr, -1, 0)

    def get_label(self, index: int) -> torch.Tensor:
        """One-hot ``float32 [c_dim]`` label of item ``index`` (shape ``[0]`` without labels)."""
        i, _ = self._index(index)
        out = torch.zeros(self.c_dim, dtype=torch.float32)
        if self._raw_labels is not None:
            out[int(self._raw_labels[i])] = 1.0
        return out

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        i, flip = self._index(index)
        img = self.load_image(i)
        if flip:
            img = img[:, :, ::-1]
        # A copy: the tensor must be writable and must not alias the in-memory set.
        return torch.from_numpy(np.array(img)), self.get_label(index)

    def images(self) -> torch.Tensor:
        """All items (mirrors included with ``xflip``) as one ``uint8 [len, C, res, res]``."""
        out = np.stack([self.load_image(i) for i in range(self.num_images)])
        if self.xflip:
            out = np.concatenate([out, out[:, :, :, ::-1]])
        return torch.from_numpy(np.ascontiguousarray(out))

    def __repr__(self) -> str:
        return (
            f"ImageDataset({self.name!r}, items={len(self)}, res={self.res}, "
            f"channels={self.num_channels}, c_dim={self.c_dim}, xflip={self.xflip})"
        )
