"""Benchmark ``dsp.resample`` against the same work composed of ``scipy.signal.upfirdn`` calls.

(a) ``upfirdn2d``: ×2 upsampling, 12-tap separable filter, 64 planes of 256×256 (float64).
(b) ``filtered_lrelu``: ×2 up, 12-tap ``fu``, leaky ReLU, 12-tap ``fd``, ×2 down, same input.

Both sides run on the same machine in the same process, one warm-up then the median of a few
repeats; numba uses every core it is given, scipy one. Run as a script to print a table, or
call :func:`run`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numba
import numpy as np
import scipy.signal

from dsp.resample import filtered_lrelu, upfirdn2d

SHAPE = (1, 64, 256, 256)
TAPS = 12


def _lowpass(numtaps: int) -> np.ndarray:
    # Half-band Kaiser low-pass for the ×2 rate (cutoff at the old Nyquist), DC gain 1.
    return scipy.signal.firwin(numtaps, 0.25, width=0.2, fs=1.0)


def _median_time(fn: Callable[[], np.ndarray], repeats: int) -> tuple[float, np.ndarray]:
    out = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def _row(name: str, ours: tuple, base: tuple, goal: float, note: str) -> dict:
    speedup = base[0] / ours[0]
    if ours[1].shape != base[1].shape:
        raise AssertionError(f"{name}: shapes differ, {ours[1].shape} vs {base[1].shape}")
    met = "met" if speedup >= goal else "MISSED"
    return {
        "name": name,
        "ours_s": ours[0],
        "baseline_s": base[0],
        "speedup": speedup,
        "max_abs_diff": float(np.max(np.abs(ours[1] - base[1]))),
        "note": f"{note}; goal >= {goal:g}x {met}",
    }


def bench_upfirdn2d(x: np.ndarray, f: np.ndarray, repeats: int) -> dict:
    k = f.shape[0]
    p0, p1 = (k + 1) // 2, (k - 2) // 2  # StyleGAN3's up-2 padding: output exactly 2·in
    h, w = x.shape[-2:]

    def ours() -> np.ndarray:
        return upfirdn2d(x, f, up=2, padding=[p0, p1, p0, p1], gain=4.0)

    def base() -> np.ndarray:
        # scipy's full convolution starts k − 1 samples before our padded grid; drop k−1−p0.
        o = k - 1 - p0
        y = scipy.signal.upfirdn(f * 2.0, x, up=2, axis=-1)
        y = scipy.signal.upfirdn(f * 2.0, y, up=2, axis=-2)
        return y[..., o : o + 2 * h, o : o + 2 * w]

    return _row(
        "upfirdn2d up2 12-tap separable, 64x256x256 f64",
        _median_time(ours, repeats),
        _median_time(base, repeats),
        1.5,
        "baseline: scipy.signal.upfirdn along W then H",
    )


def bench_filtered_lrelu(x: np.ndarray, f: np.ndarray, repeats: int) -> dict:
    k = f.shape[0]
    b = np.linspace(-0.2, 0.2, x.shape[1])
    gain, slope = float(np.sqrt(2.0)), 0.2
    # Our up pass's sample v is scipy's full-convolution sample v + off (off = k − 1 − p0), and
    # our kept output o is the valid sample 2·o, i.e. scipy's full-convolution sample
    # 2·o + k − 1 + off of the down pass: choose off so that this index is even, then scipy's own
    # decimation keeps it and no array has to be shifted. p0 + p1 = 2k − 3 keeps the size:
    # (2·256 + 2k − 3 − 2(k − 1) + 1) // 2 = 256.
    off = (k - 1) % 2
    p0 = k - 1 - off
    p1 = 2 * k - 3 - p0
    q = (k - 1 + off) // 2
    pad = [p0, p1, p0, p1]
    h, w = x.shape[-2:]

    def ours() -> np.ndarray:
        return filtered_lrelu(x, f, f, b, up=2, down=2, padding=pad, gain=gain, slope=slope)

    def base() -> np.ndarray:
        a = x + b[:, None, None]
        a = scipy.signal.upfirdn(f * 2.0, a, up=2, axis=-1)
        a = scipy.signal.upfirdn(f * 2.0, a, up=2, axis=-2)
        a = gain * np.where(a < 0.0, slope * a, a)
        a = scipy.signal.upfirdn(f, a, down=2, axis=-1)
        a = scipy.signal.upfirdn(f, a, down=2, axis=-2)
        return a[..., q : q + h, q : q + w]

    return _row(
        "filtered_lrelu up2/down2 12-tap, 64x256x256 f64",
        _median_time(ours, repeats),
        _median_time(base, repeats),
        3.0,
        "baseline: scipy.signal.upfirdn x4 + numpy lrelu",
    )


def run(repeats: int = 5) -> list[dict]:
    """Run both benchmarks; rows ``{name, ours_s, baseline_s, speedup, max_abs_diff, note}``."""
    x = np.random.default_rng(0).standard_normal(SHAPE)
    f = _lowpass(TAPS)
    return [bench_upfirdn2d(x, f, repeats), bench_filtered_lrelu(x, f, repeats)]


def _main() -> None:
    rows = run()
    print(f"numba threads: {numba.get_num_threads()}")
    print(f"{'benchmark':<50} {'ours s':>9} {'scipy s':>9} {'speedup':>8} {'max|diff|':>10}  note")
    for r in rows:
        print(
            f"{r['name']:<50} {r['ours_s']:>9.4f} {r['baseline_s']:>9.4f} "
            f"{r['speedup']:>7.2f}x {r['max_abs_diff']:>10.2e}  {r['note']}"
        )


if __name__ == "__main__":
    _main()
