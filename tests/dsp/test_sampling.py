"""Dirac-comb sampling (REFERENCE §1): comb positions, orientation, aliasing, Parseval."""

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from dsp.sampling import sample_1d, sample_2d, sample_points
from dsp.signals import tones

finite = st.floats(-50.0, 50.0, allow_nan=False)


def _brute_points(start, stop, rate, offset):
    # Every integer n in a generous window, kept when start <= x_n < stop.
    out = []
    for n in range(-int(abs(offset) * rate) - 5, int((stop - start + abs(offset)) * rate) + 6):
        x = (start + offset) + n / rate
        if start <= x < stop:
            out.append(x)
    return np.array(sorted(out))


@given(
    start=finite,
    length=st.floats(0.1, 20.0),
    rate=st.floats(0.2, 8.0),
    offset=st.floats(-5.0, 5.0),
)
def test_sample_points_match_enumeration(start, length, rate, offset):
    stop = start + length
    truth = _brute_points(start, stop, rate, offset)
    assume(truth.size > 0)
    x = sample_points((start, stop), rate, offset)
    np.testing.assert_array_equal(x, truth)
    assert np.all(np.diff(x) > 0)
    assert x[0] >= start and x[-1] < stop


def test_sample_points_half_open_and_offset():
    np.testing.assert_allclose(sample_points((0.0, 1.0), 4.0), [0.0, 0.25, 0.5, 0.75])
    # The stop is excluded even when it falls on the comb; an offset shifts the comb.
    np.testing.assert_allclose(sample_points((0.0, 1.0), 4.0, 0.125), [0.125, 0.375, 0.625, 0.875])
    # An offset of a whole spacing gives the same comb (the n < 0 samples come back).
    np.testing.assert_allclose(sample_points((0.0, 1.0), 4.0, 0.25), [0.0, 0.25, 0.5, 0.75])
    np.testing.assert_allclose(sample_points((0.0, 1.0), 4.0, -0.3), [0.2, 0.45, 0.7, 0.95])


def test_sample_1d_values_and_constant():
    x, z = sample_1d(lambda t: t**2, (-1.0, 1.0), 3.0)
    np.testing.assert_array_equal(z, x**2)
    _, c = sample_1d(lambda t: 2.5, (0.0, 1.0), 5.0)
    np.testing.assert_array_equal(c, np.full(5, 2.5))
    _, zc = sample_1d(lambda t: np.exp(1j * t), (0.0, 1.0), 4.0)
    assert zc.dtype == np.complex128


def test_sample_2d_orientation_and_rates():
    x, y, z = sample_2d(lambda u, v: u + 100.0 * v, (0.0, 1.0), (0.0, 2.0), (4.0, 2.0))
    assert x.shape == (4,) and y.shape == (4,)
    assert z.shape == (y.size, x.size)
    for i in range(y.size):
        for j in range(x.size):
            assert z[i, j] == x[j] + 100.0 * y[i]
    _, _, z2 = sample_2d(lambda u, v: u * v, (0.0, 1.0), (0.0, 1.0), 3.0, offset=(0.1, 0.2))
    np.testing.assert_allclose(
        z2, np.outer([0.2, 0.2 + 1 / 3, 0.2 + 2 / 3], [0.1, 0.1 + 1 / 3, 0.1 + 2 / 3])
    )


@given(
    n=st.sampled_from([32, 64, 96, 128]),
    m=st.integers(0, 2000),
    rate=st.floats(0.5, 10.0),
)
def test_alias_frequency_on_bin(n, m, rate):
    # A tone of frequency f = m * s / N (on a DFT bin, any m) shows up at |f - k s| in [0, s/2].
    f = m * rate / n
    k = round(f / rate)
    alias = abs(f - k * rate)
    _, z = sample_1d(tones([f]), (0.0, n / rate), rate)
    assert z.size == n
    spec = np.abs(np.fft.rfft(z))
    peak = np.argmax(spec)
    assert peak * rate / n == pytest.approx(alias, abs=1e-9 * rate)
    # All the energy is in that bin (tone exactly periodic on the window).
    assert spec[peak] == pytest.approx(n if peak in (0, n // 2) else n / 2, rel=1e-8)
    spec[peak] = 0.0
    assert spec.max() < 1e-6 * n


@given(
    f=st.floats(0.0, 40.0),
    rate=st.floats(1.0, 6.0),
    phase=st.floats(0.0, 2 * math.pi),
)
def test_alias_frequency_windowed_peak(f, rate, phase):
    # Off-bin tones: Hann window, peak within a bin of the predicted alias (away from the band
    # edges, where the mirrored lobe would interfere).
    n = 256
    k = round(f / rate)
    alias = abs(f - k * rate)
    binw = rate / n
    assume(3 * binw < alias < rate / 2 - 3 * binw)
    _, z = sample_1d(tones([f], phases=[phase]), (0.0, n / rate), rate)
    spec = np.abs(np.fft.rfft(z * np.hanning(n)))
    assert abs(np.argmax(spec) * binw - alias) <= binw


def test_parseval_sampled_tones():
    n, rate = 64, 3.0
    sig = tones([5 * rate / n, 11 * rate / n, 20 * rate / n], [1.0, 0.5, 2.0], [0.3, 1.0, -2.0])
    _, z = sample_1d(sig, (0.0, n / rate), rate)
    spec = np.fft.fft(z)
    energy = np.sum(z**2)
    assert energy == pytest.approx(np.sum(np.abs(spec) ** 2) / n, rel=1e-12)
    # Analytic: each on-bin tone contributes N a^2 / 2.
    assert energy == pytest.approx(n * np.sum(sig.amplitudes**2) / 2, rel=1e-12)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: sample_points((1.0, 1.0), 2.0), "extent"),
        (lambda: sample_points((0.0, 1.0, 2.0), 2.0), "extent"),
        (lambda: sample_points((0.0, np.nan), 2.0), "extent"),
        (lambda: sample_points((0.0, 1.0), 0.0), "rate"),
        (lambda: sample_points((0.0, 1.0), -1.0), "rate"),
        (lambda: sample_points((0.0, 1.0), 2.0, np.inf), "offset"),
        (lambda: sample_points((0.0, 0.1), 1.0, 0.5), "no sample"),
        (lambda: sample_points((0.0, 1e12), 1e3), "units"),
        (lambda: sample_1d(lambda t: np.zeros(3), (0.0, 1.0), 4.0), "shape"),
        (lambda: sample_1d(lambda t: t / 0.0, (0.0, 1.0), 4.0), "NaN"),
        (lambda: sample_1d(3.0, (0.0, 1.0), 4.0), "callable"),
        (lambda: sample_2d(lambda u, v: u, (0.0, 1.0), (0.0, 1.0), (1.0, 2.0, 3.0)), "rate"),
        (lambda: sample_2d(lambda u, v: u, (0.0, 1.0), (2.0, 1.0), 2.0), "extent_y"),
    ],
)
def test_invalid_input(call, match):
    with np.errstate(all="ignore"), pytest.raises(ValueError, match=match):
        call()
