"""``routed``: a scene classifier picks, per image, the colorizer specialised in its category.

A routed model folder holds ``config.json``::

    {"kind": "routed",
     "classifier": "classifier",                 # the scene classifier
     "general": "general",                       # used for categories without a specialist
     "specialists": {"country": "specialists/country", ...},
     "min_confidence": 0.0}                      # below it, the general model is used

Each reference is a folder inside the routed model's folder or the name of a shipped
model (``"classifier"``, ``"default"``...). ``general`` may be null when every category the
classifier knows has a specialist; every specialist's category must be one the classifier
knows. Members must not be routed models themselves (nor the routed model's own folder):
that is checked from their ``config.json`` before they are loaded, as is every other field.

:meth:`RoutedColorizer.predict` classifies the image it is given; :func:`nircolor.colorize`
classifies the whole image once (:meth:`RoutedColorizer.for_image`) before tiling it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelError
from .base import Colorizer, SceneClassifier
from .fields import number_field
from .registry import (
    ALIASES,
    CONFIG_NAME,
    load_model,
    read_config,
    register_kind,
    resolve_model_path,
    shipped_names,
)


def member_path(folder: Path, reference: object, role: str) -> Path:
    """The folder of a member: one inside ``folder`` (not ``folder`` itself), or a shipped
    model's."""
    if not isinstance(reference, str) or not reference.strip():
        raise ModelError(f"{folder / CONFIG_NAME}: '{role}' must name a model")
    inside = (folder / reference).resolve()
    if inside == folder.resolve():
        raise ModelError(f"{folder / CONFIG_NAME}: {role} '{reference}' is the routed model itself")
    if inside.is_relative_to(folder.resolve()) and (inside / CONFIG_NAME).is_file():
        return inside
    if reference in shipped_names() or reference in ALIASES:
        return resolve_model_path(reference)
    raise ModelError(
        f"{folder / CONFIG_NAME}: {role} '{reference}' is neither a model folder inside "
        "the routed model nor a shipped model"
    )


def load_member(
    folder: Path, reference: object, role: str, kind: str | None = None, threads: int | None = None
):
    """Load a member after checking its kind from its config (a routed one is never loaded:
    members of members could lead back here)."""
    path = member_path(folder, reference, role)
    member_kind = read_config(path)["kind"]
    if member_kind == "routed" or (kind and member_kind != kind):
        raise ModelError(f"{folder / CONFIG_NAME}: {role} '{reference}' is a {member_kind} model")
    if not kind and member_kind == "classifier":
        raise ModelError(f"{folder / CONFIG_NAME}: {role} '{reference}' cannot colorize")
    return load_model(path, threads)


class RoutedColorizer:
    """Classify the scene, then colorize with that category's specialist (``kind == "routed"``)."""

    kind = "routed"
    halo = None  # the whole image is classified first (:meth:`for_image`), then tiled

    def __init__(self, folder: Path, config: dict, threads: int | None = None) -> None:
        self.folder = Path(folder)
        path = self.folder / CONFIG_NAME
        specialists = config.get("specialists")
        if not isinstance(specialists, dict) or not specialists:
            raise ModelError(f"{path}: 'specialists' must map categories")
        self.min_confidence = number_field(config, "min_confidence", path, 0.0, 0.0, 1.0)
        self.classifier: SceneClassifier = load_member(
            self.folder, config.get("classifier"), "classifier", "classifier", threads
        )
        unknown = [str(c) for c in specialists if c not in self.classifier.categories]
        if unknown:
            known = ", ".join(self.classifier.categories)
            raise ModelError(
                f"{path}: specialist '{unknown[0]}' is of a category the classifier does not "
                f"know (it knows {known})"
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
            raise ModelError(f"{path}: no specialist for {missing} and no general model")
        first = self.general or next(iter(self.specialists.values()))
        self.guided, self.detail = first.guided, first.detail
        self.context = first.context

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
