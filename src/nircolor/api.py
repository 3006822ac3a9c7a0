"""The Python API that the command line and the service are thin layers over.

:func:`colorize` colorizes an array in memory (tiled above
:data:`~nircolor.tiling.AUTO_TILE_PIXELS` pixels); :func:`colorize_file` a file into a file,
streamed by row bands through :func:`colorize_large_file` (:mod:`nircolor.streamed`) above
:data:`~nircolor.tiling.STREAM_PIXELS` pixels. :func:`resolve_context` and
:func:`check_not_input` are the context's and the output files' own, offered here too.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np

from .cfa import read_mosaic
from .context import ColourContext, colorize_whole, resolve_context
from .data import NIR_SUFFIX, output_name  # noqa: F401  (part of the API)
from .errors import ImageReadError, ModelError
from .filters import DetailTransfer, Finish, GuidedFilter, check_denoise, denoise_input
from .io import as_grey, read_nir, samples_to_float, write_image
from .io.atomic import check_not_input
from .io.marks import COLORIZED_BY
from .io.samples import check_array_type, check_input_bits, sample_bits
from .io.stream import image_size
from .models import Colorizer, check_nir, load_model, refuse_classifier, shown_model
from .models.l3.cfa import check_mosaic_rendering, takes_mosaic
from .models.l3.reverse import pseudo_nir  # noqa: F401  (the API's RGB -> NIR)
from .streamed import RowProgress, colorize_large_file
from .tiling import (
    AUTO_TILE_PIXELS,
    DEFAULT_TILE,
    STREAM_PIXELS,
    STREAM_TILE,
    check_int,
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
    TypeError
        For anything else than a name, a path or a loaded model (``None``, a number...).
    """
    loaded = _cached_model(str(model), threads) if isinstance(model, (str, os.PathLike)) else model
    if not callable(getattr(loaded, "predict", None)) or not hasattr(loaded, "kind"):
        raise TypeError(f"model must be a name, a model folder or a loaded model, not {model!r}")
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
        A model with a colour ``context`` is never tiled in memory: its net colours at most
        the context's copy, in one piece (an image no larger than it is its own copy).
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
        If ``nir`` is a path rather than an array, or ``model`` is no model (``None``...).
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
    tile = None if tile is None else check_int(tile, "tile", 1)  # checked even when unused
    loaded = get_model(model)
    if not takes_mosaic(loaded):  # a mosaic's pixel pattern is no noise
        nir = denoise_input(nir, denoise)
    loaded = loaded.for_image(nir)  # routed: classify the whole image, not each tile
    finish = resolve_finish(loaded, guided, detail)
    context = resolve_context(loaded, context)
    if takes_mosaic(loaded):
        check_mosaic_rendering(finish, context, nir.shape)
    if not context:  # a context's net colours at most its size, in one piece: never tiled
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
        with _array_errors():
            nir = as_grey(nir, name="input")
    return check_nir(nir)


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
    with _array_errors():
        return samples_to_float(image, "NIR image", sample_bits(image.dtype, None, input_bits))


@contextmanager
def _array_errors():
    """An array from Python code that is no NIR image is a ValueError, as numpy's are (the
    readers' checks raise ImageReadError for files)."""
    try:
        yield
    except ImageReadError as error:
        raise ValueError(str(error)) from None
