"""The commands that use models: colorize, models, classify (serve: :mod:`.serve`)."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import NircolorError
from ..runtime import MAX_PARALLEL
from ..video.keyframes import CONTEXT_EVERY
from .common import (
    app,
    console,
    context_option,
    detail_option,
    guided_option,
    print_error,
    print_table,
    progress_bar,
)
from .live import colorize_live, wants_live

# ---------------------------------------------------------------- colorize


@app.command()
def colorize(
    inputs: Annotated[
        list[str],
        typer.Argument(metavar="INPUT", help="NIR images or videos, folders (recursive) or globs."),
    ],
    output: Annotated[
        str,
        typer.Option(
            "-o",
            "--output",
            metavar="OUT",
            help="Output folder (or file); end with / for a new folder.",
        ),
    ],
    model: Annotated[str, typer.Option("--model", "-m", help="Model name or folder.")] = "default",
    guided: Annotated[
        str | None,
        typer.Option(metavar="R,EPS", help="Guided filter 'R,EPS' (e.g. 5,1e-5), or 'off'."),
    ] = None,
    detail: Annotated[
        str | None,
        typer.Option(
            metavar="GAIN,SIGMA",
            help="The NIR's detail above a Gaussian of SIGMA px, times GAIN (e.g. 1.2,2), "
            "or 'off'; default: the model's.",
        ),
    ] = None,
    denoise: Annotated[
        str,
        typer.Option(
            metavar="auto|on|off",
            help="Images: non-local means on the NIR first; auto: only when its estimated "
            "noise is above a clean camera's (not for videos, nor images streamed in bands).",
        ),
    ] = "auto",
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
        typer.Option(
            "--workers",
            metavar="N",
            help=f"Distribute over N local Dask processes, 1 to {MAX_PARALLEL}.",
        ),
    ] = None,
    tile: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help="Stream in pieces of N pixels (bounded memory; automatic above 16 MP).",
        ),
    ] = None,
    input_bits: Annotated[
        int | None,
        typer.Option(
            "--input-bits",
            metavar="N",
            help="16-bit inputs hold N-bit values (12 for most NIR cameras); default: what "
            "the file says (PNG sBIT, TIFF BitsPerSample / MaxSampleValue), else 16.",
        ),
    ] = None,
    context: Annotated[
        str | None,
        typer.Option(
            "--context",
            metavar="SIZE[,SIGMA]",
            help="Colour images larger than SIZE px from one SIZE-px copy, carried to full "
            "size without crossing the NIR's edges (NIR range SIGMA; same colours at any "
            "size); 0: off. Default: the model's (512,0.05 for the default).",
        ),
    ] = None,
    temperature: Annotated[
        float | None,
        typer.Option(
            "--temperature",
            metavar="T",
            help="zhang models: annealed-mean temperature in [0.01, 10]; lower gives more "
            "vivid colours, 1 the mean colour (default: the model's, chosen on its holdout).",
        ),
    ] = None,
    context_every: Annotated[
        int,
        typer.Option(
            "--context-every",
            metavar="N",
            help="Videos: the net's colour context every N frames and at scene cuts, "
            "cross-faded between; 1: every frame as a still.",
        ),
    ] = CONTEXT_EVERY,
    max_frames: Annotated[
        int | None,
        typer.Option("--max-frames", metavar="N", help="Videos and streams: stop after N frames."),
    ] = None,
    duration: Annotated[
        float | None,
        typer.Option(
            "--duration", metavar="S", help="Videos and streams: stop after S seconds of video."
        ),
    ] = None,
    stdout_format: Annotated[
        str,
        typer.Option(
            "--stdout-format",
            metavar="raw|mjpeg",
            help="With -o -: raw rgb24 frames (W x H x 3 bytes each) or MJPEG on stdout.",
        ),
    ] = "raw",
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            metavar="S",
            help="Live sources (URLs, /dev/video*): seconds to open and to wait for data.",
        ),
    ] = 10.0,
) -> None:
    """Colorize NIR images, videos and live streams.

    X.ext becomes OUT/X.png (images) or OUT/X.mp4 (videos, H.264), and ID_nir.ext becomes
    OUT/ID_rgb.png, keeping the sub-folders of a folder input; the RGB halves of NIR/RGB pairs
    are left out, and so are earlier outputs (files in OUT, images nircolor colorized). OUT
    is the output file itself for one input. No output may be an input.
    Ends with 'N done, N skipped, N failed'; exit code 1 if anything failed, 130 if
    interrupted. A live source (rtsp://, http://, udp://, tcp:// URL, /dev/video0) goes to
    one video file or, with '-o -', to stdout; Ctrl+C ends it and keeps the output.
    """
    from ..batch import Options, check_outputs, clean_stale_parts, plan_batch, run_batch
    from ..io.atomic import writer_pid
    from ..video import is_video

    started = time.time()
    options = Options(
        guided=guided_option(guided),
        detail=detail_option(detail),
        bit_depth=bit_depth,
        overwrite=overwrite,
        skip_existing=skip_existing,
        temporal_smoothing=temporal_smoothing,
        tile=tile,
        input_bits=input_bits,
        context=context_option(context),
        temperature=temperature,
        context_every=context_every,
        max_frames=max_frames,
        duration=duration,
        denoise=denoise,
    )
    if wants_live(inputs, output):
        if cluster is not None or workers is not None:
            raise NircolorError("--cluster and --workers take files, not a live source or -o -")
        from ..api import with_temperature

        colorize_live(
            inputs,
            output,
            with_temperature(model, temperature),
            options,
            stdout_format=stdout_format,
            timeout=timeout,
        )
        return
    from ..cluster import check_cluster_options

    check_cluster_options(cluster, workers)
    batch = plan_batch(inputs, output)
    jobs = batch.jobs
    check_outputs(jobs, options)
    if cluster is not None or workers is not None:
        from ..models import colorizer_path

        colorizer_path(model)  # a bad model is one error here, not one per file
        loaded = model
    else:
        from ..api import get_model, with_temperature

        loaded = get_model(model)
        with_temperature(model, temperature)  # a model without one is one error here
    if batch.partners:
        console.print(
            f"skipped {_count(len(batch.partners), 'RGB pair partner')} "
            "(ID_rgb or ID_rgb_reg beside an ID_nir input)",
            highlight=False,
        )
    if batch.earlier_outputs:
        console.print(
            f"skipped {_count(len(batch.earlier_outputs), 'earlier output')} "
            "(files in the output folder, or images nircolor colorized)",
            highlight=False,
        )
    for path in clean_stale_parts(jobs, started):
        console.print(
            f"removed {escape(str(path))} (a partial file left by a killed run, "
            f"process {writer_pid(path)})",
            highlight=False,
            soft_wrap=True,
        )
    finished = 0
    with progress_bar() as progress:
        task = progress.add_task("colorizing", total=len(jobs))
        within_task, within_job = None, None

        def report(outcome) -> None:
            nonlocal finished
            finished += 1
            if outcome.status == "failed":
                print_error(outcome.message)
            progress.advance(task)

        def within(job, done: int, total: int | None) -> None:
            """The frames of a video, the row bands of a streamed image."""
            nonlocal within_task, within_job
            if within_task is None:
                within_task = progress.add_task("", total=total)
            if job != within_job:
                within_job = job
                unit = "frames" if is_video(job.source) else "rows"
                description = f"{unit} of {job.source.name}"
                progress.reset(within_task, total=total, description=escape(description))
            progress.update(within_task, completed=done)

        try:
            summary = run_batch(
                jobs,
                loaded,
                options,
                on_result=report,
                job_progress=within,
                cluster=cluster,
                workers=workers,
            )
        except KeyboardInterrupt:
            progress.stop()
            console.print(
                f"interrupted after {finished} of {len(jobs)}; rerun with --skip-existing",
                highlight=False,
            )
            raise typer.Exit(130) from None
    failures = summary.failures
    console.print(summary.line(), highlight=False)
    if failures and len(jobs) > 1:  # one failed input: its error line is just above
        console.print("failed:", highlight=False)
        for outcome in failures[:MAX_LISTED_FAILURES]:
            console.print(f"  {escape(outcome.message)}", highlight=False, soft_wrap=True)
        if len(failures) > MAX_LISTED_FAILURES:
            console.print(f"  ... and {len(failures) - MAX_LISTED_FAILURES} more", highlight=False)
    if failures:
        raise typer.Exit(1)


MAX_LISTED_FAILURES = 20
"""Failures repeated under the summary line (every one is also printed as it happens)."""


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


# ---------------------------------------------------------------- models


@app.command("models")
def list_models_command() -> None:
    """List the registered colorizers (name, kind, size, model card), then the scene
    classifiers (used by routed models and 'nircolor classify', never to colorize)."""
    from ..models import ALIASES, NON_COLORIZERS, list_models

    infos = list_models()
    colorizers = [info for info in infos if info.kind not in NON_COLORIZERS]
    classifiers = [info for info in infos if info.kind in NON_COLORIZERS]
    table = _models_table("nircolor models", colorizers)
    for alias, target in ALIASES.items():
        table.add_row(alias, f"→ {target}", "", "")
    print_table(table)
    if classifiers:
        print_table(_models_table("scene classifiers and detectors", classifiers))


def _models_table(title: str, infos) -> Table:
    table = Table(title=title, title_justify="left")
    for header in ("name", "kind", "size"):
        table.add_column(header, no_wrap=True)
    table.add_column("card", overflow="fold")
    for info in infos:
        table.add_row(info.name, info.kind, _file_size(info.size_bytes), str(info.card or "-"))
    return table


def _file_size(size_bytes: int) -> str:
    """Decimal units (1 MB = 10^6 bytes), as the README's model tables give them."""
    return f"{size_bytes / 1e3:.0f} kB" if size_bytes < 1e6 else f"{size_bytes / 1e6:.1f} MB"


@app.command()
def classify(
    inputs: Annotated[
        list[str], typer.Argument(metavar="INPUT", help="NIR images, folders or globs.")
    ],
    model: Annotated[
        str, typer.Option("--model", "-m", help="Classifier model name or folder.")
    ] = "classifier",
) -> None:
    """Recognise the scene of NIR images: prints 'IMAGE<TAB>CATEGORY<TAB>CONFIDENCE' per image."""
    from ..batch import image_inputs
    from ..io import read_nir
    from ..models import load_classifier

    sources = [source for source, _ in image_inputs(inputs)]
    loaded = load_classifier(model)
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
