"""Spectral simulation of camera pairs: curves, cameras, scenes and the camera pipeline.

Pure numpy/scipy, with ``colour-science`` (the ``simulate`` extra) for CIE data and
illuminants; importing this package does not import ``colour``.
"""

from .cameras import CAMERA_NAMES, Camera, camera
from .curves import WAVELENGTHS_NM, SpectralCurves, load_curves, package_curves
from .library import ILLUMINANT_NAMES, LIBRARY_NAMES, illuminant, reflectances
from .scenes import CATEGORIES, SpectralScene, make_scene, make_scenes, read_scene, save_scene
from .simulate import CameraSettings, simulate_pair, simulate_pairs

__all__ = [
    "CAMERA_NAMES",
    "CATEGORIES",
    "ILLUMINANT_NAMES",
    "LIBRARY_NAMES",
    "WAVELENGTHS_NM",
    "Camera",
    "CameraSettings",
    "SpectralCurves",
    "SpectralScene",
    "camera",
    "illuminant",
    "load_curves",
    "make_scene",
    "make_scenes",
    "package_curves",
    "read_scene",
    "reflectances",
    "save_scene",
    "simulate_pair",
    "simulate_pairs",
]
