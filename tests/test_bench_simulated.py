"""The pure parts of benchmarks/bench_simulated.py: reading the real-data results back from
BENCHMARKS.md, and the agree/disagree directions."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
bench = pytest.importorskip("bench_simulated")


def test_real_results_reads_the_three_sections_of_benchmarks_md():
    real = bench.real_results((ROOT / "BENCHMARKS.md").read_text())
    assert set(real) == {"single", "channels", "reverse"}
    assert real["single"]["n"] > 0
    assert real["single"]["verdict"].startswith(("Agrees", "Disagrees"))
    assert len(real["channels"]["psnr"]) == 3
    assert "L3 NIR → RGB" in real["reverse"]["maps"]


def test_real_results_of_an_empty_file_is_empty():
    assert bench.real_results("") == {}


def test_first_table_strips_bold_and_skips_the_rule():
    header, rows = bench.first_table("text\n\n| a | b |\n|---|---:|\n| x | **1.5** |\n")
    assert header == ["a", "b"]
    assert rows == [["x", "1.5"]]


@pytest.mark.parametrize(
    ("d_psnr", "d_de00", "expected"),
    [(0.5, -1.0, "single"), (-0.5, 1.0, "general"), (0.5, 1.0, "mixed"), (-0.1, -0.1, "mixed")],
)
def test_single_direction(d_psnr, d_de00, expected):
    assert bench.single_direction(d_psnr, d_de00) == expected


@pytest.mark.parametrize(
    ("reverse", "expected"),
    [
        ((0.01, 0.5), "easier"),
        ((0.01, 0.95), "raw only"),
        ((0.03, 0.5), "relative only"),
        ((0.03, 0.95), "harder"),
    ],
)
def test_reverse_direction(reverse, expected):
    assert bench.reverse_direction((0.02, 0.9), reverse) == expected
