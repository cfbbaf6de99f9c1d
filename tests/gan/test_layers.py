"""FullyConnected, MappingNetwork, modulated_conv2d vs float64 brute force (REFERENCE §3)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional as F

from gan.networks.layers import (
    FullyConnected,
    MappingNetwork,
    modulated_conv2d,
    set_grouped_modconv,
)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().numpy()


# --- FullyConnected ---------------------------------------------------------------------------


@pytest.mark.parametrize("lr", [1.0, 0.01])
@pytest.mark.parametrize("activation", ["linear", "lrelu"])
def test_fully_connected_matches_equalized_formula(lr: float, activation: str) -> None:
    torch.manual_seed(0)
    fc = FullyConnected(7, 5, activation=activation, lr_multiplier=lr, bias_init=0.3)
    with torch.no_grad():
        fc.bias.add_(torch.randn(5))  # a non-trivial bias
    x = torch.randn(4, 7)
    y = _np(fc(x))
    w = _np(fc.weight) * lr / math.sqrt(7)
    b = _np(fc.bias) * lr
    ref = _np(x) @ w.T + b
    if activation == "lrelu":
        ref = np.where(ref >= 0, ref, 0.2 * ref) * math.sqrt(2)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_fully_connected_init_statistics() -> None:
    torch.manual_seed(1)
    lr, winit = 0.01, 0.5
    fc = FullyConnected(256, 512, lr_multiplier=lr, bias_init=2.0, weight_init=winit)
    # Stored weight: randn · weight_init / lr; effective initial bias exactly bias_init.
    assert abs(fc.weight.std().item() - winit / lr) < 0.02 * winit / lr
    x = torch.zeros(1, 256)
    np.testing.assert_allclose(_np(fc(x)), 2.0, rtol=1e-6)
    # Effective weights have std weight_init / sqrt(in): unit-variance input → output std ~0.5.
    y = fc(torch.randn(2000, 256)) - 2.0
    assert abs(y.std().item() - winit) < 0.03


def test_fully_connected_gradient_is_scaled_by_lr() -> None:
    # Equalized lr: d loss / d stored weight = (lr / sqrt(in)) · d loss / d effective weight.
    torch.manual_seed(2)
    lr = 0.1
    fc = FullyConnected(3, 2, lr_multiplier=lr)
    x = torch.randn(5, 3)
    fc(x).sum().backward()
    expected = torch.ones(5, 2).T @ x * (lr / math.sqrt(3))
    np.testing.assert_allclose(_np(fc.weight.grad), _np(expected), rtol=1e-5)
    np.testing.assert_allclose(_np(fc.bias.grad), 5 * lr, rtol=1e-6)


def test_fully_connected_vector_bias_init_and_zero_weight() -> None:
    fc = FullyConnected(6, 4, weight_init=0.0, bias_init=[1.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(_np(fc(torch.randn(3, 6))), np.tile([1.0, 0, 0, 0], (3, 1)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"in_features": 0, "out_features": 2}, "in_features"),
        ({"in_features": 2, "out_features": 2, "activation": "relu"}, "activation"),
        ({"in_features": 2, "out_features": 2, "lr_multiplier": 0.0}, "lr_multiplier"),
        ({"in_features": 2, "out_features": 2, "bias_init": [1.0, 2.0, 3.0]}, "bias_init"),
        ({"in_features": 2, "out_features": 2, "bias_init": float("nan")}, "bias_init"),
        ({"in_features": 2, "out_features": 2, "weight_init": -1.0}, "weight_init"),
    ],
)
def test_fully_connected_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FullyConnected(**kwargs)


def test_fully_connected_rejects_wrong_input_shape() -> None:
    with pytest.raises(ValueError, match="x must have shape"):
        FullyConnected(3, 2)(torch.randn(2, 4))


# --- MappingNetwork ---------------------------------------------------------------------------


def test_mapping_shapes_and_broadcast() -> None:
    torch.manual_seed(3)
    m = MappingNetwork(z_dim=8, c_dim=0, w_dim=16, num_ws=5)
    ws = m(torch.randn(3, 8))
    assert ws.shape == (3, 5, 16) and ws.dtype == torch.float32
    assert torch.equal(ws, ws[:, :1].expand_as(ws))
    assert len(m.layers) == 2 and all(fc.lr_multiplier == 0.01 for fc in m.layers)


def test_mapping_z_normalisation_makes_scale_irrelevant() -> None:
    torch.manual_seed(4)
    m = MappingNetwork(8, 0, 16, 2)
    z = torch.randn(2, 8)
    np.testing.assert_allclose(_np(m(z)), _np(m(z * 7.5)), rtol=1e-5, atol=1e-6)


def test_mapping_w_avg_update_and_truncation() -> None:
    torch.manual_seed(5)
    beta = 0.9
    m = MappingNetwork(8, 0, 16, 4, w_avg_beta=beta)
    z = torch.randn(6, 8)
    ws = m(z)
    assert torch.count_nonzero(m.w_avg) == 0  # no update unless asked
    m(z, update_emas=True)
    expected = (1 - beta) * ws[:, 0].mean(0)  # w_avg starts at 0
    np.testing.assert_allclose(_np(m.w_avg), _np(expected), rtol=1e-5, atol=1e-7)

    # psi = 0 gives w_avg everywhere; psi = 0.5 with a cutoff only touches the first ws.
    w0 = m(z, psi=0.0)
    np.testing.assert_allclose(_np(w0), np.broadcast_to(_np(m.w_avg), w0.shape), rtol=1e-6)
    w5 = m(z, psi=0.5, truncation_cutoff=2)
    avg = _np(m.w_avg)
    np.testing.assert_allclose(_np(w5[:, :2]), avg + 0.5 * (_np(ws[:, :2]) - avg), rtol=1e-5)
    np.testing.assert_array_equal(_np(w5[:, 2:]), _np(ws[:, 2:]))


def test_mapping_conditional() -> None:
    torch.manual_seed(6)
    m = MappingNetwork(8, 3, 16, 2)
    z = torch.randn(2, 8)
    c1 = torch.tensor([[1.0, 0, 0], [1.0, 0, 0]])
    c2 = torch.tensor([[0.0, 1, 0], [0.0, 1, 0]])
    assert m(z, c1).shape == (2, 2, 16)
    assert not torch.allclose(m(z, c1), m(z, c2))
    with pytest.raises(ValueError, match="c must"):
        m(z)
    # Label only.
    assert MappingNetwork(0, 3, 16, 2)(None, c1).shape == (2, 2, 16)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"z_dim": 0, "c_dim": 0, "w_dim": 4, "num_ws": 2}, "z_dim and c_dim"),
        ({"z_dim": 4, "c_dim": 0, "w_dim": 0, "num_ws": 2}, "w_dim"),
        ({"z_dim": 4, "c_dim": 0, "w_dim": 4, "num_ws": 0}, "num_ws"),
        ({"z_dim": 4, "c_dim": 0, "w_dim": 4, "num_ws": 2, "num_layers": 0}, "num_layers"),
        ({"z_dim": 4, "c_dim": 0, "w_dim": 4, "num_ws": 2, "w_avg_beta": 1.5}, "w_avg_beta"),
    ],
)
def test_mapping_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MappingNetwork(**kwargs)


def test_mapping_rejects_bad_inputs() -> None:
    m = MappingNetwork(4, 0, 8, 2)
    with pytest.raises(ValueError, match="z must"):
        m(torch.randn(2, 5))
    with pytest.raises(ValueError, match="finite"):
        m(torch.tensor([[1.0, float("nan"), 0.0, 0.0]]))
    with pytest.raises(ValueError, match="psi"):
        m(torch.randn(2, 4), psi=float("nan"))


# --- modulated_conv2d -------------------------------------------------------------------------


def _naive_modconv(x, weight, styles, demodulate, padding, input_gain):
    """Per-sample loop in float64: modulate, demodulate, then an ordinary conv2d."""
    x, weight, styles = x.double(), weight.double(), styles.double()
    outs = []
    for n in range(x.shape[0]):
        w = weight * styles[n].reshape(1, -1, 1, 1)
        if demodulate:
            w = w / torch.sqrt((w**2).sum(dim=[1, 2, 3], keepdim=True))
        if input_gain is not None:
            g = input_gain.double()
            g = g[n] if g.ndim == 2 else g
            w = w * g.reshape(1, -1, 1, 1)
        outs.append(F.conv2d(x[n : n + 1], w, padding=padding))
    return torch.cat(outs)


@settings(max_examples=25)
@given(
    n=st.integers(1, 3),
    cin=st.integers(1, 4),
    cout=st.integers(1, 4),
    k=st.sampled_from([1, 3]),
    size=st.integers(3, 7),
    demodulate=st.booleans(),
    gain_kind=st.sampled_from(["none", "scalar", "channel", "sample"]),
    seed=st.integers(0, 2**16),
    grouped=st.booleans(),
)
def test_modulated_conv2d_equals_naive_loop(
    n, cin, cout, k, size, demodulate, gain_kind, seed, grouped
):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, cin, size, size, generator=g)
    weight = torch.randn(cout, cin, k, k, generator=g)
    styles = torch.randn(n, cin, generator=g) + 1.0
    gain = {
        "none": None,
        "scalar": torch.tensor(0.7),
        "channel": torch.rand(cin, generator=g) + 0.5,
        "sample": torch.rand(n, cin, generator=g) + 0.5,
    }[gain_kind]
    padding = k - 1
    y = modulated_conv2d(
        x, weight, styles, demodulate=demodulate, padding=padding, input_gain=gain, grouped=grouped
    )
    gain_ref = gain.expand(cin) if gain_kind == "scalar" else gain
    ref = _naive_modconv(x, weight, styles, demodulate, padding, gain_ref)
    assert y.shape == (n, cout, size + k - 1, size + k - 1) and y.dtype == torch.float32
    np.testing.assert_allclose(_np(y), _np(ref), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("demodulate", [True, False])
def test_modulated_conv2d_orders_agree_with_gradients(demodulate) -> None:
    # The batched (StyleGAN2) order and the grouped one: the same function and the same
    # gradients for x, weight, styles and a per-sample input gain, in float64.
    g = torch.Generator().manual_seed(11)
    args = [
        torch.randn(3, 5, 7, 7, generator=g, dtype=torch.float64),
        torch.randn(4, 5, 3, 3, generator=g, dtype=torch.float64),
        torch.randn(3, 5, generator=g, dtype=torch.float64) + 1.0,
        torch.rand(3, 5, generator=g, dtype=torch.float64) + 0.5,
    ]
    outs, grads = [], []
    for grouped in (True, False):
        leaves = [a.clone().requires_grad_() for a in args]
        x, w, st_, gain = leaves
        y = modulated_conv2d(
            x, w, st_, demodulate=demodulate, padding=1, input_gain=gain, grouped=grouped
        )
        (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).reshape(y.shape)).sum().backward()
        outs.append(y.detach())
        grads.append([leaf.grad for leaf in leaves])
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-12, atol=1e-12)
    for a, b in zip(grads[1], grads[0], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("demodulate", [True, False])
def test_modulated_conv2d_orders_under_autocast_and_in_half(demodulate) -> None:
    # Training runs under bf16 autocast: both orders must hand the next op the autocast dtype
    # (a float32 result would send the fused op down its fp32 path), and in float16 both stay
    # as close to float64 as each other.
    g = torch.Generator().manual_seed(12)
    x = torch.randn(2, 64, 9, 9, generator=g)
    w = torch.randn(32, 64, 3, 3, generator=g)
    s = torch.randn(2, 64, generator=g) + 1.0
    gain = torch.rand(64, generator=g) + 0.5
    kw = {"demodulate": demodulate, "padding": 1, "input_gain": gain}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        dtypes = {modulated_conv2d(x, w, s, grouped=gr, **kw).dtype for gr in (True, False)}
        under_autocast = modulated_conv2d(x, w, s, **kw)
    assert dtypes == {torch.bfloat16}
    # The demodulation stays float32 under autocast (a bf16 product there would scale whole
    # channels off by up to 0.4 %): the grouped order then equals an explicit bf16 call.
    assert torch.equal(under_autocast, modulated_conv2d(x.bfloat16(), w, s, **kw))
    exact = modulated_conv2d(x.double(), w.double(), s.double(), **kw)
    errs = []
    for gr in (True, False):
        y = modulated_conv2d(x.half(), w, s, grouped=gr, **kw)
        assert y.dtype == torch.float16
        errs.append(float((y.double() - exact).norm() / exact.norm()))
    assert max(errs) < 2e-3 and max(errs) < 3 * min(errs), errs


@pytest.mark.parametrize("grouped", [True, False])
def test_modulated_conv2d_on_meta_tensors(grouped) -> None:
    # Shape inference without data (meta tensors have no autocast state to switch off).
    x = torch.empty(2, 8, 5, 5, device="meta")
    w, s = torch.empty(4, 8, 3, 3, device="meta"), torch.empty(2, 8, device="meta")
    y = modulated_conv2d(x, w, s, padding=1, grouped=grouped)
    assert y.shape == (2, 4, 5, 5) and y.device.type == "meta"


def test_grouped_modulated_conv2d_saves_one_half_precision_weight() -> None:
    # What backward keeps dominates the generator's peak memory: the per-sample weights are
    # N·O·I·k·k. In a half-precision layer the grouped order keeps them once, in half precision
    # (the convolution's operand), plus an [N, O, I] coefficient; it used to keep two float32
    # copies besides (the modulated and the demodulated weights), 5x the bytes.
    g = torch.Generator().manual_seed(13)
    n, o, i, k = 4, 32, 48, 3
    x = torch.randn(n, i, 10, 10, generator=g).half().requires_grad_()
    w = torch.randn(o, i, k, k, generator=g).requires_grad_()
    s = (torch.randn(n, i, generator=g) + 1.0).requires_grad_()
    saved = {}

    def pack(t):
        saved[(t.data_ptr(), t.dtype, tuple(t.shape))] = t
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = modulated_conv2d(x, w, s, padding=1, input_gain=torch.tensor(0.5))
    per_sample = n * o * i * k * k
    big = [t for t in saved.values() if t.numel() >= per_sample]
    assert [(t.dtype, t.numel()) for t in big] == [(torch.float16, per_sample)]
    total = sum(t.numel() * t.element_size() for t in saved.values())
    # The half weights, x, a few weight-sized tensors and the coefficient (views count apart).
    assert total <= per_sample * 2 + x.numel() * 2 + 4 * w.numel() * 4 + 2 * n * o * i * 4
    y.float().square().mean().backward()  # and the gradients still flow to every input
    assert all(t.grad is not None and torch.isfinite(t.grad).all() for t in (x, w, s))


@pytest.mark.parametrize("config", ["t", "r", "baseline"])
def test_set_grouped_modconv_keeps_the_generator(config) -> None:
    from gan.networks.presets import build_generator

    G = build_generator(f"{config}-tiny", res=32, seed=3).double().eval()
    z = torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    want = G(z)
    n_layers = set_grouped_modconv(G, False)
    assert n_layers >= 4 and all(
        not m.grouped_modconv for m in G.modules() if hasattr(m, "grouped_modconv")
    )
    got = G(z)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match="grouped"):
        set_grouped_modconv(G, "no")


def test_modulated_conv2d_samples_are_independent() -> None:
    # Each sample's output must not depend on the others in the batch.
    torch.manual_seed(7)
    x = torch.randn(3, 4, 5, 5)
    weight = torch.randn(2, 4, 3, 3)
    styles = torch.randn(3, 4)
    full = modulated_conv2d(x, weight, styles, padding=1)
    one = modulated_conv2d(x[1:2], weight, styles[1:2] * 100, padding=1)
    np.testing.assert_allclose(_np(full[1:2]), _np(one), rtol=1e-4, atol=1e-5)


def test_modulated_conv2d_demodulation_gives_unit_output_variance() -> None:
    torch.manual_seed(8)
    x = torch.randn(4, 64, 16, 16)
    y = modulated_conv2d(x, torch.randn(32, 64, 3, 3), torch.randn(4, 64), padding=0)
    assert abs(y.std().item() - 1.0) < 0.1


def test_modulated_conv2d_rejects_bad_shapes() -> None:
    x = torch.randn(2, 3, 5, 5)
    w = torch.randn(4, 3, 3, 3)
    s = torch.randn(2, 3)
    with pytest.raises(ValueError, match="x must"):
        modulated_conv2d(x[0], w, s)
    with pytest.raises(ValueError, match="input channels"):
        modulated_conv2d(x, torch.randn(4, 2, 3, 3), s)
    with pytest.raises(ValueError, match="styles"):
        modulated_conv2d(x, w, torch.randn(3, 3))
    with pytest.raises(ValueError, match="padding"):
        modulated_conv2d(x, w, s, padding=-1)
    with pytest.raises(ValueError, match="input_gain"):
        modulated_conv2d(x, w, s, input_gain=torch.ones(5))
    with pytest.raises(ValueError, match="grouped"):
        modulated_conv2d(x, w, s, grouped=1)


# --- mutation-testing additions ---------------------------------------------------------------


def _lrelu_np(v: np.ndarray) -> np.ndarray:
    return np.where(v >= 0, v, 0.2 * v) * math.sqrt(2)


def test_normalize_2nd_moment_matches_numpy() -> None:
    # x / sqrt(mean(x², dim) + 1e-8): the mean, not the sum, of the squares.
    from gan.networks.layers import normalize_2nd_moment

    rng = np.random.default_rng(20)
    x = rng.standard_normal((4, 7)) * np.array([[0.1], [1.0], [3.0], [10.0]])
    got = normalize_2nd_moment(torch.from_numpy(x)).numpy()
    want = x / np.sqrt(np.mean(x**2, axis=1, keepdims=True) + 1e-8)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    np.testing.assert_allclose(np.mean(got**2, axis=1), 1.0, rtol=1e-5)


def test_conditional_mapping_matches_numpy_forward() -> None:
    # The whole mapping in float64 numpy from its stored parameters: the label embedding (lr 1)
    # and z each normalised to unit mean square, concatenated, then lrelu FC layers whose
    # weights are scaled by lr/sqrt(in) and biases by lr (lr 0.01).
    torch.manual_seed(21)
    m = MappingNetwork(z_dim=5, c_dim=3, w_dim=6, num_ws=3, num_layers=2).double()
    with torch.no_grad():
        for p in m.parameters():
            p.normal_()  # non-trivial biases as well as weights
    rng = np.random.default_rng(21)
    z, c = rng.standard_normal((4, 5)), rng.standard_normal((4, 3))
    ws = m(torch.from_numpy(z), torch.from_numpy(c)).detach().numpy()

    def norm(v):
        return v / np.sqrt(np.mean(v**2, axis=1, keepdims=True) + 1e-8)

    we, be = _np(m.embed.weight), _np(m.embed.bias)
    x = np.concatenate([norm(z), norm(c @ (we / math.sqrt(3)).T + be)], axis=1)
    for layer in m.layers:
        w, b = _np(layer.weight), _np(layer.bias)
        x = _lrelu_np(x @ (w * 0.01 / math.sqrt(w.shape[1])).T + b * 0.01)
    np.testing.assert_allclose(ws, np.broadcast_to(x[:, None], ws.shape), rtol=1e-10, atol=1e-12)


def test_mapping_w_avg_is_an_exponential_average_from_any_start() -> None:
    # w_avg ← β·w_avg + (1 − β)·mean_batch(w), step after step: from a non-zero start (the
    # existing test starts at 0, where dropping the β·w_avg term goes unnoticed).
    torch.manual_seed(22)
    beta = 0.7
    m = MappingNetwork(4, 0, 5, 2, w_avg_beta=beta).double()
    start = np.random.default_rng(22).standard_normal(5)
    with torch.no_grad():
        m.w_avg.copy_(torch.from_numpy(start))
    want = start.copy()
    for seed in (1, 2):
        z = torch.randn(3, 4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        mean_w = _np(m(z)[:, 0]).mean(axis=0)  # no update without update_emas
        m(z, update_emas=True)
        want = beta * want + (1 - beta) * mean_w
        np.testing.assert_allclose(_np(m.w_avg), want, rtol=1e-12, atol=1e-14)


def test_truncation_pulls_towards_w_avg_at_any_psi() -> None:
    # w' = w_avg + psi·(w − w_avg) with a non-zero w_avg, psi outside {0, 0.5, 1} (psi = 0.5 is
    # symmetric in w and w_avg, so it cannot tell the lerp's direction).
    torch.manual_seed(23)
    m = MappingNetwork(4, 0, 5, 3).double()
    avg = np.random.default_rng(23).standard_normal(5)
    with torch.no_grad():
        m.w_avg.copy_(torch.from_numpy(avg))
    z = torch.randn(2, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    w = _np(m(z))
    for psi in (0.3, 1.7, -0.4):
        got = _np(m(z, psi=psi, truncation_cutoff=2))
        np.testing.assert_allclose(got[:, :2], avg + psi * (w[:, :2] - avg), rtol=1e-12)
        np.testing.assert_array_equal(got[:, 2:], w[:, 2:])


@pytest.mark.parametrize("grouped", [True, False])
def test_modulated_conv2d_demodulation_epsilon_is_1e_8(grouped) -> None:
    # Documented: weight and styles normalised to unit RMS first, then
    # d = 1/sqrt(Σ ŵ²ŝ² + 1e-8). An output channel fed only by a channel whose style is tiny
    # makes the epsilon visible: Σ ŵ²ŝ² = 4e-8 here, so d differs by ~10 % from eps = 0 and by
    # a factor ~45 from eps = 1e-4.
    x = torch.randn(1, 2, 5, 5, generator=torch.Generator().manual_seed(24), dtype=torch.float64)
    weight = torch.tensor([[1.0], [0.0]], dtype=torch.float64).reshape(1, 2, 1, 1)
    styles = torch.tensor([[1e-4, 1.0]], dtype=torch.float64)
    y = modulated_conv2d(x, weight, styles, demodulate=True, grouped=grouped)
    w, s = weight.numpy()[:, :, 0, 0], styles.numpy()
    w_hat = w / np.sqrt(np.mean(w**2, axis=1, keepdims=True))
    s_hat = s / np.sqrt(np.mean(s**2, axis=1, keepdims=True))
    coef = w_hat[0] * s_hat[0]  # [I]
    d = 1 / np.sqrt(np.sum(coef**2) + 1e-8)
    want = np.einsum("i,ihw->hw", coef * d, x[0].numpy())
    np.testing.assert_allclose(y[0, 0].numpy(), want, rtol=1e-9, atol=1e-12)
    assert 0.85 < d * abs(coef[0]) < 0.95  # the epsilon matters in this case
