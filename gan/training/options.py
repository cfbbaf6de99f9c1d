"""Options of a training run (REFERENCE §6): one frozen dataclass, JSON round-trippable.

Fields left ``None`` take the values of REFERENCE §6 once the resolution is known
(:meth:`TrainOptions.resolved`):

- G lr 0.0025 (baseline 0.002), D lr 0.002, Adam β = (0, 0.99), ε = 1e-8;
- R1 γ = 0.5·(res/128)² (0.5 at 128, 2 at 256, 8 at 512, 32 at 1024), lazy every 16 steps;
- G EMA half-life ``batch·10/32`` kimg with ramp-up 0.05;
- config R: D's inputs blurred with a Gaussian of σ = 10 px fading linearly to 0 over
  ``batch·200/32`` kimg (the paper; configs T and the baseline: no blur).
- ``tiny`` size: configs T and R both blur D's inputs, σ = ``res/16`` px (2 px at 32 px) fading
  over 40 kimg. Measured on the built-in faces (2026-11-27, 2 CPU cores): without it config T's
  32-channel generator answers D's sharp gradients with thin curved strokes shared by most
  samples (from ≈ 3 kimg, still there at 20 kimg); with it the first kimg give blurry, varied
  faces, and with a short fade the strokes come back once σ falls below ≈ 0.5 px (6 kimg
  helped little, 20 kimg held them off until ≈ 17 kimg). With 40 kimg the faces stay varied
  and stroke-free to the end of the fade; after it a shared overlay of straight bars slowly
  grows over them (45–48 kimg, measured 2026-11-28; benchmarks/RESULTS.md). The paper's 10 px
  is for 256 px images, and its ``batch·200/32`` = 100 kimg fade would last an hour of a CPU
  run. An explicit ``blur_sigma`` applies to every config.
- The baseline trains as StyleGAN2 does: style mixing with probability 0.9 (each batch's ws
  switch to a second latent's from a random layer on) and lazy path-length regularisation
  every 4 steps, weight 2 (G's Adam then runs with ``lr·4/5``, ``β ** (4/5)``); configs T and R
  without either, as in the alias-free GAN paper.
- ADA: p moves by 1 in 500 kimg (ADA's value; ``tiny``: 10 kimg, so that it can react within a
  minutes-long run on a small dataset).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from dsp._checks import check_int, check_power_of_two, check_real

__all__ = ["TrainOptions", "CONFIGS", "SIZES", "METRICS", "TRAINING_FIELDS", "default_r1_gamma"]

CONFIGS = ("t", "r", "baseline")
SIZES = ("tiny", "paper")
AUGMENTS = ("ada", "noaug")
METRICS = ("eqt", "eqt_frac", "eqr", "fid", "kid")
DEVICES = ("auto", "cpu", "cuda")

#: Fields that define the optimisation itself: a resumed run takes these from the checkpoint so
#: that it continues exactly; the others (length, output, metrics, device) may change.
TRAINING_FIELDS = (
    "config",
    "size",
    "data",
    "res",
    "batch",
    "xflip",
    "use_labels",
    "max_images",
    "g_lr",
    "d_lr",
    "betas",
    "eps",
    "r1_gamma",
    "r1_interval",
    "style_mixing",
    "pl_weight",
    "pl_interval",
    "ema_kimg",
    "ema_rampup",
    "blur_sigma",
    "blur_fade_kimg",
    "augment",
    "augment_p",
    "ada_lumaflip",
    "ada_target",
    "ada_interval",
    "ada_kimg",
    "seed",
    "init_seed",
)


# kimg for ADA's p to move by 1: ADA's 500 for runs of thousands of kimg; a few kimg for the
# minutes-long CPU runs of the tiny networks, whose D otherwise overfits the small built-in set
# long before p can move.
_ADA_KIMG = {"paper": 500.0, "tiny": 10.0}

# kimg over which the tiny size's D input blur fades (module docstring): about 25 minutes of a
# 2-core CPU run, the length of run a CPU user makes of the tiny networks.
_TINY_BLUR_FADE_KIMG = 40.0


#: Training fields added after the first checkpoints were written, with the behaviour of the
#: code before them (2026-11-28: the baseline trained without style mixing and path-length
#: regularisation, and ADA's pipeline had no luma flip).
_ADDED_FIELDS = {"style_mixing": 0.0, "pl_weight": 0.0, "pl_interval": 4, "ada_lumaflip": False}


def default_r1_gamma(res: int) -> float:
    """R1 weight γ = 0.5·(res/128)² (REFERENCE §6: 0.5 at 128, 2 at 256, 8 at 512, 32 at 1024)."""
    return 0.5 * (res / 128) ** 2


@dataclass(frozen=True)
class TrainOptions:
    """Settings of one training run.

    Parameters
    ----------
    config : {"t", "r", "baseline"}
        Generator: alias-free config T or R, or the StyleGAN2-style baseline.
    size : {"tiny", "paper"}
        Capacity preset: ``"tiny"`` (``t-tiny`` ...: trains on a laptop CPU) or the paper's.
    data : str or path-like
        ``"builtin"``, ``"builtin:lfw"``, ``"builtin:textures"``, a folder or a ``.zip``
        (path-like values of ``data``, ``out``, ``resume`` and ``fid_extractor`` are stored as
        ``str``).
    res : int, optional
        Resolution (power of two, 16…1024); None: the dataset's (32 for the built-in data).
    batch : int
        Global batch size (over all processes), ``>= 1``.
    kimg, minutes : float, optional
        Length: stop after ``kimg`` thousand real images shown to D in total, or after
        ``minutes`` of wall time in this session. At most one; neither: 5 minutes.
    g_lr, d_lr : float, optional
        Adam learning rates (None: 0.0025 / 0.002 for the baseline; D 0.002).
    betas, eps : Adam's β and ε.
    r1_gamma : float, optional
        R1 weight; None: :func:`default_r1_gamma`; 0 disables R1.
    r1_interval : int
        Lazy R1 every ``r1_interval`` steps (weighted by it; D's lr ×I/(I+1), betas **I/(I+1)).
    style_mixing : float, optional
        Probability that a batch's ws switch from its latents' to a second latent's at a
        random layer (StyleGAN2's mixing regularisation), in ``[0, 1]``; None: 0.9 for the
        baseline, 0 for configs T and R.
    pl_weight : float, optional
        Weight of StyleGAN2's path-length regulariser (``>= 0``; 0 disables it); None: 2 for
        the baseline, 0 for configs T and R (which cannot take it: the alias-free generator's
        fused filtered leaky ReLU has no second derivative on the GPU).
    pl_interval : int
        Lazy path-length regularisation every ``pl_interval`` steps (weighted by it; G's lr
        ×I/(I+1), betas **I/(I+1)).
    ema_kimg : float, optional
        Half-life of the G EMA in kimg (None: ``batch·10/32``).
    ema_rampup : float, optional
        EMA ramp-up: half-life at most ``cur_nimg·ema_rampup`` images (None: no ramp-up).
    blur_sigma : float, optional
        Initial σ in pixels of D's input blur, any config (None: config R 10 px, the others
        none; ``tiny``: configs T and R ``res/16`` px; see the module docstring). 0 disables.
    blur_fade_kimg : float, optional
        kimg over which σ fades linearly to 0 (None: ``batch·200/32``; ``tiny``: 40).
    augment : {"ada", "noaug"}
        Adaptive discriminator augmentation or none.
    augment_p : float
        Initial augmentation probability in ``[0, 1]`` (ADA then steers it).
    ada_lumaflip : bool
        Include ADA's luma flip in the colour transforms (the "bgc" pipeline has it; runs
        checkpointed before it existed resume without it).
    ada_target, ada_interval, ada_kimg : ADA's target of E[sign D(real)], the number of steps
        between updates of p and the kimg for p to move by 1 (None: 500; ``tiny``: 10).
    xflip : bool
        Add mirrored copies of the dataset (``xflip``, ``use_labels`` and ``fp16`` must be
        booleans: a string such as ``"no"`` is an error, not a truthy value).
    use_labels : bool
        Condition G and D on the ``dataset.json`` class labels.
    max_images : int, optional
        Use only the first images of the dataset.
    snap_kimg : float
        Snapshot (image grid, metrics, checkpoint) every this many kimg, and at the end.
    tick_kimg : float
        Progress line and log record every this many kimg.
    metrics : tuple of str
        Subset of ``("eqt", "eqt_frac", "eqr", "fid", "kid")`` computed at snapshots; FID/KID
        only with ``fid_extractor``.
    metric_samples : int
        Latents per equivariance metric (the paper: 50000; small here to stay cheap).
    fid_extractor : str, optional
        TorchScript feature extractor file for FID/KID (nothing is downloaded).
    fid_samples : int
        Generated images for FID/KID.
    grid_size : int
        Number of fixed latents in the snapshot grids.
    out : str
        Run directory.
    resume : str, optional
        ``"latest"`` or a checkpoint path.
    keep : int
        Checkpoints kept.
    seed : int
        Seed of the data order, latents and augmentation (each a function of (seed, step)).
    init_seed : int
        Seed of the networks' initialisation.
    device : {"auto", "cpu", "cuda"}
    fp16 : bool, optional
        Mixed precision (bfloat16 autocast); None: on when the device is CUDA. True also works
        on the CPU (no faster there; it is how the tests exercise the mixed-precision path).
    loader_threads : int, optional
        Threads that read and decode the next step's reals while the current step trains
        (``gan.training.prefetch``); 0 reads them on the main thread when needed. None: 4 (at
        most the CPUs) with CUDA for an image folder or zip, else 0 (on the CPU the threads
        would compete with the training for the cores; the built-in sets are in memory). A
        dataset object given to :class:`~gan.training.loop.Trainer` is read from several
        threads only when asked for explicitly. The reals are the same either way.
    """

    config: str = "t"
    size: str = "tiny"
    data: str = "builtin"
    res: int | None = None
    batch: int = 16
    kimg: float | None = None
    minutes: float | None = None
    g_lr: float | None = None
    d_lr: float | None = None
    betas: tuple[float, float] = (0.0, 0.99)
    eps: float = 1e-8
    r1_gamma: float | None = None
    r1_interval: int = 16
    style_mixing: float | None = None
    pl_weight: float | None = None
    pl_interval: int = 4
    ema_kimg: float | None = None
    ema_rampup: float | None = 0.05
    blur_sigma: float | None = None
    blur_fade_kimg: float | None = None
    augment: str = "ada"
    augment_p: float = 0.0
    ada_lumaflip: bool = True
    ada_target: float = 0.6
    ada_interval: int = 4
    ada_kimg: float | None = None
    xflip: bool = False
    use_labels: bool = False
    max_images: int | None = None
    snap_kimg: float = 1.0
    tick_kimg: float = 0.1
    metrics: tuple[str, ...] = ("eqt", "eqt_frac", "eqr")
    metric_samples: int = 16
    fid_extractor: str | None = None
    fid_samples: int = 1000
    grid_size: int = 16
    out: str = "runs/train"
    resume: str | None = None
    keep: int = 3
    seed: int = 0
    init_seed: int = 0
    device: str = "auto"
    loader_threads: int | None = None
    fp16: bool | None = None

    def __post_init__(self) -> None:
        def choice(name: str, allowed: tuple[str, ...]) -> None:
            v = getattr(self, name)
            if v not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {v!r}")

        def flag(name: str, optional: bool = False) -> None:
            # Any truthy value would do otherwise: xflip="no" would mirror the data.
            v = getattr(self, name)
            if optional and v is None:
                return
            if not isinstance(v, bool | np.bool_):
                allowed = "True, False or None" if optional else "True or False"
                raise ValueError(f"{name} must be {allowed}, got {v!r}")
            object.__setattr__(self, name, bool(v))

        def path(name: str, optional: bool) -> None:
            # A pathlib.Path is a path too; stored as str so that to_dict stays JSON-able.
            v = getattr(self, name)
            if isinstance(v, os.PathLike):
                v = os.fspath(v)
                object.__setattr__(self, name, v)
            if optional and v is None:
                return
            if not isinstance(v, str) or not (v or optional):  # "" = None for the optional ones
                what = {
                    "data": "'builtin' or a path (str or os.PathLike)",
                    "out": "a directory path (str or os.PathLike)",
                    "resume": "None, 'latest' or a checkpoint path (str or os.PathLike)",
                    "fid_extractor": "None or the path of a TorchScript file",
                }[name]
                raise ValueError(f"{name} must be {what}, got {v!r}")

        choice("config", CONFIGS)
        choice("size", SIZES)
        choice("augment", AUGMENTS)
        choice("device", DEVICES)
        path("data", optional=False)
        path("out", optional=False)
        path("resume", optional=True)
        path("fid_extractor", optional=True)
        flag("xflip")
        flag("ada_lumaflip")
        flag("use_labels")
        flag("fp16", optional=True)
        if self.res is not None:
            check_power_of_two("res", self.res, 16, 1024)
        check_int("batch", self.batch, minimum=1)
        if self.kimg is not None and self.minutes is not None:
            raise ValueError("give at most one of kimg and minutes")
        if self.kimg is not None:
            check_real("kimg", self.kimg, low=0.0, low_inclusive=False)
        if self.minutes is not None:
            check_real("minutes", self.minutes, low=0.0, low_inclusive=False)
        for name in ("g_lr", "d_lr", "r1_gamma", "ema_kimg", "blur_sigma", "blur_fade_kimg"):
            v = getattr(self, name)
            if v is not None:
                check_real(name, v, low=0.0, low_inclusive=name in ("r1_gamma", "blur_sigma"))
        if self.ema_rampup is not None:
            check_real("ema_rampup", self.ema_rampup, low=0.0, low_inclusive=False)
        betas = tuple(self.betas) if isinstance(self.betas, tuple | list) else ()
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair, got {self.betas!r}")
        for b in betas:
            check_real("betas", b, low=0.0, high=1.0, high_inclusive=False)
        object.__setattr__(self, "betas", (float(betas[0]), float(betas[1])))
        check_real("eps", self.eps, low=0.0, low_inclusive=False)
        check_int("r1_interval", self.r1_interval, minimum=1)
        if self.style_mixing is not None:
            check_real("style_mixing", self.style_mixing, low=0.0, high=1.0)
        if self.pl_weight is not None:
            check_real("pl_weight", self.pl_weight, low=0.0)
            if self.pl_weight > 0 and self.config != "baseline":
                raise ValueError(
                    f"pl_weight must be 0 for config {self.config!r}: path-length "
                    "regularisation needs the generator's second derivatives, which the fused "
                    "filtered leaky ReLU of the alias-free generators does not provide (the "
                    "paper trains configs T and R without it); it is for the baseline"
                )
        check_int("pl_interval", self.pl_interval, minimum=1)
        if self.loader_threads is not None:
            check_int("loader_threads", self.loader_threads, minimum=0, maximum=64)
        check_real("augment_p", self.augment_p, low=0.0, high=1.0)
        check_real(  # as AdaController: r_t <= 1, so a target of 1 could only lower p
            "ada_target",
            self.ada_target,
            low=0.0,
            high=1.0,
            low_inclusive=False,
            high_inclusive=False,
        )
        check_int("ada_interval", self.ada_interval, minimum=1)
        if self.ada_kimg is not None:
            check_real("ada_kimg", self.ada_kimg, low=0.0, low_inclusive=False)
        if self.max_images is not None:
            check_int("max_images", self.max_images, minimum=1)
        check_real("snap_kimg", self.snap_kimg, low=0.0, low_inclusive=False)
        check_real("tick_kimg", self.tick_kimg, low=0.0, low_inclusive=False)
        if isinstance(self.metrics, str):
            metrics = (self.metrics,)
        elif isinstance(self.metrics, tuple | list):
            metrics = tuple(self.metrics)
        else:
            raise ValueError(f"metrics must be a subset of {METRICS}, got {self.metrics!r}")
        bad = [m for m in metrics if m not in METRICS]
        if bad:
            raise ValueError(f"metrics must be a subset of {METRICS}, got {list(metrics)}")
        object.__setattr__(self, "metrics", tuple(dict.fromkeys(metrics)))
        check_int("metric_samples", self.metric_samples, minimum=1)
        check_int("fid_samples", self.fid_samples, minimum=2)
        check_int("grid_size", self.grid_size, minimum=1, maximum=256)
        check_int("keep", self.keep, minimum=1)
        check_int("seed", self.seed, minimum=0, maximum=2**31 - 1)
        check_int("init_seed", self.init_seed, minimum=0, maximum=2**31 - 1)

    @property
    def preset(self) -> str:
        """The network preset name (``"t-tiny"``, ``"r"``, ...)."""
        return f"{self.config}-tiny" if self.size == "tiny" else self.config

    def resolved(self, res: int) -> TrainOptions:
        """A copy with every ``None`` hyperparameter set from REFERENCE §6 for resolution
        ``res`` (the dataset's when ``self.res`` is None)."""
        res = int(self.res if self.res is not None else res)
        base = self.config == "baseline"
        blur, fade = self.blur_sigma, self.blur_fade_kimg
        if blur is None:
            if self.size == "paper":
                blur = 10.0 if self.config == "r" else 0.0
            else:
                blur = res / 16 if self.config in ("t", "r") else 0.0
        if fade is None:
            fade = self.batch * 200 / 32 if self.size == "paper" else _TINY_BLUR_FADE_KIMG
        return dataclasses.replace(
            self,
            res=res,
            g_lr=self.g_lr
            if self.g_lr is not None
            else (0.002 if self.config == "baseline" else 0.0025),
            d_lr=self.d_lr if self.d_lr is not None else 0.002,
            r1_gamma=self.r1_gamma if self.r1_gamma is not None else default_r1_gamma(res),
            style_mixing=(
                self.style_mixing if self.style_mixing is not None else (0.9 if base else 0.0)
            ),
            pl_weight=self.pl_weight if self.pl_weight is not None else (2.0 if base else 0.0),
            ema_kimg=self.ema_kimg if self.ema_kimg is not None else self.batch * 10 / 32,
            blur_sigma=blur,
            blur_fade_kimg=fade,
            ada_kimg=self.ada_kimg if self.ada_kimg is not None else _ADA_KIMG[self.size],
            minutes=self.minutes if (self.minutes is not None or self.kimg is not None) else 5.0,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (tuples become lists)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["betas"] = list(self.betas)
        d["metrics"] = list(self.metrics)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainOptions:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown TrainOptions fields: {unknown}")
        kw = dict(d)
        for key in ("betas", "metrics"):
            if isinstance(kw.get(key), list):  # JSON arrays; anything else is checked as given
                kw[key] = tuple(kw[key])
        return cls(**kw)

    @classmethod
    def from_checkpoint(cls, d: dict[str, Any]) -> TrainOptions:
        """:meth:`from_dict` of the options a checkpoint stores, with the fields added after it
        was written set to what the code that wrote it did (:data:`_ADDED_FIELDS`), so that
        resuming an older run continues it as it was trained."""
        return cls.from_dict({**_ADDED_FIELDS, **d})

    def with_training_fields_of(self, saved: TrainOptions) -> TrainOptions:
        """This run's options with the optimisation fields (:data:`TRAINING_FIELDS`) taken
        from ``saved`` (a checkpoint's), so that a resumed run continues exactly."""
        return dataclasses.replace(self, **{k: getattr(saved, k) for k in TRAINING_FIELDS})
