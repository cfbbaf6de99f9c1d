"""No GPU: compile every Triton kernel a network's forward and backward would launch, for sm_90.

    python benchmarks/aot_kernels.py                 # T, R, baseline generators + D, 32/256/1024
    python benchmarks/aot_kernels.py --res 256 --modes mixed autocast
    bash benchmarks/aot_device_triton.sh             # the same with the device's Triton (3.6)

A lent GPU is rare and short (a few sessions get one, for 15 minutes), so a kernel that fails
to compile there, or needs more shared memory than an H100/H200 block can have, costs a whole
session. This script finds that beforehand. It runs each network's forward and backward (R1's
double backward included for D) on the CPU with the Triton path forced and the two kernels
replaced by a stand-in that compiles each distinct specialisation ahead of time for sm_90
(``triton.compile`` + ``cuobjdump``, both bundled with Triton), then raises ``OutOfResources``
exactly where the device would (dynamic shared memory above 227 KiB), so the launcher's own
re-planning runs as it would on the GPU. Nothing is computed: outputs stay uninitialised, which
only the shapes downstream depend on. Channel counts do not enter any compile-time constant, so
the networks are built narrow (``channel_max`` 16) and the run takes a minute, not an hour.

Modes (what the dtype of each kernel call is on the GPU):
``fp32``: every layer float32 (tf32x3 dots); ``mixed``: the layers flagged ``use_fp16`` in float16,
the rest float32 (the generator benchmark, inference); ``autocast``: the training step under
bfloat16 autocast (every convolution's output, so every filtered leaky ReLU, in bfloat16).

Prints one line per distinct kernel (kind, dtype, compile-time constants, registers, spill
bytes, shared memory, compile seconds, the layers that use it) and a summary; exit status 1 if
any kernel failed to compile. With ``OUT`` set, writes ``$OUT/aot_kernels.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _out import write_out_json  # noqa: E402

SMEM_LIMIT = 232448  # bytes of dynamic shared memory one block may use on sm_90 (227 KiB)
MODES = ("fp32", "mixed", "autocast")
NETWORKS = ("t", "r", "baseline", "d")


def _resources(fn, args, kw) -> dict:
    from gpu_ops import _aot_resources

    return _aot_resources(fn, args, kw)


class _StandIn:
    """Replaces ``_launch._fused_kernel`` / ``_single_kernel``: ``kernel[grid](*args, **kw)``
    compiles (once per specialisation) and records instead of launching."""

    def __init__(self, fn, kind: str, book: dict, where: list[str]) -> None:
        self.fn, self.kind, self.book, self.where = fn, kind, book, where

    def __getitem__(self, grid):
        return lambda *a, **kw: self._launch(a, kw)

    def _launch(self, args, kw) -> None:
        from triton.runtime.errors import OutOfResources

        dtype = next(a.dtype for a in args if isinstance(a, torch.Tensor))
        key = (self.kind, str(dtype), tuple(sorted((k, repr(v)) for k, v in kw.items())))
        entry = self.book.get(key)
        if entry is None:
            try:
                res = _resources(self.fn, args, kw)
            except Exception as exc:  # a compile failure is the finding, not a crash
                res = {"error": f"{type(exc).__name__}: {exc}"[:400]}
            entry = {"kind": self.kind, "dtype": str(dtype).replace("torch.", "")}
            entry |= {k: kw[k] for k in ("S1", "S2", "A", "B", "T1Y", "T2Y", "TY", "R1", "R2", "R")
                      if k in kw}  # fmt: skip
            entry |= {"MODE": kw.get("MODE"), "res": res, "where": []}
            self.book[key] = entry
        if self.where[0] not in entry["where"]:
            entry["where"].append(self.where[0])
        smem = entry["res"].get("smem")
        if smem is not None and smem > SMEM_LIMIT:
            entry["replanned"] = True
            raise OutOfResources(smem, SMEM_LIMIT, "shared memory")


@contextlib.contextmanager
def _triton_on_cpu(book: dict, where: list[str]):
    """Force the Triton path for CPU tensors, with the kernels replaced by compile stand-ins."""
    import gan.ops._params as params
    import gan.ops._triton as backend
    from gan.ops._triton import _launch

    saved = (params._interpret_mode, backend._interpreted, _launch._fused_kernel,
             _launch._single_kernel, os.environ.get("ALIASFREE_OPS_IMPL"))  # fmt: skip
    params._interpret_mode = lambda: True
    backend._interpreted = lambda: True
    _launch._fused_kernel = _StandIn(saved[2], "fused", book, where)
    _launch._single_kernel = _StandIn(saved[3], "single", book, where)
    os.environ["ALIASFREE_OPS_IMPL"] = "triton"
    try:
        yield
    finally:
        params._interpret_mode, backend._interpreted = saved[0], saved[1]
        _launch._fused_kernel, _launch._single_kernel = saved[2], saved[3]
        if saved[4] is None:
            os.environ.pop("ALIASFREE_OPS_IMPL", None)
        else:
            os.environ["ALIASFREE_OPS_IMPL"] = saved[4]


def programs_per_sm(regs: int, warps: int, smem: int) -> int:
    """Resident programs per sm_90 SM: 64 K registers (allocated per warp in units of 256,
    i.e. per thread rounded up to 8), 64 warps, 228 KiB of shared memory with 1 KiB reserved
    per program, at most 32 programs."""
    by_regs = 65536 // (-(-regs // 8) * 8 * 32 * warps)
    by_warps = 64 // warps
    by_smem = (228 * 1024) // (smem + 1024)
    return max(0, min(by_regs, by_warps, by_smem, 32))


def _run_network(net: str, res: int, mode: str) -> None:
    from gan.networks import alias_free
    from gan.networks.presets import build_discriminator, build_generator

    narrow = {"channel_max": 16}
    half = alias_free.half_precision_allowed
    if mode != "fp32":
        alias_free.half_precision_allowed = lambda device: True
    amp = torch.autocast("cpu", dtype=torch.bfloat16) if mode == "autocast" else None
    try:
        with amp if amp is not None else contextlib.nullcontext():
            if net == "d":
                D = build_discriminator("t", res=res, seed=0, **narrow)
                img = torch.zeros(2, 3, res, res, requires_grad=True)
                logits = D(img, None)
                (grad,) = torch.autograd.grad(logits.float().sum(), img, create_graph=True)
                grad.float().square().sum().backward()
            else:
                G = build_generator(net, res=res, seed=0, **narrow)
                img = G(torch.zeros(1, G.z_dim), None)
                img.float().sum().backward()
    finally:
        alias_free.half_precision_allowed = half


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nets", nargs="+", choices=NETWORKS, default=list(NETWORKS))
    ap.add_argument("--res", nargs="+", type=int, default=[32, 256, 1024])
    ap.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    ap.add_argument(
        "--variant",
        help="variant of the half-precision fused kernels (gan/ops/_triton/_launch.py VARIANTS; "
        "as ALIASFREE_TRITON_VARIANT on the device: fp32 and upfirdn2d keep their defaults)",
    )
    args = ap.parse_args(argv)
    if args.variant:
        from gan.ops._triton import _launch

        _launch.resolve_tune({"variant": args.variant})  # a bad name fails here, listing them
        os.environ[_launch.ENV_VARIANT] = args.variant
    if os.environ.get("TRITON_INTERPRET", "0") not in ("", "0"):
        print("aot_kernels compiles real kernels: unset TRITON_INTERPRET")
        return 2
    import triton

    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    t0 = time.perf_counter()
    book: dict = {}
    where = [""]
    failures = []
    with _triton_on_cpu(book, where):
        for res in args.res:
            for net in args.nets:
                if net == "baseline" and res > 256:
                    continue  # same kernels as 256 (fixed 4-tap FIR, factor 2)
                for mode in args.modes:
                    where[0] = f"{net}{res}/{mode}"
                    n_before = len(book)
                    try:
                        _run_network(net, res, mode)
                    except Exception as exc:
                        failures.append(f"{where[0]}: {type(exc).__name__}: {exc}"[:300])
                    print(f"{where[0]:22s} {len(book) - n_before:3d} new kernels "
                          f"({time.perf_counter() - t0:6.1f} s)", flush=True)  # fmt: skip
    rows = list(book.values())
    variant = os.environ.get("ALIASFREE_TRITON_VARIANT") or "default"
    print(f"\ntriton {triton.__version__}, sm_90, variant {variant}; {len(rows)} distinct kernels")
    for r in rows:
        res = r["res"]
        if "regs" in res:
            res["programs_per_sm"] = programs_per_sm(res["regs"], res["warps"], res["smem"])
        consts = {k: v for k, v in r.items() if k not in ("kind", "dtype", "res", "where")}
        summary = (f"regs {res.get('regs')} stack {res.get('stack')} smem {res.get('smem')} "
                   f"BI/BM/BO {res.get('BI')}/{res.get('BM')}/{res.get('BO')} "
                   f"warps {res.get('warps')} progs/SM {res.get('programs_per_sm')} "
                   f"loop/all SASS {res.get('loop_sass')}/{res.get('sass')}"
                   ) if "error" not in res else res["error"]  # fmt: skip
        print(f"{r['kind']:6s} {r['dtype']:8s} {json.dumps(consts):60s} {summary}  "
              f"[{', '.join(r['where'][:4])}{' …' if len(r['where']) > 4 else ''}]")  # fmt: skip
    errors = [r for r in rows if "error" in r["res"]]
    spills = [r for r in rows if r["res"].get("stack")]
    replans = [r for r in rows if r.get("replanned")]
    print(f"\n{len(errors)} failed to compile, {len(spills)} spill registers, "
          f"{len(replans)} over {SMEM_LIMIT} B of shared memory (re-planned by the launcher), "
          f"{len(failures)} network runs failed; {time.perf_counter() - t0:.0f} s")  # fmt: skip
    for f in failures:
        print("  run failed:", f)
    occupancy: dict[str, dict[int, int]] = {}
    for r in rows:
        p = r["res"].get("programs_per_sm")
        if p is not None:
            hist = occupancy.setdefault(r["dtype"], {})
            hist[p] = hist.get(p, 0) + 1
    for dtype, hist in sorted(occupancy.items()):
        counts = ", ".join(f"{n} at {p}" for p, n in sorted(hist.items()))
        print(f"{dtype}: kernels by programs per SM: {counts}")
    write_out_json(
        "aot_kernels.json",
        {
            "triton": triton.__version__,
            "variant": variant,
            "kernels": rows,
            "run_failures": failures,
        },
    )
    return 1 if errors or failures else 0


if __name__ == "__main__":
    sys.exit(main())
