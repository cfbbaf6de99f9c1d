"""Residual discriminator: shapes, minibatch stddev (float64 brute force), conditioning, R1."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from gan.networks.discriminator import Discriminator, MinibatchStd, mbstd_group


def _tiny(res: int = 16, **kw) -> Discriminator:
    torch.manual_seed(0)
    args = {"res": res, "channel_base": 8 * res, "channel_max": 16}
    return Discriminator(**{**args, **kw})


def _img(n: int, res: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, 3, res, res, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("res", [16, 32, 64])
def test_output_shape_and_structure(res):
    D = _tiny(res)
    assert list(D.blocks) == [f"b{2**i}" for i in range(int(math.log2(res)), 2, -1)]
    with torch.no_grad():
        y = D(_img(2, res))
    assert y.shape == (2, 1) and y.dtype == torch.float32
    assert torch.isfinite(y).all()
    assert D.channels == {r: min(8 * res // r, 16) for r in D.channels}


@given(group=st.integers(1, 8), batch=st.integers(1, 24))
def test_mbstd_group_is_largest_divisor(group, batch):
    g = mbstd_group(group, batch)
    divisors = [d for d in range(1, batch + 1) if batch % d == 0 and d <= group]
    assert g == max(divisors)
    if batch % min(group, batch) == 0:
        assert g == min(group, batch)  # StyleGAN2's choice whenever it is valid


@pytest.mark.parametrize(("n", "group", "nch"), [(6, 4, 1), (4, 4, 2), (5, 4, 1), (1, 4, 1)])
def test_mbstd_matches_brute_force(n, group, nch):
    x = torch.randn(n, 4, 3, 3, generator=torch.Generator().manual_seed(n), dtype=torch.float64)
    y = MinibatchStd(group, nch)(x).numpy()
    xn = x.numpy()
    g = mbstd_group(group, n)
    assert n % g == 0
    assert y.shape == (n, 4 + nch, 3, 3)
    np.testing.assert_array_equal(y[:, :4], xn)
    for i in range(n):
        members = [j for j in range(n) if j % (n // g) == i % (n // g)]
        assert len(members) == g
        for k in range(nch):
            sl = xn[members][:, k * 4 // nch : (k + 1) * 4 // nch]
            want = np.sqrt(sl.var(axis=0) + 1e-8).mean()
            np.testing.assert_allclose(y[i, 4 + k], want, rtol=1e-12)


def test_batch_not_divisible_by_group_runs():
    D = _tiny(16, mbstd_group_size=4)
    with torch.no_grad():
        for n in (1, 3, 5, 6):
            y = D(_img(n, 16))
            assert y.shape == (n, 1) and torch.isfinite(y).all()


def test_samples_interact_only_through_mbstd():
    """Without mbstd each score depends on its own image only; with it, on its group."""
    x = _img(4, 16)
    x2 = x.clone()
    x2[1] += 1.0
    with torch.no_grad():
        D0 = _tiny(16, mbstd_num_channels=0)
        torch.testing.assert_close(D0(x)[[0, 2, 3]], D0(x2)[[0, 2, 3]])
        D = _tiny(16, mbstd_group_size=2)  # groups {0, 2}, {1, 3}
        a, b = D(x), D(x2)
    torch.testing.assert_close(a[[0, 2]], b[[0, 2]])
    assert (a[3] - b[3]).abs() > 0


def test_conditional():
    D = _tiny(16, c_dim=3)
    assert D.cmap_dim == D.channels[4]
    x = _img(2, 16)
    c0 = torch.eye(3)[[0, 0]]
    c1 = torch.eye(3)[[1, 1]]
    with torch.no_grad():
        y0, y1 = D(x, c0), D(x, c1)
    assert y0.shape == (2, 1) and torch.isfinite(y0).all()
    assert (y0 - y1).abs().max() > 0
    with torch.no_grad():
        Dc = _tiny(16, c_dim=3, cmap_dim=5)
        assert Dc.out.out_features == 5
        assert Dc(x, c0).shape == (2, 1)
    with pytest.raises(ValueError, match="c must"):
        D(x)
    with pytest.raises(ValueError):
        D(x, torch.eye(3)[:1])


def test_input_gradients_for_r1():
    D = _tiny(16)
    x = _img(3, 16).requires_grad_(True)
    (g,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    assert g.shape == x.shape and torch.isfinite(g).all() and g.abs().sum() > 0
    # R1 needs the gradient of the gradient penalty w.r.t. the weights.
    g.square().sum().backward()
    # Every weight shapes the input gradient (the output bias does not, so it gets none).
    for name, p in D.named_parameters():
        if name.endswith("weight"):
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
            assert p.grad.abs().sum() > 0, name
    assert D.blocks["b16"].conv0.weight.grad.abs().sum() > 0


def test_input_gradient_matches_finite_difference():
    D = _tiny(16).double()
    x = _img(2, 16).double().requires_grad_(True)
    (g,) = torch.autograd.grad(D(x).sum(), x)
    d = torch.randn_like(x)
    eps = 1e-6
    with torch.no_grad():
        fd = (D(x + eps * d).sum() - D(x - eps * d).sum()) / (2 * eps)
    assert float((g * d).sum()) == pytest.approx(float(fd), rel=1e-5, abs=1e-9)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"res": 24},
        {"res": 4},
        {"res": 2**13},
        {"c_dim": -1},
        {"channel_base": 4},
        {"mbstd_group_size": 0},
        {"mbstd_num_channels": 3},
        {"conv_clamp": 0.0},
        {"c_dim": 2, "cmap_dim": 0},
    ],
)
def test_invalid_config(kwargs):
    with pytest.raises(ValueError):
        _tiny(**{"res": 16, **kwargs})


def test_invalid_input_shape():
    D = _tiny(16)
    with pytest.raises(ValueError, match="img must"):
        D(torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError, match="img must"):
        D(torch.zeros(3, 16, 16))
