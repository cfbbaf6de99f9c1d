"""Kaiser formulas and window against scipy.signal (REFERENCE §2)."""

import numpy as np
import pytest
import scipy.signal as ss
from hypothesis import given
from hypothesis import strategies as st

from dsp.kaiser import kaiser_atten, kaiser_beta, kaiser_window, kaiserord

rates = st.floats(0.1, 1000.0)


@given(numtaps=st.integers(1, 400), frac=st.floats(1e-4, 1.0), fs=rates)
def test_kaiser_atten_equals_scipy(numtaps, frac, fs):
    width = frac * fs / 2
    expected = ss.kaiser_atten(numtaps, width / (fs / 2))
    assert kaiser_atten(numtaps, width, fs) == pytest.approx(expected, rel=1e-12, abs=1e-12)


@given(atten=st.floats(-10.0, 300.0))
def test_kaiser_beta_equals_scipy(atten):
    assert kaiser_beta(atten) == pytest.approx(ss.kaiser_beta(atten), rel=1e-13, abs=1e-13)


def test_kaiser_beta_branches_by_hand():
    # The three branches of REFERENCE §2, evaluated by hand.
    assert kaiser_beta(60.0) == pytest.approx(0.1102 * 51.3)
    assert kaiser_beta(30.0) == pytest.approx(0.5842 * 9**0.4 + 0.07886 * 9)
    assert kaiser_beta(20.0) == 0.0
    # Continuous at 21; the two empirical fits meet only to within 0.02 at 50.
    assert kaiser_beta(21.0 + 1e-9) == pytest.approx(0.0, abs=1e-3)
    assert kaiser_beta(50.0) == pytest.approx(kaiser_beta(50.0 + 1e-9), abs=0.02)


@pytest.mark.parametrize("atten", [21.0, 50.0, np.nextafter(50.0, np.inf), 8.7])
def test_kaiser_beta_branch_boundaries_equal_scipy(atten):
    # Exactly on a boundary the branch matters: at A = 50 the middle fit applies (``A > 50``
    # selects the upper one), and the two fits differ by 0.018 there, which the loose
    # continuity check above cannot see. scipy.signal.kaiser_beta is the reference.
    assert kaiser_beta(atten) == pytest.approx(ss.kaiser_beta(atten), rel=1e-14, abs=1e-14)


def test_kaiser_beta_at_50_db_is_the_middle_fit():
    assert kaiser_beta(50.0) == pytest.approx(0.5842 * 29**0.4 + 0.07886 * 29, rel=1e-14)
    assert abs(kaiser_beta(50.0) - 0.1102 * (50.0 - 8.7)) > 0.01


@given(ripple=st.floats(8.0, 200.0), frac=st.floats(1e-3, 1.0), fs=rates)
def test_kaiserord_equals_scipy(ripple, frac, fs):
    width = frac * fs / 2
    n, beta = kaiserord(ripple, width, fs)
    n_ref, beta_ref = ss.kaiserord(ripple, width / (fs / 2))
    assert n == n_ref
    assert beta == pytest.approx(beta_ref, rel=1e-13, abs=1e-13)
    # The design meets the requested attenuation by Kaiser's formula.
    assert kaiser_atten(n, width, fs) >= ripple - 1e-9


@given(numtaps=st.integers(1, 200), beta=st.floats(0.0, 40.0))
def test_kaiser_window_equals_scipy(numtaps, beta):
    w = kaiser_window(numtaps, beta)
    ref = ss.windows.kaiser(numtaps, beta, sym=True)
    np.testing.assert_allclose(w, ref, rtol=1e-12, atol=1e-15)


def test_kaiser_window_large_beta():
    # Up to beta ~ 700 scipy's unscaled i0 still fits in float64: agree there.
    np.testing.assert_allclose(
        kaiser_window(33, 600.0), ss.windows.kaiser(33, 600.0), rtol=1e-10, atol=1e-300
    )
    # Beyond, i0(beta) overflows; the scaled form stays finite, symmetric, peak 1.
    w = kaiser_window(33, 800.0)
    assert np.all(np.isfinite(w))
    assert w[16] == 1.0
    np.testing.assert_array_equal(w, w[::-1])
    assert np.all(np.diff(w[:17]) >= 0)


@pytest.mark.parametrize(
    "call",
    [
        lambda: kaiser_atten(0, 0.1),
        lambda: kaiser_atten(5, -0.1),
        lambda: kaiser_atten(5, float("nan")),
        lambda: kaiser_atten(5, 0.1, fs=0.0),
        lambda: kaiser_atten(5.5, 0.1),
        lambda: kaiser_beta(float("nan")),
        lambda: kaiserord(5.0, 0.1),
        lambda: kaiserord(40.0, 0.0),
        lambda: kaiser_window(0, 1.0),
        lambda: kaiser_window(5, -1.0),
        lambda: kaiser_window(5, float("inf")),
    ],
)
def test_invalid_input_raises(call):
    with pytest.raises(ValueError):
        call()
