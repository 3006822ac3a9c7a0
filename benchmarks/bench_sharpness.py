"""Sharp and right: the colour carry-up, halos, smoothing after the net, and detail from the NIR.

Issue 27's measurements, on the project's holdout rows (choices) and val rows (reported):

(a) **The carry-up alone.** The true RGB image is brought down to the colour context's copy
    (as the net's input is) and carried back up to full size, with no detail step: the
    guided filter's local linear model fitted on the copy (the carry-up before, at several
    radii) and the joint bilateral carry-up (:mod:`nircolor.context`) at several NIR ranges.
    Colour ratio, ΔE00 and GMSD on the holdout's full-size images; the bars are ≥ 0.97, ≤ 2.5
    and ≤ 0.11.
(b) **Halos.** A synthetic dark, smooth sky with a bright disk and pole in it, painted sharply
    (sky blue, object yellow-green) at the copy's size: the largest chroma change (ΔE of a*b*
    against the sky's colour) in the sky more than 3 px from the object, through each
    carry-up, and through the carry-up and then each guided filter.
(c) **Smoothing after the net.** Each guided filter applied to the true image at full size
    (the NIR as guide): the detail ratio it keeps (bar ≥ 0.95).
(d) **Detail from the NIR.** The default net (``--model``) through the new carry-up with its
    own guided filter, without it, and with the detail transfer (:mod:`nircolor.filters.detail`)
    at several gains and sigmas; the previous default and the NIR shown as grey beside them;
    all ten metrics on the holdout and val rows.

Writes the sections "Colour carry-up" and "Detail from the NIR" of BENCHMARKS.md::

    python benchmarks/bench_sharpness.py [--model default] [--no-write]
"""

from __future__ import annotations

import copy

import cv2
import numpy as np

from _common import (
    Run,
    base_parser,
    describe_pairs,
    evaluate,
    load_split,
    metrics_table,
    progress_bar,
    publish,
)
from nircolor.api import get_model
from nircolor.context import DEFAULT, ColourContext, colorize_in_context, downscale_rows
from nircolor.data import load_pair
from nircolor.evaluate import evaluate_grey
from nircolor.examples import bright_object_on_sky, paint_sky, sky_chroma_change
from nircolor.filters import DetailTransfer, GuidedFilter, apply_guided
from nircolor.filters.guided import box_mean
from nircolor.io import image_size
from nircolor.metrics import compute_metrics, detail_ratio, mean_metrics
from nircolor.models.base import ColorizerBase

LINEAR = ((8, 1e-3), (8, 1e-4), (2, 1e-4), (1, 1e-4))
SIGMAS = (0.02, 0.05, 0.1)
GUIDED = ((8, 1e-3), (5, 1e-5), (2, 1e-5), (1, 1e-5))
DETAILS = ((1.0, 2.0), (1.2, 2.0), (1.4, 2.0), (1.2, 1.0))
HALO_PX = 3
CARRY_COLUMNS = ("colourfulness_ratio", "de00", "gmsd")


def linear_carry_up(nir, small_nir, small_rgb, radius: int, eps: float) -> np.ndarray:
    """The carry-up before: the guided filter's local linear model ``rgb ≈ a · nir + b``
    fitted in the copy's windows, its window-averaged coefficients resized bilinearly to full
    size and applied to the full-size NIR."""
    guide = small_nir[..., None]
    mean_nir, mean_rgb = box_mean(guide, radius), box_mean(small_rgb, radius)
    variance = box_mean(guide * guide, radius) - mean_nir * mean_nir
    slope = (box_mean(guide * small_rgb, radius) - mean_nir * mean_rgb) / (variance + eps)
    offset = mean_rgb - slope * mean_nir
    coefficients = np.concatenate([box_mean(slope, radius), box_mean(offset, radius)], axis=2)
    up = cv2.resize(coefficients, nir.shape[::-1], interpolation=cv2.INTER_LINEAR)
    return np.clip(up[..., :3] * nir[..., None] + up[..., 3:], 0, 1).astype(np.float32)


def carry_ups():
    """``{label: carry(nir, small_nir, small_rgb)}`` of every carry-up compared."""
    found = {
        f"guided-filter model, r {radius}, ε {eps:g}" + (" (before)" if radius == 8 else ""): (
            lambda nir, small, rgb, r=radius, e=eps: linear_carry_up(nir, small, rgb, r, e)
        )
        for radius, eps in LINEAR
    }
    for sigma in SIGMAS:
        label = f"joint bilateral, σ {sigma:g}" + (" (now)" if sigma == DEFAULT.sigma else "")
        found[label] = lambda nir, small, rgb, s=sigma: colorize_in_context(
            nir, lambda _: rgb, ColourContext(DEFAULT.size, s)
        )
    return found


def small_copy(image: np.ndarray, shape) -> np.ndarray:
    """The context copy of an image of the NIR's ``shape`` (each channel as the NIR's)."""
    channels = image[..., None] if image.ndim == 2 else image
    planes = [
        downscale_rows(lambda a, b, c=c: channels[a:b, :, c], shape, DEFAULT.size)
        for c in range(channels.shape[2])
    ]
    return np.stack(planes, axis=2) if image.ndim == 3 else planes[0]


def truth_through_carry_ups(pairs) -> dict[str, dict]:
    """Mean metrics of the truth of ``pairs`` (all larger than the copy) through each
    carry-up."""
    carries = carry_ups()
    rows: dict[str, list] = {label: [] for label in carries}
    with progress_bar("(a) truth through the carry-ups", len(pairs)) as update:
        for pair in pairs:
            nir, rgb = load_pair(pair)
            small_nir, small_rgb = small_copy(nir, nir.shape), small_copy(rgb, nir.shape)
            for label, carry in carries.items():
                rows[label].append(compute_metrics(carry(nir, small_nir, small_rgb), rgb))
            update()
    return {label: mean_metrics(found) for label, found in rows.items()}


def halo(rgb: np.ndarray, distance: np.ndarray) -> float:
    """Largest a*b* change against the sky's colour beyond :data:`HALO_PX` of the object."""
    return float(sky_chroma_change(rgb)[distance > HALO_PX].max())


def halos() -> list[str]:
    nir, distance = bright_object_on_sky()
    small = small_copy(nir, nir.shape)
    lines = []
    for label, carry in carry_ups().items():
        carried = carry(nir, small, paint_sky(small))
        cells = [halo(carried, distance)]
        cells += [halo(apply_guided(nir, carried, r, e), distance) for r, e in GUIDED]
        lines.append(f"| {label} | " + " | ".join(f"{cell:.2f}" for cell in cells) + " |")
    return lines


def smoothing(pairs) -> list[str]:
    kept = {setting: [] for setting in GUIDED}
    with progress_bar("(c) guided filters on the truth", len(pairs)) as update:
        for pair in pairs:
            nir, rgb = load_pair(pair)
            for radius, eps in GUIDED:
                kept[(radius, eps)].append(detail_ratio(apply_guided(nir, rgb, radius, eps), rgb))
            update()
    return [
        f"| r {radius}, ε {eps:g} | {np.mean(values):.3f} | {min(values):.3f} |"
        for (radius, eps), values in kept.items()
    ]


def configured(name: str, guided=None, detail=None):
    """The model ``name`` with another default guided filter and detail transfer."""
    model = copy.copy(get_model(name))
    model.guided = GuidedFilter.of(guided) or None
    model.detail = DetailTransfer.of(detail) or None
    return model


def finish_words(net) -> str:
    """A model's own finish in words: ``guided r 8, ε 0.001; no detail``."""
    guided = f"guided r {net.guided.radius}, ε {net.guided.eps:g}" if net.guided else "no guided"
    detail = f"detail {net.detail.gain:g}, σ {net.detail.sigma:g}" if net.detail else "no detail"
    return f"{guided}; {detail}"


def candidates(model: str) -> dict[str, ColorizerBase]:
    net = get_model(model)
    shipped = f"`{model}` as it ships ({finish_words(net)})"
    found = {shipped: net, f"`{model}`, no guided filter, no detail": configured(model)}
    for gain, sigma in DETAILS:
        found[f"`{model}`, detail {gain:g}, σ {sigma:g}"] = configured(model, None, (gain, sigma))
    found[f"`{model}`, guided r 2, ε 1e-5, detail 1.2, σ 2"] = configured(
        model, (2, 1e-5), (1.2, 2.0)
    )
    found["`faithful` (`unet`) as it ships"] = get_model("faithful")
    return found


def detail_tables(model: str, holdout, val) -> str:
    parts = []
    for split, pairs in (("holdout", holdout), ("val", val)):
        summaries = {}
        for label, candidate in candidates(model).items():
            summaries[label] = evaluate(candidate, pairs, f"(d) {split}: {label}").summary
        summaries["NIR shown as grey"] = evaluate_grey(pairs).summary
        table = metrics_table(summaries, first="candidate")
        parts.append(f"**{split}** ({describe_pairs(pairs)}):\n\n{table}")
    return "\n\n".join(parts)


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--model", default="default", help="the net compared (default: default)")
    args = parser.parse_args()
    run = Run()
    holdout, val = load_split(args.data, "holdout"), load_split(args.data, "val")
    large = [pair for pair in holdout if max(image_size(pair.nir)) > DEFAULT.size]
    carried = truth_through_carry_ups(large)
    carry_rows = [
        f"| {label} | " + " | ".join(f"{means[c]:.3f}" for c in CARRY_COLUMNS) + " |"
        for label, means in carried.items()
    ]
    guided_heads = " | ".join(f"then guided r {r}, ε {e:g}" for r, e in GUIDED)
    carry_section = f"""(a) The true image through each carry-up alone (copy {DEFAULT.size} px on
its long side, no detail step), holdout images larger than the copy: {describe_pairs(large)}.
Bars: colour ratio ≥ 0.97, ΔE00 ≤ 2.5, GMSD ≤ 0.11.

| carry-up | colour ratio | ΔE00 | GMSD |
|---|---:|---:|---:|
{chr(10).join(carry_rows)}

(b) Halos: the synthetic sky (900×1200, a dark gradient with a bright disk and pole, painted
sharply at the copy's size): the largest ΔE of a*b* from the sky's colour more than {HALO_PX} px
from the object, through the carry-up alone and then through each guided filter at full size.

| carry-up | alone | {guided_heads} |
|---|---:|{"---:|" * len(GUIDED)}
{chr(10).join(halos())}

(c) Smoothing after the net: each guided filter applied to the true holdout images (the NIR
as guide); the detail ratio it keeps, mean over images and the lowest (bar ≥ 0.95).

| guided filter on the truth | detail ratio | lowest |
|---|---:|---:|
{chr(10).join(smoothing(holdout))}
"""
    detail_section = f"""Every candidate through the joint bilateral carry-up (σ {DEFAULT.sigma:g}),
with all ten metrics; the detail transfer gives the lightness the NIR's detail above a
Gaussian of σ px, times the gain (:mod:`nircolor.filters.detail`).

{detail_tables(args.model, holdout, val)}
"""
    publish(
        run,
        {
            "## Colour carry-up: the truth through it, halos, smoothing after the net": (
                carry_section
            ),
            "## Detail from the NIR: candidates on holdout and val": detail_section,
        },
        not args.no_write,
    )


if __name__ == "__main__":
    main()
