"""Regressions found by adversarial QA of the gan Python API."""

from __future__ import annotations

import math
import stat

import numpy as np
import pytest
import torch
from PIL import Image

from dsp._io import output_mode
from gan.metrics.video import image_grid, save_gif, save_image
from gan.networks import transform as tf
from gan.networks.io import load_generator, save_generator
from gan.networks.presets import build_generator


@pytest.fixture(scope="module")
def G():
    return build_generator("t-tiny", res=16, seed=0).eval()


def test_empty_batch_is_a_value_error(G):
    # Was "RuntimeError: non-positive groups is not supported" from a grouped convolution.
    with pytest.raises(ValueError, match="at least one row"):
        G(torch.randn(0, G.z_dim))


@pytest.mark.parametrize("bad", [math.nan, math.inf, "a", None])
def test_transform_builders_reject_non_finite_values(bad):
    # NaN made a NaN matrix, and so a NaN image, without a word.
    with pytest.raises(ValueError, match="angle"):
        tf.rotate(bad)
    with pytest.raises(ValueError, match="tx"):
        tf.translate(bad, 0.0)
    with pytest.raises(ValueError, match="ty"):
        tf.translate(0.0, bad)


def test_transform_builders_still_take_numbers_and_scalar_tensors():
    a = tf.rotate(torch.tensor(math.pi / 2))
    assert torch.allclose(a[:2, :2], torch.tensor([[0.0, 1.0], [-1.0, 0.0]]), atol=1e-7)
    t = tf.translate(np.float32(0.25), 1)
    assert t[0, 2].item() == 0.25 and t[1, 2].item() == 1.0


def test_image_grid_columns_are_capped_at_the_image_count():
    imgs = torch.zeros(3, 3, 4, 5)
    assert image_grid(imgs, 10).shape == (4, 3 * 5, 3)
    assert image_grid(imgs, 2).shape == (2 * 4, 2 * 5, 3)


def test_save_image_formats_and_permissions(tmp_path):
    arr = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    p = save_image(arr, tmp_path / "a.tif")  # was KeyError: 'TIF'
    assert Image.open(p).format == "TIFF"
    assert np.array_equal(np.asarray(Image.open(p)), arr)
    assert stat.S_IMODE(p.stat().st_mode) == output_mode()
    assert Image.open(save_image(arr, tmp_path / "noext")).format == "PNG"
    with pytest.raises(ValueError, match="unknown image suffix"):
        save_image(arr, tmp_path / "a.xyz")
    with pytest.raises(ValueError, match=r"\.gif"):
        save_gif([arr, arr], tmp_path / "v.mp4")  # was GIF bytes under an .mp4 name
    assert sorted(q.name for q in tmp_path.iterdir()) == ["a.tif", "noext"]


def test_load_generator_from_a_run_folder(G, tmp_path):
    run = tmp_path / "run"
    w, c = save_generator(G, run / "generator")
    assert stat.S_IMODE(w.stat().st_mode) == output_mode()
    G2 = load_generator(run)
    z = torch.randn(1, G.z_dim)
    with torch.no_grad():
        assert torch.equal(G(z), G2(z))
    (tmp_path / "other").mkdir()
    with pytest.raises(ValueError, match="without generator.json"):
        load_generator(tmp_path / "other")


def test_save_generator_into_a_folder_writes_folder_generator(G, tmp_path):
    # save_generator(G, "dir/") used to write dir.safetensors beside the folder.
    (tmp_path / "existing").mkdir()
    w, c = save_generator(G, tmp_path / "existing")
    assert (w, c) == (
        tmp_path / "existing" / "generator.safetensors",
        tmp_path / "existing" / "generator.json",
    )
    w2, _ = save_generator(G, str(tmp_path / "new") + "/")
    assert w2 == tmp_path / "new" / "generator.safetensors" and w2.is_file()
    z = torch.randn(1, G.z_dim)
    with torch.no_grad():
        assert torch.equal(load_generator(tmp_path / "new")(z), G(z))


def test_labels_for_an_unconditional_generator_are_an_error(G):
    z = torch.randn(2, G.z_dim)
    with pytest.raises(ValueError, match="unconditional"):
        G(z, torch.ones(2, 3))
    with torch.no_grad():  # None and an empty label tensor are both "no labels"
        assert torch.equal(G(z, None), G(z, torch.zeros(2, 0)))


def test_eqr_on_a_too_small_image_names_the_metric(G):
    # 16 px is a valid training resolution, but at angles near 45° EQ-R's margins leave no
    # pixel (documented); the error, which `aliasfree equivariance` shows with its default
    # metrics on a 16 px checkpoint, did not say which metric. Seed 0, 2 latents: such an angle.
    from gan.metrics.equivariance import measure

    with pytest.raises(ValueError, match="^eqr: no valid pixels.*leave this metric out"):
        measure(G, "eqr", 2)


def test_truncated_generator_weights_get_a_clear_error(G, tmp_path):
    # A truncated generator.safetensors raised safetensors' own SafetensorError ("invalid
    # header length") through every command that loads a generator.
    w, _ = save_generator(G, tmp_path / "run" / "generator")
    data = w.read_bytes()
    w.write_bytes(data[:1000])
    with pytest.raises(ValueError, match="generator.safetensors is not a readable safetensors"):
        load_generator(tmp_path / "run")
    w.write_bytes(b"")
    with pytest.raises(ValueError, match="not a readable safetensors"):
        load_generator(tmp_path / "run")
