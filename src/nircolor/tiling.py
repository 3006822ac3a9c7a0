"""Colorize images of any size in bounded memory: tiles, row bands and file-to-file streaming.

Two ways of cutting an image, chosen by what the model declares:

* **Local models** (L3): an output pixel depends only on the input pixels within a known
  radius, the model's *halo* (``patch // 2`` for L3). The image is processed in bands of
  full rows, each read with ``halo`` extra rows above and below that are cropped off the
  result. This is exact: the result equals the whole-image prediction (bit for bit for L3
  with bands of realistic size; with bands of a few rows BLAS may round the matrix products
  differently, by one float32 ulp).
* **Other models** (learned models whose receptive field is wider than any margin one could
  afford): the image is cut into overlapping square tiles; in every overlap the two tiles are
  cross-faded with raised-cosine weights that are zero in the outer quarter of the overlap
  (where a tile's prediction is spoilt by its border) and that sum to 1. The seams are then
  invisible as long as the model's effective receptive field is smaller than about
  ``overlap / 4``.

A model declares its halo with a ``halo`` attribute (an int >= 0, in pixels); L3 models
without it get ``config.patch // 2``. See :func:`model_halo`.

:func:`colorize_large_file` streams a file to a file: it reads the input by row bands,
colorizes each band, applies the guided filter band by band (with a halo of ``2 r + 1``
rows, so the result equals the whole-image filter) and writes the output TIFF strip by strip,
so memory stays bounded whatever the image size. TIFF inputs are read as follows:

* uncompressed data stored contiguously (``TiffPage.is_final``): rows are read straight
  from the file at their offset;
* any other single-plane TIFF (compressed strips or tiles): ``TiffPage.segments`` decodes
  the strips / tiles lazily, in order, and only about one band of rows is kept;
* anything else (planar RGB, odd sample types) falls back to reading the whole image.

PNG, JPEG and BMP inputs are decoded whole, but kept in their file's integer type (1 byte per
pixel for 8-bit grey), never as float32. PNG, JPEG and BMP outputs are assembled in memory
as 8- or 16-bit integers (3 or 6 bytes per pixel) and encoded at the end; TIFF outputs are
written strip by strip. Every write is atomic (temporary file in the target folder, then
``os.replace``); on any failure the temporary file is removed and the target is untouched.
"""

from __future__ import annotations

import numbers
import os
import warnings
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import tifffile
from PIL import Image

from .errors import ImageReadError, ImageWriteError, NircolorError
from .filters import apply_guided
from .filters.guided import _check_params as _check_guided_params
from .io import (
    _TIFF_EXTENSIONS,
    WRITE_EXTENSIONS,
    _check_tiff_page,
    _reason,
    as_grey,
    atomic_path,
    is_tiff_file,
    read_image,
    read_raw,
    to_uint,
    write_bytes_atomic,
)

__all__ = [
    "AUTO_TILE_PIXELS",
    "DEFAULT_OVERLAP",
    "DEFAULT_TILE",
    "STREAM_PIXELS",
    "colorize_large_file",
    "colorize_rows",
    "colorize_tiled",
    "image_size",
    "model_halo",
    "tile_colorize",
]

DEFAULT_TILE = 1024
"""Default tile side (blending path) and largest band height (row path), in pixels."""

DEFAULT_OVERLAP = 64
"""Default overlap of neighbouring tiles in the blending path, in pixels."""

AUTO_TILE_PIXELS = 16_000_000
""":func:`nircolor.api.colorize` tiles images larger than this (width × height)."""

STREAM_PIXELS = 16_000_000
""":func:`nircolor.api.colorize_file` streams files larger than this (width × height)."""

BAND_PIXELS = 4_000_000
"""Pixels per row band in the row path (a band is at most ``tile`` rows high)."""

_READ_BUFFER = 16 * 2**20
"""Bytes of compressed TIFF segments that tifffile reads from the file at once."""

_STRIP_BYTES = 256 * 2**10
"""Approximate uncompressed size of one strip of an output TIFF."""

Predict = Callable[[np.ndarray], np.ndarray]
RowReader = Callable[[int, int], np.ndarray]
Bands = Iterator[tuple[int, np.ndarray, np.ndarray]]


# --------------------------------------------------------------------------------------------
# Validation


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def _check_tile(tile, overlap) -> tuple[int, int]:
    tile = _check_int(tile, "tile", 1)
    overlap = _check_int(overlap, "overlap", 0)
    if 2 * overlap >= tile:
        raise ValueError(f"overlap must be less than half the tile, got {overlap} for tile {tile}")
    return tile, overlap


def _check_nir(nir) -> np.ndarray:
    nir = np.asarray(nir)
    if nir.ndim != 2 or nir.shape[0] == 0 or nir.shape[1] == 0:
        raise ValueError(f"NIR image must be a non-empty (H, W) array, got shape {nir.shape}")
    return nir.astype(np.float32, copy=False)


def _check_guided(guided) -> tuple[int, float] | None:
    if guided is None:
        return None
    try:
        radius, eps = guided
    except (TypeError, ValueError):
        raise ValueError(f"guided must be a (radius, eps) pair, got {guided!r}") from None
    _check_guided_params(radius, eps)
    return int(radius), float(eps)


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


def model_halo(model) -> int | None:
    """Return how far (in pixels) a model looks around an output pixel, if it is local.

    Parameters
    ----------
    model : object
        A loaded model. A local model declares its radius with a ``halo`` attribute (an
        integer >= 0); an L3 model (``kind == "l3"``) without it gets ``config.patch // 2``.

    Returns
    -------
    halo : int or None
        The radius, or ``None`` when the model does not declare one (then only the blending
        path applies).
    """
    halo = getattr(model, "halo", None)
    if halo is None and getattr(model, "kind", None) == "l3":
        patch = getattr(getattr(model, "config", None), "patch", None)
        if patch is None:
            patch = getattr(model, "patch", None)
        halo = None if patch is None else int(patch) // 2
    if halo is None:
        return None
    return _check_int(halo, "model halo", 0)


def _predictor(model) -> Predict:
    predict = getattr(model, "predict", None)
    if callable(predict):
        return predict
    if callable(model):
        return model
    raise TypeError(f"{model!r} is neither a model with a predict method nor a callable")


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
        start, stop = max(0, top - halo), min(height, bottom + halo)
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


def _guided_bands(bands: Bands, height: int, radius: int, eps: float) -> Bands:
    """Apply the guided filter to a stream of bands, exactly as on the whole image.

    An output row depends on the rows within ``2 radius`` of it (a box mean of box means);
    each filtered window keeps ``2 radius + 1`` rows of context on both sides.
    """
    context = 2 * radius + 1
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
        out = apply_guided(nir_buf, rgb_buf, radius, eps)[lo:hi]
        yield done, nir_buf[lo:hi], out
        done = ready
        keep = max(buf_top, done - context) - buf_top
        nir_buf, rgb_buf, buf_top = nir_buf[keep:], rgb_buf[keep:], buf_top + keep


def _bands(read: RowReader, shape, model, tile: int, overlap: int, guided) -> Bands:
    predict = _predictor(model)
    halo = model_halo(model)
    if halo is not None:
        bands = _local_bands(read, shape, predict, halo, _band_rows(shape[1], tile))
    else:
        bands = _blended_bands(read, shape, predict, tile, overlap)
    if guided is not None:
        bands = _guided_bands(bands, shape[0], *guided)
    return bands


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
    nir = _check_nir(nir)
    tile, overlap = _check_tile(tile, overlap)
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
    nir = _check_nir(nir)
    halo = _check_int(halo, "halo", 0)
    rows = _band_rows(nir.shape[1], DEFAULT_TILE) if rows is None else _check_int(rows, "rows", 1)
    if not callable(predict):
        raise TypeError(f"predict must be callable, got {predict!r}")
    reader = _array_reader(nir)
    return _assemble(_local_bands(reader, nir.shape, predict, halo, rows), nir.shape)


def tile_colorize(
    nir: np.ndarray,
    model,
    tile: int = DEFAULT_TILE,
    overlap: int | None = None,
    guided: tuple[int, float] | None = None,
) -> np.ndarray:
    """Colorize an image in pieces with any model: row bands if it is local, else tiles.

    Parameters
    ----------
    nir : (H, W) ndarray
        NIR image, float32 in [0, 1].
    model : model or callable
        A loaded model (its ``predict`` is used; see :func:`model_halo` for how a local model
        is recognised) or a bare ``predict`` callable (always tiled).
    tile : int
        Tile side for the blending path; largest band height for the row path.
    overlap : int, optional
        Overlap of tiles (default ``min(DEFAULT_OVERLAP, tile // 4)``).
    guided : (radius, eps), optional
        Guided filter with the NIR image as guide, applied band by band (exact).

    Returns
    -------
    rgb : (H, W, 3) ndarray of float32 in [0, 1]
    """
    nir = _check_nir(nir)
    if overlap is None:
        overlap = min(DEFAULT_OVERLAP, _check_int(tile, "tile", 1) // 4)
    tile, overlap = _check_tile(tile, overlap)
    guided = _check_guided(guided)
    bands = _bands(_array_reader(nir), nir.shape, model, tile, overlap, guided)
    return _assemble(bands, nir.shape)


def _array_reader(nir: np.ndarray) -> RowReader:
    return lambda a, b: nir[a:b]


# --------------------------------------------------------------------------------------------
# Reading files by rows


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """Return ``(height, width)`` of an image file from its header, without decoding it.

    Raises
    ------
    ImageReadError
        If the file is missing, its header cannot be read or it gives a zero size.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: no such file")
    try:
        if path.suffix.lower() in _TIFF_EXTENSIONS:
            with tifffile.TiffFile(path) as tif:
                page = tif.pages.first
                height, width = int(page.imagelength), int(page.imagewidth)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
                try:
                    with Image.open(path) as im:
                        height, width = int(im.height), int(im.width)
                finally:
                    Image.MAX_IMAGE_PIXELS = saved
    except Exception as error:  # any decoder error means: cannot tell
        raise ImageReadError(f"{path}: cannot read image header ({_reason(error)})") from None
    if height <= 0 or width <= 0:
        raise ImageReadError(f"{path}: image has zero size ({width}x{height})")
    return height, width


def _raw_to_nir(raw: np.ndarray, name: str) -> np.ndarray:
    """Convert rows of a file's samples to float32 NIR in [0, 1], as :func:`read_nir` does."""
    if raw.ndim == 3:
        if raw.shape[2] <= 2:
            raw = raw[:, :, 0]  # grey, or grey + alpha
        else:
            raw = raw[:, :, :3]
    if raw.dtype == np.uint8:
        image = raw.astype(np.float32) / 255.0
    elif raw.dtype == np.uint16:
        image = raw.astype(np.float32) / 65535.0
    elif raw.dtype == bool:
        image = raw.astype(np.float32)
    elif raw.dtype.kind == "f":
        image = raw.astype(np.float32)
        if not np.all(np.isfinite(image)) or image.min() < 0 or image.max() > 1:
            raise ImageReadError(f"{name}: floating-point image values must lie in [0, 1]")
    else:
        raise ImageReadError(f"{name}: unsupported pixel type {raw.dtype}")
    return as_grey(image, name=name) if image.ndim == 3 else image


class _RowSource:
    """NIR rows of a file, read on demand in increasing order; ``shape`` is ``(H, W)``."""

    shape: tuple[int, int]

    def __call__(self, a: int, b: int) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        pass


class _ArraySource(_RowSource):
    """The whole image in memory, in its file's sample type (or float32 for odd types)."""

    def __init__(self, raw: np.ndarray, name: str):
        self.raw, self.name = raw, name
        self.shape = raw.shape[:2]

    def __call__(self, a: int, b: int) -> np.ndarray:
        return _raw_to_nir(self.raw[a:b], self.name)


class _TiffSource(_RowSource):
    """Rows of the first page of a TIFF, decoded strip by strip or tile by tile."""

    def __init__(self, tif: tifffile.TiffFile, page, name: str):
        self.tif, self.page, self.name = tif, page, name
        self.shape = (int(page.imagelength), int(page.imagewidth))
        self.samples = int(page.samplesperpixel)
        self.dtype = np.dtype(tif.byteorder + page.dtype.char)
        self.row_bytes = self.shape[1] * self.samples * self.dtype.itemsize
        self.direct = bool(page.is_final)
        self.chunks: list[tuple[int, np.ndarray]] = []  # (first row, rows) in order
        self.end = 0  # rows decoded so far
        self.segments = None if self.direct else self._segment_rows()

    @staticmethod
    def streamable(page) -> bool:
        return (
            page.dtype is not None
            and page.dtype.char in "BHfd?"
            and int(page.imagedepth) == 1
            and int(page.samplesperpixel) >= 1
            and (int(page.samplesperpixel) == 1 or int(page.planarconfig) == 1)
            and not page.is_subsampled
            # tifffile's segments() (unsorted) misplaces data after an empty strip / tile
            # (offset or byte count 0, as in sparse files): read those whole
            and bool(np.all(np.asarray(page.dataoffsets) > 0))
            and bool(np.all(np.asarray(page.databytecounts) > 0))
            # segments() decodes every tile at full size: refuse tiles larger than the image
            and (
                not page.is_tiled
                or int(page.tilewidth) * int(page.tilelength)
                <= max(int(page.imagewidth) * int(page.imagelength), 2**20)
            )
        )

    def __call__(self, a: int, b: int) -> np.ndarray:
        try:
            raw = self._read_direct(a, b) if self.direct else self._read_segments(a, b)
        except NircolorError:
            raise
        except Exception as error:  # tifffile and its codecs raise many kinds
            raise ImageReadError(f"{self.name}: cannot read TIFF ({_reason(error)})") from None
        return _raw_to_nir(raw, self.name)

    def _read_direct(self, a: int, b: int) -> np.ndarray:
        fh = self.tif.filehandle
        count = (b - a) * self.row_bytes
        with fh.lock:
            fh.seek(self.page.dataoffsets[0] + a * self.row_bytes)
            data = fh.read(count)
        if len(data) != count:
            raise ImageReadError(f"{self.name}: TIFF is truncated")
        return np.frombuffer(data, dtype=self.dtype).reshape(b - a, self.shape[1], self.samples)

    def _segment_rows(self) -> Iterator[tuple[int, np.ndarray]]:
        """Yield complete row blocks ``(first row, rows)`` in order, decoding lazily."""
        height, width = self.shape
        pending, pending_top = None, -1
        for data, index, seg_shape in self.page.segments(buffersize=_READ_BUFFER):
            top, left = int(index[2]), int(index[3])
            rows = min(int(seg_shape[1]), height - top)
            cols = min(int(seg_shape[2]), width - left)
            if top != pending_top:
                pending = np.zeros((rows, width, self.samples), dtype=self.dtype)
                pending_top = top
            if data is not None:
                block = np.asarray(data).reshape(seg_shape)[0]
                pending[:, left : left + cols] = block[:rows, :cols]
            if left + cols >= width:
                yield pending_top, pending
                pending, pending_top = None, -1

    def _read_segments(self, a: int, b: int) -> np.ndarray:
        self.chunks = [(top, rows) for top, rows in self.chunks if top + len(rows) > a]
        while self.end < b:
            try:
                top, rows = next(self.segments)
            except StopIteration:
                raise ImageReadError(f"{self.name}: TIFF is truncated") from None
            self.chunks.append((top, rows))
            self.end = top + len(rows)
        parts = [rows[max(0, a - top) : b - top] for top, rows in self.chunks if top < b]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def close(self) -> None:
        self.segments = None
        self.tif.close()


def _open_source(path: Path) -> _RowSource:
    """Open an image file for reading by rows (streamed for TIFF, see the module notes)."""
    if not path.is_file():
        raise ImageReadError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path}: file is empty")
    name = str(path)
    with open(path, "rb") as f:
        header = f.read(4)
    if is_tiff_file(path, header):
        try:
            tif = tifffile.TiffFile(path)
        except Exception as error:
            raise ImageReadError(f"{path}: cannot read TIFF ({_reason(error)})") from None
        try:
            page = tif.pages.first
            _check_tiff_page(page, path)
            if _TiffSource.streamable(page):
                return _TiffSource(tif, page, name)
        except ImageReadError:
            tif.close()
            raise
        except Exception as error:
            tif.close()
            raise ImageReadError(f"{path}: cannot read TIFF ({_reason(error)})") from None
        tif.close()
        image = read_image(path)  # an unusual layout: read whole
        return _ArraySource(image, name)
    return _ArraySource(read_raw(path), name)


# --------------------------------------------------------------------------------------------
# Writing files by rows


def _rechunk(bands: Iterator[np.ndarray], rows: int) -> Iterator[np.ndarray]:
    """Regroup row blocks of any heights into blocks of exactly ``rows`` rows (last: fewer)."""
    pending: list[np.ndarray] = []
    count = 0
    for band in bands:
        while len(band):
            take = min(rows - count, len(band))
            pending.append(band[:take])
            count += take
            band = band[take:]
            if count == rows:
                yield pending[0] if len(pending) == 1 else np.concatenate(pending)
                pending, count = [], 0
    if count:
        yield pending[0] if len(pending) == 1 else np.concatenate(pending)


def _tiff_strips(
    bands: Iterator[np.ndarray], rows: int, compress: bool, pool: ThreadPoolExecutor
) -> Iterator[bytes]:
    """Encoded strips of ``rows`` rows; compressed about 16 MB at a time on ``pool``."""
    batch: list[bytes] = []
    size = 0
    for strip in _rechunk(bands, rows):
        batch.append(np.ascontiguousarray(strip).tobytes())
        size += len(batch[-1])
        if size >= _READ_BUFFER:
            yield from pool.map(_deflate, batch) if compress else batch
            batch, size = [], 0
    yield from pool.map(_deflate, batch) if compress else batch


def _pool_size() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _deflate(data: bytes) -> bytes:
    return zlib.compress(data, 6)


def _write_tiff_stream(
    target: Path, bands: Iterator[np.ndarray], shape, bit_depth: int, compression: str | None
) -> None:
    height, width = shape
    dtype = np.dtype("<u1") if bit_depth == 8 else np.dtype("<u2")
    rows = max(1, min(height, _STRIP_BYTES // (width * 3 * dtype.itemsize)))
    compress = compression == "zlib"
    bigtiff = height * width * 3 * dtype.itemsize > 2**32 - 2**28
    with atomic_path(target) as temp, ThreadPoolExecutor(max_workers=_pool_size()) as pool:
        typed = (band.astype(dtype, copy=False) for band in bands)
        strips = _tiff_strips(typed, rows, compress, pool)
        tifffile.imwrite(
            temp,
            strips,
            shape=(height, width, 3),
            dtype=dtype,
            photometric="rgb",
            compression="zlib" if compress else None,
            rowsperstrip=rows,
            byteorder="<",
            bigtiff=bigtiff,
            metadata=None,
        )


def _write_other(target: Path, bands: Iterator[np.ndarray], shape, bit_depth: int) -> None:
    height, width = shape
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    pixels = np.empty((height, width, 3), dtype=dtype)  # BGR, for OpenCV
    top = 0
    for band in bands:
        pixels[top : top + len(band)] = band[:, :, ::-1]
        top += len(band)
    extension = target.suffix.lower()
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if extension in (".jpg", ".jpeg") else []
    try:
        ok, buffer = cv2.imencode(extension, pixels, params)
    except cv2.error as error:
        raise ImageWriteError(f"{target}: cannot encode ({_reason(error)})") from None
    del pixels
    if not ok:
        raise ImageWriteError(f"{target}: could not encode image as {extension}")
    write_bytes_atomic(target, buffer.tobytes())


def _check_output(target: Path, bit_depth, overwrite: bool, compression) -> None:
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, not {bit_depth}")
    extension = target.suffix.lower()
    if extension not in WRITE_EXTENSIONS:
        raise ImageWriteError(
            f"cannot write '{extension}' files; use one of {', '.join(WRITE_EXTENSIONS)}"
        )
    if bit_depth == 16 and extension not in (".png", *_TIFF_EXTENSIONS):
        raise ImageWriteError("16-bit output is only possible for PNG and TIFF")
    if compression not in (None, "none", "zlib"):
        raise ValueError(f"compression must be None, 'none' or 'zlib', not {compression!r}")
    if target.exists() and not overwrite:
        raise ImageWriteError(f"{target}: already exists (use --overwrite to replace it)")


def colorize_large_file(
    source: str | os.PathLike,
    target: str | os.PathLike,
    model,
    guided: tuple[int, float] | None = None,
    bit_depth: int = 8,
    overwrite: bool = False,
    tile: int = DEFAULT_TILE,
    overlap: int | None = None,
    compression: str | None = "zlib",
) -> Path:
    """Colorize an image file of any size into another file, in bounded memory.

    Parameters
    ----------
    source : str or path-like
        NIR image (TIFF is read by row bands; see the module notes for other formats).
    target : str or path-like
        Output file; its extension chooses the format. TIFF is written strip by strip.
    model : model or callable
        A loaded model (see :func:`tile_colorize`).
    guided : (radius, eps), optional
        Guided-filter post-processing, applied band by band (same result as on the whole).
    bit_depth : {8, 16}
        Bits per sample; 16 only for PNG and TIFF.
    overwrite : bool
        Replace an existing ``target``; without it an existing file is an error.
    tile : int
        Tile side (blending path) or largest band height (row path).
    overlap : int, optional
        Tile overlap for the blending path (default ``min(DEFAULT_OVERLAP, tile // 4)``).
    compression : {"zlib", None}
        Compression of a TIFF output (``None`` or ``"none"``: uncompressed).

    Returns
    -------
    target : Path

    Raises
    ------
    ImageReadError, ImageWriteError
        For unreadable input or unwritable output; ``target`` is then left as it was.
    ValueError
        For invalid arguments (checked before any reading).
    """
    source, target = Path(source), Path(target)
    if overlap is None:
        overlap = min(DEFAULT_OVERLAP, _check_int(tile, "tile", 1) // 4)
    tile, overlap = _check_tile(tile, overlap)
    guided = _check_guided(guided)
    _check_output(target, bit_depth, overwrite, compression)
    _predictor(model)
    reader = _open_source(source)
    try:
        shape = reader.shape
        bands = _bands(reader, shape, model, tile, overlap, guided)
        quantised = (to_uint(rgb, bit_depth) for _, _, rgb in bands)
        if target.suffix.lower() in _TIFF_EXTENSIONS:
            _write_tiff_stream(target, quantised, shape, bit_depth, compression)
        else:
            _write_other(target, quantised, shape, bit_depth)
    finally:
        reader.close()
    return target
