"""Regressions found by adversarial QA of the public dsp surface: complex input, the memory of
the direct DTFT sums, and output files (permissions, folders in the way)."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
import scipy.signal

from dsp import resample, response, spectrum
from dsp._checks import as_finite_array
from dsp._io import (
    make_output_dir,
    output_mode,
    prepare_output,
    write_json_atomic,
    write_text_atomic,
)
from dsp.filters import firwin_lowpass


def test_complex_input_is_rejected_not_silently_made_real():
    # numpy's float64 cast drops the imaginary part with only a warning: a wrong result.
    with pytest.raises(ValueError, match="h must be real"):
        response.figures_of_merit(np.array([0.5 + 1j, 0.5]), cutoff=0.5, width=0.4, fs=2.0)
    with pytest.raises(ValueError, match="x must be real"):
        spectrum.power_spectrum(np.ones((1, 1, 8, 8), dtype=complex))
    with pytest.raises(ValueError, match="v must be real"):
        as_finite_array("v", [1.0, 2j])
    # Complex stays allowed where the caller asks for it, and real data is unaffected.
    z = as_finite_array("z", [1.0, 2j], dtype=np.complex128)
    assert z.dtype == np.complex128 and z[1] == 2j
    assert as_finite_array("r", np.arange(3)).dtype == np.float64


def test_dtft_temporaries_stay_bounded_for_long_filters(monkeypatch, rng):
    # A fixed number of points per chunk made 16384 points x N taps matrices (26 GB at N=1e5).
    seen: list[int] = []
    real_phase = response._phase_matrix

    def spy(f, n, fs):
        seen.append(f.size * n.size)
        return real_phase(f, n, fs)

    monkeypatch.setattr(response, "_CHUNK_ELEMS", 4096)
    monkeypatch.setattr(response, "_phase_matrix", spy)
    h = rng.standard_normal(300)
    f = np.linspace(-1.0, 1.0, 257)
    got = response.dtft(h, f, fs=2.0)
    assert max(seen) <= 4096 and len(seen) > 1
    want = np.array([np.sum(h * np.exp(-1j * np.pi * fk * np.arange(300))) for fk in f])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)

    seen.clear()
    h2 = rng.standard_normal((5, 90))
    fx, fy = rng.uniform(-1, 1, 200), rng.uniform(-1, 1, 200)
    got2 = response.dtft2(h2, fx, fy, fs=2.0, centered=False)
    assert max(seen) <= 4096
    iy, ix = np.arange(5)[:, None], np.arange(90)[None, :]
    pairs = zip(fx, fy, strict=True)
    want2 = [np.sum(h2 * np.exp(-1j * np.pi * (a * ix + b * iy))) for a, b in pairs]
    np.testing.assert_allclose(got2, want2, rtol=1e-10, atol=1e-10)


def test_figures_of_merit_do_not_depend_on_the_chunking(monkeypatch):
    h = firwin_lowpass(401, cutoff=0.25, width=0.02, fs=1.0)
    want = response.figures_of_merit(h, cutoff=0.25, width=0.02, fs=1.0).to_dict()
    monkeypatch.setattr(response, "_CHUNK_ELEMS", 1 << 12)
    got = response.figures_of_merit(h, cutoff=0.25, width=0.02, fs=1.0).to_dict()
    assert got.keys() == want.keys()
    for k, v in want.items():
        if v is None:
            assert got[k] is None, k
        else:
            assert got[k] == pytest.approx(v, rel=1e-9, abs=1e-9), k


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_outputs_get_the_usual_permissions(tmp_path):
    # mkstemp creates 0o600 files: outputs were unreadable to the group.
    assert output_mode() == 0o666 & ~_umask()
    p = write_json_atomic(tmp_path / "a.json", {"x": 1})
    assert stat.S_IMODE(p.stat().st_mode) == output_mode()
    import matplotlib.pyplot as plt

    from dsp.plots import save_figure

    fig = plt.figure()
    q = save_figure(fig, tmp_path / "f.png")
    plt.close(fig)
    assert stat.S_IMODE(q.stat().st_mode) == output_mode()


def test_output_paths_that_cannot_be_files_give_clear_errors(tmp_path):
    (tmp_path / "folder").mkdir()
    with pytest.raises(ValueError, match="is a folder"):
        write_text_atomic(tmp_path / "folder", "x")
    (tmp_path / "afile").write_text("keep")
    with pytest.raises(ValueError, match="'.*afile' is a file"):
        prepare_output(tmp_path / "afile" / "sub" / "out.json")
    assert (tmp_path / "afile").read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "folder"]
    assert not list((tmp_path / "folder").iterdir())  # no temporary file left behind
    with pytest.raises(ValueError, match="--out: cannot write .*'.*afile' is a file"):
        make_output_dir(tmp_path / "afile", create=False)
    with pytest.raises(ValueError, match="'.*afile' is a file"):
        make_output_dir(tmp_path / "afile" / "run", create=False)
    new = tmp_path / "new" / "run"
    assert make_output_dir(new, create=False) == new
    # A link to a missing folder passed the check and failed at the first write ("File
    # exists"), after the work.
    os.symlink(tmp_path / "gone", tmp_path / "dangling")
    for create in (False, True):
        with pytest.raises(ValueError, match="dangling' is a symbolic link to a missing"):
            make_output_dir(tmp_path / "dangling", create=create)
        with pytest.raises(ValueError, match="symbolic link to a missing"):
            make_output_dir(tmp_path / "dangling" / "run", create=create)
    assert not (tmp_path / "gone").exists()
    assert not (tmp_path / "new").exists()  # checks only


def test_no_usable_image_names_the_accepted_extensions(tmp_path):
    # A folder of unsupported files gave only "no usable image found": say which are images.
    from dsp.imagefiles import load_images

    (tmp_path / "scan.xcf").write_bytes(b"gimp xcf v011")
    with pytest.raises(ValueError, match=r"no usable image.*\.png.*\.webp"):
        load_images(tmp_path)


@pytest.mark.parametrize("shape", [8, (8,), (8, 8, 8), "ab", (8, 0), (8.0, 8)])
def test_shape_arguments_must_be_pairs_of_positive_integers(shape):
    # An int gave "TypeError: 'int' object is not subscriptable", (8,) an IndexError.
    from dsp.aliasing import alias_free_band

    with pytest.raises(ValueError, match=r"shape"):
        spectrum.spectrum_window(shape)
    with pytest.raises(ValueError, match=r"shape"):
        alias_free_band(shape, 2)


def test_shape_pairs_still_accept_tuples_lists_and_numpy_integers():
    from dsp.aliasing import alias_free_band

    w = spectrum.spectrum_window([np.int64(4), 6])
    assert w.shape == (4, 6) and np.mean(w**2) == pytest.approx(1.0)
    assert alias_free_band(np.array([8, 8]), 2).sum() == 9  # |k| < 2 on each axis: 3 x 3


def test_absurd_sizes_are_clear_errors_not_memory_errors():
    # numtaps = 1e6 for a 2D jinc asked numpy for 8 TB; now the argument and its range are named.
    from dsp import figures, filters

    with pytest.raises(ValueError, match=r"numtaps must be <= 2048"):
        filters.jinc_lowpass(10**6, 0.25, width=0.1, fs=1.0)
    with pytest.raises(ValueError, match=r"numtaps must be <= 16777216"):
        filters.firwin_lowpass(10**10, 0.25, width=0.1, fs=1.0)
    with pytest.raises(ValueError, match=r"n must be <= 4096"):
        figures.bandlimited_field(10**6, 0.3)
    assert filters.jinc_lowpass(2048 // 64, 0.25, width=0.1, fs=1.0).shape == (32, 32)


def test_resampling_factors_beyond_the_signal_work_like_scipy(rng):
    # A down factor larger than the signal made the polyphase kernels allocate a buffer of
    # `down` samples: MemoryError, or numba's SystemError, where scipy returns one sample.
    from dsp.resample import filtered_lrelu, upfirdn, upfirdn2d

    h, x = rng.standard_normal(3), rng.standard_normal(7)
    for up, down in [(1, 2**40), (3, 2**50), (2**20, 2**21 + 1)]:
        np.testing.assert_allclose(
            upfirdn(h, x, up, down), scipy.signal.upfirdn(h, x, up, down), atol=1e-12
        )
    # up == down == 2**40: only tap 0 meets an input sample (scipy would allocate 8 TiB).
    np.testing.assert_allclose(upfirdn(h, x, 2**40, 2**40), h[0] * x, atol=1e-12)

    x4 = rng.standard_normal((2, 3, 5, 6))
    f = rng.standard_normal(3)
    # The true StyleGAN-convention result keeps sample [0, 0] of the valid convolution.
    full = scipy.signal.convolve(x4, np.outer(f, f)[None, None], mode="valid")
    np.testing.assert_allclose(upfirdn2d(x4, f, down=2**40), full[..., :1, :1], atol=1e-12)
    y = filtered_lrelu(x4, f, None, down=2**40)
    np.testing.assert_allclose(y, np.sqrt(2) * np.where(full < 0, 0.2 * full, full)[..., :1, :1])
    # up == down: output (o, o') reads tap k - 1 on each axis, i.e. f[-1]² · x.
    np.testing.assert_allclose(upfirdn2d(x4, f, up=2**30, down=2**30), f[-1] ** 2 * x4)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: resample.upfirdn([1.0], [1.0], down=2**70), "down"),
        (lambda: resample.upfirdn([1.0], [1.0, 2.0], up=2**62), "up="),
        (
            lambda: resample.upfirdn2d(np.ones((4, 4)), [1.0], padding=[-(2**70), 2**70 + 3, 0, 0]),
            "padded by",
        ),
        (
            lambda: resample.filtered_lrelu(np.ones((1, 1, 4, 4)), down=2**63),
            "down must be <=",
        ),
    ],
)
def test_absurd_resampling_factors_are_value_errors(call, match):
    # These leaked OverflowError ("Python int too large to convert to C long") from numba.
    with pytest.raises(ValueError, match=match):
        call()


def test_resample_rational_with_large_coprime_factors(rng):
    # 1000001/1000000 resampled on a fine grid of N·up samples: 64 GB for 64 outputs
    # (MemoryError). The result is the band-limited interpolant at t_m = m·down/up.
    from dsp.interpolation import periodic_interpolate, resample_rational

    n = 64
    x = rng.standard_normal((2, n))
    for up, down in [(10**6 + 1, 10**6), (2**40 + 1, 2**40)]:
        # Growing: every bin is kept (the even-N Nyquist bin split), i.e. the Dirichlet
        # interpolant of the samples.
        y = resample_rational(x, up, down, axis=-1)
        t = np.arange(-(-n * up // down)) * (down / up)
        assert y.shape == (2, t.size) and y.dtype == np.float64
        for row, out in zip(x, y, strict=True):
            np.testing.assert_allclose(out, periodic_interpolate(row, t), atol=1e-9)
    # Shrinking: a tone below the output Nyquist frequency comes out as the tone.
    tone = np.cos(2 * np.pi * 3 * np.arange(n) / n + 0.4) + 0j
    up, down = 2**40 - 1, 2**40
    y = resample_rational(tone, up, down)
    t = np.arange(-(-n * up // down)) * (down / up)
    assert y.dtype == np.complex128
    np.testing.assert_allclose(y, np.cos(2 * np.pi * 3 * t / n + 0.4), atol=1e-12)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        # numpy's "truth value of an array is ambiguous" named neither argument nor choices.
        (lambda: firwin_lowpass(11, 0.3, window=np.ones(11)), "window must be one of"),
        (lambda: firwin_lowpass(11, 0.3, window=["kaiser", 5.0]), "window must be one of"),
        # "worN must have rank 1, got shape ()" for a float count; a string `whole` was taken.
        (lambda: response.freqz([1.0, 2.0], 8.0), "worN must be an integer count"),
        (lambda: response.freqz([1.0, 2.0], True), "worN must be an integer count"),
        (lambda: response.freqz([1.0, 2.0], 8, whole="yes"), "whole must be a bool"),
    ],
)
def test_filter_design_and_response_arguments_get_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_freqz_counts_and_flags_still_match_scipy():
    h = np.array([0.25, 0.5, 0.25])
    for worN, whole in [(np.int32(8), np.bool_(True)), (np.array(5), False), (7, True)]:
        f, H = response.freqz(h, worN, fs=10.0, whole=whole)
        f_ref, H_ref = scipy.signal.freqz(h, 1, worN=int(worN), fs=10.0, whole=bool(whole))
        np.testing.assert_allclose(f, f_ref)
        np.testing.assert_allclose(H, H_ref, atol=1e-14)


def test_zero_d_arrays_are_scalars():
    # numpy reductions return 0-d arrays; a scalar argument given as one is that scalar (it used
    # to raise a raw TypeError from list() in the pair parser, a ValueError elsewhere).
    from dsp import filters, sampling

    f = lambda x, y: np.cos(2 * np.pi * 0.1 * x) + 0 * y  # noqa: E731
    a = sampling.sample_2d(f, (0, 1), (0, 1), np.array(4.0), offset=np.array(0.125))
    b = sampling.sample_2d(f, (0, 1), (0, 1), 4.0, offset=0.125)
    for got, want in zip(a, b, strict=True):  # (samples, x, y)
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(
        firwin_lowpass(np.array(7), np.array(0.3)), filters.firwin_lowpass(7, 0.3)
    )
    with pytest.raises(ValueError, match="rate must be"):
        sampling.sample_2d(f, (0, 1), (0, 1), np.array(-1.0))


def test_one_element_padding_means_all_sides(rng):
    x = rng.standard_normal((6, 7))
    h = np.array([0.25, 0.5, 0.25])
    np.testing.assert_array_equal(
        resample.upfirdn2d(x, h, padding=[2]), resample.upfirdn2d(x, h, padding=2)
    )


def test_relu_aliasing_names_the_cutoff_bandwidth_rule():
    from dsp import figures

    with pytest.raises(ValueError, match=r"cutoff must be > bandwidth \(0.3\) when half_width"):
        figures.relu_aliasing(cutoff=0.2)


def test_save_figure_needs_a_format_suffix(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dsp.plots import save_figure

    fig = plt.figure()
    try:
        with pytest.raises(ValueError, match="suffix must name an image format"):
            save_figure(fig, tmp_path / "plot")
        assert save_figure(fig, tmp_path / "plot.svg").read_text().lstrip().startswith("<?xml")
    finally:
        plt.close(fig)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plot.svg"]


def test_torch_style_inputs_get_errors_that_say_what_to_do():
    # A torch function given numpy arrays raises TypeError, a tensor that requires grad raises
    # RuntimeError from np.asarray: both are told how to pass them (dsp never imports torch,
    # so stand-ins raise the same exceptions).
    from dsp import aliasing

    x = np.random.default_rng(0).standard_normal((1, 8, 8))

    def torch_like_relu(a):
        raise TypeError("relu(): argument 'input' must be Tensor, not numpy.ndarray")

    with pytest.raises(ValueError, match=r"fn must map numpy arrays.*torch\.from_numpy"):
        aliasing.nonlinearity_aliasing(x, torch_like_relu)

    class NeedsGrad:
        def __array__(self, dtype=None, copy=None):
            raise RuntimeError("Can't call numpy() on Tensor that requires grad")

    with pytest.raises(ValueError, match=r"x must be a numeric array.*detach\(\)\.cpu\(\)"):
        aliasing.out_of_band_energy(NeedsGrad(), 2)
