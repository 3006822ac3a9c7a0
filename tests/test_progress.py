"""Progress of long commands: a bar in a terminal, plain lines on stderr anywhere else (a log
file, a pipe), the row bands of a streamed image included (issue 26 item 10)."""

import io

import numpy as np
from rich.console import Console

from nircolor.api import colorize_file
from nircolor.cli import progress as progress_module
from nircolor.cli.progress import LineProgress, progress_display
from nircolor.io import write_image

from .helpers.cli import run_cli as run


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def plain_console(buffer) -> Console:
    return Console(file=buffer, force_terminal=False, width=200)


def test_plain_lines_come_at_most_every_few_seconds_and_end_with_the_last_state():
    buffer, clock = io.StringIO(), Clock()
    with LineProgress(plain_console(buffer), every=5, clock=clock) as progress:
        task = progress.add_task("colorizing", total=13)
        for _ in range(13):
            clock.now += 1
            progress.advance(task)
    assert buffer.getvalue().splitlines() == [
        "colorizing 5/13 (38%), 5 s",
        "colorizing 10/13 (77%), 10 s",
        "colorizing 13/13 (100%), 13 s",
    ]


def test_a_short_run_prints_no_progress_and_unknown_totals_are_counts():
    buffer, clock = io.StringIO(), Clock()
    with LineProgress(plain_console(buffer), every=5, clock=clock) as progress:
        task = progress.add_task("rendering pairs")
        clock.now += 4
        progress.update(task, completed=3)
    assert buffer.getvalue() == ""
    with LineProgress(plain_console(buffer), every=5, clock=clock) as progress:
        first = progress.add_task("colorizing", total=2)
        rows = progress.add_task("rows", total=None)
        clock.now += 6
        progress.reset(rows, total=90, description="rows of big.tif")
        progress.update(rows, completed=30)
        progress.advance(first)
    assert buffer.getvalue().splitlines() == [
        "colorizing 0/2 (0%), rows of big.tif 0/90 (0%), 6 s",
        "colorizing 1/2 (50%), rows of big.tif 30/90 (33%), 6 s",
    ]


def test_a_terminal_gets_a_bar_and_anything_else_lines():
    assert isinstance(progress_display(plain_console(io.StringIO())), LineProgress)
    terminal = Console(file=io.StringIO(), force_terminal=True)
    assert not isinstance(progress_display(terminal), LineProgress)


def test_evaluate_prints_plain_progress_when_stderr_is_not_a_terminal(
    monkeypatch, capsys, tiny_model, pair_tree
):
    monkeypatch.setattr(progress_module, "LINE_SECONDS", 0.0)
    code, _, err = run(monkeypatch, capsys, "evaluate", "-m", tiny_model, "--data", pair_tree)
    assert code == 0, err
    lines = [line for line in err.splitlines() if line.startswith("evaluating")]
    assert lines[-1].startswith("evaluating ") and " 12/12 (100%), " in lines[-1]
    assert len(lines) >= 12


def test_a_streamed_image_reports_its_row_bands(monkeypatch, capsys, tmp_path, tiny_model):
    source = write_image(tmp_path / "big.png", np.random.default_rng(0).random((40, 24)))
    reported = []
    colorize_file(
        source, tmp_path / "a.png", str(tiny_model), tile=16,
        progress=lambda done, total: reported.append((done, total)),
    )  # fmt: skip
    rows = [done for done, _ in reported]
    assert len(rows) > 1 and rows == sorted(rows) and reported[-1] == (40, 40)
    # The command line shows them beside the count of files.
    monkeypatch.setattr(progress_module, "LINE_SECONDS", 0.0)
    code, _, err = run(
        monkeypatch, capsys, "colorize", source, "-o", tmp_path / "b.png", "-m", tiny_model,
        "--tile", 16,
    )  # fmt: skip
    assert code == 0, err
    assert "colorizing 0/1 (0%), rows of big.png 40/40 (100%), " in err
    assert err.splitlines()[-1] == "1 done, 0 skipped, 0 failed"
