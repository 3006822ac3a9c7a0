"""A light denoise of the NIR input, applied only when the image is clearly noisy (issue 24 B3).

Noisy NIR (night, IR illuminators) costs every colorizer colour: on the val rows `vivid`'s
ΔE00 rose by 3.1 under Gaussian noise σ 0.03 (``benchmarks/bench_robustness.py``). The noise
level is estimated from the image itself (:func:`estimate_noise`); above
:data:`NOISE_THRESHOLD` the image goes through OpenCV's non-local means with a filter strength
proportional to the estimate (:func:`denoise_nir`), below it the image is returned as it is, so
a clean input is colorized exactly as before.

:func:`nircolor.colorize` runs it on its input by default (``denoise="auto"``, ΔE00 rise under
noise σ 0.03 on val from +1.75 to +1.02; BENCHMARKS.md, "Robustness"); ``"on"`` filters
whatever the estimate, ``"off"`` never.
"""

from __future__ import annotations

import cv2
import numpy as np

NOISE_THRESHOLD = 0.025
"""Estimated σ (in [0, 1] units) from which the NIR is denoised. Every second ``fit`` and
``holdout`` image (textured vcip2020 crops among them) estimates at most 0.021 clean, and at
least 0.029 with Gaussian noise σ 0.03 added: the threshold lies between."""

STRENGTH = 0.8
"""Non-local means' ``h`` as a multiple of the estimated σ."""

DENOISE_MODES = ("auto", "on", "off")
"""The settings of :func:`denoise_input`."""

_RESIDUAL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


def estimate_noise(nir) -> float:
    """The standard deviation of white noise in a NIR image, in its [0, 1] units.

    The image's response ``r`` to Immerkær's (1996) 3×3 kernel (two Laplacians' difference:
    zero on flat and linear areas; on white noise of σ, ``|r|`` averages ``√(2/π) · 6 σ``),
    its mean ``|r|`` in blocks of :data:`BLOCK` × :data:`BLOCK` pixels, and the
    :data:`PERCENTILE`-th percentile of the blocks: the flattest parts of the picture, where
    texture and edges add least to the noise (the median over all pixels took the texture of
    grass and leaves for noise). It is scaled so that white noise of σ gives σ. An image read
    in row bands (:class:`NoiseMeter`) gives the same estimate.

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
    return _measured(nir)


def _measured(nir: np.ndarray) -> float:
    meter = NoiseMeter()
    meter.feed(nir)
    return meter.sigma()


BLOCK = 16
PERCENTILE = 10
_WHITE_MEAN_ABS = np.sqrt(2 / np.pi) * 6
"""Mean ``|r|`` of white noise of σ 1."""
_WHITE_PERCENTILE = 0.893
"""The :data:`PERCENTILE`-th percentile of the block means of ``|r|`` over their mean, on
white noise (four 1024² images: 0.891 to 0.894)."""


class NoiseMeter:
    """:func:`estimate_noise` of an image fed in row bands, top to bottom, of any heights."""

    def __init__(self) -> None:
        self._last_rows: np.ndarray | None = None  # the two rows the next band's first needs
        self._residual: list[np.ndarray] = []  # |r| rows not yet in a whole row of blocks
        self._block_means: list[np.ndarray] = []

    def feed(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.float32)
        band = rows if self._last_rows is None else np.concatenate([self._last_rows, rows])
        if len(band) >= 3 and band.shape[1] >= 3:
            response = cv2.filter2D(band, -1, _RESIDUAL, borderType=cv2.BORDER_REFLECT)
            self._residual.append(np.abs(response[1:-1, 1:-1]))
            residual = np.concatenate(self._residual)
            whole = len(residual) // BLOCK * BLOCK
            if whole:
                self._add_blocks(residual[:whole])
                residual = residual[whole:]
            self._residual = [residual] if len(residual) else []
        self._last_rows = band[-2:]

    def _add_blocks(self, residual: np.ndarray) -> None:
        columns = residual.shape[1] // BLOCK
        if columns:
            blocks = residual[:, : columns * BLOCK].reshape(-1, BLOCK, columns, BLOCK)
            self._block_means.append(blocks.mean(axis=(1, 3)).ravel())

    def sigma(self) -> float:
        """The estimate of what was fed: an image smaller than a block is taken as one block,
        and one under 3×3 pixels, with no residual to measure, gives 0."""
        if self._block_means:
            means = np.concatenate(self._block_means)
            level = float(np.percentile(means, PERCENTILE)) / _WHITE_PERCENTILE
        elif self._residual:
            level = float(np.concatenate(self._residual).mean())
        else:
            level = 0.0
        return level / _WHITE_MEAN_ABS


def noise_of_rows(read, shape, band: int = 256) -> float:
    """:func:`estimate_noise` of an image read by ``read(a, b)`` (its rows ``a:b``) in bands of
    ``band`` rows; ``shape`` is its ``(height, width)`` (0 under 3×3, as :class:`NoiseMeter`)."""
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
    h = filter_strength(_measured(nir), mode)  # 0 for an image under 3×3: left as it is
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
