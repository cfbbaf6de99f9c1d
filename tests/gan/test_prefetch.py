"""Background loading of the next step's reals (gan.training.prefetch) and its use in training."""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from gan.training.data import ImageDataset
from gan.training.loop import Trainer, train
from gan.training.options import TrainOptions
from gan.training.prefetch import Prefetcher

RES = 16


def _data_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("aliasfree-data")]


def _zip_dataset(path, n=6, labels=False, seed=0):
    rng = np.random.default_rng(seed)
    names = [f"img{i:03d}.png" for i in range(n)]
    with zipfile.ZipFile(path, "w") as zf:
        for name in names:
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, (RES, RES, 3), dtype=np.uint8)).save(buf, "PNG")
            zf.writestr(name, buf.getvalue())
        if labels:
            meta = {"labels": [[nm, i % 3] for i, nm in enumerate(names)]}
            zf.writestr("dataset.json", json.dumps(meta))
    return path


def _opts(**kw) -> TrainOptions:
    base = dict(config="baseline", res=RES, batch=4, metrics=(), snap_kimg=1000.0)
    base.update(tick_kimg=0.002, grid_size=4, device="cpu", out="unused", augment="noaug")
    base.update(kw)
    return TrainOptions(**base)


# -- the prefetcher itself ------------------------------------------------------------------------


def test_items_are_the_loaded_ones_and_announced_steps_are_loaded_once():
    calls: list[int] = []
    lock = threading.Lock()

    def load(i):
        with lock:
            calls.append(i)
        return i * 10

    with Prefetcher(load, threads=3) as pf:
        assert pf.get([1, 2, 3], upcoming=[4, 5, 6]) == [10, 20, 30]
        assert pf.get([4, 5, 6], upcoming=[7, 8]) == [40, 50, 60]
        assert pf.get([7, 8]) == [70, 80]
        # Not what was announced (a resume, say): loaded now, the announcement dropped.
        assert pf.get([2, 1], upcoming=[9]) == [20, 10]
        assert pf.get([3]) == [30]
    assert sorted(calls) == sorted([1, 2, 3, 4, 5, 6, 7, 8, 2, 1, 9, 3])
    assert not _data_threads()


def test_a_failing_item_raises_where_it_is_needed():
    def load(i):
        if i == 5:
            raise ValueError("cannot read image 'five.png'")
        return i

    with Prefetcher(load, threads=2) as pf:
        # Step k announces a failing item of step k + 1: step k still gets its items.
        assert pf.get([1, 2], upcoming=[5, 6]) == [1, 2]
        with pytest.raises(ValueError, match="five.png"):
            pf.get([5, 6])
        assert pf.get([6]) == [6]  # usable afterwards


def test_loading_overlaps_the_caller():
    # Items that take 50 ms each (a decode that releases the GIL, as Pillow's does): while the
    # caller works for 0.2 s, the next step's 4 items load on 4 threads, so taking them costs
    # well under their 0.2 s of serial loading.
    def load(i):
        time.sleep(0.05)
        return i

    with Prefetcher(load, threads=4) as pf:
        pf.get([0, 1, 2, 3], upcoming=[4, 5, 6, 7])
        time.sleep(0.2)  # the training step
        t0 = time.perf_counter()
        assert pf.get([4, 5, 6, 7]) == [4, 5, 6, 7]
        waited = time.perf_counter() - t0
    assert waited < 0.1, waited


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_thread_count(bad):
    with pytest.raises(ValueError, match="threads must be an integer >= 1"):
        Prefetcher(lambda i: i, threads=bad)


# -- in training ----------------------------------------------------------------------------------


def test_prefetched_training_is_bitwise_the_unprefetched_one(tmp_path):
    data = _zip_dataset(tmp_path / "d.zip")
    params = {}
    for threads in (0, 2):
        tr = Trainer(_opts(data=str(data), loader_threads=threads))
        assert tr.loader_threads == threads
        reals = [tr.real_batch(s)[0] for s in (0, 1, 2, 5, 3)]  # in and out of step order
        for _ in range(2):
            tr.step()
        params[threads] = (reals, [p.detach().clone() for p in tr.G.parameters()])
        tr.close()
    for a, b in zip(params[0][0], params[2][0], strict=True):
        assert torch.equal(a, b)
    for a, b in zip(params[0][1], params[2][1], strict=True):
        assert torch.equal(a, b)
    assert not _data_threads()


def test_default_loader_threads():
    tr = Trainer(_opts(data="builtin"))
    assert tr.loader_threads == 0  # CPU, and the built-in set is in memory
    with pytest.raises(ValueError, match="loader_threads"):
        _opts(loader_threads=-1)


def test_conditional_latents_do_not_decode_images(tmp_path, monkeypatch):
    # Every phase draws one label per sample for its latents; they came from dataset[i], which
    # decodes the image, so a conditional step read 3–4 batches of images instead of one.
    data = _zip_dataset(tmp_path / "d.zip", labels=True)
    tr = Trainer(_opts(data=str(data), use_labels=True, loader_threads=0))
    assert tr.dataset.c_dim == 3
    decoded = []
    real = ImageDataset.load_image
    monkeypatch.setattr(
        ImageDataset, "load_image", lambda self, i: decoded.append(i) or real(self, i)
    )
    tr.step()
    assert len(decoded) == 4  # the batch's reals only
    z, c = tr._latents(torch.Generator().manual_seed(0))
    assert len(decoded) == 4 and c.shape == (4, 3) and torch.all(c.sum(1) == 1)


def test_train_stops_its_threads(tmp_path):
    data = _zip_dataset(tmp_path / "d.zip", n=4)
    out = train(_opts(data=str(data), loader_threads=2, out=str(tmp_path / "run"), kimg=0.008),
                progress=False)  # fmt: skip
    assert out["step"] == 2 and not _data_threads()


def test_a_corrupt_image_is_reported_by_the_step_that_reads_it(tmp_path):
    data = _zip_dataset(tmp_path / "d.zip", n=8)
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(data) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            payload = src.read(info)  # img005.png cut in half: its header reads, its pixels not
            dst.writestr(
                info, payload[: len(payload) // 2] if info.filename == "img005.png" else payload
            )
    tr = Trainer(_opts(data=str(bad), loader_threads=2))
    steps = [s for s in range(6) if 5 not in tr.batch_indices(s)]
    first_bad = next(s for s in range(6) if 5 in tr.batch_indices(s))
    if first_bad - 1 in steps:
        tr.real_batch(first_bad - 1)  # announces the corrupt image: no error yet
    with pytest.raises(ValueError, match="img005.png.*corrupt or truncated"):
        tr.real_batch(first_bad)
    tr.close()
    assert not _data_threads()


def test_a_user_dataset_keeps_its_item_labels(tmp_path):
    # Only ImageDataset's get_label is known to mean the one-hot label: a user's dataset with a
    # get_label of its own (a class index, as StyleGAN's) keeps the labels of its items.
    class Labelled:
        res, num_channels, c_dim, name = RES, 3, 3, "user"

        def __len__(self):
            return 6

        def __getitem__(self, i):
            img = torch.full((3, RES, RES), i, dtype=torch.uint8)
            return img, torch.nn.functional.one_hot(torch.tensor(i % 3), 3).float()

        def get_label(self, i):
            return i % 3  # an index, not the one-hot label

    tr = Trainer(_opts(), dataset=Labelled())
    z, c = tr._latents(torch.Generator().manual_seed(0))
    assert c.shape == (4, 3) and torch.all(c.sum(1) == 1)


def test_zip_reads_from_threads_survive_a_close(tmp_path, monkeypatch):
    # close() from another thread between taking the zip handle and opening an entry made the
    # read fail as "cannot read image ... already closed", with the clean-your-dataset hint.
    # Forced here: the first entry opened lets a closing thread run first (up to 0.5 s).
    ds = ImageDataset(_zip_dataset(tmp_path / "d.zip", n=4))
    want = ds[2][0]
    ds.close()
    real_open = zipfile.ZipFile.open
    raced = []

    def open_after_a_close(self, *args, **kwargs):
        if not raced:
            raced.append(True)
            closing = threading.Thread(target=ds.close)
            closing.start()
            closing.join(timeout=0.5)  # blocks on the dataset's lock when open holds it
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", open_after_a_close)
    assert torch.equal(ds[2][0], want)
    assert raced
