"""FID and KID (gan.metrics.fid) against direct numpy computations."""

import itertools
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from gan.metrics.fid import (
    compute_fid_kid,
    dataset_features,
    extract_features,
    fid_from_features,
    generator_features,
    kid_from_features,
    load_feature_extractor,
)
from gan.networks.presets import build_generator

# The test extractors are scripted here; TorchScript is the format of the published ones.
pytestmark = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning"
)

# -- direct computations (independent of the module's formulas) -------------------------------


def direct_fid(a: np.ndarray, b: np.ndarray) -> float:
    """FID from explicit sums and an eigendecomposition: Tr((Σa Σb)^½) = Tr((Σa^½ Σb Σa^½)^½),
    the latter symmetric PSD, so its square root's trace is Σ √λ."""

    def stats(f):
        n = f.shape[0]
        mu = np.zeros(f.shape[1])
        for row in f:
            mu += row
        mu /= n
        cov = np.zeros((f.shape[1], f.shape[1]))
        for row in f:
            cov += np.outer(row - mu, row - mu)
        return mu, cov / (n - 1)

    mu_a, cov_a = stats(a)
    mu_b, cov_b = stats(b)
    w, v = np.linalg.eigh(cov_a)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    lam = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    tr_root = np.sum(np.sqrt(np.clip(lam, 0, None)))
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * tr_root)


def direct_mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² with k(u, v) = (uᵀv / d + 1)³, by explicit double loops."""
    m, d = x.shape

    def k(u, v):
        return (sum(float(ui) * float(vi) for ui, vi in zip(u, v, strict=True)) / d + 1) ** 3

    sxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    syy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    sxy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return sxx / (m * (m - 1)) + syy / (m * (m - 1)) - 2 * sxy / (m * m)


# -- FID -----------------------------------------------------------------------------------------


def test_fid_equals_direct_computation(rng):
    a = rng.standard_normal((40, 6)) @ rng.standard_normal((6, 6))
    b = rng.standard_normal((30, 6)) * np.array([1, 2, 0.5, 1, 3, 1]) + 0.3
    assert fid_from_features(a, b) == pytest.approx(direct_fid(a, b), rel=1e-8, abs=1e-10)
    assert fid_from_features(a, b) == pytest.approx(fid_from_features(b, a), rel=1e-8)


def test_fid_with_fewer_samples_than_dimensions(rng):
    # Singular covariances (rank 4 and 5 in 8 dimensions): still the standard value, no warning.
    a = rng.standard_normal((5, 8))
    b = rng.standard_normal((6, 8)) + 0.2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = fid_from_features(a, b)
    assert got == pytest.approx(direct_fid(a, b), rel=1e-6)


def test_fid_of_identical_sets_is_zero(rng):
    a = rng.standard_normal((50, 8))
    assert abs(fid_from_features(a, a.copy())) < 1e-8


def test_fid_of_shifted_set_is_the_squared_shift(rng):
    a = rng.standard_normal((50, 5)) @ rng.standard_normal((5, 5))
    delta = np.array([0.5, -1.0, 2.0, 0.0, 0.25])
    assert fid_from_features(a, a + delta) == pytest.approx(np.sum(delta**2), rel=1e-7)


def test_fid_one_dimension_is_mean_and_std_gap(rng):
    # 1D Gaussians: FID = (μa − μb)² + (σa − σb)² with the unbiased sample deviations.
    a = rng.standard_normal((200, 1)) * 2 + 1
    b = rng.standard_normal((150, 1)) * 0.5 - 1
    want = (a.mean() - b.mean()) ** 2 + (a.std(ddof=1) - b.std(ddof=1)) ** 2
    assert fid_from_features(a, b) == pytest.approx(want, rel=1e-9)


def test_fid_grows_with_distance(rng):
    a = rng.standard_normal((100, 4))
    near = rng.standard_normal((100, 4)) + 0.1
    far = rng.standard_normal((100, 4)) * 2 + 1
    assert fid_from_features(a, near) < fid_from_features(a, far)


@pytest.mark.parametrize(
    "a, b, match",
    [
        (np.zeros((5, 3)), np.zeros((5, 4)), "feature dimension"),
        (np.zeros((1, 3)), np.zeros((5, 3)), "f_real"),
        (np.zeros((5, 3)), np.zeros(5), "f_fake"),
        (np.full((5, 3), np.nan), np.zeros((5, 3)), "finite"),
    ],
)
def test_fid_rejects_bad_features(a, b, match):
    with pytest.raises(ValueError, match=match):
        fid_from_features(a, b)


# -- KID -----------------------------------------------------------------------------------------


def test_kid_equals_direct_double_loop(rng):
    # One subset of the full size: the subsets are permutations of the whole sets, and MMD² is
    # invariant to the order, so the direct full-set computation is the truth.
    x = rng.standard_normal((12, 5))
    y = rng.standard_normal((12, 5)) * 1.5 + 0.4
    got = kid_from_features(x, y, num_subsets=1, max_subset_size=12, seed=3)
    assert got == pytest.approx(direct_mmd2_unbiased(x, y), rel=1e-10)


def test_kid_is_the_mean_over_subsets(rng):
    # Full-size subsets of equal-size sets are permutations: every estimate is the full MMD², so
    # the mean over any number of subsets is too.
    x = rng.standard_normal((9, 4))
    y = rng.standard_normal((9, 4)) + 0.5
    got = kid_from_features(x, y, num_subsets=5, max_subset_size=50, seed=4)
    assert got == pytest.approx(direct_mmd2_unbiased(x, y), rel=1e-10)


def test_kid_random_subsets_are_seeded_and_bounded(rng):
    # m = 10 of y's 14 rows (all of x, in some order): the mean over subsets lies between the
    # smallest and the largest estimate over all C(14, 10) = 1001 subsets of y.
    x = rng.standard_normal((10, 4))
    y = rng.standard_normal((14, 4)) + 0.5
    k1 = kid_from_features(x, y, num_subsets=20, max_subset_size=10, seed=1)
    assert k1 == kid_from_features(x, y, num_subsets=20, max_subset_size=10, seed=1)
    assert k1 != kid_from_features(x, y, num_subsets=20, max_subset_size=10, seed=2)
    kxx = (x @ x.T / 4 + 1) ** 3
    kyy = (y @ y.T / 4 + 1) ** 3
    kxy = (x @ y.T / 4 + 1) ** 3
    m = 10
    all_est = []
    for s in itertools.combinations(range(14), m):
        s = list(s)
        b = kyy[np.ix_(s, s)]
        all_est.append(
            (kxx.sum() - np.trace(kxx) + b.sum() - np.trace(b)) / (m * (m - 1))
            - 2 * kxy[:, s].sum() / m**2
        )
    assert min(all_est) <= k1 <= max(all_est)
    assert min(all_est) < max(all_est)


def test_kid_is_near_zero_for_equal_distributions_and_positive_otherwise(rng):
    x = rng.standard_normal((200, 4))
    y = rng.standard_normal((200, 4))
    z = rng.standard_normal((200, 4)) + 1.0
    same = kid_from_features(x, y, num_subsets=20, max_subset_size=100)
    diff = kid_from_features(x, z, num_subsets=20, max_subset_size=100)
    assert abs(same) < 0.05 * diff
    assert diff > 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_subsets": 0}, "num_subsets"),
        ({"max_subset_size": 1}, "max_subset_size"),
        ({"seed": -1}, "seed"),
    ],
)
def test_kid_rejects_bad_arguments(rng, kwargs, match):
    x = rng.standard_normal((5, 3))
    with pytest.raises(ValueError, match=match):
        kid_from_features(x, x, **kwargs)


# -- the extractor -------------------------------------------------------------------------------


class TinyExtractor(nn.Module):
    """Per-channel mean and mean square of uint8 images in [0, 1] (6 features), through a fixed
    linear layer; without ``return_features`` it returns 2 "logits" instead."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(6, 6)
        with torch.no_grad():
            self.proj.weight.copy_(torch.eye(6) + 0.1)
            self.proj.bias.zero_()

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        x = x.float() / 255.0
        f = torch.cat([x.mean(dim=(2, 3)), (x * x).mean(dim=(2, 3))], dim=1)
        f = self.proj(f)
        if return_features:
            return f
        return f[:, :2]


class PlainExtractor(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.float().mean(dim=(2, 3))


@pytest.fixture
def extractor_path(tmp_path):
    path = tmp_path / "tiny.pt"
    torch.jit.script(TinyExtractor()).save(str(path))
    return path


def reference_features(images: torch.Tensor) -> np.ndarray:
    x = images.double() / 255.0
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    f = torch.cat([x.mean(dim=(2, 3)), (x * x).mean(dim=(2, 3))], dim=1)
    return (f @ (torch.eye(6, dtype=torch.float64) + 0.1).T).numpy()


def test_load_feature_extractor_round_trip(extractor_path):
    ext = load_feature_extractor(extractor_path)
    assert not ext.training
    images = torch.randint(0, 256, (7, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator())
    got = extract_features(ext, images, batch=3)
    assert got.shape == (7, 6) and got.dtype == np.float64
    np.testing.assert_allclose(got, reference_features(images), rtol=1e-5, atol=1e-6)


def test_extract_features_grayscale_and_plain_modules():
    images = torch.randint(0, 256, (5, 1, 6, 6), dtype=torch.uint8, generator=torch.Generator())
    f = extract_features(torch.jit.script(TinyExtractor()), images.numpy(), batch=2)
    np.testing.assert_allclose(f, reference_features(images), rtol=1e-5, atol=1e-6)
    plain = extract_features(torch.jit.script(PlainExtractor()), images, batch=4)
    want = images.double().mean(dim=(2, 3)).repeat(1, 3).numpy()
    np.testing.assert_allclose(plain, want, rtol=1e-6)


@pytest.mark.parametrize("path", [None, "", "  "])
def test_missing_extractor_explains_the_flag(path):
    with pytest.raises(ValueError, match="--fid-extractor FILE.*nothing is downloaded"):
        load_feature_extractor(path)


def test_extractor_path_errors(tmp_path):
    missing = tmp_path / "nope.pt"
    with pytest.raises(ValueError, match="nope.pt.*does not exist"):
        load_feature_extractor(missing)
    with pytest.raises(ValueError, match="not a file"):
        load_feature_extractor(tmp_path)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torchscript archive")
    with pytest.raises(ValueError, match="junk.pt.*TorchScript"):
        load_feature_extractor(junk)
    pickled = tmp_path / "inception-2015-12-05.pkl"
    pickled.write_bytes(b"\x80\x04 a pickle")
    with pytest.raises(ValueError, match=r"\.pkl.*cannot be used.*inception-2015-12-05\.pt"):
        load_feature_extractor(pickled)


@pytest.mark.parametrize(
    "images, match",
    [
        (torch.zeros(2, 3, 4, 4), "uint8"),
        (torch.zeros(3, 4, 4, dtype=torch.uint8), "shape"),
        (torch.zeros(2, 4, 4, 4, dtype=torch.uint8), "C = 1 or 3"),
        ([1, 2], "uint8"),
    ],
)
def test_extract_features_rejects_bad_images(images, match):
    with pytest.raises(ValueError, match=match):
        extract_features(PlainExtractor(), images)


# -- end to end ----------------------------------------------------------------------------------


class TinyDataset:
    """The dataset protocol of gan.training.data.ImageDataset: (uint8 [C, H, W], label)."""

    def __init__(self, n=6, res=32, c_dim=0, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.images = torch.randint(0, 256, (n, 3, res, res), dtype=torch.uint8, generator=g)
        self.c_dim = c_dim

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        label = torch.zeros(self.c_dim)
        if self.c_dim:
            label[i % self.c_dim] = 1
        return self.images[i], label


class StubG(nn.Module):
    """A cheap generator with the project's interface: z → tanh(linear) images in [−1, 1];
    records the labels it was given."""

    def __init__(self, z_dim=8, c_dim=0, res=32):
        super().__init__()
        self.z_dim, self.c_dim, self.res = z_dim, c_dim, res
        self.lin = nn.Linear(z_dim + c_dim, 3 * res * res)
        self.seen_c = []

    def forward(self, z, c=None, psi=1.0):
        if self.c_dim:
            self.seen_c.append(c)
            z = torch.cat([z, c], dim=1)
        return torch.tanh(psi * self.lin(z)).view(-1, 3, self.res, self.res)


def test_compute_fid_kid_equals_direct_computation():
    torch.manual_seed(0)
    G = StubG()
    ext = torch.jit.script(TinyExtractor())
    data = TinyDataset()
    out = compute_fid_kid(G, data, ext, num_gen=6, batch=4, device="cpu", seed=1)
    assert set(out) == {"fid", "kid", "num_real", "num_gen"}
    assert out["num_real"] == 6 and out["num_gen"] == 6
    assert G.training  # restored
    # The same numbers from the definitions: latents from a CPU generator seeded with `seed`,
    # uint8 conversion round((x + 1)·127.5), then the direct FID and the double-loop MMD².
    real = reference_features(data.images)
    with torch.no_grad():
        z = torch.randn(6, G.z_dim, generator=torch.Generator().manual_seed(1))
        img = G(z, None)
    u8 = ((img + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    fake = reference_features(u8)
    assert out["fid"] == pytest.approx(direct_fid(real, fake), rel=1e-4, abs=1e-6)
    assert out["kid"] == pytest.approx(direct_mmd2_unbiased(real, fake), rel=1e-3, abs=1e-6)
    # Precomputed real features give the same result.
    again = compute_fid_kid(
        G, data, ext, 6, 4, "cpu", real_features=dataset_features(data, ext, 4), seed=1
    )
    assert again == out


def test_compute_fid_kid_runs_with_the_tiny_preset():
    G = build_generator("t-tiny", res=32, seed=0)
    out = compute_fid_kid(
        G, TinyDataset(n=4), torch.jit.script(TinyExtractor()), num_gen=2, batch=2, device="cpu"
    )
    assert np.isfinite(out["fid"]) and np.isfinite(out["kid"]) and out["fid"] > 0
    assert out["num_real"] == 4 and out["num_gen"] == 2


class _OnlyClass2(TinyDataset):
    def __getitem__(self, i):
        return self.images[i], torch.eye(self.c_dim)[2]


def test_conditional_generator_uses_dataset_labels():
    G = StubG(c_dim=3)
    ext = torch.jit.script(TinyExtractor())
    data = TinyDataset(n=4, c_dim=3)
    f = generator_features(G, ext, num_gen=5, batch=2, dataset=data)
    assert f.shape == (5, 6) and np.all(np.isfinite(f))
    labels = torch.cat(G.seen_c)
    assert labels.shape == (5, 3)
    assert torch.all(labels.sum(1) == 1) and torch.all((labels == 0) | (labels == 1))
    # Labels come from the dataset, not from a uniform draw: a dataset holding class 2 only.
    G.seen_c.clear()
    generator_features(G, ext, num_gen=6, batch=3, dataset=_OnlyClass2(n=4, c_dim=3))
    assert torch.equal(torch.cat(G.seen_c), torch.eye(3)[[2] * 6])
    with pytest.raises(ValueError, match="dataset"):
        generator_features(G, ext, num_gen=3, batch=2)


def test_dataset_errors():
    ext = PlainExtractor()
    with pytest.raises(ValueError, match="at least 2"):
        dataset_features(TinyDataset(n=1), ext)

    class BadData(TinyDataset):
        def __getitem__(self, i):
            return self.images[i].float(), None

    with pytest.raises(ValueError, match="item 0.*uint8"):
        dataset_features(BadData(), ext)


def test_real_features_leave_the_mirrored_copies_out(tmp_path):
    # An x-flip dataset doubles its length with mirrored copies after the originals; the real
    # statistics are the images as they are (StyleGAN3's metrics do the same).
    from PIL import Image

    from gan.training.data import ImageDataset

    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    flipped = ImageDataset(tmp_path, xflip=True)
    plain = ImageDataset(tmp_path)
    assert len(flipped) == 6 and flipped.num_images == 3
    ext = torch.jit.script(TinyExtractor())
    np.testing.assert_array_equal(
        dataset_features(flipped, ext, 2), dataset_features(plain, ext, 2)
    )
