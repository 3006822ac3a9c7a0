"""Image-quality metrics for colorized images.

Every function compares a predicted sRGB image with the true one. Both are floating-point
arrays of shape ``(H, W, 3)`` with values in [0, 1] (values outside that range are not
rejected, but the metrics assume it: PSNR and SSIM take the data range to be 1).

The metrics are the ones the NIR colorization literature reports:

``psnr``
    Peak signal-to-noise ratio in dB, data range 1.
``ssim``
    Structural similarity (Wang et al. 2004), mean over the R, G and B channels.
``ae``
    Mean angular error in degrees between the RGB vectors of corresponding pixels, as the
    VCIP 2020 NIR colorization challenge scores it.
``de00``, ``de76``
    Mean CIELAB colour difference, CIEDE2000 and CIE76 (sRGB to Lab with D65, 2°).
``mse``
    Mean squared error over all pixels and channels.
``colourfulness_ratio``, ``hue_acc``
    Colour as a person sees it (:mod:`nircolor.colour_metrics`): how colourful the
    prediction is next to the truth, and the fraction of chromatic pixels whose hue is right.
    Over a set they are pooled (ratios of sums), not averaged per image.
``detail_ratio``, ``gmsd``
    Structure (:mod:`nircolor.structure_metrics`): how sharp the prediction's lightness is
    next to the truth's (pooled over a set), and how far its edges are from the true ones.

Image-sized intermediates of SSIM and the Lab conversion are float32 (about four times
faster than float64 and accurate to about 1e-6 in SSIM and 1e-4 in ΔE); every mean is
accumulated in float64. MSE, PSNR and the angular error are computed in float64.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
from skimage.color import deltaE_cie76, deltaE_ciede2000, rgb2lab
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

from . import colour_metrics, structure_metrics
from .colour_metrics import colour_scores, colourfulness, hue_hits, pooled_scores

# Names, labels and formats of the metrics live with the tables that show them.
from .metric_inputs import check_pair
from .metric_tables import HIGHER_IS_BETTER, METRIC_LABELS, METRIC_NAMES
from .structure_metrics import detail_ratio, detail_scores, gms_deviation, gmsd

__all__ = [
    "HIGHER_IS_BETTER",
    "METRIC_LABELS",
    "METRIC_NAMES",
    "POOLED_FROM",
    "SSIM_MIN_SIZE",
    "angular_error",
    "colourfulness",
    "compute_metrics",
    "delta_e00",
    "delta_e00_map",
    "delta_e76",
    "detail_ratio",
    "gmsd",
    "hue_hits",
    "mean_metrics",
    "mse",
    "psnr",
    "ssim",
]

SSIM_SIGMA = 1.5
"""Standard deviation of SSIM's Gaussian window (Wang et al. 2004)."""

SSIM_MIN_SIZE = 11
"""Smallest image side SSIM accepts: the side of its Gaussian window (radius 3.5 sigma)."""

POOLED_FROM: dict[str, tuple[str, str]] = {
    **colour_metrics.POOLED_FROM,
    **structure_metrics.POOLED_FROM,
}
"""For each metric pooled over a set, the per-image (numerator, denominator) it sums."""


def _mse(pred: np.ndarray, true: np.ndarray) -> float:
    return float(mean_squared_error(true.astype(np.float64), pred.astype(np.float64)))


def _psnr(pred: np.ndarray, true: np.ndarray) -> float:
    # skimage divides by an MSE of 0 for identical images: the answer, inf, is the right one.
    with np.errstate(divide="ignore"):
        value = peak_signal_noise_ratio(
            true.astype(np.float64), pred.astype(np.float64), data_range=1.0
        )
    return float(value)


def _ssim(pred: np.ndarray, true: np.ndarray) -> float:
    height, width = pred.shape[:2]
    if min(height, width) < SSIM_MIN_SIZE:
        raise ValueError(
            f"SSIM needs images of at least {SSIM_MIN_SIZE}x{SSIM_MIN_SIZE} pixels "
            f"(the size of its Gaussian window), got {height}x{width}"
        )
    value = structural_similarity(
        true.astype(np.float32),
        pred.astype(np.float32),
        data_range=1.0,
        channel_axis=-1,
        gaussian_weights=True,
        sigma=SSIM_SIGMA,
        use_sample_covariance=False,
        K1=0.01,
        K2=0.03,
    )
    return float(value)


def _angular_error(pred: np.ndarray, true: np.ndarray) -> float:
    p = pred.reshape(-1, 3).astype(np.float64)
    t = true.reshape(-1, 3).astype(np.float64)
    # A black pixel has no direction: take it as the direction of the greys, (1, 1, 1).
    p[~p.any(axis=1)] = 1.0
    t[~t.any(axis=1)] = 1.0
    dot = np.einsum("ij,ij->i", p, t)
    cross = np.cross(p, t)
    sin_norm = np.sqrt(np.einsum("ij,ij->i", cross, cross))
    # atan2(|p x t|, p . t) is arccos(cos similarity), without arccos's loss of precision
    # near 0° and 180° (identical vectors give exactly 0).
    angles = np.degrees(np.arctan2(sin_norm, dot))
    return float(angles.mean(dtype=np.float64))


def srgb_to_lab(image: np.ndarray) -> np.ndarray:
    """CIELAB (D65, 2°) of an sRGB image in [0, 1]."""
    return rgb2lab(image.astype(np.float32), illuminant="D65", observer="2")


def lab_delta_e76(lab_pred: np.ndarray, lab_true: np.ndarray) -> float:
    """Mean CIE76 ΔE of two CIELAB images."""
    return float(deltaE_cie76(lab_true, lab_pred, channel_axis=-1).mean(dtype=np.float64))


def _delta_e00_pixels(lab_pred: np.ndarray, lab_true: np.ndarray) -> np.ndarray:
    return deltaE_ciede2000(lab_true, lab_pred, channel_axis=-1)


def lab_delta_e00(lab_pred: np.ndarray, lab_true: np.ndarray) -> float:
    """Mean CIEDE2000 ΔE of two CIELAB images."""
    return float(_delta_e00_pixels(lab_pred, lab_true).mean(dtype=np.float64))


def mse(pred, true) -> float:
    """Mean squared error over all pixels and channels.

    Parameters
    ----------
    pred, true : (H, W, 3) ndarray of float
        Predicted and true sRGB images, values in [0, 1].

    Returns
    -------
    mse : float
        ``mean((pred - true) ** 2)``, computed in float64.

    Raises
    ------
    ValueError
        If the images are not floating-point ``(H, W, 3)`` arrays of the same shape, are
        empty, or hold NaN or infinite values.
    """
    pred, true = check_pair(pred, true)
    return _mse(pred, true)


def psnr(pred, true) -> float:
    """Peak signal-to-noise ratio in dB, for a data range of 1.

    Parameters
    ----------
    pred, true : (H, W, 3) ndarray of float
        Predicted and true sRGB images, values in [0, 1].

    Returns
    -------
    psnr : float
        ``10 * log10(1 / MSE)``, from :func:`skimage.metrics.peak_signal_noise_ratio`;
        ``float('inf')`` for identical images.

    Raises
    ------
    ValueError
        As for :func:`mse`.
    """
    pred, true = check_pair(pred, true)
    return _psnr(pred, true)


def ssim(pred, true) -> float:
    """Structural similarity index, as Wang et al. (2004) define it.

    Computed per channel with :func:`skimage.metrics.structural_similarity` and averaged
    over R, G and B: an 11x11 Gaussian window of sigma 1.5, population (not sample)
    covariances, data range 1, K1 = 0.01, K2 = 0.03. The SSIM map is averaged over the
    pixels at least 5 pixels from the border (the window's radius), as scikit-image does.

    Parameters
    ----------
    pred, true : (H, W, 3) ndarray of float
        Predicted and true sRGB images, values in [0, 1], at least 11x11 pixels.

    Returns
    -------
    ssim : float
        1 for identical images, lower for less similar ones.

    Raises
    ------
    ValueError
        As for :func:`mse`, and if either side of the images is shorter than 11 pixels
        (:data:`SSIM_MIN_SIZE`). The window is never shrunk to fit: an SSIM over a smaller
        window is a different metric, not comparable with published values.
    """
    pred, true = check_pair(pred, true)
    return _ssim(pred, true)


def angular_error(pred, true) -> float:
    """Mean angular error in degrees between the RGB vectors of corresponding pixels.

    For each pixel the angle between the predicted and true ``(R, G, B)`` vectors is
    ``arccos(p . t / (|p| |t|))`` (computed as ``atan2(|p x t|, p . t)``, which is the same
    angle without arccos's rounding error near 0°); the result is its mean over pixels. This
    is the AE of the VCIP 2020 NIR colorization challenge. It ignores brightness: a pixel
    half as bright as the truth but of the same chromaticity has an error of 0°.

    Parameters
    ----------
    pred, true : (H, W, 3) ndarray of float
        Predicted and true sRGB images, values in [0, 1].

    Returns
    -------
    ae : float
        Mean angle in degrees, in [0, 180] (in [0, 90] for non-negative images).

    Raises
    ------
    ValueError
        As for :func:`mse`.

    Notes
    -----
    A black pixel (all three channels exactly 0) has no direction. It is taken as the
    direction of the greys, ``(1, 1, 1)``, of which it is the darkest. Black against black
    or against any grey is therefore 0°, and black against pure red is 54.74°, the angle
    between grey and red. Every other pixel is computed exactly, without any epsilon.
    """
    pred, true = check_pair(pred, true)
    return _angular_error(pred, true)


def delta_e76(pred, true) -> float:
    """Mean CIE76 colour difference, the Euclidean distance in CIELAB.

    sRGB is converted to CIELAB with :func:`skimage.color.rgb2lab` (illuminant D65,
    2° observer) and compared with :func:`skimage.color.deltaE_cie76`.

    Parameters
    ----------
    pred, true : (H, W, 3) ndarray of float
        Predicted and true sRGB images, values in [0, 1].

    Returns
    -------
    de76 : float
        Mean ΔE*ab over pixels; 0 for identical images.

    Raises
    ------
    ValueError
        As for :func:`mse`.
    """
    pred, true = check_pair(pred, true)
    return lab_delta_e76(srgb_to_lab(pred), srgb_to_lab(true))


def delta_e00(pred, true) -> float:
    """Mean CIEDE2000 colour difference.

    sRGB is converted to CIELAB with :func:`skimage.color.rgb2lab` (illuminant D65,
    2° observer) and compared with :func:`skimage.color.deltaE_ciede2000` (kL = kC =
    kH = 1).

    Parameters
    ----------
    pred, true : (H, W, 3) ndarray of float
        Predicted and true sRGB images, values in [0, 1].

    Returns
    -------
    de00 : float
        Mean ΔE00 over pixels; 0 for identical images.

    Raises
    ------
    ValueError
        As for :func:`mse`.
    """
    pred, true = check_pair(pred, true)
    return lab_delta_e00(srgb_to_lab(pred), srgb_to_lab(true))


def delta_e00_map(pred, true) -> np.ndarray:
    """Per-pixel CIEDE2000 colour difference, the map whose mean is :func:`delta_e00`.

    Parameters
    ----------
    pred, true : (H, W, 3) ndarray of float
        Predicted and true sRGB images, values in [0, 1].

    Returns
    -------
    de00 : (H, W) ndarray of float32
        ΔE00 of every pixel, converted to Lab as :func:`delta_e00` does.

    Raises
    ------
    ValueError
        As for :func:`mse`.
    """
    pred, true = check_pair(pred, true)
    return _delta_e00_pixels(srgb_to_lab(pred), srgb_to_lab(true)).astype(np.float32)


def compute_metrics(pred, true) -> dict[str, float]:
    """Every metric of a (prediction, truth) pair, each image converted to Lab only once.

    Parameters
    ----------
    pred, true : (H, W, 3) ndarray of float
        Predicted and true sRGB images, values in [0, 1], at least 11x11 pixels.

    Returns
    -------
    metrics : dict of str to float
        Keys ``psnr``, ``ssim``, ``ae``, ``de76``, ``de00`` and ``mse``, with the values
        :func:`psnr`, :func:`ssim`, :func:`angular_error`, :func:`delta_e76`,
        :func:`delta_e00` and :func:`mse` would return; ``colourfulness_ratio`` and
        ``hue_acc`` of the image (``nan`` where the truth has no colour, or no chromatic
        pixel) and the sums a set pools them from: ``colourfulness`` and
        ``colourfulness_true`` (M of the prediction and of the truth), ``hue_hits`` and
        ``hue_pixels`` (see :func:`nircolor.colour_metrics.colour_scores`); ``gmsd``, and
        ``detail_ratio`` with its sums ``detail`` and ``detail_true``
        (:func:`nircolor.structure_metrics.detail_scores`).

    Raises
    ------
    ValueError
        As for :func:`ssim`.
    """
    pred, true = check_pair(pred, true)
    lab_pred = srgb_to_lab(pred)
    lab_true = srgb_to_lab(true)
    return {
        "psnr": _psnr(pred, true),
        "ssim": _ssim(pred, true),
        "ae": _angular_error(pred, true),
        "de76": lab_delta_e76(lab_pred, lab_true),
        "de00": lab_delta_e00(lab_pred, lab_true),
        "mse": _mse(pred, true),
        **colour_scores(pred, true, lab_pred, lab_true),
        **detail_scores(lab_pred, lab_true),
        "gmsd": gms_deviation(pred, true),
    }


def mean_metrics(rows: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Average per-image metrics over a set of images.

    Parameters
    ----------
    rows : iterable of mapping
        One mapping per image, such as :func:`compute_metrics` returns. Keys that are not
        in :data:`METRIC_NAMES` (an image name, say) are ignored; the metric keys must be
        the same in every row.

    Returns
    -------
    means : dict of str to float
        For each metric present, in the order of :data:`METRIC_NAMES`, the mean of its
        per-image values; for the pooled metrics (:data:`POOLED_FROM`: ``colourfulness_ratio``,
        ``hue_acc``, ``detail_ratio``), the ratio of the sums of their per-image numerators
        and denominators (``nan`` if that is 0/0).

    Raises
    ------
    ValueError
        If ``rows`` is empty or the rows do not all hold the same metrics.

    Notes
    -----
    The PSNR of a set is the mean of the per-image PSNRs, as NIR colorization papers and
    the VCIP 2020 challenge report it, not the PSNR of the pooled MSE.

    Infinite values are left out of a mean. Only PSNR can be infinite (an image predicted
    exactly), and a single such image would otherwise make the PSNR of the whole set
    infinite and hide every other image. The mean is over the finite values only; if every
    value is infinite (every image exact), the mean is ``inf``.
    """
    rows = list(rows)
    if not rows:
        raise ValueError("mean_metrics needs at least one row of metrics, got none")
    names = [name for name in METRIC_NAMES if name in rows[0]]
    for index, row in enumerate(rows):
        row_names = [name for name in METRIC_NAMES if name in row]
        if row_names != names:
            raise ValueError(
                f"every row must hold the same metrics: row 0 has {names}, "
                f"row {index} has {row_names}"
            )
    pooled = pooled_scores(rows, POOLED_FROM)
    means = {}
    for name in names:
        if name in POOLED_FROM:
            means[name] = pooled.get(name, float("nan"))
            continue
        values = np.array([float(row[name]) for row in rows], dtype=np.float64)
        finite = values[~np.isinf(values)]
        means[name] = float(finite.mean() if finite.size else values.mean())
    return means
