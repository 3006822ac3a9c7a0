"""The Python API with arrays and arguments as a new user gives them (issue 12, item 15).

uint8 / uint16 arrays are their full range, NaN and infinity are refused by name, a path
given where an array belongs says what to call instead, and library errors name keyword
arguments, not command-line flags.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from nircolor.api import colorize, colorize_file, colorize_large_file, get_model
from nircolor.errors import ImageWriteError
from nircolor.filters import GuidedFilter
from nircolor.io import read_image, to_uint, write_image


def _nir(seed=0, shape=(24, 32)) -> np.ndarray:
    return np.random.default_rng(seed).random(shape).astype(np.float32)


def test_write_image_takes_uint8_arrays_as_their_full_range(tmp_path):
    pixels = (np.arange(24 * 32 * 3) % 256).astype(np.uint8).reshape(24, 32, 3)
    path = write_image(tmp_path / "u8.png", pixels)
    assert np.array_equal(to_uint(read_image(path)), pixels)
    deep = write_image(tmp_path / "u8_16.png", pixels, bit_depth=16)
    assert np.array_equal(to_uint(read_image(deep), 16), pixels.astype(np.uint16) * 257)


def test_write_image_takes_uint16_arrays_as_their_full_range(tmp_path):
    pixels = (np.arange(24 * 32) * 85).astype(np.uint16).reshape(24, 32)
    path = write_image(tmp_path / "u16.tif", pixels, bit_depth=16)
    assert np.array_equal(to_uint(read_image(path), 16), pixels)
    shallow = write_image(tmp_path / "u16_8.png", pixels)
    assert np.array_equal(to_uint(read_image(shallow)), np.rint(pixels / 257).astype(np.uint8))


@pytest.mark.parametrize(("value", "name"), [(np.nan, "NaN"), (np.inf, "infinite")])
def test_write_image_refuses_nan_and_inf_by_name(tmp_path, value, name):
    image = _nir()
    image[3, 4] = value
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=name):
            write_image(tmp_path / "bad.png", image)
    assert list(tmp_path.iterdir()) == []


def test_write_image_refuses_other_integer_types(tmp_path):
    with pytest.raises(ValueError, match="int64"):
        write_image(tmp_path / "bad.png", np.zeros((4, 4), np.int64))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("value", "name"), [(np.nan, "NaN"), (-np.inf, "infinite")])
def test_colorize_refuses_nan_and_inf_by_name(tiny_model, value, name):
    nir = _nir()
    nir[0, 0] = value
    with pytest.raises(ValueError, match=name):
        colorize(nir, model=tiny_model)


def test_colorize_takes_integer_arrays_as_their_full_range(tiny_model):
    nir = _nir()
    as_uint16 = np.rint(nir * 65535).astype(np.uint16)
    assert np.allclose(
        colorize(as_uint16, model=tiny_model),
        colorize(as_uint16 / np.float32(65535), model=tiny_model),
    )


def test_colorize_takes_guided_text(tiny_model):
    nir = _nir()
    assert np.array_equal(
        colorize(nir, model=tiny_model, guided="5,1e-4"),
        colorize(nir, model=tiny_model, guided=GuidedFilter(5, 1e-4)),
    )


@pytest.mark.parametrize("guided", ["5", "five,1e-4", 5])
def test_colorize_refuses_bad_guided_settings_with_a_value_error(tiny_model, guided):
    with pytest.raises(ValueError, match="guided"):
        colorize(_nir(), model=tiny_model, guided=guided)


def test_colorize_given_a_path_says_what_to_call(tmp_path, tiny_model):
    path = write_image(tmp_path / "nir.png", _nir())
    for given in (str(path), path):
        with pytest.raises(TypeError, match=r"colorize_file\(\).*read_nir\(\)"):
            colorize(given, model=tiny_model)


def test_library_errors_name_the_keyword_not_a_cli_flag(tmp_path, tiny_model):
    target = write_image(tmp_path / "out.png", _nir())
    source = write_image(tmp_path / "nir.png", _nir(1))
    calls = [
        lambda: write_image(target, _nir()),
        lambda: colorize_file(source, target, model=tiny_model),
        lambda: colorize_large_file(source, target, model=get_model(tiny_model)),
    ]
    for call in calls:
        with pytest.raises(ImageWriteError) as error:
            call()
        message = str(error.value)
        assert "overwrite=True" in message and "--" not in message


UNACCEPTED_TYPES = [np.int8, np.int16, np.int32, np.int64, np.complex64, object]
ACCEPTED = r"is not accepted; give floats in \[0, 1\], uint8 or uint16"


def _filled(dtype, value) -> np.ndarray:
    if np.dtype(dtype).kind == "i":
        value = min(value, np.iinfo(dtype).max)
    return np.full((16, 16), value, dtype)


@pytest.mark.parametrize("dtype", UNACCEPTED_TYPES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("value", [255, 65536])
def test_colorize_and_write_image_refuse_other_pixel_types_by_name(
    tmp_path, tiny_model, dtype, value
):
    # int32 255 was read as 16-bit (near black), int32 65536 as "unsupported pixel type".
    image = _filled(dtype, value)
    name = np.dtype(dtype).name
    with pytest.raises(ValueError, match=rf"^NIR image: pixel type {name} {ACCEPTED}"):
        colorize(image, model=tiny_model)
    with pytest.raises(ValueError, match=rf"^image: pixel type {name} {ACCEPTED}"):
        write_image(tmp_path / "bad.png", image)
    assert not (tmp_path / "bad.png").exists()


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32])
def test_a_model_refuses_integer_samples_it_would_take_as_floats(tiny_model, dtype):
    # model.predict takes floats in [0, 1]: uint8 255 was colorized as the value 255.0.
    with pytest.raises(
        ValueError, match=r"pixel type \w+ is not accepted; give floats in \[0, 1\]"
    ):
        get_model(tiny_model).predict(np.full((16, 16), 255, dtype))


def test_bool_arrays_stay_accepted_as_black_and_white(tiny_model, tmp_path):
    mask = np.arange(16 * 16).reshape(16, 16) % 3 == 0
    assert np.array_equal(
        colorize(mask, model=tiny_model), colorize(mask.astype(np.float32), model=tiny_model)
    )
    assert np.array_equal(read_image(write_image(tmp_path / "mask.png", mask)), mask)


def test_a_colour_array_is_a_value_error_for_colorize_and_detect():
    import nircolor

    grey = np.random.default_rng(0).random((40, 50)).astype(np.float32)
    colour = np.stack([grey, grey * 0.5, grey], -1)
    for call in (nircolor.colorize, nircolor.detect):
        with pytest.raises(ValueError, match="colour image"):
            call(colour)


@pytest.mark.parametrize("model", [None, 5, object()])
def test_colorize_refuses_what_is_no_model_with_a_type_error(model):
    with pytest.raises(TypeError, match="model must be a name"):
        colorize(np.zeros((8, 8), np.float32), model=model)


@pytest.mark.parametrize("tile", ["8", -1, 0, 2.5, True])
def test_tile_is_checked_for_a_context_model_too(tile):
    """The default colours an image this small whole, but a bad tile is still an error."""
    with pytest.raises(ValueError, match="tile must be an integer"):
        colorize(np.zeros((8, 8), np.float32), tile=tile)


@pytest.mark.parametrize(
    "setting",
    [GuidedFilter(-1, 0.0), GuidedFilter("a", "b"), GuidedFilter(3, float("nan"))],
    ids=["negative radius", "text", "nan eps"],
)
def test_a_guided_filter_object_is_validated_not_taken_as_off(setting):
    with pytest.raises(ValueError):
        colorize(np.zeros((8, 8), np.float32), model="l3", guided=setting)


def test_a_detail_object_is_validated_not_taken_as_off():
    from nircolor.filters import DetailTransfer

    for setting in (DetailTransfer(1.0, -1.0), DetailTransfer("x", "y")):
        with pytest.raises(ValueError):
            colorize(np.zeros((8, 8), np.float32), detail=setting)
    assert colorize(np.zeros((8, 8), np.float32), detail=DetailTransfer.OFF).shape == (8, 8, 3)
