"""How a colorizer's epoch is chosen: the validation scores of the colour and structure terms
and the rules that rank epochs (and, after training, candidate settings) by them.

:func:`colour_selection` names the score a run's epoch is chosen on; :func:`vivid_scores`
computes it on the validation pictures; :func:`summary_ranking` ranks an evaluation summary
by the same rule, for the choices made after training (the guided filter).
"""

from __future__ import annotations

import numpy as np

from ..colour_metrics import colour_scores, pooled_scores
from ..metrics import lab_delta_e00, srgb_to_lab
from ..structure_metrics import detail_scores, gms_deviation

VIVID_SCORE = "val_vivid_delta_e00"
COLOURFULNESS_TARGET = 0.8  # issue 11's bar for the colourfulness ratio
SHORTFALL_PENALTY = 1000.0  # ΔE00 per unit of colour ratio short of the target


def vivid_scores(pairs: list[tuple[np.ndarray, np.ndarray]], structure: bool = False) -> dict:
    """Mean ΔE00, the pooled colourfulness ratio and hue accuracy, and the score that picks an
    epoch by the first two; with ``structure``, the pooled detail ratio, the mean GMSD and
    :data:`SHARP_SCORE` too (each pair converted to CIELAB once for all of them).

    The score is the ΔE00 plus :data:`SHORTFALL_PENALTY` per unit of colourfulness ratio
    below :data:`COLOURFULNESS_TARGET`: among epochs as colourful as the target the lowest
    ΔE00 wins, and any of those beats one that is not (of which the most colourful wins).
    """
    de00s, rows, details, gmsds = [], [], [], []
    for pred, true in pairs:
        lab_pred, lab_true = srgb_to_lab(pred), srgb_to_lab(true)
        de00s.append(lab_delta_e00(lab_pred, lab_true))
        rows.append(colour_scores(pred, true, lab_pred, lab_true))
        if structure:
            details.append(detail_scores(lab_pred, lab_true))
            gmsds.append(gms_deviation(pred, true))
    de00, pooled = float(np.mean(de00s)), pooled_scores(rows)
    ratio = pooled["colourfulness_ratio"]
    scores = {
        "val_delta_e00": de00,
        "val_colourfulness_ratio": ratio,
        "val_hue_acc": pooled["hue_acc"],
        VIVID_SCORE: vivid_score(de00, ratio),
    }
    return scores | (structure_scores(scores, details, gmsds) if structure else {})


def vivid_score(de00: float, ratio: float) -> float:
    """``de00`` plus :data:`SHORTFALL_PENALTY` per unit of colourfulness ``ratio`` below
    :data:`COLOURFULNESS_TARGET` (a nan ratio, of grey truths, falls short of nothing)."""
    return de00 + SHORTFALL_PENALTY * max(0.0, COLOURFULNESS_TARGET - ratio)


SHARP_SCORE = "val_sharp_score"
SHARP_RANGE = (0.9, 1.1)  # issue 27's bars for the colour and detail ratios
GMSD_WEIGHT = 30.0  # ΔE00 per unit of GMSD: 0.01 of GMSD counts as 0.3 of ΔE00
HUE_WEIGHT = 10.0  # ΔE00 per unit of hue accuracy: 0.01 counts as 0.1 of ΔE00


def structure_scores(vivid: dict, details: list[dict], gmsds: list[float]) -> dict:
    """The pooled detail ratio of per-image ``details`` (:func:`detail_scores`), the mean of
    ``gmsds``, and :data:`SHARP_SCORE` of them with ``vivid``'s ΔE00, colour ratio and hue."""
    detail = sum(row["detail"] for row in details)
    detail_true = sum(row["detail_true"] for row in details)
    scores = {
        "val_detail_ratio": detail / detail_true if detail_true > 0 else float("nan"),
        "val_gmsd": float(np.mean(gmsds)),
    }
    summary = {
        "de00": vivid["val_delta_e00"],
        "colourfulness_ratio": vivid["val_colourfulness_ratio"],
        "hue_acc": vivid["val_hue_acc"],
        "detail_ratio": scores["val_detail_ratio"],
        "gmsd": scores["val_gmsd"],
    }
    return scores | {SHARP_SCORE: sharp_score(summary)}


def sharp_score(summary: dict) -> float:
    """Issue 27's rule, lower is better: the ΔE00, plus :data:`GMSD_WEIGHT` × GMSD, less
    :data:`HUE_WEIGHT` × hue accuracy, plus :data:`SHORTFALL_PENALTY` per unit that the
    colour or the detail ratio falls outside :data:`SHARP_RANGE`. Among epochs in range,
    one that blurs (a worse GMSD) or guesses hues no better pays for the lower ΔE00 a blur
    buys; any epoch in range beats one that is not."""
    low, high = SHARP_RANGE
    outside = sum(
        max(0.0, low - summary[name], summary[name] - high)
        for name in ("colourfulness_ratio", "detail_ratio")
        if np.isfinite(summary[name])
    )
    return (
        summary["de00"]
        + GMSD_WEIGHT * summary["gmsd"]
        - HUE_WEIGHT * summary["hue_acc"]
        + SHORTFALL_PENALTY * outside
    )


SUMMARY_RANKS = {  # the epoch score of colour_selection -> (rank of a summary, its name)
    VIVID_SCORE: (
        lambda summary: vivid_score(summary["de00"], summary["colourfulness_ratio"]),
        f"ΔE00 at a colour ratio ≥ {COLOURFULNESS_TARGET}",
    ),
    SHARP_SCORE: (
        sharp_score,
        f"ΔE00 + {GMSD_WEIGHT:g} GMSD − {HUE_WEIGHT:g} hue accuracy, colour and detail ratios "
        f"in [{SHARP_RANGE[0]}, {SHARP_RANGE[1]}]",
    ),
    "val_delta_e00": (lambda summary: summary["de00"], "ΔE00"),
    "val_psnr": (lambda summary: -summary["psnr"], "PSNR"),
}


def summary_ranking(cfg):
    """``(rank, name)``: how an evaluation summary of a colorizer ranks (``rank(summary)``,
    lower is better) by what chooses its epoch (:func:`colour_selection`, else the PSNR),
    for the choices made after training (the guided filter), and that measure in words."""
    return SUMMARY_RANKS[(colour_selection(cfg) or ("val_psnr",))[0]]


COLOUR_TERMS = ("colour_weight", "delta_e_weight", "hue_weight", "structure_weight")
"""The settings of the colour terms and the structure term
(:func:`nircolor.nets.losses.colour_terms_loss`)."""


def colour_terms(cfg) -> bool:
    """Whether the run has a colour or structure term, colourfulness, CIEDE2000, hue or GMSD
    (then validation scores ΔE00 and the colour ratio, :func:`vivid_scores`)."""
    return any(getattr(cfg, name) for name in COLOUR_TERMS)


def colour_selection(cfg) -> tuple[str, bool] | None:
    """The epoch score of a run with a colour or structure term: :data:`SHARP_SCORE` with a
    structure term, :data:`VIVID_SCORE` with a colourfulness term, the ΔE00 with a CIEDE2000
    or hue term without them, ``None`` without any."""
    if getattr(cfg, "structure_weight", 0.0):
        return SHARP_SCORE, False
    if cfg.colour_weight:
        return VIVID_SCORE, False
    return ("val_delta_e00", False) if colour_terms(cfg) else None
