"""Camera models: the spectral sensitivity of each channel (sensor QE × colour filter × lens
filters), and the integral that turns spectral radiance into sensor signal.

Named cameras (:data:`CAMERA_NAMES`):

``visible``
    The Nikon D200 RGB sensor (its sensitivities measured without the IR-cut filter) behind
    the Schott IR-cut filter: an ordinary colour camera.
``nir``
    The ON Semi MT9V024 monochrome sensor behind a 720 nm IR-pass filter: an NIR camera.
``visible-noircut``
    The bare D200 sensor, which also sees the NIR (to measure what the IR cut removes).

Any other name is read as a CSV file of the channels' final sensitivities (one column: a
mono camera; three: R, G, B), in the format of :func:`~.curves.load_curves`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from .curves import SpectralCurves, load_curves, package_curves

CAMERA_NAMES = ("visible", "nir", "visible-noircut")


@dataclass(frozen=True)
class Camera:
    """A camera's channel sensitivities (relative; exposure sets the absolute scale).

    Attributes
    ----------
    name : str
        What the user called it.
    sensitivities : SpectralCurves
        One curve per channel: 3 (R, G, B) or 1 (mono).
    """

    name: str
    sensitivities: SpectralCurves

    def __post_init__(self) -> None:
        channels = self.sensitivities.values.shape[1]
        if channels not in (1, 3):
            raise DataError(f"camera {self.name}: needs 1 or 3 channels, not {channels}")
        if np.any(self.sensitivities.values < 0) or not np.any(self.sensitivities.values > 0):
            raise DataError(f"camera {self.name}: sensitivities must be ≥ 0 and not all 0")

    @property
    def channels(self) -> int:
        """3 for an RGB camera, 1 for a mono camera."""
        return self.sensitivities.values.shape[1]

    def band_nm(self, fraction: float = 0.01) -> tuple[float, float]:
        """The range where some channel exceeds ``fraction`` of the peak sensitivity."""
        curves = self.sensitivities
        strong = np.flatnonzero(curves.values.max(axis=1) > fraction * curves.values.max())
        return float(curves.wavelength_nm[strong[0]]), float(curves.wavelength_nm[strong[-1]])

    def share_within(self, low_nm: float, high_nm: float) -> float:
        """The smallest share, over channels, of the sensitivity (its integral) that lies in
        ``low_nm``–``high_nm``."""
        curves = self.sensitivities
        inside = (curves.wavelength_nm >= low_nm) & (curves.wavelength_nm <= high_nm)
        weights = curves.values * band_widths(curves.wavelength_nm)[:, None]
        return float(np.min(weights[inside].sum(axis=0) / weights.sum(axis=0)))

    def on_grid(self, wavelength_nm: np.ndarray) -> np.ndarray:
        """The sensitivities resampled onto ``wavelength_nm`` (0 outside the measured range:
        silicon stops responding), shape ``(n, channels)``."""
        return self.sensitivities.resample(wavelength_nm, outside="zero").values

    def respond(self, photons: np.ndarray, wavelength_nm: np.ndarray) -> np.ndarray:
        """Sensor signal ∫ photons(λ) · sensitivity(λ) dλ per channel.

        Parameters
        ----------
        photons : ndarray, shape (..., n)
            Spectral photon radiance on ``wavelength_nm`` (any units: exposure rescales).
        wavelength_nm : ndarray, shape (n,)

        Returns
        -------
        signal : ndarray, shape (..., channels)
        """
        weights = self.on_grid(wavelength_nm) * band_widths(wavelength_nm)[:, None]
        return np.asarray(photons, dtype=np.float64) @ weights


def band_widths(wavelength_nm: np.ndarray) -> np.ndarray:
    """The width (nm) each sample of a grid stands for (trapezoid weights)."""
    wave = np.asarray(wavelength_nm, dtype=np.float64)
    edges = np.concatenate([[wave[0]], (wave[1:] + wave[:-1]) / 2, [wave[-1]]])
    return np.diff(edges)


def camera(spec: str | os.PathLike | Camera) -> Camera:
    """A named camera (:data:`CAMERA_NAMES`) or one read from a CSV file of sensitivities.

    Raises
    ------
    DataError
        For an unknown name that is not a readable curves file.
    """
    if isinstance(spec, Camera):
        return spec
    name = str(spec)
    if name == "visible":
        return Camera(name, visible_sensor() * package_curves("filters/ir_cut_schott"))
    if name == "visible-noircut":
        return Camera(name, visible_sensor())
    if name == "nir":
        mono = package_curves("cameras/mt9v024_mono")
        return Camera(name, mono * package_curves("filters/ir_pass_720"))
    path = Path(name).expanduser()
    if not path.is_file():
        raise DataError(f"{name}: not a camera ({', '.join(CAMERA_NAMES)}) nor a curves file")
    return Camera(path.stem, load_curves(path))


def visible_sensor() -> SpectralCurves:
    """The Nikon D200's R, G, B sensitivities without an IR-cut filter."""
    curves = package_curves("cameras/nikon_d200ir_rgb")
    return SpectralCurves(curves.wavelength_nm, curves.values, ("r", "g", "b"), curves.source)
