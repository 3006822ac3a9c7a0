"""``nircolor calibrate``: an ONNX colorizer's folder with its lightness offset fitted."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import app, command_line, console, progress_bar, step_report


@app.command()
def calibrate(
    model: Annotated[str, typer.Argument(help="ONNX colorizer: a shipped name or a folder.")],
    output: Annotated[
        Path,
        typer.Option("-o", "--output", help="Model folder to write (MODEL's own: recalibrate it)."),
    ],
    data: Annotated[Path, typer.Option(help="Pairs whose 'fit' rows are read (never val).")],
    images: Annotated[
        int | None, typer.Option(help="How many 'fit' images to read (default: all).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the draw when --images is given.")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output folder.")] = False,
) -> None:
    """Fit an ONNX colorizer's lightness offset on 'fit' images.

    The offset is the mean over the images of the truth's mean L* minus the colorization's;
    the output folder's colorizer moves its lightness by it (config lightness_offset). Score
    it on holdout with benchmarks/bench_default.py before shipping it.
    """
    from ..models.lightness import calibrate_lightness

    with progress_bar() as progress:
        report = step_report(progress, "colorizing fit images")
        result = calibrate_lightness(
            model,
            output,
            data,
            images=images,
            seed=seed,
            overwrite=overwrite,
            command=command_line(),
            progress=report,
        )
    console.print(
        f"calibrated {model} on {result.images} fit images in {result.seconds:.0f} s -> "
        f"{result.folder} (lightness offset {result.offset:+.3f} L*, per-image spread "
        f"{result.spread:.2f})",
        highlight=False,
    )
