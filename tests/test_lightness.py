"""A colorizer's lightness offset (``nircolor calibrate``, :mod:`nircolor.models.lightness`):
the shift itself against skimage's CIELAB, the offset fitted on ``fit`` rows recovering a
known one, the folder written, the config checked, and the shipped default's record.

Fitting needs an ONNX colorizer: these tests export a tiny random unet with torch, as the
quantization tests do; the shift and the shipped default are checked in the core-only
install too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from skimage.color import rgb2lab

from nircolor.data import load_dataset, load_pair
from nircolor.errors import DataError, ModelError
from nircolor.filters import shift_lightness
from nircolor.io import write_image
from nircolor.models import load_model, read_config, resolve_model_path
from nircolor.models.lightness import (
    CARD_HEADING,
    mean_lightness,
    with_card_section,
)

from .helpers import requires
from .helpers.cli import run_cli
from .helpers.training import one_torch_thread, write_pairs, write_tiny_unet  # noqa: F401

TORCH = requires("torch", "onnx")
KNOWN_OFFSET = -3.0


def test_the_shift_moves_lightness_and_keeps_a_and_b():
    rgb = np.random.default_rng(0).uniform(0.2, 0.8, (24, 32, 3)).astype(np.float32)
    before = rgb2lab(rgb)
    for offset in (-4.0, -1.5, 2.5):
        after = rgb2lab(shift_lightness(rgb, offset))
        np.testing.assert_allclose(after[..., 0] - before[..., 0], offset, atol=0.01)
        np.testing.assert_allclose(after[..., 1:], before[..., 1:], atol=0.02)


def test_a_zero_shift_is_the_identity_and_the_result_stays_in_range():
    rgb = np.random.default_rng(1).random((8, 9, 3)).astype(np.float32)
    np.testing.assert_array_equal(shift_lightness(rgb, 0.0), rgb)
    for offset in (-20.0, 20.0):
        out = shift_lightness(rgb, offset)
        assert out.dtype == np.float32 and out.shape == rgb.shape
        assert 0.0 <= out.min() and out.max() <= 1.0
    assert mean_lightness(shift_lightness(rgb, -5.0)) < mean_lightness(rgb) - 3


@pytest.mark.parametrize("offset", [float("nan"), float("inf"), 20.5, -25, True, "1", None])
def test_the_shift_refuses_hostile_offsets(offset):
    with pytest.raises(ValueError, match="lightness offset"):
        shift_lightness(np.zeros((2, 2, 3), np.float32), offset)


def test_the_shipped_default_carries_an_offset_fitted_on_fit_rows():
    folder = resolve_model_path("default")
    config = read_config(folder)
    record = config["lightness_calibration"]
    assert record["split"] == "fit" and record["images"] >= 100
    assert config["lightness_offset"] == record["offset"] != 0
    assert load_model("default").lightness_offset == pytest.approx(record["offset"])
    assert CARD_HEADING in (folder / "MODEL_CARD.md").read_text()


def test_a_copy_with_another_offset_leaves_the_model_as_it_is():
    model = load_model("default")
    shipped = model.lightness_offset
    assert model.with_lightness_offset(0.0).lightness_offset == 0.0
    assert model.lightness_offset == shipped != 0
    nir = np.linspace(0, 1, 48 * 64, dtype=np.float32).reshape(48, 64)
    darker = mean_lightness(model.predict(nir))
    assert mean_lightness(model.with_lightness_offset(0.0).predict(nir)) > darker
    with pytest.raises(ModelError, match="lightness_offset"):
        model.with_lightness_offset(50.0)


def test_the_card_section_is_added_once_and_then_replaced():
    card = "# model\n\n## Data\n\ncited\n"
    once = with_card_section(card, f"{CARD_HEADING}\n\nfirst\n")
    assert once == f"# model\n\n## Data\n\ncited\n\n{CARD_HEADING}\n\nfirst\n"
    assert with_card_section(once, f"{CARD_HEADING}\n\nsecond\n") == once.replace("first", "second")
    inside = f"# model\n\n{CARD_HEADING}\n\nold\n\n## Data\n\ncited\n"
    assert with_card_section(inside, f"{CARD_HEADING}\n\nnew\n") == inside.replace("old", "new")


# ------------------------------------------------------------------ fitting, with torch


@pytest.fixture(scope="module")
def tiny_unet(tmp_path_factory) -> Path:
    """A random unet with a 32-px colour context and a model card."""
    folder = write_tiny_unet(tmp_path_factory.mktemp("tiny-unet") / "unet", 32)
    (folder / "MODEL_CARD.md").write_text("# tiny unet\n\n## Data\n\nsynthetic\n")
    return folder


@pytest.fixture(scope="module")
def darker_truths(tiny_unet, tmp_path_factory) -> Path:
    """Pairs whose truth is the tiny unet's own colorization moved by :data:`KNOWN_OFFSET`."""
    from nircolor import colorize

    root = write_pairs(tmp_path_factory.mktemp("lightness-pairs") / "pairs", count=12)
    model = load_model(tiny_unet)
    for pair in load_dataset(root, split="all"):
        nir, _ = load_pair(pair)
        truth = shift_lightness(colorize(nir, model=model), KNOWN_OFFSET)
        write_image(pair.rgb, truth, overwrite=True)
    return root


@TORCH
def test_calibration_recovers_a_known_offset(tiny_unet, darker_truths, tmp_path):
    from nircolor import colorize
    from nircolor.models.lightness import calibrate_lightness

    output = tmp_path / "calibrated"
    result = calibrate_lightness(tiny_unet, output, darker_truths, command="test")
    assert result.offset == pytest.approx(KNOWN_OFFSET, abs=0.1)
    fit = load_dataset(darker_truths, split="fit")
    assert result.images == len(fit) > 0
    config = read_config(output)
    assert config["lightness_offset"] == result.offset
    assert config["lightness_calibration"]["split"] == "fit"
    assert "## Data" in (output / "MODEL_CARD.md").read_text()
    assert CARD_HEADING in (output / "MODEL_CARD.md").read_text()
    calibrated = load_model(output)
    for pair in fit[:3]:
        nir, truth = load_pair(pair)
        assert mean_lightness(colorize(nir, model=calibrated)) == pytest.approx(
            mean_lightness(truth), abs=0.3
        )
    # a calibrated folder is fitted again from no offset: the same offset, not twice it
    again = calibrate_lightness(output, output, darker_truths, overwrite=True)
    assert again.offset == pytest.approx(result.offset, abs=1e-3)


@TORCH
def test_calibration_refuses_what_it_cannot_do(tiny_unet, darker_truths, tmp_path):
    from nircolor.models.lightness import calibrate_lightness

    with pytest.raises(ModelError, match="already exists"):
        calibrate_lightness(tiny_unet, tiny_unet, darker_truths)
    with pytest.raises(ModelError, match="only ONNX colorizers"):
        calibrate_lightness("l3", tmp_path / "l3", darker_truths)
    with pytest.raises(ModelError, match="at least 1"):
        calibrate_lightness(tiny_unet, tmp_path / "none", darker_truths, images=0)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError):
        calibrate_lightness(tiny_unet, tmp_path / "nothing", empty)
    assert not (tmp_path / "nothing").exists()


@TORCH
def test_the_cli_calibrates_and_refuses_on_one_line(
    tiny_unet, darker_truths, tmp_path, monkeypatch, capsys
):
    output = tmp_path / "cal"
    code, out, err = run_cli(
        monkeypatch, capsys, "calibrate", tiny_unet, "-o", output, "--data", darker_truths
    )
    said = re.search(r"lightness offset ([-+.0-9]+) L\*", " ".join((out + err).split()))
    assert code == 0 and float(said.group(1)) == pytest.approx(KNOWN_OFFSET, abs=0.1)
    assert read_config(output)["lightness_offset"] == float(said.group(1))
    code, _, err = run_cli(
        monkeypatch, capsys, "calibrate", tiny_unet, "-o", output, "--data", darker_truths
    )
    assert code == 1 and err.strip().count("\n") == 0 and "already exists" in err


@TORCH
@pytest.mark.parametrize("value", [50, -21, "dark", True, None])
def test_a_config_with_a_bad_offset_is_refused(tiny_unet, tmp_path, value):
    import shutil

    folder = tmp_path / "bad"
    shutil.copytree(tiny_unet, folder)
    config = read_config(folder) | {"lightness_offset": value}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="lightness_offset"):
        load_model(folder)
