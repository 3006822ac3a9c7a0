"""``nircolor detect``: scene regions of NIR images, printed, as JSON and as pictures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..errors import NircolorError
from .common import app, print_error


def _option(parse, text: str | None, flag: str):
    if text is None:
        return None
    try:
        return parse(text)
    except ValueError as error:
        message = str(error).split(" must ", 1)[-1]
        raise NircolorError(f"{flag} must {message}") from None


def _top(text: str):
    from ..detection.api import check_top

    try:
        value = int(text.strip())
    except ValueError:
        return check_top(text)  # refused, named as given
    return check_top(value)


@app.command()
def detect(
    inputs: Annotated[
        list[str], typer.Argument(metavar="IMAGE", help="NIR images, folders or globs.")
    ],
    json_path: Annotated[
        str | None,
        typer.Option("--json", metavar="FILE", help="Write the detections of every image here."),
    ] = None,
    overlay: Annotated[
        Path | None,
        typer.Option(metavar="DIR", help="Draw the boxes on each image: DIR/NAME_detect.png."),
    ] = None,
    min_prob: Annotated[
        str | None,
        typer.Option("--min-prob", metavar="P", help="Leave out boxes less probable (0.5)."),
    ] = None,
    top: Annotated[
        str | None, typer.Option("--top", metavar="K", help="At most K boxes per image (10).")
    ] = None,
    model: Annotated[
        str, typer.Option("--model", "-m", help="Detector model name or folder.")
    ] = "detector",
    overwrite: Annotated[bool, typer.Option(help="Replace existing output files.")] = False,
) -> None:
    """Detect scene regions in NIR images.

    Prints 'IMAGE<TAB>X0,Y0,X1,Y1<TAB>LABEL<TAB>PROBABILITY' per box (input pixels, most
    probable first; 'IMAGE<TAB>-' for none); exit code 1 if an image failed.
    """
    from ..batch import image_inputs
    from ..detection.api import DEFAULT_MIN_PROB, DEFAULT_TOP, check_min_prob, get_detector
    from ..detection.overlay import draw_detections
    from ..io import read_nir, write_bytes_atomic, write_image
    from ..io.atomic import output_path
    from ..io.outputs import check_output_files

    floor = _option(check_min_prob, min_prob, "--min-prob")
    floor = DEFAULT_MIN_PROB if floor is None else floor
    count = _option(_top, top, "--top") if top is not None else DEFAULT_TOP
    found = image_inputs(inputs)
    given = {Path(text): text for text in inputs}
    targets = {}
    if overlay is not None:
        for source, relative in found:
            targets[source] = output_path(overlay) / relative.parent / f"{source.stem}_detect.png"
    outputs = list(targets.values()) + ([json_path] if json_path is not None else [])
    check_output_files(outputs, overwrite, [source for source, _ in found], NircolorError)
    detector = get_detector(model)
    entries, failures = [], 0
    for source, _ in found:
        name = given.get(source, str(source))
        try:
            nir = read_nir(source)
            detections = detector.detect(nir, min_prob=floor, top=count)
            if overlay is not None:
                write_image(targets[source], draw_detections(nir, detections), overwrite=True)
        except (NircolorError, ValueError) as error:
            failures += 1
            print_error(error)
            entries.append({"image": name, "error": str(error)})
            continue
        entries.append({"image": name, "detections": [d.as_json() for d in detections]})
        if not detections:
            typer.echo(f"{name}\t-")
        for d in detections:
            box = ",".join(f"{v:.0f}" for v in d.box)
            typer.echo(f"{name}\t{box}\t{d.label}\t{d.probability:.4f}")
    if json_path is not None:
        text = json.dumps(entries, indent=2) + "\n"
        write_bytes_atomic(output_path(json_path), text.encode())
    if failures:
        raise typer.Exit(1)
