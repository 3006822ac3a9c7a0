"""Tests of the guided filter against a slow, written-out reference."""

import numpy as np
import pytest
from scipy.ndimage import uniform_filter

from nircolor.filters import GuidedFilter, apply_guided, guided_filter
from nircolor.io import write_image

from .helpers.cli import run_cli


def _reference_guided(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s Algorithm 1 in float64, with scipy box means (mode 'reflect' mirrors the
    border as cv2.BORDER_REFLECT does), one channel at a time."""
    size = 2 * radius + 1

    def mean(x):
        return uniform_filter(x, size=size, mode="reflect")

    I = guide.astype(np.float64)  # noqa: E741
    channels = src[..., None] if src.ndim == 2 else src
    out = np.empty(channels.shape, dtype=np.float64)
    for c in range(channels.shape[-1]):
        p = channels[..., c].astype(np.float64)
        mean_I, mean_p = mean(I), mean(p)
        var_I = mean(I * I) - mean_I**2
        cov_Ip = mean(I * p) - mean_I * mean_p
        a = cov_Ip / (var_I + eps)
        b = mean_p - a * mean_I
        out[..., c] = mean(a) * I + mean(b)
    return out[..., 0] if src.ndim == 2 else out


def _images(seed: int, shape=(37, 53), channels=None):
    rng = np.random.default_rng(seed)
    guide = rng.random(shape)
    src_shape = shape if channels is None else (*shape, channels)
    src = rng.random(src_shape)
    return guide, src


@pytest.mark.parametrize("radius", [1, 2, 5])
@pytest.mark.parametrize("eps", [1e-4, 1e-2, 1.0])
@pytest.mark.parametrize("channels", [None, 3])
def test_guided_filter_matches_reference(radius, eps, channels):
    guide, src = _images(radius * 100 + int(-np.log10(eps)), channels=channels)
    out = guided_filter(guide, src, radius, eps)
    assert out.dtype == np.float32
    assert out.shape == src.shape
    np.testing.assert_allclose(out, _reference_guided(guide, src, radius, eps), atol=1e-5, rtol=0)


def test_guided_filter_matches_reference_with_a_smooth_guide():
    # A correlated guide and source, closer to a real NIR / colour pair than white noise.
    y, x = np.mgrid[0:40, 0:60] / 60.0
    guide = 0.5 + 0.4 * np.sin(6 * x) * np.cos(4 * y)
    src = np.stack([guide**2, 1 - guide, 0.5 * guide + 0.2 * x], axis=-1)
    for radius, eps in [(1, 1e-5), (3, 1e-3), (8, 1e-1)]:
        expected = _reference_guided(guide, src, radius, eps)
        np.testing.assert_allclose(guided_filter(guide, src, radius, eps), expected, atol=1e-5)


def test_guided_filter_single_and_many_channels():
    guide, src = _images(1, channels=5)
    out = guided_filter(guide, src, 2, 1e-3)
    assert out.shape == src.shape
    for c in range(5):
        np.testing.assert_allclose(out[..., c], guided_filter(guide, src[..., c], 2, 1e-3))
    one = guided_filter(guide, src[..., :1], 2, 1e-3)
    assert one.shape == (*guide.shape, 1)
    np.testing.assert_allclose(one[..., 0], out[..., 0])


def test_guided_filter_accepts_float32_and_integer_radius_types():
    guide, src = _images(2, channels=3)
    out64 = guided_filter(guide, src, 3, 1e-3)
    out32 = guided_filter(guide.astype(np.float32), src.astype(np.float32), np.int64(3), 1e-3)
    np.testing.assert_allclose(out32, out64, atol=1e-6)


def _step(shape=(32, 32), low=0.2, high=0.8) -> np.ndarray:
    image = np.full(shape, low)
    image[:, shape[1] // 2 :] = high
    return image


def test_self_guided_filter_with_tiny_eps_preserves_an_edge():
    step = _step()
    out = guided_filter(step, step, 4, 1e-6)
    np.testing.assert_allclose(out, step, atol=1e-3)


def test_self_guided_filter_with_large_eps_smooths_an_edge():
    step = _step()
    radius = 4
    out = guided_filter(step, step, radius, 10.0)
    middle = step.shape[1] // 2
    # Across the edge the output is a ramp, as a box blur would give.
    assert np.abs(out - step).max() > 0.2
    assert 0.3 < out[16, middle - 1] < 0.5 < out[16, middle] < 0.7
    # Away from the edge (beyond two radii: a, b are averaged twice) it is unchanged.
    np.testing.assert_allclose(out[:, : middle - 2 * radius - 1], 0.2, atol=1e-6)
    np.testing.assert_allclose(out[:, middle + 2 * radius + 1 :], 0.8, atol=1e-6)


def test_guided_filter_transfers_guide_edges_to_a_blurry_source():
    # A colour channel with a soft edge is sharpened to the guide's hard edge.
    guide = _step(low=0.0, high=1.0)
    x = np.arange(32)
    blurry = np.tile(np.clip((x - 12) / 8, 0, 1), (32, 1)) * 0.6 + 0.2
    out = guided_filter(guide, blurry, 2, 1e-6)
    inside = slice(4, 28)  # away from the top and bottom borders, which mirror
    left = out[inside, 12:16]
    right = out[inside, 16:20]
    assert np.ptp(left) < 0.15 and np.ptp(right) < 0.15
    assert right.min() - left.max() > 0.1


def test_guided_filter_of_a_constant_source_is_that_constant():
    guide, _ = _images(3)
    src = np.full(guide.shape, 0.42)
    np.testing.assert_allclose(guided_filter(guide, src, 3, 1e-4), 0.42, atol=1e-6)


@pytest.mark.parametrize(
    ("radius", "eps", "message"),
    [
        (0, 1e-3, "radius"),
        (-1, 1e-3, "radius"),
        (2.0, 1e-3, "radius"),
        (True, 1e-3, "radius"),
        ("2", 1e-3, "radius"),
        (2, 0.0, "eps"),
        (2, -1e-3, "eps"),
        (2, float("nan"), "eps"),
        (2, float("inf"), "eps"),
        (2, "0.1", "eps"),
    ],
)
def test_guided_filter_rejects_bad_parameters(radius, eps, message):
    guide, src = _images(4)
    with pytest.raises(ValueError, match=message):
        guided_filter(guide, src, radius, eps)


@pytest.mark.parametrize(
    ("guide_shape", "src_shape"),
    [
        ((10, 12), (10, 13)),
        ((10, 12), (11, 12, 3)),
        ((10, 12, 3), (10, 12, 3)),
        ((10, 12), (10, 12, 3, 1)),
        ((0, 12), (0, 12)),
    ],
)
def test_guided_filter_rejects_bad_shapes(guide_shape, src_shape):
    with pytest.raises(ValueError):
        guided_filter(np.zeros(guide_shape), np.zeros(src_shape), 1, 1e-3)


def test_apply_guided_filters_colour_and_clips():
    rng = np.random.default_rng(5)
    nir = rng.random((30, 40))
    # Colours that saturate where the NIR is dark or bright: a local linear fit to them
    # overshoots [0, 1].
    saturated = np.clip(2 * nir - 0.5, 0, 1)
    rgb = np.stack([saturated, nir, 1 - saturated], axis=-1)
    out = apply_guided(nir, rgb, 2, 1e-3)
    assert out.dtype == np.float32 and out.shape == rgb.shape
    assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_allclose(out, np.clip(guided_filter(nir, rgb, 2, 1e-3), 0, 1))
    # Unclipped, the filter overshoots [0, 1] here, so the clip does something.
    raw = guided_filter(nir, rgb, 2, 1e-3)
    assert raw.min() < 0.0 or raw.max() > 1.0


def test_apply_guided_requires_an_rgb_image():
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        apply_guided(np.zeros((8, 8)), np.zeros((8, 8)), 1, 1e-3)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5,1e-5", (5, 1e-5)),
        ("1,0.01", (1, 0.01)),
        (" 8 , 1E-3 ", (8, 1e-3)),
        ("16,2", (16, 2.0)),
    ],
)
def test_parse_guided_good(text, expected):
    radius, eps = GuidedFilter.parse(text)
    assert (radius, eps) == expected
    assert type(radius) is int and type(eps) is float


@pytest.mark.parametrize(
    "text",
    ["", "5", "5,", ",1e-5", "5;1e-5", "5,1e-5,2", "a,1e-5", "5.5,1e-5", "-1,1e-5", "0,1e-5"]
    + ["5,0", "5,-1e-5", "5,abc", "5,nan", "5,inf", None, 5],
)
def test_parse_guided_bad(text):
    with pytest.raises(ValueError, match="RADIUS,EPS"):
        GuidedFilter.parse(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1000000,1e-4", "radius '1000000'.*from 1 to 256"),
        ("99999999999,1e-4", "radius '99999999999'.*from 1 to 256"),
        ("257,1e-4", "radius '257'.*from 1 to 256"),
        ("5,10.5", r"eps '10.5'.*in \(0, 10\]"),
    ],
)
def test_parse_guided_bounds_radius_and_eps(text, message):
    with pytest.raises(ValueError, match=message):
        GuidedFilter.parse(text)
    radius, eps = (float(part) for part in text.split(","))
    with pytest.raises(ValueError, match=r"from 1 to 256|in \(0, 10\]"):
        GuidedFilter.of((int(radius), eps))


def test_guided_bounds_are_inclusive_and_checked_by_the_filter():
    assert GuidedFilter.parse("256,10") == (256, 10.0)
    guide, src = _images(5)
    assert guided_filter(guide, src, 256, 10.0).shape == src.shape  # window past the image
    with pytest.raises(ValueError, match="radius must be an integer from 1 to 256"):
        guided_filter(guide, src, 257, 1e-3)
    with pytest.raises(ValueError, match="eps must be a finite number in"):
        guided_filter(guide, src, 2, 11.0)


def test_cli_guided_out_of_range_is_one_line(monkeypatch, capsys, tmp_path):
    source = tmp_path / "a_nir.png"
    write_image(source, _images(6)[0])
    target = tmp_path / "a_rgb.png"
    code, _, err = run_cli(
        monkeypatch, capsys, "colorize", source, "-o", target, "--guided", "1000000,1e-4"
    )
    assert code != 0
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "from 1 to 256" in err
    assert not target.exists()
