"""Typed fields of a model's ``config.json``, checked when the model is loaded.

A model with a bad field must fail at load with one line naming its config file and the
field, never later on each image it is given. JSON's ``true`` is not a number here.
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path

from ..errors import ModelError

__all__ = ["integer_field", "is_integer", "is_number", "number_field", "string_field"]


def is_integer(value) -> bool:
    """An integer, and not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value) -> bool:
    """A finite real number, and not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def integer_field(config: dict, name: str, path: Path, default: int, minimum: int) -> int:
    """``config[name]`` (``default`` when absent), an integer >= ``minimum``."""
    value = config.get(name, default)
    if not is_integer(value) or value < minimum:
        raise ModelError(f"{path}: '{name}' must be an integer >= {minimum}, not {value!r}")
    return int(value)


def number_field(
    config: dict, name: str, path: Path, default: float, low: float, high: float
) -> float:
    """``config[name]`` (``default`` when absent), a number in ``[low, high]``."""
    value = config.get(name, default)
    if not is_number(value) or not low <= value <= high:
        raise ModelError(f"{path}: '{name}' must be a number in [{low:g}, {high:g}], not {value!r}")
    return float(value)


def string_field(config: dict, name: str, path: Path, default: str) -> str:
    """``config[name]`` (``default`` when absent), a string."""
    value = config.get(name, default)
    if not isinstance(value, str):
        raise ModelError(f"{path}: '{name}' must be a string, not {value!r}")
    return value
