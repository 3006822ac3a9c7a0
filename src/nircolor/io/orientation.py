"""Images as viewers show them: the Orientation tag of JPEG (EXIF) and TIFF files applied.

A camera or phone stores a photo as its sensor read it and records in the Orientation tag
(274, the same in EXIF and TIFF) how to turn it for display; every viewer applies it, so
every nircolor reader does too (whole or by row bands), and what it writes is upright, with
no tag. A raw sensor mosaic is the exception: its colour-filter pattern is laid out on the
sensor, so it is read as stored.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

ORIENTATION_TAG = 274
UPRIGHT = 1
"""The Orientation value of an image stored as it is shown (also taken for a missing or
invalid tag, as viewers do)."""

_EXIF_FORMATS = ("JPEG", "MPO")


def oriented(samples: np.ndarray, orientation: int) -> np.ndarray:
    """The ``(H, W)`` or ``(H, W, C)`` samples of a file turned as its Orientation tag says.

    Parameters
    ----------
    samples : ndarray
        The image as stored.
    orientation : int
        The tag's value: 1 as stored, 2 mirrored left-right, 3 turned 180°, 4 mirrored
        top-bottom, 5 transposed, 6 turned 90° clockwise, 7 transversed, 8 turned 90°
        anticlockwise; any other value leaves the image as stored.

    Returns
    -------
    ndarray
        The image as shown, C-contiguous (``samples`` itself when upright).
    """
    turns = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: np.rot90(a, 1),
    }
    if orientation not in turns:
        return samples
    return np.ascontiguousarray(turns[orientation](samples))


def swaps_sides(orientation: int) -> bool:
    """Whether an image of this orientation is shown with its width and height swapped."""
    return orientation in (5, 6, 7, 8)


def exif_orientation(im: Image.Image) -> int:
    """The EXIF Orientation of a JPEG opened by Pillow (read from its header, no pixels
    decoded); :data:`UPRIGHT` for other formats, no tag, or unreadable EXIF."""
    if im.format not in _EXIF_FORMATS:
        return UPRIGHT
    try:
        return _valid(im.getexif().get(ORIENTATION_TAG, UPRIGHT))
    except Exception:  # corrupt EXIF: viewers show the image as stored
        return UPRIGHT


def pillow_tiff_orientation(im: Image.Image) -> int:
    """The Orientation left to apply to a TIFF that Pillow has loaded: Pillow turns the
    TIFFs it decodes itself and then drops the tag, so this is :data:`UPRIGHT` once it has."""
    return _valid(im.tag_v2.get(ORIENTATION_TAG, UPRIGHT))


def tiff_orientation(page) -> int:
    """The Orientation tag of a tifffile page; :data:`UPRIGHT` when it has none."""
    return _valid(page.tags.valueof(ORIENTATION_TAG, UPRIGHT))


def _valid(value) -> int:
    return value if isinstance(value, int) and 1 <= value <= 8 else UPRIGHT
