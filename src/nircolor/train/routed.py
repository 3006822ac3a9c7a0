"""``nircolor train specialists``: fine-tune a general colorizer per scene category, route by
the scene classifier.

Each category's specialist starts from the general model's weights and trains on that
category's ``fit`` rows only (best epoch on its ``holdout`` rows, the same rows the general
model was chosen on). The routed model folder (:mod:`nircolor.models.routed`) holds the
specialists; the general model and the classifier are referenced by name when they are
shipped models, else copied in. ``config.json`` is written last, so a folder without it is
an unfinished run: running the command again finishes it (done specialists are kept, a
started one resumes from its checkpoint).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

from ..data import load_dataset
from ..errors import ModelError
from ..io import write_bytes_atomic
from ..metric_tables import Table, format_metric
from ..models import (
    CARD_NAME,
    CONFIG_NAME,
    load_classifier,
    load_model,
    resolve_model_path,
    shipped_names,
)
from .common import (
    TrainResult,
    check_output_folder,
    machine_description,
    model_card,
    timestamp,
)
from .nets import CHECKPOINT, CHECKPOINT_FILE, NetTrainConfig, Reporter, train_net
from .photos import photos_by_class

SPECIALISTS = "specialists"


def train_specialists(
    base: NetTrainConfig,
    general: str,
    classifier: str,
    categories: list[str] | None = None,
    reporter_for=None,
    photo_reporter: Reporter | None = None,
) -> TrainResult:
    """Fine-tune ``general`` on each category of ``classifier`` and write a routed model.

    Parameters
    ----------
    base : NetTrainConfig
        Settings of every fine-tuning run (``arch`` must be the general model's; ``output``
        is the routed model folder; ``epochs``, ``lr``... apply to each specialist).
    general, classifier : str
        Shipped model names or model folders.
    categories : list of str, optional
        Categories to train specialists for (default: all the classifier's); the others
        go to the general model.
    reporter_for : callable, optional
        ``reporter_for(category) -> Reporter`` for each run's progress.
    photo_reporter : Reporter, optional
        Progress of labelling the colour photographs (``base.colour_photos``): each
        specialist pre-trains on the photos the classifier puts in its category.

    Returns
    -------
    TrainResult
        The routed model folder, the pairs used, the summed wall time of the runs.
    """
    output = Path(base.output)
    known = load_classifier(classifier).categories
    if (output / CONFIG_NAME).exists():  # a finished run: replaced only as any model folder is
        check_output_folder(output, base.overwrite, [base.data])
        shutil.rmtree(output)
    categories = categories or known
    unknown = sorted(set(categories) - set(known))
    if unknown:
        raise ModelError(f"the classifier does not know {', '.join(unknown)}")
    general_ref = member_reference(output, general, "general")
    classifier_ref = member_reference(output, classifier, "classifier")
    photo_groups = class_photos(base, classifier, photo_reporter or Reporter())
    seconds, n_pairs, specialists = 0.0, 0, {}
    for category in categories:
        folder = output / SPECIALISTS / category
        if not (folder / CONFIG_NAME).is_file():
            cfg = replace(
                base,
                output=str(folder),
                init=str(resolve_model_path(general)),
                categories=[category],
                resume=(folder / CHECKPOINT_FILE).is_file(),
                overwrite=False,
                report_split=None,
                **specialist_photos(base, photo_groups, category),
            )
            reporter = reporter_for(category) if reporter_for else Reporter()
            train_net(cfg, reporter)
            for leftover in folder.glob(f"{CHECKPOINT}.*"):  # done: only resuming needed it
                leftover.unlink()
        training = json.loads((folder / CONFIG_NAME).read_text())["training"]
        seconds += training["wall_seconds"]
        n_pairs += training["n_train_pairs"]
        specialists[category] = f"{SPECIALISTS}/{category}"
    config = {
        "kind": "routed",
        "format_version": 1,
        "classifier": classifier_ref,
        "general": general_ref,
        "specialists": specialists,
        "min_confidence": 0.0,
        "training": {"command": base.command, "wall_seconds": round(seconds, 2)},
    }
    if photo_groups is not None:
        config["training"]["photos_per_class"] = {c: len(photo_groups.get(c, [])) for c in known}
    write_bytes_atomic(output / CONFIG_NAME, (json.dumps(config, indent=2) + "\n").encode())
    write_routed_card(output, base, general, seconds, n_pairs, config["training"])
    return TrainResult(output, n_pairs, seconds, config["training"])


def class_photos(base: NetTrainConfig, classifier: str, reporter: Reporter):
    """``{category: [photo names]}`` of ``base.colour_photos`` by the classifier on their NIR
    stand-ins (``None`` without photos)."""
    if not base.colour_photos:
        return None
    try:
        groups, _ = photos_by_class(
            replace(base, categories=None), load_classifier(classifier), reporter.stage
        )
    finally:
        reporter.close()
    return groups


def specialist_photos(base: NetTrainConfig, groups: dict | None, category: str) -> dict:
    """The photo settings of a category's run: its class's photos, or none (then every epoch
    fine-tunes on the pairs)."""
    if groups is None:
        return {}
    if not groups.get(category):
        return {"colour_photos": None, "pretrain_epochs": 0, "photos": None}
    return {"photos": groups[category]}


def member_reference(output: Path, model: str, role: str) -> str:
    """A shipped model is referenced by name; any other folder is copied into ``output``."""
    if str(model) in shipped_names():
        return str(model)
    source = resolve_model_path(model)
    target = output / role
    if not (target / CONFIG_NAME).is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, target, ignore=shutil.ignore_patterns(f"{CHECKPOINT}.*"))
    return role


def write_routed_card(output: Path, base: NetTrainConfig, general: str, seconds, n_pairs, training):
    """``MODEL_CARD.md``: routed vs general on ``report_split``, overall and per category."""
    from ..evaluate import evaluate_model
    from ..io import read_nir

    evaluation, comparison, notes = None, "", []
    if base.report_split:
        pairs = load_dataset(base.data, base.report_split, seed=base.seed)
        routed = load_model(output)
        evaluation = evaluate_model(routed, pairs)
        reference = evaluate_model(load_model(general), pairs)
        known = [p for p in pairs if p.category in routed.classifier.categories]
        hits = sum(routed.route(read_nir(p.nir))[0] == p.category for p in known)
        notes.append(
            f"routing accuracy on `split == {base.report_split}`: {hits} of {len(known)} "
            "images of known categories"
        )
        comparison = compare_markdown(reference, evaluation)
    info = {
        "data": base.data,
        "split": f"{base.split} rows of each category (best epoch on its {base.val_split} rows)",
        "n_pairs": n_pairs,
        "categories": sorted(json.loads((output / CONFIG_NAME).read_text())["specialists"]),
        "command": base.command,
        "seed": base.seed,
        "seconds": f"{seconds:.1f} (sum over the specialists)",
        "machine": machine_description(),
        "date": timestamp(),
        "notes": [
            f"each specialist fine-tuned from `{general}`: {base.epochs} × "
            f"{base.steps_per_epoch} steps, lr {base.lr}",
            *notes,
            *class_photo_notes(base, training.get("photos_per_class")),
        ],
    }
    description = (
        "The scene classifier routes each image to the colorizer fine-tuned on its category."
    )
    card = model_card("Routed category specialists", description, info, evaluation)
    if comparison:
        card += f"\n## Routed vs the general model `{general}`\n\n{comparison}\n"
    write_bytes_atomic(output / CARD_NAME, card.encode())


def class_photo_notes(base: NetTrainConfig, counts: dict | None) -> list[str]:
    """The card's line on the class-matched colour photographs."""
    if counts is None:
        return []
    listed = ", ".join(f"{category} {n}" for category, n in sorted(counts.items()))
    return [
        f"class-matched colour photographs of `{base.colour_photos}` (NIR stand-in "
        f"{base.photo_nir}, labelled by the scene classifier): each specialist pre-trained "
        f"for {base.pretrain_epochs} of its {base.epochs} epochs on the photos of its class "
        f"(a class without photos: every epoch on its pairs); photos per class: {listed}"
    ]


def compare_markdown(general, routed) -> str:
    """Per category: PSNR and ΔE00 of the general model and of the routed specialists."""
    table = Table(
        [
            "category",
            "n",
            "general PSNR",
            "routed PSNR",
            "Δ dB",
            "general ΔE00",
            "routed ΔE00",
        ]
    )
    rows_general = {**general.by_category(), "all": general.summary}
    rows_routed = {**routed.by_category(), "all": routed.summary}
    for name, g in rows_general.items():
        r = rows_routed[name]
        table.add_row(
            [
                name,
                g["n"],
                format_metric("psnr", g["psnr"]),
                format_metric("psnr", r["psnr"]),
                format_metric("psnr", r["psnr"] - g["psnr"], signed=True),
                format_metric("de00", g["de00"]),
                format_metric("de00", r["de00"]),
            ]
        )
    return table.markdown()
