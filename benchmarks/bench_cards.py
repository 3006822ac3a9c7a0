"""Rescore the shipped colorizers' model cards: rewrite their "## Validation" tables.

Every shipped colorizer (``nircolor models`` less the scene classifier and the aliases:
cnn, fusion, l3, unet, vivid) is scored on the ``split == val`` rows with
:func:`nircolor.evaluate.evaluate_model`, as training scored it for its card (the model's
own default guided filter, if any), and the NIR shown as grey once, on the same rows. Each
card's ``## Validation`` section is replaced by one holding every metric of
:data:`nircolor.metrics.METRIC_NAMES` and the grey reference row
(:func:`nircolor.train.common.validation_section`); the rest of the card is kept.

Before a card is rewritten, every cell of its old tables is compared with the new cell of the
same group and column, and the cells that differ are printed: the card's numbers came from the
same evaluation, so a difference means the scoring (or the data) changed. ``--no-write``
prints the new sections and leaves the cards alone (it does not touch BENCHMARKS.md either
way)::

    python benchmarks/bench_cards.py [--data ../shared/data] [--no-write] [--models unet,l3]
"""

from __future__ import annotations

import time
from pathlib import Path

from _common import (
    base_parser,
    colorizer_names,
    describe_pairs,
    evaluate,
    load_split,
    progress_bar,
    replace_section,
    single_threaded_blas,
)
from nircolor.evaluate import Evaluation, evaluate_grey
from nircolor.metric_tables import METRIC_NAMES, metrics_table
from nircolor.models import CARD_NAME, resolve_model_path
from nircolor.train.common import VALIDATION_HEADING, validation_section

RESCORED = (
    " Rescored on {date} by `python benchmarks/bench_cards.py`: the model as it ships (its "
    "default guided filter and colour context), which may differ from the model the "
    "training run scored."
)


def table_cells(section: str) -> dict[tuple[str, str], str]:
    """Every cell of the Markdown tables of ``section``, keyed by (row name, column heading)."""
    cells: dict[tuple[str, str], str] = {}
    headers: list[str] | None = None
    for line in section.splitlines():
        if not line.startswith("|"):
            headers = None
            continue
        row = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if headers is None:
            headers = row
        elif not set(line) <= set("|-: "):
            cells.update(
                {(row[0], header): cell for header, cell in zip(headers[1:], row[1:], strict=False)}
            )
    return cells


def validation_text(card: str) -> str:
    """The ``## Validation`` section of a card, up to the next ``## `` heading ('' if none)."""
    start = card.find(f"\n{VALIDATION_HEADING}\n")
    if start < 0:
        return ""
    end = card.find("\n## ", start + 1)
    return card[start : end if end >= 0 else len(card)]


def changed_cells(old: str, new: str) -> list[str]:
    """``row / column: old -> new`` for every cell of ``old``'s tables that ``new`` changes
    or lacks (columns and rows ``new`` adds are not changes)."""
    theirs = table_cells(new)
    return [
        f"{row} / {column}: {value} -> {theirs.get((row, column), 'missing')}"
        for (row, column), value in table_cells(old).items()
        if theirs.get((row, column)) != value
    ]


def rescore(name: str, val, grey: Evaluation, write: bool) -> Evaluation:
    """Score ``name`` on ``val``, compare with its card, and rewrite the card (if ``write``)."""
    evaluation = evaluate(name, val, f"{name}: scoring val")
    evaluation.model, evaluation.grey = name, grey
    path = Path(resolve_model_path(name)) / CARD_NAME
    card = path.read_text(encoding="utf-8")
    lines = validation_section(evaluation)[2:]
    lines[0] += RESCORED.format(date=time.strftime("%Y-%m-%d", time.gmtime()))
    section = "\n".join(lines)
    changes = changed_cells(validation_text(card), section)
    print(f"\n{path}: {len(changes)} cell(s) of the old tables differ")
    for change in changes:
        print(f"  {change}")
    updated = replace_section(card, VALIDATION_HEADING, section)
    if write:
        path.write_text(updated, encoding="utf-8")
        print(f"wrote {path}")
    return evaluation


def main() -> None:
    single_threaded_blas()
    parser = base_parser(__doc__)
    parser.add_argument("--models", default=None, help="comma-separated names (default: all)")
    args = parser.parse_args()
    val = load_split(args.data, "val")
    names = colorizer_names(args.models)
    print(f"models: {', '.join(names)}; val: {describe_pairs(val)}")
    with progress_bar("NIR shown as grey: scoring val", len(val)) as update:
        grey = evaluate_grey(val, progress=lambda _: update())
    summaries = {name: rescore(name, val, grey, not args.no_write).summary for name in names}
    summaries[grey.model] = grey.summary
    print()
    print(metrics_table(summaries, first="model", metrics=METRIC_NAMES).markdown())


if __name__ == "__main__":
    main()
