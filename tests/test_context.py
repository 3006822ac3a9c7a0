"""The colour context: colours that do not depend on image size or tiling."""

import json
import shutil

import numpy as np
import pytest
import tifffile

import nircolor
import nircolor.context as context_module
from nircolor.api import colorize_file, get_model
from nircolor.context import (
    ColourContext,
    colorize_in_context,
    context_bands,
    context_shape,
    downscale_rows,
    small_copy_coefficients,
)
from nircolor.errors import ModelError
from nircolor.metrics import srgb_to_lab
from nircolor.models import load_model
from nircolor.models.base import ColorizerBase


def smooth_scene(height, width, seed=0):
    """A smooth NIR scene (so resampled copies of it are the same scene)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    scene = 0.5 + 0.2 * np.sin(6 * x + 3 * y) + 0.15 * np.cos(9 * y - 2 * x)
    scene += 0.02 * rng.standard_normal((height, width))
    return np.clip(scene, 0, 1).astype(np.float32)


def mean_chroma(rgb):
    lab = srgb_to_lab(rgb)
    return float(np.hypot(lab[..., 1], lab[..., 2]).mean())


class SizeDependent(ColorizerBase):
    """A colorizer whose colours fade as the image grows, as a net's do."""

    def __init__(self, context=None):
        self.context = context

    def predict(self, nir, *, threads=None):
        saturation = 200.0 / max(nir.shape)
        return np.clip(np.stack([nir * (1 + saturation), nir, nir * (1 - saturation)], -1), 0, 1)


# ------------------------------------------------------------------------ the setting


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, None),
        (0, ColourContext.OFF),
        (False, ColourContext.OFF),
        ("off", ColourContext.OFF),
        (512, ColourContext(512, 8, 1e-4)),
        ("384", ColourContext(384, 8, 1e-4)),
        ("256,4,1e-3", ColourContext(256, 4, 1e-3)),
        ([300, 2, 0.01], ColourContext(300, 2, 0.01)),
    ],
)
def test_settings_parse(value, expected):
    assert ColourContext.of(value) == expected


@pytest.mark.parametrize(
    "value", [8, 10**6, "512,0,1e-4", "512,8,0", "512,8,nan", "a", (512, 8), True, 1.5, -3]
)
def test_bad_settings_are_refused_with_what_is_expected(value):
    with pytest.raises(ValueError, match="expected SIZE"):
        ColourContext.of(value)
    with pytest.raises(ValueError, match="expected SIZE"):
        nircolor.colorize(np.zeros((8, 8), np.float32), model=SizeDependent(), context=value)


def test_context_applies_only_to_larger_images():
    setting = ColourContext(512, 8, 1e-4)
    assert not setting.applies((512, 300)) and setting.applies((513, 300))
    assert not ColourContext.OFF.applies((10_000, 10_000))
    assert context_shape((4000, 6000), 512) == (341, 512)


# ------------------------------------------------------------------------ the maths


def test_small_copy_is_the_same_for_any_band_height(monkeypatch):
    nir = smooth_scene(1300, 1700)

    def read(a, b):
        return nir[a:b]

    whole = downscale_rows(read, nir.shape, 256)
    monkeypatch.setattr(context_module, "BAND_PIXELS", 1700 * 7)  # bands of 3 blocks and less
    banded = downscale_rows(read, nir.shape, 256)
    assert whole.shape == context_shape(nir.shape, 256)
    np.testing.assert_array_equal(whole, banded)
    assert abs(float(whole.mean()) - float(nir.mean())) < 2e-3  # an average, not a sample


def test_a_linear_colouring_is_carried_to_full_size():
    nir = smooth_scene(900, 1200)
    slopes, offsets = np.array([0.8, 0.5, -0.3]), np.array([0.1, 0.2, 0.6])

    def predict(small):
        return (small[..., None] * slopes + offsets).astype(np.float32)

    rgb = colorize_in_context(nir, predict, ColourContext(256, 4, 1e-6))
    error = np.abs(rgb - np.clip(predict(nir), 0, 1))
    assert error.mean() < 3e-4 and error.max() < 5e-3  # the full-size detail is the NIR's


def test_bands_give_the_pixels_of_the_whole(monkeypatch):
    nir = smooth_scene(1000, 1400)
    setting = ColourContext(300, 8, 1e-4)
    model = SizeDependent()
    whole = colorize_in_context(nir, model.predict, setting)
    small = downscale_rows(lambda a, b: nir[a:b], nir.shape, 300)
    coefficients = small_copy_coefficients(small, model.predict, setting)
    monkeypatch.setattr(context_module, "BAND_PIXELS", 1400 * 37)
    banded = np.concatenate(
        [rgb for _, _, rgb in context_bands(lambda a, b: nir[a:b], nir.shape, coefficients)]
    )
    np.testing.assert_array_equal(whole, banded)


# ------------------------------------------------------------------------ what a user sees


def resized(nir, width):
    import cv2

    height = round(nir.shape[0] * width / nir.shape[1])
    return np.clip(cv2.resize(nir, (width, height), interpolation=cv2.INTER_CUBIC), 0, 1)


def test_colours_do_not_fade_with_size():
    scene = smooth_scene(680, 1024)
    model = SizeDependent(context=ColourContext(512, 8, 1e-4))
    faded = {
        w: mean_chroma(nircolor.colorize(resized(scene, w), model, context=0)) for w in (1024, 4096)
    }
    assert faded[4096] < 0.5 * faded[1024]  # the model alone: greyer as the image grows
    kept = {
        w: mean_chroma(nircolor.colorize(resized(scene, w), model)) for w in (512, 1024, 2048, 4096)
    }
    for width, chroma in kept.items():
        assert chroma == pytest.approx(kept[1024], rel=0.10), width


def test_default_model_keeps_its_colours_from_512_to_4096_px():
    from nircolor.examples import EXAMPLE_NIR

    scene = nircolor.read_nir(EXAMPLE_NIR)  # a real scene (EPFL), 384 px wide
    chroma = {w: mean_chroma(nircolor.colorize(resized(scene, w))) for w in (512, 1024, 2048, 4096)}
    assert chroma[1024] > 5.0  # coloured at all
    for width, value in chroma.items():
        assert value == pytest.approx(chroma[1024], rel=0.10), (width, chroma)


def test_a_streamed_file_gets_the_colours_of_the_whole_image(tmp_path):
    nir = smooth_scene(1100, 1500, seed=5)
    source = tmp_path / "big_nir.tif"
    tifffile.imwrite(source, (nir * 65535).astype(np.uint16), compression="zlib", rowsperstrip=64)
    streamed = tmp_path / "streamed.png"
    colorize_file(source, streamed, tile=256)  # tile given: streamed in bands
    whole = nircolor.colorize(nircolor.read_nir(source))
    got = nircolor.read_image(streamed)  # float in [0, 1]
    assert np.abs(got - whole).max() <= 1 / 255 + 1e-6


def test_model_configs_carry_their_context(tmp_path):
    shipped = get_model("unet").folder
    assert get_model("unet").context == ColourContext(512, 8, 1e-4)
    assert get_model("l3").context is None
    for value, expected in (
        ([384, 4, 1e-3], ColourContext(384, 4, 1e-3)),
        (None, ColourContext.OFF),
    ):
        folder = tmp_path / f"m{len(str(value))}"
        shutil.copytree(shipped, folder)
        config = json.loads((folder / "config.json").read_text())
        config["context"] = value
        (folder / "config.json").write_text(json.dumps(config))
        assert load_model(folder).context == expected
    config["context"] = [384, 0, 1e-3]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match=r"config.json: 'context': invalid colour context radius"):
        load_model(folder)


def test_cli_context_option(monkeypatch, capsys, tmp_path):
    from nircolor.io import write_image

    from .helpers.cli import run_cli

    source = tmp_path / "wide.png"
    write_image(source, smooth_scene(300, 700, seed=2))
    outputs = {}
    for setting in ("0", "256,4,1e-3"):
        target = tmp_path / f"out_{setting.replace(',', '_')}.png"
        code, _, err = run_cli(
            monkeypatch, capsys, "colorize", source, "-o", target, "--context", setting
        )
        assert code == 0, err
        outputs[setting] = nircolor.read_image(target)
    assert np.abs(outputs["0"] - outputs["256,4,1e-3"]).max() > 2 / 255  # the setting is used
    code, _, err = run_cli(
        monkeypatch, capsys, "colorize", source, "-o", tmp_path / "x.png", "--context", "9,1"
    )
    assert code != 0 and err.strip().startswith("error: --context: invalid colour context")
    assert len(err.strip().splitlines()) == 1
