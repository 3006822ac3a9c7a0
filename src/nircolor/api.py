"""The Python API that the command line and the service are thin layers over.

:func:`colorize` colorizes an array in memory (tiled above
:data:`~nircolor.tiling.AUTO_TILE_PIXELS` pixels); :func:`colorize_file` a file into a file,
streamed by row bands through :func:`colorize_large_file` above
:data:`~nircolor.tiling.STREAM_PIXELS` pixels.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

from .cfa import read_mosaic
from .context import (
    ColourContext,
    colorize_in_context,
    colorized_copy,
    colour_at_sharp_scale,
    downscale_rows,
)
from .data import NIR_SUFFIX, output_name  # noqa: F401  (part of the API)
from .errors import ImageReadError, ModelError, is_an_input
from .filters import DetailTransfer, Finish, GuidedFilter, check_denoise, denoise_input
from .filters.denoise import NoiseMeter, denoised_rows, filter_strength, noise_of_rows
from .io import as_grey, read_nir, samples_to_float, to_uint, write_image
from .io.atomic import file_id, output_path
from .io.band_writers import check_output, write_bands
from .io.marks import COLORIZED_BY
from .io.samples import check_array_type, check_input_bits, sample_bits
from .io.stream import image_size, open_rows
from .models import Colorizer, check_nir, load_model, refuse_classifier, shown_model
from .models.l3.cfa import check_mosaic_rendering, takes_mosaic
from .models.l3.reverse import pseudo_nir  # noqa: F401  (the API's RGB -> NIR)
from .tiling import (
    AUTO_TILE_PIXELS,
    DEFAULT_TILE,
    STREAM_PIXELS,
    STREAM_TILE,
    check_tile,
    colorize_bands,
    default_overlap,
    predictor,
    tile_colorize,
)


@lru_cache(maxsize=8)
def _cached_model(model: str, threads: int | None) -> Colorizer:
    return load_model(model, threads)


def get_model(model: str | os.PathLike | Colorizer, threads: int | None = None) -> Colorizer:
    """Return a loaded colorizer from a name, a folder path or an already loaded model.

    Models loaded by name or path are cached per ``threads`` (``None``: the model's default).
    Every colorizing path loads its model here, so a scene classifier is refused here, once
    (:func:`~nircolor.load_model` loads one for classifying).

    Raises
    ------
    ModelError
        For an unknown or invalid model, or a scene classifier.
    """
    loaded = _cached_model(str(model), threads) if isinstance(model, (str, os.PathLike)) else model
    refuse_classifier(loaded.kind, model)
    return loaded


def with_temperature(model: str | os.PathLike | Colorizer, temperature: float | None) -> Colorizer:
    """``model`` (as :func:`get_model` takes it) decoding at another annealed-mean
    temperature (``zhang`` models; lower is more vivid); ``None``: ``model`` as it is.

    Raises
    ------
    ModelError
        If the model has no temperature, or ``temperature`` is not in [0.01, 10]; the
        message names ``model`` as given (``default``, not the folder it stands for).
    """
    loaded = get_model(model)
    if temperature is None:
        return loaded
    try:
        if not hasattr(loaded, "with_temperature"):
            raise ModelError(f"a {loaded.kind} model has no temperature (zhang models have)")
        return loaded.with_temperature(temperature)
    except ModelError as error:
        raise ModelError(f"{shown_model(model)}: {error}") from None


def colorize(
    nir: np.ndarray,
    model: str | os.PathLike | Colorizer = "default",
    guided: GuidedFilter | None = None,
    tile: int | None = None,
    input_bits: int | None = None,
    context: ColourContext | int | None = None,
    detail: DetailTransfer | None = None,
    denoise: str = "auto",
) -> np.ndarray:
    """Colorize a near-infrared image.

    Parameters
    ----------
    nir : ndarray
        ``(H, W)`` NIR image, float in [0, 1] (or uint8 / uint16, their full range scaled to
        [0, 1]; bool as 0 and 1); ``(H, W, 3)`` with equal channels is accepted. Signed
        integers and other types are refused (is 255 in an int32 8-bit white or 16-bit
        black?), and so are NaN and infinity.
        A file is colorized by :func:`colorize_file`, or read by :func:`~nircolor.read_nir`.
    model : str, path or model
        A registered model name (``"default"``, ``"l3"``...), a model folder, or a loaded model.
    guided : GuidedFilter, optional
        Post-process with the guided filter, the NIR image as guide, to restore sharp edges.
        ``None`` uses the model's own default (learned models may carry one in their
        config), :data:`GuidedFilter.OFF` (or ``False``) switches the filter off; a
        ``(radius, eps)`` pair is accepted too.
    tile : int, optional
        Colorize in pieces (see :func:`nircolor.tiling.tile_colorize`): row bands of at most
        ``tile`` rows for local models such as L3 (exact), overlapping ``tile × tile`` tiles
        cross-faded for others. Images above :data:`~nircolor.tiling.AUTO_TILE_PIXELS`
        pixels are tiled with :data:`~nircolor.tiling.DEFAULT_TILE` when it is not given.
    input_bits : int, optional
        Integer samples hold ``input_bits``-bit values (12 for 12-bit data in uint16):
        ``2**input_bits - 1`` is white.
    context : ColourContext or int, optional
        Where the colours of an image larger than ``context.size`` come from: the model
        colorizes a copy of that size and the colours are carried to full size along the
        NIR's edges (:mod:`nircolor.context`), so they do not change with image size or
        tiling. ``None`` uses the model's own setting, ``0`` switches it off.
    detail : DetailTransfer, optional
        Give the lightness the full-resolution NIR's detail above a Gaussian of ``sigma`` px,
        times ``gain`` (:mod:`nircolor.filters.detail`), after the guided filter. ``None``
        uses the model's own default, :data:`DetailTransfer.OFF` (or ``False``) none; a
        ``(gain, sigma)`` pair is accepted too.
    denoise : {"auto", "on", "off"}
        Non-local means on the NIR first (:mod:`nircolor.filters.denoise`): ``"auto"`` only
        when its noise, estimated from the image, is above that of a clean camera image (a
        clean image is colorized as with ``"off"``); ``"on"`` always. Raw mosaics are never
        denoised.

    Returns
    -------
    rgb : ndarray of float32
        ``(H, W, 3)`` sRGB image in [0, 1].

    Raises
    ------
    TypeError
        If ``nir`` is a path rather than an array.
    ValueError
        For a bad array (shape, sample type, NaN, values outside [0, 1]) or a bad setting.
    """
    if isinstance(nir, (str, bytes, os.PathLike)):
        raise TypeError(
            f"colorize() takes an image array, not the path {str(nir)!r}: colorize_file() "
            "colorizes a file into a file, read_nir() reads one as an array"
        )
    nir = nir_array(nir, input_bits)
    denoise = check_denoise(denoise)
    loaded = get_model(model)
    if not takes_mosaic(loaded):  # a mosaic's pixel pattern is no noise
        nir = denoise_input(nir, denoise)
    loaded = loaded.for_image(nir)  # routed: classify the whole image, not each tile
    finish = resolve_finish(loaded, guided, detail)
    context = resolve_context(loaded, context)
    if takes_mosaic(loaded):
        check_mosaic_rendering(finish, context, nir.shape)
    if not context.applies(nir.shape):
        if tile is None and nir.size > AUTO_TILE_PIXELS:
            tile = DEFAULT_TILE
        if tile is not None:
            return tile_colorize(nir, loaded, tile=tile, guided=finish.guided, detail=finish.detail)
    return colorize_whole(nir, loaded.predict, context, finish)


def nir_array(nir, input_bits: int | None = None) -> np.ndarray:
    """The checks and scaling :func:`colorize` applies to an NIR array (see its ``nir`` and
    ``input_bits``): ``(H, W)`` float32 in [0, 1]; ``ValueError`` for a bad array."""
    nir = _as_unit_float(nir, check_input_bits(input_bits))
    if nir.ndim == 3 and nir.shape[2] != 1:
        nir = as_grey(nir, name="input")
    return check_nir(nir)


def colorize_whole(
    nir: np.ndarray,
    predict: Callable[[np.ndarray], np.ndarray],
    context: ColourContext,
    finish: Finish,
) -> np.ndarray:
    """``predict``'s colours of a whole in-memory image: through ``context`` when the image
    is larger than it, then ``finish`` (the guided filter, the NIR's detail). Training
    validates with this too, so an epoch is chosen on the pictures :func:`colorize` gives.
    An image no larger than ``context`` is its own copy: a soft one is coloured at its
    sharp scale (:func:`nircolor.context.colour_at_sharp_scale`)."""
    if context.applies(nir.shape):
        rgb = colorize_in_context(nir, predict, context)
    else:
        rgb = colour_at_sharp_scale(nir, predict, context.sigma) if context else predict(nir)
    return finish(nir, rgb) if finish else rgb


def resolve_finish(model: Colorizer, guided, detail) -> Finish:
    """What finishes ``model``'s colours: the guided filter and detail transfer asked for,
    else the model's defaults; ``OFF``: none."""
    return Finish(
        _asked_or_default(GuidedFilter.of(guided), model.guided),
        _asked_or_default(DetailTransfer.of(detail), getattr(model, "detail", None)),
    )


def _asked_or_default(asked, default):
    if asked is None:
        return default or None
    return asked or None


def resolve_context(model: Colorizer, context) -> ColourContext:
    """The colour context to use: the one asked for, else the model's; ``OFF``: none."""
    context = ColourContext.of(context)
    if context is None:
        return model.context or ColourContext.OFF
    return context


def colorize_file(
    source: str | os.PathLike,
    target: str | os.PathLike,
    model: str | os.PathLike | Colorizer = "default",
    guided: GuidedFilter | None = None,
    bit_depth: int = 8,
    overwrite: bool = False,
    tile: int | None = None,
    input_bits: int | None = None,
    context: ColourContext | int | None = None,
    progress: RowProgress | None = None,
    detail: DetailTransfer | None = None,
    denoise: str = "auto",
) -> Path:
    """Read an NIR file, colorize it and write the colour image atomically to ``target``.

    Files above :data:`~nircolor.tiling.STREAM_PIXELS` pixels (judged from the header), or
    any file when ``tile`` is given, are streamed in row bands in bounded memory
    (:func:`colorize_large_file`).
    ``input_bits`` is as for :func:`~nircolor.read_image` (12 for a 12-bit camera's 16-bit
    files), ``context``, ``guided``, ``detail`` and ``denoise`` as for :func:`colorize`.
    ``target`` may not be ``source`` (nor a link to it). A raw-mosaic (CFA) model reads
    ``source`` whole as a 16-bit raw mosaic (:func:`~nircolor.cfa.read_mosaic`). A streamed
    file calls ``progress(rows_done, rows_total)`` after each band.
    """
    check_not_input(source, target)
    input_bits = check_input_bits(input_bits)
    denoise = check_denoise(denoise)
    if takes_mosaic(loaded := get_model(model)):
        raw = read_mosaic(source, input_bits)
        rgb = colorize(raw, loaded, guided, tile, context=context, detail=detail)
        return write_image(target, rgb, bit_depth, overwrite, COLORIZED_BY)
    if tile is not None or _header_pixels(source) > STREAM_PIXELS:
        finish = resolve_finish(loaded, guided, detail)
        return colorize_large_file(
            source,
            target,
            loaded,
            guided=finish.guided,
            detail=finish.detail,
            bit_depth=bit_depth,
            overwrite=overwrite,
            tile=STREAM_TILE if tile is None else tile,
            input_bits=input_bits,
            context=context,
            progress=progress,
            denoise=denoise,
        )
    nir = read_nir(source, input_bits)
    rgb = colorize(nir, loaded, guided, context=context, detail=detail, denoise=denoise)
    return write_image(target, rgb, bit_depth, overwrite, COLORIZED_BY)


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
    size = context.size if context.applies(image_size(source)) else None
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


RowProgress = Callable[[int, int], object]
"""``progress(rows_done, rows_total)`` of a file colorized by row bands."""


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


def check_not_input(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Refuse an empty ``target`` or one that is the file ``source`` (same path, symlink or
    hard link)."""
    target_id = file_id(output_path(target))
    if target_id is not None and target_id == file_id(source):
        raise is_an_input(target)


def _header_pixels(source: str | os.PathLike) -> int:
    try:
        height, width = image_size(source)
    except ImageReadError:
        return 0  # the whole-image reader reports the problem
    return height * width


def _as_unit_float(image: np.ndarray, input_bits: int | None = None) -> np.ndarray:
    image = np.asarray(image)
    check_array_type(image, "NIR image")
    if image.size == 0:
        return image.astype(np.float32)  # check_nir names the empty shape
    try:
        return samples_to_float(image, "NIR image", sample_bits(image.dtype, None, input_bits))
    except ImageReadError as error:  # arrays from Python code: a ValueError, as numpy's
        raise ValueError(str(error)) from None
