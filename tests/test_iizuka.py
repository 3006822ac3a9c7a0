"""``iizuka``: the fusion net trained jointly with a scene-class loss (skipped without torch)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nircolor.io import write_image
from nircolor.models import load_model

from .helpers import has, requires
from .helpers.cli import run_cli
from .helpers.training import one_torch_thread, tiny_config  # noqa: F401 (fixture)

if has("torch") and has("onnx") and has("safetensors"):
    import onnx
    import torch
    from safetensors.torch import load_file

    from nircolor.errors import ModelError
    from nircolor.nets import create_net
    from nircolor.train.nets import ImageSet, NetTrainConfig, task_for, train_net

pytestmark = requires("torch", "onnx", "safetensors")

CLASSES = ["blobs", "stripes"]


def toy_image(label: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Class 0: a smooth random blob; class 1: stripes of random period, phase and angle."""
    y, x = np.mgrid[:size, :size] / size
    if label:
        angle, period = rng.uniform(0, np.pi), rng.uniform(0.08, 0.15)
        wave = np.cos(angle) * x + np.sin(angle) * y
        image = 0.5 + 0.4 * np.sin(2 * np.pi * wave / period + rng.uniform(0, 6.3))
    else:
        cy, cx = rng.uniform(0.2, 0.8, 2)
        image = 0.2 + 0.6 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / 0.08)
    return np.clip(image + 0.02 * rng.standard_normal((size, size)), 0, 1).astype(np.float32)


def write_toy_pairs(root, count: int = 12, size: int = 64):
    """Blobs painted green, stripes painted red: the class tells the colour."""
    rng = np.random.default_rng(0)
    for i in range(count):
        label = i % 2
        nir = toy_image(label, size, rng)
        tint = np.array([0.9, 0.3, 0.2] if label else [0.2, 0.8, 0.3], np.float32)
        write_image(root / CLASSES[label] / f"{i:04d}_nir.png", nir)
        write_image(root / CLASSES[label] / f"{i:04d}_rgb.png", nir[..., None] * tint)
    return root


def iizuka_config(tmp_path, data, name, **overrides):
    settings = {"arch": "iizuka", "categories": CLASSES, "patch": 32, "batch": 8, "split": "all"}
    return tiny_config(tmp_path, data, name, **{**settings, **overrides})


def class_loss(net, cfg, images, seed: int = 5) -> float:
    task = task_for("iizuka")
    nir, (_, labels) = task.batch(images, cfg, np.random.default_rng(seed))
    net.eval()
    with torch.no_grad():
        _, logits = net.colour_and_logits(torch.from_numpy(nir))
    return float(torch.nn.functional.cross_entropy(logits, torch.from_numpy(labels)))


# ----------------------------------------------------------------------------- batches, loss


def test_batches_carry_the_label_of_each_patch_source():
    images = ImageSet()
    for label, value in ((0, 10), (1, 120), (-1, 250)):  # each image one grey level
        images.add(np.full((40, 40), value, np.uint8), np.zeros((40, 40, 3), np.uint8), label)
    cfg = NetTrainConfig(arch="iizuka", data=".", output=".", batch=64, patch=32)
    nir, (colour, labels) = task_for("iizuka").batch(images, cfg, np.random.default_rng(0))
    assert nir.shape == (64, 1, 32, 32) and colour.shape == (64, 2, 32, 32)
    source = {10: 0, 120: 1, 250: -1}
    assert [source[round(v)] for v in nir[:, 0, 0, 0] * 255] == labels.tolist()
    assert set(labels.tolist()) == {0, 1, -1}


def test_unknown_scenes_are_left_out_of_the_class_loss():
    cfg = NetTrainConfig(arch="iizuka", data=".", output=".", class_weight=1.0)
    task = task_for("iizuka")
    colour, true_colour = torch.zeros(3, 2, 8, 8), torch.full((3, 2, 8, 8), 0.1)
    logits = torch.tensor([[4.0, 0.0], [0.0, 4.0], [9.0, -9.0]])
    none_known = task.loss(cfg, (colour, logits), (true_colour, torch.tensor([-1, -1, -1])))
    assert float(none_known) == pytest.approx(0.01)  # the colour MSE alone
    some = task.loss(cfg, (colour, logits), (true_colour, torch.tensor([0, 1, -1])))
    expected = 0.01 + float(torch.nn.functional.cross_entropy(logits[:2], torch.tensor([0, 1])))
    assert float(some) == pytest.approx(expected, rel=1e-5)


# ----------------------------------------------------------------------------- training


def test_iizuka_learns_the_scene_class_and_exports_a_colorizer(tmp_path):
    data = write_toy_pairs(tmp_path / "data")
    cfg = iizuka_config(
        tmp_path, data, "m", epochs=2, steps_per_epoch=12, class_weight=1.0, lr=2e-3
    )
    result = train_net(cfg)
    images, rng = ImageSet(), np.random.default_rng(9)  # unseen images of both classes
    for i in range(8):
        images.add(toy_image(i % 2, 64, rng), np.zeros((64, 64, 3), np.float32), label=i % 2)
    torch.manual_seed(0)
    untrained = create_net("iizuka", width=4, num_classes=2)
    trained = create_net("iizuka", width=4, num_classes=2)
    trained.load_state_dict(load_file(result.model_path / "weights.safetensors"))
    before, after = class_loss(untrained, cfg, images), class_loss(trained, cfg, images)
    assert after < 0.5 * before, (before, after)
    history = result.info["history"]
    assert all(0 <= r["val_class_accuracy"] <= 1 and "val_psnr" in r for r in history)
    config = json.loads((result.model_path / "config.json").read_text())
    assert config["arch"] == "iizuka" and config["categories"] == CLASSES
    assert config["export_max_abs_error"] < 1e-4 and config["output_space"] == "lab_ab"
    assert config["training"]["settings"]["class_weight"] == 1.0
    graph = onnx.load(result.model_path / "model.onnx")
    assert len(graph.graph.output) == 1  # the colour only, no class head
    nir = toy_image(0, 48, np.random.default_rng(3))[:40]
    rgb = load_model(result.model_path).predict(nir)
    assert rgb.shape == (40, 48, 3) and np.isfinite(rgb).all()


def test_class_weight_default_and_checks(tmp_path):
    assert NetTrainConfig(arch="iizuka", data=".", output=".").class_weight == 0.01
    assert NetTrainConfig(arch="unet", data=".", output=".").class_weight is None
    with pytest.raises(ModelError, match="class_weight must be a finite number >= 0"):
        NetTrainConfig(arch="iizuka", data=".", output=".", class_weight=-1.0)
    with pytest.raises(ModelError, match="class_weight is a setting of iizuka only"):
        NetTrainConfig(arch="unet", data=".", output=".", class_weight=0.5)


# ----------------------------------------------------------------------------- command line


def test_cli_trains_iizuka_and_colorizes_with_it(tmp_path, monkeypatch, capsys):
    data = write_toy_pairs(tmp_path / "data", count=6)
    model = tmp_path / "iizuka"
    tiny = ["--epochs", "1", "--steps-per-epoch", "2", "--batch", "2", "--patch", "32"]
    args = ["train", "iizuka", "--data", data, "-o", model, *tiny, "--width", "4"]
    code, _, err = run_cli(monkeypatch, capsys, *args, "--threads", "1", "--split", "all")
    assert code in (0, None), err
    assert "trained iizuka" in err
    code, _, err = run_cli(
        monkeypatch,
        capsys,
        "colorize",
        data / "blobs" / "0000_nir.png",
        "-o",
        tmp_path / "o.png",
        "--model",
        model,
    )
    assert code in (0, None), err
    assert (tmp_path / "o.png").is_file()


def test_cli_refuses_a_negative_class_weight_in_one_line(tmp_path, monkeypatch, capsys):
    data = write_toy_pairs(tmp_path / "data", count=4)
    args = ["train", "iizuka", "--data", data, "-o", tmp_path / "m", "--class-weight", "-0.5"]
    code, _, err = run_cli(monkeypatch, capsys, *args)
    assert code == 1 and "class_weight must be a finite number >= 0" in err
    assert len(err.strip().splitlines()) == 1, err
