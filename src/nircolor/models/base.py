"""What a model is: the interfaces every caller relies on, and the one NIR array check.

Callers (the API, tiling, reports, the CLI, the service) use only what is declared here;
they never probe a model for optional attributes.
"""

from __future__ import annotations

import os
from typing import Protocol, runtime_checkable

import numpy as np

from ..context import ColourContext
from ..errors import ModelError
from ..filters import DetailTransfer, GuidedFilter
from ..io.samples import check_array_type

__all__ = ["Colorizer", "ColorizerBase", "SceneClassifier", "check_nir"]


def check_nir(nir) -> np.ndarray:
    """Validate an NIR image array: ``(H, W)`` (or ``(H, W, 1)``), non-empty, floats in
    [0, 1] (or bool); float32 copy-free.

    Raises
    ------
    ValueError
        If it is not a non-empty 2-D image, or its samples are not floats: integers would be
        taken as their values (255 as 255.0), so :func:`nircolor.colorize` scales them.
    """
    nir = np.asarray(nir)
    check_array_type(nir, "NIR image", integers=False)
    if nir.ndim == 3 and nir.shape[2] == 1:
        nir = nir[:, :, 0]
    if nir.ndim != 2 or nir.shape[0] == 0 or nir.shape[1] == 0:
        raise ValueError(f"NIR image must be a non-empty (H, W) array, got shape {nir.shape}")
    return np.ascontiguousarray(nir, dtype=np.float32)


@runtime_checkable
class Colorizer(Protocol):
    """What every loaded colorizer offers.

    Attributes
    ----------
    kind : str
        The registered kind (``"l3"``, ``"onnx"``, ``"routed"``).
    halo : int or None
        How far (pixels) an output pixel looks around it, for a local model (L3:
        ``patch // 2``); ``None`` for a model whose receptive field is wider (tiled with
        cross-faded overlaps instead of exact row bands).
    guided : GuidedFilter or None
        The guided filter applied after :meth:`predict` unless a caller asks otherwise.
    detail : DetailTransfer or None
        The NIR's detail given to the lightness after the guided filter unless a caller asks
        otherwise (:mod:`nircolor.filters.detail`).
    context : ColourContext or None
        For an image larger than ``context.size``, colorize a copy of that size and carry
        its colours to full size (:mod:`nircolor.context`); ``None`` or ``OFF``: never.
    """

    kind: str
    halo: int | None
    guided: GuidedFilter | None
    detail: DetailTransfer | None
    context: ColourContext | None

    def for_image(self, nir: np.ndarray) -> Colorizer:
        """The colorizer that handles this whole image: a routed model returns the
        specialist of the image's scene, every other model itself."""

    def predict(self, nir: np.ndarray, *, threads: int | None = None) -> np.ndarray:
        """Map an ``(H, W)`` float32 NIR image in [0, 1] to ``(H, W, 3)`` float32 sRGB in
        [0, 1]; ``threads`` bounds the CPU threads (``None``: the model's default)."""

    def save(self, folder: str | os.PathLike) -> None:
        """Write ``config.json`` and weights into ``folder`` (created)."""


@runtime_checkable
class SceneClassifier(Protocol):
    """A scene classifier (``kind == "classifier"``): NIR image → one of its categories."""

    kind: str
    categories: list[str]

    def probabilities(self, nir: np.ndarray) -> np.ndarray:
        """Probability of every category, ``(K,)`` float32 summing to 1."""

    def classify(self, nir: np.ndarray) -> tuple[str, dict[str, float]]:
        """The most probable category, and the probability of every category."""


class ColorizerBase:
    """Defaults for a colorizer written by a user (or a test): not local, no default guided
    filter, handles every image itself, cannot be saved. Subclasses set ``kind`` and write
    :meth:`predict`."""

    kind = "custom"
    halo: int | None = None
    guided: GuidedFilter | None = None
    detail: DetailTransfer | None = None
    context: ColourContext | None = None

    def for_image(self, nir: np.ndarray) -> Colorizer:
        return self

    def predict(self, nir: np.ndarray, *, threads: int | None = None) -> np.ndarray:
        raise NotImplementedError

    def save(self, folder: str | os.PathLike) -> None:
        raise ModelError(f"a {self.kind} model cannot be saved")
