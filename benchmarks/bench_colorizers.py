"""Every colorizer against L3 and the NIR-as-grey baseline on the ``split == val`` rows
(the seed's SSIM / PSNR comparison table; fusion output spaces; general vs routed).

Every model is scored per collection (nirscene, vcip2020) with PSNR, SSIM, AE and ΔE00; a
model given as ``NAME:noguided`` runs with its default guided filter off. Models are shipped
names or model folders, labelled ``LABEL=MODEL``::

    python benchmarks/bench_colorizers.py --models l3,cnn,cnn:noguided,fusion,unet=/tmp/unet

The section also states each model's margin over L3, against issue 3's bar for the default
(+3 dB on nirscene, +4 dB on vcip2020, SSIM above the grey baseline's).
"""

from __future__ import annotations

from _common import (
    GreyBaseline,
    Run,
    base_parser,
    describe_pairs,
    evaluate,
    fmt,
    load_split,
    markdown_table,
    publish,
    with_overall,
)
from nircolor.models import load_model

HEADING = "## Every model on val: PSNR, SSIM, AE, ΔE00 (fusion output spaces, routed specialists)"
COLLECTIONS = ("nirscene", "vcip2020")
BAR = {"nirscene": 3.0, "vcip2020": 4.0}


def parse_models(text: str) -> list[tuple[str, str, bool]]:
    """``label=model[:noguided]`` items → (label, model, guided filter on)."""
    models = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        label, _, model = item.rpartition("=")
        model, _, flag = model.partition(":")
        guided = flag != "noguided"
        models.append((label or item, model, guided))
    return models


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--models", default="l3,cnn,cnn:noguided,fusion", help="models to score")
    parser.add_argument("--split", default="val")
    args = parser.parse_args()
    run = Run()
    pairs = load_split(args.data, args.split)
    results = {"NIR as grey": with_overall(evaluate(GreyBaseline(), pairs, "grey"), "collection")}
    for label, name, guided in parse_models(args.models):
        model = load_model(name)
        evaluation = evaluate(model, pairs, label, guided=None if guided else False)
        results[label] = with_overall(evaluation, "collection")
    body = report(results, describe_pairs(pairs))
    publish(run, {HEADING: body}, write=not args.no_write)


def report(results: dict[str, dict], described: str) -> str:
    l3 = results.get("l3")
    header = ["model"]
    for collection in COLLECTIONS:
        header += [f"{collection} PSNR", "vs L3"]
    header += ["SSIM", "AE °", "ΔE00", "all PSNR"]
    rows = []
    for label, groups in results.items():
        row = [label]
        for collection in COLLECTIONS:
            value = groups[collection]["psnr"]
            margin = value - l3[collection]["psnr"] if l3 else None
            row += [fmt(value), fmt(margin, signed=True)]
        overall = groups["all"]
        row += [
            fmt(overall["ssim"], 4),
            fmt(overall["ae"]),
            fmt(overall["de00"]),
            fmt(overall["psnr"]),
        ]
        rows.append(row)
    bar = ", ".join(f"+{v:g} dB on {k}" for k, v in BAR.items())
    return (
        f"Scored on {described}; mean per-image metrics (nircolor.metrics).\nModels given "
        "as folders are not shipped; docs/training-records.md gives their commands. The default "
        f"must beat L3 by {bar}, with SSIM above the NIR-as-grey baseline's "
        f"({results['NIR as grey']['all']['ssim']:.4f}).\n\n" + markdown_table(header, rows)
    )


if __name__ == "__main__":
    main()
