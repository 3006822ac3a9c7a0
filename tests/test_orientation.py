"""Images are read as every viewer shows them: the EXIF (JPEG) and TIFF Orientation tag is
applied, whole and streamed, so a phone's portrait photo comes out portrait (issue 26, item 8).

Pillow's ``ImageOps.exif_transpose`` is the reference for what a viewer shows of a JPEG.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageOps

from nircolor.api import colorize
from nircolor.cfa import read_mosaic
from nircolor.io import image_size, open_rows, read_image, read_nir, read_rgb, to_uint

from .helpers.cli import run_cli

ORIENTATION = 274  # the EXIF and TIFF tag
STORED = (24, 40)  # rows, columns as stored: portrait once turned by 5, 6, 7 or 8


def _stored_pixels(channels: int = 0) -> np.ndarray:
    """A smooth image with no symmetry (JPEG keeps it close), uint8."""
    rows, cols = np.mgrid[0 : STORED[0], 0 : STORED[1]]
    grey = 20 + 4 * rows + 3 * cols + (rows * cols) % 7
    if not channels:
        return grey.astype(np.uint8)
    return np.stack([grey, 255 - grey, (2 * grey) % 256], axis=-1).astype(np.uint8)


def _jpeg(folder: Path, orientation: int, channels: int = 0) -> Path:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    path = folder / f"photo_{orientation}.jpg"
    Image.fromarray(_stored_pixels(channels)).save(path, exif=exif, quality=95)
    return path


def _displayed(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(ImageOps.exif_transpose(im)).astype(np.float32) / 255


@pytest.mark.parametrize("orientation", range(1, 9))
def test_jpeg_orientation_is_applied_whole_streamed_and_in_the_header_size(tmp_path, orientation):
    path = _jpeg(tmp_path, orientation)
    displayed = _displayed(path)
    assert np.array_equal(read_nir(path), displayed)
    rows = open_rows(path)
    try:
        assert rows.shape == displayed.shape
        assert np.array_equal(rows(0, displayed.shape[0]), displayed)
    finally:
        rows.close()
    assert image_size(path) == displayed.shape
    if orientation in (5, 6, 7, 8):
        assert displayed.shape == STORED[::-1]


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_colour_jpeg_orientation_is_applied(tmp_path, orientation):
    path = _jpeg(tmp_path, orientation, channels=3)
    assert np.array_equal(read_rgb(path), _displayed(path))


TURNED = {3: lambda a: a[::-1, ::-1], 6: lambda a: np.rot90(a, -1), 8: lambda a: np.rot90(a)}
"""What a viewer shows of stored samples, by Orientation: turned 180°, 90° cw, 90° anticlockwise."""


def _tiff(path: Path, orientation: int, writer: str) -> Path:
    if writer == "pillow-lzw":  # decoded by Pillow (no imagecodecs), which turns it itself
        Image.fromarray(_stored_pixels()).save(
            path, compression="tiff_lzw", tiffinfo={ORIENTATION: orientation}
        )
    else:
        tag = (ORIENTATION, "H", 1, orientation, True)
        compression = None if writer == "tifffile" else "zlib"
        tifffile.imwrite(path, _stored_pixels(), extratags=[tag], compression=compression)
    return path


@pytest.mark.parametrize("orientation", [3, 6, 8])
@pytest.mark.parametrize("writer", ["tifffile", "tifffile-zlib", "pillow-lzw"])
def test_tiff_orientation_is_applied_whole_and_streamed(tmp_path, orientation, writer):
    path = _tiff(tmp_path / "turned.tif", orientation, writer)
    displayed = TURNED[orientation](_stored_pixels()) / np.float32(255)
    assert np.array_equal(read_image(path), displayed)
    rows = open_rows(path)
    try:
        assert np.array_equal(rows(0, displayed.shape[0]), displayed)
    finally:
        rows.close()
    assert image_size(path) == displayed.shape


def test_a_raw_mosaic_stays_in_sensor_order(tmp_path):
    # A CFA pattern is laid out on the sensor: turning the mosaic would change its phase.
    path = tmp_path / "mosaic.tif"
    samples = _stored_pixels().astype(np.uint16) * 257
    tifffile.imwrite(path, samples, extratags=[(ORIENTATION, "H", 1, 6, True)])
    assert np.array_equal(read_mosaic(path), samples / np.float32(65535))


@pytest.mark.parametrize("tile", [None, 16])
def test_cli_writes_a_turned_jpeg_at_its_displayed_size(
    tmp_path, monkeypatch, capsys, tiny_model, tile
):
    path = _jpeg(tmp_path, 6)
    target = tmp_path / "out" / "photo.png"
    tiled = [] if tile is None else ["--tile", tile]
    code, _, err = run_cli(
        monkeypatch, capsys, "colorize", path, "-o", target, "-m", tiny_model, *tiled
    )
    assert code == 0, err
    expected = colorize(_displayed(path), model=tiny_model)
    assert expected.shape[:2] == STORED[::-1]
    assert np.array_equal(to_uint(read_image(target)), to_uint(expected))
