"""Figures of a training run (matplotlib): losses, augmentation strength and metrics over kimg."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from matplotlib.figure import Figure

LOSSES = (
    ("loss_G", "G", "tab:red"),
    ("loss_D", "D", "tab:blue"),
    ("loss_R1", "R1", "tab:green"),
    ("loss_Gpl", "G path length", "tab:orange"),
)


def _series(records: Sequence[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    pts = [
        (r["kimg"], r[key])
        for r in records
        if r.get(key) is not None and isinstance(r[key], int | float) and math.isfinite(r[key])
    ]
    return [p[0] for p in pts], [p[1] for p in pts]


def _marker(x: Sequence[float]) -> str | None:
    # Short runs have a handful of ticks; a line through one point would be invisible.
    return "." if len(x) < 20 else None


def plot_training(log: Sequence[dict[str, Any]], metrics: Sequence[dict[str, Any]] = ()) -> Figure:
    """Loss curves (with the chance levels ln 2 and 2 ln 2), ADA's p, and EQ metrics over kimg.

    ``log`` holds the records of ``log.jsonl`` and ``metrics`` those of ``metrics.jsonl``; every
    record has a ``kimg`` key. Missing or non-finite values are skipped.
    """
    fig = Figure(figsize=(11, 3.6))
    ax_loss, ax_p, ax_eq = fig.subplots(1, 3)
    for key, label, colour in LOSSES:
        x, y = _series(log, key)
        if x:
            ax_loss.plot(x, y, label=label, color=colour, lw=1.2, marker=_marker(x))
    # Chance levels of the logistic loss: what the losses hover around when D cannot tell.
    ax_loss.axhline(math.log(2), color="tab:red", ls=":", lw=0.8)
    ax_loss.axhline(2 * math.log(2), color="tab:blue", ls=":", lw=0.8)
    ax_loss.set(title="losses (dotted: ln 2, 2 ln 2)", xlabel="kimg")
    if ax_loss.get_legend_handles_labels()[0]:
        ax_loss.legend(fontsize=8)
    x, y = _series(log, "augment_p")
    ax_p.plot(x, y, color="tab:purple", marker=_marker(x))
    ax_p.set(title="augmentation probability p", xlabel="kimg", ylim=(-0.02, 1.02))
    for key, label in (("eqt", "EQ-T"), ("eqt_frac", "EQ-T_frac"), ("eqr", "EQ-R")):
        x, y = _series(metrics, key)
        if x:
            ax_eq.plot(x, y, marker="o", label=label)
    ax_eq.set(title="equivariance (PSNR, dB)", xlabel="kimg")
    if ax_eq.lines:
        ax_eq.legend(fontsize=8)
    for ax in (ax_loss, ax_p, ax_eq):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def select_snapshots(count: int, most: int = 8) -> list[int]:
    """Indices of at most ``most`` of ``count`` snapshots, evenly spread, first and last kept."""
    if count <= most:
        return list(range(count))
    return sorted({round(i * (count - 1) / (most - 1)) for i in range(most)})


def kimg_digits(values: Sequence[float], most: int = 3) -> int:
    """The fewest decimals (at least 1, at most ``most``) that tell the distinct ``values``
    apart when formatted (kimg labels: 1000 images per kimg, so 3 always do)."""
    distinct = set(values)
    for digits in range(1, most):
        if len({f"{v:.{digits}f}" for v in distinct}) == len(distinct):
            return digits
    return most


def plot_progress(rows: Sequence[tuple[float, Any]]) -> Figure:
    """The same latents at successive snapshots: one image row per ``(kimg, row)``.

    ``row`` is a uint8 array ``[H, W]`` or ``[H, W, C]`` (the top row of a snapshot grid);
    rows are drawn top to bottom in the order given, each labelled with its kimg, so that the
    generator's progress can be read at a glance instead of opening every snapshot. Labels
    get one decimal, or as many more (up to 3: kimg counts whole images) as it takes for rows
    of different kimg to read differently (fine snapshots: 0.064 and 0.112, not 0.1 twice).
    """
    if not rows:
        raise ValueError("rows must hold at least one (kimg, image row)")
    digits = kimg_digits([kimg for kimg, _ in rows])
    h, w = rows[0][1].shape[:2]
    width = 8.0
    fig = Figure(figsize=(width + 1.0, len(rows) * width * h / w + 0.6))
    axes = fig.subplots(len(rows), 1, squeeze=False)[:, 0]
    for ax, (kimg, img) in zip(axes, rows, strict=True):
        gray = img.ndim == 2 or img.shape[-1] == 1
        ax.imshow(img.squeeze(-1) if img.ndim == 3 and gray else img, cmap="gray" if gray else None,
                  vmin=0, vmax=255, interpolation="nearest")  # fmt: skip
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(f"{kimg:.{digits}f} kimg", rotation=0, ha="right", va="center")
    axes[0].set_title("the same latents at each snapshot (EMA generator)")
    fig.tight_layout(h_pad=0.3)
    return fig
