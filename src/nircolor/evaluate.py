"""Score a model on registered pairs: per image, per category, overall."""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .api import colorize, get_model
from .data import Pair, load_pair
from .errors import DataError
from .filters import GuidedFilter
from .io import write_bytes_atomic, write_image
from .metrics import METRIC_NAMES, POOLED_FROM, compute_metrics, mean_metrics
from .models import Colorizer
from .models.l3.cfa import takes_mosaic

GREY = "NIR shown as grey"
"""Name of the reference every colorizer must beat: the NIR image as grey (R = G = B = NIR)."""


@dataclass
class Evaluation:
    """Metrics of one model on a set of pairs."""

    model: str
    images: list[dict] = field(default_factory=list)
    grey: Evaluation | None = None
    """The same pairs scored with the NIR image shown as grey (:data:`GREY`), if asked for."""

    @property
    def summary(self) -> dict:
        return {**mean_metrics(self.images), "n": len(self.images)}

    def by_category(self) -> dict[str, dict]:
        """Mean metrics per category (sorted by name), each with its image count ``n``."""
        return self._grouped("category")

    def by_collection(self) -> dict[str, dict]:
        """Mean metrics per collection (e.g. ``nirscene``, ``vcip2020``)."""
        return self._grouped("collection")

    def _grouped(self, key: str) -> dict[str, dict]:
        groups: dict[str, list[dict]] = defaultdict(list)
        for row in self.images:
            groups[row[key]].append(row)
        return {
            name: {**mean_metrics(rows), "n": len(rows)} for name, rows in sorted(groups.items())
        }

    def to_json(self) -> dict:
        """Summary, groups and images as JSON-ready data (NaN, a ratio of nothing, is None);
        with a grey reference, its own summary, groups and images under ``nir_as_grey``."""
        document = {
            "model": self.model,
            "summary": self.summary,
            "categories": self.by_category(),
            "collections": self.by_collection(),
            "images": self.images,
        }
        if self.grey is not None:
            document["nir_as_grey"] = self.grey.to_json()
        return _nan_to_none(document)

    def write_json(self, path: str | os.PathLike) -> None:
        text = json.dumps(self.to_json(), indent=2, allow_nan=False, default=float)
        write_bytes_atomic(Path(path), text.encode())


POOLED_SUMS = tuple(name for pair in POOLED_FROM.values() for name in pair)
"""Per-image sums behind the pooled metrics, kept in every image row."""


def _nan_to_none(value):
    """``value`` with every NaN (a ratio of nothing, such as the hue accuracy of a grey
    truth) replaced by ``None``, which JSON can hold."""
    if isinstance(value, dict):
        return {key: _nan_to_none(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(item) for item in value]
    if isinstance(value, float) and value != value:
        return None
    return value


def nir_as_grey(nir: np.ndarray) -> np.ndarray:
    """The NIR image shown as grey: ``(H, W, 3)`` with R = G = B = NIR."""
    return np.repeat(np.asarray(nir, dtype=np.float32)[:, :, None], 3, axis=2)


def score_row(pair: Pair, prediction: np.ndarray, rgb: np.ndarray) -> dict:
    """One image's row: ``image, category, collection``, the metrics and the pooled sums."""
    try:
        scores = compute_metrics(prediction, rgb)
    except ValueError as error:
        raise DataError(f"{pair.id}: cannot score ({error})") from None
    scores["psnr"] = min(scores["psnr"], 100.0)
    row = {"image": pair.id, "category": pair.category, "collection": pair.collection}
    row.update({name: float(scores[name]) for name in (*METRIC_NAMES, *POOLED_SUMS)})
    return row


def prediction_path(folder: str | os.PathLike, pair: Pair) -> Path:
    """Where :func:`evaluate_model` saves the prediction of ``pair`` in ``folder``."""
    return Path(folder) / f"{pair.id}.png"


def check_pairs(pairs) -> None:
    """Refuse ``pairs`` unless it is a sequence (list, tuple) of :class:`nircolor.data.Pair`.

    Raises
    ------
    TypeError
        For a string, a non-sequence or any item that is not a Pair, before any work.
    """
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Sequence):
        raise TypeError(
            f"pairs must be a sequence of nircolor.data.Pair, got {type(pairs).__name__}"
        )
    for index, pair in enumerate(pairs):
        if not isinstance(pair, Pair):
            raise TypeError(
                f"pairs must be a sequence of nircolor.data.Pair, item {index} is "
                f"{type(pair).__name__}"
            )


def evaluate_model(
    model: str | os.PathLike | Colorizer,
    pairs: Sequence[Pair],
    guided: GuidedFilter | None = None,
    save_images: str | os.PathLike | None = None,
    progress: Callable[[Pair], None] | None = None,
    on_prediction: Callable[[Pair, np.ndarray, np.ndarray], None] | None = None,
    grey: bool = False,
    load: Callable[[Pair], tuple[np.ndarray, np.ndarray]] | None = None,
    denoise: str = "auto",
) -> Evaluation:
    """Colorize every pair's NIR image with ``model`` and score it against its RGB image.

    Parameters
    ----------
    model : name, path or model
    pairs : sequence of Pair
    guided : GuidedFilter, optional
        Guided-filter post-processing.
    save_images : path, optional
        Folder receiving each prediction as ``<id>.png`` (ids keep their folders).
    progress : callable, optional
        Called with each pair once it is scored.
    on_prediction : callable, optional
        Called as ``on_prediction(pair, prediction, rgb)`` with each scored prediction and
        its true RGB image (float32 ``(H, W, 3)``), outside the timed part; for callers that
        need the images themselves (plots of :mod:`nircolor.report`).
    grey : bool
        Also score the NIR image shown as grey on the same pairs (:func:`evaluate_grey`),
        kept as :attr:`Evaluation.grey`.
    load : callable, optional
        ``load(pair) -> (nir, rgb)`` in place of reading the pair's files
        (:func:`nircolor.data.load_pair`): inputs prepared by the caller, such as the degraded
        NIR images of ``benchmarks/bench_robustness.py`` (the grey reference reads them too).
    denoise : {"auto", "on", "off"}
        As for :func:`~nircolor.colorize` (``"auto"``: as it ships).

    Returns
    -------
    Evaluation
        Per-image rows: ``image, category, collection, ms`` and the metrics of
        :func:`nircolor.metrics.compute_metrics` (``inf`` PSNR is capped at 100 dB).

    Raises
    ------
    TypeError
        If ``pairs`` is not a sequence of :class:`~nircolor.data.Pair` (:func:`check_pairs`).
    """
    check_pairs(pairs)
    loaded = get_model(model)
    evaluation = Evaluation(model=str(model) if isinstance(model, (str, os.PathLike)) else "model")
    mosaic = takes_mosaic(loaded)  # its inputs are raw mosaics, read as such
    for pair in pairs:
        nir, rgb = load(pair) if load is not None else load_pair(pair, mosaic)
        start = time.perf_counter()
        prediction = colorize(nir, model=loaded, guided=guided, denoise=denoise)
        elapsed_ms = (time.perf_counter() - start) * 1000
        row = score_row(pair, prediction, rgb)
        row["ms"] = elapsed_ms
        evaluation.images.append(row)
        if save_images is not None:
            write_image(prediction_path(save_images, pair), prediction, overwrite=True)
        if on_prediction is not None:
            on_prediction(pair, prediction, rgb)
        if progress is not None:
            progress(pair)
    if grey:
        evaluation.grey = evaluate_grey(pairs, load=load)
    return evaluation


def evaluate_grey(
    pairs: Sequence[Pair],
    progress: Callable[[Pair], None] | None = None,
    load: Callable[[Pair], tuple[np.ndarray, np.ndarray]] | None = None,
) -> Evaluation:
    """Score the NIR image shown as grey (R = G = B = NIR) against each pair's RGB image: the
    reference every colorizer must beat, named :data:`GREY`; ``progress(pair)`` after each;
    ``load(pair) -> (nir, rgb)`` in place of reading the pair's files, as in
    :func:`evaluate_model`. TypeError unless ``pairs`` is a sequence of Pair."""
    check_pairs(pairs)
    evaluation = Evaluation(model=GREY)
    for pair in pairs:
        nir, rgb = load(pair) if load is not None else load_pair(pair)
        evaluation.images.append(score_row(pair, nir_as_grey(nir), rgb))
        if progress is not None:
            progress(pair)
    return evaluation
