"""The alias-free ops on torch tensors: ``upfirdn2d`` and ``filtered_lrelu`` (REFERENCE §4).

Two backends behind one dispatcher: a plain-PyTorch reference (:mod:`gan.ops.reference`, any
device and dtype, torch autograd) and Triton kernels (``gan.ops._triton``, CUDA, imported only
when used). ``impl=None`` follows the environment variable ``ALIASFREE_OPS_IMPL``
(``auto`` | ``ref`` | ``triton``; default ``auto``).
"""

from ._params import ENV_IMPL, FallbackWarning, output_size
from .filtered_lrelu import filtered_lrelu
from .filters import lowpass_filter, to_filter_tensor
from .upfirdn2d import upfirdn2d

__all__ = [
    "ENV_IMPL",
    "FallbackWarning",
    "filtered_lrelu",
    "lowpass_filter",
    "output_size",
    "to_filter_tensor",
    "upfirdn2d",
]
