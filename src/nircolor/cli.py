"""Command line: a thin layer over the Python API (``nircolor --help``)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
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


def print_error(message: object) -> None:
    """One line on stderr; the text is escaped (paths and 'nircolor[extra]' hold brackets)."""
    console.print(f"[red]error:[/red] {escape(str(message))}", highlight=False, soft_wrap=True)


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


def _parse_guided(text: str | None) -> tuple[int, float] | bool | None:
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


@app.command()
def colorize(
    inputs: Annotated[
        list[str], typer.Argument(help="NIR images or videos, folders (recursive) or globs.")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output folder (or file).")],
    model: Annotated[str, typer.Option("--model", "-m", help="Model name or folder.")] = "default",
    guided: Annotated[
        str | None, typer.Option(help="Guided filter 'R,EPS' (e.g. 5,1e-5), or 'off'.")
    ] = None,
    bit_depth: Annotated[int, typer.Option("--bit-depth", help="8 or 16 (PNG/TIFF).")] = 8,
    overwrite: Annotated[bool, typer.Option(help="Replace existing output files.")] = False,
    skip_existing: Annotated[
        bool,
        typer.Option(
            "--skip-existing", help="Keep outputs that exist (resume an interrupted run)."
        ),
    ] = False,
    temporal_smoothing: Annotated[
        float | None,
        typer.Option(
            "--temporal-smoothing",
            metavar="ALPHA",
            help="Videos: moving average of the chroma, weight ALPHA in (0, 1] for the "
            "current frame (smaller is smoother; 1 is off).",
        ),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            metavar="ADDRESS",
            help="Distribute over the Dask scheduler at ADDRESS (tcp://host:8786); inputs, "
            "outputs and model must be at the same paths on the workers.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", metavar="N", help="Distribute over N local Dask processes."),
    ] = None,
    tile: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help="Stream in pieces of N pixels (bounded memory; automatic above 16 MP).",
        ),
    ] = None,
) -> None:
    """Colorize NIR images and videos.

    X.ext becomes OUT/X.png (images) or OUT/X.mp4 (videos, H.264), keeping the sub-folders of
    a folder input; OUT is the output file itself for one input. Ends with 'N done, N skipped,
    N failed'; exit code 1 if anything failed.
    """
    from .batch import Options, plan, run_batch

    options = Options(
        guided=_parse_guided(guided),
        bit_depth=bit_depth,
        overwrite=overwrite,
        skip_existing=skip_existing,
        temporal_smoothing=temporal_smoothing,
        tile=tile,
    )
    if cluster is not None and workers is not None:
        raise NircolorError("--cluster and --workers exclude each other")
    if workers is not None and workers < 1:
        raise NircolorError("--workers must be at least 1")
    if cluster is not None or workers is not None:
        from .models import resolve_model_path

        resolve_model_path(model)  # a bad model is one error here, not one per file
        loaded = model
    else:
        from .api import get_model

        loaded = get_model(model)
    jobs = plan(inputs, output)
    with progress_bar() as progress:
        task = progress.add_task("colorizing", total=len(jobs))
        frames_task = None

        def report(outcome) -> None:
            if outcome.status == "failed":
                print_error(outcome.message)
            progress.advance(task)

        def frames(job, done: int, total: int | None) -> None:
            nonlocal frames_task
            if frames_task is None:
                frames_task = progress.add_task("frames", total=total)
            if done == 1:
                progress.reset(frames_task, total=total, description=f"frames of {job.source.name}")
            progress.update(frames_task, completed=done)

        summary = run_batch(
            jobs,
            loaded,
            options,
            on_result=report,
            frame_progress=frames,
            cluster=cluster,
            workers=workers,
        )
    failures = summary.failures
    if len(jobs) > 1 or not failures:  # one failed input: its error line says it all
        console.print(summary.line(), highlight=False)
    if failures and len(jobs) > 1:
        console.print("failed:", highlight=False)
        for outcome in failures[:MAX_LISTED_FAILURES]:
            console.print(f"  {escape(outcome.message)}", highlight=False, soft_wrap=True)
        if len(failures) > MAX_LISTED_FAILURES:
            console.print(f"  ... and {len(failures) - MAX_LISTED_FAILURES} more", highlight=False)
    if failures:
        raise typer.Exit(1)


MAX_LISTED_FAILURES = 20
"""Failures repeated under the summary line (every one is also printed as it happens)."""


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
    if result.evaluation is not None:
        stdout.print(metrics_table(result.evaluation, title=f"{output} on the val split"))


def _command_line() -> str:
    return "nircolor " + " ".join(shlex.quote(a) for a in sys.argv[1:])


# ---------------------------------------------------------------- evaluate


@app.command()
def evaluate(
    model: Annotated[str, typer.Option("--model", "-m", help="Model name or folder.")],
    data: Annotated[Path, typer.Option(help="Folder of NIR/RGB pairs.")],
    split: Annotated[str, typer.Option(help="train, val or all.")] = "val",
    categories: Annotated[str | None, typer.Option(help="Comma-separated categories.")] = None,
    guided: Annotated[str | None, typer.Option(help="Guided filter 'R,EPS', or 'off'.")] = None,
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


# ---------------------------------------------------------------- report


@app.command()
def report(
    models: Annotated[
        str, typer.Option("--models", "-m", help="Comma-separated model names or folders.")
    ],
    data: Annotated[Path, typer.Option(help="Folder of NIR/RGB pairs.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Report folder to write.")],
    split: Annotated[str, typer.Option(help="train, val or all.")] = "val",
    limit: Annotated[
        int | None, typer.Option(metavar="N", help="Score the first N pairs only.")
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(metavar="N", help="CPU threads of the models (default: each model's)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the split when there is no manifest.")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty report folder.")] = False,
) -> None:
    """Score several models on the same pairs; write report.html, report.md and metrics.json."""
    from .data import load_dataset
    from .metrics import METRIC_NAMES
    from .report import METRIC_FORMATS, METRIC_LABELS, build_report, require_matplotlib

    require_matplotlib()
    names = _parse_list(models)
    if not names:
        raise NircolorError("--models: give at least one model")
    for option, value in (("--limit", limit), ("--threads", threads)):
        if value is not None and value < 1:
            raise NircolorError(f"{option} must be at least 1, not {value}")
    pairs = load_dataset(data, split=split, seed=seed)[:limit]
    if not pairs:
        raise NircolorError(f"{data}: the '{split}' split holds no pairs")
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
            split=split,
            overwrite=overwrite,
            threads=threads,
            progress=advance,
        )
    table = Table(title=f"report on {len(pairs)} pairs of {data} ({split})", title_justify="left")
    table.add_column("model")
    for header in [*(METRIC_LABELS[m] for m in METRIC_NAMES), "ms/image"]:
        table.add_column(header, justify="right")
    for name, evaluation in result.evaluations.items():
        summary = evaluation.summary
        cells = [METRIC_FORMATS[m].format(summary[m]) for m in METRIC_NAMES]
        table.add_row(name, *cells, f"{result.ms_per_image[name]:.1f}")
    stdout.print(table)
    console.print(f"wrote {output / 'report.html'} in {result.seconds:.1f} s", highlight=False)


# ---------------------------------------------------------------- models


@app.command("models")
def list_models_command() -> None:
    """List the registered models: name, kind, size and model card."""
    from .models import ALIASES, list_models

    table = Table(title="nircolor models", title_justify="left")
    for header in ("name", "kind", "size"):
        table.add_column(header, no_wrap=True)
    table.add_column("card", overflow="fold")
    for info in list_models():
        table.add_row(
            info.name, info.kind, f"{info.size_bytes / 1e6:.2f} MB", str(info.card or "-")
        )
    for alias, target in ALIASES.items():
        table.add_row(alias, f"→ {target}", "", "")
    stdout.print(table)


# ---------------------------------------------------------------- serve

_SERVE_MODULES = {"fastapi", "starlette", "uvicorn", "anyio", "multipart", "python_multipart"}


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on; 127.0.0.1 is this machine only.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model used when a request names none.")
    ] = "default",
    workers: Annotated[
        int | None,
        typer.Option(help="Colorizations run at once, in threads (default: 2 × CPUs, 2 to 4)."),
    ] = None,
    max_upload_mb: Annotated[
        float, typer.Option("--max-upload-mb", help="Largest accepted image file, in MB.")
    ] = 25.0,
    max_megapixels: Annotated[
        float, typer.Option("--max-megapixels", help="Largest accepted image, in megapixels.")
    ] = 25.0,
) -> None:
    """Serve a web page and an HTTP API (POST /colorize) for colorizing NIR images."""
    try:
        import uvicorn

        from .serve import create_app
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] not in _SERVE_MODULES:
            raise
        message = (
            f"'nircolor serve' needs the serve extra ({error.name} is missing): "
            "pip install 'nircolor[serve]'"
        )
        print_error(message)
        raise typer.Exit(1) from None
    if not 0 <= port <= 65535:
        raise NircolorError(f"--port must be between 0 and 65535, not {port}")
    if workers is not None and workers < 1:
        raise NircolorError(f"--workers must be at least 1, not {workers}")
    if max_upload_mb <= 0 or max_megapixels <= 0:
        raise NircolorError("--max-upload-mb and --max-megapixels must be positive")
    web_app = create_app(
        model,
        max_upload_bytes=max(1, round(max_upload_mb * 1e6)),
        max_pixels=max(1, round(max_megapixels * 1e6)),
        workers=workers,
    )
    shown = f"[{host}]" if ":" in host else host
    console.print(
        f"nircolor: serving model {model} on http://{shown}:{port}/ (Ctrl+C to stop)",
        highlight=False,
    )
    uvicorn.run(web_app, host=host, port=port, log_level="info", server_header=False)


# ---------------------------------------------------------------- learned nets

_TRAIN_MODULES = {"torch", "onnx", "safetensors"}
NET_HELP = {
    "cnn": "Train the seed 'IR to RGB' CNN (conv/deconv, BatchNorm, ReLU; MSE on patches).",
    "classifier": "Train the NIR scene classifier (9 EPFL categories; global features of fusion).",
    "fusion": "Train the Deep-Koalarization-style fusion net (local encoder + global vector).",
    "unet": "Train the small U-Net with a fused global vector (fast on CPU).",
}


def _require_training_extra() -> None:
    """Exit with one clear line when torch, onnx or safetensors is missing."""
    try:
        import onnx  # noqa: F401
        import safetensors  # noqa: F401
        import torch  # noqa: F401
    except ImportError as error:
        if (getattr(error, "name", None) or "torch").split(".")[0] not in _TRAIN_MODULES:
            raise
        message = (
            f"training learned models needs torch, onnx and safetensors "
            f"({error.name or 'torch'} is missing): install nircolor[train]"
        )
        print_error(message)
        raise typer.Exit(1) from None


def _train_net_command(arch: str):
    def command(
        data: Annotated[Path, typer.Option(help="Folder of NIR/RGB pairs (with MANIFEST.csv).")],
        output: Annotated[Path, typer.Option("-o", "--output", help="Model folder to write.")],
        epochs: Annotated[int, typer.Option(help="Epochs (a validation + checkpoint each).")] = 10,
        steps_per_epoch: Annotated[int, typer.Option(help="Optimizer steps per epoch.")] = 200,
        batch: Annotated[
            int | None, typer.Option(help="Patches per step (default 16; unet, fusion 8).")
        ] = None,
        patch: Annotated[
            int | None,
            typer.Option(help="Patch side (default 64; unet, fusion 128; classifier 192)."),
        ] = None,
        lr: Annotated[float, typer.Option(help="Peak learning rate (AdamW, cosine).")] = 1e-3,
        seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
        threads: Annotated[
            int | None, typer.Option(help="CPU threads (default: all available).")
        ] = None,
        device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
        resume: Annotated[
            bool, typer.Option(help="Continue from the checkpoint in the output folder.")
        ] = False,
        output_space: Annotated[
            str | None, typer.Option(help="rgb, lab or lab_ab (default rgb; fusion lab_ab).")
        ] = None,
        loss: Annotated[str | None, typer.Option(help="mse, l1 or l1+ssim (default mse).")] = None,
        width: Annotated[int | None, typer.Option(help="Base width of the net.")] = None,
        categories: Annotated[
            str | None, typer.Option(help="Comma-separated categories (classifier: its classes).")
        ] = None,
        classifier: Annotated[
            Path | None, typer.Option(help="fusion: global branch from this classifier, frozen.")
        ] = None,
        guided: Annotated[
            str | None, typer.Option(help="Default guided filter of the model, 'R,EPS'.")
        ] = None,
        split: Annotated[
            str, typer.Option(help="Rows to train on (fit: train less a scene holdout).")
        ] = "fit",
        val_split: Annotated[
            str, typer.Option(help="Rows that choose the best epoch (scene-disjoint).")
        ] = "holdout",
        report_split: Annotated[
            str, typer.Option(help="Rows scored in the model card ('' for none).")
        ] = "val",
        val_limit: Annotated[
            int | None, typer.Option(help="Validate on the first N images only.")
        ] = None,
        vflip: Annotated[bool, typer.Option(help="Also flip patches upside down.")] = False,
        guided_sweep: Annotated[
            bool,
            typer.Option(
                help="Choose the default guided filter (r 2,5,8 × eps 1e-5,1e-3,1e-2, or "
                "none) on the holdout rows."
            ),
        ] = False,
        overwrite: Annotated[bool, typer.Option(help="Replace an existing model folder.")] = False,
    ) -> None:
        _require_training_extra()
        from .progress import RichReporter
        from .train.nets import NetTrainConfig, train_net

        if classifier is not None and arch != "fusion":
            raise NircolorError("--classifier is an option of 'nircolor train fusion' only")
        try:
            config = NetTrainConfig(
                arch=arch,
                data=str(data),
                output=str(output),
                epochs=epochs,
                steps_per_epoch=steps_per_epoch,
                batch=batch,
                patch=patch,
                lr=lr,
                loss=loss,
                output_space=output_space,
                width=width,
                vflip=vflip,
                seed=seed,
                threads=threads,
                device=device,
                split=split,
                val_split=val_split,
                report_split=report_split or None,
                guided_sweep=guided_sweep,
                val_limit=val_limit,
                categories=_parse_list(categories),
                classifier=str(classifier) if classifier else None,
                guided=list(_parse_guided(guided) or []) or None,
                resume=resume,
                overwrite=overwrite,
                command=_command_line(),
            )
            result = train_net(config, RichReporter(console))
        except ValueError as error:  # invalid net settings (widths, output space...)
            raise NircolorError(str(error)) from None
        console.print(
            f"trained {arch} on {result.n_pairs} pairs in {result.seconds:.1f} s -> {output} "
            f"(card: {output / 'MODEL_CARD.md'})",
            highlight=False,
        )

    command.__doc__ = NET_HELP[arch]
    return command


for _arch in NET_HELP:
    train_app.command(_arch)(_train_net_command(_arch))


@train_app.command("specialists")
def train_specialists_command(
    data: Annotated[Path, typer.Option(help="Folder of NIR/RGB pairs (with MANIFEST.csv).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Routed model folder to write.")],
    general: Annotated[
        str, typer.Option(help="The learned model to fine-tune (a name or a folder).")
    ],
    classifier: Annotated[
        str, typer.Option(help="Scene classifier that routes images (a name or a folder).")
    ] = "classifier",
    categories: Annotated[
        str | None, typer.Option(help="Comma-separated categories (default: the classifier's).")
    ] = None,
    epochs: Annotated[int, typer.Option(help="Epochs per specialist.")] = 4,
    steps_per_epoch: Annotated[int, typer.Option(help="Optimizer steps per epoch.")] = 100,
    batch: Annotated[
        int | None, typer.Option(help="Patches per step (default: the general model's).")
    ] = None,
    patch: Annotated[int | None, typer.Option(help="Patch side (default: the general's).")] = None,
    lr: Annotated[float, typer.Option(help="Peak learning rate of the fine-tuning.")] = 3e-4,
    loss: Annotated[
        str | None, typer.Option(help="mse, l1 or l1+ssim (default: the general model's).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    threads: Annotated[int | None, typer.Option(help="CPU threads (default: all).")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    report_split: Annotated[
        str, typer.Option(help="Rows scored in the model card ('' for none).")
    ] = "val",
    overwrite: Annotated[bool, typer.Option(help="Replace an existing routed model.")] = False,
) -> None:
    """Fine-tune a learned model per scene category; the classifier routes each image.

    Running it again on an unfinished folder finishes it (done specialists are kept).
    """
    _require_training_extra()
    from .models import read_config, resolve_model_path
    from .progress import RichReporter
    from .train.nets import NetTrainConfig
    from .train.routed import train_specialists

    general_config = read_config(resolve_model_path(general))
    arch = general_config.get("arch")
    if arch not in NET_HELP or arch == "classifier":
        raise NircolorError(f"--general {general}: not a learned colorizer (train one first)")
    trained = general_config.get("training", {}).get("settings", {})  # its batch, patch, loss
    config = NetTrainConfig(
        arch=arch,
        data=str(data),
        output=str(output),
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        batch=batch or trained.get("batch"),
        patch=patch or trained.get("patch"),
        lr=lr,
        loss=loss or trained.get("loss"),
        seed=seed,
        threads=threads,
        device=device,
        report_split=report_split or None,
        overwrite=overwrite,
        command=_command_line(),
    )

    def reporter_for(category: str):
        console.print(f"specialist: {category}", highlight=False)
        return RichReporter(console)

    result = train_specialists(
        config, general, classifier, _parse_list(categories), reporter_for=reporter_for
    )
    console.print(
        f"trained {len(read_config(output)['specialists'])} specialists in "
        f"{result.seconds:.1f} s -> {output} (card: {output / 'MODEL_CARD.md'})",
        highlight=False,
    )


@app.command()
def classify(
    inputs: Annotated[list[str], typer.Argument(help="NIR images, folders or globs.")],
    model: Annotated[
        str, typer.Option("--model", "-m", help="Classifier model name or folder.")
    ] = "classifier",
) -> None:
    """Recognise the scene of NIR images: prints 'IMAGE<TAB>CATEGORY<TAB>CONFIDENCE' per image."""
    from .api import get_model
    from .batch import expand_inputs
    from .io import READ_EXTENSIONS, read_nir

    sources = [s for s, _ in expand_inputs(inputs) if s.suffix.lower() in READ_EXTENSIONS]
    if not sources:
        raise NircolorError("no input images found")
    loaded = get_model(model)
    if not hasattr(loaded, "classify"):
        raise NircolorError(f"{model}: not a scene classifier (kind '{loaded.kind}')")
    failures = 0
    for source in sources:
        try:
            category, probabilities = loaded.classify(read_nir(source))
        except NircolorError as error:
            failures += 1
            print_error(error)
            continue
        typer.echo(f"{source}\t{category}\t{probabilities[category]:.4f}")
    if failures:
        raise typer.Exit(1)


# ---------------------------------------------------------------- entry point


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
