"""Loading folders and zip archives of images (dsp.imagefiles)."""

import zipfile

import numpy as np
import pytest
from PIL import Image

from dsp.imagefiles import iter_image_files, load_images


def _gray(h, w, seed):
    return np.random.default_rng(seed).integers(0, 256, size=(h, w), dtype=np.uint8)


def _rgb(h, w, seed):
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


@pytest.fixture
def image_dir(tmp_path):
    """A folder with lossless images of different sizes, lossy ones, a corrupt file and noise."""
    root = tmp_path / "imgs"
    (root / "sub").mkdir(parents=True)
    (root / ".hidden").mkdir()
    arrays = {
        "a.png": _gray(10, 12, 1),
        "sub/b.PNG": _gray(8, 9, 2),
        "c.bmp": _gray(9, 8, 3),
    }
    for name, arr in arrays.items():
        Image.fromarray(arr).save(root / name)
    Image.fromarray(_rgb(16, 16, 4)).save(root / "d.jpg", quality=95)
    Image.fromarray(_rgb(12, 12, 5)).save(root / "e.webp", lossless=True)
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    (root / "notes.txt").write_text("not an image")
    Image.fromarray(_gray(4, 4, 6)).save(root / ".hidden" / "x.png")
    Image.fromarray(_gray(4, 4, 7)).save(root / ".y.png")
    return root, arrays


def _zip_folder(root, path, extra=None):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for f in sorted(root.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(root).as_posix())
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path


EXPECTED_NAMES = ["a.png", "broken.png", "c.bmp", "d.jpg", "e.webp", "sub/b.PNG"]


def test_iter_folder_is_recursive_sorted_and_filtered(image_dir):
    root, arrays = image_dir
    items = list(iter_image_files(root))
    assert [n for n, _ in items] == EXPECTED_NAMES
    data = dict(items)
    assert data["a.png"]() == (root / "a.png").read_bytes()


def test_iter_zip_matches_folder(image_dir, tmp_path):
    root, _ = image_dir
    zpath = _zip_folder(root, tmp_path / "imgs.zip", {"__MACOSX/._a.png": b"junk", "dir/": b""})
    names = []
    for name, read in iter_image_files(zpath):
        names.append(name)
        assert read() == (root / name).read_bytes()
    assert names == EXPECTED_NAMES


def test_iter_single_file_and_errors(image_dir, tmp_path):
    root, _ = image_dir
    assert [n for n, _ in iter_image_files(root / "a.png")] == ["a.png"]
    with pytest.raises(ValueError, match="does not exist"):
        list(iter_image_files(tmp_path / "missing"))
    with pytest.raises(ValueError, match="folder"):
        list(iter_image_files(root / "notes.txt"))
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK not really")
    with pytest.raises(ValueError, match="zip"):
        list(iter_image_files(bad))


@pytest.mark.parametrize("as_zip", [False, True])
def test_load_gray_crops_to_smallest_and_skips_corrupt(image_dir, tmp_path, as_zip):
    root, arrays = image_dir
    src = _zip_folder(root, tmp_path / "i.zip") if as_zip else root
    images, skipped = load_images(src, mode="L")
    # Smallest height 8 (b.PNG) and width 8 (c.bmp).
    assert images.shape == (5, 1, 8, 8)
    assert images.dtype == np.float64
    assert [s[0] for s in skipped] == ["broken.png"]
    assert skipped[0][1]  # a reason is given
    # Lossless files come back exactly, centre-cropped: a.png 10x12 -> rows 1..8, cols 2..9.
    np.testing.assert_array_equal(images[0, 0], arrays["a.png"][1:9, 2:10] / 255.0)
    np.testing.assert_array_equal(images[1, 0], arrays["c.bmp"][0:8, 0:8] / 255.0)
    np.testing.assert_array_equal(images[4, 0], arrays["sub/b.PNG"][0:8, 0:8] / 255.0)
    assert images.min() >= 0.0 and images.max() <= 1.0


def test_load_rgb_and_luma(image_dir):
    root, _ = image_dir
    rgb, _ = load_images(root, mode="RGB", size=12)
    gray, skipped = load_images(root, mode="L", size=12)
    assert rgb.shape[1] == 3 and gray.shape[1] == 1
    # Only a.png (10x12), b.PNG, c.bmp are smaller than 12x12: skipped with a size reason.
    reasons = dict(skipped)
    assert set(reasons) == {"a.png", "sub/b.PNG", "c.bmp", "broken.png"}
    assert "smaller" in reasons["a.png"]
    # The WebP is lossless: ITU-R 601 luma of the original within one grey level.
    src = _rgb(12, 12, 5).astype(float)
    luma = (0.299 * src[..., 0] + 0.587 * src[..., 1] + 0.114 * src[..., 2]) / 255
    np.testing.assert_allclose(gray[1, 0], luma, atol=1.0 / 255)
    np.testing.assert_array_equal(rgb[1], np.moveaxis(src, -1, 0) / 255)
    # The JPEG is lossy: compare with Pillow's own decoding, centre-cropped 16 -> 12.
    with Image.open(root / "d.jpg") as im:
        dec = np.asarray(im.convert("RGB"), dtype=float)
    np.testing.assert_array_equal(rgb[0], np.moveaxis(dec, -1, 0)[:, 2:14, 2:14] / 255)


def test_min_size_skips_tiny_images_instead_of_shrinking_every_crop(image_dir):
    # One 1x1 file made the default crop (the smallest image) 1x1 for every image.
    root, arrays = image_dir
    images, skipped, sources = load_images(root, min_size=9, return_sources=True)
    reasons = dict(skipped)
    assert reasons["sub/b.PNG"] == "smaller than the minimum 9x9: 8x9"
    assert reasons["c.bmp"] == "smaller than the minimum 9x9: 9x8"
    assert images.shape[2:] == (10, 12)  # a.png is now the smallest
    assert [name for name, _ in sources] == ["a.png", "d.jpg", "e.webp"]
    assert sources[0] == ("a.png", (10, 12))
    with pytest.raises(ValueError, match="size must be at least 9 on each side, got 8x16"):
        load_images(root, size=(8, 16), min_size=9)
    with pytest.raises(ValueError, match="min_size must be >= 1"):
        load_images(root, min_size=0)


def test_load_limit_and_explicit_rect_size(image_dir):
    root, _ = image_dir
    images, skipped = load_images(root, limit=2)
    assert images.shape[0] == 2
    assert [s[0] for s in skipped] == ["broken.png"]  # reached before the limit
    images, _ = load_images(root, size=(6, 4))
    assert images.shape == (5, 1, 6, 4)


def test_load_16_bit_and_alpha(tmp_path):
    v16 = np.arange(0, 65536, 4096, dtype=np.uint16).reshape(4, 4)
    Image.fromarray(v16).save(tmp_path / "deep.png")
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 10
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    images, skipped = load_images(tmp_path, mode="RGB")
    assert skipped == []
    np.testing.assert_allclose(images[0, 0], v16 / 65535.0, rtol=1e-12)
    np.testing.assert_array_equal(images[0, 1], images[0, 0])
    np.testing.assert_array_equal(images[1, 0], 200 / 255)  # alpha dropped, not composited


def test_full_scale_16_bit_white_is_read_as_one(tmp_path):
    # 65535 is the 16-bit white level: inside 0..65535, so read (as 1.0), not refused.
    v16 = np.array([[0, 65535], [32768, 65535]], dtype=np.uint16)
    Image.fromarray(v16).save(tmp_path / "a_white16.png")
    Image.fromarray(np.full((2, 2), 65535, np.int32)).save(tmp_path / "b_white32.tif")
    images, skipped = load_images(tmp_path)
    assert skipped == []
    np.testing.assert_allclose(images[0, 0], v16 / 65535.0, rtol=1e-12)
    np.testing.assert_array_equal(images[1, 0], 1.0)


def test_explicit_rect_size_checks_height_and_width_separately(tmp_path):
    # size=(height, width) = (16, 8): a 10x20 image is too short (skipped), a 20x10 one fits
    # and is centre-cropped (rows 2..17, columns 1..8).
    tall = _gray(20, 10, 11)
    Image.fromarray(_gray(10, 20, 10)).save(tmp_path / "a_wide.png")
    Image.fromarray(tall).save(tmp_path / "b_tall.png")
    images, skipped = load_images(tmp_path, size=(16, 8))
    assert [n for n, _ in skipped] == ["a_wide.png"]
    assert "smaller than 16x8: 10x20" in skipped[0][1]
    assert images.shape == (1, 1, 16, 8)
    np.testing.assert_array_equal(images[0, 0], tall[2:18, 1:9] / 255.0)


def test_bad_crc_in_zip_is_skipped(tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(_gray(6, 6, 0)).save(good)
    zpath = tmp_path / "z.zip"
    with zipfile.ZipFile(zpath, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.write(good, "a.png")
        zf.write(good, "b.png")
    with zipfile.ZipFile(zpath) as zf:
        info = zf.getinfo("a.png")
    raw = bytearray(zpath.read_bytes())
    # Local header: 30 bytes + name + extra, then the stored data; flip a byte of the data.
    name_len = int.from_bytes(raw[info.header_offset + 26 : info.header_offset + 28], "little")
    extra_len = int.from_bytes(raw[info.header_offset + 28 : info.header_offset + 30], "little")
    raw[info.header_offset + 30 + name_len + extra_len + 20] ^= 0xFF
    zpath.write_bytes(bytes(raw))
    images, skipped = load_images(zpath)
    assert images.shape == (1, 1, 6, 6)
    assert skipped[0][0] == "a.png" and "CRC" in skipped[0][1]


def test_load_errors(tmp_path, image_dir):
    root, _ = image_dir
    (tmp_path / "only_bad").mkdir()
    (tmp_path / "only_bad" / "x.jpg").write_bytes(b"nope")
    with pytest.raises(ValueError, match="no usable image.*x.jpg"):
        load_images(tmp_path / "only_bad")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no usable image"):
        load_images(tmp_path / "empty")
    with pytest.raises(ValueError, match="mode"):
        load_images(root, mode="CMYK")
    with pytest.raises(ValueError, match="limit"):
        load_images(root, limit=0)
    with pytest.raises(ValueError, match="size"):
        load_images(root, size=(4, 4, 4))
    with pytest.raises(ValueError, match="size"):
        load_images(root, size=0)


def test_explicit_size_crops_each_image_as_it_is_decoded(tmp_path):
    # With --size the full-size decoded images were all kept until the end and cropped only
    # then: 500 photos of 12 Mpixel at --size 256 needed ~48 GB instead of ~260 MB.
    import tracemalloc

    rng = np.random.default_rng(0)
    for i in range(8):
        pixels = rng.integers(0, 256, (400, 400), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / f"{i}.png")
    full = 400 * 400 * 8  # one decoded float64 image
    tracemalloc.start()
    try:
        images, skipped = load_images(tmp_path, size=16)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert images.shape == (8, 1, 16, 16) and not skipped
    assert peak < 4 * full
    want = np.asarray(Image.open(tmp_path / "3.png"), dtype=np.float64)[192:208, 192:208] / 255
    np.testing.assert_array_equal(images[3, 0], want)


def test_exif_orientation_is_applied(tmp_path):
    # A photo stored sideways with orientation 6 ("rotate 90° clockwise to view"): its pixels
    # come out as a viewer shows them, so the spectrum's axes are the picture's.
    a = _gray(6, 10, 3)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(a).save(tmp_path / "sideways.png", exif=exif)
    images, skipped = load_images(tmp_path, mode="L")
    assert skipped == []
    np.testing.assert_array_equal(images[0, 0], np.rot90(a, -1) / 255.0)


def test_zip_utf8_names_without_the_utf8_flag_are_read_as_utf8(tmp_path, zip_raw_names):
    # Info-ZIP `zip` stores UTF-8 names without the flag; zipfile decoded them as cp437
    # ("sub/├╝n├»c├╕d├⌐ τî½.png"), so a zip and the same folder named files differently.
    a, b, c = _gray(4, 4, 1), _gray(4, 4, 2), _gray(4, 4, 3)
    png = {}
    for key, arr in (("a", a), ("b", b), ("c", c)):
        Image.fromarray(arr).save(tmp_path / f"{key}.png")
        png[key] = (tmp_path / f"{key}.png").read_bytes()
    unicode_name = "sub/ünïcødé 猫.png"
    zpath = zip_raw_names(
        tmp_path / "u.zip",
        {
            unicode_name.encode("utf-8"): png["a"],
            # A true cp437 name (0x82 is é there): not valid UTF-8, so it keeps its reading.
            b"caf\x82.png": png["b"],
            b"plain.png": png["c"],
        },
    )
    items = [(name, read()) for name, read in iter_image_files(zpath)]
    assert items == [("café.png", png["b"]), ("plain.png", png["c"]), (unicode_name, png["a"])]
    images, skipped = load_images(zpath)
    assert skipped == [] and images.shape == (3, 1, 4, 4)
    np.testing.assert_array_equal(images[2, 0], a / 255.0)
    # Names stored with the flag (zipfile sets it for non-ASCII) are taken as they are.
    flagged = tmp_path / "f.zip"
    with zipfile.ZipFile(flagged, "w") as zf:
        zf.writestr(unicode_name, png["a"])
    assert [n for n, _ in iter_image_files(flagged)] == [unicode_name]


def test_integer_samples_beyond_16_bits_are_refused_not_clipped(tmp_path):
    # A 32-bit integer TIFF ramp to 65.5 million was read "as 16-bit" and came out 98% white.
    ramp = np.tile(np.arange(8, dtype=np.int32) * 9_000_000, (8, 1))
    Image.fromarray(ramp).save(tmp_path / "a_deep.tif")
    Image.fromarray(np.full((8, 8), -5, np.int32)).save(tmp_path / "b_negative.tif")
    ok = np.tile(np.arange(8, dtype=np.int32) * 9000, (8, 1))  # within 0..65535: read
    Image.fromarray(ok).save(tmp_path / "c_fits.tif")
    images, skipped = load_images(tmp_path)
    assert [n for n, _ in skipped] == ["a_deep.tif", "b_negative.tif"]
    assert "from 0 to 63000000 are outside 0..65535" in skipped[0][1]
    assert "from -5 to -5" in skipped[1][1]
    np.testing.assert_allclose(images[0, 0], ok / 65535.0, rtol=1e-12)


def _small_and_corrupt(folder, n_small=3, side=20):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n_small):
        Image.fromarray(rng.integers(0, 256, (side, side + 4), np.uint8)).save(folder / f"a{i}.png")
    (folder / "corrupt.png").write_bytes(b"not an image")
    return folder


def test_no_usable_image_counts_the_skips_by_cause(tmp_path):
    # The error quoted the first skipped file (a corrupt one, say) while almost every file
    # was skipped for another cause (too small for --size).
    src = _small_and_corrupt(tmp_path / "d")
    (src / "0bad.png").write_bytes(b"junk")  # sorts first: used to be the only one quoted
    with pytest.raises(ValueError) as info:
        load_images(src, size=64)
    assert str(info.value) == (
        f"no usable image in {str(src)!r}; 5 files skipped: 3 smaller than 64x64 (e.g. a0.png), "
        "2 not a recognised image (e.g. 0bad.png)"
    )


def test_summarize_skipped_groups_by_kind_and_keeps_the_text():
    import json

    from dsp.imagefiles import SkipReason, no_usable_image_message, summarize_skipped

    small = [
        (f"s{i}.png", SkipReason(f"smaller than 8x8: {i}x{i}", "smaller than 8x8")) for i in (1, 2)
    ]
    skipped = [("x.png", "odd reason"), *small]
    assert summarize_skipped(skipped) == "2 smaller than 8x8 (e.g. s1.png), 1 odd reason (x.png)"
    # Still a str: printed and written to JSON as the full reason.
    assert json.dumps(small[0][1]) == '"smaller than 8x8: 1x1"'
    assert no_usable_image_message("p", [("x.png", "odd")]) == (
        "no usable image in 'p'; 1 file skipped: 1 odd (x.png)"
    )
    assert "image files are .bmp" in no_usable_image_message("p", [])
