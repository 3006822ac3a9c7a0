"""How nircolor presents its metrics: names, labels, number formats, and one table builder.

Every table of metrics nircolor prints or writes (``nircolor evaluate`` and ``nircolor
report`` on the terminal, the report's Markdown and HTML, the model cards, the benchmark
sections of ``BENCHMARKS.md``) is a :class:`Table` built here, so a metric has one label and
one number format everywhere. :mod:`nircolor.metrics` computes the metrics and re-exports
:data:`METRIC_NAMES`, :data:`METRIC_LABELS` and :data:`HIGHER_IS_BETTER` from here.

This module is part of the core: it imports nothing from the front ends, and only imports
``rich`` when a table is rendered for the terminal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "HIGHER_IS_BETTER",
    "METRICS",
    "METRIC_FORMATS",
    "METRIC_LABELS",
    "METRIC_NAMES",
    "MS_PER_IMAGE",
    "MISSING",
    "Metric",
    "Table",
    "best_flags",
    "evaluation_table",
    "format_metric",
    "metrics_table",
]

MISSING = "—"
"""The cell of a value that is not there (``None``)."""


@dataclass(frozen=True)
class Metric:
    """One column of numbers: its key, heading, format spec and which way is better."""

    name: str
    label: str
    spec: str
    """Format spec of a value, as :func:`format` takes it (``".2f"``)."""
    higher_is_better: bool
    target: float | None = None
    """The best value, for a ratio whose ideal is 1 (the best of a column is the nearest)."""

    def format(self, value: float | None, signed: bool = False) -> str:
        """``value`` as a table cell (with a sign if ``signed``); ``None`` or NaN is a dash."""
        if value is None or value != value:
            return MISSING
        return format(value, ("+" if signed else "") + self.spec)


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("psnr", "PSNR dB", ".2f", True),
        Metric("ssim", "SSIM", ".4f", True),
        Metric("ae", "AE °", ".2f", False),
        Metric("de00", "ΔE00", ".2f", False),
        Metric("de76", "ΔE76", ".2f", False),
        Metric("mse", "MSE", ".5f", False),
        Metric("colourfulness_ratio", "Colour ratio", ".2f", True),
        Metric("hue_acc", "Hue acc", ".3f", True),
        Metric("detail_ratio", "Detail ratio", ".2f", True, target=1.0),
        Metric("gmsd", "GMSD", ".3f", False),
    )
}
"""Every metric nircolor reports, in the order it reports them."""

METRIC_NAMES = tuple(METRICS)
"""Every metric nircolor reports, in the order it reports them."""

METRIC_LABELS = {name: m.label for name, m in METRICS.items()}
"""Column headings of the metrics in tables."""

HIGHER_IS_BETTER = {name: m.higher_is_better for name, m in METRICS.items()}
"""For each metric, whether a larger value means a better colorization."""

METRIC_FORMATS = {name: "{:" + m.spec + "}" for name, m in METRICS.items()}
"""For each metric, a :meth:`str.format` template of its value (``"{:.2f}"``)."""

MS_PER_IMAGE = Metric("ms", "ms/image", ".1f", False)
"""Mean colorization time per image, a column of the report's tables (rows key ``ms``)."""


def format_metric(name: str, value: float | None, signed: bool = False) -> str:
    """A metric's value as a table cell, in the metric's format; ``None`` is a dash."""
    return METRICS[name].format(value, signed)


def best_flags(values: Sequence[float], higher: bool, target: float | None = None) -> list[bool]:
    """Which of ``values`` are the best (all ties): the largest if ``higher``, else the
    smallest, or with a ``target``, the nearest to it; none when there are fewer than two."""
    known = [v for v in values if v is not None and v == v]
    if len(values) < 2 or not known:
        return [False] * len(values)
    if target is not None:
        nearest = min(abs(v - target) for v in known)
        return [v is not None and v == v and abs(v - target) == nearest for v in values]
    best = max(known) if higher else min(known)
    return [v == best for v in values]


@dataclass
class Table:
    """A table of text cells, rendered as Markdown or as a :class:`rich.table.Table`.

    ``numeric[j]`` right-aligns column ``j``; ``best[i][j]`` marks a cell as the best of its
    row or column (bold in Markdown and HTML); ``total`` makes the last row a total (bold),
    or the last but ``after_total`` rows (references shown below the total, such as the NIR
    shown as grey); ``sections`` holds the indices of the rows that start a new section (a
    rule on the terminal).
    """

    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    numeric: list[bool] | None = None
    best: list[list[bool]] | None = None
    total: bool = False
    sections: list[int] = field(default_factory=list)
    title: str | None = None
    after_total: int = 0

    def __post_init__(self) -> None:
        self.headers = [str(h) for h in self.headers]
        self.rows = [[str(cell) for cell in row] for row in self.rows]
        if self.numeric is None:
            self.numeric = [index > 0 for index in range(len(self.headers))]
        if self.best is None:
            self.best = [[False] * len(row) for row in self.rows]

    def add_row(self, cells: Iterable, best: Sequence[bool] | None = None) -> None:
        cells = [str(cell) for cell in cells]
        self.rows.append(cells)
        self.best.append(list(best) if best is not None else [False] * len(cells))

    def add_section(self) -> None:
        """Start a new section with the next row."""
        self.sections.append(len(self.rows))

    def is_total(self, index: int) -> bool:
        """Whether row ``index`` is the total row."""
        return self.total and index == len(self.rows) - 1 - self.after_total

    def markdown_lines(self, escape: Callable[[str], str] | None = None) -> list[str]:
        """The table as GitHub Markdown lines; ``escape(text)``, if given, escapes each cell."""

        def text(cell: str) -> str:
            return escape(cell) if escape is not None else cell

        def cell(content: str, bold: bool) -> str:
            return f"**{text(content)}**" if bold else text(content)

        lines = ["| " + " | ".join(text(h) for h in self.headers) + " |"]
        lines.append("|" + "|".join("---:" if n else "---" for n in self.numeric) + "|")
        for index, (row, best) in enumerate(zip(self.rows, self.best, strict=True)):
            bold = self.is_total(index)
            cells = (cell(c, b or bold) for c, b in zip(row, best, strict=True))
            lines.append("| " + " | ".join(cells) + " |")
        return lines

    def markdown(self, escape: Callable[[str], str] | None = None) -> str:
        """The table as GitHub Markdown (see :meth:`markdown_lines`)."""
        return "\n".join(self.markdown_lines(escape))

    def rich(self):
        """The table as a :class:`rich.table.Table` (total row bold, sections ruled)."""
        from rich.table import Table as RichTable

        table = RichTable(title=self.title, title_justify="left")
        for header, numeric in zip(self.headers, self.numeric, strict=True):
            table.add_column(header, justify="right" if numeric else "left")
        for index, row in enumerate(self.rows):
            if index in self.sections:
                table.add_section()
            table.add_row(*row, style="bold" if self.is_total(index) else None)
        return table


def metrics_table(
    groups: Mapping[str, Mapping[str, float]],
    *,
    first: str = "group",
    metrics: Sequence[str | Metric] = METRIC_NAMES,
    count: bool = True,
    best: bool = False,
    title: str | None = None,
) -> Table:
    """One row per group: its name, ``n`` (if ``count``) and the ``metrics``.

    ``metrics`` are names of :data:`METRICS` or further :class:`Metric` columns (such as
    :data:`MS_PER_IMAGE`), read from each group by their name. With ``best``, the best value
    of each metric column is flagged.
    """
    columns = [METRICS[m] if isinstance(m, str) else m for m in metrics]
    headers = [first, *(["n"] if count else []), *(m.label for m in columns)]
    table = Table(headers, title=title)
    flags = {
        m.name: best_flags([g[m.name] for g in groups.values()], m.higher_is_better, m.target)
        if best
        else [False] * len(groups)
        for m in columns
    }
    for index, (name, values) in enumerate(groups.items()):
        cells = [
            name,
            *([values["n"]] if count else []),
            *(m.format(values[m.name]) for m in columns),
        ]
        marks = [False, *([False] if count else []), *(flags[m.name][index] for m in columns)]
        table.add_row(cells, marks)
    return table


def evaluation_table(evaluation, title: str | None = None) -> Table:
    """One model's metrics per category, then per collection (if several), then the total,
    then, if the evaluation scored it, the NIR shown as grey on the same pairs.

    ``evaluation`` is an :class:`~nircolor.evaluate.Evaluation` (or anything with
    ``by_category()``, ``by_collection()``, ``summary``, ``images`` and ``grey``).
    """
    categories = evaluation.by_category()
    table = metrics_table(categories, title=title)
    collections = evaluation.by_collection()
    # Collections that are the categories (a folder per category) would repeat those rows.
    same = all(row["collection"] == row["category"] for row in evaluation.images)
    parts = [collections] if len(collections) > 1 and not same else []
    for part in [*parts, {"all": evaluation.summary}]:
        table.add_section()
        for row in metrics_table(part).rows:
            table.add_row(row)
    table.total = True
    grey = getattr(evaluation, "grey", None)
    if grey is not None:
        table.add_section()
        table.add_row(metrics_table({grey.model: grey.summary}).rows[0])
        table.after_total = 1
    return table
