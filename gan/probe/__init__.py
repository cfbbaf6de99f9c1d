"""Per-layer aliasing probe for any ``torch.nn.Module``. See REFERENCE §5 and §7.

``probe_model(model, inputs)`` attaches forward hooks (the model is not modified), runs a batch
of ``[N, C, H, W]`` inputs and measures, per layer and per channel:

1. downsampling aliasing of rate-lowering layers (out-of-band energy and fold classification of
   the stride-1 equivalent output, ``dsp.aliasing``);
2. nonlinearity aliasing of pointwise nonlinearities (``dsp.aliasing.nonlinearity_aliasing``);
3. per-layer equivariance PSNR under integer and fractional input shifts.

The result is a ``ProbeReport`` (table, CSV, JSON, spectra for ``gan.probe.plots``).
"""

from gan.probe.measures import probe_model
from gan.probe.report import (
    FOLD_KEYS,
    PSNR_CAP_DB,
    LayerRow,
    ProbeReport,
    Spectrum,
    Stat,
    equivariance_key,
    higher_is_worse,
)

__all__ = [
    "probe_model",
    "ProbeReport",
    "LayerRow",
    "Stat",
    "Spectrum",
    "FOLD_KEYS",
    "PSNR_CAP_DB",
    "equivariance_key",
    "higher_is_worse",
]
