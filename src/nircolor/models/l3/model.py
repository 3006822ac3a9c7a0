"""The trained L3 colorizer :class:`L3Model`: rendering, persistence, and the registry loader
of ``kind == "l3"`` model folders."""

from __future__ import annotations

import io
import json
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from ...errors import ModelError, error_reason
from ...io import write_bytes_atomic
from ...runtime import usable_cores
from ..base import check_nir
from ..registry import CONFIG_NAME, read_config, register_kind
from .config import L3Config
from .patches import classify, pad, patch_stats

KIND = "l3"
WEIGHTS_NAME = "weights.npz"
FORMAT_VERSION = 1

_RENDER_BLOCK_PIXELS = 32768


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
    detail = None  # its lightness is already as sharp as its input
    context = None  # local: its colours do not depend on the image's size
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
        self.config = config
        k, p = self.n_classes, config.n_pixels
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
        nir = check_nir(nir)
        level, contrast = patch_stats(nir, self.patch)
        classes = classify(level.ravel(), contrast.ravel(), self.level_cuts, self.contrast_cuts)
        return classes.reshape(nir.shape)

    def for_image(self, nir: np.ndarray) -> L3Model:
        return self

    def predict(self, nir: np.ndarray, *, threads: int | None = None) -> np.ndarray:
        """Colorize an ``(H, W)`` NIR image in [0, 1]: ``(H, W, 3)`` float32 in [0, 1].

        ``threads`` bounds the worker threads (default: the CPUs available, at most 8).
        """
        padded, classes = self._padded_and_classes(nir)
        height, width = classes.shape
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

    def _padded_and_classes(self, nir: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The padded image the patches are taken from, and the ``(H, W)`` class map."""
        nir = check_nir(nir)
        padded = pad(nir, self.patch // 2)
        return padded, self.classify(nir)

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
        data = {"kind": self.kind, "format_version": FORMAT_VERSION, **self.config.to_dict()}
        if self.info:
            data["training"] = self.info
        return data

    def save(self, folder: str | Path) -> None:
        """Write ``config.json`` and ``weights.npz`` (plain arrays, no pickle) into ``folder``."""
        write_model_files(
            folder,
            self.config_dict(),
            weights=self.weights,
            level_cuts=self.level_cuts,
            contrast_cuts=self.contrast_cuts,
            counts=self.counts,
            lambdas=self.lambdas,
            source=self.source,
        )

    @classmethod
    def config_extras(cls, config: dict, path: Path) -> dict:
        """Constructor arguments beyond the L3 config that a subclass reads from
        ``config.json`` (none for plain L3)."""
        return {}

    @classmethod
    def load(cls, folder: str | Path, config: dict | None = None) -> L3Model:
        """Load a model saved by :meth:`save`; raises :class:`ModelError` if it is invalid."""
        folder = Path(folder)
        if config is None:
            config = read_config(folder)
        if not isinstance(config, dict) or config.get("kind") != cls.kind:
            raise ModelError(f"{folder / CONFIG_NAME}: not an {cls.kind} model config")
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
            reason = error_reason(error, empty="unreadable")
            raise ModelError(f"{path}: corrupt L3 weights ({reason})") from None
        info = config.get("training")
        try:
            extras = cls.config_extras(config, folder / CONFIG_NAME)
            return cls(l3_config, info=info if isinstance(info, dict) else None, **extras, **arrays)
        except ValueError as error:
            raise ModelError(f"{path}: invalid L3 weights ({error})") from None


@register_kind(KIND)
def load(folder: Path, config: dict, threads: int | None = None) -> L3Model:
    """Registry loader for ``kind == "l3"`` model folders."""
    model = L3Model.load(folder, config)
    model.threads = threads
    return model


def _default_threads() -> int:
    return min(8, usable_cores())


def write_model_files(folder: str | Path, config: dict, **arrays: np.ndarray) -> None:
    """Write ``arrays`` as ``weights.npz`` (plain arrays, no pickle) and ``config`` as
    ``config.json`` into ``folder``, each file replaced at once."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    write_bytes_atomic(folder / WEIGHTS_NAME, buffer.getvalue())
    write_bytes_atomic(folder / CONFIG_NAME, (json.dumps(config, indent=2) + "\n").encode())
