"""Pictures of detections: the NIR image in grey with labelled, coloured boxes."""

from __future__ import annotations

import cv2
import numpy as np

from .pipeline import Detection

PALETTE = {  # RGB, one per EPFL category
    "country": (230, 159, 0),
    "field": (240, 228, 66),
    "forest": (0, 158, 115),
    "indoor": (204, 121, 167),
    "mountain": (86, 180, 233),
    "oldbuilding": (213, 94, 0),
    "street": (255, 255, 255),
    "urban": (255, 64, 64),
    "water": (0, 114, 178),
}
OTHER = (255, 0, 255)


def draw_detections(nir: np.ndarray, detections: list[Detection]) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB: ``nir`` (floats in [0, 1]) with every detection's box and
    ``label probability`` drawn, the least probable first (the best on top)."""
    grey = np.clip(np.asarray(nir, np.float32) * 255 + 0.5, 0, 255).astype(np.uint8)
    canvas = np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    height, width = grey.shape
    thickness = max(1, round(max(height, width) / 300))
    scale = max(0.35, max(height, width) / 900)
    for detection in sorted(detections, key=lambda d: d.probability):
        colour = PALETTE.get(detection.label, OTHER)
        x0, y0, x1, y1 = (int(round(v)) for v in detection.box)
        x1, y1 = min(x1, width) - 1, min(y1, height) - 1
        cv2.rectangle(canvas, (x0, y0), (x1, y1), colour, thickness)
        text = f"{detection.label} {detection.probability:.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        ty = y0 + th + base + 2 if y0 + th + base + 2 < height else y0
        cv2.rectangle(canvas, (x0, ty - th - base - 2), (x0 + tw + 4, ty), colour, -1)
        cv2.putText(
            canvas,
            text,
            (x0 + 2, ty - base),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
    return canvas
