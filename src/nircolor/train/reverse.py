"""``nircolor train reverse``: fit the RGB → NIR (pseudo-NIR) model on the pairs of a data
folder (:mod:`nircolor.models.l3.reverse`) and save it as a model folder."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..data import load_dataset, load_pair
from ..errors import DataError
from ..models.l3 import L3Config, fit_reverse_l3
from .common import (
    TrainResult,
    check_output_folder,
    machine_description,
    save_model_folder,
    timestamp,
)
from .l3 import LazyPairs


def train_reverse(
    data: str | os.PathLike,
    output: str | os.PathLike,
    split: str = "fit",
    seed: int = 0,
    overwrite: bool = False,
    command: str | None = None,
    progress: Callable[[int, int | None], object] | None = None,
) -> TrainResult:
    """Fit the reverse L3 model on the ``split`` pairs of ``data`` and write its folder.

    Parameters
    ----------
    data : path
        Folder of NIR/RGB pairs (its MANIFEST.csv split is honoured).
    output : path
        Model folder to write (``config.json`` + ``weights.npz``).
    split : str
        Rows to fit on (default ``fit``: the train rows less the scene holdout).
    seed : int
        Pixel sampling seed.
    overwrite : bool
        Replace an existing folder.
    command, progress
        The command line for the record; ``progress(done, total)`` after every image.

    Returns
    -------
    TrainResult
        With the mean squared error of the model on the ``holdout`` rows in ``info``
        (when ``split`` is ``fit``).
    """
    output = Path(output)
    check_output_folder(output, overwrite, [data])
    pairs = load_dataset(data, split=split, seed=seed)
    if not pairs:
        raise DataError(f"{data}: the '{split}' split holds no pairs")
    start = time.perf_counter()
    model = fit_reverse_l3(LazyPairs(pairs), L3Config(seed=seed), progress=progress)
    seconds = time.perf_counter() - start
    model.info.update(
        {
            "data": str(data),
            "split": split,
            "n_pairs": len(pairs),
            "seed": seed,
            "command": command,
            "seconds": round(seconds, 2),
            "machine": machine_description(),
            "date": timestamp(),
        }
    )
    if split == "fit":
        held_out = load_dataset(data, split="holdout", seed=seed)
        errors = [np.mean((model.predict(rgb) - nir) ** 2) for nir, rgb in map(load_pair, held_out)]
        model.info["holdout_mse"] = round(float(np.mean(errors)), 6) if errors else None
    save_model_folder(output, model.save, overwrite, [data])
    return TrainResult(output, len(pairs), seconds, model.info)
