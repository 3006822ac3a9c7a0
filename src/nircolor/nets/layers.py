"""Building blocks shared by the nets (all export to ONNX with dynamic height and width)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..colorspace import OUTPUT_SPACES, check_space


def conv_bn_relu(
    cin: int, cout: int, kernel: int = 3, stride: int = 1, norm: bool = True
) -> nn.Sequential:
    """``kernel × kernel`` convolution (same padding for odd kernels), BatchNorm, ReLU.

    Without ``norm`` the convolution has a bias and there is no BatchNorm.
    """
    conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=not norm)
    layers = [conv, nn.BatchNorm2d(cout)] if norm else [conv]
    return nn.Sequential(*layers, nn.ReLU(inplace=True))


def upsample2(x: torch.Tensor) -> torch.Tensor:
    """Bilinear 2× upsampling."""
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


def _pool_matrix(n, size: int, like: torch.Tensor) -> torch.Tensor:
    """``(size, n)`` matrix averaging ``n`` positions into ``size`` bins, as adaptive pooling."""
    bins = torch.arange(size, device=like.device)
    start = torch.div(bins * n, size, rounding_mode="floor")
    stop = torch.div((bins + 1) * n + size - 1, size, rounding_mode="floor")
    pos = torch.arange(n, device=like.device)
    mask = ((pos[None, :] >= start[:, None]) & (pos[None, :] < stop[:, None])).to(like.dtype)
    return mask / mask.sum(dim=1, keepdim=True)


def adaptive_avg_pool(x: torch.Tensor, size: int) -> torch.Tensor:
    """``F.adaptive_avg_pool2d(x, size)`` as two matrix products.

    The ONNX exporter turns ``adaptive_avg_pool2d`` into a pooling of fixed kernel, right
    only for the height and width it was traced at; this form stays right at every size.
    """
    rows = _pool_matrix(x.shape[-2], size, x)
    cols = _pool_matrix(x.shape[-1], size, x)
    return torch.matmul(torch.matmul(rows, x), cols.transpose(0, 1))


class OutputHead(nn.Module):
    """Map raw channels into the range of an output space.

    ``rgb``: sigmoid, or with ``residual`` the NIR image plus the raw channels (a correction
    of the grey image, clipped after the net); ``lab``: sigmoid lightness (or NIR + residual)
    and tanh chroma; ``lab_ab``: tanh chroma.
    """

    def __init__(self, space: str, residual: bool = False) -> None:
        super().__init__()
        self.space = check_space(space)
        if residual and space == "lab_ab":
            raise ValueError("a residual over the NIR image needs output space rgb or lab")
        self.residual = residual
        self.channels = OUTPUT_SPACES[space]

    def forward(self, x: torch.Tensor, nir: torch.Tensor) -> torch.Tensor:
        if self.space == "lab_ab":
            return torch.tanh(x)
        if self.space == "rgb":
            return nir + x if self.residual else torch.sigmoid(x)
        lightness = nir + x[:, :1] if self.residual else torch.sigmoid(x[:, :1])
        return torch.cat([lightness, torch.tanh(x[:, 1:])], dim=1)
