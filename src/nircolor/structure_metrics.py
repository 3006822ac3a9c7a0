"""Metrics of structure: is the prediction as sharp as the truth, and are its edges in place?

PSNR and ΔE reward blur: a smooth guess near the mean colour scores better on them than a
sharp picture whose details are slightly off. These two metrics look at the detail itself:

``detail_ratio``
    RMS of the high-pass of CIELAB lightness, ``hp(L*) = L* − G_σ * L*`` (a Gaussian of
    σ = :data:`DETAIL_SIGMA` px), of the prediction over that of the truth, pooled over a set
    as ``Σ RMS(hp(L*_pred)) / Σ RMS(hp(L*_true))``. 1 is as sharp as the truth; below 1 is
    blurred, above 1 is noisier.
``gmsd``
    Gradient magnitude similarity deviation (Xue, Zhang, Mou & Bovik 2014): the population
    standard deviation, over pixels, of the similarity of the two images' Prewitt gradient
    magnitudes on their luma halved in size. 0 for identical images; lower is better.

The detail ratio pools over a set rather than averaging per image (like the colour ratio of
:mod:`nircolor.colour_metrics`), so each image carries the sums it is pooled from
(:data:`POOLED_FROM`); GMSD is a per-image value, averaged over a set.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.color import rgb2lab

from .metric_inputs import check_pair

__all__ = [
    "DETAIL_SIGMA",
    "GMSD_C",
    "GMSD_MIN_SIZE",
    "LUMA_WEIGHTS",
    "POOLED_FROM",
    "PREWITT_X",
    "detail_ratio",
    "detail_rms",
    "detail_scores",
    "gms_deviation",
    "gmsd",
    "gradient_magnitude",
    "half_luma",
]

DETAIL_SIGMA = 1.5
"""Standard deviation, in pixels, of the Gaussian whose residue is the detail of L*."""

LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])
"""Rec. 601 luma weights of R, G and B, applied on the 0–255 scale (as GMSD's reference)."""

PREWITT_X = np.array([[1.0, 0.0, -1.0], [1.0, 0.0, -1.0], [1.0, 0.0, -1.0]]) / 3.0
"""Horizontal Prewitt kernel over 3 (GMSD's ``dx``); its transpose is the vertical one."""

GMSD_C = 170.0
"""GMSD's stability constant ``c`` for luma on 0–255 (Xue et al. 2014)."""

GMSD_MIN_SIZE = 4
"""Smallest image side GMSD accepts: its half-size luma must be at least 2x2 pixels (a single
pixel has no spread, so any pair would score a perfect 0)."""

POOLED_FROM: dict[str, tuple[str, str]] = {"detail_ratio": ("detail", "detail_true")}
"""For each pooled metric, the per-image (numerator, denominator) sums it is the ratio of."""


def detail_rms(lightness: np.ndarray, sigma: float = DETAIL_SIGMA) -> float:
    """RMS of the high-pass of one lightness image, ``√mean((x − G_σ * x)²)``.

    Parameters
    ----------
    lightness : (H, W) ndarray
        CIELAB L* (0–100); filtered in float64.
    sigma : float
        Standard deviation of the Gaussian, in pixels (:func:`scipy.ndimage.gaussian_filter`,
        mode ``"reflect"``, truncated at 4 σ).

    Returns
    -------
    float
        0 for a constant image.
    """
    x = np.asarray(lightness, dtype=np.float64)
    high_pass = x - ndimage.gaussian_filter(x, sigma, mode="reflect")
    return float(np.sqrt(np.mean(high_pass**2)))


def detail_scores(lab_pred: np.ndarray, lab_true: np.ndarray) -> dict[str, float]:
    """Per-image detail of the prediction and of the truth, and the image's own ratio.

    Returns ``detail`` (RMS of the high-pass of the predicted L*), ``detail_true`` (of the
    true L*) and ``detail_ratio``, their ratio (``nan`` for a truth without detail).
    """
    detail = detail_rms(lab_pred[..., 0])
    detail_true = detail_rms(lab_true[..., 0])
    ratio = detail / detail_true if detail_true > 0 else float("nan")
    return {"detail": detail, "detail_true": detail_true, "detail_ratio": ratio}


def half_luma(image: np.ndarray) -> np.ndarray:
    """Luma on 0–255 averaged over 2×2 blocks: GMSD's image at half size.

    ``Y = 0.299 R + 0.587 G + 0.114 B`` (sRGB values times 255, float64), then the mean of
    each block of rows ``2i, 2i+1`` and columns ``2j, 2j+1``, counting from the top-left
    pixel, as the reference code's ``conv2(Y, ones(2)/4, 'same')`` followed by
    ``Y(1:2:end, 1:2:end)``. An odd last row or column is dropped (the reference averages it
    with zeros).

    Parameters
    ----------
    image : (H, W, 3) ndarray
        sRGB image in [0, 1], at least 2×2 pixels.

    Returns
    -------
    (H // 2, W // 2) ndarray of float64
    """
    luma = (np.asarray(image, dtype=np.float64) * 255.0) @ LUMA_WEIGHTS
    height, width = (side // 2 * 2 for side in luma.shape)
    y = luma[:height, :width]
    return (y[0::2, 0::2] + y[0::2, 1::2] + y[1::2, 0::2] + y[1::2, 1::2]) / 4.0


def gradient_magnitude(y: np.ndarray) -> np.ndarray:
    """``√(gx² + gy²)`` with the Prewitt kernels over 3, edges replicated (mode ``nearest``)."""
    gx = ndimage.correlate(y, PREWITT_X, mode="nearest")
    gy = ndimage.correlate(y, PREWITT_X.T, mode="nearest")
    return np.hypot(gx, gy)


def gms_deviation(pred: np.ndarray, true: np.ndarray) -> float:
    """GMSD of two sRGB images in [0, 1] of the same shape, at least 4×4 (not checked here).

    ``GMS = (2 m_t m_p + c) / (m_t² + m_p² + c)`` per pixel of the half-size luma, with
    ``m`` the gradient magnitudes (:func:`gradient_magnitude` of :func:`half_luma`) and
    ``c`` = :data:`GMSD_C`; GMSD is the population standard deviation of GMS over pixels.
    """
    m_true = gradient_magnitude(half_luma(true))
    m_pred = gradient_magnitude(half_luma(pred))
    similarity = (2 * m_true * m_pred + GMSD_C) / (m_true**2 + m_pred**2 + GMSD_C)
    return float(similarity.std())


def detail_ratio(pred, true) -> float:
    """RMS of the high-pass of L* (σ = 1.5 px) of ``pred`` over that of ``true``.

    L* is CIELAB lightness as :func:`nircolor.metrics.delta_e00` converts it
    (:func:`skimage.color.rgb2lab`, D65, 2°, float32); see :func:`detail_rms`.

    Parameters
    ----------
    pred, true : (H, W, 3) ndarray of float
        Predicted and true sRGB images, values in [0, 1].

    Returns
    -------
    detail_ratio : float
        1 as sharp as the truth, below 1 blurred, above 1 noisier; ``nan`` for a flat truth.

    Raises
    ------
    ValueError
        As for :func:`nircolor.metrics.mse`.
    """
    pred, true = check_pair(pred, true)
    lab_pred, lab_true = (
        rgb2lab(image.astype(np.float32), illuminant="D65", observer="2") for image in (pred, true)
    )
    return detail_scores(lab_pred, lab_true)["detail_ratio"]


def gmsd(pred, true) -> float:
    """Gradient magnitude similarity deviation (Xue et al. 2014); 0 for identical images.

    See :func:`gms_deviation`.

    Parameters
    ----------
    pred, true : (H, W, 3) ndarray of float
        Predicted and true sRGB images, values in [0, 1], at least 4x4 pixels
        (:data:`GMSD_MIN_SIZE`).

    Returns
    -------
    gmsd : float
        In [0, 1); lower is better.

    Raises
    ------
    ValueError
        As for :func:`nircolor.metrics.mse`, and if a side is shorter than
        :data:`GMSD_MIN_SIZE` pixels: a half-size luma of one pixel (or one row) has no
        spread, and any pair would score 0.
    """
    pred, true = check_pair(pred, true)
    height, width = pred.shape[:2]
    if min(height, width) < GMSD_MIN_SIZE:
        raise ValueError(
            f"GMSD needs images of at least {GMSD_MIN_SIZE}x{GMSD_MIN_SIZE} pixels, "
            f"got {height}x{width}"
        )
    return gms_deviation(pred, true)
