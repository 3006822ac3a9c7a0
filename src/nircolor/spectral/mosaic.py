"""RGB-IR mosaics: a colour-filter-array sensor simulated from spectral scenes.

The sensor (:func:`cfa_camera`) has four kinds of pixel in a 2×2 pattern
(:data:`nircolor.cfa.PATTERNS`; ``rgbir`` is ``G R / B IR`` from the top-left pixel):

* R, G, B pixels: the Nikon D200's R, G, B sensitivities *without* an IR-cut filter, so they
  see the NIR too, as on real RGB-IR sensors;
* IR pixels: the D200's red channel (its dye is clear in the NIR, so beyond 700 nm it is the
  bare silicon on the same scale as R, G and B) behind the 720 nm IR-pass filter.

:func:`simulate_mosaic_pair` renders one scene into the raw mosaic and, as target, the
simulated *visible* camera's sRGB image of the same scene (the RGB sensor behind the IR cut,
white-balanced, sRGB): the same optics, exposure rule, shot and read noise and quantisation
as :func:`~.simulate.simulate_pair` (one exposure for the whole mosaic, set on all its
pixels). :func:`simulate_mosaic_pairs` writes a folder that ``nircolor train l3 --cfa rgbir``
and ``nircolor evaluate`` read as they are: the mosaic is the ``<id>_nir.png`` of each pair,
always a single-channel 16-bit PNG holding the ``bits``-bit samples scaled to 16 bits.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..cfa import cfa_cell, mosaic_of
from ..errors import DataError
from .cameras import Camera, camera, visible_sensor
from .curves import SpectralCurves, package_curves
from .scenes import SpectralScene
from .simulate import (
    CameraSettings,
    check_coverage,
    expose,
    render_visible,
    sensor_radiance,
    write_pairs,
)


def cfa_camera() -> Camera:
    """The three colour pixels of the RGB-IR sensor (R, G, B without IR cut)."""
    return camera("visible-noircut")


def ir_pixel_camera() -> Camera:
    """The IR pixel of the RGB-IR sensor: the D200 red channel behind the 720 nm IR pass."""
    sensor = visible_sensor()
    red = SpectralCurves(sensor.wavelength_nm, sensor.values[:, :1], ("ir",), sensor.source)
    return Camera("ir-pixel", red * package_curves("filters/ir_pass_720"))


def mosaic_signal(radiance: np.ndarray, wavelength_nm: np.ndarray, cell) -> np.ndarray:
    """The noiseless sensor signal ``(H, W)`` of the mosaic: each pixel integrates the
    radiance over its own type's sensitivity."""
    colour = cfa_camera().respond(radiance, wavelength_nm)
    infrared = ir_pixel_camera().respond(radiance, wavelength_nm)
    channels = np.concatenate([colour, infrared], axis=2)  # r, g, b, ir: PIXEL_TYPES order
    return mosaic_of(channels, cell)


def simulate_mosaic_pair(
    scene: SpectralScene,
    cfa: str = "rgbir",
    rgb_camera: str | Camera = "visible",
    settings: CameraSettings | None = None,
    seed: int | list[int] = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Render one scene through the RGB-IR sensor and through the visible camera.

    Returns
    -------
    raw : ndarray, shape (H, W)
        The quantised mosaic in [0, 1] (``settings.bits`` bits).
    rgb : ndarray, shape (H, W, 3)
        The visible camera's sRGB rendering in [0, 1], the target.
    """
    settings = settings or CameraSettings()
    cell = cfa_cell(cfa)
    rgb_camera = camera(rgb_camera)
    if rgb_camera.channels != 3:
        raise DataError("the RGB camera needs 3 channels")
    check_coverage(scene, rgb_camera)
    # without the IR cut, 4 % of the bare D200's blue lies past 1000 nm, the end of the
    # synthetic scenes: a looser bound than simulate_pair's for the bare sensor's pixels
    check_coverage(scene, cfa_camera(), ir_pixel_camera(), share=0.95)
    radiance = sensor_radiance(scene, settings)
    rgb_rng, raw_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    raw, _ = expose(mosaic_signal(radiance, scene.wavelength_nm, cell), settings, raw_rng)
    return raw, render_visible(radiance, scene, rgb_camera, settings, rgb_rng)


def simulate_mosaic_pairs(
    scenes: str | os.PathLike,
    output: str | os.PathLike,
    cfa: str = "rgbir",
    rgb_camera: str | Camera = "visible",
    settings: CameraSettings | None = None,
    seed: int = 0,
    val_fraction: float = 0.2,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Render every scene under ``scenes`` into raw-mosaic / visible-RGB pairs.

    Writes ``output/<category>/<id>_nir.png`` (the raw mosaic, 16-bit), ``<id>_rgb.png``
    (8-bit sRGB of the visible camera) and ``MANIFEST.csv``, like
    :func:`~.simulate.simulate_pairs` (atomic, seeded per scene, same splits).

    Raises
    ------
    DataError
        As :func:`~.simulate.simulate_pairs`, and for an unknown ``cfa``.
    """
    settings = settings or CameraSettings()
    cell, rgb_camera = cfa_cell(cfa), camera(rgb_camera)

    def render(scene: SpectralScene, pair_seed: list[int]) -> tuple[np.ndarray, np.ndarray]:
        return simulate_mosaic_pair(scene, cell, rgb_camera, settings, pair_seed)

    return write_pairs(scenes, output, render, 16, seed, val_fraction, overwrite, progress)
