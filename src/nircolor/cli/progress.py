"""The progress of long commands: a rich bar in a terminal, plain lines anywhere else.

Every command shows its progress through :func:`progress_display`. When stderr is not a
terminal (a log file, a pipe, a CI job) a bar cannot be drawn, so :class:`LineProgress`
prints what it would show as one plain line, at most every :data:`LINE_SECONDS` seconds,
and the last state at the end; a run shorter than that prints nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

LINE_SECONDS = 5.0
"""Least time between two plain progress lines."""


def progress_display(console: Console) -> Progress | LineProgress:
    """A rich progress bar on ``console`` when it is a terminal, else a :class:`LineProgress`
    (the same methods: ``add_task``, ``update``, ``advance``, ``reset``, start and stop)."""
    if not console.is_terminal:
        return LineProgress(console, LINE_SECONDS)
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


@dataclass
class _Task:
    description: str
    total: float | None
    completed: float = 0

    def text(self) -> str:
        done = f"{self.completed:.0f}"
        if self.total is None:
            return f"{self.description} {done}"
        percent = 100 * self.completed / self.total if self.total else 100
        return f"{self.description} {done}/{self.total:.0f} ({percent:.0f}%)"


class LineProgress:
    """Progress as plain lines (``colorizing 12/50 (24%), rows of big.tif 3000/9000 (33%),
    10 s``): at most one every ``every`` seconds, none before ``every`` seconds have
    passed, and the last state when it stops if any line was printed."""

    def __init__(self, console: Console, every: float, clock=time.monotonic) -> None:
        self.console = console
        self.every = every
        self.clock = clock
        self.tasks: dict[int, _Task] = {}
        self.started = clock()
        self.last_line: float | None = None  # when the last line was printed
        self.printed = ""  # what it said

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> None:
        """Nothing to draw: lines are printed as the tasks move."""

    def stop(self) -> None:
        if self.last_line is not None and self._line() != self.printed:
            self._print()

    def add_task(self, description: str, total: float | None = None, completed=0, **_) -> int:
        task_id = len(self.tasks)
        self.tasks[task_id] = _Task(description, total, completed)
        self._tick()
        return task_id

    def update(
        self, task_id: int, *, total=None, completed=None, advance=None, description=None, **_
    ) -> None:
        task = self.tasks[task_id]
        if total is not None:
            task.total = total
        if completed is not None:
            task.completed = completed
        if advance is not None:
            task.completed += advance
        if description is not None:
            task.description = description
        self._tick()

    def advance(self, task_id: int, advance: float = 1) -> None:
        self.update(task_id, advance=advance)

    def reset(self, task_id: int, *, total=None, completed=0, description=None, **_) -> None:
        self.update(task_id, total=total, completed=completed, description=description)

    def _tick(self) -> None:
        now = self.clock()
        since = now - (self.started if self.last_line is None else self.last_line)
        if since >= self.every:
            self._print()

    def _line(self) -> str:
        return ", ".join(task.text() for task in self.tasks.values())

    def _print(self) -> None:
        self.printed = self._line()
        self.last_line = self.clock()
        elapsed = self.last_line - self.started
        # Descriptions are rich markup, as in a bar (callers escape what they quote).
        self.console.print(f"{self.printed}, {elapsed:.0f} s", highlight=False, soft_wrap=True)
