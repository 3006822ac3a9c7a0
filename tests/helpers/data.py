"""Small data sets written on the fly."""

from __future__ import annotations

import csv
from pathlib import Path


def write_manifest(root: Path, rows: list[dict]) -> Path:
    path = root / "MANIFEST.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path
