"""The new default (issue 27): every candidate with all ten metrics, the rule that chose it, and
the bars.

A candidate is ``NAME=MODEL`` (a shipped name or a model folder, with its own defaults) or
``NAME=MODEL;guided=G;detail=D`` (its guided filter and detail transfer replaced, ``off`` or
``R,EPS`` / ``GAIN,SIGMA``). Each is scored on the holdout rows, where choices are made, by
issue 27's rule (:func:`nircolor.train.selection.sharp_score`: ΔE00 + 30 GMSD − 10 hue accuracy,
colour and detail ratios in [0.9, 1.1], lower is better), and on the val rows, where the bars
are checked and nothing is chosen:

- detail ratio in [0.9, 1.1], colour ratio in [0.9, 1.1];
- GMSD at least 5 % below the NIR shown as grey on the same rows;
- hue accuracy ≥ 0.76, ΔE00 ≤ 12.3, PSNR ≥ 17.3 dB.

Scores go into the committed record ``benchmarks/records/default.json`` (``_scores.py``):
candidates scored before whose models are not given this time (training runs' folders are
not kept) keep their recorded scores, marked †. Writes the section "The new default" of
BENCHMARKS.md::

    python benchmarks/bench_default.py --candidate 'vivid=vivid' \\
        --candidate 'vivid, no guided, detail 1.2 σ2=vivid;guided=off;detail=1.2,2' ...
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from _common import REPO, Run, base_parser, describe_pairs, evaluate, load_split, publish
from _scores import (
    RECORDS,
    load_record,
    recorded_notes,
    recorded_only,
    save_record,
    training_record,
    updated_record,
)
from bench_colour import results_table
from nircolor.api import get_model
from nircolor.evaluate import GREY, evaluate_grey
from nircolor.filters import DetailTransfer, GuidedFilter
from nircolor.metrics import mean_metrics
from nircolor.train.selection import sharp_score

BARS = (
    ("detail ratio in [0.9, 1.1]", lambda s, grey: 0.9 <= s["detail_ratio"] <= 1.1),
    ("GMSD ≤ 0.95 × grey", lambda s, grey: s["gmsd"] <= 0.95 * grey["gmsd"]),
    ("colour ratio in [0.9, 1.1]", lambda s, grey: 0.9 <= s["colourfulness_ratio"] <= 1.1),
    ("hue accuracy ≥ 0.76", lambda s, grey: s["hue_acc"] >= 0.76),
    ("ΔE00 ≤ 12.3", lambda s, grey: s["de00"] <= 12.3),
    ("PSNR ≥ 17.3 dB", lambda s, grey: s["psnr"] >= 17.3),
)


def parse_candidate(item: str) -> tuple[str, str, dict]:
    """``(name, model, {"guided": ..., "detail": ...})`` of ``NAME=MODEL[;KEY=VALUE]...``."""
    name, _, spec = item.partition("=")
    model, *settings = spec.split(";")
    if not name or not model:
        raise SystemExit(f"--candidate wants NAME=MODEL[;guided=G][;detail=D], not {item!r}")
    changes = {}
    for setting in settings:
        key, _, value = setting.partition("=")
        if key not in ("guided", "detail"):
            raise SystemExit(f"--candidate {item!r}: unknown setting {key!r} (guided, detail)")
        changes[key] = value
    return name, model, changes


def configured(model: str, changes: dict):
    """The model with its guided filter and detail transfer replaced as ``changes`` asks."""
    loaded = get_model(model)
    if not changes:
        return loaded
    loaded = copy.copy(loaded)
    if "guided" in changes:
        loaded.guided = GuidedFilter.of(changes["guided"]) or None
    if "detail" in changes:
        loaded.detail = DetailTransfer.of(changes["detail"]) or None
    return loaded


def portable(text: str) -> str:
    """``text`` with the folder above the repository written ``..`` (training runs' folders
    sit beside the checkout, as ``../shared`` does)."""
    return text.replace(f"{REPO.parent}/", "../")


def describe(model: str, changes: dict) -> str:
    settings = "".join(f"; {key} {value}" for key, value in changes.items())
    return portable(f"`{model}`{settings}")


def verdicts(summary: dict, grey: dict) -> str:
    missed = [label for label, met in BARS if not met(summary, grey)]
    return "all met" if not missed else "misses " + ", ".join(missed)


def rule_margin(first: list[dict], second: list[dict], rounds: int = 1000, seed: int = 0):
    """The rule's score of ``first`` less that of ``second`` (per-image rows of the same
    pairs), and its 95 % paired bootstrap interval: the images drawn with replacement, the
    same draw for both."""
    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(rounds):
        drawn = rng.integers(0, len(first), len(first))
        differences.append(
            sharp_score(mean_metrics([first[i] for i in drawn]))
            - sharp_score(mean_metrics([second[i] for i in drawn]))
        )
    margin = sharp_score(mean_metrics(first)) - sharp_score(mean_metrics(second))
    low, high = np.percentile(differences, [2.5, 97.5])
    return margin, low, high


def margin_sentence(ranked: list[str], images: dict[str, list[dict]], shipped: str | None) -> str:
    """How sure the holdout is of its first place: the best candidate scored in this run
    against the one that ships (``--shipped``; else the second best), with the bootstrap
    interval of their difference."""
    if len(ranked) < 2:
        return ""
    first, second = ranked[0], ranked[1]
    if shipped in images and shipped != first:
        second = shipped
    margin, low, high = rule_margin(images[first], images[second])
    verdict = "excludes" if high < 0 else "includes"
    return (
        f"\nHow sure the holdout is: {first} less {second}, on the rule, is {margin:+.3f}; its"
        f" 95 % paired bootstrap interval over the {len(images[first])} holdout images (1000"
        f" draws) is [{low:+.3f}, {high:+.3f}], which {verdict} 0.\n"
    )


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--candidate", action="append", default=[], metavar="NAME=MODEL")
    parser.add_argument("--drop", action="append", default=[], metavar="NAME")
    parser.add_argument("--record", type=Path, default=RECORDS / "default.json")
    parser.add_argument("--shipped", metavar="NAME", help="the candidate that is the default")
    args = parser.parse_args()
    run = Run()
    splits = {"holdout": load_split(args.data, "holdout"), "val": load_split(args.data, "val")}
    entries, holdout_images = {}, {}
    for item in args.candidate:
        name, model, changes = parse_candidate(item)
        command, wall = training_record(model)
        evaluations = {
            split: evaluate(configured(model, changes), pairs, f"{split}: {name}")
            for split, pairs in splits.items()
        }
        scores = {split: evaluation.summary for split, evaluation in evaluations.items()}
        holdout_images[name] = evaluations["holdout"].images
        entries[name] = {"model": describe(model, changes), "command": portable(command)}
        entries[name] |= {"wall": wall}
        entries[name] |= {"scored": run.date, "scores": scores}
    greys = {split: evaluate_grey(pairs).summary for split, pairs in splits.items()}
    record = updated_record(load_record(args.record), entries, args.drop)
    marked = recorded_only(record, {name: "" for name in entries})

    def label(name: str) -> str:
        return f"{name} †" if name in marked else name

    tables = {}
    for split in splits:
        rows = {label(name): entry["scores"][split] for name, entry in record.items()}
        tables[split] = results_table(rows | {GREY: greys[split]})
    ranked = sorted(record, key=lambda name: sharp_score(record[name]["scores"]["holdout"]))
    rule = "\n".join(
        f"| {label(name)} | {sharp_score(record[name]['scores']['holdout']):.2f} | "
        f"{verdicts(record[name]['scores']['val'], greys['val'])} |"
        for name in ranked
    )
    models = "\n".join(
        f"| {label(name)} | {entry['model']} | {entry['command']} | {entry['wall']} |"
        for name, entry in record.items()
    )
    body = f"""Every candidate for the default with all ten metrics, each through the colour
context as `nircolor colorize` gives it.

| candidate | model and finish | training command | wall time |
|---|---|---|---:|
{models}

Holdout rows (choices are made here): {describe_pairs(splits["holdout"])}

{tables["holdout"]}

Val rows (scene-disjoint; reported only): {describe_pairs(splits["val"])}

{tables["val"]}

The rule, on the holdout rows (lower is better; any candidate with its colour and detail
ratios in [0.9, 1.1] beats any without): ΔE00 + 30 × GMSD − 10 × hue accuracy. Best first,
with the bars on the val rows (detail and colour ratios in [0.9, 1.1], GMSD ≤ 0.95 × the
NIR shown as grey's {greys["val"]["gmsd"]:.3f}, hue accuracy ≥ 0.76, ΔE00 ≤ 12.3, PSNR ≥
17.3 dB):

| candidate | holdout score | val bars |
|---|---:|---|
{rule}
{margin_sentence([n for n in ranked if n in holdout_images], holdout_images, args.shipped)}
{recorded_notes(record, marked, args.record, "this script")}
"""
    if not args.no_write:
        save_record(args.record, record)
    publish(
        run, {"## The new default: every candidate, the rule and the bars": body}, not args.no_write
    )


if __name__ == "__main__":
    main()
