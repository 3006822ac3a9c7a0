"""``zhang``: colour as classification over ab bins (Zhang, Isola, Efros, ECCV 2016), for NIR.

The trunk is the :class:`~.unet.UNet` (strided stem, encoder levels, global vector at the
bottleneck, decoder with skips). Two heads replace its RGB output:

* **chroma**: a 1×1 convolution of the last decoder level (half the input size) gives one
  logit per ab bin — the in-gamut cells of a 10 × 10 grid over CIELAB ``(a*, b*)``, derived
  from the training RGB (:func:`ab_bins`); trained with the rebalanced cross entropy over
  soft-encoded targets (:mod:`nircolor.nets.zhang_loss`);
* **lightness**: NIR is not lightness, so ``L*`` is regressed too — the full-size last
  convolution, as a correction of the NIR image (``L*/100 = nir + x``).

Decoding is the *annealed mean* ``ab = Σ_q softmax(logits / T)_q · bin_q``: ``T = 1`` is
the mean (greyish, as a regression), ``T → 0`` the mode (vivid, noisy); the paper used
``T = 0.38``. The exported graph (:class:`AnnealedMean`) takes ``1 / T`` as a second input,
so ``nircolor colorize --vividness`` sets it at colorize time, and outputs the ``lab``
output space at full size.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..colorspace import LAB_SCALE
from ..models.onnx import DEFAULT_TEMPERATURE
from .layers import upsample2
from .registry import register_net
from .unet import UNet
from .zhang_loss import rebalancing_weights

BIN_SIZE = 10.0  # ab units, as the paper
AB_LIMIT = 110.0  # the grid covers a*, b* in [-110, 110]
INVERSE_TEMPERATURE_NAME = "inverse_temperature"


def ab_grid() -> np.ndarray:
    """Every cell centre of the ab grid, ``(K, 2)`` in ab units (a*-major)."""
    steps = np.arange(-AB_LIMIT, AB_LIMIT + BIN_SIZE / 2, BIN_SIZE)
    a, b = np.meshgrid(steps, steps, indexing="ij")
    return np.stack([a.ravel(), b.ravel()], axis=1)


def ab_histogram(ab: np.ndarray) -> np.ndarray:
    """Pixel counts of ``(..., 2)`` ab values on :func:`ab_grid`, as a ``(n, n)`` array."""
    steps = len(np.arange(-AB_LIMIT, AB_LIMIT + BIN_SIZE / 2, BIN_SIZE))
    index = np.rint((np.clip(ab, -AB_LIMIT, AB_LIMIT) + AB_LIMIT) / BIN_SIZE).astype(np.int64)
    flat = index[..., 0].ravel() * steps + index[..., 1].ravel()
    return np.bincount(flat, minlength=steps * steps).reshape(steps, steps)


def ab_bins(histogram: np.ndarray, min_share: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """The bins the training colours fall in and their empirical prior.

    Parameters
    ----------
    histogram : ndarray (n, n)
        :func:`ab_histogram` of the training pixels.
    min_share : float
        Cells holding less than this share of the pixels are left out (out of gamut or
        never seen).

    Returns
    -------
    bins : ndarray (Q, 2)
        Cell centres in ab units.
    prior : ndarray (Q,)
        Share of the pixels in each, summing to 1.
    """
    counts = histogram.ravel().astype(np.float64)
    if counts.sum() <= 0:
        raise ValueError("no pixels to derive ab bins from")
    share = counts / counts.sum()
    keep = share >= min_share
    prior = share[keep]
    return ab_grid()[keep], prior / prior.sum()


@register_net("zhang")
class ZhangNet(UNet):
    """U-Net trunk, ab-bin logits at half size and a full-size ``L*`` regression."""

    def __init__(
        self,
        width: int = 16,
        levels: int = 4,
        bins: list | None = None,
        prior: list | None = None,
        temperature: float = DEFAULT_TEMPERATURE,
        norm: str = "batch",
    ) -> None:
        super().__init__(width, levels, output_space="lab", residual=True, norm=norm)
        bins = np.asarray(bins if bins is not None else ab_grid(), dtype=np.float32)
        prior = np.full(len(bins), 1 / len(bins)) if prior is None else np.asarray(prior)
        if bins.ndim != 2 or bins.shape[1] != 2 or len(prior) != len(bins):
            raise ValueError("bins must be (Q, 2) ab centres with one prior share each")
        self.config = {
            "width": width,
            "levels": levels,
            "bins": bins.tolist(),
            "prior": [float(p) for p in prior],
            "temperature": float(temperature),
            "norm": norm,
        }
        self.temperature = float(temperature)
        self.register_buffer("bins", torch.from_numpy(bins / LAB_SCALE[1]), persistent=False)
        weights = rebalancing_weights(bins, prior).astype(np.float32)
        self.register_buffer("class_weights", torch.from_numpy(weights), persistent=False)
        self.last = nn.Conv2d(width + 1, 1, 3, padding=1)
        self.logits = nn.Conv2d(width, len(bins), 1)

    def heads(self, nir: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(lightness (N, 1, H, W) as L*/100, logits (N, Q, H/2, W/2))``."""
        x = self.trunk(nir)
        lightness = nir + self.last(torch.cat([upsample2(x), nir], dim=1))
        return lightness, self.logits(x)

    def decode(self, lightness, logits, inverse_temperature) -> torch.Tensor:
        """The annealed mean of the bins, upsampled, with the lightness: ``lab`` output space."""
        probabilities = torch.softmax(logits * inverse_temperature, dim=1)
        ab = torch.einsum("nqhw,qc->nchw", probabilities, self.bins)
        return torch.cat([lightness, upsample2(ab)], dim=1)

    def forward(self, nir: torch.Tensor) -> torch.Tensor:
        lightness, logits = self.heads(nir)
        return self.decode(lightness, logits, 1.0 / self.temperature)


class AnnealedMean(nn.Module):
    """The exported graph: ``(nir, 1/T) -> lab``, the temperature an input of the graph."""

    def __init__(self, net: ZhangNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, nir: torch.Tensor, inverse_temperature: torch.Tensor) -> torch.Tensor:
        lightness, logits = self.net.heads(nir)
        return self.net.decode(lightness, logits, inverse_temperature.reshape(1, 1, 1, 1))
