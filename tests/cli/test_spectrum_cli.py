"""``aliasfree spectrum`` run in-process on small generated image folders."""

import argparse
import json

import numpy as np
import pytest
from PIL import Image

from aliasfree.commands import spectrum as cmd


def _parse(argv):
    # Only this subcommand's parser: the test does not depend on the other subcommands.
    parser = argparse.ArgumentParser(prog="aliasfree")
    sub = parser.add_subparsers(dest="command", required=True)
    cmd.add_parser(sub)
    return parser.parse_args(["spectrum", *argv])


def _tone_image(n, kx, ky, amp, period=32):
    yy, xx = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    v = 0.5 + amp * np.cos(2 * np.pi * (kx * xx + ky * yy) / period)
    return np.rint(v * 255).astype(np.uint8)


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "imgs"
    root.mkdir()
    # In the half band: (3, 1)/32; outside it: (12, 0)/32. Amplitudes 0.3 and 0.15 give an
    # out-of-band power fraction of 0.15² / (0.3² + 0.15²) = 0.2 (up to 8-bit rounding).
    for i in range(3):
        img = _tone_image(32, 3, 1, 0.3) + _tone_image(32, 12, 0, 0.15).astype(int) - 128
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(root / f"img{i}.png")
    Image.fromarray(_tone_image(40, 3, 1, 0.3)).save(root / "big.png")
    (root / "zz_broken.png").write_bytes(b"garbage")
    return root


def test_json_summary_and_files(folder, tmp_path, capsys):
    out = tmp_path / "out"
    args = _parse([str(folder), "--out", str(out), "--window", "none", "--json", "--size", "32"])
    assert cmd.run(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == json.loads((out / "summary.json").read_text())
    assert doc["count"] == 4 and doc["size"] == [32, 32] and doc["channels"] == 1
    assert doc["skipped"][0]["name"] == "zz_broken.png" and doc["skipped"][0]["reason"]
    for name in ("spectrum.png", "spectrum_slices.png", "spectrum.npz", "summary.json"):
        assert (out / name).stat().st_size > 0
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left
    with np.load(out / "spectrum.npz") as z:
        fy, fx, p = z["fy"], z["fx"], z["P"]
    np.testing.assert_array_equal(fy, np.fft.fftshift(np.fft.fftfreq(32)))
    np.testing.assert_array_equal(fx, fy)
    assert p.shape == (32, 32)
    # Three mixed images (fraction 0.2) and one pure in-band tone (big.png, 40x40 centre-cropped
    # to 32x32: still a tone on a 32-point bin). 8-bit rounding of these periodic tones gives a
    # periodic error (harmonics, not white noise) of about 1 % of the power.
    frac = doc["out_of_band_fraction"]["2"]
    e_in = 0.3**2 / 2
    e_out = 0.15**2 / 2
    assert frac["square"] == pytest.approx(3 * e_out / (4 * e_in + 3 * e_out), abs=5e-3)
    assert frac["cutoff"] == 0.25
    # The tone at 12/32 is outside the stride-4 band too, the (3, 1) tone inside it.
    assert doc["out_of_band_fraction"]["4"]["square"] >= frac["square"] - 1e-12


def test_window_none_matches_power_spectrum(folder, tmp_path, capsys):
    from dsp.imagefiles import load_images
    from dsp.spectrum import power_spectrum

    out = tmp_path / "o"
    cmd.run(_parse([str(folder), "--out", str(out), "--window", "kaiser", "--limit", "2"]))
    images, _ = load_images(folder, limit=2)
    _, _, want = power_spectrum(images, window="kaiser", beta=8.0)
    with np.load(out / "spectrum.npz") as z:
        np.testing.assert_allclose(z["P"], want, rtol=1e-12)
    text = capsys.readouterr().out
    assert "2 images" in text and "s = 2" in text and "spectrum.npz" in text


def test_rgb_and_text_output(folder, tmp_path, capsys):
    out = tmp_path / "rgb"
    assert cmd.run(_parse([str(folder), "--out", str(out), "--rgb"])) == 0
    text = capsys.readouterr().out
    assert "RGB" in text and "zz_broken.png" in text and "32x32" in text
    assert json.loads((out / "summary.json").read_text())["channels"] == 3


def test_zip_input_and_default_out(folder, tmp_path, monkeypatch, capsys):
    import zipfile

    zpath = tmp_path / "imgs.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, f.name)
    monkeypatch.chdir(tmp_path)
    assert cmd.run(_parse([str(zpath)])) == 0
    assert (tmp_path / "aliasfree-out" / "spectrum" / "summary.json").exists()


def test_no_usable_image_is_a_clear_error(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"nope")
    with pytest.raises(ValueError, match="no usable image"):
        cmd.run(_parse([str(tmp_path / "bad"), "--out", str(tmp_path / "o")]))
    assert not (tmp_path / "o").exists()


def test_help_explains_every_flag(capsys):
    with pytest.raises(SystemExit) as exc:
        _parse(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for flag in ("PATH", "--out", "--size", "--gray", "--rgb", "--limit", "--window", "--json"):
        assert flag in text
    assert "hann" in text and "kaiser" in text and "none" in text


def test_gray_and_rgb_are_exclusive(capsys):
    with pytest.raises(SystemExit):
        _parse(["x", "--gray", "--rgb"])


def test_beta_is_checked_only_for_the_kaiser_window(folder, tmp_path, capsys):
    from dsp.imagefiles import load_images
    from dsp.spectrum import power_spectrum

    out = tmp_path / "hann"
    argv = [str(folder), "--out", str(out), "--window", "hann", "--beta", "-1", "--limit", "2"]
    assert cmd.run(_parse(argv)) == 0
    images, _ = load_images(folder, limit=2)
    _, _, want = power_spectrum(images, window="hann")
    with np.load(out / "spectrum.npz") as z:
        np.testing.assert_allclose(z["P"], want, rtol=1e-12)
    assert json.loads((out / "summary.json").read_text())["beta"] is None
    capsys.readouterr()
    bad = tmp_path / "kaiser"
    with pytest.raises(ValueError, match="--beta"):
        cmd.run(_parse([str(folder), "--out", str(bad), "--window", "kaiser", "--beta", "-1"]))
    assert not bad.exists()


def _small_and_corrupt(folder, n_small=4):
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(n_small):
        Image.fromarray(rng.integers(0, 256, (20, 24), np.uint8)).save(folder / f"a{i}.png")
    (folder / "corrupt.png").write_bytes(b"junk")
    return folder


def test_no_usable_image_counts_skips_by_reason_not_the_first_file(tmp_path, capsys):
    from aliasfree.cli import main

    src = _small_and_corrupt(tmp_path / "imgs")
    (src / "0.png").write_bytes(b"junk")  # first in file order, and the odd one out
    assert main(["spectrum", str(src), "--size", "500", "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err == (
        f"aliasfree spectrum: error: no usable image in {str(src)!r}; 6 files skipped: "
        "4 smaller than 500x500 (e.g. a0.png), 2 not a recognised image (e.g. 0.png)\n"
    )
    assert not (tmp_path / "o").exists()


def test_an_out_that_cannot_be_written_names_the_flag(folder, tmp_path, capsys):
    from aliasfree.cli import main

    # Was exit status 1 with a bare "No such file or directory: '/proc/nope'".
    assert main(["spectrum", str(folder), "--out", "/proc/aliasfree-nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aliasfree spectrum: error: --out: cannot write /proc/aliasfree-nope: ")
    assert len(err.splitlines()) == 1
