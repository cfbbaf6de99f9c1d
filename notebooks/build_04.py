"""Generate ``notebooks/04_measure_aliasing.ipynb`` (without outputs) with nbformat.

Run from anywhere: ``python notebooks/build_04.py``. Edit the cells here, not in the notebook.
"""

from __future__ import annotations

from _nbbuild import NotebookBuilder

_nb = NotebookBuilder()
md, code = _nb.md, _nb.code


md(r"""
# 04 · Measuring aliasing in any network

`gan.probe.probe_model(model, inputs)` attaches forward hooks to any `torch.nn.Module` (the model
is not changed), runs a batch of images and measures, per layer and channel (REFERENCE §5, §7):

1. **downsampling aliasing** of every rate-lowering layer: the fraction of its stride-1
   equivalent's energy outside the alias-free band `|f_x|, |f_y| < 1/(2s)` cycles/sample, and the
   fold classification (Ribeiro & Schön): non-aliased / aliased / tangled energy;
2. **nonlinearity aliasing** of every pointwise nonlinearity: the aliased fraction of its output
   energy, against the same function applied at 4× the rate and ideally low-passed back;
3. **equivariance**: the PSNR (dB, maps normalised by their RMS) of each layer's output when the
   input is shifted by one pixel or half a pixel. Photos are not periodic, so the shifts fill
   with zeros and use a local Lanczos-3 kernel, and maps are compared away from their borders
   (`circular=False`; a circular roll would bring the opposite edge in as a seam that dominates
   the error). The same mode measures items 1 and 2 under a Hann window and on mirror-extended
   maps, so that a photo's borders do not count as aliasing either.

We compare the three variants of a small ResNet that share the **same weights** (built-in
examples, `gan.probe.examples`): plain strided convolutions, a `[1,3,3,1]` blur before every
stride (BlurPool, Zhang 2019) and the DSP core's Kaiser low-pass before every stride. Then the
baseline generator against the alias-free configs T and R, layer by layer. Every number quoted
in the text is computed by the cell above it. `ALIASFREE_NOTEBOOK_FAST=1` runs everything on
small inputs; the same report comes from the command line:
`aliasfree aliasing resnet-blurpool --input-shape 3,64,64`.
""")

code(r"""
%matplotlib inline
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from aliasfree.commands.aliasing import make_inputs
from gan.probe import probe_model
from gan.probe.examples import build_example, downsample_sites
from gan.probe.plots import plot_depth, plot_worst_spectra

FAST = os.environ.get("ALIASFREE_NOTEBOOK_FAST") == "1"
torch.set_grad_enabled(False)
warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets


def show(fig):
    display(fig)
    plt.close(fig)


def md_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    display(Markdown("\n".join(lines)))
""")

md(r"""
## 1 · Inputs

A few scikit-image sample photos (shipped with the package), centre-cropped and resized with
anti-aliasing, then standardised per channel. Photos have most of their energy at low
frequencies, which is what a network sees in practice.
""")

code(r"""
SIZE = 32 if FAST else 64
NUM = 2 if FAST else 8
x, desc = make_inputs("builtin", (3, SIZE, SIZE), NUM)
print(desc, tuple(x.shape))
""")

md(r"""
## 2 · Three ResNets with the same weights

`resnet-stride` lowers the rate by keeping every second sample of its stride-1 maps;
`resnet-blurpool` and `resnet-kaiser` run the same convolutions and max-pool at stride 1, then
low-pass and decimate (`LowpassDownsample`, a depthwise convolution with fixed taps). Their
state dicts are interchangeable.
""")

code(r"""
VARIANTS = ("resnet-stride", "resnet-blurpool", "resnet-kaiser")
models = {n: build_example(n, seed=0) for n in VARIANTS}
reports = {n: probe_model(m, x, shifts=(1.0, 0.5), circular=False) for n, m in models.items()}
sd = [m.state_dict() for m in models.values()]
same = all(torch.equal(sd[0][k], s[k]) for s in sd[1:] for k in sd[0])
print("identical weights:", same)
print(
    reports["resnet-stride"].table(
        ["out_of_band", "fold_tangled", "nonlinearity", "equivariance_0.5"]
    )
)
""")

md(r"""
### Downsampling aliasing, site by site

At each place where the rate is halved: the energy beyond the new Nyquist band of the map that
gets decimated (mean over channels and inputs), and the tangled-fold fraction (energy in bins
where several folds collide within 20 dB).
""")

code(r"""
sites = downsample_sites(models["resnet-stride"])
rows, oob = [], {n: [] for n in VARIANTS}
for site in sites:
    cells = [site]
    for n in VARIANTS:
        r = reports[n].row(downsample_sites(models[n])[site]).measures
        oob[n].append(r["out_of_band"].mean)
        cells.append(f"{100 * r['out_of_band'].mean:.1f} % / {100 * r['fold_tangled'].mean:.1f} %")
    rows.append(cells)
md_table(["site", *(f"{n}: out of band / tangled" for n in VARIANTS)], rows)
ratio_blur = np.mean(oob["resnet-blurpool"]) / np.mean(oob["resnet-stride"])
ratio_kaiser = np.mean(oob["resnet-kaiser"]) / np.mean(oob["resnet-stride"])
display(
    Markdown(
        f"Averaged over the sites, the blur leaves **{100 * ratio_blur:.0f} %** and the Kaiser "
        f"filter **{100 * ratio_kaiser:.0f} %** of the plain stride's out-of-band energy."
    )
)
""")

code(r"""
fig, ax = plt.subplots(figsize=(8, 3.2))
pos = np.arange(len(sites))
for i, n in enumerate(VARIANTS):
    ax.bar(pos + (i - 1) * 0.27, 100 * np.array(oob[n]), width=0.27, label=n)
ax.set_xticks(pos, list(sites), rotation=20, ha="right")
ax.set_ylabel("energy beyond new Nyquist [%]")
ax.set_title("downsampling aliasing before each decimation (same weights, same inputs)")
ax.legend()
show(fig)
""")

md(r"""
### Along the depth

`plot_depth` draws every measure per layer in forward order (mean, ±std, min–max range). The
nonlinearity aliasing of the ReLUs and the equivariance of every layer, for the plain and the
Kaiser variant:
""")

code(r"""
for n in ("resnet-stride", "resnet-kaiser"):
    fig = plot_depth(reports[n], ["nonlinearity", "equivariance_1", "equivariance_0.5"])
    fig.suptitle(n)
    show(fig)
""")

code(r"""
def compared(rep):
    # Layers whose maps have an interior left to compare (the shifts are not circular: each
    # border loses its margin, which leaves nothing of the smallest maps).
    return {r.name: r for r in rep.rows if np.isfinite(r.measures["equivariance_0.5"].mean)}


# The same layer in every model: the deepest one all three can compare.
common = set.intersection(*(set(compared(reports[n])) for n in VARIANTS))
DEEPEST = [r.name for r in reports[VARIANTS[0]].rows if r.name in common][-1]


def last_map(rep):
    return compared(rep)[DEEPEST]


rows = []
for n in VARIANTS:
    r = last_map(reports[n])
    relus = [
        row.measures["nonlinearity"].mean
        for row in reports[n].rows
        if "nonlinearity" in row.measures
    ]
    rows.append(
        [
            n,
            r.name,
            f"{r.measures['equivariance_1'].mean:.1f}",
            f"{r.measures['equivariance_0.5'].mean:.1f}",
            f"{100 * np.mean(relus):.2f} %",
        ]
    )
md_table(
    [
        "model",
        "layer compared",
        "PSNR, 1 px shift [dB]",
        "PSNR, ½ px shift [dB]",
        "ReLU aliasing (mean over ReLUs)",
    ],
    rows,
)
psnr = {n: last_map(reports[n]).measures["equivariance_0.5"].mean for n in VARIANTS}
display(
    Markdown(
        f"Half-pixel shift of the input, at `{DEEPEST}` (the deepest layer all three compare): "
        f"{psnr['resnet-stride']:.1f} dB with "
        f"plain strides, {psnr['resnet-blurpool']:.1f} dB with the blur and "
        f"{psnr['resnet-kaiser']:.1f} dB with the Kaiser filter. The ReLUs still create energy "
        "beyond Nyquist at their own rate (last column): a low-pass before the stride does not "
        "remove what a nonlinearity folds back between two strides, which is what the alias-free "
        "generator addresses by running its nonlinearity at a higher rate (REFERENCE §3, §4)."
    )
)
""")

md(r"""
The spectra of the layers with the most downsampling aliasing (for rate-lowering layers the
spectrum of the stride-1 map, Hann-windowed as the measure sees it, with the alias-free band
drawn):
""")

code(r"""
show(plot_worst_spectra(reports["resnet-stride"], "out_of_band", k=4))
""")

md(r"""
## 3 · Generators: baseline vs configs T and R, internal layers

The generator examples (`generator-baseline`, `generator-t`, `generator-r`: the tiny presets,
randomly initialised) expose every internal feature map through an identity tap. A generator's
input is a latent, not an image, so its equivariance is measured by moving its input
**transform** (`gan.metrics.equivariance.measure`, REFERENCE §5): EQ-T (whole-pixel shifts) and
EQ-T_frac (sub-pixel shifts, Lanczos reference), for the image and for internal layers. The
probe contributes the radially averaged power spectra of the internal maps.
""")

code(r"""
from dsp.spectrum import power_spectrum, radial_average
from gan.metrics.equivariance import measure

RES = 16 if FAST else 32
NZ = 2 if FAST else 8
gens = {
    n: build_example(n, res=RES, seed=0)
    for n in ("generator-baseline", "generator-t", "generator-r")
}
rows = []
for n, g in gens.items():
    names = [k for k in g.feature_names if k != "input"]  # the synthesis layers
    pick = [names[len(names) // 2], names[-1]] if FAST else names
    for target in [None, *pick]:
        eq = []
        for m in ("eqt", "eqt_frac"):
            try:
                eq.append(f"{measure(g.generator, m, NZ, layer=target, batch=NZ).psnr_db:.1f}")
            except ValueError:
                eq.append("–")  # a 4-sample map leaves no pixel outside the resampler margins
        rows.append([n, "image" if target is None else target, *eq])
md_table(["generator", "layer", "EQ-T [dB]", "EQ-T_frac [dB]"], rows)
img = {r[0]: r[3] for r in rows if r[1] == "image"}
display(
    Markdown("EQ-T_frac of the image: " + ", ".join(f"{n} {v} dB" for n, v in img.items()) + ".")
)
""")

code(r"""
fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), sharey=True)
for ax, (n, g) in zip(axes, gens.items(), strict=True):
    got = {}
    hooks = [
        t.register_forward_hook(lambda m, i, o, k=k, d=got: d.__setitem__(k, o))
        for k, t in g.features.items()
    ]
    g(x)
    for h in hooks:
        h.remove()
    for k in [k for k in got if k != "input"]:
        fy, fx, P = power_spectrum(got[k].double().numpy())
        f, prof = radial_average(P, fy, fx)
        ax.semilogy(f, prof + 1e-20, label=k)
    ax.set_title(n)
    ax.set_xlabel("frequency [cycles/sample]")
    ax.legend(fontsize=6)  # each generator names its maps differently
axes[0].set_ylabel("power")
show(fig)
""")

md(r"""
With random weights the absolute numbers say little about trained networks (the paper's
figures are for trained ones, REFERENCE §6), but the structure shows: the baseline's maps carry
energy up to their Nyquist frequency, while configs T and R filter every map to the cutoff of its
layer's schedule (REFERENCE §3).
""")


if __name__ == "__main__":
    _nb.write("04_measure_aliasing.ipynb")
