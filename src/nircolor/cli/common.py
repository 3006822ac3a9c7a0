"""What every command shares: the Typer apps, the consoles, one-line errors, the progress
bar and the parsing of options."""

from __future__ import annotations

import shlex
import sys
import warnings
from typing import Annotated

import typer
import typer.core
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .progress import LineProgress, Progress, progress_display

PYTHON_TYPES = {"<bool>", "<str>", "<list[str]>"}
"""The placeholders typer (0.2x) writes in --help from the parameters' Python types."""


def name_placeholders(params: list, ctx) -> list:
    """Replace typer's Python-type placeholders in ``params``' help: a flag gets none, a
    text option its name in capitals (unless it has a metavar), an argument only its name.

    Older typers write TEXT (not a Python type) and lack ``display_type_rich``: untouched.
    """
    for param in params:
        display_type = getattr(param, "display_type_rich", None)
        if display_type is None or display_type(ctx=ctx) not in PYTHON_TYPES:
            continue
        if param.param_type_name == "argument":
            param.display_type_rich = _no_type  # the name column already says what it takes
        elif getattr(param, "is_flag", False):
            param.metavar = ""
        elif param.metavar is None:
            param.metavar = param.name.upper()
    return params


def _no_type(ctx=None) -> None:
    return None


class CommandGroup(typer.core.TyperGroup):
    """A group whose commands' --help goes through :func:`name_placeholders`."""

    def get_params(self, ctx) -> list:
        return name_placeholders(super().get_params(ctx), ctx)

    def get_command(self, ctx, cmd_name: str):
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            name_placeholders(command.get_params(ctx), ctx)
        return command


app = typer.Typer(
    cls=CommandGroup,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Colorize near-infrared images; train and evaluate NIR colorizers.",
)
train_app = typer.Typer(
    cls=CommandGroup, no_args_is_help=True, help="Train a model on registered NIR/RGB pairs."
)
app.add_typer(train_app, name="train")


def _print_version(asked: bool) -> None:
    if asked:
        from .. import __version__

        typer.echo(f"nircolor {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """The options that come before a command."""


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
        text = message.for_command_line() if isinstance(message, NircolorWarning) else message
        console.print(
            f"[yellow]warning:[/yellow] {escape(str(text))}", highlight=False, soft_wrap=True
        )
    else:
        _python_show_warning(message, category, filename, lineno, file, line)


_python_show_warning = warnings.showwarning


def progress_bar() -> Progress | LineProgress:
    """The progress of a long command on stderr: a bar in a terminal, else plain lines."""
    return progress_display(console)


def step_report(progress: Progress | LineProgress, description: str, total: int | None = None):
    """A new task of ``progress`` and the ``report(done, total)`` that moves it (the
    ``progress`` callback of the training, quantizing and simulating functions)."""
    task = progress.add_task(description, total=total)

    def report(done: int, total: int | None) -> None:
        progress.update(task, completed=done, total=total)

    return report


def guided_option(text: str | None):
    from ..filters import GuidedFilter

    return GuidedFilter.parse_option(text, "--guided")


def setting_option(of, text: str | None, option: str):
    """A setting's ``of(text)`` for a user's option; its ``ValueError`` becomes one line that
    names ``option``."""
    from ..errors import NircolorError

    try:
        return of(text)
    except ValueError as error:
        raise NircolorError(f"{option}: {error}") from None


def check_limit(option: str, value: float, most: float) -> None:
    """Refuse a limit that is not a number in (0, ``most``] (NaN and infinity included),
    naming ``option``.

    Raises
    ------
    NircolorError
    """
    from ..errors import NircolorError

    if not 0 < value <= most:
        raise NircolorError(f"{option} must be positive and at most {most:g}, not {value}")


def detail_option(text: str | None):
    from ..filters import DetailTransfer

    return setting_option(DetailTransfer.of, text, "--detail")


def model_default(setting):
    """A model default given as an option (a guided filter, a detail transfer) as a setting:
    ``None`` when none is given (a fine-tuned model keeps its base's), ``False`` when it is
    'off' (a fine-tuned model drops its base's), else its values as a list."""
    if setting is None:
        return None
    return list(setting) if setting else False


def context_option(text: str | None):
    from ..context import ColourContext

    return setting_option(ColourContext.of, text, "--context")


def parse_list(text: str | None) -> list[str] | None:
    return [item.strip() for item in text.split(",") if item.strip()] if text else None


def command_line() -> str:
    """The command as typed, for the records of training runs."""
    return "nircolor " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def metrics_table(result, title: str) -> Table:
    """One model's metrics per category, per collection and overall, for the terminal."""
    from ..metric_tables import evaluation_table

    return evaluation_table(result, title=title).rich()
