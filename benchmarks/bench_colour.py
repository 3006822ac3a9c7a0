"""Colour a person can see: every candidate colorizer on the holdout and val rows.

Each candidate (a shipped model name or a model folder written by ``nircolor train``, given
as ``NAME=MODEL``) is scored on the project's holdout rows (carved from the train rows: the
rows choices are made on) and on the scene-disjoint val rows (reported, never chosen on),
with all eight metrics: PSNR, SSIM, angular error, ΔE00, ΔE76, MSE, colourfulness ratio and
hue accuracy, each with the model's own default settings (colour context, temperature).

The choice follows issue 11's rule, on the holdout rows only: colourfulness ratio ≥ 0.8,
hue accuracy and ΔE00 better than the previous default's, PSNR no more than 0.3 dB below
it; among those, the lowest ΔE00. The PSNR-best candidate is named too.

Pictures: a grid of six val images (NIR | each candidate | truth), written to
``--pictures`` (default ``out/colour_grid.png``, outside git: val images are dataset files),
and a grid of the bundled example (NIR | each candidate; no truth ships) written to
``docs/images/candidates_example.jpg`` for docs/models.md.

Scores are cached in ``out/bench_colour_cache.json`` (keyed by the model's path, its config's
modification time and the split), so adding a candidate scores only that one. They also go
into the committed score record ``benchmarks/records/colour.json`` (``_scores.py``):
candidates scored before whose models are not given this time keep their recorded scores,
marked †; ``--drop NAME`` takes one out. Writes the section "Colour a person can see" of
BENCHMARKS.md::

    python benchmarks/bench_colour.py --candidate zhang=runs/zhang/model ... [--no-write]
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from _common import (
    REPO,
    Run,
    base_parser,
    describe_pairs,
    evaluate,
    load_split,
    markdown_table,
    publish,
)
from _scores import (
    RECORDS,
    candidate_entries,
    load_record,
    recorded_notes,
    recorded_only,
    save_record,
    shown,
    updated_record,
)
from nircolor.api import colorize, get_model
from nircolor.data import load_pair
from nircolor.examples import EXAMPLE_NIR, EXAMPLE_SOURCE
from nircolor.io import read_nir, write_image
from nircolor.metric_tables import METRIC_NAMES, METRICS

BASELINE = "previous default"
PREVIOUS_DEFAULT = "unet"  # the default before issue 11 (now also "faithful")
COLOURFULNESS_BAR, PSNR_SLACK = 0.8, 0.3
PICTURE_WIDTH = 240


def parse_candidates(items: list[str]) -> dict[str, str]:
    candidates = {BASELINE: PREVIOUS_DEFAULT}
    for item in items:
        name, _, model = item.partition("=")
        if not name or not model:
            raise SystemExit(f"--candidate wants NAME=MODEL, not {item!r}")
        candidates[name] = model
    return candidates


def passes_rule(row: dict, baseline: dict) -> bool:
    return (
        row["colourfulness_ratio"] >= COLOURFULNESS_BAR
        and row["hue_acc"] > baseline["hue_acc"]
        and row["de00"] < baseline["de00"]
        and row["psnr"] >= baseline["psnr"] - PSNR_SLACK
    )


def results_table(summaries: dict[str, dict]) -> str:
    header = ["candidate", *(METRICS[name].label for name in METRIC_NAMES)]
    lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * len(METRIC_NAMES) + "|"]
    for name, summary in summaries.items():
        cells = [METRICS[metric].format(summary.get(metric)) for metric in METRIC_NAMES]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cached_summary(cache: dict, model: str, split: str, pairs) -> dict:
    """The model's summary on ``pairs``, from ``cache`` when this very model (its config's
    modification time) was scored on this split before."""
    from nircolor.models import CONFIG_NAME, resolve_model_path

    stamp = (resolve_model_path(model) / CONFIG_NAME).stat().st_mtime_ns
    key = f"{model}|{stamp}|{split}|{len(pairs)}"
    if key not in cache:
        cache[key] = evaluate(get_model(model), pairs, f"{model} on {split}").summary
    return cache[key]


def score_candidates(candidates: dict[str, str], splits: dict, cache_path: Path) -> dict:
    """``{split: {name: summary}}`` of every candidate on every split's pairs, through the
    score cache at ``cache_path`` (written after each new score, so an interrupted run keeps
    what it scored)."""
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    scores: dict[str, dict] = {split: {} for split in splits}
    for name, model in candidates.items():
        for split, pairs in splits.items():
            scores[split][name] = cached_summary(cache, model, split, pairs)
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            cache_path.write_text(json.dumps(cache, indent=1))
    return scores


def picture_rows(candidates: dict[str, str], pairs) -> list[list[np.ndarray]]:
    """For each of :func:`picture_pairs`' images: NIR, each candidate's colours, truth."""
    rows = []
    for pair in picture_pairs(pairs):
        nir, rgb = load_pair(pair)
        rows.append([nir, *(colorize(nir, get_model(m)) for m in candidates.values()), rgb])
    return rows


def thumbnail(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    height = round(image.shape[0] * PICTURE_WIDTH / image.shape[1])
    small = cv2.resize(image, (PICTURE_WIDTH, height), interpolation=cv2.INTER_AREA)
    return np.clip(small, 0, 1)


def grid(rows: list[list[np.ndarray]]) -> np.ndarray:
    gap = 4
    lines = []
    for row in rows:
        cells = [thumbnail(cell) for cell in row]
        height = max(c.shape[0] for c in cells)
        padded = [
            np.pad(c, ((0, height - c.shape[0]), (0, gap), (0, 0)), constant_values=1)
            for c in cells
        ]
        lines.append(
            np.pad(np.concatenate(padded, axis=1), ((0, gap), (0, 0), (0, 0)), constant_values=1)
        )
    return np.concatenate(lines, axis=0)


def picture_pairs(pairs, count: int = 6):
    """``count`` val pairs spread over the categories (the first of each, in turn)."""
    by_category: dict[str, list] = {}
    for pair in pairs:
        by_category.setdefault(pair.category, []).append(pair)
    chosen, depth = [], 0
    while len(chosen) < count and depth < max(map(len, by_category.values())):
        for category in sorted(by_category):
            if depth < len(by_category[category]) and len(chosen) < count:
                chosen.append(by_category[category][depth])
        depth += 1
    return chosen


def record_tables(record: dict[str, dict], marked: list[str]) -> dict[str, dict]:
    """``{split: {label: summary}}`` of every recorded candidate (marked ones with a †)."""
    return {
        split: {
            f"{name} †" if name in marked else name: entry["scores"][split]
            for name, entry in record.items()
        }
        for split in ("holdout", "val")
    }


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--candidate", action="append", default=[], metavar="NAME=MODEL")
    parser.add_argument("--drop", action="append", default=[], metavar="NAME")
    parser.add_argument("--pictures", type=Path, default=REPO / "out" / "colour_grid.png")
    parser.add_argument("--record", type=Path, default=RECORDS / "colour.json")
    parser.add_argument(
        "--scores-only", action="store_true", help="Score (and cache) the candidates, stop."
    )
    args = parser.parse_args()
    run = Run()
    candidates = parse_candidates(args.candidate)
    holdout, val = load_split(args.data, "holdout"), load_split(args.data, "val")
    cache_path = args.pictures.parent / "bench_colour_cache.json"
    scores = score_candidates(candidates, {"holdout": holdout, "val": val}, cache_path)
    if args.scores_only:
        return
    entries = candidate_entries(candidates, scores, run.date)
    record = updated_record(load_record(args.record), entries, args.drop)
    record = {BASELINE: record[BASELINE]} | record
    marked = recorded_only(record, candidates)
    holdout_rows = {name: entry["scores"]["holdout"] for name, entry in record.items()}
    baseline = holdout_rows[BASELINE]
    passing = [n for n, row in holdout_rows.items() if n != BASELINE and passes_rule(row, baseline)]
    chosen = min(passing, key=lambda n: holdout_rows[n]["de00"]) if passing else None
    faithful = max(holdout_rows, key=lambda n: holdout_rows[n]["psnr"])
    tables = record_tables(record, marked)

    args.pictures.parent.mkdir(parents=True, exist_ok=True)
    write_image(args.pictures, grid(picture_rows(candidates, val)), overwrite=True)
    example = read_nir(EXAMPLE_NIR)
    example_row = [example, *(colorize(example, get_model(m)) for m in candidates.values())]
    example_grid = REPO / "docs" / "images" / "candidates_example.jpg"
    example_grid.parent.mkdir(parents=True, exist_ok=True)
    if not args.no_write:
        write_image(example_grid, grid([example_row]), overwrite=True)

    models = "\n".join(f"- {name}: `{entry['model']}`" for name, entry in record.items())
    rows = [(name, entry["command"], entry["wall"]) for name, entry in record.items()]
    training = markdown_table(["candidate", "command", "wall time"], rows, numeric_from=2)
    verdict = (
        f"**Chosen by the rule: {chosen}** (lowest holdout ΔE00 of {', '.join(passing)})."
        if chosen
        else "**No candidate passes the rule on the holdout rows.**"
    )
    body = f"""Candidates (the model's own defaults: context, temperature):

{models}
{recorded_notes(record, marked, args.record, "this script")}

Training (each run one sitting on the 2 cores; wall time as its config records it, on a
machine shared with the other runs):

{training}

Holdout rows (choices are made here): {describe_pairs(holdout)}

{results_table(tables["holdout"])}

Val rows (scene-disjoint; reported only): {describe_pairs(val)}

{results_table(tables["val"])}

Rule (holdout): colour ratio ≥ {COLOURFULNESS_BAR}, hue accuracy and ΔE00 better than the
{BASELINE}'s, PSNR ≥ its PSNR − {PSNR_SLACK} dB; then the lowest ΔE00. {verdict}
PSNR-best on the holdout: {faithful}.

Pictures (the candidates scored in this run): six val images, NIR | {" | ".join(candidates)}
| truth, are in `{shown(args.pictures)}` (written by this script, not committed: they hold
dataset images). The bundled example, NIR | {" | ".join(candidates)} (EPFL
`{EXAMPLE_SOURCE}`, a train image, downscaled): `docs/images/candidates_example.jpg`.
"""
    if not args.no_write:
        save_record(args.record, record)
    publish(
        run,
        {"## Colour a person can see: every candidate on holdout and val": body},
        not args.no_write,
    )


if __name__ == "__main__":
    main()
