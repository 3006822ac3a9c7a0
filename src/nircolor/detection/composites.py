"""Box-labelled NIR pictures made from scene-labelled ones: no box-labelled NIR set exists.

Every picture is built from crops of the given NIR images (one split's rows only: training
pieces never meet held-out ones) at the detector's working size, and every crop is a box
labelled with its source image's scene category:

``whole``
    One image (a random crop of at least 60 % of its sides, the picture's aspect) filling
    the picture: one box, the whole picture.
``mosaic``
    The picture split into a grid of 2 to 4 cells (1 × 2, 2 × 1, 1 × 3, 3 × 1 or 2 × 2, the
    splits jittered); each cell filled by a crop of an image of another category than the
    cells before it: one box per cell.
``paste``
    A whole image as the background (one box, the whole picture, its category) and 1 or 2
    crops of images of other categories pasted on it without overlapping each other, each
    30-55 % of the picture's sides: one box each.

Categories of the pieces are drawn uniformly (the rare categories are as present as the
common ones); whole pictures and backgrounds draw images uniformly.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

KINDS = ("whole", "mosaic", "paste")
KIND_WEIGHTS = (0.3, 0.4, 0.3)
SHAPES = ((192, 256), (256, 256), (256, 192), (170, 256))
"""Picture sizes ``(h, w)``: the working sizes of 4:3, square, 3:4 and 3:2 images."""
LAYOUTS = ((1, 2), (2, 1), (1, 3), (3, 1), (2, 2))
"""Mosaic grids, ``(rows, columns)``."""
POOL_SIDE = 384
"""Long side the source images are brought down to once, before any crop."""


@dataclass
class Composite:
    image: np.ndarray  # (h, w) uint8
    boxes: np.ndarray  # (M, 4) float32 x0, y0, x1, y1
    labels: np.ndarray  # (M,) int64 category index
    kind: str


class PiecePool:
    """Source images by category (labels are category indices; negative ones are left out)."""

    def __init__(self, images, labels, side: int = POOL_SIDE) -> None:
        self.images, self.labels = [], []
        for image, label in zip(images, labels, strict=True):
            if label < 0:
                continue
            scale = side / max(image.shape)
            if scale < 1:
                height, width = image.shape
                size = (max(1, round(width * scale)), max(1, round(height * scale)))
                image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            self.images.append(np.ascontiguousarray(image, np.uint8))
            self.labels.append(int(label))
        self.categories = sorted(set(self.labels))
        self.by_category = {
            c: [i for i, label in enumerate(self.labels) if label == c] for c in self.categories
        }

    def __len__(self) -> int:
        return len(self.images)

    def pick(self, rng: np.random.Generator, avoid: set[int] = frozenset()) -> int:
        """An image of a category drawn uniformly among those not in ``avoid`` (if any)."""
        allowed = [c for c in self.categories if c not in avoid] or self.categories
        category = allowed[rng.integers(len(allowed))]
        members = self.by_category[category]
        return members[rng.integers(len(members))]


def crop_to(image: np.ndarray, out_hw, rng: np.random.Generator, least: float) -> np.ndarray:
    """A random crop of ``image`` with the aspect of ``out_hw``, at least ``least`` of the
    largest such crop's sides, resized to ``out_hw`` and mirrored half of the time."""
    out_h, out_w = max(1, int(out_hw[0])), max(1, int(out_hw[1]))
    height, width = image.shape
    aspect = out_h / out_w
    if width * aspect <= height:
        crop_w, crop_h = width, width * aspect
    else:
        crop_w, crop_h = height / aspect, height
    f = rng.uniform(least, 1.0)
    crop_w, crop_h = max(1, int(crop_w * f)), max(1, int(crop_h * f))
    x0 = rng.integers(0, width - crop_w + 1)
    y0 = rng.integers(0, height - crop_h + 1)
    piece = image[y0 : y0 + crop_h, x0 : x0 + crop_w]
    down = out_h * out_w < crop_h * crop_w
    piece = cv2.resize(
        piece, (out_w, out_h), interpolation=cv2.INTER_AREA if down else cv2.INTER_LINEAR
    )
    return piece[:, ::-1] if rng.random() < 0.5 else piece


def _splits(length: int, parts: int, rng: np.random.Generator) -> list[int]:
    cuts = (np.arange(1, parts) + rng.uniform(-0.15, 0.15, parts - 1)) / parts
    return [0, *(int(round(c * length)) for c in cuts), length]


def make_composite(
    pool: PiecePool, rng: np.random.Generator, shape=None, kind: str | None = None
) -> Composite:
    """One picture (see the module); ``shape`` and ``kind`` drawn when not given."""
    h, w = shape or SHAPES[rng.integers(len(SHAPES))]
    kind = kind or KINDS[rng.choice(len(KINDS), p=KIND_WEIGHTS)]
    canvas = np.zeros((h, w), np.uint8)
    boxes, labels = [], []
    if kind in ("whole", "paste"):
        index = rng.integers(len(pool))
        canvas[:] = crop_to(pool.images[index], (h, w), rng, 0.6)
        boxes.append((0, 0, w, h))
        labels.append(pool.labels[index])
    if kind == "mosaic":
        rows, cols = LAYOUTS[rng.integers(len(LAYOUTS))]
        ys, xs = _splits(h, rows, rng), _splits(w, cols, rng)
        for r in range(rows):
            for c in range(cols):
                index = pool.pick(rng, set(labels))
                y0, y1, x0, x1 = ys[r], ys[r + 1], xs[c], xs[c + 1]
                canvas[y0:y1, x0:x1] = crop_to(pool.images[index], (y1 - y0, x1 - x0), rng, 0.4)
                boxes.append((x0, y0, x1, y1))
                labels.append(pool.labels[index])
    if kind == "paste":
        for _ in range(rng.integers(1, 3)):
            placed = _place(rng, h, w, boxes[1:])
            if placed is None:
                continue
            x0, y0, x1, y1 = placed
            index = pool.pick(rng, set(labels))
            canvas[y0:y1, x0:x1] = crop_to(pool.images[index], (y1 - y0, x1 - x0), rng, 0.4)
            boxes.append(placed)
            labels.append(pool.labels[index])
    return Composite(
        canvas, np.array(boxes, np.float32).reshape(-1, 4), np.array(labels, np.int64), kind
    )


def _place(rng, h: int, w: int, taken, tries: int = 20):
    """A box 30-55 % of the picture's sides overlapping none of ``taken``, or None."""
    for _ in range(tries):
        bw, bh = int(w * rng.uniform(0.3, 0.55)), int(h * rng.uniform(0.3, 0.55))
        x0, y0 = int(rng.integers(0, w - bw + 1)), int(rng.integers(0, h - bh + 1))
        box = (x0, y0, x0 + bw, y0 + bh)
        if all(box[2] <= t[0] or t[2] <= box[0] or box[3] <= t[1] or t[3] <= box[1] for t in taken):
            return box
    return None


def composite_set(pool: PiecePool, count: int, seed: int) -> list[Composite]:
    """``count`` composites of the pool, the same for the same seed (kinds in turn)."""
    rng = np.random.default_rng(seed)
    return [make_composite(pool, rng, kind=KINDS[i % len(KINDS)]) for i in range(count)]
