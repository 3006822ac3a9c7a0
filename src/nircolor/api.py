"""The Python API that the command line is a thin layer over."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import ImageReadError
from .filters import apply_guided
from .io import as_grey, read_nir, write_image
from .models import Colorizer, load_model
from .tiling import (
    AUTO_TILE_PIXELS,
    DEFAULT_TILE,
    STREAM_PIXELS,
    colorize_large_file,
    image_size,
    tile_colorize,
)


@lru_cache(maxsize=8)
def _cached_model(model: str) -> Colorizer:
    return load_model(model)


def get_model(model: str | os.PathLike | Colorizer) -> Colorizer:
    """Return a loaded model from a name, a folder path or an already loaded model."""
    if isinstance(model, (str, os.PathLike)):
        return _cached_model(str(model))
    return model


def colorize(
    nir: np.ndarray,
    model: str | os.PathLike | Colorizer = "default",
    guided: tuple[int, float] | None = None,
    tile: int | None = None,
) -> np.ndarray:
    """Colorize a near-infrared image.

    Parameters
    ----------
    nir : ndarray
        ``(H, W)`` NIR image, float in [0, 1] (or uint8 / uint16, scaled to [0, 1]);
        ``(H, W, 3)`` with equal channels is accepted.
    model : str, path or model
        A registered model name (``"default"``, ``"l3"``...), a model folder, or a loaded model.
    guided : (radius, eps) or False, optional
        Post-process with the guided filter, the NIR image as guide, to restore sharp edges.
        ``None`` uses the model's own default (learned models may carry one in their
        config), ``False`` switches the filter off.
    tile : int, optional
        Colorize in pieces (see :func:`nircolor.tiling.tile_colorize`): row bands of at most
        ``tile`` rows for local models such as L3 (exact), overlapping ``tile × tile`` tiles
        cross-faded for others. Images above :data:`~nircolor.tiling.AUTO_TILE_PIXELS`
        pixels are tiled with :data:`~nircolor.tiling.DEFAULT_TILE` when it is not given.

    Returns
    -------
    rgb : ndarray of float32
        ``(H, W, 3)`` sRGB image in [0, 1].
    """
    nir = _as_unit_float(nir)
    if nir.ndim == 3:
        nir = as_grey(nir, name="input")
    if nir.ndim != 2 or nir.shape[0] == 0 or nir.shape[1] == 0:
        raise ValueError(f"NIR image must be a non-empty (H, W) array, got shape {nir.shape}")
    loaded = get_model(model)
    if hasattr(loaded, "specialist_for"):  # routed: classify the whole image, not each tile
        loaded = loaded.specialist_for(nir)
    guided = resolve_guided(loaded, guided)
    if tile is None and nir.size > AUTO_TILE_PIXELS:
        tile = DEFAULT_TILE
    if tile is not None:
        return tile_colorize(nir, loaded, tile=tile, guided=guided)
    rgb = loaded.predict(nir)
    if guided is not None:
        rgb = apply_guided(nir, rgb, *guided)
    return rgb


def resolve_guided(model: Colorizer, guided) -> tuple[int, float] | None:
    """The guided filter to apply: the one asked for, else the model's default; ``False``: none."""
    if guided is False:
        return None
    if guided is None:
        default = getattr(model, "guided", None)
        return (int(default[0]), float(default[1])) if default else None
    return guided


def colorize_file(
    source: str | os.PathLike,
    target: str | os.PathLike,
    model: str | os.PathLike | Colorizer = "default",
    guided: tuple[int, float] | None = None,
    bit_depth: int = 8,
    overwrite: bool = False,
    tile: int | None = None,
) -> Path:
    """Read an NIR file, colorize it and write the colour image atomically to ``target``.

    Files above :data:`~nircolor.tiling.STREAM_PIXELS` pixels (judged from the header), or
    any file when ``tile`` is given, are streamed in row bands in bounded memory
    (:func:`nircolor.tiling.colorize_large_file`).
    """
    if tile is not None or _header_pixels(source) > STREAM_PIXELS:
        loaded = get_model(model)
        return colorize_large_file(
            source,
            target,
            loaded,
            guided=resolve_guided(loaded, guided),
            bit_depth=bit_depth,
            overwrite=overwrite,
            tile=DEFAULT_TILE if tile is None else tile,
        )
    nir = read_nir(source)
    rgb = colorize(nir, model=model, guided=guided)
    return write_image(target, rgb, bit_depth=bit_depth, overwrite=overwrite)


def _header_pixels(source: str | os.PathLike) -> int:
    try:
        height, width = image_size(source)
    except ImageReadError:
        return 0  # the whole-image reader reports the problem
    return height * width


def _as_unit_float(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    if image.dtype == np.uint16:
        return image.astype(np.float32) / 65535.0
    image = image.astype(np.float32, copy=False)
    if image.size and (np.nanmin(image) < 0 or np.nanmax(image) > 1 or np.isnan(image).any()):
        raise ValueError("a float NIR image must hold values in [0, 1]")
    return image
