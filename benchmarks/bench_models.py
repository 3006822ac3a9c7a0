"""ΔE00 and PSNR per category of every shipped colorizer on the scene-disjoint val rows.

Every model that ``nircolor models`` lists, except the scene classifier and the ``default``
alias, is scored with :func:`nircolor.evaluate.evaluate_model` on the ``split == val`` rows;
a model that carries a default guided filter (``cnn``) is scored with it and without it.
NIR shown as grey is the floor. Writes the section "ΔE00 per category" of BENCHMARKS.md::

    python benchmarks/bench_models.py [--data ../shared/data] [--no-write] [--models l3,cnn]
"""

from __future__ import annotations

from _common import (
    GreyBaseline,
    Run,
    base_parser,
    colorizer_names,
    describe_pairs,
    evaluate,
    fmt_metric,
    guided_variants,
    load_split,
    markdown_table,
    publish,
    single_threaded_blas,
    with_overall,
)


def table(results: dict[str, dict[str, dict]], metric: str, lower_is_better: bool) -> str:
    labels = list(results)
    groups = list(next(iter(results.values())))
    header = ["category", "n", *labels]
    rows = []
    for group in groups:
        values = {label: results[label][group][metric] for label in labels}
        models = [label for label in labels if label != "NIR as grey"]
        best = (min if lower_is_better else max)(models, key=values.get)
        cells = [
            f"**{fmt_metric(metric, values[label])}**"
            if label == best
            else fmt_metric(metric, values[label])
            for label in labels
        ]
        rows.append([group, results[labels[0]][group]["n"], *cells])
    return markdown_table(header, rows)


def section(val, found: list[tuple], results: dict[str, dict[str, dict]]) -> str:
    overall = {label: groups["all"] for label, groups in results.items()}
    models = [label for label in results if label != "NIR as grey"]
    best_de = min(models, key=lambda label: overall[label]["de00"])
    best_psnr = max(models, key=lambda label: overall[label]["psnr"])
    categories = [group for group in next(iter(results.values())) if group != "all"]
    wins = {
        label: sum(
            min(models, key=lambda m, g=group: results[m][g]["de00"]) == label
            for group in categories
        )
        for label in models
    }
    win_text = ", ".join(f"{label} {n}" for label, n in wins.items() if n)
    floor = [
        group
        for group in categories
        if all(results["NIR as grey"][group]["de00"] < results[m][group]["de00"] for m in models)
    ]
    floor_text = (
        f"NIR shown as grey has a lower ΔE00 than every model in: {', '.join(floor)}."
        if floor
        else "Every model beats NIR shown as grey on ΔE00 in every category."
    )
    small = [g for g in categories if results[models[0]][g]["n"] <= 2]
    guided_text = ""
    for label, name, guided in found:
        if guided is not False:
            continue
        with_label = next(v[0] for v in found if v[1] == name and v[2] is None)
        helped = sum(results[with_label][g]["de00"] < results[label][g]["de00"] for g in categories)
        change = overall[with_label]["de00"] - overall[label]["de00"]
        guided_text += (
            f" The guided filter of `{name}` changes ΔE00 by {change:+.2f} over all val images "
            f"and lowers it in {helped} of {len(categories)} categories."
        )
    return f"""Every shipped colorizer (`nircolor models`, the classifier and the `default` alias
left out) scored with `nircolor.evaluate.evaluate_model` on the {describe_pairs(val)} of
`split == val`: mean per-image CIEDE2000 (lower is better) and PSNR per category, best model
of each row in bold (NIR as grey, the floor, is not ranked).

ΔE00:

{table(results, "de00", lower_is_better=True)}

PSNR dB:

{table(results, "psnr", lower_is_better=False)}

Lowest ΔE00 over all val images: {best_de} ({overall[best_de]["de00"]:.2f}); highest PSNR:
{best_psnr} ({overall[best_psnr]["psnr"]:.2f} dB). Categories won on ΔE00: {win_text}.
{floor_text} {guided_text.strip()} Categories with 1 or 2 val images ({", ".join(small)}) are
anecdotes."""


def main() -> None:
    single_threaded_blas()
    parser = base_parser(__doc__)
    parser.add_argument("--models", default=None, help="comma-separated names (default: all)")
    args = parser.parse_args()
    run = Run()
    val = load_split(args.data, "val")
    names = colorizer_names(args.models)
    print(f"models: {', '.join(names)}; val: {describe_pairs(val)}")
    found = guided_variants(names)
    results = {}
    for label, model, guided in [*found, ("NIR as grey", GreyBaseline(), False)]:
        evaluation = evaluate(model, val, f"{label}: scoring val", guided=guided)
        results[label] = with_overall(evaluation)
        summary = results[label]["all"]
        print(f"{label:40s} ΔE00 {summary['de00']:.2f}  PSNR {summary['psnr']:.2f} dB")
    publish(
        run,
        {"## ΔE00 per category: every shipped model": section(val, found, results)},
        write=not args.no_write,
    )


if __name__ == "__main__":
    main()
