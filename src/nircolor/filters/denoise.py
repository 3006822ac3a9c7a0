"""A light denoise of the NIR input, applied only when the image is clearly noisy (issue 24 B3).

Noisy NIR (night, IR illuminators) costs every colorizer colour: on the val rows `vivid`'s
ΔE00 rose by 3.1 under Gaussian noise σ 0.03 (``benchmarks/bench_robustness.py``). The noise
level is estimated from the image itself (:func:`estimate_noise`); above
:data:`NOISE_THRESHOLD` the image goes through OpenCV's non-local means with a filter strength
proportional to the estimate (:func:`denoise_nir`), below it the image is returned as it is, so
a clean input is colorized exactly as before.

:func:`nircolor.colorize` runs it on its input by default (``denoise="auto"``, ΔE00 rise under
noise σ 0.03 on val from +1.75 to +1.08; BENCHMARKS.md, "Robustness"); ``"on"`` filters
whatever the estimate, ``"off"`` never.
"""

from __future__ import annotations

import cv2
import numpy as np

NOISE_THRESHOLD = 0.018
"""Estimated σ (in [0, 1] units) above which :func:`denoise_nir` filters. The clean val NIR
images estimate at most 0.017 (textured 256² crops; the full-size ones at most 0.007)."""

STRENGTH = 0.8
"""Non-local means' ``h`` as a multiple of the estimated σ (0.6 and 1.2 did worse on val)."""

DENOISE_MODES = ("auto", "on", "off")
"""The settings of :func:`denoise_input`."""

_RESIDUAL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


def estimate_noise(nir) -> float:
    """The standard deviation of white noise in a NIR image, in its [0, 1] units.

    The image's response to Immerkær's (1996) 3×3 kernel (two Laplacians' difference: zero on
    flat and linear areas, ``6 σ`` of standard deviation on white noise), the median absolute
    response taken for robustness to edges and texture (``σ = median |r| / (0.6745 · 6)``),
    found in a histogram of bins :data:`BIN` wide, so that an image read in row bands
    (:class:`NoiseMeter`) gives the same estimate.

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
    meter = NoiseMeter()
    meter.feed(nir)
    return meter.sigma()


BIN = 1e-4
"""Width of the histogram bins of ``|r|`` in which :func:`estimate_noise` finds the median."""
_BINS = 10_000  # |r| from 0 to 1; larger (rare: a σ above 0.2) falls in the last bin


class NoiseMeter:
    """:func:`estimate_noise` of an image fed in row bands, top to bottom, of any heights."""

    def __init__(self) -> None:
        self.counts = np.zeros(_BINS, np.int64)
        self._last_rows: np.ndarray | None = None  # the two rows the next band's first needs

    def feed(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.float32)
        block = rows if self._last_rows is None else np.concatenate([self._last_rows, rows])
        if len(block) >= 3 and block.shape[1] >= 3:
            response = cv2.filter2D(block, -1, _RESIDUAL, borderType=cv2.BORDER_REFLECT)
            bins = (np.abs(response[1:-1, 1:-1]) * np.float32(1 / BIN)).astype(np.int32)
            self.counts += np.bincount(np.minimum(bins, _BINS - 1).ravel(), minlength=_BINS)
        self._last_rows = block[-2:]

    def sigma(self) -> float:
        """The estimate of what was fed (an image of at least 3×3 pixels)."""
        total = int(self.counts.sum())
        if total == 0:
            raise ValueError("need an image of at least 3×3 pixels to estimate its noise")
        median = np.searchsorted(np.cumsum(self.counts), (total + 1) / 2) * BIN
        return float(median / (0.6745 * 6))


def noise_of_rows(read, shape, band: int = 256) -> float:
    """:func:`estimate_noise` of an image read by ``read(a, b)`` (its rows ``a:b``) in bands of
    ``band`` rows; ``shape`` is its ``(height, width)``."""
    if min(shape[:2]) < 3:
        raise ValueError(f"need a (H, W) image of at least 3×3 pixels, not {tuple(shape)}")
    meter = NoiseMeter()
    for top in range(0, shape[0], band):
        meter.feed(read(top, min(top + band, shape[0])))
    return meter.sigma()


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
    return _non_local_means(nir, strength * sigma), sigma


def check_denoise(mode) -> str:
    """Validate a denoise setting: one of :data:`DENOISE_MODES` (``True``: ``"on"``,
    ``False``: ``"off"``, ``None``: ``"auto"``).

    Raises
    ------
    ValueError
        For anything else, saying what is expected.
    """
    if mode is None:
        return "auto"
    if isinstance(mode, bool):
        return "on" if mode else "off"
    if isinstance(mode, str) and mode.strip().lower() in DENOISE_MODES:
        return mode.strip().lower()
    raise ValueError(f"invalid denoise setting {mode!r}: expected auto, on or off")


def denoise_input(nir: np.ndarray, mode="auto") -> np.ndarray:
    """``nir`` (float32 ``(H, W)`` in [0, 1]) as a colorizer should see it: denoised by
    non-local means when ``mode`` is ``"on"``, or ``"auto"`` and it is noisy (as
    :func:`denoise_nir`); else ``nir`` itself (no copy)."""
    mode = check_denoise(mode)
    if mode == "off":
        return nir
    h = filter_strength(estimate_noise(nir), mode)
    return nir if h is None else _non_local_means(nir, h)


def filter_strength(sigma: float, mode: str) -> float | None:
    """Non-local means' ``h`` (in [0, 1] units) for an image of estimated noise ``sigma``
    under ``mode``; ``None``: leave it as it is."""
    mode = check_denoise(mode)
    threshold = NOISE_THRESHOLD if mode == "auto" else 0.0
    if mode == "off" or sigma <= 0 or sigma < threshold:
        return None
    return STRENGTH * sigma


HALO = 7 // 2 + 21 // 2
"""Rows on each side that a denoised row depends on (the patch's and the search window's
radii): :func:`denoised_rows` gives the rows of the whole image denoised, exactly."""


def denoised_rows(read, height: int, h: float):
    """A row reader (``read(a, b)``: rows ``a:b`` of an image ``height`` rows high) whose
    rows come denoised by non-local means of strength ``h``, each band read with
    :data:`HALO` rows more on both sides."""

    def denoised(a: int, b: int) -> np.ndarray:
        start, stop = max(0, a - HALO), min(height, b + HALO)
        return _non_local_means(read(start, stop), h)[a - start : b - start]

    return denoised


def _non_local_means(nir: np.ndarray, h: float) -> np.ndarray:
    data = np.round(np.clip(nir, 0, 1) * 255).astype(np.uint8)
    out = cv2.fastNlMeansDenoising(
        data, None, h=float(h * 255), templateWindowSize=7, searchWindowSize=21
    )
    return out.astype(np.float32) / np.float32(255)
