"""The settings of a net's training run (:class:`NetTrainConfig`) and their defaults."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..data import check_split
from ..errors import ModelError
from ..nets.classifier import EPFL_CATEGORIES
from .defaults import ARCHS, CLASS_WEIGHT_ARCHS, DEFAULTS, DEGRADE_ARCHS
from .limits import check_fixed_width, check_limits
from .photos import check_photo_settings
from .selection import COLOUR_TERMS
from .task_registry import task_for

__all__ = ["ARCHS", "DEFAULTS", "NetTrainConfig"]

MAX_PAIR_SIDE = 8192


@dataclass
class NetTrainConfig:
    """Every setting of a run (saved in the checkpoint and the model's ``config.json``)."""

    arch: str
    data: str
    output: str
    epochs: int = 10
    steps_per_epoch: int = 200
    batch: int | None = None  # per-arch default (DEFAULTS)
    patch: int | None = None  # per-arch default (DEFAULTS)
    lr: float = 1e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 100
    weight_decay: float = 1e-4
    loss: str | None = None  # mse, l1, l1+ssim (classifier: cross_entropy)
    output_space: str | None = None  # rgb, lab, lab_ab
    width: int | None = None  # the net's base width (its default when None)
    vflip: bool = False  # also flip patches upside down (the sky is up: off by default)
    seed: int = 0
    threads: int | None = None  # default: the CPUs this process may use
    device: str = "auto"  # auto, cpu, cuda
    split: str = "fit"  # the train rows less a scene-disjoint holdout...
    val_split: str = "holdout"  # ...on which the best epoch is chosen
    report_split: str | None = "val"  # scored for the model card (never used for choices)
    val_limit: int | None = None  # validate on the first N val images only
    guided_sweep: bool = False  # choose the default guided filter on val_split (GUIDED_GRID)
    bn_batches: int = 20  # batches re-estimating BatchNorm statistics each epoch (0: off)
    categories: list[str] | None = None  # train on these; the classifier's classes
    classifier: str | None = None  # fusion: global branch from this classifier, frozen
    init: str | None = None  # fine-tune: start from this model's weights (same architecture)
    guided: list[float] | bool | None = None  # default guided filter [radius, eps]; False: off
    detail: list[float] | bool | None = None  # default detail transfer [gain, sigma]; False: off
    gan_weight: float = 0.0  # weight of the adversarial loss (PatchGAN, train.gan); 0: off
    gan_width: int = 64  # the discriminator's base width (pix2pix: 64)
    colour_weight: float = 0.0  # weight of the colourfulness term (nets.losses); 0: off
    delta_e_weight: float = 0.0  # weight of the CIEDE2000 term (nets.losses); 0: off
    hue_weight: float = 0.0  # weight of the hue term (nets.losses); 0: off
    structure_weight: float = 0.0  # weight of the GMSD term (nets.losses); 0: off
    class_weight: float | None = None  # iizuka: weight of the scene-class loss (DEFAULTS)
    colour_photos: str | None = None  # pre-train on these colour photos (see train/photos.py)
    photo_nir: str = "grey"  # their NIR stand-in: grey (L*/100) or pseudo (reverse L3)
    pretrain_epochs: int = 0  # the first N of the epochs draw their batches from the photos
    photo_side: int = 512  # photos are downscaled to this long side
    pair_side: int = 0  # the training pairs' long side is brought down to this (0: as is)
    degrade: float = 0.0  # share of training NIR patches degraded at random (nircolor.degrade)
    average: float = 0.0  # decay of the weights' moving average, validated and kept (0: off)
    photos: list[str] | None = None  # only these photos (relative paths: a specialist's class)
    photo_cache: str | None = None  # cache of pseudo-NIR images (default ~/.cache/nircolor)
    reverse_model: str | None = None  # pseudo-NIR model folder (default: fitted on fit rows)
    resume: bool = False
    overwrite: bool = False
    command: str | None = None

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ModelError(f"unknown architecture '{self.arch}' (use one of {', '.join(ARCHS)})")
        defaults = DEFAULTS[self.arch]
        self.patch = defaults["patch"] if self.patch is None else self.patch
        self.batch = defaults["batch"] if self.batch is None else self.batch
        self.loss = self.loss or defaults["loss"]
        self.output_space = self.output_space or defaults["output_space"]
        if self.class_weight is None:
            self.class_weight = defaults.get("class_weight")
        task_for(self.arch).configure(self)
        check_limits(self)
        check_split(self.split)
        for split in (self.val_split, self.report_split):  # '' or None: none
            if split:
                check_split(split)
        if self.pair_side and not self.patch <= self.pair_side <= MAX_PAIR_SIDE:
            raise ModelError(
                f"pair_side must be 0 (full size) or {self.patch} (the patch) to "
                f"{MAX_PAIR_SIDE}, not {self.pair_side}"
            )
        if not 0 <= self.degrade <= 1:
            raise ModelError(f"degrade must be a share in [0, 1], not {self.degrade}")
        if self.degrade and self.arch not in DEGRADE_ARCHS:
            raise ModelError(f"degrade: the {self.arch}'s training does not degrade its images")
        if not 0 <= self.average < 1:
            raise ModelError(f"average must be a decay in [0, 1), not {self.average}")
        check_weights(self)
        check_photo_settings(self)
        check_fixed_width(self)

    @property
    def class_names(self) -> list[str]:
        return list(self.categories) if self.categories else list(EPFL_CATEGORIES)


def check_weights(cfg: NetTrainConfig) -> None:
    """The loss weights are finite and non-negative; the GAN and the colour terms are for
    colorizers only."""
    for name in ("gan_weight", *COLOUR_TERMS, "class_weight"):
        value = getattr(cfg, name)
        if value is not None and not 0 <= value < math.inf:
            raise ModelError(f"{name} must be a finite number >= 0, not {value}")
    if cfg.gan_weight and cfg.output_space is None:
        raise ModelError(f"gan_weight: the {cfg.arch} is not a colorizer (no adversarial loss)")
    for name in COLOUR_TERMS:
        if getattr(cfg, name) and cfg.output_space is None:
            raise ModelError(f"{name}: the {cfg.arch} is not a colorizer (no colour loss)")
    if cfg.class_weight is not None and cfg.arch not in CLASS_WEIGHT_ARCHS:
        raise ModelError(f"class_weight is a setting of {', '.join(CLASS_WEIGHT_ARCHS)} only")
