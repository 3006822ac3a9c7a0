"""The per-architecture defaults of net training, without torch (the CLI shows them)."""

from __future__ import annotations

ARCHS = ("cnn", "classifier", "fusion", "unet", "zhang")
DEFAULTS = {  # per architecture: patch side, batch, loss, output space
    "cnn": {"patch": 64, "batch": 16, "loss": "mse", "output_space": "rgb"},
    "unet": {"patch": 128, "batch": 8, "loss": "mse", "output_space": "rgb"},
    "zhang": {"patch": 128, "batch": 8, "loss": "l1+ssim", "output_space": "lab"},
    "fusion": {"patch": 128, "batch": 8, "loss": "mse", "output_space": "lab_ab"},
    "classifier": {"patch": 192, "batch": 16, "loss": "cross_entropy", "output_space": None},
}
"""The nets with a global vector see 128 × 128 patches: a 64 × 64 patch has no global context
(the U-Net's bottleneck would be 4 × 4, all border). MSE is what the validation PSNR rewards."""
