"""RGB-IR mosaics: the simulated CFA sensor, L3 with per-pixel-type classes, raw mosaics
through the API and the command line, and the one-line errors of wrong inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nircolor import api
from nircolor.cfa import PIXEL_TYPES, pixel_types, read_mosaic, shifted_cell
from nircolor.data import discover_pairs
from nircolor.errors import DataError, ImageReadError, ModelError
from nircolor.io import read_raw, read_rgb, write_image
from nircolor.models import load_model
from nircolor.models.l3 import L3CFAModel, L3Config, fit_l3_cfa
from nircolor.tiling import tile_colorize

from .helpers import requires
from .helpers.cli import run_cli as run

SMALL = L3Config(n_levels=4, n_contrasts=2)


def mosaic_pairs(count=8, size=32):
    from nircolor.spectral import make_scene
    from nircolor.spectral.mosaic import simulate_mosaic_pair

    categories = ("charts", "vegetation", "portrait", "mixed")
    pairs = []
    for index in range(count):
        scene = make_scene(f"s{index}", categories[index % 4], size=size, seed=index)
        raw, rgb = simulate_mosaic_pair(scene, seed=index)
        pairs.append((raw.astype(np.float32), rgb.astype(np.float32)))
    return pairs


@pytest.fixture(scope="module")
def model():
    pytest.importorskip("colour")
    return fit_l3_cfa(mosaic_pairs(), SMALL)


def test_the_rgbir_cell_is_iset_l3_s_and_a_cell_reads_from_the_top_left_pixel():
    from nircolor.cfa import PATTERNS

    assert PATTERNS["rgbir"] == ("g", "r", "b", "ir")  # isetL3 s_L3_rgbir: cfa = [2 1; 3 4]
    types = np.array(PIXEL_TYPES)[pixel_types((5, 3), ("r", "g", "ir", "b"))]
    assert types.tolist() == [
        ["r", "g", "r"],
        ["ir", "b", "ir"],
        ["r", "g", "r"],
        ["ir", "b", "ir"],
        ["r", "g", "r"],
    ]
    assert shifted_cell(("r", "g", "ir", "b"), 1, 0) == ("ir", "b", "r", "g")
    assert shifted_cell(("r", "g", "ir", "b"), 1, 1) == ("b", "ir", "g", "r")


@requires("colour")
def test_each_position_holds_its_own_channel_and_rgb_pixels_see_the_nir():
    from nircolor.spectral import SpectralScene
    from nircolor.spectral.mosaic import cfa_camera, ir_pixel_camera, mosaic_signal

    wave = np.arange(400.0, 1001.0, 10.0)
    for band in ((400, 690), (760, 1000)):  # visible light only, NIR only
        spectrum = ((wave >= band[0]) & (wave <= band[1])).astype(float)
        scene = SpectralScene("flat", np.tile(spectrum, (4, 6, 1)), wave, units="photons")
        radiance = scene.radiance()
        signal = mosaic_signal(radiance, wave, ("r", "g", "ir", "b"))
        colour = cfa_camera().respond(radiance, wave)
        infrared = ir_pixel_camera().respond(radiance, wave)[..., 0]
        np.testing.assert_allclose(signal[0::2, 0::2], colour[0::2, 0::2, 0])
        np.testing.assert_allclose(signal[0::2, 1::2], colour[0::2, 1::2, 1])
        np.testing.assert_allclose(signal[1::2, 1::2], colour[1::2, 1::2, 2])
        np.testing.assert_allclose(signal[1::2, 0::2], infrared[1::2, 0::2])
        r, g, ir, b = signal[0, 0], signal[0, 1], signal[1, 0], signal[1, 1]
        if band[0] > 700:  # under NIR light every pixel responds about as much as IR
            assert min(r, g, b) > 0.5 * ir > 0
        else:  # under visible light the IR pixel sees little (the IR pass leaks 2–3 %)
            assert ir < 0.05 * max(r, g, b)


def test_classes_are_blocks_by_pixel_type(model):
    flat = np.full((6, 7), 0.4, dtype=np.float32)
    classes = model.classify(flat)
    blocks = classes // SMALL.n_classes
    assert blocks.tolist() == pixel_types(flat.shape, model.cell).tolist()
    assert len(set(classes[:2, :2].ravel().tolist())) == 4
    assert model.n_classes == 4 * SMALL.n_classes == len(model.counts)


@requires("colour")
def test_a_flat_grey_scene_renders_near_grey():
    from nircolor.spectral import SpectralScene, illuminant
    from nircolor.spectral.mosaic import simulate_mosaic_pair

    pytest.importorskip("colour")
    model = fit_l3_cfa(mosaic_pairs(), L3Config())  # the default classes a user trains

    wave = np.arange(400.0, 1001.0, 10.0)
    light = illuminant("daylight", wave)
    grey = np.full((24, 24, len(wave)), 0.5)
    scene = SpectralScene("grey", grey, wave, "reflectance", illuminant=light)
    raw, target = simulate_mosaic_pair(scene, seed=3)
    rgb = model.predict(raw)[4:-4, 4:-4].reshape(-1, 3).mean(axis=0)
    assert np.ptp(target[4:-4, 4:-4].reshape(-1, 3).mean(axis=0)) < 0.03  # truth is grey
    assert np.ptp(rgb) < 0.08, rgb  # R, G, B within 0.08 of each other
    assert 0.2 < rgb.mean() < 0.95


def test_rows_bands_and_odd_sizes_give_the_whole_image_result(model):
    rng = np.random.default_rng(0)
    raw = rng.random((33, 47), dtype=np.float32)
    whole = model.predict(raw)
    for tile in (5, 7, 12):  # bands starting on odd rows too
        np.testing.assert_allclose(tile_colorize(raw, model, tile=tile), whole, atol=1e-6)


def test_a_crop_at_an_odd_offset_renders_with_the_shifted_pattern(model):
    raw = mosaic_pairs(1, 24)[0][0]
    whole = model.predict(raw)
    crop = model.shifted(1, 1).predict(raw[1:, 1:])
    h = model.halo  # the patch's reach and the smoothing's
    assert model.shifted(1, 1).smooth == model.smooth
    np.testing.assert_allclose(crop[h:-h, h:-h], whole[1 + h : -h, 1 + h : -h], atol=1e-6)
    wrong_phase = model.predict(raw[1:, 1:])
    assert np.abs(wrong_phase[h:-h, h:-h] - whole[1 + h : -h, 1 + h : -h]).mean() > 0.02


def test_save_and_load_keep_the_pattern(model, tmp_path):
    model.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["kind"] == "l3-cfa" and config["cfa_cell"] == ["g", "r", "b", "ir"]
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, L3CFAModel) and loaded.cell == model.cell
    assert loaded.smooth == model.smooth == config["smooth_sigma"] > 0
    raw = np.random.default_rng(1).random((9, 10), dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict(raw), model.predict(raw))
    config["cfa_cell"] = ["r", "g", "g", "b"]
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="once each"):
        load_model(tmp_path / "m")


def test_raw_files_keep_16_bits_and_ordinary_images_are_refused(tmp_path):
    values = np.arange(64 * 3, dtype=np.uint16).reshape(8, 24) * 97
    write_image(tmp_path / "raw.png", values, bit_depth=16)
    np.testing.assert_array_equal(read_mosaic(tmp_path / "raw.png") * 65535, values)
    write_image(tmp_path / "nir8.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(ImageReadError, match="8-bit image, not a raw CFA mosaic"):
        read_mosaic(tmp_path / "nir8.png")
    write_image(tmp_path / "colour.png", np.random.default_rng(0).random((8, 8, 3)))
    with pytest.raises(ImageReadError, match="colour image"):
        read_mosaic(tmp_path / "colour.png")
    write_image(tmp_path / "line.png", np.zeros((1, 8), np.uint16), bit_depth=16)
    with pytest.raises(DataError, match="no whole 2×2 CFA cell"):
        read_mosaic(tmp_path / "line.png")


def test_a_cfa_model_refuses_a_guide_and_a_colour_context(model):
    raw = np.random.default_rng(2).random((32, 32), dtype=np.float32)
    with pytest.raises(ModelError, match="guided filter"):
        api.colorize(raw, model, guided=(4, 1e-3))
    with pytest.raises(ModelError, match="colour context"):
        api.colorize(raw, model, context=16)
    assert api.colorize(raw, model).shape == (32, 32, 3)


@requires("colour")
def test_simulate_train_evaluate_colorize_round_trip(tmp_path, monkeypatch, capsys):
    code, _, err = run(monkeypatch, capsys, "simulate", "scenes", "-o", tmp_path / "S",
                       "--n", 8, "--size", 32)  # fmt: skip
    assert code == 0, err
    code, _, err = run(monkeypatch, capsys, "simulate", "pairs", "--scenes", tmp_path / "S",
                       "-o", tmp_path / "P", "--cfa", "rgbir")  # fmt: skip
    assert code == 0, err
    pairs = discover_pairs(tmp_path / "P")
    raw = read_raw(pairs[0].nir)
    assert raw.dtype == np.uint16 and raw.shape == (32, 32)  # one channel, 16 bits
    codes = raw / 65535 * 1023  # 10-bit samples scaled to 16 bits
    np.testing.assert_allclose(codes, np.round(codes), atol=0.01)
    code, out, err = run(monkeypatch, capsys, "train", "l3", "--data", tmp_path / "P",
                         "-o", tmp_path / "M", "--cfa", "rgbir")  # fmt: skip
    assert code == 0, err
    assert json.loads((tmp_path / "M" / "config.json").read_text())["kind"] == "l3-cfa"
    code, out, err = run(monkeypatch, capsys, "evaluate", "--model", tmp_path / "M",
                         "--data", tmp_path / "P", "--split", "val")  # fmt: skip
    assert code == 0, err
    assert "de00" in out.lower() or "δe00" in out.lower() or "ΔE00" in out
    target = tmp_path / "out.png"
    code, _, err = run(monkeypatch, capsys, "colorize", pairs[0].nir, "-o", target,
                       "--model", tmp_path / "M")  # fmt: skip
    assert code == 0, err
    assert read_rgb(target).shape == (32, 32, 3)


@requires("colour")
def test_wrong_inputs_fail_on_one_line(model, tmp_path, monkeypatch, capsys):
    model.save(tmp_path / "M")
    write_image(tmp_path / "nir8.png", np.full((16, 16), 0.5))
    code, _, err = run(monkeypatch, capsys, "colorize", tmp_path / "nir8.png", "-o",
                       tmp_path / "out.png", "--model", tmp_path / "M")  # fmt: skip
    assert code != 0 and "8-bit image, not a raw CFA mosaic" in err
    assert "Traceback" not in err and not (tmp_path / "out.png").exists()
    code, _, err = run(monkeypatch, capsys, "simulate", "pairs", "--scenes", tmp_path,
                       "-o", tmp_path / "P", "--cfa", "rggb")  # fmt: skip
    assert code == 1 and "unknown CFA 'rggb'" in err and len(err.strip().splitlines()) == 1
    folder = tmp_path / "plain"
    folder.mkdir()
    for index in range(2):
        write_image(folder / f"{index}_nir.png", np.full((16, 16), 0.5))
        write_image(folder / f"{index}_rgb.png", np.full((16, 16, 3), 0.5))
    code, _, err = run(monkeypatch, capsys, "train", "l3", "--data", folder, "-o",
                       tmp_path / "M2", "--cfa", "rgbir", "--split", "all")  # fmt: skip
    assert code == 1 and "not a raw CFA mosaic" in err and "Traceback" not in err
    assert not (tmp_path / "M2").exists()


def test_the_benchmarks_bilinear_demosaic_keeps_samples_and_fills_flat_planes():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    bench = pytest.importorskip("bench_rgbir")
    levels = np.array([0.2, 0.5, 0.8, 0.35], dtype=np.float32)  # r, g, b, ir
    raw = levels[pixel_types((9, 12), bench.CELL)]
    planes = bench.bilinear_demosaic(raw)
    np.testing.assert_allclose(planes, np.broadcast_to(levels, (9, 12, 4)), atol=1e-6)
    ramp = np.tile(np.arange(12, dtype=np.float32) / 12, (9, 1))
    red = bench.bilinear_demosaic(ramp)[..., 0]
    red_column = bench.CELL.index("r") % 2  # the columns holding red pixels
    np.testing.assert_allclose(red[:, red_column::2], ramp[:, red_column::2])  # samples kept
    between = slice(3 - red_column, -1, 2)  # interior columns between two red columns
    np.testing.assert_allclose(red[:, between], ramp[:, between], atol=1e-6)  # linear ramp


def test_the_smoothing_lowers_the_speckle_and_stays_exact_in_row_bands(model):
    """Each pixel type has its own maps: the raw rendering is speckled; the smoothed one is
    less so, and row bands (with the halo grown by the smoothing) give the same pixels."""
    from nircolor.tiling import tile_colorize

    raw = mosaic_pairs(1, 40)[0][0]
    raw_render = model.shifted(0, 0)
    raw_render.smooth = 0.0
    rough, smooth = raw_render.predict(raw), model.predict(raw)
    assert np.abs(np.diff(smooth, axis=1)).mean() < 0.8 * np.abs(np.diff(rough, axis=1)).mean()
    assert model.halo == raw_render.halo + 2  # ceil(3 × 0.6)
    banded = tile_colorize(raw, model, tile=8)
    np.testing.assert_allclose(banded, smooth, atol=1e-6)


@pytest.mark.parametrize("value", [-0.1, float("nan"), 5.0, "0.6", True])
def test_a_bad_smoothing_in_the_config_is_refused(model, tmp_path, value):
    model.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config["smooth_sigma"] = value
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="smooth_sigma"):
        load_model(tmp_path / "m")
