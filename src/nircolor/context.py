"""Colour that does not depend on image size or tiling: one global context per image.

A net sees a fixed number of pixels around each output pixel, so the same photo colorized at
512 and at 4096 px wide gets different colours (the larger, the greyer), and tiles of a large
image each get their own scene vector (colour-cast steps at the tile borders). Here the net
runs once, on a copy of the whole image whose long side is ``size`` pixels; its colours are
then carried up to full resolution by joint bilateral upsampling (Kopf et al. 2007) guided by
the full-resolution NIR: each full-size pixel averages the colours of the 2 × 2 pixels of the
copy around it, weighted by the bilinear weights and by how alike their NIR is to its own,

    rgb(p) = Σ_k w_k(p) exp(−(NIR(p) − nir_k)² / 2σ²) rgb_k / Σ_k (the same weights)

so a colour does not cross an NIR edge: no halo of sky colour around a bright tree, no
tree colour in the sky beside it. (The earlier carry-up, the guided filter's local linear
model fitted on the copy, spread every colour over its windows: a pale cloud 10 px and more
around bright objects, BENCHMARKS.md "Colour carry-up".) Every full size (and every band of
rows of a streamed file) gets the same small copy, so colours match across sizes and tiles
by construction; the net's cost no longer grows with the image. The lightness detail finer
than the copy comes from the NIR afterwards (:mod:`nircolor.filters.detail`), or from the
guided filter of a model that carries one.

The small copy is made in two steps that a stream of row bands reproduces exactly: a mean
over ``f × f`` blocks (``f`` an integer, about ``max(H, W) / (2 size)``), then an area
resize to the context size.

A soft copy is coloured at the scale where it is sharp. A net learns its colours from
sharp pictures; shown an out-of-focus one (NIR often is: lenses made for visible light focus
the NIR behind the sensor) it paints wrong colours, worse than if it were shown a smaller
sharp picture of the same scene (BENCHMARKS.md, "Robustness"). How soft an image is, is its
re-blur ratio: the share of its gradient energy that one more blur keeps,

    ρ = Σ |∇ (G₁ * x)|² / Σ |∇ x|²     (Sobel gradients, G₁ a Gaussian of σ 1 px)

An edge blurred by σ px keeps about σ / √(σ² + 1) of it (0.75 for σ 1, 0.90 for σ 2 with
Sobel's kernels), fine texture less; the copies of the fit and holdout rows lie between
0.26 and 0.65. While the copy's ρ is above :data:`SOFT_RATIO` it is halved (area), the net
colours the smallest, and its colours are carried up to the copy's size as above, so the
copy keeps its shape (and a video's keyframes and a streamed file's bands get the same
pixels as the whole image). An image no larger than the context is its own copy.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator
from typing import NamedTuple

import cv2
import numpy as np

__all__ = [
    "ColourContext",
    "carry_up",
    "colorize_in_context",
    "colorize_whole",
    "colour_at_sharp_scale",
    "colorized_copy",
    "context_bands",
    "context_shape",
    "downscale_rows",
    "reblur_ratio",
    "resolve_context",
    "sharp_scale",
]

MAX_SIZE = 8192
MAX_SIGMA = 1.0
BAND_PIXELS = 4_000_000
"""About how many pixels a band of rows holds while streaming."""
CARRY_PIXELS = 1_000_000
"""About how many pixels the carry-up works on at once (its temporaries: ~20 floats each)."""
FLOOR = 1e-6
"""Range weight below which a neighbour counts as unlike: a pixel unlike all four of its
neighbours in the copy gets their bilinear mean."""

SOFT_RATIO = 0.75
"""Re-blur ratio above which a copy is soft and is halved before the net colours it, chosen
on the holdout rows (BENCHMARKS.md, "Soft pictures": ΔE00 under blur σ 1, 2 and 4 px, with
0.05 to spare above the softest clean fit or holdout copy, 0.65)."""
MIN_SOFT_SIDE = 64
"""A soft copy is not halved below this long side (the net needs a scene to see)."""

RowReader = Callable[[int, int], np.ndarray]


class ColourContext(NamedTuple):
    """Where the colours of a large image come from: a copy ``size`` pixels on its long
    side, carried up to full size by joint bilateral upsampling with an NIR range of
    ``sigma`` (see the module notes). :data:`ColourContext.OFF` (size 0) is falsy."""

    size: int
    sigma: float

    def __bool__(self) -> bool:
        return self.size > 0

    def applies(self, shape) -> bool:
        """Whether an image of ``shape`` is larger than the context (so it is used)."""
        return bool(self) and max(shape[:2]) > self.size

    @classmethod
    def of(cls, value) -> ColourContext | None:
        """A validated setting from ``None`` (none given), ``False``/``0`` (off), a size, a
        ``(size, sigma)`` pair or ``"SIZE[,SIGMA]"`` text.

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
            value = (value, DEFAULT.sigma)
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise ValueError(f"invalid colour context {value!r}: {_EXPECTED}")
        size, sigma = value
        if size == 0:
            return cls.OFF
        _check(size, sigma)
        return cls(int(size), float(sigma))


_EXPECTED = (
    f"expected SIZE (16 to {MAX_SIZE} px) or SIZE,SIGMA (SIGMA, the NIR range of the "
    f"carry-up, in (0, {MAX_SIGMA:g}]), or 0 for off"
)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _check(size, sigma) -> None:
    if not (_is_int(size) and 16 <= size <= MAX_SIZE):
        raise ValueError(f"invalid colour context size {size!r}: {_EXPECTED}")
    if isinstance(sigma, (bool, np.bool_)) or not isinstance(sigma, numbers.Real):
        raise ValueError(f"invalid colour context sigma {sigma!r}: {_EXPECTED}")
    if not (math.isfinite(sigma) and 0 < sigma <= MAX_SIGMA):
        raise ValueError(f"invalid colour context sigma {sigma!r}: {_EXPECTED}")


def _parse(text: str):
    parts = [part.strip() for part in text.split(",")]
    if text.strip().lower() in ("off", "none", "0"):
        return 0
    try:
        if len(parts) == 1:
            return int(parts[0])
        if len(parts) == 2:
            return int(parts[0]), float(parts[1])
    except ValueError:
        pass
    raise ValueError(f"invalid colour context {text!r}: {_EXPECTED}")


ColourContext.OFF = ColourContext(0, 0.0)

DEFAULT = ColourContext(512, 0.05)
"""The setting of the nets that carry none in their config: the size chosen on the holdout
rows (BENCHMARKS.md, "Colour context"), the NIR range on the holdout's full-size images
(BENCHMARKS.md, "Colour carry-up")."""


def resolve_context(model, context) -> ColourContext:
    """The colour context to use: the one asked for (any form :meth:`ColourContext.of`
    takes), else ``model.context``; ``OFF``: none."""
    context = ColourContext.of(context)
    if context is None:
        return model.context or ColourContext.OFF
    return context


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


# ------------------------------------------------------------------------------ a soft copy


def reblur_ratio(image: np.ndarray) -> float:
    """How soft ``image`` is: the share of its gradient energy that one more blur (σ 1 px)
    keeps (see the module notes); 0 for a flat image."""
    image = np.asarray(image, dtype=np.float32)
    sharp = _gradient_energy(image)
    blurred = cv2.GaussianBlur(image, (0, 0), 1.0, borderType=cv2.BORDER_REFLECT)
    return _gradient_energy(blurred) / sharp if sharp > 0 else 0.0


def _gradient_energy(image: np.ndarray) -> float:
    dx = cv2.Sobel(image, cv2.CV_32F, 1, 0, borderType=cv2.BORDER_REFLECT)
    dy = cv2.Sobel(image, cv2.CV_32F, 0, 1, borderType=cv2.BORDER_REFLECT)
    return float(np.einsum("ij,ij->", dx, dx, dtype=np.float64)) + float(
        np.einsum("ij,ij->", dy, dy, dtype=np.float64)
    )


def sharp_scale(nir: np.ndarray) -> np.ndarray:
    """``nir`` halved (area) while it is soft (:data:`SOFT_RATIO`) and its long side stays
    at least :data:`MIN_SOFT_SIDE`; ``nir`` itself when it is sharp."""
    while max(nir.shape) >= 2 * MIN_SOFT_SIDE and reblur_ratio(nir) > SOFT_RATIO:
        height, width = nir.shape
        half = (max(1, round(width / 2)), max(1, round(height / 2)))
        nir = cv2.resize(nir, half, interpolation=cv2.INTER_AREA)
    return nir


def colour_at_sharp_scale(
    nir: np.ndarray, predict: Callable[[np.ndarray], np.ndarray], sigma: float
) -> np.ndarray:
    """``predict(nir)``, or for a soft ``nir`` its colours at its :func:`sharp_scale`,
    carried up to its size with an NIR range of ``sigma``: ``(h, w, 3)`` float32."""
    sharp = sharp_scale(nir)
    if sharp is nir:
        return np.asarray(predict(nir), dtype=np.float32)
    return carry_up(_with_guide(predict(sharp), sharp), nir, 0, nir.shape[0], sigma)


# ------------------------------------------------------------------------------ the carry-up


def colorized_copy(
    small_nir: np.ndarray, predict: Callable[[np.ndarray], np.ndarray], sigma: float
):
    """The context copy colorized by ``predict`` (at its :func:`sharp_scale`, ``sigma`` the
    NIR range that carries a soft copy's colours up): ``(h, w, 4)`` float32, its colour and
    then its NIR (the range guide of :func:`carry_up`)."""
    return _with_guide(colour_at_sharp_scale(small_nir, predict, sigma), small_nir)


def _with_guide(rgb, nir: np.ndarray) -> np.ndarray:
    """Colours and their NIR as one ``(h, w, 4)`` float32 array."""
    rgb = np.asarray(rgb, dtype=np.float32)
    return np.concatenate([rgb, nir[:, :, None].astype(np.float32)], axis=2)


def _neighbours(start: int, stop: int, small: int, full: int):
    """For full-size positions ``start:stop`` along an axis of ``full`` pixels, the two
    nearest positions of the copy (``small`` pixels) and their bilinear weights."""
    position = (np.arange(start, stop, dtype=np.float64) + 0.5) * (small / full) - 0.5
    position = np.clip(position, 0, small - 1)
    lower = np.floor(position).astype(np.intp)
    upper = np.minimum(lower + 1, small - 1)
    fraction = (position - lower).astype(np.float32)
    return (lower, 1 - fraction), (upper, fraction)


def carry_up(
    copy: np.ndarray, nir_rows: np.ndarray, top: int, height: int, sigma: float
) -> np.ndarray:
    """Colour of full-size NIR rows ``top : top + len(nir_rows)`` of an image ``height``
    rows tall from its :func:`colorized_copy` (see the module notes), clipped to [0, 1]."""
    width = nir_rows.shape[1]
    out = np.empty((*nir_rows.shape, 3), dtype=np.float32)
    step = max(1, CARRY_PIXELS // max(width, 1))
    columns = _neighbours(0, width, copy.shape[1], width)
    scale = np.float32(-0.5 / sigma**2)
    for first in range(0, len(nir_rows), step):
        nir = nir_rows[first : first + step]
        rows = _neighbours(top + first, top + first + len(nir), copy.shape[0], height)
        total = np.zeros(nir.shape, dtype=np.float32)
        colour = np.zeros((*nir.shape, 3), dtype=np.float32)
        for row_index, row_weight in rows:
            band = copy[row_index]
            for column_index, column_weight in columns:
                near = band[:, column_index]
                likeness = np.exp(scale * (nir - near[:, :, 3]) ** 2) + np.float32(FLOOR)
                weight = row_weight[:, None] * column_weight[None, :] * likeness
                colour += weight[:, :, None] * near[:, :, :3]
                total += weight
        out[first : first + len(nir)] = colour / total[:, :, None]
    return np.clip(out, 0.0, 1.0, out=out)


# ------------------------------------------------------------------------------- use


def context_bands(
    read: RowReader, shape, copy: np.ndarray, sigma: float
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Bands ``(top, nir_rows, rgb_rows)`` of an image read by ``read(a, b)``, coloured from
    its :func:`colorized_copy` (as :func:`nircolor.tiling.colorize_bands` yields them)."""
    height, width = shape[:2]
    band = max(1, BAND_PIXELS // max(width, 1))
    for top in range(0, height, band):
        nir = read(top, min(top + band, height))
        yield top, nir, carry_up(copy, nir, top, height, sigma)


def colorize_in_context(
    nir: np.ndarray, predict: Callable[[np.ndarray], np.ndarray], context: ColourContext
) -> np.ndarray:
    """Colorize an in-memory NIR image through its context copy (see the module notes).

    Gives the same pixels as :func:`context_bands` over the same image read in bands.
    """
    height, width = nir.shape

    def read(a: int, b: int) -> np.ndarray:
        return nir[a:b]

    copy = colorized_copy(downscale_rows(read, nir.shape, context.size), predict, context.sigma)
    out = np.empty((height, width, 3), dtype=np.float32)
    for top, _, rgb in context_bands(read, nir.shape, copy, context.sigma):
        out[top : top + len(rgb)] = rgb
    return out


def colorize_whole(
    nir: np.ndarray,
    predict: Callable[[np.ndarray], np.ndarray],
    context: ColourContext,
    finish: Callable[[np.ndarray, np.ndarray], np.ndarray] | None,
) -> np.ndarray:
    """``predict``'s colours of a whole in-memory image: through ``context`` when the image
    is larger than it, then ``finish`` (:class:`nircolor.filters.Finish`: the guided filter,
    the NIR's detail). Training validates with this too, so an epoch is chosen on the
    pictures :func:`nircolor.colorize` gives. An image no larger than ``context`` is its own
    copy, coloured in one piece (a soft one at its sharp scale, :func:`colour_at_sharp_scale`)
    whether or not it is asked to be tiled: its colours never depend on tiles."""
    if context.applies(nir.shape):
        rgb = colorize_in_context(nir, predict, context)
    else:
        rgb = colour_at_sharp_scale(nir, predict, context.sigma) if context else predict(nir)
    return finish(nir, rgb) if finish else rgb
