"""The parts of a request every endpoint reads the same way: the image's size from its
header, text fields, a safe file name, and the one JSON error body."""

from __future__ import annotations

import io
import re
import struct
import warnings
from pathlib import Path

from fastapi.responses import JSONResponse

from ..errors import NircolorError
from ..io import TIFF_MAGIC
from .budget import without_paths


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

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            try:
                with Image.open(io.BytesIO(data)) as im:
                    return im.size
            except Image.DecompressionBombError as error:
                numbers = [int(n) for n in re.findall(r"\d+", str(error))]
                return (numbers[0] if numbers else 2**40), 1
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
