"""L3 — Local, Linear, Learned colorization of a monochrome NIR image.

After Jiang, Tian, Farrell and Wandell, "Learning the image processing pipeline", IEEE TIP
26(10), 2017, and the isetL3 toolbox, specialised to a single-channel NIR sensor:

* every pixel is described by the ``P × P`` patch around it (reflect padding, so the output
  has the size of the input);
* the patch falls into a *class* given by its mean level and its contrast (population
  standard deviation), each cut into bins (``n_levels × n_contrasts`` classes);
* every class has its own affine map ``[1, patch pixels] → RGB`` of the centre pixel, learned
  by ridge regression with the ridge strength chosen per class and per colour channel by
  generalised cross-validation (GCV), from the accumulated normal equations only. The
  features and classes depend on the NIR patch only, so this multi-output fit is exactly
  three independent one-output ridge fits, one per channel, each with its own λ;
  ``shared_lambda=True`` instead ties the channels to one λ per class (the GCV scores of
  R, G and B summed).

Design choices:

* **Cut points.** ``cuts="quantile"`` (default) puts the level cuts at quantiles of the
  training patches' levels and the contrast cuts at quantiles of their contrasts — global
  quantiles by default, or quantiles within every level bin (``contrast_per_level=True``) —
  so that classes hold similar numbers of training patches. ``cuts="log"`` uses fixed
  log-spaced cut points (see :func:`log_cuts`) and needs no statistics pass.
* **Intercept.** Not penalised: the normal equations are centred per class (exactly, in
  float64, from the raw sums), the ridge acts on the patch weights only, and GCV counts the
  intercept as one more degree of freedom. The λ grid is relative to the mean eigenvalue of
  the class's centred ``XᵀX``, so it does not depend on the amount of data.
* **Streaming.** Training keeps, per class, the sums of ``z zᵀ`` for
  ``z = [1, features, r, g, b]`` (float64) however much data it sees. Quantile cut points
  need a first pass that keeps a bounded (weighted bottom-k) sample of (level, contrast)
  values; pixels are subsampled per image with a seeded generator.
* **Sparse classes** (fewer than ``min_class_samples`` training patches) take the weights of
  the nearest level bin with enough samples in the same contrast bin, else of the nearest
  class overall. When no class at all has enough (tiny training sets), the contrast bins of
  each level are pooled, and failing that all the data make one fit.
* **Symmetric kernels** (``symmetric=True``): the weights of patch positions related by
  horizontal and vertical flips are tied (features are sums over the flip orbits); the saved
  kernels are expanded back to the full ``P × P`` layout.

Defaults (5×5 patches, 16 level × 16 contrast bins, global contrast quantiles, 25 % of the
pixels of every image, plain least-squares weighting) were chosen by 4-fold cross-validation
over scene-disjoint folds of the ``split == train`` rows of the project data (mean per-image
PSNR per collection): more contrast bins helped most (5 → 8 → 16 bins: +0.09, +0.05 dB),
the number of level bins (12–48), 3×3 vs 5×5 patches and symmetric kernels mattered little
(±0.015 dB), per-level contrast quantiles were no better than global ones (−0.05 dB with 5
bins, equal with 16), 7×7 / 9×9 patches were worse, sampling 10 % or 100 % of the pixels
instead of 25 % changed nothing, and ``weighting="images"`` / ``"psnr"`` trade one
collection against the other.

Rendering classifies every pixel, then, in blocks of rows, sorts the block's pixels by class,
gathers their patches (``cv2.merge`` of the shifted views), applies one small GEMM per class
and scatters the results back; blocks run on a few threads.
"""

from __future__ import annotations

import io
import json
import math
import os
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import cv2
import numpy as np

from ..errors import ModelError
from ..io import write_bytes_atomic
from .registry import CONFIG_NAME, read_config, register_kind

__all__ = [
    "KIND",
    "WEIGHTS_NAME",
    "L3Config",
    "L3Model",
    "Pair",
    "PairSource",
    "Progress",
    "fit_l3",
    "load",
    "log_cuts",
    "patch_stats",
]

KIND = "l3"
WEIGHTS_NAME = "weights.npz"
FORMAT_VERSION = 1

Pair = tuple[np.ndarray, np.ndarray]
PairSource = Sequence[Pair] | Callable[[], Iterable[Pair]] | Iterable[Pair]
Progress = Callable[[int, int | None], object]

_LOG_LEVEL_RANGE = (1.0 / 256.0, 1.0)
_LOG_CONTRAST_RANGE = (1.0 / 1024.0, 0.25)
_RENDER_BLOCK_PIXELS = 32768
_ACCUMULATE_BLOCK_PIXELS = 262144
_MSE_FLOOR = 1e-4
_WEIGHTINGS = ("pixels", "images", "psnr")


@dataclass(frozen=True)
class L3Config:
    """Hyperparameters of an L3 model (all saved in ``config.json``).

    Attributes
    ----------
    patch : int
        Odd patch side ``P``; features are ``[1, P·P patch pixels]``.
    n_levels, n_contrasts : int
        Number of level bins and of contrast bins; ``n_levels · n_contrasts`` classes.
    cuts : {"quantile", "log"}
        Quantiles of the training data (two passes over it), or fixed log-spaced cuts.
    contrast_per_level : bool
        With quantile cuts, contrast cuts are quantiles within each level bin (else global).
    symmetric : bool
        Tie the weights of patch positions related by horizontal / vertical flips.
    min_samples : int or None
        Classes with fewer training patches borrow a neighbour's weights;
        ``None`` means ``min_samples_factor × number of features``.
    min_samples_factor : float
        See ``min_samples``.
    sample_fraction : float
        Fraction of each training image's pixels drawn at random for the normal equations.
    min_samples_per_image : int
        Whatever ``sample_fraction``, at least this many pixels (or all) of every image.
    max_samples_per_image : int or None
        Cap on the pixels drawn from one image (``None``: no cap).
    weighting : {"pixels", "images", "psnr"}
        Weight of every training sample: 1 (the plain least-squares fit), ``1/n_i`` (every
        image weighs the same), or ``1/(n_i · MSE_i)`` with ``MSE_i`` the image's error under
        the previous fit (iteratively reweighted least squares for the mean per-image PSNR,
        ``psnr_iterations`` extra passes over the data).
    psnr_iterations : int
        Reweighting passes for ``weighting="psnr"``.
    stats_sample_fraction : float
        Fraction of each image's pixels drawn in the statistics pass of quantile cuts (at
        least one per image); the sample is weighted like the training samples.
    stats_max_samples : int
        Bound on the (level, contrast) sample kept for quantile cuts (memory stays bounded).
    lambda_log10_min, lambda_log10_max, lambda_steps : float, float, int
        GCV grid for the ridge strength, relative to the mean eigenvalue of the class's
        centred ``XᵀX``: ``λ = mean_eig · 10**linspace(min, max, steps)``.
    shared_lambda : bool
        One ridge strength per class for all three channels, chosen by the sum of their GCV
        scores (a joint multi-output ridge), instead of one per class and channel (the
        default, which makes the fit exactly three independent one-output fits).
    seed : int
        Seed of all sampling; training is deterministic given the data and the seed.
    """

    patch: int = 5
    n_levels: int = 16
    n_contrasts: int = 16
    cuts: str = "quantile"
    contrast_per_level: bool = False
    symmetric: bool = False
    min_samples: int | None = None
    min_samples_factor: float = 10.0
    sample_fraction: float = 0.25
    min_samples_per_image: int = 16384
    max_samples_per_image: int | None = None
    weighting: str = "pixels"
    psnr_iterations: int = 1
    stats_sample_fraction: float = 1.0 / 32.0
    stats_max_samples: int = 2_000_000
    lambda_log10_min: float = -9.0
    lambda_log10_max: float = 1.0
    lambda_steps: int = 41
    shared_lambda: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.patch, int) or self.patch < 1 or self.patch % 2 == 0:
            raise ValueError(f"patch must be a positive odd integer, not {self.patch!r}")
        if self.patch > 15:
            raise ValueError(f"patch {self.patch} is too large (at most 15)")
        for name in ("n_levels", "n_contrasts"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 1 <= value <= 256:
                raise ValueError(f"{name} must be an integer in [1, 256], not {value!r}")
        if self.n_levels * self.n_contrasts > 32767:
            raise ValueError("too many classes (n_levels × n_contrasts must be < 32768)")
        for name in ("contrast_per_level", "symmetric", "shared_lambda"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, not {getattr(self, name)!r}")
        if self.cuts not in ("quantile", "log"):
            raise ValueError(f"cuts must be 'quantile' or 'log', not {self.cuts!r}")
        if self.min_samples is not None and self.min_samples < 1:
            raise ValueError(f"min_samples must be positive, not {self.min_samples!r}")
        if self.min_samples_factor <= 0:
            raise ValueError("min_samples_factor must be positive")
        if not 0.0 < self.sample_fraction <= 1.0:
            raise ValueError(f"sample_fraction must be in (0, 1], not {self.sample_fraction!r}")
        if self.min_samples_per_image < 0:
            raise ValueError("min_samples_per_image must be >= 0")
        if self.max_samples_per_image is not None and self.max_samples_per_image < 1:
            raise ValueError("max_samples_per_image must be positive (or None for no cap)")
        if self.weighting not in _WEIGHTINGS:
            raise ValueError(f"weighting must be one of {_WEIGHTINGS}, not {self.weighting!r}")
        if self.psnr_iterations < 1:
            raise ValueError("psnr_iterations must be at least 1")
        if not 0.0 < self.stats_sample_fraction <= 1.0 or self.stats_max_samples < 1:
            raise ValueError("stats_sample_fraction must be in (0, 1], stats_max_samples > 0")
        if self.lambda_steps < 1 or self.lambda_log10_min > self.lambda_log10_max:
            raise ValueError("invalid lambda grid")

    @property
    def n_classes(self) -> int:
        return self.n_levels * self.n_contrasts

    @property
    def n_pixels(self) -> int:
        return self.patch * self.patch

    @property
    def n_features(self) -> int:
        """Regression features per sample, intercept included."""
        return 1 + _orbit_matrix(self.patch, self.symmetric).shape[1]

    @property
    def min_class_samples(self) -> int:
        """Smallest number of training patches with which a class gets its own fit."""
        if self.min_samples is not None:
            wanted = self.min_samples
        else:
            wanted = math.ceil(self.min_samples_factor * self.n_features)
        return max(int(wanted), self.n_features + 1)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> L3Config:
        names = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})


# --------------------------------------------------------------------------------------------
# Patch geometry and statistics


def _orbit_matrix(patch: int, symmetric: bool) -> np.ndarray:
    """``(P·P, n_orbits)`` 0/1 matrix summing patch pixels into features (identity if not tied)."""
    n = patch * patch
    if not symmetric:
        return np.eye(n, dtype=np.float32)
    r = patch // 2
    offsets = np.arange(patch) - r
    key = np.abs(offsets)[:, None] * (r + 1) + np.abs(offsets)[None, :]
    _, orbit = np.unique(key.ravel(), return_inverse=True)
    matrix = np.zeros((n, orbit.max() + 1), dtype=np.float32)
    matrix[np.arange(n), orbit] = 1.0
    return matrix


def _pad(nir: np.ndarray, radius: int) -> np.ndarray:
    if radius == 0:
        return np.ascontiguousarray(nir)
    return cv2.copyMakeBorder(nir, radius, radius, radius, radius, cv2.BORDER_REFLECT)


def patch_stats(nir: np.ndarray, patch: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Level (mean) and contrast (population std) of the ``patch × patch`` patch at every pixel.

    Reflect padding (``cv2.BORDER_REFLECT``, the padding of the patches) at the borders;
    both outputs ``(H, W)`` float32. Box filters of ``x`` and ``x²`` (sums in float64 inside
    OpenCV), ``std = sqrt(max(E[x²] − E[x]², 0))``.
    """
    nir = _as_nir(nir)
    box = (patch, patch)
    level = cv2.boxFilter(nir, -1, box, normalize=True, borderType=cv2.BORDER_REFLECT)
    square = cv2.multiply(nir, nir)
    cv2.boxFilter(square, -1, box, dst=square, normalize=True, borderType=cv2.BORDER_REFLECT)
    cv2.subtract(square, cv2.multiply(level, level), dst=square)
    np.maximum(square, 0.0, out=square)
    contrast = cv2.sqrt(square, dst=square)
    return level.reshape(nir.shape), contrast.reshape(nir.shape)


def _as_nir(nir: np.ndarray) -> np.ndarray:
    nir = np.asarray(nir)
    if nir.ndim == 3 and nir.shape[2] == 1:
        nir = nir[:, :, 0]
    if nir.ndim != 2 or nir.size == 0:
        raise ValueError(f"NIR image must be a non-empty (H, W) array, not shape {nir.shape}")
    return np.ascontiguousarray(nir, dtype=np.float32)


def _as_pair(pair: Pair) -> Pair:
    try:
        nir, rgb = pair
    except (TypeError, ValueError):
        raise ValueError("training items must be (nir, rgb) pairs") from None
    nir = _as_nir(nir)
    rgb = np.asarray(rgb)
    if rgb.shape != (*nir.shape, 3):
        raise ValueError(f"RGB image of shape {rgb.shape} does not match NIR image {nir.shape}")
    return nir, np.ascontiguousarray(rgb, dtype=np.float32)


def _count_cuts_below(values: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Number of ``cuts`` ``<=`` each value (uint8; at most 255 cuts).

    A sum of comparisons: for a few dozen cuts it is several times faster than
    ``np.searchsorted`` and gives the same bins (``side="right"``).
    """
    bins = np.zeros(values.shape, dtype=np.uint8)
    for cut in cuts:
        bins += values >= cut
    return bins


def _classify(
    level: np.ndarray, contrast: np.ndarray, level_cuts: np.ndarray, contrast_cuts: np.ndarray
) -> np.ndarray:
    """Class index (int16) of 1-D level / contrast arrays: ``level_bin · n_contrasts + bin``.

    A bin is the number of cut points ``<=`` the value (so a value equal to a cut point goes
    to the upper bin); contrast cut points may differ per level bin.
    """
    n_contrasts = contrast_cuts.shape[1] + 1
    level_bin = _count_cuts_below(level, level_cuts)
    classes = level_bin.astype(np.int16)
    classes *= n_contrasts
    if n_contrasts == 1:
        return classes
    if np.all(contrast_cuts == contrast_cuts[:1]):  # cut points shared by all level bins
        classes += _count_cuts_below(contrast, contrast_cuts[0])
        return classes
    for j in range(n_contrasts - 1):
        classes += contrast >= contrast_cuts[level_bin, j]
    return classes


# --------------------------------------------------------------------------------------------
# The model


class L3Model:
    """A trained L3 colorizer: per-class affine maps from ``P × P`` NIR patches to RGB.

    Parameters
    ----------
    config : L3Config
        Hyperparameters.
    weights : ndarray, ``(n_classes, 1 + P·P, 3)``
        Row 0 is the intercept, rows ``1 + i·P + j`` the weight of patch pixel ``(i, j)``.
    level_cuts : ndarray, ``(n_levels - 1,)``
        Non-decreasing level cut points (bin = number of cuts ``<=`` the level).
    contrast_cuts : ndarray, ``(n_levels, n_contrasts - 1)``
        Contrast cut points of every level bin.
    counts : ndarray, ``(n_classes,)``
        Training patches seen per class.
    lambdas : ndarray, ``(n_classes, 3)``
        Ridge strength chosen by GCV per class and channel (that of ``source`` for a class
        that borrowed its fit).
    source : ndarray, ``(n_classes,)``, optional
        Class whose fit each class uses (itself unless it was too sparse).
    info : dict, optional
        Free-form training information saved under ``"training"`` in ``config.json``.
    """

    kind = KIND
    guided = None  # L3 renders sharp edges itself; a caller may still ask for the filter
    threads: int | None = None  # default of :meth:`predict` (None: the CPUs, at most 8)

    def __init__(
        self,
        config: L3Config,
        weights: np.ndarray,
        level_cuts: np.ndarray,
        contrast_cuts: np.ndarray,
        counts: np.ndarray,
        lambdas: np.ndarray,
        source: np.ndarray | None = None,
        info: dict | None = None,
    ) -> None:
        k, p = config.n_classes, config.n_pixels
        self.config = config
        self.weights = np.ascontiguousarray(weights, dtype=np.float32)
        self.level_cuts = np.ascontiguousarray(level_cuts, dtype=np.float32)
        self.contrast_cuts = np.ascontiguousarray(contrast_cuts, dtype=np.float32)
        self.counts = np.ascontiguousarray(counts, dtype=np.int64)
        self.lambdas = np.ascontiguousarray(lambdas, dtype=np.float64)
        self.source = (
            np.arange(k, dtype=np.int64) if source is None else np.asarray(source, np.int64)
        )
        self.info = dict(info or {})
        expected = {
            "weights": (self.weights, (k, 1 + p, 3)),
            "level_cuts": (self.level_cuts, (config.n_levels - 1,)),
            "contrast_cuts": (self.contrast_cuts, (config.n_levels, config.n_contrasts - 1)),
            "counts": (self.counts, (k,)),
            "lambdas": (self.lambdas, (k, 3)),
            "source": (self.source, (k,)),
        }
        for name, (array, shape) in expected.items():
            if array.shape != shape:
                raise ValueError(f"L3 {name} has shape {array.shape}, expected {shape}")
        if not np.all(np.isfinite(self.weights)):
            raise ValueError("L3 weights are not all finite")
        for name in ("level_cuts", "contrast_cuts"):
            cuts = getattr(self, name)
            if not np.all(np.isfinite(cuts)) or np.any(np.diff(cuts, axis=-1) < 0):
                raise ValueError(f"L3 {name} must be finite and non-decreasing")
        if np.any((self.source < 0) | (self.source >= k)):
            raise ValueError("L3 source indices out of range")
        self._kernels = np.ascontiguousarray(self.weights[:, 1:, :])  # (K, P·P, 3)
        self._intercepts = np.ascontiguousarray(self.weights[:, 0, :])  # (K, 3)

    # -- properties ------------------------------------------------------------------------

    @property
    def patch(self) -> int:
        return self.config.patch

    @property
    def n_classes(self) -> int:
        return self.config.n_classes

    @property
    def halo(self) -> int:
        """Pixels beyond a pixel that its output depends on (``patch // 2``)."""
        return self.config.patch // 2

    def kernels(self) -> np.ndarray:
        """Patch weights as ``(n_classes, 3, P, P)`` kernels (intercepts left out)."""
        p = self.patch
        return self.weights[:, 1:, :].transpose(0, 2, 1).reshape(self.n_classes, 3, p, p)

    def __repr__(self) -> str:
        c = self.config
        return (
            f"L3Model(patch={c.patch}, classes={c.n_levels}x{c.n_contrasts}, cuts={c.cuts!r}, "
            f"symmetric={c.symmetric})"
        )

    # -- inference -------------------------------------------------------------------------

    def classify(self, nir: np.ndarray) -> np.ndarray:
        """Class index ``(H, W)`` (int16) of every pixel's patch."""
        nir = _as_nir(nir)
        level, contrast = patch_stats(nir, self.patch)
        classes = _classify(level.ravel(), contrast.ravel(), self.level_cuts, self.contrast_cuts)
        return classes.reshape(nir.shape)

    def for_image(self, nir: np.ndarray) -> L3Model:
        return self

    def predict(self, nir: np.ndarray, *, threads: int | None = None) -> np.ndarray:
        """Colorize an ``(H, W)`` NIR image in [0, 1]: ``(H, W, 3)`` float32 in [0, 1].

        ``threads`` bounds the worker threads (default: the CPUs available, at most 8).
        """
        nir = _as_nir(nir)
        height, width = nir.shape
        r = self.patch // 2
        padded = _pad(nir, r)
        level, contrast = patch_stats(nir, self.patch)
        classes = _classify(level.ravel(), contrast.ravel(), self.level_cuts, self.contrast_cuts)
        classes = classes.reshape(height, width)
        out = np.empty((height, width, 3), dtype=np.float32)
        rows = max(1, _RENDER_BLOCK_PIXELS // width)
        spans = [(top, min(top + rows, height)) for top in range(0, height, rows)]
        threads = self.threads if threads is None else threads
        workers = min(_default_threads() if threads is None else max(1, int(threads)), len(spans))

        def render(span: tuple[int, int]) -> None:
            self._render_rows(padded, classes, span[0], span[1], out)

        if workers > 1:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for _ in pool.map(render, spans):
                    pass
        else:
            for span in spans:
                render(span)
        return out

    def _render_rows(
        self,
        padded: np.ndarray,
        classes: np.ndarray,
        top: int,
        bottom: int,
        out: np.ndarray,
    ) -> None:
        """Render rows ``top:bottom`` into ``out``: sort the pixels by class, one GEMM per
        class on the class-sorted patches, then scatter back (clipped to [0, 1])."""
        p = self.patch
        rows, width = bottom - top, classes.shape[1]
        n = rows * width
        classes = classes[top:bottom].ravel()
        order = np.argsort(classes, kind="stable")
        counts = np.bincount(classes, minlength=self.n_classes)
        # (n, P·P) patches: the P·P shifted views interleaved by cv2.merge, rows by class.
        views = [
            padded[top + dy : bottom + dy, dx : dx + width] for dy in range(p) for dx in range(p)
        ]
        patches = cv2.merge(views).reshape(n, p * p) if p > 1 else views[0].reshape(n, 1)
        patches = np.take(patches, order, axis=0)
        result = np.empty((n, 3), dtype=np.float32)
        present = np.flatnonzero(counts)
        stops = np.cumsum(counts)[present]
        starts = stops - counts[present]
        kernels = self._kernels
        for k, start, stop in zip(present.tolist(), starts.tolist(), stops.tolist(), strict=True):
            np.dot(patches[start:stop], kernels[k], out=result[start:stop])
        result += np.repeat(self._intercepts, counts, axis=0)
        inverse = np.empty(n, dtype=np.intp)
        inverse[order] = np.arange(n)
        target = out[top:bottom].reshape(n, 3)
        np.take(result, inverse, axis=0, out=target)
        np.clip(target, 0.0, 1.0, out=target)

    # -- persistence -----------------------------------------------------------------------

    def config_dict(self) -> dict:
        data = {"kind": KIND, "format_version": FORMAT_VERSION, **self.config.to_dict()}
        if self.info:
            data["training"] = self.info
        return data

    def save(self, folder: str | Path) -> None:
        """Write ``config.json`` and ``weights.npz`` (plain arrays, no pickle) into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            weights=self.weights,
            level_cuts=self.level_cuts,
            contrast_cuts=self.contrast_cuts,
            counts=self.counts,
            lambdas=self.lambdas,
            source=self.source,
        )
        write_bytes_atomic(folder / WEIGHTS_NAME, buffer.getvalue())
        text = json.dumps(self.config_dict(), indent=2, sort_keys=False) + "\n"
        write_bytes_atomic(folder / CONFIG_NAME, text.encode())

    @classmethod
    def load(cls, folder: str | Path, config: dict | None = None) -> L3Model:
        """Load a model saved by :meth:`save`; raises :class:`ModelError` if it is invalid."""
        folder = Path(folder)
        if config is None:
            config = read_config(folder)
        if not isinstance(config, dict) or config.get("kind") != KIND:
            raise ModelError(f"{folder / CONFIG_NAME}: not an L3 model config")
        version = config.get("format_version", FORMAT_VERSION)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ModelError(
                f"{folder / CONFIG_NAME}: L3 format version {version!r} is newer than this "
                f"nircolor understands ({FORMAT_VERSION}); upgrade nircolor"
            )
        try:
            l3_config = L3Config.from_dict(config)
        except (TypeError, ValueError) as error:
            raise ModelError(f"{folder / CONFIG_NAME}: invalid L3 config ({error})") from None
        path = folder / WEIGHTS_NAME
        if not path.is_file():
            raise ModelError(f"{path}: missing L3 weights file")
        names = ("weights", "level_cuts", "contrast_cuts", "counts", "lambdas", "source")
        arrays = {}
        try:
            with np.load(path, allow_pickle=False) as data:
                for name in names:
                    if name not in data.files:
                        if name == "source":
                            continue
                        raise ModelError(f"{path}: corrupt L3 weights (no '{name}' array)")
                    array = data[name]
                    if array.dtype.kind not in "fiu":
                        raise ModelError(f"{path}: corrupt L3 weights ('{name}' is not numeric)")
                    arrays[name] = array
        except ModelError:
            raise
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else "unreadable"
            raise ModelError(f"{path}: corrupt L3 weights ({reason})") from None
        info = config.get("training")
        try:
            return cls(l3_config, info=info if isinstance(info, dict) else None, **arrays)
        except ValueError as error:
            raise ModelError(f"{path}: invalid L3 weights ({error})") from None


@register_kind(KIND)
def load(folder: Path, config: dict, threads: int | None = None) -> L3Model:
    """Registry loader for ``kind == "l3"`` model folders."""
    model = L3Model.load(folder, config)
    model.threads = threads
    return model


def _default_threads() -> int:
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    return max(1, min(8, count))


# --------------------------------------------------------------------------------------------
# Training


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


class _BottomK:
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


def _quantile_cuts(
    level: np.ndarray, contrast: np.ndarray, config: L3Config
) -> tuple[np.ndarray, np.ndarray]:
    nl, nc = config.n_levels, config.n_contrasts
    level_cuts = np.quantile(level, np.arange(1, nl) / nl).astype(np.float32)
    probabilities = np.arange(1, nc) / nc
    global_cuts = np.quantile(contrast, probabilities).astype(np.float32)
    contrast_cuts = np.tile(global_cuts, (nl, 1))
    if config.contrast_per_level and nc > 1:
        bins = np.searchsorted(level_cuts, level, side="right")
        for b in range(nl):
            inside = contrast[bins == b]
            if len(inside) >= nc:
                contrast_cuts[b] = np.quantile(inside, probabilities)
    return level_cuts, np.ascontiguousarray(contrast_cuts, dtype=np.float32)


def log_cuts(config: L3Config) -> tuple[np.ndarray, np.ndarray]:
    """Fixed log-spaced cut points (``cuts="log"``): ``n`` bins evenly spaced in log between
    ``1/256`` and 1 for the level and between ``1/1024`` and ``1/4`` for the contrast (values
    beyond the ends fall into the first or last bin)."""

    def spaced(count: int, low: float, high: float) -> np.ndarray:
        return np.geomspace(low, high, count + 1)[1:-1].astype(np.float32)

    level_cuts = spaced(config.n_levels, *_LOG_LEVEL_RANGE)
    contrast_cuts = np.tile(spaced(config.n_contrasts, *_LOG_CONTRAST_RANGE), (config.n_levels, 1))
    return level_cuts, np.ascontiguousarray(contrast_cuts, dtype=np.float32)


def _sample_pixels(n: int, config: L3Config, rng: np.random.Generator) -> np.ndarray:
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


def _gather_patches(padded: np.ndarray, width: int, patch: int, idx: np.ndarray) -> np.ndarray:
    """``(len(idx), P·P)`` float32 patches around the pixels ``idx`` (flat image indices)."""
    padded_width = padded.shape[1]
    dy, dx = np.divmod(np.arange(patch * patch), patch)
    offsets = dy * padded_width + dx
    rows, cols = np.divmod(idx, width)
    corner = rows * padded_width + cols
    return padded.ravel()[corner[:, None] + offsets[None, :]]


class _Accumulator:
    """Per-class weighted sums of ``z zᵀ`` for ``z = [1, features, r, g, b]`` (float64).

    ``sums[k, 0, 0]`` is the total weight of class ``k``; ``counts`` and ``sum_w2`` give the
    number of samples and the sum of squared weights (for the effective sample size).
    """

    def __init__(self, config: L3Config, level_cuts: np.ndarray, contrast_cuts: np.ndarray):
        self.config = config
        self.level_cuts = level_cuts
        self.contrast_cuts = contrast_cuts
        self.orbits = _orbit_matrix(config.patch, config.symmetric)
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
    ) -> None:
        """Add one image's sampled patches.

        With ``previous`` (``(K, 1 + f, 3)`` weights of the last fit) the image is weighted
        by ``1 / (n · MSE)`` of that fit on its samples, else by 1 per sample (``"pixels"``)
        or ``1 / n`` (``"images"``).
        """
        config = self.config
        f = self.n_features
        q = 1 + f + 3
        height, width = nir.shape
        padded = _pad(nir, config.patch // 2)
        level, contrast = patch_stats(nir, config.patch)
        idx = _sample_pixels(height * width, config, rng)
        if len(idx) == 0:
            return
        level, contrast = level.ravel()[idx], contrast.ravel()[idx]
        colours = rgb.reshape(-1, 3)
        gram = np.zeros((config.n_classes, q, q), dtype=np.float64)
        counts = np.zeros(config.n_classes, dtype=np.int64)
        squared_error = 0.0
        for start in range(0, len(idx), _ACCUMULATE_BLOCK_PIXELS):
            block = slice(start, start + _ACCUMULATE_BLOCK_PIXELS)
            classes = _classify(level[block], contrast[block], self.level_cuts, self.contrast_cuts)
            order = np.argsort(classes, kind="stable")
            chosen = idx[block][order]
            patches = _gather_patches(padded, width, config.patch, chosen)
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


def _gcv_solve(
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


def _fill_sparse(enough: np.ndarray, n_levels: int, n_contrasts: int) -> np.ndarray:
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

    Sparse classes borrow from neighbours (:func:`_fill_sparse`). When *no* class has
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
        weights, lambdas = _gcv_solve(sums, _effective_n(sums, sum_w2), config, f)
        source = _fill_sparse(enough, nl, nc)
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
        weights, lambdas = _gcv_solve(level_sums, _effective_n(level_sums, level_w2), config, f)
        pick = _fill_sparse(level_enough, nl, 1)[np.arange(nl * nc) // nc]
        pooling = "levels"
    else:
        total = sums.sum(axis=0, keepdims=True)
        weights, lambdas = _gcv_solve(
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
    accumulation_passes = 1 + (config.psnr_iterations if config.weighting == "psnr" else 0)
    passes = accumulation_passes + (1 if config.cuts == "quantile" else 0)
    fresh, count = _passes(pairs, passes)
    total = None if count is None else passes * count
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    if config.cuts == "quantile":
        reservoir = _BottomK(config.stats_max_samples, 2)
        seen = 0
        for index, pair in enumerate(fresh()):
            nir, _ = _as_pair(pair)
            rng = _image_rng(config.seed, 0, index)
            level, contrast = patch_stats(nir, config.patch)
            idx = _stats_indices(nir.size, config.stats_sample_fraction, rng)
            weight = 1.0 / len(idx) if config.weighting == "images" else 1.0
            rows = np.stack([level.ravel()[idx], contrast.ravel()[idx]], axis=1)
            reservoir.add(rows, weight, rng)
            seen += 1
            tick()
        if seen == 0:
            raise ValueError("no training pairs")
        sample = reservoir.sample()
        level_cuts, contrast_cuts = _quantile_cuts(sample[:, 0], sample[:, 1], config)
    else:
        level_cuts, contrast_cuts = log_cuts(config)

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

    orbits = accumulator.orbits
    weights = previous
    if config.symmetric:  # expand orbit weights to the full P × P layout
        weights = np.concatenate(
            [weights[:, :1], np.einsum("po,koc->kpc", orbits, weights[:, 1:])], axis=1
        )
    counts = accumulator.counts
    info = {
        "images": images,
        "pixels": int(accumulator.pixels),
        "classes_borrowed": int((~enough).sum()) if pooling is None else 0,
        "pooled": pooling,
        "seconds": round(time.perf_counter() - started, 3),
    }
    return L3Model(config, weights, level_cuts, contrast_cuts, counts, lambdas, source, info)
