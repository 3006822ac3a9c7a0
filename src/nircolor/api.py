"""The Python API that the command line is a thin layer over."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from .filters import apply_guided
from .io import as_grey, read_nir, write_image
from .models import Colorizer, load_model


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
) -> np.ndarray:
    """Colorize a near-infrared image.

    Parameters
    ----------
    nir : ndarray
        ``(H, W)`` NIR image, float in [0, 1] (or uint8 / uint16, scaled to [0, 1]);
        ``(H, W, 3)`` with equal channels is accepted.
    model : str, path or model
        A registered model name (``"default"``, ``"l3"``...), a model folder, or a loaded model.
    guided : (radius, eps), optional
        Post-process with the guided filter, the NIR image as guide, to restore sharp edges.

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
    rgb = get_model(model).predict(nir)
    if guided is not None:
        rgb = apply_guided(nir, rgb, *guided)
    return rgb


def colorize_file(
    source: str | os.PathLike,
    target: str | os.PathLike,
    model: str | os.PathLike | Colorizer = "default",
    guided: tuple[int, float] | None = None,
    bit_depth: int = 8,
    overwrite: bool = False,
) -> Path:
    """Read an NIR file, colorize it and write the colour image atomically to ``target``."""
    nir = read_nir(source)
    rgb = colorize(nir, model=model, guided=guided)
    return write_image(target, rgb, bit_depth=bit_depth, overwrite=overwrite)


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
