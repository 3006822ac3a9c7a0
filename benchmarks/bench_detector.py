"""Region detector: mAP on held-out composites, top-box accuracy, time per image, pictures.

    python benchmarks/bench_detector.py [--model detector] [--data ../shared/data]
                                        [--split val] [--composites 300] [--threads 2]
                                        [--runs 20] [--no-write]

* mAP@0.5 and mAP@[.5:.95] (COCO's ten IoU thresholds) on ``--composites`` pictures built
  only from the ``split`` rows (mosaics, cut-and-paste and whole images in turn,
  :mod:`nircolor.detection.composites`; seed 0), every detection kept.
* The category of the most probable box on the real ``split`` images, against each image's
  own category, beside the shipped scene classifier on the same rows, in the same run.
* Milliseconds per image of ``nircolor.detect`` (defaults: probability ≥ 0.5, top 10;
  onnxruntime on ``threads`` threads, no torch) at the seed's Table 1 sizes, the median of
  ``runs`` calls on a random image, beside the seed's seconds.
* ``docs/images/detector_val.jpg``: real ``split`` images (the first of each category) and
  three held-out composites, with their boxes, labels and probabilities drawn.

Writes the section "Region detector: held-out composites, real images and time per image".
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
import numpy as np

from _common import REPO, Run, base_parser, markdown_table, publish
from nircolor.data import load_dataset
from nircolor.detection import Detection
from nircolor.detection.evaluate import composite_scores, held_out_composites, top_box_hits
from nircolor.detection.overlay import draw_detections
from nircolor.io import read_nir, to_uint
from nircolor.models import load_model

HEADING = "## Region detector: held-out composites, real images and time per image"
SEED_SECONDS = {(128, 128): 0.58, (256, 256): 1.35, (512, 512): 2.95, (600, 800): 3.78}
FASTER_RCNN_SECONDS = {(128, 128): 0.75, (256, 256): 1.61, (512, 512): 3.26, (600, 800): 4.58}
PICTURE = REPO / "docs" / "images" / "detector_val.jpg"
TILE = (216, 288)  # (h, w) of one picture in the grid


def training_sentence(model) -> str:
    """How the model's last training run was made, from its ``config.json``."""
    training = model.trunk.config.get("training", {})
    command = training.get("command")
    if not command:
        return "The detector's folder has no training record."
    minutes = training.get("wall_seconds", 0) / 60
    return (
        f"The detector's last training run was `{command}` ({minutes:.0f} min, best epoch "
        f"{training.get('best_epoch')}); its model card has the whole chain."
    )


def ms_per_image(model, size: tuple[int, int], runs: int) -> float:
    nir = np.random.default_rng(0).random(size).astype(np.float32)
    model.detect(nir, min_prob=0.5, top=10)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        model.detect(nir, min_prob=0.5, top=10)
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1000


def tile(nir: np.ndarray, detections: list[Detection], caption: str) -> np.ndarray:
    """One picture of the grid: the image fitted into :data:`TILE`, its boxes drawn."""
    height, width = nir.shape
    scale = min(TILE[0] / height, TILE[1] / width)
    h, w = max(1, round(height * scale)), max(1, round(width * scale))
    small = cv2.resize(nir, (w, h), interpolation=cv2.INTER_AREA)
    scaled = [
        Detection(tuple(v * scale for v in d.box), d.label, d.probability) for d in detections
    ]
    out = np.zeros((*TILE, 3), np.uint8)
    out[:h, :w] = draw_detections(small, scaled)
    cv2.rectangle(out, (0, TILE[0] - 18), (TILE[1], TILE[0]), (0, 0, 0), -1)
    cv2.putText(
        out,
        caption,
        (4, TILE[0] - 5),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.42,
        (255, 255, 255),
        1,
        cv2.LINE_AA,
    )
    return out


def write_grid(tiles: list[np.ndarray], columns: int = 4) -> int:
    rows = [tiles[i : i + columns] for i in range(0, len(tiles), columns)]
    rows[-1] += [np.zeros_like(tiles[0])] * (columns - len(rows[-1]))
    grid = np.concatenate([np.concatenate(row, axis=1) for row in rows], axis=0)
    PICTURE.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(
        ".jpg", cv2.cvtColor(grid, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80]
    )
    PICTURE.write_bytes(data.tobytes())
    return len(data)


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--model", default="detector")
    parser.add_argument("--split", default="val")
    parser.add_argument("--composites", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    run = Run()

    model = load_model(args.model, threads=args.threads)
    classifier = load_model("classifier", threads=args.threads)
    categories = model.categories
    pairs = [p for p in load_dataset(args.data, args.split) if p.category in categories]
    images = [to_uint(read_nir(p.nir), 8) for p in pairs]
    labels = [categories.index(p.category) for p in pairs]

    def detect(nir):
        return model.detect(nir)

    composites = held_out_composites(images, labels, args.composites, seed=0)
    scores = composite_scores(detect, composites, categories)
    by_kind = {
        kind: composite_scores(detect, [c for c in composites if c.kind == kind], categories)
        for kind in ("mosaic", "paste", "whole")
    }
    hits = top_box_hits(detect, images, labels, categories)
    classified = [classifier.classify(nir / np.float32(255))[0] for nir in images]
    classifier_hits = [c == p.category for c, p in zip(classified, pairs, strict=True)]

    lines = [
        f"{training_sentence(model)} It was trained on composites of the `fit` rows only; "
        "the epoch was chosen on composites of the scene-disjoint `holdout` rows. Everything "
        f"below is on the `{args.split}` rows ({len(pairs)} images of known categories), never "
        "seen in training.",
        "",
        f"**Held-out composites** ({scores['count']} pictures, {scores['boxes']} boxes, built "
        f"only from `split == {args.split}` images; all detections kept): "
        f"mAP@0.5 **{scores['map50']:.3f}**, mAP@[.5:.95] **{scores['map50_95']:.3f}**.",
        "",
    ]
    rows = [
        (kind, str(s["count"]), str(s["boxes"]), f"{s['map50']:.3f}", f"{s['map50_95']:.3f}")
        for kind, s in by_kind.items()
    ]
    lines += [
        markdown_table(("composites", "pictures", "boxes", "mAP@0.5", "mAP@[.5:.95]"), rows),
        "",
        "AP@0.5 per category (val images per category in brackets): "
        + ", ".join(
            f"{name} {ap:.2f} ({labels.count(categories.index(name))})"
            for name, ap in scores["ap50"].items()
        ),
        "",
        f"**Real `{args.split}` images**: the most probable box has the image's own category "
        f"in **{np.mean(hits):.3f}** of them ({sum(hits)} of {len(hits)}); the shipped scene "
        f"classifier, on the same rows in this run: **{np.mean(classifier_hits):.3f}** "
        f"({sum(classifier_hits)} of {len(classifier_hits)}).",
        "",
        f"**Time per image** (`nircolor.detect`, probability ≥ 0.5, top 10; onnxruntime on "
        f"{args.threads} threads, torch not imported: {'torch' not in sys.modules}; median of "
        f"{args.runs} calls on a random image), beside the seed's Table 1:",
        "",
    ]
    timing = []
    single = load_model(args.model, threads=1)
    for (height, width), seed in SEED_SECONDS.items():
        ms = ms_per_image(model, (height, width), args.runs)
        ms_single = ms_per_image(single, (height, width), args.runs)
        faster = FASTER_RCNN_SECONDS[(height, width)]
        timing.append(
            (f"{width}×{height}", f"{ms:.1f}", f"{ms_single:.1f}", f"{seed:.2f}", f"{faster:.2f}")
        )
    lines += [
        markdown_table(
            (
                "image",
                f"nircolor ms ({args.threads} threads)",
                "nircolor ms (1 thread)",
                "seed s",
                "Faster R-CNN s (seed)",
            ),
            timing,
        ),
        "",
        "Every image is first resized to the detector's working size (long side "
        f"{model.spec.side} px), so the time hardly grows with the image; the boxes are "
        "mapped back to input pixels.",
        "",
    ]
    firsts = {}
    for nir, pair in zip(images, pairs, strict=True):
        firsts.setdefault(pair.category, (nir, pair))
    tiles = []
    for category in categories:
        if category in firsts:
            nir, pair = firsts[category]
            found = model.detect(nir / np.float32(255), min_prob=0.5, top=3)
            tiles.append(tile(nir / np.float32(255), found, f"{Path(pair.nir).name}: {category}"))
    for composite in composites[:3]:
        truth = "+".join(categories[c] for c in composite.labels)
        found = model.detect(composite.image / np.float32(255), min_prob=0.5, top=4)
        tiles.append(tile(composite.image / np.float32(255), found, f"{composite.kind}: {truth}"))
    size = write_grid(tiles)
    lines += [
        f"![detections on val images](docs/images/detector_val.jpg) ({size // 1000} kB): "
        f"the first `{args.split}` image of each category (caption: file and true category) "
        "and three held-out composites (caption: kind and true boxes' categories), with "
        "the boxes of probability ≥ 0.5 (at most 3 per real image, 4 per composite).",
    ]
    publish(run, {HEADING: "\n".join(lines)}, write=not args.no_write)


if __name__ == "__main__":
    main()
