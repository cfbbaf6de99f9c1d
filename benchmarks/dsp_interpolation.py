"""Benchmark: Whittaker–Shannon evaluation (``dsp.interpolation.sinc_interpolate``).

    .venv/bin/python benchmarks/dsp_interpolation.py

Ours: the numba kernel (parallel over points, sine hoisted out of the sum). Baseline: the plain
vectorised numpy sum ``np.sinc(rate * (x[:, None] - start) - n[None, :]) @ samples``, chunked to
bound memory. Median of a few repeats; numba compilation is excluded by a warm-up call.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from dsp.interpolation import sinc_interpolate

_CHUNK_ELEMENTS = 1 << 20


def numpy_sinc_sum(
    samples: np.ndarray, x: np.ndarray, rate: float = 1.0, start: float = 0.0
) -> np.ndarray:
    """The baseline: direct vectorised Whittaker–Shannon sum, chunked over points."""
    n = np.arange(samples.shape[0], dtype=np.float64)
    out = np.empty(x.shape[0])
    step = max(1, _CHUNK_ELEMENTS // samples.shape[0])
    for lo in range(0, x.shape[0], step):
        xs = x[lo : lo + step]
        out[lo : lo + step] = np.sinc(rate * (xs[:, None] - start) - n[None, :]) @ samples
    return out


def _median_time(fn, repeats: int, budget_s: float = 20.0) -> tuple[float, np.ndarray, int]:
    """Median wall time of up to ``repeats`` calls, stopping early once ``budget_s`` is spent."""
    times = []
    result = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
        if sum(times) > budget_s:
            break
    return statistics.median(times), result, len(times)


def run(
    n_samples: int = 4096, n_points: int = 100_000, repeats: int = 3, seed: int = 0
) -> list[dict]:
    """Time ours against the numpy baseline; one row per benchmark."""
    rng = np.random.default_rng(seed)
    rate, start = 2.0, -1.25
    samples = rng.standard_normal(n_samples)
    length = n_samples / rate
    # Mostly inside the sampled extent, some beyond both ends, a few exactly on samples.
    x = rng.uniform(start - 0.05 * length, start + 1.05 * length, n_points)
    on_grid = x[:: max(1, n_points // 100)]
    on_grid[:] = start + rng.integers(0, n_samples, on_grid.shape) / rate
    sinc_interpolate(samples[:8], x[:8], rate, start)  # numba warm-up (compile or load cache)
    ours_s, ours, n_ours = _median_time(lambda: sinc_interpolate(samples, x, rate, start), repeats)
    base_s, base, n_base = _median_time(lambda: numpy_sinc_sum(samples, x, rate, start), repeats)
    return [
        {
            "name": f"whittaker-shannon sinc_interpolate N={n_samples} at {n_points} points",
            "ours_s": ours_s,
            "baseline_s": base_s,
            "speedup": base_s / ours_s,
            "max_abs_diff": float(np.max(np.abs(ours - base))),
            "note": "numba prange, hoisted sine vs chunked np.sinc @ samples; "
            f"median of {n_ours} (ours) / {n_base} (baseline) runs",
        }
    ]


def main() -> int:
    rows = run()
    print("| benchmark | ours (s) | baseline (s) | speedup | max abs diff | note |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['name']} | {r['ours_s']:.4f} | {r['baseline_s']:.4f} | {r['speedup']:.1f}x "
            f"| {r['max_abs_diff']:.2e} | {r['note']} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
