"""The shipped default's quality: on a few real `val` images it scores what its model card
says, and the previous defaults or a red–green swap of it do not.

The card's per-category figures are read from the card (every metric column it has), so a
retrained default with a new card keeps this test honest. The categories are small ones
(7 images, seconds to score); no torch is needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nircolor.api import get_model
from nircolor.data import load_dataset
from nircolor.evaluate import evaluate_model
from nircolor.models.base import ColorizerBase
from nircolor.models.registry import CARD_NAME, resolve_model_path

from .helpers.cards import card_category_figures, figure_mismatches

REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CATEGORIES = ("oldbuilding", "street", "urban", "water")
"""Small `val` categories of the card's per-category table: 7 full-resolution images."""


class RedGreenSwapped(ColorizerBase):
    """A model with the R and G channels of its output swapped (its filter and context kept)."""

    def __init__(self, model) -> None:
        self.model = model
        self.guided, self.context, self.halo = model.guided, model.context, model.halo

    def predict(self, nir, *, threads=None):
        return self.model.predict(nir, threads=threads)[..., [1, 0, 2]]


@pytest.fixture(scope="module")
def val_pairs():
    if not (REAL_DATA / "MANIFEST.csv").is_file():
        pytest.skip("no ../shared/data beside the repository (the EPFL pairs)")
    pairs = load_dataset(REAL_DATA, split="val", categories=CATEGORIES)
    assert {pair.category for pair in pairs} == set(CATEGORIES)
    return pairs


@pytest.fixture(scope="module")
def default_figures():
    figures = card_category_figures(resolve_model_path("default") / CARD_NAME)
    return {category: figures[category] for category in CATEGORIES}


def mismatches(model, pairs, figures) -> list[str]:
    """The card ``figures`` that ``model`` misses on ``pairs``."""
    return figure_mismatches(figures, evaluate_model(model, pairs).by_category())


def test_the_default_scores_its_card_figures(val_pairs, default_figures):
    assert {"de00", "colourfulness_ratio", "hue_acc"} <= set(default_figures["water"])
    assert mismatches("default", val_pairs, default_figures) == []


def test_the_default_alias_leads_to_the_card_written_for_the_default():
    # The card compared with is the default's own: the alias pointed elsewhere finds a card
    # (the previous default's, say) that does not call its model the default.
    title = (resolve_model_path("default") / CARD_NAME).read_text().splitlines()[0]
    assert title.startswith("# ") and title.endswith("(the default)"), title


def test_the_previous_defaults_miss_the_default_card(val_pairs, default_figures):
    assert resolve_model_path("faithful") != resolve_model_path("default")
    found = mismatches("faithful", val_pairs, default_figures)
    assert any("colourfulness_ratio" in line for line in found), found
    # vivid (the default before sharp) blurs: its detail ratio and GMSD give it away
    assert resolve_model_path("vivid") != resolve_model_path("default")
    found = mismatches("vivid", val_pairs, default_figures)
    assert any("detail_ratio" in line for line in found), found
    assert any("gmsd" in line for line in found), found


def test_the_default_with_red_and_green_swapped_misses_its_card(val_pairs, default_figures):
    swapped = RedGreenSwapped(get_model("default"))
    nir = np.linspace(0, 1, 64 * 48, dtype=np.float32).reshape(48, 64)
    np.testing.assert_array_equal(
        swapped.predict(nir)[..., 0], get_model("default").predict(nir)[..., 1]
    )
    found = mismatches(swapped, val_pairs, default_figures)
    assert any("hue_acc" in line for line in found), found
