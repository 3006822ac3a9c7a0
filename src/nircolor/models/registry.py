"""The registry of model kinds and shipped models: every model created by one call.

A saved model is a folder holding ``config.json`` (with at least ``{"kind": ...}``), its
weights (``.npz`` for L3, ``.onnx`` / ``.safetensors`` for learned models) and, for shipped
models, ``MODEL_CARD.md``. Shipped models live in ``nircolor/models/weights/<name>/``;
``default`` is an alias of the best shipped model. A kind's module registers its loader with
:func:`register_kind` when imported; :func:`load_model` imports them all first.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError, error_reason
from ..io.outputs import check_output_folder
from .base import Colorizer

WEIGHTS_DIR = Path(__file__).parent / "weights"
ALIASES = {"default": "sharp", "faithful": "unet"}
CONFIG_NAME = "config.json"
CARD_NAME = "MODEL_CARD.md"
CLASSIFIER_KIND = "classifier"
"""The kind of the scene classifier: shipped beside the colorizers, never one of them."""
DETECTOR_KIND = "detector"
"""The kind of the region detector: shipped beside the colorizers, never one of them."""
NON_COLORIZERS = {CLASSIFIER_KIND: "a scene classifier", DETECTOR_KIND: "a region detector"}
"""The kinds that never colorize, as messages name them."""
KIND_MODULES = (
    "nircolor.models.l3",
    "nircolor.models.onnx",
    "nircolor.models.routed",
    "nircolor.models.detector",
)
"""Modules that register model kinds (``onnx`` registers ``onnx`` and ``classifier``)."""

_LOADERS: dict[str, Callable[[Path, dict, int | None], Colorizer]] = {}


def register_kind(kind: str):
    """Decorator registering ``loader(folder, config, threads) -> Colorizer`` for a model kind."""

    def decorate(loader: Callable[[Path, dict, int | None], Colorizer]):
        _LOADERS[kind] = loader
        return loader

    return decorate


@dataclass(frozen=True)
class ModelInfo:
    name: str
    kind: str
    path: Path
    size_bytes: int
    card: Path | None


def shipped_names() -> list[str]:
    """Names of the models that ship inside the package (aliases excluded)."""
    if not WEIGHTS_DIR.is_dir():
        return []
    return sorted(p.name for p in WEIGHTS_DIR.iterdir() if (p / CONFIG_NAME).is_file())


def colorizer_names() -> list[str]:
    """The names a colorizer may be given by: the shipped colorizers and the aliases."""
    shipped = [n for n in shipped_names() if _kind(WEIGHTS_DIR / n) not in NON_COLORIZERS]
    return sorted(shipped + list(ALIASES))


def refuse_classifier(kind: str, model: object) -> None:
    """The one refusal of a scene classifier (or a region detector) given where a colorizer
    belongs, naming ``model`` as the caller gave it (a name, a path or an object)."""
    if kind in NON_COLORIZERS:
        raise ModelError(f"{shown_model(model)}: {NON_COLORIZERS[kind]} cannot colorize")


def shown_model(model: object) -> str:
    """A model as messages name it: the name or path as given (``default``, not the folder
    it stands for), or a loaded model's repr."""
    return str(model) if isinstance(model, (str, os.PathLike)) else repr(model)


def colorizer_path(model: str | os.PathLike) -> Path:
    """:func:`resolve_model_path` for a colorizer: a scene classifier is refused from its
    config, without loading it."""
    folder = resolve_model_path(model)
    refuse_classifier(_kind(folder), model)
    return folder


def is_model_folder(folder: Path) -> bool:
    """Whether ``folder`` is a model folder (it holds a ``config.json``)."""
    return (folder / CONFIG_NAME).is_file()


def output_model_folder(
    output: str | os.PathLike,
    overwrite: bool,
    inputs: Iterable[str | os.PathLike] = (),
    source: str | os.PathLike | None = None,
    is_ours: Callable[[Path], bool] = is_model_folder,
) -> Path:
    """``output`` as a model folder a training or post-training step may write.

    Parameters
    ----------
    output : path
        Refused when it exists, unless ``overwrite`` and it is an empty folder or a model
        folder (``is_ours``) that holds neither the current folder nor any of ``inputs``.
    overwrite : bool
        Replace an existing model folder.
    inputs : iterable of paths
        The step's inputs (the pairs' folder, say): never replaced.
    source : path, optional
        The model folder the output is made from: ``output`` may be that folder itself
        (rewritten from itself), never a folder that holds it.
    is_ours : callable
        Which non-empty folders count as model folders.

    Returns
    -------
    Path
    """
    output = Path(output)
    kept = list(inputs)
    if source is not None and Path(source).resolve() != output.resolve():
        kept.append(source)
    return check_output_folder(output, overwrite, kept, is_ours, error_type=ModelError)


def resolve_model_path(model: str | Path) -> Path:
    """Turn a registered name, an alias or a user path into a model folder, validating it."""
    text = str(model)
    if not text.strip():
        raise ModelError("no model given (the model name is empty)")
    name = ALIASES.get(text, text)
    if name in shipped_names():
        _refuse_a_shadowed_folder(text, WEIGHTS_DIR / name)
        return WEIGHTS_DIR / name
    known = ", ".join(colorizer_names())
    try:  # a name too long, "~nosuchuser", an unreadable folder: not a usable path
        path = Path(text).expanduser()
        if path.is_file() and path.name == CONFIG_NAME:
            path = path.parent
        exists = path.exists()
        is_model = exists and path.is_dir() and (path / CONFIG_NAME).is_file()
    except (OSError, RuntimeError) as error:
        reason = error_reason(error)
        raise ModelError(
            f"unknown model {text!r}: not a registered name ({known}) nor a usable path ({reason})"
        ) from None
    if not exists:
        raise ModelError(f"unknown model {text!r}: not a registered name ({known}) nor a path")
    if not is_model:
        raise ModelError(f"{path}: not a model folder (it needs a {CONFIG_NAME})")
    return path


def _refuse_a_shadowed_folder(text: str, shipped: Path) -> None:
    """A bare name that is both a shipped model and a model folder in the current folder
    (``train ... -o unet``) is ambiguous: refused, rather than silently the shipped one."""
    try:
        local = Path(text)
        ambiguous = (local / CONFIG_NAME).is_file() and local.resolve() != shipped.resolve()
    except OSError:
        return
    if ambiguous:
        raise ModelError(
            f"{text!r} is a shipped model and also a model folder here: "
            f"write ./{text} for the folder, or rename it"
        )


def _kind(folder: Path) -> str:
    return read_config(folder)["kind"]


def read_config(folder: Path) -> dict:
    try:
        config = json.loads((folder / CONFIG_NAME).read_text())
    except (OSError, ValueError, RecursionError) as error:  # ValueError: bad JSON or UTF-8
        raise ModelError(f"{folder / CONFIG_NAME}: unreadable model config ({error})") from None
    if not isinstance(config, dict) or "kind" not in config:
        raise ModelError(f"{folder / CONFIG_NAME}: model config has no 'kind'")
    if not isinstance(config["kind"], str):
        kind_type = type(config["kind"]).__name__
        raise ModelError(f"{folder / CONFIG_NAME}: model 'kind' must be a string, not {kind_type}")
    return config


def load_model(model: str | Path, threads: int | None = None) -> Colorizer:
    """Load a model by registered name (``"l3"``, ``"default"``...) or by folder path.

    ``threads`` bounds the CPU threads the model uses when predicting (``None``: its default).
    """
    _import_kinds()
    folder = resolve_model_path(model)
    config = read_config(folder)
    kind = config["kind"]
    if kind not in _LOADERS:
        raise ModelError(f"{folder}: unknown model kind {kind!r} (known: {', '.join(_LOADERS)})")
    try:
        return _LOADERS[kind](folder, config, threads)
    except ModelError:
        raise
    except Exception as error:  # a loader tripped on a malformed config or weights file
        reason = error_reason(error, empty="")
        raise ModelError(
            f"{folder}: invalid {kind} model ({type(error).__name__}: {reason})"
        ) from error


def load_classifier(model: str | Path, threads: int | None = None) -> Colorizer:
    """:func:`load_model` for a scene classifier: any other kind is refused from its config,
    without loading it."""
    kind = _kind(resolve_model_path(model))
    if kind != CLASSIFIER_KIND:
        raise ModelError(f"{shown_model(model)}: not a scene classifier (kind '{kind}')")
    return load_model(model, threads)


def list_models() -> list[ModelInfo]:
    """Describe every shipped model: name, kind, size on disk, model card."""
    infos = []
    for name in shipped_names():
        folder = WEIGHTS_DIR / name
        kind = read_config(folder).get("kind", "?")
        size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
        card = folder / CARD_NAME
        infos.append(ModelInfo(name, kind, folder, size, card if card.is_file() else None))
    return infos


def _import_kinds() -> None:
    for module in KIND_MODULES:
        importlib.import_module(module)
