"""Command line: a thin layer over the Python API (``nircolor --help``).

:mod:`.common` holds the apps, consoles and option parsing; :mod:`.commands` the commands
that use models; :mod:`.serve` the web service; :mod:`.scoring` evaluate and report;
:mod:`.train` the training commands; :mod:`.simulate` the camera simulation; :mod:`.quantize`
int8 models; :mod:`.calibrate` the lightness offset. Importing this package registers them.
"""

from __future__ import annotations

import sys
import warnings

from ..errors import NircolorError
from ..runtime import keep_freed_memory
from . import calibrate, commands, detect, quantize, scoring, serve, simulate, train  # noqa: F401
from .common import app, console, metrics_table, print_error, show_warning

__all__ = ["app", "main", "metrics_table", "print_error"]


def main() -> None:
    """Run the CLI; user errors become one line on stderr and exit code 1, nircolor's
    warnings one line each."""
    keep_freed_memory()
    saved, warnings.showwarning = warnings.showwarning, show_warning
    try:
        app()
    except NircolorError as error:
        print_error(error)
        sys.exit(1)
    except KeyboardInterrupt:
        console.print("interrupted", highlight=False)
        sys.exit(130)
    finally:
        warnings.showwarning = saved
