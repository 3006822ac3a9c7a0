"""Benchmark of the L3 colorizer: training time, rendering time and validation metrics.

Trains L3 (``nircolor train l3``'s configuration unless ``--set``) on every ``split == train``
row of a data folder (``MANIFEST.csv``, see ``shared/data/README.md``), reading the images
from disk during training (decode time included), then reports the median time to render a
1024×680 image and the model's metrics on the ``split == val`` rows (the same code as
``nircolor evaluate``), per collection beside the NIR-as-grey baseline, and per category.
Writes the section "L3: validation, training time, rendering time" of BENCHMARKS.md::

    python benchmarks/bench_l3.py                      # data in ../shared/data
    python benchmarks/bench_l3.py --threads 2 --runs 15 --save /tmp/l3
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from dataclasses import fields
from pathlib import Path

import cv2
import numpy as np

from _common import (
    GreyBaseline,
    Run,
    base_parser,
    describe_pairs,
    evaluate,
    fmt,
    fmt_metric,
    load_split,
    markdown_table,
    metrics_table,
    publish,
    single_threaded_blas,
    train_l3,
)
from nircolor.data import load_pair
from nircolor.metric_tables import METRIC_LABELS
from nircolor.models import load_model
from nircolor.models.l3 import L3Config

HEADING = "## L3: validation, training time, rendering time"
RENDER_SIZE = (1024, 680)


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
    """Milliseconds of ``runs`` renderings of ``nir`` (after one to warm up)."""
    model.predict(nir, threads=threads)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        model.predict(nir, threads=threads)
        times.append((time.perf_counter() - start) * 1000)
    return times


def decode_seconds(pairs) -> float:
    """Wall seconds to read every pair once (what each training pass spends decoding)."""
    start = time.perf_counter()
    for pair in pairs:
        load_pair(pair)
    return time.perf_counter() - start


def same_as_shipped(model) -> str:
    """Whether ``model``'s weights are the shipped ``l3``'s."""
    shipped = load_model("l3")
    same = shipped.weights.shape == model.weights.shape and np.array_equal(
        shipped.weights, model.weights
    )
    return "yes" if same else "no"


def collection_table(evaluation, grey) -> str:
    """Per collection and overall: NIR-as-grey PSNR beside every metric of the model."""
    groups = {**evaluation.by_collection(), "all": evaluation.summary}
    grey_groups = {**grey.by_collection(), "all": grey.summary}
    header = ["collection (`split == val`)", "n", "NIR as grey PSNR dB"]
    header += [f"L3 {label}" for label in METRIC_LABELS.values()]
    rows = []
    for name, values in groups.items():
        cells = [name, values["n"], fmt(grey_groups[name]["psnr"])]
        rows.append(cells + [fmt_metric(metric, values[metric]) for metric in METRIC_LABELS])
    return markdown_table(header, rows)


def main() -> None:
    single_threaded_blas()
    parser = base_parser(__doc__)
    add_arguments(parser)
    args = parser.parse_args()
    run = Run()
    train, val = load_split(args.data, "train"), load_split(args.data, "val")
    print(f"train: {describe_pairs(train)}; val: {describe_pairs(val)}")
    config = parse_config(args.set)
    print(f"config: {json.dumps(config.to_dict())}")
    decode = decode_seconds(train)
    model, seconds = train_l3(train, "training L3", config)
    print(f"train: {seconds:.1f} s wall (decode alone {decode:.1f} s a pass)")
    if args.save:
        model.save(args.save)
        size_kb = sum(p.stat().st_size for p in Path(args.save).iterdir()) / 1000
        print(f"saved to {args.save} ({size_kb:.0f} KB)")
    image = cv2.resize(load_pair(val[0])[0], RENDER_SIZE, interpolation=cv2.INTER_LINEAR)
    times = time_render(model, image, args.threads, args.runs)
    evaluation = evaluate(model, val, "L3 on val")
    grey = evaluate(GreyBaseline(), val, "NIR as grey on val")
    threads = f"{args.threads} threads" if args.threads else "the model's default threads"
    record = markdown_table(
        ["what", "result", "target"],
        [
            (
                f"training on all {len(train)} train pairs (JPEG/PNG decoding included)",
                f"{seconds:.1f} s wall (decoding alone {decode:.1f} s a pass)",
                "≤ 60 s",
            ),
            (
                f"rendering one {RENDER_SIZE[0]}×{RENDER_SIZE[1]} image, {threads}",
                f"median {statistics.median(times):.1f} ms, min {min(times):.1f} ms "
                f"({args.runs} runs)",
                "≤ 60 ms",
            ),
            ("weights identical to the shipped `l3`", same_as_shipped(model), ""),
        ],
    )
    body = "\n\n".join(
        [
            f"L3 trained by this script with the configuration of `nircolor train l3` on the "
            f"{len(train)} `split == train` rows, scored on the {len(val)} `split == val` rows "
            "by `nircolor.evaluate` (what `nircolor evaluate` runs).",
            collection_table(evaluation, grey),
            "### ΔE00 per category (L3, `split == val`)",
            metrics_table(evaluation.by_category()),
            record,
            "Defaults (5×5 patches, 16 level × 16 contrast classes, global quantile cuts, GCV "
            "ridge) were chosen by 4-fold scene-disjoint cross-validation on the `train` rows "
            "only (see `nircolor.models.l3`).",
        ]
    )
    publish(run, {HEADING: body}, write=not args.no_write)


def add_arguments(parser) -> None:
    parser.add_argument("--threads", type=int, default=None, help="render threads")
    parser.add_argument("--runs", type=int, default=15, help="render timing runs")
    parser.add_argument("--save", type=Path, default=None, help="save the model here")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")


if __name__ == "__main__":
    main()
