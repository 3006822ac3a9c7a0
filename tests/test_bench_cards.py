"""The pure parts of benchmarks/bench_cards.py: reading a card's validation tables and
finding the cells a rescoring changes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
bench = pytest.importorskip("bench_cards")

CARD = """# m

## Training

| group | n | PSNR dB |
|---|---:|---:|
| all | 9 | 1.00 |

## Validation

Text.

| group | n | PSNR dB | SSIM |
|---|---:|---:|---:|
| nirscene | 19 | 16.95 | 0.6779 |
| all | 66 | 16.72 | 0.6038 |

Per category:

| group | n | PSNR dB | SSIM |
|---|---:|---:|---:|
| field | 15 | 16.84 | 0.5497 |

## Data

cite
"""


def test_validation_text_is_the_section_alone():
    text = bench.validation_text(CARD)
    assert text.lstrip().startswith("## Validation") and "## Data" not in text
    assert "| all | 9 |" not in text  # the training section's table is not read
    assert bench.validation_text("# m\n\n## Data\n") == ""


def test_table_cells_are_keyed_by_row_and_column():
    cells = bench.table_cells(bench.validation_text(CARD))
    assert cells[("nirscene", "PSNR dB")] == "16.95"
    assert cells[("field", "SSIM")] == "0.5497"
    assert cells[("all", "n")] == "66"
    assert len(cells) == 3 * 3


def test_changed_cells_ignore_new_columns_and_rows_but_not_changed_or_lost_cells():
    old = bench.validation_text(CARD)
    new = old.replace("| SSIM |", "| SSIM | GMSD |").replace("0.6038 |", "0.6038 | 0.15 |")
    new += "\n| NIR shown as grey | 66 | 15.35 | 0.5757 |\n"
    assert bench.changed_cells(old, new) == []
    changed = new.replace("16.84", "16.85").replace("| nirscene | 19 | 16.95 | 0.6779 |\n", "")
    assert sorted(bench.changed_cells(old, changed)) == [
        "field / PSNR dB: 16.84 -> 16.85",
        "nirscene / PSNR dB: 16.95 -> missing",
        "nirscene / SSIM: 0.6779 -> missing",
        "nirscene / n: 19 -> missing",
    ]
