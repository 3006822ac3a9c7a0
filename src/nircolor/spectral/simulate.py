"""The camera pipeline: spectral scene → registered NIR and RGB images.

For each scene (:func:`simulate_pair`):

1. radiance (reflectance × illuminant, or the cube's radiance), in photons;
2. optics: a Gaussian blur per wavelength approximating the diffraction-limited (Airy) PSF,
   σ = 0.42 λ N / pixel pitch;
3. sensor: signal = ∫ radiance × sensitivity dλ per channel; exposure set so that the
   brightest 1 % of the samples reach ``exposure_level`` × full well; Poisson shot noise on
   the electrons, Gaussian read noise, clipping at the full well, quantisation to ``bits``;
4. RGB only: white balance under the scene illuminant (the signal of a perfect white; without
   an illuminant, the brightest 1 %), a 3×3 colour matrix fitted on the Macbeth chart
   (camera under that illuminant → linear sRGB of the chart under D65), the sRGB curve.

The NIR image is the single quantised channel. :func:`simulate_pairs` renders a folder of
scenes into ``<category>/<id>_nir.png`` / ``<id>_rgb.png`` pairs and a ``MANIFEST.csv`` that
:func:`nircolor.data.discover_pairs` reads.
"""

from __future__ import annotations

import csv
import io
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from ..data import MANIFEST_NAME
from ..errors import DataError
from ..extras import require_extra
from ..io import write_image
from ..io.atomic import write_folder_atomic
from ..io.outputs import check_output_folder
from .cameras import Camera, camera
from .library import reflectances
from .scenes import SCENE_EXTENSIONS, SpectralScene, check_seed, read_scene

SETTING_RANGES = (
    ("f_number", "f-number", 0.5, 64.0),
    ("pixel_pitch_um", "pixel pitch (µm)", 0.5, 50.0),
    ("full_well", "full well", 1.0, 1e7),
    ("read_noise", "read noise", 0.0, 1e4),
)
"""``(setting, name, lowest, highest)`` of :class:`CameraSettings`: finite, and within what a
real camera has (the blur's σ, 0.42 λ N / pitch, then stays under 60 pixels)."""


@dataclass(frozen=True)
class CameraSettings:
    """Optics and sensor of the simulated cameras (both cameras share them).

    Attributes
    ----------
    f_number : float
        Lens f-number N (the blur grows with N and λ).
    pixel_pitch_um : float
        Pixel pitch in µm.
    full_well : float
        Electrons at saturation.
    read_noise : float
        Read noise, electrons RMS.
    bits : {8, 10, 12}
        Quantisation of the sensor output.
    exposure_level : float
        Fraction of the full well that the brightest 1 % of the signal reaches (1: they
        saturate).
    """

    f_number: float = 4.0
    pixel_pitch_um: float = 2.2
    full_well: float = 10000.0
    read_noise: float = 5.0
    bits: int = 10
    exposure_level: float = 1.0

    def __post_init__(self) -> None:
        if self.bits not in (8, 10, 12):
            raise DataError(f"bits must be 8, 10 or 12, not {self.bits}")
        for setting, name, low, high in SETTING_RANGES:
            value = getattr(self, setting)
            if not low <= value <= high:  # NaN fails too
                raise DataError(f"{name} must be {low:g} to {high:g}, not {value}")
        if not 0 < self.exposure_level <= 1:
            raise DataError(f"the exposure level must be in (0, 1], not {self.exposure_level}")


def photons(spectrum: np.ndarray, wavelength_nm: np.ndarray, units: str) -> np.ndarray:
    """Energy spectra as relative photon counts (× λ); photon spectra unchanged."""
    return spectrum * wavelength_nm if units == "energy" else spectrum


def optics_blur(cube: np.ndarray, wavelength_nm: np.ndarray, settings: CameraSettings):
    """Each band blurred by the Gaussian of the diffraction-limited PSF at its wavelength."""
    sigmas = 0.42 * (wavelength_nm / 1000.0) * settings.f_number / settings.pixel_pitch_um
    blurred = np.empty_like(cube)
    for band, sigma in enumerate(sigmas):
        blurred[..., band] = ndimage.gaussian_filter(cube[..., band], sigma, mode="reflect")
    return blurred


def expose(signal: np.ndarray, settings: CameraSettings, rng: np.random.Generator):
    """Sensor output in [0, 1] and the gain (electrons per unit of ``signal``).

    The gain puts the 99th percentile of ``signal`` at ``exposure_level`` × full well; then
    shot noise (Poisson), read noise (Gaussian), clipping and quantisation to ``bits``.
    """
    bright = float(np.percentile(signal, 99))
    if bright <= 0:
        raise DataError("the scene is black for this camera (no signal in its band)")
    gain = settings.exposure_level * settings.full_well / bright
    electrons = rng.poisson(signal * gain).astype(np.float64)
    electrons += rng.normal(0.0, settings.read_noise, electrons.shape)
    levels = 2**settings.bits - 1
    quantised = np.round(np.clip(electrons / settings.full_well, 0.0, 1.0) * levels)
    return quantised / levels, gain


def colour_matrix(rgb_camera: Camera, light_photons: np.ndarray, wavelength_nm: np.ndarray):
    """The 3×3 matrix from white-balanced camera RGB to linear sRGB, least squares on the
    Macbeth chart (camera under the given light; targets: the chart under D65)."""
    chart = reflectances("macbeth", wavelength_nm)
    camera_rgb = rgb_camera.respond(chart * light_photons, wavelength_nm)
    camera_rgb /= rgb_camera.respond(light_photons, wavelength_nm)
    matrix, *_ = np.linalg.lstsq(camera_rgb, chart_linear_srgb(chart, wavelength_nm), rcond=None)
    return matrix


def chart_linear_srgb(chart: np.ndarray, wavelength_nm: np.ndarray) -> np.ndarray:
    """Linear sRGB (white = 1) of reflectances under D65, CIE 1931 2° observer."""
    require_extra("simulate", "colour rendering")
    import colour

    cmfs = colour.MSDS_CMFS["CIE 1931 2 Degree Standard Observer"]
    observer = np.stack(
        [np.interp(wavelength_nm, cmfs.wavelengths, column, 0, 0) for column in cmfs.values.T],
        axis=1,
    )
    d65 = colour.SDS_ILLUMINANTS["D65"]
    light = np.interp(wavelength_nm, d65.wavelengths, d65.values, 0, 0)
    xyz = (chart * light) @ observer / (light @ observer[:, 1])
    return xyz @ colour.RGB_COLOURSPACES["sRGB"].matrix_XYZ_to_RGB.T


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """The sRGB transfer curve (IEC 61966-2-1) on values clipped to [0, 1]."""
    linear = np.clip(linear, 0.0, 1.0)
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)


def check_coverage(scene: SpectralScene, *cameras: Camera, share: float = 0.97) -> None:
    """Raise :class:`DataError` unless the scene's wavelengths hold at least ``share`` of
    every camera's sensitivity (silicon's faint tail past 1000 nm may be left out)."""
    low, high = scene.range_nm
    for cam in cameras:
        if cam.share_within(low, high) < share:
            band_low, band_high = cam.band_nm()
            raise DataError(
                f"{scene.name}: covers {low:g}–{high:g} nm, but the {cam.name} camera sees "
                f"{band_low:g}–{band_high:g} nm"
            )


def simulate_pair(
    scene: SpectralScene,
    rgb_camera: str | Camera = "visible",
    nir_camera: str | Camera = "nir",
    settings: CameraSettings | None = None,
    seed: int | list[int] = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Render one scene through both cameras.

    Returns
    -------
    nir : ndarray, shape (H, W)
        The NIR camera's quantised output in [0, 1].
    rgb : ndarray, shape (H, W, 3)
        The visible camera's sRGB rendering in [0, 1] (before 8-bit encoding).
    """
    settings = settings or CameraSettings()
    rgb_camera, nir_camera = camera(rgb_camera), camera(nir_camera)
    if rgb_camera.channels != 3 or nir_camera.channels != 1:
        raise DataError("the RGB camera needs 3 channels and the NIR camera 1")
    check_coverage(scene, rgb_camera, nir_camera)
    radiance = sensor_radiance(scene, settings)
    rgb_rng, nir_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    nir, _ = expose(nir_camera.respond(radiance, scene.wavelength_nm)[..., 0], settings, nir_rng)
    return nir, render_visible(radiance, scene, rgb_camera, settings, rgb_rng)


def sensor_radiance(scene: SpectralScene, settings: CameraSettings) -> np.ndarray:
    """The scene's spectral radiance in photons, blurred by the optics: what reaches the
    sensor, ``(H, W, n)``."""
    wave = scene.wavelength_nm
    return optics_blur(photons(scene.radiance(), wave, scene.units), wave, settings)


def render_visible(
    radiance: np.ndarray,
    scene: SpectralScene,
    rgb_camera: Camera,
    settings: CameraSettings,
    rng: np.random.Generator,
) -> np.ndarray:
    """The RGB camera's sRGB rendering ``(H, W, 3)`` in [0, 1] of the sensor radiance:
    exposure and noise, white balance, colour matrix, sRGB curve."""
    wave = scene.wavelength_nm
    raw, gain = expose(rgb_camera.respond(radiance, wave), settings, rng)
    if scene.illuminant is None:
        white = np.percentile(raw.reshape(-1, 3), 99, axis=0)
        light = np.ones_like(wave)  # white balance by the brightest 1 %: an equal-energy guess
    else:
        light = photons(scene.illuminant, wave, scene.units)
        white = rgb_camera.respond(light, wave) * gain / settings.full_well
    balanced = raw / np.maximum(white, 1e-12)
    linear = balanced @ colour_matrix(rgb_camera, light, wave)
    return srgb_encode(linear)


def find_scenes(folder: str | os.PathLike) -> list[tuple[Path, str]]:
    """Scene files under ``folder`` with their category (the sub-folder; ``all`` at top)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DataError(f"{folder}: no such scenes folder")
    found = []
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() in SCENE_EXTENSIONS and not path.name.startswith("."):
            category = path.parent.relative_to(folder).as_posix()
            found.append((path, "all" if category == "." else category))
    if not found:
        raise DataError(f"{folder}: holds no scene files ({', '.join(SCENE_EXTENSIONS)})")
    return found


def assign_splits(scenes: list[tuple[Path, str]], val_fraction: float, seed: int) -> list[str]:
    """``train`` or ``val`` per scene: a seeded share of each category (at least one of a
    category of two or more) goes to ``val``."""
    if not 0 <= val_fraction < 1:
        raise DataError(f"val fraction must be in [0, 1), not {val_fraction}")
    splits = ["train"] * len(scenes)
    rng = np.random.default_rng(seed)
    for category in sorted({category for _, category in scenes}):
        members = [i for i, (_, c) in enumerate(scenes) if c == category]
        count = round(len(members) * val_fraction)
        if val_fraction > 0 and len(members) >= 2:
            count = max(count, 1)
        for index in rng.permutation(members)[:count]:
            splits[int(index)] = "val"
    return splits


def simulate_pairs(
    scenes: str | os.PathLike,
    output: str | os.PathLike,
    rgb_camera: str | Camera = "visible",
    nir_camera: str | Camera = "nir",
    settings: CameraSettings | None = None,
    seed: int = 0,
    val_fraction: float = 0.2,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Render every scene under ``scenes`` into a dataset folder of registered pairs.

    Writes ``output/<category>/<id>_nir.png`` (16-bit when ``bits`` > 8) and ``<id>_rgb.png``
    (8-bit sRGB) and ``output/MANIFEST.csv`` (``nir, rgb, category, scene, split``). The
    folder appears complete or not at all. Each scene's noise is seeded by ``seed`` and its
    id, so the same inputs give the same bytes.

    Raises
    ------
    DataError
        For a missing or empty scenes folder, an unreadable scene or one that does not cover
        a camera's band, or an existing ``output`` without ``overwrite``.
    """
    settings = settings or CameraSettings()
    rgb_camera, nir_camera = camera(rgb_camera), camera(nir_camera)

    def render(scene: SpectralScene, pair_seed: list[int]) -> tuple[np.ndarray, np.ndarray]:
        return simulate_pair(scene, rgb_camera, nir_camera, settings, pair_seed)

    nir_bits = 16 if settings.bits > 8 else 8
    return write_pairs(scenes, output, render, nir_bits, seed, val_fraction, overwrite, progress)


def is_pairs_folder(folder: Path) -> bool:
    """Whether ``folder`` is a folder of pairs (it holds a ``MANIFEST.csv``)."""
    return (folder / MANIFEST_NAME).is_file()


def write_pairs(
    scenes: str | os.PathLike,
    output: str | os.PathLike,
    render: Callable[[SpectralScene, list[int]], tuple[np.ndarray, np.ndarray]],
    nir_bits: int,
    seed: int,
    val_fraction: float,
    overwrite: bool,
    progress: Callable[[int, int], None] | None,
) -> Path:
    """Render every scene under ``scenes`` with ``render(scene, pair_seed) -> (nir, rgb)``
    into ``output/<category>/<id>_nir.png`` (``nir_bits`` bits) / ``<id>_rgb.png`` and a
    ``MANIFEST.csv``, atomically (see :func:`simulate_pairs`)."""
    output = Path(output).expanduser()
    check_output_folder(output, overwrite, [scenes], is_pairs_folder, error_type=DataError)
    check_seed(seed)
    found = find_scenes(scenes)
    splits = assign_splits(found, val_fraction, seed)

    def write(folder: Path) -> None:
        rows = []
        for done, ((path, category), split) in enumerate(zip(found, splits, strict=True)):
            scene = read_scene(path)
            scene_id = f"{category}/{path.stem}"
            nir, rgb = render(scene, [seed, zlib.crc32(scene_id.encode())])
            (folder / category).mkdir(parents=True, exist_ok=True)
            nir_name, rgb_name = f"{scene_id}_nir.png", f"{scene_id}_rgb.png"
            write_image(folder / nir_name, nir, bit_depth=nir_bits)
            write_image(folder / rgb_name, rgb)
            rows.append([nir_name, rgb_name, category, scene_id, split])
            if progress is not None:
                progress(done + 1, len(found))
        (folder / MANIFEST_NAME).write_text(manifest_text(rows))

    return write_folder_atomic(output, write)


def manifest_text(rows: list[list[str]]) -> str:
    """The CSV text of a pairs manifest."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["nir", "rgb", "category", "scene", "split"])
    writer.writerows(rows)
    return buffer.getvalue()
