"""The "Software" mark of an image file: which program wrote it.

Colorized images carry :data:`COLORIZED_BY` (PNG ``tEXt`` chunk ``Software``, TIFF tag
Software, JPEG comment; BMP has nowhere to keep it), so a folder scanned for NIR inputs can
leave out what an earlier colorization wrote there. Reading the mark touches only the
header of a file (the chunks before the pixels, the first TIFF directory).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import tifffile

from ..errors import ImageReadError
from .decoding import quiet_decoders
from .png import PNG_SIGNATURE, png_chunk, png_chunks

COLORIZED_BY = "nircolor colorize"
"""The mark of the images ``nircolor colorize`` (and :func:`nircolor.colorize_file`) write."""

_PNG_KEYWORD = b"Software"
_JPEG_SOI, _JPEG_APP0, _JPEG_COM, _JPEG_SOS = b"\xff\xd8", b"\xff\xe0", b"\xff\xfe", b"\xff\xda"
_TIFF_SOFTWARE = 305


def png_software_chunk(software: str) -> bytes:
    """The ``tEXt`` chunk that names ``software`` (Latin-1 text, as PNG requires)."""
    return png_chunk(b"tEXt", _PNG_KEYWORD + b"\0" + software.encode("latin-1"))


def with_software(data: bytes, software: str | None) -> bytes:
    """The bytes of an encoded PNG or JPEG file with ``software`` marked in its header; other
    formats (and ``software=None``) as they are."""
    if software is None:
        return data
    if data.startswith(PNG_SIGNATURE):
        after_ihdr = len(PNG_SIGNATURE) + 12 + 13  # IHDR is always first, 13 bytes long
        return data[:after_ihdr] + png_software_chunk(software) + data[after_ihdr:]
    if data.startswith(_JPEG_SOI):
        position = 2
        if data[2:4] == _JPEG_APP0:  # JFIF wants its APP0 segment right after SOI
            position += 2 + struct.unpack(">H", data[4:6])[0]
        text = software.encode("utf-8")
        comment = _JPEG_COM + struct.pack(">H", len(text) + 2) + text
        return data[:position] + comment + data[position:]
    return data


def software_of(path: str | os.PathLike) -> str | None:
    """The program that marked the image file ``path``; ``None`` when unmarked or unreadable."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(PNG_SIGNATURE))
            if head.startswith(PNG_SIGNATURE):
                return _png_software(f)
            if head.startswith(_JPEG_SOI):
                return _jpeg_software(f)
            if head[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"):
                return _tiff_software(Path(path))
    except (OSError, ValueError, struct.error, ImageReadError):
        return None  # the reader will say what is wrong with it
    return None


def is_colorized(path: str | os.PathLike) -> bool:
    """Whether ``path`` is an image that a colorization by nircolor wrote."""
    return software_of(path) == COLORIZED_BY


def _png_software(f) -> str | None:
    for chunk in png_chunks(f, "", until=b"IDAT"):
        if chunk.kind == b"tEXt" and chunk.length <= 1024:
            f.seek(chunk.start)
            keyword, _, text = f.read(chunk.length).partition(b"\0")
            if keyword == _PNG_KEYWORD:
                return text.decode("latin-1")
    return None


def _jpeg_software(f) -> str | None:
    position = 2
    while True:
        f.seek(position)
        marker = f.read(2)
        if len(marker) < 2 or marker[0] != 0xFF or marker == _JPEG_SOS:
            return None
        (length,) = struct.unpack(">H", f.read(2))
        if marker == _JPEG_COM:
            text = f.read(length - 2)
            return text.decode("utf-8", errors="replace") if len(text) == length - 2 else None
        position += 2 + length


def _tiff_software(path: Path) -> str | None:
    try:
        with quiet_decoders(), tifffile.TiffFile(path) as tif:
            tag = tif.pages.first.tags.get(_TIFF_SOFTWARE)
    except Exception:  # any corrupt TIFF: unmarked, and the reader will say what is wrong
        return None
    return tag.value if tag is not None and isinstance(tag.value, str) else None
