"""The training task of ``zhang`` (ab-bin classification, :mod:`nircolor.nets.zhang`).

* the bins and their prior come from the training RGB (every 4th pixel of every image);
* batches are the colorizers' (aligned patches, target in the ``lab`` output space);
* the loss is the rebalanced cross entropy of the bins plus the lightness regression
  (L1 + (1 − SSIM) on ``L*/100``, the default model's loss, weighted by
  :data:`LIGHTNESS_WEIGHT`);
* the best epoch is the one of lowest mean ΔE00 on the validation rows (PSNR rewards the
  grey mean this net is built to avoid), PSNR recorded beside it;
* after training, the model's default temperature is chosen on the validation rows
  (:func:`choose_temperature`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..colorspace import from_srgb
from ..errors import ModelError
from ..metrics import delta_e00, mean_metrics, psnr
from ..models.onnx import DEFAULT_TEMPERATURE
from ..nets.losses import colorization_loss
from ..nets.zhang import INVERSE_TEMPERATURE_NAME, AnnealedMean, ab_bins, ab_histogram
from ..nets.zhang_loss import rebalanced_cross_entropy
from .common import store_choice
from .selection import colour_terms, vivid_score, vivid_scores
from .tasks import ColorizeTask, ImageSet, predictions

LIGHTNESS_WEIGHT = 1.0
TEMPERATURES = (0.2, 0.3, 0.38, 0.5, 0.7, 1.0)
"""The grid :func:`choose_temperature` scores (0.38: the paper's)."""


def training_histogram(images: ImageSet, step: int = 4) -> np.ndarray:
    """ab histogram (:func:`~nircolor.nets.zhang.ab_histogram`) of every ``step``-th pixel
    (both axes) of the training RGB."""
    histogram = None
    for rgb in images.rgb:
        lab = from_srgb(rgb[::step, ::step] / np.float32(255), "lab")
        counts = ab_histogram(lab[..., 1:] * 128.0)
        histogram = counts if histogram is None else histogram + counts
    if histogram is None:
        raise ModelError("zhang needs training images to derive its ab bins from")
    return histogram


class ZhangTask(ColorizeTask):
    score_name = "val_delta_e00"
    higher_is_better = False
    guided_sweep = False
    trunk_from = ("unet",)  # --init default: the U-Net's trunk, new chroma and L* heads

    def configure(self, cfg) -> None:
        cfg.output_space = "lab"
        super().configure(cfg)

    def net_kwargs(self, cfg, images: ImageSet | None = None) -> dict:
        if images is None:
            raise ModelError("zhang derives its ab bins from the training images")
        bins, prior = ab_bins(training_histogram(images))
        return {"bins": bins.tolist(), "prior": prior.tolist()}

    def forward(self, net, nir):
        return net.heads(nir), net

    def colour(self, output):
        """The decoded ``lab`` image of a training output (at the net's temperature)."""
        if isinstance(output, torch.Tensor):  # a target
            return output
        (lightness, logits), net = output
        return net.decode(lightness, logits, 1.0 / net.temperature)

    def loss(self, cfg, pred, target):
        (lightness, logits), net = pred
        chroma = rebalanced_cross_entropy(logits, target[:, 1:], net.bins, net.class_weights)
        return chroma + LIGHTNESS_WEIGHT * colorization_loss(cfg.loss, lightness, target[:, :1])

    def validate(self, net, images, cfg, device) -> dict:
        """Mean per-image ΔE00 (the score) and PSNR in sRGB; with a colour term,
        :func:`~.selection.vivid_scores` (which holds the ΔE00)."""
        if not len(images):
            return {}
        pairs = list(predictions(net, images, cfg, device))
        metrics = {"val_psnr": mean_metrics([{"psnr": psnr(*pair)} for pair in pairs])["psnr"]}
        if colour_terms(cfg):
            return metrics | vivid_scores(pairs)
        de00 = mean_metrics([{"de00": delta_e00(*pair)} for pair in pairs])["de00"]
        return {self.score_name: de00} | metrics

    def export_module(self, net):
        inverse_temperature = torch.tensor([1.0 / net.temperature], dtype=torch.float32)
        return AnnealedMean(net), {INVERSE_TEMPERATURE_NAME: inverse_temperature}

    def config_fields(self, cfg) -> dict:
        return {"output_space": "lab", "guided": None, "temperature": DEFAULT_TEMPERATURE}

    def after_training(self, output, cfg) -> dict:
        return {"temperature_sweep": choose_temperature(output, cfg)}

    def card_title(self, cfg) -> str:
        return "zhang colorizer (ab-bin classification)"


def choose_temperature(output: Path, cfg) -> list[dict]:
    """Score every :data:`TEMPERATURES` on ``cfg.val_split`` (never the reported split) and
    store the default: the lowest ΔE00 among those whose colourfulness ratio reaches
    :data:`COLOURFULNESS_TARGET`, else the most colourful; return the table."""
    from ..data import load_dataset
    from ..evaluate import evaluate_model
    from ..models import load_model

    model = load_model(output)
    pairs = load_dataset(cfg.data, cfg.val_split, cfg.categories, seed=cfg.seed)
    table = []
    for temperature in TEMPERATURES:
        model.temperature = temperature
        summary = evaluate_model(model, pairs).summary
        table.append({"temperature": temperature, **summary})
    best = min(table, key=lambda row: vivid_score(row["de00"], row["colourfulness_ratio"]))
    store_choice(output, "temperature", best["temperature"], "temperature_sweep", table)
    return table
