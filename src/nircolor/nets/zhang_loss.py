"""The loss of the ``zhang`` colorizer: rebalanced cross entropy over soft-encoded ab bins.

Zhang et al. (ECCV 2016), section 2.1:

* **soft encoding** — the true ab of a pixel becomes a distribution ``z`` over its 5
  nearest bins, weighted by a Gaussian of σ = 5 (ab units) of the distance;
* **class rebalancing** — a pixel is weighted by ``w(q*)`` of its nearest bin ``q*``,
  ``w ∝ ((1 − λ)·p̃ + λ/Q)⁻¹`` with ``p̃`` the empirical prior of the bins smoothed by a
  Gaussian of σ = 5 and λ = 0.5, normalised so that ``E_p̃[w] = 1``: rare, saturated
  colours count as much as the common greyish ones, which is what keeps the prediction
  from regressing to the mean;
* the loss is ``−Σ_pixels w(q*) Σ_q z_q log softmax(logits)_q`` (mean over pixels).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

NEIGHBOURS = 5
SIGMA = 5.0  # ab units, for the soft encoding and the prior smoothing
REBALANCE = 0.5  # λ


def rebalancing_weights(
    bins: np.ndarray, prior: np.ndarray, lam: float = REBALANCE, sigma: float = SIGMA
) -> np.ndarray:
    """``w(q)`` of every bin (``(Q, 2)`` ab centres, ``(Q,)`` prior summing to 1)."""
    bins, prior = np.asarray(bins, np.float64), np.asarray(prior, np.float64)
    squared = ((bins[:, None, :] - bins[None, :, :]) ** 2).sum(-1)
    smoothed = np.exp(-squared / (2 * sigma**2)) @ prior
    smoothed /= smoothed.sum()
    weights = 1.0 / ((1 - lam) * smoothed + lam / len(prior))
    return weights / (smoothed * weights).sum()


def soft_encode(ab: torch.Tensor, bins: torch.Tensor, sigma: float = SIGMA):
    """Soft targets ``(N, Q, H, W)`` and nearest bins ``(N, H, W)`` of ab ``(N, 2, H, W)``.

    ``ab`` and ``bins`` (``(Q, 2)``) are in the same units; ``sigma`` is in ab units scaled
    as they are (pass ``SIGMA / 128`` for the nets' ``a*/128`` scale).
    """
    squared = ((ab[:, None] - bins[None, :, :, None, None]) ** 2).sum(dim=2)  # (N, Q, H, W)
    k = min(NEIGHBOURS, bins.shape[0])
    nearest_sq, nearest = torch.topk(squared, k, dim=1, largest=False)
    weights = torch.exp(-nearest_sq / (2 * sigma**2))
    weights = weights / weights.sum(dim=1, keepdim=True)
    target = torch.zeros_like(squared).scatter_(1, nearest, weights)
    return target, nearest[:, 0]


def rebalanced_cross_entropy(
    logits: torch.Tensor, ab: torch.Tensor, bins: torch.Tensor, class_weights: torch.Tensor
) -> torch.Tensor:
    """The loss above for logits ``(N, Q, h, w)`` and true ab ``(N, 2, H, W)`` (net scale).

    The true ab is average-pooled to the logits' size first.
    """
    if ab.shape[-2:] != logits.shape[-2:]:
        ab = F.adaptive_avg_pool2d(ab, logits.shape[-2:])
    with torch.no_grad():
        target, nearest = soft_encode(ab, bins, sigma=SIGMA / 128.0)
        pixel_weights = class_weights[nearest]
    per_pixel = -(target * F.log_softmax(logits, dim=1)).sum(dim=1)
    return (pixel_weights * per_pixel).mean()
