"""nircolor: near-infrared to colour image colorization.

Quick start::

    import nircolor
    nir = nircolor.read_nir("scene_nir.png")       # (H, W) float32 in [0, 1]
    rgb = nircolor.colorize(nir, model="default")  # (H, W, 3) float32 in [0, 1]
    nircolor.write_image("scene_rgb.png", rgb)
"""

from importlib.metadata import PackageNotFoundError, version

from .api import colorize, colorize_file
from .errors import NircolorError
from .io import read_image, read_nir, read_rgb, write_image
from .models import list_models, load_model

try:  # written once, in pyproject.toml
    __version__ = version("nircolor")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "NircolorError",
    "colorize",
    "colorize_file",
    "list_models",
    "load_model",
    "read_image",
    "read_nir",
    "read_rgb",
    "write_image",
]
