"""``nircolor train l3``: fit an L3 model on the pairs of a data folder."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ..cfa import cfa_cell
from ..data import Pair, load_dataset, load_pair
from ..errors import DataError
from ..evaluate import evaluate_model
from ..models import CARD_NAME
from ..models.l3 import L3Config, fit_l3, fit_l3_cfa
from .common import (
    TrainResult,
    check_output_folder,
    machine_description,
    model_card,
    save_model_folder,
    timestamp,
)


class LazyPairs(Sequence):
    """A sequence of pairs read from disk on access (so L3 can pass over them twice)."""

    def __init__(self, pairs: Sequence[Pair], mosaic: bool = False) -> None:
        self.pairs = list(pairs)
        self.mosaic = mosaic

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index):
        return load_pair(self.pairs[index], self.mosaic)


def train_l3(
    data: str | os.PathLike,
    output: str | os.PathLike,
    categories: Sequence[str] | None = None,
    patch: int = 5,
    seed: int = 0,
    split: str = "train",
    overwrite: bool = False,
    command: str | None = None,
    progress: Callable[[int, int | None], object] | None = None,
    cfa: str | None = None,
    **config_overrides,
) -> TrainResult:
    """Train L3 on the ``split`` pairs of ``data`` and save it as a model folder.

    Parameters
    ----------
    data : path
        Folder of NIR/RGB pairs (its MANIFEST.csv split is honoured).
    output : path
        Model folder to write (``config.json`` + ``weights.npz``).
    categories : list of str, optional
        Train on these categories only.
    patch, seed : int
        L3 patch size and sampling seed.
    split : {"train", "val", "all"}
        Rows to train on.
    cfa : str, optional
        The inputs are raw colour-filter-array mosaics of this pattern (``"rgbir"``,
        :data:`nircolor.cfa.PATTERNS`): train L3 with per-pixel-type classes
        (:func:`~nircolor.models.l3.fit_l3_cfa`).
    config_overrides
        Other :class:`~nircolor.models.l3.L3Config` fields.

    Returns
    -------
    TrainResult
    """
    output = Path(output)
    check_output_folder(output, overwrite, [data])
    cell = None if cfa is None else cfa_cell(cfa)
    pairs = load_dataset(data, split=split, categories=categories, seed=seed)
    if not pairs:
        raise DataError(f"{data}: the '{split}' split holds no pairs")
    try:
        config = L3Config(patch=patch, seed=seed, **config_overrides)
    except (TypeError, ValueError) as error:
        raise DataError(f"invalid L3 settings: {error}") from None
    start = time.perf_counter()
    if cell is None:
        model = fit_l3(LazyPairs(pairs), config, progress=progress)
    else:
        model = fit_l3_cfa(LazyPairs(pairs, mosaic=True), config, cell, progress=progress)
    seconds = time.perf_counter() - start
    model.info.update(
        {
            "data": str(data),
            "split": split,
            "categories": sorted({p.category for p in pairs}),
            "n_pairs": len(pairs),
            "seed": seed,
            "command": command,
            "seconds": round(seconds, 2),
            "machine": machine_description(),
            "date": timestamp(),
        }
    )
    evaluation = None
    if split == "train":
        val_pairs = load_dataset(data, split="val", categories=categories, seed=seed)
        evaluation = (
            evaluate_model(model, val_pairs, guided=False, grey=True) if val_pairs else None
        )
    types = "" if cell is None else f"{cfa} raw mosaics, 4 pixel types × "
    card = model_card(
        f"L3 colorizer ({config.patch}×{config.patch} patches, "
        f"{types}{config.n_levels}×{config.n_contrasts} classes)",
        L3_DESCRIPTION if cell is None else L3_CFA_DESCRIPTION,
        model.info,
        evaluation,
    )

    def write(folder: Path) -> None:
        model.save(folder)
        (folder / CARD_NAME).write_text(card)

    save_model_folder(output, write, overwrite, [data])
    return TrainResult(output, len(pairs), seconds, model.info, evaluation)


L3_DESCRIPTION = (
    "L3 (Local, Linear, Learned; Jiang, Tian, Farrell and Wandell, IEEE TIP 2017) for a "
    "monochrome NIR sensor: every pixel's P×P neighbourhood is classed by its mean level and "
    "contrast (quantile cut points of the training data) and each class maps the patch to the "
    "centre pixel's RGB with its own ridge regression (λ chosen per class and channel by "
    "generalised cross-validation). Pure numpy: no torch, no GPU."
)

L3_CFA_DESCRIPTION = (
    "L3 for a raw colour-filter-array sensor (an RGB-IR mosaic: G R / B IR from the top-left "
    "pixel): every pixel is classed by its pixel type (R, G, B or IR) and by the mean level "
    "and contrast of its raw P×P patch, and each class maps the raw patch to the centre "
    "pixel's RGB with its own ridge regression: demosaicking, IR removal and colour rendering "
    "in one learned step. Inputs are 16-bit single-channel raw mosaics."
)
