"""The guided filter after the seed CNN: the r × ε sweep on the holdout rows, before/after on val.

    python benchmarks/bench_guided.py [--model cnn] [--data ../shared/data] [--no-write]

The sweep (r ∈ {2, 5, 8} × ε ∈ {1e-5, 1e-3, 1e-2}, and no filter) is scored on the
``holdout`` rows (the scene-disjoint part of the train rows that chooses the model's default
filter at training time, ``nircolor train cnn --guided-sweep``); the net alone and the net
with its default filter are then scored on ``split == val``. The seed found r = 5, ε = 1e-5.
"""

from __future__ import annotations

from _common import Run, base_parser, evaluate, fmt, load_split, markdown_table, publish
from nircolor.models import load_model
from nircolor.train.nets import GUIDED_GRID

HEADING = "## CNN before and after the guided filter"


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--model", default="cnn")
    args = parser.parse_args()
    run = Run()
    model = load_model(args.model)
    holdout = load_split(args.data, "holdout")
    sweep = {
        setting: evaluate(model, holdout, f"holdout {setting}", guided=setting).summary
        for setting in [False, *GUIDED_GRID]
    }
    radii = sorted({r for r, _ in GUIDED_GRID})
    epsilons = sorted({eps for _, eps in GUIDED_GRID})
    best = max(sweep, key=lambda setting: sweep[setting]["psnr"])

    def cell(setting) -> str:
        text = f"{fmt(sweep[setting]['psnr'])} / {fmt(sweep[setting]['ssim'], 3)}"
        return f"**{text}**" if setting == best else text

    rows = [["none", cell(False), "", ""]]
    rows += [[str(r), *(cell((r, eps)) for eps in epsilons)] for r in radii]
    sweep_table = markdown_table(["r \\ ε", *(f"{eps:g}" for eps in epsilons)], rows)

    val = load_split(args.data, "val")
    default = model.guided
    rows = []
    for label, guided in [("net alone", False), (f"+ its default guided filter {default}", None)]:
        evaluation = evaluate(model, val, label, guided=guided)
        groups = evaluation.by_collection()
        summary = evaluation.summary
        rows.append(
            [
                label,
                f"{fmt(groups['nirscene']['psnr'])} / {fmt(groups['vcip2020']['psnr'])}",
                fmt(summary["ssim"], 3),
                fmt(summary["ae"]),
                fmt(summary["de00"]),
            ]
        )
    val_table = markdown_table(
        ["`" + args.model + "`", "PSNR dB nirscene / vcip2020", "SSIM", "AE °", "ΔE00"], rows
    )
    verdict = (
        "none (the filter does not help)"
        if best is False
        else f"r = {best[0]}, ε = {best[1]:g}"
        + (" (agrees)" if best == (5, 1e-5) else " (disagrees with the seed on this point)")
    )
    body = (
        f"Sweep on the {len(holdout)} `holdout` pairs (PSNR dB / SSIM; best in bold):\n\n"
        f"{sweep_table}\n\nThe seed found r = 5, ε = 1e-5 best; here the best is {verdict}. "
        f"Scored on `split == val` ({len(val)} pairs):\n\n{val_table}"
    )
    publish(run, {HEADING: body}, write=not args.no_write)


if __name__ == "__main__":
    main()
