"""The colour terms of the colorizers: the colourfulness (``--colour-weight``) and the
CIEDE2000 (``--delta-e-weight``) terms, their losses, the epoch each picks, and the settings
(skipped without torch)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from skimage.color import deltaE_ciede2000, rgb2lab

from nircolor.metrics import colourfulness as colourfulness_metric

from .helpers import has, requires
from .helpers.cli import run_cli
from .helpers.training import one_torch_thread, tiny_config, write_pairs  # noqa: F401 (fixture)

if has("torch") and has("onnx") and has("safetensors"):
    import torch

    from nircolor.errors import ModelError
    from nircolor.nets.colour import srgb_to_lab
    from nircolor.nets.losses import (
        colour_terms_loss,
        colourfulness,
        colourfulness_loss,
        delta_e00,
        delta_e00_loss,
        hue_loss,
    )
    from nircolor.train.nets import train_net
    from nircolor.train.selection import COLOURFULNESS_TARGET, SHORTFALL_PENALTY, vivid_scores

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
    assert scores_true["val_hue_acc"] == pytest.approx(1.0)
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
        ({"delta_e_weight": -0.5}, "delta_e_weight must be a finite number >= 0"),
        ({"delta_e_weight": float("nan")}, "delta_e_weight must be a finite number >= 0"),
        ({"arch": "classifier", "delta_e_weight": 1.0}, "not a colorizer"),
        ({"hue_weight": -1.0}, "hue_weight must be a finite number >= 0"),
        ({"arch": "classifier", "hue_weight": 1.0}, "not a colorizer"),
    ],
)
def test_invalid_colour_term_weights(tmp_path, settings, message):
    with pytest.raises(ModelError, match=message):
        tiny_config(tmp_path, tmp_path, "x", **{"arch": "unet", **settings})


@pytest.mark.parametrize("term", ["colour_weight", "delta_e_weight", "hue_weight"])
def test_cli_refuses_a_negative_colour_term_weight_in_one_line(tmp_path, monkeypatch, capsys, term):
    data = write_pairs(tmp_path / "data")
    option = "--" + term.replace("_", "-")
    command = ["train", "unet", "--data", data, "-o", tmp_path / "m", option, "-2"]
    code, _, err = run_cli(monkeypatch, capsys, *command)
    assert code == 1 and f"{term} must be a finite number >= 0" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "m").exists()


# ----------------------------------------------------------------------------- CIEDE2000


def test_torch_lab_is_skimage_rgb2lab():
    rng = np.random.default_rng(4)
    image = rng.random((9, 11, 3))
    ours = srgb_to_lab(as_batch([image]))[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(ours, rgb2lab(image), atol=1e-9)


def test_torch_delta_e00_is_skimage_ciede2000():
    rng = np.random.default_rng(5)
    pred, true = rng.random((40, 50, 3)), rng.random((40, 50, 3))
    pred[:5] = true[:5]  # equal pixels: ΔE00 0 (up to the floor under the roots)
    pred[5:10] = 0.5  # grey predictions of coloured truths
    lab_pred, lab_true = rgb2lab(pred), rgb2lab(true)
    expected = deltaE_ciede2000(lab_pred, lab_true)
    ours = delta_e00(*(as_batch([lab]) for lab in (lab_pred, lab_true)))[0].numpy()
    hue_gap = np.abs(
        np.angle(
            np.exp(
                1j
                * (
                    np.arctan2(lab_pred[..., 2], lab_pred[..., 1])
                    - np.arctan2(lab_true[..., 2], lab_true[..., 1])
                )
            )
        )
    )
    # Near-opposite hues are left out: there the mean hue's branch is a toss-up in both.
    away = hue_gap < np.radians(170)
    assert away.mean() > 0.9
    np.testing.assert_allclose(ours[away], expected[away], atol=0.01)
    assert np.all(ours[:5] < 0.01)


def test_the_delta_e_loss_is_zero_for_the_truth_and_descends_from_grey():
    rng = np.random.default_rng(6)
    true = as_batch([rng.random((16, 16, 3))])
    assert float(delta_e00_loss(true, true)) == pytest.approx(0.0, abs=1e-4)
    pred = torch.full_like(true, 0.5)
    start = float(delta_e00_loss(pred, true))
    for _ in range(20):  # ΔH′ ∝ √C′ has a cusp at grey: finite gradients there, and descent works
        pred.requires_grad_(True)
        (gradient,) = torch.autograd.grad(delta_e00_loss(pred, true), pred)
        assert torch.isfinite(gradient).all()
        pred = (pred.detach() - 3.0 * gradient).clamp(0.0, 1.0)
    assert float(delta_e00_loss(pred, true)) < 0.6 * start


@pytest.mark.parametrize("term", ["delta_e_weight", "hue_weight"])
def test_a_delta_e_or_hue_term_changes_training_and_selects_by_the_delta_e(pairs, tmp_path, term):
    plain = train_net(tiny_config(tmp_path, pairs, "plain", arch="unet"))
    run = train_net(tiny_config(tmp_path, pairs, "run", arch="unet", **{term: 2.0}))
    history = run.info["history"]
    assert all("val_delta_e00" in r and "val_colourfulness_ratio" in r for r in history)
    assert plain.info["history"][0]["loss"] != history[0]["loss"]
    training = json.loads((run.model_path / "config.json").read_text())["training"]
    best = min(history, key=lambda r: r["val_delta_e00"])
    assert training["best_val_delta_e00"] == pytest.approx(best["val_delta_e00"])
    assert training["settings"][term] == 2.0


# ----------------------------------------------------------------------------- hue


def lab_batch(a: np.ndarray, b: np.ndarray, lightness: float = 60.0) -> torch.Tensor:
    return torch.from_numpy(np.stack([np.full_like(a, lightness), a, b])[None])


def test_the_hue_loss_is_zero_for_the_true_hue_whatever_the_chroma_and_one_for_the_opposite():
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False).reshape(4, 6)
    true = lab_batch(40 * np.cos(angles), 40 * np.sin(angles))
    assert float(hue_loss(true, true)) == pytest.approx(0.0, abs=1e-3)
    scaled = true.clone()
    scaled[:, 1:] *= 0.5  # half the chroma, the same hue: the hue accuracy is unchanged too
    assert float(hue_loss(scaled, true)) == pytest.approx(0.0, abs=2e-3)
    opposite = true.clone()
    opposite[:, 1:] *= -1
    assert float(hue_loss(opposite, true)) == pytest.approx(1.0, abs=1e-3)
    quarter = lab_batch(-40 * np.sin(angles), 40 * np.cos(angles))  # every hue turned by 90°
    assert float(hue_loss(quarter, true)) == pytest.approx(0.5, abs=1e-3)


def test_the_hue_loss_counts_only_truly_coloured_pixels():
    a = np.array([[30.0, 5.0]])  # a chromatic pixel, and one under the metric's chroma of 10
    true = lab_batch(a, np.zeros_like(a))
    pred = lab_batch(np.array([[30.0, -5.0]]), np.zeros_like(a))  # only the grey one is wrong
    assert float(hue_loss(pred, true)) == pytest.approx(0.0, abs=1e-3)
    grey_truth = lab_batch(np.full((2, 2), 3.0), np.zeros((2, 2)))
    assert float(hue_loss(-grey_truth, grey_truth)) == 0.0  # no chromatic pixel: no term


def test_colour_terms_loss_is_the_weighted_sum_of_the_terms():
    rng = np.random.default_rng(7)
    pred, true = as_batch([rng.random((12, 12, 3))]), as_batch([rng.random((12, 12, 3))])
    expected = (
        2.0 * colourfulness_loss(pred, true)
        + 3.0 * delta_e00_loss(pred, true)
        + 0.5 * hue_loss(srgb_to_lab(pred), srgb_to_lab(true))
    )
    assert float(colour_terms_loss(pred, true, 2.0, 3.0, 0.5)) == pytest.approx(float(expected))
    assert float(colour_terms_loss(pred, true)) == 0.0
