"""An independent implementation of nircolor/docs/metrics.md, checked against ``evaluate``.

The reference functions below are written from the formulas of nircolor/docs/metrics.md in plain
numpy (float64, no scikit-image, no nircolor.metrics). They are first checked on cases whose
answer is known in closed form and on published CIEDE2000 test data, then compared with the
numbers ``nircolor evaluate --json`` writes.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest

import nircolor
from nircolor.data import discover_pairs, load_pair
from nircolor.metrics import compute_metrics, delta_e00, delta_e00_map, detail_ratio, gmsd

from .helpers.cli import run_cli as run

TOLERANCE = {"psnr": 0.05, "ssim": 0.005, "ae": 0.05, "de00": 0.05, "de76": 0.05, "gmsd": 1e-4}
COLOUR_TOLERANCE = {"colourfulness": 0.01, "colourfulness_true": 0.01}
DETAIL_TOLERANCE = {"detail": 1e-3, "detail_true": 1e-3}
"""RMS of the high-pass of L* (0–100): float32 Lab moves it by about 1e-5."""
POOLED_TOLERANCE = {"colourfulness_ratio": 1e-3, "hue_acc": 2e-3, "detail_ratio": 1e-4}
"""Hue hits may differ by a few pixels whose hue or chroma sits on a threshold (float32 Lab)."""

# ------------------------------------------------------------------ reference implementation


def ref_mse(pred, true):
    return float(np.mean((np.float64(pred) - np.float64(true)) ** 2))


def ref_psnr(pred, true):
    return 10 * math.log10(1.0 / ref_mse(pred, true))


def ref_gaussian_window(sigma=1.5, truncate=3.5):
    """Sampled Gaussian weights of radius ``int(truncate·σ + ½)``, summing to 1."""
    radius = int(truncate * sigma + 0.5)
    k = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-(k**2) / (2 * sigma**2))
    return weights / weights.sum()


def ref_filter(image, weights):
    """Separable filtering with mirrored borders (d c b a | a b c d)."""
    radius = len(weights) // 2
    height, width = image.shape
    padded = np.pad(image, radius, mode="symmetric")
    rows = sum(w * padded[i : i + height, :] for i, w in enumerate(weights))
    return sum(w * rows[:, j : j + width] for j, w in enumerate(weights))


def ref_ssim_channel(x, y, k1=0.01, k2=0.03, data_range=1.0):
    weights = ref_gaussian_window()
    x, y = np.float64(x), np.float64(y)
    mu_x, mu_y = ref_filter(x, weights), ref_filter(y, weights)
    var_x = ref_filter(x * x, weights) - mu_x**2
    var_y = ref_filter(y * y, weights) - mu_y**2
    cov = ref_filter(x * y, weights) - mu_x * mu_y
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    )
    pad = len(weights) // 2
    return float(s[pad:-pad, pad:-pad].mean())


def ref_ssim(pred, true):
    return float(np.mean([ref_ssim_channel(true[..., c], pred[..., c]) for c in range(3)]))


def ref_angular_error(pred, true):
    p = np.float64(pred).reshape(-1, 3).copy()
    t = np.float64(true).reshape(-1, 3).copy()
    p[(p == 0).all(axis=1)] = 1.0
    t[(t == 0).all(axis=1)] = 1.0
    cos = (p * t).sum(axis=1) / (np.linalg.norm(p, axis=1) * np.linalg.norm(t, axis=1))
    return float(np.degrees(np.arccos(np.clip(cos, -1, 1))).mean())


SRGB_TO_XYZ = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ]
)
D65_WHITE = np.array([0.95047, 1.0, 1.08883])


def ref_lab(rgb):
    v = np.float64(rgb)
    linear = np.where(v > 0.04045, ((v + 0.055) / 1.055) ** 2.4, v / 12.92)
    xyz = linear @ SRGB_TO_XYZ.T / D65_WHITE
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    return np.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], axis=-1)


def ref_de76_lab(lab1, lab2):
    return np.sqrt(((np.float64(lab1) - lab2) ** 2).sum(axis=-1))


def ref_de00_lab(lab1, lab2):
    """CIEDE2000 (kL = kC = kH = 1) as written in nircolor/docs/metrics.md; hues in degrees."""
    L1, a1, b1 = np.moveaxis(np.float64(lab1), -1, 0)
    L2, a2, b2 = np.moveaxis(np.float64(lab2), -1, 0)
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_bar**7 / (c_bar**7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    product = c1p * c2p

    dl = L2 - L1
    dc = c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(product == 0, 0.0, dh)
    d_big_h = 2 * np.sqrt(product) * np.sin(np.radians(dh / 2))

    l_bar = (L1 + L2) / 2
    c_bar_p = (c1p + c2p) / 2
    h_sum = h1p + h2p
    far = np.abs(h1p - h2p) > 180
    h_bar = np.where(~far, h_sum / 2, np.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2))
    h_bar = np.where(product == 0, h_sum, h_bar)

    t = (
        1
        - 0.17 * np.cos(np.radians(h_bar - 30))
        + 0.24 * np.cos(np.radians(2 * h_bar))
        + 0.32 * np.cos(np.radians(3 * h_bar + 6))
        - 0.20 * np.cos(np.radians(4 * h_bar - 63))
    )
    sl = 1 + 0.015 * (l_bar - 50) ** 2 / np.sqrt(20 + (l_bar - 50) ** 2)
    sc = 1 + 0.045 * c_bar_p
    sh = 1 + 0.015 * c_bar_p * t
    d_theta = 30 * np.exp(-(((h_bar - 275) / 25) ** 2))
    rc = 2 * np.sqrt(c_bar_p**7 / (c_bar_p**7 + 25.0**7))
    rt = -np.sin(np.radians(2 * d_theta)) * rc
    terms = (dl / sl) ** 2 + (dc / sc) ** 2 + (d_big_h / sh) ** 2
    terms += rt * (dc / sc) * (d_big_h / sh)
    return np.sqrt(np.maximum(terms, 0))


def ref_colourfulness(rgb):
    r, g, b = np.moveaxis(255.0 * np.float64(rgb), -1, 0)
    rg, yb = r - g, (r + g) / 2 - b
    sigma = math.sqrt(rg.var() + yb.var())  # numpy's var is the population variance
    mu = math.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    return sigma + 0.3 * mu


def ref_hue_hits(lab_pred, lab_true):
    """(hits, chromatic pixels) of nircolor/docs/metrics.md's hue accuracy."""
    chroma_true = np.sqrt(lab_true[..., 1] ** 2 + lab_true[..., 2] ** 2)
    chromatic = chroma_true >= 10
    h_true = np.degrees(np.arctan2(lab_true[..., 2], lab_true[..., 1])) % 360
    h_pred = np.degrees(np.arctan2(lab_pred[..., 2], lab_pred[..., 1])) % 360
    turn = np.abs(h_pred - h_true)
    wrapped = np.minimum(turn, 360 - turn)
    return int((chromatic & (wrapped <= 30)).sum()), int(chromatic.sum())


def ref_pooled(references):
    """The set's colourfulness ratio, hue accuracy and detail ratio: ratios of sums."""
    return {
        "detail_ratio": sum(r["detail"] for r in references)
        / sum(r["detail_true"] for r in references),
        "colourfulness_ratio": sum(r["colourfulness"] for r in references)
        / sum(r["colourfulness_true"] for r in references),
        "hue_acc": sum(r["hue_hits"] for r in references)
        / sum(r["hue_pixels"] for r in references),
    }


def ref_detail(lightness):
    """RMS of L* less its Gaussian blur (σ = 1.5 px, radius 6, mirrored borders)."""
    high_pass = lightness - ref_filter(lightness, ref_gaussian_window(1.5, truncate=4.0))
    return math.sqrt(np.mean(high_pass**2))


def ref_half_luma(rgb):
    """Luma on 0–255, the mean of each 2×2 block from the top-left (an odd edge dropped)."""
    y = 255.0 * (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2])
    y = np.float64(y)[: y.shape[0] // 2 * 2, : y.shape[1] // 2 * 2]
    return (y[::2, ::2] + y[1::2, ::2] + y[::2, 1::2] + y[1::2, 1::2]) / 4


def ref_gradient_magnitude(y):
    """Prewitt / 3 with replicated edges, written out as differences of neighbours."""
    p = np.pad(y, 1, mode="edge")
    height, width = y.shape
    column = [p[i : i + height, :] for i in range(3)]  # rows above, at and below
    rows = sum(column) / 3  # vertical mean: the horizontal kernel's rows
    gx = rows[:, 0:width] - rows[:, 2 : width + 2]
    across = [p[:, j : j + width] for j in range(3)]
    cols = sum(across) / 3
    gy = cols[0:height, :] - cols[2 : height + 2, :]
    return np.sqrt(gx**2 + gy**2)


def ref_gmsd(pred, true):
    m_p, m_t = (
        ref_gradient_magnitude(ref_half_luma(pred)),
        ref_gradient_magnitude(ref_half_luma(true)),
    )
    gms = (2 * m_t * m_p + 170) / (m_t**2 + m_p**2 + 170)
    return float(np.sqrt(np.mean((gms - gms.mean()) ** 2)))


def ref_metrics(pred, true):
    lab_true, lab_pred = ref_lab(true), ref_lab(pred)
    hits, pixels = ref_hue_hits(lab_pred, lab_true)
    return {
        "detail": ref_detail(lab_pred[..., 0]),
        "detail_true": ref_detail(lab_true[..., 0]),
        "gmsd": ref_gmsd(pred, true),
        "colourfulness": ref_colourfulness(pred),
        "colourfulness_true": ref_colourfulness(true),
        "hue_hits": hits,
        "hue_pixels": pixels,
        "psnr": ref_psnr(pred, true),
        "ssim": ref_ssim(pred, true),
        "ae": ref_angular_error(pred, true),
        "de00": float(ref_de00_lab(lab_true, lab_pred).mean()),
        "de76": float(ref_de76_lab(lab_true, lab_pred).mean()),
        "mse": ref_mse(pred, true),
    }


# ------------------------------------------------------------------ closed-form cases


def constant(value, shape=(16, 20)):
    return np.broadcast_to(np.asarray(value, np.float32), (*shape, 3)).copy()


@pytest.mark.parametrize("a, b", [(0.3, 0.4), (0.5, 0.45), (0.9, 0.1)])
def test_constant_images_have_closed_form_scores(a, b):
    pred, true = constant(a), constant(b)
    a, b = float(np.float32(a)), float(np.float32(b))  # the values the images hold
    c1 = 0.01**2
    expected = {
        "mse": (a - b) ** 2,
        "psnr": -20 * math.log10(abs(a - b)),
        "ssim": (2 * a * b + c1) / (a * a + b * b + c1),
        "ae": 0.0,
    }
    ours = ref_metrics(pred, true)
    theirs = compute_metrics(pred, true)
    for name, value in expected.items():
        assert ours[name] == pytest.approx(value, abs=1e-6), name
        assert theirs[name] == pytest.approx(value, abs=1e-5), name


def test_psnr_of_a_difference_of_one_tenth_is_20_db():
    assert ref_psnr(constant(0.6), constant(0.5)) == pytest.approx(20.0, abs=1e-5)
    assert compute_metrics(constant(0.6), constant(0.5))["psnr"] == pytest.approx(20.0, abs=1e-4)


@pytest.mark.parametrize(
    "pred, true, angle",
    [
        ((1, 0, 0), (0, 1, 0), 90.0),
        ((0, 0, 0), (1, 0, 0), math.degrees(math.acos(1 / math.sqrt(3)))),  # black is grey
        ((0, 0, 0), (0.2, 0.2, 0.2), 0.0),
        ((0.2, 0.1, 0.05), (0.8, 0.4, 0.2), 0.0),  # brightness is ignored
        ((1, 1, 0), (1, 0, 0), 45.0),
    ],
)
def test_angular_error_closed_form(pred, true, angle):
    pred, true = constant(pred), constant(true)
    assert ref_angular_error(pred, true) == pytest.approx(angle, abs=1e-6)
    assert compute_metrics(pred, true)["ae"] == pytest.approx(angle, abs=1e-4)


def test_white_and_black_are_100_apart_in_lab():
    lab = ref_lab(np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]))
    assert lab[0, 0] == pytest.approx(100.0, abs=1e-9)
    assert abs(lab[0, 1]) < 0.01 and abs(lab[0, 2]) < 0.01
    assert lab[1] == pytest.approx([0, 0, 0], abs=1e-9)
    assert ref_de76_lab(lab[0], lab[1]) == pytest.approx(100.0, abs=1e-3)
    assert ref_de00_lab(lab[0], lab[1]) == pytest.approx(100.0, abs=1e-3)
    scores = compute_metrics(constant(1.0), constant(0.0))
    assert scores["de76"] == pytest.approx(100.0, abs=1e-3)
    assert scores["de00"] == pytest.approx(100.0, abs=1e-3)


# Sharma, Wu & Dalal (2005), "The CIEDE2000 color-difference formula: implementation notes,
# supplementary test data, and mathematical observations", Color Res. Appl. 30(1), Table 1:
# (pair, L1, a1, b1, L2, a2, b2, ΔE00).
SHARMA_2005 = [
    (1, 50.0000, 2.6772, -79.7751, 50.0000, 0.0000, -82.7485, 2.0425),
    (7, 50.0000, 0.0000, 0.0000, 50.0000, -1.0000, 2.0000, 2.3669),
    (11, 50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0011, 7.2195),
    (13, 50.0000, -0.0010, 2.4900, 50.0000, 0.0009, -2.4900, 4.8045),
    (16, 50.0000, 2.5000, 0.0000, 50.0000, 0.0000, -2.5000, 4.3065),
    (17, 50.0000, 2.5000, 0.0000, 73.0000, 25.0000, -18.0000, 27.1492),
    (19, 50.0000, 2.5000, 0.0000, 56.0000, -27.0000, -3.0000, 31.9030),
    (25, 60.2574, -34.0099, 36.2677, 60.4626, -34.1751, 39.4387, 1.2644),
    (29, 22.7233, 20.0904, -46.6940, 23.0331, 14.9730, -42.5619, 2.0373),
    (34, 2.0776, 0.0795, -1.1350, 0.9033, -0.0636, -0.5514, 0.9082),
]


def test_reference_colourfulness_closed_form():
    assert ref_colourfulness(constant(0.4)) == 0.0
    assert ref_colourfulness(constant((1, 0, 0))) == pytest.approx(85.5296, abs=1e-4)
    halves = constant((1, 0, 0), (2, 2))
    halves[1] = (0, 1, 0)
    assert ref_colourfulness(halves) == pytest.approx(293.25)


def test_reference_hue_accuracy_closed_form():
    lab = np.stack(np.meshgrid(np.linspace(20, 80, 9), np.linspace(-60, 60, 9)), -1)
    lab = np.concatenate([lab[..., :1], lab], axis=-1)  # L*, a* from a grid, b* = L*
    lab[..., 2] = np.linspace(-50, 50, 81).reshape(9, 9)
    hits, pixels = ref_hue_hits(lab, lab)
    assert hits == pixels > 0
    scaled = lab.copy()
    scaled[..., 1:] *= 0.05
    assert ref_hue_hits(scaled, lab) == (pixels, pixels)
    turned = lab.copy()
    turned[..., 1], turned[..., 2] = -lab[..., 2], lab[..., 1]
    assert ref_hue_hits(turned, lab) == (0, pixels)


def test_reference_gmsd_of_a_hand_made_pair():
    # 6 × 8 greys (R = G = B, so luma = 255·v). Halved: the truth is a ramp 0, 1, 2, 3 (times
    # 51) down every column; the prediction is flat but for one bright block.
    true = np.repeat(np.repeat(np.arange(3)[:, None] * np.ones(4), 2, 0), 2, 1) * 0.2
    pred = np.full((6, 8), 0.2)
    pred[2:4, 4:6] = 1.0
    true, pred = (np.repeat(v[..., None], 3, -1) for v in (true, pred))
    assert ref_half_luma(true)[:, 0] == pytest.approx([0, 51, 102])
    # Truth: gx = 0, gy = row above − row below: 102 inside, 51 where an edge is replicated.
    assert ref_gradient_magnitude(ref_half_luma(true))[:, 0] == pytest.approx([51, 102, 51])
    # Prediction: a bump of 204 at (1, 2) of the halved image; row 0 sees it a third at a time
    # (gx ∓ 68 beside it, gy 68 above it), the bump itself sees no slope.
    m_p = ref_gradient_magnitude(ref_half_luma(pred))
    assert m_p[0] == pytest.approx([0, 68 * math.sqrt(2), 68, 68 * math.sqrt(2)])
    assert m_p[1, 2] == 0
    m_t = np.array([[51] * 4, [102] * 4, [51] * 4])
    gms = (2 * m_t * m_p + 170) / (m_t**2 + m_p**2 + 170)
    assert ref_gmsd(pred, true) == pytest.approx(gms.std(), rel=1e-12)
    assert gmsd(pred, true) == pytest.approx(ref_gmsd(pred, true), rel=1e-12)
    assert ref_gmsd(true, true) == 0.0


def test_reference_detail_of_a_flat_image_is_zero_and_of_a_cosine_closed_form():
    assert ref_detail(np.full((12, 12), 37.0)) == 0.0
    # A cos(ω(x + ½)), ω = π·3/W, is mirror-symmetric about both edges: the mirrored border
    # extends it into an endless cosine, which the blur scales by H = Σ_k w_k cos(ω k).
    width, amplitude = 40, 7.0
    omega = math.pi * 3 / width
    wave = amplitude * np.cos(omega * (np.arange(width) + 0.5)) * np.ones((9, 1))
    weights = ref_gaussian_window(1.5, truncate=4.0)
    blur_gain = sum(w * math.cos(omega * (k - 6)) for k, w in enumerate(weights))
    assert ref_detail(wave) == pytest.approx(amplitude * (1 - blur_gain) / math.sqrt(2))
    # Two grey boards: the L* of each takes two values, so their ratio is that of the swings.
    board = np.tile([[1.0, 0.0], [0.0, 1.0]], (8, 8))[..., None] * np.ones(3)
    soft, hard = 0.45 + 0.1 * board, 0.3 + 0.4 * board
    swings = [np.ptp(ref_lab(image)[..., 0]) for image in (soft, hard)]
    assert detail_ratio(soft, hard) == pytest.approx(swings[0] / swings[1], rel=1e-4)


@pytest.mark.parametrize("row", SHARMA_2005)
def test_reference_ciede2000_matches_sharma_table(row):
    lab1, lab2, expected = np.array(row[1:4]), np.array(row[4:7]), row[7]
    assert ref_de00_lab(lab1, lab2) == pytest.approx(expected, abs=1e-4)
    assert ref_de00_lab(lab2, lab1) == pytest.approx(expected, abs=1e-4)  # symmetric


def test_reference_matches_nircolor_on_random_images():
    rng = np.random.default_rng(3)
    true = rng.random((40, 52, 3)).astype(np.float32)
    pred = np.clip(true + rng.normal(0, 0.15, true.shape), 0, 1).astype(np.float32)
    pred[:3, :3] = 0  # black pixels take the grey direction in AE
    ours, theirs = ref_metrics(pred, true), compute_metrics(pred, true)
    for name, tolerance in TOLERANCE.items():
        assert theirs[name] == pytest.approx(ours[name], abs=tolerance / 10), name
    for name in ("colourfulness", "colourfulness_true"):
        assert theirs[name] == pytest.approx(ours[name], rel=1e-9), name
    for name, tolerance in DETAIL_TOLERANCE.items():
        assert theirs[name] == pytest.approx(ours[name], abs=tolerance), name
    assert theirs["detail_ratio"] == pytest.approx(ref_pooled([ours])["detail_ratio"], abs=1e-4)
    assert abs(theirs["hue_hits"] - ours["hue_hits"]) <= 2
    assert abs(theirs["hue_pixels"] - ours["hue_pixels"]) <= 2
    assert theirs["colourfulness_ratio"] == pytest.approx(ref_pooled([ours])["colourfulness_ratio"])
    assert theirs["hue_acc"] == pytest.approx(ref_pooled([ours])["hue_acc"], abs=1e-3)
    assert theirs["mse"] == pytest.approx(ours["mse"], rel=1e-9)
    assert delta_e00_map(pred, true).mean(dtype=np.float64) == pytest.approx(
        delta_e00(pred, true), abs=1e-6
    )


# ------------------------------------------------------------------ against evaluate --json


def check_against_evaluate(monkeypatch, capsys, tmp_path, model, data, split):
    json_path = tmp_path / "evaluate.json"
    code, _, err = run(
        monkeypatch,
        capsys,
        *("evaluate", "--model", model, "--data", data, "--split", split, "--json", json_path),
    )
    assert code == 0, err
    evaluated = json.loads(json_path.read_text())
    pairs = {pair.id: pair for pair in discover_pairs(data)}

    def colorized(nir):
        return nircolor.colorize(nir, model=str(model))

    def grey(nir):  # the reference row: the NIR image shown as grey, R = G = B = NIR
        return np.repeat(nir[..., None], 3, axis=-1)

    check_document(evaluated, pairs, colorized)
    # The hue of a grey pixel is that of rounding noise in a* and b* (float32 Lab against
    # float64 here): of the grey reference, every metric but the hue accuracy is compared.
    check_document(evaluated["nir_as_grey"], pairs, grey, hues=False)
    assert evaluated["nir_as_grey"]["model"] == "NIR shown as grey"
    return evaluated


def check_document(document, pairs, predict, hues=True):
    """Every image row of an ``evaluate --json`` document, and its summary, against the
    reference computed on ``predict(nir)`` (the hue accuracy too if ``hues``)."""
    references = []
    for row in document["images"]:
        nir, rgb = load_pair(pairs[row["image"]])
        reference = ref_metrics(predict(nir), rgb)
        for name, tolerance in {**TOLERANCE, **COLOUR_TOLERANCE, **DETAIL_TOLERANCE}.items():
            assert row[name] == pytest.approx(reference[name], abs=tolerance), (row["image"], name)
        assert abs(row["hue_pixels"] - reference["hue_pixels"]) <= 2e-3 * row["hue_pixels"] + 2
        if hues:
            hits = reference["hue_hits"]
            assert abs(row["hue_hits"] - hits) <= 2e-3 * reference["hue_pixels"] + 2
        references.append(reference)
    for name, tolerance in TOLERANCE.items():  # the set's value: the mean of per-image values
        mean = np.mean([r[name] for r in references])
        assert document["summary"][name] == pytest.approx(mean, abs=tolerance), name
    pooled = ref_pooled(references)  # except colour as seen and detail: pooled over the set
    for name, tolerance in POOLED_TOLERANCE.items():
        if hues or name != "hue_acc":
            assert document["summary"][name] == pytest.approx(pooled[name], abs=tolerance), name


def test_evaluate_json_matches_the_reference(monkeypatch, capsys, tmp_path, pair_tree, tiny_model):
    evaluated = check_against_evaluate(monkeypatch, capsys, tmp_path, tiny_model, pair_tree, "all")
    assert evaluated["summary"]["n"] == 12
    for category, row in evaluated["categories"].items():
        values = [r["de00"] for r in evaluated["images"] if r["category"] == category]
        assert row["de00"] == pytest.approx(np.mean(values), abs=1e-12)


REAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.mark.skipif(not (REAL_DATA / "MANIFEST.csv").is_file(), reason="no ../shared/data")
def test_evaluate_json_matches_the_reference_on_real_images(monkeypatch, capsys, tmp_path):
    # Two 256x256 crops of real scenes: a gamut and texture the synthetic pairs lack.
    data = REAL_DATA / "vcip2020" / "validation"
    check_against_evaluate(monkeypatch, capsys, tmp_path, "l3", data, "all")
