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
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import tifffile
from PIL import Image, UnidentifiedImageError

from ..errors import ImageReadError, ImageWriteError, already_exists, error_reason
from .atomic import output_exists, output_path, write_bytes_atomic
from .decoding import check_input_file, check_size, quiet_decoders
from .marks import with_software
from .orientation import (
    UPRIGHT,
    exif_orientation,
    oriented,
    pillow_tiff_orientation,
    tiff_orientation,
)
from .png import PNG_SIGNATURE, checked_16bit_colour_png, png_header, unshifted_bits
from .samples import (
    check_image_shape,
    check_input_bits,
    sample_bits,
    samples_to_float,
    to_uint,
    warn_if_dim,
)

READ_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
WRITE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
GREY_TOLERANCE = 3 / 255
"""Channels closer than this count as equal (JPEG round-off of a grey image saved as RGB)."""

TIFF_EXTENSIONS = (".tif", ".tiff")

_PILLOW_FORMATS = ("PNG", "JPEG", "BMP")
_HEADER_BYTES = 26  # enough for the PNG bit depth and the TIFF magic number
"""Formats Pillow may decode (JPEG includes camera MPO files); any other is refused unread.
TIFF, whatever the file's name, goes to tifffile (by extension or magic number)."""


class Decoded(NamedTuple):
    """An image file's samples as stored, the bits per sample the file declares when fewer
    than its sample type holds (PNG sBIT, TIFF BitsPerSample / MaxSampleValue), and its
    Orientation tag (:mod:`.orientation`; 1 once applied)."""

    samples: np.ndarray
    bits: int | None = None
    orientation: int = UPRIGHT

    def upright(self) -> Decoded:
        """The samples turned as the file's Orientation tag says: the image as shown."""
        return Decoded(oriented(self.samples, self.orientation), self.bits)


def read_image(path: str | os.PathLike, input_bits: int | None = None) -> np.ndarray:
    """Read an image file as float32 in [0, 1].

    Parameters
    ----------
    path : str or path-like
        A PNG, JPEG, TIFF or BMP file, 8- or 16-bit, grey or colour (alpha is dropped).
        A JPEG's EXIF Orientation (or a TIFF's Orientation tag) is applied: the image comes
        out as viewers show it.
    input_bits : int, optional
        Integer samples of more bits hold ``input_bits``-bit values (12 for a 12-bit camera
        writing 16-bit files): ``2**input_bits - 1`` is white. By default the file's own
        declaration (PNG sBIT, TIFF BitsPerSample / MaxSampleValue) or the full range; a
        16-bit image that then uses under 1/16 of its range gets a :class:`NircolorWarning`.

    Returns
    -------
    image : ndarray of float32
        ``(H, W)`` for a single-channel file, ``(H, W, 3)`` for a colour one.

    Raises
    ------
    ImageReadError
        If the file is missing, empty, truncated, not an image, larger than
        :data:`~nircolor.io.MAX_PIXELS` pixels (judged from its header), or holds samples
        above ``input_bits`` bits.
    ValueError
        If ``input_bits`` is not an integer from 1 to 16.
    """
    input_bits = check_input_bits(input_bits)
    path = Path(path)
    return decoded_to_float(decode_file(path), path, input_bits)


def decoded_to_float(decoded: Decoded, name, input_bits: int | None = None) -> np.ndarray:
    """Scale decoded samples to float32 in [0, 1] (see :func:`read_image`), warning when a
    16-bit image of undeclared bits is dim."""
    bits = sample_bits(decoded.samples.dtype, decoded.bits, input_bits)
    image = samples_to_float(decoded.samples, name, bits)
    if input_bits is None and decoded.bits is None:
        warn_if_dim(image, decoded.samples.dtype, name)
    return image


def read_raw(path: str | os.PathLike) -> np.ndarray:
    """Decode an image file's samples (uint8, uint16 or float; alpha kept), turned as shown,
    with the checks and one-line errors of :func:`read_image` but without scaling to float32."""
    return decode_file(path).samples


def decode_file(path: str | os.PathLike, upright: bool = True) -> Decoded:
    """:func:`read_raw`, with the bits per sample the file declares; ``upright=False``
    leaves the samples as stored (a raw sensor mosaic), with the file's orientation."""
    path = Path(path)
    check_input_file(path)
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path}: file is empty")
    try:
        with open(path, "rb") as f:
            header = f.read(_HEADER_BYTES)
    except OSError as error:
        raise ImageReadError(f"{path}: cannot read ({error_reason(error)})") from None
    if is_tiff_file(path, header):
        decoded = _decode_tiff(path, path)
    else:
        decoded = _decode_pillow(path, path, header)
    return decoded.upright() if upright else decoded


def is_tiff_file(path: Path, header: bytes) -> bool:
    """Whether a file is read as TIFF: by its extension, or by TIFF's magic number."""
    return path.suffix.lower() in TIFF_EXTENSIONS or header[:4] in TIFF_MAGIC


def read_nir(path: str | os.PathLike, input_bits: int | None = None) -> np.ndarray:
    """Read a near-infrared image as a float32 ``(H, W)`` array in [0, 1].

    A file with three equal channels (a grey image saved as RGB) is accepted; a real colour
    image is refused, since colorizing it would silently throw its colour away.
    ``input_bits`` is as for :func:`read_image`.
    """
    image = read_image(path, input_bits)
    return as_grey(image, name=str(path))


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """Read a colour image as a float32 ``(H, W, 3)`` array in [0, 1] (grey is replicated)."""
    image = read_image(path)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return image


def read_image_bytes(
    data: bytes, name: str = "upload", input_bits: int | None = None
) -> np.ndarray:
    """Read an image from the bytes of a file (an upload, say) as float32 in [0, 1].

    Same formats, checks and one-line messages as :func:`read_image`; TIFF is recognised by
    its magic number, and ``name`` stands for the file in messages.
    """
    input_bits = check_input_bits(input_bits)
    return decoded_to_float(decode_bytes(data, name), name, input_bits)


def decode_bytes(data: bytes, name: str = "upload", upright: bool = True) -> Decoded:
    """:func:`decode_file` for the bytes of a file (TIFF recognised by its magic number)."""
    data = bytes(data)
    if not data:
        raise ImageReadError(f"{name}: file is empty")
    if data[:4] in TIFF_MAGIC:
        decoded = _decode_tiff(io.BytesIO(data), name)
    else:
        decoded = _decode_pillow(io.BytesIO(data), name, data[:_HEADER_BYTES])
    return decoded.upright() if upright else decoded


def read_nir_bytes(data: bytes, name: str = "upload", input_bits: int | None = None):
    """Like :func:`read_nir`, for the bytes of a file: ``(H, W)`` float32, colour refused."""
    return as_grey(read_image_bytes(data, name, input_bits), name=name)


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
) -> Decoded:
    """Decode a PNG, JPEG or BMP file (or any of ``formats``) with Pillow, size checked first."""
    png = _png_header(source, name) if header.startswith(PNG_SIGNATURE) else None
    try:
        with quiet_decoders(), Image.open(source, formats=formats) as im:
            check_size(im.width, im.height, name)
            orientation = exif_orientation(im)
            if png is not None and png.bit_depth == 16 and png.colour_type in (2, 6):
                samples = _decode_16bit_colour_png(source, png, name)
            else:
                im.load()
                samples = _pillow_to_array(im)
            if im.format == "TIFF":
                orientation = pillow_tiff_orientation(im)
    except UnidentifiedImageError:
        raise ImageReadError(f"{name}: not an image file (or an unsupported format)") from None
    except ImageReadError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageReadError(f"{name}: cannot decode image ({error_reason(error)})") from None
    bits = None if png is None else unshifted_bits(samples, png)
    return Decoded(samples, bits, orientation)


def _png_header(source: Path | io.BytesIO, name):
    if isinstance(source, io.BytesIO):
        return png_header(source, name)
    with open(source, "rb") as f:
        return png_header(f, name)


def _decode_16bit_colour_png(source: Path | io.BytesIO, header, name) -> np.ndarray:
    # Pillow decodes 16-bit RGB(A) PNG to 8 bits; OpenCV keeps all 16.
    data = source.getvalue() if isinstance(source, io.BytesIO) else source.read_bytes()
    checked = checked_16bit_colour_png(data, header, name)
    image = cv2.imdecode(np.frombuffer(checked, np.uint8), cv2.IMREAD_UNCHANGED)
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


def _decode_tiff(source: Path | io.BytesIO, name) -> Decoded:
    """Decode a TIFF's first page with tifffile (Pillow for codecs tifffile lacks, e.g. LZW,
    or packed 12-bit samples)."""
    bits, orientation = None, UPRIGHT
    try:
        with quiet_decoders(), tifffile.TiffFile(source) as tif:
            page = tif.pages.first
            check_tiff_page(page, name)
            bits, orientation = tiff_declared_bits(page), tiff_orientation(page)
            image, axes = page.asarray(), page.axes
    except ImageReadError:
        raise
    except Exception as error:  # tifffile raises many kinds for corrupt files
        if "imagecodecs" in str(error):  # LZW, JPEG... compressed: Pillow's libtiff has them
            if isinstance(source, io.BytesIO):
                source.seek(0)
            decoded = _decode_pillow(source, name, b"", formats=("TIFF",))
            return Decoded(decoded.samples, bits, decoded.orientation)
        raise ImageReadError(f"{name}: cannot read TIFF ({error_reason(error)})") from None
    return Decoded(_tiff_samples_last(image, axes, name), bits, orientation)


def tiff_declared_bits(page) -> int | None:
    """Bits per sample a TIFF page declares (BitsPerSample, MaxSampleValue) when fewer than
    its integer sample type holds; ``None`` otherwise."""
    if page.dtype is None or page.dtype.kind != "u":
        return None
    bits = int(page.bitspersample)
    most = page.tags.valueof(281)  # MaxSampleValue, one per sample or one for all
    if most is not None:
        most = max(np.atleast_1d(most).tolist())
        if isinstance(most, int) and most > 0:
            bits = min(bits, most.bit_length())
    return bits if 1 <= bits < page.dtype.itemsize * 8 else None


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
    check_size(page.imagewidth, page.imagelength, path)
    if int(page.planarconfig) not in (1, 2):  # tifffile would return uninitialised memory
        raise ImageReadError(f"{path}: TIFF is corrupt (planar configuration {page.planarconfig})")
    expected = math.prod(page.chunked)
    if len(page.dataoffsets) < expected or len(page.databytecounts) < expected:
        raise ImageReadError(
            f"{path}: TIFF is truncated or corrupt (it lists {len(page.dataoffsets)} of its "
            f"{expected} strips or tiles)"
        )


def encode_image(
    image: np.ndarray, extension: str, bit_depth: int = 8, software: str | None = None
) -> bytes:
    """Encode an image to the bytes of a file of the given extension: floats in [0, 1],
    or uint8 / uint16 samples (their full range); see :func:`to_uint`. ``software`` names
    the program that wrote it (PNG, TIFF and JPEG keep it; :mod:`.marks`).

    Raises ValueError for an array that is not a non-empty ``(H, W)`` or ``(H, W, 3)``
    image (:func:`check_image_shape`) or whose samples :func:`to_uint` refuses."""
    image = check_image_shape(image)
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
        tifffile.imwrite(
            buffer, pixels, photometric=photometric, compression="zlib", software=software
        )
        return buffer.getvalue()
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if extension in (".jpg", ".jpeg") else []
    ok, buffer = cv2.imencode(extension, pixels, params)
    if not ok:
        raise ImageWriteError(f"could not encode image as {extension}")
    return with_software(buffer.tobytes(), software)


def write_image(
    path: str | os.PathLike,
    image: np.ndarray,
    bit_depth: int = 8,
    overwrite: bool = False,
    software: str | None = None,
) -> Path:
    """Write an image atomically.

    Parameters
    ----------
    path : str or path-like
        Target file; its extension chooses the format (.png, .jpg, .tif, .bmp).
    image : ndarray
        ``(H, W)`` or ``(H, W, 3)``: floats in [0, 1] (values outside are clipped), or
        uint8 / uint16 samples, their full range (uint8 written at 16 bits is scaled up);
        bool as 0 and 1. Signed integers and other types are refused.
    bit_depth : {8, 16}
        Bits per sample; 16 only for PNG and TIFF.
    overwrite : bool
        Replace an existing file. Without it an existing file is an error and stays as it is.
    software : str, optional
        The program that wrote it, kept in the file's header (not in BMP files).

    Returns
    -------
    path : Path
        The written file.

    Raises
    ------
    ValueError
        For an array that is not a non-empty ``(H, W)`` or ``(H, W, 3)`` image (a scalar,
        1-D, 4-D, 2 or 4 channels), NaN or infinite values, or samples of another type, such
        as int32 (nothing is written).
    ImageWriteError
        If ``path`` is empty, exists (without ``overwrite``) or cannot be written.
    """
    image = check_image_shape(image)
    path = output_path(path)
    if output_exists(path) and not overwrite:
        raise already_exists(path)
    data = encode_image(image, path.suffix, bit_depth, software)
    write_bytes_atomic(path, data, replace=overwrite)
    return path
