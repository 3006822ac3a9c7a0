"""Colorize an image file of any size into another in bounded memory, by row bands.

The file is read band by band (:func:`nircolor.io.stream.open_rows`) and written TIFF strip
by strip or PNG band by band (:mod:`nircolor.io.band_writers`), so no full-size array is
ever held. Every step gives the pixels of the whole image in memory:

- a first pass over the rows measures the NIR's noise (``denoise``) and makes the colour
  context's small copy (:mod:`nircolor.context`);
- the second colours each band from that copy, or (no context) by row bands or cross-faded
  tiles (:func:`nircolor.tiling.colorize_bands`), then finishes it with the guided filter
  and the NIR's detail (:class:`nircolor.filters.Finish`). An image no larger than its
  context is its own copy: read whole and coloured in one piece, as in memory, whatever
  the tile size.

:func:`nircolor.api.colorize_file` sends large files here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .context import (
    ColourContext,
    colorize_whole,
    colorized_copy,
    downscale_rows,
    resolve_context,
)
from .filters import DetailTransfer, Finish, GuidedFilter, check_denoise
from .filters.denoise import NoiseMeter, denoised_rows, filter_strength, noise_of_rows
from .io import to_uint
from .io.atomic import check_not_input
from .io.band_writers import check_output, write_bands
from .io.marks import COLORIZED_BY
from .io.samples import check_input_bits
from .io.stream import image_size, open_rows
from .models import Colorizer
from .tiling import DEFAULT_TILE, check_tile, colorize_bands, default_overlap, predictor

RowProgress = Callable[[int, int], object]
"""``progress(rows_done, rows_total)`` of a file colorized by row bands."""


def colorize_large_file(
    source: str | os.PathLike,
    target: str | os.PathLike,
    model: Colorizer,
    guided: GuidedFilter | None = None,
    bit_depth: int = 8,
    overwrite: bool = False,
    tile: int = DEFAULT_TILE,
    overlap: int | None = None,
    compression: str | None = "zlib",
    input_bits: int | None = None,
    context: ColourContext | int | None = None,
    progress: RowProgress | None = None,
    detail: DetailTransfer | None = None,
    denoise: str = "auto",
) -> Path:
    """Colorize an image file of any size into another file, in bounded memory.

    Parameters
    ----------
    source : str or path-like
        NIR image (TIFF is read by row bands; see the module notes for other formats).
    target : str or path-like
        Output file; its extension chooses the format. TIFF is written strip by strip.
    model : Colorizer or callable
        A loaded model (see :func:`nircolor.tiling.tile_colorize`).
    guided : GuidedFilter, optional
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
    input_bits : int, optional
        As for :func:`~nircolor.read_image`.
    context : ColourContext or int, optional
        As for :func:`colorize`. When it applies, the file is read twice: once for its
        context copy, once to colour it band by band (no tiles, so no tile borders).
    progress : callable, optional
        ``progress(rows_done, rows_total)``, called as each band is coloured.
    detail : DetailTransfer, optional
        The NIR's detail given to the lightness after the guided filter, band by band (same
        result as on the whole; see :func:`colorize`).
    denoise : {"auto", "on", "off"}
        As for :func:`colorize`, with the same result: the noise is estimated in one more
        pass over the file, and a noisy file is denoised band by band.

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
    check_not_input(source, target)
    input_bits = check_input_bits(input_bits)
    tile, overlap = check_tile(tile, default_overlap(tile) if overlap is None else overlap)
    finish = Finish(GuidedFilter.of(guided), DetailTransfer.of(detail))
    check_output(target, bit_depth, overwrite, compression)
    predictor(model)  # refuse a bad model before opening the file
    if isinstance(model, Colorizer):
        context = resolve_context(model, context)
    else:
        context = ColourContext.of(context) or ColourContext.OFF
    shape = image_size(source)
    size = context.size if context.applies(shape) else None
    strength, small = _first_pass(source, input_bits, check_denoise(denoise), size)
    context_copy = None
    if size is not None:
        if strength is not None:  # the copy of the denoised rows, as of the whole image
            small = _context_rows(source, input_bits, size, strength)
        specialist = model.for_image(small) if isinstance(model, Colorizer) else model
        context_copy = colorized_copy(small, predictor(specialist), context.sigma), context.sigma
    reader = open_rows(source, input_bits)
    try:
        read = reader if strength is None else denoised_rows(reader, reader.shape[0], strength)
        if context and size is None:  # no larger than the context: in one piece, never tiled
            bands = _in_one_piece(read(0, shape[0]), model, context, finish)
        else:
            bands = colorize_bands(
                read, reader.shape, model, tile, overlap, finish, context_copy=context_copy
            )
        quantised = (to_uint(rgb, bit_depth) for rgb in _reported(bands, reader.shape, progress))
        write_bands(
            target, quantised, reader.shape, bit_depth, compression, overwrite, COLORIZED_BY
        )
    finally:
        reader.close()
    return target


def _in_one_piece(nir: np.ndarray, model: Colorizer, context: ColourContext, finish: Finish):
    """The one band of an image no larger than its colour context, as in memory
    (:func:`nircolor.context.colorize_whole`; at most ``context.size`` px a side)."""
    specialist = model.for_image(nir) if isinstance(model, Colorizer) else model
    yield 0, nir, colorize_whole(nir, predictor(specialist), context, finish)


def _reported(bands, shape, progress: RowProgress | None):
    """The colour rows of ``bands``, calling ``progress`` as each band comes."""
    for top, _, rgb in bands:
        if progress is not None:
            progress(top + len(rgb), shape[0])
        yield rgb


def _first_pass(
    source: Path, input_bits, mode: str, size: int | None
) -> tuple[float | None, np.ndarray | None]:
    """One streamed pass over a file's rows, for the strength of the non-local means it gets
    under ``mode`` (``None``: not denoised) and, for a colour context of ``size`` px
    (``None``: none), the context copy of its rows as they are; no pass for neither."""
    if mode == "off" and size is None:
        return None, None
    meter = NoiseMeter()
    reader = open_rows(source, input_bits)
    try:
        if size is None:
            return filter_strength(noise_of_rows(reader, reader.shape), mode), None

        def read(top: int, bottom: int) -> np.ndarray:
            rows = reader(top, bottom)
            if mode != "off":
                meter.feed(rows)  # the copy's bands run top to bottom, as the meter needs
            return rows

        small = downscale_rows(read, reader.shape, size)
    finally:
        reader.close()
    return (None if mode == "off" else filter_strength(meter.sigma(), mode)), small


def _context_rows(source: Path, input_bits, size: int, strength: float) -> np.ndarray:
    """The context copy (long side ``size``) of a file's rows denoised by ``strength``."""
    reader = open_rows(source, input_bits)
    try:
        return downscale_rows(denoised_rows(reader, reader.shape[0], strength), reader.shape, size)
    finally:
        reader.close()
