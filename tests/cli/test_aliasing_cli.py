"""``aliasfree aliasing`` in-process on tiny examples and inputs (issue 6)."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from aliasfree import cli
from aliasfree.commands.aliasing import make_inputs, parse_input_shape
from gan.probe import probe_model
from gan.probe.loading import load_model


@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    # The lead registers the command in aliasfree.cli; keep the tests independent of that.
    monkeypatch.setitem(cli.COMMANDS, "aliasing", "aliasing")


def test_report_files_match_the_library(tmp_path, capsys):
    from safetensors.torch import save_file

    from gan.probe.examples import build_example

    save_file(build_example("resnet-stride", seed=5).state_dict(), str(tmp_path / "w.safetensors"))
    out = tmp_path / "rep"
    rc = cli.main(["aliasing", "resnet-blurpool", "--weights", str(tmp_path / "w.safetensors"),
                   "--input-shape", "3,16,16", "--images", "noise", "--num", "2",
                   "--shifts", "1,0.5", "--out", str(out)])  # fmt: skip
    assert rc == 0
    text = capsys.readouterr().out
    assert "layer2.0.down1" in text and "out_of_band" in text
    for f in ("report.csv", "report.json", "depth.png", "worst_spectra.png"):
        assert (out / f).stat().st_size > 0, f
        assert f"wrote {out / f}" in text
    doc = json.loads((out / "report.json").read_text())
    # The same numbers as the library on the same model, weights and inputs.
    model = load_model("resnet-blurpool", weights=tmp_path / "w.safetensors")
    x, _ = make_inputs("noise", (3, 16, 16), 2)
    with torch.no_grad():
        want = probe_model(model, x, shifts=(1.0, 0.5)).to_dict()
    assert doc["rows"] == json.loads(json.dumps(want["rows"]))
    Image.open(out / "depth.png").verify()
    # Plots of a report without spectra (as read back from JSON) in the same folder leave no
    # stale spectra plot behind.
    from aliasfree.commands.aliasing import _plots
    from gan.probe import ProbeReport

    written = _plots(ProbeReport.from_dict(doc), out)
    assert written == [out / "depth.png"]
    assert not (out / "worst_spectra.png").exists()


def test_measures_layers_and_images_folder(tmp_path, capsys):
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (20, 22), dtype=np.uint8) for _ in range(2)]
    for i, a in enumerate(arrays):
        Image.fromarray(a).save(folder / f"{i}.png")
    out = tmp_path / "o"
    rc = cli.main(["aliasing", "resnet-stride", "--input-shape", "1,16,16", "--images",
                   str(folder), "--measures", "downsampling", "--layers", "layer2.*",
                   "--no-normalize", "--batch", "1", "--out", str(out)])  # fmt: skip
    assert rc == 0
    capsys.readouterr()
    doc = json.loads((out / "report.json").read_text())
    names = [r["name"] for r in doc["rows"]]
    assert names and all(n.startswith("layer2.") for n in names)
    assert all(not k.startswith(("nonlinearity", "equivariance"))
               for r in doc["rows"] for k in r["measures"])  # fmt: skip
    # The folder's images, centre-cropped to 16×16 and scaled to [0, 1], are the inputs.
    x, desc = make_inputs(str(folder), (1, 16, 16), 8, normalize=False)
    want = np.stack([a[2:18, 3:19] / 255.0 for a in arrays])[:, None]
    np.testing.assert_allclose(x.numpy(), want, rtol=1e-6)
    assert desc.startswith("2 images")


@pytest.mark.parametrize("shape", [(3, 24, 32), (1, 20, 20), (2, 16, 16)])
def test_builtin_photos(shape):
    raw, desc = make_inputs("builtin", shape, 3, normalize=False)
    assert raw.shape == (3, *shape) and "astronaut" in desc
    assert float(raw.min()) >= -1e-6 and float(raw.max()) <= 1 + 1e-6
    assert not torch.allclose(raw[0], raw[1])
    x, _ = make_inputs("builtin", shape, 3)
    m, s = x.double().mean((2, 3)), x.double().std((2, 3), unbiased=False)
    np.testing.assert_allclose(m.numpy(), 0, atol=1e-5)
    np.testing.assert_allclose(s.numpy(), 1, atol=1e-4)
    if shape[0] == 3:
        # Greyscale is the luminance of the colour photo (same crop and resize).
        g, _ = make_inputs("builtin", (1, *shape[1:]), 1, normalize=False)
        lum = 0.2125 * raw[0, 0] + 0.7154 * raw[0, 1] + 0.0721 * raw[0, 2]
        assert torch.corrcoef(torch.stack([lum.flatten(), g[0, 0].flatten()]))[0, 1] > 0.99


def test_noise_inputs_are_bandlimited():
    x, _ = make_inputs("noise", (2, 16, 16), 3, normalize=False)
    spec = np.abs(np.fft.fft2(x.double().numpy())) ** 2
    f = np.fft.fftfreq(16)
    outside = np.hypot(*np.meshgrid(f, f, indexing="ij")) >= 0.4
    # float32 round-off only (eps² ~ 1e-14).
    assert spec[..., outside].sum() < 1e-12 * spec.sum()


def test_parse_input_shape():
    assert parse_input_shape("3,32,48") == (3, 32, 48)
    assert parse_input_shape("1x8x8") == (1, 8, 8)
    for bad in ["3,32", "a,b,c", "0,8,8", "3,2,8"]:
        with pytest.raises(ValueError, match="--input-shape"):
            parse_input_shape(bad)


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["nope"], "unknown example|package.module:factory"),
        (["resnet-stride", "--input-shape", "3,16"], "--input-shape"),
        (["resnet-stride", "--measures", "speed"], "--measures"),
        (["resnet-stride", "--shifts", "0"], "--shifts"),
        (["resnet-stride", "--images", "/no/such/dir"], "--images"),
        (["resnet-stride", "--layers", "zzz*"], "match no module"),
    ],
)
def test_bad_arguments_give_a_clear_error(argv, match, tmp_path, capsys):
    rc = cli.main(["aliasing", *argv, "--num", "1", "--images", "noise", "--out",
                   str(tmp_path)] if "--images" not in argv else
                  ["aliasing", *argv, "--num", "1", "--out", str(tmp_path)])  # fmt: skip
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("aliasfree aliasing: error:")
    import re

    assert re.search(match, err), err


def test_a_model_failing_on_the_input_shape_names_the_layer(tmp_path, monkeypatch, capsys):
    (tmp_path / "cli_probe_models.py").write_text(
        "import torch.nn as nn\n"
        "def net():\n"
        "    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), "
        "nn.Linear(4 * 14 * 14, 2))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    args = ["aliasing", "cli_probe_models:net", "--images", "noise", "--num", "1",
            "--measures", "nonlinearity", "--out", str(tmp_path / "o")]  # fmt: skip
    assert cli.main([*args, "--input-shape", "3,16,16"]) == 0
    capsys.readouterr()
    assert cli.main([*args, "--input-shape", "3,20,20"]) == 2
    err = capsys.readouterr().err
    assert "'3'" in err and "Linear" in err


def test_noise_inputs_of_any_shape_are_periodic_and_bandlimited():
    # A square field cropped to H×W was neither periodic nor band-limited at H×W. Truth: the
    # DFT of each H×W map has no power at |f| >= 0.4 (f_y = k/H, f_x = k/W); a seam between
    # opposite edges (a cropped field) would put broadband power there.
    for shape in [(2, 12, 20), (1, 24, 8), (1, 9, 14)]:
        x, desc = make_inputs("noise", shape, 2, normalize=False)
        assert x.shape == (2, *shape) and "band-limited" in desc
        spec = np.abs(np.fft.fft2(x.double().numpy())) ** 2
        fy = np.fft.fftfreq(shape[1])[:, None]
        fx = np.fft.fftfreq(shape[2])[None, :]
        outside = np.hypot(fy, fx) >= 0.4
        assert spec[..., outside].sum() < 1e-12 * spec.sum(), shape  # float32 round-off


def _small_net_module(tmp_path, monkeypatch) -> str:
    (tmp_path / "cli_small_nets.py").write_text(
        "import torch.nn as nn\n"
        "def net():\n"
        "    return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(),\n"
        "                         nn.Conv2d(2, 2, 3, stride=2, padding=1), nn.GELU())\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return "cli_small_nets:net"


def _settings(out) -> dict:
    return json.loads((out / "report.json").read_text())["settings"]


def test_lists_before_the_model_and_negative_shifts(tmp_path, monkeypatch, capsys):
    # nargs="+" swallowed MODEL when --layers came first; a negative list needs the '=' form
    # (argparse reads "-1,0.5" after a space as an option).
    spec = _small_net_module(tmp_path, monkeypatch)
    out = tmp_path / "o"
    rc = cli.main(["aliasing", "--layers", "0,1", "--layers", "3", "--nonlinearities", "1",
                   spec, "--input-shape", "1,16,16", "--images", "noise", "--num", "1",
                   "--shifts=-1,0.5", "--out", str(out)])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    doc = json.loads((out / "report.json").read_text())
    assert [r["name"] for r in doc["rows"]] == ["0", "1", "3"]
    assert doc["settings"]["layers"] == ["0", "1", "3"]
    assert doc["settings"]["nonlinearities"] == ["1"]
    assert doc["settings"]["shifts"] == [-1.0, 0.5]
    assert "equivariance_-1" in doc["rows"][0]["measures"]
    rc = cli.main(["aliasing", spec, "--input-shape", "1,16,16", "--images", "noise",
                   "--num", "1", "--shifts=-0.5", "--measures", "equivariance",
                   "--out", str(out)])  # fmt: skip
    assert rc == 0 and _settings(out)["shifts"] == [-0.5]
    rc = cli.main(["aliasing", spec, "--images", "noise", "--num", "1",
                   "--shifts", "0.5,0.5000001", "--out", str(out)])  # fmt: skip
    assert rc == 2 and "shifts" in capsys.readouterr().err


def test_circular_default_follows_the_image_source_and_settings_record_provenance(
    tmp_path, monkeypatch, capsys
):
    spec = _small_net_module(tmp_path, monkeypatch)
    base = [spec, "--input-shape", "1,16,16", "--num", "1", "--measures", "equivariance",
            "--shifts", "1", "--seed", "3", "--no-normalize"]  # fmt: skip
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 16), dtype=np.uint8)).save(
        folder / "a.png"
    )
    cases = [
        (["--images", "noise"], True),
        (["--images", str(folder)], False),
        (["--images", "builtin"], False),
        (["--images", "builtin", "--circular"], True),
        (["--images", "noise", "--no-circular"], False),
    ]
    for extra, want in cases:
        out = tmp_path / f"o{len(extra)}{want}"
        assert cli.main(["aliasing", *base, *extra, "--out", str(out)]) == 0
        s = _settings(out)
        assert s["circular"] is want, extra
        assert s["model_spec"] == spec and s["images"] == extra[1] and s["seed"] == 3
        assert s["normalize"] is False and s["weights"] is None and s["num"] == 1
        assert ("circular shifts" if want else "non-circular") in capsys.readouterr().out


def test_help_shows_the_working_forms(capsys):
    with pytest.raises(SystemExit):
        cli.main(["aliasing", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--shifts=-1,0.5" in text
    assert "circular for --images noise" in text and "comma-separated" in text
    # Where MODEL's package is looked for, and weights saved from wrappers.
    assert "current folder" in text and "PYTHONPATH" in text
    assert "_orig_mod." in text and "DataParallel" in text


def test_a_measure_without_layers_is_a_note_in_the_table(tmp_path, monkeypatch, capsys):
    spec = _small_net_module(tmp_path, monkeypatch)
    out = tmp_path / "o"
    rc = cli.main(["aliasing", spec, "--input-shape", "1,16,16", "--images", "noise",
                   "--num", "1", "--layers", "0", "--measures", "downsampling,equivariance",
                   "--shifts", "1", "--out", str(out)])  # fmt: skip
    assert rc == 0
    captured = capsys.readouterr()
    assert "note: measure 'downsampling' found no layer" in captured.out
    assert "UserWarning" not in captured.err
    assert json.loads((out / "report.json").read_text())["notes"][0].startswith(
        "measure 'downsampling' found no layer"
    )


def _block_skimage(monkeypatch):
    import sys

    for name in ["skimage", "skimage.data", "skimage.color", "skimage.transform"]:
        monkeypatch.setitem(sys.modules, name, None)
    for name in [m for m in sys.modules if m.startswith("skimage")]:
        monkeypatch.setitem(sys.modules, name, None)


def test_builtin_images_without_scikit_image_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    # Was a raw ModuleNotFoundError traceback: scikit-image is only in the `data` extra.
    _block_skimage(monkeypatch)
    with pytest.raises(ValueError, match=r"scikit-image.*aliasfree\[data\]"):
        make_inputs("builtin", (3, 16, 16), 1)
    rc = cli.main(["aliasing", "resnet-stride", "--input-shape", "3,16,16", "--num", "1",
                   "--out", str(tmp_path / "o")])  # fmt: skip
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("aliasfree aliasing: error:") and "scikit-image" in err
    assert "Traceback" not in err


def _blur_net_module(tmp_path, monkeypatch) -> str:
    (tmp_path / "cli_blur_nets.py").write_text(
        "import torch, torch.nn as nn, torch.nn.functional as F\n"
        "class Blur(nn.Module):\n"
        "    def forward(self, x):\n"
        "        k = torch.full((x.shape[1], 1, 2, 2), 0.25, dtype=x.dtype)\n"
        "        return F.conv2d(x, k, stride=2, groups=x.shape[1])\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.conv = nn.Conv2d(1, 2, 3, padding=1, padding_mode='circular')\n"
        "        self.relu = nn.ReLU()\n"
        "        self.blur = Blur()\n"
        "        self.relu2 = nn.ReLU()\n"
        "    def forward(self, x):\n"
        "        return self.relu2(self.blur(self.relu(self.conv(x))))\n"
        "def build():\n"
        "    return Net()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return "cli_blur_nets:build"


def test_notes_explain_nan_cells_and_unmeasured_layers(tmp_path, monkeypatch, capsys):
    spec = _blur_net_module(tmp_path, monkeypatch)
    out = tmp_path / "o"
    # 16×16 → the blur's 8×8 map: too small for the margin of zero-filled shifts (photos).
    rc = cli.main(["aliasing", spec, "--input-shape", "1,16,16", "--images", "noise",
                   "--no-circular", "--num", "1", "--shifts", "1", "--out", str(out)])  # fmt: skip
    assert rc == 0
    text = capsys.readouterr().out
    doc = json.loads((out / "report.json").read_text())
    rows = {r["name"]: r for r in doc["rows"]}
    assert rows["blur"]["measures"]["equivariance_1"]["mean"] is None  # NaN
    assert rows["conv"]["measures"]["equivariance_1"]["mean"] is not None
    small = "8×8 map too small for the border margin of a non-circular shift of 0.5 samples"
    assert [n for n in rows["blur"]["notes"] if n.startswith(small)]
    assert rows["relu2"]["notes"] == [n for n in rows["blur"]["notes"] if n.startswith(small)]
    assert not rows["conv"]["notes"] and not rows["relu"]["notes"]
    assert any("equivariance is NaN in 2 rows (blur, relu2)" in n for n in doc["notes"])
    # The blur lowers the rate unmeasured: its own note, in the table too.
    assert any("name 'blur' in downsampling_layers (--downsampling-layers)" in n
               for n in rows["blur"]["notes"])  # fmt: skip
    assert "blur [1]" in text and "relu2 [2]" in text and f"\n[2] relu2: {small}" in text
    assert "note: equivariance is NaN in 2 rows" in text
    # --layers leaving out a named --downsampling-layers: that is the reason given.
    rc = cli.main(["aliasing", spec, "--input-shape", "1,16,16", "--images", "noise",
                   "--num", "1", "--layers", "relu*", "--downsampling-layers", "blur",
                   "--measures", "downsampling,nonlinearity", "--out", str(out)])  # fmt: skip
    assert rc == 0
    text = capsys.readouterr().out
    assert "names 'blur', but layers=['relu*'] (--layers) leaves it out" in text
    assert "name the module" not in text
    # Errors name the flags; the candidates leave the root module ('') out.
    rc = cli.main(["aliasing", spec, "--input-shape", "1,16,16", "--images", "noise",
                   "--num", "1", "--downsampling-layers", "nope", "--out", str(out)])  # fmt: skip
    assert rc == 2
    err = capsys.readouterr().err
    assert "error: --downsampling-layers must name modules of the model; 'nope' is not one of " \
        "['blur', 'conv', 'relu', 'relu2']" in err  # fmt: skip
    rc = cli.main(["aliasing", spec, "--input-shape", "1,16,16", "--images", "noise",
                   "--num", "1", "--layers", "zz*", "--out", str(out)])  # fmt: skip
    assert rc == 2
    assert "error: --layers must match a module: ['zz*'] match no module" in (
        capsys.readouterr().err
    )
