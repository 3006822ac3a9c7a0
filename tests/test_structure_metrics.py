"""Tests of the metrics of structure (detail ratio, GMSD) against hand-computed values."""

import math

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from skimage.color import lab2rgb

from nircolor.metric_tables import best_flags, evaluation_table
from nircolor.metrics import compute_metrics, detail_ratio, gmsd, mean_metrics
from nircolor.structure_metrics import half_luma


def smooth_image(seed: int, shape=(64, 80, 3)) -> np.ndarray:
    """Smoothed noise stretched to [0.2, 0.8]: room to shift or recolour it unclipped."""
    noise = np.random.default_rng(seed).random(shape)
    image = gaussian_filter(noise, sigma=(2, 2, 0))
    return 0.2 + 0.6 * (image - image.min()) / (image.max() - image.min())


def grey_from_lightness(lightness: np.ndarray) -> np.ndarray:
    """The sRGB grey image of a given CIELAB L* (a* = b* = 0)."""
    lab = np.stack([lightness, np.zeros_like(lightness), np.zeros_like(lightness)], -1)
    return lab2rgb(lab).astype(np.float64)


def sampled_gaussian(sigma: float) -> np.ndarray:
    """scipy's 1-D Gaussian: sampled, truncated at 4 sigma, normalised."""
    radius = int(4.0 * sigma + 0.5)
    k = np.arange(-radius, radius + 1)
    weights = np.exp(-(k**2) / (2 * sigma**2))
    return weights / weights.sum()


def cosine_lightness(width: int, cycles: int, amplitude: float, height: int = 24) -> np.ndarray:
    """``50 + A cos(ω (x + ½))`` with ``ω = π·cycles / width``: mirror-symmetric about both
    edges, so a filter with mirrored borders sees an endless cosine."""
    omega = math.pi * cycles / width
    row = 50 + amplitude * np.cos(omega * (np.arange(width) + 0.5))
    return np.broadcast_to(row, (height, width)).copy()


def gain(weights: np.ndarray, omega: float) -> float:
    """How much a symmetric filter scales a cosine of frequency ``omega``."""
    radius = len(weights) // 2
    return float(sum(w * math.cos(omega * (k - radius)) for k, w in enumerate(weights)))


# ----------------------------------------------------------------------------- detail ratio


def test_detail_ratio_of_an_image_against_itself_is_one():
    image = smooth_image(0)
    assert detail_ratio(image, image.copy()) == 1.0
    assert compute_metrics(image, image.copy())["detail_ratio"] == 1.0


def test_detail_ratio_of_a_blurred_cosine_is_the_blur_gain():
    # A blur scales a cosine by its gain at that frequency; so does the high-pass, on both
    # images alike: the detail ratio is the blur's gain, computed here from its weights.
    width, cycles = 96, 24
    omega = math.pi * cycles / width
    lightness = cosine_lightness(width, cycles, amplitude=20)
    blurred = gaussian_filter(lightness, (0, 1.0), mode="reflect")
    true, pred = grey_from_lightness(lightness), grey_from_lightness(blurred)
    expected = gain(sampled_gaussian(1.0), omega)
    assert 0.3 < expected < 0.9
    assert detail_ratio(pred, true) == pytest.approx(expected, rel=2e-3)


def test_detail_ratio_of_a_sharper_or_noisier_image_is_above_one():
    true = smooth_image(1)
    noise = np.random.default_rng(2).normal(0, 0.03, true.shape)
    assert detail_ratio(true + noise, true) > 1.2
    # Unsharp masking (image + its own detail) doubles the detail of every frequency
    # far below the cut-off, and more than that never.
    sharpened = np.clip(true + (true - gaussian_filter(true, (1.5, 1.5, 0))), 0, 1)
    assert 1.3 < detail_ratio(sharpened, true) < 2.1


def test_detail_ratio_of_a_flat_truth_is_nan_and_pools_over_a_set():
    flat = np.full((16, 16, 3), 0.5)
    assert math.isnan(detail_ratio(smooth_image(3, (16, 16, 3)), flat))
    true = smooth_image(4)
    blurred = gaussian_filter(true, (2, 2, 0))
    faint = 0.5 + 0.2 * (true - 0.5)  # little detail in its own truth
    rows = [
        compute_metrics(blurred, true),
        compute_metrics(faint, faint),
        compute_metrics(true, faint),
    ]
    pooled = sum(r["detail"] for r in rows) / sum(r["detail_true"] for r in rows)
    assert mean_metrics(rows)["detail_ratio"] == pytest.approx(pooled)
    assert pooled != pytest.approx(np.mean([r["detail_ratio"] for r in rows]), rel=0.05)


# ----------------------------------------------------------------------------- GMSD


def test_gmsd_of_identical_images_is_zero():
    image = smooth_image(5)
    assert gmsd(image, image.copy()) == 0.0
    assert compute_metrics(image, image.copy())["gmsd"] == 0.0


def test_gmsd_of_a_step_against_a_flat_truth_is_closed_form():
    # A 0 → 1 step between columns 7 and 8: on the half-size luma (8 × 8, 0 | 255 between
    # columns 3 and 4), the Prewitt magnitude is 255 at columns 3 and 4 and 0 elsewhere.
    # GMS there is c / (255² + c), 1 on the other three quarters of the pixels; the
    # population deviation of a two-valued set with fraction p is |Δ| √(p (1 − p)).
    step = np.zeros((16, 16, 3))
    step[:, 8:] = 1.0
    flat = np.full((16, 16, 3), 0.5)
    low = 170 / (255**2 + 170)
    assert gmsd(step, flat) == pytest.approx((1 - low) * math.sqrt(0.25 * 0.75), rel=1e-12)


def test_gmsd_is_symmetric_and_ignores_brightness_shifts_colour_and_transposition():
    true = smooth_image(6)
    pred = np.clip(true + np.random.default_rng(7).normal(0, 0.05, true.shape), 0, 1)
    score = gmsd(pred, true)
    assert score > 0.005
    assert gmsd(true, pred) == pytest.approx(score, abs=1e-15)
    assert gmsd(pred + 0.1, true) == pytest.approx(score, abs=1e-12)
    transposed = gmsd(pred.transpose(1, 0, 2), true.transpose(1, 0, 2))
    assert transposed == pytest.approx(score, abs=1e-12)
    # A colour change orthogonal to the luma weights leaves the luma, so GMSD, untouched.
    recoloured = true + 0.1 * np.array([0.587, -0.299, 0.0])
    assert gmsd(recoloured, true) == pytest.approx(0.0, abs=1e-7)


def test_gmsd_grows_with_blur_and_refuses_tiny_images():
    true = smooth_image(8) + np.random.default_rng(9).normal(0, 0.05, (64, 80, 3))
    scores = [gmsd(gaussian_filter(true, (s, s, 0)), true) for s in (0.5, 1.0, 2.0, 4.0)]
    assert scores == sorted(scores) and scores[0] > 0
    with pytest.raises(ValueError, match="4x4"):
        gmsd(np.zeros((1, 8, 3)), np.zeros((1, 8, 3)))


@pytest.mark.parametrize("shape", [(2, 2, 3), (3, 3, 3), (3, 8, 3), (8, 2, 3)])
def test_gmsd_refuses_images_whose_half_size_luma_has_no_spread(shape):
    # Their halved luma is one pixel (or one row): the old code scored any pair a perfect 0.
    with pytest.raises(ValueError, match=r"at least 4x4 pixels"):
        gmsd(np.zeros(shape, np.float32), np.ones(shape, np.float32))
    corner = np.zeros((4, 4, 3))
    corner[:2, :2] = 1.0
    assert gmsd(np.zeros((4, 4, 3)), corner) > 0


def test_half_luma_averages_blocks_from_the_top_left_and_drops_an_odd_edge():
    image = np.zeros((5, 7, 3))
    image[0, 0] = image[1, 1] = 1.0  # one block: (255 + 255) / 4
    image[4, :] = image[:, 6] = 1.0  # the odd last row and column play no part
    expected = np.zeros((2, 3))
    expected[0, 0] = 127.5
    assert half_luma(image) == pytest.approx(expected, abs=1e-12)


# ----------------------------------------------------------------------------- tables


def test_detail_ratio_is_best_nearest_one():
    assert best_flags([0.6, 1.3, 0.9], higher=True, target=1.0) == [False, False, True]
    assert best_flags([0.8, 1.2, None], higher=True, target=1.0) == [True, True, False]


def test_evaluation_table_ends_with_the_grey_reference_below_the_total():
    from nircolor.evaluate import Evaluation

    true = smooth_image(10)
    grey = np.repeat(true.mean(axis=-1, keepdims=True), 3, -1)

    def row(name, pred):
        return {"image": name, "category": "c", "collection": "c", **compute_metrics(pred, true)}

    evaluation = Evaluation("m", [row("a", true)], grey=Evaluation("NIR shown as grey"))
    evaluation.grey.images.append(row("a", grey))
    table = evaluation_table(evaluation)
    assert [r[0] for r in table.rows] == ["c", "all", "NIR shown as grey"]
    assert table.is_total(1) and not table.is_total(2)
    assert "Detail ratio" in table.headers and "GMSD" in table.headers
    gmsd_cell = table.rows[2][table.headers.index("GMSD")]
    assert gmsd_cell == f"{evaluation.grey.summary['gmsd']:.3f}" != "0.000"
