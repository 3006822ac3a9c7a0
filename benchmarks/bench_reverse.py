"""Reverse training (decolorization): RGB → NIR with L3, against NIR → RGB.

The L3 NIR colorization follow-up reports that the reverse map, predicting the NIR image from
the colour image, is easier to learn than colorization. This script trains, on the
``split == train`` rows, with L3's default configuration:

* **NIR → RGB**: L3 as ``nircolor train l3`` trains it;
* **RGB luminance → NIR**: the same L3 (``fit_l3``) with the RGB image's luma
  ``Y = 0.299 R + 0.587 G + 0.114 B`` (Rec. 601, on the sRGB values) as its one input
  channel and the NIR image as its target;
* **RGB patch → NIR**: classes from the luma patch exactly as above (L3's level × contrast
  classes, the cut points of the luma model), and per class an affine map from the
  ``5 × 5 × 3`` RGB patch to the NIR value of the centre pixel, fitted by L3's own ridge
  regression with GCV (``nircolor.models.l3.gcv_solve``; 25 % of the pixels of every image,
  sparse classes borrowing a neighbour's fit, as in ``fit_l3``).

Both directions are scored by MSE (and PSNR) on the ``split == val`` rows, beside the
trivial maps (NIR shown as grey; luma taken as NIR) and as a fraction of the target's own
variance, since the two targets do not vary equally. Writes the section "Reverse training"
of BENCHMARKS.md::

    python benchmarks/bench_reverse.py [--data ../shared/data] [--no-write]
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from _common import (
    MappedPairs,
    describe_pairs,
    fmt,
    markdown_table,
    progress_bar,
    publish,
    start_l3_benchmark,
    track,
    train_l3,
)
from nircolor.data import Pair, load_pair
from nircolor.models.l3 import L3Model, ReverseL3, fit_reverse_l3, luma
from nircolor.train.l3 import LazyPairs


def luma_to_nir(nir: np.ndarray, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A training item of the luma → NIR L3: the luma image, the NIR image repeated three times."""
    return luma(rgb), np.repeat(nir[:, :, None], 3, axis=2)


def fit_rgb_patch(train: Sequence[Pair], luma_model: L3Model) -> ReverseL3:
    """The package's reverse L3 (:mod:`nircolor.models.l3.reverse`), on the luma model's cut
    points (the same first pass)."""
    cuts = (luma_model.level_cuts, luma_model.contrast_cuts)
    with progress_bar("RGB patch → NIR: training") as update:
        return fit_reverse_l3(LazyPairs(train), luma_model.config, progress=update, cuts=cuts)


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a.astype(np.float64) - b) ** 2))


def score(val, forward, luma_model, rgb_model) -> list[dict]:
    rows = []
    for pair in track(val, "scoring val"):
        nir, rgb = load_pair(pair)
        y = luma(rgb)
        rows.append(
            {
                "collection": pair.collection,
                "var rgb": float(rgb.reshape(-1, 3).var(axis=0).mean()),
                "var nir": float(nir.var()),
                "NIR as grey": mse(np.repeat(nir[:, :, None], 3, axis=2), rgb),
                "L3 NIR → RGB": mse(forward.predict(nir), rgb),
                "luma as NIR": mse(y, nir),
                "L3 luma → NIR": mse(luma_model.predict(y)[:, :, 0], nir),
                "L3 RGB patch → NIR": mse(rgb_model.predict(rgb), nir),
            }
        )
    return rows


MAPS = (
    ("NIR → RGB", "NIR as grey", "var rgb"),
    ("NIR → RGB", "L3 NIR → RGB", "var rgb"),
    ("RGB → NIR", "luma as NIR", "var nir"),
    ("RGB → NIR", "L3 luma → NIR", "var nir"),
    ("RGB → NIR", "L3 RGB patch → NIR", "var nir"),
)


def map_means(rows: Sequence[dict]) -> dict[str, tuple[float, float, float]]:
    """Per map of :data:`MAPS`: mean MSE, mean per-image PSNR, and mean MSE over the mean
    per-image variance of the map's target."""
    means = {}
    for _, name, variance in MAPS:
        mean = float(np.mean([r[name] for r in rows]))
        psnr = float(np.mean([10 * np.log10(1 / r[name]) for r in rows]))
        relative = mean / float(np.mean([r[variance] for r in rows]))
        means[name] = (mean, psnr, relative)
    return means


def section(train, val, rows, seconds) -> str:
    groups = {"all": rows}
    for row in rows:
        groups.setdefault(row["collection"], []).append(row)
    header = ["direction", "map", "train s", "MSE", "PSNR dB", "MSE / target variance"]
    header += [f"MSE {name}" for name in groups if name != "all"]
    table = []
    stats = map_means(rows)
    means = {name: (mean, relative) for name, (mean, _, relative) in stats.items()}
    for direction, name, _ in MAPS:
        mean, psnr, relative = stats[name]
        by_collection = [
            fmt(float(np.mean([r[name] for r in group])), 5)
            for key, group in groups.items()
            if key != "all"
        ]
        table.append(
            [
                direction,
                name,
                fmt(seconds[name], 1) if name in seconds else "—",
                f"{mean:.5f}",
                fmt(psnr),
                fmt(relative, 3),
                *by_collection,
            ]
        )
    forward, forward_relative = means["L3 NIR → RGB"]
    best = min(("L3 luma → NIR", "L3 RGB patch → NIR"), key=lambda name: means[name][0])
    reverse, reverse_relative = means[best]
    easier_raw = reverse < forward
    easier_relative = reverse_relative < forward_relative
    if easier_raw and easier_relative:
        verdict = (
            f"**Agrees with the seed**: the reverse map is easier. The better RGB → NIR map "
            f"({best}) has {forward / reverse:.1f}× less MSE than L3 NIR → RGB, and explains "
            f"more of its target's variance (MSE / variance {reverse_relative:.3f} vs "
            f"{forward_relative:.3f})."
        )
    elif easier_raw:
        verdict = (
            f"**Agrees with the seed only in raw MSE**: {best} has {forward / reverse:.1f}× less "
            f"MSE than L3 NIR → RGB, but leaves more of its target's variance unexplained "
            f"(MSE / variance {reverse_relative:.3f} vs {forward_relative:.3f}): the NIR target "
            "simply varies less."
        )
    else:
        verdict = (
            f"**Disagrees with the seed's claim** that the reverse direction is easier: {best} "
            f"has MSE {reverse:.5f} against {forward:.5f} for L3 NIR → RGB (MSE / variance "
            f"{reverse_relative:.3f} vs {forward_relative:.3f})."
        )
    return f"""L3 both ways, trained on the {describe_pairs(train)} of `split == train`, scored
on the {describe_pairs(val)} of `split == val`: mean per-image MSE (NIR → RGB over the three
channels, RGB → NIR over the one NIR channel; values in [0, 1]), mean per-image PSNR, and the
mean MSE divided by the mean per-image variance of the target (1 − R²: the share of the
target's variation the map leaves unexplained; the targets differ, NIR varies less). Luma is
`0.299 R + 0.587 G + 0.114 B` of the sRGB values. "L3 luma → NIR" is `fit_l3` unchanged with
the luma image as its input; "L3 RGB patch → NIR" classifies on the luma patch like L3 and
regresses the centre pixel's NIR on the 5×5×3 RGB patch with L3's ridge and GCV
(`nircolor.models.l3.reverse`, as `--photo-nir pseudo` uses it).

{markdown_table(header, table, numeric_from=2)}

{verdict}"""


def fit_maps(train: Sequence[Pair]):
    """The three L3 maps fitted on ``train``: ``(forward, luma_model, rgb_model, seconds)``,
    ``seconds`` keyed by the table's map names."""
    forward, forward_s = train_l3(train, "L3 NIR → RGB: training")
    luma_model, luma_s = train_l3(MappedPairs(train, luma_to_nir), "L3 luma → NIR: training")
    start = time.perf_counter()
    rgb_model = fit_rgb_patch(train, luma_model)
    rgb_s = time.perf_counter() - start
    seconds = {"L3 NIR → RGB": forward_s, "L3 luma → NIR": luma_s, "L3 RGB patch → NIR": rgb_s}
    for name, took in seconds.items():
        print(f"{name}: trained in {took:.1f} s")
    return forward, luma_model, rgb_model, seconds


def main() -> None:
    args, run, train, val = start_l3_benchmark(__doc__)
    forward, luma_model, rgb_model, seconds = fit_maps(train)
    rows = score(val, forward, luma_model, rgb_model)
    publish(
        run,
        {
            "## Reverse training: RGB → NIR (decolorization) vs NIR → RGB": section(
                train, val, rows, seconds
            )
        },
        write=not args.no_write,
    )


if __name__ == "__main__":
    main()
