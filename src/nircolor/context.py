"""Colour that does not depend on image size or tiling: one global context per image.

A net sees a fixed number of pixels around each output pixel, so the same photo colorized at
512 and at 4096 px wide gets different colours (the larger, the greyer), and tiles of a large
image each get their own scene vector (colour-cast steps at the tile borders). Here the net
runs once, on a copy of the whole image whose long side is ``size`` pixels; its colours are
then carried to full resolution along the edges of the full-resolution NIR by the guided
filter's local linear model (He et al. 2013; fitted small and applied large as in the fast
guided filter, He & Sun 2015):

    in each (2r+1)² window of the small copy:  rgb ≈ a · nir + b    (per channel, ridge ε)
    at full size:                             rgb = ā↑ · NIR + b̄↑

with ``ā``, ``b̄`` the window-averaged coefficients and ``↑`` bilinear upsampling. Every full
size (and every band of rows of a streamed file) gets the same small copy, so colours match
across sizes and tiles by construction; the net's cost no longer grows with the image.

The small copy is made in two steps that a stream of row bands reproduces exactly: a mean
over ``f × f`` blocks (``f`` an integer, about ``max(H, W) / (2 size)``), then an area
resize to the context size.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator
from typing import NamedTuple

import cv2
import numpy as np

from .filters.guided import box_mean

__all__ = [
    "ColourContext",
    "colorize_in_context",
    "context_bands",
    "context_coefficients",
    "context_shape",
    "downscale_rows",
]

MAX_SIZE = 8192
MAX_RADIUS = 64
MAX_EPS = 1.0
BAND_PIXELS = 4_000_000
"""About how many pixels a band of rows holds while streaming."""

RowReader = Callable[[int, int], np.ndarray]


class ColourContext(NamedTuple):
    """Where the colours of a large image come from: a copy ``size`` pixels on its long
    side, carried to full size by a local linear fit of window radius ``radius`` (in pixels
    of the copy) and regularization ``eps``. :data:`ColourContext.OFF` (size 0) is falsy."""

    size: int
    radius: int
    eps: float

    def __bool__(self) -> bool:
        return self.size > 0

    def applies(self, shape) -> bool:
        """Whether an image of ``shape`` is larger than the context (so it is used)."""
        return bool(self) and max(shape[:2]) > self.size

    @classmethod
    def of(cls, value) -> ColourContext | None:
        """A validated setting from ``None`` (none given), ``False``/``0`` (off), a size, a
        ``(size, radius, eps)`` triple or ``"SIZE[,RADIUS,EPS]"`` text.

        Raises
        ------
        ValueError
            For anything else, or values out of range, saying what is expected.
        """
        if value is None:
            return None
        if isinstance(value, str):
            value = _parse(value)
        if value is False or (isinstance(value, numbers.Integral) and value == 0):
            return cls.OFF
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            value = (value, DEFAULT.radius, DEFAULT.eps)
        if not isinstance(value, (tuple, list)) or len(value) != 3:
            raise ValueError(f"invalid colour context {value!r}: {_EXPECTED}")
        size, radius, eps = value
        if size == 0:
            return cls.OFF
        _check(size, radius, eps)
        return cls(int(size), int(radius), float(eps))


_EXPECTED = (
    f"expected SIZE (16 to {MAX_SIZE} px) or SIZE,RADIUS,EPS (RADIUS 1 to {MAX_RADIUS}, "
    f"EPS in (0, {MAX_EPS:g}]), or 0 for off"
)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _check(size, radius, eps) -> None:
    if not (_is_int(size) and 16 <= size <= MAX_SIZE):
        raise ValueError(f"invalid colour context size {size!r}: {_EXPECTED}")
    if not (_is_int(radius) and 1 <= radius <= MAX_RADIUS):
        raise ValueError(f"invalid colour context radius {radius!r}: {_EXPECTED}")
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise ValueError(f"invalid colour context eps {eps!r}: {_EXPECTED}")
    if not (math.isfinite(eps) and 0 < eps <= MAX_EPS):
        raise ValueError(f"invalid colour context eps {eps!r}: {_EXPECTED}")


def _parse(text: str):
    parts = [part.strip() for part in text.split(",")]
    if text.strip().lower() in ("off", "none", "0"):
        return 0
    try:
        if len(parts) == 1:
            return int(parts[0])
        if len(parts) == 3:
            return int(parts[0]), int(parts[1]), float(parts[2])
    except ValueError:
        pass
    raise ValueError(f"invalid colour context {text!r}: {_EXPECTED}")


ColourContext.OFF = ColourContext(0, 0, 0.0)

DEFAULT = ColourContext(512, 8, 1e-4)
"""The setting of the nets that carry none in their config, chosen on the holdout rows
(BENCHMARKS.md, "Colour context")."""


# --------------------------------------------------------------------------- the small copy


def context_shape(shape, size: int) -> tuple[int, int]:
    """``(h, w)`` of the context copy of an image of ``shape``: long side ``size``."""
    height, width = shape[:2]
    scale = size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def _block_factor(shape, size: int) -> int:
    return max(1, max(shape[:2]) // (2 * size))


def _block_means(rows: np.ndarray, factor: int) -> np.ndarray:
    """Means over ``factor × factor`` blocks (a short last block: over the pixels it has)."""
    height, width = rows.shape
    columns = -(-width // factor)
    padded = np.pad(rows, ((0, 0), (0, columns * factor - width)), mode="edge")
    sums = padded.reshape(height, columns, factor).mean(axis=2, dtype=np.float64)
    blocks = -(-height // factor)
    out = np.empty((blocks, columns), dtype=np.float64)
    for index in range(blocks):
        out[index] = sums[index * factor : (index + 1) * factor].mean(axis=0)
    return out.astype(np.float32)


def downscale_rows(read: RowReader, shape, size: int) -> np.ndarray:
    """The context copy (long side ``size``) of an image read in bands by ``read(a, b)``.

    Bands are whole blocks of rows, so the result is the same for any band height.
    """
    height, width = shape[:2]
    factor = _block_factor(shape, size)
    band = max(factor, (BAND_PIXELS // max(width, 1)) // factor * factor)
    parts = [
        _block_means(read(top, min(top + band, height)), factor) for top in range(0, height, band)
    ]
    blocks = np.concatenate(parts) if len(parts) > 1 else parts[0]
    small_h, small_w = context_shape(shape, size)
    small = cv2.resize(blocks, (small_w, small_h), interpolation=cv2.INTER_AREA)
    return np.clip(small.reshape(small_h, small_w), 0.0, 1.0)


# -------------------------------------------------------------------- the local linear model


def context_coefficients(
    small_nir: np.ndarray, small_rgb: np.ndarray, radius: int, eps: float
) -> np.ndarray:
    """Window-averaged ``(ā, b̄)`` of ``rgb ≈ a · nir + b``, ``(h, w, 6)`` float32:
    the three slopes, then the three offsets."""
    guide = small_nir.astype(np.float32)[:, :, None]
    rgb = small_rgb.astype(np.float32)
    radius = min(radius, max(1, min(guide.shape[:2]) // 2))
    mean_nir = box_mean(guide, radius)
    mean_rgb = box_mean(rgb, radius)
    var_nir = box_mean(guide * guide, radius) - mean_nir * mean_nir
    cov = box_mean(guide * rgb, radius) - mean_nir * mean_rgb
    a = cov / (var_nir + np.float32(eps))
    b = mean_rgb - a * mean_nir
    return np.concatenate([box_mean(a, radius), box_mean(b, radius)], axis=2)


def _rows_of(coefficients: np.ndarray, top: int, bottom: int, height: int, width: int):
    """The coefficients bilinearly upsampled to full-size rows ``top:bottom``."""
    small_h = coefficients.shape[0]
    ys = (np.arange(top, bottom, dtype=np.float64) + 0.5) * (small_h / height) - 0.5
    ys = np.clip(ys, 0, small_h - 1)
    y0 = np.floor(ys).astype(np.intp)
    y1 = np.minimum(y0 + 1, small_h - 1)
    wy = (ys - y0).astype(np.float32)[:, None, None]
    rows = coefficients[y0] * (1 - wy) + coefficients[y1] * wy
    # Same number of rows: OpenCV's vertical map is the identity, only the columns resample.
    out = cv2.resize(rows, (width, bottom - top), interpolation=cv2.INTER_LINEAR)
    return out.reshape(bottom - top, width, coefficients.shape[2])


def apply_coefficients(
    coefficients: np.ndarray, nir_rows: np.ndarray, top: int, height: int
) -> np.ndarray:
    """Colour of full-size NIR rows ``top : top + len(nir_rows)`` of an image ``height``
    rows tall: ``ā↑ · NIR + b̄↑``, clipped to [0, 1]."""
    bottom = top + len(nir_rows)
    up = _rows_of(coefficients, top, bottom, height, nir_rows.shape[1])
    rgb = up[:, :, :3] * nir_rows[:, :, None] + up[:, :, 3:]
    return np.clip(rgb, 0.0, 1.0, out=rgb)


# ------------------------------------------------------------------------------- use


def context_bands(
    read: RowReader, shape, coefficients: np.ndarray
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Bands ``(top, nir_rows, rgb_rows)`` of an image read by ``read(a, b)``, coloured from
    its context coefficients (as :func:`nircolor.tiling.colorize_bands` yields them)."""
    height, width = shape[:2]
    band = max(1, BAND_PIXELS // max(width, 1))
    for top in range(0, height, band):
        nir = read(top, min(top + band, height))
        yield top, nir, apply_coefficients(coefficients, nir, top, height)


def small_copy_coefficients(
    small_nir: np.ndarray, predict: Callable[[np.ndarray], np.ndarray], context: ColourContext
) -> np.ndarray:
    """Colorize the context copy with ``predict`` and fit its local linear model."""
    small_rgb = predict(small_nir)
    return context_coefficients(small_nir, small_rgb, context.radius, context.eps)


def colorize_in_context(
    nir: np.ndarray, predict: Callable[[np.ndarray], np.ndarray], context: ColourContext
) -> np.ndarray:
    """Colorize an in-memory NIR image through its context copy (see the module notes).

    Gives the same pixels as :func:`context_bands` over the same image read in bands.
    """
    height, width = nir.shape

    def read(a: int, b: int) -> np.ndarray:
        return nir[a:b]

    small = downscale_rows(read, nir.shape, context.size)
    coefficients = small_copy_coefficients(small, predict, context)
    out = np.empty((height, width, 3), dtype=np.float32)
    for top, _, rgb in context_bands(read, nir.shape, coefficients):
        out[top : top + len(rgb)] = rgb
    return out
