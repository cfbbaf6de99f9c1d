"""gan.networks.transform against numpy: the composition order of compose (mutation testing)."""

import math

import numpy as np
import torch

from gan.networks.transform import compose, rotate, translate


def test_compose_applies_the_last_matrix_first():
    # compose(A, B) applies B first, then A: the matrix product A @ B. Content at p = (0.3, 0)
    # turned by +90° (counter-clockwise as displayed, y down) lands at (0, −0.3); translated by
    # (0.1, 0.2) after that it is at (0.1, −0.1). The other order would give (0.2, −0.4).
    p = torch.tensor([0.3, 0.0, 1.0], dtype=torch.float64)
    t, r = translate(0.1, 0.2, dtype=torch.float64), rotate(math.pi / 2, dtype=torch.float64)
    moved = compose(t, r) @ p
    np.testing.assert_allclose(moved.numpy(), [0.1, -0.1, 1.0], atol=1e-12)
    np.testing.assert_allclose((compose(r, t) @ p).numpy(), [0.2, -0.4, 1.0], atol=1e-12)


def test_compose_of_several_batched_matrices_is_their_product():
    rng = np.random.default_rng(60)
    mats = [rng.standard_normal((4, 3, 3)) for _ in range(3)]
    got = compose(*(torch.from_numpy(m) for m in mats)).numpy()
    np.testing.assert_allclose(got, mats[0] @ mats[1] @ mats[2], rtol=1e-12, atol=1e-12)
    # numpy arrays and a mix of float32 / float64 promote to float64
    mixed = compose(mats[0][0], torch.from_numpy(mats[1][0]).float())
    assert mixed.dtype == torch.float64
    want = mats[0][0] @ mats[1][0].astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(mixed.numpy(), want, rtol=1e-12)
