"""How long a training step waits for its reals, with and without background loading.

    python benchmarks/data_loading.py                  # 256 px, batch 32, a 0.6 s step
    python benchmarks/data_loading.py --res 128 --step-s 0.3 --threads 0 1 2 4

A zip of smooth random RGB images (PNG, so decoding costs what a photo dataset's does) is read
by ``Trainer.real_batch`` step after step; between two reads the main thread sleeps for
``--step-s``, standing for a GPU step (the main thread then waits on CUDA with the GIL released,
as in ``time.sleep``). Per loader-thread count: the median time ``real_batch`` took (the wait a
step sees), and the serial decode time of one batch for scale. Writes
``$OUT/data_loading.json`` when ``OUT`` is set.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_zip(path: Path, n: int, res: int, seed: int = 0) -> int:
    """``n`` smooth random RGB PNGs (Gaussian-filtered noise: photo-like compression)."""
    from PIL import Image
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    size = 0
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(n):
            noise = rng.standard_normal((res, res, 3))
            smooth = ndimage.gaussian_filter(noise, sigma=(res / 64, res / 64, 0))
            smooth += 0.05 * rng.standard_normal((res, res, 3))  # some fine texture
            img = np.clip(128 + 60 * smooth / smooth.std(), 0, 255).astype(np.uint8)
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, "PNG")
            zf.writestr(f"img{i:05d}.png", buf.getvalue())
            size += buf.tell()
    return size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--res", type=int, default=256)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--step-s", type=float, default=0.6, help="simulated step time (s)")
    ap.add_argument("--threads", type=int, nargs="+", default=[0, 1, 2, 4])
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    args = ap.parse_args(argv)

    import torch

    from gan.training.loop import Trainer
    from gan.training.options import TrainOptions

    torch.set_num_threads(1)
    res = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count()}
    res |= {k: getattr(args, k) for k in ("res", "batch", "images", "steps", "step_s", "device")}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "data.zip")
        mb = make_zip(path, args.images, args.res) / 2**20
        res["zip_mib"] = round(mb, 1)
        print(f"# {args.images} PNGs at {args.res} px, {mb:.1f} MiB; batch {args.batch}, "
              f"simulated step {args.step_s:.2f} s")  # fmt: skip
        rows = []
        for threads in args.threads:
            opts = TrainOptions(config="t", data=str(path), batch=args.batch, device=args.device,
                                metrics=(), loader_threads=threads)  # fmt: skip
            tr = Trainer(opts)
            t0 = time.perf_counter()
            for i in tr.batch_indices(0):
                tr.dataset[int(i)]
            serial = time.perf_counter() - t0
            waits = []
            for step in range(args.steps):
                t0 = time.perf_counter()
                tr.real_batch(step)
                if args.device == "cuda":
                    torch.cuda.synchronize()  # the reals on the device, as a step would use them
                waits.append(time.perf_counter() - t0)
                time.sleep(args.step_s)
            tr.close()
            steady = waits[1:]  # the first step has nothing prefetched
            row = {
                "loader_threads": threads,
                "serial_batch_ms": 1000 * serial,
                "wait_median_ms": 1000 * statistics.median(steady),
                "wait_max_ms": 1000 * max(steady),
                "first_step_ms": 1000 * waits[0],
            }
            rows.append(row)
            print(
                f"threads {threads}: wait per step median {row['wait_median_ms']:7.1f} ms, "
                f"max {row['wait_max_ms']:7.1f} ms (one batch decoded serially: "
                f"{row['serial_batch_ms']:.0f} ms; first step {row['first_step_ms']:.0f} ms)"
            )
        res["rows"] = rows
    out = os.environ.get("OUT")
    if out:
        Path(out, "data_loading.json").write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
