"""Model cards read back: the per-category figures of a card's "Validation" section, and how
far a model's scores on the same pairs are from them."""

from __future__ import annotations

from pathlib import Path

from nircolor.metric_tables import METRICS, MISSING

LABEL_TO_METRIC = {metric.label: name for name, metric in METRICS.items()}
"""A card's column heading → the metric it holds (cards are written with these labels)."""

RELATIVE_TOLERANCE = 0.01
"""How far a score may be from the card's figure, as a fraction of the figure, beyond half a
unit of the card's last printed digit (rounding): room for another CPU's arithmetic, not for
another model."""


def table_after(lines: list[str], marker: str) -> list[list[str]]:
    """The cells of the first markdown table after the line ``marker`` (header first, the
    ``|---|`` rule left out)."""
    start = lines.index(marker)
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith("|"):
            if not set(line) <= set("|-: "):
                rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif rows:
            break
    return rows


def card_category_figures(card: Path) -> dict[str, dict[str, str]]:
    """The per-category rows of ``card``'s "Validation" section: ``{category: {key: cell}}``
    with ``n`` and the metric names of :data:`nircolor.metric_tables.METRICS` as keys, the
    cells as printed. A column that is no metric nircolor computes raises ``ValueError``."""
    lines = card.read_text().splitlines()
    validation = lines[lines.index("## Validation") :]
    header, *rows = table_after(validation, "Per category:")
    unknown = [label for label in header[2:] if label not in LABEL_TO_METRIC]
    if unknown:
        raise ValueError(f"{card}: columns {unknown} are no metric nircolor computes")
    keys = ["n", *(LABEL_TO_METRIC[label] for label in header[2:])]
    return {row[0]: dict(zip(keys, row[1:], strict=True)) for row in rows}


def tolerance(cell: str) -> float:
    """Half a unit of ``cell``'s last digit plus :data:`RELATIVE_TOLERANCE` of its value."""
    decimals = len(cell.split(".")[1]) if "." in cell else 0
    return 0.5 * 10.0**-decimals + RELATIVE_TOLERANCE * abs(float(cell))


def agrees(score: float, cell: str) -> bool:
    """Whether ``score`` is the card's ``cell`` within its :func:`tolerance` (a dash, no
    value, agrees only with NaN)."""
    if cell == MISSING:
        return score != score
    return abs(score - float(cell)) <= tolerance(cell)


def figure_mismatches(
    card_rows: dict[str, dict[str, str]], measured: dict[str, dict[str, float]]
) -> list[str]:
    """Every figure of ``card_rows`` that ``measured`` (``Evaluation.by_category()``, same
    categories) misses by more than its :func:`tolerance`; an empty list when all agree."""
    found = []
    for category, figures in card_rows.items():
        scores = measured[category]
        if int(figures["n"]) != scores["n"]:
            found.append(f"{category}: {scores['n']} images, the card has {figures['n']}")
            continue
        for name, cell in figures.items():
            if name != "n" and not agrees(scores[name], cell):
                found.append(f"{category} {name}: {scores[name]:.4g}, the card has {cell}")
    return found
