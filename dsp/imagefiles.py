"""Reading a folder or a zip archive of images into a float64 ``[N, C, H, W]`` batch (Pillow).

Supported files: PNG, JPEG, WebP, BMP and TIFF, recognised by extension (case-insensitive).
Hidden files and folders (names starting with ``.``) and ``__MACOSX`` resource folders inside
archives are ignored. Files that cannot be decoded are skipped and reported with the reason, so
one bad file never stops a run.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePosixPath

import numpy as np

from dsp._checks import check_int

__all__ = [
    "IMAGE_EXTENSIONS",
    "SkipReason",
    "UnreadableImage",
    "UnsupportedSamples",
    "check_integer_samples",
    "decode_failure_kind",
    "integer_samples",
    "iter_image_files",
    "load_images",
    "no_usable_image_message",
    "summarize_skipped",
    "zip_entry_name",
    "zip_image_entries",
]

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})

_MODES = ("L", "RGB")


def _wanted(parts: tuple[str, ...]) -> bool:
    if any(p.startswith(".") or p == "__MACOSX" for p in parts):
        return False
    return PurePosixPath(parts[-1]).suffix.lower() in IMAGE_EXTENSIONS


# General-purpose bit 11 of a zip entry: its name is stored as UTF-8.
_ZIP_UTF8_FLAG = 0x800


def zip_entry_name(info: zipfile.ZipInfo) -> str:
    """The name of a zip entry, with UTF-8 names stored without the UTF-8 flag repaired.

    Python decodes names without flag ``0x800`` as cp437, as the zip format says, but Info-ZIP
    ``zip`` on Linux (and other tools) store the UTF-8 bytes of the file names without setting
    the flag, so ``sub/ünïcødé 猫.png`` would read as ``sub/├╝n├»c├╕d├⌐ τî½.png`` and match
    neither its label nor the same folder unzipped. Such a name is re-decoded as UTF-8 when its
    bytes are valid UTF-8 (true of every ASCII name, which is unchanged; cp437 names of
    accented letters are almost never valid UTF-8, so they keep their cp437 reading).
    """
    if info.flag_bits & _ZIP_UTF8_FLAG:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def zip_image_entries(zf: zipfile.ZipFile) -> list[tuple[str, zipfile.ZipInfo]]:
    """``(name, info)`` of the image files in an open archive, sorted by name (as
    :func:`iter_image_files` yields them). Read an entry by its ``info``, not its name: a name
    may have been re-decoded (:func:`zip_entry_name`), and an archive may hold two entries of
    the same name, which ``zf.open(name)`` cannot tell apart (it returns the last one)."""
    entries = []
    for info in zf.infolist():
        name = zip_entry_name(info)
        if not info.is_dir() and _wanted(PurePosixPath(name).parts):
            entries.append((name, info))
    # A stable sort: two entries of the same name keep their order in the archive.
    entries.sort(key=lambda item: item[0])
    return entries


def iter_image_files(path: str | os.PathLike) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """Yield ``(name, read)`` for every image file under ``path``, sorted by name.

    Parameters
    ----------
    path : str or path-like
        A folder (searched recursively), a ``.zip`` archive, or a single image file.

    Yields
    ------
    name : str
        The file's path relative to the folder or inside the archive (``/`` separators; the file
        name itself for a single file).
    read : callable
        ``read()`` returns the file's bytes. Reading happens only when called, so a file that
        cannot be read raises there (``OSError``, ``zipfile.BadZipFile``...), not in the iterator;
        for an archive, call it before advancing the iterator (the archive is closed at the end).

    Raises
    ------
    ValueError
        If ``path`` does not exist, or is neither a folder, a zip archive nor an image file.
    """
    p = Path(path)
    if not p.exists():
        raise ValueError(f"path does not exist: {str(p)!r}")
    if p.is_dir():
        files = []
        for f in p.rglob("*"):
            rel = f.relative_to(p)
            if _wanted(rel.parts) and f.is_file():
                files.append((rel.as_posix(), f))
        files.sort(key=lambda item: item[0])
        for name, f in files:
            yield name, f.read_bytes
        return
    if zipfile.is_zipfile(p):
        try:
            zf = zipfile.ZipFile(p)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ValueError(f"cannot open zip archive {str(p)!r}: {exc}") from exc
        with zf:
            for name, info in zip_image_entries(zf):
                yield name, (lambda info=info: zf.read(info))
        return
    if p.suffix.lower() == ".zip":
        raise ValueError(f"not a valid zip archive: {str(p)!r}")
    if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS:
        yield p.name, p.read_bytes
        return
    raise ValueError(
        f"path must be a folder, a .zip archive or an image file "
        f"({', '.join(sorted(IMAGE_EXTENSIONS))}), got {str(p)!r}"
    )


class UnsupportedSamples(ValueError):
    """An image that decodes but whose samples cannot be scaled to ``[0, 1]`` (floating point)."""


class UnreadableImage(ValueError):
    """An image file that cannot be decoded; ``kind`` is the short cause shared by all such
    files (see :func:`decode_failure_kind`), the message the full reason."""

    def __init__(self, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind if kind is not None else message


class SkipReason(str):
    """Why a file was skipped: the full text (it is a ``str``, so it prints and serialises to
    JSON as before) and its ``kind``, a short phrase shared by every file skipped for the same
    cause (``"smaller than 500x500"``), by which :func:`summarize_skipped` counts them."""

    kind: str

    def __new__(cls, text: str, kind: str | None = None) -> SkipReason:
        self = super().__new__(cls, text)
        self.kind = str(text) if kind is None else kind
        return self


def decode_failure_kind(exc: BaseException) -> str:
    """The short cause of a failed image decode, shared by all files that failed alike."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(exc, UnreadableImage):
        return exc.kind
    if isinstance(exc, UnidentifiedImageError):
        return "not a recognised image"
    if isinstance(exc, Image.DecompressionBombError):
        return "larger than Pillow's pixel limit"
    if isinstance(exc, UnsupportedSamples):
        return "samples not 8- or 16-bit integers"
    return "corrupt or truncated"


def summarize_skipped(skipped: Sequence[tuple[str, str]]) -> str:
    """The skipped files counted by cause, most common first, each with an example file:
    ``"12 smaller than 500x500 (e.g. a.png), 1 not a recognised image (corrupt.png)"``.

    A reason's cause is its ``kind`` (:class:`SkipReason`); a plain string is its own cause.
    """
    groups: dict[str, list[str]] = {}
    for name, reason in skipped:
        groups.setdefault(getattr(reason, "kind", reason), []).append(name)
    # sorted() is stable: causes seen as often keep the order of their first file.
    ranked = sorted(groups.items(), key=lambda item: -len(item[1]))
    return ", ".join(
        f"{len(names)} {kind} ({'e.g. ' if len(names) > 1 else ''}{names[0]})"
        for kind, names in ranked
    )


def no_usable_image_message(path: str | os.PathLike, skipped: Sequence[tuple[str, str]]) -> str:
    """The one-line error for a source of which no image could be used: the skipped files
    counted by cause (:func:`summarize_skipped`), or, with none, which files count as images."""
    where = f"no usable image in {os.fspath(path)!r}"
    if not skipped:  # no file had an image extension: say which ones count
        return f"{where} (image files are {', '.join(sorted(IMAGE_EXTENSIONS))})"
    n = len(skipped)
    return f"{where}; {n} file{'' if n == 1 else 's'} skipped: {summarize_skipped(skipped)}"


def check_integer_samples(pil_mode: str) -> None:
    """Raise ``UnsupportedSamples`` (a ``ValueError``) for a floating-point image (Pillow mode
    ``"F"``, e.g. a 32-bit float TIFF): such images have no agreed white level, so they are
    refused rather than scaled by a guess. 8- and 16-bit images (and 32-bit integer ones, read
    as 16-bit by :func:`integer_samples`, which refuses values outside ``0..65535``) pass."""
    if pil_mode == "F":
        raise UnsupportedSamples(
            "32-bit floating-point image: no white level to scale by; convert it to 8 or 16 "
            "bits per sample"
        )


def integer_samples(img) -> np.ndarray:
    """The samples of a Pillow integer greyscale image (mode ``"I"`` or ``"I;16*"``) as float64
    ``[H, W]`` on the 16-bit scale ``0..65535``.

    Raises ``UnsupportedSamples`` when a sample is negative or above 65535 (a signed or 32-bit
    integer image): scaling by ``1/65535`` would saturate it, e.g. a ramp to 65 million would
    come out almost all white, so it is refused with its range instead of silently clipped.
    """
    arr = np.asarray(img, dtype=np.float64)
    if arr.size:
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0 or hi > 65535:
            raise UnsupportedSamples(
                f"integer samples from {lo:.0f} to {hi:.0f} are outside 0..65535 (read as "
                f"16-bit, they would be clipped); convert it to 8 or 16 bits per sample"
            )
    return arr


def _decode(data: bytes, mode: str) -> np.ndarray:
    """Decode one image to ``[H, W, C]`` float64 in ``[0, 1]``."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        opened = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        # Pillow's own message names an in-memory buffer address, useless in a report.
        raise UnreadableImage(
            "not a recognised image (corrupt or not PNG/JPEG/WebP/BMP/TIFF)",
            "not a recognised image",
        ) from None
    with opened as raw:
        raw.load()
        # Photos stored sideways carry an EXIF orientation; their spectrum is that of the
        # picture as viewers show it (axes swapped otherwise).
        img = ImageOps.exif_transpose(raw)
        check_integer_samples(img.mode)
        if img.mode.startswith("I;16") or img.mode == "I":
            # 16-bit greyscale: Pillow's convert("L") would clip at 255 instead of scaling.
            arr = (integer_samples(img) / 65535.0)[:, :, None]
            return np.repeat(arr, 3, axis=2) if mode == "RGB" else arr
        # Alpha is dropped (not composited); palette and CMYK images are converted.
        conv = img.convert(mode)
        arr = np.asarray(conv, dtype=np.float64) / 255.0
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return arr


def _parse_size(size: object) -> tuple[int, int] | None:
    if size is None:
        return None
    if isinstance(size, (tuple, list)):
        if len(size) != 2:
            raise ValueError(f"size must be an int or (height, width), got {size!r}")
        return (check_int("size[0]", size[0], minimum=1), check_int("size[1]", size[1], minimum=1))
    s = check_int("size", size, minimum=1)
    return (s, s)


def _centre_crop(arr: np.ndarray, h: int, w: int) -> np.ndarray:
    top = (arr.shape[0] - h) // 2
    left = (arr.shape[1] - w) // 2
    return arr[top : top + h, left : left + w]


def load_images(
    path: str | os.PathLike,
    size: int | tuple[int, int] | None = None,
    mode: str = "L",
    limit: int | None = None,
    *,
    min_size: int = 1,
    return_sources: bool = False,
) -> (
    tuple[np.ndarray, list[tuple[str, str]]]
    | tuple[np.ndarray, list[tuple[str, str]], list[tuple[str, tuple[int, int]]]]
):
    """Load the images under ``path`` as a float64 batch ``[N, C, H, W]`` in ``[0, 1]``.

    Files come in the sorted order of ``iter_image_files``. Each image is converted to ``mode``
    (alpha dropped; 16-bit greyscale scaled by ``1/65535``, 8-bit by ``1/255``) and centre-cropped
    (top-left corner at ``((h − H)//2, (w − W)//2)``) to a common ``H × W``:

    - ``size=None``: the smallest height and the smallest width among the loaded images (only
      images under ``min_size`` are skipped for their size, reason ``"smaller than the minimum
      ..."``); every image is held at full size until all are read;
    - ``size`` given: exactly that size; images smaller than it in either dimension are skipped
      (reason ``"smaller than ..."``). Each image is cropped as soon as it is decoded, so the
      memory needed is about that of the result. Images are never resized (resampling would
      change the spectrum being measured).

    Parameters
    ----------
    path : str or path-like
        Folder (recursive), ``.zip`` archive or single image file.
    size : int or (int, int), optional
        Crop size ``S`` (square) or ``(H, W)``.
    mode : {"L", "RGB"}
        Greyscale (``C = 1``) or colour (``C = 3``).
    limit : int, optional
        Stop after this many usable images (``>= 1``); skipped files do not count.
    min_size : int
        Smallest height and width an image may have (``>= 1``, default 1); a ``size`` below it
        is an error. It keeps one tiny file from shrinking every image when ``size=None``.
    return_sources : bool
        Also return each used image's name and its size before cropping.

    Returns
    -------
    images : numpy.ndarray
        ``[N, C, H, W]`` float64.
    skipped : list of (str, str)
        ``(name, reason)`` for every file that was not used, in file order; each reason is a
        :class:`SkipReason` (a ``str`` with the ``kind`` that :func:`summarize_skipped` counts).
    sources : list of (str, (int, int))
        Only with ``return_sources``: ``(name, (height, width))`` of ``images[i]`` before the
        crop.

    Raises
    ------
    ValueError
        Bad arguments, a ``path`` that is not a folder/zip/image, or no usable image at all
        (the message counts the skipped files by cause: :func:`no_usable_image_message`).
    """
    if mode not in _MODES:
        raise ValueError(f"mode must be 'L' or 'RGB', got {mode!r}")
    want = _parse_size(size)
    min_size = check_int("min_size", min_size, minimum=1)
    if want is not None and min(want) < min_size:
        raise ValueError(f"size must be at least {min_size} on each side, got {want[0]}x{want[1]}")
    if limit is not None:
        limit = check_int("limit", limit, minimum=1)
    decoded: list[np.ndarray] = []
    skipped: list[tuple[str, str]] = []
    sources: list[tuple[str, tuple[int, int]]] = []
    for name, read in iter_image_files(path):
        if limit is not None and len(decoded) >= limit:
            break
        try:
            arr = _decode(read(), mode)
        except Exception as exc:
            # Decoders raise many types (OSError, SyntaxError, ValueError, ...): any failure
            # skips just this file.
            text = str(exc) if isinstance(exc, UnreadableImage) else f"{type(exc).__name__}: {exc}"
            skipped.append((name, SkipReason(text, decode_failure_kind(exc))))
            continue
        if want is not None and (arr.shape[0] < want[0] or arr.shape[1] < want[1]):
            kind = f"smaller than {want[0]}x{want[1]}"
            skipped.append((name, SkipReason(f"{kind}: {arr.shape[0]}x{arr.shape[1]}", kind)))
            continue
        if min(arr.shape[:2]) < min_size:
            kind = f"smaller than the minimum {min_size}x{min_size}"
            skipped.append((name, SkipReason(f"{kind}: {arr.shape[0]}x{arr.shape[1]}", kind)))
            continue
        sources.append((name, (arr.shape[0], arr.shape[1])))
        # With an explicit size, crop now: keeping every full-size image until the end needs
        # memory for all of them (tens of GB for a folder of photos).
        decoded.append(arr if want is None else _centre_crop(arr, *want).copy())
    if not decoded:
        raise ValueError(no_usable_image_message(path, skipped))
    if want is None:
        want = (min(a.shape[0] for a in decoded), min(a.shape[1] for a in decoded))
    h, w = want
    out = np.empty((len(decoded), decoded[0].shape[2], h, w))
    for i, arr in enumerate(decoded):
        out[i] = np.moveaxis(_centre_crop(arr, h, w), -1, 0)
    return (out, skipped, sources) if return_sources else (out, skipped)
