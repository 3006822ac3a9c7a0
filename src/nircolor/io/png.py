"""PNG files checked chunk by chunk before a decoder sees them.

A chunk's length field is trusted by decoders: OpenCV allocates it (a 105-byte file whose
IDAT claims 0xFF000000 bytes costs 4 GB), so :func:`png_chunks` checks every length against
the bytes the file has left. OpenCV (libpng) is used only for 16-bit colour PNG, which
Pillow would cut to 8 bits; libpng prints its warnings and errors on stderr, so
:func:`checked_16bit_colour_png` first checks what libpng would complain about (CRCs, the
compressed stream, row filters) and hands it a minimal copy: IHDR, IDAT and IEND only.
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import BinaryIO, NamedTuple

import numpy as np

from ..errors import ImageReadError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
"""Samples per pixel of each PNG colour type."""

_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2))
_ADAM7 += ((0, 1, 1, 2),)
"""The seven passes of an interlaced PNG: first column, first row, column step, row step."""

_INFLATE_STEP = 4 * 2**20
"""Bytes of pixel data inflated at a time while checking a stream."""


class Chunk(NamedTuple):
    kind: bytes
    start: int  # offset of the chunk's data in the file
    length: int


class PngHeader(NamedTuple):
    """What a PNG's first chunks say: IHDR fields and the sBIT chunk (``None``: none)."""

    width: int
    height: int
    bit_depth: int
    colour_type: int
    interlaced: bool
    significant_bits: int | None


def png_chunks(source: BinaryIO, name, until: bytes = b"IEND") -> list[Chunk]:
    """The chunks of a PNG file up to the first ``until`` chunk, each length checked.

    Raises
    ------
    ImageReadError
        If a chunk claims more bytes than the file has left.
    """
    saved = source.tell()
    try:
        size = source.seek(0, 2)
        position = len(PNG_SIGNATURE)
        chunks = []
        while position + 8 <= size:
            source.seek(position)
            length, kind = struct.unpack(">I4s", source.read(8))
            left = max(size - position - 12, 0)
            if length > left:
                raise ImageReadError(
                    f"{name}: cannot decode image (PNG is truncated or corrupt: its "
                    f"{_label(kind)} chunk claims {length:,} bytes, the file has {left:,} left)"
                )
            chunks.append(Chunk(kind, position + 8, length))
            if kind in (until, b"IEND"):
                break
            position += 12 + length
        return chunks
    finally:
        source.seek(saved)


def _label(kind: bytes) -> str:
    return kind.decode("ascii") if kind.isalpha() else repr(kind)


def png_header(source: BinaryIO, name) -> PngHeader | None:
    """IHDR and sBIT of a PNG (chunks up to the first IDAT checked); ``None`` when the file
    does not start with an IHDR chunk (the decoder then says what is wrong)."""
    chunks = png_chunks(source, name, until=b"IDAT")
    if not chunks or chunks[0].kind != b"IHDR" or chunks[0].length != 13:
        return None
    width, height, depth, colour, _, _, interlace = struct.unpack(
        ">IIBBBBB", _read(source, chunks[0])
    )
    significant = None
    sbit = next((c for c in chunks if c.kind == b"sBIT"), None)
    if sbit is not None and 1 <= sbit.length <= 4 and colour != 3:  # palette: bits of RGB
        significant = max(_read(source, sbit))
    return PngHeader(width, height, depth, colour, interlace == 1, significant)


def _read(source: BinaryIO, chunk: Chunk) -> bytes:
    saved = source.tell()
    try:
        source.seek(chunk.start)
        return source.read(chunk.length)
    finally:
        source.seek(saved)


def unshifted_bits(samples: np.ndarray, header: PngHeader) -> int | None:
    """The bits an sBIT chunk declares, when the samples are stored as they are.

    The PNG specification has ``s``-bit samples scaled up to the full range (shifted left);
    many camera tools store them unshifted (12-bit values 0..4095 in 16 bits). Samples that
    all fit in ``s`` bits and are not all multiples of ``2**(depth - s)`` are unshifted.
    """
    bits, depth = header.significant_bits, header.bit_depth
    if bits is None or depth != 16 or not 1 <= bits < depth or samples.dtype != np.uint16:
        return None
    colour = samples[..., :3] if samples.ndim == 3 and samples.shape[2] >= 3 else samples
    if samples.ndim == 3 and samples.shape[2] == 2:
        colour = samples[..., 0]
    if int(colour.max()) >= 2**bits:
        return None
    step = 2 ** (depth - bits)
    return bits if bool(np.any(colour % step)) else None


def checked_16bit_colour_png(data: bytes, header: PngHeader, name) -> bytes:
    """A minimal copy (IHDR, IDAT, IEND) of a 16-bit colour PNG, checked so that libpng
    finds nothing to print about it: every chunk length and IDAT CRC, the zlib stream and
    each row's filter type. A stream with excess data is recompressed to the exact size.

    Raises
    ------
    ImageReadError
        If the file is truncated or corrupt.
    """
    view = memoryview(data)
    chunks = png_chunks(_BytesReader(view), name)
    idats = [c for c in chunks if c.kind == b"IDAT"]
    if not idats:
        raise ImageReadError(f"{name}: PNG is truncated or corrupt (it has no pixel data)")
    for chunk in idats:
        end = chunk.start + chunk.length
        (crc,) = struct.unpack(">I", view[end : end + 4])
        if zlib.crc32(b"IDAT" + view[chunk.start : end]) != crc:
            raise ImageReadError(f"{name}: PNG is corrupt (an IDAT chunk fails its CRC check)")
    expected, filter_offsets = _pixel_data_layout(header)
    stream = b"".join(view[c.start : c.start + c.length] for c in idats)
    exact = _check_stream(stream, expected, filter_offsets, name)
    ihdr = chunks[0]
    parts = [PNG_SIGNATURE, view[ihdr.start - 8 : ihdr.start + ihdr.length + 4]]
    if exact:
        parts += [view[c.start - 8 : c.start + c.length + 4] for c in idats]
    else:
        pixels = b"".join(_inflated(stream, zlib.decompressobj(), expected))
        parts.append(png_chunk(b"IDAT", zlib.compress(pixels, 1)))
    parts.append(png_chunk(b"IEND", b""))
    return b"".join(parts)


def write_png_chunk(f: BinaryIO, kind: bytes, body: bytes | bytearray = b"") -> None:
    """Write one PNG chunk to ``f``: length, type, body and the CRC of type and body (the
    body is written as it is, not copied: streamed IDAT chunks are large)."""
    f.write(struct.pack(">I", len(body)) + kind)
    f.write(body)
    f.write(struct.pack(">I", zlib.crc32(body, zlib.crc32(kind))))


def png_chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk as bytes (see :func:`write_png_chunk`)."""
    buffer = io.BytesIO()
    write_png_chunk(buffer, kind, body)
    return buffer.getvalue()


def _pixel_data_layout(header: PngHeader) -> tuple[int, np.ndarray]:
    """Size of the inflated pixel data and the offset of each row's filter-type byte."""
    bits_per_pixel = _CHANNELS[header.colour_type] * header.bit_depth
    passes = _ADAM7 if header.interlaced else ((0, 0, 1, 1),)
    offsets, total = [], 0
    for x0, y0, dx, dy in passes:
        width = -(-(header.width - x0) // dx)
        height = -(-(header.height - y0) // dy)
        if width <= 0 or height <= 0:
            continue
        row = 1 + -(-width * bits_per_pixel // 8)
        offsets.append(total + row * np.arange(height, dtype=np.int64))
        total += row * height
    return total, np.concatenate(offsets)


def _inflated(stream: bytes, inflater, limit: int):
    """Yield the inflated data of ``stream`` piece by piece, at most ``limit`` bytes."""
    view, position, produced = memoryview(stream), 0, 0
    while produced < limit and not inflater.eof:
        piece = view[position : position + _INFLATE_STEP]
        out = inflater.decompress(piece, min(_INFLATE_STEP, limit - produced))
        position += len(piece) - len(inflater.unconsumed_tail)
        if not out and not piece:
            return
        produced += len(out)
        yield out


def _check_stream(stream: bytes, expected: int, filter_offsets: np.ndarray, name) -> bool:
    """Inflate the pixel data piece by piece (nothing kept) and check each row's filter type.

    Returns whether the stream holds exactly the pixel data (else it has excess data).
    """
    inflater = zlib.decompressobj()
    produced = 0
    try:
        for out in _inflated(stream, inflater, expected + 1):
            _check_filters(out[: expected - produced], produced, filter_offsets, name)
            produced += len(out)
    except zlib.error as error:
        raise ImageReadError(f"{name}: PNG is corrupt (pixel data: {error})") from None
    if produced < expected:
        raise ImageReadError(f"{name}: PNG is truncated or corrupt (its pixel data ends early)")
    return produced == expected and inflater.eof and not inflater.unused_data


def _check_filters(out: bytes, start: int, filter_offsets: np.ndarray, name) -> None:
    first, last = np.searchsorted(filter_offsets, [start, start + len(out)])
    if first == last:
        return
    types = np.frombuffer(out, np.uint8)[filter_offsets[first:last] - start]
    if np.any(types > 4):
        raise ImageReadError(f"{name}: PNG is corrupt (a row has an unknown filter type)")


class _BytesReader:
    """The ``seek`` / ``tell`` / ``read`` of a file over a memoryview, without a copy."""

    def __init__(self, view: memoryview):
        self.view, self.position = view, 0

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = offset if whence == 0 else len(self.view) + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def read(self, count: int) -> bytes:
        data = bytes(self.view[self.position : self.position + count])
        self.position += len(data)
        return data
