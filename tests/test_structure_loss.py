"""The structure term (``--structure-weight``), the epoch rule it brings (issue 27: ΔE00, hue,
GMSD, colour and detail ratios), and switching a base model's defaults off in a fine-tune
(skipped without torch)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from nircolor.structure_metrics import GMSD_C, LUMA_WEIGHTS, gradient_magnitude

from .helpers import has, requires
from .helpers.cli import run_cli
from .helpers.training import one_torch_thread, tiny_config, write_pairs  # noqa: F401 (fixture)

if has("torch") and has("onnx") and has("safetensors"):
    import torch

    from nircolor.errors import ModelError
    from nircolor.nets.losses import colour_terms_loss, gmsd_loss
    from nircolor.train.nets import train_net
    from nircolor.train.selection import SHARP_SCORE, SHORTFALL_PENALTY, sharp_score

pytestmark = requires("torch", "onnx", "safetensors")


def as_batch(*images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.stack([np.moveaxis(i, -1, 0) for i in images]).astype(np.float64))


def numpy_gmsd(pred: np.ndarray, true: np.ndarray) -> float:
    """GMSD at the image's own scale, from the metric's pieces (no 2×2 halving)."""
    m_pred = gradient_magnitude(255.0 * pred @ LUMA_WEIGHTS)
    m_true = gradient_magnitude(255.0 * true @ LUMA_WEIGHTS)
    return float(((2 * m_pred * m_true + GMSD_C) / (m_pred**2 + m_true**2 + GMSD_C)).std())


def textured(seed: int, size: int = 40) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ndimage.gaussian_filter(rng.random((size, size, 3)), (1.0, 1.0, 0))


def test_the_gmsd_loss_is_the_metric_at_the_patch_scale():
    truths = [textured(1), textured(2)]
    preds = [ndimage.gaussian_filter(t, (2.0, 2.0, 0)) for t in truths]
    expected = np.mean([numpy_gmsd(p, t) for p, t in zip(preds, truths, strict=True)])
    loss = float(gmsd_loss(as_batch(*preds), as_batch(*truths)))
    assert expected > 0.05
    assert loss == pytest.approx(expected, abs=1e-3)


def test_the_gmsd_loss_is_zero_for_the_truth_and_costs_a_blur():
    truth = textured(3)
    assert float(gmsd_loss(as_batch(truth), as_batch(truth))) == pytest.approx(0.0, abs=1e-9)
    slight = ndimage.gaussian_filter(truth, (0.7, 0.7, 0))
    strong = ndimage.gaussian_filter(truth, (3.0, 3.0, 0))
    assert (
        0
        < gmsd_loss(as_batch(slight), as_batch(truth))
        < gmsd_loss(as_batch(strong), as_batch(truth))
    )


def test_the_gmsd_loss_has_a_finite_gradient_on_flat_and_blurred_patches():
    truth = textured(4, 16)
    flat = as_batch(np.full((16, 16, 3), 0.5)).requires_grad_(True)
    gmsd_loss(flat, as_batch(truth)).backward()
    assert torch.isfinite(flat.grad).all()
    blurred = as_batch(ndimage.gaussian_filter(truth, (2.0, 2.0, 0))).requires_grad_(True)
    gmsd_loss(blurred, as_batch(truth)).backward()
    assert torch.isfinite(blurred.grad).all() and blurred.grad.abs().sum() > 0


def test_the_structure_weight_scales_the_term_in_the_sum():
    pred, true = as_batch(textured(5)), as_batch(textured(6))
    alone = colour_terms_loss(pred, true, structure_weight=3.0)
    assert float(alone) == pytest.approx(3.0 * float(gmsd_loss(pred, true)))
    assert float(colour_terms_loss(pred, true)) == 0.0


def summary(**changes) -> dict:
    base = {"de00": 12.0, "colourfulness_ratio": 1.0, "hue_acc": 0.7, "detail_ratio": 1.0}
    return base | {"gmsd": 0.15} | changes


def test_the_sharp_rule_charges_blur_and_wrong_hues_and_keeps_the_ratios_in_range():
    # a blur that buys 0.2 of ΔE00 with 0.01 of GMSD loses; a better hue wins
    assert sharp_score(summary(de00=11.8, gmsd=0.16)) > sharp_score(summary())
    assert sharp_score(summary(hue_acc=0.72, de00=12.1)) < sharp_score(summary())
    # out of [0.9, 1.1], by the shortfall penalty per unit
    for name in ("colourfulness_ratio", "detail_ratio"):
        for value, outside in ((0.85, 0.05), (1.2, 0.1)):
            gap = sharp_score(summary(**{name: value})) - sharp_score(summary())
            assert gap == pytest.approx(SHORTFALL_PENALTY * outside)
    assert sharp_score(summary(detail_ratio=float("nan"))) == sharp_score(summary())


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    return write_pairs(tmp_path_factory.mktemp("structure_loss") / "data")


def test_a_structure_term_changes_training_and_selects_by_the_sharp_rule(pairs, tmp_path):
    plain = train_net(tiny_config(tmp_path, pairs, "plain", arch="unet"))
    run = train_net(tiny_config(tmp_path, pairs, "sharp", arch="unet", structure_weight=2.0))
    history = run.info["history"]
    assert plain.info["history"][0]["loss"] != history[0]["loss"]
    assert all({"val_detail_ratio", "val_gmsd", SHARP_SCORE} <= set(r) for r in history)
    training = json.loads((run.model_path / "config.json").read_text())["training"]
    assert training["best_val_sharp_score"] == min(r[SHARP_SCORE] for r in history)


def test_invalid_structure_weights(tmp_path):
    with pytest.raises(ModelError, match="structure_weight must be a finite number >= 0"):
        tiny_config(tmp_path, tmp_path, "x", arch="unet", structure_weight=-1.0)
    with pytest.raises(ModelError, match="not a colorizer"):
        tiny_config(tmp_path, tmp_path, "x", arch="classifier", structure_weight=1.0)


def test_a_fine_tune_drops_its_bases_guided_filter_when_told_off(
    pairs, tmp_path, monkeypatch, capsys
):
    base = tmp_path / "base"
    common = ["train", "unet", "--data", pairs, "--epochs", "1", "--steps-per-epoch", "1"]
    common += ["--batch", "2", "--patch", "32", "--width", "4", "--threads", "1"]
    common += ["--report-split", ""]
    assert run_cli(monkeypatch, capsys, *common, "-o", base, "--guided", "2,1e-3")[0] == 0
    assert json.loads((base / "config.json").read_text())["guided"] == [2, 0.001]
    kept, dropped = tmp_path / "kept", tmp_path / "dropped"
    assert run_cli(monkeypatch, capsys, *common, "-o", kept, "--init", base)[0] == 0
    off = ("--init", base, "--guided", "off", "--detail", "off")
    assert run_cli(monkeypatch, capsys, *common, "-o", dropped, *off)[0] == 0
    assert json.loads((kept / "config.json").read_text())["guided"] == [2, 0.001]
    config = json.loads((dropped / "config.json").read_text())
    assert config["guided"] is None and config["detail"] is None
