"""Output spaces of the learned colorizers, and their conversion to and from sRGB (numpy only).

A net predicts its image in one of three *output spaces*, each scaled to about [-1, 1]:

``rgb``
    sRGB in [0, 1], 3 channels.
``lab``
    CIELAB (D65, 2°), 3 channels ``(L / 100, a / 128, b / 128)``.
``lab_ab``
    The chroma only, 2 channels ``(a / 128, b / 128)``; the lightness is taken from the NIR
    image, ``L = 100 · nir``, as the seed colorizer did.

The conversion to sRGB happens after the net (after ONNX at inference), in numpy with
:func:`skimage.color.lab2rgb`; training losses are computed in the output space itself.
"""

from __future__ import annotations

import warnings

import numpy as np
from skimage.color import lab2rgb, rgb2lab

OUTPUT_SPACES = {"rgb": 3, "lab": 3, "lab_ab": 2}
"""Every output space and the number of channels a net predicts in it."""

LAB_SCALE = np.array([100.0, 128.0, 128.0], dtype=np.float32)
"""Divisors taking CIELAB ``(L, a, b)`` to the nets' scale."""


def check_space(space: str) -> str:
    if space not in OUTPUT_SPACES:
        raise ValueError(f"unknown output space '{space}' (use one of {', '.join(OUTPUT_SPACES)})")
    return space


def from_srgb(rgb: np.ndarray, space: str) -> np.ndarray:
    """Express ``(..., H, W, 3)`` sRGB images in [0, 1] in an output space, channels last."""
    check_space(space)
    rgb = np.asarray(rgb, dtype=np.float32)
    if space == "rgb":
        return rgb
    lab = rgb2lab(rgb, illuminant="D65", observer="2", channel_axis=-1).astype(np.float32)
    lab /= LAB_SCALE
    return lab[..., 1:] if space == "lab_ab" else lab


def to_srgb(output: np.ndarray, nir: np.ndarray, space: str) -> np.ndarray:
    """Turn a net's ``(H, W, C)`` output into ``(H, W, 3)`` float32 sRGB clipped to [0, 1].

    ``nir`` (``(H, W)`` in [0, 1]) gives the lightness in the ``lab_ab`` space.
    """
    check_space(space)
    output = np.asarray(output, dtype=np.float32)
    if space == "rgb":
        return np.clip(output, 0.0, 1.0)
    if space == "lab_ab":
        output = np.concatenate([np.asarray(nir, np.float32)[..., None], output], axis=-1)
    lab = output * LAB_SCALE
    lab[..., 0] = np.clip(lab[..., 0], 0.0, 100.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "negative Z values clipped": out-of-gamut colours
        rgb = lab2rgb(lab, illuminant="D65", observer="2", channel_axis=-1)
    return np.clip(rgb, 0.0, 1.0).astype(np.float32, copy=False)
