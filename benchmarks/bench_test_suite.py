"""The test suite as the README runs it: how many tests pass and skip, and how long it takes.

Runs ``python -m pytest -rs`` (the README's test command, with the reasons of skipped tests
listed) from the repository root, with this Python, and writes the section "Test suite" of
BENCHMARKS.md. Arguments after ``--`` go to pytest (a file or ``-k`` to try the script on a
part of the suite; the section then names them)::

    python benchmarks/bench_test_suite.py
    python benchmarks/bench_test_suite.py --no-write -- tests/test_l3_ridge.py
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time

from _common import REPO, Run, base_parser, publish

HEADING = "## Test suite"
OUTCOMES = ("passed", "failed", "errors", "error", "skipped", "xfailed", "xpassed", "deselected")
SUMMARY = re.compile(r"^=+ (?P<counts>.*) in (?P<seconds>[\d.]+)s(?: \([^)]*\))? =+$")


def pytest_command(extra: list[str]) -> list[str]:
    """``python -m pytest -rs`` and the extra arguments."""
    return [sys.executable, "-m", "pytest", "-rs", *extra]


def parse_summary(output: str) -> tuple[dict[str, int], float]:
    """The outcome counts and pytest's own seconds from its last summary line
    (``=== 950 passed, 3 skipped in 101.23s (0:01:41) ===``)."""
    for line in reversed(output.strip().splitlines()):
        match = SUMMARY.match(line.strip())
        if match:
            counts = {}
            for part in match.group("counts").split(", "):
                number, _, outcome = part.partition(" ")
                if outcome in OUTCOMES:
                    counts[outcome] = int(number)
            return counts, float(match.group("seconds"))
    raise ValueError("no pytest summary line in the output")


def skip_reasons(output: str) -> list[str]:
    """The ``SKIPPED [n] file:line: reason`` lines of ``-rs``."""
    return [line.strip() for line in output.splitlines() if line.startswith("SKIPPED")]


def section(command: list[str], counts: dict[str, int], seconds: float, wall: float, skips) -> str:
    """The section's body: the command, the counts, pytest's time and the wall time."""
    shown = "python " + shlex.join(command[1:])
    outcome = ", ".join(f"{n} {name}" for name, n in counts.items())
    lines = [
        "The README's test command (`-rs` lists why tests were skipped):",
        "",
        f"```bash\n{shown}\n```",
        "",
        f"**{outcome}** in {seconds:.0f} s (pytest's count; {wall:.0f} s wall with start-up).",
    ]
    if skips:
        lines += ["", "Skipped:", "", *(f"- `{line}`" for line in skips)]
    return "\n".join(lines)


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("pytest_args", nargs="*", help="arguments for pytest (after --)")
    args = parser.parse_args()
    run = Run()
    command = pytest_command(args.pytest_args)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    output = done.stdout + done.stderr
    try:
        counts, seconds = parse_summary(output)
    except ValueError as error:
        sys.exit(f"{error}; pytest exited with {done.returncode}:\n{output[-3000:]}")
    body = section(command, counts, seconds, wall, skip_reasons(output))
    publish(run, {HEADING: body}, write=not args.no_write)


if __name__ == "__main__":
    main()
