"""Reading image files by row bands, in bounded memory.

The row readers give the NIR rows ``a:b`` of a file as float32 in [0, 1], called with
non-decreasing ``a``. TIFF inputs are read as follows:

* uncompressed data stored contiguously (``TiffPage.is_final``): rows are read straight
  from the file at their offset;
* any other single-plane TIFF (compressed strips or tiles): ``TiffPage.segments`` decodes
  the strips / tiles lazily, in order, and only about one band of rows is kept;
* anything else (planar RGB, odd sample types, an Orientation tag other than 1) falls back
  to reading the whole image.

PNG, JPEG and BMP inputs are decoded whole, but kept in their file's integer type (1 byte per
pixel for 8-bit grey), never as float32. Writing by bands is :mod:`nircolor.io.band_writers`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

from ..errors import ImageReadError, NircolorError, error_reason
from .decoding import check_input_file, quiet_decoders
from .images import (
    TIFF_EXTENSIONS,
    as_grey,
    check_tiff_page,
    decode_file,
    is_tiff_file,
    read_image,
    tiff_declared_bits,
)
from .orientation import UPRIGHT, exif_orientation, swaps_sides, tiff_orientation
from .samples import check_input_bits, sample_bits, samples_to_float, warn_if_dim

_READ_BUFFER = 16 * 2**20
"""Bytes of compressed TIFF segments that tifffile reads from the file at once."""

# Reading files by rows


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """Return ``(height, width)`` of an image file from its header, without decoding it: the
    size it is shown at (a JPEG or TIFF turned by its Orientation tag has its sides swapped).

    Raises
    ------
    ImageReadError
        If the file is missing, its header cannot be read or it gives a zero size.
    """
    path = Path(path)
    check_input_file(path)
    try:
        with quiet_decoders():
            height, width = _header_size(path)
    except Exception as error:  # any decoder error means: cannot tell
        raise ImageReadError(f"{path}: cannot read image header ({error_reason(error)})") from None
    if height <= 0 or width <= 0:
        raise ImageReadError(f"{path}: image has zero size ({width}x{height})")
    return height, width


def _header_size(path: Path) -> tuple[int, int]:
    """``(height, width)`` as shown (run under :func:`quiet_decoders`: no Pillow guard)."""
    if path.suffix.lower() in TIFF_EXTENSIONS:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            size = int(page.imagelength), int(page.imagewidth)
            orientation = tiff_orientation(page)
    else:
        with Image.open(path) as im:
            size, orientation = (int(im.height), int(im.width)), exif_orientation(im)
    return size[::-1] if swaps_sides(orientation) else size


def raw_to_nir(raw: np.ndarray, name: str, bits: int | None = None) -> np.ndarray:
    """Convert rows of a file's samples to float32 NIR in [0, 1], as :func:`read_nir` does
    (``bits``: see :func:`~nircolor.io.samples.samples_to_float`)."""
    image = samples_to_float(raw, name, bits)
    return as_grey(image, name=name) if image.ndim == 3 else image


class RowSource:
    """NIR rows of a file, read on demand in increasing order; ``shape`` is ``(H, W)``.

    ``dim_check`` is the sample type of a file whose bits are neither declared nor given;
    a 16-bit one that stays dim gets the warning of :func:`read_nir` once its last row is read.
    """

    shape: tuple[int, int]
    dim_check: np.dtype | None = None
    peak = 0.0  # brightest NIR value read so far

    def __call__(self, a: int, b: int) -> np.ndarray:
        raise NotImplementedError

    def _checked(self, nir: np.ndarray, b: int) -> np.ndarray:
        if self.dim_check is not None:
            self.peak = max(self.peak, float(nir.max()))
            if b >= self.shape[0]:
                warn_if_dim(np.float32(self.peak), self.dim_check, str(self.name))
                self.dim_check = None
        return nir

    def close(self) -> None:
        pass


class _ArraySource(RowSource):
    """The whole image in memory, in its file's sample type (or float32 for odd types)."""

    def __init__(self, raw: np.ndarray, name: str, bits: int | None = None, dim_check=None):
        self.raw, self.name, self.bits, self.dim_check = raw, name, bits, dim_check
        self.shape = raw.shape[:2]

    def __call__(self, a: int, b: int) -> np.ndarray:
        return self._checked(raw_to_nir(self.raw[a:b], self.name, self.bits), b)


class _TiffSource(RowSource):
    """Rows of the first page of a TIFF, decoded strip by strip or tile by tile."""

    def __init__(self, tif: tifffile.TiffFile, page, name: str, input_bits: int | None = None):
        self.tif, self.page, self.name = tif, page, name
        declared = tiff_declared_bits(page)
        self.bits = sample_bits(page.dtype, declared, input_bits)
        if declared is None and input_bits is None:
            self.dim_check = page.dtype
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
            # a codec tifffile lacks here (LZW, JPEG... need imagecodecs): read whole, by
            # read_image, which has Pillow decode it
            and int(page.compression) in tifffile.TIFF.DECOMPRESSORS
            and page.dtype.char in "BHfd?"
            and int(page.imagedepth) == 1
            and int(page.samplesperpixel) >= 1
            and (int(page.samplesperpixel) == 1 or int(page.planarconfig) == 1)
            and not page.is_subsampled
            and int(page.bitspersample) == page.dtype.itemsize * 8  # packed: read whole
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
            with quiet_decoders():
                raw = self._read_direct(a, b) if self.direct else self._read_segments(a, b)
        except NircolorError:
            raise
        except Exception as error:  # tifffile and its codecs raise many kinds
            raise ImageReadError(f"{self.name}: cannot read TIFF ({error_reason(error)})") from None
        return self._checked(raw_to_nir(raw, self.name, self.bits), b)

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


def open_rows(path: Path, input_bits: int | None = None) -> RowSource:
    """Open an image file for reading by rows (streamed for TIFF, see the module notes);
    ``input_bits`` is as for :func:`~nircolor.io.read_image`."""
    input_bits = check_input_bits(input_bits)
    check_input_file(path)
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path}: file is empty")
    name = str(path)
    with open(path, "rb") as f:
        header = f.read(4)
    if is_tiff_file(path, header):
        source = _open_tiff_rows(path, input_bits)
        if source is not None:
            return source
        image = read_image(path, input_bits)  # an unusual layout: read whole
        return _ArraySource(image, name)
    decoded = decode_file(path)
    dtype = decoded.samples.dtype
    bits = sample_bits(dtype, decoded.bits, input_bits)
    unknown_bits = input_bits is None and decoded.bits is None
    return _ArraySource(decoded.samples, name, bits, dtype if unknown_bits else None)


def _open_tiff_rows(path: Path, input_bits: int | None) -> _TiffSource | None:
    """A streamed reader of a TIFF, or ``None`` when its layout is read whole."""
    try:
        with quiet_decoders():
            tif = tifffile.TiffFile(path)
    except Exception as error:
        raise ImageReadError(f"{path}: cannot read TIFF ({error_reason(error)})") from None
    try:
        with quiet_decoders():
            page = tif.pages.first
            check_tiff_page(page, path)
            if _TiffSource.streamable(page) and tiff_orientation(page) == UPRIGHT:
                return _TiffSource(tif, page, str(path), input_bits)
    except ImageReadError:
        tif.close()
        raise
    except Exception as error:
        tif.close()
        raise ImageReadError(f"{path}: cannot read TIFF ({error_reason(error)})") from None
    tif.close()
    return None


# --------------------------------------------------------------------------------------------

# Writing files by rows
