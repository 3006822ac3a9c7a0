"""``classifier``: scene recognition on NIR, after "Fast NIR colorization".

Convolutions 32@3×3, 64@2×2 and 64@2×2, each followed by 2× max-pooling; an adaptive
average pooling to a fixed ``grid × grid`` makes it size-agnostic; then fully connected
layers 512-256-128 and a softmax over the scene categories (the softmax is applied by the
loss in training and inside the exported ONNX graph). The 128-d penultimate features
(:meth:`SceneClassifier.features`) are the global vector of the ``fusion`` net.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import adaptive_avg_pool
from .registry import register_net

EPFL_CATEGORIES = (
    "country",
    "field",
    "forest",
    "indoor",
    "mountain",
    "oldbuilding",
    "street",
    "urban",
    "water",
)
FEATURES = 128


def conv_relu_pool(cin: int, cout: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, padding=kernel // 2 if kernel % 2 else 0, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


@register_net("classifier")
class SceneClassifier(nn.Module):
    stride = 1
    min_size = 32  # smallest side (after padding) that leaves a non-empty feature map

    def __init__(
        self,
        num_classes: int = len(EPFL_CATEGORIES),
        grid: int = 4,
        downsample: int = 2,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.config = {
            "num_classes": num_classes,
            "grid": grid,
            "downsample": downsample,
            "dropout": dropout,
        }
        self.grid, self.downsample = grid, downsample
        self.convs = nn.Sequential(
            conv_relu_pool(1, 32, 3),
            conv_relu_pool(32, 64, 2),
            conv_relu_pool(64, 64, 2),
        )
        self.mlp = nn.Sequential(
            nn.Linear(64 * grid * grid, 512),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(512, 256),
            nn.ReLU(inplace=True),
            nn.Linear(256, FEATURES),
            nn.ReLU(inplace=True),
        )
        self.logits = nn.Linear(FEATURES, num_classes)

    def features(self, nir: torch.Tensor) -> torch.Tensor:
        """The ``(N, 128)`` penultimate features."""
        x = F.avg_pool2d(nir, self.downsample) if self.downsample > 1 else nir
        x = adaptive_avg_pool(self.convs(x), self.grid)
        return self.mlp(torch.flatten(x, 1))

    def forward(self, nir: torch.Tensor) -> torch.Tensor:
        return self.logits(self.features(nir))
