"""Guided filter (He, Sun & Tang, "Guided Image Filtering", ECCV 2010 / TPAMI 2013).

With a grey guide ``I`` and an input ``p``, the output in each window ``w_k`` of side
``2 r + 1`` is a linear function of the guide, ``q = a_k I + b_k``, where

.. math::

    a_k = \\frac{\\mathrm{cov}_k(I, p)}{\\mathrm{var}_k(I) + \\epsilon}, \\qquad
    b_k = \\bar p_k - a_k \\bar I_k,

and each output pixel averages the coefficients of every window covering it:
``q = mean(a) * I + mean(b)``. Where the guide has an edge (``var(I) >> eps``) ``a`` is
near ``cov / var`` and the edge of the guide is transferred to the output; where the guide
is flat (``var(I) << eps``) ``a`` is near 0 and the output is the local mean of ``p``.
``eps`` is in squared units of the guide: with a guide in [0, 1], ``eps = 1e-4`` treats
intensity steps much smaller than 0.01 as flat.

nircolor uses it to snap the colours of a colorization to the edges of the NIR image.
"""

from __future__ import annotations

import math
import numbers
import re
from typing import NamedTuple

import cv2
import numpy as np

from ..errors import NircolorError

__all__ = ["MAX_EPS", "MAX_RADIUS", "GuidedFilter", "apply_guided", "box_mean", "guided_filter"]


def box_mean(x: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a ``(2 radius + 1)`` square window, per channel, mirrored at the borders."""
    size = 2 * radius + 1
    out = cv2.boxFilter(x, -1, (size, size), normalize=True, borderType=cv2.BORDER_REFLECT)
    # OpenCV drops a trailing channel axis of length 1; put it back.
    return out.reshape(x.shape)


MAX_RADIUS = 256
"""Largest guided-filter radius (windows of 513 × 513): wider windows only blur more, and
they make row bands (``2 r + 1`` rows of halo) and OpenCV's kernel sizes absurd."""
MAX_EPS = 10.0
"""Largest guided-filter eps: with a guide in [0, 1] (variance at most 0.25) the filter is
already a plain box blur of the source well before it."""


def _check_params(radius, eps) -> None:
    expected = f"radius must be an integer from 1 to {MAX_RADIUS}"
    if isinstance(radius, (bool, np.bool_)) or not isinstance(radius, numbers.Integral):
        raise ValueError(f"{expected}, got {radius!r}")
    if not 1 <= radius <= MAX_RADIUS:
        raise ValueError(f"{expected}, got {radius}")
    expected = f"eps must be a finite number in (0, {MAX_EPS:g}]"
    if isinstance(eps, (bool, np.bool_)) or not isinstance(eps, numbers.Real):
        raise ValueError(f"{expected}, got {eps!r}")
    if not (math.isfinite(eps) and 0 < eps <= MAX_EPS):
        raise ValueError(f"{expected}, got {eps}")


def guided_filter(guide, src, radius: int, eps: float) -> np.ndarray:
    """Filter ``src`` with the guided filter, steered by the grey image ``guide``.

    Parameters
    ----------
    guide : (H, W) ndarray
        Grey guide image, any real dtype (computed as float32).
    src : (H, W) or (H, W, C) ndarray
        Image to filter; each channel is filtered with the same guide.
    radius : int
        Window radius ``r``, 1 to :data:`MAX_RADIUS` (256); windows are
        ``(2 r + 1) x (2 r + 1)``.
    eps : float
        Regularization in (0, :data:`MAX_EPS`], in squared units of the guide. Small values
        keep the edges of the guide, large values smooth more (towards a plain box blur of
        ``src``).

    Returns
    -------
    out : ndarray of float32
        Filtered image, same shape as ``src``. It is not clipped.

    Raises
    ------
    ValueError
        If ``radius`` is not an integer from 1 to 256, ``eps`` is not in (0, 10],
        ``guide`` is not 2-D, ``src`` is not 2-D or 3-D, or their heights and widths
        differ or are zero.

    Notes
    -----
    Box means use :func:`cv2.boxFilter` with ``cv2.BORDER_REFLECT`` (``dcba|abcd|dcba``,
    as ``scipy.ndimage``'s ``mode='reflect'``), so the cost is independent of ``radius``.
    """
    _check_params(radius, eps)
    guide = np.asarray(guide)
    src = np.asarray(src)
    if guide.ndim != 2:
        raise ValueError(f"guide must be a grey image of shape (H, W), got {guide.shape}")
    if src.ndim not in (2, 3):
        raise ValueError(f"src must have shape (H, W) or (H, W, C), got {src.shape}")
    if src.shape[:2] != guide.shape:
        raise ValueError(
            f"guide and src must have the same height and width, got {guide.shape} and {src.shape}"
        )
    if guide.size == 0 or src.size == 0:
        raise ValueError(f"images must not be empty, got {src.shape}")

    I = np.ascontiguousarray(guide, dtype=np.float32)  # noqa: E741 (the paper's name)
    p = np.ascontiguousarray(src, dtype=np.float32)
    if p.ndim == 3:
        # One guide for every channel of src.
        I = I[:, :, None]  # noqa: E741

    mean_I = box_mean(I, radius)
    mean_p = box_mean(p, radius)
    corr_I = box_mean(I * I, radius)
    corr_Ip = box_mean(I * p, radius)

    var_I = corr_I - mean_I * mean_I
    cov_Ip = corr_Ip - mean_I * mean_p

    a = cov_Ip / (var_I + np.float32(eps))
    b = mean_p - a * mean_I

    mean_a = box_mean(a, radius)
    mean_b = box_mean(b, radius)

    q = mean_a * I + mean_b
    return q.astype(np.float32, copy=False)


_RADIUS_RE = re.compile(r"[0-9]+")
_EXPECTED = (
    f"expected RADIUS,EPS such as '5,1e-5' (RADIUS an integer from 1 to {MAX_RADIUS}, "
    f"EPS a number in (0, {MAX_EPS:g}])"
)


class GuidedFilter(NamedTuple):
    """A guided-filter setting: window radius (1 to :data:`MAX_RADIUS`) and regularization eps
    (in (0, :data:`MAX_EPS`]).

    :data:`GuidedFilter.OFF` (radius 0) switches a model's default filter off; it is falsy.
    Build one with :meth:`parse` from text or :meth:`of` from any accepted form; both validate.
    """

    radius: int
    eps: float

    def __bool__(self) -> bool:
        return self.radius > 0

    @classmethod
    def parse(cls, text: str) -> GuidedFilter:
        """Parse ``"RADIUS,EPS"`` (such as ``"5,1e-5"``; spaces allowed), or ``"off"``/``"none"``.

        Raises
        ------
        ValueError
            If ``text`` is not of that form or out of range, with a message that says what is
        expected.
        """
        if not isinstance(text, str):
            raise ValueError(f"invalid guided filter setting {text!r}: {_EXPECTED}")
        if text.strip().lower() in ("off", "none"):
            return cls.OFF
        parts = text.split(",")
        if len(parts) != 2:
            raise ValueError(f"invalid guided filter setting {text!r}: {_EXPECTED}")
        radius_text, eps_text = (part.strip() for part in parts)
        if not _RADIUS_RE.fullmatch(radius_text) or not 1 <= int(radius_text) <= MAX_RADIUS:
            raise ValueError(
                f"invalid guided filter radius {radius_text!r} in {text!r}: {_EXPECTED}"
            )
        try:
            eps = float(eps_text)
        except ValueError:
            eps = math.nan
        if not (math.isfinite(eps) and 0 < eps <= MAX_EPS):
            raise ValueError(f"invalid guided filter eps {eps_text!r} in {text!r}: {_EXPECTED}")
        return cls(int(radius_text), eps)

    @classmethod
    def parse_option(cls, text: str | None, option: str) -> GuidedFilter | None:
        """:meth:`parse` for a user's option or form field: ``None`` stays ``None``; a bad
        setting is a :class:`~nircolor.errors.NircolorError` (one line) naming ``option``."""
        if text is None:
            return None
        try:
            return cls.parse(text)
        except ValueError as error:
            raise NircolorError(f"{option}: {error}") from None

    @classmethod
    def of(cls, value) -> GuidedFilter | None:
        """Validate a setting given as a GuidedFilter, a ``(radius, eps)`` pair, ``"R,EPS"``
        text, ``False`` (off) or ``None`` (none given); return a GuidedFilter or ``None``."""
        if value is None:
            return None
        if value is False:
            return cls.OFF
        if isinstance(value, str):
            return cls.parse(value)
        if is_off(value, GuidedFilter, "radius"):
            return cls.OFF
        try:
            radius, eps = value
        except (TypeError, ValueError):
            raise ValueError(f"guided must be a (radius, eps) pair, got {value!r}") from None
        _check_params(radius, eps)
        return cls(int(radius), float(eps))


GuidedFilter.OFF = GuidedFilter(0, 0.0)


def is_off(value, setting: type, field: str) -> bool:
    """Whether ``value`` is a ``setting`` whose ``field`` is exactly 0 (its ``OFF``): any
    other value of it, a negative one say, is validated like a pair, not taken as off."""
    if not isinstance(value, setting):
        return False
    number = getattr(value, field)
    return isinstance(number, numbers.Real) and not isinstance(number, bool) and number == 0


def apply_guided(nir, rgb, radius: int, eps: float) -> np.ndarray:
    """Filter a colorization with its NIR image as guide, so its colours follow NIR edges.

    Parameters
    ----------
    nir : (H, W) ndarray
        NIR image in [0, 1], the guide.
    rgb : (H, W, 3) ndarray
        Colour image in [0, 1] to filter.
    radius : int
        Window radius, 1 to 256 (see :func:`guided_filter`).
    eps : float
        Regularization in (0, 10] (see :func:`guided_filter`).

    Returns
    -------
    out : (H, W, 3) ndarray of float32
        Filtered colour image, clipped to [0, 1].

    Raises
    ------
    ValueError
        If ``rgb`` is not ``(H, W, 3)``, or as for :func:`guided_filter`.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ValueError(f"rgb must be a colour image of shape (H, W, 3), got {rgb.shape}")
    out = guided_filter(nir, rgb, radius, eps)
    return np.clip(out, 0.0, 1.0, out=out)
