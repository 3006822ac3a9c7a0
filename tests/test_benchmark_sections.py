"""Every section of BENCHMARKS.md is written by a benchmark script (``publish`` in
benchmarks/_common.py), so that rerunning the script reproduces it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"


def section_headings(markdown: str) -> list[str]:
    """The ``## `` heading lines of ``markdown``, outside fenced code blocks."""
    headings, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"## \S", line):
            headings.append(line.rstrip())
    return headings


def script_headings(source: str) -> set[str]:
    """Every string literal of a script that is a ``## `` heading (a ``HEADING`` constant, a
    key of the sections given to ``publish``)."""
    return {
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and re.fullmatch(r"## \S.*", node.value)
    }


def written_by_scripts() -> set[str]:
    found = set()
    for path in BENCHMARKS.glob("bench_*.py"):
        found |= script_headings(path.read_text())
    return found


def test_the_checkers_find_headings():
    markdown = "# B\n\n## One\n\ntext\n\n```bash\n## not a heading\n```\n\n### Sub\n\n## Two: x\n"
    assert section_headings(markdown) == ["## One", "## Two: x"]
    source = 'HEADING = "## One"\npublish(run, {"## Two: x": body, "### no": b})\nx = "##no"\n'
    assert script_headings(source) == {"## One", "## Two: x"}


def test_every_benchmarks_section_is_written_by_a_script():
    headings = section_headings((REPO / "BENCHMARKS.md").read_text())
    orphans = [h for h in headings if h not in written_by_scripts()]
    assert orphans == [], "sections no benchmarks/bench_*.py writes"
