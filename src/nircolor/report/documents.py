"""The report's documents: ``report.md``, ``report.html`` and ``metrics.json``.

The Markdown and the HTML show the same content: a summary table, per-category tables
(built with :mod:`nircolor.metric_tables`, like every metrics table of nircolor), the
per-channel histograms and the comparison grids drawn by :mod:`.figures`. The HTML page is
plain HTML with the style sheet ``report.css`` (package data) inlined, so it opens from disk
without a network.
"""

from __future__ import annotations

import html
import json
import os
import platform
import re
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import __version__
from ..data import Pair
from ..evaluate import Evaluation
from ..metric_tables import (
    HIGHER_IS_BETTER,
    METRIC_NAMES,
    METRICS,
    MS_PER_IMAGE,
    Table,
    best_flags,
    evaluation_table,
    format_metric,
    metrics_table,
)
from ..models import ALIASES
from .figures import DE_MAX, HIST_BINS

if TYPE_CHECKING:
    from .build import ReportContent

__all__ = [
    "GRID_NOTE",
    "HISTOGRAM_NOTE",
    "METRICS_DOC",
    "METRICS_NOTE",
    "category_comparison",
    "category_table",
    "html_style",
    "metric_definitions",
    "render_html",
    "render_markdown",
    "summary_table",
    "write_json",
]


@cache
def html_style() -> str:
    """The report's style sheet (``report.css``, shipped with the package)."""
    return files(__package__).joinpath("report.css").read_text(encoding="utf-8")


METRICS_DOC = "metrics.md"
"""The metric definitions, copied from the package (``nircolor/docs``) beside each report."""


@cache
def metric_definitions() -> str:
    """The text of ``nircolor/docs/metrics.md``, shipped with the package."""
    return files("nircolor").joinpath("docs", METRICS_DOC).read_text(encoding="utf-8")


def write_json(path: Path, content: ReportContent) -> None:
    """Write ``metrics.json``: each model's ``nircolor evaluate --json`` and its ms/image."""
    document = {
        "data": content.data,
        "manifest": content.manifest,
        "split": content.split,
        "created": content.created,
        "threads": content.threads,
        "models": {
            name: {**e.to_json(), "ms_per_image": content.ms_per_image[name]}
            for name, e in content.evaluations.items()
        },
    }
    if content.grey is not None:
        document["nir_as_grey"] = content.grey.to_json()
    text = json.dumps(document, indent=2, allow_nan=False, default=float)
    path.write_text(text + "\n", encoding="utf-8")


# -------------------------------------------------------------------------------- tables


def summary_table(content: ReportContent) -> Table:
    """Models by rows: n, every metric and ms/image; the best value of each column flagged;
    then the NIR shown as grey on the same pairs, a reference row (never flagged)."""
    rows = {
        name: {**e.summary, "ms": content.ms_per_image[name]}
        for name, e in content.evaluations.items()
    }
    columns = [*METRIC_NAMES, MS_PER_IMAGE]
    table = metrics_table(rows, first="model", metrics=columns, best=True)
    if content.grey is not None:
        grey = {content.grey.model: {**content.grey.summary, "ms": None}}
        table.add_section()
        table.add_row(metrics_table(grey, first="model", metrics=columns).rows[0])
    return table


def category_comparison(content: ReportContent, metric: str = "de00") -> Table:
    """Categories by rows, models by columns: one metric, the best of each row flagged."""
    per_model = {name: e.by_category() for name, e in content.evaluations.items()}
    categories = list(next(iter(per_model.values())))
    table = Table(["category", "n", *content.models])
    for category in categories:
        values = [per_model[name][category][metric] for name in content.models]
        n = next(iter(per_model.values()))[category]["n"]
        flags = best_flags(values, HIGHER_IS_BETTER[metric], METRICS[metric].target)
        table.add_row(
            [category, n, *(format_metric(metric, v) for v in values)], [False, False, *flags]
        )
    return table


def category_table(evaluation: Evaluation) -> Table:
    """One model: every metric per category, then per collection (if several), then all."""
    return evaluation_table(evaluation)


# ------------------------------------------------------------------------------ documents


def _pair_caption(content: ReportContent, pair: Pair) -> str:
    scores = content.pair_scores(pair)
    mean = np.mean([row["de00"] for row in scores.values()])
    return f"{pair.id} ({pair.category}); ΔE00 averaged over the models {mean:.2f}"


def _header_lines(content: ReportContent) -> list[str]:
    source = content.data or "pairs"
    if content.data:
        source += f" ({f'manifest {content.manifest}' if content.manifest else 'no manifest'})"
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
    "in CIELAB (sRGB, D65, 2° observer). The colour ratio, hue accuracy and detail ratio are "
    "pooled (ratios of sums over the images); the detail ratio is the RMS of the high-pass "
    "(σ = 1.5 px) of L* over the truth's (1 is as sharp, below 1 blurred, above 1 noisier); "
    "GMSD (Xue et al. 2014) is the deviation of gradient-magnitude similarity on half-size "
    "luma (0 for identical edges, lower is better). 'NIR shown as grey' is the reference "
    "every colorizer must beat, scored on the same images. ms/image is the mean colorization "
    "time (model and guided filter, not reading or scoring) after one warm-up image. Exact "
    "definitions: "
    "{link}, beside this report."
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


def render_markdown(content: ReportContent) -> str:
    """The report as Markdown (GitHub tables; figures from ``img/``)."""
    lines = ["# nircolor report", "", *(f"{line}  " for line in _header_lines(content)), ""]
    lines += ["## Summary", "", *summary_table(content).markdown_lines(_md_escape), ""]
    note = METRICS_NOTE.format(link=f"[{METRICS_DOC}]({METRICS_DOC})")
    lines += ["Bold: the best value of each column.", "", note, ""]
    lines += ["## Per category", "", "### ΔE00 per category (lower is better)", ""]
    lines += [*category_comparison(content).markdown_lines(_md_escape), ""]
    for name, evaluation in content.evaluations.items():
        lines += [
            f"### {_md_escape(name)}",
            "",
            *category_table(evaluation).markdown_lines(_md_escape),
            "",
        ]
    lines += ["## True vs predicted, per channel", ""]
    lines += [HISTOGRAM_NOTE.format(bins=HIST_BINS), ""]
    lines += [f"![true vs predicted per channel]({content.figures['channels']})", ""]
    for title, pairs in _pair_sections(content):
        lines += [f"## {title}", "", GRID_NOTE.format(top=DE_MAX), ""]
        for pair in pairs:
            caption = _md_escape(_pair_caption(content, pair))
            lines += [f"**{caption}**", "", f"![{caption}]({content.figures[pair.id]})", ""]
    return "\n".join(lines)


def _pair_sections(content: ReportContent) -> list[tuple[str, list[Pair]]]:
    sections = []
    if content.chosen:
        sections.append(("Chosen images: the first of each category", content.chosen))
    if content.worst:
        sections.append(("Worst images: highest ΔE00 averaged over the models", content.worst))
    return sections


def _md_escape(text: str) -> str:
    return re.sub(r"([\\|*_`\[\]<>])", r"\\\1", text)


def render_html(content: ReportContent) -> str:
    """The report as one HTML page with plain CSS; figures from ``img/``."""
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>nircolor report: {esc(', '.join(content.models))}</title>",
        f"<style>\n{html_style()}</style></head><body><main>",
        "<h1>nircolor report</h1>",
        *(f'<p class="meta">{esc(line)}</p>' for line in _header_lines(content)),
        _html_nav(content),
        '<h2 id="summary">Summary</h2>',
        _html_table(summary_table(content)),
        '<p class="note">Bold: the best value of each column. '
        + esc(METRICS_NOTE).format(link=f'<a href="{METRICS_DOC}">{METRICS_DOC}</a>')
        + "</p>",
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


def _html_nav(content: ReportContent) -> str:
    links = [("summary", "Summary"), ("categories", "Per category"), ("channels", "Channels")]
    links += [(f"images{i}", t.split(":")[0]) for i, (t, _) in enumerate(_pair_sections(content))]
    return "<nav>" + "".join(f'<a href="#{a}">{html.escape(t)}</a>' for a, t in links) + "</nav>"


def _html_table(table: Table) -> str:
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
        total = table.is_total(len(body))
        body.append(('<tr class="total">' if total else "<tr>") + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _html_figure(source: str, alt: str, caption: str) -> str:
    esc = html.escape
    text = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure>{text}<img src="{esc(source)}" alt="{esc(alt)}"></figure>'
