"""Texture-sticking panels, image grids and transform videos, on a small synthetic generator whose
content moves with the latent (and, optionally, carries a pattern stuck to the pixel grid)."""

import math

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from gan.metrics.sticking import (
    average_of_neighbourhood,
    plot_sticking,
    slice_over_interpolation,
)
from gan.metrics.video import (
    image_grid,
    latents_from_seeds,
    save_gif,
    save_image,
    to_uint8,
    transform_video,
    video_transforms,
)
from gan.networks.transform import compose, rotate, translate


class _Synth(nn.Module):
    def __init__(self, owner):
        super().__init__()
        self._owner = [owner]

    def forward(self, ws, transform=None, return_features=False, noise_mode="const"):
        return self._owner[0].render(ws[:, 0], transform)


class DriftGenerator(nn.Module):
    """Cosines whose position follows the latent (``w[:, :2]·0.1`` image widths) and the input
    transform; ``stuck`` adds a fine pattern fixed to the pixel grid."""

    def __init__(self, res=32, channels=1, stuck=0.0):
        super().__init__()
        gen = torch.Generator().manual_seed(7)
        self.res, self.img_channels, self.z_dim, self.w_dim, self.c_dim = res, channels, 4, 4, 0
        self.register_buffer(
            "freqs", (torch.rand(8, 2, generator=gen, dtype=torch.float64) - 0.5) * 0.4 * res
        )
        self.register_buffer("phases", torch.rand(8, generator=gen, dtype=torch.float64) * 6.3)
        self.register_buffer(
            "pattern", torch.randn(channels, res, res, generator=gen, dtype=torch.float64)
        )
        self.stuck = stuck
        self.mapping = lambda z, c=None, psi=1.0, **kw: z[:, None, :] * psi
        self.synthesis = _Synth(self)

    def render(self, w, transform):
        A = torch.eye(3, dtype=torch.float64) if transform is None else transform.double().cpu()
        c = (torch.arange(self.res, dtype=torch.float64) + 0.5) / self.res - 0.5
        y, x = torch.meshgrid(c, c, indexing="ij")
        inv = torch.linalg.inv(A)
        qx = inv[0, 0] * x + inv[0, 1] * y + inv[0, 2]
        qy = inv[1, 0] * x + inv[1, 1] * y + inv[1, 2]
        w = w.double().cpu()
        qx = qx[None] - 0.1 * w[:, 0, None, None]
        qy = qy[None] - 0.1 * w[:, 1, None, None]
        arg = (
            2
            * math.pi
            * (self.freqs[:, 0, None, None, None] * qx + self.freqs[:, 1, None, None, None] * qy)
        )
        img = torch.cos(arg + self.phases[:, None, None, None]).mean(0)[:, None] * 0.8
        img = img.expand(-1, self.img_channels, -1, -1) + self.stuck * self.pattern[None]
        return img.float()

    def forward(self, z, c=None, *, psi=1.0, transform=None, return_features=False,
                noise_mode="const"):  # fmt: skip
        return self.synthesis(self.mapping(z, c, psi), transform, return_features, noise_mode)


def _z(seed=0, dim=4):
    return torch.randn(dim, generator=torch.Generator().manual_seed(seed))


# --- sticking ----------------------------------------------------------------------------------


def test_average_without_spread_is_the_image():
    G = DriftGenerator()
    z = _z()
    avg = average_of_neighbourhood(G, z, num=5, sigma=0.0, batch=2)
    assert avg.shape == (1, 32, 32) and avg.dtype == torch.float32
    torch.testing.assert_close(avg, G(z[None])[0], rtol=0, atol=1e-6)


def test_average_keeps_stuck_details_and_blurs_moving_ones():
    z = _z(1)
    moving = average_of_neighbourhood(DriftGenerator(), z, num=64, sigma=1.0, batch=16)
    stuck_g = DriftGenerator(stuck=0.3)
    stuck = average_of_neighbourhood(stuck_g, z, num=64, sigma=1.0, batch=16)
    single = DriftGenerator()(z[None])[0]
    # Moving content averages out (measured: std ratio ≈ 0.2) ...
    assert moving.std() < 0.5 * single.std()
    # ... while the stuck pattern survives the average exactly (same latents, same draws).
    torch.testing.assert_close(stuck - moving, 0.3 * stuck_g.pattern.float(), rtol=0, atol=1e-5)


def test_slice_columns_are_the_interpolated_images():
    G = DriftGenerator(channels=3)
    z0, z1 = _z(2), _z(3)
    sl = slice_over_interpolation(G, z0, z1, steps=7, column=5, batch=3)
    assert sl.shape == (3, 32, 7)
    torch.testing.assert_close(sl[:, :, 0], G(z0[None])[0, :, :, 5], rtol=0, atol=0)
    torch.testing.assert_close(sl[:, :, -1], G(z1[None])[0, :, :, 5], rtol=0, atol=0)
    u = 4 / 6
    mid = G((1 - u) * z0[None] + u * z1[None])[0, :, :, 5]  # mapping is linear here
    torch.testing.assert_close(sl[:, :, 4], mid, rtol=0, atol=1e-5)
    zs = slice_over_interpolation(G, z0, z1, steps=7, column=5, space="z")
    torch.testing.assert_close(zs, sl, rtol=0, atol=1e-5)


def test_slice_shows_stuck_content_as_horizontal_streaks():
    # Content that ignores the latent gives identical columns: perfect horizontal streaks.
    class Frozen(DriftGenerator):
        def render(self, w, transform):
            return super().render(w * 0, transform)

    z0, z1 = _z(4), _z(5)
    frozen = slice_over_interpolation(Frozen(), z0, z1, steps=9)
    assert torch.equal(frozen, frozen[:, :, :1].expand_as(frozen))
    moving = slice_over_interpolation(DriftGenerator(), z0, z1, steps=9)
    assert (moving[:, :, 1:] - moving[:, :, :-1]).abs().max() > 0.05


def test_plot_sticking_has_two_panels():
    matplotlib.use("Agg")
    G = DriftGenerator(channels=3)
    fig = plot_sticking(
        average_of_neighbourhood(G, _z(), num=4),
        slice_over_interpolation(G, _z(), _z(1), steps=5),
        title="synthetic",
        column=16,
    )
    assert len(fig.axes) == 2
    import matplotlib.pyplot as plt

    plt.close(fig)


@pytest.mark.parametrize(
    "call",
    [
        lambda G: average_of_neighbourhood(G, _z(dim=5)),
        lambda G: average_of_neighbourhood(G, _z(), num=0),
        lambda G: average_of_neighbourhood(G, _z(), sigma=-1.0),
        lambda G: average_of_neighbourhood(G, torch.full((4,), math.nan)),
        lambda G: slice_over_interpolation(G, _z(), _z(), steps=1),
        lambda G: slice_over_interpolation(G, _z(), _z(), column=32),
        lambda G: slice_over_interpolation(G, _z(), _z(), space="x"),
    ],
)
def test_sticking_rejects_bad_arguments(call):
    with pytest.raises(ValueError):
        call(DriftGenerator())


# --- images and video --------------------------------------------------------------------------


def test_latents_from_seeds_follow_numpy_randomstate():
    z = latents_from_seeds([0, 5], 6)
    assert z.dtype == torch.float32 and z.shape == (2, 6)
    np.testing.assert_allclose(z[1].numpy(), np.random.RandomState(5).randn(6), rtol=1e-6)
    for bad in ([], [-1], [2**32], [1.5]):
        with pytest.raises(ValueError):
            latents_from_seeds(bad, 6)


def test_to_uint8_and_grid_layout():
    imgs = torch.linspace(-1, 1, 5)[:, None, None, None].expand(5, 3, 2, 3)
    assert to_uint8(torch.tensor([[[-1.0, 0.0, 1.0, 2.0]]])).ravel().tolist() == [0, 128, 255, 255]
    grid = image_grid(imgs, cols=2, pad=1)
    assert grid.shape == (3 * 2 + 2, 2 * 3 + 1, 3) and grid.dtype == np.uint8
    for i in range(5):
        r, c = divmod(i, 2)
        tile = grid[r * 3 : r * 3 + 2, c * 4 : c * 4 + 3]
        assert (tile == round((float(imgs[i, 0, 0, 0]) + 1) * 127.5)).all()
    assert (grid[2, :] == 0).all()  # padding row
    with pytest.raises(ValueError):
        to_uint8(torch.zeros(1, 2, 4, 4))


def test_save_image_roundtrip_and_atomic(tmp_path):
    arr = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    path = save_image(arr, tmp_path / "sub" / "img.png")
    np.testing.assert_array_equal(np.asarray(Image.open(path)), arr)
    assert sorted(p.name for p in path.parent.iterdir()) == ["img.png"]
    with pytest.raises(ValueError):
        save_image(arr.astype(np.float32), tmp_path / "x.png")


def test_video_transforms_follow_the_loop():
    mats = video_transforms(8, translate=(0.1, -0.05), rotate=20.0)
    assert mats.shape == (8, 3, 3)
    torch.testing.assert_close(mats[0], torch.eye(3))
    want = compose(translate(0.1, -0.05), rotate(math.radians(20.0)))
    torch.testing.assert_close(mats[2], want)  # sin(2π·2/8) = 1
    torch.testing.assert_close(mats[6], compose(translate(-0.1, 0.05), rotate(math.radians(-20))))


def test_transform_video_writes_a_gif(tmp_path):
    G = DriftGenerator()  # one channel: grey levels survive the GIF palette exactly
    z = _z()
    # 5 frames: no two consecutive frames are equal (Pillow would merge them).
    path = transform_video(G, z, tmp_path / "v.gif", frames=5, translate=(0.1, 0.0), rotate=15.0,
                           fps=12, scale=2)  # fmt: skip
    gif = Image.open(path)
    assert gif.n_frames == 5 and gif.size == (64, 64)
    first = np.asarray(gif.convert("L"))[::2, ::2]
    np.testing.assert_array_equal(first, to_uint8(G(z[None])[0])[..., 0])
    gif.seek(1)
    second = np.asarray(gif.convert("L"))[::2, ::2]
    shifted = to_uint8(G(z[None], transform=video_transforms(5, (0.1, 0.0), 15.0)[1])[0])[..., 0]
    np.testing.assert_array_equal(second, shifted)
    assert not np.array_equal(first, second)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.gif"]
    with pytest.raises(ValueError):
        transform_video(G, z, tmp_path / "w.gif", frames=0)
    with pytest.raises(ValueError):
        save_gif([], tmp_path / "e.gif")
