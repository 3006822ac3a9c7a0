"""How well a detector does: mAP on held-out composites, and the category of its most
probable box on real, whole images (against the image's own scene category)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .composites import Composite, PiecePool, composite_set
from .pipeline import Detection
from .scores import COCO_THRESHOLDS, mean_average_precision

Detect = Callable[[np.ndarray], list[Detection]]
"""A detector as these scores call it: ``(H, W)`` float32 NIR in [0, 1] → detections (all
of them: no probability floor, no top-K)."""


def composite_scores(
    detect: Detect, composites: Sequence[Composite], categories: Sequence[str]
) -> dict:
    """mAP@0.5 and mAP@[.5:.95] (COCO's ten thresholds) over ``composites``, with the AP@0.5
    of every category present."""
    index = {name: i for i, name in enumerate(categories)}
    found, truths = [], []
    for composite in composites:
        detections = detect(composite.image / np.float32(255))
        found.append([(d.box, index[d.label], d.probability) for d in detections])
        truths.append((composite.boxes, composite.labels))
    present = range(len(categories))
    at_50 = mean_average_precision(found, truths, present, (0.5,))
    coco = mean_average_precision(found, truths, present, COCO_THRESHOLDS)
    return {
        "map50": at_50["map"],
        "map50_95": coco["map"],
        "ap50": {categories[c]: ap for c, ap in at_50["per_category"].items()},
        "count": len(composites),
        "boxes": int(sum(len(c.boxes) for c in composites)),
    }


def held_out_composites(images, labels, count: int, seed: int) -> list[Composite]:
    """``count`` composites (kinds in turn) of only these images (uint8, category indices)."""
    return composite_set(PiecePool(images, labels), count, seed)


def top_box_hits(detect: Detect, images, labels, categories: Sequence[str]) -> list[bool]:
    """Per image (uint8 NIR): whether the most probable box has the image's category."""
    hits = []
    for image, label in zip(images, labels, strict=True):
        detections = detect(np.asarray(image) / np.float32(255))
        hits.append(bool(detections) and detections[0].label == categories[label])
    return hits
