"""The per-architecture defaults of net training, without torch (the CLI shows them)."""

from __future__ import annotations

ARCHS = ("cnn", "classifier", "fusion", "unet", "zhang", "iizuka", "detector")
DEFAULTS = {  # per architecture: patch side, batch, loss, output space
    "cnn": {"patch": 64, "batch": 16, "loss": "mse", "output_space": "rgb"},
    "unet": {"patch": 128, "batch": 8, "loss": "mse", "output_space": "rgb"},
    "zhang": {"patch": 128, "batch": 8, "loss": "l1+ssim", "output_space": "lab"},
    "fusion": {"patch": 128, "batch": 8, "loss": "mse", "output_space": "lab_ab"},
    "iizuka": {
        "patch": 128,
        "batch": 8,
        "loss": "mse",
        "output_space": "lab_ab",
        "class_weight": 0.01,
    },
    "classifier": {"patch": 192, "batch": 16, "loss": "cross_entropy", "output_space": None},
    "detector": {"patch": 256, "batch": 8, "loss": "detection", "output_space": None},
}
"""The nets with a global vector see 128 × 128 patches: a 64 × 64 patch has no global context
(the U-Net's bottleneck would be 4 × 4, all border). MSE is what the validation PSNR rewards."""

DEGRADE_ARCHS = ("cnn", "fusion", "unet", "zhang", "iizuka", "detector")
"""The archs whose training batches can be degraded (``--degrade``): the colorizers' NIR
patches and the detector's composite pictures; the classifier's crops are not."""

CLASS_WEIGHT_ARCHS = ("iizuka",)
"""The archs with an auxiliary scene-class loss. Iizuka et al. weighted it 1/300 against an
MSE on chroma in [0, 1]; ours is on a/128 and b/128, in [-1, 1], 4× larger for the same
error, so 4/300 ≈ 0.01 keeps their balance: a cross entropy of ln 9 ≈ 2.2 (chance) weighs
0.022, against a colour MSE of 0.0045 for a grey prediction on the fit rows of the EPFL pairs
(their balance, ×5 at the start), falling below it once the scene is mostly recognised."""
