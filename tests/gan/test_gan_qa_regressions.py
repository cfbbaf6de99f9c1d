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


# ---- second QA pass of the Python API ----------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"), [("xflip", "no"), ("use_labels", 1), ("fp16", "false")]
)
def test_train_options_flags_must_be_booleans(field, value):
    # Any truthy value was stored as is: xflip="no" mirrored the data, fp16="false" turned
    # mixed precision on.
    from gan.training.options import TrainOptions

    with pytest.raises(ValueError, match=f"^{field} must be True"):
        TrainOptions(**{field: value})
    assert getattr(TrainOptions(**{field: np.bool_(True)}), field) is True


def test_train_options_take_path_objects_and_reject_non_sequences(tmp_path):
    # out=Path(...) was rejected with "out must be a directory path, got PosixPath(...)";
    # betas=0.9 and metrics=None raised TypeError ("object is not iterable").
    import json

    from gan.training.options import TrainOptions

    o = TrainOptions(data=tmp_path / "faces.zip", out=tmp_path / "run", resume=tmp_path / "c")
    assert (o.data, o.out, o.resume) == tuple(str(tmp_path / n) for n in ("faces.zip", "run", "c"))
    assert TrainOptions.from_dict(json.loads(json.dumps(o.to_dict()))) == o
    with pytest.raises(ValueError, match="betas must be a pair"):
        TrainOptions(betas=0.9)
    with pytest.raises(ValueError, match="metrics must be a subset"):
        TrainOptions(metrics=None)
    with pytest.raises(ValueError, match="resume must be None, 'latest' or a checkpoint path"):
        TrainOptions(resume=3)
    assert TrainOptions(resume="").resume == ""  # still "no resume", as train() reads it


class _TinyDataset:
    """The Trainer's documented dataset protocol, with the image type as a parameter."""

    res, num_channels, c_dim = 16, 3, 0

    def __init__(self, convert):
        gen = torch.Generator().manual_seed(0)
        self.imgs = torch.randint(0, 256, (4, 3, 16, 16), generator=gen, dtype=torch.uint8)
        self.convert = convert

    def __len__(self):
        return len(self.imgs)

    def __getitem__(self, i):
        return self.convert(self.imgs[i]), torch.zeros(0)


def test_trainer_checks_the_items_of_a_custom_dataset():
    # Float images (in [-1, 1] or [0, 1]) were divided by 127.5 as if they were 0…255 (reals
    # all ≈ -1, D trained on a blank image, no error); numpy images raised TypeError from
    # torch.stack.
    from gan.training.loop import Trainer
    from gan.training.options import TrainOptions

    opts = TrainOptions(config="baseline", batch=2, device="cpu", augment="noaug")
    want, _ = Trainer(opts, dataset=_TinyDataset(lambda t: t)).real_batch(0)
    got, _ = Trainer(opts, dataset=_TinyDataset(lambda t: t.numpy())).real_batch(0)
    assert torch.equal(got, want)
    floats = Trainer(opts, dataset=_TinyDataset(lambda t: t.float() / 127.5 - 1))
    with pytest.raises(ValueError, match=r"image must be a uint8 tensor of shape \[3, 16, 16\]"):
        floats.real_batch(0)
    ds = _TinyDataset(lambda t: t)
    ds.res = 32  # attributes that disagree with the images
    with pytest.raises(ValueError, match=r"shape \[3, 32, 32\] .* got torch.uint8 \[3, 16, 16\]"):
        Trainer(opts, dataset=ds).real_batch(0)
    ds.res = 24
    with pytest.raises(ValueError, match="the dataset's res must be a power of two"):
        Trainer(opts, dataset=ds)


def test_unconditional_discriminator_rejects_labels():
    # D(img, c) ignored c when c_dim = 0, while the generators raise (see above).
    from gan.networks.presets import build_discriminator

    D = build_discriminator("t-tiny", res=16, seed=0)
    img = torch.randn(2, 3, 16, 16)
    with pytest.raises(ValueError, match="unconditional"):
        D(img, torch.ones(2, 3))
    with torch.no_grad():
        assert torch.equal(D(img), D(img, torch.zeros(2, 0)))


@pytest.mark.parametrize("which", ["discriminator", "baseline-generator"])
def test_unknown_preset_overrides_are_a_value_error(which):
    # build_discriminator / the baseline raised TypeError ("unexpected keyword argument"),
    # build_generator's alias-free path a ValueError, as the docstring promises for all.
    from gan.networks.presets import build_discriminator, build_generator

    with pytest.raises(ValueError, match="unknown .* arguments: chanel_base"):
        if which == "discriminator":
            build_discriminator("t-tiny", res=16, chanel_base=64)
        else:
            build_generator("baseline-tiny", res=16, chanel_base=64)


def test_compose_checks_its_arguments_and_promotes_dtypes():
    # compose() raised IndexError, float32 with float64 a RuntimeError from matmul.
    a64 = tf.rotate(0.3, dtype=torch.float64)
    t32 = tf.translate(0.1, -0.2)
    want = a64 @ t32.to(torch.float64)
    got = tf.compose(a64, t32)
    assert got.dtype == torch.float64 and torch.equal(got, want)
    assert torch.equal(tf.compose(np.eye(3), a64), a64)
    with pytest.raises(ValueError, match="at least one"):
        tf.compose()
    with pytest.raises(ValueError, match=r"transform 1 must be a \[3, 3\]"):
        tf.compose(a64, torch.eye(2))


def test_float64_generator_round_trips_in_float64(G, tmp_path):
    # A G.double() was saved in float64 but loaded into the float32 build: every weight was
    # rounded and the outputs differed.
    import copy

    G64 = copy.deepcopy(G).double()
    save_generator(G64, tmp_path / "g64")
    back = load_generator(tmp_path / "g64")
    z = torch.randn(2, G.z_dim, dtype=torch.float64)
    assert next(back.parameters()).dtype == torch.float64
    with torch.no_grad():
        assert torch.equal(back(z), G64(z))


def test_metrics_run_where_the_model_is_unless_told_otherwise():
    # With device=None the metrics moved the caller's generator to the CPU (G.to is in place
    # for modules), so measuring a CUDA model silently relocated it.
    from gan.metrics._device import run_device

    on_meta = torch.nn.Linear(2, 2, device="meta")
    assert run_device(on_meta) == torch.device("meta")
    assert run_device(on_meta, "cpu") == torch.device("cpu")
    assert run_device(torch.nn.ReLU()) == torch.device("cpu")  # no weights: CPU
    with pytest.raises(ValueError, match="device must be a torch device"):
        run_device(on_meta, "gpu0")
