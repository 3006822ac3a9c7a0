"""Models: the interfaces (:mod:`.base`), the registry (:mod:`.registry`) and the kinds
(:mod:`.l3`, :mod:`.onnx`, :mod:`.routed`, :mod:`.detector`)."""

from .base import Colorizer, ColorizerBase, SceneClassifier, check_nir
from .registry import (
    ALIASES,
    CARD_NAME,
    CLASSIFIER_KIND,
    CONFIG_NAME,
    DETECTOR_KIND,
    NON_COLORIZERS,
    WEIGHTS_DIR,
    ModelInfo,
    colorizer_names,
    colorizer_path,
    list_models,
    load_model,
    read_config,
    refuse_classifier,
    register_kind,
    resolve_model_path,
    shipped_names,
    shown_model,
)

__all__ = [
    "ALIASES",
    "CARD_NAME",
    "CLASSIFIER_KIND",
    "CONFIG_NAME",
    "DETECTOR_KIND",
    "NON_COLORIZERS",
    "WEIGHTS_DIR",
    "Colorizer",
    "ColorizerBase",
    "ModelInfo",
    "SceneClassifier",
    "check_nir",
    "colorizer_names",
    "colorizer_path",
    "list_models",
    "load_model",
    "read_config",
    "refuse_classifier",
    "register_kind",
    "resolve_model_path",
    "shipped_names",
    "shown_model",
]
