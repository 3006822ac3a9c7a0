"""The models a server offers: its default and the shipped colorizers, by name only."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..api import get_model
from ..errors import ModelError
from ..models import (
    ALIASES,
    NON_COLORIZERS,
    Colorizer,
    list_models,
    read_config,
    resolve_model_path,
)


@dataclass
class ModelEntry:
    name: str
    kind: str
    size_bytes: int | None
    alias_of: str | None = None


class ModelRegistry:
    """The models a server offers: its default (any name, folder or object) and the shipped
    colorizers (the scene classifier left out).

    Clients name models; they never pass paths, so a request cannot make the server read an
    arbitrary folder.
    """

    def __init__(self, model: str | os.PathLike | Colorizer) -> None:
        # fails here, at start-up, for an unknown model or a scene classifier
        self.default: Colorizer = get_model(model)
        self.entries: dict[str, ModelEntry] = {}
        for info in list_models():
            if info.kind not in NON_COLORIZERS:
                self.entries[info.name] = ModelEntry(info.name, info.kind, info.size_bytes)
        for alias, target in ALIASES.items():
            if target in self.entries:
                entry = self.entries[target]
                self.entries[alias] = ModelEntry(alias, entry.kind, entry.size_bytes, target)
        self.default_name = self._default_name(model)

    def _default_name(self, model: str | os.PathLike | Colorizer) -> str:
        if isinstance(model, (str, os.PathLike)) and str(model) in self.entries:
            return str(model)
        if isinstance(model, (str, os.PathLike)):
            folder = resolve_model_path(model)
            name = folder.name
            kind = str(read_config(folder).get("kind", "?"))
            size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
        else:
            kind = str(model.kind)
            name, size = kind, None
        while name in self.entries:  # a user folder named like a shipped model
            name = f"{name}-served"
        self.entries[name] = ModelEntry(name, kind, size)
        return name

    def check(self, name: str | None) -> str:
        """The model name to use for a request's ``model`` field, or a one-line ModelError."""
        if not name:
            return self.default_name
        if name not in self.entries:
            known = ", ".join(sorted(self.entries))
            raise ModelError(f"unknown model '{name}': not a registered name ({known})")
        return name

    def load(self, name: str) -> Colorizer:
        target = self.entries[name].alias_of or name
        if target == (self.entries[self.default_name].alias_of or self.default_name):
            return self.default
        return get_model(target)

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "name": e.name,
                "kind": e.kind,
                "size_bytes": e.size_bytes,
                "alias_of": e.alias_of,
                "default": e.name == self.default_name,
                "label": self._label(e),
            }
            for e in sorted(self.entries.values(), key=self._order)
        ]

    def _label(self, entry: ModelEntry) -> str:
        """The web menu's text: ``default (sharp)``, ``faithful (unet)``; a server default not
        named ``default`` says so once (``l3 — server default``)."""
        label = f"{entry.name} ({entry.alias_of})" if entry.alias_of else entry.name
        if entry.name == self.default_name and entry.name != "default":
            label += " \u2014 server default"
        return label

    def _order(self, entry: ModelEntry) -> tuple[bool, str]:
        return entry.name != self.default_name, entry.name
