"""The report's figures, drawn with matplotlib on the Agg canvas (no display needed).

:func:`channel_figure` draws the per-channel 2-D histograms of true against predicted values,
:func:`pair_figure` one comparison grid (NIR | each model | ground truth, with the ΔE00 map
of each prediction under it), and :func:`write_figures` saves them all under ``img/``.
matplotlib (the ``report`` extra) is imported only when a figure is drawn.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..api import colorize
from ..data import load_pair
from ..metrics import delta_e00_map
from ..models import Colorizer

if TYPE_CHECKING:
    from .build import ChannelHistogram, Progress, ReportContent

__all__ = ["DE_MAX", "HIST_BINS", "channel_figure", "pair_figure", "write_figures"]

HIST_BINS = 256
"""Bins per axis of the true-vs-predicted histograms (one per 8-bit level)."""

DE_MAX = 40.0
"""Top of the ΔE00 colour scale of the error maps (larger errors are drawn at the top)."""

PANEL_INCHES = 2.5
PANEL_PIXELS = 400  # images are shrunk to this width before drawing (area averaging)
DPI = 100


def write_figures(
    folder: Path,
    content: ReportContent,
    loaded: dict[str, Colorizer],
    histograms: dict[str, ChannelHistogram],
    progress: Progress | None,
) -> None:
    (folder / "img").mkdir()
    shown = list(dict.fromkeys(content.chosen + content.worst))
    total = len(shown) + 1
    if progress is not None:
        progress("figures", 0, total)
    _save(channel_figure(histograms), folder / "img" / "channels.png")
    content.figures["channels"] = "img/channels.png"
    if progress is not None:
        progress("figures", 1, total)
    for number, pair in enumerate(shown, start=1):
        nir, rgb = load_pair(pair)
        predictions = {name: colorize(nir, model=model) for name, model in loaded.items()}
        scores = {name: row["de00"] for name, row in content.pair_scores(pair).items()}
        figure = pair_figure(nir, rgb, predictions, scores)
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


def channel_figure(histograms: dict[str, ChannelHistogram]):
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


def pair_figure(
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
