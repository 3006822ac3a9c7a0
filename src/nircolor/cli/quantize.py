"""``nircolor quantize``: an ONNX colorizer's folder with an int8 graph beside its float one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import app, command_line, console, progress_bar, step_report


@app.command()
def quantize(
    model: Annotated[str, typer.Argument(help="ONNX colorizer: a shipped name or a folder.")],
    output: Annotated[
        Path,
        typer.Option("-o", "--output", help="Model folder to write (MODEL's own: add int8 to it)."),
    ],
    data: Annotated[
        Path, typer.Option(help="Pairs whose 'fit' rows calibrate (never val, never holdout).")
    ],
    images: Annotated[int, typer.Option(help="Calibration images drawn from 'fit'.")] = 64,
    seed: Annotated[int, typer.Option(help="Seed of the draw.")] = 0,
    float_tail: Annotated[
        int,
        typer.Option(help="Convolutions before the output whose nodes stay float (0: none)."),
    ] = 2,
    float_input: Annotated[
        bool,
        typer.Option(help="Keep the nodes that read the NIR image float (the stem and so on)."),
    ] = True,
    ranges: Annotated[
        str,
        typer.Option(
            metavar="mean|extremes",
            help="Activation ranges: the mean of each image's extremes, or the extremes "
            "over all images.",
        ),
    ] = "mean",
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output folder.")] = False,
) -> None:
    """Quantize an ONNX colorizer to int8 (static QDQ, calibrated on 'fit' images).

    The output folder runs the int8 graph (model_int8.onnx) with onnxruntime alone; its float
    graph stays beside it. Score both on val with benchmarks/bench_quantize.py before
    shipping it. Needs the onnx package (the train extra).
    """
    from ..models.quantize import quantize_model

    with progress_bar() as progress:
        report = step_report(progress, "reading calibration images")
        result = quantize_model(
            model,
            output,
            data,
            images=images,
            seed=seed,
            float_input=float_input,
            float_tail=float_tail,
            ranges=ranges,
            overwrite=overwrite,
            command=command_line(),
            progress=report,
        )
    console.print(
        f"quantized {model} on {result.images} fit images in {result.seconds:.0f} s -> "
        f"{result.folder} (int8 graph {result.size_bytes / 1e6:.1f} MB, float "
        f"{result.float_size_bytes / 1e6:.1f} MB; {len(result.float_nodes)} nodes kept float; "
        f"mean |int8 - float| {result.mean_abs_difference:.4f})",
        highlight=False,
    )
