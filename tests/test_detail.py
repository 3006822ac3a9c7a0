"""The NIR's detail in a colorization's lightness (nircolor.filters.detail): the formula, the
colour it keeps, the same pixels whole, tiled, streamed and through the colour context, and
settings refused on one line."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
from skimage.color import rgb2lab

from nircolor import api
from nircolor.api import colorize, colorize_file
from nircolor.errors import ModelError
from nircolor.examples import textured_nir as textured
from nircolor.filters import DetailTransfer, Finish, GuidedFilter, transfer_detail
from nircolor.filters.detail import (
    grey_lightness,
    lightness,
    linear_to_srgb,
    luminance_of,
    srgb_to_linear,
)
from nircolor.io import read_image, write_image
from nircolor.metrics import detail_ratio
from nircolor.models import ColorizerBase, load_model
from nircolor.models.registry import resolve_model_path
from nircolor.tiling import colorize_tiled, tile_colorize

from .helpers.cli import run_cli

SETTING = DetailTransfer(1.2, 2.0)


class SmoothModel(ColorizerBase):
    """A 'net' with smooth colours: a wide blur of the NIR mapped to a green-blue picture."""

    def predict(self, nir, *, threads=None):
        g = cv2.GaussianBlur(nir, (0, 0), 6.0, borderType=cv2.BORDER_REFLECT)
        return np.clip(np.stack([0.3 * g, 0.2 + 0.6 * g, 0.5 - 0.3 * g], axis=2), 0, 1)


def blur(x, sigma):
    size = 2 * int(np.ceil(3 * sigma)) + 1
    return cv2.GaussianBlur(x, (size, size), sigma, borderType=cv2.BORDER_REFLECT)


def test_lightness_is_cielab_lightness_and_inverts():
    rgb = np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)
    linear = srgb_to_linear(rgb)
    own = lightness(linear @ np.array([0.2126, 0.7152, 0.0722], np.float32))
    np.testing.assert_allclose(own, rgb2lab(rgb)[..., 0], atol=0.05)
    np.testing.assert_allclose(linear_to_srgb(linear), rgb, atol=1e-5)
    np.testing.assert_allclose(luminance_of(lightness(linear[..., 1])), linear[..., 1], atol=1e-5)


def test_the_lightness_is_the_formula_and_the_chromaticity_is_kept():
    nir = textured(64, 80)
    rgb = SmoothModel().predict(nir)
    out = transfer_detail(nir, rgb, SETTING.gain, SETTING.sigma)
    own = rgb2lab(rgb)[..., 0]
    nir_lightness = rgb2lab(np.repeat(nir[..., None], 3, axis=2))[..., 0]
    expected = blur(own, 2.0) + 1.2 * (nir_lightness - blur(nir_lightness, 2.0))
    np.testing.assert_allclose(rgb2lab(out)[..., 0], expected, atol=0.3)
    linear_in, linear_out = srgb_to_linear(rgb), srgb_to_linear(out)
    unclipped = out.max(axis=2) < 0.999
    chroma_in = linear_in / linear_in.sum(axis=2, keepdims=True)
    chroma_out = linear_out / linear_out.sum(axis=2, keepdims=True)
    np.testing.assert_allclose(chroma_out[unclipped], chroma_in[unclipped], atol=1e-3)


def test_flat_nir_and_flat_colour_are_left_as_they_are():
    rgb = np.broadcast_to(np.float32([0.2, 0.5, 0.3]), (40, 50, 3)).copy()
    out = transfer_detail(np.full((40, 50), 0.6, np.float32), rgb, 1.5, 2.0)
    np.testing.assert_allclose(out, rgb, atol=1e-5)


def test_it_restores_the_detail_a_smooth_prediction_lost():
    nir = textured(96, 128)
    truth = np.repeat(nir[..., None], 3, axis=2)  # a grey world: the NIR's detail is the truth's
    smooth = SmoothModel().predict(nir)
    assert detail_ratio(smooth, truth) < 0.5
    assert detail_ratio(transfer_detail(nir, smooth, 1.0, 2.0), truth) == pytest.approx(1, abs=0.1)
    assert detail_ratio(transfer_detail(nir, smooth, 0.0, 2.0), truth) < 0.5


def test_black_pixels_take_the_target_lightness_as_grey():
    rgb = np.zeros((20, 20, 3), np.float32)
    nir = np.zeros((20, 20), np.float32)
    nir[10:] = 1.0
    out = transfer_detail(nir, rgb, 1.0, 1.0)
    assert np.all(np.isfinite(out)) and np.ptp(out, axis=2).max() < 1e-6
    assert out[12:].mean() > out[:8].mean()


def test_tiles_are_finished_band_by_band_as_the_whole_blend():
    nir = textured(300, 220)
    model, finish = SmoothModel(), Finish(GuidedFilter(3, 1e-3), SETTING)
    blended = colorize_tiled(nir, model.predict, tile=64, overlap=16)
    got = tile_colorize(nir, model, tile=64, overlap=16, guided=finish.guided, detail=SETTING)
    np.testing.assert_allclose(got, finish(nir, blended), atol=1e-5)


def test_through_the_context_tiles_are_the_whole_image():
    nir = textured(300, 220)
    settings = {"guided": (3, 1e-3), "detail": SETTING, "context": (48, 0.05)}
    whole = colorize(nir, SmoothModel(), **settings)
    np.testing.assert_allclose(colorize(nir, SmoothModel(), tile=64, **settings), whole, atol=1e-5)


def test_streamed_detail_equals_the_whole_image(tmp_path, monkeypatch):
    nir = textured(257, 190)
    model = SmoothModel()
    source = write_image(tmp_path / "nir.png", nir, bit_depth=16)
    nir = read_image(source)
    monkeypatch.setattr(api, "STREAM_PIXELS", 1000)
    monkeypatch.setattr("nircolor.tiling.BAND_PIXELS", 190 * 9)  # bands of 9 rows
    context = (64, 0.05)
    target = colorize_file(
        source, tmp_path / "rgb.tif", model, False, context=context, detail=SETTING
    )
    whole = colorize(nir, model, guided=False, context=context, detail=SETTING)
    assert np.abs(read_image(target) - whole).max() <= 0.5 / 255 + 1e-6


def test_a_model_default_applies_and_can_be_switched_off():
    class Detailed(SmoothModel):
        detail = SETTING

    nir = textured(64, 64)
    smooth = SmoothModel().predict(nir)
    np.testing.assert_allclose(colorize(nir, Detailed(), context=0), SETTING(nir, smooth))
    np.testing.assert_allclose(colorize(nir, Detailed(), context=0, detail=False), smooth)
    np.testing.assert_allclose(colorize(nir, Detailed(), context=0, detail="off"), smooth)


@pytest.mark.parametrize(
    "value",
    ["1", "a,b", "1,0", "-1,2", "5,2", "1,17", "nan,2", (1, None), (True, 2), "1,2,3"],
)
def test_bad_settings_say_what_is_expected(value):
    with pytest.raises(ValueError, match="GAIN,SIGMA"):
        DetailTransfer.of(value)


def test_settings_and_halo():
    assert DetailTransfer.of("1.2, 2") == SETTING and DetailTransfer.of(None) is None
    assert not DetailTransfer.of("off") and not DetailTransfer.of(False)
    assert SETTING.halo == 6 and DetailTransfer.OFF.halo == 0
    assert Finish(GuidedFilter(3, 1e-3), SETTING).halo == 7 + 6 and not Finish(
        None, DetailTransfer.OFF
    )


def test_cli_refuses_a_bad_detail_on_one_line(monkeypatch, capsys, tmp_path):
    source = write_image(tmp_path / "x.png", textured(32, 32))
    code, _, err = run_cli(
        monkeypatch, capsys, "colorize", source, "-o", tmp_path / "y.png", "--detail", "9,2"
    )
    assert code != 0 and len(err.strip().splitlines()) == 1 and "--detail" in err
    assert not (tmp_path / "y.png").exists()


def test_cli_detail_changes_the_picture(monkeypatch, capsys, tmp_path, tiny_model):
    source = write_image(tmp_path / "x.png", textured(40, 48))
    outputs = []
    for name, setting in (("plain.png", "off"), ("sharp.png", "1.5,1")):
        code, _, err = run_cli(
            monkeypatch,
            capsys,
            "colorize",
            source,
            "-o",
            tmp_path / name,
            "-m",
            tiny_model,
            "--detail",
            setting,
        )
        assert code == 0, err
        outputs.append(read_image(tmp_path / name))
    assert not np.array_equal(*outputs)


def test_a_model_config_gives_the_default_detail_and_a_bad_one_is_refused(tmp_path):
    shipped = resolve_model_path("default")
    folder = tmp_path / "m"
    folder.mkdir()
    for graph in shipped.glob("*.onnx"):  # the int8 graph it runs and its float one
        shutil.copy(graph, folder)
    config = json.loads((shipped / "config.json").read_text())
    for detail, expected in (([1.2, 2], SETTING), (None, None)):
        (folder / "config.json").write_text(json.dumps({**config, "detail": detail}))
        assert load_model(folder).detail == expected
    (folder / "config.json").write_text(json.dumps({**config, "detail": [1, -2]}))
    with pytest.raises(ModelError, match="'detail'.*SIGMA"):
        load_model(folder)


def test_the_nir_lightness_table_is_exact_on_8_and_16_bit_values():
    for levels in (255, 65535):
        nir = (np.arange(levels + 1, dtype=np.float32) / np.float32(levels))[None, :]
        np.testing.assert_array_equal(grey_lightness(nir), lightness(srgb_to_linear(nir)))
    other = np.random.default_rng(1).random((64, 64), dtype=np.float32)
    np.testing.assert_allclose(grey_lightness(other), lightness(srgb_to_linear(other)), atol=1e-3)
    assert grey_lightness(np.float32([[0.0, 1.0]])).tolist() == [
        [0.0, pytest.approx(100, abs=1e-3)]
    ]


@pytest.mark.parametrize("value", [0.0, 0.37, 1.0])
def test_a_one_pixel_image_gets_its_lightness_and_colours(value):
    nir = np.float32([[value]])  # OpenCV takes a 1 × 1 array for a scalar
    assert grey_lightness(nir).shape == (1, 1)
    assert grey_lightness(nir)[0, 0] == grey_lightness(np.float32([[value, value]]))[0, 0]
    rgb = api.colorize(nir)
    assert rgb.shape == (1, 1, 3) and np.isfinite(rgb).all()
