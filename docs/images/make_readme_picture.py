"""Remake ``docs/images/readme_example.jpg``: the bundled example NIR image | the default's colour.

Run from the repository root: ``python docs/images/make_readme_picture.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

import nircolor
from nircolor.examples import EXAMPLE_NIR

TARGET = Path(__file__).resolve().parent / "readme_example.jpg"
GAP = 6  # white pixels between the two halves


def main() -> None:
    nir = nircolor.read_nir(EXAMPLE_NIR)
    rgb = nircolor.colorize(nir, model="default")
    height, width = nir.shape
    picture = np.ones((height, 2 * width + GAP, 3), dtype=np.float32)
    picture[:, :width] = nir[..., None]
    picture[:, width + GAP :] = rgb
    pixels = np.round(np.clip(picture, 0, 1) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(TARGET, quality=88, optimize=True)
    print(f"{TARGET}: {TARGET.stat().st_size // 1000} kB")


if __name__ == "__main__":
    main()
