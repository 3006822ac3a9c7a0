"""Lightness calibration: how far a colorizer's mean lightness is from the truth's, per split.

For each model, on the ``fit``, ``holdout`` and ``val`` rows: the mean over the images of
(mean L* of the truth − mean L* of the colorization as ``nircolor colorize`` gives it) with
its standard error, and mean ΔE00 and PSNR. The default is scored as it ships (with the
lightness offset that ``nircolor calibrate`` fitted on ``fit``) and with the offset set to 0
(as trained); ``vivid``, the previous default, beside them. The offset is fitted on ``fit``
only and was chosen on ``holdout`` (``bench_default.py``); ``val`` is reported only.

Writes the section "Lightness calibration" of BENCHMARKS.md::

    python benchmarks/bench_lightness.py [--models default,vivid] [--no-write]
"""

from __future__ import annotations

import numpy as np

import nircolor
from _common import Run, base_parser, describe_pairs, load_split, markdown_table, publish, track
from nircolor.api import get_model
from nircolor.data import load_pair
from nircolor.metrics import delta_e00, psnr
from nircolor.models import read_config, resolve_model_path
from nircolor.models.lightness import mean_lightness

SPLITS = ("fit", "holdout", "val")


def scores(model, pairs, label: str) -> dict:
    differences, de00s, psnrs = [], [], []
    for pair in track(pairs, label):
        nir, truth = load_pair(pair)
        rgb = nircolor.colorize(nir, model=model)
        differences.append(mean_lightness(truth) - mean_lightness(rgb))
        de00s.append(float(delta_e00(rgb, truth)))
        psnrs.append(psnr(rgb, truth))
    d = np.array(differences)
    return {
        "difference": float(d.mean()),
        "error": float(d.std(ddof=1) / np.sqrt(len(d))),
        "de00": float(np.mean(de00s)),
        "psnr": float(np.mean(psnrs)),
    }


def variants(names: list[str]) -> dict[str, object]:
    """Each model as it ships; a model with a lightness offset also with it set to 0."""
    found = {}
    for name in names:
        model = get_model(name)
        found[f"`{name}` as it ships"] = model
        if getattr(model, "lightness_offset", 0):
            found[f"`{name}` with no offset (as trained)"] = model.with_lightness_offset(0.0)
    return found


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--models", default="default,vivid")
    args = parser.parse_args()
    run = Run()
    names = [name.strip() for name in args.models.split(",") if name.strip()]
    splits = {split: load_split(args.data, split) for split in SPLITS}
    models = variants(names)
    table = {
        (label, split): scores(model, pairs, f"{split}: {label}")
        for label, model in models.items()
        for split, pairs in splits.items()
    }
    rows = [
        (
            label,
            split,
            f"{s['difference']:+.2f} ± {s['error']:.2f}",
            f"{s['de00']:.2f}",
            f"{s['psnr']:.2f}",
        )
        for (label, split), s in table.items()
    ]
    records = []
    for name in names:
        record = read_config(resolve_model_path(name)).get("lightness_calibration")
        if record:
            records.append(
                f"`{name}`: offset {record['offset']:+.3f} L* fitted on {record['images']} "
                f"`{record['split']}` images by `{record['command']}` ({record['date']})."
            )
    body = "\n".join(
        [
            "Rows: " + "; ".join(f"{s} {describe_pairs(p)}" for s, p in splits.items()) + ".",
            "",
            "Mean lightness difference: the mean over the images of (mean L* of the truth − "
            "mean L* of the colorization), ± its standard error; negative means the "
            "colorization is too bright. ΔE00 and PSNR are per-image means.",
            "",
            markdown_table(
                ("model", "rows", "mean L* difference", "ΔE00", "PSNR dB"),
                rows,
                numeric_from=2,
            ),
            "",
            *records,
            "",
            "The offset is fitted on `fit` only (`nircolor calibrate`) and was chosen on "
            '`holdout` (BENCHMARKS.md, "The new default"); `val` is reported only.',
        ]
    )
    publish(
        run,
        {"## Lightness calibration: the default's mean lightness per split": body},
        write=not args.no_write,
    )


if __name__ == "__main__":
    main()
