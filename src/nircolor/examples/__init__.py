"""The bundled example NIR image, and the synthetic images tests and benchmarks draw.

``example_nir.png`` is a real NIR photograph: EPFL RGB-NIR Scene Dataset image
``country/0033`` (a ``split == train`` row of the project's data, so no validation image
is shown off), reduced to 384×256 (M. Brown and S. Süsstrunk, "Multi-spectral SIFT for scene
category recognition", CVPR 2011; research use). ``python -m nircolor.examples DATA``
remakes it from a data folder laid out as the project's (``DATA/nirscene/country/...``).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

EXAMPLE_NIR = Path(__file__).with_name("example_nir.png")
EXAMPLE_SOURCE = "nirscene/country/0033_nir.jpg"
"""The example's source image, relative to a data folder."""
EXAMPLE_SIZE = (384, 256)
"""Width and height of the example."""


def make_example_from(data: str | Path) -> np.ndarray:
    """The bundled example, remade from the data folder ``data``: :data:`EXAMPLE_SOURCE`
    reduced to :data:`EXAMPLE_SIZE` by pixel-area averaging; float32 ``(H, W)`` in [0, 1]."""
    from ..io import read_nir

    nir = read_nir(Path(data) / EXAMPLE_SOURCE)
    return cv2.resize(nir, EXAMPLE_SIZE, interpolation=cv2.INTER_AREA)


def make_example_nir(width: int = 384, height: int = 256, seed: int = 0) -> np.ndarray:
    """A synthetic landscape as an NIR camera sees it: dark sky, bright foliage, grey road.

    Returns an ``(height, width)`` float32 image in [0, 1].
    """
    rng = np.random.default_rng(seed)
    rows = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    cols = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    image = np.broadcast_to(0.18 + 0.12 * rows, (height, width)).copy()  # sky: dark in NIR

    horizon = (0.45 + 0.05 * np.sin(cols * 9.0) + 0.03 * np.sin(cols * 23.0)) * height
    ground = np.arange(height)[:, None] > horizon
    foliage_texture = cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), 2.0)
    image[ground] = (0.72 + 0.25 * (foliage_texture - 0.5))[ground]  # vegetation: bright

    for center, radius in ((0.15, 0.12), (0.33, 0.09), (0.8, 0.14)):  # tree crowns
        cy = horizon[0, int(center * (width - 1))] - radius * height * 0.6
        yy, xx = np.mgrid[0:height, 0:width]
        crown = ((xx - center * width) / (radius * width)) ** 2 + (
            (yy - cy) / (radius * height)
        ) ** 2
        image[crown < 1] = (0.8 + 0.3 * (foliage_texture - 0.5))[crown < 1]

    top, bottom, left, right = (
        int(0.3 * height),
        int(0.62 * height),
        int(0.48 * width),
        int(0.66 * width),
    )
    image[top:bottom, left:right] = 0.42  # a wall: mid-grey
    for y in range(top + 8, bottom - 8, 18):  # windows: dark glass
        for x in range(left + 8, right - 12, 16):
            image[y : y + 9, x : x + 8] = 0.12

    road = (np.arange(height)[:, None] > 0.8 * height) & (
        np.abs(cols - 0.5) < 0.1 + 0.4 * (rows - 0.8)
    )
    image[road] = 0.3 + 0.04 * (foliage_texture[road] - 0.5)
    image += rng.normal(0, 0.01, image.shape).astype(np.float32)  # sensor noise
    return np.clip(cv2.GaussianBlur(image, (0, 0), 0.7), 0, 1).astype(np.float32)


def synthetic_pair(seed: int, height: int = 48, width: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random NIR image and an RGB image that is a fixed, known function of it."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((height // 8 + 2, width // 8 + 2)).astype(np.float32)
    nir = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    nir = np.clip(nir + 0.05 * rng.standard_normal((height, width)).astype(np.float32), 0, 1)
    rgb = np.stack([nir**0.8, 0.6 * nir + 0.2, 1.0 - 0.5 * nir], axis=2)
    return nir, np.clip(rgb, 0, 1).astype(np.float32)


def textured_nir(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A synthetic NIR image with detail at several scales, float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    fine = cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), 1.0)
    coarse = cv2.resize(
        rng.random((height // 32 + 2, width // 32 + 2)).astype(np.float32),
        (width, height),
        interpolation=cv2.INTER_CUBIC,
    )
    return np.clip(0.6 * coarse + 1.5 * (fine - fine.mean()) + 0.2, 0, 1).astype(np.float32)


SKY_COLOUR = np.float32([0.35, 0.55, 0.9])
"""The blue :func:`paint_sky` gives the dark NIR sky of :func:`bright_object_on_sky`."""
BRIGHT_COLOUR = np.float32([0.55, 0.65, 0.25])
"""The yellow-green :func:`paint_sky` gives the bright things in it."""


def bright_object_on_sky() -> tuple[np.ndarray, np.ndarray]:
    """The halo scene: a dark, smooth NIR sky (a gradient) with a bright disk and a thin
    bright pole in it, ``(900, 1200)`` float32; and every pixel's distance (px) to them."""
    from scipy import ndimage

    y, x = np.mgrid[0:900, 0:1200]
    nir = (0.08 + 0.1 * y / 900).astype(np.float32)
    bright = ((y - 600) ** 2 + (x - 500) ** 2 < 200**2) | ((y > 650) & (np.abs(x - 900) < 30))
    nir[bright] = 0.9
    return nir, ndimage.distance_transform_edt(~bright)


def paint_sky(nir: np.ndarray) -> np.ndarray:
    """The colours of :func:`bright_object_on_sky` a perfect net would give, sharp: the dark
    sky :data:`SKY_COLOUR`, the bright things :data:`BRIGHT_COLOUR`."""
    return np.where((nir > 0.5)[..., None], BRIGHT_COLOUR, SKY_COLOUR).astype(np.float32)


def sky_chroma_change(rgb: np.ndarray) -> np.ndarray:
    """Every pixel's distance in CIELAB a*b* from :data:`SKY_COLOUR` (a halo is where the
    sky's pixels have one)."""
    from ..metrics import srgb_to_lab

    lab, sky = srgb_to_lab(rgb), srgb_to_lab(SKY_COLOUR[None, None])[0, 0]
    return np.hypot(lab[..., 1] - sky[1], lab[..., 2] - sky[2])
