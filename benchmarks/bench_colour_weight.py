"""The colour terms (``--colour-weight``, ``--delta-e-weight``, ``--hue-weight``): their
candidates against the previous default.

Each candidate (``NAME=MODEL``, a model folder written by ``nircolor train`` with one of those
options) is scored as bench_colour.py scores every candidate (all eight metrics, the model's own
defaults, holdout rows to choose on and val rows to report) and held to the same rule (issue
11: colour ratio ≥ 0.8, hue accuracy and ΔE00 better than the previous default's, PSNR no more
than 0.3 dB below it). On the holdout rows each candidate is also scored with its L*
replaced by the previous default's (as bench_colour_limits.py does): what its chroma would
give on the default's lightness.

The six val images of bench_colour.py (NIR | previous default | each candidate | truth) go
to ``--pictures`` (default ``out/colour_weight_grid.png``, outside git: dataset images).
Scores share bench_colour.py's cache, and go into the committed score record
``benchmarks/records/colour_weight.json`` (``_scores.py``): candidates scored before whose
models are not given this time keep their recorded scores, marked †; ``--drop NAME`` takes
one out. Writes the section "The colour terms" of BENCHMARKS.md::

    python benchmarks/bench_colour_weight.py --candidate 'colour 1=runs/unet_colour1/model' ...
"""

from __future__ import annotations

from pathlib import Path

from skimage.color import rgb2lab

from _common import REPO, Run, base_parser, describe_pairs, load_split, progress_bar, publish
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
from bench_colour import (
    BASELINE,
    grid,
    parse_candidates,
    passes_rule,
    picture_rows,
    results_table,
    score_candidates,
)
from bench_colour_limits import with_lightness
from nircolor.api import colorize, get_model
from nircolor.data import load_pair
from nircolor.io import write_image
from nircolor.metrics import compute_metrics, mean_metrics

ON_DEFAULT_LIGHTNESS = "holdout on the default's L*"  # the score record's split of those rows


def on_default_lightness(candidates: dict[str, str], pairs) -> dict[str, dict]:
    """Each candidate's holdout summary with its L* replaced by the previous default's, by
    candidate name (the default left out)."""
    models = {name: get_model(model) for name, model in candidates.items()}
    rows: dict[str, list[dict]] = {name: [] for name in models if name != BASELINE}
    with progress_bar("holdout on the default's L*", len(pairs)) as update:
        for pair in pairs:
            nir, rgb = load_pair(pair)
            lab_default = rgb2lab(colorize(nir, models[BASELINE]))
            for name in rows:
                chroma = rgb2lab(colorize(nir, models[name]))
                rows[name].append(compute_metrics(with_lightness(lab_default, chroma), rgb))
            update()
    return {name: mean_metrics(r) for name, r in rows.items()}


def verdict(passes: bool) -> str:
    return "passes" if passes else "does not pass"


def split_table(record: dict[str, dict], split: str, marked: list[str]) -> str:
    rows = {}
    for name, entry in record.items():
        label = f"{name} †" if name in marked else name
        rows[label] = entry["scores"][split]
        if split == "holdout" and ON_DEFAULT_LIGHTNESS in entry["scores"]:
            rows[f"{label} on the {BASELINE}'s L*"] = entry["scores"][ON_DEFAULT_LIGHTNESS]
    return results_table(rows)


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--candidate", action="append", default=[], metavar="NAME=MODEL")
    parser.add_argument("--drop", action="append", default=[], metavar="NAME")
    parser.add_argument("--pictures", type=Path, default=REPO / "out" / "colour_weight_grid.png")
    parser.add_argument("--record", type=Path, default=RECORDS / "colour_weight.json")
    args = parser.parse_args()
    run = Run()
    candidates = parse_candidates(args.candidate)
    holdout, val = load_split(args.data, "holdout"), load_split(args.data, "val")
    cache_path = REPO / "out" / "bench_colour_cache.json"
    scores = score_candidates(candidates, {"holdout": holdout, "val": val}, cache_path)
    hybrids = on_default_lightness(candidates, holdout)
    hybrids = {name: {ON_DEFAULT_LIGHTNESS: summary} for name, summary in hybrids.items()}
    entries = candidate_entries(candidates, scores, run.date, hybrids)
    record = updated_record(load_record(args.record), entries, args.drop)
    record = {BASELINE: record[BASELINE]} | record
    marked = recorded_only(record, candidates)
    baseline = record[BASELINE]["scores"]["holdout"]
    verdicts = "\n".join(
        f"- {name}: {verdict(passes_rule(entry['scores']['holdout'], baseline))}"
        for name, entry in record.items()
        if name != BASELINE
    )
    args.pictures.parent.mkdir(parents=True, exist_ok=True)
    write_image(args.pictures, grid(picture_rows(candidates, val)), overwrite=True)

    training = "\n".join(
        f"| {name} | {entry['command']} | {entry['wall']} |" for name, entry in record.items()
    )
    recorded = recorded_notes(record, marked, args.record, "this script")
    body = f"""Candidates: the previous default fine-tuned with a colour term beside the L1 + SSIM
loss, on 128-px training patches: the colourfulness term (`--colour-weight W`: `W · |M_pred −
M_true| / 255`, the truth's colourfulness M asked of each patch; best epoch the lowest holdout
ΔE00 among those with a colour ratio ≥ 0.8), the CIEDE2000 term (`--delta-e-weight W`:
`W · mean ΔE00 / 100`, the ranking metric itself) and the hue term (`--hue-weight W`: `W ·
mean (1 − cos Δh) / 2` over the pixels of true chroma ≥ 10); without a colourfulness term,
best epoch the lowest holdout ΔE00. "Pairs at 512": the training pairs brought down to 512
px on the long side (`--pair-side 512`, the colour context's size: the scale the net colorizes
at), and the epoch chosen on the pictures `nircolor colorize` gives (through the colour
context; the runs before that change chose on the net's raw output at full size).
"Averaged": `--average 0.998`, the moving average of the weights (decay 0.998 per step) is
what is validated, kept and exported, which evens out the noise between epochs.

| candidate | command | wall time |
|---|---|---:|
{training}

Holdout rows (choices are made here): {describe_pairs(holdout)}

{split_table(record, "holdout", marked)}

Val rows (scene-disjoint; reported only): {describe_pairs(val)}

{split_table(record, "val", marked)}

Rule (holdout, as bench_colour.py): colour ratio ≥ 0.8, hue accuracy and ΔE00 better than
the {BASELINE}'s, PSNR ≥ its PSNR − 0.3 dB:

{verdicts}
{recorded}

"on the {BASELINE}'s L*" rows: the candidate's a*b* on the default's L* (two nets: not a
shippable model at the default's speed, a measure of where the ΔE00 goes). Pictures: six val
images, NIR | {" | ".join(candidates)} | truth, in `{shown(args.pictures)}` (not committed:
dataset images).
"""
    if not args.no_write:
        save_record(args.record, record)
    publish(
        run,
        {"## The colour terms (`--colour-weight`, `--delta-e-weight`, `--hue-weight`)": body},
        not args.no_write,
    )


if __name__ == "__main__":
    main()
