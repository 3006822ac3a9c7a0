"""The ranges of a net's training settings, checked before any work, and their help texts.

A setting out of its range is a one-line :class:`~nircolor.errors.ModelError` that names the
range, raised by :class:`~.config.NetTrainConfig` before a folder is made or a tensor is
allocated; the CLI's ``--help`` says the same ranges (:data:`HELP`).
"""

from __future__ import annotations

import math
import re

from ..errors import ModelError

MAX_THREADS = 256
MAX_WIDTH = 256
MAX_STEP_SIZE = 2**30
"""The most ``batch × patch² × width`` of one step (128 × 512² × 32): what a large GPU holds
(the shipped runs' steps are 2^24 to 2^26, a few GB on the CPU); it refuses a mistyped
batch or patch before the allocation of hundreds of GB fails."""
STEP_WIDTH = 32
"""The width counted for a net without ``--width`` (no default width is larger)."""
MAX_LR = 1.0
DEVICES = ("auto", "cpu", "cuda")
DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")

COUNTS = {  # setting: (lowest, highest or None); None as a value means "the default"
    "epochs": (1, None),
    "steps_per_epoch": (1, None),
    "batch": (1, None),
    "patch": (1, None),
    "gan_width": (1, MAX_WIDTH),
    "width": (1, MAX_WIDTH),
    "threads": (1, MAX_THREADS),
    "val_limit": (1, None),
}

STEP_HELP = f"batch × patch² × width at most 2^{int(math.log2(MAX_STEP_SIZE))}"
HELP = {
    "batch": f"Patches per step (1 or more; {STEP_HELP}).",
    "patch": f"Patch side (1 or more, a multiple of the net's stride; {STEP_HELP}).",
    "lr": f"Peak learning rate (AdamW, cosine), in (0, {MAX_LR:g}].",
    "threads": f"CPU threads, 1 to {MAX_THREADS} (default: all available).",
    "device": "auto, cpu or cuda (cuda:N: the Nth GPU).",
    "width": f"Base width of the net, 1 to {MAX_WIDTH} (default: the net's); with --init, "
    "a larger one widens it (unet).",
    "val_limit": "Validate on the first N images only (N >= 1; default: all).",
}
"""The ``--help`` texts of the ranged options."""


def check_limits(cfg) -> None:
    """Every ranged setting of a :class:`~.config.NetTrainConfig` is in its range.

    Raises
    ------
    ModelError
        One line naming the setting, its range and the value given.
    """
    for name, (low, high) in COUNTS.items():
        check_count(name, getattr(cfg, name), low, high)
    if not 0 < cfg.lr <= MAX_LR:  # also refuses nan and inf
        raise ModelError(f"lr must be a learning rate in (0, {MAX_LR:g}], not {cfg.lr}")
    if not DEVICE_PATTERN.fullmatch(str(cfg.device)):
        raise ModelError(f"unknown device '{cfg.device}' (use {', '.join(DEVICES)} or cuda:N)")
    check_step_size(cfg)


def check_count(name: str, value: int | None, low: int, high: int | None) -> None:
    """``value`` is ``None`` (the default) or a whole number in ``[low, high]``."""
    if value is None:
        return
    if high is None and value < low:
        raise ModelError(f"{name} must be at least {low}, not {value}")
    if high is not None and not low <= value <= high:
        raise ModelError(f"{name} must be {low} to {high}, not {value}")


def check_step_size(cfg) -> None:
    """One step's ``batch × patch² × width`` stays within :data:`MAX_STEP_SIZE`."""
    width = cfg.width or STEP_WIDTH
    if cfg.batch * cfg.patch**2 * width > MAX_STEP_SIZE:
        given = f"batch {cfg.batch} × patch {cfg.patch}²" + (f" × width {width}" * bool(cfg.width))
        raise ModelError(
            f"{given} is too large a step for memory: batch × patch² × width must be at most "
            f"{MAX_STEP_SIZE:,} (a net's default width counts as {STEP_WIDTH}), "
            "e.g. 128 × 512² × 32"
        )


def check_fixed_width(cfg) -> None:
    """Only a colorizer's net has a width setting (the classifier's and detector's is fixed)."""
    if cfg.width is not None and cfg.output_space is None:
        raise ModelError(f"width: the {cfg.arch}'s net has a fixed width (no width setting)")
