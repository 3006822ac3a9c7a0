"""The region detector (``kind == "detector"``), run by onnxruntime without torch.

Its folder holds two graphs (:mod:`nircolor.nets.detector`): ``model.onnx``, the trunk and
the region proposal network, and ``head.onnx``, the fully connected head; ``config.json``'s
``detector`` holds the settings of the numpy steps between them
(:class:`nircolor.detection.DetectorSpec`) and ``categories`` the region labels.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..detection.pipeline import Detection, DetectorSpec, detect_image
from ..errors import ModelError
from .base import check_nir
from .onnx import OnnxNet
from .registry import DETECTOR_KIND, register_kind

HEAD_NAME = "head.onnx"


class OnnxDetector:
    """Detects scene regions: :meth:`detect` gives boxes, labels and probabilities."""

    kind = DETECTOR_KIND

    def __init__(self, folder, config: dict, threads: int | None = None):
        self.folder = Path(folder)
        self.trunk = OnnxNet(folder, config, threads)
        head = {**config, "onnx": config.get("head", HEAD_NAME)}
        self.head = OnnxNet(folder, head, threads)
        settings = config.get("detector")
        if not isinstance(settings, dict):
            raise ModelError(f"{self.trunk.config_path}: a detector needs 'detector' settings")
        try:
            self.spec = DetectorSpec.from_json(
                {**settings, "categories": config.get("categories", settings.get("categories"))}
            )
        except (TypeError, ValueError) as error:
            raise ModelError(f"{self.trunk.config_path}: 'detector': {error}") from None
        self.categories = list(self.spec.categories)
        outputs = [o.name for o in self.trunk.session.get_outputs()]
        if len(outputs) != 3 or len(self.head.session.get_outputs()) != 2:
            raise ModelError(f"{self.folder}: not a detector's graphs (model.onnx, head.onnx)")
        classes = self.head.output_size
        if classes not in (None, len(self.categories) + 1):
            raise ModelError(
                f"{self.trunk.config_path}: {len(self.categories)} 'categories' (+ background), "
                f"the head gives {classes} probabilities"
            )

    def __repr__(self) -> str:
        return f"OnnxDetector(categories={self.categories})"

    def detect(
        self,
        nir: np.ndarray,
        min_prob: float = 0.0,
        top: int | None = None,
        threads: int | None = None,
    ) -> list[Detection]:
        """The regions of an ``(H, W)`` NIR image in [0, 1], most probable first."""
        nir = check_nir(nir)
        trunk = self.trunk.session_for(threads)
        head = self.head.session_for(threads)

        def run_trunk(image):
            features, objectness, deltas = trunk.run(None, {self.trunk.input_name: image})
            return features[0], objectness[0], deltas[0]

        def run_head(pooled):
            probabilities, deltas = head.run(None, {self.head.input_name: pooled})
            return probabilities, deltas

        return detect_image(nir, run_trunk, run_head, self.spec, min_prob, top)

    def predict(self, nir: np.ndarray, *, threads: int | None = None) -> np.ndarray:
        """Refused with a clear error: a detector given where a colorizer belongs."""
        raise ModelError("a region detector cannot colorize")

    def save(self, folder: str | os.PathLike) -> None:
        raise ModelError("ONNX models are written by 'nircolor train'; copy the folder instead")


@register_kind(DETECTOR_KIND)
def load_detector(folder: Path, config: dict, threads: int | None = None) -> OnnxDetector:
    """Registry loader for ``kind == "detector"``."""
    return OnnxDetector(folder, config, threads)
