"""A soft picture is coloured at the scale where it is sharp (nircolor.context)."""

import numpy as np
import pytest
import tifffile

import nircolor
from nircolor.api import colorize_file
from nircolor.context import (
    MIN_SOFT_SIDE,
    SOFT_RATIO,
    ColourContext,
    colorize_in_context,
    colorized_copy,
    colour_at_sharp_scale,
    context_bands,
    downscale_rows,
    reblur_ratio,
    sharp_scale,
)
from nircolor.degrade import blur
from nircolor.models.base import ColorizerBase
from nircolor.video.keyframes import KeyframeColorizer

SIGMA = 0.05


def texture(height, width, seed=0):
    """Sharp NIR texture: pixel noise softened a little, as a focused camera sees grass."""
    rng = np.random.default_rng(seed)
    noise = rng.random((height, width)).astype(np.float32)
    return np.clip(0.2 + 0.6 * blur(noise, 0.7), 0, 1).astype(np.float32)


def step_edge(sigma):
    edge = np.zeros((200, 200), np.float32)
    edge[:, 100:] = 1
    return blur(edge, sigma)


class Recording(ColorizerBase):
    """Colours that depend on each pixel and on the image's size; records what it was shown."""

    def __init__(self, context=None):
        self.context = context
        self.shown = []

    def predict(self, nir, *, threads=None):
        self.shown.append(nir.shape)
        tint = 20.0 / max(nir.shape)
        return np.clip(np.stack([nir + tint, nir, nir - tint], -1), 0, 1).astype(np.float32)


@pytest.mark.parametrize("sigma", [2.0, 4.0])
def test_an_edge_blurred_by_sigma_keeps_sigma_over_its_hypotenuse(sigma):
    assert reblur_ratio(step_edge(sigma)) == pytest.approx(sigma / np.hypot(sigma, 1), abs=0.01)


def test_the_ratio_grows_with_blur_and_is_zero_for_a_flat_image():
    ratios = [reblur_ratio(blur(texture(256, 256), s)) for s in (0, 1, 2, 4)]
    assert ratios == sorted(ratios) and ratios[0] < 0.4 < SOFT_RATIO < ratios[-1]
    assert reblur_ratio(np.full((64, 64), 0.4, np.float32)) == 0.0


def test_a_sharp_image_is_its_own_sharp_scale():
    nir = texture(300, 400)
    assert sharp_scale(nir) is nir


def test_a_soft_image_is_halved_until_sharp_but_not_below_the_least_side():
    soft = blur(texture(256, 384), 4.0)
    halved = sharp_scale(soft)
    assert halved.shape in {(128, 192), (64, 96)} and reblur_ratio(halved) <= SOFT_RATIO
    y, x = np.mgrid[0:300, 0:400] / 400.0
    ramp = (0.2 + 0.5 * x + 0.1 * y).astype(np.float32)  # soft at every scale
    assert MIN_SOFT_SIDE <= max(sharp_scale(ramp).shape) < 2 * MIN_SOFT_SIDE
    assert np.mean(sharp_scale(ramp)) == pytest.approx(float(ramp.mean()), abs=1e-3)


def test_a_sharp_image_gets_the_nets_own_colours():
    nir, model = texture(200, 300), Recording()
    rgb = colour_at_sharp_scale(nir, model.predict, SIGMA)
    np.testing.assert_array_equal(rgb, model.predict(nir))
    assert model.shown == [(200, 300), (200, 300)]


def test_a_soft_image_gets_the_colours_of_a_smaller_copy_at_its_own_size():
    soft, model = blur(texture(256, 384), 3.0), Recording()
    rgb = colour_at_sharp_scale(soft, model.predict, SIGMA)
    assert rgb.shape == (256, 384, 3) and rgb.dtype == np.float32
    assert model.shown and max(model.shown[0]) < 384
    tint = 20.0 / max(model.shown[0])  # the smaller copy's colours, carried up
    assert float(np.median(rgb[..., 0] - rgb[..., 2])) == pytest.approx(2 * tint, abs=0.02)


def test_colorize_colours_a_soft_small_image_from_a_smaller_copy():
    soft = blur(texture(300, 400), 3.0)
    model = Recording(context=ColourContext(512, SIGMA))
    rgb = nircolor.colorize(soft, model, guided=False, detail="off")
    assert rgb.shape == (300, 400, 3) and max(model.shown[-1]) < 400
    off = Recording(context=ColourContext(512, SIGMA))
    nircolor.colorize(soft, off, guided=False, detail="off", context=0)
    assert off.shown == [(300, 400)]  # no context: the net sees the image as it is


def test_a_soft_copy_keeps_its_shape_and_bands_give_the_whole():
    soft = blur(texture(700, 1000, seed=2), 8.0)
    setting, model = ColourContext(400, SIGMA), Recording()
    small = downscale_rows(lambda a, b: soft[a:b], soft.shape, setting.size)
    copy = colorized_copy(small, model.predict, setting.sigma)
    assert copy.shape == (*small.shape, 4) and max(model.shown[-1]) < 400
    whole = colorize_in_context(soft, model.predict, setting)
    bands = context_bands(lambda a, b: soft[a:b], soft.shape, copy, setting.sigma)
    np.testing.assert_array_equal(whole, np.concatenate([rgb for _, _, rgb in bands]))


def test_a_streamed_soft_file_gets_the_colours_of_the_whole_image(tmp_path):
    soft = blur(texture(1100, 1500, seed=3), 8.0)
    copy = downscale_rows(lambda a, b: soft[a:b], soft.shape, 512)  # the default's context
    assert reblur_ratio(copy) > SOFT_RATIO  # so both paths colour a smaller copy
    source = tmp_path / "soft_nir.tif"
    tifffile.imwrite(source, (soft * 65535).astype(np.uint16), compression="zlib", rowsperstrip=64)
    streamed = tmp_path / "streamed.png"
    colorize_file(source, streamed, tile=256)  # tile given: streamed in bands
    whole = nircolor.colorize(nircolor.read_nir(source))
    assert np.abs(nircolor.read_image(streamed) - whole).max() <= 1 / 255 + 1e-6


def test_a_soft_videos_keyframes_are_copies_of_one_shape():
    frames = [blur(texture(300, 420, seed=4), 4.0)] * 5
    model = Recording(context=ColourContext(256, SIGMA))
    keyed = KeyframeColorizer(model, guided="off", detail="off", every=2)
    out = [rgb for _, rgb in keyed(frames)]
    assert keyed.keyframes == [0, 2, 4] and all(max(shape) < 256 for shape in model.shown)
    still = nircolor.colorize(frames[0], model, guided="off", detail="off")
    for rgb in out:  # a still soft clip: every frame as the still
        np.testing.assert_allclose(rgb, still, atol=1e-5)
