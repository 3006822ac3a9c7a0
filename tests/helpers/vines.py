"""The vines of the bundled example (EPFL ``country/0033``): which pixels they are, and their
mean hue.

Run as ``PYTHONPATH=src python -m tests.helpers.vines ../shared/data`` (from the repository
root) to measure the true photo's vine hue: the EPFL RGB image reduced to the example's size
as :func:`nircolor.examples.make_example_from` reduces the NIR.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import cv2
import numpy as np

from nircolor.examples import EXAMPLE_NIR, EXAMPLE_SIZE, EXAMPLE_SOURCE
from nircolor.io import read_image
from nircolor.metrics import srgb_to_lab

HALF = 128
"""The vines fill the lower half of the 256-row example."""


def vine_mask(nir: np.ndarray) -> np.ndarray:
    """The vines: the NIR-bright pixels (above the median) of the lower half; ``(H, W)`` bool."""
    mask = np.zeros(nir.shape, dtype=bool)
    lower = nir[HALF:]
    mask[HALF:] = lower > np.median(lower)
    return mask


def mean_hue_deg(rgb: np.ndarray, mask: np.ndarray) -> float:
    """The CIELAB hue angle (degrees in [0, 360)) of the mean a*, b* of ``rgb`` over ``mask``."""
    lab = srgb_to_lab(np.ascontiguousarray(rgb[mask]))
    return float(np.degrees(np.arctan2(lab[:, 2].mean(), lab[:, 1].mean())) % 360.0)


def hue_distance_deg(first: float, second: float) -> float:
    """The wrapped difference of two hue angles, in [0°, 180°]."""
    return abs((first - second + 180.0) % 360.0 - 180.0)


def true_vine_hue(data: Path) -> float:
    """The vines' mean hue in the true photo: the RGB paired with :data:`EXAMPLE_SOURCE` in
    ``data``'s MANIFEST.csv, reduced to :data:`EXAMPLE_SIZE` by pixel-area averaging, under
    the example's vine mask."""
    rows = csv.DictReader((data / "MANIFEST.csv").open())
    (row,) = [row for row in rows if row["nir"] == EXAMPLE_SOURCE]
    rgb = cv2.resize(read_image(data / row["rgb"]), EXAMPLE_SIZE, interpolation=cv2.INTER_AREA)
    return mean_hue_deg(rgb, vine_mask(read_image(EXAMPLE_NIR)))


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
    print(f"true vine hue: {true_vine_hue(folder):.1f}°")
