"""The colourfulness term of the colorizers (``--colour-weight``): the differentiable M, its
loss, the epoch it picks, and the settings (skipped without torch)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nircolor.metrics import colourfulness as colourfulness_metric

from .helpers import has, requires
from .helpers.cli import run_cli
from .helpers.training import one_torch_thread, tiny_config, write_pairs  # noqa: F401 (fixture)

if has("torch") and has("onnx") and has("safetensors"):
    import torch

    from nircolor.errors import ModelError
    from nircolor.nets.losses import colourfulness, colourfulness_loss
    from nircolor.train.nets import train_net
    from nircolor.train.tasks import COLOURFULNESS_TARGET, SHORTFALL_PENALTY, vivid_scores

pytestmark = requires("torch", "onnx", "safetensors")


def as_batch(images: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack([np.moveaxis(i, -1, 0) for i in images]).astype(np.float64))


def test_torch_colourfulness_is_the_metric():
    rng = np.random.default_rng(1)
    images = [rng.random((20, 30, 3)), np.full((20, 30, 3), 0.5), rng.random((20, 30, 3)) ** 3]
    ours = colourfulness(as_batch(images)).numpy()
    expected = [colourfulness_metric(image) for image in images]
    np.testing.assert_allclose(ours, expected, atol=0.02)  # the √ floor: 0.01 per root at 0


def test_the_loss_is_zero_for_the_truth_and_asks_a_grey_patch_for_colour():
    rng = np.random.default_rng(2)
    true = as_batch([rng.random((16, 16, 3))])
    assert float(colourfulness_loss(true, true)) == pytest.approx(0.0, abs=1e-9)
    grey = torch.full_like(true, 0.5) + 1e-3 * torch.from_numpy(rng.standard_normal(true.shape))
    grey.requires_grad_(True)
    loss = colourfulness_loss(grey, true)
    loss.backward()
    assert torch.isfinite(grey.grad).all() and float(loss.detach()) > 0.05
    with torch.no_grad():  # a small step down the gradient makes the patch more colourful
        stepped = grey - 100.0 * grey.grad
    assert float(colourfulness(stepped)) > float(colourfulness(grey.detach())) + 1.0


def test_a_pure_grey_patch_has_a_finite_gradient():
    grey = torch.full((1, 3, 8, 8), 0.5, dtype=torch.float64, requires_grad=True)
    colourfulness(grey).sum().backward()
    assert torch.isfinite(grey.grad).all()


def test_vivid_score_prefers_colour_ratio_then_delta_e():
    rng = np.random.default_rng(3)
    true = rng.random((12, 12, 3))
    grey = np.repeat(true.mean(axis=-1, keepdims=True), 3, axis=-1)
    scores_true, scores_grey = vivid_scores([(true, true)]), vivid_scores([(grey, true)])
    assert scores_true["val_colourfulness_ratio"] == pytest.approx(1.0)
    assert scores_true["val_vivid_delta_e00"] == pytest.approx(scores_true["val_delta_e00"])
    assert scores_grey["val_colourfulness_ratio"] < 0.05
    shortfall = COLOURFULNESS_TARGET - scores_grey["val_colourfulness_ratio"]
    expected = scores_grey["val_delta_e00"] + SHORTFALL_PENALTY * shortfall
    assert scores_grey["val_vivid_delta_e00"] == pytest.approx(expected)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    return write_pairs(tmp_path_factory.mktemp("colour_loss") / "data")


def test_colour_weight_changes_training_and_selects_by_the_vivid_score(pairs, tmp_path):
    torch.set_num_threads(1)
    plain = train_net(tiny_config(tmp_path, pairs, "plain", arch="unet"))
    vivid = train_net(tiny_config(tmp_path, pairs, "vivid", arch="unet", colour_weight=1.0))
    history = vivid.info["history"]
    assert all("val_colourfulness_ratio" in r and "val_vivid_delta_e00" in r for r in history)
    assert "val_colourfulness_ratio" not in plain.info["history"][-1]
    assert plain.info["history"][0]["loss"] != history[0]["loss"]
    training = json.loads((vivid.model_path / "config.json").read_text())["training"]
    best = min(history, key=lambda r: r["val_vivid_delta_e00"])
    assert training["best_val_vivid_delta_e00"] == pytest.approx(best["val_vivid_delta_e00"])
    assert training["settings"]["colour_weight"] == 1.0


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"colour_weight": -1.0}, "colour_weight must be a finite number >= 0"),
        ({"colour_weight": float("inf")}, "colour_weight must be a finite number >= 0"),
        ({"arch": "classifier", "colour_weight": 1.0}, "not a colorizer"),
    ],
)
def test_invalid_colour_weight(tmp_path, settings, message):
    with pytest.raises(ModelError, match=message):
        tiny_config(tmp_path, tmp_path, "x", **{"arch": "unet", **settings})


def test_cli_refuses_a_negative_colour_weight_in_one_line(tmp_path, monkeypatch, capsys):
    data = write_pairs(tmp_path / "data")
    command = ["train", "unet", "--data", data, "-o", tmp_path / "m", "--colour-weight", "-2"]
    code, _, err = run_cli(monkeypatch, capsys, *command)
    assert code == 1 and "colour_weight must be a finite number >= 0" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "m").exists()
