"""The ridge solver of L3: per-class ridge weights with λ chosen by generalised
cross-validation, from the accumulated normal equations only."""

from __future__ import annotations

import numpy as np

from .config import L3Config


def gcv_solve(
    sums: np.ndarray, n_eff: np.ndarray, config: L3Config, n_features: int
) -> tuple[np.ndarray, np.ndarray]:
    """Ridge weights (``(K, 1 + f, 3)``, intercept first) and λ (``(K, 3)``) chosen by GCV.

    The intercept is not penalised: the normal equations are centred, the ridge acts on the
    feature weights, and GCV counts the intercept as one more degree of freedom.
    """
    f = n_features
    n = np.asarray(n_eff, dtype=np.float64)
    total = sums[:, 0, 0]
    safe_total = np.where(total > 0, total, 1.0)
    mean = sums[:, 0, 1:] / safe_total[:, None]  # (K, f + 3)
    centred = sums[:, 1:, 1:] - safe_total[:, None, None] * mean[:, :, None] * mean[:, None, :]
    a = centred[:, :f, :f]
    a = 0.5 * (a + a.transpose(0, 2, 1))
    b = centred[:, :f, f:]  # (K, f, 3)
    yy = np.maximum(np.diagonal(centred[:, f:, f:], axis1=1, axis2=2), 0.0)  # (K, 3)
    eigenvalues, vectors = np.linalg.eigh(a)
    eigenvalues = np.maximum(eigenvalues, 0.0)
    scale = eigenvalues.mean(axis=1)
    scale = np.where(scale > 0, scale, 1.0)
    low, high = config.lambda_log10_min, config.lambda_log10_max
    grid = 10.0 ** np.linspace(low, high, config.lambda_steps)
    lambdas = scale[:, None] * grid[None, :]  # (K, G)
    z = np.einsum("kfe,kfc->kec", vectors, b)  # (K, f, 3): Vᵀ b
    z2 = z * z
    s = eigenvalues[:, None, :]  # (K, 1, f)
    denominator = s + lambdas[:, :, None]  # (K, G, f)
    # RSS(λ) = yᵀy − 2 w·b + wᵀ A w  with  w = V diag(1/(s+λ)) Vᵀ b
    factor = (s + 2.0 * lambdas[:, :, None]) / (denominator * denominator)  # (K, G, f)
    rss = yy[:, None, :] - np.einsum("kgf,kfc->kgc", factor, z2)
    rss = np.maximum(rss, 0.0)
    df = (s / denominator).sum(axis=2) + 1.0  # (K, G), intercept included
    residual_df = n[:, None] - df
    with np.errstate(divide="ignore", invalid="ignore"):
        gcv = n[:, None, None] * rss / (residual_df * residual_df)[:, :, None]
    gcv = np.where(residual_df[:, :, None] > 0, gcv, np.inf)
    if config.shared_lambda:  # one λ per class: the channels' GCV scores summed
        best = np.repeat(np.argmin(gcv.sum(axis=2), axis=1)[:, None], 3, axis=1)
    else:
        best = np.argmin(gcv, axis=1)  # (K, 3); ties → smallest λ
    chosen = np.take_along_axis(lambdas, best, axis=1)  # (K, 3)
    shrunk = z / (eigenvalues[:, :, None] + chosen[:, None, :])  # (K, f, 3)
    w = np.einsum("kfe,kec->kfc", vectors, shrunk)
    intercept = mean[:, f:] - np.einsum("kf,kfc->kc", mean[:, :f], w)
    weights = np.concatenate([intercept[:, None, :], w], axis=1)
    return weights, chosen
