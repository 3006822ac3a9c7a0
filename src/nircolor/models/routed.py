"""``routed``: a scene classifier picks, per image, the colorizer specialised in its category.

A routed model folder holds ``config.json``::

    {"kind": "routed",
     "classifier": "classifier",                 # the scene classifier
     "general": "general",                       # used for categories without a specialist
     "specialists": {"country": "specialists/country", ...},
     "min_confidence": 0.0}                      # below it, the general model is used

Each reference is a folder inside the routed model's folder or the name of a shipped
model (``"classifier"``, ``"default"``...). ``general`` may be null when every category the
classifier knows has a specialist. Members must not be routed models themselves.

:meth:`RoutedColorizer.predict` classifies the image it is given; :func:`nircolor.colorize`
classifies the whole image once (:meth:`RoutedColorizer.for_image`) before tiling it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelError
from .base import Colorizer, SceneClassifier
from .registry import ALIASES, CONFIG_NAME, load_model, register_kind, shipped_names


def member_path(folder: Path, reference: object, role: str) -> Path | str:
    """Where a member lives: a folder inside ``folder``, or a shipped model's name."""
    if not isinstance(reference, str) or not reference.strip():
        raise ModelError(f"{folder / CONFIG_NAME}: '{role}' must name a model")
    inside = (folder / reference).resolve()
    if inside.is_relative_to(folder.resolve()) and (inside / CONFIG_NAME).is_file():
        return inside
    if reference in shipped_names() or reference in ALIASES:
        return reference
    raise ModelError(
        f"{folder / CONFIG_NAME}: {role} '{reference}' is neither a model folder inside "
        "the routed model nor a shipped model"
    )


def load_member(
    folder: Path, reference: object, role: str, kind: str | None = None, threads: int | None = None
):
    model = load_model(member_path(folder, reference, role), threads)
    if model.kind == "routed" or (kind and model.kind != kind):
        raise ModelError(f"{folder / CONFIG_NAME}: {role} '{reference}' is a {model.kind} model")
    if not kind and model.kind == "classifier":
        raise ModelError(f"{folder / CONFIG_NAME}: {role} '{reference}' cannot colorize")
    return model


class RoutedColorizer:
    """Classify the scene, then colorize with that category's specialist (``kind == "routed"``)."""

    kind = "routed"
    halo = None  # the whole image is classified first (:meth:`for_image`), then tiled

    def __init__(self, folder: Path, config: dict, threads: int | None = None) -> None:
        self.folder = Path(folder)
        specialists = config.get("specialists")
        if not isinstance(specialists, dict) or not specialists:
            raise ModelError(f"{self.folder / CONFIG_NAME}: 'specialists' must map categories")
        self.classifier: SceneClassifier = load_member(
            self.folder, config.get("classifier"), "classifier", "classifier", threads
        )
        self.specialists: dict[str, Colorizer] = {
            str(category): load_member(
                self.folder, reference, f"specialist '{category}'", threads=threads
            )
            for category, reference in specialists.items()
        }
        general = config.get("general")
        self.general = (
            load_member(self.folder, general, "general", threads=threads) if general else None
        )
        uncovered = set(self.classifier.categories) - set(self.specialists)
        if uncovered and self.general is None:
            missing = ", ".join(sorted(uncovered))
            raise ModelError(
                f"{self.folder / CONFIG_NAME}: no specialist for {missing} and no general model"
            )
        self.min_confidence = float(config.get("min_confidence", 0.0))
        first = self.general or next(iter(self.specialists.values()))
        self.guided = first.guided

    def __repr__(self) -> str:
        return f"RoutedColorizer(specialists={sorted(self.specialists)})"

    def route(self, nir: np.ndarray) -> tuple[str, float]:
        """The category an ``(H, W)`` NIR image is routed by, and its probability."""
        category, probabilities = self.classifier.classify(nir)
        return category, probabilities[category]

    def for_image(self, nir: np.ndarray) -> Colorizer:
        """The colorizer this image goes to: its category's specialist, else the general one."""
        category, probability = self.route(nir)
        if category in self.specialists and probability >= self.min_confidence:
            return self.specialists[category]
        return self.general or self.specialists[category]

    def predict(self, nir: np.ndarray, *, threads: int | None = None) -> np.ndarray:
        """Colorize an ``(H, W)`` NIR image in [0, 1] with the specialist of its scene."""
        return self.for_image(nir).predict(nir, threads=threads)

    def save(self, folder) -> None:
        raise ModelError("routed models are written by 'nircolor train specialists'")


@register_kind("routed")
def load(folder: Path, config: dict, threads: int | None = None) -> RoutedColorizer:
    """Registry loader for ``kind == "routed"`` models."""
    return RoutedColorizer(folder, config, threads)
