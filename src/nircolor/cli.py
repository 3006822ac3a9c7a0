"""Command line: a thin layer over the Python API (``nircolor --help``)."""

from __future__ import annotations

import glob
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from .errors import NircolorError

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


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal,
    )


def _parse_guided(text: str | None) -> tuple[int, float] | None:
    from .filters import parse_guided

    if text is None:
        return None
    try:
        return parse_guided(text)
    except ValueError as error:
        raise NircolorError(f"--guided: {error}") from None


def _parse_list(text: str | None) -> list[str] | None:
    return [item.strip() for item in text.split(",") if item.strip()] if text else None


# ---------------------------------------------------------------- colorize


def expand_inputs(inputs: list[str]) -> list[tuple[Path, Path]]:
    """Expand files, globs and folders into ``(file, path relative to its input root)``."""
    from .io import READ_EXTENSIONS

    found: list[tuple[Path, Path]] = []
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            files = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in READ_EXTENSIONS
                and not p.name.startswith(".")
            )
            found.extend((p, p.relative_to(path)) for p in files)
        elif path.exists():
            found.append((path, Path(path.name)))
        elif glob.has_magic(text):
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True))
            if not matches:
                raise NircolorError(f"{text}: no file matches")
            found.extend((m, Path(m.name)) for m in matches if m.is_file())
        else:
            raise NircolorError(f"{text}: no such file or folder")
    if not found:
        raise NircolorError("no input images found")
    return found


def plan_outputs(inputs: list[tuple[Path, Path]], output: Path) -> list[tuple[Path, Path]]:
    """Map each input to its output file: OUT is a file for one input with an image extension."""
    from .io import WRITE_EXTENSIONS

    if len(inputs) == 1 and output.suffix.lower() in WRITE_EXTENSIONS and not output.is_dir():
        return [(inputs[0][0], output)]
    targets = [(source, output / relative.with_suffix(".png")) for source, relative in inputs]
    seen: dict[Path, Path] = {}
    for source, target in targets:
        if target in seen:
            raise NircolorError(f"{seen[target]} and {source} would both be written to {target}")
        seen[target] = source
    return targets


@app.command()
def colorize(
    inputs: Annotated[list[str], typer.Argument(help="NIR images, folders or globs.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output folder (or file).")],
    model: Annotated[str, typer.Option("--model", "-m", help="Model name or folder.")] = "default",
    guided: Annotated[
        str | None, typer.Option(help="Guided-filter post-processing 'R,EPS', e.g. 5,1e-5.")
    ] = None,
    bit_depth: Annotated[int, typer.Option("--bit-depth", help="8 or 16 (PNG/TIFF).")] = 8,
    overwrite: Annotated[bool, typer.Option(help="Replace existing output files.")] = False,
) -> None:
    """Colorize NIR images: X.ext becomes OUT/X.png (or OUT itself for one input)."""
    from .api import colorize_file, get_model

    if bit_depth not in (8, 16):
        raise NircolorError("--bit-depth must be 8 or 16")
    guided_args = _parse_guided(guided)
    loaded = get_model(model)
    jobs = plan_outputs(expand_inputs(inputs), output)
    failures = 0
    with progress_bar() as progress:
        task = progress.add_task("colorizing", total=len(jobs))
        for source, target in jobs:
            try:
                colorize_file(source, target, loaded, guided_args, bit_depth, overwrite)
            except NircolorError as error:
                failures += 1
                console.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
            progress.advance(task)
    done = len(jobs) - failures
    if len(jobs) > 1 or failures == 0:
        console.print(f"{done} colorized, {failures} failed", highlight=False)
    if failures:
        raise typer.Exit(1)


# ---------------------------------------------------------------- train


@train_app.command("l3")
def train_l3(
    data: Annotated[Path, typer.Option(help="Folder of NIR/RGB pairs (with MANIFEST.csv).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Model folder to write.")],
    categories: Annotated[str | None, typer.Option(help="Comma-separated categories.")] = None,
    patch: Annotated[int, typer.Option(help="Patch size (odd).")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    split: Annotated[str, typer.Option(help="Rows to train on: train, val or all.")] = "train",
    overwrite: Annotated[bool, typer.Option(help="Replace an existing model folder.")] = False,
) -> None:
    """Train an L3 (Local, Linear, Learned) colorizer."""
    from .train import train_l3 as run_training

    with progress_bar() as progress:
        task = progress.add_task("training l3", total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        result = run_training(
            data,
            output,
            categories=_parse_list(categories),
            patch=patch,
            seed=seed,
            split=split,
            overwrite=overwrite,
            command=_command_line(),
            progress=report,
        )
    console.print(
        f"trained l3 on {result.n_pairs} pairs in {result.seconds:.1f} s -> {output}",
        highlight=False,
    )


def _command_line() -> str:
    return "nircolor " + " ".join(shlex.quote(a) for a in sys.argv[1:])


# ---------------------------------------------------------------- evaluate


@app.command()
def evaluate(
    model: Annotated[str, typer.Option("--model", "-m", help="Model name or folder.")],
    data: Annotated[Path, typer.Option(help="Folder of NIR/RGB pairs.")],
    split: Annotated[str, typer.Option(help="train, val or all.")] = "val",
    categories: Annotated[str | None, typer.Option(help="Comma-separated categories.")] = None,
    guided: Annotated[str | None, typer.Option(help="Guided filter 'R,EPS'.")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write metrics as JSON.")] = None,
    save_images: Annotated[
        Path | None, typer.Option("--save-images", help="Folder for the predictions.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the split when there is no manifest.")] = 0,
) -> None:
    """Score a model: PSNR, SSIM, AE, ΔE00, ΔE76 and MSE per category and overall."""
    from .api import get_model
    from .data import load_dataset
    from .evaluate import evaluate_model

    guided_args = _parse_guided(guided)
    loaded = get_model(model)
    pairs = load_dataset(data, split=split, categories=_parse_list(categories), seed=seed)
    if not pairs:
        raise NircolorError(f"{data}: the '{split}' split holds no pairs")
    with progress_bar() as progress:
        task = progress.add_task(f"evaluating {model}", total=len(pairs))
        result = evaluate_model(
            loaded, pairs, guided_args, save_images, progress=lambda _: progress.advance(task)
        )
    result.model = model
    stdout.print(metrics_table(result, title=f"{model} on {data} ({split})"))
    if json_path is not None:
        result.write_json(json_path)
        console.print(f"wrote {json_path}", highlight=False)


def metrics_table(result, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    headers = ["group", "n", "PSNR dB", "SSIM", "AE °", "ΔE00", "ΔE76", "MSE"]
    for header in headers:
        table.add_column(header, justify="left" if header == "group" else "right")

    def add(name: str, row: dict, style: str | None = None) -> None:
        table.add_row(
            name,
            str(row["n"]),
            f"{row['psnr']:.2f}",
            f"{row['ssim']:.4f}",
            f"{row['ae']:.2f}",
            f"{row['de00']:.2f}",
            f"{row['de76']:.2f}",
            f"{row['mse']:.5f}",
            style=style,
        )

    for name, row in result.by_category().items():
        add(name, row)
    collections = result.by_collection()
    if len(collections) > 1:
        table.add_section()
        for name, row in collections.items():
            add(name, row)
    table.add_section()
    add("all", result.summary, style="bold")
    return table


# ---------------------------------------------------------------- models


@app.command("models")
def list_models_command() -> None:
    """List the registered models: name, kind, size and model card."""
    from .models import ALIASES, list_models

    table = Table(title="nircolor models", title_justify="left")
    for header in ("name", "kind", "size", "card"):
        table.add_column(header)
    for info in list_models():
        table.add_row(
            info.name, info.kind, f"{info.size_bytes / 1e6:.2f} MB", str(info.card or "-")
        )
    for alias, target in ALIASES.items():
        table.add_row(alias, f"→ {target}", "", "")
    stdout.print(table)


# ---------------------------------------------------------------- entry point


def main() -> None:
    """Run the CLI; user errors become one line on stderr and exit code 1."""
    try:
        app()
    except NircolorError as error:
        console.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        console.print("interrupted", highlight=False)
        sys.exit(130)
