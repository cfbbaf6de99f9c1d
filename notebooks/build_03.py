"""Generate ``notebooks/03_training.ipynb`` (without outputs) with nbformat.

Run from anywhere: ``python notebooks/build_03.py``. Edit the cells here, not in the notebook.
"""

from __future__ import annotations

from _nbbuild import NotebookBuilder

_nb = NotebookBuilder()
md, code = _nb.md, _nb.code


md(r"""
# 03 · Training an alias-free generator on the CPU

This notebook runs a short training of the **tiny config-T generator** (`t-tiny`, 32 px) on the
**built-in faces** (100 greyscale faces shipped inside scikit-image, brought to 32 px with ideal
band-limited interpolation: nothing is downloaded), through the same training loop as the
command line; its full mode is

    aliasfree train --config t --data builtin --out runs/demo --kimg 2 --snap-kimg 0.4 \
        --tick-kimg 0.08 --metrics eqt,eqt_frac,eqr,fid --device cpu --threads 1

and then looks at what the run leaves behind: the progress log, the sample grids of fixed
latents over time, the loss curves, the equivariance metrics at each snapshot, the checkpoints
(and how to resume from one) and the final generator.

The recipe is the paper's (REFERENCE §6): non-saturating logistic loss, lazy R1 every 16 steps
with γ scaled to the resolution, Adam β = (0, 0.99), an exponential moving average (EMA) of G's
weights whose images are the ones shown, and adaptive discriminator augmentation (ADA), which
matters here because 100 images are far too few for a discriminator not to memorise them. One
addition for the tiny networks: D sees its inputs blurred (σ = 2 px at 32 px, fading to 0 over
40 kimg), the paper's remedy for config R applied to T as well, because without it this
32-channel config T answers D with thin curved strokes that most latents share.

Three minutes of CPU training (2 kimg, one core) give smooth light and dark blobs, not faces
yet: the point is to see every part of a run work and to learn to read its output. The test
suite runs this notebook with `ALIASFREE_NOTEBOOK_FAST=1`: a handful of steps, so its images
are still faint noise, and its run folder is deleted at the end.
""")

code(r"""
%matplotlib inline
import dataclasses
import json
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from PIL import Image

from gan.metrics import format_db, measure
from gan.networks.io import load_generator
from gan.networks.presets import build_generator
from gan.networks.transform import translate
from gan.training.loop import train
from gan.training.options import TrainOptions

FAST = os.environ.get("ALIASFREE_NOTEBOOK_FAST") == "1"
warnings.filterwarnings("ignore", message="IProgress not found")
# One thread: on cores shared with other jobs two torch threads wait on each other and run
# several times slower than one (benchmarks/RESULTS.md); on an idle machine try 2.
torch.set_num_threads(1)
# Every file this notebook writes goes here (it may run in a read-only or shared directory).
WORKDIR = Path(tempfile.mkdtemp(prefix="aliasfree_nb03_"))
RUN = WORKDIR / "run"
# "fid" without a feature extractor: the run says how to get FID/KID instead of failing.
METRICS = ("eqt", "eqt_frac", "eqr", "fid")

if FAST:  # a few steps of batch 8: a smoke run of every part
    opts = TrainOptions(
        config="t", size="tiny", data="builtin", batch=8, kimg=0.048, snap_kimg=0.016,
        tick_kimg=0.008, metric_samples=2, grid_size=9, out=str(RUN), device="cpu",
        metrics=METRICS,
    )
else:  # 125 steps of batch 16: about 3 minutes on one core (benchmarks/train_step.py)
    opts = TrainOptions(
        config="t", size="tiny", data="builtin", batch=16, kimg=2.0, snap_kimg=0.4,
        tick_kimg=0.08, metric_samples=16, grid_size=16, out=str(RUN), device="cpu",
        metrics=METRICS,
    )


def show(fig):
    display(fig)
    plt.close(fig)


def md_table(header, rows):
    # pandas is not a dependency: a markdown table by hand.
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return Markdown("\n".join(lines))


def read_jsonl(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


print(f"run directory: {RUN}")
print(json.dumps({k: v for k, v in opts.to_dict().items() if k in (
    "config", "size", "data", "batch", "kimg", "snap_kimg", "metrics", "augment")}))
""")

md(r"""
## 1 · Train

`train(opts)` is what `aliasfree train` calls. Every tick it prints one progress line:
**kimg** (thousands of real images shown to the discriminator so far, the unit of training
length in the GAN literature), **s/kimg** (wall seconds per kimg), the ETA, the mean losses of
the tick (G, D, and the R1 penalty on the steps where it ran), ADA's augmentation probability
**p** and the blur σ of D's inputs (`blur_sigma`, 2 px fading out). Every snapshot it writes an image
grid, computes the metrics and a checkpoint.
""")

code(r"""
t0 = time.perf_counter()
result = train(opts, progress=True, log=print)
print(f"\n{result['step']} steps, {result['kimg']:.3f} kimg in {time.perf_counter() - t0:.1f} s")
""")

md(r"""
## 2 · What is in the run folder

Everything a run produces is in one folder, and `README.txt` in it explains each file:

- `options.json`: every setting, with the REFERENCE §6 values filled in (R1 γ for 32 px, EMA
  half-life, learning rates...). A resumed run reads its optimisation settings from the
  checkpoint, so it continues the same run even if the command line changed.
- `log.jsonl`: one JSON line per progress tick; `metrics.jsonl`: one per snapshot.
- `reals.png` and `samples-kimgXXXX.XXX.png`: training images, and the EMA generator's images of
  the **same fixed latents** at every snapshot, so that flipping through them in order shows
  the generator learning.
- `checkpoint-XXXXXXXX.safetensors` + `.json`: the whole training state (G, D, the EMA,
  both Adam optimizers, ADA's p, the step counter and the random state); the newest three are
  kept. No pickle: safetensors holds the tensors, the JSON the rest.
- `generator.safetensors` + `.json`: the final EMA generator alone, for `aliasfree generate`.
- `progress.png`: the first row of those grids at up to 8 snapshots, one above the other (the
  learning at a glance).
- `losses.png`: the loss curves (plotted again below with more detail).
""")

code(r"""
for p in sorted(RUN.iterdir()):
    size = sum(f.stat().st_size for f in p.rglob("*")) if p.is_dir() else p.stat().st_size
    print(f"{p.name:40s} {size / 1024:9.1f} KiB")
print()
print((RUN / "README.txt").read_text().split("Stopping:")[0])
""")

md(r"""
## 3 · Sample grids over time

Left: training images (`reals.png`). Then the EMA generator's grid at each snapshot. The EMA
starts as a copy of the untrained G, whose output is a faint, smooth pattern. In the 2-kimg run
of the full mode the pattern gains contrast from snapshot to snapshot and turns into light and
dark blobs at about the scale of a face's parts, different for every latent. A longer run
(`aliasfree train`, 2 cores, 32–39 s/kimg) gives blurry, varied faces (eye band, mouth, head
outline) by about 8 kimg and faces with eyes, nose and mouth by about 17 kimg, while D's input
blur fades (measured 2026-11-27; without the blur these tiny networks drew thin curved strokes
that most latents share until about 30 kimg); at 32 and 40 kimg the faces are still varied and
free of strokes, and after the blur has ended a shared overlay of straight bars slowly grows
over them (45–48 kimg, measured 2026-11-28): the limit of 32 channels. The alias-free generator has no fixed pixel
grid to glue details to, so even its early images are smooth rather than blocky.
""")

code(r"""
grids = sorted(RUN.glob("samples-kimg*.png"))
# At most 6 grids: the first ones and the last.
shown = grids if len(grids) <= 5 else grids[:4] + grids[-1:]
paths = [RUN / "reals.png"] + shown
fig, axes = plt.subplots(1, len(paths), figsize=(2.6 * len(paths), 2.9))
for ax, p in zip(np.atleast_1d(axes), paths):
    img = np.asarray(Image.open(p))
    ax.imshow(img, cmap="gray", vmin=0, vmax=255)
    title = "training images" if p.name == "reals.png" else f"{float(p.stem[12:]):.3g} kimg"
    ax.set_title(title, fontsize=9)
    ax.axis("off")
fig.tight_layout()
show(fig)
""")

md(r"""
## 4 · Loss curves

With the non-saturating logistic loss an undecided discriminator (logit 0 on everything)
scores `loss_D = 2 ln 2 ≈ 1.39` and `loss_G = ln 2 ≈ 0.69` (dotted lines). A healthy run
wanders around those values. `loss_D` falling towards 0 with `loss_G` climbing means D is
winning (with 100 images it can memorise them): ADA reacts by raising p (right panel) while D's
sign on the reals, E[sign D(x)], is above the target 0.6, until the augmentations make the
reals hard enough to tell apart again. The R1 penalty (applied every 16 steps, weighted by 16)
keeps D's gradient on the reals small.

Where this run's losses, logits and p went is printed under the figure. On a run this short
(2 kimg in the full mode) D usually stays near chance with D(real) > 0 > D(fake), and ADA's p
stays near 0: it rises only once D's sign on the reals passes the target, which takes longer
runs (`aliasfree train --minutes 30`).
""")

code(r"""
log = read_jsonl(RUN / "log.jsonl")
kimg = np.array([r["kimg"] for r in log])


def col(name):
    return np.array([np.nan if r.get(name) is None else r[name] for r in log], dtype=float)


fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
ax = axes[0]
ax.plot(kimg, col("loss_G"), label="loss_G", color="tab:red")
ax.plot(kimg, col("loss_D"), label="loss_D (real + fake)", color="tab:blue")
ax.axhline(np.log(2), color="tab:red", ls=":", lw=1)
ax.axhline(2 * np.log(2), color="tab:blue", ls=":", lw=1)
ax.set_xlabel("kimg")
ax.set_title("losses")
ax.legend(fontsize=8)
ax = axes[1]
ax.plot(kimg, col("logits_real"), label="D(real)", color="tab:green")
ax.plot(kimg, col("logits_fake"), label="D(fake)", color="tab:orange")
r1 = col("loss_R1")
ax.plot(kimg, r1, "k.", label="R1 term (steps where applied)")
ax.set_xlabel("kimg")
ax.set_title("mean logits and R1")
ax.legend(fontsize=8)
ax = axes[2]
ax.plot(kimg, col("augment_p"), color="tab:purple")
ax.set_ylim(bottom=0)
ax.set_xlabel("kimg")
ax.set_title("ADA probability p")
fig.tight_layout()
show(fig)
print(f"s/kimg over the run (median of the ticks): {np.nanmedian(col('sec_per_kimg')):.1f}")
for name in ("loss_D", "loss_G", "logits_real", "logits_fake", "augment_p"):
    v = col(name)
    print(f"{name:12s} first {v[0]:+.3f}  last {v[-1]:+.3f}  range [{np.nanmin(v):+.3f}, "
          f"{np.nanmax(v):+.3f}]")
""")

md(r"""
## 5 · Metrics at the snapshots

At every snapshot the EMA generator's equivariance is measured (REFERENCE §5, PSNR in dB
between `G(z)` moved afterwards and `G(z)` generated moved; higher is more equivariant):
**EQ-T** (integer-pixel translations), **EQ-T_frac** (sub-pixel translations) and **EQ-R**
(rotations). Config T keeps a high EQ-T throughout training: it is a property of the
architecture, not something learned. The line under the table gives each metric's change from
the untrained network to the last snapshot: in short runs EQ-T stays near 80 dB while
EQ-T_frac and EQ-R lose a few dB as the images gain contrast and sharper edges (not
monotonically from one snapshot to the next). Config T is not built for rotations, so its
EQ-R stays low (compare notebook 02 and config R). FID/KID appear here only when the run was
given a feature extractor (`--fid-extractor FILE`; nothing is downloaded); this run asks for
FID without one to show the note it gets instead.

For reference the same metrics of the **untrained** generator (the same initial weights) are
measured first, with the same number of samples.
""")

code(r"""
mets = read_jsonl(RUN / "metrics.jsonl")
names = [m for m in ("eqt", "eqt_frac", "eqr") if m in opts.metrics]
G0 = build_generator(opts.preset, res=32, seed=opts.init_seed, img_channels=1).eval()
init = {
    m: measure(G0, m, opts.metric_samples, batch=min(8, opts.metric_samples), seed=0).psnr_db
    for m in names
}
rows = [["untrained", "0"] + [format_db(init[m]) for m in names]]
for i, r in enumerate(mets):
    vals = [format_db(r[m]) if isinstance(r.get(m), float) else str(r.get(m)) for m in names]
    rows.append([f"snapshot {i + 1}", f"{r['kimg']:.3f}"] + vals)
display(md_table(["snapshot", "kimg"] + [m.replace("eqt", "EQ-T").replace("eqr", "EQ-R")
                                         for m in names], rows))
last = mets[-1]
print("change from untrained to the last snapshot: " + ", ".join(
    f"{m} {last[m] - init[m]:+.1f} dB" for m in names if isinstance(last.get(m), float)))
notes = {r.get("fid_kid_note") for r in mets} - {None}
print("\n".join(notes) or "(FID/KID not requested)")
""")

md(r"""
## 6 · Stop and resume

A run stops after `--kimg`/`--minutes`, or on Ctrl-C (it finishes the step and writes a
checkpoint). `--resume latest` picks the newest checkpoint in the folder and continues
**exactly**: the same data order, latents and augmentation as an uninterrupted run (the tests
check that N + M steps with a stop in between give the same weights as N + M in one go). Here
the run continues for a few more steps: the command line would be
`aliasfree train --out RUN --resume latest --kimg ...`.
""")

code(r"""
more = opts.kimg + (0.016 if FAST else 0.4)
resumed = train(dataclasses.replace(opts, resume="latest", kimg=more), progress=True, log=print)
print(f"now at step {resumed['step']} ({resumed['kimg']:.3f} kimg); checkpoints kept:")
print("\n".join(p.name for p in sorted(RUN.glob("checkpoint-*.json"))))
""")

md(r"""
## 7 · Use the trained generator

`generator.safetensors`/`.json` hold the final EMA generator alone. Loaded back, it generates
new images; with `transform=translate(tx, ty)` it moves the content by `tx` image widths
**inside the network**, and for config T the result is the same image moved (that is what EQ-T
measures). Top: three new latents moved right by 0, 2, 4 and 8 pixels (contrast stretched: a
short run's images are faint). Bottom: the middle row of the first image for moves of a
fraction of a pixel; the curve slides smoothly, with no resampling of the output.
""")

code(r"""
G = load_generator(RUN / "generator")
z = torch.randn(3, G.z_dim, generator=torch.Generator().manual_seed(123))
res = G.res


def generate(tx):
    with torch.no_grad():
        return G(z, None, transform=translate(tx / res, 0.0), noise_mode="const")[:, 0].numpy()


moves = [0, 2, 4, 8]  # pixels
imgs = [generate(tx) for tx in moves]
lo, hi = np.percentile(np.stack(imgs), [1, 99])
fig, axes = plt.subplots(3, len(moves), figsize=(1.7 * len(moves), 5.2))
for j, (tx, im) in enumerate(zip(moves, imgs)):
    for i in range(3):
        axes[i, j].imshow(im[i], cmap="gray", vmin=lo, vmax=hi)
        axes[i, j].axis("off")
    axes[0, j].set_title(f"+{tx} px", fontsize=9)
fig.tight_layout()
show(fig)

fig, ax = plt.subplots(figsize=(7, 2.8))
for tx in (0, 0.25, 0.5, 0.75, 1.0):
    ax.plot(np.arange(res), generate(tx)[0, res // 2], ".-", lw=1, ms=3, label=f"+{tx} px")
ax.set_xlabel("x (pixels)")
ax.set_ylabel("intensity")
ax.set_title("middle row of the first image under sub-pixel moves")
ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
fig.tight_layout()
show(fig)
""")

md(r"""
The run folder stays where it is (printed at the top) for you to open; under the test suite
(`ALIASFREE_NOTEBOOK_FAST=1`) it is deleted so that repeated runs do not fill the disk.
""")

code(r"""
if FAST:
    shutil.rmtree(WORKDIR, ignore_errors=True)
print(f"run folder: {RUN} ({'deleted' if FAST else 'kept'})")
""")


if __name__ == "__main__":
    _nb.write("03_training.ipynb")
