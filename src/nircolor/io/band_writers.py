"""Writing image files by row bands, in bounded memory.

TIFF outputs are written strip by strip and PNG outputs band by band (rows "Sub"-filtered and
fed to one zlib stream, the IDAT chunks written as they fill), so neither ever holds the whole
image; JPEG and BMP outputs are assembled in memory as 8-bit integers (3 bytes per pixel) and
encoded at the end. Every write is atomic (temporary file in the target folder, then
published); on any failure the temporary file is removed and the target is untouched.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import tifffile

from .. import runtime
from ..errors import ImageWriteError, already_exists, error_reason
from .atomic import atomic_path, output_exists, write_bytes_atomic
from .images import TIFF_EXTENSIONS, WRITE_EXTENSIONS
from .marks import png_software_chunk, with_software
from .png import PNG_SIGNATURE, write_png_chunk

__all__ = ["check_output", "write_bands"]

_COMPRESS_BYTES = 16 * 2**20
"""Uncompressed bytes of TIFF strips handed to the compressing pool at once."""

_STRIP_BYTES = 256 * 2**10
"""Approximate uncompressed size of one strip of an output TIFF."""

_PNG_COLOUR_RGB = 2
_PNG_FILTER_SUB = 1
_PNG_LEVEL = 1
"""zlib level of streamed PNGs: OpenCV's default, whose files the whole-image path writes."""
_IDAT_BYTES = 2**20
"""Compressed bytes gathered before an IDAT chunk is written."""


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
        if size >= _COMPRESS_BYTES:
            yield from pool.map(_deflate, batch) if compress else batch
            batch, size = [], 0
    yield from pool.map(_deflate, batch) if compress else batch


def _pool_size() -> int:
    return min(4, runtime.usable_cores())


def _deflate(data: bytes) -> bytes:
    return zlib.compress(data, 6)


def _write_tiff_stream(
    target: Path,
    bands: Iterator[np.ndarray],
    shape,
    bit_depth: int,
    compression: str | None,
    replace: bool,
    software: str | None,
) -> None:
    height, width = shape
    dtype = np.dtype("<u1") if bit_depth == 8 else np.dtype("<u2")
    rows = max(1, min(height, _STRIP_BYTES // (width * 3 * dtype.itemsize)))
    compress = compression == "zlib"
    bigtiff = height * width * 3 * dtype.itemsize > 2**32 - 2**28
    with (
        atomic_path(target, replace=replace) as temp,
        ThreadPoolExecutor(max_workers=_pool_size()) as pool,
    ):
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
            software=software,
        )


def _png_filtered_rows(band: np.ndarray, bit_depth: int) -> np.ndarray:
    """Scanlines of an RGB band, each a filter-type byte then the "Sub"-filtered samples.

    "Sub" stores each byte minus the same byte of the pixel to its left (modulo 256); it needs
    no previous row, so bands are filtered independently, and it shrinks the zlib stream of
    a photograph markedly compared with no filter.
    """
    dtype = np.dtype(">u1") if bit_depth == 8 else np.dtype(">u2")
    samples = np.ascontiguousarray(band, dtype=dtype).view(np.uint8)
    samples = samples.reshape(len(band), -1)
    pixel = 3 * dtype.itemsize
    lines = np.empty((len(band), 1 + samples.shape[1]), np.uint8)
    lines[:, 0] = _PNG_FILTER_SUB
    lines[:, 1 : 1 + pixel] = samples[:, :pixel]
    np.subtract(samples[:, pixel:], samples[:, :-pixel], out=lines[:, 1 + pixel :])
    return lines


def _write_png_stream(
    target: Path,
    bands: Iterator[np.ndarray],
    shape,
    bit_depth: int,
    replace: bool,
    software: str | None,
) -> None:
    height, width = shape
    header = struct.pack(">IIBBBBB", width, height, bit_depth, _PNG_COLOUR_RGB, 0, 0, 0)
    compressor = zlib.compressobj(_PNG_LEVEL)
    written = 0
    with atomic_path(target, replace=replace) as temp, open(temp, "wb") as f:
        f.write(PNG_SIGNATURE)
        write_png_chunk(f, b"IHDR", header)
        if software is not None:
            f.write(png_software_chunk(software))
        pending = bytearray()
        for band in bands:
            written += len(band)
            if written > height or band.shape[1:] != (width, 3):
                raise ImageWriteError(f"{target}: bands do not match a {width}x{height} image")
            pending += compressor.compress(_png_filtered_rows(band, bit_depth))
            if len(pending) >= _IDAT_BYTES:
                write_png_chunk(f, b"IDAT", pending)
                pending.clear()
        if written != height:
            raise ImageWriteError(f"{target}: bands cover {written} of {height} rows")
        pending += compressor.flush()
        write_png_chunk(f, b"IDAT", pending)
        write_png_chunk(f, b"IEND")


def _write_other(
    target: Path,
    bands: Iterator[np.ndarray],
    shape,
    bit_depth: int,
    replace: bool,
    software: str | None,
) -> None:
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
        raise ImageWriteError(f"{target}: cannot encode ({error_reason(error)})") from None
    del pixels
    if not ok:
        raise ImageWriteError(f"{target}: could not encode image as {extension}")
    write_bytes_atomic(target, with_software(buffer.tobytes(), software), replace=replace)


def check_output(target: Path, bit_depth, overwrite: bool, compression) -> None:
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, not {bit_depth}")
    extension = target.suffix.lower()
    if extension not in WRITE_EXTENSIONS:
        raise ImageWriteError(
            f"cannot write '{extension}' files; use one of {', '.join(WRITE_EXTENSIONS)}"
        )
    if bit_depth == 16 and extension not in (".png", *TIFF_EXTENSIONS):
        raise ImageWriteError("16-bit output is only possible for PNG and TIFF")
    if compression not in (None, "none", "zlib"):
        raise ValueError(f"compression must be None, 'none' or 'zlib', not {compression!r}")
    if output_exists(target) and not overwrite:
        raise already_exists(target)


def write_bands(
    target: Path,
    bands: Iterator[np.ndarray],
    shape,
    bit_depth: int,
    compression: str | None,
    replace: bool = True,
    software: str | None = None,
) -> None:
    """Write integer RGB row bands covering ``shape`` to ``target`` atomically.

    TIFF and PNG are written as the bands come (memory: about one band); JPEG and BMP are
    assembled whole first. Without ``replace``, a ``target`` that appeared meanwhile is left
    as it is (an error). ``software`` names the program that wrote it (not in BMP files).
    """
    extension = target.suffix.lower()
    if extension in TIFF_EXTENSIONS:
        _write_tiff_stream(target, bands, shape, bit_depth, compression, replace, software)
    elif extension == ".png":
        _write_png_stream(target, bands, shape, bit_depth, replace, software)
    else:
        _write_other(target, bands, shape, bit_depth, replace, software)
