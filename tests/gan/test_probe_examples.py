"""Built-in example models and model loading for the aliasing probe (issue 6)."""

import numpy as np
import pytest
import scipy.signal
import torch
import torch.nn.functional as F
from torch import nn

from dsp.aliasing import out_of_band_energy
from dsp.figures import bandlimited_field
from dsp.filters import design_lowpass
from gan.probe import probe_model
from gan.probe.examples import (
    EXAMPLES,
    LowpassDownsample,
    blur_taps,
    build_example,
    downsample_sites,
    kaiser_taps,
)
from gan.probe.loading import load_model, load_weights, parse_spec, read_state_dict

VARIANTS = ("resnet-stride", "resnet-blurpool", "resnet-kaiser")


def _noise(n=2, c=3, size=32, seed=0):
    # Periodic, broadband content up to 0.45 cycles/sample: plenty beyond the new Nyquist.
    x = [[bandlimited_field(size, 0.45, seed=seed + 7 * i + j) for j in range(c)] for i in range(n)]
    return torch.tensor(np.array(x), dtype=torch.float32)


# ------------------------------------------------------------------------------------ examples
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_example_builds_and_runs(name):
    kw = {"widths": (8, 8, 8, 8), "blocks": (1, 1, 1, 1)} if name.startswith("resnet18") else {}
    model = build_example(name, **kw)
    assert not model.training
    with torch.no_grad():
        y = model(_noise(2, 3, 32))
    assert torch.isfinite(y).all()
    assert y.shape == ((2, 10) if name.startswith("resnet") else (2, 3, 32, 32))


def test_resnet18_has_the_resnet18_layout():
    m = build_example("resnet18")
    convs = [mod for mod in m.modules() if isinstance(mod, nn.Conv2d)]
    # 1 stem + 8 blocks × 2 convs + 3 strided shortcuts; ResNet-18's 11.18 M weights w/o the head.
    assert len(convs) == 20
    assert {c.out_channels for c in convs} == {64, 128, 256, 512}
    n_head = 512 * 10 + 10
    assert sum(p.numel() for p in m.parameters()) - n_head == 11_176_512


def test_the_three_variants_share_weights():
    sds = [build_example(n, seed=3).state_dict() for n in VARIANTS]
    for sd in sds[1:]:
        assert list(sd) == list(sds[0])
        for k in sd:
            torch.testing.assert_close(sd[k], sds[0][k], rtol=0, atol=0)
    other = build_example("resnet-stride", seed=4).state_dict()
    assert not torch.equal(other["conv1.weight"], sds[0]["conv1.weight"])


def test_building_leaves_the_global_rng_alone():
    torch.manual_seed(0)
    want = torch.rand(3)
    torch.manual_seed(0)
    build_example("resnet-kaiser")
    torch.testing.assert_close(torch.rand(3), want, rtol=0, atol=0)


def test_variants_differ_only_in_how_they_decimate():
    # Stem of the plain variant = the stride-1 maxpool of the others, every second sample.
    plain, blur = build_example("resnet-stride"), build_example("resnet-blurpool")
    x = _noise(2, 3, 32)
    got = {}
    hooks = [
        plain.maxpool.register_forward_hook(lambda m, i, o: got.__setitem__("plain", o)),
        blur.maxpool.register_forward_hook(lambda m, i, o: got.__setitem__("s1", o)),
        blur.layer2[0].conv1.register_forward_hook(lambda m, i, o: got.__setitem__("c1", (i, o))),
        plain.layer2[0].conv1.register_forward_hook(lambda m, i, o: got.__setitem__("p1", o)),
    ]
    with torch.no_grad():
        plain(x)
        blur(x)
    for h in hooks:
        h.remove()
    torch.testing.assert_close(got["plain"], got["s1"][..., ::2, ::2], rtol=0, atol=0)
    # Same weights: the strided conv is the blur variant's stride-1 conv, subsampled, when fed
    # the same map.
    (inp,), out = got["c1"]
    with torch.no_grad():
        strided = plain.layer2[0].conv1(inp)
    torch.testing.assert_close(strided, out[..., ::2, ::2], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("taps", [blur_taps(), kaiser_taps(2, 12), kaiser_taps(2, 9)])
@pytest.mark.parametrize("size", [15, 16])
def test_lowpass_downsample_is_same_filter_then_decimate(taps, size, rng):
    k = taps.size
    m = LowpassDownsample(2, taps, 2)
    x = rng.standard_normal((1, 2, size, size + 1))
    y = m(torch.from_numpy(x)).numpy()
    # Brute force in float64: zero-pad (k-1)//2 before and k//2 after, full 2D convolution.
    lo, hi = (k - 1) // 2, k // 2
    want = []
    for c in range(2):
        xp = np.pad(x[0, c], ((lo, hi), (lo, hi)))
        want.append(scipy.signal.convolve2d(xp, np.outer(taps, taps), mode="valid")[::2, ::2])
    np.testing.assert_allclose(y[0], np.array(want), rtol=1e-12, atol=1e-12)
    assert y.shape[-2:] == (-(-size // 2), -(-(size + 1) // 2))
    # As a Conv2d at stride 1: the same filter (weights = taps ⊗ taps, depthwise).
    assert isinstance(m, nn.Conv2d) and m.groups == 2 and m.stride == (2, 2)
    np.testing.assert_allclose(m.weight[1, 0].numpy(), np.outer(taps, taps), rtol=1e-6)
    assert not list(m.parameters()) and not m.state_dict()


def test_kaiser_taps_come_from_dsp_and_stop_at_the_new_nyquist():
    taps = kaiser_taps(2, 12)
    np.testing.assert_array_equal(
        taps, design_lowpass(0.25 - 0.0625, half_width=0.0625, fs=1.0, numtaps=12)
    )
    f, h = scipy.signal.freqz(taps, worN=np.linspace(0.25, 0.5, 64), fs=1.0)
    assert 20 * np.log10(np.abs(h).max()) < -20.0
    np.testing.assert_allclose(blur_taps(), np.array([1, 3, 3, 1]) / 8)


def _pre_decimation_oob(model, x):
    """Site → out-of-band energy (factor 2) of the map decimated there, computed with dsp."""
    mods = {site: model.get_submodule(name) for site, name in downsample_sites(model).items()}
    got = {}
    hooks = [
        mod.register_forward_hook(lambda m, i, o, k=site: got.__setitem__(k, i[0]))
        for site, mod in mods.items()
    ]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    out = {}
    for site, mod in mods.items():
        inp = got[site].double()
        if isinstance(mod, nn.MaxPool2d):
            full = F.max_pool2d(inp, 3, stride=1, padding=1).numpy()
        elif not isinstance(mod, LowpassDownsample):
            full = F.conv2d(inp, mod.weight.detach().double(), padding=mod.padding).numpy()
        else:
            # A LowpassDownsample is a depthwise Conv2d; its stride-1 map is the full 2D
            # convolution with taps ⊗ taps (symmetric), cropped to the Conv2d's padding.
            k, p = mod.kernel_size[0], mod.padding[0]
            kern = mod.weight[0, 0].double().numpy()
            full = scipy.signal.fftconvolve(inp.numpy(), kern[None, None], axes=(2, 3))
            n = inp.shape[-1] + 2 * p - k + 1
            full = full[..., k - 1 - p : k - 1 - p + n, k - 1 - p : k - 1 - p + n]
        # The strided layer keeps samples 0, 2, 4, ...: a trailing odd sample is never used.
        h, w = full.shape[-2] // 2 * 2, full.shape[-1] // 2 * 2
        out[site] = float(out_of_band_energy(full[..., :h, :w], 2).mean())
    return out


def test_blur_and_kaiser_leave_less_beyond_the_new_nyquist_dsp_truth():
    x = _noise(1, 3, 32, seed=5)
    models = {n: build_example(n, seed=1) for n in VARIANTS}
    sites = downsample_sites(models["resnet-stride"])
    assert set(sites) == set(downsample_sites(models["resnet-kaiser"]))
    r = {n: _pre_decimation_oob(m, x) for n, m in models.items()}
    for site in sites:
        # Broadband input: a part of the plain stride-1 map lies beyond 1/4 cycle/sample.
        assert r["resnet-stride"][site] > 0.02, (site, r)
        assert r["resnet-blurpool"][site] < 0.5 * r["resnet-stride"][site], (site, r)
        # Smaller gap: the DFT treats the zero-padded maps as periodic, and the wrap-around
        # edges leak energy beyond any filter's stopband.
        assert r["resnet-kaiser"][site] < 0.9 * r["resnet-blurpool"][site], (site, r)


def test_probe_measures_less_downsampling_aliasing_with_blur():
    x = _noise(2, 3, 32, seed=9)
    means = {}
    for n in VARIANTS:
        m = build_example(n, seed=2)
        rep = probe_model(m, x, measures=("downsampling",))
        # The probe agrees with the dsp computation of the same maps.
        want = _pre_decimation_oob(m, x)
        means[n] = {}
        for site, mod in downsample_sites(m).items():
            means[n][site] = rep.row(mod).measures["out_of_band"].mean
            # Measured agreement 1e-9 to 3e-8 relative (the smallest value is 0.0038).
            assert means[n][site] == pytest.approx(want[site], rel=1e-6, abs=0), (n, site)
    for site in means["resnet-stride"]:
        assert means["resnet-blurpool"][site] < 0.5 * means["resnet-stride"][site]
        assert means["resnet-kaiser"][site] < 0.9 * means["resnet-blurpool"][site]


def test_generator_example_is_the_generator_with_taps():
    from gan.networks.presets import build_generator

    m = build_example("generator-t", res=16, seed=1)
    G = build_generator("t-tiny", res=16, seed=1).eval()
    x = _noise(2, 3, 16)
    got = {}
    hooks = [
        mod.register_forward_hook(lambda mod_, i, o, k=k: got.__setitem__(k, o))
        for k, mod in m.features.items()
    ]
    with torch.no_grad():
        img = m(x)
        # The documented latent: a fixed projection of the 4×4-pooled, centred input.
        u = F.adaptive_avg_pool2d(x.double(), 4).flatten(1)
        u = u - u.mean(1, keepdim=True)
        P = torch.randn(G.z_dim, u.shape[1], generator=torch.Generator().manual_seed(1),
                        dtype=torch.float64)  # fmt: skip
        z = u @ P.T
        z = (z / z.norm(dim=1, keepdim=True) * G.z_dim**0.5).float()
        want, feats = G(z, return_features=True)
    for h in hooks:
        h.remove()
    perm = torch.tensor([1, 0])
    with torch.no_grad():
        img_perm = m(x[perm])
    torch.testing.assert_close(img, want)
    assert list(got) == [k.replace(".", "_") for k in feats]
    for k, f in feats.items():
        torch.testing.assert_close(got[k.replace(".", "_")], f)
    torch.testing.assert_close(img_perm, img[perm])


@pytest.mark.parametrize(
    "bad",
    [
        ("resnet-foo", {}),
        ("resnet-stride", {"seed": -1}),
        ("resnet-stride", {"widths": (8, 8), "blocks": (1,)}),
        ("resnet-stride", {"kaiser_numtaps": 1}),
    ],
)
def test_build_example_rejects_bad_arguments(bad):
    name, kw = bad
    with pytest.raises(ValueError, match="example|seed|widths|kaiser_numtaps"):
        build_example(name, **kw)


def test_unknown_example_lists_the_known_ones():
    with pytest.raises(ValueError, match="resnet-blurpool"):
        build_example("nope")


# ------------------------------------------------------------------------------------- loading
def test_parse_spec():
    assert parse_spec("pkg.mod:factory") == ("pkg.mod", "factory")
    assert parse_spec(" mod:Cls.build ") == ("mod", "Cls.build")
    assert parse_spec("ResNet-Kaiser") == "resnet-kaiser"
    for bad in ["", "nocolon", "a:b:c", "1a:b", "a.:b", "a:", ":b", "a b:c"]:
        with pytest.raises(ValueError, match="package.module:factory"):
            parse_spec(bad)


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "probe_user_models.py").write_text(
        "import torch.nn as nn\n"
        "NOT_CALLABLE = 3\n"
        "INSTANCE = nn.Conv2d(1, 1, 3)\n"
        "def net():\n    return nn.Sequential(nn.Conv2d(1, 2, 3, stride=2), nn.ReLU())\n"
        "def not_a_module():\n    return 'hello'\n"
        "def an_int():\n    return 7\n"
        "class Zoo:\n    @staticmethod\n    def build():\n        return net()\n"
        "def compiled():\n    import torch\n    return torch.compile(net())\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return "probe_user_models"


def test_load_model_from_a_factory(user_module):
    m = load_model(f"{user_module}:net")
    assert isinstance(m, nn.Sequential) and not m.training
    assert isinstance(load_model(f"{user_module}:Zoo.build"), nn.Sequential)
    assert isinstance(load_model(f"{user_module}:INSTANCE"), nn.Conv2d)


@pytest.mark.parametrize(
    ("attr", "match"),
    [
        ("NOT_CALLABLE", "'NOT_CALLABLE' is an int, not callable"),
        ("not_a_module", r"not_a_module\(\) returned a str, not an nn.Module"),
        ("an_int", r"an_int\(\) returned an int, not an nn.Module"),
        ("missing", "has no 'missing'"),
    ],
)
def test_load_model_bad_factories(user_module, attr, match):
    with pytest.raises(ValueError, match=match):
        load_model(f"{user_module}:{attr}")


def test_a_factory_returning_a_compiled_model_gets_the_module_and_its_weights(
    user_module, tmp_path
):
    # The wrapper's state_dict keys carry "_orig_mod.": a weights file of the model itself was
    # refused as "missing keys" before the model was unwrapped.
    from safetensors.torch import save_file

    src = load_model(f"{user_module}:net")
    save_file(src.state_dict(), str(tmp_path / "w.safetensors"))
    m = load_model(f"{user_module}:compiled", weights=tmp_path / "w.safetensors")
    assert isinstance(m, nn.Sequential) and not m.training
    assert _params_equal(m, src)


def test_load_model_missing_module():
    with pytest.raises(ValueError, match="cannot import module 'no_such_pkg_xyz.mod'"):
        load_model("no_such_pkg_xyz.mod:net")


def test_load_model_finds_a_package_in_the_working_folder(tmp_path, monkeypatch):
    # `aliasfree aliasing mypkg.models:build_net` run from the project folder: the console
    # script does not put the working folder on sys.path (python -m does), so the import failed.
    import sys

    pkg = tmp_path / "probe_cwd_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "models.py").write_text(
        "import torch.nn as nn\n"
        "def build_net():\n"
        "    from probe_cwd_pkg import layers  # imported while the factory runs\n"
        "    return nn.Sequential(nn.Conv2d(1, 2, 3), layers.act())\n"
    )
    (pkg / "layers.py").write_text("import torch.nn as nn\ndef act():\n    return nn.ReLU()\n")
    monkeypatch.chdir(tmp_path)
    here = [p for p in sys.path if p in ("", ".", str(tmp_path))]
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in here])
    for name in [m for m in sys.modules if m.startswith("probe_cwd_pkg")]:
        monkeypatch.delitem(sys.modules, name)
    before = list(sys.path)
    try:
        m = load_model("probe_cwd_pkg.models:build_net")
        assert isinstance(m, nn.Sequential) and isinstance(m[1], nn.ReLU)
        assert sys.path == before  # the working folder was on sys.path only meanwhile
        # A missing package is still a clear error, and leaves sys.path as it was.
        with pytest.raises(ValueError, match="cannot import module 'no_such_pkg_xyz'.*current"):
            load_model("no_such_pkg_xyz:net")
        assert sys.path == before
        # A module that exists but imports something missing is not retried or hidden.
        (pkg / "broken.py").write_text("import no_such_dependency_xyz\n")
        with pytest.raises(ValueError, match="no_such_dependency_xyz"):
            load_model("probe_cwd_pkg.broken:net")
        assert sys.path == before
    finally:
        for name in [m for m in sys.modules if m.startswith("probe_cwd_pkg")]:
            del sys.modules[name]


def _params_equal(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_weights_round_trip_safetensors_and_state_dict(tmp_path):
    from safetensors.torch import save_file

    src = build_example("resnet-stride", seed=11)
    save_file(src.state_dict(), str(tmp_path / "w.safetensors"))
    torch.save(src.state_dict(), tmp_path / "w.pt")
    torch.save({"state_dict": src.state_dict(), "epoch": 3}, tmp_path / "ckpt.pth")
    for f in ["w.safetensors", "w.pt", "ckpt.pth"]:
        # Weights of the plain variant load into the Kaiser variant (same keys).
        m = load_model("resnet-kaiser", weights=tmp_path / f)
        assert _params_equal(m, src), f
        assert not _params_equal(build_example("resnet-kaiser"), src)


def test_weights_mismatch_lists_the_keys(tmp_path):
    src = build_example("resnet-stride").state_dict()
    sd = {k: v for k, v in src.items() if k != "fc.bias"}
    sd["extra.weight"] = torch.zeros(1)
    sd["conv1.weight"] = torch.zeros(1, 1, 1, 1)
    torch.save(sd, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match=r"missing keys \[fc\.bias\].*unexpected keys "
                       r"\[extra\.weight\].*shape mismatches \[conv1\.weight"):  # fmt: skip
        load_weights(build_example("resnet-stride"), tmp_path / "bad.pt")


class _Evil:
    def __reduce__(self):
        return (print, ("unpickled!",))


def test_pickled_objects_are_refused(tmp_path, capsys):
    torch.save({"conv1.weight": _Evil()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="cannot read weights"):
        read_state_dict(tmp_path / "evil.pt")
    assert "unpickled!" not in capsys.readouterr().out
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="mapping of names to tensors"):
        read_state_dict(tmp_path / "list.pt")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="cannot read weights"):
        read_state_dict(tmp_path / "junk.safetensors")
    with pytest.raises(ValueError, match="does not exist"):
        read_state_dict(tmp_path / "absent.pt")
