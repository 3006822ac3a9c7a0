"""The colour context: colours that do not depend on image size or tiling."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

import nircolor
import nircolor.context as context_module
from nircolor.api import colorize_file, get_model
from nircolor.context import (
    DEFAULT,
    ColourContext,
    colorize_in_context,
    colorized_copy,
    context_bands,
    context_shape,
    downscale_rows,
)
from nircolor.errors import ModelError
from nircolor.examples import bright_object_on_sky, paint_sky, sky_chroma_change
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
        (512, ColourContext(512, 0.05)),
        ("384", ColourContext(384, 0.05)),
        ("256, 0.1", ColourContext(256, 0.1)),
        ([300, 1], ColourContext(300, 1.0)),
    ],
)
def test_settings_parse(value, expected):
    assert ColourContext.of(value) == expected


@pytest.mark.parametrize(
    "value",
    [8, 10**6, "512,0", "512,2", "512,nan", "512,8,1e-4", "a", (512, 8, 1e-4), True, 1.5, -3],
)
def test_bad_settings_are_refused_with_what_is_expected(value):
    with pytest.raises(ValueError, match="expected SIZE"):
        ColourContext.of(value)
    with pytest.raises(ValueError, match="expected SIZE"):
        nircolor.colorize(np.zeros((8, 8), np.float32), model=SizeDependent(), context=value)


def test_context_applies_only_to_larger_images():
    setting = ColourContext(512, 0.05)
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


def test_a_smooth_colouring_is_carried_to_full_size(monkeypatch):
    monkeypatch.setattr(context_module, "SOFT_RATIO", np.inf)  # the carry-up alone: no halving
    y, x = np.mgrid[0:900, 0:1200] / 1200
    nir = (0.5 + 0.3 * np.sin(3 * x + 2 * y)).astype(np.float32)
    slopes, offsets = np.array([0.8, 0.5, -0.3]), np.array([0.1, 0.2, 0.6])

    def predict(small):
        return (small[..., None] * slopes + offsets).astype(np.float32)

    rgb = colorize_in_context(nir, predict, ColourContext(256, 0.05))
    error = np.abs(rgb - np.clip(predict(nir), 0, 1))
    assert error.mean() < 3e-4 and error.max() < 2e-3


class SkyPainter(ColorizerBase):
    """A 'net' that paints the dark NIR sky blue and bright things yellow-green, sharply."""

    def predict(self, nir, *, threads=None):
        return paint_sky(nir)


def test_no_halo_in_the_sky_beyond_3_px_of_a_bright_object():
    nir, distance = bright_object_on_sky()
    change = sky_chroma_change(nircolor.colorize(nir, SkyPainter(), guided=False, context=DEFAULT))
    assert change[distance > 3].max() < 0.5  # ΔE of the chroma alone: nothing to see
    assert change[distance > 1].max() < 5  # and not much nearer either


def test_the_guided_filters_carry_up_made_a_halo():
    # The carry-up before (the guided filter's local linear model, r = 8, fitted on the copy;
    # its reference is in benchmarks/bench_sharpness.py) spread the object's colour over 10 px
    # and more of sky: the test above sees it.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    bench = pytest.importorskip("bench_sharpness")
    nir, distance = bright_object_on_sky()
    small = downscale_rows(lambda a, b: nir[a:b], nir.shape, 512)
    before = bench.linear_carry_up(nir, small, SkyPainter().predict(small), 8, 1e-4)
    assert sky_chroma_change(before)[distance > 3].max() > 2


def test_bands_give_the_pixels_of_the_whole(monkeypatch):
    nir = smooth_scene(1000, 1400)
    setting = ColourContext(300, 0.05)
    model = SizeDependent()
    whole = colorize_in_context(nir, model.predict, setting)
    small = downscale_rows(lambda a, b: nir[a:b], nir.shape, 300)
    copy = colorized_copy(small, model.predict, setting.sigma)
    monkeypatch.setattr(context_module, "BAND_PIXELS", 1400 * 37)
    monkeypatch.setattr(context_module, "CARRY_PIXELS", 1400 * 5)
    bands = context_bands(lambda a, b: nir[a:b], nir.shape, copy, setting.sigma)
    banded = np.concatenate([rgb for _, _, rgb in bands])
    np.testing.assert_array_equal(whole, banded)


# ------------------------------------------------------------------------ what a user sees


def resized(nir, width):
    import cv2

    height = round(nir.shape[0] * width / nir.shape[1])
    return np.clip(cv2.resize(nir, (width, height), interpolation=cv2.INTER_CUBIC), 0, 1)


def test_colours_do_not_fade_with_size():
    scene = smooth_scene(680, 1024)
    model = SizeDependent(context=ColourContext(512, 0.05))
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


def test_an_image_no_larger_than_the_context_is_never_tiled(tmp_path):
    """Its net runs in one piece, whatever the tile: a net's colours depend on what it sees,
    so tiles would each get their own (seams, duller colours)."""
    model = SizeDependent(ColourContext(512, 0.05))
    nir = smooth_scene(300, 400, seed=3)
    whole = nircolor.colorize(nir, model)
    tiled = nircolor.colorize(nir, model, tile=64)
    assert np.array_equal(tiled, whole)
    assert not np.array_equal(nircolor.colorize(nir, model, tile=64, context=0), whole)
    source = tmp_path / "small_nir.png"
    nircolor.write_image(source, nir, bit_depth=16)
    for tile in (None, 64):
        target = tmp_path / f"small_rgb_{tile}.png"
        colorize_file(source, target, model=model, tile=tile)
        expected = nircolor.colorize(nircolor.read_nir(source), model)
        assert np.abs(nircolor.read_image(target) - expected).max() <= 1 / 255 + 1e-6


def test_model_configs_carry_their_context(tmp_path):
    shipped = get_model("unet").folder
    assert get_model("unet").context == DEFAULT == ColourContext(512, 0.05)
    assert get_model("l3").context is None
    for value, expected in (
        ([384, 0.1], ColourContext(384, 0.1)),
        (None, ColourContext.OFF),
    ):
        folder = tmp_path / f"m{len(str(value))}"
        shutil.copytree(shipped, folder)
        config = json.loads((folder / "config.json").read_text())
        config["context"] = value
        (folder / "config.json").write_text(json.dumps(config))
        assert load_model(folder).context == expected
    config["context"] = [384, 0]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match=r"config.json: 'context': invalid colour context sigma"):
        load_model(folder)


def test_cli_context_option(monkeypatch, capsys, tmp_path):
    from nircolor.io import write_image

    from .helpers.cli import run_cli

    source = tmp_path / "wide.png"
    write_image(source, smooth_scene(300, 700, seed=2))
    outputs = {}
    for setting in ("0", "256,0.1"):
        target = tmp_path / f"out_{setting.replace(',', '_')}.png"
        code, _, err = run_cli(
            monkeypatch, capsys, "colorize", source, "-o", target, "--context", setting
        )
        assert code == 0, err
        outputs[setting] = nircolor.read_image(target)
    assert np.abs(outputs["0"] - outputs["256,0.1"]).max() > 2 / 255  # the setting is used
    code, _, err = run_cli(
        monkeypatch, capsys, "colorize", source, "-o", tmp_path / "x.png", "--context", "9,1"
    )
    assert code != 0 and err.strip().startswith("error: --context: invalid colour context")
    assert len(err.strip().splitlines()) == 1
