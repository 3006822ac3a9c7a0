"""A visual report: several models scored on the same pairs, as Markdown, HTML and JSON.

:func:`build_report` scores every model with :func:`nircolor.evaluate.evaluate_model`, so its
numbers are exactly those of ``nircolor evaluate``, and writes one folder:

``metrics.json``
    ``{"data", "manifest", "split", "created", "threads", "models": {name: ...}}``; each
    model holds what ``nircolor evaluate --json`` writes (``model, summary, categories,
    collections, images``) plus ``ms_per_image``.
``report.md``, ``report.html``
    The same content twice: a summary table, per-category tables, per-channel 2-D histograms
    of true against predicted values, and comparison grids (NIR | each model | ground truth,
    with a ΔE00 map per model under each prediction) for the first image of every category
    and for the images with the highest ΔE00 averaged over the models. The HTML page is
    plain HTML and CSS and opens from disk without a network.
``img/``
    The figures (PNG) that both documents show.
``metrics.md``
    The exact metric definitions (a copy of ``nircolor/docs/metrics.md``), which both
    documents link.

The folder is filled as a temporary sibling and renamed into place only when complete.
Figures are drawn on matplotlib's Agg canvas (the ``report`` extra), no display needed.

The package: :mod:`.build` scores the models and writes the folder, :mod:`.figures` draws
the figures, :mod:`.documents` renders the Markdown, HTML (with ``report.css``) and JSON.
"""

from __future__ import annotations

from ..metric_tables import METRIC_FORMATS, METRIC_LABELS
from .build import (
    N_CHOSEN,
    N_WORST,
    ChannelHistogram,
    Progress,
    Report,
    ReportContent,
    build_report,
    choose_images,
    load_colorizer,
    require_matplotlib,
    worst_images,
)
from .documents import (
    category_comparison,
    category_table,
    render_html,
    render_markdown,
    summary_table,
)
from .figures import DE_MAX, HIST_BINS

__all__ = [
    "DE_MAX",
    "HIST_BINS",
    "METRIC_FORMATS",
    "METRIC_LABELS",
    "N_CHOSEN",
    "N_WORST",
    "ChannelHistogram",
    "Progress",
    "Report",
    "ReportContent",
    "build_report",
    "category_comparison",
    "category_table",
    "choose_images",
    "load_colorizer",
    "render_html",
    "render_markdown",
    "require_matplotlib",
    "summary_table",
    "worst_images",
]
