"""L3 general vs single-category training, per category, on the scene-disjoint val rows.

Reproduces two tables of the L3 studies (Jiang et al., IEEE TIP 2017, and its NIR
colorization follow-up) on the project data:

* **L3 general**: one L3 model (the default configuration, exactly what ``nircolor train l3``
  trains) fitted on the ``split == train`` rows of every category, scored per category on
  the ``split == val`` rows (PSNR, SSIM, AE, ΔE00, ΔE76, MSE), beside NIR shown as grey;
* **L3 single-category**: one L3 model per category, fitted on that category's train rows
  only and scored on that category's val rows, side by side with the general model.

Writes the sections "L3 general" and "L3 single-category" of BENCHMARKS.md::

    python benchmarks/bench_l3_general.py [--data ../shared/data] [--no-write]
"""

from __future__ import annotations

import numpy as np

from _common import (
    METRIC_LABELS,
    GreyBaseline,
    by_category,
    describe_pairs,
    evaluate,
    fmt,
    fmt_metric,
    markdown_table,
    publish,
    start_l3_benchmark,
    train_l3,
    with_overall,
)
from nircolor.models import load_model

COMPARED = ("psnr", "ssim", "de00")


def rows_beside_grey(groups: dict[str, dict], grey_groups: dict[str, dict]) -> list[list]:
    """One table row per group: its count and metrics, then the grey baseline's PSNR and ΔE00."""
    return [
        [
            name,
            values["n"],
            *(fmt_metric(m, values[m]) for m in METRIC_LABELS),
            fmt_metric("psnr", grey_groups[name]["psnr"]),
            fmt_metric("de00", grey_groups[name]["de00"]),
        ]
        for name, values in groups.items()
    ]


def general_section(train, val, model, seconds, evaluation, grey) -> str:
    shipped = load_model("l3")
    same = np.array_equal(shipped.weights, model.weights)
    origin = (
        "identical, weight for weight, to the shipped `l3`"
        if same
        else "not identical to the shipped `l3` (retrain it or check the data)"
    )
    groups = with_overall(evaluation)
    grey_groups = with_overall(grey)
    header = ["category", "n", *METRIC_LABELS.values(), "grey PSNR", "grey ΔE00"]
    rows = rows_beside_grey(groups, grey_groups)
    collection_rows = rows_beside_grey(
        with_overall(evaluation, "collection"), with_overall(grey, "collection")
    )
    worse = [
        name
        for name, values in groups.items()
        if name != "all" and values["psnr"] < grey_groups[name]["psnr"]
    ]
    below = (
        f"L3 is below NIR-as-grey PSNR in: {', '.join(worse)}."
        if worse
        else "L3 beats NIR-as-grey PSNR in every category."
    )
    return f"""One L3 model, default configuration (as `nircolor train l3` trains it), fitted on all
{describe_pairs(train)} of `split == train` in {seconds:.1f} s ({origin}); scored on the
{describe_pairs(val)} of `split == val`. Mean per-image metrics of `nircolor.metrics`; "grey"
is the NIR image shown as grey (R = G = B = NIR), the floor.

{markdown_table(header, rows)}

{markdown_table(["collection", *header[1:]], collection_rows)}

{below} The val rows hold 1 to 16 images per category (`unknown` is a single VCIP
validation crop of unidentified scene), so the small categories' numbers are anecdotes."""


def single_section(train, val, general, singles, seconds) -> str:
    general_rows = {row["image"]: row for row in general.images}
    header = ["category", "n train", "n val"]
    for m in COMPARED:
        label = METRIC_LABELS[m]
        header += [f"{label} general", f"{label} single", "Δ"]
    rows = []
    paired: list[tuple[dict, dict]] = []
    train_counts = {name: len(pairs) for name, pairs in by_category(train).items()}
    for name, pairs in by_category(val).items():
        evaluation = singles.get(name)
        if evaluation is None:
            cells = []
            mean_general = {
                m: float(np.mean([general_rows[p.id][m] for p in pairs])) for m in COMPARED
            }
            for m in COMPARED:
                cells += [fmt_metric(m, mean_general[m]), "—", "—"]
            rows.append([name, train_counts.get(name, 0), len(pairs), *cells])
            continue
        own = {m: evaluation.summary[m] for m in COMPARED}
        base = {
            m: float(np.mean([general_rows[r["image"]][m] for r in evaluation.images]))
            for m in COMPARED
        }
        cells = []
        for m in COMPARED:
            cells += [
                fmt_metric(m, base[m]),
                fmt_metric(m, own[m]),
                fmt_metric(m, own[m] - base[m], True),
            ]
        rows.append([name, train_counts[name], len(pairs), *cells])
        paired += [(general_rows[r["image"]], r) for r in evaluation.images]
    n = len(paired)
    base_all = {m: float(np.mean([g[m] for g, _ in paired])) for m in COMPARED}
    own_all = {m: float(np.mean([s[m] for _, s in paired])) for m in COMPARED}
    cells = []
    for m in COMPARED:
        cells += [
            f"**{fmt_metric(m, base_all[m])}**",
            f"**{fmt_metric(m, own_all[m])}**",
            f"**{fmt_metric(m, own_all[m] - base_all[m], True)}**",
        ]
    rows.append(
        ["all with a category model", sum(train_counts.get(c, 0) for c in singles), n, *cells]
    )
    psnr_wins = sum(s["psnr"] > g["psnr"] for g, s in paired)
    de_wins = sum(s["de00"] < g["de00"] for g, s in paired)
    category_wins = sum(
        singles[c].summary["psnr"]
        > np.mean([general_rows[r["image"]]["psnr"] for r in singles[c].images])
        for c in singles
    )
    gain = own_all["psnr"] - base_all["psnr"]
    if gain > 0 and own_all["de00"] < base_all["de00"]:
        verdict = (
            f"**Agrees with the seed** on average: training on the image's own category gains "
            f"{gain:+.2f} dB PSNR and {own_all['de00'] - base_all['de00']:+.2f} ΔE00"
        )
    else:
        verdict = (
            f"**Disagrees with the seed's claim** that single-category training beats general "
            f"training: on average it changes PSNR by {gain:+.2f} dB and ΔE00 by "
            f"{own_all['de00'] - base_all['de00']:+.2f}"
        )
    missing = [c for c in by_category(val) if c not in singles]
    missing_text = (
        f" {', '.join(missing)} has no train rows, so no single-category model (its general "
        "numbers are shown, it is left out of the last row)."
        if missing
        else ""
    )
    return f"""One L3 model per category (default configuration), fitted on that category's
`split == train` rows only ({seconds:.0f} s for all {len(singles)} fits) and scored on the
same category's `split == val` rows; "general" is the L3 general model above on the same
images. Δ = single − general (positive is better for PSNR and SSIM, negative for ΔE00). The
last row is the mean over every val image colorized by its own category's model (an oracle
router: the true category is given).{missing_text}

{markdown_table(header, rows)}

{verdict}. Per image, the single-category model has the higher PSNR on {psnr_wins} of {n}
val images and the lower ΔE00 on {de_wins} of {n}; per category it has the higher mean PSNR
in {category_wins} of {len(singles)} categories. With 1 to 16 val images per category the
per-category differences are noisy, and the last row is an upper bound for routing: it gives
every image its true category, where a deployed router must guess it (see the scene
classifier's accuracy)."""


def fit_general_and_single(train, val):
    """The general L3 model and one model per category: ``(model, seconds, general, grey,
    singles, single_seconds)``, ``general``/``grey``/``singles[category]`` the evaluations on
    ``val`` (a category without train rows has no single model)."""
    model, seconds = train_l3(train, "L3 general: training")
    print(f"L3 general trained in {seconds:.1f} s")
    general = evaluate(model, val, "L3 general: scoring val")
    grey = evaluate(GreyBaseline(), val, "NIR as grey: scoring val")

    train_groups = by_category(train)
    singles = {}
    single_seconds = 0.0
    for name, pairs in by_category(val).items():
        if name not in train_groups:
            continue
        single, seconds_one = train_l3(train_groups[name], f"L3 {name}: training")
        single_seconds += seconds_one
        singles[name] = evaluate(single, pairs, f"L3 {name}: scoring val")
        print(
            f"{name:12s} {len(train_groups[name]):4d} train {len(pairs):3d} val: "
            f"PSNR {fmt(singles[name].summary['psnr'])} dB ({seconds_one:.1f} s)"
        )
    return model, seconds, general, grey, singles, single_seconds


def main() -> None:
    args, run, train, val = start_l3_benchmark(__doc__)
    model, seconds, general, grey, singles, single_seconds = fit_general_and_single(train, val)

    publish(
        run,
        {
            "## L3 general: one model for every category": general_section(
                train, val, model, seconds, general, grey
            ),
            "## L3 single-category: one model per category vs the general model": single_section(
                train, val, general, singles, single_seconds
            ),
        },
        write=not args.no_write,
    )


if __name__ == "__main__":
    main()
