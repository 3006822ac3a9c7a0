"""The seed's four L3 experiments on simulated camera pairs, against the real EPFL pairs.

Makes seeded synthetic spectral scenes and renders them into registered NIR/RGB pairs in a
temporary folder, through :mod:`nircolor.spectral` exactly as ``nircolor simulate scenes``
and ``nircolor simulate pairs`` do (categories vegetation, portrait, charts, mixed; the
pairs' own train/val split), then runs, with the functions of the real-data scripts:

* **general vs single-category L3** (``bench_l3_general.py``): one L3 model trained on every
  category, one per category, both scored per category on the val pairs (ΔE00, PSNR);
* **single-channel** (``bench_l3_channels.py``): R, G, B fitted jointly, independently, and
  jointly with one shared λ;
* **reverse** (``bench_reverse.py``): RGB → NIR against NIR → RGB (MSE, and MSE over the
  target's variance).

The real-data results are read from those scripts' sections of BENCHMARKS.md (not
recomputed), and a generated paragraph says, per experiment, whether the simulated result
agrees with them and with what the seed reports. Writes the one section "Simulated pairs:
the seed's four L3 experiments" of BENCHMARKS.md::

    python benchmarks/bench_simulated.py [--scenes 400] [--seed 0] [--no-write]
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from _common import (
    BENCHMARKS_MD,
    Run,
    base_parser,
    by_category,
    describe_pairs,
    fmt,
    fmt_metric,
    load_split,
    markdown_table,
    publish,
    simulated_pairs,
    single_threaded_blas,
)
from bench_l3_channels import CHANNELS, fit_variants
from bench_l3_channels import score as score_channels
from bench_l3_general import fit_general_and_single
from bench_reverse import fit_maps, map_means
from bench_reverse import score as score_reverse
from nircolor.metrics import mean_metrics

HEADING = "## Simulated pairs: the seed's four L3 experiments"
REAL_HEADINGS = {
    "single": "## L3 single-category",
    "channels": "## L3 single-channel",
    "reverse": "## Reverse training",
}
REVERSE_MAPS = ("L3 luma → NIR", "L3 RGB patch → NIR")

# --------------------------------------------------------------------------------------------
# The real-data results, read back from BENCHMARKS.md


def section_text(markdown: str, prefix: str) -> str | None:
    """The body of the first ``##`` section whose heading starts with ``prefix``."""
    match = re.search(rf"^{re.escape(prefix)}[^\n]*\n(.*?)(?=^## |\Z)", markdown, flags=re.M | re.S)
    return match.group(1) if match else None


def first_table(text: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the first markdown table in ``text`` (cells stripped of ``**``)."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    cells = [[c.strip().strip("*") for c in line.strip().strip("|").split("|")] for line in lines]
    if len(cells) < 2:
        return [], []
    return cells[0], [row for row in cells[2:] if len(row) == len(cells[0])]


def row_named(rows: Sequence[list[str]], column: int, name: str) -> list[str] | None:
    return next((row for row in rows if row[column] == name), None)


def verdict_phrase(text: str) -> str | None:
    """The bold agree/disagree phrase a real-data section ends with (``Agrees with the seed``)."""
    match = re.search(r"\*\*((?:Agrees|Disagrees)[^*]*)\*\*", text)
    return match.group(1) if match else None


def real_results(markdown: str) -> dict[str, dict]:
    """The real-data numbers the comparison needs, per experiment (missing ones left out)."""
    found: dict[str, dict] = {}
    text = section_text(markdown, REAL_HEADINGS["single"])
    if text:
        header, rows = first_table(text)
        row = row_named(rows, 0, "all with a category model")
        if row:
            value = {h: row[i] for i, h in enumerate(header) if "Δ" != h}
            found["single"] = {
                "n": int(row[2]),
                "psnr_general": float(value["PSNR dB general"]),
                "psnr_single": float(value["PSNR dB single"]),
                "de00_general": float(value["ΔE00 general"]),
                "de00_single": float(value["ΔE00 single"]),
                "verdict": verdict_phrase(text),
            }
    text = section_text(markdown, REAL_HEADINGS["channels"])
    if text:
        header, rows = first_table(text)
        psnr = {row[0]: float(row[header.index("PSNR dB")]) for row in rows}
        weight = re.search(r"largest weight difference between the two\s+is\s+(\S+),", text)
        if len(psnr) == 3:
            found["channels"] = {
                "psnr": psnr,
                "weight_diff": float(weight.group(1)) if weight else None,
                "verdict": verdict_phrase(text),
            }
    text = section_text(markdown, REAL_HEADINGS["reverse"])
    if text:
        header, rows = first_table(text)
        mse, relative = header.index("MSE"), header.index("MSE / target variance")
        maps = {row[1]: (float(row[mse]), float(row[relative])) for row in rows}
        if "L3 NIR → RGB" in maps and all(name in maps for name in REVERSE_MAPS):
            found["reverse"] = {"maps": maps, "verdict": verdict_phrase(text)}
    return found


# --------------------------------------------------------------------------------------------
# Verdicts (pure functions of the numbers)


def single_direction(d_psnr: float, d_de00: float) -> str:
    """``single`` when single-category training is better on both PSNR and ΔE00, ``general``
    when it is worse on both, ``mixed`` otherwise (Δ = single − general)."""
    if d_psnr > 0 and d_de00 < 0:
        return "single"
    if d_psnr < 0 and d_de00 > 0:
        return "general"
    return "mixed"


def reverse_direction(forward: tuple[float, float], reverse: tuple[float, float]) -> str:
    """``easier`` when the reverse map has less MSE and less MSE / variance than the forward
    map, ``raw only`` or ``relative only`` when only one of them is lower, ``harder`` when
    neither is; each map is ``(MSE, MSE / target variance)``."""
    raw, relative = reverse[0] < forward[0], reverse[1] < forward[1]
    if raw and relative:
        return "easier"
    if raw:
        return "raw only"
    return "relative only" if relative else "harder"


def agreement(same: bool) -> str:
    return "**agrees**" if same else "**disagrees**"


# --------------------------------------------------------------------------------------------
# The simulated pairs and the experiments


def make_pairs(folder: Path, count: int, seed: int) -> Path:
    """``count`` simulated scenes rendered into pairs under ``folder`` (seeded)."""
    from nircolor.spectral import simulate_pairs

    return simulated_pairs(folder, count, seed, simulate_pairs, "pairs")


def category_table(train, val, general, grey, singles) -> tuple[str, dict]:
    """General vs single-category ΔE00 and PSNR per category, and the pooled Δs."""
    general_rows = {row["image"]: row for row in general.images}
    grey_groups = grey.by_category()
    train_counts = {name: len(pairs) for name, pairs in by_category(train).items()}
    header = ["category", "n train", "n val", "ΔE00 general", "ΔE00 single", "Δ ΔE00"]
    header += ["PSNR general", "PSNR single", "Δ PSNR", "grey ΔE00", "grey PSNR"]
    rows, paired = [], []
    for name, pairs in by_category(val).items():
        single = singles.get(name)
        base = {m: float(np.mean([general_rows[p.id][m] for p in pairs])) for m in ("de00", "psnr")}
        own = single.summary if single else None
        cells = []
        for m in ("de00", "psnr"):
            cells += [fmt_metric(m, base[m])]
            cells += (
                [fmt_metric(m, own[m]), fmt_metric(m, own[m] - base[m], True)] if own else ["—"] * 2
            )
        grey_cells = [fmt_metric("de00", grey_groups[name]["de00"]), fmt(grey_groups[name]["psnr"])]
        rows.append([name, train_counts.get(name, 0), len(pairs), *cells, *grey_cells])
        if single:
            paired += [(general_rows[r["image"]], r) for r in single.images]
    pooled = {
        f"{m}_{side}": float(np.mean([pair[i][m] for pair in paired]))
        for m in ("de00", "psnr")
        for i, side in enumerate(("general", "single"))
    }
    pooled["n"] = len(paired)
    pooled["de00_wins"] = sum(s["de00"] < g["de00"] for g, s in paired)
    pooled["psnr_wins"] = sum(s["psnr"] > g["psnr"] for g, s in paired)
    grey_all = grey.summary
    rows.append(
        [
            "all",
            sum(train_counts.values()),
            len(paired),
            f"**{fmt_metric('de00', pooled['de00_general'])}**",
            f"**{fmt_metric('de00', pooled['de00_single'])}**",
            f"**{fmt_metric('de00', pooled['de00_single'] - pooled['de00_general'], True)}**",
            f"**{fmt(pooled['psnr_general'])}**",
            f"**{fmt(pooled['psnr_single'])}**",
            f"**{fmt(pooled['psnr_single'] - pooled['psnr_general'], signed=True)}**",
            fmt_metric("de00", grey_all["de00"]),
            fmt(grey_all["psnr"]),
        ]
    )
    return markdown_table(header, rows), pooled


def channel_table(models, seconds, rows) -> tuple[str, dict]:
    header = ["variant", "train s", "PSNR dB", "ΔE00", "MSE", *(f"MSE {c}" for c in CHANNELS)]
    table, means = [], {}
    for name in models:
        mean = mean_metrics(rows[name])
        for c in CHANNELS:
            mean[f"mse_{c}"] = float(np.mean([r[f"mse_{c}"] for r in rows[name]]))
        means[name] = mean
        table.append(
            [
                name,
                fmt(seconds[name], 1),
                fmt(mean["psnr"]),
                fmt_metric("de00", mean["de00"]),
                fmt_metric("mse", mean["mse"]),
                *(fmt_metric("mse", mean[f"mse_{c}"]) for c in CHANNELS),
            ]
        )
    joint, independent, _ = models.values()
    names = list(models)
    summary = {
        "weight_diff": float(np.abs(joint.weights - independent.weights).max()),
        "psnr": {name: means[name]["psnr"] for name in names},
        "de00": {name: means[name]["de00"] for name in names},
        "hardest": max(CHANNELS, key=lambda c: means[names[0]][f"mse_{c}"]),
    }
    return markdown_table(header, table), summary


def reverse_table(rows, seconds) -> tuple[str, dict]:
    from bench_reverse import MAPS

    stats = map_means(rows)
    header = ["direction", "map", "train s", "MSE", "PSNR dB", "MSE / target variance"]
    table = [
        [
            direction,
            name,
            fmt(seconds[name], 1) if name in seconds else "—",
            f"{stats[name][0]:.5f}",
            fmt(stats[name][1]),
            fmt(stats[name][2], 3),
        ]
        for direction, name, _ in MAPS
    ]
    maps = {name: (mse, relative) for name, (mse, _, relative) in stats.items()}
    return markdown_table(header, table, numeric_from=2), {"maps": maps}


# --------------------------------------------------------------------------------------------
# The comparison paragraph


def single_statement(sim: dict, real: dict | None) -> str:
    d_psnr = sim["psnr_single"] - sim["psnr_general"]
    d_de = sim["de00_single"] - sim["de00_general"]
    sim_dir = single_direction(d_psnr, d_de)
    what = {
        "single": "single-category training is better on both metrics",
        "general": "the general model is better on both metrics",
        "mixed": "neither is better on both metrics",
    }[sim_dir]
    text = (
        f"*General vs single-category.* The seed reports that L3 trained on all categories comes "
        f"close to L3 trained on the test image's own category, the single-category model "
        f"being a bit better. On the simulated val pairs {what} (single − general: "
        f"{d_psnr:+.2f} dB PSNR, {d_de:+.2f} ΔE00, over {sim['n']} images; lower ΔE00 on "
        f"{sim['de00_wins']} of them), which {agreement(sim_dir == 'single')} with the seed's "
        "direction"
    )
    if real is None:
        return text + "; the real-data section is not in BENCHMARKS.md to compare with."
    r_psnr = real["psnr_single"] - real["psnr_general"]
    r_de = real["de00_single"] - real["de00_general"]
    real_dir = single_direction(r_psnr, r_de)
    return text + (
        f", and {agreement(sim_dir == real_dir)} with the real EPFL pairs (read from the "
        f'"L3 single-category" section: {r_psnr:+.2f} dB, {r_de:+.2f} ΔE00 over {real["n"]} '
        f'val images, "{real["verdict"] or "no verdict"}"). In size the simulated gap is '
        f"{abs(d_de) / max(abs(r_de), 1e-9):.1f}× the real one in ΔE00."
    )


def channel_statement(sim: dict, real: dict | None) -> str:
    names = list(sim["psnr"])
    gap = max(abs(sim["psnr"][n] - sim["psnr"][names[0]]) for n in names)
    similar = gap < 0.01
    text = (
        f"*Single channel.* The seed reports that fitting R, G and B independently or jointly "
        f"gives similar results. On the simulated pairs the joint and independent fits differ "
        f"by at most {sim['weight_diff']:.1e} in a weight, and the three variants by at most "
        f"{gap:.4f} dB PSNR: {agreement(similar)} with the seed"
    )
    if real is None:
        return text + "; the real-data section is not in BENCHMARKS.md to compare with."
    real_gap = max(abs(v - real["psnr"][list(real["psnr"])[0]]) for v in real["psnr"].values())
    same = similar == (real_gap < 0.01)
    weight = "—" if real["weight_diff"] is None else f"{real['weight_diff']:.1e}"
    return text + (
        f', and {agreement(same)} with the real EPFL pairs ("L3 single-channel" section: '
        f"largest weight difference {weight}, PSNR spread {real_gap:.2f} dB as printed). This "
        "one holds by construction in nircolor's L3 (NIR-only classes and features, λ per "
        "channel), on any data."
    )


def reverse_statement(sim: dict, real: dict | None) -> str:
    def best(maps):
        name = min(REVERSE_MAPS, key=lambda n: maps[n][0])
        return name, maps[name], maps["L3 NIR → RGB"]

    name, reverse, forward = best(sim["maps"])
    sim_dir = reverse_direction(forward, reverse)
    what = {
        "easier": "easier, in raw MSE and relative to the target's variance",
        "raw only": "easier only in raw MSE (it leaves more of its target's variance unexplained)",
        "relative only": "harder in raw MSE but easier relative to its target's variance "
        "(the simulated NIR target varies more than the RGB one)",
        "harder": "harder, in raw MSE and relative to the target's variance",
    }[sim_dir]
    seed_word = {
        "easier": agreement(True),
        "raw only": "**agrees only in raw MSE**",
        "relative only": "**agrees only relative to the target's variance**",
        "harder": agreement(False),
    }[sim_dir]
    text = (
        f"*Reverse.* The seed reports that the reverse map, RGB → NIR, is easier to learn than "
        f"colorization. On the simulated pairs the better reverse map ({name}) is {what}: MSE "
        f"{reverse[0]:.5f} vs {forward[0]:.5f} for L3 NIR → RGB ({forward[0] / reverse[0]:.1f}×), "
        f"MSE / variance {reverse[1]:.3f} vs {forward[1]:.3f}; this {seed_word} with the seed"
    )
    if real is None:
        return text + "; the real-data section is not in BENCHMARKS.md to compare with."
    real_name, real_reverse, real_forward = best(real["maps"])
    real_dir = reverse_direction(real_forward, real_reverse)
    return text + (
        f", and {agreement(sim_dir == real_dir)} with the real EPFL pairs, where it is "
        f'{real_dir} ("Reverse training" section: {real_name} MSE {real_reverse[0]:.5f} vs '
        f"{real_forward[0]:.5f}, "
        f"{real_forward[0] / real_reverse[0]:.1f}×; MSE / variance {real_reverse[1]:.3f} vs "
        f"{real_forward[1]:.3f})."
    )


# --------------------------------------------------------------------------------------------


def main() -> None:
    single_threaded_blas()
    parser = base_parser(__doc__)
    parser.add_argument("--scenes", type=int, default=400, help="simulated scenes (default 400)")
    parser.add_argument("--seed", type=int, default=0, help="scene and noise seed (default 0)")
    args = parser.parse_args()
    run = Run()
    real = real_results(BENCHMARKS_MD.read_text() if BENCHMARKS_MD.is_file() else "")

    with tempfile.TemporaryDirectory(prefix="nircolor-sim-") as tmp:
        start = time.perf_counter()
        data = make_pairs(Path(tmp), args.scenes, args.seed)
        simulate_s = time.perf_counter() - start
        train, val = load_split(data, "train"), load_split(data, "val")
        print(
            f"simulated in {simulate_s:.1f} s; train: {describe_pairs(train)}; val: "
            f"{describe_pairs(val)}"
        )

        model, general_s, general, grey, singles, single_s = fit_general_and_single(train, val)
        categories, pooled = category_table(train, val, general, grey, singles)

        variants, variant_s = fit_variants(train)
        channels, channel_summary = channel_table(
            variants, variant_s, score_channels(variants, val)
        )

        forward, luma_model, rgb_model, reverse_s = fit_maps(train)
        reverse, reverse_summary = reverse_table(
            score_reverse(val, forward, luma_model, rgb_model), reverse_s
        )

    from nircolor.spectral import CATEGORIES

    mixes = "; ".join(
        f"{name}: " + ", ".join(f"{share:.0%} {lib}" for lib, share in libs.items())
        for name, libs in CATEGORIES.items()
    )
    statements = [
        single_statement(pooled, real.get("single")),
        channel_statement(channel_summary, real.get("channels")),
        reverse_statement(reverse_summary, real.get("reverse")),
    ]
    body = f"""The seed's four L3 experiments rerun on simulated pairs, with the functions of
`bench_l3_general.py`, `bench_l3_channels.py` and `bench_reverse.py` (default L3
configuration throughout). The pairs: {args.scenes} synthetic spectral scenes (seed
{args.seed}, 128×128, daylight or A; `nircolor.spectral.make_scenes`) rendered through the
`visible` and `nir` cameras (`simulate_pairs`, default camera settings, seed {args.seed}) into
a temporary folder in {simulate_s:.0f} s, the same as `nircolor simulate scenes --n
{args.scenes} --seed {args.seed}` then `nircolor simulate pairs`; their own split: train
{describe_pairs(train)}, val {describe_pairs(val)} (the collection is the category). All
numbers are means over the val pairs.

### General vs single-category L3, per category

The general model is trained on every category's train pairs ({general_s:.1f} s), each
single-category model on its own category's ({single_s:.1f} s for {len(singles)} fits); both
are scored on the category's val pairs. Δ = single − general (negative ΔE00, positive PSNR:
single is better); "grey" is NIR shown as grey. The last row pools every val image under its
own category's model.

{categories}

### Single channel: R, G, B jointly vs independently

{channels}

### Reverse: RGB → NIR vs NIR → RGB

{reverse}

### Agreement with the real pairs and with the seed

The real-data numbers are read from this file's sections "L3 single-category", "L3
single-channel" and "Reverse training" (as last written by those scripts, not recomputed
here).

{statements[0]}

{statements[1]}

{statements[2]}

The simulated scenes are warped Voronoi regions filled with library reflectances, with smooth
shading and grain but no objects, geometry, sky or distance, and their categories differ
only in the shares of the reflectance libraries ({mixes}), so the categories overlap; they
test whether a finding follows from the spectra and the cameras alone. Agreement here does
not make the real-data result more certain, and disagreement points to what the real scenes
have that the simulation lacks."""
    publish(run, {HEADING: body}, write=not args.no_write)


if __name__ == "__main__":
    main()
