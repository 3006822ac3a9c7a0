"""The commands that score models on registered pairs: evaluate and report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..data import SPLITS
from ..errors import NircolorError
from ..runtime import MAX_PARALLEL, check_parallel
from .common import (
    app,
    console,
    guided_option,
    metrics_table,
    parse_list,
    print_table,
    progress_bar,
)

# ---------------------------------------------------------------- evaluate

SPLIT_HELP = (
    f"{', '.join(SPLITS)} (fit, holdout: the train rows less / only a scene holdout). "
    "Default: val when the manifest has a split column, else all."
)
MANIFEST_HELP = "MANIFEST.csv describing the pairs (default: the one in --data, if any)."
LimitOption = Annotated[int | None, typer.Option(metavar="N", help="Score the first N pairs only.")]


def check_at_least_one(**options: int | None) -> None:
    """Refuse an option given below 1 (``--limit``), naming it."""
    for name, value in options.items():
        if value is not None and value < 1:
            raise NircolorError(f"--{name} must be at least 1, not {value}")


def _select_pairs(data: Path, split, categories, seed: int, manifest: Path | None):
    """The pairs to score (the command prints ``selection.describe()`` once it succeeded, so
    that an error stays the only line)."""
    from ..data import select_pairs

    selection = select_pairs(data, split, parse_list(categories), seed, manifest)
    if not selection.pairs:
        raise NircolorError(f"{data}: the '{selection.split}' split holds no pairs")
    return selection


def _check_outputs(model, data, manifest, pairs, json_path, save_images, overwrite) -> None:
    """Refuse, before scoring, outputs of ``evaluate`` that exist (without ``overwrite``) or
    that are its inputs: files in the data folder, the manifest, the model's files."""
    from ..evaluate import prediction_path
    from ..io.outputs import check_output_files
    from ..models import resolve_model_path

    targets = [prediction_path(save_images, pair) for pair in pairs] if save_images else []
    targets += [json_path] if json_path is not None else []
    inputs = [data, *([manifest] if manifest else []), resolve_model_path(model)]
    check_output_files(targets, overwrite, inputs, NircolorError)


@app.command()
def evaluate(
    model: Annotated[str, typer.Option("--model", "-m", help="Model name or folder.")],
    data: Annotated[Path, typer.Option(help="Folder of NIR/RGB pairs.")],
    split: Annotated[str | None, typer.Option(help=SPLIT_HELP, show_default=False)] = None,
    manifest: Annotated[Path | None, typer.Option(help=MANIFEST_HELP)] = None,
    categories: Annotated[str | None, typer.Option(help="Comma-separated categories.")] = None,
    guided: Annotated[
        str | None, typer.Option(metavar="R,EPS", help="Guided filter 'R,EPS', or 'off'.")
    ] = None,
    json_path: Annotated[
        str | None, typer.Option("--json", metavar="FILE", help="Write metrics as JSON.")
    ] = None,
    save_images: Annotated[
        Path | None, typer.Option("--save-images", help="Folder for the predictions.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the split when there is no manifest.")] = 0,
    limit: LimitOption = None,
    overwrite: Annotated[bool, typer.Option(help="Replace existing output files.")] = False,
) -> None:
    """Score a model per category and overall (PSNR, SSIM, AE, ΔE, colour ratio, hue acc,
    detail ratio, GMSD), beside the NIR shown as grey on the same pairs."""
    from ..api import get_model
    from ..evaluate import evaluate_model

    guided_args = guided_option(guided)
    check_at_least_one(limit=limit)
    loaded = get_model(model)
    selection = _select_pairs(data, split, categories, seed, manifest)
    pairs = selection.pairs[:limit]
    _check_outputs(model, data, selection.manifest, pairs, json_path, save_images, overwrite)
    with progress_bar() as progress:
        task = progress.add_task(f"evaluating {model}", total=len(pairs))
        result = evaluate_model(
            loaded,
            pairs,
            guided_args,
            save_images,
            progress=lambda _: progress.advance(task),
            grey=True,
        )
    result.model = model
    print_table(metrics_table(result, title=f"{model} on {data} ({selection.split})"))
    console.print(selection.describe(), highlight=False, soft_wrap=True)
    if json_path is not None:
        result.write_json(json_path)
        console.print(f"wrote {json_path}", highlight=False)


# ---------------------------------------------------------------- report


@app.command()
def report(
    models: Annotated[
        str,
        typer.Option(
            "--models", "-m", metavar="MODEL,...", help="Comma-separated model names or folders."
        ),
    ],
    data: Annotated[Path, typer.Option(help="Folder of NIR/RGB pairs.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Report folder to write.")],
    split: Annotated[str | None, typer.Option(help=SPLIT_HELP, show_default=False)] = None,
    manifest: Annotated[Path | None, typer.Option(help=MANIFEST_HELP)] = None,
    limit: LimitOption = None,
    threads: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help=f"CPU threads of the models, 1 to {MAX_PARALLEL} (default: each model's).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the split when there is no manifest.")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty report folder.")] = False,
) -> None:
    """Score several models on the same pairs; write report.html, report.md and metrics.json."""
    from ..metric_tables import METRIC_NAMES, MS_PER_IMAGE
    from ..metric_tables import metrics_table as build_table
    from ..report import build_report, require_matplotlib

    require_matplotlib()
    names = parse_list(models)
    if not names:
        raise NircolorError("--models: give at least one model")
    check_at_least_one(limit=limit)
    check_parallel("--threads", threads)
    selection = _select_pairs(data, split, None, seed, manifest)
    pairs = selection.pairs[:limit]
    with progress_bar() as progress:
        tasks: dict[str, object] = {}

        def advance(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        result = build_report(
            names,
            pairs,
            output,
            data=str(data),
            split=selection.split,
            manifest=str(selection.manifest) if selection.manifest else None,
            overwrite=overwrite,
            threads=threads,
            progress=advance,
        )
    rows = {
        name: {**evaluation.summary, "ms": result.ms_per_image[name]}
        for name, evaluation in result.evaluations.items()
    }
    if result.grey is not None:
        rows[result.grey.model] = {**result.grey.summary, "ms": None}
    table = build_table(
        rows,
        first="model",
        metrics=[*METRIC_NAMES, MS_PER_IMAGE],
        count=False,
        title=f"report on {len(pairs)} pairs of {data} ({selection.split})",
    ).rich()
    print_table(table)
    console.print(selection.describe(), highlight=False, soft_wrap=True)
    console.print(f"wrote {output / 'report.html'} in {result.seconds:.1f} s", highlight=False)
