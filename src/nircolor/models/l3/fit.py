"""Training of L3 models: :func:`fit_l3`, streaming over the training pairs, with its pixel
sampling, per-class accumulators of the normal equations and GCV ridge solvers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence

import cv2
import numpy as np

from ..base import check_nir
from .config import L3Config
from .model import L3Model
from .patches import (
    classify,
    gather_patches,
    log_cuts,
    orbit_matrix,
    pad,
    patch_stats,
    quantile_cuts,
)
from .ridge import gcv_solve

Pair = tuple[np.ndarray, np.ndarray]
PairSource = Sequence[Pair] | Callable[[], Iterable[Pair]] | Iterable[Pair]
Progress = Callable[[int, int | None], object]

_ACCUMULATE_BLOCK_PIXELS = 262144
_MSE_FLOOR = 1e-4


def _as_pair(pair: Pair) -> Pair:
    try:
        nir, rgb = pair
    except (TypeError, ValueError):
        raise ValueError("training items must be (nir, rgb) pairs") from None
    nir = check_nir(nir)
    rgb = np.asarray(rgb)
    if rgb.shape != (*nir.shape, 3):
        raise ValueError(f"RGB image of shape {rgb.shape} does not match NIR image {nir.shape}")
    return nir, np.ascontiguousarray(rgb, dtype=np.float32)


def _passes(pairs: PairSource, needed: int) -> tuple[Callable[[], Iterable[Pair]], int | None]:
    """Turn ``pairs`` into a factory of fresh iterables; check it can give ``needed`` passes."""
    if callable(pairs):
        return pairs, None
    if isinstance(pairs, Sequence):
        return (lambda: pairs), len(pairs)
    if isinstance(pairs, Iterator) and needed > 1:
        raise TypeError(
            f"this L3 training needs {needed} passes over the training pairs (quantile cut "
            "points, psnr weighting): pass a sequence or a callable returning a fresh "
            "iterable, not a one-shot iterator (or use cuts='log' with weighting 'pixels')"
        )
    consumed = False

    def once() -> Iterable[Pair]:
        nonlocal consumed
        if consumed and isinstance(pairs, Iterator):
            raise TypeError("the training pairs iterator is exhausted")
        consumed = True
        return pairs

    try:
        total = len(pairs)  # type: ignore[arg-type]
    except TypeError:
        total = None
    return once, total


def _image_rng(seed: int, stage: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, stage, index])


def _stats_indices(n: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Random pixel indices for the statistics pass: each with probability ``fraction``,
    at least one."""
    idx = np.flatnonzero(rng.random(n, dtype=np.float32) < fraction)
    return idx if len(idx) else rng.integers(0, n, size=1)


class BottomK:
    """Weighted sample without replacement of at most ``capacity`` rows of a stream.

    Every row gets the key ``E / w`` (``E`` exponential, ``w`` its weight) and the rows with
    the smallest keys are kept (Efraimidis–Spirakis), so memory stays bounded.
    """

    def __init__(self, capacity: int, columns: int) -> None:
        self.capacity = capacity
        self.keys = np.empty(0, dtype=np.float64)
        self.rows = np.empty((0, columns), dtype=np.float32)

    def add(self, rows: np.ndarray, weight: float, rng: np.random.Generator) -> None:
        self.keys = np.concatenate([self.keys, rng.standard_exponential(len(rows)) / weight])
        self.rows = np.concatenate([self.rows, rows])
        if len(self.keys) > 2 * self.capacity:
            self._shrink()

    def _shrink(self) -> None:
        if len(self.keys) > self.capacity:
            keep = np.argpartition(self.keys, self.capacity - 1)[: self.capacity]
            keep.sort()
            self.keys, self.rows = self.keys[keep], self.rows[keep]

    def sample(self) -> np.ndarray:
        self._shrink()
        return self.rows


def quantile_cut_points(
    images: Iterable[np.ndarray],
    config: L3Config,
    tick: Callable[[], object] | None = None,
    border: int = cv2.BORDER_REFLECT,
) -> tuple[np.ndarray, np.ndarray]:
    """Level and contrast cut points at quantiles of the patches of single-channel ``images``.

    The first pass of :func:`fit_l3` (a bounded, seeded sample of every image's patch
    statistics); ``tick()`` is called after every image.
    """
    reservoir = BottomK(config.stats_max_samples, 2)
    seen = 0
    for index, image in enumerate(images):
        rng = _image_rng(config.seed, 0, index)
        level, contrast = patch_stats(image, config.patch, border)
        idx = _stats_indices(image.size, config.stats_sample_fraction, rng)
        weight = 1.0 / len(idx) if config.weighting == "images" else 1.0
        rows = np.stack([level.ravel()[idx], contrast.ravel()[idx]], axis=1)
        reservoir.add(rows, weight, rng)
        seen += 1
        if tick is not None:
            tick()
    if seen == 0:
        raise ValueError("no training pairs")
    sample = reservoir.sample()
    return quantile_cuts(sample[:, 0], sample[:, 1], config)


def sample_pixels(n: int, config: L3Config, rng: np.random.Generator) -> np.ndarray:
    """Sorted flat indices of the pixels of an ``n``-pixel image used for training."""
    if config.sample_fraction >= 1.0 or n <= config.min_samples_per_image:
        idx = np.arange(n)
    elif n * config.sample_fraction < config.min_samples_per_image:
        idx = np.sort(rng.choice(n, size=config.min_samples_per_image, replace=False))
    else:
        idx = np.flatnonzero(rng.random(n, dtype=np.float32) < config.sample_fraction)
    cap = config.max_samples_per_image
    if cap is not None and len(idx) > cap:
        idx = np.sort(rng.choice(idx, size=cap, replace=False))
    return idx


class _Accumulator:
    """Per-class weighted sums of ``z zᵀ`` for ``z = [1, features, r, g, b]`` (float64).

    ``sums[k, 0, 0]`` is the total weight of class ``k``; ``counts`` and ``sum_w2`` give the
    number of samples and the sum of squared weights (for the effective sample size).
    """

    def __init__(
        self,
        config: L3Config,
        level_cuts: np.ndarray,
        contrast_cuts: np.ndarray,
        border: int = cv2.BORDER_REFLECT,
    ):
        self.config = config
        self.border = border
        self.level_cuts = level_cuts
        self.contrast_cuts = contrast_cuts
        self.orbits = orbit_matrix(config.patch, config.symmetric)
        self.n_features = self.orbits.shape[1]
        q = 1 + self.n_features + 3
        k = config.n_classes
        self.sums = np.zeros((k, q, q), dtype=np.float64)
        self.counts = np.zeros(k, dtype=np.int64)
        self.sum_w2 = np.zeros(k, dtype=np.float64)
        self.pixels = 0

    def add_image(
        self,
        nir: np.ndarray,
        rgb: np.ndarray,
        rng: np.random.Generator,
        previous: np.ndarray | None = None,
        among: np.ndarray | None = None,
    ) -> None:
        """Add one image's sampled patches (drawn from the flat pixel indices ``among``, or
        from all pixels).

        With ``previous`` (``(K, 1 + f, 3)`` weights of the last fit) the image is weighted
        by ``1 / (n · MSE)`` of that fit on its samples, else by 1 per sample (``"pixels"``)
        or ``1 / n`` (``"images"``).
        """
        config = self.config
        f = self.n_features
        q = 1 + f + 3
        height, width = nir.shape
        padded = pad(nir, config.patch // 2, self.border)
        level, contrast = patch_stats(nir, config.patch, self.border)
        if among is None:
            idx = sample_pixels(height * width, config, rng)
        else:
            idx = among[sample_pixels(len(among), config, rng)]
        if len(idx) == 0:
            return
        level, contrast = level.ravel()[idx], contrast.ravel()[idx]
        colours = rgb.reshape(-1, 3)
        gram = np.zeros((config.n_classes, q, q), dtype=np.float64)
        counts = np.zeros(config.n_classes, dtype=np.int64)
        squared_error = 0.0
        for start in range(0, len(idx), _ACCUMULATE_BLOCK_PIXELS):
            block = slice(start, start + _ACCUMULATE_BLOCK_PIXELS)
            classes = classify(level[block], contrast[block], self.level_cuts, self.contrast_cuts)
            order = np.argsort(classes, kind="stable")
            chosen = idx[block][order]
            patches = gather_patches(padded, width, config.patch, chosen)
            z = np.empty((len(chosen), q), dtype=np.float32)
            z[:, 0] = 1.0
            if config.symmetric:
                np.matmul(patches, self.orbits, out=z[:, 1 : 1 + f])
            else:
                z[:, 1 : 1 + f] = patches
            z[:, 1 + f :] = colours[chosen]
            block_counts = np.bincount(classes, minlength=config.n_classes)
            stop = 0
            for k in np.flatnonzero(block_counts):
                begin, stop = stop, stop + int(block_counts[k])
                rows = z[begin:stop].astype(np.float64)
                gram[k] += rows.T @ rows
                if previous is not None:
                    predicted = np.clip(rows[:, : 1 + f] @ previous[k], 0.0, 1.0)
                    squared_error += float(np.sum((predicted - rows[:, 1 + f :]) ** 2))
            counts += block_counts
        n = len(idx)
        if previous is not None:
            mse = max(squared_error / (3 * n), _MSE_FLOOR)
            weight = 1.0 / (n * mse)
        elif config.weighting == "images":
            weight = 1.0 / n
        else:
            weight = 1.0
        present = counts > 0
        self.sums[present] += weight * gram[present]
        self.counts += counts
        self.sum_w2 += counts * weight * weight
        self.pixels += n


def fill_sparse(enough: np.ndarray, n_levels: int, n_contrasts: int) -> np.ndarray:
    """Class whose weights every class uses: itself, else the nearest level bin with enough
    samples in the same contrast bin, else the nearest class overall (``|Δlevel| +
    |Δcontrast|``, ties to the smaller ``|Δlevel|``, then to the lower class)."""
    nl, nc = n_levels, n_contrasts
    if not enough.any():
        raise ValueError("no class has enough samples")
    levels, contrasts = np.divmod(np.arange(nl * nc), nc)
    source = np.arange(nl * nc)
    for k in np.flatnonzero(~enough):
        same = enough & (contrasts == contrasts[k])
        if same.any():
            candidates = np.flatnonzero(same)
            distance = np.abs(levels[candidates] - levels[k]) * 2 + (levels[candidates] > levels[k])
        else:
            candidates = np.flatnonzero(enough)
            dl = np.abs(levels[candidates] - levels[k])
            dc = np.abs(contrasts[candidates] - contrasts[k])
            distance = (dl + dc) * (2 * nl) + dl
        source[k] = candidates[np.argmin(distance)]
    return source


def _effective_n(sums: np.ndarray, sum_w2: np.ndarray) -> np.ndarray:
    """Kish effective sample size ``(Σw)² / Σw²`` (the sample count for unit weights)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sum_w2 > 0, sums[:, 0, 0] ** 2 / sum_w2, 0.0)


def _solve(
    accumulator: _Accumulator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str | None]:
    """Weights (feature space), λ and source class of every class, which classes had enough
    data, and the pooling used when none had (``None``, ``"levels"`` or ``"all"``).

    Sparse classes borrow from neighbours (:func:`fill_sparse`). When *no* class has
    ``min_class_samples`` (tiny training sets), the contrast bins of every level bin are
    pooled into one fit per level bin (sparse level bins borrowing from the nearest one),
    and when no level bin has enough either, all the data make one fit.
    """
    config = accumulator.config
    f = accumulator.n_features
    sums, counts, sum_w2 = accumulator.sums, accumulator.counts, accumulator.sum_w2
    need = config.min_class_samples
    nl, nc = config.n_levels, config.n_contrasts
    enough = counts >= need
    if enough.any():
        weights, lambdas = gcv_solve(sums, _effective_n(sums, sum_w2), config, f)
        source = fill_sparse(enough, nl, nc)
        return weights[source], lambdas[source], source, enough, None
    if counts.sum() < f + 2:
        raise ValueError(
            f"not enough training data: {int(counts.sum())} samples for {f} features; give "
            "more or larger images"
        )
    level_sums = sums.reshape(nl, nc, *sums.shape[1:]).sum(axis=1)
    level_counts = counts.reshape(nl, nc).sum(axis=1)
    level_w2 = sum_w2.reshape(nl, nc).sum(axis=1)
    level_enough = level_counts >= need
    if level_enough.any():
        weights, lambdas = gcv_solve(level_sums, _effective_n(level_sums, level_w2), config, f)
        pick = fill_sparse(level_enough, nl, 1)[np.arange(nl * nc) // nc]
        pooling = "levels"
    else:
        total = sums.sum(axis=0, keepdims=True)
        weights, lambdas = gcv_solve(
            total, _effective_n(total, sum_w2.sum(keepdims=True)), config, f
        )
        pick = np.zeros(nl * nc, dtype=np.intp)
        pooling = "all"
    return weights[pick], lambdas[pick], np.arange(nl * nc), enough, pooling


def fit_l3(
    pairs: PairSource,
    config: L3Config | None = None,
    progress: Progress | None = None,
) -> L3Model:
    """Train an L3 model, streaming over ``(nir, rgb)`` pairs of float images in [0, 1].

    Parameters
    ----------
    pairs : sequence, callable or iterable
        ``(nir (H, W), rgb (H, W, 3))`` pairs. Quantile cut points need two passes, so give a
        sequence (may load lazily in ``__getitem__``) or a zero-argument callable returning a
        fresh iterable each time; a one-shot iterator works with ``cuts="log"`` only.
    config : L3Config, optional
        Hyperparameters (defaults: ``L3Config()``).
    progress : callable, optional
        Called as ``progress(done, total)`` after every image of every pass; ``total`` counts
        the images of all passes, or is ``None`` when the number of pairs is unknown.

    Returns
    -------
    L3Model

    Memory does not grow with the number of images: per-class float64 normal equations plus
    a bounded sample of patch statistics for the quantile cut points.
    """
    config = config or L3Config()
    started = time.perf_counter()
    fresh, tick, accumulation_passes = schedule(pairs, config, progress)
    level_cuts, contrast_cuts = cut_points(fresh, config, tick)
    previous = None
    for _ in range(accumulation_passes):
        accumulator = _Accumulator(config, level_cuts, contrast_cuts)
        images = 0
        for index, pair in enumerate(fresh()):
            nir, rgb = _as_pair(pair)
            rng = _image_rng(config.seed, 1, index)  # same samples in every pass
            accumulator.add_image(nir, rgb, rng, previous)
            images += 1
            tick()
        if images == 0:
            raise ValueError("no training pairs")
        previous, lambdas, source, enough, pooling = _solve(accumulator)

    weights = full_layout(previous, config)
    counts = accumulator.counts
    info = {
        "images": images,
        "pixels": int(accumulator.pixels),
        "classes_borrowed": int((~enough).sum()) if pooling is None else 0,
        "pooled": pooling,
        "seconds": round(time.perf_counter() - started, 3),
    }
    return L3Model(config, weights, level_cuts, contrast_cuts, counts, lambdas, source, info)


def schedule(
    pairs: PairSource, config: L3Config, progress: Progress | None
) -> tuple[Callable[[], Iterable[Pair]], Callable[[], None], int]:
    """A factory of fresh passes over ``pairs``, the tick that reports every image of every
    pass, and the number of accumulation passes."""
    accumulation_passes = 1 + (config.psnr_iterations if config.weighting == "psnr" else 0)
    passes = accumulation_passes + (1 if config.cuts == "quantile" else 0)
    fresh, tick = counted_passes(pairs, passes, progress)
    return fresh, tick, accumulation_passes


def counted_passes(pairs, passes: int, progress) -> tuple[Callable[[], Iterable], Callable]:
    """A factory of fresh passes over ``pairs`` and the tick reporting ``progress(done,
    total)`` after every image of every pass (``total`` None when ``pairs`` has no length)."""
    fresh, count = _passes(pairs, passes)
    total = None if count is None else passes * count
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    return fresh, tick


def cut_points(
    fresh: Callable[[], Iterable[Pair]],
    config: L3Config,
    tick: Callable[[], None],
    border: int = cv2.BORDER_REFLECT,
) -> tuple[np.ndarray, np.ndarray]:
    """Level and contrast cut points: quantiles of a pass over the data, or log-spaced."""
    if config.cuts != "quantile":
        return log_cuts(config)
    return quantile_cut_points((_as_pair(pair)[0] for pair in fresh()), config, tick, border)


def full_layout(weights: np.ndarray, config: L3Config) -> np.ndarray:
    """Weights of tied (symmetric) kernels expanded to the full ``P × P`` layout."""
    if not config.symmetric:
        return weights
    orbits = orbit_matrix(config.patch, config.symmetric)
    return np.concatenate(
        [weights[:, :1], np.einsum("po,koc->kpc", orbits, weights[:, 1:])], axis=1
    )
