"""L3's ridge solver (``gcv_solve``) against a direct reference: the hat matrix of the ridge
fit with an unpenalised intercept, built explicitly, gives GCV's degrees of freedom."""

from __future__ import annotations

import numpy as np
import pytest

from nircolor.models.l3 import L3Config, gcv_solve

CONFIG = L3Config()
N_SAMPLES, N_FEATURES, N_CLASSES = 9, 3, 12


def small_problems(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``N_CLASSES`` tiny noisy regressions: features ``(K, n, f)`` and targets ``(K, n, 3)``
    (few samples per feature, so that GCV's degrees of freedom decide which λ wins)."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(N_CLASSES, N_SAMPLES, N_FEATURES))
    weights = rng.normal(size=(N_CLASSES, N_FEATURES, 3))
    noise = rng.normal(scale=1.5, size=(N_CLASSES, N_SAMPLES, 3))
    targets = 0.5 + features @ weights + noise
    return features, targets


def normal_sums(features: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The accumulated sums ``Σ [1, x, y][1, x, y]ᵀ`` of every class, as ``fit_l3`` keeps them."""
    ones = np.ones((*features.shape[:2], 1))
    design = np.concatenate([ones, features, targets], axis=2)
    return np.einsum("kni,knj->kij", design, design)


def reference_choice(features: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """λ minimising GCV = n·RSS / (n − tr H)² over L3's grid, and its weights (intercept
    first), with the hat matrix ``H = X (XᵀX + λD)⁻¹ Xᵀ`` of the design ``X = [1, x]`` and
    ``D = diag(0, 1, …, 1)``: the intercept unpenalised, counted in tr H like any column."""
    n = len(features)
    design = np.column_stack([np.ones(n), features])
    centred = features - features.mean(axis=0)
    scale = np.mean(np.linalg.svd(centred, compute_uv=False) ** 2)
    grid = 10.0 ** np.linspace(
        CONFIG.lambda_log10_min, CONFIG.lambda_log10_max, CONFIG.lambda_steps
    )
    penalty = np.diag([0.0] + [1.0] * features.shape[1])
    best = (np.inf, 0.0, np.zeros(design.shape[1]))
    for lam in scale * grid:
        inverse = np.linalg.inv(design.T @ design + lam * penalty)
        hat = design @ inverse @ design.T
        rss = float(np.sum((target - hat @ target) ** 2))
        gcv = n * rss / (n - np.trace(hat)) ** 2
        if gcv < best[0]:
            best = (gcv, lam, inverse @ design.T @ target)
    return best[1], best[2]


@pytest.mark.parametrize("seed", [0, 1])
def test_gcv_chooses_the_lambda_and_weights_of_the_explicit_hat_matrix(seed):
    features, targets = small_problems(seed)
    weights, lambdas = gcv_solve(
        normal_sums(features, targets), np.full(N_CLASSES, N_SAMPLES), CONFIG, N_FEATURES
    )
    assert weights.shape == (N_CLASSES, 1 + N_FEATURES, 3) and lambdas.shape == (N_CLASSES, 3)
    for k in range(N_CLASSES):
        for channel in range(3):
            lam, expected = reference_choice(features[k], targets[k, :, channel])
            assert lambdas[k, channel] == pytest.approx(lam, rel=1e-9), (k, channel)
            np.testing.assert_allclose(weights[k, :, channel], expected, rtol=1e-6, atol=1e-9)
