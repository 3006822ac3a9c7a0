"""``MODEL_CARD.md`` of a trained net: what it is, how it was trained, how it scores."""

from __future__ import annotations

import json
from pathlib import Path

from ..data import load_dataset
from ..degrade import TRAINING
from ..errors import ModelError
from ..io import write_bytes_atomic
from ..models import CARD_NAME, CONFIG_NAME, read_config, resolve_model_path
from .common import model_card, portable_command, portable_path
from .config import NetTrainConfig
from .photos import photo_notes
from .selection import colour_terms, summary_ranking
from .task_registry import task_for

NET_DESCRIPTIONS = {
    "cnn": "The seed 'IR to RGB' CNN: stacked conv/deconv layers with BatchNorm and ReLU.",
    "classifier": "Scene recognition on NIR after 'Fast NIR colorization' (9 EPFL categories).",
    "fusion": "Fusion colorization net: local encoder, global scene vector, fusion, decoder.",
    "unet": "Small U-Net with skip connections and a fused global feature vector.",
    "zhang": "U-Net trunk; chroma classified over ab bins (Zhang et al. 2016); L* regressed.",
    "iizuka": "Iizuka et al. (2016) global + local features, trained with a scene-class loss.",
    "detector": "The seed's lightweight Faster R-CNN: the classifier's trunk, a region proposal "
    "network (NMS 0.7, top 300), RoI average pooling and FC 512-256-128 with a softmax over "
    "background + the 9 EPFL categories and box regression; boxes from composites (below).",
}


def base_note(init: str) -> str:
    """The model a fine-tune started from, and how that one was trained."""
    try:
        training = read_config(resolve_model_path(init)).get("training", {})
    except ModelError:
        return f"fine-tuned from `{portable_path(init)}` (no longer readable)"
    minutes = training.get("wall_seconds")
    took = f", {minutes / 60:.1f} min" if isinstance(minutes, (int, float)) else ""
    command = portable_command(training["command"]) if training.get("command") else "?"
    return f"fine-tuned from `{portable_path(init)}`, trained by `{command}`{took}"


def write_net_card(output: Path, cfg: NetTrainConfig, training: dict) -> None:
    """``MODEL_CARD.md``: training record and, for colorizers, scores on ``report_split``."""
    task = task_for(cfg.arch)
    notes = []
    if training.get("guided_sweep"):
        chosen = json.loads((output / CONFIG_NAME).read_text()).get("guided")
        best = f"best {summary_ranking(cfg)[1]} on {cfg.val_split}"
        notes.append(f"default guided filter ({best}): {chosen or 'none'}")
    for row in training.get("guided_sweep", []):
        setting = (
            "no guided filter"
            if row["guided"] is None
            else "guided r={}, eps={:g}".format(*row["guided"])
        )
        notes.append(
            f"{cfg.val_split}: {setting}: PSNR {row['psnr']:.2f} dB, SSIM {row['ssim']:.4f}, "
            f"ΔE00 {row['de00']:.2f}, colour ratio {row['colourfulness_ratio']:.2f}"
        )
    if cfg.gan_weight:
        notes.append(
            f"adversarial: gan_weight {cfg.gan_weight:g}, PatchGAN 70×70 discriminator of width "
            f"{cfg.gan_width}, LSGAN (not exported)"
        )
    if colour_terms(cfg):
        notes.append(
            f"colour terms: colour_weight {cfg.colour_weight:g} (colourfulness), "
            f"delta_e_weight {cfg.delta_e_weight:g} (CIEDE2000), hue_weight {cfg.hue_weight:g}"
        )
    if cfg.init:
        notes.append(base_note(cfg.init))
    if cfg.average:
        notes.append(
            f"weights: their moving average (decay {cfg.average:g} per step), validated and "
            "exported"
        )
    if cfg.degrade:
        notes.append(
            f"degraded inputs: {cfg.degrade:g} of the training NIR patches degraded at random "
            f"(the truth clean, validation clean), {TRAINING.describe()}"
        )
    if cfg.class_weight is not None:
        notes.append(f"scene-class loss: class_weight {cfg.class_weight:g}")
    pairs = load_dataset(cfg.data, cfg.report_split, seed=cfg.seed) if cfg.report_split else []
    evaluation, report_notes = task.report(output, cfg, pairs)
    notes += report_notes + photo_notes(training)
    info = {
        "data": training["data"],
        "split": f"{training['split']} (best epoch {training['best_epoch']} chosen on "
        f"{training['val_split']})",
        "n_pairs": training["n_train_pairs"],
        "categories": sorted(cfg.categories or []) or ["all"],
        "command": training["command"],
        "seed": training["seed"],
        "seconds": training["wall_seconds"],
        "machine": f"{training['machine']}; {training['device']}, {training['threads']} threads",
        "date": training["date"],
        "notes": [
            f"epochs: {training['epochs']} × {training['steps_per_epoch']} steps, batch "
            f"{training['batch']} of {training['patch']}² patches, loss {training['loss']}, "
            f"lr {training['lr']}, torch {training['torch']}",
            *notes,
        ],
    }
    card = model_card(task.card_title(cfg), NET_DESCRIPTIONS.get(cfg.arch, ""), info, evaluation)
    write_bytes_atomic(output / CARD_NAME, card.encode())
