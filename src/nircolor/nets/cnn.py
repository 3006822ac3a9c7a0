"""``cnn``: the seed "IR to RGB" network, a plain convolutional encoder-decoder.

Stacked 3×3 convolutions with BatchNorm and ReLU, two 2× max-poolings down and two 2×
transposed convolutions back up, a sigmoid RGB output; trained with MSE on 64×64 patches.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import OutputHead, conv_bn_relu
from .registry import register_net


def deconv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    """2× upsampling by a 2×2 transposed convolution of stride 2, BatchNorm, ReLU."""
    return nn.Sequential(
        nn.ConvTranspose2d(cin, cout, 2, stride=2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


@register_net("cnn")
class IrToRgbCNN(nn.Module):
    stride = 4
    min_size = 0  # any padded size works

    def __init__(self, width: int = 32, output_space: str = "rgb") -> None:
        super().__init__()
        self.config = {"width": width, "output_space": output_space}
        self.output_space = output_space
        w = width
        self.head = OutputHead(output_space)
        self.layers = nn.Sequential(
            conv_bn_relu(1, w),
            conv_bn_relu(w, w),
            nn.MaxPool2d(2),
            conv_bn_relu(w, 2 * w),
            conv_bn_relu(2 * w, 2 * w),
            nn.MaxPool2d(2),
            conv_bn_relu(2 * w, 4 * w),
            conv_bn_relu(4 * w, 4 * w),
            deconv_bn_relu(4 * w, 2 * w),
            conv_bn_relu(2 * w, 2 * w),
            deconv_bn_relu(2 * w, w),
            conv_bn_relu(w, w),
            nn.Conv2d(w, self.head.channels, 1),
        )

    def forward(self, nir: torch.Tensor) -> torch.Tensor:
        return self.head(self.layers(nir), nir)
