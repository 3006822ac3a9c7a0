"""Training: ``nircolor train <kind>`` for every model kind (L3 needs no torch)."""

from .common import TrainResult, save_model_folder
from .l3 import train_l3

__all__ = ["TrainResult", "save_model_folder", "train_l3"]
