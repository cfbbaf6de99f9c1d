"""Training of the reference alias-free generator: data, losses, checkpoints and the loop.

The names a user starts from: :class:`TrainOptions` (every setting, REFERENCE §6 defaults),
:func:`train` (the whole run: folder, snapshots, metrics, checkpoints, resume), :class:`Trainer`
(one step at a time, for your own loop), :class:`ImageDataset` and :func:`make_dataset` (a
training zip from a folder of images).
"""

from .data import ImageDataset
from .dataset_tool import make_dataset
from .loop import Trainer, train
from .options import TrainOptions

__all__ = ["ImageDataset", "TrainOptions", "Trainer", "make_dataset", "train"]
