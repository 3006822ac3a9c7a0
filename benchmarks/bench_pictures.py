"""Pictures a person judges a colorizer by: six val images whole, and 1:1 crops.

Six scene-disjoint `split == val` images (full-resolution EPFL pairs, one per category in
turn), each as NIR | the previous default (`vivid`) | the default as it ships | the truth,
downscaled; then 300 × 300 crops at full resolution (not downscaled) of
grass, foliage, a skyline and a facade in the same columns, where blur, smears and halos show.

Writes ``docs/images/sharpness_grid.jpg``, ``docs/images/sharpness_crops.jpg`` and the section
"Pictures" of BENCHMARKS.md::

    python benchmarks/bench_pictures.py [--no-write]
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from _common import REPO, Run, base_parser, load_split, publish, track
from bench_colour import grid, picture_pairs
from nircolor.api import colorize
from nircolor.data import load_pair

IMAGES = REPO / "docs" / "images"
PREVIOUS = "vivid"
COLUMNS = ("NIR", f"previous default (`{PREVIOUS}`)", "default", "truth")
CROP = 300
CROPS = {  # what, (category, pair id), top-left corner (row, column) in full-size pixels
    "grass": (("field", "0007"), (280, 320)),
    "foliage": (("forest", "0018"), (150, 420)),
    "skyline (a roof against the sky)": (("urban", "0020"), (0, 120)),
    "facade": (("urban", "0020"), (235, 640)),
}


def columns(nir: np.ndarray, rgb: np.ndarray) -> list[np.ndarray]:
    """NIR, the previous and the new default's colours, and the truth of one image."""
    return [
        np.repeat(nir[..., None], 3, axis=2),
        colorize(nir, PREVIOUS),
        colorize(nir, "default"),
        rgb,
    ]


def pair_named(pairs, category: str, number: str):
    for pair in pairs:
        if pair.category == category and pair.nir.name.startswith(number):
            return pair
    raise SystemExit(f"no val pair {category}/{number}")


def crop_rows(pairs) -> list[np.ndarray]:
    rows = []
    for (category, number), (top, left) in track(list(CROPS.values()), "1:1 crops"):
        cells = columns(*load_pair(pair_named(pairs, category, number)))
        window = (slice(top, top + CROP), slice(left, left + CROP))
        gap = np.ones((CROP, 4, 3), np.float32)
        row = [piece for cell in cells for piece in (cell[window], gap)][:-1]
        rows.append(np.concatenate(row, axis=1))
    spaced = [piece for row in rows for piece in (row, np.ones((4, row.shape[1], 3)))][:-1]
    return np.concatenate(spaced, axis=0)


def save_jpeg(image: np.ndarray, name: str) -> str:
    path = IMAGES / name
    pixels = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    Image.fromarray(pixels).save(path, quality=82, optimize=True)
    return f"docs/images/{name}"


def main() -> None:
    args = base_parser(__doc__).parse_args()
    run = Run()
    val = [pair for pair in load_split(args.data, "val") if pair.collection == "nirscene"]
    chosen = picture_pairs(val)
    rows = [columns(*load_pair(pair)) for pair in track(chosen, "six val images")]
    whole = save_jpeg(grid(rows), "sharpness_grid.jpg")
    crops = save_jpeg(crop_rows(val), "sharpness_crops.jpg")
    names = ", ".join(f"{pair.category}/{pair.nir.name}" for pair in chosen)
    crop_names = "; ".join(
        f"{what}: {category}/{number} from row {top}, column {left}"
        for what, ((category, number), (top, left)) in CROPS.items()
    )
    body = f"""Columns: {" | ".join(COLUMNS)}. Six val images ({names}), downscaled:

![Six val images]({whole})

{CROP} × {CROP} crops at full resolution, not downscaled ({crop_names}):

![1:1 crops of grass, foliage, a skyline and a facade]({crops})
"""
    publish(run, {"## Pictures: six val images and 1:1 crops": body}, not args.no_write)


if __name__ == "__main__":
    main()
