"""The colour-photograph options of ``nircolor train <net>`` and ``train specialists``, and
``nircolor train reverse`` (the pseudo-NIR model; registered last by :mod:`.train`).

No ``from __future__ import annotations``: Typer reads these annotations at run time.
"""

from pathlib import Path
from typing import Annotated

import typer

from .common import command_line, console, progress_bar, step_report

ColourPhotos = Annotated[
    Path | None,
    typer.Option(
        help="Folder of colour photographs (no NIR) to pre-train on for --pretrain-epochs.",
        rich_help_panel="Colour photographs",
    ),
]
PhotoNir = Annotated[
    str,
    typer.Option(
        help="NIR stand-in of a photo: grey (its CIE L*/100) or pseudo (RGB -> NIR L3 fitted "
        "on the fit rows).",
        rich_help_panel="Colour photographs",
    ),
]
PretrainEpochs = Annotated[
    int,
    typer.Option(
        help="The first N of --epochs draw their batches from the photos (the best epoch is "
        "chosen among the others).",
        rich_help_panel="Colour photographs",
    ),
]
PhotoSide = Annotated[
    int,
    typer.Option(
        help="Photos are downscaled to this long side (px).", rich_help_panel="Colour photographs"
    ),
]
PhotoCache = Annotated[
    Path | None,
    typer.Option(
        help="Cache of the pseudo-NIR model and images (default ~/.cache/nircolor/photos).",
        rich_help_panel="Colour photographs",
    ),
]
ReverseModel = Annotated[
    Path | None,
    typer.Option(
        help="Pseudo-NIR model folder ('nircolor train reverse'; default: fitted and cached).",
        rich_help_panel="Colour photographs",
    ),
]


def photo_settings(colour_photos, photo_nir, pretrain_epochs, photo_side, photo_cache, reverse):
    """The :class:`~nircolor.train.config.NetTrainConfig` fields of the photo options."""
    return {
        "colour_photos": str(colour_photos) if colour_photos else None,
        "photo_nir": photo_nir,
        "pretrain_epochs": pretrain_epochs,
        "photo_side": photo_side,
        "photo_cache": str(photo_cache) if photo_cache else None,
        "reverse_model": str(reverse) if reverse else None,
    }


def train_reverse_command(
    data: Annotated[Path, typer.Option(help="Folder of NIR/RGB pairs.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Model folder to write.")],
    split: Annotated[str, typer.Option(help="Rows to fit on (fit: train less the holdout).")] = (
        "fit"
    ),
    seed: Annotated[int, typer.Option(help="Pixel sampling seed.")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing model folder.")] = False,
) -> None:
    """Fit the pseudo-NIR model (RGB patch -> NIR, L3, pure numpy) on the pairs."""
    from ..train.reverse import train_reverse

    with progress_bar() as progress:
        report = step_report(progress, "fitting RGB -> NIR")
        result = train_reverse(
            data,
            output,
            split=split,
            seed=seed,
            overwrite=overwrite,
            command=command_line(),
            progress=report,
        )
    held_out = result.info.get("holdout_mse")
    score = f"; holdout MSE {held_out:.5f}" if held_out is not None else ""
    console.print(
        f"fitted RGB -> NIR on {result.n_pairs} pairs in {result.seconds:.1f} s{score} -> {output}",
        highlight=False,
    )
