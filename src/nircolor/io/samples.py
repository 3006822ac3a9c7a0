"""Samples as stored in files (or given by callers) to float32 in [0, 1], and back.

Integer samples map their full range to [0, 1] unless fewer bits are known to be used: the
file says so (PNG sBIT, TIFF BitsPerSample / MaxSampleValue) or the caller does
(``input_bits``: 12-bit NIR cameras often write 16-bit files holding values 0..4095).
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from ..errors import ImageReadError, NircolorWarning

DIM_FRACTION = 1 / 16
"""A 16-bit image whose values all lie below this fraction of its range gets a warning."""

ARRAY_TYPES = "floats in [0, 1], uint8 or uint16 (their full range)"
"""The sample types nircolor takes in arrays from Python code (bool too: 0 and 1)."""


def check_array_type(image: np.ndarray, name: str = "image", integers: bool = True) -> None:
    """Refuse an array from Python code whose sample type nircolor does not take.

    Signed integers are refused whatever their values: 255 in an int32 could be 8-bit white
    or 16-bit near-black, and guessing either would colour the image wrongly.

    Parameters
    ----------
    image : ndarray
        The array given.
    name : str
        Names the array in the message.
    integers : bool
        Whether uint8 / uint16 are taken (as their full range); without, only floats in
        [0, 1] (and bool) are, as by a model's ``predict``.

    Raises
    ------
    ValueError
        For any other type (int8 to int64, uint32, complex, object...), naming the accepted.
    """
    dtype = image.dtype
    if dtype.kind in "fb" or (integers and dtype in (np.uint8, np.uint16)):
        return
    accepted = ARRAY_TYPES if integers else "floats in [0, 1] (uint8 / 255, uint16 / 65535)"
    raise ValueError(f"{name}: pixel type {dtype} is not accepted; give {accepted}")


def check_image_shape(image: np.ndarray, name: str = "image") -> np.ndarray:
    """``image`` as a non-empty ``(H, W)`` or ``(H, W, 3)`` array (``(H, W, 1)`` becomes
    ``(H, W)``), or a ValueError.

    Raises
    ------
    ValueError
        For any other shape: a scalar, 1-D or 4-D array, 2 or 4 channels, or a side of 0.
    """
    image = np.asarray(image)
    shape = image.shape
    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] not in (1, 3)) or 0 in shape[:2]:
        raise ValueError(f"{name} must be a non-empty (H, W) or (H, W, 3) array, got shape {shape}")
    return image[..., 0] if image.ndim == 3 and shape[2] == 1 else image


def check_input_bits(input_bits) -> int | None:
    """Validate ``input_bits``: ``None`` or an integer from 1 to 16."""
    if input_bits is None:
        return None
    if (
        isinstance(input_bits, (bool, np.bool_))
        or not isinstance(input_bits, numbers.Integral)
        or not 1 <= input_bits <= 16
    ):
        raise ValueError(f"input_bits must be an integer from 1 to 16, not {input_bits!r}")
    return int(input_bits)


def sample_bits(dtype, declared: int | None = None, input_bits: int | None = None) -> int | None:
    """The bits of integer samples that map to 1.0, or ``None`` for the type's full range.

    ``input_bits`` (the caller's) wins over ``declared`` (the file's); either counts only
    when it is fewer than the samples' own bits, so 8-bit files keep their range.
    """
    dtype = np.dtype(dtype)
    if dtype.kind not in "ui":
        return None
    depth = 8 if dtype == np.uint8 else 16
    bits = input_bits if input_bits is not None else declared
    return bits if bits is not None and 1 <= bits < depth else None


def samples_to_float(raw: np.ndarray, path, bits: int | None = None) -> np.ndarray:
    """Scale an image's samples to float32 in [0, 1] (alpha dropped, grey + alpha to grey).

    Parameters
    ----------
    raw : ndarray
        uint8 or uint16 (or other non-negative integers up to 65535), bool, or float in [0, 1].
    path : str or Path
        Names the image in messages.
    bits : int, optional
        Integer samples hold ``bits``-bit values: ``2**bits - 1`` maps to 1.0.

    Raises
    ------
    ImageReadError
        For an unsupported layout or type, NaN or infinite values, floats outside [0, 1],
        or samples above what ``bits`` bits hold.
    """
    if raw.size == 0:
        raise ImageReadError(f"{path}: image has zero size")
    if raw.ndim == 3 and raw.shape[2] in (1, 2):  # grey, grey + alpha
        raw = raw[:, :, 0]
    if raw.ndim == 3 and raw.shape[2] >= 4:  # drop alpha
        raw = raw[:, :, :3]
    if raw.ndim not in (2, 3) or (raw.ndim == 3 and raw.shape[2] != 3):
        raise ImageReadError(f"{path}: unsupported image layout {raw.shape}")
    if raw.dtype == bool:
        return raw.astype(np.float32)
    if raw.dtype.kind == "f":
        image = raw.astype(np.float32)
        check_finite(image, path, ImageReadError)
        if image.min() < 0 or image.max() > 1:
            raise ImageReadError(f"{path}: floating-point image values must lie in [0, 1]")
        return image
    if raw.dtype.kind not in "iu" or (
        raw.dtype not in (np.uint8, np.uint16) and (raw.min() < 0 or raw.max() > 65535)
    ):
        raise ImageReadError(f"{path}: unsupported pixel type {raw.dtype}")
    top = 255 if raw.dtype == np.uint8 else 65535
    if bits is not None:
        top = 2**bits - 1
        peak = int(raw.max())
        if peak > top:
            raise ImageReadError(
                f"{path}: holds sample values up to {peak}, more than {bits} bits allow ({top})"
            )
    return raw.astype(np.float32) / np.float32(top)


def check_finite(image: np.ndarray, name, error_type: type[Exception] = ValueError) -> None:
    """Refuse NaN and infinite values, naming which."""
    if np.isfinite(image).all():
        return
    which = "NaN" if np.isnan(image).any() else "infinite"
    raise error_type(f"{name}: image holds {which} values")


def warn_if_dim(image: np.ndarray, dtype, name) -> None:
    """Warn when a 16-bit image, scaled to its full range, stays under 1/16 of it: likely
    12-bit (or fewer) samples that will come out almost black."""
    if np.dtype(dtype) != np.uint16:
        return
    peak = round(float(image.max()) * 65535)
    if 0 < peak < 65536 * DIM_FRACTION:
        warnings.warn(DimImageWarning(name, peak), stacklevel=3)


class DimImageWarning(NircolorWarning):
    """A 16-bit image whose samples stay under 1/16 of its range (``peak`` at most)."""

    def __init__(self, name, peak: int) -> None:
        self.name, self.peak, self.bits = name, peak, peak.bit_length()
        super().__init__(self._text(f"input_bits={self.bits}"))

    def for_command_line(self) -> str:
        return self._text(f"--input-bits {self.bits}")

    def _text(self, setting: str) -> str:
        return (
            f"{self.name}: this 16-bit image uses only values up to {self.peak} (under 1/16 "
            f"of its range) and will look almost black; if it holds {self.bits}-bit samples, "
            f"read it with {setting}"
        )


def to_uint(image: np.ndarray, bit_depth: int = 8) -> np.ndarray:
    """Quantise an image to uint8 or uint16: floats in [0, 1] rounded (and clipped),
    uint8 / uint16 samples rescaled from their full range.

    Raises
    ------
    ValueError
        For another ``bit_depth``, NaN or infinite values, or another sample type (see
        :func:`check_array_type`).
    """
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, not {bit_depth}")
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image if bit_depth == 8 else image.astype(np.uint16) * np.uint16(257)
    if image.dtype == np.uint16:
        if bit_depth == 16:
            return image
        return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    check_array_type(image)
    if image.dtype == bool:
        image = image.astype(np.float32)
    check_finite(image, "image")
    top = 255 if bit_depth == 8 else 65535
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    return np.clip(np.rint(image.astype(np.float32) * top), 0, top).astype(dtype)
