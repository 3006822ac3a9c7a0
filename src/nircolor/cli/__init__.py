"""Command line: a thin layer over the Python API (``nircolor --help``).

:mod:`.common` holds the apps, consoles and option parsing; :mod:`.commands` the commands
that use models; :mod:`.train` the training commands. Importing this package registers them.
"""

from __future__ import annotations

import sys

from ..errors import NircolorError
from . import commands, train  # noqa: F401  (registers the commands on the app)
from .common import app, console, metrics_table, print_error

__all__ = ["app", "main", "metrics_table", "print_error"]


def main() -> None:
    """Run the CLI; user errors become one line on stderr and exit code 1."""
    try:
        app()
    except NircolorError as error:
        print_error(error)
        sys.exit(1)
    except KeyboardInterrupt:
        console.print("interrupted", highlight=False)
        sys.exit(130)
