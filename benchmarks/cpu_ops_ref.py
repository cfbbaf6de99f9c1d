"""The CPU reference path of ``gan.ops`` (REFERENCE §4): the previous formulation against the
current ``gan.ops.reference``, per FIR pass and for a whole training step of config T tiny.

    python benchmarks/cpu_ops_ref.py                 # 1 thread, t-tiny shapes, 5 step rounds
    python benchmarks/cpu_ops_ref.py --rounds 2 --repeats 5     # quicker
    python benchmarks/cpu_ops_ref.py --no-step       # the op cases only

Baseline ("old"): a verbatim copy, kept in this script only, of the reference path as it was
before the polyphase rewrite: up-sampling by a grouped ``conv_transpose2d`` then a crop/pad
window, every pass on NCHW tensors, and autograd's separate leaky-ReLU and clamp nodes.
Current ("new"): ``gan.ops.reference`` (polyphase depthwise ``conv2d`` per phase, channels-last
FIR passes on the CPU, one fused leaky-ReLU + clamp node, no interleave at all in
``filtered_lrelu`` when ``up == down``).

Cases (batch 16, 32 channels: the t-tiny generator at 32 px and its discriminator):

- ``filtered_lrelu`` of every distinct synthesis-layer geometry (×2 with 12 taps and padding
  (9, 8) or (−11, −12), ×4 with 24 taps), bias, gain √2, slope 0.2, clamp 256: ``fwd`` under
  ``torch.no_grad()`` and ``fwd+bwd`` (gradient into ``x`` and the bias);
- ``upfirdn2d`` of the discriminator's FIR passes (4 taps before a stride-2 convolution);
- ``Trainer.step``: one :class:`gan.training.loop.Trainer` (``aliasfree train``'s, no
  augmentation, the real batches cached), the two formulations swapped in turn by patching
  ``gan.ops.reference`` (the dispatchers look the functions up at call time); every round
  runs one untimed step and then ``--steps`` timed steps with each. Lazy R1 runs every 16th
  step whichever formulation is in, so the medians are those of plain steps.

Every case checks first that both formulations agree: max abs difference of the outputs and
of the gradients, relative to the largest magnitude, in float32 (rounding; a sample whose
sign flips at the leaky-ReLU kink changes its gradient by the factor slope) and in float64
(batch 2: the formulas themselves, ~1e-16). Times: wall clock (``perf_counter``) and the
process CPU time (``process_time``, less sensitive to a CPU shared with other processes), the
two formulations alternated within every repeat; medians and minima, ratios old/new. The
load average is printed and stored. With ``OUT`` set, the rows go to ``$OUT/cpu_ops_ref.json``
after every case.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _out import write_out_json

import gan.ops.reference as ref  # noqa: E402

# ---- baseline: the previous reference formulation, verbatim ----------------------------------


# The pad/crop helper did not change in the rewrite: the baseline shares it.
_old_window = ref._window


def _old_upfirdn_core(x, w, up, down, pad, flip_filter):
    c, (in_h, in_w) = x.shape[1], x.shape[2:]
    kh, kw = w.shape
    px0, px1, py0, py1 = pad
    if up == (1, 1):
        x = _old_window(x, 2, -py0, in_h + py0 + py1)
        x = _old_window(x, 3, -px0, in_w + px0 + px1)
        weight = w if flip_filter else w.flip((0, 1))
        return F.conv2d(x, weight.expand(c, 1, kh, kw), stride=down, groups=c)
    weight = w.flip((0, 1)) if flip_filter else w
    t = F.conv_transpose2d(x, weight.expand(c, 1, kh, kw), stride=up, groups=c)
    t = _old_window(t, 2, kh - 1 - py0, in_h * up[0] + py0 + py1 - kh + 1)
    t = _old_window(t, 3, kw - 1 - px0, in_w * up[1] + px0 + px1 - kw + 1)
    if down != (1, 1):
        t = t[:, :, :: down[0], :: down[1]]
    return t


def _old_upfirdn(x, f, up, down, padding, gain, flip_filter):
    f = f.to(x.dtype)
    fg = f * gain if gain != 1.0 else f
    px0, px1, py0, py1 = padding
    if f.ndim == 2:
        return _old_upfirdn_core(x, fg, (up, up), (down, down), padding, flip_filter)
    if f.shape[0] == 1 and up == 1 and down == 1:
        x = _old_window(x, 2, -py0, x.shape[2] + py0 + py1)
        return _old_window(x, 3, -px0, x.shape[3] + px0 + px1) * (f[0] * f[0] * gain)
    x = _old_upfirdn_core(x, fg[None, :], (1, up), (1, down), (px0, px1, 0, 0), flip_filter)
    return _old_upfirdn_core(x, f[:, None], (up, 1), (down, 1), (0, 0, py0, py1), flip_filter)


def old_upfirdn2d(x, f, up, down, padding, gain, flip_filter):
    return _old_upfirdn(x, f, up, down, padding, gain, flip_filter)


def old_filtered_lrelu(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter):
    if b is not None:
        x = x + b.to(x.dtype).view(1, -1, 1, 1)
    fold = gain > 0
    y = _old_upfirdn(x, fu, up, 1, padding, up * up * (gain if fold else 1.0), flip_filter)
    y = F.leaky_relu(y, negative_slope=slope)
    if not fold:
        y = y * gain
    if clamp is not None:
        y = y.clamp(-clamp, clamp)
    return _old_upfirdn(y, fd, 1, down, (0, 0, 0, 0), 1.0, flip_filter)


IMPLS = {
    "old": {"upfirdn2d": old_upfirdn2d, "filtered_lrelu": old_filtered_lrelu},
    "new": {"upfirdn2d": ref.upfirdn2d, "filtered_lrelu": ref.filtered_lrelu},
}

# ---- cases ------------------------------------------------------------------------------------

N, C = 16, 32
SQRT2 = 2.0**0.5
#: (name, input H = W, up, down, up taps, padding per side) of the t-tiny synthesis layers.
FLRELU_CASES = (
    ("flrelu x2 54px pad(9,8)", 54, 2, 2, 12, (9, 8)),
    ("flrelu x2 38px pad(9,8)", 38, 2, 2, 12, (9, 8)),
    ("flrelu x2 54px pad(-11,-12)", 54, 2, 2, 12, (-11, -12)),
    ("flrelu x4 38px pad(-6,-9)", 38, 4, 2, 24, (-6, -9)),
)
#: (name, input H = W, padding per side) of the discriminator's 4-tap FIR passes.
UPFIRDN_CASES = (
    ("upfirdn D 32px pad 2", 32, 2),
    ("upfirdn D 32px pad 1", 32, 1),
    ("upfirdn D 16px pad 2", 16, 2),
)


def timed(fns: dict[str, Callable[[], object]], repeats: int) -> dict:
    """Both formulations alternated ``repeats`` times after one warm-up call each."""
    wall: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():
        fn()
    for _ in range(repeats):
        for k, fn in fns.items():
            t, p = time.perf_counter(), time.process_time()
            fn()
            cpu[k].append(time.process_time() - p)
            wall[k].append(time.perf_counter() - t)
    out: dict = {}
    for k in fns:
        out[k] = {
            "wall_median_ms": 1e3 * statistics.median(wall[k]),
            "wall_min_ms": 1e3 * min(wall[k]),
            "cpu_median_ms": 1e3 * statistics.median(cpu[k]),
            "cpu_min_ms": 1e3 * min(cpu[k]),
        }
    for stat in ("wall_median_ms", "wall_min_ms", "cpu_median_ms", "cpu_min_ms"):
        out["ratio_" + stat.removesuffix("_ms")] = out["old"][stat] / out["new"][stat]
    return out


def rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    scale = max(float(a.detach().abs().max()), 1e-30)
    return float((a - b).detach().abs().max()) / scale


def agreement(make: Callable, dtype: torch.dtype, batch: int) -> tuple[float, float]:
    """Max relative difference old vs new of the outputs and of the gradients."""
    call, inputs = make(dtype, batch)
    outs = {k: call(v) for k, v in IMPLS.items()}
    gy = torch.randn(outs["old"].shape, generator=torch.Generator().manual_seed(2)).to(dtype)
    grads = {k: torch.autograd.grad(outs[k], inputs, gy) for k in outs}
    pairs = zip(grads["old"], grads["new"], strict=True)
    return rel_diff(outs["old"], outs["new"]), max(rel_diff(a, b) for a, b in pairs)


def op_case(name: str, make: Callable, repeats: int) -> dict:
    """``make(dtype, batch)`` → ``(call, inputs)``: ``call(impl)`` is the output, ``inputs``
    require grad (the backward goes into them)."""
    out32, grad32 = agreement(make, torch.float32, N)
    out64, grad64 = agreement(make, torch.float64, 2)
    call, inputs = make(torch.float32, N)
    out = call(IMPLS["old"])
    gy = torch.randn(out.shape, generator=torch.Generator().manual_seed(2))
    row: dict = {
        "case": name,
        "out_shape": list(out.shape),
        # float32: rounding, plus the odd sample whose sign differs at the leaky-ReLU kink
        # (its gradient then differs by the factor slope); float64 (batch 2): the formulas.
        "max_rel_diff_out_f32": out32,
        "max_rel_diff_grad_f32": grad32,
        "max_rel_diff_out_f64": out64,
        "max_rel_diff_grad_f64": grad64,
    }

    def fwd(impl: dict) -> Callable[[], object]:
        def run() -> object:
            with torch.no_grad():
                return call(impl)

        return run

    def fwd_bwd(impl: dict) -> Callable[[], object]:
        return lambda: torch.autograd.grad(call(impl), inputs, gy)

    row["fwd"] = timed({k: fwd(v) for k, v in IMPLS.items()}, repeats)
    row["fwd+bwd"] = timed({k: fwd_bwd(v) for k, v in IMPLS.items()}, repeats)
    return row


def flrelu_case(name, size, up, down, taps, pad, repeats) -> dict:
    def make(dtype: torch.dtype, batch: int):
        g = torch.Generator().manual_seed(0)
        x = torch.randn(N, C, size, size, generator=g)[:batch].mul(3.0).to(dtype)
        b = torch.randn(C, generator=g).to(dtype)
        fu = (torch.randn(taps, generator=g) / taps**0.5).to(dtype)
        fd = (torch.randn(12, generator=g) / 12**0.5).to(dtype)
        x.requires_grad_(), b.requires_grad_()
        args = (up, down, pad + pad, SQRT2, 0.2, 256.0, False)
        return (lambda impl: impl["filtered_lrelu"](x, fu, fd, b, *args)), [x, b]

    return op_case(name, make, repeats)


def upfirdn_case(name, size, pad, repeats) -> dict:
    def make(dtype: torch.dtype, batch: int):
        g = torch.Generator().manual_seed(1)
        x = torch.randn(N, C, size, size, generator=g)[:batch].to(dtype).requires_grad_()
        f = (torch.tensor([1.0, 3.0, 3.0, 1.0]) / 8).to(dtype)
        args = (1, 1, (pad,) * 4, 1.0, False)
        return (lambda impl: impl["upfirdn2d"](x, f, *args)), [x]

    return op_case(name, make, repeats)


def step_case(rounds: int, steps: int) -> dict:
    from gan.training.data import ImageDataset
    from gan.training.loop import Trainer
    from gan.training.options import TrainOptions

    with tempfile.TemporaryDirectory() as tmp:
        opts = TrainOptions(
            config="t", size="tiny", res=32, batch=N, augment="noaug", metrics=(),
            device="cpu", out=str(Path(tmp) / "run"),
        )  # fmt: skip
        trainer = Trainer(opts, dataset=ImageDataset("builtin", res=32))
        interval = trainer.opts.r1_interval if trainer.opts.r1_gamma > 0 else 1
        cache = {s: trainer.real_batch(s) for s in range(interval)}
        trainer.real_batch = lambda s: cache[s % interval]
        wall: dict[str, list[float]] = {k: [] for k in IMPLS}
        cpu: dict[str, list[float]] = {k: [] for k in IMPLS}
        try:
            for _ in range(rounds):
                for k, impl in IMPLS.items():
                    for attr, fn in impl.items():
                        setattr(ref, attr, fn)
                    trainer.step()
                    for _ in range(steps):
                        t, p = time.perf_counter(), time.process_time()
                        trainer.step()
                        cpu[k].append(time.process_time() - p)
                        wall[k].append(time.perf_counter() - t)
        finally:
            for attr, fn in IMPLS["new"].items():
                setattr(ref, attr, fn)
    row: dict = {"case": f"Trainer.step t-tiny 32px batch {N}", "steps_each": len(wall["old"])}
    for k in IMPLS:
        row[k] = {
            "wall_median_s": statistics.median(wall[k]),
            "wall_min_s": min(wall[k]),
            "cpu_median_s": statistics.median(cpu[k]),
            "cpu_min_s": min(cpu[k]),
            "s_per_kimg_wall_median": statistics.median(wall[k]) / N * 1000,
        }
    for stat in ("wall_median_s", "wall_min_s", "cpu_median_s", "cpu_min_s"):
        row["ratio_" + stat.removesuffix("_s")] = row["old"][stat] / row["new"][stat]
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=15, help="timed calls per op case and impl")
    ap.add_argument("--rounds", type=int, default=5, help="Trainer.step rounds (old, new)")
    ap.add_argument("--steps", type=int, default=3, help="timed steps per round and impl")
    ap.add_argument("--no-step", action="store_true", help="skip the Trainer.step case")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    doc: dict = {
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "cpu_cores_visible": len(os.sched_getaffinity(0)),
            "load_average_start": os.getloadavg(),
        },
        "rows": [],
    }
    print(f"torch {torch.__version__}, {args.threads} thread(s), load {os.getloadavg()}")
    jobs: list[tuple[str, Callable[[], dict]]] = []
    for name, size, up, down, taps, pad in FLRELU_CASES:
        jobs.append(
            (name, lambda a=(name, size, up, down, taps, pad): flrelu_case(*a, args.repeats))
        )
    for name, size, pad in UPFIRDN_CASES:
        jobs.append((name, lambda a=(name, size, pad): upfirdn_case(*a, args.repeats)))
    if not args.no_step:
        jobs.append(("Trainer.step", lambda: step_case(args.rounds, args.steps)))
    for name, job in jobs:
        try:
            row = job()
        except Exception as exc:  # one failing case must not lose the others
            traceback.print_exc()
            row = {"case": name, "error": f"{type(exc).__name__}: {exc}"}
        doc["rows"].append(row)
        doc["machine"]["load_average_end"] = os.getloadavg()
        write_out_json("cpu_ops_ref.json", doc)
        print(f"  done: {name}", flush=True)

    print(f"\n{'case':32s} {'pass':8s} {'old ms':>9s} {'new ms':>9s} {'ratio':>6s} "
          f"{'cpu ratio':>9s} {'diff f32':>9s} {'diff f64':>9s}")  # fmt: skip
    for row in doc["rows"]:
        if "error" in row:
            print(f"{row['case']:32s} ERROR {row['error']}")
        elif "steps_each" in row:
            o, n = row["old"], row["new"]
            print(
                f"{row['case']:32s} {'step':8s} {1e3 * o['wall_median_s']:9.1f} "
                f"{1e3 * n['wall_median_s']:9.1f} {row['ratio_wall_median']:6.2f} "
                f"{row['ratio_cpu_median']:9.2f} {'':>9s}"
            )
            print(
                f"{'':32s} s/kimg (median wall): old {o['s_per_kimg_wall_median']:.1f}, "
                f"new {n['s_per_kimg_wall_median']:.1f}"
            )
        else:
            d32 = max(row["max_rel_diff_out_f32"], row["max_rel_diff_grad_f32"])
            d64 = max(row["max_rel_diff_out_f64"], row["max_rel_diff_grad_f64"])
            for kind in ("fwd", "fwd+bwd"):
                r = row[kind]
                print(
                    f"{row['case']:32s} {kind:8s} {r['old']['wall_median_ms']:9.2f} "
                    f"{r['new']['wall_median_ms']:9.2f} {r['ratio_wall_median']:6.2f} "
                    f"{r['ratio_cpu_median']:9.2f} {d32:9.1e} {d64:9.1e}"
                )
    print(f"(medians; ratio = old/new; load average at the end {os.getloadavg()})")


if __name__ == "__main__":
    main()
