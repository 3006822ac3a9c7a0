"""Training losses: ``mse``, ``l1``, ``l1+ssim`` (L1 + (1 − SSIM)), a differentiable SSIM, and
the colourfulness term of ``--colour-weight`` (:func:`colourfulness_loss`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

SSIM_SIGMA = 1.5
SSIM_RADIUS = 5  # an 11 × 11 window, as in Wang et al. (2004) and nircolor.metrics
LOSSES = ("mse", "l1", "l1+ssim")
SQRT_FLOOR = 1e-4  # on the 0–255 scale of M: 0.01 of a grey level


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


def colourfulness(srgb: torch.Tensor) -> torch.Tensor:
    """Hasler & Süsstrunk's colourfulness M of each ``(N, 3, H, W)`` sRGB image in [0, 1],
    on the 0–255 scale: as :func:`nircolor.metrics.colourfulness`, differentiable, ``(N,)``."""
    red, green, blue = (255.0 * srgb).unbind(dim=1)
    rg, yb = red - green, 0.5 * (red + green) - blue
    variance = rg.var(dim=(1, 2), unbiased=False) + yb.var(dim=(1, 2), unbiased=False)
    cast = rg.mean(dim=(1, 2)) ** 2 + yb.mean(dim=(1, 2)) ** 2
    # The square root's gradient is infinite at 0 (a grey patch): SQRT_FLOOR keeps it finite.
    return (variance + SQRT_FLOOR).sqrt() + 0.3 * (cast + SQRT_FLOOR).sqrt()


def colourfulness_loss(pred_srgb: torch.Tensor, true_srgb: torch.Tensor) -> torch.Tensor:
    """Mean ``|M(pred) − M(true)| / 255`` over the patches of a batch.

    Per-pixel L1/L2 losses regress an ambiguous chroma to its mean, and the prediction comes
    out greyer than the truth; this term asks each patch for the truth's amount of colour
    (its spread and its cast), on the scale of an sRGB L1, and leaves where the colour goes
    to the reconstruction loss beside it.
    """
    pred_m, true_m = colourfulness(pred_srgb.clamp(0.0, 1.0)), colourfulness(true_srgb)
    return (pred_m - true_m).abs().mean() / 255.0
