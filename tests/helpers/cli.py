"""Running the command line in-process."""

from __future__ import annotations

import sys

import pytest


def run_cli(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    """Run ``nircolor ARGS...`` in-process through its real entry point: (exit code, out, err)."""
    from nircolor.cli import main

    monkeypatch.setattr(sys, "argv", ["nircolor", *map(str, args)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def error_of_one_failed_input(err: str) -> str:
    """The error line of a ``colorize`` run whose one input failed; the summary line must
    follow it (nothing else: no traceback, no list of failures)."""
    lines = err.strip().splitlines()
    assert lines[1:] == ["0 done, 0 skipped, 1 failed"], err
    assert lines[0].startswith("error"), err
    return lines[0]
