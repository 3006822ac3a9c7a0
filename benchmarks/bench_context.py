"""Colour context: the choice of its setting, and colours that hold across sizes and tiles.

(a) The choice, on the holdout rows (never val): every holdout image larger than the
    context is colorized by the model as it is (no context) and through the context with
    each size × NIR range σ of the grid; PSNR, SSIM, ΔE00, colourfulness ratio, hue accuracy.
(b) Size, on val images: each is resized (area down, cubic up) to 512, 1024, 2048 and
    4096 px wide with its truth, and colorized with the context and without it: mean output
    chroma (CIELAB) as a ratio to its 1024-px value, and ΔE00 against the resized truth.
(c) Tiles: one val image upscaled to 6000×4000, colorized whole in memory and streamed from
    a file (``nircolor.colorize_file`` with 512-px tiles), with the context and without it:
    the largest mean ΔE00 between the two over 64-px strips centred on the tile borders.

Writes the section "Colour context" of BENCHMARKS.md::

    python benchmarks/bench_context.py [--model default] [--images 6] [--no-write]
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import cv2
import numpy as np
import tifffile

import nircolor
from _common import Run, base_parser, describe_pairs, load_split, publish, track
from nircolor.api import colorize_file, get_model
from nircolor.context import ColourContext, context_bands, downscale_rows
from nircolor.data import load_pair
from nircolor.metrics import compute_metrics, delta_e00_map, mean_metrics, srgb_to_lab
from nircolor.tiling import STREAM_TILE, default_overlap

SIZES, SIGMAS = (384, 512, 768), (0.02, 0.05, 0.1)
WIDTHS = (512, 1024, 2048, 4096)
COLUMNS = ("psnr", "ssim", "de00", "colourfulness_ratio", "hue_acc")


def resized(image: np.ndarray, width: int) -> np.ndarray:
    height = round(image.shape[0] * width / image.shape[1])
    interpolation = cv2.INTER_AREA if width < image.shape[1] else cv2.INTER_CUBIC
    return np.clip(cv2.resize(image, (width, height), interpolation=interpolation), 0, 1)


def mean_chroma(rgb: np.ndarray) -> float:
    lab = srgb_to_lab(rgb)
    return float(np.hypot(lab[..., 1], lab[..., 2]).mean())


def in_context(nir: np.ndarray, small: np.ndarray, predicted: np.ndarray, setting) -> np.ndarray:
    """The context colorization from an already colorized small copy (the grid reuses it)."""
    copy = np.concatenate([predicted, small[..., None]], axis=2)
    bands = context_bands(lambda a, b: nir[a:b], nir.shape, copy, setting.sigma)
    return np.concatenate([rgb for _, _, rgb in bands])


def choice(model, pairs) -> tuple[str, ColourContext]:
    large = [pair for pair in pairs if max(load_pair(pair)[0].shape) > min(SIZES)]
    grid = list(itertools.product(SIZES, SIGMAS))
    rows: dict = {"no context": []} | {setting: [] for setting in grid}
    for pair in track(large, "holdout grid"):
        nir, rgb = load_pair(pair)
        rows["no context"].append(compute_metrics(nircolor.colorize(nir, model, context=0), rgb))
        for size in SIZES:
            small = downscale_rows(lambda a, b, n=nir: n[a:b], nir.shape, size)
            predicted = model.for_image(small).predict(small)
            for sigma in SIGMAS:
                out = in_context(nir, small, predicted, ColourContext(size, sigma))
                rows[(size, sigma)].append(compute_metrics(out, rgb))
    means = {key: mean_metrics(value) for key, value in rows.items()}
    best = min(grid, key=lambda key: means[key]["de00"])
    lines = [
        f"(a) Holdout rows larger than {min(SIZES)} px: {describe_pairs(large)}; the setting with",
        "the lowest ΔE00 is in bold.\n",
        "| context (size, σ) | PSNR dB | SSIM | ΔE00 | colour ratio | hue acc |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, mean in means.items():
        label = key if key == "no context" else f"{key[0]}, {key[1]:g}"
        cells = " | ".join(f"{mean[name]:.3f}" for name in COLUMNS)
        lines.append(f"| {'**' + label + '**' if key == best else label} | {cells} |")
    return "\n".join(lines), ColourContext(*best)


def sizes(model, pairs) -> str:
    lines = [
        f"(b) {describe_pairs(pairs)} of val, resized to each width with their truth: mean",
        "output chroma as a ratio to the same image's at 1024 px (mean over the images, with",
        "the worst image's ratio), and ΔE00 against the resized truth.\n",
        "| width | chroma ratio, context | worst | ΔE00 | chroma ratio, no context | worst "
        "| ΔE00 |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    results = {(w, c): [] for w in WIDTHS for c in (True, False)}
    for pair in track(pairs, "sizes"):
        nir, rgb = load_pair(pair)
        for width, with_context in itertools.product(WIDTHS, (True, False)):
            small_nir, small_rgb = resized(nir, width), resized(rgb, width)
            out = nircolor.colorize(small_nir, model, context=None if with_context else 0)
            error = float(delta_e00_map(out, small_rgb).mean(dtype=np.float64))
            results[(width, with_context)].append((mean_chroma(out), error))
    for width in WIDTHS:
        cells = []
        for with_context in (True, False):
            got = np.array(results[(width, with_context)])
            base = np.array(results[(1024, with_context)])[:, 0]
            ratios = got[:, 0] / base
            worst = ratios[np.argmax(np.abs(ratios - 1))]
            cells += [f"{ratios.mean():.3f}", f"{worst:.3f}", f"{got[:, 1].mean():.2f}"]
        lines.append(f"| {width} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def tile_borders(length: int, tile: int) -> list[int]:
    """Where the streamed path's tiles meet along an axis (centres of their overlaps)."""
    overlap = default_overlap(tile)
    step = tile - overlap
    return [start + overlap // 2 for start in range(step, length - overlap, step)]


def tiles(model, pair, temp: Path) -> str:
    nir, _ = load_pair(pair)
    big = resized(nir, 6000)[:4000]
    source = temp / "big_nir.tif"
    tifffile.imwrite(source, (big * 65535).astype(np.uint16), compression="zlib")
    big = nircolor.read_nir(source)
    lines = [
        f"(c) `{pair.id}` upscaled to {big.shape[1]}×{big.shape[0]}: colorized whole in memory",
        f"and streamed from a TIFF in {STREAM_TILE}-px tiles; largest mean ΔE00 between the two",
        "over the 64-px strips centred on every tile border (bar: ≤ 1). Without the context",
        "the net cannot take the whole image at once (about 20 GB), so in memory it is tiled",
        "too, in 1024-px tiles: the row compares two tilings.\n",
        "| | max strip ΔE00 | strips | max pixel diff (1/255) |",
        "|---|---:|---:|---:|",
    ]
    for label, setting in (("with context", None), ("no context", 0)):
        whole = nircolor.colorize(big, model, context=setting)
        target = temp / "streamed.png"
        colorize_file(source, target, model, tile=STREAM_TILE, context=setting, overwrite=True)
        streamed = nircolor.read_image(target)
        diff = delta_e00_map(streamed, np.round(whole * 255) / 255)
        strips = [
            diff[max(0, y - 32) : y + 32].mean() for y in tile_borders(big.shape[0], STREAM_TILE)
        ]
        strips += [
            diff[:, max(0, x - 32) : x + 32].mean() for x in tile_borders(big.shape[1], STREAM_TILE)
        ]
        pixels = np.abs(streamed - whole).max() * 255
        lines.append(f"| {label} | {max(strips):.3f} | {len(strips)} | {pixels:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--model", default="default")
    parser.add_argument("--images", type=int, default=6, help="val images of (b)")
    parser.add_argument("--no-grid", action="store_true", help="skip (a), the holdout grid")
    args = parser.parse_args()
    run = Run()
    model = get_model(args.model)
    holdout = load_split(args.data, "holdout")
    val = [p for p in load_split(args.data, "val") if p.collection == "nirscene"]
    val = val[:: max(1, len(val) // args.images)][: args.images]
    parts = [f"Model `{args.model}` (its own setting: {model.context})."]
    if not args.no_grid:
        text, best = choice(model, holdout)
        parts.append(text + f"\n\nLowest holdout ΔE00: {tuple(best)}.")
    parts.append(sizes(model, val))
    with tempfile.TemporaryDirectory(prefix="nircolor-context-") as temp:
        parts.append(tiles(model, val[0], Path(temp)))
    heading = "## Colour context: the same colours at every size and across tiles"
    publish(run, {heading: "\n\n".join(parts)}, not args.no_write)


if __name__ == "__main__":
    main()
