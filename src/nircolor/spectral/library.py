"""Illuminants and reflectance libraries for building spectral scenes.

Illuminants (:data:`ILLUMINANT_NAMES`) come from ``colour-science`` (daylight as the ASTM
G-173 global-tilt solar spectrum, 280–4000 nm; CIE A as Planck's law at 2856 K, valid at every
wavelength; CIE D65, tabulated to 780 nm and held at its last value beyond, so use
``daylight`` for the NIR) or from the packaged ISETCam lamps measured to 1068 nm
(``booth-A``, ``booth-CWF``, ``booth-DAY``, ``booth-U30``); any other name is a CSV file.

Reflectances (:data:`LIBRARY_NAMES`): the measured Macbeth and Esser charts and skin shipped
with nircolor, and two models for materials with no measured spectrum here (the ``earthlib``
library is not used): ``vegetation``, a leaf with chlorophyll absorption in the blue and red,
a green peak, and the red edge (a logistic rise centred at 700–730 nm to a 0.35–0.6 NIR
plateau, with the 970 nm water dip), and ``soil``, a smooth reflectance rising from the blue
to the NIR. Both are drawn with random parameters from a seeded generator.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..extras import require_extra
from .curves import SpectralCurves, load_curves, package_curves

ILLUMINANT_NAMES = ("daylight", "A", "D65", "booth-A", "booth-CWF", "booth-DAY", "booth-U30")
LIBRARY_NAMES = ("macbeth", "esser", "skin", "vegetation", "soil")
MEASURED = {
    "macbeth": "reflectances/macbeth_chart_24",
    "esser": "reflectances/esser_chart_113",
    "skin": "reflectances/skin_asian_hyspex_21",
}
# ISET stores the chart's 4 rows × 6 columns column by column; this lists, for each patch of
# the usual row-by-row reading order (dark skin ... black), its ISET column.
MACBETH_ISET_COLUMN = tuple((patch % 6) * 4 + patch // 6 for patch in range(24))


def illuminant(name: str | os.PathLike, wavelength_nm: np.ndarray) -> np.ndarray:
    """Spectral power (energy units) of an illuminant on ``wavelength_nm``, peak 1.

    Raises
    ------
    DataError
        For an unknown name that is not a curves file, or a file that does not cover the grid.
    """
    grid = np.asarray(wavelength_nm, dtype=np.float64)
    name = str(name)
    if name.startswith("booth-"):
        lamp = name.removeprefix("booth-")
        if name not in ILLUMINANT_NAMES:
            raise DataError(f"unknown lamp {name!r}; known: {', '.join(ILLUMINANT_NAMES)}")
        curves = package_curves(f"illuminants/booth_{lamp}_380_1068")
        power = curves.resample(grid).values[:, 0]
    elif name in ("daylight", "A", "D65"):
        power = _colour_illuminant(name, grid)
    else:
        path = Path(name).expanduser()
        if not path.is_file():
            known = ", ".join(ILLUMINANT_NAMES)
            raise DataError(f"{name}: not an illuminant ({known}) nor a curves file")
        power = load_curves(path).resample(grid).values[:, 0]
    if power.max() <= 0 or np.any(power < 0):
        raise DataError(f"illuminant {name}: power must be ≥ 0 and not all 0")
    return power / power.max()


def _colour_illuminant(name: str, grid: np.ndarray) -> np.ndarray:
    require_extra("simulate", f"the {name!r} illuminant")
    import colour

    if name == "A":
        # CIE A is defined by Planck's law at 2856 K (CIE 15), so it extends into the NIR.
        return colour.colorimetry.planck_law(grid * 1e-9, 2856.0)
    if name == "D65":
        sd = colour.SDS_ILLUMINANTS["D65"]
    else:
        with warnings.catch_warnings():  # colour warns when matplotlib is not installed
            warnings.simplefilter("ignore")
            from colour.plotting.datasets.astm_g_173 import SD_ASTMG173_GLOBAL_TILT as sd
    curves = SpectralCurves(sd.wavelengths, sd.values, (name,), f"colour:{name}")
    return curves.resample(grid, outside="edge").values[:, 0]


def reflectances(
    name: str, wavelength_nm: np.ndarray, count: int = 24, seed: int = 0
) -> np.ndarray:
    """Reflectance spectra of a library on ``wavelength_nm``, shape ``(k, n)``.

    Measured libraries return all their spectra (the Macbeth chart in the usual reading
    order); skin, measured over 415–950 nm, is held at its end values outside. Models return
    ``count`` spectra drawn with ``seed``.
    """
    grid = np.asarray(wavelength_nm, dtype=np.float64)
    if name in MEASURED:
        values = package_curves(MEASURED[name]).resample(grid, outside="edge").values.T
        if name == "macbeth":
            values = values[list(MACBETH_ISET_COLUMN)]
        return np.clip(values, 0.0, 1.0)
    rng = np.random.default_rng(seed)
    if name == "vegetation":
        return np.stack([vegetation_reflectance(grid, rng) for _ in range(count)])
    if name == "soil":
        return np.stack([soil_reflectance(grid, rng) for _ in range(count)])
    raise DataError(f"unknown reflectance library {name!r}; known: {', '.join(LIBRARY_NAMES)}")


def vegetation_reflectance(wavelength_nm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One green-leaf reflectance from the red-edge model (see the module docstring)."""
    wave = np.asarray(wavelength_nm, dtype=np.float64)
    edge_nm = rng.uniform(700.0, 730.0)
    plateau = rng.uniform(0.35, 0.6)
    green = rng.uniform(0.08, 0.18)
    visible = 0.04 + green * np.exp(-0.5 * ((wave - 550.0) / 35.0) ** 2)
    rise = 1.0 / (1.0 + np.exp(-(wave - edge_nm) / 12.0))
    water = 1.0 - rng.uniform(0.02, 0.08) * np.exp(-0.5 * ((wave - 970.0) / 25.0) ** 2)
    return np.clip((visible + (plateau - visible) * rise) * water, 0.0, 1.0)


def soil_reflectance(wavelength_nm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One soil reflectance: a smooth, saturating rise from the blue into the NIR."""
    wave = np.asarray(wavelength_nm, dtype=np.float64)
    base = rng.uniform(0.04, 0.12)
    gain = rng.uniform(0.15, 0.35)
    scale_nm = rng.uniform(200.0, 400.0)
    return np.clip(base + gain * (1.0 - np.exp(-(wave - 400.0) / scale_nm)), 0.0, 1.0)
