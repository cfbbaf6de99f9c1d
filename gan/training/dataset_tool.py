"""Turn a folder or zip of arbitrary images into a training zip (``aliasfree dataset``).

Each usable image is made square (centre crop to the shorter side, or centre pad with black to
the longer side), brought to a power-of-two resolution with ideal band-limited resampling
(:func:`resize_bandlimited`, built on :func:`dsp.interpolation.resample_rational`), and stored
as ``img{index:08d}.png`` in a zip with a ``dataset.json`` beside the images:

``{"labels": [["img00000000.png", class], ...] | null, "resolution": R, "channels": C,
"mode": "crop"|"pad", "sources": [["img00000000.png", "original/name.jpg"], ...],
"skipped": [["name", "reason"], ...]}``

:class:`gan.training.data.ImageDataset` reads such a zip (it uses only ``labels``). The archive
is written to a temporary file in the destination folder, flushed to disk and renamed over the
destination, so an interrupted run never leaves a half-written zip.

This module imports numpy, Pillow and ``dsp`` only (no torch), so the command stays light.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import signal
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from dsp._checks import as_finite_array, check_int, check_power_of_two
from dsp._io import make_output_dir, mkstemp_output, prepare_output
from dsp.imagefiles import (
    IMAGE_EXTENSIONS,
    SkipReason,
    UnreadableImage,
    UnsupportedSamples,
    check_integer_samples,
    decode_failure_kind,
    integer_samples,
    iter_image_files,
    no_usable_image_message,
    zip_entry_name,
)
from dsp.interpolation import fractional_shift, resample_rational

__all__ = [
    "DatasetReport",
    "DestinationExists",
    "LabelsError",
    "check_resolution",
    "decode_image",
    "is_gray_image",
    "make_dataset",
    "pad_resize",
    "read_labels_file",
    "resize_bandlimited",
    "resize_matrix",
    "square_image",
]

# Pillow modes that carry no colour: such images become one channel in "auto" channel mode.
GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})

# Every entry of a written zip gets this timestamp (the earliest a zip can hold) rather than the
# time of writing, so the same inputs give a byte-identical zip (checksums, caches, diffs).
_ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)

# Complex samples transformed at once by one resampling pass: bounds the FFT scratch memory
# (about 16 bytes each, a few copies) for large photographs.
_FFT_BLOCK = 1 << 21
# Largest dense one-axis resize matrix (elements) used instead of the FFT path.
_MATRIX_MAX = 1 << 22


def check_resolution(res: object, name: str = "res") -> int:
    """Return ``res`` as an int if it is a power of two in ``[4, 8192]``; else ``ValueError``."""
    return check_power_of_two(name, res, 4, 8192)


def is_gray_image(img) -> bool:
    """True if an opened (not necessarily loaded) Pillow image carries no colour.

    Besides the colourless modes, a 16-bit grey + alpha PNG counts: Pillow has no 16-bit
    grey-alpha mode and opens it as ``"RGBA"`` (raw mode ``"LA;16B"``), which would make a
    folder of greyscale images RGB in "auto" channel mode.
    """
    if img.mode in GRAY_MODES:
        return True
    tile = getattr(img, "tile", None)
    return (
        img.format == "PNG"
        and img.mode == "RGBA"
        and bool(tile)
        and isinstance(tile[0][3], str)
        and tile[0][3].startswith("LA")
    )


def describe_error(exc: BaseException) -> str:
    """A short reason for a failed image read (Pillow's own text names an anonymous buffer)."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(exc, Image.DecompressionBombError):
        # A valid image, just big: "corrupt" would send the user looking for damage. Pillow
        # refuses images over twice MAX_IMAGE_PIXELS (its guard against decompression bombs).
        limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
        size = re.search(r"\((\d+) pixels\)", str(exc))  # Pillow's "Image size (N pixels)"
        pixels = f"{int(size.group(1)):,} pixels, " if size else ""
        return (
            f"{pixels}larger than Pillow's limit of {limit:,} pixels (a guard against "
            f"decompression bombs; raise PIL.Image.MAX_IMAGE_PIXELS to read it)"
        )
    if isinstance(exc, UnidentifiedImageError):
        return "not a recognised image (corrupt, or not PNG/JPEG/WebP/BMP/TIFF)"
    if isinstance(exc, UnsupportedSamples):
        return str(exc)  # it decoded fine: not "corrupt"
    return f"corrupt or truncated ({type(exc).__name__}: {exc})"


def decode_image(
    data: bytes,
    mode: str,
    name: str = "image",
    *,
    as_float: bool = False,
    source: str | os.PathLike | None = None,
) -> np.ndarray:
    """Decode image bytes to ``uint8 [H, W, C]`` (``C`` = 1 for ``mode="L"``, 3 for ``"RGB"``).

    The EXIF orientation tag is applied (photos stored sideways come out upright, as viewers
    show them). Alpha is dropped; palette, CMYK and bilevel images are converted by Pillow; 16-bit
    and 32-bit integer greyscale is scaled by ``255 / 65535`` (Pillow's own conversion would clip
    it; integer samples outside ``0..65535`` are refused, see
    :func:`dsp.imagefiles.integer_samples`). With ``as_float`` the result is float64 in
    ``[0, 255]`` units and keeps 16-bit precision.

    Raises
    ------
    ValueError
        If the bytes cannot be decoded (:class:`dsp.imagefiles.UnreadableImage`, whose ``kind``
        is the short cause); the message names ``name`` (and ``source``, the folder or zip
        holding it, when given).
    """
    if mode not in ("L", "RGB"):
        raise ValueError(f"mode must be 'L' or 'RGB', got {mode!r}")
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()
            img = ImageOps.exif_transpose(opened)
            check_integer_samples(img.mode)
            if img.mode.startswith("I"):
                arr = integer_samples(img) * (255.0 / 65535.0)
                arr = np.repeat(arr[:, :, None], 3 if mode == "RGB" else 1, axis=2)
                if not as_float:
                    arr = to_uint8(arr)
            else:
                arr = np.asarray(img.convert(mode), dtype=np.float64 if as_float else np.uint8)
    except Exception as exc:
        # Decoders raise many types (OSError, SyntaxError, struct.error...); Pillow's messages
        # name an in-memory buffer, so the file name is added here.
        where = f" in {os.fspath(source)!r}" if source is not None else ""
        raise UnreadableImage(
            f"cannot decode image {name!r}{where}: {describe_error(exc)}", decode_failure_kind(exc)
        ) from None
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return np.ascontiguousarray(arr)


# --------------------------------------------------------------------------------------------
# Band-limited resizing
# --------------------------------------------------------------------------------------------


def _resize_rows(rows: np.ndarray, m: int) -> np.ndarray:
    """Resize each row of ``rows [K, N]`` to ``m`` samples (see :func:`resize_bandlimited`)."""
    n = rows.shape[-1]
    # Half-sample symmetric extension: one period of 2N samples with no jump at either edge.
    ext = np.concatenate([rows, rows[:, ::-1]], axis=-1)
    # Pixel centres: output m sits at input position (m + 1/2) N/M - 1/2. resample_rational
    # samples at m N/M, so the extension is first delayed by 1/2 - N/(2M) samples.
    ext = fractional_shift(ext, 0.5 - 0.5 * n / m, axis=-1)
    g = math.gcd(m, n)
    out = resample_rational(ext, m // g, n // g, axis=-1)
    # 2N * (M/N) = 2M exactly: the grid closes on the period, the first M samples are the image.
    return out[:, :m]


def resize_matrix(n: int, m: int) -> np.ndarray:
    """The ``[M, N]`` matrix of :func:`resize_bandlimited` along one axis (closed form).

    With the half-sample symmetric extension the kept band is the DCT-II basis
    ``cos(pi k (n + 1/2) / N)``, ``k < K = min(N, M)`` (the extension's Nyquist term
    ``k = N`` vanishes on every pixel centre, as does ``k = M`` on the output grid), so
    ``A[m, n] = (1/N) [1 + 2 sum_{k=1}^{K-1} cos(pi k (m + 1/2) / M) cos(pi k (n + 1/2) / N)]``.
    """
    k = np.arange(min(n, m))[:, None]
    c_in = np.cos(np.pi * k * (np.arange(n) + 0.5) / n)
    c_out = np.cos(np.pi * k * (np.arange(m) + 0.5) / m)
    weight = np.full(k.shape, 2.0 / n)
    weight[0] = 1.0 / n
    return c_out.T @ (weight * c_in)


def _use_matrix(n: int, m: int) -> bool:
    # A dense [M, N] product costs M N per row against a few FFTs of length 2N (with
    # resample_rational's bookkeeping): it wins by far for the small outputs of training sets.
    return m <= 512 and n * m <= _MATRIX_MAX


def _resize_axis(x: np.ndarray, m: int, axis: int, method: str = "auto") -> np.ndarray:
    n = x.shape[axis]
    if m == n:
        return x
    moved = np.moveaxis(x, axis, -1)
    lead = moved.shape[:-1]
    rows = moved.reshape(-1, n)
    if method == "matrix" or (method == "auto" and _use_matrix(n, m)):
        out = rows @ resize_matrix(n, m).T
    else:
        out = np.empty((rows.shape[0], m))
        block = max(1, _FFT_BLOCK // (2 * max(n, m)))
        for lo in range(0, rows.shape[0], block):
            out[lo : lo + block] = _resize_rows(rows[lo : lo + block], m)
    return np.moveaxis(out.reshape(lead + (m,)), -1, axis)


_RESIZE_METHODS = ("auto", "fft", "matrix")


def _check_method(method: object) -> None:
    if method not in _RESIZE_METHODS:
        raise ValueError(f"method must be 'auto', 'fft' or 'matrix', got {method!r}")


def resize_bandlimited(
    image: np.ndarray, size: int | tuple[int, int], *, method: str = "auto"
) -> np.ndarray:
    """Ideal band-limited resize of ``[..., H, W]`` images to ``size`` (``S`` or ``(h, w)``).

    Each axis is resampled separately. Along an axis of ``N`` pixels the signal is the
    half-sample symmetric extension of the row (period ``2N``, the DCT-II view, so the image
    edges do not wrap onto each other), reconstructed with the periodic (Dirichlet) interpolant
    and low-passed to ``|f| < min(N, M) / (2N)`` cycles per input pixel, i.e. below the smaller
    of the two Nyquist frequencies. It is sampled at the output pixel centres: pixel ``m`` of
    ``M`` sits at input position ``(m + 1/2) N / M - 1/2`` (both images cover the same extent).
    Hence a cosine pattern ``cos(pi k (n + 1/2) / N)`` becomes exactly
    ``cos(pi k (m + 1/2) / M)`` for every ``k < min(N, M)``. See REFERENCE §1.

    The factor ``M / N`` of two integer sizes is always rational; it is reduced by their gcd and
    passed to :func:`dsp.interpolation.resample_rational` with the extended period ``2N``, whose
    grid closes exactly on ``2M`` samples. The work is two FFTs of length ``2N`` and one of
    length ``2M`` per row, whatever the factors (large or coprime ratios such as 997 -> 64 cost
    no more than 1024 -> 64), so no Kaiser polyphase chain is needed; rows are processed in
    blocks to bound memory for large photographs. For small outputs (``M <= 512``) the same
    linear map is applied as its closed-form ``[M, N]`` matrix (:func:`resize_matrix`), which is
    much faster than the FFTs there; the two paths agree to rounding (tested).

    An ideal low-pass rings near sharp edges (Gibbs): values can leave the input range, and
    callers that need a range clip the result.

    Parameters
    ----------
    image : array_like
        Real array ``[..., H, W]``.
    size : int or (int, int)
        Output side ``S`` (square) or ``(h, w)`` in pixels, each ``>= 1``.

    method : {"auto", "fft", "matrix"}
        ``"fft"``: :func:`dsp.interpolation.resample_rational` on the extension; ``"matrix"``:
        the closed-form matrix; ``"auto"``: the matrix for small outputs, else the FFTs.

    Returns
    -------
    numpy.ndarray
        float64 ``[..., h, w]``.
    """
    _check_method(method)
    arr = as_finite_array("image", image, min_ndim=2)
    if isinstance(size, (tuple, list)):
        if len(size) != 2:
            raise ValueError(f"size must be an int or (h, w), got {size!r}")
        h = check_int("size[0]", size[0], minimum=1)
        w = check_int("size[1]", size[1], minimum=1)
    else:
        h = w = check_int("size", size, minimum=1)
    # The axis shrunk the most goes first, so the second pass runs on fewer samples.
    if h / arr.shape[-2] <= w / arr.shape[-1]:
        return _resize_axis(_resize_axis(arr, h, -2, method), w, -1, method)
    return _resize_axis(_resize_axis(arr, w, -1, method), h, -2, method)


def square_image(image: np.ndarray, mode: str = "crop") -> np.ndarray:
    """Make ``[..., H, W]`` square: centre crop to ``min(H, W)`` or centre pad to ``max(H, W)``.

    The crop keeps rows ``(H - S) // 2 ..`` and columns ``(W - S) // 2 ..``; the pad adds zeros
    (black), ``(S - H) // 2`` rows above and the rest below (likewise for columns).
    """
    if mode not in ("crop", "pad"):
        raise ValueError(f"mode must be 'crop' or 'pad', got {mode!r}")
    h, w = image.shape[-2:]
    if mode == "crop":
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        return image[..., top : top + s, left : left + s]
    s = max(h, w)
    top, left = (s - h) // 2, (s - w) // 2
    out = np.zeros(image.shape[:-2] + (s, s), dtype=image.dtype)
    out[..., top : top + h, left : left + w] = image
    return out


def pad_resize(image: np.ndarray, res: int, *, method: str = "auto") -> np.ndarray:
    """``resize_bandlimited(square_image(image, "pad"), res)`` without the padded square.

    The padded square of a 2 x 8000 strip is 8000 x 8000 (512 MB of float64 per channel) for a
    64 x 64 result. The resize is linear and separable and the padding is zeros, so the long
    axis (which needs no padding) is resized first, and only then is the short axis padded, to
    ``max(H, W)`` rows of ``res`` samples, and resized: the largest array is
    ``max(H, W) x res``. The result equals the padded square resized, to rounding.

    Parameters
    ----------
    image : array_like
        Real ``[..., H, W]``.
    res : int
        Output side in pixels (``>= 1``).
    method : {"auto", "fft", "matrix"}
        As for :func:`resize_bandlimited`.

    Returns
    -------
    numpy.ndarray
        float64 ``[..., res, res]``.
    """
    _check_method(method)
    arr = as_finite_array("image", image, min_ndim=2)
    res = check_int("res", res, minimum=1)
    h, w = arr.shape[-2:]
    s = max(h, w)
    # The axis that spans the square (the long one) and the one padded to it.
    long_axis, short_axis = (-1, -2) if w >= h else (-2, -1)
    short = arr.shape[short_axis]
    if s != res:
        arr = _resize_axis(arr, res, long_axis, method)
    before = (s - short) // 2
    pad = [(0, 0)] * arr.ndim
    pad[short_axis] = (before, s - short - before)
    arr = np.pad(arr, pad)
    if s != res:
        arr = _resize_axis(arr, res, short_axis, method)
    return np.ascontiguousarray(arr)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Round and clip float pixel values in ``[0, 255]`` units to ``uint8``."""
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# Labels
# --------------------------------------------------------------------------------------------


class LabelsError(ValueError):
    """A labels file (or a source's ``dataset.json``) that cannot be used; ``source`` names it
    (the path as given, or ``SRC/dataset.json``)."""

    def __init__(self, message: str, source: str) -> None:
        super().__init__(message)
        self.source = source


def parse_labels(obj: object, where: str) -> dict[str, int]:
    """Labels from a parsed ``dataset.json``: ``{"labels": [[name, class], ...]}``.

    A plain ``{name: class}`` mapping or a bare ``[[name, class], ...]`` list is accepted too.
    Classes must be integers ``>= 0``. ``{"labels": null}`` gives an empty mapping. Names are
    normalised (``\\`` to ``/``, ``./a.png`` to ``a.png``); a file listed more than once must
    have the same class each time (a :class:`LabelsError` naming the file and both classes
    otherwise: the last one winning silently would train on the wrong class).
    """
    if isinstance(obj, dict) and "labels" in obj:
        obj = obj["labels"]
        if obj is None:
            return {}
    if isinstance(obj, dict):
        pairs = list(obj.items())
    elif isinstance(obj, list):
        pairs = obj
    else:
        raise LabelsError(f"{where}: labels must be a list of [file, class] pairs", where)
    out: dict[str, int] = {}
    spelled: dict[str, str] = {}  # normalised name -> the name as first written
    for item in pairs:
        if not (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str)):
            raise LabelsError(
                f"{where}: each label must be a [file, class] pair, got {item!r}", where
            )
        name, cls = item
        if isinstance(cls, bool) or not isinstance(cls, int) or cls < 0:
            raise LabelsError(
                f"{where}: class of {name!r} must be an integer >= 0, got {cls!r}", where
            )
        key = PurePosixPath(name.replace("\\", "/")).as_posix()
        if key in out and out[key] != cls:
            first = spelled[key]
            names = repr(key) if first == name else f"{key!r} (as {first!r} and {name!r})"
            raise LabelsError(
                f"{where}: {names} is listed twice with different classes, {out[key]} and "
                f"{cls}; give each file one class",
                where,
            )
        out[key] = cls
        spelled.setdefault(key, name)
    return out


def read_labels_file(path: str | os.PathLike) -> dict[str, int]:
    """Read a labels JSON file (format of :func:`parse_labels`) into ``{name: class}``.

    Raises :class:`LabelsError` (a ``ValueError`` whose ``source`` is ``str(path)``).
    """
    p = Path(path)
    try:
        obj = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LabelsError(f"cannot read labels file {str(p)!r}: {exc}", str(p)) from None
    return parse_labels(obj, str(p))


def read_source_labels(src: Path) -> dict[str, int] | None:
    """``dataset.json`` labels at the top of a folder or zip, or ``None`` when absent."""
    if src.is_dir():
        f = src / "dataset.json"
        return read_labels_file(f) if f.is_file() else None
    if zipfile.is_zipfile(src):
        with zipfile.ZipFile(src) as zf:
            if "dataset.json" not in zf.namelist():
                return None
            try:
                obj = json.loads(zf.read("dataset.json").decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                where = f"{src}/dataset.json"
                raise LabelsError(f"{where} is not valid JSON: {exc}", where) from None
        return parse_labels(obj, f"{src}/dataset.json")
    return None


def _other_files(src: Path) -> list[str]:
    """Non-hidden files under ``src`` that are not images (reported as skipped)."""
    names: list[str] = []
    if src.is_dir():
        for f in src.rglob("*"):
            rel = f.relative_to(src)
            if f.is_file() and not any(p.startswith(".") for p in rel.parts):
                names.append(rel.as_posix())
    elif zipfile.is_zipfile(src):
        with zipfile.ZipFile(src) as zf:
            for info in zf.infolist():
                name = zip_entry_name(info)  # as iter_image_files names the images
                parts = PurePosixPath(name).parts
                if info.is_dir() or any(p.startswith(".") or p == "__MACOSX" for p in parts):
                    continue
                names.append(name)
    return sorted(
        n
        for n in names
        if PurePosixPath(n).suffix.lower() not in IMAGE_EXTENSIONS and n != "dataset.json"
    )


def _links_not_read(src: Path) -> list[tuple[str, str]]:
    """``(name, reason)`` for links under a folder ``src`` that the image search passes over:
    links whose target is missing, and links to folders (not followed, to avoid loops)."""
    if not src.is_dir():
        return []
    out = []
    for f in src.rglob("*"):
        rel = f.relative_to(src)
        if not f.is_symlink() or any(p.startswith(".") for p in rel.parts):
            continue
        if not f.exists():
            reason = SkipReason("broken link (its target does not exist)", "broken link")
            out.append((rel.as_posix(), reason))
        elif f.is_dir():
            reason = SkipReason(
                "link to a folder (not followed; give its target)", "link to a folder"
            )
            out.append((rel.as_posix(), reason))
    return sorted(out)


# --------------------------------------------------------------------------------------------
# The tool
# --------------------------------------------------------------------------------------------


class DestinationExists(ValueError):
    """:func:`make_dataset` with ``overwrite=False`` found ``dest`` already there."""

    def __init__(self, dest: os.PathLike | str) -> None:
        super().__init__(f"{os.fspath(dest)!r} already exists (overwrite=True replaces it)")
        self.dest = Path(dest)


@dataclass(frozen=True)
class DatasetReport:
    """What :func:`make_dataset` wrote and skipped."""

    dest: Path
    written: int
    res: int
    channels: int
    mode: str
    c_dim: int
    skipped: list[tuple[str, str]] = field(default_factory=list)
    labels_without_image: list[str] = field(default_factory=list)
    """Names in the labels file that match no image file under ``src`` (sorted)."""
    upscaled: int = 0
    """Images written enlarged (their square side below ``res``)."""
    max_upscale_factor: float = 1.0
    """The largest enlargement among them (``res`` over the square side)."""


def _probe_gray(src: Path) -> bool:
    """True if every readable image under ``src`` has a colourless Pillow mode."""
    from PIL import Image

    for _, read in iter_image_files(src):
        try:
            with Image.open(io.BytesIO(read())) as img:
                if not is_gray_image(img):
                    return False
        except Exception:
            continue  # unreadable files are reported by the main pass
    return True


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises ``SystemExit(143)`` instead of killing the process.

    The default action of SIGTERM (``kill``, a job scheduler's stop) ends the process at once,
    skipping the cleanup that removes the temporary zip: a hidden ``.dest.zip.*.tmp`` of up to
    the full dataset's size would be left beside the destination. Raising lets that cleanup
    run; the exit status stays the conventional 128 + 15. The previous handler is restored on
    the way out. Handlers can only be set from the main thread; elsewhere nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        # None: a handler set outside Python, which cannot be put back; the default is closest.
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _write_entry(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    """Store ``data`` as ``name`` with the fixed timestamp (reproducible zips)."""
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE_TIME)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16  # rw-r--r-- when unzipped (0 would mean no permissions)
    zf.writestr(info, data)


def _png_bytes(img: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img[:, :, 0] if img.shape[2] == 1 else img).save(buf, format="PNG")
    return buf.getvalue()


def make_dataset(
    src: str | os.PathLike,
    dest: str | os.PathLike,
    *,
    res: int = 64,
    mode: str = "crop",
    channels: int | None = None,
    labels: str | os.PathLike | None = None,
    allow_upscale: bool = True,
    max_upscale: float = 8.0,
    max_images: int | None = None,
    progress: Callable[[int, str], None] | None = None,
    overwrite: bool = False,
) -> DatasetReport:
    """Convert the images under ``src`` into a training zip ``dest``.

    Every image is decoded, made square (:func:`square_image`), resized to ``res x res`` with
    :func:`resize_bandlimited` (values then rounded and clipped to 0..255) and stored as PNG.
    Files that cannot be used are skipped and reported with the reason: not an image file,
    cannot be decoded, smaller than ``res`` when ``allow_upscale`` is false, enlarged more than
    ``max_upscale`` times (a 1-pixel-wide line cropped to 1×1, a thumbnail: nothing left to
    learn from), no label when labels are used. Sizes are written width × height.

    Parameters
    ----------
    src : path-like
        Folder (recursive) or zip archive of PNG/JPEG/WebP/BMP/TIFF images.
    dest : path-like
        The zip to write (parent folders are created; an existing file is an error unless
        ``overwrite`` is true, which replaces it atomically).
    res : int
        Output resolution in pixels: a power of two in ``[4, 8192]``.
    mode : {"crop", "pad"}
        Centre crop to the shorter side, or centre pad with black to the longer side.
    channels : {None, 1, 3}
        1 = greyscale, 3 = RGB, ``None`` = 1 if every image is greyscale, else 3.
    labels : path-like, optional
        JSON labels file (``{"labels": [[name, class], ...]}``, names relative to ``src``); one
        with no labels (``null`` or an empty list) is an error. If not given, a
        ``dataset.json`` at the top of ``src`` is used when present. Entries naming no image
        file are reported (``DatasetReport.labels_without_image``).
    allow_upscale : bool
        If false, images whose square side is below ``res`` are skipped instead of enlarged.
    max_upscale : float
        Images whose square side is below ``res / max_upscale`` are skipped (``>= 1``;
        ``inf``: never).
    max_images : int, optional
        Stop after this many written images.
    progress : callable, optional
        Called as ``progress(count_written, name)`` after each written image.
    overwrite : bool
        Replace an existing ``dest`` (atomically, once the new zip is complete). If false (the
        default, as the ``aliasfree dataset`` command without ``--overwrite``: a training run
        may read the zip), an existing ``dest`` is an error (:class:`DestinationExists`, a
        ``ValueError``), raised before any image is read and again, should one have appeared
        meanwhile, instead of the final rename.

    Returns
    -------
    DatasetReport

    Raises
    ------
    ValueError
        Bad arguments, an unusable ``src`` or labels file, a ``dest`` whose folder cannot be
        written, an existing ``dest`` without ``overwrite``, or no usable image at all (the
        message counts the skipped files by cause).
    """
    res = check_resolution(res)
    if mode not in ("crop", "pad"):
        raise ValueError(f"mode must be 'crop' or 'pad', got {mode!r}")
    if channels is not None and channels not in (1, 3):
        raise ValueError(f"channels must be 1, 3 or None (auto), got {channels!r}")
    if max_images is not None:
        max_images = check_int("max_images", max_images, minimum=1)
    max_upscale = float(max_upscale)
    if not max_upscale >= 1.0:  # also NaN
        raise ValueError(f"max_upscale must be >= 1 (inf: no limit), got {max_upscale:g}")
    src = Path(src)
    dest = Path(dest)
    if not src.exists():
        raise ValueError(f"source does not exist: {str(src)!r}")
    if dest.suffix.lower() != ".zip":
        raise ValueError(f"dest must be a .zip file, got {str(dest)!r}")
    if dest.exists() and src.exists() and dest.resolve() == src.resolve():
        raise ValueError(f"dest must differ from src, got {str(src)!r} for both")
    if labels is not None:
        label_map = read_labels_file(labels)
        if not label_map:
            # Asked for by name: a file that labels nothing is a mistake (a wrong file, an
            # export gone wrong), not a request for an unlabelled set.
            raise ValueError(
                f"labels file {os.fspath(labels)!r} has no labels (null or empty); give "
                f'{{"labels": [["name.png", class], ...]}}, or leave out labels for none'
            )
    else:
        label_map = read_source_labels(src) or None
    # After every argument check, before any image is read.
    if not overwrite and os.path.lexists(dest) and not dest.is_dir():
        raise DestinationExists(dest)  # lexists: a dangling link too, as the final check
    if channels is None:
        channels = 1 if _probe_gray(src) else 3
    pil_mode = "L" if channels == 1 else "RGB"

    not_image = SkipReason("not an image file (extension)", "not an image file")
    skipped: list[tuple[str, str]] = [(n, not_image) for n in _other_files(src)] + _links_not_read(
        src
    )
    # Its folder made and able to take files (a file in the way, /proc/x.zip: exit status 2,
    # not an OSError), and dest itself no folder.
    made = [p for p in (dest.parent, *dest.parent.parents) if not os.path.lexists(p)]
    make_output_dir(dest.parent, "dest")
    dest = prepare_output(dest)
    try:
        with _sigterm_raises():
            return _write_dataset(
                src, dest, label_map, skipped, res=res, mode=mode, channels=channels,
                pil_mode=pil_mode, allow_upscale=allow_upscale, max_upscale=max_upscale,
                max_images=max_images, progress=progress, overwrite=overwrite,
            )  # fmt: skip
    except BaseException:
        # Nothing written: the folders made for dest go too (deepest first; only empty ones).
        for folder in made:
            try:
                folder.rmdir()
            except OSError:
                break
        raise


def _write_dataset(
    src: Path,
    dest: Path,
    label_map: dict[str, int] | None,
    skipped: list[tuple[str, str]],
    *,
    res: int,
    mode: str,
    channels: int,
    pil_mode: str,
    allow_upscale: bool,
    max_upscale: float,
    max_images: int | None,
    progress: Callable[[int, str], None] | None,
    overwrite: bool,
) -> DatasetReport:
    """The write of :func:`make_dataset` (arguments checked): temporary zip, then rename."""
    records: list[tuple[str, str, int | None]] = []  # (new name, source name, class)
    upscaled, max_factor = 0, 1.0
    fd, tmp = mkstemp_output(dest, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf:
                for name, read in iter_image_files(src):
                    if max_images is not None and len(records) >= max_images:
                        break
                    cls = None
                    if label_map is not None:
                        cls = label_map.get(name)
                        if cls is None:
                            skipped.append((name, SkipReason("no label in the labels file")))
                            continue
                    try:
                        data = read()
                    except Exception as exc:
                        text = f"cannot read: {type(exc).__name__}: {exc}"
                        skipped.append((name, SkipReason(text, "cannot be read")))
                        continue
                    try:
                        img = decode_image(data, pil_mode, name, as_float=True)
                    except ValueError as exc:
                        skipped.append((name, SkipReason(str(exc), getattr(exc, "kind", None))))
                        continue
                    h, w = img.shape[:2]
                    if min(h, w) == 0:
                        skipped.append((name, SkipReason("empty image")))
                        continue
                    chw = np.moveaxis(img, -1, 0)
                    side = min(h, w) if mode == "crop" else max(h, w)
                    if not allow_upscale and side < res:
                        kind = f"smaller than {res}x{res} after {mode} (no upscale)"
                        text = f"smaller than {res}x{res} after {mode}: {w}x{h} (no upscale)"
                        skipped.append((name, SkipReason(text, kind)))
                        continue
                    if res > max_upscale * side:
                        kind = f"would be enlarged more than {max_upscale:g}x to {res}x{res}"
                        text = (
                            f"too small: {w}x{h} is {side}x{side} after {mode}, would be "
                            f"enlarged {res / side:.3g}x to {res}x{res} (at most "
                            f"{max_upscale:g}x)"
                        )
                        skipped.append((name, SkipReason(text, kind)))
                        continue
                    if side < res:
                        upscaled += 1
                        max_factor = max(max_factor, res / side)
                    if mode == "pad":
                        # Never the padded square: max(H, W)^2 floats per channel for a strip.
                        sq = pad_resize(chw, res)
                    else:
                        sq = square_image(chw, mode)
                        if side != res:
                            sq = resize_bandlimited(sq, res)
                    out = to_uint8(sq)
                    new = f"img{len(records):08d}.png"
                    _write_entry(zf, new, _png_bytes(np.moveaxis(out, 0, -1)))
                    records.append((new, name, cls))
                    if progress is not None:
                        progress(len(records), name)
                # One list in file order (it was gathered as non-images, links, then the rest).
                skipped.sort(key=lambda item: item[0])
                if not records:
                    raise ValueError(no_usable_image_message(src, skipped))
                c_dim = 0
                orphans: list[str] = []
                if label_map is not None:
                    c_dim = max(c for _, _, c in records if c is not None) + 1
                    # A label naming no file is usually a typo or a stale list: said, not
                    # silently dropped. All image names are listed, so --max-images stopping
                    # early does not make the labels of unread files look orphaned.
                    names = {n for n, _ in iter_image_files(src)}
                    orphans = sorted(n for n in label_map if n not in names)
                meta = {
                    "labels": ([[n, c] for n, _, c in records] if label_map is not None else None),
                    "resolution": res,
                    "channels": channels,
                    "mode": mode,
                    "sources": [[n, s] for n, s, _ in records],
                    "skipped": [[n, r] for n, r in skipped],
                    "labels_without_image": orphans,
                    "upscaled": upscaled,
                }
                _write_entry(zf, "dataset.json", (json.dumps(meta, indent=1) + "\n").encode())
            fh.flush()
            os.fsync(fh.fileno())
        if not overwrite and os.path.lexists(dest):
            raise DestinationExists(dest)  # made while this ran: not replaced unasked
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return DatasetReport(
        dest=dest,
        written=len(records),
        res=res,
        channels=channels,
        mode=mode,
        c_dim=c_dim,
        skipped=skipped,
        labels_without_image=orphans,
        upscaled=upscaled,
        max_upscale_factor=max_factor,
    )
