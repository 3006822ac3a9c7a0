"""Tiled, banded and streamed colorization against the whole-image result."""

import sys

import cv2
import numpy as np
import pytest
import tifffile

from nircolor import api, tiling
from nircolor.api import colorize, colorize_file, colorize_large_file
from nircolor.cli import main
from nircolor.errors import ImageWriteError
from nircolor.examples import synthetic_pair
from nircolor.examples import textured_nir as textured
from nircolor.filters import apply_guided
from nircolor.io import image_size, read_image, read_nir, write_image
from nircolor.models import ColorizerBase
from nircolor.models.l3 import L3Config, fit_l3
from nircolor.tiling import colorize_rows, colorize_tiled, model_halo, tile_colorize

ONE = 1 / 255


def blur_model(sigma: float = 3.0):
    """A 'model' with a wide receptive field: a Gaussian blur mapped to three channels."""

    def predict(nir):
        g = cv2.GaussianBlur(nir, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
        return np.clip(np.stack([g, g * g, 1 - 0.5 * g], axis=2), 0, 1).astype(np.float32)

    return predict


class BoxModel(ColorizerBase):
    """A fake local model: 5×5 mean (reflected at the border) mapped to 3 channels."""

    kind = "box"
    halo = 2

    def __init__(self):
        self.calls = 0

    def predict(self, nir):
        self.calls += 1
        m = cv2.blur(nir, (5, 5), borderType=cv2.BORDER_REFLECT)
        return np.clip(np.stack([m, nir, 1 - m], axis=2), 0, 1).astype(np.float32)


class FailingModel(BoxModel):
    """Fails on its third call, half-way through an image."""

    def predict(self, nir):
        if self.calls >= 2:
            raise RuntimeError("model crashed")
        return super().predict(nir)


@pytest.fixture(scope="module")
def l3_model():
    pairs = [synthetic_pair(i, 64, 80) for i in range(4)]
    return fit_l3(pairs, L3Config(patch=5, n_levels=4, n_contrasts=2, lambda_steps=5))


# ------------------------------------------------------------------ in memory


def test_blending_is_seamless_for_a_wide_receptive_field():
    nir = textured(300, 500)
    predict = blur_model(3.0)
    whole = predict(nir)
    tiled = colorize_tiled(nir, predict, tile=128, overlap=32)
    assert tiled.shape == whole.shape and tiled.dtype == np.float32
    margin = 16
    assert np.abs(tiled - whole)[margin:-margin, margin:-margin].max() <= ONE


def test_blending_without_overlap_shows_seams():
    # The test above is not vacuous: plain tiles are visibly wrong at their borders.
    nir = textured(300, 500)
    predict = blur_model(3.0)
    tiled = colorize_tiled(nir, predict, tile=128, overlap=0)
    assert np.abs(tiled - predict(nir)).max() > 5 * ONE


def test_blend_weights_sum_to_one():
    for length, tile, overlap in [(300, 128, 32), (1000, 256, 64), (129, 64, 16), (64, 64, 16)]:
        spans, weights, total = tiling._axis_plan(length, tile, overlap)
        assert spans[0][0] == 0 and spans[-1][1] == length
        assert total.min() > 0
        regular = [s for s, _ in spans[:-1]]  # all but the moved last tile
        for a, b in zip(regular, regular[1:], strict=False):
            assert b - a == tile - overlap
        # Away from the last (shifted) tile the weights sum to exactly 1.
        end = spans[-1][0] if len(spans) > 1 else length
        np.testing.assert_allclose(total[:end], 1.0, atol=1e-6)


@pytest.mark.parametrize("shape", [(50, 70), (1, 1), (3, 100), (128, 128)])
def test_image_smaller_than_a_tile(shape):
    nir = textured(*shape) if min(shape) > 1 else np.full(shape, 0.3, np.float32)
    predict = blur_model(3.0)
    np.testing.assert_array_equal(colorize_tiled(nir, predict, tile=128, overlap=32), predict(nir))
    box = BoxModel()
    np.testing.assert_array_equal(colorize_rows(nir, box.predict, 2, rows=16), box.predict(nir))


@pytest.mark.parametrize("shape", [(129, 257), (301, 97), (1, 400), (400, 1), (200, 143)])
def test_non_multiple_sizes(shape):
    rng = np.random.default_rng(1)
    nir = cv2.GaussianBlur(rng.random(shape).astype(np.float32), (0, 0), 1.5)
    predict = blur_model(1.5)
    tiled = colorize_tiled(nir, predict, tile=64, overlap=24)
    assert np.abs(tiled - predict(nir)).max() <= ONE


@pytest.mark.parametrize("rows", [1, 7, 32, 1000])
def test_row_streaming_of_a_local_model_is_exact(rows):
    nir = textured(131, 77)
    box = BoxModel()
    np.testing.assert_array_equal(colorize_rows(nir, box.predict, 2, rows=rows), box.predict(nir))


@pytest.mark.parametrize("rows", [32, 50, 64])
def test_row_streaming_of_l3_is_exact(l3_model, rows):
    nir = textured(300, 500)
    halo = model_halo(l3_model)
    assert halo == l3_model.config.patch // 2 == 2
    banded = colorize_rows(nir, l3_model.predict, halo, rows=rows)
    np.testing.assert_array_equal(banded, l3_model.predict(nir))


def test_tile_colorize_picks_rows_for_local_models(l3_model):
    nir = textured(300, 500)
    np.testing.assert_array_equal(tile_colorize(nir, l3_model, tile=64), l3_model.predict(nir))


def test_model_halo():
    class Declared(ColorizerBase):
        halo = 7

    assert model_halo(Declared()) == 7
    assert model_halo(blur_model()) is None
    with pytest.raises(ValueError):
        model_halo(type("Bad", (ColorizerBase,), {"halo": -1})())


@pytest.mark.parametrize("local", [True, False])
def test_guided_filter_band_by_band_equals_whole_image(local):
    nir = textured(300, 500)
    model = BoxModel() if local else blur_model(2.0)
    predict = model.predict if local else model
    expected = apply_guided(nir, predict(nir), 4, 1e-3)
    got = tile_colorize(nir, model, tile=64, overlap=16, guided=(4, 1e-3))
    assert np.abs(got - expected).max() <= ONE
    if local:  # exact up to float round-off
        assert np.abs(got - expected).max() < 1e-5


def test_api_colorize_with_tile(l3_model):
    nir = textured(200, 300)
    np.testing.assert_array_equal(colorize(nir, l3_model, tile=48), colorize(nir, l3_model))
    np.testing.assert_allclose(
        colorize(nir, l3_model, guided=(3, 1e-4), tile=48),
        colorize(nir, l3_model, guided=(3, 1e-4)),
        atol=1e-5,
    )


def test_api_colorize_tiles_large_images_automatically(l3_model, monkeypatch):
    calls = []
    real = tiling.tile_colorize
    monkeypatch.setattr(
        "nircolor.api.tile_colorize", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    monkeypatch.setattr("nircolor.api.AUTO_TILE_PIXELS", 10_000)
    nir = textured(120, 100)
    np.testing.assert_array_equal(colorize(nir, l3_model), l3_model.predict(nir))
    assert calls


@pytest.mark.parametrize(
    "kwargs",
    [{"tile": 0}, {"tile": 64, "overlap": 32}, {"tile": 64, "overlap": -1}, {"tile": 2.5}],
)
def test_invalid_tiling_arguments(kwargs):
    with pytest.raises(ValueError):
        colorize_tiled(np.zeros((10, 10), np.float32), blur_model(), **kwargs)


def test_invalid_inputs():
    with pytest.raises(ValueError, match="non-empty"):
        colorize_tiled(np.zeros((0, 10), np.float32), blur_model())
    with pytest.raises(ValueError, match="shape"):
        colorize_tiled(np.zeros((10, 10), np.float32), lambda x: x)
    with pytest.raises(ValueError):
        tile_colorize(np.zeros((10, 10), np.float32), BoxModel(), tile=64, guided=(0, 1e-3))


# ------------------------------------------------------------------ files


def _write_tiff(path, image, **kwargs):
    tifffile.imwrite(path, image, **kwargs)
    return path


TIFF_LAYOUTS = {
    "plain": {},
    "zlib": {"compression": "zlib", "rowsperstrip": 16},
    "tiled": {"tile": (32, 48), "compression": "zlib"},
}


@pytest.mark.parametrize("layout", list(TIFF_LAYOUTS))
@pytest.mark.parametrize("suffix", [".tif", ".png"])
def test_streaming_a_file_equals_the_in_memory_result(tmp_path, l3_model, layout, suffix):
    raw = (textured(203, 151) * 255).astype(np.uint8)
    source = _write_tiff(tmp_path / "in.tif", raw, **TIFF_LAYOUTS[layout])
    expected = colorize_file(source, tmp_path / f"whole{suffix}", l3_model)
    streamed = colorize_large_file(source, tmp_path / f"out{suffix}", l3_model, tile=40)
    np.testing.assert_array_equal(read_image(streamed), read_image(expected))


def test_streaming_16_bit_uncompressed_with_guided(tmp_path, l3_model):
    raw = (textured(150, 120) * 65535).astype(np.uint16)
    source = _write_tiff(tmp_path / "in.tif", raw)
    guided = (3, 1e-4)
    expected = colorize(read_nir(source), l3_model, guided=guided)
    out = colorize_large_file(
        source, tmp_path / "out.tif", l3_model, guided, bit_depth=16, tile=32, compression=None
    )
    with tifffile.TiffFile(out) as tif:
        assert tif.pages.first.compression == 1 and tif.pages.first.dtype == np.uint16
    assert np.abs(read_image(out) - expected).max() <= 1 / 65535 + 1e-6


def test_streaming_png_input_and_blending_model(tmp_path):
    nir = textured(100, 90)
    source = write_image(tmp_path / "in.png", nir)
    predict = blur_model(2.0)
    out = colorize_large_file(source, tmp_path / "out.png", predict, tile=48, overlap=12)
    expected = predict(read_nir(source))
    assert np.abs(read_image(out) - expected).max() <= 2 * ONE


def test_colorize_file_streams_when_asked_or_large(tmp_path, l3_model, monkeypatch):
    raw = (textured(120, 100) * 255).astype(np.uint8)
    source = _write_tiff(tmp_path / "in.tif", raw, compression="zlib")
    plain = colorize_file(source, tmp_path / "plain.tif", l3_model)
    calls = []
    real = api.colorize_large_file
    monkeypatch.setattr(
        "nircolor.api.colorize_large_file", lambda *a, **k: calls.append(k) or real(*a, **k)
    )
    tiled = colorize_file(source, tmp_path / "tiled.tif", l3_model, tile=32)
    monkeypatch.setattr("nircolor.api.STREAM_PIXELS", 10_000)
    auto = colorize_file(source, tmp_path / "auto.tif", l3_model)
    assert len(calls) == 2
    np.testing.assert_array_equal(read_image(tiled), read_image(plain))
    np.testing.assert_array_equal(read_image(auto), read_image(plain))


def test_image_size_reads_headers(tmp_path):
    png = write_image(tmp_path / "a.png", np.zeros((13, 17), np.float32))
    tif = _write_tiff(tmp_path / "a.tif", np.zeros((19, 23), np.uint8), compression="zlib")
    assert image_size(png) == (13, 17)
    assert image_size(tif) == (19, 23)


@pytest.mark.parametrize("suffix", [".tif", ".png"])
def test_a_failure_mid_way_leaves_no_output(tmp_path, suffix):
    raw = (textured(200, 60) * 255).astype(np.uint8)
    source = _write_tiff(tmp_path / "in.tif", raw, compression="zlib", rowsperstrip=8)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / f"out{suffix}"
    with pytest.raises(RuntimeError, match="crashed"):
        colorize_large_file(source, target, FailingModel(), tile=32)
    assert list(out_dir.iterdir()) == []
    # An existing file survives a failed overwrite untouched.
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        colorize_large_file(source, target, FailingModel(), tile=32, overwrite=True)
    assert target.read_bytes() == b"old"
    assert list(out_dir.iterdir()) == [target]


def test_existing_output_is_refused_before_any_work(tmp_path):
    source = _write_tiff(tmp_path / "in.tif", np.zeros((20, 20), np.uint8))
    target = tmp_path / "out.tif"
    target.write_bytes(b"old")
    model = BoxModel()
    with pytest.raises(ImageWriteError, match="already exists"):
        colorize_large_file(source, target, model)
    with pytest.raises(ImageWriteError, match="16-bit"):
        colorize_large_file(source, tmp_path / "x.jpg", model, bit_depth=16)
    assert model.calls == 0 and target.read_bytes() == b"old"


def test_cli_streams_large_files(tmp_path, l3_model, monkeypatch, capsys):
    model_dir = tmp_path / "model"
    l3_model.save(model_dir)
    source = _write_tiff(tmp_path / "in.tif", (textured(90, 70) * 255).astype(np.uint8))
    expected = colorize_file(source, tmp_path / "expected.tif", l3_model)
    calls = []
    real = api.colorize_large_file
    monkeypatch.setattr(
        "nircolor.api.colorize_large_file", lambda *a, **k: calls.append(k) or real(*a, **k)
    )
    monkeypatch.setattr("nircolor.api.STREAM_PIXELS", 1000)
    argv = ["nircolor", "colorize", source, "-o", tmp_path / "out.tif", "-m", model_dir]
    monkeypatch.setattr(sys, "argv", [str(a) for a in argv])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 0, capsys.readouterr().err
    assert calls
    np.testing.assert_array_equal(read_image(tmp_path / "out.tif"), read_image(expected))
