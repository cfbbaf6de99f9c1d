"""matplotlib figures for the DSP core, one submodule per concept.

Only this subpackage imports matplotlib. Every function returns a ``matplotlib.figure.Figure``
and never calls ``plt.show()``; ``save_figure`` writes one atomically.
"""

from ._save import save_figure

__all__ = ["save_figure"]
