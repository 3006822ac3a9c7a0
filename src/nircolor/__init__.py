"""nircolor: near-infrared to colour image colorization.

Quick start::

    import nircolor
    nir = nircolor.read_nir("scene_nir.png")       # (H, W) float32 in [0, 1]
    rgb = nircolor.colorize(nir, model="default")  # (H, W, 3) float32 in [0, 1]
    nircolor.write_image("scene_rgb.png", rgb)
"""

from .api import colorize, colorize_file
from .detection import Detection
from .detection.api import detect
from .errors import NircolorError
from .io import read_image, read_nir, read_rgb, write_image
from .models import list_models, load_model


def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:  # written once, in pyproject.toml
        return version("nircolor")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


__version__ = _installed_version()
del _installed_version  # the package's names are its API: __version__ only

__all__ = [
    "Detection",
    "NircolorError",
    "colorize",
    "colorize_file",
    "detect",
    "list_models",
    "load_model",
    "read_image",
    "read_nir",
    "read_rgb",
    "write_image",
]
