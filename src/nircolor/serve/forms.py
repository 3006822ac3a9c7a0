"""The parts of a request every endpoint reads the same way: the image's size from its
header, text fields, a safe file name, and the one JSON error body."""

from __future__ import annotations

import io
import re
import struct
from pathlib import Path

from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from ..context import DEFAULT as DEFAULT_CONTEXT
from ..context import ColourContext
from ..errors import NircolorError
from ..io import TIFF_MAGIC
from ..io.decoding import quiet_decoders
from .budget import without_paths

MIN_WORKING_SIZE = 64
"""The smallest ``size`` a ``/colorize`` form may ask for (pixels, long side)."""


def _probe_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the header alone; None when unreadable (decoding then says why)."""
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
            width, height = struct.unpack(">II", data[16:24])
            return width, height
        if data[:4] in TIFF_MAGIC:
            import tifffile

            with tifffile.TiffFile(io.BytesIO(data)) as tif:
                page = tif.pages.first
                return int(page.imagewidth), int(page.imagelength)
        from PIL import Image

        with quiet_decoders(), Image.open(io.BytesIO(data)) as im:  # Pillow's guard lifted
            return im.size
    except Exception:
        return None


def _text_field(form, key: str) -> str | None:
    value = form.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise NircolorError(f"form field '{key}' must be text, not a file")
    return value.strip() or None


def _safe_name(filename: str | None) -> str:
    """A short, printable, ASCII file name for messages and headers."""
    name = Path((filename or "").replace("\\", "/")).name
    name = re.sub(r"[^A-Za-z0-9._ -]+", "_", name).strip(" .")[:80]
    return name or "upload"


def _mb(n: int) -> str:
    return f"{n / 1e6:g} MB"


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": without_paths(message)}, status_code=status, headers=headers)


def too_large(max_upload_bytes: int) -> str:
    return f"upload too large: the limit is {_mb(max_upload_bytes)} (--max-upload-mb)"


class Refused(Exception):
    """A request refused before any work, with its error response."""

    def __init__(self, response: JSONResponse) -> None:
        super().__init__(response)
        self.response = response


async def read_upload(form, max_upload_bytes: int) -> tuple[str, bytes]:
    """The uploaded image's safe name and bytes (the multipart field ``file``).

    Raises
    ------
    Refused
        Without a file (400), or for an upload over ``max_upload_bytes`` (413).
    """
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise Refused(_error(400, "no image: send it as the multipart form field 'file'"))
    name = _safe_name(upload.filename)
    data = await upload.read()
    if len(data) > max_upload_bytes:
        raise Refused(_error(413, too_large(max_upload_bytes)))
    return name, data


def check_pixels(name: str, data: bytes, max_pixels: int) -> None:
    """Refuse (413) an image whose header says it has more than ``max_pixels`` pixels."""
    size = _probe_size(data)
    if size is not None and size[0] * size[1] > max_pixels:
        width, height = size
        raise Refused(
            _error(
                413,
                f"{name}: image of {width}x{height} pixels is larger than the limit of "
                f"{max_pixels:,} pixels",
            )
        )


def working_size(form, model) -> ColourContext | None:
    """The colour context of the form field ``size``: the long side, in pixels, of the copy
    that ``model`` colours (its colours are carried up to the full image along the NIR's
    edges, :mod:`nircolor.context`); ``None`` when the form has none.

    ``size`` may be from :data:`MIN_WORKING_SIZE` to the model's own context size (512 for
    the shipped nets, and for models without one): a client can make the work smaller, never
    larger.

    Raises
    ------
    NircolorError
        For anything else (one line, a 400 answer).
    """
    text = _text_field(form, "size")
    if text is None:
        return None
    own = getattr(model, "context", None) or DEFAULT_CONTEXT
    largest = max(own.size, MIN_WORKING_SIZE)
    try:
        size = int(text)
    except ValueError:
        size = None
    if size is None or not MIN_WORKING_SIZE <= size <= largest:
        raise NircolorError(
            f"size must be a whole number of pixels from {MIN_WORKING_SIZE} to {largest} "
            f"(the long side the model works at), not {text[:20]!r}"
        )
    return ColourContext(size, own.sigma)
