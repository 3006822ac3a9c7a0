"""A colorizer's lightness offset, fitted on the ``fit`` rows (``nircolor calibrate``).

A net trained with losses that are not the mean squared error can be brighter or darker than
the truth on average, even on the rows it was trained on: the shipped default was 1.8 L*
too bright on its own ``fit`` rows (BENCHMARKS.md, "Lightness calibration"). The offset is

    offset = mean over the fit images of (mean L*_truth − mean L*_colorized)

with each image colorized as :func:`nircolor.colorize` gives it (colour context and finish
included, no offset). The mean is over images, not pixels, as ΔE00 and PSNR are per-image
means. The folder written keeps the offset as ``lightness_offset`` in ``config.json``, and
:meth:`~nircolor.models.onnx.OnnxColorizer.predict` moves the net's lightness by it, each
pixel's a* and b* kept (:func:`nircolor.filters.shift_lightness`). Every path therefore
gets it: whole images, the colour context, tiles, streamed files, video and the service.

Only ``fit`` rows are read (never ``holdout``, never ``val``); whether a calibrated model
ships is decided on ``holdout`` (``benchmarks/bench_default.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import Pair, load_pair
from ..errors import ModelError
from ..filters.detail import MAX_LIGHTNESS_OFFSET, srgb_lightness
from ..io.atomic import write_folder_atomic
from .onnx import LIGHTNESS_OFFSET_KEY, OnnxColorizer
from .quantize import CALIBRATION_SPLIT, calibration_pairs
from .registry import (
    CARD_NAME,
    CONFIG_NAME,
    load_model,
    output_model_folder,
    resolve_model_path,
)

RECORD_KEY = "lightness_calibration"
CARD_HEADING = "## Lightness calibration"


@dataclass
class LightnessResult:
    folder: Path
    offset: float
    images: int
    spread: float
    """Standard deviation of the per-image differences the offset is the mean of."""
    seconds: float


def mean_lightness(rgb: np.ndarray) -> float:
    """Mean CIELAB L* (D65) of an sRGB image in [0, 1]."""
    return float(srgb_lightness(np.asarray(rgb, dtype=np.float32)[..., :3]).mean(dtype=np.float64))


def lightness_differences(
    model, pairs: Sequence[Pair], progress: Callable[[int, int], object] | None = None
) -> np.ndarray:
    """Per pair, mean L* of the truth minus mean L* of ``model``'s colorization of its NIR
    (as :func:`nircolor.colorize` gives it); ``progress(done, total)`` after each."""
    from ..api import colorize  # the API decides the context, the tiles and the finish

    differences = []
    for done, pair in enumerate(pairs, 1):
        nir, truth = load_pair(pair)
        differences.append(mean_lightness(truth) - mean_lightness(colorize(nir, model=model)))
        if progress is not None:
            progress(done, len(pairs))
    return np.array(differences)


def calibrate_lightness(
    model: str | os.PathLike,
    output: str | os.PathLike,
    data: str | os.PathLike,
    images: int | None = None,
    seed: int = 0,
    overwrite: bool = False,
    command: str | None = None,
    progress: Callable[[int, int], object] | None = None,
) -> LightnessResult:
    """Write ``output``: the ONNX colorizer folder ``model`` with its lightness offset fitted
    on the ``fit`` rows of ``data`` (see the module).

    Parameters
    ----------
    model : name or path
        An ONNX colorizer (a shipped name such as ``sharp``, or a folder). One calibrated
        before is fitted again from no offset.
    output : path
        The folder to write (atomically); it may be ``model``'s own folder (with
        ``overwrite``).
    data : path
        The pairs whose ``fit`` rows are read (``../shared/data``).
    images : int, optional
        How many ``fit`` images to read, drawn with ``seed`` (default: all of them).
    overwrite : bool
        Replace an existing ``output``.
    command : str, optional
        The command line, kept in the record.
    progress : callable, optional
        ``progress(done, total)`` after each image.
    """
    started = time.perf_counter()
    if images is not None and images < 1:
        raise ModelError(f"images must be at least 1, not {images}")
    folder = resolve_model_path(model)
    output = output_model_folder(output, overwrite, [data], source=folder)
    net = load_model(folder)
    if not isinstance(net, OnnxColorizer):
        raise ModelError(f"{model}: only ONNX colorizers can be calibrated, not a {net.kind} model")
    pairs = calibration_pairs(data, images, seed)
    differences = lightness_differences(net.with_lightness_offset(0.0), pairs, progress)
    offset = float(np.clip(differences.mean(), -MAX_LIGHTNESS_OFFSET, MAX_LIGHTNESS_OFFSET))
    record = {
        "offset": round(offset, 3),
        "data": str(data),
        "split": CALIBRATION_SPLIT,
        "images": len(pairs),
        "seed": seed,
        "per_image_std": round(float(differences.std()), 3),
        "method": "mean over images of mean L* of the truth minus mean L* of the colorization",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command,
    }
    config = dict(net.config) | {LIGHTNESS_OFFSET_KEY: record["offset"], RECORD_KEY: record}

    def write(staging: Path) -> None:
        for path in sorted(folder.iterdir()):
            if path.is_file():
                shutil.copy2(path, staging / path.name)
        (staging / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
        card = staging / CARD_NAME
        if card.exists():
            card.write_text(with_card_section(card.read_text(), card_section(record)))

    write_folder_atomic(output, write)
    return LightnessResult(
        folder=output,
        offset=record["offset"],
        images=len(pairs),
        spread=record["per_image_std"],
        seconds=time.perf_counter() - started,
    )


def card_section(record: dict) -> str:
    """The model card's section on the offset."""
    return (
        f"{CARD_HEADING}\n\n"
        f"Lightness offset {record['offset']:+.3f} L* (`lightness_offset` in `config.json`), "
        f"fitted on {record['images']} `{record['split']}` images of `{record['data']}`: the "
        f"{record['method']} (per-image standard deviation {record['per_image_std']:.2f}). "
        f"Command: `{record['command']}`, {record['date']}.\n"
    )


def with_card_section(card: str, section: str) -> str:
    """``card`` with its lightness section replaced by ``section`` (or ``section`` added)."""
    start = card.find(CARD_HEADING)
    if start < 0:
        return card.rstrip("\n") + "\n\n" + section
    end = card.find("\n## ", start + len(CARD_HEADING))
    rest = card[end + 1 :] if end >= 0 else ""
    return card[:start] + section + ("\n" + rest if rest else "")
