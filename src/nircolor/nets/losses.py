"""Training losses: ``mse``, ``l1``, ``l1+ssim`` (L1 + (1 − SSIM)), and a differentiable SSIM."""

from __future__ import annotations

import torch
import torch.nn.functional as F

SSIM_SIGMA = 1.5
SSIM_RADIUS = 5  # an 11 × 11 window, as in Wang et al. (2004) and nircolor.metrics
LOSSES = ("mse", "l1", "l1+ssim")


def gaussian_window(sigma: float = SSIM_SIGMA, radius: int = SSIM_RADIUS) -> torch.Tensor:
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(
    pred: torch.Tensor, true: torch.Tensor, data_range: float = 1.0, sigma: float = SSIM_SIGMA
) -> torch.Tensor:
    """Mean SSIM of ``(N, C, H, W)`` images (per channel, Gaussian window, valid positions).

    Population statistics, ``K1 = 0.01``, ``K2 = 0.03``, as :func:`nircolor.metrics.ssim`.
    """
    channels = pred.shape[1]
    g = gaussian_window(sigma).to(pred)
    kernel_h = g.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    kernel_v = g.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)

    def blur(x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x, kernel_h, groups=channels)
        return F.conv2d(x, kernel_v, groups=channels)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_p, mu_t = blur(pred), blur(true)
    var_p = blur(pred * pred) - mu_p**2
    var_t = blur(true * true) - mu_t**2
    cov = blur(pred * true) - mu_p * mu_t
    numerator = (2 * mu_p * mu_t + c1) * (2 * cov + c2)
    denominator = (mu_p**2 + mu_t**2 + c1) * (var_p + var_t + c2)
    return (numerator / denominator).mean()


def colorization_loss(name: str, pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    if name == "mse":
        return F.mse_loss(pred, true)
    if name == "l1":
        return F.l1_loss(pred, true)
    if name == "l1+ssim":
        return F.l1_loss(pred, true) + (1.0 - ssim(pred, true))
    raise ValueError(f"unknown loss '{name}' (use one of {', '.join(LOSSES)})")
