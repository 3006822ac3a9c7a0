"""Training losses: ``mse``, ``l1``, ``l1+ssim`` (L1 + (1 − SSIM)), a differentiable SSIM, and
the colour terms (:func:`colour_terms_loss`): colourfulness (``--colour-weight``,
:func:`colourfulness_loss`), CIEDE2000 (``--delta-e-weight``, :func:`delta_e00_loss`) and hue
(``--hue-weight``, :func:`hue_loss`), and the structure term (``--structure-weight``,
:func:`gmsd_loss`)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..colour_metrics import HUE_MIN_CHROMA
from ..structure_metrics import GMSD_C, LUMA_WEIGHTS, PREWITT_X
from .colour import srgb_to_lab

SSIM_SIGMA = 1.5
SSIM_RADIUS = 5  # an 11 × 11 window, as in Wang et al. (2004) and nircolor.metrics
LOSSES = ("mse", "l1", "l1+ssim")
SQRT_FLOOR = 1e-4  # on the 0–255 scale of M: 0.01 of a grey level
LAB_FLOOR = 1e-6  # under the roots of ΔE00 (CIELAB units squared): finite gradients at 0
HUE_FLOOR = 1.0  # under the predicted chroma's root in the hue term (CIELAB units squared)
GRADIENT_FLOOR = 1e-2  # under the gradient magnitude's root (luma units squared, 0–255)


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


def delta_e00(pred_lab: torch.Tensor, true_lab: torch.Tensor) -> torch.Tensor:
    """CIEDE2000 colour difference (Sharma, Wu & Dalal 2005; kL = kC = kH = 1) of each pixel
    of two ``(N, 3, H, W)`` CIELAB images, differentiable, ``(N, H, W)``.

    As :func:`skimage.color.deltaE_ciede2000` (which :func:`nircolor.metrics.delta_e00`
    averages), except that the roots have :data:`LAB_FLOOR` under them.
    """
    (l1, a1, b1), (l2, a2, b2) = pred_lab.unbind(dim=1), true_lab.unbind(dim=1)
    chroma_mean = 0.5 * ((a1**2 + b1**2 + LAB_FLOOR).sqrt() + (a2**2 + b2**2 + LAB_FLOOR).sqrt())
    g = 0.5 * (1.0 - (chroma_mean**7 / (chroma_mean**7 + 25.0**7)).sqrt())
    a1, a2 = (1.0 + g) * a1, (1.0 + g) * a2  # a′: the neutral axis stretched
    c1, c2 = (a1**2 + b1**2 + LAB_FLOOR).sqrt(), (a2**2 + b2**2 + LAB_FLOOR).sqrt()
    dl, dc = l2 - l1, c2 - c1
    # ΔH′² = 2 (C′₁C′₂ − a′₁a′₂ − b₁b₂), its sign that of sin(h′₂ − h′₁), as skimage.
    dh_squared = (2.0 * (c1 * c2 - a1 * a2 - b1 * b2)).clamp(min=0.0)
    dh = torch.sign(a1 * b2 - a2 * b1) * (dh_squared + LAB_FLOOR).sqrt()
    # The mean hue h̄′ bisects the shorter arc between the two hues: the sum of unit vectors.
    h = torch.atan2(b1 / c1 + b2 / c2, a1 / c1 + a2 / c2 + LAB_FLOOR)
    t = (
        1.0
        - 0.17 * torch.cos(h - math.radians(30))
        + 0.24 * torch.cos(2 * h)
        + 0.32 * torch.cos(3 * h + math.radians(6))
        - 0.20 * torch.cos(4 * h - math.radians(63))
    )
    hue_degrees = torch.remainder(torch.rad2deg(h), 360.0)
    rotation = math.radians(30) * torch.exp(-(((hue_degrees - 275.0) / 25.0) ** 2))
    c = 0.5 * (c1 + c2)
    r_c = 2.0 * (c**7 / (c**7 + 25.0**7)).sqrt()
    l_offset = (0.5 * (l1 + l2) - 50.0) ** 2
    s_l = 1.0 + 0.015 * l_offset / (20.0 + l_offset).sqrt()
    s_c, s_h = 1.0 + 0.045 * c, 1.0 + 0.015 * c * t
    r_t = -torch.sin(2 * rotation) * r_c
    terms = (dl / s_l) ** 2 + (dc / s_c) ** 2 + (dh / s_h) ** 2 + r_t * (dc / s_c) * (dh / s_h)
    return (terms.clamp(min=0.0) + LAB_FLOOR).sqrt()


def delta_e00_loss(pred_srgb: torch.Tensor, true_srgb: torch.Tensor) -> torch.Tensor:
    """Mean CIEDE2000 difference / 100 (the L* range: the scale of an sRGB L1).

    The metric the colorizers are ranked by, as a loss: an sRGB L1 weighs an error by how far
    the values moved, ΔE00 by how far a viewer sees the colour move (hue errors of a
    saturated colour count, those of a near-grey one hardly).
    """
    return colour_terms_loss(pred_srgb, true_srgb, delta_e_weight=1.0)


def hue_loss(pred_lab: torch.Tensor, true_lab: torch.Tensor) -> torch.Tensor:
    """Mean (1 − cos Δh) / 2 over the pixels whose true chroma is at least
    :data:`~nircolor.colour_metrics.HUE_MIN_CHROMA`: 0 for the true hue, 1 for the opposite.

    The pixels and the hue angle of the hue accuracy metric, made smooth: a hit there is a
    |Δh| ≤ 30°, a step with no gradient. :data:`HUE_FLOOR` under the predicted chroma's root
    makes a near-grey prediction's hue count less (its cos tends to 0) and keeps the gradient
    finite there.
    """
    (a1, b1), (a2, b2) = pred_lab[:, 1:].unbind(dim=1), true_lab[:, 1:].unbind(dim=1)
    true_chroma = (a2**2 + b2**2).sqrt()
    chromatic = (true_chroma >= HUE_MIN_CHROMA).to(pred_lab.dtype)
    pred_chroma = (a1**2 + b1**2 + HUE_FLOOR).sqrt()
    cos = (a1 * a2 + b1 * b2) / (pred_chroma * true_chroma.clamp(min=HUE_MIN_CHROMA))
    return (0.5 * (1.0 - cos) * chromatic).sum() / chromatic.sum().clamp(min=1.0)


def gradient_magnitude(srgb: torch.Tensor) -> torch.Tensor:
    """Prewitt gradient magnitude (kernels over 3, edges replicated) of the luma on 0–255 of
    ``(N, 3, H, W)`` sRGB images, ``(N, H, W)``, as :mod:`nircolor.structure_metrics`."""
    weights = torch.tensor(255.0 * LUMA_WEIGHTS, dtype=srgb.dtype, device=srgb.device)
    luma = (srgb * weights.view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
    kernel_x = torch.tensor(PREWITT_X, dtype=srgb.dtype, device=srgb.device).view(1, 1, 3, 3)
    padded = F.pad(luma, (1, 1, 1, 1), mode="replicate")
    gx, gy = F.conv2d(padded, kernel_x), F.conv2d(padded, kernel_x.transpose(2, 3))
    return (gx**2 + gy**2 + GRADIENT_FLOOR).sqrt()[:, 0]


def gmsd_loss(pred_srgb: torch.Tensor, true_srgb: torch.Tensor) -> torch.Tensor:
    """Mean over the patches of their GMSD (Xue et al. 2014) against the truth.

    Per-pixel losses let a net hedge with a blur; the structure metric the default is judged
    by (:func:`nircolor.structure_metrics.gmsd`) costs a blurred or displaced edge as much
    as a wrong one. Unlike the metric it works at the patch's own scale, not halved: the
    training pairs are brought down to the colour context's size, the scale the net paints
    at and about the half size at which the metric looks at a full-size picture.
    """
    m_pred = gradient_magnitude(pred_srgb.clamp(0.0, 1.0))
    m_true = gradient_magnitude(true_srgb)
    similarity = (2 * m_true * m_pred + GMSD_C) / (m_true**2 + m_pred**2 + GMSD_C)
    return similarity.flatten(1).std(dim=1, unbiased=False).mean()


def colour_terms_loss(
    pred_srgb: torch.Tensor,
    true_srgb: torch.Tensor,
    colour_weight: float = 0.0,
    delta_e_weight: float = 0.0,
    hue_weight: float = 0.0,
    structure_weight: float = 0.0,
) -> torch.Tensor:
    """The weighted sum of the colour terms and the structure term of two ``(N, 3, H, W)``
    sRGB batches: each one whose weight is 0 is left out (not computed)."""
    loss = pred_srgb.new_zeros(())
    if structure_weight:
        loss = loss + structure_weight * gmsd_loss(pred_srgb, true_srgb)
    if colour_weight:
        loss = loss + colour_weight * colourfulness_loss(pred_srgb, true_srgb)
    if delta_e_weight or hue_weight:
        pred_lab, true_lab = srgb_to_lab(pred_srgb.clamp(0.0, 1.0)), srgb_to_lab(true_srgb)
    if delta_e_weight:
        loss = loss + delta_e_weight * delta_e00(pred_lab, true_lab).mean() / 100.0
    if hue_weight:
        loss = loss + hue_weight * hue_loss(pred_lab, true_lab)
    return loss
