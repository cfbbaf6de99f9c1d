"""Equivariance metrics (EQ-T, EQ-T_frac, EQ-R; REFERENCE §5), texture-sticking panels
(paper Fig. 1) and transform videos for any generator with the project's interface."""

from .equivariance import (
    METRICS,
    EquivarianceResult,
    bandlimit,
    eq_r,
    eq_t,
    eq_t_frac,
    format_db,
    measure,
    psnr,
    rotate_bandlimited,
    shift_fractional,
    shift_integer,
)
from .sticking import average_of_neighbourhood, plot_sticking, slice_over_interpolation
from .video import image_grid, latents_from_seeds, save_gif, save_image, transform_video

__all__ = [
    "METRICS",
    "EquivarianceResult",
    "average_of_neighbourhood",
    "bandlimit",
    "eq_r",
    "eq_t",
    "eq_t_frac",
    "format_db",
    "image_grid",
    "latents_from_seeds",
    "measure",
    "plot_sticking",
    "psnr",
    "rotate_bandlimited",
    "save_gif",
    "save_image",
    "shift_fractional",
    "shift_integer",
    "slice_over_interpolation",
    "transform_video",
]
