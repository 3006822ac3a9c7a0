"""A visual report: several models scored on the same pairs, as Markdown, HTML and JSON.

:func:`build_report` scores every model with :func:`nircolor.evaluate.evaluate_model`, so its
numbers are exactly those of ``nircolor evaluate``, and writes one folder:

``metrics.json``
    ``{"data", "split", "created", "threads", "models": {name: ...}}``; each model holds what
    ``nircolor evaluate --json`` writes (``model, summary, categories, collections, images``)
    plus ``ms_per_image``.
``report.md``, ``report.html``
    The same content twice: a summary table, per-category tables, per-channel 2-D histograms
    of true against predicted values, and comparison grids (NIR | each model | ground truth,
    with a ΔE00 map per model under each prediction) for the first image of every category
    and for the images with the highest ΔE00 averaged over the models. The HTML page is
    plain HTML and CSS and opens from disk without a network.
``img/``
    The figures (PNG) that both documents show.

The folder is filled as a temporary sibling and renamed into place only when complete.
Figures are drawn on matplotlib's Agg canvas (the ``report`` extra), no display needed.
"""

from __future__ import annotations

import html
import inspect
import json
import os
import platform
import re
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from . import __version__
from .api import colorize, get_model
from .data import Pair, load_pair
from .errors import DataError, MissingExtraError, NircolorError
from .evaluate import Evaluation, evaluate_model
from .io import write_folder_atomic
from .metrics import HIGHER_IS_BETTER, METRIC_LABELS, METRIC_NAMES, delta_e00_map
from .models import ALIASES, Colorizer, load_model, read_config, resolve_model_path

__all__ = [
    "ChannelHistogram",
    "Report",
    "build_report",
    "choose_images",
    "load_colorizer",
    "require_matplotlib",
    "worst_images",
]

INSTALL_HINT = "pip install 'nircolor[report]'"

N_CHOSEN = 12
"""Most images shown as 'chosen' (the first image of each category, in pair order)."""

N_WORST = 4
"""Images shown as 'worst' (highest ΔE00 averaged over the models)."""

HIST_BINS = 256
"""Bins per axis of the true-vs-predicted histograms (one per 8-bit level)."""

DE_MAX = 40.0
"""Top of the ΔE00 colour scale of the error maps (larger errors are drawn at the top)."""

PANEL_INCHES = 2.5
PANEL_PIXELS = 400  # images are shrunk to this width before drawing (area averaging)
DPI = 100

METRIC_FORMATS = {
    "psnr": "{:.2f}",
    "ssim": "{:.4f}",
    "ae": "{:.2f}",
    "de00": "{:.2f}",
    "de76": "{:.2f}",
    "mse": "{:.5f}",
}

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


# -------------------------------------------------------------------------------- inputs


def require_matplotlib() -> None:
    """Raise :class:`~nircolor.errors.MissingExtraError` (one line) if matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise MissingExtraError(
            f"nircolor report needs matplotlib (the report extra): {INSTALL_HINT}"
        ) from None


def load_colorizer(model: str | os.PathLike, threads: int | None = None) -> Colorizer:
    """Load a model, optionally bound to a number of CPU threads.

    Parameters
    ----------
    model : name or path
        A registered model name or a model folder.
    threads : int, optional
        Threads of ONNX models (onnxruntime intra-op threads) and of models whose
        ``predict`` takes ``threads`` (L3). ``None`` keeps each model's own default (and
        the cached model of :func:`nircolor.api.get_model`).

    Returns
    -------
    model : Colorizer
    """
    if threads is None:
        return get_model(model)
    if threads < 1:
        raise NircolorError(f"threads must be at least 1, not {threads}")
    folder = resolve_model_path(model)
    config = read_config(folder)
    if config.get("kind") == "onnx":
        from .models.onnx import OnnxColorizer

        return OnnxColorizer(folder, config, threads=threads)
    loaded = load_model(model)
    if "threads" in inspect.signature(loaded.predict).parameters:
        return _ThreadBound(loaded, threads)
    return loaded


class _ThreadBound:
    """A model whose ``predict`` runs on ``threads`` threads; every other attribute is its own."""

    def __init__(self, model: Colorizer, threads: int) -> None:
        self._model = model
        self._threads = threads

    def __getattr__(self, name: str):
        return getattr(self._model, name)

    def predict(self, nir: np.ndarray) -> np.ndarray:
        return self._model.predict(nir, threads=self._threads)


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


def _check_output(output: Path, overwrite: bool, keep: Sequence[Path] = ()) -> None:
    """Refuse an output that is a file, a non-empty folder (without ``overwrite``), or a
    folder holding something the run needs (``keep``) or the current folder."""
    if output.exists() and not output.is_dir():
        raise NircolorError(f"{output}: exists and is not a folder")
    if not output.is_dir() or not any(output.iterdir()):
        return
    if not overwrite:
        raise NircolorError(f"{output}: exists and is not empty (use --overwrite to replace it)")
    resolved = output.resolve()
    for path in (Path.cwd(), *keep):
        path = Path(path).resolve()
        if path == resolved or resolved in path.parents:
            raise NircolorError(f"{output}: refusing to replace a folder that holds {path}")


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
    data, split : str, optional
        Where the pairs come from, for the report's header and ``metrics.json``.
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
    if threads is not None and threads < 1:
        raise NircolorError(f"threads must be at least 1, not {threads}")
    if n_chosen < 0 or n_worst < 0:
        raise NircolorError("n_chosen and n_worst must not be negative")
    keep = [p.nir for p in pairs] + [p.rgb for p in pairs]
    keep += [resolve_model_path(m) for m in models]
    _check_output(output, overwrite, keep)
    loaded = {name: load_colorizer(name, threads) for name in models}

    histograms = {name: ChannelHistogram() for name in models}
    with _opencv_threads(threads):
        evaluations = {
            name: _evaluate(name, loaded[name], pairs, histograms[name], progress)
            for name in models
        }
        chosen = choose_images(pairs, n_chosen)
        worst = worst_images(list(evaluations.values()), pairs, n_worst)
        ms = {name: float(np.mean([r["ms"] for r in e.images])) for name, e in evaluations.items()}
        content = _Content(
            evaluations=evaluations,
            ms_per_image=ms,
            pairs=pairs,
            chosen=chosen,
            worst=worst,
            data=data,
            split=split,
            threads=threads,
        )

        def write(folder: Path) -> None:
            _write_figures(folder, content, loaded, histograms, progress)
            _write_json(folder / "metrics.json", content)
            (folder / "report.md").write_text(render_markdown(content), encoding="utf-8")
            (folder / "report.html").write_text(render_html(content), encoding="utf-8")

        _write_folder(output, write, overwrite, keep)
    return Report(output, evaluations, ms, chosen, worst, time.perf_counter() - start)


@dataclass
class _Content:
    """Everything the documents show; figures are added as they are drawn."""

    evaluations: dict[str, Evaluation]
    ms_per_image: dict[str, float]
    pairs: list[Pair]
    chosen: list[Pair]
    worst: list[Pair]
    data: str | None
    split: str | None
    threads: int | None
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
        write_folder_atomic(output, write, lambda: _check_output(output, overwrite, keep))
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise NircolorError(f"{output}: cannot write the report ({reason})") from None


def _write_json(path: Path, content: _Content) -> None:
    document = {
        "data": content.data,
        "split": content.split,
        "created": content.created,
        "threads": content.threads,
        "models": {
            name: {**e.to_json(), "ms_per_image": content.ms_per_image[name]}
            for name, e in content.evaluations.items()
        },
    }
    text = json.dumps(document, indent=2, allow_nan=False, default=float)
    path.write_text(text + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------- figures


def _write_figures(
    folder: Path,
    content: _Content,
    loaded: dict[str, Colorizer],
    histograms: dict[str, ChannelHistogram],
    progress: Progress | None,
) -> None:
    (folder / "img").mkdir()
    shown = list(dict.fromkeys(content.chosen + content.worst))
    total = len(shown) + 1
    if progress is not None:
        progress("figures", 0, total)
    _save(_channel_figure(histograms), folder / "img" / "channels.png")
    content.figures["channels"] = "img/channels.png"
    if progress is not None:
        progress("figures", 1, total)
    for number, pair in enumerate(shown, start=1):
        nir, rgb = load_pair(pair)
        predictions = {name: colorize(nir, model=model) for name, model in loaded.items()}
        scores = {name: row["de00"] for name, row in content.pair_scores(pair).items()}
        figure = _pair_figure(nir, rgb, predictions, scores)
        name = f"img/pair_{number:02d}_{_slug(pair.id)}.png"
        _save(figure, folder / name)
        content.figures[pair.id] = name
        if progress is not None:
            progress("figures", number + 1, total)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")[:60] or "image"


def _short(name: str) -> str:
    """A model's name as a figure title: the last part of a path."""
    return Path(name).name or name


def _save(figure, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=DPI)


def _shrink(image: np.ndarray, width: int = PANEL_PIXELS) -> np.ndarray:
    """An image at most ``width`` pixels wide (area averaging), for display."""
    height, current = image.shape[:2]
    if current <= width:
        return image
    size = (width, max(1, round(height * width / current)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _channel_figure(histograms: dict[str, ChannelHistogram]):
    """Rows of models, columns R, G, B: log-scaled 2-D histograms of true vs predicted."""
    from matplotlib import colormaps
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    rows = len(histograms)
    figure = Figure(figsize=(3 * 2.9 + 1.0, rows * 2.8 + 0.4), layout="constrained")
    axes = figure.subplots(rows, 3, squeeze=False, sharex=True, sharey=True)
    peak = max(int(h.counts.max()) for h in histograms.values())
    norm = LogNorm(vmin=1, vmax=max(peak, 10))
    cmap = colormaps["viridis"].with_extremes(bad="white")
    image = None
    for row, (name, histogram) in enumerate(histograms.items()):
        for channel, channel_name in enumerate("RGB"):
            ax = axes[row, channel]
            counts = np.ma.masked_equal(histogram.counts[channel].T, 0)
            image = ax.imshow(
                counts,
                origin="lower",
                extent=(0, 1, 0, 1),
                norm=norm,
                cmap=cmap,
                interpolation="nearest",
            )
            ax.plot([0, 1], [0, 1], color="black", linewidth=0.8, linestyle="--", label="y = x")
            x, mean = histogram.mean_prediction(channel)
            ax.plot(x, mean, color="tab:red", linewidth=1.0, label="mean prediction")
            rmse = histogram.rmse[channel]
            ax.set_title(f"{_short(name)} · {channel_name}   RMSE {rmse:.3f}", fontsize=9)
            ax.tick_params(labelsize=7)
            if row == rows - 1:
                ax.set_xlabel(f"true {channel_name}", fontsize=8)
            if channel == 0:
                ax.set_ylabel("predicted", fontsize=8)
    axes[0, 0].legend(loc="upper left", fontsize=7, framealpha=0.8)
    colorbar = figure.colorbar(image, ax=axes, shrink=min(1.0, 0.9 / rows + 0.3))
    colorbar.set_label("pixels per bin (log scale)", fontsize=8)
    colorbar.ax.tick_params(labelsize=7)
    return figure


def _pair_figure(
    nir: np.ndarray,
    rgb: np.ndarray,
    predictions: dict[str, np.ndarray],
    de00: dict[str, float],
):
    """Top row NIR | each model | truth; bottom row the ΔE00 map under each prediction."""
    from matplotlib.figure import Figure

    columns = len(predictions) + 2
    height, width = nir.shape
    aspect = height / width
    figure = Figure(
        figsize=(columns * PANEL_INCHES, 2 * PANEL_INCHES * aspect + 0.45), layout="constrained"
    )
    axes = figure.subplots(2, columns, squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    _show(axes[0, 0], _shrink(nir), "NIR", cmap="gray")
    _show(axes[0, -1], _shrink(rgb), "ground truth")
    image = None
    for column, (name, prediction) in enumerate(predictions.items(), start=1):
        title = f"{_short(name)}\nΔE00 {de00[name]:.2f}"
        _show(axes[0, column], _shrink(prediction), title)
        error = _shrink(delta_e00_map(prediction, rgb))
        image = axes[1, column].imshow(error, cmap="magma", vmin=0, vmax=DE_MAX)
    axes[1, 0].text(
        0.5,
        0.5,
        "ΔE00 per pixel\n(CIEDE2000)",
        ha="center",
        va="center",
        fontsize=9,
        transform=axes[1, 0].transAxes,
    )
    colorbar_axes = axes[1, -1].inset_axes((0.1, 0.05, 0.12, 0.9))
    colorbar = figure.colorbar(image, cax=colorbar_axes, extend="max")
    colorbar.ax.tick_params(labelsize=7)
    return figure


def _show(ax, image: np.ndarray, title: str, cmap: str | None = None) -> None:
    ax.imshow(np.clip(image, 0, 1), cmap=cmap, vmin=0, vmax=1, interpolation="antialiased")
    ax.set_title(title, fontsize=9)


# ----------------------------------------------------------------------------- documents


@dataclass
class _Table:
    headers: list[str]
    rows: list[list[str]]
    best: list[list[bool]]
    numeric: list[bool]
    total: bool = False
    """Whether the last row is a total (drawn bold)."""


def _best_flags(values: list[float], higher: bool) -> list[bool]:
    if len(values) < 2:
        return [False] * len(values)
    target = max(values) if higher else min(values)
    return [v == target for v in values]


def summary_table(content: _Content) -> _Table:
    """Models by rows: n, every metric and ms/image; the best value of each column flagged."""
    headers = ["model", "n", *(METRIC_LABELS[m] for m in METRIC_NAMES), "ms/image"]
    summaries = {name: e.summary for name, e in content.evaluations.items()}
    rows, best = [], []
    columns = {m: [s[m] for s in summaries.values()] for m in METRIC_NAMES}
    flags = {m: _best_flags(columns[m], HIGHER_IS_BETTER[m]) for m in METRIC_NAMES}
    ms_flags = _best_flags(list(content.ms_per_image.values()), higher=False)
    for index, (name, summary) in enumerate(summaries.items()):
        cells = [METRIC_FORMATS[m].format(summary[m]) for m in METRIC_NAMES]
        rows.append([name, str(summary["n"]), *cells, f"{content.ms_per_image[name]:.1f}"])
        best.append([False, False, *(flags[m][index] for m in METRIC_NAMES), ms_flags[index]])
    return _Table(headers, rows, best, [False] + [True] * (len(headers) - 1))


def category_comparison(content: _Content, metric: str = "de00") -> _Table:
    """Categories by rows, models by columns: one metric, the best of each row flagged."""
    per_model = {name: e.by_category() for name, e in content.evaluations.items()}
    categories = list(next(iter(per_model.values())))
    headers = ["category", "n", *content.models]
    rows, best = [], []
    for category in categories:
        values = [per_model[name][category][metric] for name in content.models]
        n = next(iter(per_model.values()))[category]["n"]
        rows.append([category, str(n), *(METRIC_FORMATS[metric].format(v) for v in values)])
        best.append([False, False, *_best_flags(values, HIGHER_IS_BETTER[metric])])
    return _Table(headers, rows, best, [False] + [True] * (len(headers) - 1))


def category_table(evaluation: Evaluation) -> _Table:
    """One model: every metric per category, then per collection (if several), then all."""
    headers = ["group", "n", *(METRIC_LABELS[m] for m in METRIC_NAMES)]
    groups = list(evaluation.by_category().items())
    collections = evaluation.by_collection()
    if len(collections) > 1:
        groups += list(collections.items())
    groups.append(("all", evaluation.summary))
    rows = [
        [name, str(row["n"]), *(METRIC_FORMATS[m].format(row[m]) for m in METRIC_NAMES)]
        for name, row in groups
    ]
    best = [[False] * len(headers) for _ in rows]
    return _Table(headers, rows, best, [False] + [True] * (len(headers) - 1), total=True)


def _pair_caption(content: _Content, pair: Pair) -> str:
    scores = content.pair_scores(pair)
    mean = np.mean([row["de00"] for row in scores.values()])
    return f"{pair.id} ({pair.category}); ΔE00 averaged over the models {mean:.2f}"


def _header_lines(content: _Content) -> list[str]:
    source = content.data or "pairs"
    if content.split:
        source += f", split {content.split}"
    threads = content.threads if content.threads is not None else "each model's default"
    machine = f"{platform.machine()}, {os.cpu_count()} logical CPUs, {platform.system()}"
    named = [f"{m} (= {ALIASES[m]})" if m in ALIASES else m for m in content.models]
    return [
        f"{len(content.pairs)} images from {source}; models {', '.join(named)}.",
        f"nircolor {__version__}, {content.created}; {machine}; threads: {threads}.",
    ]


METRICS_NOTE = (
    "Every metric is computed per image on sRGB values scaled to [0, 1], then averaged over "
    "the images (PSNR too: the mean of per-image PSNRs). PSNR and SSIM use a data range of 1; "
    "SSIM uses an 11×11 Gaussian window (σ = 1.5), K1 = 0.01, K2 = 0.03, averaged over R, G "
    "and B; AE is the mean angle between RGB vectors; ΔE00 (CIEDE2000) and ΔE76 are computed "
    "in CIELAB (sRGB, D65, 2° observer). ms/image is the mean colorization time (model and "
    "guided filter, not reading or scoring) after one warm-up image. Exact definitions: "
    "docs/metrics.md in the nircolor repository."
)

HISTOGRAM_NOTE = (
    "Each panel counts every pixel of every image: true value (x) against predicted value "
    "(y), {bins}×{bins} bins, colour on a log scale, white where no pixel falls. A perfect "
    "model puts everything on the dashed line y = x; the red line is the mean prediction for "
    "each true value."
)

GRID_NOTE = (
    "Top row: the NIR input, each model's colorization (with its ΔE00 for the image) and the "
    "ground truth. Bottom row: the ΔE00 of every pixel under each colorization, on one "
    "colour scale from 0 to {top:.0f} (brighter is worse)."
)


def render_markdown(content: _Content) -> str:
    """The report as Markdown (GitHub tables; figures from ``img/``)."""
    lines = ["# nircolor report", "", *(f"{line}  " for line in _header_lines(content)), ""]
    lines += ["## Summary", "", *_markdown_table(summary_table(content)), ""]
    lines += ["Bold: the best value of each column.", "", METRICS_NOTE, ""]
    lines += ["## Per category", "", "### ΔE00 per category (lower is better)", ""]
    lines += [*_markdown_table(category_comparison(content)), ""]
    for name, evaluation in content.evaluations.items():
        lines += [f"### {_md_escape(name)}", "", *_markdown_table(category_table(evaluation)), ""]
    lines += ["## True vs predicted, per channel", ""]
    lines += [HISTOGRAM_NOTE.format(bins=HIST_BINS), ""]
    lines += [f"![true vs predicted per channel]({content.figures['channels']})", ""]
    for title, pairs in _pair_sections(content):
        lines += [f"## {title}", "", GRID_NOTE.format(top=DE_MAX), ""]
        for pair in pairs:
            caption = _md_escape(_pair_caption(content, pair))
            lines += [f"**{caption}**", "", f"![{caption}]({content.figures[pair.id]})", ""]
    return "\n".join(lines)


def _pair_sections(content: _Content) -> list[tuple[str, list[Pair]]]:
    sections = []
    if content.chosen:
        sections.append(("Chosen images: the first of each category", content.chosen))
    if content.worst:
        sections.append(("Worst images: highest ΔE00 averaged over the models", content.worst))
    return sections


def _md_escape(text: str) -> str:
    return re.sub(r"([\\|*_`\[\]<>])", r"\\\1", text)


def _markdown_table(table: _Table) -> list[str]:
    def cell(text: str, bold: bool) -> str:
        text = _md_escape(text)
        return f"**{text}**" if bold else text

    lines = ["| " + " | ".join(_md_escape(h) for h in table.headers) + " |"]
    lines.append("|" + "|".join("---:" if n else "---" for n in table.numeric) + "|")
    for index, (row, best) in enumerate(zip(table.rows, table.best, strict=True)):
        bold = table.total and index == len(table.rows) - 1
        cells = (cell(c, b or bold) for c, b in zip(row, best, strict=True))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


HTML_STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d232a;
       margin: 0; background: #f6f7f9; }
main { max-width: 1500px; margin: 0 auto; padding: 24px 32px 64px; background: #fff; }
h1 { margin: 0 0 4px; font-size: 28px; }
h2 { margin: 36px 0 8px; padding-bottom: 4px; border-bottom: 2px solid #e3e6ea; font-size: 21px; }
h3 { margin: 22px 0 6px; font-size: 16px; }
.meta { color: #56606b; margin: 2px 0; }
nav { margin: 14px 0 0; font-size: 14px; }
nav a { margin-right: 14px; color: #1f5fa8; text-decoration: none; }
p.note { color: #3d4650; max-width: 1000px; font-size: 14px; }
table { border-collapse: collapse; margin: 8px 0 6px; font-size: 14px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e3e6ea; white-space: nowrap; }
th { background: #eef1f4; text-align: left; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.best { font-weight: 700; background: #e4f3e6; }
tr.total td { font-weight: 700; border-top: 2px solid #cfd5db; }
.tables { display: flex; flex-wrap: wrap; gap: 10px 40px; }
figure { margin: 14px 0 28px; }
figure img { max-width: 100%; height: auto; border: 1px solid #e3e6ea; }
figcaption { font-size: 14px; color: #3d4650; margin-bottom: 4px; font-weight: 600; }
"""


def render_html(content: _Content) -> str:
    """The report as one HTML page with plain CSS; figures from ``img/``."""
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>nircolor report: {esc(', '.join(content.models))}</title>",
        f"<style>{HTML_STYLE}</style></head><body><main>",
        "<h1>nircolor report</h1>",
        *(f'<p class="meta">{esc(line)}</p>' for line in _header_lines(content)),
        _html_nav(content),
        '<h2 id="summary">Summary</h2>',
        _html_table(summary_table(content)),
        f'<p class="note">Bold: the best value of each column. {esc(METRICS_NOTE)}</p>',
        '<h2 id="categories">Per category</h2>',
        "<h3>ΔE00 per category (lower is better)</h3>",
        _html_table(category_comparison(content)),
        '<div class="tables">',
    ]
    for name, evaluation in content.evaluations.items():
        parts += [f"<div><h3>{esc(name)}</h3>", _html_table(category_table(evaluation)), "</div>"]
    parts += [
        "</div>",
        '<h2 id="channels">True vs predicted, per channel</h2>',
        f'<p class="note">{esc(HISTOGRAM_NOTE.format(bins=HIST_BINS))}</p>',
        _html_figure(content.figures["channels"], "true vs predicted per channel", ""),
    ]
    for index, (title, pairs) in enumerate(_pair_sections(content)):
        parts += [f'<h2 id="images{index}">{esc(title)}</h2>']
        parts += [f'<p class="note">{esc(GRID_NOTE.format(top=DE_MAX))}</p>']
        for pair in pairs:
            caption = _pair_caption(content, pair)
            parts.append(_html_figure(content.figures[pair.id], caption, caption))
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def _html_nav(content: _Content) -> str:
    links = [("summary", "Summary"), ("categories", "Per category"), ("channels", "Channels")]
    links += [(f"images{i}", t.split(":")[0]) for i, (t, _) in enumerate(_pair_sections(content))]
    return "<nav>" + "".join(f'<a href="#{a}">{html.escape(t)}</a>' for a, t in links) + "</nav>"


def _html_table(table: _Table) -> str:
    esc = html.escape
    head = "".join(
        f'<th class="num">{esc(h)}</th>' if n else f"<th>{esc(h)}</th>"
        for h, n in zip(table.headers, table.numeric, strict=True)
    )
    body = []
    for row, best in zip(table.rows, table.best, strict=True):
        cells = []
        for text, is_best, numeric in zip(row, best, table.numeric, strict=True):
            classes = " ".join(c for c, on in (("num", numeric), ("best", is_best)) if on)
            attribute = f' class="{classes}"' if classes else ""
            cells.append(f"<td{attribute}>{esc(text)}</td>")
        total = table.total and len(body) == len(table.rows) - 1
        body.append(('<tr class="total">' if total else "<tr>") + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _html_figure(source: str, alt: str, caption: str) -> str:
    esc = html.escape
    text = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure>{text}<img src="{esc(source)}" alt="{esc(alt)}"></figure>'
