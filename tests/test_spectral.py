"""Physical checks of the spectral camera simulation (nircolor.spectral) on small scenes."""

from __future__ import annotations

import numpy as np
import pytest

from nircolor.errors import DataError
from nircolor.spectral import (
    WAVELENGTHS_NM,
    CameraSettings,
    SpectralScene,
    camera,
    illuminant,
    make_scene,
    read_scene,
    reflectances,
    simulate_pair,
)
from nircolor.spectral.simulate import expose

from .helpers import requires

needs_colour = requires("colour")

PATCH = 12


def chart_scene(spectra: np.ndarray, light: str, rows: int, cols: int) -> SpectralScene:
    """A chart of ``rows × cols`` flat patches of ``spectra`` (row by row) under ``light``."""
    cube = np.repeat(np.repeat(spectra.reshape(rows, cols, -1), PATCH, 0), PATCH, 1)
    return SpectralScene("chart", cube, WAVELENGTHS_NM, quantity="reflectance",
                         illuminant=illuminant(light, WAVELENGTHS_NM))  # fmt: skip


def patch_means(image: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """The mean of the centre of every patch (away from the blurred borders)."""
    inner = slice(3, PATCH - 3)
    blocks = image.reshape(rows, PATCH, cols, PATCH, *image.shape[2:])
    return blocks[:, inner, :, inner].mean(axis=(1, 3)).reshape(rows * cols, *image.shape[2:])


@needs_colour
def test_macbeth_under_d65_renders_close_to_the_published_srgb():
    import colour

    scene = chart_scene(reflectances("macbeth", WAVELENGTHS_NM), "D65", 4, 6)
    _, rgb = simulate_pair(scene, seed=0)
    rendered = patch_means(rgb, 4, 6)
    chart = colour.CCS_COLOURCHECKERS["ColorChecker24 - After November 2014"]
    xyz = colour.xyY_to_XYZ(np.array(list(chart.data.values())))
    d65 = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"]
    published = colour.XYZ_to_sRGB(xyz, chart.illuminant, "Bradford")
    lab = [colour.XYZ_to_Lab(colour.sRGB_to_XYZ(np.clip(v, 0, 1)), d65)
           for v in (rendered, published)]  # fmt: skip
    delta = colour.delta_E(lab[0], lab[1], method="CIE 2000")
    print(f"mean ΔE00 {delta.mean():.2f}, max {delta.max():.2f}")
    assert delta.mean() <= 5.0, delta.round(1)


@needs_colour
def test_vegetation_is_brighter_in_nir_than_in_red():
    leaves = reflectances("vegetation", WAVELENGTHS_NM, count=3, seed=0)
    white = np.full((1, len(WAVELENGTHS_NM)), 0.9)  # sets both exposures, as in a real scene
    spectra = np.concatenate([leaves, white])
    nir, rgb = simulate_pair(chart_scene(spectra, "daylight", 1, 4), seed=0)
    nir_leaves = patch_means(nir, 1, 4)[:3]
    red_leaves = ((patch_means(rgb, 1, 4)[:3, 0] + 0.055) / 1.055) ** 2.4  # sRGB → linear
    assert np.all(nir_leaves > 2 * red_leaves), (nir_leaves, red_leaves)


@needs_colour
def test_the_ir_cut_removes_the_nir_band_from_the_visible_camera():
    light = illuminant("daylight", WAVELENGTHS_NM) * WAVELENGTHS_NM  # photons
    band = WAVELENGTHS_NM >= 700
    with_cut = camera("visible").respond(light * band, WAVELENGTHS_NM)
    without_cut = camera("visible-noircut").respond(light * band, WAVELENGTHS_NM)
    assert np.all(without_cut > 0)
    assert np.all(with_cut <= 0.05 * without_cut), with_cut / without_cut


def test_noise_variance_follows_the_shot_noise_model():
    settings = CameraSettings(full_well=4000.0, read_noise=4.0, bits=12, exposure_level=0.5)
    levels = np.array([0.05, 0.1, 0.2, 0.4, 1.0])
    signal = np.repeat(levels, 20000).reshape(len(levels), -1)  # 99th pct = the top level
    image, gain = expose(signal, settings, np.random.default_rng(0))
    electrons = image * settings.full_well
    mean, variance = electrons.mean(axis=1), electrons.var(axis=1)
    expected = mean + settings.read_noise**2  # Poisson: variance = mean, plus read noise²
    np.testing.assert_allclose(mean, levels * gain, rtol=0.02)
    np.testing.assert_allclose(variance, expected, rtol=0.08)
    assert np.all(np.diff(variance) > 0)


def test_an_iset_mat_scene_round_trips(tmp_path):
    from scipy.io import savemat

    rng = np.random.default_rng(3)
    wave = np.arange(400.0, 1001.0, 10.0)
    basis = np.stack([np.ones_like(wave), (wave - 700) / 300, np.sin(wave / 60)], axis=1)
    coefficients = rng.uniform(0.2, 1.0, (5, 7, 3))
    coefficients[..., 1:] *= 0.2
    light = np.linspace(1.0, 2.0, len(wave))
    savemat(tmp_path / "scene.mat", {
        "mcCOEF": coefficients,
        "basis": {"basis": basis, "wave": wave},
        "illuminant": {"data": {"photons": light}, "wavelength": wave},
        "comment": "made in the test",
    })  # fmt: skip
    scene = read_scene(tmp_path / "scene.mat")
    np.testing.assert_allclose(scene.radiance(), coefficients @ basis.T)
    np.testing.assert_allclose(scene.wavelength_nm, wave)
    np.testing.assert_allclose(scene.illuminant, light)
    assert scene.units == "photons" and scene.cube.shape == (5, 7, len(wave))


@needs_colour
def test_a_scene_that_misses_the_nir_band_is_a_clear_error():
    visible_only = np.arange(400.0, 701.0, 10.0)
    scene = SpectralScene("narrow", np.ones((4, 4, len(visible_only))), visible_only)
    with pytest.raises(DataError, match="covers 400–700 nm, but the nir camera"):
        simulate_pair(scene)


@needs_colour
def test_synthetic_scenes_are_reproducible_and_save_to_identical_bytes(tmp_path):
    from nircolor.spectral import save_scene

    first = make_scene("a", "vegetation", size=32, seed=[0, 4])
    again = make_scene("a", "vegetation", size=32, seed=[0, 4])
    other = make_scene("a", "vegetation", size=32, seed=[1, 4])
    assert save_scene(first) == save_scene(again) != save_scene(other)
    (tmp_path / "a.npz").write_bytes(save_scene(first))
    loaded = read_scene(tmp_path / "a.npz")
    np.testing.assert_allclose(loaded.radiance(), first.radiance(), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("interleave", ["bsq", "bil", "bip"])
def test_an_envi_cube_reads_in_every_interleave(tmp_path, interleave):
    wave = np.arange(400.0, 1001.0, 50.0)
    cube = np.random.default_rng(1).uniform(0, 1, (3, 4, len(wave))).astype("<f4")
    order = {"bsq": (2, 0, 1), "bil": (0, 2, 1), "bip": (0, 1, 2)}[interleave]
    np.ascontiguousarray(cube.transpose(order)).tofile(tmp_path / "c.img")
    (tmp_path / "c.hdr").write_text(
        f"ENVI\nsamples = 4\nlines = 3\nbands = {len(wave)}\ndata type = 4\n"
        f"interleave = {interleave}\nbyte order = 0\n"
        "wavelength = {\n " + ",\n ".join(f"{w:g}" for w in wave) + "}\n"
    )
    scene = read_scene(tmp_path / "c.hdr")
    np.testing.assert_array_equal(scene.cube, cube)
    np.testing.assert_array_equal(scene.wavelength_nm, wave)


def test_spectral_imports_without_colour_and_says_what_to_install(monkeypatch):
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['colour'] = None\n"
        "import nircolor.spectral as s\n"
        "from nircolor.errors import MissingExtraError\n"
        "try:\n    s.illuminant('daylight', s.WAVELENGTHS_NM)\n"
        "except MissingExtraError as e:\n    print(e)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "pip install 'nircolor[simulate]'" in result.stdout
