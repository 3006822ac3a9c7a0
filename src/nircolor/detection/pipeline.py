"""The detector's inference around its two graphs, in numpy (:func:`detect_image`).

1. The image is resized (aspect kept) to the working size, long side ``spec.side``.
2. Graph 1, the trunk and the region proposal network: feature map ``(C, H', W')``,
   objectness logits ``(K,)`` and deltas ``(K, 4)`` of the ``K = H' · W' · A`` anchors.
3. Proposals: the ``pre_nms`` best anchors, moved by their deltas, clipped, NMS at
   ``rpn_nms`` (0.7), the ``post_nms`` (300) best kept; the whole picture is always one more.
4. RoI average pooling of the feature map into ``grid × grid`` bins per proposal.
5. Graph 2, the fully connected head (512-256-128, softmax): class probabilities
   ``(R, 1 + categories)`` (background first) and box deltas ``(R, 4)``.
6. Every proposal's box refined by its deltas; per category, the boxes of probability at
   least ``min_prob`` after NMS at ``class_nms``; the ``top`` most probable, in input pixels.

The same functions score the net in torch during training (:mod:`nircolor.train.detect`):
only the two graphs change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from typing import NamedTuple

import cv2
import numpy as np

from .boxes import HEAD_WEIGHTS, anchors, clip, decode, nms, roi_pool

Trunk = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]
Head = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


class Detection(NamedTuple):
    """One detected region: ``box`` ``(x0, y0, x1, y1)`` in input pixels (``x1``, ``y1``
    exclusive), its ``label`` (a scene category) and that label's ``probability``."""

    box: tuple[float, float, float, float]
    label: str
    probability: float

    def as_json(self) -> dict:
        return {
            "box": [round(float(v), 1) for v in self.box],
            "label": self.label,
            "probability": round(float(self.probability), 4),
        }


@dataclass(frozen=True)
class DetectorSpec:
    """The detector's settings (``config.json``'s ``detector``)."""

    categories: tuple[str, ...]
    side: int = 256  # the working size: long side of the resized image
    min_size: int = 64  # the working image is padded (reflect) to at least this
    sizes: tuple[float, ...] = (40.0, 80.0, 140.0, 240.0)  # anchor sides, working pixels
    ratios: tuple[float, ...] = (0.5, 1.0, 2.0)  # anchor height / width
    grid: int = 4  # RoI pooling bins per side
    pre_nms: int = 600
    post_nms: int = 300
    rpn_nms: float = 0.7
    class_nms: float = 0.5
    min_box: float = 8.0  # proposals narrower or lower than this (working pixels) dropped

    @property
    def num_anchors(self) -> int:
        return len(self.sizes) * len(self.ratios)

    def to_json(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict) -> DetectorSpec:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown detector settings {', '.join(unknown)}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        spec = cls(**values)
        spec.check()
        return spec

    def check(self) -> None:
        names = self.categories
        if not names or not all(isinstance(c, str) and c for c in names):
            raise ValueError("'categories' must be a non-empty list of names")
        if len(set(names)) != len(names):
            raise ValueError("'categories' must be distinct")
        if not (32 <= int(self.side) <= 4096 and 16 <= int(self.min_size) <= self.side):
            raise ValueError("'side' must be in [32, 4096] and 'min_size' in [16, side]")
        if not self.sizes or not self.ratios or min(*self.sizes, *self.ratios) <= 0:
            raise ValueError("anchor 'sizes' and 'ratios' must be positive")
        for name in ("rpn_nms", "class_nms"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"'{name}' must be in (0, 1]")
        if min(self.grid, self.pre_nms, self.post_nms) < 1:
            raise ValueError("'grid', 'pre_nms' and 'post_nms' must be at least 1")


def working_size(height: int, width: int, side: int) -> tuple[int, int]:
    """``(h, w)`` of an image resized to long side ``side`` (aspect kept, sides >= 1)."""
    scale = side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def working_image(nir: np.ndarray, spec: DetectorSpec) -> np.ndarray:
    """``nir`` resized to the working size (area interpolation down, linear up) and padded
    (reflect, bottom and right) to at least ``spec.min_size`` per side."""
    h, w = working_size(*nir.shape, spec.side)
    if (h, w) != nir.shape:
        down = h * w < nir.size
        interpolation = cv2.INTER_AREA if down else cv2.INTER_LINEAR
        nir = cv2.resize(nir, (w, h), interpolation=interpolation)
    pad_h, pad_w = max(0, spec.min_size - h), max(0, spec.min_size - w)
    if pad_h or pad_w:
        nir = np.pad(nir, ((0, pad_h), (0, pad_w)), mode="symmetric")
    return np.ascontiguousarray(nir, np.float32)


@lru_cache(maxsize=32)
def _anchors(feature_hw, image_hw, sizes, ratios) -> np.ndarray:
    return anchors(feature_hw, image_hw, sizes, ratios)


def spec_anchors(spec: DetectorSpec, feature_hw, image_hw) -> np.ndarray:
    return _anchors(tuple(feature_hw), tuple(image_hw), spec.sizes, spec.ratios)


def propose(
    objectness: np.ndarray,
    deltas: np.ndarray,
    anchor_boxes: np.ndarray,
    image_hw: tuple[int, int],
    spec: DetectorSpec,
) -> np.ndarray:
    """The RPN's proposals ``(P, 4)``, best first: see step 3 of the module."""
    count = min(spec.pre_nms, len(objectness))
    best = np.argpartition(-objectness, count - 1)[:count] if count < len(objectness) else None
    best = np.arange(len(objectness)) if best is None else best
    boxes = clip(decode(deltas[best], anchor_boxes[best]), image_hw)
    scores = objectness[best]
    wide = (boxes[:, 2] - boxes[:, 0] >= spec.min_box) & (boxes[:, 3] - boxes[:, 1] >= spec.min_box)
    boxes, scores = boxes[wide], scores[wide]
    return boxes[nms(boxes, scores, spec.rpn_nms, spec.post_nms)]


def with_whole(proposals: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
    """The proposals and the whole picture, one more region."""
    whole = np.array([[0, 0, image_hw[1], image_hw[0]]], np.float32)
    return np.concatenate([proposals.reshape(-1, 4), whole])


def select(
    rois: np.ndarray,
    probabilities: np.ndarray,
    box_deltas: np.ndarray,
    image_hw: tuple[int, int],
    spec: DetectorSpec,
    min_prob: float,
    top: int | None,
) -> list[tuple[np.ndarray, int, float]]:
    """Step 6: ``(box, category index, probability)`` in working pixels, most probable first."""
    boxes = clip(decode(box_deltas, rois, HEAD_WEIGHTS), image_hw)
    found = []
    for category in range(len(spec.categories)):
        scores = probabilities[:, category + 1]
        candidates = np.flatnonzero(scores >= max(min_prob, 1e-4))
        if not len(candidates):
            continue
        kept = candidates[nms(boxes[candidates], scores[candidates], spec.class_nms)]
        found += [(boxes[i], category, float(scores[i])) for i in kept]
    found.sort(key=lambda item: -item[2])
    return found[:top] if top is not None else found


def detect_image(
    nir: np.ndarray,
    trunk: Trunk,
    head: Head,
    spec: DetectorSpec,
    min_prob: float = 0.0,
    top: int | None = None,
) -> list[Detection]:
    """Detect the regions of an ``(H, W)`` float32 NIR image in [0, 1] (see the module)."""
    height, width = nir.shape
    work = working_image(nir, spec)
    h, w = working_size(height, width, spec.side)
    features, objectness, deltas = trunk(work[None, None])
    anchor_boxes = spec_anchors(spec, features.shape[1:], work.shape)
    proposals = propose(objectness, deltas, anchor_boxes, (h, w), spec)
    rois = with_whole(proposals, (h, w))
    pooled = roi_pool(features, rois, work.shape, spec.grid)
    probabilities, box_deltas = head(pooled)
    found = select(rois, probabilities, box_deltas, (h, w), spec, min_prob, top)
    scale = np.array([width / w, height / h, width / w, height / h], np.float32)
    return [
        Detection(tuple(float(v) for v in box * scale), spec.categories[c], p)
        for box, c, p in found
    ]
