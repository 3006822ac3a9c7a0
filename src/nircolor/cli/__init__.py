"""Command line: a thin layer over the Python API (``nircolor --help``).

:mod:`.common` holds the apps, consoles and option parsing; :mod:`.commands` the commands
that use models; :mod:`.serve` the web service; :mod:`.scoring` evaluate and report;
:mod:`.train` the training commands; :mod:`.simulate` the camera simulation; :mod:`.quantize`
int8 models; :mod:`.calibrate` the lightness offset. Importing this package registers them.
"""

from __future__ import annotations

import sys
import warnings

import typer

from ..errors import NircolorError
from ..runtime import keep_freed_memory
from . import calibrate, commands, detect, quantize, scoring, serve, simulate, train  # noqa: F401
from .common import app, console, metrics_table, print_error, show_warning

__all__ = ["app", "main", "metrics_table", "print_error"]

USAGE_ERROR = next(kind for kind in typer.BadParameter.__mro__ if kind.__name__ == "UsageError")
"""Click's usage error (Typer's own copy of Click in recent versions, Click's in older ones)."""


def main() -> None:
    """Run the CLI; user errors become one line on stderr and exit code 1, nircolor's
    warnings one line each."""
    keep_freed_memory()
    saved, warnings.showwarning = warnings.showwarning, show_warning
    try:
        code = app(standalone_mode=False)
    except USAGE_ERROR as error:  # a bad option or argument: one line too, not a box
        if not error.format_message():  # a group named with no command: its help, as Click does
            error.show()
        else:
            command = error.ctx.command_path if error.ctx is not None else "nircolor"
            print_error(f"{error.format_message()} (see '{command} --help')")
        sys.exit(error.exit_code)
    except NircolorError as error:
        print_error(error)
        sys.exit(1)
    except (KeyboardInterrupt, typer.Abort):
        console.print("interrupted", highlight=False)
        sys.exit(130)
    finally:
        warnings.showwarning = saved
    sys.exit(code if isinstance(code, int) else 0)
