"""Benchmark of the L3 colorizer: training time, rendering time and validation PSNR.

Trains on every ``split == train`` row of a data folder (``MANIFEST.csv``, see
``shared/data/README.md``), reading the images from disk during training (decode time
included), then reports the median time to render a 1024×680 image and the mean per-image
PSNR on the ``split == val`` rows, per collection, beside the NIR-as-grey baseline::

    python benchmarks/bench_l3.py                      # data in ../shared/data
    python benchmarks/bench_l3.py --data /path/to/data --threads 2 --save /tmp/l3
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from dataclasses import fields
from pathlib import Path

import cv2
import numpy as np
from skimage.metrics import peak_signal_noise_ratio

from nircolor.io import read_nir, read_rgb
from nircolor.models.l3 import L3Config, fit_l3

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


class PairReader:
    """A sequence of (nir, rgb) pairs read from disk on access (so training decodes them)."""

    def __init__(self, root: Path, rows: list[dict]) -> None:
        self.root = root
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        row = self.rows[index]
        return read_nir(self.root / row["nir"]), read_rgb(self.root / row["rgb"])


def read_manifest(root: Path) -> list[dict]:
    path = root / "MANIFEST.csv"
    if not path.is_file():
        sys.exit(f"{path}: no manifest (give the data folder with --data)")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def parse_config(items: list[str]) -> L3Config:
    """``--set key=value`` overrides of the default L3Config (values parsed as JSON)."""
    known = {f.name for f in fields(L3Config)}
    overrides = {}
    for item in items:
        key, _, value = item.partition("=")
        if key not in known:
            sys.exit(f"unknown L3Config field '{key}' (known: {', '.join(sorted(known))})")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return L3Config(**overrides)


def time_render(model, nir: np.ndarray, threads: int | None, runs: int) -> list[float]:
    model.predict(nir, threads=threads)  # warm up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        model.predict(nir, threads=threads)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="data folder")
    parser.add_argument("--threads", type=int, default=None, help="render threads")
    parser.add_argument("--runs", type=int, default=15, help="render timing runs")
    parser.add_argument("--save", type=Path, default=None, help="save the model here")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()

    root = args.data.resolve()
    rows = read_manifest(root)
    train = [row for row in rows if row["split"] == "train"]
    val = [row for row in rows if row["split"] == "val"]
    config = parse_config(args.set)
    print(f"data: {root} ({len(train)} train pairs, {len(val)} val pairs)")
    print(f"config: {json.dumps(config.to_dict())}")

    start = time.perf_counter()
    for index in range(len(train)):
        PairReader(root, train)[index]
    decode = time.perf_counter() - start
    print(f"decode only: {decode:.1f} s (read every train pair once)")

    start = time.perf_counter()
    model = fit_l3(PairReader(root, train), config)
    seconds = time.perf_counter() - start
    passes = 1 + (config.cuts == "quantile") + (config.weighting == "psnr") * config.psnr_iterations
    print(f"train: {seconds:.1f} s wall ({passes} passes over the data, decode included)")
    print(f"  {model.info}")
    if args.save:
        model.save(args.save)
        print(f"  saved to {args.save}")

    sample = read_nir(root / val[0]["nir"]) if val else np.random.default_rng(0).random((8, 8))
    image = cv2.resize(sample.astype(np.float32), (1024, 680), interpolation=cv2.INTER_LINEAR)
    times = time_render(model, image, args.threads, args.runs)
    threads = args.threads or "auto"
    print(
        f"render 1024x680: median {statistics.median(times):.1f} ms, min {min(times):.1f} ms "
        f"({args.runs} runs, threads={threads})"
    )

    scores: dict[str, list[tuple[float, float]]] = {}
    for row in val:
        nir = read_nir(root / row["nir"])
        rgb = read_rgb(root / row["rgb"])
        grey = np.repeat(nir[:, :, None], 3, axis=2)
        predicted = model.predict(nir, threads=args.threads)
        scores.setdefault(row["collection"], []).append(
            (
                peak_signal_noise_ratio(rgb, predicted, data_range=1.0),
                peak_signal_noise_ratio(rgb, grey, data_range=1.0),
            )
        )
    for collection, values in sorted(scores.items()):
        l3, grey = np.mean(values, axis=0)
        print(
            f"val {collection:9s} ({len(values):3d} pairs): L3 {l3:.3f} dB   "
            f"(NIR as grey {grey:.3f} dB)"
        )


if __name__ == "__main__":
    main()
