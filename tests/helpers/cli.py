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
