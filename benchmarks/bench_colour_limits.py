"""What limits colour: the colour context's ceiling, and lightness against chroma in ΔE00.

Two measurements on the project's holdout rows (the rows choices are made on), for issue 11's
rule (colour ratio ≥ 0.8 with a ΔE00 better than the previous default's):

1. **The context's ceiling.** The true RGB image itself is put through the colour context
   (:mod:`nircolor.context`: downscaled to the context size, carried back to full size along
   the NIR's edges), as if a net had predicted it perfectly at that size. What the context
   loses caps the colour ratio and hue accuracy any net behind it can reach.
2. **Lightness against chroma.** Each candidate's prediction, in CIELAB, is scored as it is,
   with its L* replaced by the truth's (so only its chroma a*b* is wrong), and with its L*
   replaced by the previous default's (its chroma on the default's lightness). This splits a
   ΔE00 gap between a colourful candidate and the default into the part its lightness costs
   and the part its chroma costs.

Writes the section "What limits colour" of BENCHMARKS.md::

    python benchmarks/bench_colour_limits.py --candidate zhang=runs/zhang/model ... [--no-write]
"""

from __future__ import annotations

from collections import defaultdict

import cv2
import numpy as np
from skimage.color import lab2rgb, rgb2lab

from _common import Run, base_parser, describe_pairs, load_split, progress_bar, publish
from bench_colour import BASELINE, parse_candidates, results_table
from nircolor.api import colorize, get_model
from nircolor.context import DEFAULT, ColourContext, colorize_in_context
from nircolor.data import load_pair
from nircolor.metrics import compute_metrics, mean_metrics

SIGMAS = (0.02, 0.05, 0.1)


def with_lightness(lightness_from: np.ndarray, chroma_from: np.ndarray) -> np.ndarray:
    """The sRGB image with the L* of one lab image and the a*b* of another."""
    lab = np.concatenate([lightness_from[..., :1], chroma_from[..., 1:]], axis=2)
    return np.clip(lab2rgb(lab), 0, 1).astype(np.float32)


def truth_through_context(nir: np.ndarray, rgb: np.ndarray, context: ColourContext):
    def predict(small: np.ndarray) -> np.ndarray:
        size = (small.shape[1], small.shape[0])
        return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)

    return np.clip(colorize_in_context(nir, predict, context), 0, 1)


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--candidate", action="append", default=[], metavar="NAME=MODEL")
    args = parser.parse_args()
    run = Run()
    candidates = parse_candidates(args.candidate)
    models = {name: get_model(model) for name, model in candidates.items()}
    pairs = load_split(args.data, "holdout")
    contexts = {
        f"truth through the context {DEFAULT.size} px, σ {sigma:g}": ColourContext(
            DEFAULT.size, sigma
        )
        for sigma in SIGMAS
    }
    rows: dict[str, list[dict]] = defaultdict(list)  # in the order they are first filled
    with progress_bar("holdout images", len(pairs)) as update:
        for pair in pairs:
            nir, rgb = load_pair(pair)
            for name, context in contexts.items():
                rows[name].append(compute_metrics(truth_through_context(nir, rgb, context), rgb))
            lab_true = rgb2lab(rgb)
            predictions = {name: colorize(nir, model) for name, model in models.items()}
            lab_default = rgb2lab(predictions[BASELINE])
            for name, prediction in predictions.items():
                lab = rgb2lab(prediction)
                rows[name].append(compute_metrics(prediction, rgb))
                true_l = with_lightness(lab_true, lab)
                rows[name + " with the true L*"].append(compute_metrics(true_l, rgb))
                if name != BASELINE:  # the default on its own L* is the row above
                    default_l = with_lightness(lab_default, lab)
                    rows[name + f" with the {BASELINE}'s L*"].append(
                        compute_metrics(default_l, rgb)
                    )
            update()
    summaries = {name: mean_metrics(image_rows) for name, image_rows in rows.items()}
    listing = "\n".join(f"- {name}: `{model}`" for name, model in candidates.items())
    body = f"""Holdout rows: {describe_pairs(pairs)}. Candidates (their own defaults):

{listing}

{results_table(summaries)}

The first rows are the true image through the colour context (its size, the NIR range σ
of the joint bilateral carry-up; the shipped setting is σ {DEFAULT.sigma:g}): what a net
that is perfect at the context size would score, so the ceiling
of the colour ratio and hue accuracy behind that context. "with the true L*" keeps only the
candidate's chroma errors; "with the {BASELINE}'s L*" puts the candidate's chroma on the
default's lightness.
"""
    publish(
        run,
        {"## What limits colour: the context's ceiling, lightness and chroma": body},
        not args.no_write,
    )


if __name__ == "__main__":
    main()
