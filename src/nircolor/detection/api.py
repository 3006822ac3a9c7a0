"""``nircolor.detect``: the regions of an NIR image, their scene labels and probabilities."""

from __future__ import annotations

import math
import os
from functools import lru_cache

import numpy as np

from ..api import nir_array
from ..errors import ModelError
from ..models import DETECTOR_KIND, load_model, shown_model
from .pipeline import Detection

DEFAULT_MODEL = "detector"
DEFAULT_MIN_PROB = 0.5
"""Detections less probable than this are left out by default."""
DEFAULT_TOP = 10
"""At most this many detections per image by default (the most probable)."""
MAX_TOP = 1000


def check_min_prob(min_prob) -> float:
    """A probability floor in [0, 1]."""
    if isinstance(min_prob, bool):
        raise ValueError(f"min_prob must be a number in [0, 1], not {min_prob!r}")
    try:
        value = float(min_prob)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"min_prob must be a number in [0, 1], not {min_prob!r}") from None
    if not (math.isfinite(value) and 0 <= value <= 1):
        raise ValueError(f"min_prob must be a number in [0, 1], not {min_prob!r}")
    return value


def check_top(top) -> int | None:
    """A detection count from 1 to :data:`MAX_TOP`, or ``None`` (all)."""
    if top is None:
        return None
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)):
        raise ValueError(f"top must be a whole number from 1 to {MAX_TOP}, not {top!r}")
    if not 1 <= int(top) <= MAX_TOP:
        raise ValueError(f"top must be a whole number from 1 to {MAX_TOP}, not {top!r}")
    return int(top)


@lru_cache(maxsize=4)
def _cached_detector(model: str, threads: int | None):
    return load_model(model, threads)


def get_detector(model=DEFAULT_MODEL, threads: int | None = None):
    """A loaded region detector from a name, a folder or a loaded detector (names and folders
    are cached); anything else, a colorizer or the scene classifier, is refused."""
    if isinstance(model, (str, os.PathLike)):
        loaded = _cached_detector(str(model), threads)
    else:
        loaded = model
    kind = getattr(loaded, "kind", None)
    if kind != DETECTOR_KIND:
        raise ModelError(f"{shown_model(model)}: not a region detector (kind '{kind}')")
    return loaded


def detect(
    nir: np.ndarray,
    model=DEFAULT_MODEL,
    min_prob: float = DEFAULT_MIN_PROB,
    top: int | None = DEFAULT_TOP,
    input_bits: int | None = None,
) -> list[Detection]:
    """Detect the scene regions of a near-infrared image.

    Parameters
    ----------
    nir : ndarray
        The NIR image, as :func:`nircolor.colorize` takes it (``(H, W)`` floats in [0, 1],
        uint8 / uint16, equal-channel ``(H, W, 3)``...), checked the same way.
    model : str, path or detector
        A registered name (``"detector"``), a model folder or a loaded detector.
    min_prob : float
        Leave out detections less probable than this (in [0, 1]).
    top : int or None
        At most this many detections, the most probable (``None``: all).
    input_bits : int, optional
        As for :func:`nircolor.colorize`.

    Returns
    -------
    list of Detection
        ``(box, label, probability)``, most probable first; ``box`` is ``(x0, y0, x1, y1)``
        in input pixels (``x1``, ``y1`` exclusive).

    Raises
    ------
    TypeError
        If ``nir`` is a path rather than an array.
    ValueError
        For a bad array or a bad ``min_prob`` / ``top``.
    ModelError
        For an unknown model, or one that is not a region detector.
    """
    if isinstance(nir, (str, bytes, os.PathLike)):
        raise TypeError(
            f"detect() takes an image array, not the path {str(nir)!r}: read_nir() reads one"
        )
    min_prob, top = check_min_prob(min_prob), check_top(top)
    nir = nir_array(nir, input_bits)
    return get_detector(model).detect(nir, min_prob=min_prob, top=top)
