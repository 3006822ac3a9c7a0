"""Mean average precision of detections against box labels (PASCAL VOC / COCO style)."""

from __future__ import annotations

import numpy as np

from .boxes import iou

COCO_THRESHOLDS = tuple(np.round(np.arange(0.5, 0.96, 0.05), 2))


def average_precision(
    detections: list[list[tuple]],
    truths: list[tuple[np.ndarray, np.ndarray]],
    category: int,
    threshold: float,
) -> float | None:
    """AP of one category at one IoU threshold (all-point interpolation); ``None`` when no
    picture holds a box of it.

    ``detections[i]``: ``(box, category, probability)`` of picture ``i``; ``truths[i]``:
    its ``(boxes, categories)``. A detection is a hit when its IoU with a not yet matched
    box of its category reaches ``threshold`` (the most probable detections match first).
    """
    total = sum(int(np.sum(labels == category)) for _, labels in truths)
    if total == 0:
        return None
    scored = []  # (probability, picture, box)
    for i, found in enumerate(detections):
        scored += [(p, i, np.asarray(b, np.float32)) for b, c, p in found if c == category]
    scored.sort(key=lambda item: -item[0])
    matched = [np.zeros(int(np.sum(labels == category)), bool) for _, labels in truths]
    hits = np.zeros(len(scored))
    for k, (_, i, box) in enumerate(scored):
        boxes, labels = truths[i]
        own = boxes[labels == category]
        if not len(own):
            continue
        overlaps = iou(box[None], own)[0]
        overlaps[matched[i]] = -1
        best = int(np.argmax(overlaps))
        if overlaps[best] >= threshold:
            matched[i][best] = True
            hits[k] = 1
    if not len(scored):
        return 0.0
    tp = np.cumsum(hits)
    recall = tp / total
    precision = tp / np.arange(1, len(scored) + 1)
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    recall = np.concatenate([[0.0], recall])
    return float(np.sum((recall[1:] - recall[:-1]) * precision))


def mean_average_precision(detections, truths, categories, thresholds=(0.5,)) -> dict:
    """``{"map": ..., "per_category": {c: AP}}`` averaged over the categories present and the
    IoU ``thresholds``."""
    per_category = {}
    for category in categories:
        values = [average_precision(detections, truths, category, t) for t in thresholds]
        if values[0] is not None:
            per_category[category] = float(np.mean(values))
    mean = float(np.mean(list(per_category.values()))) if per_category else float("nan")
    return {"map": mean, "per_category": per_category}
