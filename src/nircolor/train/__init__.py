"""Training: ``nircolor train <kind>`` for every model kind (L3 needs no torch).

The names below load on first use, so that a light submodule (:mod:`.defaults`, read by the
command line for its help) comes without the evaluation stack.
"""

from __future__ import annotations

__all__ = ["TrainResult", "save_model_folder", "train_l3"]


def __getattr__(name: str):
    if name in ("TrainResult", "save_model_folder"):
        from . import common

        return getattr(common, name)
    if name == "train_l3":
        from .l3 import train_l3

        return train_l3
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
