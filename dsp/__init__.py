"""``dsp``: the standalone signal-processing core (numpy, scipy, numba; never torch).

Modules, one concept each (see docs/ARCHITECTURE.md):

- ``sampling``: Dirac-comb sampling of continuous 1D/2D signals.
- ``signals``: analytic test signals with known spectra.
- ``interpolation``: Whittaker–Shannon (sinc, jinc, Dirichlet) reconstruction, fractional
  shift, rational resampling, band-limited rotation.
- ``kaiser`` and ``filters``: Kaiser window formulas, windowed-sinc and jinc low-pass design,
  polyphase decomposition.
- ``response``: 1D/2D frequency responses, radial profiles, figures of merit.
- ``resample``: upfirdn in 1D and 2D, the float64 filtered nonlinearity.
- ``spectrum``: windowed average power spectra, radial averages and slices.
- ``aliasing``: aliasing analyzers on feature-map batches (out-of-band energy, folds,
  nonlinearity aliasing).
- ``imagefiles``: reading a folder or zip of images into arrays (Pillow).
- ``figures``: the paper's illustrative experiments as arrays (e.g. Fig. 2).
- ``schedule``: the alias-free generator's layer schedule.
- ``plots``: matplotlib figures for all of the above (imported on demand).

Submodules are imported on demand so that ``import dsp`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "aliasing",
    "figures",
    "filters",
    "imagefiles",
    "interpolation",
    "kaiser",
    "plots",
    "resample",
    "response",
    "sampling",
    "schedule",
    "signals",
    "spectrum",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
