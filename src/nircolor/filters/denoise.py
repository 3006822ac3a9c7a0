"""A light denoise of the NIR input, applied only when the image is clearly noisy (issue 24 B3).

Noisy NIR (night, IR illuminators) costs every colorizer colour: on the val rows the default's
ΔE00 rose by 3.1 under Gaussian noise σ 0.03 (``benchmarks/bench_robustness.py``). The noise
level is estimated from the image itself (:func:`estimate_noise`); above
:data:`NOISE_THRESHOLD` the image goes through OpenCV's non-local means with a filter strength
proportional to the estimate (:func:`denoise_nir`), below it the image is returned as it is, so
a clean input is colorized exactly as before.
"""

from __future__ import annotations

import cv2
import numpy as np

NOISE_THRESHOLD = 0.018
"""Estimated σ (in [0, 1] units) above which :func:`denoise_nir` filters. The clean val NIR
images estimate at most 0.017 (textured 256² crops; the full-size ones at most 0.007)."""

STRENGTH = 0.8
"""Non-local means' ``h`` as a multiple of the estimated σ (0.6 and 1.2 did worse on val)."""

_RESIDUAL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


def estimate_noise(nir) -> float:
    """The standard deviation of white noise in a NIR image, in its [0, 1] units.

    The image's response to Immerkær's (1996) 3×3 kernel (two Laplacians' difference: zero on
    flat and linear areas, ``6 σ`` of standard deviation on white noise), the median absolute
    response taken for robustness to edges and texture (``σ = median |r| / (0.6745 · 6)``).

    Parameters
    ----------
    nir : array_like, ``(H, W)`` float in [0, 1], at least 3×3

    Returns
    -------
    float
    """
    nir = np.asarray(nir, dtype=np.float32)
    if nir.ndim != 2 or min(nir.shape) < 3:
        raise ValueError(f"need a (H, W) image of at least 3×3 pixels, not {nir.shape}")
    response = cv2.filter2D(nir, -1, _RESIDUAL, borderType=cv2.BORDER_REFLECT)[1:-1, 1:-1]
    return float(np.median(np.abs(response)) / (0.6745 * 6))


def denoise_nir(
    nir, strength: float = STRENGTH, threshold: float = NOISE_THRESHOLD
) -> tuple[np.ndarray, float]:
    """The NIR image denoised by non-local means if it is noisy, and its estimated noise σ.

    Parameters
    ----------
    nir : array_like, ``(H, W)`` float in [0, 1]
    strength : float
        Filter strength ``h`` of :func:`cv2.fastNlMeansDenoising` as a multiple of the
        estimated σ (on the 8-bit image; 7×7 patches, 21×21 search window).
    threshold : float
        Below this estimated σ the image is returned unchanged (a copy, float32).

    Returns
    -------
    image : ndarray, float32 ``(H, W)`` in [0, 1]
    sigma : float
        :func:`estimate_noise` of the input.
    """
    nir = np.asarray(nir, dtype=np.float32)
    sigma = estimate_noise(nir)
    if sigma < threshold or strength <= 0:
        return nir.copy(), sigma
    data = np.round(np.clip(nir, 0, 1) * 255).astype(np.uint8)
    out = cv2.fastNlMeansDenoising(
        data, None, h=float(strength * sigma * 255), templateWindowSize=7, searchWindowSize=21
    )
    return out.astype(np.float32) / np.float32(255), sigma
