"""Reverse L3: a colour image to a pseudo-NIR image (RGB patch → NIR), pure numpy.

The reverse map is the easy direction (BENCHMARKS.md, "Reverse training"): every pixel is
classed by the patch of the colour image's luma ``Y = 0.299 R + 0.587 G + 0.114 B`` exactly
as L3 classes a NIR patch (level × contrast, quantile cut points of the training lumas), and
every class maps the ``P × P × 3`` RGB patch to the centre pixel's NIR value with its own
affine ridge fit (λ by GCV; sparse classes borrow a neighbour's fit, as in :func:`fit_l3`).

:func:`fit_reverse_l3` trains it on ``(nir, rgb)`` pairs; :meth:`ReverseL3.predict` renders
the pseudo-NIR image of a photograph. A trained model is a folder (``config.json`` +
``weights.npz``, plain arrays) of kind ``l3-reverse``; it is not a colorizer, so the model
registry does not load it: :meth:`ReverseL3.load` does.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np

from ...errors import ModelError, error_reason
from ...io.samples import check_array_type
from ..registry import CONFIG_NAME
from .config import L3Config
from .fit import (
    PairSource,
    Progress,
    _as_pair,
    _image_rng,
    _solve,
    counted_passes,
    quantile_cut_points,
    sample_pixels,
)
from .model import WEIGHTS_NAME, write_model_files
from .patches import classify, log_cuts, patch_stats

KIND = "l3-reverse"
FORMAT_VERSION = 1
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
"""Rec. 601 luma weights, applied to the sRGB values."""


def luma(rgb: np.ndarray) -> np.ndarray:
    """``(H, W)`` float32 luma of an ``(H, W, 3)`` sRGB image in [0, 1]."""
    return np.ascontiguousarray(np.asarray(rgb, np.float32) @ LUMA, dtype=np.float32)


def check_rgb(rgb) -> np.ndarray:
    """An ``(H, W, 3)`` float32 image with finite values, or a ValueError (for integer
    samples too: floats in [0, 1] are expected)."""
    rgb = np.asarray(rgb)
    check_array_type(rgb, "colour image", integers=False)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or min(rgb.shape[:2]) < 1:
        raise ValueError(f"expected an (H, W, 3) colour image, got shape {rgb.shape}")
    rgb = np.ascontiguousarray(rgb, dtype=np.float32)
    if not np.all(np.isfinite(rgb)):
        raise ValueError("the colour image has NaN or infinite values")
    return rgb


class ReverseL3:
    """RGB → NIR: L3 classes of the luma patch, a per-class affine map of the RGB patch.

    Parameters
    ----------
    config : L3Config
        Patch size, classes, sampling and ridge settings (L3's).
    weights : ndarray, ``(n_classes, 1 + 3·P·P)``
        Intercept, then the weight of patch pixel ``(i, j)``, channel ``c`` at
        ``1 + (i·P + j)·3 + c``.
    level_cuts, contrast_cuts : ndarray
        The luma classes' cut points (as :class:`~nircolor.models.l3.L3Model`'s).
    counts : ndarray, ``(n_classes,)``
        Training pixels seen per class.
    info : dict, optional
        Training record saved under ``"training"`` in ``config.json``.
    """

    kind = KIND

    def __init__(self, config, weights, level_cuts, contrast_cuts, counts, info=None) -> None:
        k, f = config.n_classes, 3 * config.n_pixels
        self.config = config
        self.weights = np.ascontiguousarray(weights, dtype=np.float32)
        self.level_cuts = np.ascontiguousarray(level_cuts, dtype=np.float32)
        self.contrast_cuts = np.ascontiguousarray(contrast_cuts, dtype=np.float32)
        self.counts = np.ascontiguousarray(counts, dtype=np.int64)
        self.info = dict(info or {})
        expected = {
            "weights": (self.weights, (k, 1 + f)),
            "level_cuts": (self.level_cuts, (config.n_levels - 1,)),
            "contrast_cuts": (self.contrast_cuts, (config.n_levels, config.n_contrasts - 1)),
            "counts": (self.counts, (k,)),
        }
        for name, (array, shape) in expected.items():
            if array.shape != shape:
                raise ValueError(f"reverse L3 {name} has shape {array.shape}, expected {shape}")
        if not np.all(np.isfinite(self.weights)):
            raise ValueError("reverse L3 weights are not all finite")

    def __repr__(self) -> str:
        c = self.config
        return f"ReverseL3(patch={c.patch}, classes={c.n_levels}x{c.n_contrasts})"

    def classify(self, rgb: np.ndarray) -> np.ndarray:
        """Class index ``(H, W)`` of every pixel's luma patch."""
        y = luma(check_rgb(rgb))
        level, contrast = patch_stats(y, self.config.patch)
        classes = classify(level.ravel(), contrast.ravel(), self.level_cuts, self.contrast_cuts)
        return classes.reshape(y.shape)

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        """The pseudo-NIR ``(H, W)`` float32 image in [0, 1] of an sRGB image in [0, 1]."""
        rgb = check_rgb(rgb)
        height, width = rgb.shape[:2]
        p = self.config.patch
        classes = self.classify(rgb)
        padded = pad_rgb(rgb, p // 2)
        # Each class's weights gathered per pixel, one patch position and channel at a time:
        # 3·P·P multiply-adds over the image, no (pixels × features) patch matrix.
        weights = np.ascontiguousarray(self.weights.T)  # (1 + 3·P·P, n_classes)
        out = weights[0][classes]
        for j, (dy, dx, c) in enumerate(np.ndindex(p, p, 3), start=1):
            out += weights[j][classes] * padded[dy : dy + height, dx : dx + width, c]
        return np.clip(out, 0.0, 1.0)

    # -- persistence -------------------------------------------------------------------------

    def digest(self) -> str:
        """SHA-256 of the settings and arrays: names the pseudo-NIR images it rendered."""
        sha = hashlib.sha256(json.dumps(self.config.to_dict(), sort_keys=True).encode())
        for array in (self.weights, self.level_cuts, self.contrast_cuts):
            sha.update(array.tobytes())
        return sha.hexdigest()

    def save(self, folder: str | Path) -> None:
        """Write ``config.json`` and ``weights.npz`` (plain arrays, no pickle) into ``folder``."""
        config = {"kind": KIND, "format_version": FORMAT_VERSION, **self.config.to_dict()}
        if self.info:
            config["training"] = self.info
        write_model_files(
            folder,
            config,
            weights=self.weights,
            level_cuts=self.level_cuts,
            contrast_cuts=self.contrast_cuts,
            counts=self.counts,
        )

    @classmethod
    def load(cls, folder: str | Path) -> ReverseL3:
        """A model saved by :meth:`save`; a :class:`ModelError` naming the file otherwise."""
        folder = Path(folder)
        path = folder / CONFIG_NAME
        try:
            config = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            reason = error_reason(error, empty="unreadable")
            raise ModelError(f"{path}: not a reverse L3 model ({reason})") from None
        if not isinstance(config, dict) or config.get("kind") != KIND:
            raise ModelError(
                f"{path}: not a reverse L3 model (train one with 'nircolor train reverse')"
            )
        try:
            l3_config = L3Config.from_dict(config)
            with np.load(folder / WEIGHTS_NAME, allow_pickle=False) as data:
                arrays = {
                    name: data[name]
                    for name in ("weights", "level_cuts", "contrast_cuts", "counts")
                }
            info = config.get("training")
            return cls(l3_config, info=info if isinstance(info, dict) else None, **arrays)
        except (OSError, ValueError, TypeError, KeyError, EOFError, zipfile.BadZipFile) as error:
            reason = error_reason(error, empty="unreadable")
            raise ModelError(f"{folder}: corrupt reverse L3 model ({reason})") from None


def pad_rgb(rgb: np.ndarray, radius: int) -> np.ndarray:
    """Reflect padding (``cv2.BORDER_REFLECT``, L3's) of an ``(H, W, 3)`` image."""
    if radius == 0:
        return rgb
    return cv2.copyMakeBorder(rgb, radius, radius, radius, radius, cv2.BORDER_REFLECT)


def sampled_patches(padded: np.ndarray, width: int, patch: int, idx: np.ndarray) -> np.ndarray:
    """``(len(idx), 3·P·P)`` RGB patches around the flat pixel indices ``idx``."""
    rows, cols = np.divmod(idx, width)
    dy, dx = np.divmod(np.arange(patch * patch), patch)
    patches = padded[rows[:, None] + dy[None, :], cols[:, None] + dx[None, :]]
    return patches.reshape(len(idx), 3 * patch * patch)


def fit_reverse_l3(
    pairs: PairSource,
    config: L3Config | None = None,
    progress: Progress | None = None,
    cuts: tuple[np.ndarray, np.ndarray] | None = None,
) -> ReverseL3:
    """Train the RGB → NIR map on ``(nir (H, W), rgb (H, W, 3))`` float pairs in [0, 1].

    Parameters
    ----------
    pairs : sequence or callable
        The training pairs; a sequence (which may load lazily) or a callable returning a
        fresh iterable, since the quantile cut points need a first pass of their own.
    config : L3Config, optional
        L3's settings (default ``L3Config()``: 5×5 patches, 16 × 16 classes, 25 % of the
        pixels of every image).
    progress : callable, optional
        ``progress(done, total)`` after every image of every pass.
    cuts : (level_cuts, contrast_cuts), optional
        Cut points of the luma classes, when already known (skips the first pass).

    Returns
    -------
    ReverseL3
    """
    config = config or L3Config()
    passes = 1 if cuts is not None or config.cuts != "quantile" else 2
    fresh, tick = counted_passes(pairs, passes, progress)
    if cuts is None and config.cuts == "quantile":
        cuts = quantile_cut_points((luma(_as_pair(p)[1]) for p in fresh()), config, tick)
    level_cuts, contrast_cuts = cuts if cuts is not None else log_cuts(config)
    p, f, k = config.patch, 3 * config.n_pixels, config.n_classes
    q = 1 + f + 3  # [1, features, nir, nir, nir]: gcv_solve fits three outputs
    sums = np.zeros((k, q, q), dtype=np.float64)
    counts = np.zeros(k, dtype=np.int64)
    images = 0
    for index, pair in enumerate(fresh()):
        nir, rgb = _as_pair(pair)
        height, width = nir.shape
        y = luma(rgb)
        level, contrast = patch_stats(y, p)
        classes = classify(level.ravel(), contrast.ravel(), level_cuts, contrast_cuts)
        idx = sample_pixels(height * width, config, _image_rng(config.seed, 1, index))
        idx = idx[np.argsort(classes[idx], kind="stable")]
        z = np.empty((len(idx), q), dtype=np.float32)
        z[:, 0] = 1.0
        z[:, 1 : 1 + f] = sampled_patches(pad_rgb(rgb, p // 2), width, p, idx)
        z[:, 1 + f :] = nir.ravel()[idx][:, None]
        image_counts = np.bincount(classes[idx], minlength=k)
        stops = np.cumsum(image_counts)
        for c in np.flatnonzero(image_counts):
            rows = z[stops[c] - image_counts[c] : stops[c]].astype(np.float64)
            sums[c] += rows.T @ rows
        counts += image_counts
        images += 1
        tick()
    if images == 0:
        raise ValueError("no training pairs")
    # L3's solver, sparse classes and pooling of tiny training sets included (unit weights:
    # the sum of squared weights is the count).
    sums_of = SimpleNamespace(
        config=config, n_features=f, sums=sums, counts=counts, sum_w2=counts.astype(np.float64)
    )
    weights, _, _, _, pooling = _solve(sums_of)
    info = {"images": images, "pixels": int(counts.sum()), "pooled": pooling}
    return ReverseL3(config, weights[:, :, 0], level_cuts, contrast_cuts, counts, info)


def pseudo_nir(rgb: np.ndarray, model: ReverseL3 | str | Path) -> np.ndarray:
    """The pseudo-NIR image of an sRGB image: ``model`` (or the model folder) applied to it.

    Parameters
    ----------
    rgb : ndarray, ``(H, W, 3)``
        sRGB image, floats in [0, 1].
    model : ReverseL3 or path
        A trained reverse model, or its folder (``nircolor train reverse``).

    Returns
    -------
    ndarray, ``(H, W)`` float32 in [0, 1]

    Raises
    ------
    TypeError
        If ``model`` is neither a :class:`ReverseL3` nor a path: a colorizer (NIR→RGB, such
        as ``load_model("l3")``) cannot make NIR from RGB.
    ModelError
        If the folder holds no reverse model.
    """
    if not isinstance(model, (ReverseL3, str, os.PathLike)):
        raise TypeError(
            "pseudo_nir needs a reverse (RGB→NIR) model: a ReverseL3 or its folder "
            f"('nircolor train reverse'), not {type(model).__name__}"
        )
    if not isinstance(model, ReverseL3):
        model = ReverseL3.load(model)
    return model.predict(rgb)
