"""The training loop: :class:`Trainer` (one reproducible step at a time) and
:func:`train` (the whole run with logs, snapshots, checkpoints and resume). See REFERENCE §6.

Reproducibility: every random draw of step ``s`` (dataset order, latents, labels, augmentation)
is a function of ``(seed, s, rank)`` only: the data order is an endless stream of permutations
``numpy.random.default_rng([seed, epoch]).permutation(N)`` and step ``s`` takes stream items
``[s·batch, (s+1)·batch)`` (rank ``r`` its slice of them), while the latents and augmentation
come from a CPU generator seeded from ``(seed, s, rank)``. A run stopped after ``N`` steps and
resumed from its checkpoint with the same number of processes therefore takes the same steps as
an uninterrupted one (checkpoints record the process count; a resume with another count is
valid but not bit-exact, and says so). Bit-exact on the CPU; on a GPU the draws are the same
but the arithmetic is not bit-for-bit repeatable (cuDNN's autotuned algorithms, which this loop
switches on, and atomics in some of its kernels), so a resumed GPU run follows the same path up to
rounding. A first Ctrl-C stops the run cleanly after the current step, with a final snapshot and
checkpoint.

The run directory holds (see ``README.txt`` written there):

- ``options.json``: the resolved options;
- ``log.jsonl``: one JSON record per progress tick (losses, logits, R1, ADA p, blur σ, timing);
- ``metrics.jsonl``: one record per snapshot (EQ-T, EQ-T_frac, EQ-R in dB; FID/KID when a
  feature extractor was given);
- ``reals.png``, ``samples-kimg{kimg}.png``: training images and the EMA generator's images of
  fixed latents at each snapshot;
- ``checkpoint-{step}.safetensors``/``.json``: full training state (last ``keep``);
- ``generator.safetensors``/``.json``: the EMA generator of the latest snapshot
  (``aliasfree generate --checkpoint RUN/generator``), the final one when the run ends;
- ``progress.png``: the first row of those grids at up to 8 snapshots, one above the other;
- ``losses.png``: loss curves; ``tensorboard/``: scalars when tensorboard is installed.

The generator and the two plots are rewritten at every snapshot, so that a run still going, or
one killed without its final snapshot, can be sampled and looked at.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dsp._checks import check_power_of_two

from .loss import GANLoss, blur_sigma_at, ema_beta, lazy_adam_hyperparams, update_ema
from .options import TrainOptions

__all__ = ["Trainer", "train", "step_seed"]

METRIC_KEYS = ("fid", "kid")

_README = """\
Training run of {what} ({preset}, {res}x{res} px, data {data}).

Files
-----
options.json          every setting of this run (REFERENCE §6 hyperparameters resolved)
log.jsonl             one JSON line per progress tick: kimg (thousands of real images shown to
                      the discriminator), losses (loss_G, loss_D = loss_D_real + loss_D_fake,
                      loss_R1; the baseline's loss_Gpl: its path-length penalty, with
                      pl_mean the running mean length), mean logits, ADA probability p,
                      blur sigma, seconds per kimg, time_s (the run's wall time, earlier
                      sessions of a resumed run included)
metrics.jsonl         one JSON line per snapshot: equivariance EQ-T, EQ-T_frac, EQ-R (PSNR in
                      dB, higher is better) and FID/KID when --fid-extractor was given
reals.png             a grid of training images
samples-kimg*.png     the EMA generator's images of the same fixed latents at each snapshot:
                      open them in order to watch the generator learn
progress.png          the first row of those images at up to 8 snapshots spread over the
                      run, one row per snapshot (the learning at a glance; updated at every
                      snapshot)
losses.png            loss curves (G: generator, D: discriminator, R1 penalty), ADA p and
                      the equivariance metrics over the run (updated at every snapshot)
checkpoint-*.json/.safetensors
                      full training state (networks, optimizers, augmentation, counters),
                      the newest {keep} kept; continue the run with
                      `aliasfree train --out {out} --resume latest`
generator.json/.safetensors
                      the EMA generator of the latest snapshot (the final one once the run
                      ends); try
                      `aliasfree generate --checkpoint {out}/generator --out grid.png`
tensorboard/          scalars for TensorBoard (only when tensorboard is installed)

Stopping: press Ctrl-C once; the run finishes its step and writes a checkpoint and the files
above, so `--resume latest` continues exactly where it stopped.

Losses: the non-saturating logistic loss. D's loss starts near 2·ln 2 = 1.386 and G's near
ln 2 = 0.693; in a healthy run they wander around those values rather than collapse to 0.
"""


# The buffers a generator's forward updates (``update_emas``): the mapping's w_avg and each
# synthesis layer's magnitude EMA; the others (filters, fixed noise, frequencies) are constants.
_RUNNING_STATS = ("w_avg", "magnitude_ema")


def step_seed(seed: int, step: int, rank: int = 0) -> int:
    """A 63-bit seed for the random draws of one step of one process."""
    state = np.random.SeedSequence([int(seed), int(step), int(rank), 0x5EED]).generate_state(2)
    return int((int(state[0]) << 32 | int(state[1])) & (2**63 - 1))


class Trainer:
    """Networks, optimizers, augmentation and counters of a run; :meth:`step` trains one batch.

    Parameters
    ----------
    opts : TrainOptions
        Settings (``None`` hyperparameters are resolved here for the dataset's resolution).
    dataset : Dataset-like, optional
        ``len``, ``ds[i] -> (uint8 [C, H, W], float32 [c_dim])`` (tensors or numpy arrays;
        ``ValueError`` otherwise), attributes ``res``, ``num_channels``, ``c_dim`` (default:
        ``ImageDataset(opts.data, ...)``; ``opts.xflip``, ``use_labels`` and ``max_images``
        apply only to that default).
    env : DistEnv, optional
        From :func:`gan.training.distributed.init_distributed` (default: initialised here).
    """

    def __init__(self, opts: TrainOptions, *, dataset=None, env=None) -> None:
        from .distributed import broadcast_module, init_distributed, reduce_mean

        self.env = env if env is not None else init_distributed(opts.device)
        self.device = self.env.device
        if self.device.type == "cuda":
            # Every convolution of a run has a fixed shape, so cuDNN's per-shape algorithm
            # search pays for itself after the first steps (the reference implementation
            # trains with it too). A process-wide switch: training owns its process.
            torch.backends.cudnn.benchmark = True
        given_dataset = dataset is not None
        if dataset is None:
            from .data import ImageDataset

            dataset = ImageDataset(
                opts.data,
                res=opts.res,
                xflip=opts.xflip,
                use_labels=opts.use_labels,
                max_images=opts.max_images,
            )
        if opts.res is not None and int(dataset.res) != opts.res:
            raise ValueError(f"res={opts.res} but the dataset's images are {dataset.res} px")
        if len(dataset) < 1:
            raise ValueError("the dataset is empty")
        if opts.res is None:
            check_power_of_two("the dataset's res", dataset.res, 16, 1024)
        self.dataset = dataset
        self.opts = opts = opts.resolved(int(dataset.res))
        ws = self.env.world_size
        if opts.batch % ws:
            raise ValueError(f"batch ({opts.batch}) must be a multiple of the {ws} processes")
        self.local_batch = opts.batch // ws

        from gan.networks.presets import build_discriminator, build_generator

        c_dim, img_ch = int(dataset.c_dim), int(dataset.num_channels)
        self.G = build_generator(
            opts.preset, res=opts.res, seed=opts.init_seed, c_dim=c_dim, img_channels=img_ch
        ).to(self.device)
        self.D = build_discriminator(
            opts.preset, res=opts.res, seed=opts.init_seed + 1, c_dim=c_dim, img_channels=img_ch
        ).to(self.device)
        for m in (self.G, self.D):
            broadcast_module(m, self.env)
        self.G.train()
        self.D.train()
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)

        g_lr, g_betas = lazy_adam_hyperparams(
            opts.g_lr, opts.betas, opts.pl_interval if opts.pl_weight > 0 else None
        )
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=g_lr, betas=g_betas, eps=opts.eps)
        d_lr, d_betas = lazy_adam_hyperparams(
            opts.d_lr, opts.betas, opts.r1_interval if opts.r1_gamma > 0 else None
        )
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=d_lr, betas=d_betas, eps=opts.eps)

        self.augment_pipe = None
        self.ada = None
        if opts.augment == "ada":
            from .augment import AdaController, AugmentPipe
            from .distributed import reduce_sum

            self.augment_pipe = AugmentPipe(
                p=opts.augment_p, lumaflip=1.0 if opts.ada_lumaflip else 0.0
            ).to(self.device)
            env = self.env
            self.ada = AdaController(
                self.augment_pipe,
                target=opts.ada_target,
                interval=opts.ada_interval,
                speed_kimg=opts.ada_kimg,
                reduce=(lambda t: reduce_sum(t, env)) if env.is_distributed else None,
            )
        # Default: on with CUDA only. Asked for explicitly it also runs on the CPU (bf16 autocast
        # gains nothing there, but it is how the CPU tests exercise the mixed-precision path).
        self.fp16 = self.device.type == "cuda" if opts.fp16 is None else bool(opts.fp16)
        amp_device = self.device.type
        autocast = (lambda: torch.autocast(amp_device, dtype=torch.bfloat16)) if self.fp16 else None
        self.loss = GANLoss(
            self.G,
            self.D,
            augment_pipe=self.augment_pipe,
            r1_gamma=opts.r1_gamma,
            r1_interval=opts.r1_interval,
            autocast=autocast,
            # Sharded: each process's statistics update stands for the global batch.
            ema_images=opts.batch if self.env.is_distributed else None,
            style_mixing=opts.style_mixing,
            pl_weight=opts.pl_weight,
            pl_interval=opts.pl_interval,
            reduce_mean=(lambda t: reduce_mean(t, self.env)) if self.env.is_distributed else None,
        )
        self.step_idx = 0
        self.cur_nimg = 0
        self.elapsed_s = 0.0  # training wall time of earlier sessions of a resumed run
        self._perm_epoch = -1
        self._perm: np.ndarray | None = None
        self.loader_threads = self._loader_threads(opts.loader_threads, given_dataset)
        self._prefetch = None
        if self.loader_threads > 0:
            from .prefetch import Prefetcher

            self._prefetch = Prefetcher(self._item, self.loader_threads)

    def _loader_threads(self, asked: int | None, given_dataset: bool) -> int:
        if asked is not None:
            return int(asked)
        from .data import ImageDataset

        files = isinstance(self.dataset, ImageDataset) and not self.dataset.in_memory
        if self.device.type != "cuda" or given_dataset or not files:
            return 0
        return min(4, os.cpu_count() or 1)

    def close(self) -> None:
        """Stop the data loading threads (:meth:`step` still works afterwards, reading on the
        main thread)."""
        if self._prefetch is not None:
            self._prefetch.close()
            self._prefetch = None

    # ---- deterministic draws ---------------------------------------------------------------
    def batch_indices(self, step: int) -> np.ndarray:
        """Dataset indices of this process's share of step ``step``."""
        n, b = len(self.dataset), self.opts.batch
        start = step * b + self.env.rank * self.local_batch
        pos = np.arange(start, start + self.local_batch, dtype=np.int64)
        out = np.empty_like(pos)
        for epoch in np.unique(pos // n):
            if epoch != self._perm_epoch:
                rng = np.random.default_rng([self.opts.seed, int(epoch)])
                self._perm, self._perm_epoch = rng.permutation(n), int(epoch)
            sel = pos // n == epoch
            out[sel] = self._perm[pos[sel] % n]
        return out

    def _item(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``dataset[index]`` checked against the documented item format (a float image in
        ``[-1, 1]`` or ``[0, 1]`` would otherwise be rescaled as if it were ``0 … 255``)."""
        item = self.dataset[index]
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise ValueError(
                f"dataset[{index}] must be a pair (image, label), got {type(item).__name__}"
            )
        img, label = (torch.as_tensor(v) if isinstance(v, np.ndarray) else v for v in item)
        ds = self.dataset
        want = (int(ds.num_channels), int(ds.res), int(ds.res))
        if not isinstance(img, torch.Tensor) or img.dtype != torch.uint8 or img.shape != want:
            got = (
                f"{img.dtype} {list(img.shape)}"
                if isinstance(img, torch.Tensor)
                else type(img).__name__
            )
            raise ValueError(
                f"dataset[{index}] image must be a uint8 tensor of shape {list(want)} (0 … 255; "
                f"the dataset's num_channels and res), got {got}"
            )
        c_dim = int(ds.c_dim)
        if not isinstance(label, torch.Tensor) or label.shape != (c_dim,):
            got = list(label.shape) if isinstance(label, torch.Tensor) else type(label).__name__
            raise ValueError(
                f"dataset[{index}] label must be a tensor of shape [{c_dim}] (the dataset's "
                f"c_dim), got {got}"
            )
        return img, label

    def real_batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Reals of step ``step`` as float in ``[-1, 1]`` and their labels (None if c_dim 0)."""
        indices = self.batch_indices(step)
        if self._prefetch is not None:
            items = self._prefetch.get(indices, self.batch_indices(step + 1))
        else:
            items = [self._item(int(i)) for i in indices]
        img = torch.stack([x for x, _ in items])
        if self.device.type == "cuda":
            # Page-locked, so the copy runs asynchronously (a pageable one waits for the GPU).
            img = img.pin_memory().to(self.device, non_blocking=True)
        img = img.to(self.device, torch.float32) / 127.5 - 1
        if not self.dataset.c_dim:
            return img, None
        return img, torch.stack([c for _, c in items]).to(self.device, torch.float32)

    def _latents(self, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        z = torch.randn(self.local_batch, self.G.z_dim, generator=gen).to(self.device)
        if not self.dataset.c_dim:
            return z, None
        idx = torch.randint(0, len(self.dataset), (self.local_batch,), generator=gen)
        c = torch.stack([self._label(int(i)) for i in idx]).to(self.device, torch.float32)
        return z, c

    def _label(self, index: int) -> torch.Tensor:
        """The label of item ``index``, without decoding its image for an
        :class:`~gan.training.data.ImageDataset` (its ``get_label``): the conditional latents of
        every phase draw one per sample."""
        from .data import ImageDataset

        if isinstance(self.dataset, ImageDataset):
            return self.dataset.get_label(index)
        return self._item(index)[1]  # a user's dataset: its get_label may mean something else

    # ---- one step ----------------------------------------------------------------------------
    def blur_sigma(self) -> float:
        """σ (px) of D's input blur at the current image count (0 when off)."""
        o = self.opts
        return blur_sigma_at(self.cur_nimg, o.blur_sigma, o.blur_fade_kimg)

    def r1_due(self, step: int | None = None) -> bool:
        """Whether step ``step`` (default: the next) runs the lazy R1 phase."""
        step = self.step_idx if step is None else step
        return self.opts.r1_gamma > 0 and step % self.opts.r1_interval == 0

    def pl_due(self, step: int | None = None) -> bool:
        """Whether step ``step`` (default: the next) runs the lazy path-length phase."""
        step = self.step_idx if step is None else step
        return self.opts.pl_weight > 0 and step % self.opts.pl_interval == 0

    def _optimize(self, module: nn.Module, opt: torch.optim.Optimizer, loss: torch.Tensor):
        from .distributed import average_gradients

        opt.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(module, self.env)
        for p in module.parameters():
            if p.grad is not None:
                # A rare overflow must not poison Adam's moments (as StyleGAN does).
                torch.nan_to_num(p.grad, nan=0.0, posinf=1e5, neginf=-1e5, out=p.grad)
        opt.step()

    def step(self) -> dict[str, float]:
        """Train one batch: G phase, lazy path-length phase when due, D phase, lazy R1 when
        due, EMA, ADA. Returns this process's statistics (losses, logits, ``r1_applied``,
        ``pl_applied`` when path-length regularisation is on, ``blur_sigma``, ``ema_beta``,
        ``augment_p``)."""
        o, step = self.opts, self.step_idx
        seed = step_seed(o.seed, step, self.env.rank)
        gen = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)  # anything drawing from the global RNG is reproducible too
        real, c_real = self.real_batch(step)
        blur = self.blur_sigma()
        stats: dict[str, float] = {"blur_sigma": blur}

        # G phase: D frozen so that no gradient is computed for it.
        self.G.requires_grad_(True)
        self.D.requires_grad_(False)
        z, c = self._latents(gen)
        loss, st = self.loss.loss_G(z, c, blur_sigma=blur, generator=gen)
        self._optimize(self.G, self.opt_G, loss)
        stats.update(st)
        pl_applied = self.pl_due(step)
        if pl_applied:
            z, c = self._latents(gen)
            loss, st = self.loss.loss_Gpl(z, c, generator=gen)
            self._optimize(self.G, self.opt_G, loss)
            stats.update(st)
        if self.opts.pl_weight > 0:
            stats["pl_applied"] = float(pl_applied)

        self.G.requires_grad_(False)
        self.D.requires_grad_(True)
        z, c = self._latents(gen)
        loss, real_logits, st = self.loss.loss_D(real, c_real, z, c, blur_sigma=blur, generator=gen)
        self._optimize(self.D, self.opt_D, loss)
        stats.update(st)
        # The D phase's G pass updated G's running statistics from this rank's shard: make
        # them the ranks' mean, so that every rank (and rank 0's checkpoint) holds the same.
        from .distributed import average_buffers

        average_buffers(self.G, self.env, _RUNNING_STATS)
        if self.ada is not None:
            self.ada.accumulate(real_logits)

        applied = self.r1_due(step)
        if applied:
            loss, st = self.loss.loss_R1(real, c_real, blur_sigma=blur, generator=gen)
            self._optimize(self.D, self.opt_D, loss)
            stats.update(st)
        stats["r1_applied"] = float(applied)
        self.D.requires_grad_(False)

        beta = ema_beta(o.batch, self.cur_nimg, o.ema_kimg, o.ema_rampup)
        update_ema(self.G, self.G_ema, beta)
        stats["ema_beta"] = beta
        self.cur_nimg += o.batch
        self.step_idx += 1
        if self.ada is not None:
            self.ada.step(o.batch)
            stats["augment_p"] = self.ada.p
        else:
            stats["augment_p"] = 0.0
        return stats

    # ---- checkpoints -------------------------------------------------------------------------
    def _modules(self) -> dict[str, nn.Module]:
        m = {"G": self.G, "D": self.D, "G_ema": self.G_ema}
        if self.augment_pipe is not None:
            m["augment"] = self.augment_pipe
        return m

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_G, "D": self.opt_D}

    def state_extra(self) -> dict[str, Any]:
        """The JSON-able part of the training state (options, counters, ADA)."""
        return {
            "options": self.opts.to_dict(),
            "step": self.step_idx,
            "cur_nimg": self.cur_nimg,
            "ada": self.ada.state_dict() if self.ada is not None else None,
            "world_size": self.env.world_size,
            "pl_mean": self.loss.pl_mean,
        }

    def prepare_checkpoint(self) -> None:
        """Every rank, before the main rank's :meth:`save`: gather the state that each rank
        holds a share of onto the main rank (ADA's partial sums since its last update)."""
        if self.ada is not None:
            self.ada.consolidate(keep=self.env.is_main)

    def save(self, run_dir: str | os.PathLike, *, extra: dict | None = None) -> Path:
        """Write a checkpoint ``checkpoint-{step}`` into ``run_dir`` (main rank only, after
        :meth:`prepare_checkpoint` on every rank)."""
        from .checkpoint import save_training_state

        return save_training_state(
            run_dir,
            self.step_idx,
            modules=self._modules(),
            optimizers=self._optimizers(),
            extra={**self.state_extra(), **(extra or {})},
            keep=self.opts.keep,
        )

    def load(self, path: str | os.PathLike) -> dict[str, Any]:
        """Restore a checkpoint written by :meth:`save`; returns its ``extra``."""
        from .checkpoint import load_training_state

        extra = load_training_state(
            path,
            modules=self._modules(),
            optimizers=self._optimizers(),
            map_location="cpu",
            # The saved states are rank 0's; the other ranks keep their own (every step reseeds
            # from (seed, step, rank) anyway).
            restore_rng=self.env.is_main,
        )
        self.step_idx = int(extra["step"])
        self.cur_nimg = int(extra["cur_nimg"])
        # Wall time of the sessions before (absent in checkpoints before 2026-11-28).
        self.elapsed_s = float(extra.get("time_s", 0.0))
        # The running mean path length (absent before 2026-11-28, when nothing used it).
        self.loss.pl_mean = float(extra.get("pl_mean", 0.0))
        if self.ada is not None and extra.get("ada") is not None:
            self.ada.load_state_dict(extra["ada"])
            if not self.env.is_main:
                self.ada.discard_partial()  # rank 0's state carries every rank's sums
        return extra


# ---- the run -----------------------------------------------------------------------------------


def _fmt_time(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    s = int(round(max(seconds, 0.0)))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _truncate_jsonl(path: Path, step: int) -> None:
    """Drop records written after ``step`` by an interrupted run that is being resumed."""
    if not path.is_file():
        return
    keep = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a kill
        if int(rec.get("step", 0)) <= step:
            keep.append(line)
    from dsp._io import write_text_atomic

    write_text_atomic(path, "".join(k + "\n" for k in keep))


def _remove_stale_logs(run_dir: Path, log_path: Path, metrics_path: Path) -> list[str]:
    """Delete the logs (and the snapshot grids they name) that an earlier run without a
    checkpoint left in ``run_dir``, so that a fresh run does not append to them; returns the
    names of the files removed."""
    removed = []
    for rec in _read_jsonl(metrics_path):
        grid = rec.get("grid") if isinstance(rec, dict) else None
        if isinstance(grid, str) and grid == Path(grid).name and grid.startswith("samples-kimg"):
            if (run_dir / grid).is_file():
                (run_dir / grid).unlink()
                removed.append(grid)
    for path in (log_path, metrics_path):
        if path.is_file():
            path.unlink()
            removed.append(path.name)
    return removed


def _append_jsonl(path: Path, record: dict[str, Any]) -> None:
    # One write of one complete line, flushed: a kill leaves at most one cut last line.
    # Non-finite floats become null so that every line is strict JSON.
    clean = {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()
    }
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(clean, allow_nan=False) + "\n")
        fh.flush()


def _tensorboard(run_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:  # tensorboard is optional
        return None
    try:
        return SummaryWriter(str(run_dir / "tensorboard"))
    except Exception:
        return None


def _grid_latents(trainer: Trainer) -> tuple[torch.Tensor, torch.Tensor | None]:
    from gan.metrics.video import latents_from_seeds

    n = trainer.opts.grid_size
    z = latents_from_seeds(list(range(n)), trainer.G.z_dim).to(trainer.device)
    if not trainer.dataset.c_dim:
        return z, None
    labels = torch.arange(n) % trainer.dataset.c_dim
    return z, torch.nn.functional.one_hot(labels, trainer.dataset.c_dim).float().to(z.device)


@torch.no_grad()
def _save_grid(trainer: Trainer, path: Path, z, c) -> None:
    from gan.metrics.video import image_grid, save_image

    imgs = [
        trainer.G_ema(z[i : i + 8], None if c is None else c[i : i + 8])
        for i in range(0, len(z), 8)
    ]
    save_image(_enlarge(image_grid(torch.cat(imgs).float().cpu(), pad=1), z.shape[0]), path)


def _enlarge(grid: np.ndarray, n: int) -> np.ndarray:
    """Nearest-neighbour enlargement of a grid of small images, so each tile is >= 128 px.

    Pixel replication keeps every sample visible as it is (no smoothing that would hide
    aliasing), and a 4×4 grid of 32-px images would otherwise be a 131-px thumbnail.
    """
    tile = grid.shape[1] / math.ceil(math.sqrt(n))
    k = math.ceil(128 / tile) if tile < 128 else 1
    return grid.repeat(k, axis=0).repeat(k, axis=1) if k > 1 else grid


def _save_reals(trainer: Trainer, path: Path) -> None:
    from gan.metrics.video import image_grid, save_image

    n = min(trainer.opts.grid_size, len(trainer.dataset))
    imgs = torch.stack([trainer.dataset[i][0] for i in range(n)]).float() / 127.5 - 1
    save_image(_enlarge(image_grid(imgs, pad=1), n), path)


def _metrics(trainer: Trainer, extractor, cache: dict[str, Any]) -> dict[str, Any]:
    """Equivariance (and FID/KID) of the EMA generator; a failing metric is reported, not
    fatal."""
    from gan.metrics.equivariance import measure

    o = trainer.opts
    out: dict[str, Any] = {}
    G = trainer.G_ema
    for m in o.metrics:
        if m in ("fid", "kid"):
            continue
        try:
            r = measure(
                G,
                m,
                o.metric_samples,
                batch=min(8, o.metric_samples),
                seed=0,
                device=trainer.device,
            )
            out[m] = r.psnr_db if math.isfinite(r.psnr_db) else str(r.psnr_db)
        except (ValueError, RuntimeError) as exc:
            out[m] = None
            out[f"{m}_error"] = str(exc)
    if any(m in o.metrics for m in ("fid", "kid")):
        if extractor is None:
            out["fid_kid_note"] = (
                "FID/KID skipped: they need --fid-extractor FILE (a TorchScript feature "
                "extractor such as inception-2015-12-05); nothing is downloaded"
            )
        else:
            from gan.metrics.fid import compute_fid_kid, dataset_features

            try:
                if "real_features" not in cache:  # the reals do not change between snapshots
                    cache["real_features"] = dataset_features(
                        trainer.dataset, extractor, 32, trainer.device
                    )
                res = compute_fid_kid(
                    G,
                    trainer.dataset,
                    extractor,
                    o.fid_samples,
                    32,
                    trainer.device,
                    real_features=cache["real_features"],
                )
                out.update({k: v for k, v in res.items() if k in o.metrics})
            except (ValueError, RuntimeError) as exc:
                out["fid_kid_error"] = str(exc)
    G.to(trainer.device)
    return out


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    records = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                records.append(json.loads(line))
    return records


def _plot_losses(log_path: Path, metrics_path: Path, path: Path) -> None:
    """``losses.png``: losses, ADA's p and the equivariance metrics over kimg."""
    from dsp.plots import save_figure
    from gan.training.plots import plot_training

    save_figure(plot_training(_read_jsonl(log_path), _read_jsonl(metrics_path)), path)


def _grid_top_row(path: Path, res: int, n: int) -> np.ndarray | None:
    """The first row of tiles of a snapshot grid written by :func:`_save_grid` (``n`` images of
    ``res`` pixels, 1-pixel gaps, enlarged by an integer factor), or None if it does not fit."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            arr = np.asarray(im)
    except (OSError, ValueError):
        return None
    cols = min(math.ceil(math.sqrt(n)), n)
    base = cols * res + (cols - 1)
    k, rest = divmod(arr.shape[1], base)
    if k < 1 or rest or arr.shape[0] < res * k:
        return None
    return arr[: res * k]


def _plot_progress(metrics_path: Path, run_dir: Path, res: int, n: int, path: Path) -> None:
    """``progress.png``: the top row of up to 8 snapshot grids, spread over the run."""
    from dsp.plots import save_figure
    from gan.training.plots import plot_progress, select_snapshots

    rows = []
    for rec in _read_jsonl(metrics_path):
        grid = rec.get("grid")
        row = _grid_top_row(run_dir / grid, res, n) if isinstance(grid, str) else None
        if row is not None and isinstance(rec.get("kimg"), int | float):
            rows.append((float(rec["kimg"]), row))
    if rows:
        save_figure(plot_progress([rows[i] for i in select_snapshots(len(rows))]), path)


def train(
    opts: TrainOptions,
    *,
    progress: bool = True,
    dataset=None,
    max_steps: int | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run (or resume) a training run; see the module docstring for the files it writes.

    Parameters
    ----------
    opts : TrainOptions
    progress : bool
        Print a progress line (kimg, s/kimg, ETA, losses, augmentation p) every tick.
    dataset : Dataset-like, optional
        Instead of ``ImageDataset(opts.data, ...)`` (tests).
    max_steps : int, optional
        Also stop once the step counter reaches this (counted from the run's start, so a
        resumed run continues up to it); the run ends with a snapshot as usual.
    log : callable, optional
        Where messages go (default: ``print`` to stderr).

    Returns
    -------
    dict
        ``run_dir``, ``step``, ``kimg``, ``checkpoint`` (path of the last one), ``stats``
        (last tick's mean statistics), ``metrics`` (last snapshot's), ``sec_per_kimg`` (last
        tick's), ``trainer`` (the :class:`Trainer`, for inspection) and ``signal`` (the number
        of the SIGINT/SIGTERM that stopped this process early, after its final snapshot and
        checkpoint; None otherwise).
    """
    from .checkpoint import checkpoint_at, list_checkpoints, read_checkpoint_info, resolve_resume
    from .distributed import barrier, cleanup, init_distributed, reduce_mean, reduce_sum

    if not isinstance(opts, TrainOptions):
        raise ValueError(f"opts must be a TrainOptions, got {type(opts).__name__}")
    if max_steps is not None and (isinstance(max_steps, bool) or int(max_steps) < 0):
        raise ValueError(f"max_steps must be >= 0, got {max_steps!r}")
    say = log if log is not None else (lambda s: print(s, file=sys.stderr, flush=True))
    env = init_distributed(opts.device)
    run_dir = Path(opts.out)

    def skipped(text: str) -> None:  # a checkpoint --resume passes over, and why
        if env.is_main:
            say(f"note: {text}")

    resume_path = resolve_resume(opts.resume, run_dir, on_skip=skipped)
    if resume_path is None and opts.resume not in (None, "", "latest"):
        raise ValueError(f"--resume {opts.resume!r}: no checkpoint found")
    if resume_path is not None:
        foreign = Path(resume_path).parent.resolve() != run_dir.resolve()
        if foreign and list_checkpoints(run_dir):
            # Its checkpoints and logs would interleave with the resumed run's (same step
            # numbers overwritten, a later --resume latest picking the other run's newest).
            raise ValueError(
                f"{run_dir} already holds checkpoints of another run: resume "
                f"{resume_path} into an empty --out (or into its own folder)"
            )
        info = read_checkpoint_info(resume_path)
        saved = TrainOptions.from_checkpoint(info["extra"]["options"])
        opts = opts.with_training_fields_of(saved)
    else:
        if list_checkpoints(run_dir) and opts.resume == "latest":
            raise ValueError(
                f"--resume latest: {run_dir} holds checkpoints but none is complete and "
                "readable (see the notes above); move them away or choose another --out"
            )
        if list_checkpoints(run_dir):
            raise ValueError(
                f"{run_dir} already holds checkpoints: continue it with --resume latest or "
                "choose another --out"
            )
        if opts.resume == "latest" and env.is_main:
            say(f"note: no checkpoint in {run_dir} yet: starting a new run")
    extractor = None
    if any(m in opts.metrics for m in METRIC_KEYS) and opts.fid_extractor:
        from gan.metrics.fid import load_feature_extractor

        extractor = load_feature_extractor(opts.fid_extractor, env.device)

    trainer = Trainer(opts, dataset=dataset, env=env)
    o = trainer.opts
    main = env.is_main
    if resume_path is not None:
        extra = trainer.load(resume_path)
        if main:
            say(
                f"resumed from {resume_path} at step {trainer.step_idx} "
                f"({trainer.cur_nimg / 1000:.3f} kimg)"
            )
            if o.kimg is not None and trainer.cur_nimg >= o.kimg * 1000:
                # The loop would stop before its first step and report the checkpoint's
                # length as if this session had trained it.
                say(
                    f"note: the checkpoint is already at {trainer.cur_nimg / 1000:.3f} kimg "
                    f">= --kimg {o.kimg:g}: nothing to train (raise --kimg to continue)"
                )
            saved_world = extra.get("world_size")  # absent in checkpoints before 2026-11-28
            if saved_world is not None and saved_world != env.world_size:
                say(
                    f"note: the checkpoint was written by {saved_world} process(es), this run "
                    f"has {env.world_size}: training continues with the same global batch, but "
                    "data order and latents differ from an uninterrupted run, so it is not a "
                    "bit-exact continuation"
                )
    if env.is_distributed:
        # Every rank must continue from the same checkpoint, or their weights, optimizers and
        # counters part ways and the collectives stop matching (a crash or a hang).
        step = float(trainer.step_idx)
        seen = reduce_mean({"step": step, "step_sq": step * step}, env)
        if seen["step_sq"] != seen["step"] ** 2:
            where = f"from {resume_path}" if resume_path is not None else "from scratch"
            raise ValueError(
                f"--resume: the processes start at different steps (rank {env.rank}: step "
                f"{trainer.step_idx}, {where}); --out must be one folder that every node "
                "sees (shared storage), holding the run's checkpoints"
            )
    log_path, metrics_path = run_dir / "log.jsonl", run_dir / "metrics.jsonl"
    tb = None
    if main:
        from dsp._io import write_json_atomic, write_text_atomic

        run_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(run_dir / "options.json", o.to_dict())
        write_text_atomic(
            run_dir / "README.txt",
            _README.format(
                what="the StyleGAN2-style baseline generator"
                if o.config == "baseline"
                else f"an alias-free GAN (config {o.config.upper()})",
                preset=o.preset,
                res=o.res,
                data=o.data,
                keep=o.keep,
                out=run_dir,
            ),
        )
        if resume_path is not None:
            _truncate_jsonl(log_path, trainer.step_idx)
            _truncate_jsonl(metrics_path, trainer.step_idx)
        else:
            stale = _remove_stale_logs(run_dir, log_path, metrics_path)
            if stale:
                say(
                    f"note: {run_dir} held {', '.join(stale)} of an earlier run that left no "
                    "checkpoint; this run starts them afresh"
                )
        if resume_path is None or not (run_dir / "reals.png").is_file():
            # Also a run resumed into a new --out (or one whose reals.png was removed): its
            # README.txt lists the file. The grid shows the dataset's first images, the same
            # for every session of the run.
            _save_reals(trainer, run_dir / "reals.png")
        tb = _tensorboard(run_dir)
        if any(m in o.metrics for m in METRIC_KEYS) and extractor is None:
            say(
                "note: FID/KID are skipped: they need --fid-extractor FILE (a TorchScript "
                "feature extractor); nothing is downloaded"
            )
    grid_z, grid_c = _grid_latents(trainer)

    tick_steps = max(1, round(o.tick_kimg * 1000 / o.batch))
    snap_nimg = o.snap_kimg * 1000
    total_nimg = o.kimg * 1000 if o.kimg is not None else None
    t_start = time.monotonic()
    t_tick, nimg_tick = t_start, trainer.cur_nimg
    acc: dict[str, list[float]] = {}
    last_stats: dict[str, float] = {}
    last_metrics: dict[str, Any] = {}
    last_ckpt: Path | None = None
    if resume_path is not None and Path(resume_path).parent.resolve() == run_dir.resolve():
        last_ckpt = Path(resume_path)  # a resume with nothing left to train adds no snapshot
    fid_cache: dict[str, Any] = {}
    sec_per_kimg = float("nan")
    next_snap = (math.floor(trainer.cur_nimg / snap_nimg) + 1) * snap_nimg

    def run_time(now: float | None = None) -> float:
        """Wall time of the whole run so far (a resumed run's earlier sessions included)."""
        return trainer.elapsed_s + ((time.monotonic() if now is None else now) - t_start)

    def snapshot() -> None:
        nonlocal last_metrics, last_ckpt
        kimg = trainer.cur_nimg / 1000
        mets = _metrics(trainer, extractor, fid_cache) if main else {}
        trainer.prepare_checkpoint()
        if main:
            grid = run_dir / f"samples-kimg{kimg:08.3f}.png"
            _save_grid(trainer, grid, grid_z, grid_c)
            last_ckpt = trainer.save(run_dir, extra={"time_s": run_time()})
            rec = {"step": trainer.step_idx, "kimg": kimg, **mets, "grid": grid.name}
            _append_jsonl(metrics_path, rec)
            # Every snapshot, not only at the end: a run still going, or killed without its
            # final snapshot, can then be sampled (generate) and looked at.
            from gan.networks.io import save_generator

            save_generator(trainer.G_ema, run_dir / "generator")
            _plot_losses(log_path, metrics_path, run_dir / "losses.png")
            res, n = int(trainer.dataset.res), trainer.opts.grid_size
            _plot_progress(metrics_path, run_dir, res, n, run_dir / "progress.png")
            if tb is not None:
                for k, v in mets.items():
                    if isinstance(v, float):
                        tb.add_scalar(f"metrics/{k}", v, trainer.cur_nimg)
            shown = "  ".join(
                f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                for k, v in mets.items()
                if k in o.metrics and v is not None
            )
            say(f"snapshot kimg {kimg:.3f}: {grid.name}, {last_ckpt.name}  {shown}")
        else:
            # The checkpoint rank 0 writes: every rank must agree on whether the run's end
            # still needs a snapshot, or one would wait alone in its barrier.
            last_ckpt = checkpoint_at(run_dir, trainer.step_idx)
        last_metrics = mets
        barrier(env)

    def tick() -> None:
        """Log (and print) the mean statistics of the steps since the last tick."""
        nonlocal acc, t_tick, nimg_tick, last_stats, sec_per_kimg
        now = time.monotonic()
        means = reduce_mean({k: float(np.mean(v)) for k, v in acc.items()}, env)
        means["r1_steps"] = float(sum(acc.get("r1_applied", [])))
        means.pop("r1_applied", None)
        if "pl_applied" in acc:
            means["pl_steps"] = float(sum(acc["pl_applied"]))
            means.pop("pl_applied")
            # Every record of a run with it has the keys (null without a path-length step in
            # the tick, as loss_R1); a = pl_mean is state, logged always.
            for key in ("loss_Gpl", "pl_penalty"):
                means.setdefault(key, None)
            means["pl_mean"] = trainer.loss.pl_mean
        if "loss_R1" not in acc:
            means["loss_R1"] = None
        acc = {}
        dk = (trainer.cur_nimg - nimg_tick) / 1000
        sec_per_kimg = (now - t_tick) / dk if dk > 0 else float("nan")
        t_tick, nimg_tick = now, trainer.cur_nimg
        kimg = trainer.cur_nimg / 1000
        if total_nimg is not None:
            eta = (total_nimg - trainer.cur_nimg) / 1000 * sec_per_kimg
            total = f"/{total_nimg / 1000:.2f}"
        else:
            eta = o.minutes * 60 - (now - t_start)
            total = ""
        last_stats = means
        if main:
            rec = {
                "step": trainer.step_idx,
                "kimg": kimg,
                "time_s": run_time(now),
                "sec_per_kimg": sec_per_kimg,
                **means,
            }
            _append_jsonl(log_path, rec)
            if tb is not None:
                for k, v in means.items():
                    if v is not None:
                        tb.add_scalar(f"train/{k}", v, trainer.cur_nimg)
            if progress:
                r1 = means.get("loss_R1")
                say(
                    f"kimg {kimg:.2f}{total}  step {trainer.step_idx}  "
                    f"s/kimg {sec_per_kimg:.1f}  eta {_fmt_time(eta)}  "
                    f"G {means['loss_G']:.3f}  D {means['loss_D']:.3f}  "
                    f"R1 {'-' if r1 is None else f'{r1:.4f}'}  "
                    f"p {means['augment_p']:.3f}  blur {means['blur_sigma']:.2f}"
                    + (
                        f"  PL {means['loss_Gpl']:.3f}"
                        if means.get("loss_Gpl") is not None
                        else ("  PL -" if "pl_steps" in means else "")
                    )
                )

    stop = _GracefulStop(say)
    try:
        stop.install()
        while True:
            done = total_nimg is not None and trainer.cur_nimg >= total_nimg
            if max_steps is not None and trainer.step_idx >= max_steps:
                done = True
            # Time and Ctrl-C are local to each process: agree on them so all ranks stop at
            # the same step.
            flag = float(stop.requested)
            if o.minutes is not None:
                flag += float(time.monotonic() - t_start >= o.minutes * 60)
            if env.is_distributed:
                flag = reduce_sum(flag, env)
            if done or flag > 0:
                break
            stats = trainer.step()
            for k, v in stats.items():
                acc.setdefault(k, []).append(v)
            if trainer.step_idx % tick_steps == 0:
                tick()
            if trainer.cur_nimg >= next_snap:
                next_snap = (math.floor(trainer.cur_nimg / snap_nimg) + 1) * snap_nimg
                snapshot()
        ticked_last = bool(acc)
        if acc:  # the steps after the last full tick
            tick()
        if last_ckpt is None or _ckpt_step(last_ckpt) != trainer.step_idx:
            snapshot()  # also the final generator and plots
        elif ticked_last and main:
            # The snapshot of the last step ran inside the loop, before the tick above logged
            # that step: losses.png must show every record of log.jsonl.
            _plot_losses(log_path, metrics_path, run_dir / "losses.png")
        # Leave the process group together: a rank that tore gloo down while rank 0 was still
        # writing its final files aborted at exit more often ("terminate called without an
        # active exception"; the CLI's other ranks now also skip finalisation, see
        # aliasfree.commands.train).
        barrier(env)
    finally:
        trainer.close()
        stop.uninstall()
        if tb is not None:
            tb.close()
        cleanup(env)
    return {
        "run_dir": str(run_dir),
        "step": trainer.step_idx,
        "kimg": trainer.cur_nimg / 1000,
        "checkpoint": str(last_ckpt) if last_ckpt is not None else None,
        "stats": last_stats,
        "metrics": last_metrics,
        "sec_per_kimg": sec_per_kimg,
        "trainer": trainer,
        "signal": stop.signum,
    }


class _GracefulStop:
    """First Ctrl-C (SIGINT) or SIGTERM (a scheduler's preemption, ``docker stop``, torchrun
    passing its own SIGTERM on): finish the current step, write the final snapshot and
    checkpoint, and return normally; a second signal interrupts at once. Only in the main thread
    (signal handlers cannot be set elsewhere)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.requested = False
        self.signum: int | None = None
        self._old: dict[int, object] = {}

    def _handler(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.signum = int(signum)
        name = signal.Signals(signum).name
        self.say(f"{name}: stopping after this step (send it again to abort without a checkpoint)")

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._old[sig] = signal.signal(sig, self._handler)

    def uninstall(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old = {}


def _ckpt_step(path: Path) -> int:
    return int(Path(path).stem.split("-")[-1])
