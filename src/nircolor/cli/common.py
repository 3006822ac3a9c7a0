"""What every command shares: the Typer apps, the consoles, one-line errors, the progress
bar and the parsing of options."""

from __future__ import annotations

import shlex
import sys
import warnings

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .progress import LineProgress, Progress, progress_display

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Colorize near-infrared images; train and evaluate NIR colorizers.",
)
train_app = typer.Typer(no_args_is_help=True, help="Train a model on registered NIR/RGB pairs.")
app.add_typer(train_app, name="train")

console = Console(stderr=True)
stdout = Console()


def print_table(table: Table) -> None:
    """A table on stdout; piped, at its natural width rather than cut to 80 columns."""
    from rich.measure import Measurement

    if stdout.is_terminal:
        stdout.print(table)
        return
    unbounded = stdout.options.update(max_width=10_000)
    Console(width=Measurement.get(stdout, unbounded, table).maximum).print(table)


def print_error(message: object) -> None:
    """One line on stderr; the text is escaped (paths and 'nircolor[extra]' hold brackets)."""
    console.print(f"[red]error:[/red] {escape(str(message))}", highlight=False, soft_wrap=True)


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """``warnings.showwarning`` for the CLI: nircolor's warnings as one line on stderr."""
    from ..errors import NircolorWarning

    if issubclass(category, NircolorWarning):
        console.print(
            f"[yellow]warning:[/yellow] {escape(str(message))}", highlight=False, soft_wrap=True
        )
    else:
        _python_show_warning(message, category, filename, lineno, file, line)


_python_show_warning = warnings.showwarning


def progress_bar() -> Progress | LineProgress:
    """The progress of a long command on stderr: a bar in a terminal, else plain lines."""
    return progress_display(console)


def guided_option(text: str | None):
    from ..filters import GuidedFilter

    return GuidedFilter.parse_option(text, "--guided")


def context_option(text: str | None):
    from ..context import ColourContext
    from ..errors import NircolorError

    try:
        return ColourContext.of(text)
    except ValueError as error:
        raise NircolorError(f"--context: {error}") from None


def parse_list(text: str | None) -> list[str] | None:
    return [item.strip() for item in text.split(",") if item.strip()] if text else None


def command_line() -> str:
    """The command as typed, for the records of training runs."""
    return "nircolor " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def metrics_table(result, title: str) -> Table:
    """One model's metrics per category, per collection and overall, for the terminal."""
    from ..metric_tables import evaluation_table

    return evaluation_table(result, title=title).rich()
