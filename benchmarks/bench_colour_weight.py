"""The colourfulness term (``--colour-weight``): its candidates against the previous default.

Each candidate (``NAME=MODEL``, a model folder written by ``nircolor train ... --colour-weight``)
is scored as bench_colour.py scores every candidate (all eight metrics, the model's own
defaults, holdout rows to choose on and val rows to report) and held to the same rule (issue
11: colour ratio ≥ 0.8, hue accuracy and ΔE00 better than the previous default's, PSNR no more
than 0.3 dB below it). On the holdout rows each candidate is also scored with its L*
replaced by the previous default's (as bench_colour_limits.py does): what its chroma would
give on the default's lightness.

The six val images of bench_colour.py (NIR | previous default | each candidate | truth) go
to ``--pictures`` (default ``out/colour_weight_grid.png``, outside git: dataset images).
Scores share bench_colour.py's cache. Writes the section "The colourfulness term" of
BENCHMARKS.md::

    python benchmarks/bench_colour_weight.py --candidate 'colour 1=runs/unet_colour1/model' ...
"""

from __future__ import annotations

from pathlib import Path

from skimage.color import rgb2lab

from _common import REPO, Run, base_parser, describe_pairs, load_split, progress_bar, publish
from bench_colour import (
    BASELINE,
    grid,
    parse_candidates,
    passes_rule,
    picture_rows,
    results_table,
    score_candidates,
    training_record,
)
from bench_colour_limits import with_lightness
from nircolor.api import colorize, get_model
from nircolor.data import load_pair
from nircolor.io import write_image
from nircolor.metrics import compute_metrics, mean_metrics


def on_default_lightness(candidates: dict[str, str], pairs) -> dict[str, dict]:
    """Each candidate's holdout summary with its L* replaced by the previous default's."""
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
    return {f"{name} on the {BASELINE}'s L*": mean_metrics(r) for name, r in rows.items()}


def shown(path: Path) -> Path:
    return path.relative_to(REPO) if path.is_relative_to(REPO) else path


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--candidate", action="append", default=[], metavar="NAME=MODEL")
    parser.add_argument("--pictures", type=Path, default=REPO / "out" / "colour_weight_grid.png")
    args = parser.parse_args()
    run = Run()
    candidates = parse_candidates(args.candidate)
    holdout, val = load_split(args.data, "holdout"), load_split(args.data, "val")
    cache_path = REPO / "out" / "bench_colour_cache.json"
    scores = score_candidates(candidates, {"holdout": holdout, "val": val}, cache_path)
    hybrids = on_default_lightness(candidates, holdout)
    baseline = scores["holdout"][BASELINE]
    verdicts = "\n".join(
        f"- {name}: {'passes' if passes_rule(row, baseline) else 'does not pass'}"
        for name, row in scores["holdout"].items()
        if name != BASELINE
    )
    args.pictures.parent.mkdir(parents=True, exist_ok=True)
    write_image(args.pictures, grid(picture_rows(candidates, val)), overwrite=True)

    records = [(name, *training_record(model)) for name, model in candidates.items()]
    training = "\n".join(f"| {name} | {command} | {wall} |" for name, command, wall in records)
    body = f"""Candidates: the previous default fine-tuned with the colourfulness term
(`--colour-weight W`: each 128-px training patch asked for the truth's colourfulness M,
`W · |M_pred − M_true| / 255`, beside the L1 + SSIM loss; best epoch the lowest holdout
ΔE00 among those with a colour ratio ≥ 0.8).

| candidate | command | wall time |
|---|---|---:|
{training}

Holdout rows (choices are made here): {describe_pairs(holdout)}

{results_table(scores["holdout"] | hybrids)}

Val rows (scene-disjoint; reported only): {describe_pairs(val)}

{results_table(scores["val"])}

Rule (holdout, as bench_colour.py): colour ratio ≥ 0.8, hue accuracy and ΔE00 better than
the {BASELINE}'s, PSNR ≥ its PSNR − 0.3 dB:

{verdicts}

"on the {BASELINE}'s L*" rows: the candidate's a*b* on the default's L* (two nets: not a
shippable model at the default's speed, a measure of where the ΔE00 goes). Pictures: six val
images, NIR | {" | ".join(candidates)} | truth, in `{shown(args.pictures)}` (not committed:
dataset images).
"""
    publish(run, {"## The colourfulness term (`--colour-weight`)": body}, not args.no_write)


if __name__ == "__main__":
    main()
