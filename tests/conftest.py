"""Shared fixtures: small synthetic NIR/RGB data made on the fly."""

from __future__ import annotations

from pathlib import Path

import pytest

from nircolor.examples import synthetic_pair
from nircolor.io import write_image


@pytest.fixture
def pair_tree(tmp_path: Path) -> Path:
    """An EPFL-like folder: 3 categories × 4 scenes × (1 or 2 crops), no manifest."""
    root = tmp_path / "pairs"
    index = 0
    for category in ("country", "forest", "urban"):
        for scene in range(4):
            nir, rgb = synthetic_pair(index)
            stem = f"{scene:04d}"
            write_image(root / category / f"{stem}_nir.png", nir)
            suffix = "_rgb_reg" if scene % 2 else "_rgb"
            write_image(root / category / f"{stem}{suffix}.png", rgb)
            index += 1
    return root


@pytest.fixture
def tiny_model(pair_tree, tmp_path) -> Path:
    """An L3 model folder trained on the synthetic ``pair_tree`` (well under a second)."""
    from nircolor.train import train_l3

    folder = tmp_path / "model"
    train_l3(pair_tree, folder, split="all")
    return folder


@pytest.fixture
def predict_calls(monkeypatch):
    """Count every L3Model.predict call (the only place where colorizing work happens)."""
    from nircolor.models.l3 import L3Model

    calls = []
    original = L3Model.predict

    def counting(self, nir, *args, **kwargs):
        calls.append(nir.shape)
        return original(self, nir, *args, **kwargs)

    monkeypatch.setattr(L3Model, "predict", counting)
    return calls
