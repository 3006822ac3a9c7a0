"""Detail from the NIR: a colorization's lightness below a Gaussian, the NIR's above it.

A net (and the colour context that carries a small copy's colours up) gives smooth lightness:
grass, leaves and gravel lose their texture. The full-resolution NIR image has that texture.
With ``G`` a Gaussian blur of ``sigma`` pixels and L* the CIELAB lightness (D65) of the
colour image and of the NIR shown as grey,

    L*_out = G * L*_rgb + gain · (L*_nir − G * L*_nir)

and every pixel keeps its chromaticity: its linear RGB is scaled by ``Y_out / Y_rgb`` (the
relative luminance of ``L*_out`` over that of the colorization), which changes its lightness
and nothing of its hue or saturation. ``gain`` above 1 makes up for the NIR's texture being
fainter than the visible one (BENCHMARKS.md, "Detail from the NIR").

An output row depends on the input rows within :meth:`DetailTransfer.halo` rows of it, so a
stream of row bands gets the pixels of the whole image (:mod:`nircolor.tiling`).

:func:`shift_lightness` moves a colorization's L* by a constant, its a* and b* kept
(a model's fitted lightness offset, :mod:`nircolor.models.lightness`).
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

import cv2
import numpy as np

from .guided import is_off

__all__ = ["DetailTransfer", "shift_lightness", "transfer_detail"]

MAX_GAIN = 4.0
MAX_SIGMA = 16.0
MAX_LIGHTNESS_OFFSET = 20.0
"""Largest lightness offset, in CIELAB L* units (of 100), that :func:`shift_lightness` takes."""
_EXPECTED = (
    f"expected GAIN,SIGMA such as '1.2,2' (GAIN in [0, {MAX_GAIN:g}], SIGMA in "
    f"(0, {MAX_SIGMA:g}] px), or 'off'"
)

_RGB_TO_XYZ = np.array(
    [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]
)
_LUMINANCE = _RGB_TO_XYZ[1].astype(np.float32)
"""Relative luminance Y of linear sRGB (D65): the Y row of its XYZ matrix."""
_RGB_TO_XYZ_WHITE = _RGB_TO_XYZ / _RGB_TO_XYZ.sum(axis=1, keepdims=True)
"""Linear sRGB → X/Xn, Y/Yn, Z/Zn (relative to sRGB white, D65), for ``cv2.transform``."""
_XYZ_WHITE_TO_RGB = np.linalg.inv(_RGB_TO_XYZ_WHITE)
_F = np.float32
_DARK = np.float32(1e-4)
"""Luminance below which a pixel's colour is scaled as if it were this bright, and the rest
of its target luminance is added as grey (a black pixel becomes grey of the target)."""


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """The sRGB transfer function inverted (values in [0, 1])."""
    x, flat = _as_matrix(x)
    out = cv2.pow(cv2.addWeighted(flat, 1 / 1.055, flat, 0.0, 0.055 / 1.055), 2.4)
    np.multiply(flat, _F(1 / 12.92), out=out, where=flat <= _F(0.04045))
    return out.reshape(x.shape)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """The sRGB transfer function, clipped to [0, 1]."""
    x, flat = _as_matrix(x)
    flat = np.clip(flat, 0.0, 1.0)
    out = cv2.pow(flat, 1 / 2.4)
    cv2.addWeighted(out, 1.055, out, 0.0, -0.055, dst=out)
    np.multiply(flat, _F(12.92), out=out, where=flat <= _F(0.0031308))
    return out.reshape(x.shape)


def lightness(luminance: np.ndarray) -> np.ndarray:
    """CIELAB L* of relative luminance Y in [0, 1] (white Y = 1)."""
    y, flat = _as_matrix(luminance)
    out = cv2.pow(flat, 1 / 3)  # the cube root (of |Y|; Y ≤ 216/24389 is replaced below)
    cv2.addWeighted(out, 116.0, out, 0.0, -16.0, dst=out)
    np.multiply(flat, _F(24389 / 27), out=out, where=flat <= _F(216 / 24389))
    return out.reshape(y.shape)


def srgb_lightness(rgb: np.ndarray) -> np.ndarray:
    """CIELAB L* (D65) of an ``(H, W, 3)`` sRGB image in [0, 1]: ``(H, W)`` float32."""
    return lightness(srgb_to_linear(rgb) @ _LUMINANCE)


def luminance_of(lightness_: np.ndarray) -> np.ndarray:
    """Relative luminance Y of CIELAB L* (the inverse of :func:`lightness`), clipped to [0, 1]."""
    lightness_, flat = _as_matrix(lightness_)
    out = cv2.pow(cv2.addWeighted(flat, 1 / 116, flat, 0.0, 16 / 116), 3)
    np.multiply(flat, _F(27 / 24389), out=out, where=flat <= _F(8))
    np.clip(out, 0.0, 1.0, out=out)
    return out.reshape(lightness_.shape)


def _as_matrix(x) -> tuple[np.ndarray, np.ndarray]:
    """``x`` as contiguous float32, and as the 2-D view of it that OpenCV takes (the
    transfer functions above are OpenCV's ``pow`` and numpy's masked ufuncs: several times
    faster than ``np.where`` over power functions, and without its full-size temporaries)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    return x, x.reshape(x.shape[0] if x.ndim > 1 else 1, -1)


_STEPS = 65535
_GREY_LIGHTNESS = lightness(srgb_to_linear((np.arange(_STEPS + 1) / _STEPS).astype(np.float32)))


def grey_lightness(nir: np.ndarray) -> np.ndarray:
    """CIELAB L* of an NIR image in [0, 1] shown as grey (sRGB R = G = B = NIR), read from a
    table of 65,536 steps: the 8- and 16-bit values (k / 255, k / 65535) are steps of it, and
    any other value is within 0.001 L* of its own (the NIR's L* is a third of the detail
    transfer's work when computed)."""
    nir, flat = _as_matrix(nir)
    if flat.size == 1:  # OpenCV takes a 1 × 1 array for a scalar (and gives 4 values)
        steps = np.rint(np.clip(flat, 0.0, 1.0) * np.float32(_STEPS)).astype(np.uint16)
    else:
        steps = cv2.multiply(flat, float(_STEPS), dtype=cv2.CV_16U)  # rounded, clipped to [0, 1]
    return _GREY_LIGHTNESS.take(steps).reshape(nir.shape)


def _channels(x: np.ndarray) -> np.ndarray:
    """A one-channel image as three (OpenCV's per-channel arithmetic is several times faster
    than numpy broadcasting over the last axis)."""
    return cv2.merge([x, x, x])


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    size = 2 * _radius(sigma) + 1
    return cv2.GaussianBlur(x, (size, size), sigma, borderType=cv2.BORDER_REFLECT)


def _radius(sigma: float) -> int:
    return max(1, math.ceil(3 * sigma))


def transfer_detail(nir: np.ndarray, rgb: np.ndarray, gain: float, sigma: float) -> np.ndarray:
    """Give ``rgb`` the lightness detail of ``nir`` above a Gaussian of ``sigma`` px.

    Parameters
    ----------
    nir : (H, W) ndarray
        NIR image in [0, 1].
    rgb : (H, W, 3) ndarray
        Its colorization, sRGB in [0, 1].
    gain : float
        Weight of the NIR's detail, in [0, 4] (0: the colorization's lightness smoothed).
    sigma : float
        Gaussian sigma in pixels, in (0, 16]: detail finer than about this comes from the NIR.

    Returns
    -------
    out : (H, W, 3) ndarray of float32
        sRGB in [0, 1], each pixel of ``rgb``'s chromaticity (see the module notes).
    """
    setting = DetailTransfer.of((gain, sigma))
    nir = np.asarray(nir, dtype=np.float32)
    rgb = np.asarray(rgb, dtype=np.float32)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[:2] != nir.shape:
        raise ValueError(f"rgb must be (H, W, 3) of the NIR's size {nir.shape}, got {rgb.shape}")
    linear = srgb_to_linear(rgb)
    luminance = linear @ _LUMINANCE
    own = lightness(luminance)
    nir_lightness = grey_lightness(nir)
    target = _blur(own, setting.sigma)
    target += _F(setting.gain) * (nir_lightness - _blur(nir_lightness, setting.sigma))
    target_luminance = luminance_of(target)
    scale = target_luminance / np.maximum(luminance, _DARK)
    out = cv2.multiply(linear, _channels(scale), dst=linear)
    if (luminance < _DARK).any():  # what a black pixel's colour cannot carry comes as grey
        cv2.add(out, _channels(target_luminance - luminance * scale), dst=out)
    return linear_to_srgb(out)


def shift_lightness(rgb: np.ndarray, offset: float) -> np.ndarray:
    """``rgb`` with its CIELAB lightness moved by ``offset``, its a* and b* kept.

    Parameters
    ----------
    rgb : (H, W, 3) ndarray
        sRGB in [0, 1].
    offset : float
        L* units (of 100), in [-20, 20].

    Returns
    -------
    out : (H, W, 3) ndarray of float32
        sRGB in [0, 1] (colours moved out of the gamut are clipped); ``rgb`` itself (as
        float32) for an offset of 0.

    Notes
    -----
    With ``f`` CIELAB's companding, L* = 116 f(Y/Yn) − 16, a* = 500 (f(X/Xn) − f(Y/Yn)) and
    b* = 200 (f(Y/Yn) − f(Z/Zn)): adding ``offset / 116`` to all three of f(X/Xn), f(Y/Yn)
    and f(Z/Zn) moves L* by ``offset`` and leaves a* and b* as they were.
    """
    if isinstance(offset, (bool, np.bool_)) or not isinstance(offset, numbers.Real):
        raise ValueError(f"invalid lightness offset {offset!r}: expected a number")
    if not (math.isfinite(offset) and abs(offset) <= MAX_LIGHTNESS_OFFSET):
        raise ValueError(
            f"invalid lightness offset {offset!r}: expected a number in "
            f"[-{MAX_LIGHTNESS_OFFSET:g}, {MAX_LIGHTNESS_OFFSET:g}] (L* units)"
        )
    rgb = np.asarray(rgb, dtype=np.float32)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must be (H, W, 3), got {rgb.shape}")
    if offset == 0:
        return rgb
    xyz = cv2.transform(srgb_to_linear(rgb), _RGB_TO_XYZ_WHITE)  # X/Xn, Y/Yn, Z/Zn
    shifted = lightness(xyz)  # 116 f(·) − 16 of each of the three
    shifted += _F(offset)
    return linear_to_srgb(cv2.transform(luminance_of(shifted), _XYZ_WHITE_TO_RGB))


class DetailTransfer(NamedTuple):
    """A detail setting: the NIR's detail ``gain`` above a Gaussian of ``sigma`` px.

    :data:`DetailTransfer.OFF` (sigma 0) switches a model's default off; it is falsy.
    """

    gain: float
    sigma: float

    def __bool__(self) -> bool:
        return self.sigma > 0

    @property
    def halo(self) -> int:
        """Rows on each side that an output row depends on (the Gaussian's radius)."""
        return _radius(self.sigma) if self else 0

    def __call__(self, nir: np.ndarray, rgb: np.ndarray) -> np.ndarray:
        return transfer_detail(nir, rgb, self.gain, self.sigma)

    @classmethod
    def of(cls, value) -> DetailTransfer | None:
        """Validate a setting given as a DetailTransfer, a ``(gain, sigma)`` pair,
        ``"GAIN,SIGMA"`` text, ``"off"``/``False`` (off) or ``None`` (none given).

        Raises
        ------
        ValueError
            For anything else, or values out of range, saying what is expected.
        """
        if value is None:
            return None
        if value is False or is_off(value, DetailTransfer, "sigma"):
            return cls.OFF
        if isinstance(value, str):
            if value.strip().lower() in ("off", "none"):
                return cls.OFF
            value = _parse(value)
        try:
            gain, sigma = value
        except (TypeError, ValueError):
            raise ValueError(f"invalid detail setting {value!r}: {_EXPECTED}") from None
        for number in (gain, sigma):
            if isinstance(number, (bool, np.bool_)) or not isinstance(number, numbers.Real):
                raise ValueError(f"invalid detail setting {value!r}: {_EXPECTED}")
        if not (math.isfinite(gain) and 0 <= gain <= MAX_GAIN):
            raise ValueError(f"invalid detail gain {gain!r}: {_EXPECTED}")
        if not (math.isfinite(sigma) and 0 < sigma <= MAX_SIGMA):
            raise ValueError(f"invalid detail sigma {sigma!r}: {_EXPECTED}")
        return cls(float(gain), float(sigma))


def _parse(text: str) -> tuple[float, float]:
    parts = text.split(",")
    try:
        if len(parts) == 2:
            return float(parts[0]), float(parts[1])
    except ValueError:
        pass
    raise ValueError(f"invalid detail setting {text!r}: {_EXPECTED}")


DetailTransfer.OFF = DetailTransfer(0.0, 0.0)
