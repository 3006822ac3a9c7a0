"""Known values of the nets' output spaces (``nircolor.colorspace``): scales, conversions."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.color import lab2rgb, rgb2lab

from nircolor.colorspace import LAB_SCALE, OUTPUT_SPACES, check_space, from_srgb, to_srgb

# sRGB primaries and white in CIELAB (D65, 2°), the published reference values.
KNOWN_LAB = {
    (1.0, 1.0, 1.0): (100.0, 0.0, 0.0),
    (0.0, 0.0, 0.0): (0.0, 0.0, 0.0),
    (1.0, 0.0, 0.0): (53.2408, 80.0925, 67.2032),
    (0.0, 1.0, 0.0): (87.7347, -86.1827, 83.1793),
    (0.0, 0.0, 1.0): (32.2970, 79.1875, -107.8602),
}


def srgb_of_lightness(lightness: np.ndarray) -> np.ndarray:
    """The sRGB grey level of CIELAB ``(L, 0, 0)``, written out from the CIE and sRGB formulas."""
    f = (lightness + 16.0) / 116.0
    y = np.where(f > 6 / 29, f**3, 3 * (6 / 29) ** 2 * (f - 4 / 29))
    return np.where(y <= 0.0031308, 12.92 * y, 1.055 * y ** (1 / 2.4) - 0.055)


def random_rgb(shape=(5, 7), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).random((*shape, 3)).astype(np.float32)


# ----------------------------------------------------------------------------- the spaces


def test_spaces_and_their_channel_counts():
    assert OUTPUT_SPACES == {"rgb": 3, "lab": 3, "lab_ab": 2}
    np.testing.assert_array_equal(LAB_SCALE, [100.0, 128.0, 128.0])
    assert LAB_SCALE.dtype == np.float32


@pytest.mark.parametrize("space", ["rgb", "lab", "lab_ab"])
def test_check_space_returns_a_known_space(space):
    assert check_space(space) == space


@pytest.mark.parametrize("space", ["hsv", "RGB", "Lab", "", "yuv", "lab-ab"])
def test_unknown_spaces_are_refused_naming_the_known_ones(space):
    with pytest.raises(ValueError, match="unknown output space") as error:
        check_space(space)
    assert "rgb, lab, lab_ab" in str(error.value)
    with pytest.raises(ValueError, match="unknown output space"):
        from_srgb(random_rgb(), space)
    with pytest.raises(ValueError, match="unknown output space"):
        to_srgb(np.zeros((5, 7, 3), np.float32), np.zeros((5, 7), np.float32), space)


# ----------------------------------------------------------------------------- from sRGB


def test_primaries_in_lab_have_their_published_values_scaled():
    rgb = np.array([list(KNOWN_LAB)], dtype=np.float32)  # (1, 5, 3)
    lab = from_srgb(rgb, "lab")
    assert lab.shape == (1, 5, 3) and lab.dtype == np.float32
    expected = np.array([list(KNOWN_LAB.values())]) / [100.0, 128.0, 128.0]
    np.testing.assert_allclose(lab, expected, atol=2e-4)
    np.testing.assert_allclose(from_srgb(rgb, "lab_ab"), expected[..., 1:], atol=2e-4)


def test_from_srgb_matches_skimage_and_keeps_batch_axes():
    rgb = np.stack([random_rgb(seed=1), random_rgb(seed=2)])  # (2, 5, 7, 3)
    reference = rgb2lab(rgb.astype(np.float64), illuminant="D65", observer="2", channel_axis=-1)
    lab = from_srgb(rgb, "lab")
    assert lab.shape == (2, 5, 7, 3) and lab.dtype == np.float32
    np.testing.assert_allclose(lab * [100.0, 128.0, 128.0], reference, atol=2e-3)
    ab = from_srgb(rgb, "lab_ab")
    assert ab.shape == (2, 5, 7, 2)
    np.testing.assert_allclose(ab * 128.0, reference[..., 1:], atol=2e-3)
    assert np.abs(lab).max() <= 1.0  # the scale keeps the gamut within [-1, 1]


def test_rgb_space_is_the_image_as_float32():
    rgb = random_rgb()
    out = from_srgb(rgb.astype(np.float64), "rgb")
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, rgb)
    uint = from_srgb(np.array([[[0, 1, 2]]], np.uint8), "rgb")
    assert uint.dtype == np.float32 and uint.tolist() == [[[0.0, 1.0, 2.0]]]


# ----------------------------------------------------------------------------- to sRGB


@pytest.mark.parametrize("space", ["rgb", "lab"])
def test_round_trip_through_each_full_space(space):
    rgb = random_rgb((9, 11), seed=3)
    back = to_srgb(from_srgb(rgb, space), np.zeros((9, 11), np.float32), space)
    assert back.shape == (9, 11, 3) and back.dtype == np.float32
    np.testing.assert_allclose(back, rgb, atol=1e-4)


def test_lab_to_srgb_matches_skimage():
    rng = np.random.default_rng(4)
    lab = np.stack(
        [rng.uniform(5, 95, (6, 8)), rng.uniform(-30, 30, (6, 8)), rng.uniform(-30, 30, (6, 8))],
        axis=-1,
    )
    expected = np.clip(lab2rgb(lab, illuminant="D65", observer="2", channel_axis=-1), 0, 1)
    out = to_srgb((lab / [100.0, 128.0, 128.0]).astype(np.float32), None, "lab")
    np.testing.assert_allclose(out, expected, atol=1e-4)


def test_lab_ab_takes_the_lightness_100_nir_from_the_nir_image():
    nir = np.linspace(0, 1, 24, dtype=np.float32).reshape(4, 6)
    grey = to_srgb(np.zeros((4, 6, 2), np.float32), nir, "lab_ab")
    assert grey.shape == (4, 6, 3) and grey.dtype == np.float32
    np.testing.assert_allclose(grey[..., 0], grey[..., 1], atol=1e-4)  # D65 vs sRGB white
    np.testing.assert_allclose(grey[..., 0], grey[..., 2], atol=1e-4)
    np.testing.assert_allclose(grey[..., 0], srgb_of_lightness(100.0 * nir), atol=2e-4)
    assert grey[0, 0].tolist() == [0.0, 0.0, 0.0]
    np.testing.assert_allclose(grey[-1, -1], [1.0, 1.0, 1.0], atol=1e-4)
    # mid grey: L = 50 is sRGB 0.4663 (118.9 / 255)
    mid = to_srgb(np.zeros((1, 1, 2), np.float32), np.full((1, 1), 0.5, np.float32), "lab_ab")
    np.testing.assert_allclose(mid[0, 0], [0.4663] * 3, atol=2e-4)


def test_lab_ab_with_the_lightness_of_the_truth_gives_the_truth_back():
    rgb = random_rgb((6, 5), seed=5)
    lightness = from_srgb(rgb, "lab")[..., 0]
    back = to_srgb(from_srgb(rgb, "lab_ab"), lightness, "lab_ab")
    np.testing.assert_allclose(back, rgb, atol=1e-4)


def test_rgb_output_is_clipped_to_the_unit_range():
    output = np.array([[[-0.5, 0.25, 1.5], [2.0, -3.0, 0.75]]], np.float64)
    out = to_srgb(output, None, "rgb")
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[[0.0, 0.25, 1.0], [1.0, 0.0, 0.75]]])


def test_out_of_range_lab_is_clipped_not_wrapped():
    # L beyond [0, 100] is clipped first: white above, black below
    lab = np.array([[[1.7, 0.0, 0.0], [-0.4, 0.0, 0.0]]], np.float32)
    out = to_srgb(lab, None, "lab")
    np.testing.assert_allclose(out, [[[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]], atol=1e-5)
    # chroma far outside the gamut gives finite sRGB inside [0, 1], of the right hue
    wild = np.array([[[0.5, 1.0, 0.0], [0.5, -1.0, 0.0], [0.5, 0.0, -1.0]]], np.float32)
    out = to_srgb(wild, None, "lab")
    assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0
    red, green, blue = out[0]
    assert red[0] == out[0, :, 0].max() and red[0] > red[1]  # +a is red
    assert green[1] > green[0]  # -a is green
    assert blue[2] > blue[0]  # -b is blue


def test_inputs_are_not_modified():
    output = np.full((2, 3, 3), 0.3, np.float32)
    before = output.copy()
    to_srgb(output, None, "lab")
    np.testing.assert_array_equal(output, before)
    ab = np.full((2, 3, 2), 0.1, np.float32)
    nir = np.full((2, 3), 0.6, np.float32)
    ab_before, nir_before = ab.copy(), nir.copy()
    to_srgb(ab, nir, "lab_ab")
    np.testing.assert_array_equal(ab, ab_before)
    np.testing.assert_array_equal(nir, nir_before)
