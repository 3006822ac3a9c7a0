"""Hand-made image files for the decoder tests: PNG chunk by chunk, packed 12-bit TIFF."""

from __future__ import annotations

import struct
import zlib

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunk(kind: bytes, body: bytes, length: int | None = None) -> bytes:
    """One PNG chunk with a correct CRC; ``length`` overrides the declared length."""
    declared = len(body) if length is None else length
    crc = zlib.crc32(kind + body)
    return struct.pack(">I", declared) + kind + body + struct.pack(">I", crc)


def png_header(width: int, height: int, bit_depth: int, colour_type: int) -> bytes:
    """The signature and IHDR chunk of a non-interlaced PNG."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return PNG_SIGNATURE + png_chunk(b"IHDR", ihdr)


def png_16bit(samples: np.ndarray, extra_chunks: bytes = b"", pixel_data: bytes | None = None):
    """A 16-bit grey ``(H, W)`` or RGB ``(H, W, 3)`` PNG of ``samples``, filter 0 on every row.

    ``extra_chunks`` go between IHDR and IDAT (sBIT, iCCP...); ``pixel_data`` replaces the
    compressed stream of the IDAT chunk.
    """
    samples = np.asarray(samples, dtype=">u2")
    height, width = samples.shape[:2]
    colour_type = 2 if samples.ndim == 3 else 0
    rows = samples.reshape(height, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)
    data = zlib.compress(raw) if pixel_data is None else pixel_data
    return (
        png_header(width, height, 16, colour_type)
        + extra_chunks
        + png_chunk(b"IDAT", data)
        + png_chunk(b"IEND", b"")
    )


def png_bomb() -> bytes:
    """105 bytes: a 16-bit RGB PNG whose IDAT chunk claims 0xFF000000 bytes."""
    head = png_header(64, 64, 16, 2)
    body = b"\x00" * (105 - len(head) - 12 - 12)
    return head + png_chunk(b"IDAT", body, length=0xFF000000) + png_chunk(b"IEND", b"")


def tiff_12bit(samples: np.ndarray) -> bytes:
    """An uncompressed grey TIFF of 12-bit samples, packed two in three bytes (even width)."""
    height, width = samples.shape
    pairs = samples.astype(np.uint32).reshape(height, width // 2, 2)
    first, second = pairs[..., 0], pairs[..., 1]
    packed = np.stack(
        [first >> 4, ((first & 15) << 4) | (second >> 8), second & 255], axis=-1
    ).astype(np.uint8)
    pixels = packed.tobytes()
    short, long = 3, 4
    tags = [
        (256, short, width),
        (257, short, height),
        (258, short, 12),  # BitsPerSample
        (259, short, 1),  # no compression
        (262, short, 1),  # black is zero
        (273, long, 0),  # StripOffsets, filled in below
        (277, short, 1),
        (278, short, height),
        (279, long, len(pixels)),
    ]
    pixel_offset = 8 + 2 + 12 * len(tags) + 4
    ifd = struct.pack("<H", len(tags))
    for tag, kind, value in tags:
        value = pixel_offset if tag == 273 else value
        packed_value = struct.pack("<HH", value, 0) if kind == short else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, 1) + packed_value
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + pixels


ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2))
ADAM7 += ((0, 1, 1, 2),)


def png_16bit_interlaced(samples: np.ndarray) -> bytes:
    """An Adam7-interlaced 16-bit RGB PNG of ``(H, W, 3)`` samples, filter 0 on every row."""
    samples = np.asarray(samples, dtype=">u2")
    height, width = samples.shape[:2]
    raw = b""
    for x0, y0, dx, dy in ADAM7:
        part = samples[y0::dy, x0::dx]
        if part.size:
            raw += b"".join(b"\x00" + row.tobytes() for row in part.reshape(len(part), -1))
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 1)
    return (
        PNG_SIGNATURE
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(raw))
        + png_chunk(b"IEND", b"")
    )
