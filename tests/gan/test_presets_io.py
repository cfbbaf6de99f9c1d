"""Presets and pickle-free save/load of generators."""

import json
import struct
from pathlib import Path

import pytest
import torch

from gan.networks.alias_free import AliasFreeGenerator
from gan.networks.io import generator_paths, load_generator, save_generator
from gan.networks.presets import PRESETS, build_discriminator, build_generator

TINY = ["t-tiny", "r-tiny", "baseline-tiny"]


def test_preset_names() -> None:
    assert set(PRESETS) == {"t", "r", "baseline", "t-tiny", "r-tiny", "baseline-tiny"}


@pytest.mark.parametrize("preset", TINY)
def test_tiny_presets_run_at_64(preset: str) -> None:
    G = build_generator(preset, seed=0).eval()
    assert (G.res, G.img_channels, G.preset) == (64, 3, preset)
    z = torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        img, feats = G(z, return_features=True)
    assert img.shape == (2, 3, 64, 64) and img.dtype == torch.float32
    assert torch.isfinite(img).all() and len(feats) > 0
    D = build_discriminator(preset)
    with torch.no_grad():
        score = D(img)
    assert score.shape == (2, 1) and torch.isfinite(score).all()


def test_paper_presets_have_paper_capacity() -> None:
    # Built at res 16 to stay small; the capacities are the schedule's config defaults.
    t = build_generator("t", res=16)
    assert t.z_dim == t.w_dim == 512 and len(t.layer_specs) == 15
    assert max(s.out_channels for s in t.layer_specs) == 512
    assert t.layer_specs[0].conv_kernel == 3
    r = build_generator("r", res=16, channel_max=64)  # override keeps R's kernel and filters
    assert r.layer_specs[0].conv_kernel == 1 and r.layer_specs[0].down_radial
    assert max(s.out_channels for s in r.layer_specs) == 64


def test_overrides_and_res() -> None:
    G = build_generator("t-tiny", res=32, channel_max=8, c_dim=2)
    assert G.res == 32 and G.c_dim == 2
    assert max(s.out_channels for s in G.layer_specs) == 8
    assert G.build_kwargs["res"] == 32 and G.build_kwargs["channel_max"] == 8


def test_seeded_build_is_reproducible() -> None:
    a = build_generator("baseline-tiny", seed=3).state_dict()
    b = build_generator("baseline-tiny", seed=3).state_dict()
    c = build_generator("baseline-tiny", seed=4).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: build_generator("t-huge"), "preset"),
        (lambda: build_generator("t-tiny", res=100), "res"),
        (lambda: build_generator("t-tiny", num_layers=1), "num_layers"),
        (lambda: build_discriminator("nope", 64), "preset"),
    ],
)
def test_bad_presets_raise(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("preset", ["t-tiny", "baseline-tiny"])
def test_save_load_round_trip(preset: str, tmp_path: Path) -> None:
    G = build_generator(preset, seed=1).eval()
    with torch.no_grad():
        G.mapping(torch.randn(8, G.z_dim), update_emas=True)  # non-trivial w_avg
    weights, config = save_generator(G, tmp_path / "sub" / "g")
    assert (weights.name, config.name) == ("g.safetensors", "g.json")
    assert sorted(p.name for p in weights.parent.iterdir()) == ["g.json", "g.safetensors"]
    cfg = json.loads(config.read_text())
    assert cfg["preset"] == preset and cfg["kwargs"]["res"] == 64
    # safetensors: an 8-byte little-endian header length, then a JSON header (no pickle).
    raw = weights.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    assert "mapping.w_avg" in header

    z = torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ref = G(z, psi=0.7)
    for p in (tmp_path / "sub" / "g", weights, config):
        H = load_generator(p)
        assert type(H) is type(G) and not H.training and H.preset == preset
        with torch.no_grad():
            assert torch.equal(H(z, psi=0.7), ref)


def test_directly_built_alias_free_generator_saves(tmp_path: Path) -> None:
    G = AliasFreeGenerator(z_dim=8, w_dim=8, res=16, config="r", channel_base=512, channel_max=4)
    save_generator(G, tmp_path / "x.safetensors")
    H = load_generator(tmp_path / "x")
    z = torch.randn(1, 8)
    with torch.no_grad():
        assert torch.equal(G.eval()(z), H(z))


def test_io_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="kwargs unknown"):
        save_generator(torch.nn.Linear(2, 2), tmp_path / "lin")
    with pytest.raises(ValueError, match="no generator config"):
        load_generator(tmp_path / "missing")
    G = build_generator("t-tiny", res=16)
    _, config = save_generator(G, tmp_path / "g")
    cfg = json.loads(config.read_text())
    cfg["kwargs"]["channel_max"] = 4  # weights no longer fit
    config.write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="does not match"):
        load_generator(config)
    cfg["kind"] = "os.system"
    config.write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="kind"):
        load_generator(config)
    config.write_text("{not json")
    with pytest.raises(ValueError, match="JSON"):
        load_generator(config)


def test_generator_paths() -> None:
    w, c = generator_paths("a/b.json")
    assert (str(w), str(c)) == ("a/b.safetensors", "a/b.json")
