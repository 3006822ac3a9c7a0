"""The images every metric takes: a checked (prediction, truth) pair of sRGB arrays."""

from __future__ import annotations

import numpy as np

__all__ = ["check_image", "check_pair"]


def _check_rgb_float(name: str, image: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"{name} must be an RGB image of shape (H, W, 3), got {image.shape}")
    if not np.issubdtype(image.dtype, np.floating):
        raise ValueError(
            f"{name} must be a floating-point image with values in [0, 1], "
            f"got dtype {image.dtype} (divide 8-bit images by 255)"
        )


def check_image(image, name: str = "image") -> np.ndarray:
    """Validate one sRGB image as :func:`check_pair` does each of its two, and return it.

    Parameters
    ----------
    image : array_like
        Must be a non-empty (H, W, 3) array of floats with finite values.
    name : str
        What the messages call it.

    Raises
    ------
    ValueError
        With the messages of :func:`check_pair`.
    """
    if image is None:
        raise ValueError(f"{name} must be an RGB image of shape (H, W, 3), got None")
    image = np.asarray(image)
    _check_rgb_float(name, image)
    _check_filled(name, image)
    return image


def _check_filled(name: str, image: np.ndarray) -> None:
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"images must not be empty, got shape {image.shape}")
    if not np.isfinite(image).all():
        raise ValueError(f"{name} contains NaN or infinite values")


def check_pair(pred, true) -> tuple[np.ndarray, np.ndarray]:
    """Validate a (prediction, truth) pair of sRGB images and return them as arrays."""
    pred = np.asarray(pred)
    true = np.asarray(true)
    for name, image in (("pred", pred), ("true", true)):
        _check_rgb_float(name, image)
    if pred.shape != true.shape:
        raise ValueError(
            f"pred and true must have the same shape, got {pred.shape} and {true.shape}"
        )
    for name, image in (("pred", pred), ("true", true)):
        _check_filled(name, image)  # the same shape: an empty pair fails on pred
    return pred, true
