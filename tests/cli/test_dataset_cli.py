"""``aliasfree dataset`` run in-process: skipped files, band-limited content, labels, errors."""

import io
import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from PIL import Image

from aliasfree import cli
from aliasfree.cli import main
from gan.training.data import ImageDataset
from gan.training.dataset_tool import make_dataset


def _save(path, arr, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, format=fmt)


def _cos(n, k):
    return np.cos(np.pi * k * (np.arange(n) + 0.5) / n)


@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    # The lead registers the command in aliasfree.cli; make the tests independent of that.
    monkeypatch.setitem(cli.COMMANDS, "dataset", "dataset")


def test_help_and_run_do_not_import_torch(tmp_path, rng):
    _save(tmp_path / "s" / "a.png", rng.integers(0, 256, (20, 30, 3), dtype=np.uint8))
    code = (
        "import contextlib, io, sys\n"
        "from aliasfree import cli\n"
        "cli.COMMANDS['dataset'] = 'dataset'\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    try:\n"
        "        cli.main(['dataset', '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"    rc = cli.main(['dataset', {str(tmp_path / 's')!r}, {str(tmp_path / 'o.zip')!r},\n"
        "                   '--res', '16'])\n"
        "text = out.getvalue()\n"
        "assert rc == 0 and '--no-upscale' in text and '1 image,' in text, text\n"
        "print('torch' in sys.modules)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "False"


def test_skips_are_reported_and_zip_loads_back(tmp_path, capsys, rng):
    src = tmp_path / "photos"
    _save(src / "a_wide.png", rng.integers(0, 256, (40, 70, 3), dtype=np.uint8))
    _save(src / "b_gray.jpg", rng.integers(0, 256, (50, 50), dtype=np.uint8), "JPEG")
    _save(src / "nested" / "c_tall.webp", rng.integers(0, 256, (90, 36, 3), dtype=np.uint8))
    _save(src / "d_tiny.png", rng.integers(0, 256, (10, 12, 3), dtype=np.uint8))
    (src / "e_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n but nothing else")
    (src / "readme.txt").write_text("hello")
    dest = tmp_path / "out" / "train.zip"
    rc = main(["dataset", str(src), str(dest), "--res", "32", "--no-upscale"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "3 images, 32x32 RGB" in text and "skipped 3 file(s)" in text
    skipped = {line.split(":")[0].strip(): line for line in text.splitlines()[2:]}
    assert set(skipped) == {"d_tiny.png", "e_broken.png", "readme.txt"}
    assert "smaller than 32x32" in skipped["d_tiny.png"]
    assert "cannot decode" in skipped["e_broken.png"]
    assert "not an image" in skipped["readme.txt"]
    with zipfile.ZipFile(dest) as zf:
        meta = json.loads(zf.read("dataset.json"))
    assert meta["resolution"] == 32 and meta["channels"] == 3 and meta["labels"] is None
    assert [s for _, s in meta["sources"]] == ["a_wide.png", "b_gray.jpg", "nested/c_tall.webp"]
    assert {n for n, _ in meta["skipped"]} == set(skipped)
    ds = ImageDataset(dest)
    assert (len(ds), ds.res, ds.num_channels, ds.c_dim) == (3, 32, 3, 0)
    # Greyscale source promoted to RGB: equal channels.
    img = ds[1][0]
    assert img.shape == (3, 32, 32) and (img[0] == img[1]).all() and (img[1] == img[2]).all()
    # No temporary file is left beside the zip.
    assert sorted(p.name for p in dest.parent.iterdir()) == ["train.zip"]


@pytest.mark.parametrize("kx", [1, 5, 11])
def test_crop_and_resize_match_the_analytic_pattern(tmp_path, kx):
    # 48 x 80 image whose centre 48 x 48 crop (columns 16..63) holds a DCT-basis pattern:
    # resized to 32 it must equal the same pattern sampled on 32 pixel centres.
    h, w, res = 48, 80, 32
    ky = 3
    crop = 128 + 100 * np.outer(_cos(h, ky), _cos(h, kx))
    full = np.full((h, w), 7.0)
    full[:, 16:64] = crop
    # 16-bit PNG keeps the input quantisation far below one output level.
    _save(tmp_path / "src" / "p.png", np.rint(full * 257).astype(np.uint16))
    dest = tmp_path / "p.zip"
    report = make_dataset(tmp_path / "src", dest, res=res)
    assert report.written == 1 and report.channels == 1 and report.skipped == []
    got = ImageDataset(dest)[0][0][0].numpy().astype(float)
    want = 128 + 100 * np.outer(_cos(res, ky), _cos(res, kx))
    assert np.abs(got - want).max() <= 0.5 + 1e-6  # exact up to the final rounding


def test_pad_mode_and_gray(tmp_path):
    # A 16 x 64 band of mid grey, padded with black to 64 x 64, then halved to 32 x 32.
    _save(tmp_path / "s" / "band.png", np.full((16, 64, 3), 128, dtype=np.uint8))
    dest = tmp_path / "band.zip"
    assert main(["dataset", str(tmp_path / "s"), str(dest), "--res", "32", "--mode", "pad",
                 "--gray"]) == 0  # fmt: skip
    ds = ImageDataset(dest)
    assert ds.num_channels == 1
    img = ds[0][0][0].numpy().astype(float)
    assert img.shape == (32, 32)
    # Rows are constant (horizontal band); the content sits in rows 12..19, black above/below.
    assert np.all(img == img[:, :1])
    assert np.all(np.abs(img[14:18, 0] - 128) <= 10)
    assert np.all(img[:3, 0] <= 8) and np.all(img[-3:, 0] <= 8)
    # The ideal low-pass keeps the mean brightness up to ringing clipped at 0.
    assert abs(img.mean() - 128 * 16 / 64) < 3


def test_labels_file_and_missing_labels(tmp_path, capsys, rng):
    src = tmp_path / "src"
    for i in range(4):
        _save(src / f"x{i}.png", rng.integers(0, 256, (20, 20, 3), dtype=np.uint8))
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"labels": [["x0.png", 2], ["x1.png", 0], ["x3.png", 1]]}))
    dest = tmp_path / "lab.zip"
    assert main(["dataset", str(src), str(dest), "--res", "16", "--labels", str(labels)]) == 0
    text = capsys.readouterr().out
    assert "3 images" in text and "3 classes" in text
    assert "x2.png: no label" in text
    ds = ImageDataset(dest, use_labels=True)
    assert ds.c_dim == 3 and len(ds) == 3
    assert [int(ds[i][1].argmax()) for i in range(3)] == [2, 0, 1]


def test_bad_arguments(tmp_path, capsys, rng):
    src = tmp_path / "src"
    _save(src / "a.png", rng.integers(0, 256, (20, 20), dtype=np.uint8))
    for res in ("48", "0", "3"):
        rc = main(["dataset", str(src), str(tmp_path / "o.zip"), "--res", res])
        assert rc == 2
        assert "res must be" in capsys.readouterr().err
    with pytest.raises(ValueError, match="power of two"):
        make_dataset(src, tmp_path / "o.zip", res=100)
    with pytest.raises(ValueError, match=r"\.zip"):
        make_dataset(src, tmp_path / "o.tar", res=16)
    with pytest.raises(ValueError, match="mode"):
        make_dataset(src, tmp_path / "o.zip", res=16, mode="stretch")
    with pytest.raises(ValueError, match="does not exist"):
        make_dataset(tmp_path / "nope", tmp_path / "o.zip", res=16)
    assert not (tmp_path / "o.zip").exists()


def test_no_usable_image_leaves_previous_zip(tmp_path, rng):
    src = tmp_path / "src"
    _save(src / "a.png", rng.integers(0, 256, (20, 20), dtype=np.uint8))
    dest = tmp_path / "o.zip"
    make_dataset(src, dest, res=16)
    before = dest.read_bytes()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.png").write_bytes(b"nope")
    with pytest.raises(ValueError, match=r"no usable image.*x\.png"):
        make_dataset(bad, dest, res=16, overwrite=True)
    assert dest.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "o.zip", "src"]
    # The zip is a valid training set of PNGs.
    with zipfile.ZipFile(dest) as zf:
        png = zf.read("img00000000.png")
    assert Image.open(io.BytesIO(png)).size == (16, 16)


def test_degenerate_images_are_skipped_and_enlargements_reported(tmp_path, capsys, rng):
    # A 1-pixel-wide line cropped to 1x1 and a 5x5 thumbnail would be enlarged 64x and 12.8x:
    # skipped with the reason; a 16x16 image is enlarged 4x, written and counted.
    src = tmp_path / "src"
    _save(src / "line.png", rng.integers(0, 256, (300, 1, 3), dtype=np.uint8))
    _save(src / "thumb.png", rng.integers(0, 256, (5, 5, 3), dtype=np.uint8))
    _save(src / "small.png", rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    _save(src / "big.png", rng.integers(0, 256, (80, 64, 3), dtype=np.uint8))
    dest = tmp_path / "d.zip"
    assert main(["dataset", str(src), str(dest), "--res", "64"]) == 0
    text = capsys.readouterr().out
    assert "2 images, 64x64" in text and "1 image(s) enlarged to 64x64 (at most 4x" in text
    assert "line.png: too small: 1x300 is 1x1 after crop, would be enlarged 64x" in text
    assert "thumb.png: too small: 5x5" in text and "at most 8x" in text
    with zipfile.ZipFile(dest) as zf:
        meta = json.loads(zf.read("dataset.json"))
    assert meta["upscaled"] == 1 and {n for n, _ in meta["skipped"]} == {"line.png", "thumb.png"}
    # The limit is the user's: at 16x the thumbnail is kept, the line (64x) still skipped.
    report = make_dataset(src, tmp_path / "e.zip", res=64, max_upscale=16)
    assert report.written == 3 and report.upscaled == 2
    assert report.max_upscale_factor == pytest.approx(12.8)
    assert main(["dataset", str(src), str(dest), "--max-upscale", "0.5"]) == 2
    assert "--max-upscale must be >= 1" in capsys.readouterr().err


def test_sigterm_during_the_write_leaves_no_temporary_file(tmp_path, rng):
    # SIGTERM's default action killed the process mid-write, skipping the cleanup: a hidden
    # .keep.zip.*.tmp was left beside the destination.
    src = tmp_path / "src"
    for i in range(3):
        _save(src / f"{i}.png", rng.integers(0, 256, (20, 20, 3), dtype=np.uint8))
    out = tmp_path / "out"
    code = (
        "import os, signal\n"
        "from gan.training.dataset_tool import make_dataset\n"
        "def progress(n, name):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "try:\n"
        f"    make_dataset({str(src)!r}, {str(out / 'keep.zip')!r}, res=16, progress=progress)\n"
        "except SystemExit as exc:\n"
        "    print(exc.code, signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    # Exit status 128 + 15 as for a killed process; the previous handler is back.
    assert res.stdout.split() == ["143", "True"]
    assert not out.exists()  # nor the folder it made for the zip


def test_skipped_files_are_listed_in_file_order(tmp_path, capsys, rng):
    # They came grouped by kind: other extensions first, then links, then decode failures.
    src = tmp_path / "src"
    _save(src / "b.png", rng.integers(0, 256, (20, 20), dtype=np.uint8))
    (src / "a_broken.png").write_bytes(b"not a png")
    (src / "c_notes.txt").write_text("hello")
    (src / "d_gone.png").symlink_to(tmp_path / "missing.png")
    dest = tmp_path / "o.zip"
    assert main(["dataset", str(src), str(dest), "--res", "16"]) == 0
    listed = [line.split(":")[0].strip() for line in capsys.readouterr().out.splitlines()[2:]]
    assert listed == ["a_broken.png", "c_notes.txt", "d_gone.png"]
    with zipfile.ZipFile(dest) as zf:
        assert [n for n, _ in json.loads(zf.read("dataset.json"))["skipped"]] == listed


def test_one_class_is_singular_and_a_labels_file_without_labels_is_an_error(tmp_path, capsys, rng):
    src = tmp_path / "src"
    for i in range(2):
        _save(src / f"x{i}.png", rng.integers(0, 256, (20, 20), dtype=np.uint8))
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"labels": [["x0.png", 0], ["x1.png", 0]]}))
    dest = tmp_path / "o.zip"
    assert main(["dataset", str(src), str(dest), "--res", "16", "--labels", str(labels)]) == 0
    text = capsys.readouterr().out
    assert ", 1 class" in text and "classes" not in text
    # {"labels": null} given by name meant "no labels" without a word.
    for empty in (None, []):
        labels.write_text(json.dumps({"labels": empty}))
        rc = main(["dataset", str(src), str(dest), "--res", "16", "--labels", str(labels)])
        assert rc == 2
        assert f"labels file {str(labels)!r} has no labels" in capsys.readouterr().err
    with pytest.raises(ValueError, match="has no labels"):
        make_dataset(src, dest, res=16, labels=labels)
    # A dataset.json in SRC saying null still means an unlabelled set.
    (src / "dataset.json").write_text(json.dumps({"labels": None}))
    assert make_dataset(src, dest, res=16, overwrite=True).c_dim == 0


def test_no_usable_image_counts_skips_by_reason(tmp_path, capsys, rng):
    # Said "15 skipped; first skipped: corrupt.png: not a recognised image" when all but one
    # file were skipped as too small to enlarge.
    src = tmp_path / "imgs"
    for i in range(4):
        _save(src / f"a{i}.png", rng.integers(0, 256, (100, 120), np.uint8))
    (src / "0corrupt.png").write_bytes(b"junk")
    dest = tmp_path / "d1.zip"
    argv = ["dataset", str(src), str(dest), "--res", "512", "--max-upscale", "2"]
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        f"aliasfree dataset: error: no usable image in {str(src)!r}; 5 files skipped: "
        "4 would be enlarged more than 2x to 512x512 (e.g. a0.png), "
        "1 not a recognised image (0corrupt.png)\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imgs"]


def test_an_existing_dest_is_kept_unless_overwrite(tmp_path, capsys, rng):
    src = tmp_path / "src"
    _save(src / "a.png", rng.integers(0, 256, (20, 20), np.uint8))
    dest = tmp_path / "d.zip"
    dest.write_bytes(b"a zip a training run depends on")
    assert main(["dataset", str(src), str(dest), "--res", "16"]) == 2
    assert capsys.readouterr().err == (
        f"aliasfree dataset: error: DEST {str(dest)!r} already exists; pass --overwrite to "
        "replace it\n"
    )
    assert dest.read_bytes() == b"a zip a training run depends on"
    assert main(["dataset", str(src), str(dest), "--res", "16", "--overwrite"]) == 0
    assert ImageDataset(dest).res == 16
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.zip", "src"]  # no temporary file
    # The library refuses by default too (DestinationExists); overwrite=True replaces.
    from gan.training.dataset_tool import DestinationExists

    with pytest.raises(DestinationExists, match="already exists"):
        make_dataset(src, dest, res=8)
    assert make_dataset(src, dest, res=8, overwrite=True).res == 8


def test_an_unwritable_dest_is_a_clear_error(tmp_path, capsys, rng):
    src = tmp_path / "src"
    _save(src / "a.png", rng.integers(0, 256, (20, 20), np.uint8))
    assert main(["dataset", str(src), "/proc/aliasfree-nope/d.zip", "--res", "16"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aliasfree dataset: error: dest: cannot write /proc/aliasfree-nope: ")
    assert len(err.splitlines()) == 1


def test_a_failed_dataset_leaves_no_folder_it_made_and_a_dangling_dest_is_refused_first(
    tmp_path, capsys, rng
):
    import os

    src = tmp_path / "src"
    _save(src / "a.png", rng.integers(0, 256, (8, 8), np.uint8))  # too small for 32 px
    out = tmp_path / "out"
    out.mkdir()
    dest = out / "new" / "deeper" / "d.zip"
    assert main(["dataset", str(src), str(dest), "--res", "32", "--no-upscale"]) == 2
    assert "no usable image" in capsys.readouterr().err
    assert list(out.iterdir()) == []  # new/deeper were made for the zip: removed again
    # A dangling symlink at DEST is an existing DEST (the final check said so only after
    # every image had been processed).
    link = tmp_path / "dangling.zip"
    os.symlink(tmp_path / "missing.zip", link)
    _save(src / "b.png", rng.integers(0, 256, (40, 40), np.uint8))
    assert main(["dataset", str(src), str(link), "--res", "32"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert os.path.islink(link) and not (tmp_path / "missing.zip").exists()


def test_a_file_labelled_twice_with_different_classes_is_an_error(tmp_path, capsys, rng):
    # The last class silently won (a_rgb.png trained as class 0), also between "./x0.png" and
    # "x0.png", which name the same file.
    src = tmp_path / "src"
    for i in range(2):
        _save(src / f"x{i}.png", rng.integers(0, 256, (20, 20), dtype=np.uint8))
    labels = tmp_path / "labels.json"
    dest = tmp_path / "o.zip"
    argv = ["dataset", str(src), str(dest), "--res", "16", "--labels", str(labels)]
    labels.write_text(json.dumps({"labels": [["x0.png", 1], ["x0.png", 0], ["x1.png", 1]]}))
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        f"aliasfree dataset: error: --labels {labels}: 'x0.png' is listed twice with different "
        "classes, 1 and 0; give each file one class\n"
    )
    labels.write_text(json.dumps({"labels": [["x0.png", 1], ["./x0.png", 0], ["x1.png", 1]]}))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "'x0.png' (as 'x0.png' and './x0.png') is listed twice" in err and "1 and 0" in err
    assert not dest.exists()
    # The same class twice names one class: accepted.
    labels.write_text(json.dumps({"labels": [["x0.png", 1], ["./x0.png", 1], ["x1.png", 0]]}))
    assert main(argv) == 0
    ds = ImageDataset(dest, use_labels=True)
    assert [int(ds[i][1].argmax()) for i in range(2)] == [1, 0]
    # A SRC/dataset.json is named as such (no --labels was typed).
    (src / "dataset.json").write_text(json.dumps({"labels": [["x0.png", 0], ["x0.png", 2]]}))
    assert main(["dataset", str(src), str(tmp_path / "p.zip"), "--res", "16"]) == 2
    err = capsys.readouterr().err
    assert f"error: {src}/dataset.json: 'x0.png' is listed twice" in err and "--labels" not in err


def test_path_errors_name_src_and_dest_as_the_help_does(tmp_path, capsys, rng):
    # Said "dest must be a .zip file" and "dest must differ from src": the user typed no "dest".
    src = tmp_path / "src"
    _save(src / "a.png", rng.integers(0, 256, (20, 20), dtype=np.uint8))
    tar = tmp_path / "o.tar"
    assert main(["dataset", str(src), str(tar), "--res", "16"]) == 2
    assert capsys.readouterr().err == (
        f"aliasfree dataset: error: DEST must be a .zip file, got {str(tar)!r}\n"
    )
    same = tmp_path / "same.zip"
    assert main(["dataset", str(src), str(same), "--res", "16"]) == 0
    capsys.readouterr()
    assert main(["dataset", str(same), str(same), "--res", "16", "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"aliasfree dataset: error: DEST must differ from SRC, got {str(same)!r}")
    nope = tmp_path / "nope"
    assert main(["dataset", str(nope), str(tmp_path / "n.zip"), "--res", "16"]) == 2
    assert capsys.readouterr().err.startswith(f"aliasfree dataset: error: SRC {str(nope)!r} does")


def test_make_dataset_keeps_an_existing_zip_unless_asked(tmp_path, rng):
    # The API replaced an existing training zip by default while the command refused.
    src = tmp_path / "src"
    _save(src / "a.png", rng.integers(0, 256, (20, 20), np.uint8))
    dest = tmp_path / "d.zip"
    dest.write_bytes(b"a zip a training run depends on")
    with pytest.raises(ValueError, match="already exists"):
        make_dataset(src, dest, res=8)
    assert dest.read_bytes() == b"a zip a training run depends on"
    assert make_dataset(src, dest, res=8, overwrite=True).res == 8
