"""Metrics of colour as a person sees it: colourfulness and hue accuracy.

PSNR and ΔE reward a prediction near the mean colour: a faintly tinted grey picture scores
well on them and looks grey. These two metrics say whether the picture is coloured at all and
whether its hues are the true ones:

``colourfulness_ratio``
    Colourfulness M of Hasler & Süsstrunk (2003) of the prediction over that of the truth,
    pooled over a set as ``Σ M_pred / Σ M_true``. 1 is as colourful as the truth; a grey
    picture is 0.
``hue_acc``
    Over the pixels whose *true* CIELAB chroma is at least :data:`HUE_MIN_CHROMA`, the
    fraction whose predicted hue angle is within :data:`HUE_TOLERANCE_DEG` of the true one,
    pooled over a set as ``Σ hits / Σ chromatic pixels``. Scaling the chroma of a prediction
    does not change it: only correct hues raise it.

Both pool over a set rather than average per image, so each image carries the sums they are
pooled from (:data:`POOLED_FROM`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .metric_inputs import check_image

__all__ = [
    "HUE_MIN_CHROMA",
    "HUE_TOLERANCE_DEG",
    "POOLED_FROM",
    "colourfulness",
    "colour_scores",
    "hue_hits",
    "pooled_scores",
]

HUE_MIN_CHROMA = 10.0
"""CIELAB chroma √(a*² + b*²) of the truth from which a pixel counts in hue accuracy."""

HUE_TOLERANCE_DEG = 30.0
"""Largest wrapped hue-angle difference, in degrees, that counts as a correct hue."""

POOLED_FROM: dict[str, tuple[str, str]] = {
    "colourfulness_ratio": ("colourfulness", "colourfulness_true"),
    "hue_acc": ("hue_hits", "hue_pixels"),
}
"""For each pooled metric, the per-image (numerator, denominator) sums it is the ratio of."""


def colourfulness(image) -> float:
    """Colourfulness M of an sRGB image (Hasler & Süsstrunk 2003).

    Parameters
    ----------
    image : (H, W, 3) ndarray of float
        sRGB image with values in [0, 1]; it is scaled to 0–255 first.

    Returns
    -------
    float
        ``M = √(σ_rg² + σ_yb²) + 0.3·√(μ_rg² + μ_yb²)`` with ``rg = R − G`` and
        ``yb = (R + G)/2 − B``, population means and standard deviations over all pixels.
        0 for any grey image.

    Raises
    ------
    ValueError
        If ``image`` is not a non-empty (H, W, 3) floating-point array of finite values (as
        :func:`nircolor.metrics.mse` checks each of its images): 8-bit images must be
        divided by 255 first.
    """
    return _colourfulness(check_image(image))


def _colourfulness(image: np.ndarray) -> float:
    rgb = np.asarray(image, dtype=np.float64).reshape(-1, 3) * 255.0
    rg = rgb[:, 0] - rgb[:, 1]
    yb = 0.5 * (rgb[:, 0] + rgb[:, 1]) - rgb[:, 2]
    spread = np.hypot(rg.std(), yb.std())
    centre = np.hypot(rg.mean(), yb.mean())
    return float(spread + 0.3 * centre)


def hue_hits(lab_pred: np.ndarray, lab_true: np.ndarray) -> tuple[int, int]:
    """How many chromatic true pixels have their hue predicted, and how many there are.

    Parameters
    ----------
    lab_pred, lab_true : (H, W, 3) ndarray
        CIELAB (D65) images of the prediction and the truth.

    Returns
    -------
    hits, pixels : int
        ``pixels`` counts the true pixels of chroma ≥ :data:`HUE_MIN_CHROMA`; ``hits``
        those of them whose hue angles ``atan2(b*, a*)`` differ by at most
        :data:`HUE_TOLERANCE_DEG` (wrapped to [0°, 180°]).
    """
    a_true, b_true = lab_true[..., 1].astype(np.float64), lab_true[..., 2].astype(np.float64)
    chromatic = np.hypot(a_true, b_true) >= HUE_MIN_CHROMA
    hue_true = np.arctan2(b_true[chromatic], a_true[chromatic])
    hue_pred = np.arctan2(lab_pred[..., 2][chromatic], lab_pred[..., 1][chromatic])
    difference = np.abs(np.angle(np.exp(1j * (hue_pred.astype(np.float64) - hue_true))))
    hits = np.count_nonzero(np.degrees(difference) <= HUE_TOLERANCE_DEG)
    return int(hits), int(np.count_nonzero(chromatic))


def colour_scores(pred, true, lab_pred: np.ndarray, lab_true: np.ndarray) -> dict[str, float]:
    """Per-image colourfulness and hue scores, with the sums their set values pool.

    Returns the keys of :data:`POOLED_FROM` (the image's own ratio, ``nan`` where its
    denominator is 0) and their numerators and denominators.
    """
    hits, pixels = hue_hits(lab_pred, lab_true)
    scores = {
        "colourfulness": _colourfulness(pred),
        "colourfulness_true": _colourfulness(true),
        "hue_hits": float(hits),
        "hue_pixels": float(pixels),
    }
    scores.update(pooled_scores([scores]))
    return scores


def pooled_scores(
    rows: Sequence[Mapping[str, float]],
    pooled_from: Mapping[str, tuple[str, str]] = POOLED_FROM,
) -> dict[str, float]:
    """The pooled metrics of a set of per-image rows: ``Σ numerator / Σ denominator``.

    ``pooled_from`` names each metric's (numerator, denominator) sums (by default the
    colour metrics'; :data:`nircolor.metrics.POOLED_FROM` adds the detail ratio). A metric
    is left out when a row lacks its sums; it is ``nan`` when the pooled denominator is 0
    (no colour in the truth, no chromatic pixel, no detail).
    """
    pooled = {}
    for name, (top, bottom) in pooled_from.items():
        if not rows or any(top not in row or bottom not in row for row in rows):
            continue
        numerator = sum(float(row[top]) for row in rows)
        denominator = sum(float(row[bottom]) for row in rows)
        pooled[name] = numerator / denominator if denominator > 0 else float("nan")
    return pooled
