"""L3 hyperparameters: :class:`L3Config` and its validation."""

from __future__ import annotations

import math
import typing
from dataclasses import asdict, dataclass, fields

from ..fields import is_integer, is_number
from .patches import orbit_matrix

_WEIGHTINGS = ("pixels", "images", "psnr")
_TYPES = {  # field → (check, what it must be); a config.json from anywhere gets here
    int: (is_integer, "an integer"),
    float: (is_number, "a number"),
    bool: (lambda value: isinstance(value, bool), "true or false"),
    str: (lambda value: isinstance(value, str), "a string"),
}


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
        self._check_types()
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

    def _check_types(self) -> None:
        hints = typing.get_type_hints(type(self))
        for spec in fields(self):
            value = getattr(self, spec.name)
            kinds = typing.get_args(hints[spec.name]) or (hints[spec.name],)
            optional = type(None) in kinds
            if optional and value is None:
                continue
            check, what = _TYPES[next(kind for kind in kinds if kind is not type(None))]
            if not check(value):
                none = " or null" if optional else ""
                raise ValueError(f"{spec.name} must be {what}{none}, not {value!r}")

    @property
    def n_classes(self) -> int:
        return self.n_levels * self.n_contrasts

    @property
    def n_pixels(self) -> int:
        return self.patch * self.patch

    @property
    def n_features(self) -> int:
        """Regression features per sample, intercept included."""
        return 1 + orbit_matrix(self.patch, self.symmetric).shape[1]

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
