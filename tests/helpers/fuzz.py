"""Seed image files, their mutations and the reader checks of the fuzz tests.

``mutation_batch`` also runs in a child process (``from tests.helpers.fuzz import ...``).
"""

from __future__ import annotations

import io
import random
import signal
import struct
import time
import zlib
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import tifffile
from hypothesis import strategies as st
from PIL import Image

from nircolor.errors import ImageReadError
from nircolor.io import (
    image_size,
    open_rows,
    read_image,
    read_image_bytes,
    read_nir,
    read_nir_bytes,
    read_rgb,
)

TIME_LIMIT = 2.0
"""Seconds one reader may take on one (tiny) input; a hang is cut at 3 × this."""

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
VALUES = (0, 1, 2, 3, 7, 16, 255, 0x4000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0xFFFFFFFF)
"""Integers written over header fields and random bytes: zero, tiny, huge, sign bits."""


# --------------------------------------------------------------------------------------------
# Valid seed files


def _tiff(array: np.ndarray, **options) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array, **options)
    return buffer.getvalue()


def _pillow(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _make_seeds() -> dict[str, tuple[str, bytes, np.ndarray]]:
    """name -> (suffix, file bytes, expected float image), all small (a few hundred bytes)."""
    rng = np.random.default_rng(7)
    grey8 = rng.integers(0, 256, (6, 9), dtype=np.uint8)
    rgb8 = rng.integers(0, 256, (6, 9, 3), dtype=np.uint8)
    grey16 = rng.integers(0, 65536, (6, 9), dtype=np.uint16)
    rgb16 = rng.integers(0, 65536, (6, 9, 3), dtype=np.uint16)
    smooth = np.repeat(np.linspace(0, 255, 16, dtype=np.uint8)[None, :], 8, axis=0)
    colour = np.stack([smooth, smooth[:, ::-1], np.full_like(smooth, 90)], axis=2)

    def png(array):
        return cv2.imencode(".png", array[..., ::-1] if array.ndim == 3 else array)[1].tobytes()

    def unit(array):
        return array.astype(np.float32) / (255.0 if array.dtype == np.uint8 else 65535.0)

    seeds = {
        "png8-grey": (".png", png(grey8), unit(grey8)),
        "png8-rgb": (".png", png(rgb8), unit(rgb8)),
        "png16-grey": (".png", png(grey16), unit(grey16)),
        "png16-rgb": (".png", png(rgb16), unit(rgb16)),
        "png8-rgba": (".png", _pillow(Image.fromarray(rgb8).convert("RGBA"), "PNG"), unit(rgb8)),
        "png-palette": (
            ".png",
            _pillow(Image.fromarray(colour).quantize(16), "PNG"),
            None,  # quantised: shape only
        ),
        "jpeg-grey": (".jpg", _pillow(Image.fromarray(smooth), "JPEG", quality=95), None),
        "jpeg-rgb": (".jpeg", _pillow(Image.fromarray(colour), "JPEG", quality=95), None),
        "jpeg-progressive": (
            ".jpg",
            _pillow(Image.fromarray(colour), "JPEG", quality=90, progressive=True),
            None,
        ),
        "bmp-rgb": (".bmp", _pillow(Image.fromarray(rgb8), "BMP"), unit(rgb8)),
        "bmp-grey": (".bmp", _pillow(Image.fromarray(grey8), "BMP"), unit(grey8)),
        "tif8-grey": (".tif", _tiff(grey8), unit(grey8)),
        "tif8-rgb-zlib": (
            ".tiff",
            _tiff(rgb8, photometric="rgb", compression="zlib"),
            unit(rgb8),
        ),
        "tif16-grey-zlib": (".tif", _tiff(grey16, compression="zlib"), unit(grey16)),
        "tif16-rgb": (".tif", _tiff(rgb16, photometric="rgb"), unit(rgb16)),
        "tif8-grey-strips": (".tif", _tiff(grey8, rowsperstrip=2), unit(grey8)),
        "tif8-rgb-tiled": (".tif", _tiff(rgb8, photometric="rgb", tile=(16, 16)), unit(rgb8)),
        "tif16-rgb-planar": (
            ".tif",
            _tiff(np.moveaxis(rgb16, 2, 0), photometric="rgb", planarconfig="separate"),
            unit(rgb16),
        ),
        "tif-float": (".tif", _tiff(unit(grey16)), unit(grey16)),
        "tif-bigendian": (".tif", _tiff(grey16, byteorder=">"), unit(grey16)),
    }
    return seeds


SEEDS = _make_seeds()
SEED_NAMES = sorted(SEEDS)


# --------------------------------------------------------------------------------------------
# Header fields worth overwriting: (offset, size in bytes, byte order, name)


def _png_fields(data: bytes) -> list[tuple[int, int, str, str]]:
    return [
        (16, 4, ">", "width"),
        (20, 4, ">", "height"),
        (24, 1, ">", "bit depth"),
        (25, 1, ">", "colour type"),
    ]


def _jpeg_fields(data: bytes) -> list[tuple[int, int, str, str]]:
    fields = []
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        at = data.find(marker)
        if at >= 0:
            fields += [
                (at + 4, 1, ">", "precision"),
                (at + 5, 2, ">", "height"),
                (at + 7, 2, ">", "width"),
                (at + 9, 1, ">", "components"),
            ]
    at = data.find(b"\xff\xc4")  # a Huffman table's length
    if at >= 0:
        fields.append((at + 2, 2, ">", "DHT length"))
    return fields


def _bmp_fields(data: bytes) -> list[tuple[int, int, str, str]]:
    return [
        (2, 4, "<", "file size"),
        (10, 4, "<", "pixel offset"),
        (14, 4, "<", "header size"),
        (18, 4, "<", "width"),
        (22, 4, "<", "height"),
        (28, 2, "<", "bits"),
        (30, 4, "<", "compression"),
        (46, 4, "<", "colours used"),
    ]


_TIFF_TAGS = (
    "ImageWidth",
    "ImageLength",
    "BitsPerSample",
    "SamplesPerPixel",
    "RowsPerStrip",
    "StripOffsets",
    "StripByteCounts",
    "TileWidth",
    "TileLength",
    "TileOffsets",
    "TileByteCounts",
    "PlanarConfiguration",
    "Compression",
    "PhotometricInterpretation",
    "SampleFormat",
)


def _tiff_fields(data: bytes) -> list[tuple[int, int, str, str]]:
    fields = [(4, 4, "<" if data[:2] == b"II" else ">", "first IFD offset")]
    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        order = tif.byteorder
        for tag in tif.pages.first.tags:
            if tag.name in _TIFF_TAGS:
                size = struct.calcsize(tag.dataformat[-1])
                fields.append((tag.valueoffset, size, order, tag.name))
                fields.append((tag.offset + 2, 2, order, f"{tag.name} type"))
                fields.append((tag.offset + 4, 4, order, f"{tag.name} count"))
    return fields


def _fields(name: str) -> list[tuple[int, int, str, str]]:
    suffix, data, _ = SEEDS[name]
    if suffix == ".png":
        return _png_fields(data)
    if suffix in (".jpg", ".jpeg"):
        return _jpeg_fields(data)
    if suffix == ".bmp":
        return _bmp_fields(data)
    return _tiff_fields(data)


FIELDS = {name: _fields(name) for name in SEED_NAMES}


# --------------------------------------------------------------------------------------------
# Mutations. An operation is a tuple; positions are taken modulo the data's length, so any
# integer is valid and hypothesis shrinks them towards the start of the file.


def _fix_png_crcs(data: bytearray) -> bytearray:
    """Recompute the CRC of every complete PNG chunk (to get past the CRC checks)."""
    at = len(PNG_SIGNATURE)
    while at + 12 <= len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        end = at + 12 + length
        if end > len(data):
            break
        data[end - 4 : end] = struct.pack(">I", zlib.crc32(bytes(data[at + 4 : end - 4])))
        at = end
    return data


def _boundaries(data: bytes) -> list[int]:
    """Offsets where a PNG chunk or a JPEG marker segment may be inserted."""
    if data.startswith(PNG_SIGNATURE):
        at, found = len(PNG_SIGNATURE), [len(PNG_SIGNATURE)]
        while at + 12 <= len(data):
            at += 12 + struct.unpack(">I", data[at : at + 4])[0]
            found.append(min(at, len(data)))
        return found
    if data.startswith(b"\xff\xd8"):
        at, found = 2, [2]
        while at + 4 <= len(data) and data[at] == 0xFF and data[at + 1] not in (0xD9, 0xDA):
            at += 2 + struct.unpack(">H", data[at + 2 : at + 4])[0]
            found.append(min(at, len(data)))
        return found
    return [0, len(data)]


def _segment(data: bytes, kind: bytes, body: bytes) -> bytes:
    if data.startswith(b"\xff\xd8"):  # JPEG marker segment: FF xx, length, body
        marker = b"\xff" + bytes([0xC0 + kind[0] % 0x3F])
        return marker + struct.pack(">H", len(body) + 2) + body
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _apply(name: str, data: bytes, op: tuple) -> bytes:
    buf = bytearray(data)
    n = len(buf)
    kind = op[0]
    if kind == "header":
        fields = FIELDS[name]
        if fields:
            offset, size, order, _ = fields[op[1] % len(fields)]
            value = (op[2] & ((1 << (8 * size)) - 1)).to_bytes(
                size, "big" if order == ">" else "little"
            )
            buf[offset : offset + size] = value
            if op[3] and buf.startswith(PNG_SIGNATURE):
                buf = _fix_png_crcs(buf)
        return bytes(buf)
    if n == 0:
        return bytes(op[2]) if kind == "insert" else b""
    if kind == "flip":
        buf[op[1] % n] ^= 1 << op[2]
    elif kind == "truncate":
        del buf[op[1] % n :]
    elif kind == "insert":
        at = op[1] % (n + 1)
        buf[at:at] = op[2]
    elif kind == "delete":
        at = op[1] % n
        del buf[at : at + op[2]]
    elif kind == "repeat":  # a run of the file copied elsewhere (duplicated chunk / strip)
        start = op[1] % n
        piece = bytes(buf[start : start + op[2]])
        at = op[3] % (n + 1)
        buf[at:at] = piece
    elif kind == "overwrite":
        at, size = op[1] % n, op[2]
        buf[at : at + size] = (op[3] & ((1 << (8 * size)) - 1)).to_bytes(size, op[4])
    elif kind == "segment":  # a well-formed PNG chunk / JPEG segment at a chunk boundary
        places = _boundaries(bytes(buf))
        at = places[op[1] % len(places)]
        buf[at:at] = _segment(bytes(buf), op[2], op[3])
    return bytes(buf)


positions = st.integers(min_value=0, max_value=2**16)
operations = st.one_of(
    st.tuples(st.just("flip"), positions, st.integers(0, 7)),
    st.tuples(st.just("truncate"), positions),
    st.tuples(st.just("insert"), positions, st.binary(min_size=1, max_size=48)),
    st.tuples(st.just("delete"), positions, st.integers(1, 64)),
    st.tuples(st.just("repeat"), positions, st.integers(1, 64), positions),
    st.tuples(
        st.just("overwrite"),
        positions,
        st.sampled_from((1, 2, 4)),
        st.sampled_from(VALUES),
        st.sampled_from(("little", "big")),
    ),
    st.tuples(st.just("header"), positions, st.sampled_from(VALUES), st.booleans()),
    st.tuples(
        st.just("segment"),
        positions,
        st.sampled_from((b"IHDR", b"IDAT", b"PLTE", b"tRNS", b"IEND", b"sBIT", b"iCCP", b"zzZz")),
        st.binary(max_size=40),
    ),
)


def _random_op(rng: random.Random) -> tuple:
    """The same operations as ``operations``, drawn by ``random`` (for the child process)."""
    kinds = ("flip", "truncate", "insert", "delete", "repeat", "overwrite", "header", "segment")
    kind = rng.choice(kinds)
    pos = rng.randrange(2**16)
    if kind == "flip":
        return (kind, pos, rng.randrange(8))
    if kind == "truncate":
        return (kind, pos)
    if kind == "insert":
        return (kind, pos, rng.randbytes(rng.randrange(1, 48)))
    if kind == "delete":
        return (kind, pos, rng.randrange(1, 64))
    if kind == "repeat":
        return (kind, pos, rng.randrange(1, 64), rng.randrange(2**16))
    if kind == "overwrite":
        return (kind, pos, rng.choice((1, 2, 4)), rng.choice(VALUES), rng.choice(("little", "big")))
    if kind == "header":
        return (kind, pos, rng.choice(VALUES), rng.random() < 0.5)
    chunk = rng.choice((b"IHDR", b"IDAT", b"PLTE", b"tRNS", b"IEND", b"sBIT", b"iCCP", b"zzZz"))
    return (kind, pos, chunk, rng.randbytes(rng.randrange(40)))


# --------------------------------------------------------------------------------------------
# The property


class Hang(BaseException):
    """Raised by the alarm: a BaseException, so that no reader's ``except Exception`` eats it."""


@contextmanager
def _time_limit(what: str):
    """Fail if the block takes longer than TIME_LIMIT; interrupt it at 3 × TIME_LIMIT."""

    def on_alarm(signum, frame):
        raise Hang(f"{what}: still running after {3 * TIME_LIMIT} s")

    use_alarm = hasattr(signal, "setitimer")
    if use_alarm:
        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, 3 * TIME_LIMIT)
    start = time.perf_counter()
    try:
        yield
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    elapsed = time.perf_counter() - start
    assert elapsed < TIME_LIMIT, f"{what} took {elapsed:.2f} s"


def _check_image(image, what: str, ndim: int | None = None) -> None:
    assert isinstance(image, np.ndarray), f"{what} returned {type(image)}"
    assert image.dtype == np.float32, f"{what} returned {image.dtype}"
    assert image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3), (
        f"{what} returned shape {image.shape}"
    )
    assert ndim is None or image.ndim == ndim, f"{what} returned shape {image.shape}"
    assert image.shape[0] > 0 and image.shape[1] > 0, f"{what} returned shape {image.shape}"
    assert np.all(np.isfinite(image)), f"{what} returned non-finite values"
    assert image.min() >= 0.0 and image.max() <= 1.0, f"{what} returned values outside [0, 1]"


def _outcome(what: str, call, ndim: int | None = None):
    """Run one reader; return its image, or the ImageReadError it raised."""
    with _time_limit(what):
        try:
            image = call()
        except ImageReadError as error:
            message = str(error)
            assert message and "\n" not in message, f"{what}: message is not one line: {message!r}"
            return error
        # anything else propagates: the test fails with the reader's own traceback
    _check_image(image, what, ndim)
    return image


def _stream(path: Path) -> np.ndarray:
    """All rows of a file through the streaming reader of colorize_large_file."""
    source = open_rows(path)
    try:
        return source(0, source.shape[0])
    finally:
        source.close()


def check_readers(data: bytes, suffix: str, folder: Path) -> dict:
    """Every reader on ``data`` (saved as ``fuzz<suffix>``); return the outcomes by reader."""
    path = folder / f"fuzz{suffix}"
    path.write_bytes(data)
    out = {
        "read_image": _outcome("read_image", lambda: read_image(path)),
        "read_nir": _outcome("read_nir", lambda: read_nir(path), ndim=2),
        "read_rgb": _outcome("read_rgb", lambda: read_rgb(path), ndim=3),
        "read_image_bytes": _outcome("read_image_bytes", lambda: read_image_bytes(data)),
        "read_nir_bytes": _outcome("read_nir_bytes", lambda: read_nir_bytes(data), ndim=2),
        "stream": _outcome("streaming reader", lambda: _stream(path), ndim=2),
    }
    with _time_limit("image_size"):
        try:
            size = image_size(path)
        except ImageReadError as error:
            assert "\n" not in str(error)
            size = error
    if not isinstance(size, ImageReadError):
        assert isinstance(size, tuple) and len(size) == 2, size
        assert all(isinstance(v, int) and v > 0 for v in size), f"image_size gave {size}"
    out["image_size"] = size

    image = out["read_image"]
    if isinstance(image, np.ndarray):
        # the other readers agree with read_image
        nir, rgb = out["read_nir"], out["read_rgb"]
        assert isinstance(rgb, np.ndarray) and rgb.shape[:2] == image.shape[:2]
        if image.ndim == 2:
            assert np.array_equal(nir, image) and np.array_equal(rgb[:, :, 1], image)
        if isinstance(nir, np.ndarray):
            assert nir.shape == image.shape[:2]
            stream = out["stream"]
            if isinstance(stream, np.ndarray):
                assert np.array_equal(stream, nir), "streaming and whole-file readers differ"
    else:
        assert isinstance(out["read_nir"], ImageReadError)
        assert isinstance(out["read_rgb"], ImageReadError)
    by_bytes = out["read_image_bytes"]
    if isinstance(image, np.ndarray) and isinstance(by_bytes, np.ndarray):
        # Both decoded the same bytes. (One may refuse what the other accepts: for a file
        # Pillow maps raw pixel data instead of running the decoder that checks it.)
        assert np.array_equal(by_bytes, image), "path and bytes readers decode differently"
    return out


def mutation_batch(count: int, seed: int, folder: str) -> int:
    """Run ``count`` random mutations through ``check_readers``; return the failures."""
    rng = random.Random(seed)
    failures = 0
    for index in range(count):
        name = rng.choice(SEED_NAMES)
        suffix, data, _ = SEEDS[name]
        ops = [_random_op(rng) for _ in range(rng.randrange(1, 4))]
        for op in ops:
            data = _apply(name, data, op)
        try:
            check_readers(data, suffix, Path(folder))
        except (Exception, Hang) as error:
            failures += 1
            print(f"case {index} {name} {ops!r}: {type(error).__name__}: {error}", flush=True)
    return failures
