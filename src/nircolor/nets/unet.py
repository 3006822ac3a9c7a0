"""``unet``: a small U-Net with a fused global feature vector, fast enough for CPU.

The input is downsampled once by a strided stem (full-size feature maps are what costs on
a CPU), then ``levels`` encoder levels of widths ``width · (1, 2, 3, 4 ...)`` halve the size
each. At the bottleneck a global vector (global average pooling → 2-layer MLP) is added to
every position. The decoder upsamples, concatenates the skip connection and convolves; a
last 3×3 convolution at full size sees the NIR image too. With ``residual`` the net
predicts a correction of the NIR image taken as grey.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import OutputHead, conv_bn_relu, upsample2
from .registry import register_net


def block(cin: int, cout: int, norm: bool) -> nn.Sequential:
    return nn.Sequential(conv_bn_relu(cin, cout, norm=norm), conv_bn_relu(cout, cout, norm=norm))


@register_net("unet")
class UNet(nn.Module):
    min_size = 0  # any padded size works

    def __init__(
        self,
        width: int = 16,
        levels: int = 4,
        output_space: str = "rgb",
        residual: bool = True,
        norm: str = "batch",
    ) -> None:
        super().__init__()
        self.config = {
            "width": width,
            "levels": levels,
            "output_space": output_space,
            "residual": residual,
            "norm": norm,
        }
        if norm not in ("batch", "none"):
            raise ValueError(f"unknown norm '{norm}' (batch or none)")
        bn = norm == "batch"
        self.output_space = output_space
        self.stride = 2**levels
        self.head = OutputHead(output_space, residual=residual)
        widths = [width * (i + 1) for i in range(levels)]
        self.stem = conv_bn_relu(1, widths[0], stride=2, norm=bn)
        self.encoders = nn.ModuleList([block(widths[0], widths[0], bn)])
        self.downs = nn.ModuleList()
        for cin, cout in zip(widths[:-1], widths[1:], strict=True):
            self.downs.append(conv_bn_relu(cin, cout, stride=2, norm=bn))
            self.encoders.append(block(cout, cout, bn))
        bottom = widths[-1]
        self.global_mlp = nn.Sequential(
            nn.Linear(bottom, bottom), nn.ReLU(inplace=True), nn.Linear(bottom, bottom)
        )
        self.decoders = nn.ModuleList(
            block(cin + cout, cout, bn)
            for cin, cout in zip(widths[:0:-1], widths[-2::-1], strict=True)
        )
        self.last = nn.Conv2d(widths[0] + 1, self.head.channels, 3, padding=1)

    def trunk(self, nir: torch.Tensor) -> torch.Tensor:
        """Encoder, global vector and decoder: ``(N, width, H/2, W/2)`` features."""
        x = self.encoders[0](self.stem(nir))
        skips = [x]
        for down, encoder in zip(self.downs, self.encoders[1:], strict=True):
            x = encoder(down(x))
            skips.append(x)
        glob = self.global_mlp(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))
        x = x + glob[:, :, None, None]
        for decoder, skip in zip(self.decoders, skips[-2::-1], strict=True):
            x = decoder(torch.cat([upsample2(x), skip], dim=1))
        return x

    def forward(self, nir: torch.Tensor) -> torch.Tensor:
        x = self.trunk(nir)
        x = self.last(torch.cat([upsample2(x), nir], dim=1))
        return self.head(x, nir)
