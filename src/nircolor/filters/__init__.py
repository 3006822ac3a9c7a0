"""Edge-aware filters for colorized images, and what finishes a colorization."""

from .denoise import check_denoise, denoise_input, denoise_nir, estimate_noise
from .detail import DetailTransfer, shift_lightness, transfer_detail
from .finish import Finish
from .guided import GuidedFilter, apply_guided, guided_filter

__all__ = [
    "DetailTransfer",
    "Finish",
    "GuidedFilter",
    "apply_guided",
    "check_denoise",
    "denoise_input",
    "denoise_nir",
    "estimate_noise",
    "guided_filter",
    "shift_lightness",
    "transfer_detail",
]
