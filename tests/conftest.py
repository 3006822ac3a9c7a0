"""Shared fixtures: small synthetic NIR/RGB data made on the fly."""

from __future__ import annotations

import csv
import sys
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


def write_manifest(root: Path, rows: list[dict]) -> Path:
    path = root / "MANIFEST.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def run_cli(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    """Run ``nircolor ARGS...`` in-process through its real entry point: (exit code, out, err)."""
    from nircolor.cli import main

    monkeypatch.setattr(sys, "argv", ["nircolor", *map(str, args)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


@pytest.fixture
def tiny_model(pair_tree, tmp_path) -> Path:
    """An L3 model folder trained on the synthetic ``pair_tree`` (well under a second)."""
    from nircolor.train import train_l3

    folder = tmp_path / "model"
    train_l3(pair_tree, folder, split="all")
    return folder
