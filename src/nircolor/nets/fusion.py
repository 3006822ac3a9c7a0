"""``fusion``: a Deep-Koalarization-style colorizer (Baldassarre et al. 2017), for NIR.

* an **encoder** extracts local features at 1/8 of the input size;
* a **global branch** summarises the whole image in a 128-d vector: the scene classifier's
  penultimate features (``global_branch="classifier"``; its weights can come from a
  trained ``classifier`` model, frozen) or a light convolutional branch run on a 4×
  downsampled copy (``global_branch="light"``);
* the **fusion layer** ``y = b + W·[global; local]`` at every position of the encoder output:
  the global vector is broadcast over the feature map, concatenated with the local features
  and mixed by a 1×1 convolution (with a ReLU);
* a **decoder** of convolutions and 2× upsamplings brings it back to full size, in any output
  space (``lab_ab`` by default: chroma only, the lightness comes from the NIR image).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .classifier import EPFL_CATEGORIES, FEATURES, SceneClassifier
from .layers import OutputHead, conv_bn_relu
from .registry import register_net


class LightGlobal(nn.Module):
    """A small global branch: strided convolutions on a 4× downsampled copy, average-pooled."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        w = width
        self.convs = nn.Sequential(
            conv_bn_relu(1, w, stride=2),
            conv_bn_relu(w, 2 * w, stride=2),
            conv_bn_relu(2 * w, 4 * w, stride=2),
        )
        self.fc = nn.Sequential(nn.Linear(4 * w, FEATURES), nn.ReLU(inplace=True))

    def features(self, nir: torch.Tensor) -> torch.Tensor:
        x = self.convs(F.avg_pool2d(nir, 4))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


@register_net("fusion")
class FusionNet(nn.Module):
    stride = 8
    min_size = 0  # any padded size works with the light global branch; see __init__

    def __init__(
        self,
        width: int = 16,
        output_space: str = "lab_ab",
        global_branch: str = "classifier",
        num_classes: int = len(EPFL_CATEGORIES),
    ) -> None:
        super().__init__()
        self.config = {
            "width": width,
            "output_space": output_space,
            "global_branch": global_branch,
            "num_classes": num_classes,
        }
        self.output_space = output_space
        self.head = OutputHead(output_space)
        if global_branch == "classifier":
            self.global_branch = SceneClassifier(num_classes=num_classes)
            self.min_size = SceneClassifier.min_size  # its convolutions need it
        elif global_branch == "light":
            self.global_branch = LightGlobal(width)
        else:
            raise ValueError(f"unknown global branch '{global_branch}' (classifier or light)")
        self.frozen_global = False
        w = width
        self.encoder = nn.Sequential(
            conv_bn_relu(1, w, stride=2),
            conv_bn_relu(w, 2 * w),
            conv_bn_relu(2 * w, 2 * w, stride=2),
            conv_bn_relu(2 * w, 4 * w),
            conv_bn_relu(4 * w, 4 * w, stride=2),
            conv_bn_relu(4 * w, 8 * w),
        )
        self.fusion = nn.Sequential(nn.Conv2d(8 * w + FEATURES, 8 * w, 1), nn.ReLU(inplace=True))
        up = nn.Upsample(scale_factor=2.0, mode="bilinear", align_corners=False)
        self.decoder = nn.Sequential(
            conv_bn_relu(8 * w, 4 * w),
            up,
            conv_bn_relu(4 * w, 2 * w),
            up,
            conv_bn_relu(2 * w, w),
            up,
            conv_bn_relu(w, w),
            nn.Conv2d(w, self.head.channels, 3, padding=1),
        )

    def freeze_global(self, state_dict: dict | None = None) -> None:
        """Load weights into the global branch (optional) and keep it fixed while training."""
        if state_dict is not None:
            self.global_branch.load_state_dict(state_dict)
        self.global_branch.requires_grad_(False)
        self.frozen_global = True
        self.global_branch.eval()

    def train(self, mode: bool = True):
        super().train(mode)
        if self.frozen_global:
            self.global_branch.eval()
        return self

    def forward(self, nir: torch.Tensor) -> torch.Tensor:
        return self.colorize(nir, self.global_branch.features(nir))

    def colorize(self, nir: torch.Tensor, glob: torch.Tensor) -> torch.Tensor:
        """The colour of ``nir`` given its ``(N, 128)`` global features."""
        local = self.encoder(nir)
        glob = glob[:, :, None, None].expand(-1, -1, local.shape[2], local.shape[3])
        fused = self.fusion(torch.cat([glob, local], dim=1))
        return self.head(self.decoder(fused), nir)
