"""Colour filter arrays (CFA): the 2×2 pixel patterns of raw sensor mosaics, and reading them.

A pattern is the 2×2 cell as seen from the image's top-left pixel, row by row. The one named
pattern, ``rgbir``, is isetL3's RGB-IR cell (``s_L3_rgbir``: ``cfa = [2 1; 3 4]`` over the
filters red, green, blue, ir)::

    G  R
    B  IR

(one green of a Bayer cell replaced by an IR pixel). The top-left pixel
fixes the phase: a mosaic cropped at an odd row or column has the cell
:func:`shifted_cell` gives. A raw mosaic is one channel of 10- to 16-bit samples, stored in a
16-bit PNG or TIFF (:func:`read_mosaic` refuses 8-bit and colour files, which are ordinary
NIR or RGB images, not sensor mosaics).
"""

from __future__ import annotations

import os

import numpy as np

from .errors import DataError, ImageReadError
from .io.images import Decoded, decode_bytes, decode_file, decoded_to_float
from .io.samples import check_input_bits

PIXEL_TYPES = ("r", "g", "b", "ir")
"""The kinds of pixel a pattern holds, in the order of an L3 CFA model's class blocks."""

PATTERNS = {"rgbir": ("g", "r", "b", "ir")}
"""Named patterns: the 2×2 cell row by row from the top-left pixel."""


def cfa_cell(pattern: str | tuple[str, ...] | list[str]) -> tuple[str, str, str, str]:
    """The 2×2 cell of a named pattern (:data:`PATTERNS`) or of four pixel types.

    Raises
    ------
    DataError
        For an unknown name, or a cell that is not the four :data:`PIXEL_TYPES` once each.
    """
    if isinstance(pattern, str):
        if pattern not in PATTERNS:
            raise DataError(f"unknown CFA {pattern!r} (known: {', '.join(PATTERNS)})")
        return PATTERNS[pattern]
    cell = tuple(str(kind) for kind in pattern)
    if sorted(cell) != sorted(PIXEL_TYPES):
        raise DataError(
            f"a CFA cell must hold {', '.join(PIXEL_TYPES)} once each, not {', '.join(cell)}"
        )
    return cell  # type: ignore[return-value]


def cfa_name(cell: tuple[str, ...]) -> str:
    """The name of a cell if it is a named pattern, else its types joined (``"g r b ir"``)."""
    for name, named in PATTERNS.items():
        if tuple(cell) == named:
            return name
    return " ".join(cell)


def shifted_cell(cell: tuple[str, ...], dy: int, dx: int) -> tuple[str, str, str, str]:
    """The cell seen from a crop whose top-left pixel is ``(dy, dx)`` of the mosaic."""
    grid = np.array(cfa_cell(tuple(cell))).reshape(2, 2)
    return tuple(np.roll(grid, (-dy, -dx), axis=(0, 1)).ravel().tolist())  # type: ignore


def pixel_types(shape: tuple[int, int], cell: tuple[str, ...]) -> np.ndarray:
    """``(H, W)`` uint8 index into :data:`PIXEL_TYPES` of every pixel of a mosaic."""
    codes = np.array([PIXEL_TYPES.index(kind) for kind in cfa_cell(tuple(cell))], dtype=np.uint8)
    height, width = shape
    rows = (np.arange(height) % 2)[:, None] * 2
    return codes[rows + (np.arange(width) % 2)[None, :]]


def mosaic_of(channels: np.ndarray, cell: tuple[str, ...]) -> np.ndarray:
    """The mosaic sampled from a full ``(H, W, 4)`` image whose channels are
    :data:`PIXEL_TYPES` (``r, g, b, ir``): each pixel keeps its type's channel."""
    types = pixel_types(channels.shape[:2], cell)
    return np.take_along_axis(channels, types[:, :, None].astype(np.intp), axis=2)[:, :, 0]


def check_mosaic(raw, name: str = "raw mosaic") -> np.ndarray:
    """A raw mosaic as float32 ``(H, W)``: one channel, at least one whole 2×2 cell.

    Raises
    ------
    DataError
        For several channels or an image smaller than 2×2.
    """
    raw = np.asarray(raw)
    if raw.ndim == 3 and raw.shape[2] == 1:
        raw = raw[:, :, 0]
    if raw.ndim != 2:
        raise DataError(f"{name}: a raw mosaic has one channel, not shape {raw.shape}")
    if raw.shape[0] < 2 or raw.shape[1] < 2:
        raise DataError(f"{name}: {raw.shape[1]}x{raw.shape[0]} holds no whole 2×2 CFA cell")
    return np.ascontiguousarray(raw, dtype=np.float32)


def read_mosaic(path: str | os.PathLike, input_bits: int | None = None) -> np.ndarray:
    """Read a raw sensor mosaic (16-bit single-channel PNG or TIFF) as float32 in [0, 1].

    All 16 bits are kept (``input_bits`` as for :func:`~nircolor.io.read_image`: 12 for a
    12-bit sensor writing values 0..4095). A TIFF Orientation tag is not applied: the colour
    filter pattern is laid out on the sensor, as stored.

    Raises
    ------
    ImageReadError
        For an unreadable file, a colour image or an 8-bit one (an ordinary NIR image, not a
        raw mosaic); :class:`DataError` for one smaller than 2×2.
    """
    input_bits = check_input_bits(input_bits)
    return _decoded_mosaic(decode_file(path, upright=False), str(path), input_bits)


def read_mosaic_bytes(data: bytes, name: str = "upload", input_bits: int | None = None):
    """:func:`read_mosaic` for the bytes of a file (an upload, say), ``name`` in messages."""
    input_bits = check_input_bits(input_bits)
    return _decoded_mosaic(decode_bytes(data, name, upright=False), name, input_bits)


def _decoded_mosaic(decoded: Decoded, name: str, input_bits: int | None) -> np.ndarray:
    samples = decoded.samples
    if samples.ndim == 3 and samples.shape[2] >= 3:
        raise ImageReadError(f"{name}: a colour image, but a raw CFA mosaic has one channel")
    if samples.dtype == np.uint8 or samples.dtype == bool:
        raise ImageReadError(
            f"{name}: an 8-bit image, not a raw CFA mosaic (raw mosaics hold 10–16-bit "
            "samples in a 16-bit PNG or TIFF; a CFA model cannot colorize an ordinary NIR image)"
        )
    return check_mosaic(decoded_to_float(decoded, name, input_bits), name)
