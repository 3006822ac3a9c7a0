"""Tests of nircolor.metrics against hand-computed values and published reference data."""

import math

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from skimage.color import deltaE_cie76, deltaE_ciede2000, lab2rgb, rgb2lab

from nircolor.metrics import (
    HIGHER_IS_BETTER,
    METRIC_NAMES,
    angular_error,
    colourfulness,
    compute_metrics,
    delta_e00,
    delta_e76,
    hue_hits,
    mean_metrics,
    mse,
    psnr,
    ssim,
)

ALL_METRICS = [mse, psnr, ssim, angular_error, delta_e76, delta_e00, compute_metrics]

# Sharma, Wu & Dalal (2005), "The CIEDE2000 color-difference formula: implementation notes,
# supplementary test data, and mathematical observations", Color Res. Appl. 30(1), Table 1:
# (pair, L1, a1, b1, L2, a2, b2, ΔE00).
SHARMA_2005 = [
    (1, 50.0000, 2.6772, -79.7751, 50.0000, 0.0000, -82.7485, 2.0425),
    (2, 50.0000, 3.1571, -77.2803, 50.0000, 0.0000, -82.7485, 2.8615),
    (3, 50.0000, 2.8361, -74.0200, 50.0000, 0.0000, -82.7485, 3.4412),
    (4, 50.0000, -1.3802, -84.2814, 50.0000, 0.0000, -82.7485, 1.0000),
    (7, 50.0000, 0.0000, 0.0000, 50.0000, -1.0000, 2.0000, 2.3669),
    (9, 50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0009, 7.1792),
    (11, 50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0011, 7.2195),
    (13, 50.0000, -0.0010, 2.4900, 50.0000, 0.0009, -2.4900, 4.8045),
    (15, 50.0000, -0.0010, 2.4900, 50.0000, 0.0011, -2.4900, 4.7461),
    (16, 50.0000, 2.5000, 0.0000, 50.0000, 0.0000, -2.5000, 4.3065),
    (17, 50.0000, 2.5000, 0.0000, 73.0000, 25.0000, -18.0000, 27.1492),
    (18, 50.0000, 2.5000, 0.0000, 61.0000, -5.0000, 29.0000, 22.8977),
    (19, 50.0000, 2.5000, 0.0000, 56.0000, -27.0000, -3.0000, 31.9030),
    (20, 50.0000, 2.5000, 0.0000, 58.0000, 24.0000, 15.0000, 19.4535),
    (21, 50.0000, 2.5000, 0.0000, 50.0000, 3.1736, 0.5854, 1.0000),
    (25, 60.2574, -34.0099, 36.2677, 60.4626, -34.1751, 39.4387, 1.2644),
    (26, 63.0109, -31.0961, -5.8663, 62.8187, -29.7946, -4.0864, 1.2630),
    (27, 61.2901, 3.7196, -5.3901, 61.4292, 2.2480, -4.9620, 1.8731),
    (28, 35.0831, -44.1164, 3.7933, 35.0232, -40.0716, 1.5901, 1.8645),
    (29, 22.7233, 20.0904, -46.6940, 23.0331, 14.9730, -42.5619, 2.0373),
    (30, 36.4612, 47.8580, 18.3852, 36.2715, 50.5065, 21.2231, 1.4146),
    (31, 90.8027, -2.0831, 1.4410, 91.1528, -1.6435, 0.0447, 1.4441),
    (32, 90.9257, -0.5406, -0.9208, 88.6381, -0.8985, -0.7239, 1.5381),
    (33, 6.7747, -0.2908, -2.4247, 5.8714, -0.0985, -2.2286, 0.6377),
    (34, 2.0776, 0.0795, -1.1350, 0.9033, -0.0636, -0.5514, 0.9082),
]


def _random_image(seed: int, shape=(48, 64, 3)) -> np.ndarray:
    return np.random.default_rng(seed).random(shape)


def _smooth_image(seed: int, shape=(64, 80, 3)) -> np.ndarray:
    """A natural-looking image: smoothed noise stretched to [0, 1]."""
    noise = np.random.default_rng(seed).random(shape)
    image = gaussian_filter(noise, sigma=(3, 3, 0))
    return (image - image.min()) / (image.max() - image.min())


def _constant(value, shape=(16, 20)) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=np.float64), (*shape, 3)).copy()


def _lab_pixel(lab) -> np.ndarray:
    return np.asarray(lab, dtype=np.float64).reshape(1, 1, 3)


# ----------------------------------------------------------------------------- identity


def test_identical_images_score_perfectly():
    image = _smooth_image(0)
    scores = compute_metrics(image, image.copy())
    assert scores["psnr"] == math.inf
    assert scores["mse"] == 0.0
    assert scores["ssim"] == pytest.approx(1.0, abs=1e-6)
    assert scores["ae"] == 0.0
    assert scores["de76"] == 0.0
    assert scores["de00"] == 0.0


def test_identical_images_psnr_is_inf_without_warning():
    image = _random_image(1)
    with np.errstate(all="raise"):
        assert psnr(image, image) == math.inf


def test_compute_metrics_keys_and_agreement_with_single_metrics():
    true = _smooth_image(2)
    pred = np.clip(true + 0.05 * np.random.default_rng(3).standard_normal(true.shape), 0, 1)
    scores = compute_metrics(pred, true)
    assert list(scores)[:6] == ["psnr", "ssim", "ae", "de76", "de00", "mse"]
    sums = {"colourfulness", "colourfulness_true", "hue_hits", "hue_pixels"}
    sums |= {"detail", "detail_true"}
    assert set(scores) - sums == set(METRIC_NAMES) == set(HIGHER_IS_BETTER)
    assert all(isinstance(value, float) for value in scores.values())
    assert scores["psnr"] == psnr(pred, true)
    assert scores["ssim"] == ssim(pred, true)
    assert scores["ae"] == angular_error(pred, true)
    assert scores["de76"] == delta_e76(pred, true)
    assert scores["de00"] == delta_e00(pred, true)
    assert scores["mse"] == mse(pred, true)


def test_compute_metrics_converts_each_image_to_lab_once(monkeypatch):
    import nircolor.metrics as metrics

    calls = []

    def counting_rgb2lab(image, *args, **kwargs):
        calls.append(image.shape)
        return rgb2lab(image, *args, **kwargs)

    monkeypatch.setattr(metrics, "rgb2lab", counting_rgb2lab)
    metrics.compute_metrics(_smooth_image(4), _smooth_image(5))
    assert len(calls) == 2


# ----------------------------------------------------------------------------- MSE, PSNR


def test_mse_and_psnr_of_a_uniform_error():
    true = _constant(0.5)
    pred = _constant(0.6)
    assert mse(pred, true) == pytest.approx(0.01, rel=1e-12)
    assert psnr(pred, true) == pytest.approx(20.0, abs=1e-9)


def test_mse_of_a_known_difference():
    true = np.zeros((4, 5, 3))
    pred = true.copy()
    pred[0, 0, 0] = 1.0  # one channel of one pixel off by 1: 1 / 60
    pred[1, 1] = 0.5  # three channels off by 0.5: 3 * 0.25 / 60
    assert mse(pred, true) == pytest.approx((1.0 + 0.75) / 60, rel=1e-12)
    assert psnr(pred, true) == pytest.approx(10 * math.log10(60 / 1.75), rel=1e-12)


def test_mse_and_psnr_accept_float32():
    true = _constant(0.25).astype(np.float32)
    pred = _constant(0.5).astype(np.float32)
    assert mse(pred, true) == pytest.approx(0.0625, rel=1e-7)
    assert psnr(pred, true) == pytest.approx(10 * math.log10(16), rel=1e-7)


# ----------------------------------------------------------------------------- SSIM


def _reference_ssim(pred: np.ndarray, true: np.ndarray) -> float:
    """Wang et al. (2004) SSIM written out: 11x11 Gaussian window (sigma 1.5), population
    statistics, C1 = (0.01)^2, C2 = (0.03)^2, mean over the map less a 5-pixel border,
    then over channels."""
    c1, c2 = 0.01**2, 0.03**2

    def mean(x):
        return gaussian_filter(x, sigma=1.5, truncate=3.5, mode="reflect")

    per_channel = []
    for channel in range(3):
        x = pred[..., channel].astype(np.float64)
        y = true[..., channel].astype(np.float64)
        mu_x, mu_y = mean(x), mean(y)
        var_x = mean(x * x) - mu_x**2
        var_y = mean(y * y) - mu_y**2
        cov = mean(x * y) - mu_x * mu_y
        ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
            (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
        )
        per_channel.append(ssim_map[5:-5, 5:-5].mean())
    return float(np.mean(per_channel))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ssim_matches_a_written_out_reference(seed):
    true = _smooth_image(seed)
    rng = np.random.default_rng(100 + seed)
    pred = np.clip(true * 0.8 + 0.1 + 0.1 * rng.standard_normal(true.shape), 0, 1)
    expected = _reference_ssim(pred, true)
    assert 0.1 < expected < 0.95  # a non-trivial value
    assert ssim(pred, true) == pytest.approx(expected, abs=1e-6)


def test_ssim_of_constant_images_has_a_closed_form():
    # Zero variance everywhere: SSIM reduces to its luminance term.
    x, y = 0.3, 0.7
    c1 = 0.01**2
    expected = (2 * x * y + c1) / (x * x + y * y + c1)
    assert ssim(_constant(x), _constant(y)) == pytest.approx(expected, abs=1e-6)


def test_ssim_decreases_as_noise_increases():
    true = _smooth_image(7)
    noise = np.random.default_rng(8).standard_normal(true.shape)
    scores = [ssim(np.clip(true + level * noise, 0, 1), true) for level in (0.01, 0.05, 0.2)]
    assert 1.0 > scores[0] > scores[1] > scores[2]


def test_ssim_of_an_11x11_image_works_and_smaller_raises():
    image = _random_image(9, (11, 11, 3))
    assert ssim(image, image) == pytest.approx(1.0, abs=1e-6)
    small = _random_image(9, (10, 40, 3))
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(small, small)
    with pytest.raises(ValueError, match="at least 11x11"):
        compute_metrics(small, small)


# ----------------------------------------------------------------------------- angular error


def _pixels(*colors) -> np.ndarray:
    return np.asarray(colors, dtype=np.float64).reshape(1, len(colors), 3)


@pytest.mark.parametrize(
    ("pred", "true", "degrees"),
    [
        ((1, 0, 0), (0, 1, 0), 90.0),
        ((1, 1, 0), (1, 0, 0), 45.0),
        ((0, 0, 1), (0, 1, 1), 45.0),
        ((0.2, 0.4, 0.6), (0.1, 0.2, 0.3), 0.0),  # same direction, different brightness
        ((1, 1, 1), (1, 0, 0), math.degrees(math.acos(1 / math.sqrt(3)))),
    ],
)
def test_angular_error_of_known_vectors(pred, true, degrees):
    assert angular_error(_pixels(pred), _pixels(true)) == pytest.approx(degrees, abs=1e-9)


def test_angular_error_is_the_mean_over_pixels():
    pred = _pixels((1, 0, 0), (1, 1, 0), (0.5, 0.5, 0.5))
    true = _pixels((0, 1, 0), (1, 0, 0), (0.5, 0.5, 0.5))
    assert angular_error(pred, true) == pytest.approx((90 + 45 + 0) / 3, abs=1e-9)


def test_angular_error_takes_black_as_grey():
    black, grey, red = (0, 0, 0), (0.3, 0.3, 0.3), (1, 0, 0)
    assert angular_error(_pixels(black), _pixels(black)) == 0.0
    assert angular_error(_pixels(black), _pixels(grey)) == pytest.approx(0.0, abs=1e-9)
    grey_to_red = math.degrees(math.acos(1 / math.sqrt(3)))
    assert angular_error(_pixels(black), _pixels(red)) == pytest.approx(grey_to_red, abs=1e-9)
    assert angular_error(_pixels(red), _pixels(black)) == pytest.approx(grey_to_red, abs=1e-9)


def test_angular_error_does_not_modify_its_inputs():
    pred = _pixels((0, 0, 0), (1, 0, 0))
    true = _pixels((0, 1, 0), (0, 0, 0))
    pred_copy, true_copy = pred.copy(), true.copy()
    angular_error(pred, true)
    np.testing.assert_array_equal(pred, pred_copy)
    np.testing.assert_array_equal(true, true_copy)


# ----------------------------------------------------------------------------- ΔE


@pytest.mark.parametrize("row", SHARMA_2005, ids=[f"pair{row[0]}" for row in SHARMA_2005])
def test_ciede2000_on_lab_matches_sharma_2005(row):
    _, l1, a1, b1, l2, a2, b2, expected = row
    lab1, lab2 = _lab_pixel((l1, a1, b1)), _lab_pixel((l2, a2, b2))
    assert deltaE_ciede2000(lab1, lab2)[0, 0] == pytest.approx(expected, abs=1e-4)
    # CIEDE2000 is symmetric in its two colours.
    assert deltaE_ciede2000(lab2, lab1)[0, 0] == pytest.approx(expected, abs=1e-4)


def _in_srgb_gamut(lab: np.ndarray) -> bool:
    return np.allclose(rgb2lab(lab2rgb(lab)), lab, atol=1e-6)


def test_delta_e00_on_srgb_matches_sharma_2005_where_in_gamut():
    checked = 0
    for pair, l1, a1, b1, l2, a2, b2, expected in SHARMA_2005:
        lab1, lab2 = _lab_pixel((l1, a1, b1)), _lab_pixel((l2, a2, b2))
        if not (_in_srgb_gamut(lab1) and _in_srgb_gamut(lab2)):
            continue
        # The images' float32 Lab conversion costs up to ~1e-4 of ΔE.
        got = delta_e00(lab2rgb(lab1), lab2rgb(lab2))
        assert got == pytest.approx(expected, abs=2e-4), f"pair {pair}"
        checked += 1
    assert checked >= 15


def test_delta_e00_averages_over_pixels():
    rows = [row for row in SHARMA_2005 if row[0] in (7, 17, 18, 19, 20, 25)]
    lab1 = np.array([row[1:4] for row in rows]).reshape(1, -1, 3)
    lab2 = np.array([row[4:7] for row in rows]).reshape(1, -1, 3)
    expected = np.mean([row[7] for row in rows])
    assert delta_e00(lab2rgb(lab1), lab2rgb(lab2)) == pytest.approx(expected, abs=2e-4)


def test_delta_e76_of_a_known_lab_pair():
    lab1, lab2 = _lab_pixel((50.0, 2.5, 0.0)), _lab_pixel((73.0, 25.0, -18.0))
    expected = math.sqrt(23.0**2 + 22.5**2 + 18.0**2)
    assert deltaE_cie76(lab1, lab2)[0, 0] == pytest.approx(expected, rel=1e-12)
    assert delta_e76(lab2rgb(lab1), lab2rgb(lab2)) == pytest.approx(expected, abs=2e-4)


def test_delta_e76_black_to_white_is_100():
    assert delta_e76(_constant(0.0), _constant(1.0)) == pytest.approx(100.0, abs=1e-3)


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize("metric", ALL_METRICS)
def test_mismatched_shapes_raise(metric):
    with pytest.raises(ValueError, match="same shape"):
        metric(np.zeros((16, 16, 3)), np.zeros((16, 17, 3)))


@pytest.mark.parametrize("metric", ALL_METRICS)
@pytest.mark.parametrize("shape", [(16, 16), (16, 16, 4), (16, 16, 1), (2, 16, 16, 3)])
def test_non_rgb_shapes_raise(metric, shape):
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        metric(np.zeros(shape), np.zeros(shape))


@pytest.mark.parametrize("metric", ALL_METRICS)
def test_integer_images_raise(metric):
    image = np.zeros((16, 16, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="floating-point"):
        metric(image, image)


@pytest.mark.parametrize("metric", ALL_METRICS)
def test_non_finite_values_raise(metric):
    pred = np.zeros((16, 16, 3))
    pred[3, 4, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        metric(pred, np.zeros((16, 16, 3)))


def test_empty_images_raise():
    with pytest.raises(ValueError, match="empty"):
        mse(np.zeros((0, 5, 3)), np.zeros((0, 5, 3)))


# ----------------------------------------------------------------------------- set means


def test_metric_tables_are_consistent():
    assert METRIC_NAMES == (
        *("psnr", "ssim", "ae", "de00", "de76", "mse"),
        *("colourfulness_ratio", "hue_acc", "detail_ratio", "gmsd"),
    )
    assert HIGHER_IS_BETTER == {
        "psnr": True,
        "ssim": True,
        "ae": False,
        "de00": False,
        "de76": False,
        "mse": False,
        "colourfulness_ratio": True,
        "hue_acc": True,
        "detail_ratio": True,  # with a target of 1: best_flags picks the nearest
        "gmsd": False,
    }


def test_mean_metrics_averages_per_image_values():
    rows = [
        {"image": "a", "psnr": 20.0, "ssim": 0.5, "ae": 3.0, "de00": 1.0, "de76": 2.0, "mse": 0.01},
        {
            "image": "b",
            "psnr": 30.0,
            "ssim": 0.7,
            "ae": 5.0,
            "de00": 3.0,
            "de76": 4.0,
            "mse": 0.001,
        },
    ]
    means = mean_metrics(rows)
    assert list(means) == list(METRIC_NAMES[:6])  # only the metrics the rows hold
    assert means["psnr"] == pytest.approx(25.0)  # mean of PSNRs, not PSNR of the mean MSE
    assert means["ssim"] == pytest.approx(0.6)
    assert means["ae"] == pytest.approx(4.0)
    assert means["de00"] == pytest.approx(2.0)
    assert means["de76"] == pytest.approx(3.0)
    assert means["mse"] == pytest.approx(0.0055)


def test_mean_metrics_leaves_infinite_psnr_out():
    rows = [
        {"psnr": math.inf, "mse": 0.0},
        {"psnr": 20.0, "mse": 0.01},
        {"psnr": 30.0, "mse": 0.001},
    ]
    means = mean_metrics(rows)
    assert means["psnr"] == pytest.approx(25.0)
    assert means["mse"] == pytest.approx(0.011 / 3)
    assert mean_metrics([{"psnr": math.inf}, {"psnr": math.inf}])["psnr"] == math.inf


def test_mean_metrics_of_compute_metrics_rows():
    true = _smooth_image(10)
    rows = [compute_metrics(np.clip(true + shift, 0, 1), true) for shift in (0.0, 0.05, 0.1)]
    means = mean_metrics(rows)
    assert means["psnr"] == pytest.approx((rows[1]["psnr"] + rows[2]["psnr"]) / 2)
    assert means["ssim"] == pytest.approx(np.mean([row["ssim"] for row in rows]))


def test_mean_metrics_rejects_empty_and_ragged_rows():
    with pytest.raises(ValueError, match="at least one"):
        mean_metrics([])
    with pytest.raises(ValueError, match="same metrics"):
        mean_metrics([{"psnr": 20.0, "ssim": 0.5}, {"psnr": 21.0}])


# ------------------------------------------------------------ colourfulness and hue accuracy


def test_colourfulness_of_grey_is_zero_and_of_known_images_is_closed_form():
    assert colourfulness(np.full((4, 5, 3), 0.3)) == 0.0
    assert colourfulness(_random_image(1).mean(axis=-1, keepdims=True).repeat(3, -1)) == 0.0
    # Uniform pure red: rg = 255, yb = 127.5, no spread: M = 0.3 * |(255, 127.5)|.
    red = np.zeros((3, 3, 3))
    red[..., 0] = 1.0
    assert colourfulness(red) == pytest.approx(0.3 * math.hypot(255, 127.5))
    # Half red, half green: rg = ±255 (σ 255, μ 0), yb = 127.5 (σ 0, μ 127.5).
    halves = np.zeros((2, 2, 3))
    halves[0, :, 0] = halves[1, :, 1] = 1.0
    assert colourfulness(halves) == pytest.approx(255 + 0.3 * 127.5)


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((4, 5, 3), np.uint8), "floating-point image"),
        (np.zeros((4, 5), np.float32), r"shape \(H, W, 3\)"),
        (np.zeros((4, 5, 4), np.float32), r"shape \(H, W, 3\)"),
        (np.zeros((0, 5, 3), np.float32), "must not be empty"),
        (np.full((4, 5, 3), np.nan), "NaN or infinite"),
        (None, r"shape \(H, W, 3\), got None"),
    ],
)
def test_colourfulness_checks_its_image_as_the_pair_metrics_do(image, message):
    # It used to read uint8 red as 21810, a grey (H, W) image as RGB triples and return nan
    # for an empty one.
    with pytest.raises(ValueError, match=message):
        colourfulness(image)


def test_hue_accuracy_ignores_chroma_scale_and_counts_only_chromatic_truth():
    true = _smooth_image(6)
    lab = rgb2lab(true)
    hits, pixels = hue_hits(lab, lab)
    assert hits == pixels == np.count_nonzero(np.hypot(lab[..., 1], lab[..., 2]) >= 10)
    assert pixels > 0
    faint = lab.copy()
    faint[..., 1:] *= 0.05  # a near-grey prediction with the right hues
    assert hue_hits(faint, lab) == (pixels, pixels)
    rotated = lab.copy()  # every hue turned by 90 degrees: none within 30
    rotated[..., 1], rotated[..., 2] = -lab[..., 2], lab[..., 1]
    assert hue_hits(rotated, lab) == (0, pixels)
    grey_truth = np.zeros_like(lab)
    assert hue_hits(lab, grey_truth) == (0, 0)


def test_colour_metrics_pool_over_a_set():
    true = _smooth_image(7)
    grey = np.repeat(true.mean(axis=-1, keepdims=True), 3, axis=-1)
    rows = [compute_metrics(true, true), compute_metrics(grey, true)]
    assert rows[0]["colourfulness_ratio"] == pytest.approx(1.0)
    assert rows[0]["hue_acc"] == 1.0
    assert rows[1]["colourfulness_ratio"] == pytest.approx(0.0, abs=1e-6)
    means = mean_metrics(rows)
    total = rows[0]["colourfulness"] + rows[1]["colourfulness"]
    assert means["colourfulness_ratio"] == pytest.approx(
        total / (rows[0]["colourfulness_true"] + rows[1]["colourfulness_true"])
    )
    hits = rows[0]["hue_hits"] + rows[1]["hue_hits"]
    assert means["hue_acc"] == pytest.approx(hits / (2 * rows[0]["hue_pixels"]))


def test_colour_metrics_of_a_grey_truth_are_nan_not_an_error():
    grey = np.full((16, 16, 3), 0.4, dtype=np.float32)
    scores = compute_metrics(grey, grey)
    assert math.isnan(scores["colourfulness_ratio"]) and math.isnan(scores["hue_acc"])
    assert math.isnan(mean_metrics([scores])["hue_acc"])


def test_evaluation_table_does_not_repeat_collections_named_as_the_categories():
    from nircolor.evaluate import Evaluation
    from nircolor.metric_tables import evaluation_table

    def row(name, group, psnr):
        scores = {metric: 0.5 for metric in METRIC_NAMES} | {"psnr": psnr}
        return {"image": name, "category": group, "collection": group, **scores}

    evaluation = Evaluation("m", [row("a", "charts", 20.0), row("b", "vegetation", 22.0)])
    names = [r[0] for r in evaluation_table(evaluation).rows]
    assert names == ["charts", "vegetation", "all"]
    evaluation.images[1]["collection"] = "charts"  # one collection: no collection rows either
    evaluation.images.append({**row("c", "field", 21.0), "collection": "vcip"})
    names = [r[0] for r in evaluation_table(evaluation).rows]
    assert names == ["charts", "field", "vegetation", "charts", "vcip", "all"]
