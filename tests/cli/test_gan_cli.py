"""``aliasfree generate | equivariance | sticking | video`` run in-process on the tiny presets."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from aliasfree import cli
from gan.metrics.equivariance import measure
from gan.metrics.video import latents_from_seeds, to_uint8
from gan.networks import transform as tf
from gan.networks.presets import build_generator

COMMANDS = ("generate", "equivariance", "sticking", "video")


@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    # The lead registers the commands in aliasfree.cli; make the tests independent of that.
    for name in COMMANDS:
        monkeypatch.setitem(cli.COMMANDS, name, name)


def test_generate_grid_equals_the_generator(tmp_path, capsys):
    out = tmp_path / "g" / "grid.png"
    rc = cli.main(["generate", "--preset", "t-tiny", "--res", "32", "--seeds", "0-2,5",
                   "--psi", "0.7", "--translate", "0.1,0", "--rotate", "10", "--cols", "2",
                   "--batch", "3", "--out", str(out)])  # fmt: skip
    assert rc == 0 and "wrote" in capsys.readouterr().out
    grid = np.asarray(Image.open(out))
    assert grid.shape == (65, 65, 3)  # 2×2 tiles of 32 px, a 1 px gutter
    assert not grid[32].any() and not grid[:, 32].any()
    G = build_generator("t-tiny", res=32, seed=0).eval()
    z = latents_from_seeds([0, 1, 2, 5], G.z_dim)
    A = tf.compose(tf.translate(0.1, 0.0), tf.rotate(math.radians(10)))
    with torch.no_grad():
        want = to_uint8(G(z, psi=0.7, transform=A))
    # Same network, latents and transform: equal up to one grey level of float rounding.
    for i in range(4):
        r, c = divmod(i, 2)
        tile = grid[r * 33 : r * 33 + 32, c * 33 : c * 33 + 32].astype(int)
        assert np.abs(tile - want[i]).max() <= 1
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]


def test_generate_from_checkpoint(tmp_path):
    from gan.networks.io import save_generator

    G = build_generator("baseline-tiny", res=16, seed=3).eval()
    save_generator(G, tmp_path / "g")
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert cli.main(["generate", "--checkpoint", str(tmp_path / "g"), "--seeds", "1",
                     "--out", str(a)]) == 0  # fmt: skip
    assert cli.main(["generate", "--preset", "baseline-tiny", "--res", "16", "--init-seed", "3",
                     "--seeds", "1", "--out", str(b)]) == 0  # fmt: skip
    np.testing.assert_array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))


def test_equivariance_json_matches_the_library(tmp_path, capsys):
    out = tmp_path / "eq.json"
    rc = cli.main(["equivariance", "--preset", "t-tiny", "--res", "16", "--num", "2",
                   "--batch", "2", "--metrics", "eqt,eqt_frac", "--layers", "L3_36_32",
                   "--json", "--out", str(out)])  # fmt: skip
    assert rc == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc == json.loads(out.read_text())
    # stderr is no terminal here: a per-layer run reports each finished measurement instead
    # of staying silent for minutes.
    lines = [ln for ln in captured.err.splitlines() if ln.startswith("[")]
    assert [ln.split(":")[0] for ln in lines] == [
        "[1/4] eqt image",
        "[2/4] eqt_frac image",
        "[3/4] eqt L3_36_32",
        "[4/4] eqt_frac L3_36_32",
    ]
    got = {(r["layer"], r["metric"]): r["psnr_db"] for r in doc["results"]}
    assert sorted(got, key=str) == sorted(
        [(None, "eqt"), (None, "eqt_frac"), ("L3_36_32", "eqt"), ("L3_36_32", "eqt_frac")],
        key=str,
    )
    G = build_generator("t-tiny", res=16, seed=0).eval()
    want = measure(G, "eqt_frac", 2, batch=2, layer="L3_36_32")
    assert got[("L3_36_32", "eqt_frac")] == pytest.approx(want.psnr_db, rel=1e-9)


def test_equivariance_table(capsys):
    rc = cli.main(["equivariance", "--preset", "r-tiny", "--res", "32", "--num", "2",
                   "--batch", "2", "--no-progress"])  # fmt: skip
    assert rc == 0
    text = capsys.readouterr().out
    assert "EQ-T" in text and "EQ-T_frac" in text and "EQ-R" in text
    row = next(line for line in text.splitlines() if line.startswith("image"))
    assert len(row.split()) == 4
    assert "layers" not in text.splitlines()[1]  # one scale: the image's


def test_equivariance_table_names_the_two_psnr_scales(tmp_path, capsys):
    out = tmp_path / "eq.json"
    rc = cli.main(["equivariance", "--preset", "r-tiny", "--res", "32", "--num", "2",
                   "--metrics", "eqt_frac", "--layers", "L0_36_32", "--no-progress",
                   "--out", str(out)])  # fmt: skip
    assert rc == 0
    head = capsys.readouterr().out.splitlines()[1]
    assert "image: peak-to-peak 2" in head and "layers: relative to the map's RMS" in head
    scales = {r["layer"]: r["psnr_scale"] for r in json.loads(out.read_text())["results"]}
    assert scales == {None: "peak-to-peak 2", "L0_36_32": "map RMS"}


def test_sticking_and_video_write_files(tmp_path, capsys):
    png, gif = tmp_path / "s.png", tmp_path / "v.gif"
    assert cli.main(["sticking", "--preset", "baseline-tiny", "--res", "16", "--num", "4",
                     "--steps", "6", "--out", str(png)]) == 0  # fmt: skip
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    assert cli.main(["video", "--preset", "t-tiny", "--res", "16", "--frames", "5",
                     "--translate", "0.05,0.02", "--rotate", "5", "--scale", "2",
                     "--out", str(gif)]) == 0  # fmt: skip
    img = Image.open(gif)
    assert img.n_frames == 5 and img.size == (32, 32)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.png", "v.gif"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["generate", "--seeds", "3-1"], "--seeds"),
        (["generate", "--seeds", "x"], "--seeds"),
        (["generate", "--translate", "0.1"], "--translate"),
        (["generate", "--res", "48"], "res"),
        (["generate", "--checkpoint", "nowhere", "--res", "32"], "--res"),
        (["generate", "--checkpoint", "nowhere"], "config"),
        (["equivariance", "--metrics", "eqz", "--num", "1"], "--metrics"),
        (["equivariance", "--num", "0", "--res", "16"], "--num"),
        (["equivariance", "--batch", "0", "--res", "16"], "--batch"),
        (["equivariance", "--max-shift", "0.7", "--res", "16"], "--max-shift"),
        (["equivariance", "--layers", "nope", "--num", "1", "--res", "16"], "layer"),
        (["equivariance", "--max-angle", "200"], "--max-angle"),
        # The accepted range, not only its end ("--column must be <= 15").
        (
            ["sticking", "--res", "16", "--column", "16", "--num", "1", "--steps", "2"],
            "--column must be in 0..15 (a pixel column of the 16 px images), got 16",
        ),
        (
            ["sticking", "--res", "16", "--column", "-1", "--num", "1", "--steps", "2"],
            "--column must be in 0..15",
        ),
        (["video", "--res", "16", "--frames", "0"], "frames"),
        # Named after the flag typed (seed1 used to read "--seed"; seeds "seed"), and bounded
        # before any work (--steps 1e10 died allocating 40 GB).
        (["generate", "--seeds", "5000000000"], "--seeds must be <= 4294967295"),
        (["sticking", "--res", "16", "--seed1", "5000000000"], "--seed1 must be <= 4294967295"),
        (["sticking", "--res", "16", "--steps", "10000000000"], "--steps must be <= 65536"),
        (["sticking", "--res", "16", "--num", "100000"], "--num must be <= 65536"),
    ],
)
def test_bad_input_exits_2_with_message(argv, message, tmp_path, capsys):
    name = {"equivariance": "x.json", "video": "x.gif"}.get(argv[0], "x.png")
    argv = [*argv, "--out", str(tmp_path / name)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert f"aliasfree {argv[0]}: error:" in err and message in err
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_without_gpu_is_a_clear_error(capsys):
    assert cli.main(["generate", "--device", "cuda"]) == 2
    assert "CUDA" in capsys.readouterr().err


@pytest.mark.parametrize("name", COMMANDS)
def test_help_explains_every_flag(name, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([name, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--preset", "--checkpoint", "--res", "--device", "--psi", "--out"):
        assert flag in text
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[name]
    for action in sub._actions:
        if action.option_strings and action.dest != "help":
            assert action.help, f"{name} {action.option_strings} has no help"


@pytest.mark.parametrize("name", ["s", "s.txt", "s.jpg"])
def test_sticking_out_must_be_a_png_before_any_work(name, tmp_path, capsys, monkeypatch):
    # Checked up front (it used to fail after the work, for a bare name with the temporary file's
    # random suffix as the "format", and a .jpg was written despite the help's "output PNG").
    from aliasfree.commands import generate

    def no_model(args):
        raise AssertionError("the model was loaded before --out was checked")

    monkeypatch.setattr(generate, "load_model", no_model)
    monkeypatch.setattr("aliasfree.commands.sticking.load_model", no_model)
    assert cli.main(["sticking", "--res", "16", "--out", str(tmp_path / name)]) == 2
    assert "--out must end in .png" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_equivariance_checks_baseline_layers_before_measuring(tmp_path, capsys, monkeypatch):
    # The baseline has no layer schedule: its names come from one forward pass, checked before
    # any measurement (a typo used to fail only after the image had been measured).
    from gan.metrics import equivariance

    def no_measure(*a, **k):
        raise AssertionError("measured before the layer names were checked")

    monkeypatch.setattr(equivariance, "measure", no_measure)
    argv = ["equivariance", "--preset", "baseline-tiny", "--res", "16", "--num", "1"]
    assert cli.main([*argv, "--layers", "foo", "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert "unknown layer(s) ['foo']" in err and "b8.conv0" in err
    assert not list(tmp_path.iterdir())


def test_equivariance_keeps_what_it_measured_when_one_map_is_too_small(tmp_path, capsys):
    # EQ-R has no valid pixels on the baseline's 8-sample maps: that cell is n/a with its
    # reason, the others are measured and written, and the exit status says something is missing.
    out = tmp_path / "eq.json"
    argv = ["equivariance", "--preset", "baseline-tiny", "--res", "16", "--num", "1"]
    # (--max-angle 30: the 16-px image itself keeps valid pixels at any such angle; near 45° its
    # rotation mask is empty too.)
    argv += ["--metrics", "eqt,eqr", "--layers", "all", "--max-angle", "30", "--out", str(out)]
    assert cli.main(argv) == 1
    text = capsys.readouterr().out
    doc = json.loads(out.read_text())
    measured = {(r["layer"], r["metric"]) for r in doc["results"]}
    missing = {(r["layer"], r["metric"]) for r in doc["not_measured"]}
    assert (None, "eqt") in measured and (None, "eqr") in measured
    assert ("b8.conv0", "eqr") in missing and ("b8.conv0", "eqt") in measured
    why = {(r["layer"], r["metric"]): r["reason"] for r in doc["not_measured"]}
    assert "no valid pixels" in why[("b8.conv0", "eqr")]
    assert "n/a" in text


def test_conditional_generators_render_a_chosen_class(tmp_path, capsys):
    # equivariance, sticking and video feed a one-hot class (0 by default, --class K), not the
    # all-zero label, which is no class the generator was trained on.
    from gan.metrics.sticking import average_of_neighbourhood
    from gan.metrics.video import class_labels
    from gan.networks.io import save_generator
    from gan.networks.presets import build_generator

    G = build_generator("baseline-tiny", res=16, seed=0, c_dim=3).eval()
    np.testing.assert_array_equal(class_labels(G, 2, 1).numpy(), [[0, 1, 0], [0, 1, 0]])
    assert class_labels(build_generator("baseline-tiny", res=16), 2, 5) is None
    with pytest.raises(ValueError, match="class_idx must be <= 2"):
        class_labels(G, 1, 3)
    z = torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(0))
    a0 = average_of_neighbourhood(G, z, num=2)
    a1 = average_of_neighbourhood(G, z, num=2, class_idx=1)
    with torch.no_grad():
        want = torch.stack(
            [G(z + 0.2 * e[None], class_labels(G, 1, 1), noise_mode="const")[0] for e in
             torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(0))]
        ).mean(0)  # fmt: skip
    torch.testing.assert_close(a1, want, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(a0, a1)
    save_generator(G, tmp_path / "g")
    ck = ["--checkpoint", str(tmp_path / "g")]
    out = tmp_path / "eq.json"
    argv = [
        "equivariance",
        *ck,
        "--num",
        "1",
        "--metrics",
        "eqt",
        "--class",
        "2",
        "--out",
        str(out),
    ]
    assert cli.main(argv) == 0
    assert json.loads(out.read_text())["class"] == 2 and "class 2" in capsys.readouterr().out
    assert cli.main(["video", *ck, "--frames", "2", "--out", str(tmp_path / "v.gif")]) == 0
    assert "class 0" in capsys.readouterr().out
    assert cli.main(["sticking", *ck, "--class", "3", "--out", str(tmp_path / "s.png")]) == 2
    assert "--class must be in 0..2" in capsys.readouterr().err
    plain = ["video", "--preset", "baseline-tiny", "--res", "16", "--class", "1"]
    assert cli.main([*plain, "--out", str(tmp_path / "w.gif")]) == 2
    assert "unconditional" in capsys.readouterr().err


def test_video_reports_the_frames_it_stored(tmp_path, capsys):
    gif = tmp_path / "still.gif"
    assert cli.main(["video", "--preset", "t-tiny", "--res", "16", "--frames", "6",
                     "--translate", "0,0", "--out", str(gif)]) == 0  # fmt: skip
    assert "1 frame (of 6; identical ones merged)" in capsys.readouterr().out
    assert Image.open(gif).n_frames == 1


def test_an_unwritable_out_is_named_not_its_temporary_file(capsys):
    # /proc takes no new files (even for root): the temporary file beside --out fails first,
    # and the error used to name it ('/proc/.x.png.1wgx8h11.png') instead of --out.
    out = "/proc/aliasfree-test-grid.png"
    assert cli.main(["generate", "--res", "16", "--seeds", "0", "--out", out]) != 0
    err = capsys.readouterr().err
    assert f"cannot write {out}" in err and ".aliasfree-test-grid.png." not in err


@pytest.mark.parametrize("preset", ["t-tiny", "baseline-tiny"])
def test_a_transform_of_the_wrong_shape_is_reported_as_passed(preset):
    # A [2, 3] matrix (the affine part only) was reported as "got [1, 2, 3]".
    G = build_generator(preset, res=16, seed=0).eval()
    z = torch.zeros(2, G.z_dim)
    with pytest.raises(ValueError, match=r"shape \[3, 3\] or \[2, 3, 3\], got \[2, 3\]$"):
        G(z, transform=torch.eye(3)[:2])
    with pytest.raises(ValueError, match=r"got \[3, 3, 3\]$"):
        G(z, transform=torch.eye(3).expand(3, 3, 3))
