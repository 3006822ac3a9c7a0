"""Soft pictures: the choice of the re-blur ratio above which a copy is coloured smaller.

On the holdout rows (never val), each NIR image clean, with Gaussian noise σ 0.03 and
blurred by σ 1, 2 and 4 px (``nircolor.degrade``), is colorized by the model as it ships
with ``nircolor.context.SOFT_RATIO`` set to each threshold of the grid ("off": never
halved, as before). Reported: mean ΔE00 per condition, how many images had their copy
halved, and the re-blur ratio of the softest clean copy (fit and holdout rows). The ratio
chosen is the one with the lowest ΔE00 summed over the three blurs among those at least
0.1 above the softest clean copy, so that no sharp picture comes near it.

A picture: four val images blurred by σ 4 px, as NIR | the default with no halving (as
before) | the default as it ships | the truth, downscaled.

Writes ``docs/images/soft_pictures.jpg`` and the section "Soft pictures" of BENCHMARKS.md::

    python benchmarks/bench_soft.py [--model default] [--no-write]
"""

from __future__ import annotations

import numpy as np

import nircolor
import nircolor.context as context_module
from _common import Run, base_parser, describe_pairs, load_split, markdown_table, publish, track
from bench_colour import grid, picture_pairs
from bench_pictures import save_jpeg
from nircolor.api import get_model
from nircolor.context import downscale_rows, reblur_ratio, sharp_scale
from nircolor.data import load_pair
from nircolor.degrade import degrade_condition
from nircolor.metrics import delta_e00

THRESHOLDS = (None, 0.7, 0.75, 0.8, 0.85)
CONDITIONS = (("clean", 0), ("noise", 0.03), ("blur", 1.0), ("blur", 2.0), ("blur", 4.0))
MARGIN = 0.05
PICTURE_BLUR = 4.0


def label(threshold) -> str:
    return "off" if threshold is None else f"{threshold:g}"


def condition_name(kind: str, strength: float) -> str:
    return "clean" if kind == "clean" else f"{kind} σ {strength:g}"


def the_copy(nir: np.ndarray, size: int) -> np.ndarray:
    """What the net is shown of ``nir`` before any halving: its context copy or itself."""
    if max(nir.shape) <= size:
        return nir
    return downscale_rows(lambda a, b: nir[a:b], nir.shape, size)


def softest_clean(pairs, size: int) -> tuple[float, str]:
    ratios = [(reblur_ratio(the_copy(load_pair(p)[0], size)), p.id) for p in track(pairs, "ratios")]
    return max(ratios)


def scores(model, pairs) -> dict:
    """``{(condition, threshold): (mean ΔE00, images halved)}``."""
    size = model.context.size
    errors = {(c, t): [] for c in CONDITIONS for t in THRESHOLDS}
    halved = dict.fromkeys(errors, 0)
    for index, pair in enumerate(track(pairs, "holdout")):
        nir, rgb = load_pair(pair)
        for kind, strength in CONDITIONS:
            image = nir if kind == "clean" else degrade_condition(nir, kind, strength, seed=index)
            for threshold in THRESHOLDS:
                context_module.SOFT_RATIO = np.inf if threshold is None else threshold
                key = ((kind, strength), threshold)
                copy = the_copy(image, size)
                halved[key] += sharp_scale(copy) is not copy
                errors[key].append(float(delta_e00(nircolor.colorize(image, model), rgb)))
    return {key: (float(np.mean(value)), halved[key]) for key, value in errors.items()}


def picture(model, pairs) -> str:
    """NIR blurred by :data:`PICTURE_BLUR` | not halved | as shipped | truth, per image."""
    shipped, rows = context_module.SOFT_RATIO, []
    for pair in track(pairs, "pictures"):
        nir, rgb = load_pair(pair)
        soft = degrade_condition(nir, "blur", PICTURE_BLUR)
        context_module.SOFT_RATIO = np.inf
        before = nircolor.colorize(soft, model)
        context_module.SOFT_RATIO = shipped
        rows.append(
            [np.repeat(soft[..., None], 3, axis=2), before, nircolor.colorize(soft, model), rgb]
        )
    return save_jpeg(grid(rows), "soft_pictures.jpg")


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--model", default="default")
    args = parser.parse_args()
    run = Run()
    model = get_model(args.model)
    holdout = load_split(args.data, "holdout")
    shipped = context_module.SOFT_RATIO
    softest, where = softest_clean(load_split(args.data, "fit") + holdout, model.context.size)
    results = scores(model, holdout)
    context_module.SOFT_RATIO = shipped
    val = [pair for pair in load_split(args.data, "val") if pair.collection == "nirscene"]
    shown = picture_pairs(val, count=4)
    image = picture(model, shown)
    blurs = [c for c in CONDITIONS if c[0] == "blur"]
    allowed = [t for t in THRESHOLDS if t is not None and t >= softest + MARGIN]
    best = min(allowed, key=lambda t: sum(results[(c, t)][0] for c in blurs)) if allowed else None
    header = ["condition"] + [f"ΔE00, {label(t)}" for t in THRESHOLDS] + ["halved at the choice"]
    rows = []
    for condition in CONDITIONS:
        cells = [f"{results[(condition, t)][0]:.3f}" for t in THRESHOLDS]
        rows.append(
            [condition_name(*condition)]
            + cells
            + [str(results[(condition, best)][1]) if best else "—"]
        )
    rows.append(
        ["sum over the blurs"]
        + [f"{sum(results[(c, t)][0] for c in blurs):.3f}" for t in THRESHOLDS]
        + [""]
    )
    body = [
        f"Model `{args.model}` (colour context {model.context.size} px). {describe_pairs(holdout)}"
        " of the holdout rows (choices are made here, never on val); each clean and degraded"
        " by `nircolor.degrade` (noise seeded per image), colorized as the model ships with"
        " `nircolor.context.SOFT_RATIO` at each threshold (off: never halved). A copy whose"
        " re-blur ratio is above the threshold is halved until it is not (long side at least"
        f" {context_module.MIN_SOFT_SIDE} px); mean ΔE00 (lower is better).",
        f"The softest clean copy of the fit and holdout rows: `{where}`, {softest:.3f}. The"
        f" thresholds at least {MARGIN:g} above it: {', '.join(label(t) for t in allowed)}.",
        markdown_table(header, rows),
        f"Lowest ΔE00 summed over the blurs among them: **{label(best)}**"
        f" (shipped: {label(shipped)}).",
        f"Val images blurred by σ {PICTURE_BLUR:g} px"
        f" ({', '.join(f'{p.category}/{p.nir.name}' for p in shown)}), downscaled. Columns:"
        " soft NIR | the default with no halving (as before) | the default as it ships | the"
        f" truth:\n\n![Soft NIR colorized as before and now]({image})",
    ]
    publish(
        run,
        {"## Soft pictures: the colour copy at its sharp scale": "\n\n".join(body)},
        not args.no_write,
    )


if __name__ == "__main__":
    main()
