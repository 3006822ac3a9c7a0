"""Image reading and writing.

Inside nircolor every image is a float32 array in [0, 1]: ``(H, W)`` for NIR, ``(H, W, 3)``
for colour. Readers accept PNG, JPEG, TIFF (8- and 16-bit) and BMP; writers produce PNG,
JPEG, TIFF (8-bit, or 16-bit for PNG/TIFF) and BMP. Every write is atomic: the image is
encoded into a temporary file beside the target and renamed over it only when complete, so
a failed run never leaves a partial file and never touches a file it was not asked to
replace.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from pathlib import Path

import cv2
import numpy as np
import tifffile
from PIL import Image, UnidentifiedImageError

from ..errors import ImageReadError, ImageWriteError, already_exists, error_reason
from .atomic import output_exists, write_bytes_atomic

READ_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
WRITE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
MAX_PIXELS = 400_000_000
"""Largest image (width × height) nircolor accepts; beyond it an image is taken as absurd."""

GREY_TOLERANCE = 3 / 255
"""Channels closer than this count as equal (JPEG round-off of a grey image saved as RGB)."""

TIFF_EXTENSIONS = (".tif", ".tiff")

_PILLOW_FORMATS = ("PNG", "JPEG", "BMP")
_HEADER_BYTES = 26  # enough for the PNG bit depth and the TIFF magic number
"""Formats Pillow may decode (JPEG includes camera MPO files); any other is refused unread.
TIFF, whatever the file's name, goes to tifffile (by extension or magic number)."""


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as float32 in [0, 1].

    Parameters
    ----------
    path : str or path-like
        A PNG, JPEG, TIFF or BMP file, 8- or 16-bit, grey or colour (alpha is dropped).

    Returns
    -------
    image : ndarray of float32
        ``(H, W)`` for a single-channel file, ``(H, W, 3)`` for a colour one.

    Raises
    ------
    ImageReadError
        If the file is missing, empty, truncated, not an image, or of absurd size.
    """
    path = Path(path)
    return samples_to_float(read_raw(path), path)


def read_raw(path: str | os.PathLike) -> np.ndarray:
    """Decode an image file as stored (uint8, uint16 or float; alpha kept), with the checks
    and one-line errors of :func:`read_image` but without scaling to float32."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path}: file is empty")
    try:
        with open(path, "rb") as f:
            header = f.read(_HEADER_BYTES)
    except OSError as error:
        raise ImageReadError(f"{path}: cannot read ({error_reason(error)})") from None
    if is_tiff_file(path, header):
        return _decode_tiff(path, path)
    return _decode_pillow(path, path, header)


def is_tiff_file(path: Path, header: bytes) -> bool:
    """Whether a file is read as TIFF: by its extension, or by TIFF's magic number."""
    return path.suffix.lower() in TIFF_EXTENSIONS or header[:4] in TIFF_MAGIC


def read_nir(path: str | os.PathLike) -> np.ndarray:
    """Read a near-infrared image as a float32 ``(H, W)`` array in [0, 1].

    A file with three equal channels (a grey image saved as RGB) is accepted; a real colour
    image is refused, since colorizing it would silently throw its colour away.
    """
    image = read_image(path)
    return as_grey(image, name=str(path))


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """Read a colour image as a float32 ``(H, W, 3)`` array in [0, 1] (grey is replicated)."""
    image = read_image(path)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return image


def read_image_bytes(data: bytes, name: str = "upload") -> np.ndarray:
    """Read an image from the bytes of a file (an upload, say) as float32 in [0, 1].

    Same formats, checks and one-line messages as :func:`read_image`; TIFF is recognised by
    its magic number, and ``name`` stands for the file in messages.
    """
    data = bytes(data)
    if not data:
        raise ImageReadError(f"{name}: file is empty")
    if data[:4] in TIFF_MAGIC:
        raw = _decode_tiff(io.BytesIO(data), name)
    else:
        raw = _decode_pillow(io.BytesIO(data), name, data[:_HEADER_BYTES])
    return samples_to_float(raw, name)


def read_nir_bytes(data: bytes, name: str = "upload") -> np.ndarray:
    """Like :func:`read_nir`, for the bytes of a file: ``(H, W)`` float32, colour refused."""
    return as_grey(read_image_bytes(data, name), name=name)


TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
"""First four bytes of a TIFF (and BigTIFF) file, little- and big-endian."""


def as_grey(image: np.ndarray, name: str = "image") -> np.ndarray:
    """Return a single-channel view of an NIR image, refusing real colour images."""
    if image.ndim == 2:
        return image
    spread = image.max(axis=2) - image.min(axis=2)
    if np.mean(spread > GREY_TOLERANCE) > 0.01:
        raise ImageReadError(
            f"{name}: this is a colour image, but NIR input must be single-channel "
            "(or three equal channels)"
        )
    return image.mean(axis=2, dtype=np.float32)


def _decode_pillow(
    source: Path | io.BytesIO, name, header: bytes, formats: tuple[str, ...] = _PILLOW_FORMATS
) -> np.ndarray:
    """Decode a PNG, JPEG or BMP file (or any of ``formats``) with Pillow, size checked first."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(source, formats=formats) as im:
                _check_size(im.width, im.height, name)
                if im.format == "PNG" and im.mode in ("RGB", "RGBA") and header[24:25] == b"\x10":
                    return _decode_16bit_colour_png(source, name)
                im.load()
                return _pillow_to_array(im)
    except Image.DecompressionBombError as error:
        raise ImageReadError(f"{name}: image too large ({error})") from None
    except UnidentifiedImageError:
        raise ImageReadError(f"{name}: not an image file (or an unsupported format)") from None
    except ImageReadError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageReadError(f"{name}: cannot decode image ({error_reason(error)})") from None


def _decode_16bit_colour_png(source: Path | io.BytesIO, name) -> np.ndarray:
    # Pillow decodes 16-bit RGB(A) PNG to 8 bits; OpenCV keeps all 16.
    if isinstance(source, io.BytesIO):
        data = np.frombuffer(source.getvalue(), np.uint8)
    else:
        data = np.fromfile(source, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None or image.dtype != np.uint16:
        raise ImageReadError(f"{name}: cannot decode 16-bit PNG (truncated or corrupt)")
    return cv2.cvtColor(image[:, :, :3], cv2.COLOR_BGR2RGB)


def _pillow_to_array(im: Image.Image) -> np.ndarray:
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        return np.asarray(im).astype(np.uint16 if im.mode != "I" else np.int64)
    if im.mode == "F":
        return np.asarray(im, dtype=np.float32)
    if im.mode in ("1", "L", "LA", "P", "PA"):
        im = im.convert("L") if im.mode in ("1", "L", "LA") else im.convert("RGB")
    elif im.mode != "RGB":
        im = im.convert("RGB")
    return np.asarray(im)


def _decode_tiff(source: Path | io.BytesIO, name) -> np.ndarray:
    """Decode a TIFF's first page with tifffile (Pillow for codecs tifffile lacks, e.g. LZW)."""
    try:
        with tifffile.TiffFile(source) as tif:
            page = tif.pages.first
            check_tiff_page(page, name)
            image, axes = page.asarray(), page.axes
    except ImageReadError:
        raise
    except Exception as error:  # tifffile raises many kinds for corrupt files
        if "imagecodecs" in str(error):  # LZW, JPEG... compressed: Pillow's libtiff has them
            if isinstance(source, io.BytesIO):
                source.seek(0)
            return _decode_pillow(source, name, b"", formats=("TIFF",))
        raise ImageReadError(f"{name}: cannot read TIFF ({error_reason(error)})") from None
    return _tiff_samples_last(image, axes, name)


def _check_size(width: int, height: int, path: Path) -> None:
    if width <= 0 or height <= 0:
        raise ImageReadError(f"{path}: image has zero size ({width}x{height})")
    if width * height > MAX_PIXELS:
        raise ImageReadError(
            f"{path}: image of {width}x{height} pixels is larger than the limit of "
            f"{MAX_PIXELS:,} pixels"
        )


def _tiff_samples_last(image: np.ndarray, axes: str, path: Path) -> np.ndarray:
    """Arrange a TIFF page's array as ``(H, W)`` or ``(H, W, samples)``, from its axes."""
    if axes.startswith("S") and image.ndim == 3:  # planar: one plane per sample
        image, axes = np.moveaxis(image, 0, 2), axes[1:] + "S"
    if axes not in ("YX", "YXS") or image.ndim != len(axes):
        raise ImageReadError(f"{path}: unsupported TIFF layout (axes {axes}, shape {image.shape})")
    return image


def check_tiff_page(page, path: Path) -> None:
    """Check a TIFF page's size and that it lists every strip / tile it claims to have.

    A tiny file may claim millions of strips; tifffile would then decode them one by one
    (seconds to minutes, gigabytes of zeros) instead of failing.
    """
    _check_size(page.imagewidth, page.imagelength, path)
    if int(page.planarconfig) not in (1, 2):  # tifffile would return uninitialised memory
        raise ImageReadError(f"{path}: TIFF is corrupt (planar configuration {page.planarconfig})")
    expected = math.prod(page.chunked)
    if len(page.dataoffsets) < expected or len(page.databytecounts) < expected:
        raise ImageReadError(
            f"{path}: TIFF is truncated or corrupt (it lists {len(page.dataoffsets)} of its "
            f"{expected} strips or tiles)"
        )


def samples_to_float(raw: np.ndarray, path: Path) -> np.ndarray:
    if raw.size == 0:
        raise ImageReadError(f"{path}: image has zero size")
    if raw.ndim == 3 and raw.shape[2] == 1:
        raw = raw[:, :, 0]
    if raw.ndim == 3 and raw.shape[2] == 2:  # grey + alpha
        raw = raw[:, :, 0]
    if raw.ndim == 3 and raw.shape[2] >= 4:  # drop alpha
        raw = raw[:, :, :3]
    if raw.ndim not in (2, 3) or (raw.ndim == 3 and raw.shape[2] != 3):
        raise ImageReadError(f"{path}: unsupported image layout {raw.shape}")
    if raw.dtype == np.uint8:
        return raw.astype(np.float32) / 255.0
    if raw.dtype == np.uint16 or (raw.dtype.kind in "iu" and raw.max() <= 65535 and raw.min() >= 0):
        return raw.astype(np.float32) / 65535.0
    if raw.dtype == bool:
        return raw.astype(np.float32)
    if raw.dtype.kind == "f":
        image = raw.astype(np.float32)
        if not np.all(np.isfinite(image)) or image.min() < 0 or image.max() > 1:
            raise ImageReadError(f"{path}: floating-point image values must lie in [0, 1]")
        return image
    raise ImageReadError(f"{path}: unsupported pixel type {raw.dtype}")


def to_uint(image: np.ndarray, bit_depth: int = 8) -> np.ndarray:
    """Quantise a float image in [0, 1] to uint8 or uint16 (rounding, clipping)."""
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, not {bit_depth}")
    top = 255 if bit_depth == 8 else 65535
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    return np.clip(np.rint(np.asarray(image, dtype=np.float32) * top), 0, top).astype(dtype)


def encode_image(image: np.ndarray, extension: str, bit_depth: int = 8) -> bytes:
    """Encode a float image in [0, 1] to the bytes of a file of the given extension."""
    extension = extension.lower()
    if extension not in WRITE_EXTENSIONS:
        raise ImageWriteError(
            f"cannot write '{extension}' files; use one of {', '.join(WRITE_EXTENSIONS)}"
        )
    if bit_depth == 16 and extension not in (".png", ".tif", ".tiff"):
        raise ImageWriteError("16-bit output is only possible for PNG and TIFF")
    pixels = to_uint(image, bit_depth)
    if extension in TIFF_EXTENSIONS:
        buffer = io.BytesIO()
        photometric = "rgb" if pixels.ndim == 3 else "minisblack"
        tifffile.imwrite(buffer, pixels, photometric=photometric, compression="zlib")
        return buffer.getvalue()
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if extension in (".jpg", ".jpeg") else []
    ok, buffer = cv2.imencode(extension, pixels, params)
    if not ok:
        raise ImageWriteError(f"could not encode image as {extension}")
    return buffer.tobytes()


def write_image(
    path: str | os.PathLike,
    image: np.ndarray,
    bit_depth: int = 8,
    overwrite: bool = False,
) -> Path:
    """Write a float image in [0, 1] atomically.

    Parameters
    ----------
    path : str or path-like
        Target file; its extension chooses the format (.png, .jpg, .tif, .bmp).
    image : ndarray
        ``(H, W)`` or ``(H, W, 3)`` float image in [0, 1] (values outside are clipped).
    bit_depth : {8, 16}
        Bits per sample; 16 only for PNG and TIFF.
    overwrite : bool
        Replace an existing file. Without it an existing file is an error and stays as it is.

    Returns
    -------
    path : Path
        The written file.
    """
    path = Path(path)
    if output_exists(path) and not overwrite:
        raise already_exists(path)
    data = encode_image(image, path.suffix, bit_depth)
    write_bytes_atomic(path, data, replace=overwrite)
    return path
