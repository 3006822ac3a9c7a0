"""``nircolor train ...``: L3, the learned nets and the routed specialists.

No ``from __future__ import annotations`` here: the options of each net's command are built
in a closure over its architecture, and Typer evaluates string annotations in the module's
globals, where that closure is not visible.
"""

from pathlib import Path
from typing import Annotated

import typer

from ..data import SPLITS
from ..errors import NircolorError
from ..train.defaults import DEFAULTS, DEGRADE_ARCHS
from ..train.limits import HELP
from .common import (
    command_line,
    console,
    detail_option,
    guided_option,
    metrics_table,
    model_default,
    parse_list,
    print_table,
    progress_bar,
    step_report,
    train_app,
)
from .photos import (
    ColourPhotos,
    PhotoCache,
    PhotoNir,
    PhotoSide,
    PretrainEpochs,
    ReverseModel,
    photo_settings,
    train_reverse_command,
)

# ---------------------------------------------------------------- train

DATA_HELP = "Folder of NIR/RGB pairs (a MANIFEST.csv in it, if any, fixes the splits)."
SPLIT_HELP = f"Rows to train on: {', '.join(SPLITS)}"


@train_app.command("l3")
def train_l3(
    data: Annotated[Path, typer.Option(help=DATA_HELP)],
    output: Annotated[Path, typer.Option("-o", "--output", help="Model folder to write.")],
    categories: Annotated[str | None, typer.Option(help="Comma-separated categories.")] = None,
    patch: Annotated[int, typer.Option(help="Patch size (odd).")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    split: Annotated[str, typer.Option(help=f"{SPLIT_HELP}.")] = "train",
    overwrite: Annotated[bool, typer.Option(help="Replace an existing model folder.")] = False,
    cfa: Annotated[
        str | None,
        typer.Option(
            help="The NIR inputs are raw colour-filter-array mosaics: 'rgbir' (G R / B IR "
            "from the top-left pixel, 16-bit); L3 then classes pixels by type too."
        ),
    ] = None,
) -> None:
    """Train an L3 (Local, Linear, Learned) colorizer."""
    from ..train import train_l3 as run_training

    with progress_bar() as progress:
        report = step_report(progress, "training l3")
        result = run_training(
            data,
            output,
            categories=parse_list(categories),
            patch=patch,
            seed=seed,
            split=split,
            overwrite=overwrite,
            command=command_line(),
            progress=report,
            cfa=cfa,
        )
    console.print(
        f"trained l3 on {result.n_pairs} pairs in {result.seconds:.1f} s -> {output}",
        highlight=False,
    )
    if result.evaluation is not None:
        print_table(metrics_table(result.evaluation, title=f"{output} on the val split"))


# ---------------------------------------------------------------- learned nets

NET_HELP = {
    "cnn": "Train the seed 'IR to RGB' CNN (conv/deconv, BatchNorm, ReLU; MSE on patches).",
    "classifier": "Train the NIR scene classifier (9 EPFL categories; global features of fusion).",
    "fusion": "Train the Deep-Koalarization-style fusion net (local encoder + global vector).",
    "unet": "Train the small U-Net with a fused global vector (fast on CPU).",
    "zhang": "Train the U-Net with Zhang et al.'s ab-bin classification (vivid colours).",
    "iizuka": "Train the Iizuka et al. net: fusion net + scene-class loss, learned jointly.",
    "detector": "Train the region detector (lightweight Faster R-CNN) on NIR composites; "
    "--patch is its working size (long side).",
}


LOSS_HELP = ("mse, l1 or l1+ssim.", "cross_entropy (the classifier's only loss).")
CATEGORIES_HELP = (
    "Comma-separated categories to train on (default: all).",
    "Comma-separated categories to tell apart (default: the 9 EPFL categories).",
)


def _require_training_extra() -> None:
    """Exit with one clear line when torch, onnx or safetensors is missing."""
    from ..extras import require_extra

    require_extra("train", "training learned models")


def _train_net_command(arch: str):
    defaults = DEFAULTS[arch]
    is_classifier, is_fusion, is_zhang = arch == "classifier", arch == "fusion", arch == "zhang"
    is_classifier, is_fusion = arch in ("classifier", "detector"), arch == "fusion"
    class_weight_default = defaults.get("class_weight")

    def command(
        data: Annotated[Path, typer.Option(help=DATA_HELP)],
        output: Annotated[Path, typer.Option("-o", "--output", help="Model folder to write.")],
        epochs: Annotated[int, typer.Option(help="Epochs (a validation + checkpoint each).")] = 10,
        steps_per_epoch: Annotated[int, typer.Option(help="Optimizer steps per epoch.")] = 200,
        batch: Annotated[int, typer.Option(help=HELP["batch"])] = defaults["batch"],
        patch: Annotated[int, typer.Option(help=HELP["patch"])] = defaults["patch"],
        lr: Annotated[float, typer.Option(help=HELP["lr"])] = 1e-3,
        seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
        threads: Annotated[int | None, typer.Option(help=HELP["threads"])] = None,
        device: Annotated[str, typer.Option(help=HELP["device"])] = "auto",
        resume: Annotated[
            bool, typer.Option(help="Continue from the checkpoint in the output folder.")
        ] = False,
        output_space: Annotated[
            str | None, typer.Option(help="rgb, lab or lab_ab.", hidden=is_classifier or is_zhang)
        ] = defaults["output_space"],
        loss: Annotated[str, typer.Option(help=LOSS_HELP[is_classifier])] = defaults["loss"],
        width: Annotated[int | None, typer.Option(help=HELP["width"], hidden=is_classifier)] = None,
        categories: Annotated[str | None, typer.Option(help=CATEGORIES_HELP[is_classifier])] = None,
        classifier: Annotated[
            Path | None,
            typer.Option(help="Global branch from this classifier, frozen.", hidden=not is_fusion),
        ] = None,
        guided: Annotated[
            str | None,
            typer.Option(metavar="R,EPS", help="Default guided filter of the model, 'R,EPS'."),
        ] = None,
        detail: Annotated[
            str | None,
            typer.Option(
                metavar="GAIN,SIGMA",
                help="Default detail transfer of the model: the NIR's detail above a "
                "Gaussian of SIGMA px, times GAIN.",
            ),
        ] = None,
        split: Annotated[
            str, typer.Option(help=f"{SPLIT_HELP} (fit: train less a scene holdout).")
        ] = "fit",
        val_split: Annotated[
            str, typer.Option(help="Rows that choose the best epoch (scene-disjoint).")
        ] = "holdout",
        report_split: Annotated[
            str, typer.Option(help="Rows scored in the model card ('' for none).")
        ] = "val",
        val_limit: Annotated[int | None, typer.Option(help=HELP["val_limit"])] = None,
        vflip: Annotated[bool, typer.Option(help="Also flip patches upside down.")] = False,
        guided_sweep: Annotated[
            bool,
            typer.Option(
                help="Choose the default guided filter (r 2,5,8 × eps 1e-5,1e-3,1e-2, or "
                "none) on the holdout rows."
            ),
        ] = False,
        gan_weight: Annotated[
            float,
            typer.Option(
                help="Weight of a PatchGAN adversarial loss (LSGAN; 0: off). Fine-tune with "
                "--init, e.g. 0.05.",
                hidden=is_classifier,
            ),
        ] = 0.0,
        gan_width: Annotated[
            int,
            typer.Option(
                help="Base width of the discriminator (pix2pix: 64).", hidden=is_classifier
            ),
        ] = 64,
        colour_weight: Annotated[
            float,
            typer.Option(
                help="Weight of a colourfulness term: each patch asked for the truth's "
                "colourfulness (0: off); the best epoch is then the lowest ΔE00 among those "
                "with a colour ratio >= 0.8. Fine-tune with --init, e.g. 1.",
                hidden=is_classifier,
            ),
        ] = 0.0,
        delta_e_weight: Annotated[
            float,
            typer.Option(
                help="Weight of a CIEDE2000 term (the mean ΔE00 / 100, beside the loss; 0: "
                "off); without --colour-weight the best epoch is then the lowest ΔE00.",
                hidden=is_classifier,
            ),
        ] = 0.0,
        hue_weight: Annotated[
            float,
            typer.Option(
                help="Weight of a hue term (the mean (1 − cos Δh) / 2 over the truly "
                "coloured pixels, those the hue accuracy counts; 0: off).",
                hidden=is_classifier,
            ),
        ] = 0.0,
        structure_weight: Annotated[
            float,
            typer.Option(
                help="Weight of a structure term (the GMSD of the patch's luma against the "
                "truth's; 0: off); the best epoch is then chosen by ΔE00, hue accuracy and "
                "GMSD with the colour and detail ratios in [0.9, 1.1].",
                hidden=is_classifier,
            ),
        ] = 0.0,
        class_weight: Annotated[
            float | None,
            typer.Option(
                help="Weight of the scene-class cross entropy.", hidden=class_weight_default is None
            ),
        ] = class_weight_default,
        init: Annotated[
            str | None,
            typer.Option(
                metavar="MODEL", help="Fine-tune this model (a name or a folder) of the same arch."
            ),
        ] = None,
        pair_side: Annotated[
            int,
            typer.Option(
                help="Bring the training pairs' long side down to this many pixels (0: as "
                "they are). 512, the colour context's size, trains a net with a context at "
                "the scale it colorizes at.",
                hidden=is_classifier,
            ),
        ] = 0,
        average: Annotated[
            float,
            typer.Option(
                help="Validate and keep a moving average of the weights with this decay per "
                "step (e.g. 0.998; 0: the weights themselves). It evens out the noise "
                "between epochs.",
            ),
        ] = 0.0,
        degrade: Annotated[
            float,
            typer.Option(
                metavar="P",
                help="Degrade the NIR of this share of the training patches at random (blur, "
                "down-and-up rescaling, signal-dependent noise, JPEG; the truth and validation "
                "stay clean; 0: off), e.g. 0.5.",
                hidden=arch not in DEGRADE_ARCHS,
            ),
        ] = 0.0,
        overwrite: Annotated[bool, typer.Option(help="Replace an existing model folder.")] = False,
        colour_photos: ColourPhotos = None,
        photo_nir: PhotoNir = "grey",
        pretrain_epochs: PretrainEpochs = 0,
        photo_side: PhotoSide = 512,
        photo_cache: PhotoCache = None,
        reverse_model: ReverseModel = None,
    ) -> None:
        _require_training_extra()
        from ..train.nets import NetTrainConfig, train_net
        from .reporter import RichReporter

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
                categories=parse_list(categories),
                classifier=str(classifier) if classifier else None,
                guided=model_default(guided_option(guided)),
                detail=model_default(detail_option(detail)),
                gan_weight=gan_weight,
                gan_width=gan_width,
                colour_weight=colour_weight,
                delta_e_weight=delta_e_weight,
                hue_weight=hue_weight,
                structure_weight=structure_weight,
                class_weight=class_weight,
                init=init,
                pair_side=pair_side,
                average=average,
                degrade=degrade,
                resume=resume,
                overwrite=overwrite,
                command=command_line(),
                **photo_settings(
                    colour_photos,
                    photo_nir,
                    pretrain_epochs,
                    photo_side,
                    photo_cache,
                    reverse_model,
                ),
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
    data: Annotated[Path, typer.Option(help=DATA_HELP)],
    output: Annotated[Path, typer.Option("-o", "--output", help="Routed model folder to write.")],
    general: Annotated[
        str,
        typer.Option(metavar="MODEL", help="The learned model to fine-tune (a name or a folder)."),
    ],
    classifier: Annotated[
        str,
        typer.Option(
            metavar="MODEL", help="Scene classifier that routes images (a name or a folder)."
        ),
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
    lr: Annotated[float, typer.Option(help=HELP["lr"])] = 3e-4,
    loss: Annotated[
        str | None, typer.Option(help="mse, l1 or l1+ssim (default: the general model's).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    threads: Annotated[int | None, typer.Option(help=HELP["threads"])] = None,
    device: Annotated[str, typer.Option(help=HELP["device"])] = "auto",
    report_split: Annotated[
        str, typer.Option(help="Rows scored in the model card ('' for none).")
    ] = "val",
    overwrite: Annotated[bool, typer.Option(help="Replace an existing routed model.")] = False,
    colour_photos: ColourPhotos = None,
    photo_nir: PhotoNir = "pseudo",
    pretrain_epochs: PretrainEpochs = 0,
    photo_side: PhotoSide = 512,
    photo_cache: PhotoCache = None,
    reverse_model: ReverseModel = None,
) -> None:
    """Fine-tune a learned model per scene category; the classifier routes each image.

    Running it again on an unfinished folder finishes it (done specialists are kept).
    """
    _require_training_extra()
    from ..models import read_config, resolve_model_path
    from ..train.nets import NetTrainConfig
    from ..train.routed import train_specialists
    from .reporter import RichReporter

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
        batch=trained.get("batch") if batch is None else batch,
        patch=trained.get("patch") if patch is None else patch,
        lr=lr,
        loss=loss or trained.get("loss"),
        seed=seed,
        threads=threads,
        device=device,
        report_split=report_split or None,
        overwrite=overwrite,
        command=command_line(),
        **photo_settings(
            colour_photos, photo_nir, pretrain_epochs, photo_side, photo_cache, reverse_model
        ),
    )

    def reporter_for(category: str):
        console.print(f"specialist: {category}", highlight=False)
        return RichReporter(console)

    result = train_specialists(
        config,
        general,
        classifier,
        parse_list(categories),
        reporter_for=reporter_for,
        photo_reporter=RichReporter(console),
    )
    console.print(
        f"trained {len(read_config(output)['specialists'])} specialists in "
        f"{result.seconds:.1f} s -> {output} (card: {output / 'MODEL_CARD.md'})",
        highlight=False,
    )


train_app.command("reverse")(train_reverse_command)
