"""Box arithmetic in numpy, written once for training (targets, proposals) and inference.

Boxes are ``(x0, y0, x1, y1)`` float32 rows in pixels, ``x1``/``y1`` exclusive.
"""

from __future__ import annotations

import math

import numpy as np

RPN_WEIGHTS = (1.0, 1.0, 1.0, 1.0)
"""Scales of the proposal deltas (dx, dy, dw, dh)."""
HEAD_WEIGHTS = (10.0, 10.0, 5.0, 5.0)
"""Scales of the head's box deltas (Faster R-CNN's 0.1, 0.1, 0.2, 0.2 standard deviations)."""
MAX_LOG_SCALE = math.log(1000.0 / 16)


def anchors(feature_hw: tuple[int, int], image_hw: tuple[int, int], sizes, ratios) -> np.ndarray:
    """``(H' · W' · A, 4)`` anchors centred on the feature cells (row, column, anchor order);
    anchor ``a`` is ``sizes[a // len(ratios)]`` pixels across with height / width
    ``ratios[a % len(ratios)]``."""
    fh, fw = feature_hw
    height, width = image_hw
    step_y, step_x = height / fh, width / fw
    shapes = []
    for size in sizes:
        for ratio in ratios:
            shapes.append((size / math.sqrt(ratio), size * math.sqrt(ratio)))
    shapes = np.array(shapes, np.float32)  # (A, 2): width, height
    cy = (np.arange(fh, dtype=np.float32) + 0.5) * step_y
    cx = (np.arange(fw, dtype=np.float32) + 0.5) * step_x
    cy, cx = np.meshgrid(cy, cx, indexing="ij")
    centres = np.stack([cx, cy], -1).reshape(-1, 1, 2)
    half = shapes[None] / 2
    return np.concatenate([centres - half, centres + half], -1).reshape(-1, 4)


def encode(boxes: np.ndarray, reference: np.ndarray, weights=RPN_WEIGHTS) -> np.ndarray:
    """The deltas that move ``reference`` boxes onto ``boxes`` (same length)."""
    rw, rh = reference[:, 2] - reference[:, 0], reference[:, 3] - reference[:, 1]
    rx, ry = reference[:, 0] + rw / 2, reference[:, 1] + rh / 2
    bw, bh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    bx, by = boxes[:, 0] + bw / 2, boxes[:, 1] + bh / 2
    wx, wy, ww, wh = weights
    deltas = [
        wx * (bx - rx) / rw,
        wy * (by - ry) / rh,
        ww * np.log(bw / rw),
        wh * np.log(bh / rh),
    ]
    return np.stack(deltas, 1).astype(np.float32)


def decode(deltas: np.ndarray, reference: np.ndarray, weights=RPN_WEIGHTS) -> np.ndarray:
    """The boxes that ``deltas`` make of ``reference`` boxes (the inverse of :func:`encode`)."""
    rw, rh = reference[:, 2] - reference[:, 0], reference[:, 3] - reference[:, 1]
    rx, ry = reference[:, 0] + rw / 2, reference[:, 1] + rh / 2
    wx, wy, ww, wh = weights
    dx, dy = deltas[:, 0] / wx, deltas[:, 1] / wy
    dw = np.minimum(deltas[:, 2] / ww, MAX_LOG_SCALE)
    dh = np.minimum(deltas[:, 3] / wh, MAX_LOG_SCALE)
    x, y = rx + dx * rw, ry + dy * rh
    w, h = rw * np.exp(dw), rh * np.exp(dh)
    return np.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], 1).astype(np.float32)


def clip(boxes: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
    height, width = image_hw
    out = boxes.copy()
    out[:, 0::2] = np.clip(out[:, 0::2], 0, width)
    out[:, 1::2] = np.clip(out[:, 1::2], 0, height)
    return out


def area(boxes: np.ndarray) -> np.ndarray:
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(len(a), len(b))`` intersection over union."""
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = area(a)[:, None] + area(b)[None, :] - inter
    return inter / np.maximum(union, 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, top: int | None = None):
    """Indices of the boxes greedy non-maximum suppression keeps, best first: a box is dropped
    when its IoU with a kept, higher-scored one exceeds ``threshold``; at most ``top``."""
    order = np.argsort(-scores, kind="stable")
    if not len(order):
        return order
    x0, y0, x1, y1 = boxes[order].T
    areas = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    across = np.clip(np.minimum.outer(x1, x1) - np.maximum.outer(x0, x0), 0, None)
    inter = across * np.clip(np.minimum.outer(y1, y1) - np.maximum.outer(y0, y0), 0, None)
    over = inter > threshold * (areas[:, None] + areas[None, :] - inter)  # IoU > threshold
    suppressed = np.zeros(len(order), bool)
    keep = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(i)
        if top is not None and len(keep) >= top:
            break
        suppressed |= over[i]
    return order[np.array(keep, np.int64)]


def roi_weights(
    rois: np.ndarray, feature_hw: tuple[int, int], image_hw: tuple[int, int], grid: int
) -> tuple[np.ndarray, np.ndarray]:
    """How much of each feature row and column every bin of every RoI averages: ``(R, grid,
    H')`` and ``(R, grid, W')``, each bin's weights summing to 1.

    The RoI, in feature coordinates (cell ``k`` covers ``[k, k + 1)``), is split into
    ``grid × grid`` equal bins; a bin averages the map over its exact area, a cell it
    covers in part counting in proportion (no rounding to cells, so the pooled features move
    with the box as RoI Align's do, and a bin is never empty). A bin that lies outside the
    map takes its nearest cell.
    """
    steps = np.arange(grid + 1, dtype=np.float64) / grid
    rois = rois.astype(np.float64).reshape(-1, 4)

    def weights(lo, hi, n):
        edges = lo[:, None] + (hi - lo)[:, None] * steps[None]
        start, stop = edges[:, :-1, None], edges[:, 1:, None]
        cells = np.arange(n, dtype=np.float64)
        overlap = np.minimum(stop, cells + 1) - np.maximum(start, cells)
        overlap[overlap < 1e-4] = 0  # slivers of rounding error (their products are subnormal)
        total = overlap.sum(-1, keepdims=True)
        empty = total[..., 0] <= 1e-9
        if empty.any():
            nearest = np.clip(np.floor((start + stop)[..., 0] / 2), 0, n - 1).astype(np.int64)
            overlap[empty] = np.eye(n)[nearest[empty]]
            total = overlap.sum(-1, keepdims=True)
        return (overlap / total).astype(np.float32)

    fh, fw = feature_hw
    sy, sx = fh / image_hw[0], fw / image_hw[1]
    rows = weights(rois[:, 1] * sy, rois[:, 3] * sy, fh)
    cols = weights(rois[:, 0] * sx, rois[:, 2] * sx, fw)
    return rows, cols


def roi_pool(features: np.ndarray, rois: np.ndarray, image_hw, grid: int) -> np.ndarray:
    """RoI average pooling of a ``(C, H', W')`` map (:func:`roi_weights`): ``(R, C · grid ·
    grid)`` float32, in the order of torch's ``flatten`` of ``(R, C, grid, grid)``.

    One matrix product: every bin's weights over the map's cells (the outer product of its
    row and column weights) times the map.
    """
    channels, fh, fw = features.shape
    rows, cols = roi_weights(rois, (fh, fw), image_hw, grid)
    count = len(rows)
    cells = (rows[:, :, None, :, None] * cols[:, None, :, None, :]).reshape(-1, fh * fw)
    flat = np.ascontiguousarray(features.reshape(channels, fh * fw).T, np.float32)
    pooled = (cells @ flat).reshape(count, grid * grid, channels).transpose(0, 2, 1)
    return np.ascontiguousarray(pooled.reshape(count, -1), np.float32)
