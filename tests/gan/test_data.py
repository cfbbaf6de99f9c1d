"""Training data: band-limited resize, built-in sets, ImageDataset from folders and zips."""

import io
import json
import pickle
import warnings
import zipfile

import numpy as np
import pytest
import scipy.fft
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from gan.training.builtin import builtin_images
from gan.training.data import ImageDataset
from gan.training.dataset_tool import (
    check_resolution,
    make_dataset,
    pad_resize,
    resize_bandlimited,
    resize_matrix,
    square_image,
)

# ---- band-limited resize --------------------------------------------------------------------


def _cosines(n: int, k: int) -> np.ndarray:
    """DCT-II basis ``cos(pi k (i + 1/2) / n)``: a pattern of ``k`` half-cycles across the image."""
    return np.cos(np.pi * k * (np.arange(n) + 0.5) / n)


def _dct_resize(x: np.ndarray, m: int, axis: int) -> np.ndarray:
    """Independent truth: orthonormal DCT-II, keep or zero-pad to ``m`` terms, inverse DCT."""
    n = x.shape[axis]
    c = scipy.fft.dct(x, type=2, norm="ortho", axis=axis)
    c = np.moveaxis(c, axis, -1)
    out = np.zeros(c.shape[:-1] + (m,))
    k = min(n, m)
    out[..., :k] = c[..., :k]
    out = scipy.fft.idct(out, type=2, norm="ortho", axis=-1) * np.sqrt(m / n)
    return np.moveaxis(out, -1, axis)


@given(
    n=st.integers(3, 70),
    m=st.integers(3, 70),
    w=st.integers(3, 40),
    mw=st.integers(3, 40),
    data=st.data(),
    method=st.sampled_from(["fft", "matrix"]),
)
def test_resize_cosine_pattern_is_exact_at_new_rate(n, m, w, mw, data, method):
    ky = data.draw(st.integers(0, min(n, m) - 1))
    kx = data.draw(st.integers(0, min(w, mw) - 1))
    x = 0.3 + np.outer(_cosines(n, ky), _cosines(w, kx))
    want = 0.3 + np.outer(_cosines(m, ky), _cosines(mw, kx))
    got = resize_bandlimited(x, (m, mw), method=method)
    assert got.shape == (m, mw)
    np.testing.assert_allclose(got, want, atol=1e-9)


@pytest.mark.parametrize(("n", "m"), [(25, 32), (25, 64), (97, 32), (300, 64), (16, 16), (7, 40)])
def test_resize_equals_truncated_dct_and_both_paths_agree(rng, n, m):
    x = rng.standard_normal((2, n, n + 5))
    want = _dct_resize(_dct_resize(x, m, -2), m, -1)
    for method in ("fft", "matrix", "auto"):
        np.testing.assert_allclose(resize_bandlimited(x, m, method=method), want, atol=1e-10)
    a = resize_matrix(n, m)
    np.testing.assert_allclose(a, _dct_resize(np.eye(n), m, 0), atol=1e-12)


def test_resize_removes_frequencies_above_new_nyquist():
    # A pattern with 40 half-cycles cannot be represented on 32 pixels: it must vanish, not alias.
    x = np.outer(np.ones(64), _cosines(64, 40))
    np.testing.assert_allclose(resize_bandlimited(x, 32), 0.0, atol=1e-10)


@pytest.mark.parametrize(
    ("shape", "res"),
    [((2, 40), 16), ((40, 3), 16), ((5, 12), 32), ((9, 7), 16), ((6, 16), 16), ((11, 4), 8)],
)
@pytest.mark.parametrize("method", ["auto", "fft", "matrix"])
def test_pad_resize_equals_resizing_the_padded_square(rng, shape, res, method):
    # Pad mode built the max(H, W)^2 square (512 MB per channel for a 2 x 8000 strip); the
    # content-only resize must give the same result.
    x = rng.uniform(0, 255, (3, *shape))
    want = resize_bandlimited(square_image(x, "pad"), res, method=method)
    got = pad_resize(x, res, method=method)
    assert got.shape == (3, res, res)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * 255)


def test_pad_mode_never_builds_the_padded_square(tmp_path):
    import tracemalloc

    src = tmp_path / "strip"
    src.mkdir()
    strip = np.tile(np.arange(8000) % 256, (2, 1)).astype(np.uint8)
    Image.fromarray(strip).save(src / "strip.png")
    square = 8000 * 8000 * 8  # the float64 square a padded 2 x 8000 image used to need
    tracemalloc.start()
    try:
        report = make_dataset(src, tmp_path / "o.zip", res=16, mode="pad")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.written == 1
    assert peak < square / 20


def test_resize_bad_arguments():
    with pytest.raises(ValueError, match="image"):
        resize_bandlimited(np.array([1.0, np.nan]).reshape(1, 2), 4)
    with pytest.raises(ValueError, match="rank"):
        resize_bandlimited(np.ones(5), 4)
    with pytest.raises(ValueError, match="size"):
        resize_bandlimited(np.ones((4, 4)), 0)
    with pytest.raises(ValueError, match="method"):
        resize_bandlimited(np.ones((4, 4)), 8, method="bilinear")


@pytest.mark.parametrize("bad", [0, 3, 48, 100, 2.5, True, 16384])
def test_resolution_must_be_power_of_two(bad):
    with pytest.raises(ValueError, match="res"):
        check_resolution(bad)
    with pytest.raises(ValueError, match="res"):
        builtin_images("lfw", bad)
    with pytest.raises(ValueError, match="res"):
        ImageDataset("builtin", res=bad)


# ---- built-in sets --------------------------------------------------------------------------


def test_builtin_lfw_faces_are_the_band_limited_source():
    import skimage.data

    a = builtin_images("lfw", 32)
    assert a.shape == (100, 1, 32, 32) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, builtin_images("lfw", 32))
    faces = skimage.data.lfw_subset()[:100] * 255.0
    want = np.clip(np.rint(_dct_resize(_dct_resize(faces, 32, -2), 32, -1)), 0, 255)
    # Rounding of values within 1e-9 of a half integer may differ by one level.
    assert np.abs(a[:, 0].astype(float) - want).max() <= 1
    assert a.min() < 30 and a.max() > 225  # the full range is used
    assert builtin_images("lfw", 64, num=5).shape == (5, 1, 64, 64)


def test_builtin_textures_deterministic_rgb():
    a = builtin_images("textures", 16, num=24, seed=3)
    b = builtin_images("textures", 16, num=24, seed=3)
    c = builtin_images("textures", 16, num=24, seed=4)
    assert a.shape == (24, 3, 16, 16) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.std() > 20  # real content, not a constant
    # Some crops are colour (channels differ), some are greyscale textures (channels equal).
    colour = (a[:, 0] != a[:, 1]).any(axis=(1, 2))
    assert colour.any() and not colour.all()


def test_builtin_bad_arguments():
    with pytest.raises(ValueError, match="built-in set"):
        builtin_images("mnist", 32)
    with pytest.raises(ValueError, match="num"):
        builtin_images("lfw", 32, num=101)
    with pytest.raises(ValueError, match="res"):
        builtin_images("textures", 256)
    with pytest.raises(ValueError, match="built-in set"):
        ImageDataset("builtin:mnist")


def test_builtin_dataset():
    ds = ImageDataset("builtin:lfw", res=32, xflip=True)
    assert (ds.res, ds.num_channels, ds.c_dim, ds.name) == (32, 1, 0, "builtin:lfw")
    assert len(ds) == 200 and ds.num_images == 100
    img, label = ds[7]
    assert img.dtype == torch.uint8 and img.shape == (1, 32, 32)
    assert label.dtype == torch.float32 and label.shape == (0,)
    np.testing.assert_array_equal(img.numpy(), builtin_images("lfw", 32)[7])
    assert torch.equal(ds[107][0], img.flip(-1))
    assert ImageDataset("builtin").name == "builtin:lfw"
    assert (
        ImageDataset("builtin", max_images=10).res == 32
        and len(ImageDataset("builtin", max_images=10)) == 10
    )
    with pytest.raises(ValueError, match="labels"):
        ImageDataset("builtin", use_labels=True)


# ---- folders and zips -----------------------------------------------------------------------


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _make_images(rng, n=5, res=16, rgb=True):
    shape = (n, res, res, 3) if rgb else (n, res, res)
    return rng.integers(0, 256, shape, dtype=np.uint8)


def _write_folder(root, images, labels=None, sub=True):
    root.mkdir(parents=True, exist_ok=True)
    names = []
    for i, img in enumerate(images):
        name = f"{'sub/' if sub and i % 2 else ''}im{i:02d}.png"
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(_png(img))
        names.append(name)
    if labels is not None:
        meta = {"labels": [[n, int(c)] for n, c in zip(names, labels, strict=True)]}
        (root / "dataset.json").write_text(json.dumps(meta))
    (root / "notes.txt").write_text("not an image")
    return names


def _write_zip(path, images, labels=None):
    names = [f"img{i:03d}.png" for i in range(len(images))]
    with zipfile.ZipFile(path, "w") as zf:
        for name, img in zip(names, images, strict=True):
            zf.writestr(name, _png(img))
        if labels is not None:
            meta = {"labels": [[n, int(c)] for n, c in zip(names, labels, strict=True)]}
            zf.writestr("dataset.json", json.dumps(meta))
    return names


def _as_chw(img: np.ndarray) -> np.ndarray:
    return img[None] if img.ndim == 2 else np.moveaxis(img, -1, 0)


@pytest.mark.parametrize("kind", ["folder", "zip"])
@pytest.mark.parametrize("rgb", [True, False])
def test_dataset_reads_images_and_labels(tmp_path, rng, kind, rgb):
    images = _make_images(rng, n=5, res=16, rgb=rgb)
    labels = [2, 0, 3, 0, 1]
    if kind == "folder":
        names = _write_folder(tmp_path / "d", images, labels)
        src = tmp_path / "d"
    else:
        names = _write_zip(tmp_path / "d.zip", images, labels)
        src = tmp_path / "d.zip"
    order = np.argsort(names)  # the dataset lists files in sorted order
    ds = ImageDataset(src, use_labels=True, xflip=True)
    assert (ds.res, ds.num_channels, ds.c_dim, ds.name) == (16, 3 if rgb else 1, 4, "d")
    assert len(ds) == 10
    for pos, i in enumerate(order):
        img, label = ds[pos]
        assert img.dtype == torch.uint8 and img.shape == (ds.num_channels, 16, 16)
        np.testing.assert_array_equal(img.numpy(), _as_chw(images[i]))
        np.testing.assert_array_equal(label.numpy(), np.eye(4, dtype=np.float32)[labels[i]])
        flipped, label2 = ds[pos + 5]
        np.testing.assert_array_equal(flipped.numpy(), _as_chw(images[i])[:, :, ::-1])
        assert torch.equal(label, label2)
    assert ds[-1][0].shape == ds[9][0].shape
    with pytest.raises(IndexError):
        ds[10]
    # Without use_labels the labels are empty; res given explicitly must match.
    plain = ImageDataset(src, res=16, max_images=3)
    assert plain.c_dim == 0 and plain[0][1].shape == (0,) and len(plain) == 3
    assert ImageDataset(src).images().shape == (5, ds.num_channels, 16, 16)
    # Picklable (DataLoader workers), also after the zip handle was opened.
    clone = pickle.loads(pickle.dumps(ds))
    assert torch.equal(clone[3][0], ds[3][0])
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert batch[0].shape == (4, ds.num_channels, 16, 16) and batch[1].shape == (4, 4)


def test_dataset_mixed_modes_promote_to_rgb(tmp_path, rng):
    root = tmp_path / "m"
    root.mkdir()
    gray = _make_images(rng, n=1, res=8, rgb=False)[0]
    colour = _make_images(rng, n=1, res=8, rgb=True)[0]
    (root / "a.png").write_bytes(_png(gray))
    (root / "b.png").write_bytes(_png(colour))
    ds = ImageDataset(root)
    assert ds.num_channels == 3
    np.testing.assert_array_equal(ds[0][0].numpy(), np.repeat(gray[None], 3, axis=0))
    np.testing.assert_array_equal(ds[1][0].numpy(), np.moveaxis(colour, -1, 0))


def test_wrongly_sized_image_names_the_file(tmp_path, rng):
    images = list(_make_images(rng, n=3, res=16))
    _write_folder(tmp_path / "d", images, sub=False)
    (tmp_path / "d" / "odd.png").write_bytes(_png(_make_images(rng, n=1, res=8)[0]))
    with pytest.raises(ValueError, match=r"odd\.png.*8x8.*expected 16x16"):
        ImageDataset(tmp_path / "d")
    with pytest.raises(ValueError, match=r"im00\.png.*expected 32x32"):
        ImageDataset(tmp_path / "d", res=32)
    # Non-square or non-power-of-two first image.
    root = tmp_path / "r"
    root.mkdir()
    (root / "a.png").write_bytes(_png(rng.integers(0, 255, (12, 16), dtype=np.uint8)))
    with pytest.raises(ValueError, match=r"a\.png.*square.*power-of-two"):
        ImageDataset(root)


def test_corrupt_image_names_the_file(tmp_path, rng):
    images = list(_make_images(rng, n=2, res=16))
    _write_folder(tmp_path / "d", images, sub=False)
    (tmp_path / "d" / "broken.png").write_bytes(b"definitely not a png")
    with pytest.raises(ValueError, match=r"broken\.png.*aliasfree dataset SRC DEST\.zip"):
        ImageDataset(tmp_path / "d")
    # A truncated file passes the header check and fails on access, still naming the file.
    (tmp_path / "d" / "broken.png").write_bytes(_png(images[0])[:60])
    ds = ImageDataset(tmp_path / "d")
    with pytest.raises(ValueError, match=r"broken\.png.*skipping unreadable files") as info:
        ds[0]  # sorted: broken.png comes first
    # The file name is quoted on its own, then the folder (was 'broken.png in /path').
    assert f"image 'broken.png' in {str(tmp_path / 'd')!r}:" in str(info.value)
    assert ds[1][0].shape == (3, 16, 16)


def test_label_errors(tmp_path, rng):
    images = _make_images(rng, n=3, res=8)
    _write_folder(tmp_path / "d", images, sub=False)
    with pytest.raises(ValueError, match="no labels"):
        ImageDataset(tmp_path / "d", use_labels=True)
    meta = {"labels": [["im00.png", 1], ["im01.png", 0]]}
    (tmp_path / "d" / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"im02\.png"):
        ImageDataset(tmp_path / "d", use_labels=True)
    meta["labels"].append(["im02.png", -1])
    (tmp_path / "d" / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="class"):
        ImageDataset(tmp_path / "d", use_labels=True)
    assert ImageDataset(tmp_path / "d").c_dim == 0  # labels unused: not read


def test_bad_sources(tmp_path):
    # The messages lead with the parameter's name, which `aliasfree train` writes as --data
    # (they said "dataset source ..." and "no PNG/... image found", naming no flag).
    with pytest.raises(ValueError, match=r"^source must be .*'.*missing' does not exist"):
        ImageDataset(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"^source must hold PNG/.*none found in"):
        ImageDataset(tmp_path / "empty")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ValueError, match=r"^source must be .*folder or a .zip"):
        ImageDataset(tmp_path / "file.txt")
    (tmp_path / "bad.zip").write_bytes(b"PK\x05\x06" + bytes(18))  # an empty archive
    with pytest.raises(ValueError, match=r"^source must hold PNG/"):
        ImageDataset(tmp_path / "bad.zip")
    with pytest.raises(ValueError, match="max_images"):
        ImageDataset("builtin", max_images=0)


def test_tiff_images_are_read_and_float_tiffs_refused_by_name(tmp_path):
    from dsp.imagefiles import load_images
    from gan.training.dataset_tool import make_dataset

    src = tmp_path / "tiffs"
    src.mkdir()
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 10, 120, 250
    Image.fromarray(rgb).save(src / "a.tif")
    deep = (np.arange(256, dtype=np.uint16).reshape(16, 16) * 257).astype(np.uint16)
    Image.fromarray(deep).save(src / "b.tiff")
    Image.fromarray(np.full((16, 16), 0.5, np.float32)).save(src / "c.tif")
    images, skipped = load_images(src, mode="RGB")
    assert len(images) == 2
    np.testing.assert_allclose(images[0, :, 0, 0], np.array([10, 120, 250]) / 255.0)
    np.testing.assert_allclose(images[1, 0], deep / 65535.0, rtol=1e-12)
    ((name, reason),) = skipped
    assert name == "c.tif" and "floating-point" in reason
    report = make_dataset(src, tmp_path / "out.zip", res=16, channels=1)
    assert report.written == 2
    ((skip_name, skip_reason),) = report.skipped
    assert skip_name == "c.tif" and "floating-point" in skip_reason
    assert "corrupt" not in skip_reason  # it decodes; its samples are what is refused
    ds = ImageDataset(tmp_path / "out.zip")
    assert len(ds) == 2 and ds.res == 16
    (src / "c.tif").unlink()
    direct = ImageDataset(src)  # a folder of TIFFs trains without conversion, too
    assert len(direct) == 2 and direct.res == 16


def test_dataset_reports_dangling_links_and_applies_exif_orientation(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    # A phone photo stored sideways with an EXIF orientation tag (6: turn 90° clockwise to
    # display): left half black, right half white as stored, so top black, bottom white shown.
    stored = np.zeros((32, 64, 3), np.uint8)
    stored[:, 32:] = 255
    im = Image.fromarray(stored)
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(src / "photo.jpg", exif=exif, quality=95)
    # A link whose target is gone, and a linked folder (not followed), were left out of the
    # report without a word.
    (src / "gone.png").symlink_to(tmp_path / "missing.png")
    (tmp_path / "elsewhere").mkdir()
    Image.fromarray(stored).save(tmp_path / "elsewhere" / "x.png")
    (src / "more").symlink_to(tmp_path / "elsewhere")
    report = make_dataset(src, tmp_path / "out.zip", res=16, mode="pad")
    assert report.written == 1
    assert [name for name, _ in report.skipped] == ["gone.png", "more"]
    assert "broken link" in report.skipped[0][1] and "folder" in report.skipped[1][1]
    with zipfile.ZipFile(tmp_path / "out.zip") as zf:
        img = np.asarray(Image.open(zf.open("img00000000.png")).convert("L"), dtype=float)
    # Padded to 64x64 as displayed (32 wide, 64 tall): the columns 4..11 hold the picture,
    # dark at the top and bright at the bottom.
    mid = img[:, 6:10]
    assert mid[:6].mean() < 60 and mid[-6:].mean() > 200


@pytest.fixture
def no_skimage(monkeypatch):
    """scikit-image absent (the ``data`` extra not installed): every import of it fails."""
    import sys

    for name in ["skimage", "skimage.data", *[m for m in sys.modules if m.startswith("skimage")]]:
        monkeypatch.setitem(sys.modules, name, None)


@pytest.mark.parametrize("name", ["lfw", "textures"])
def test_builtin_without_scikit_image_says_how_to_get_it(no_skimage, name):
    # Was a raw ModuleNotFoundError traceback from `aliasfree train` (default --data builtin).
    with pytest.raises(ValueError, match=r"scikit-image.*aliasfree\[data\].*folder"):
        builtin_images(name, 16, num=2)
    with pytest.raises(ValueError, match="scikit-image"):
        ImageDataset(f"builtin:{name}", res=16)


def test_zip_with_unflagged_utf8_names_matches_the_folder(tmp_path, rng, zip_raw_names):
    # `cd d && zip -qr ../d.zip .` stores UTF-8 names without the UTF-8 flag: the labelled
    # non-ASCII file was "no label" from the zip (read as cp437) and 2 images became 1.
    images = _make_images(rng, n=2, res=8)
    name = "sub/ünïcødé 猫.png"
    meta = json.dumps({"labels": [["a.png", 0], [name, 1]]}).encode()
    zpath = zip_raw_names(
        tmp_path / "u.zip",
        {b"a.png": _png(images[0]), name.encode("utf-8"): _png(images[1]), b"dataset.json": meta},
    )
    report = make_dataset(zpath, tmp_path / "o.zip", res=8)
    assert report.written == 2 and report.skipped == [] and report.c_dim == 2
    with zipfile.ZipFile(tmp_path / "o.zip") as zf:
        assert json.loads(zf.read("dataset.json"))["sources"][1] == ["img00000001.png", name]
    ds = ImageDataset(zpath, use_labels=True)
    assert len(ds) == 2 and ds.c_dim == 2
    np.testing.assert_array_equal(ds[1][0].numpy(), _as_chw(images[1]))
    assert int(ds[1][1].argmax()) == 1


def test_duplicate_zip_entries_are_both_read(tmp_path, rng):
    # zf.open(name) returns the last entry of a name: ImageDataset gave the second copy twice,
    # while aliasfree dataset (by ZipInfo) read both. Both now read each copy.
    images = _make_images(rng, n=3, res=8)
    zpath = tmp_path / "dup.zip"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile: "Duplicate name"
        with zipfile.ZipFile(zpath, "w") as zf:
            for name, img in zip(["a.png", "a.png", "b.png"], images, strict=True):
                zf.writestr(name, _png(img))
    ds = ImageDataset(zpath)
    assert len(ds) == 3
    for i in range(3):
        np.testing.assert_array_equal(ds[i][0].numpy(), _as_chw(images[i]))
    clone = pickle.loads(pickle.dumps(ds))  # the entries survive pickling (DataLoader workers)
    np.testing.assert_array_equal(clone[0][0].numpy(), _as_chw(images[0]))
    report = make_dataset(zpath, tmp_path / "o.zip", res=8)
    assert report.written == 3
    made = ImageDataset(tmp_path / "o.zip")
    for i in range(3):
        assert torch.equal(made[i][0], ds[i][0])


def test_c_dim_counts_every_label_not_just_the_images_kept(tmp_path, rng):
    images = _make_images(rng, n=4, res=8)
    _write_folder(tmp_path / "d", images, labels=[0, 0, 0, 1], sub=False)
    ds = ImageDataset(tmp_path / "d", use_labels=True, max_images=3)
    assert len(ds) == 3 and ds.c_dim == 2  # was 1: the subset's largest class
    assert ds[0][1].tolist() == [1.0, 0.0]


def _png16_gray_alpha(arr: np.ndarray) -> bytes:
    """A 16-bit grey + alpha PNG (colour type 4), which Pillow cannot write."""
    import struct
    import zlib

    h, w = arr.shape[:2]
    rows = b"".join(b"\x00" + arr[i].astype(">u2").tobytes() for i in range(h))

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", w, h, 16, 4, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_16_bit_gray_alpha_png_counts_as_greyscale(tmp_path):
    # Pillow opens it as RGBA (no 16-bit LA mode): a folder of them became RGB in auto mode.
    gray = np.tile(np.arange(8, dtype=np.uint16) * 8000, (8, 1))
    pixels = np.stack([gray, np.full_like(gray, 65535)], axis=-1)
    src = tmp_path / "la"
    src.mkdir()
    (src / "la16.png").write_bytes(_png16_gray_alpha(pixels))
    assert Image.open(src / "la16.png").mode == "RGBA"
    report = make_dataset(src, tmp_path / "o.zip", res=8)
    assert report.written == 1 and report.channels == 1
    ds = ImageDataset(src)
    assert ds.num_channels == 1
    np.testing.assert_array_equal(ds[0][0][0].numpy(), gray >> 8)  # Pillow keeps the top byte


def test_32_bit_integer_image_is_skipped_with_its_range(tmp_path, rng):
    src = tmp_path / "s"
    src.mkdir()
    Image.fromarray(np.tile(np.arange(16, dtype=np.int32) * 4_000_000, (16, 1))).save(
        src / "deep.tif"
    )
    Image.fromarray(_make_images(rng, n=1, res=16, rgb=False)[0]).save(src / "ok.png")
    report = make_dataset(src, tmp_path / "o.zip", res=16)
    assert report.written == 1
    ((name, reason),) = report.skipped
    assert name == "deep.tif" and "outside 0..65535" in reason and "60000000" in reason


def test_image_over_pillows_pixel_limit_is_not_called_corrupt(tmp_path, rng, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow refuses over 2 x 100 pixels
    src = tmp_path / "s"
    src.mkdir()
    Image.fromarray(_make_images(rng, n=1, res=16)[0]).save(src / "big.png")
    Image.fromarray(_make_images(rng, n=1, res=8)[0]).save(src / "small.png")
    report = make_dataset(src, tmp_path / "o.zip", res=8)
    ((name, reason),) = report.skipped
    assert name == "big.png" and "corrupt" not in reason
    assert "256 pixels, larger than Pillow's limit of 200 pixels" in reason
    with pytest.raises(ValueError, match=r"big\.png.*larger than Pillow's limit of 200 pixels"):
        ImageDataset(src, res=16)


def test_dataset_zip_is_reproducible(tmp_path, rng):
    # Entries carried the time of writing: two runs on the same images gave different zips.
    _write_folder(tmp_path / "d", _make_images(rng, n=3, res=16), labels=[0, 1, 0])
    make_dataset(tmp_path / "d", tmp_path / "a.zip", res=8)
    make_dataset(tmp_path / "d", tmp_path / "b.zip", res=8)
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.zip") as zf:
        infos = zf.infolist()
    assert len(infos) == 4
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos)
    assert all(i.external_attr >> 16 == 0o644 for i in infos)
