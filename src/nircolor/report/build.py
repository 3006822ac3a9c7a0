"""Scoring models on pairs for a report, and writing the report folder.

:func:`build_report` scores every model with :func:`nircolor.evaluate.evaluate_model` (so its
numbers are exactly those of ``nircolor evaluate``), collects the true-vs-predicted
histograms (:class:`ChannelHistogram`), picks the images to show, and writes the folder
through :mod:`.figures` and :mod:`.documents`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..api import colorize, get_model
from ..data import Pair, load_pair
from ..errors import DataError, NircolorError
from ..evaluate import Evaluation, evaluate_grey, evaluate_model
from ..extras import require_extra
from ..io import write_folder_atomic
from ..io.outputs import check_output_folder
from ..models import Colorizer, resolve_model_path
from ..runtime import check_parallel
from .documents import (
    METRICS_DOC,
    metric_definitions,
    render_html,
    render_markdown,
    write_json,
)
from .figures import HIST_BINS, write_figures

__all__ = [
    "ChannelHistogram",
    "Progress",
    "Report",
    "ReportContent",
    "build_report",
    "choose_images",
    "load_colorizer",
    "require_matplotlib",
    "worst_images",
]


N_CHOSEN = 12
"""Most images shown as 'chosen' (the first image of each category, in pair order)."""

N_WORST = 4
"""Images shown as 'worst' (highest ΔE00 averaged over the models)."""

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: a stage (``"evaluating l3"``, ``"figures"``) advances."""


@dataclass
class Report:
    """What :func:`build_report` wrote."""

    output: Path
    evaluations: dict[str, Evaluation]
    ms_per_image: dict[str, float]
    chosen: list[Pair]
    worst: list[Pair]
    seconds: float
    grey: Evaluation | None = None
    """The NIR shown as grey, scored on the same pairs."""


# -------------------------------------------------------------------------------- inputs


def require_matplotlib() -> None:
    """Raise :class:`~nircolor.errors.MissingExtraError` (one line) if matplotlib is missing."""
    require_extra("report", "nircolor report")


def load_colorizer(model: str | os.PathLike, threads: int | None = None) -> Colorizer:
    """:func:`nircolor.api.get_model`, with ``threads`` checked when given (1 to
    :data:`~nircolor.runtime.MAX_PARALLEL`)."""
    check_parallel("threads", threads)
    return get_model(model, threads)


def choose_images(pairs: Sequence[Pair], limit: int = N_CHOSEN) -> list[Pair]:
    """The first pair of each category, in the order of ``pairs``, at most ``limit`` of them."""
    seen: set[str] = set()
    chosen = []
    for pair in pairs:
        if pair.category not in seen and len(chosen) < limit:
            seen.add(pair.category)
            chosen.append(pair)
    return chosen


def worst_images(
    evaluations: Sequence[Evaluation], pairs: Sequence[Pair], count: int = N_WORST
) -> list[Pair]:
    """The ``count`` pairs of highest ΔE00 averaged over the models, worst first.

    Ties keep the order of ``pairs``. Every evaluation must hold one row per pair, in order.
    """
    if not evaluations or count <= 0:
        return []
    scores = np.mean([[row["de00"] for row in e.images] for e in evaluations], axis=0)
    order = sorted(range(len(pairs)), key=lambda i: -scores[i])
    return [pairs[i] for i in order[:count]]


# ---------------------------------------------------------------------------- evaluation


class ChannelHistogram:
    """Counts of (true, predicted) value pairs per channel, on a grid of bins over [0, 1]².

    ``counts[c, i, j]`` is the number of pixels whose true value of channel ``c`` is in bin
    ``i`` and whose predicted value is in bin ``j``. Bins are ``[k / bins, (k + 1) / bins)``
    (values outside [0, 1] go to the end bins), so with 256 bins each 8-bit level has its own.
    ``squared_error[c]`` sums ``(pred - true) ** 2`` exactly (float64), for the RMSE.
    """

    def __init__(self, bins: int = HIST_BINS) -> None:
        self.bins = bins
        self.counts = np.zeros((3, bins, bins), dtype=np.int64)
        self.squared_error = np.zeros(3, dtype=np.float64)

    def add(self, pred: np.ndarray, true: np.ndarray) -> None:
        """Count every pixel of an ``(H, W, 3)`` prediction against its truth."""
        true_bins = self._bin(true)
        pred_bins = self._bin(pred)
        for c in range(3):
            flat = true_bins[..., c].ravel() * self.bins + pred_bins[..., c].ravel()
            self.counts[c] += np.bincount(flat, minlength=self.bins**2).reshape(
                self.bins, self.bins
            )
        diff = pred.astype(np.float64) - true
        self.squared_error += np.einsum("ijc,ijc->c", diff, diff)

    def _bin(self, image: np.ndarray) -> np.ndarray:
        scaled = np.floor(np.asarray(image, dtype=np.float32) * self.bins)
        return np.clip(scaled, 0, self.bins - 1).astype(np.int64)

    @property
    def rmse(self) -> np.ndarray:
        """Root-mean-square error per channel."""
        n = self.counts[0].sum()
        return np.sqrt(self.squared_error / max(n, 1))

    def mean_prediction(self, channel: int, min_count: int = 20) -> tuple[np.ndarray, np.ndarray]:
        """Bin centres of the true values and the mean predicted value in each, for the
        bins holding at least ``min_count`` pixels."""
        counts = self.counts[channel].astype(np.float64)
        centres = (np.arange(self.bins) + 0.5) / self.bins
        totals = counts.sum(axis=1)
        keep = totals >= min_count
        means = (counts[keep] @ centres) / totals[keep]
        return centres[keep], means


@contextmanager
def _opencv_threads(threads: int | None):
    if threads is None:
        yield
        return
    previous = cv2.getNumThreads()
    cv2.setNumThreads(threads)
    try:
        yield
    finally:
        cv2.setNumThreads(previous)


def _evaluate(
    name: str,
    model: Colorizer,
    pairs: Sequence[Pair],
    histogram: ChannelHistogram,
    progress: Progress | None,
) -> Evaluation:
    stage = f"evaluating {name}"
    done = 0

    def advance(_pair: Pair) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(stage, done, len(pairs))

    if progress is not None:
        progress(stage, 0, len(pairs))
    colorize(load_pair(pairs[0])[0], model=model)  # warm-up, so ms/image is steady-state
    evaluation = evaluate_model(
        model,
        pairs,
        progress=advance,
        on_prediction=lambda _pair, prediction, rgb: histogram.add(prediction, rgb),
    )
    evaluation.model = name
    return evaluation


# ------------------------------------------------------------------------------ building


def build_report(
    models: Sequence[str],
    pairs: Sequence[Pair],
    output: str | os.PathLike,
    *,
    data: str | None = None,
    split: str | None = None,
    manifest: str | None = None,
    overwrite: bool = False,
    threads: int | None = None,
    n_chosen: int = N_CHOSEN,
    n_worst: int = N_WORST,
    progress: Progress | None = None,
) -> Report:
    """Score ``models`` on ``pairs`` and write the report folder ``output``.

    Parameters
    ----------
    models : sequence of str
        Model names or folders, each at most once; the report keeps their order.
    pairs : sequence of Pair
        The pairs to score (e.g. from :func:`nircolor.data.load_dataset`).
    output : path
        Report folder. It must not exist or be empty, unless ``overwrite`` (then it is
        replaced, once the new report is complete).
    data, split, manifest : str, optional
        Where the pairs come from (folder, split, manifest file), for the report's header and
        ``metrics.json``.
    overwrite : bool
        Replace a non-empty ``output``.
    threads : int, optional
        CPU threads of the models and of OpenCV (see :func:`load_colorizer`).
    n_chosen, n_worst : int
        Most 'chosen' images (first of each category) and number of 'worst' images shown.
    progress : callable, optional
        ``progress(stage, done, total)``, called as each stage advances.

    Returns
    -------
    Report

    Raises
    ------
    MissingExtraError
        If matplotlib is not installed.
    NircolorError
        For an unknown model, no pairs, or an unusable ``output``; nothing is written then.
    """
    start = time.perf_counter()
    require_matplotlib()
    models = [str(m) for m in models]
    pairs = list(pairs)
    output = Path(output).expanduser()
    if not models:
        raise NircolorError("no models given")
    duplicates = sorted({m for m in models if models.count(m) > 1})
    if duplicates:
        raise NircolorError(f"models given more than once: {', '.join(duplicates)}")
    if not pairs:
        raise DataError("no NIR/RGB pairs to report on")
    check_parallel("threads", threads)
    if n_chosen < 0 or n_worst < 0:
        raise NircolorError("n_chosen and n_worst must not be negative")
    keep = [p.nir for p in pairs] + [p.rgb for p in pairs]
    keep += [resolve_model_path(m) for m in models]
    check_output_folder(output, overwrite, keep, allow_empty=True)
    loaded = {name: load_colorizer(name, threads) for name in models}

    histograms = {name: ChannelHistogram() for name in models}
    with _opencv_threads(threads):
        evaluations = {
            name: _evaluate(name, loaded[name], pairs, histograms[name], progress)
            for name in models
        }
        grey = evaluate_grey(pairs)
        chosen = choose_images(pairs, n_chosen)
        worst = worst_images(list(evaluations.values()), pairs, n_worst)
        ms = {name: float(np.mean([r["ms"] for r in e.images])) for name, e in evaluations.items()}
        content = ReportContent(
            evaluations=evaluations,
            ms_per_image=ms,
            pairs=pairs,
            chosen=chosen,
            worst=worst,
            data=data,
            split=split,
            manifest=manifest,
            threads=threads,
            grey=grey,
        )

        def write(folder: Path) -> None:
            write_figures(folder, content, loaded, histograms, progress)
            write_json(folder / "metrics.json", content)
            (folder / METRICS_DOC).write_text(metric_definitions(), encoding="utf-8")
            (folder / "report.md").write_text(render_markdown(content), encoding="utf-8")
            (folder / "report.html").write_text(render_html(content), encoding="utf-8")

        _write_folder(output, write, overwrite, keep)
    return Report(output, evaluations, ms, chosen, worst, time.perf_counter() - start, grey)


@dataclass
class ReportContent:
    """Everything the documents show; figures are added as they are drawn."""

    evaluations: dict[str, Evaluation]
    ms_per_image: dict[str, float]
    pairs: list[Pair]
    chosen: list[Pair]
    worst: list[Pair]
    data: str | None
    split: str | None
    threads: int | None
    manifest: str | None = None
    grey: Evaluation | None = None
    """The NIR shown as grey on the same pairs: a reference row of the summary."""
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    figures: dict[str, str] = field(default_factory=dict)
    """Figure file (relative to the report) by key: ``channels`` or a pair id."""

    @property
    def models(self) -> list[str]:
        return list(self.evaluations)

    def pair_scores(self, pair: Pair) -> dict[str, dict]:
        """The evaluation row of ``pair`` for every model."""
        index = self.pairs.index(pair)
        return {name: e.images[index] for name, e in self.evaluations.items()}


def _write_folder(
    output: Path, write: Callable[[Path], None], overwrite: bool, keep: Sequence[Path]
) -> None:
    """Fill a temporary sibling of ``output`` with ``write`` and rename it into place."""
    try:  # the output is checked again before the swap: evaluating took a while
        write_folder_atomic(
            output, write, lambda: check_output_folder(output, overwrite, keep, allow_empty=True)
        )
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise NircolorError(f"{output}: cannot write the report ({reason})") from None
