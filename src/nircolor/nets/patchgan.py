"""``patchgan``: the pix2pix discriminator (Isola et al., CVPR 2017), conditioned on the NIR.

The 70 × 70 PatchGAN: 4 × 4 convolutions C64-C128-C256-C512 of strides 2, 2, 2, 1, then a
1-channel 4 × 4 convolution; each of ``width · (1, 2, 4, 8)`` channels (``width=64`` as the
paper, smaller for a CPU), LeakyReLU 0.2, a normalization on every layer but the first. Its
input is the NIR image and an sRGB image, ``(N, 1 + 3, H, W)``; its output one real/fake
score per overlapping patch, ``(N, 1, H', W')``. ``layers`` stride-2 layers give the
receptive field 70 at 3 (16 at 1, 34 at 2, 142 at 4).

Instance normalization by default (pix2pix's choice at batch size 1): batch statistics would
let the discriminator compare a batch of real images with a batch of fakes instead of
judging each patch.
"""

from __future__ import annotations

import torch
from torch import nn

from .registry import register_net

NORMS = ("instance", "batch", "none")


def norm_layer(norm: str, channels: int) -> list[nn.Module]:
    if norm == "instance":
        return [nn.InstanceNorm2d(channels)]
    if norm == "batch":
        return [nn.BatchNorm2d(channels)]
    return []


@register_net("patchgan")
class PatchGAN(nn.Module):
    def __init__(
        self, width: int = 64, layers: int = 3, in_channels: int = 4, norm: str = "instance"
    ) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"unknown norm '{norm}' (use one of {', '.join(NORMS)})")
        if width < 1 or layers < 1:
            raise ValueError("the discriminator's width and layers must be at least 1")
        self.config = {"width": width, "layers": layers, "in_channels": in_channels, "norm": norm}
        leaky = nn.LeakyReLU(0.2, inplace=True)
        blocks: list[nn.Module] = [nn.Conv2d(in_channels, width, 4, 2, 1), leaky]
        channels = width
        for index in range(1, layers + 1):
            stride = 2 if index < layers else 1
            out = width * min(2**index, 8)
            conv = nn.Conv2d(channels, out, 4, stride, 1, bias=norm != "batch")
            blocks += [conv, *norm_layer(norm, out), nn.LeakyReLU(0.2, inplace=True)]
            channels = out
        blocks.append(nn.Conv2d(channels, 1, 4, 1, 1))
        self.layers = nn.Sequential(*blocks)

    def forward(self, nir: torch.Tensor, srgb: torch.Tensor) -> torch.Tensor:
        """Patch scores (raw: LSGAN targets 1 for real, 0 for fake) of ``(nir, srgb)``."""
        return self.layers(2.0 * torch.cat([nir, srgb], dim=1) - 1.0)
