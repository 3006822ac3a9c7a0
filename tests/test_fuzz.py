"""Fuzz tests of the image readers: whatever the bytes, a sane image or an ImageReadError.

Small valid PNG / JPEG / BMP / TIFF files (8- and 16-bit, grey and colour, strips, tiles,
planar, compressed) are made here, then mutated: bit flips, truncation, byte and chunk
insertion, deletion, duplicated runs, integers written over random bytes and over header
fields (width, height, bit depth, samples, rows per strip, tile size...). For every input,
each reader (path and bytes readers, ``read_nir``, ``read_rgb``, ``io.image_size`` and
the streaming TIFF reader) must, within a time bound, either return a finite float32 image
in [0, 1] of a sane shape or raise :class:`ImageReadError` with a one-line message; never
any other exception. A batch of mutated files also runs in a child process, so that a crash
of a native decoder shows as a failed test instead of killing the test run.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from nircolor.errors import ImageReadError
from nircolor.io import (
    READ_EXTENSIONS,
    TIFF_MAGIC,
    image_size,
    read_image,
    read_image_bytes,
)

from .helpers.fuzz import (
    PNG_SIGNATURE,
    SEED_NAMES,
    SEEDS,
    VALUES,
    _apply,
    _pillow,
    _tiff,
    check_readers,
    operations,
)

FUZZ = settings(
    max_examples=200,
    deadline=None,  # timed by _time_limit, which also stops a real hang
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL")  # "Corrupt EXIF data"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# --------------------------------------------------------------------------------------------
# Tests


@pytest.mark.parametrize("name", SEED_NAMES)
def test_seed_files_are_read_correctly(name, folder):
    suffix, data, expected = SEEDS[name]
    out = check_readers(data, suffix, folder)
    image = out["read_image"]
    assert isinstance(image, np.ndarray), image
    height, width = image.shape[:2]
    assert out["image_size"] == (height, width)
    if expected is not None:
        assert image.shape == expected.shape
        assert np.array_equal(image, expected)


@pytest.mark.parametrize("name", [n for n in SEED_NAMES if n.endswith("-rgb") or "rgb-" in n])
def test_colour_files_are_refused_as_nir(name, folder):
    suffix, data, _ = SEEDS[name]
    out = check_readers(data, suffix, folder)
    for reader in ("read_nir", "read_nir_bytes", "stream"):
        assert isinstance(out[reader], ImageReadError), reader
        assert "colour image" in str(out[reader])


@FUZZ
@given(
    name=st.sampled_from(SEED_NAMES),
    ops=st.lists(operations, min_size=1, max_size=4),
)
def test_mutated_files(folder, name, ops):
    suffix, data, _ = SEEDS[name]
    for op in ops:
        data = _apply(name, data, op)
    check_readers(data, suffix, folder)


@FUZZ
@given(
    name=st.sampled_from(SEED_NAMES),
    field=st.integers(0, 64),
    value=st.sampled_from(VALUES),
    other=st.sampled_from(VALUES),
    fix_crc=st.booleans(),
)
def test_header_fields_overwritten(folder, name, field, value, other, fix_crc):
    """Width / height / depth... set to zero, one or huge values, alone or two at once."""
    suffix, data, _ = SEEDS[name]
    data = _apply(name, data, ("header", field, value, fix_crc))
    check_readers(data, suffix, folder)
    data = _apply(name, data, ("header", field + 1, other, fix_crc))
    check_readers(data, suffix, folder)


@FUZZ
@given(
    prefix=st.sampled_from(
        (b"", PNG_SIGNATURE, b"\xff\xd8\xff\xe0", b"BM", *TIFF_MAGIC, b"GIF89a", b"RIFF")
    ),
    body=st.binary(max_size=512),
    suffix=st.sampled_from(READ_EXTENSIONS),
)
def test_random_bytes(folder, prefix, body, suffix):
    data = prefix + body
    if not data:
        return
    check_readers(data, suffix, folder)


@pytest.mark.parametrize("name", ["png8-rgb", "jpeg-rgb", "bmp-rgb", "tif8-rgb-zlib"])
def test_file_of_another_format_than_its_name(folder, name):
    """Content decides: a TIFF named .png is read as TIFF, a PNG named .tif is refused."""
    suffix, data, _ = SEEDS[name]
    for other in READ_EXTENSIONS:
        check_readers(data, other, folder)


def test_formats_other_than_png_jpeg_tiff_bmp_are_refused(folder):
    """Pillow knows many more formats (GIF, WebP, ICO, EPS through Ghostscript...)."""
    image = Image.fromarray(np.full((4, 5, 3), 128, np.uint8))
    for fmt in ("GIF", "WEBP", "ICO", "TGA", "PCX", "PPM", "DDS", "EPS"):
        data = _pillow(image, fmt)
        for suffix in (".png", ".jpg", ".bmp"):
            out = check_readers(data, suffix, folder)
            assert isinstance(out["read_image"], ImageReadError), (fmt, suffix)
            assert isinstance(out["read_image_bytes"], ImageReadError), fmt


def test_empty_and_missing_files(folder):
    for suffix in READ_EXTENSIONS:
        out = check_readers(b"", suffix, folder)
        assert all(isinstance(v, ImageReadError) for v in out.values())
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(folder / "missing.png")
    with pytest.raises(ImageReadError, match="is a folder"):
        image_size(folder)


# --------------------------------------------------------------------------------------------
# Regressions: the bugs these fuzz tests found, each on a small hand-made file


def _with_tags(data: bytes, **values) -> bytes:
    """A TIFF with some tag values of its first page overwritten in place."""
    buffer = io.BytesIO(data)
    with tifffile.TiffFile(buffer, mode="r+b") as tif:
        for name, value in values.items():
            tif.pages.first.tags[name].overwrite(value)
    return buffer.getvalue()


_RNG = np.random.default_rng(3)
_PLANAR_W3 = _RNG.integers(0, 256, (3, 6, 3), dtype=np.uint8)
_PLANAR_W4 = _RNG.integers(0, 256, (3, 6, 4), dtype=np.uint8)
_GREY_ALPHA_3 = _RNG.integers(0, 256, (3, 7, 2), dtype=np.uint8)
_GREY_ALPHA_4 = _RNG.integers(0, 256, (4, 7, 2), dtype=np.uint8)
_GREY = _RNG.integers(0, 256, (6, 9), dtype=np.uint8)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            _tiff(_PLANAR_W3, photometric="rgb", planarconfig="separate"),
            np.moveaxis(_PLANAR_W3, 0, 2),
        ),
        (
            _tiff(_PLANAR_W4, photometric="rgb", planarconfig="separate"),
            np.moveaxis(_PLANAR_W4, 0, 2),
        ),
        (
            _tiff(_GREY_ALPHA_3, photometric="minisblack", extrasamples=["unassalpha"]),
            _GREY_ALPHA_3[:, :, 0],
        ),
        (
            _tiff(_GREY_ALPHA_4, photometric="minisblack", extrasamples=["unassalpha"]),
            _GREY_ALPHA_4[:, :, 0],
        ),
        (
            _with_tags(
                _tiff(_PLANAR_W4, photometric="rgb", planarconfig="separate"),
                SamplesPerPixel=1,
                PhotometricInterpretation=1,
            ),
            _PLANAR_W4[0],
        ),  # one sample, planar: legal, and tifffile gives it a leading axis of 1
    ],
    ids=[
        "planar-width-3",
        "planar-width-4",
        "grey-alpha-3-rows",
        "grey-alpha-4-rows",
        "planar-grey",
    ],
)
def test_tiff_samples_are_placed_by_the_page_axes(folder, data, expected):
    """Guessing planar layout from the array's shape misread these valid files."""
    out = check_readers(data, ".tif", folder)
    assert np.array_equal(out["read_image"], expected / np.float32(255))
    assert out["image_size"] == expected.shape[:2]


def test_tiff_volume_and_invalid_planar_configuration_are_refused(folder):
    volume = _tiff(np.zeros((4, 6, 5), np.uint8), volumetric=True, photometric="minisblack")
    with pytest.raises(ImageReadError, match="unsupported TIFF layout"):
        read_image_bytes(volume)
    rgb = SEEDS["tif8-rgb-zlib"][1]
    for value in (0, 3):  # tifffile returned planes of uninitialised memory
        data = _with_tags(rgb, PlanarConfiguration=value)
        out = check_readers(data, ".tif", folder)
        assert isinstance(out["read_image"], ImageReadError)
        assert "planar configuration" in str(out["read_image"])


@pytest.mark.parametrize("tiled", [False, True])
def test_tiff_claiming_more_strips_than_it_lists_is_refused_at_once(folder, tiled):
    """A 300-byte file claiming 20 million strips (or 1.5 million tiles) took 20 s and GBs."""
    if tiled:
        data = _with_tags(_tiff(_GREY, tile=(16, 16)), ImageWidth=20_000, ImageLength=19_999)
    else:
        data = _with_tags(_tiff(_GREY, rowsperstrip=1), ImageLength=20_000_000, ImageWidth=7)
    out = check_readers(data, ".tif", folder)
    for reader in ("read_image", "read_image_bytes", "stream"):
        assert isinstance(out[reader], ImageReadError)
        assert "TIFF is truncated or corrupt" in str(out[reader])


def test_tiff_of_zero_height_has_no_size(folder):
    data = _with_tags(_tiff(_GREY), ImageLength=0)
    out = check_readers(data, ".tif", folder)
    assert isinstance(out["image_size"], ImageReadError)
    assert "zero size" in str(out["image_size"])


def test_sparse_tiff_streams_like_the_whole_file(folder):
    """An empty strip (offset and byte count 0, as GDAL writes) shifted the next strip."""
    data = _tiff(_GREY, rowsperstrip=2)
    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        offsets = list(tif.pages.first.dataoffsets)
        counts = list(tif.pages.first.databytecounts)
    offsets[1] = counts[1] = 0
    data = _with_tags(data, StripOffsets=tuple(offsets), StripByteCounts=tuple(counts))
    expected = _GREY.copy()
    expected[2:4] = 0
    out = check_readers(data, ".tif", folder)
    assert np.array_equal(out["read_nir"], expected / np.float32(255))
    assert np.array_equal(out["stream"], out["read_nir"])


def test_tile_far_larger_than_the_image_is_not_decoded_at_full_size(folder):
    """The streaming reader decoded a 2**26 × 16 tile of a 6 × 9 image (10 s, 3 GB)."""
    data = _with_tags(_tiff(_GREY, tile=(16, 16)), TileWidth=2**26)
    check_readers(data, ".tif", folder)  # within the time limit, same result both ways


def test_camera_mpo_jpeg_is_still_read(folder):
    """Pillow opens JPEGs with several pictures (MPO) under their own format name."""
    frames = [Image.fromarray(np.full((8, 8, 3), v, np.uint8)) for v in (40, 200)]
    data = _pillow(frames[0], "MPO", save_all=True, append_images=frames[1:])
    out = check_readers(data, ".jpg", folder)
    assert out["read_image"].shape == (8, 8, 3)
    assert abs(float(out["read_image"].mean()) - 40 / 255) < 0.02


# --------------------------------------------------------------------------------------------
# A batch in a child process: a native crash (segfault, abort) must not go unnoticed


def test_mutated_files_do_not_crash_the_interpreter(tmp_path):
    root = Path(__file__).resolve().parents[1]
    code = (
        "import faulthandler, logging, sys; faulthandler.enable(); "
        "logging.disable(logging.CRITICAL); "
        "from tests.helpers.fuzz import mutation_batch; "
        f"sys.exit(min(mutation_batch(1000, 1234, {str(tmp_path)!r}), 100))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=240
    )
    report = "\n".join(line for line in result.stdout.splitlines() if line.startswith("case"))
    assert result.returncode >= 0, f"crashed with signal {-result.returncode}:\n{result.stderr}"
    assert result.returncode == 0, f"{result.returncode} failing cases:\n{report}"
