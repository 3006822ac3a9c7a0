"""Colorize images of any size in bounded memory: tiles, row bands and file-to-file streaming.

Two ways of cutting an image, chosen by what the model declares:

* **Local models** (L3): an output pixel depends only on the input pixels within a known
  radius, the model's *halo* (``patch // 2`` for L3). The image is processed in bands of
  full rows, each read with ``halo`` extra rows above and below that are cropped off the
  result. This is exact: the result equals the whole-image prediction (bit for bit for L3
  with bands of realistic size; with bands of a few rows BLAS may round the matrix products
  differently, by one float32 ulp). Every band is read from an even row, so a model of raw
  colour-filter-array mosaics (2×2 patterns, :mod:`nircolor.models.l3.cfa`) sees its pattern
  in the phase of the whole image.
* **Other models** (learned models whose receptive field is wider than any margin one could
  afford): the image is cut into overlapping square tiles; in every overlap the two tiles are
  cross-faded with raised-cosine weights that are zero in the outer quarter of the overlap
  (where a tile's prediction is spoilt by its border) and that sum to 1. The seams are then
  invisible as long as the model's effective receptive field is smaller than about
  ``overlap / 4``.

A model declares its halo with its ``halo`` attribute (an int >= 0, in pixels, or ``None``
for a model that is not local). See :func:`model_halo`.

The finishing filters (the guided filter, the NIR's detail: :class:`nircolor.filters.Finish`)
are applied band by band with a halo of :attr:`~nircolor.filters.Finish.halo` rows, so the
result equals the whole image finished. :func:`nircolor.streamed.colorize_large_file` uses
the same bands to stream a file to a file (:mod:`nircolor.io.stream` reads,
:mod:`nircolor.io.band_writers` writes).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator

import numpy as np

from .context import context_bands
from .filters import DetailTransfer, Finish, GuidedFilter
from .models.base import Colorizer, check_nir

__all__ = [
    "AUTO_TILE_PIXELS",
    "BAND_PIXELS",
    "DEFAULT_OVERLAP",
    "DEFAULT_TILE",
    "STREAM_TILE",
    "STREAM_PIXELS",
    "colorize_bands",
    "colorize_rows",
    "colorize_tiled",
    "default_overlap",
    "model_halo",
    "predictor",
    "tile_colorize",
]

DEFAULT_TILE = 1024
"""Default tile side (blending path) and largest band height (row path), in pixels."""

STREAM_TILE = 512
"""Tile side of a streamed file (:func:`nircolor.api.colorize_file`): a net's memory grows
with its tile, and a 1024-px tile of the default net alone takes about 0.9 GB."""

DEFAULT_OVERLAP = 64
"""Default overlap of neighbouring tiles in the blending path, in pixels."""

AUTO_TILE_PIXELS = 16_000_000
""":func:`nircolor.api.colorize` tiles images larger than this (width × height)."""

STREAM_PIXELS = 16_000_000
""":func:`nircolor.api.colorize_file` streams files larger than this (width × height)."""

BAND_PIXELS = 4_000_000
"""Pixels per row band in the row path (a band is at most ``tile`` rows high)."""


Predict = Callable[[np.ndarray], np.ndarray]
RowReader = Callable[[int, int], np.ndarray]
Bands = Iterator[tuple[int, np.ndarray, np.ndarray]]


# --------------------------------------------------------------------------------------------
# Validation


def check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_tile(tile, overlap) -> tuple[int, int]:
    tile = check_int(tile, "tile", 1)
    overlap = check_int(overlap, "overlap", 0)
    if 2 * overlap >= tile:
        raise ValueError(f"overlap must be less than half the tile, got {overlap} for tile {tile}")
    return tile, overlap


def _predict_checked(predict: Predict, nir: np.ndarray) -> np.ndarray:
    rgb = np.asarray(predict(nir))
    if rgb.shape != (*nir.shape, 3):
        raise ValueError(
            f"the model returned shape {rgb.shape} for an input of shape {nir.shape}; "
            f"expected {(*nir.shape, 3)}"
        )
    return rgb.astype(np.float32, copy=False)


# --------------------------------------------------------------------------------------------
# Models


def model_halo(model: Colorizer | Predict) -> int | None:
    """Return how far (in pixels) a model looks around an output pixel, if it is local.

    Parameters
    ----------
    model : Colorizer or callable
        A loaded model, whose ``halo`` is an int >= 0 or ``None`` when it is not local; a
        bare ``predict`` callable is never taken as local.

    Returns
    -------
    halo : int or None
        The radius, or ``None`` (then only the blending path applies).
    """
    if not isinstance(model, Colorizer) or model.halo is None:
        return None
    return check_int(model.halo, "model halo", 0)


def predictor(model: Colorizer | Predict) -> Predict:
    """The ``predict`` callable of a model, or the callable itself; anything else: TypeError."""
    if isinstance(model, Colorizer):
        return model.predict
    if callable(model):
        return model
    raise TypeError(f"{model!r} is neither a model with a predict method nor a callable")


def default_overlap(tile: int) -> int:
    """The overlap used when none is given: ``min(DEFAULT_OVERLAP, tile // 4)``."""
    return min(DEFAULT_OVERLAP, check_int(tile, "tile", 1) // 4)


def _band_rows(width: int, tile: int) -> int:
    return max(1, min(tile, BAND_PIXELS // width))


# --------------------------------------------------------------------------------------------
# Band generators. Each yields ``(top, nir_rows, rgb_rows)`` for consecutive row ranges that
# cover the image from top to bottom; ``read(a, b)`` returns NIR rows ``a:b`` as float32 and
# is called with non-decreasing ``a``.


def _local_bands(read: RowReader, shape, predict: Predict, halo: int, rows: int) -> Bands:
    height = shape[0]
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        start = max(0, top - halo) // 2 * 2  # even: a 2×2 CFA pattern keeps its phase
        stop = min(height, bottom + halo)
        nir = read(start, stop)
        rgb = _predict_checked(predict, nir)
        yield top, nir[top - start : bottom - start], rgb[top - start : bottom - start]


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return starts


def _ramp(overlap: int) -> np.ndarray:
    """Weights rising from 0 to 1 over ``overlap`` pixels: 0 on the outer quarter, then a
    raised cosine; ``ramp + ramp[::-1] == 1``."""
    margin = overlap // 4
    width = overlap - 2 * margin
    t = (np.arange(overlap, dtype=np.float64) - margin + 0.5) / max(width, 1)
    return (0.5 - 0.5 * np.cos(np.pi * np.clip(t, 0.0, 1.0))).astype(np.float32)


def _weights_1d(start: int, size: int, length: int, overlap: int) -> np.ndarray:
    weights = np.ones(size, dtype=np.float32)
    if overlap and size > 2 * overlap:
        ramp = _ramp(overlap)
        if start > 0:
            weights[:overlap] = ramp
        if start + size < length:
            weights[-overlap:] = ramp[::-1]
    return weights


def _axis_plan(length: int, tile: int, overlap: int) -> tuple[list[tuple[int, int]], list, list]:
    """Tile ranges along one axis, their weights, and the sum of the weights per pixel."""
    size = min(tile, length)
    spans = [(s, s + size) for s in _starts(length, tile, overlap)]
    weights = [_weights_1d(s, size, length, overlap) for s, _ in spans]
    total = np.zeros(length, dtype=np.float32)
    for (s, e), w in zip(spans, weights, strict=True):
        total[s:e] += w
    return spans, weights, total


def _blended_bands(read: RowReader, shape, predict: Predict, tile: int, overlap: int) -> Bands:
    height, width = shape
    y_spans, y_weights, y_total = _axis_plan(height, tile, overlap)
    x_spans, x_weights, x_total = _axis_plan(width, tile, overlap)
    base = 0  # first row held in ``acc``; rows above it were yielded
    acc = np.zeros((0, width, 3), dtype=np.float32)
    for i, ((top, bottom), wy) in enumerate(zip(y_spans, y_weights, strict=True)):
        if bottom > base + len(acc):
            grow = np.zeros((bottom - base - len(acc), width, 3), dtype=np.float32)
            acc = np.concatenate([acc, grow])
        nir = read(top, bottom)
        for (left, right), wx in zip(x_spans, x_weights, strict=True):
            rgb = _predict_checked(predict, np.ascontiguousarray(nir[:, left:right]))
            rgb *= (wy[:, None] * wx[None, :])[:, :, None]
            acc[top - base : bottom - base, left:right] += rgb
        done = y_spans[i + 1][0] if i + 1 < len(y_spans) else height
        out = acc[: done - base]
        out /= (y_total[base:done, None] * x_total[None, :])[:, :, None]
        np.clip(out, 0.0, 1.0, out=out)
        yield base, nir[base - top : done - top], out
        acc = acc[done - base :].copy()
        base = done


def _finished_bands(bands: Bands, height: int, finish: Finish) -> Bands:
    """Apply ``finish`` to a stream of bands, exactly as on the whole image: each finished
    window keeps ``finish.halo`` rows of context on both sides."""
    context = finish.halo
    nir_buf = np.zeros((0, 0), dtype=np.float32)
    rgb_buf = np.zeros((0, 0, 3), dtype=np.float32)
    buf_top = 0  # image row of the first buffered row
    done = 0  # rows already yielded
    for top, nir, rgb in bands:
        if len(nir_buf) == 0:
            nir_buf, rgb_buf, buf_top = nir, rgb, top
        else:
            nir_buf = np.concatenate([nir_buf, nir])
            rgb_buf = np.concatenate([rgb_buf, rgb])
        end = buf_top + len(nir_buf)
        ready = height if end == height else end - context
        if ready <= done:
            continue
        lo, hi = done - buf_top, ready - buf_top
        out = finish(nir_buf, rgb_buf)[lo:hi]
        yield done, nir_buf[lo:hi], out
        done = ready
        keep = max(buf_top, done - context) - buf_top
        nir_buf, rgb_buf, buf_top = nir_buf[keep:], rgb_buf[keep:], buf_top + keep


def colorize_bands(
    read: RowReader,
    shape,
    model: Colorizer | Predict,
    tile: int,
    overlap: int,
    finish: Finish | None = None,
    context_copy: tuple[np.ndarray, float] | None = None,
) -> Bands:
    """Bands ``(top, nir_rows, rgb_rows)`` of a colorization covering ``shape`` from the top,
    read by ``read(a, b)``: exact row bands for a local model, cross-faded tiles otherwise
    (a bare ``predict`` callable is always tiled), or, given the image's colorized
    ``context_copy`` and its NIR range (:mod:`nircolor.context`), rows carried up from it (no
    model run);
    then ``finish`` (the guided filter, the NIR's detail), band by band."""
    predict = predictor(model)
    halo = model_halo(model)
    if context_copy is not None:
        bands = context_bands(read, shape, *context_copy)
    elif halo is not None:
        bands = _local_bands(read, shape, predict, halo, _band_rows(shape[1], tile))
    else:
        bands = _blended_bands(read, shape, predict, tile, overlap)
    if finish:
        rows = max(1, BAND_PIXELS // max(shape[1], 1))
        bands = _finished_bands(_split_bands(bands, rows), shape[0], finish)
    return bands


def _split_bands(bands: Bands, rows: int) -> Bands:
    """The same bands cut to at most ``rows`` rows, so the finishing filters' buffers (and their
    temporaries, about ten times a band) stay bounded for wide images and tall tiles."""
    for top, nir, rgb in bands:
        for start in range(0, len(rgb), rows):
            yield top + start, nir[start : start + rows], rgb[start : start + rows]


def _assemble(bands: Bands, shape) -> np.ndarray:
    out = np.empty((*shape, 3), dtype=np.float32)
    for top, _, rgb in bands:
        out[top : top + len(rgb)] = rgb
    return out


# --------------------------------------------------------------------------------------------
# In-memory API


def colorize_tiled(
    nir: np.ndarray,
    predict: Predict,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
) -> np.ndarray:
    """Colorize an image tile by tile, cross-fading overlapping tiles.

    Parameters
    ----------
    nir : (H, W) ndarray
        NIR image in [0, 1], any size (smaller than a tile, not a multiple of it...).
    predict : callable
        ``predict(nir_tile)`` maps an ``(h, w)`` float32 array to ``(h, w, 3)`` float32.
    tile : int
        Tile side in pixels. Tiles are ``min(tile, H) × min(tile, W)``; the last tile of a
        row or column is moved back to end at the image border (so it overlaps more).
    overlap : int
        Overlap of neighbouring tiles, ``0 <= overlap < tile / 2``. In an overlap the weight
        of a tile is 0 over the quarter nearest its border, then rises as a raised cosine;
        weights are normalised to sum to 1 at every pixel.

    Returns
    -------
    rgb : (H, W, 3) ndarray of float32
        Clipped to [0, 1]. Equal to ``predict(nir)`` up to what the model sees beyond
        ``overlap / 4`` pixels.

    Raises
    ------
    ValueError
        If ``nir`` is not a non-empty 2-D array, ``tile`` / ``overlap`` are invalid, or
        ``predict`` returns the wrong shape.
    """
    nir = check_nir(nir)
    tile, overlap = check_tile(tile, overlap)
    if not callable(predict):
        raise TypeError(f"predict must be callable, got {predict!r}")
    reader = _array_reader(nir)
    return _assemble(_blended_bands(reader, nir.shape, predict, tile, overlap), nir.shape)


def colorize_rows(
    nir: np.ndarray,
    predict: Predict,
    halo: int,
    rows: int | None = None,
) -> np.ndarray:
    """Colorize an image band of rows by band of rows, for a local model (exact).

    Parameters
    ----------
    nir : (H, W) ndarray
        NIR image in [0, 1].
    predict : callable
        ``(h, w)`` float32 → ``(h, w, 3)`` float32, where an output pixel depends only on the
        inputs within ``halo`` pixels of it (and the image border is treated the same way as
        the border of any input).
    halo : int
        The model's radius (``patch // 2`` for L3); every band is read with ``halo`` extra rows
        above and below, cropped from the result.
    rows : int, optional
        Rows per band (default: about :data:`BAND_PIXELS` pixels, at most
        :data:`DEFAULT_TILE` rows).

    Returns
    -------
    rgb : (H, W, 3) ndarray of float32
        The same as ``predict(nir)``.
    """
    nir = check_nir(nir)
    halo = check_int(halo, "halo", 0)
    rows = _band_rows(nir.shape[1], DEFAULT_TILE) if rows is None else check_int(rows, "rows", 1)
    if not callable(predict):
        raise TypeError(f"predict must be callable, got {predict!r}")
    reader = _array_reader(nir)
    return _assemble(_local_bands(reader, nir.shape, predict, halo, rows), nir.shape)


def tile_colorize(
    nir: np.ndarray,
    model,
    tile: int = DEFAULT_TILE,
    overlap: int | None = None,
    guided: GuidedFilter | None = None,
    detail: DetailTransfer | None = None,
) -> np.ndarray:
    """Colorize an image in pieces with any model: row bands if it is local, else tiles.

    Parameters
    ----------
    nir : (H, W) ndarray
        NIR image, float32 in [0, 1].
    model : Colorizer or callable
        A loaded model (its ``predict`` and ``halo`` are used, see :func:`model_halo`) or a
        bare ``predict`` callable (always tiled).
    tile : int
        Tile side for the blending path; largest band height for the row path.
    overlap : int, optional
        Overlap of tiles (default ``min(DEFAULT_OVERLAP, tile // 4)``).
    guided : GuidedFilter, optional
        Guided filter with the NIR image as guide, applied band by band (exact).
    detail : DetailTransfer, optional
        The NIR's detail given to the lightness after the guided filter, band by band (exact).

    Returns
    -------
    rgb : (H, W, 3) ndarray of float32 in [0, 1]
    """
    nir = check_nir(nir)
    tile, overlap = check_tile(tile, default_overlap(tile) if overlap is None else overlap)
    finish = Finish(GuidedFilter.of(guided), DetailTransfer.of(detail))
    bands = colorize_bands(_array_reader(nir), nir.shape, model, tile, overlap, finish)
    return _assemble(bands, nir.shape)


def _array_reader(nir: np.ndarray) -> RowReader:
    return lambda a, b: nir[a:b]
