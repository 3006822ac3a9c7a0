"""L3 patch geometry and statistics, and the classification of pixels into level × contrast
classes (cut points included)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..base import check_nir

if TYPE_CHECKING:
    from .config import L3Config

_LOG_LEVEL_RANGE = (1.0 / 256.0, 1.0)
_LOG_CONTRAST_RANGE = (1.0 / 1024.0, 0.25)


def orbit_matrix(patch: int, symmetric: bool) -> np.ndarray:
    """``(P·P, n_orbits)`` 0/1 matrix summing patch pixels into features (identity if not tied)."""
    n = patch * patch
    if not symmetric:
        return np.eye(n, dtype=np.float32)
    r = patch // 2
    offsets = np.arange(patch) - r
    key = np.abs(offsets)[:, None] * (r + 1) + np.abs(offsets)[None, :]
    _, orbit = np.unique(key.ravel(), return_inverse=True)
    matrix = np.zeros((n, orbit.max() + 1), dtype=np.float32)
    matrix[np.arange(n), orbit] = 1.0
    return matrix


def pad(nir: np.ndarray, radius: int, border: int = cv2.BORDER_REFLECT) -> np.ndarray:
    if radius == 0:
        return np.ascontiguousarray(nir)
    return cv2.copyMakeBorder(nir, radius, radius, radius, radius, border)


def patch_stats(
    nir: np.ndarray, patch: int = 5, border: int = cv2.BORDER_REFLECT
) -> tuple[np.ndarray, np.ndarray]:
    """Level (mean) and contrast (population std) of the ``patch × patch`` patch at every pixel.

    Padding ``border`` at the borders (reflect, ``cv2.BORDER_REFLECT``, the padding of the
    patches; CFA mosaics use ``BORDER_REFLECT_101``, which keeps the pattern's phase); both
    outputs ``(H, W)`` float32. Box filters of ``x`` and ``x²`` (sums in float64 inside
    OpenCV), ``std = sqrt(max(E[x²] − E[x]², 0))``.
    """
    nir = check_nir(nir)
    box = (patch, patch)
    level = cv2.boxFilter(nir, -1, box, normalize=True, borderType=border)
    square = cv2.multiply(nir, nir)
    cv2.boxFilter(square, -1, box, dst=square, normalize=True, borderType=border)
    cv2.subtract(square, cv2.multiply(level, level), dst=square)
    np.maximum(square, 0.0, out=square)
    contrast = cv2.sqrt(square, dst=square)
    return level.reshape(nir.shape), contrast.reshape(nir.shape)


def gather_patches(padded: np.ndarray, width: int, patch: int, idx: np.ndarray) -> np.ndarray:
    """``(len(idx), P·P)`` float32 patches around the pixels ``idx`` (flat image indices)."""
    padded_width = padded.shape[1]
    dy, dx = np.divmod(np.arange(patch * patch), patch)
    offsets = dy * padded_width + dx
    rows, cols = np.divmod(idx, width)
    corner = rows * padded_width + cols
    return padded.ravel()[corner[:, None] + offsets[None, :]]


def _count_cuts_below(values: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Number of ``cuts`` ``<=`` each value (uint8; at most 255 cuts).

    A sum of comparisons: for a few dozen cuts it is several times faster than
    ``np.searchsorted`` and gives the same bins (``side="right"``).
    """
    bins = np.zeros(values.shape, dtype=np.uint8)
    for cut in cuts:
        bins += values >= cut
    return bins


def classify(
    level: np.ndarray, contrast: np.ndarray, level_cuts: np.ndarray, contrast_cuts: np.ndarray
) -> np.ndarray:
    """Class index (int16) of 1-D level / contrast arrays: ``level_bin · n_contrasts + bin``.

    A bin is the number of cut points ``<=`` the value (so a value equal to a cut point goes
    to the upper bin); contrast cut points may differ per level bin.
    """
    n_contrasts = contrast_cuts.shape[1] + 1
    level_bin = _count_cuts_below(level, level_cuts)
    classes = level_bin.astype(np.int16)
    classes *= n_contrasts
    if n_contrasts == 1:
        return classes
    if np.all(contrast_cuts == contrast_cuts[:1]):  # cut points shared by all level bins
        classes += _count_cuts_below(contrast, contrast_cuts[0])
        return classes
    for j in range(n_contrasts - 1):
        classes += contrast >= contrast_cuts[level_bin, j]
    return classes


def quantile_cuts(
    level: np.ndarray, contrast: np.ndarray, config: L3Config
) -> tuple[np.ndarray, np.ndarray]:
    nl, nc = config.n_levels, config.n_contrasts
    level_cuts = np.quantile(level, np.arange(1, nl) / nl).astype(np.float32)
    probabilities = np.arange(1, nc) / nc
    global_cuts = np.quantile(contrast, probabilities).astype(np.float32)
    contrast_cuts = np.tile(global_cuts, (nl, 1))
    if config.contrast_per_level and nc > 1:
        bins = np.searchsorted(level_cuts, level, side="right")
        for b in range(nl):
            inside = contrast[bins == b]
            if len(inside) >= nc:
                contrast_cuts[b] = np.quantile(inside, probabilities)
    return level_cuts, np.ascontiguousarray(contrast_cuts, dtype=np.float32)


def log_cuts(config: L3Config) -> tuple[np.ndarray, np.ndarray]:
    """Fixed log-spaced cut points (``cuts="log"``): ``n`` bins evenly spaced in log between
    ``1/256`` and 1 for the level and between ``1/1024`` and ``1/4`` for the contrast (values
    beyond the ends fall into the first or last bin)."""

    def spaced(count: int, low: float, high: float) -> np.ndarray:
        return np.geomspace(low, high, count + 1)[1:-1].astype(np.float32)

    level_cuts = spaced(config.n_levels, *_LOG_LEVEL_RANGE)
    contrast_cuts = np.tile(spaced(config.n_contrasts, *_LOG_CONTRAST_RANGE), (config.n_levels, 1))
    return level_cuts, np.ascontiguousarray(contrast_cuts, dtype=np.float32)
