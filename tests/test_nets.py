"""The torch nets, their training loop and their ONNX export (skipped without torch)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from nircolor.errors import ModelError
from nircolor.examples import synthetic_pair
from nircolor.io import write_image
from nircolor.metrics import ssim as ssim_numpy
from nircolor.models import load_model

from .helpers import has, requires
from .helpers.cli import run_cli
from .helpers.training import one_torch_thread, tiny_config, write_pairs  # noqa: F401 (fixture)

if has("torch") and has("onnx") and has("safetensors"):
    import onnxruntime as ort
    import torch
    import torch.nn.functional as F
    from safetensors.torch import load_file, save_file

    from nircolor.nets import count_parameters, create_net, list_nets
    from nircolor.nets.export import onnx_bytes
    from nircolor.nets.layers import adaptive_avg_pool
    from nircolor.nets.losses import colorization_loss, ssim
    from nircolor.train.checkpoint import read_checkpoint
    from nircolor.train.nets import NetTrainConfig, Reporter, train_net
else:  # a core-only install: every test here is skipped, the module still imports
    Reporter = object

pytestmark = requires("torch", "onnx", "safetensors")

ARCHS = ("cnn", "classifier", "fusion", "unet")
TINY = {  # small versions for fast tests
    "cnn": {"width": 4},
    "classifier": {"num_classes": 2},
    "fusion": {"width": 4, "global_branch": "light", "num_classes": 2},
    "unet": {"width": 4},
}


def tiny(arch: str, **kwargs):
    torch.manual_seed(0)
    return create_net(arch, **{**TINY[arch], **kwargs})


def randomize_batchnorm(net) -> None:
    """Give BatchNorm layers non-trivial running statistics (as after training)."""
    generator = torch.Generator().manual_seed(0)
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(0.2 * torch.rand(n, generator=generator) - 0.1)
            module.running_var.copy_(0.5 + torch.rand(n, generator=generator))


def stripes_or_blobs(label: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Class 0: random smooth blobs; class 1: stripes of random period, phase and direction."""
    if label == 1:
        y, x = np.mgrid[:size, :size]
        angle = rng.uniform(0, np.pi)
        period = rng.uniform(4, 9)
        wave = np.cos(angle) * x + np.sin(angle) * y
        image = 0.5 + 0.4 * np.sin(2 * np.pi * wave / period + rng.uniform(0, 6.3))
    else:
        image = synthetic_pair(int(rng.integers(1 << 30)), size, size)[0]
    return np.clip(image + 0.03 * rng.standard_normal((size, size)), 0, 1).astype(np.float32)


# ----------------------------------------------------------------------------- the nets


def test_registry():
    assert set(ARCHS) <= set(list_nets())
    with pytest.raises(ValueError, match="unknown net"):
        create_net("nope")
    net = create_net("unet", width=8)
    again = create_net("unet", **net.config)
    assert count_parameters(again) == count_parameters(net)


@pytest.mark.parametrize("arch", ARCHS)
def test_shapes_at_any_stride_multiple(arch):
    net = tiny(arch).eval()
    size = (2 * max(net.stride, 16), 3 * max(net.stride, 16))
    with torch.no_grad():
        out = net(torch.rand(2, 1, *size))
    if arch == "classifier":
        assert out.shape == (2, 2)
    else:
        channels = 2 if net.output_space == "lab_ab" else 3
        assert out.shape == (2, channels, *size)


@pytest.mark.parametrize("space", ["rgb", "lab", "lab_ab"])
def test_output_spaces(space):
    net = create_net("fusion", width=4, global_branch="light", output_space=space).eval()
    with torch.no_grad():
        out = net(torch.rand(1, 1, 32, 48))
    assert out.shape[1] == (2 if space == "lab_ab" else 3)
    assert out.abs().max() <= 1


def test_adaptive_pool_matches_torch():
    for height, width in [(1, 9), (3, 3), (5, 7), (17, 4), (30, 41)]:
        x = torch.rand(2, 3, height, width)
        expected = F.adaptive_avg_pool2d(x, 4)
        torch.testing.assert_close(adaptive_avg_pool(x, 4), expected, atol=1e-6, rtol=0)


def test_ssim_matches_metrics():
    rng = np.random.default_rng(0)
    a = rng.random((30, 40, 3)).astype(np.float32)
    b = np.clip(a + 0.1 * rng.standard_normal(a.shape), 0, 1).astype(np.float32)
    tensor = lambda x: torch.from_numpy(x).permute(2, 0, 1)[None]  # noqa: E731
    assert ssim(tensor(a), tensor(b)).item() == pytest.approx(ssim_numpy(a, b), abs=1e-5)
    assert ssim(tensor(a), tensor(a)).item() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("arch", ARCHS)
def test_loss_falls(arch):
    """A few optimizer steps on one synthetic batch bring the loss down."""
    net = tiny(arch).train()
    rng = np.random.default_rng(0)
    if arch == "classifier":
        labels = np.array([0, 1, 0, 1])
        nir = np.stack([stripes_or_blobs(label, 48, rng) for label in labels])[:, None]
        target = torch.from_numpy(labels)
    else:
        pairs = [synthetic_pair(i, 32, 32) for i in range(4)]
        nir = np.stack([n for n, _ in pairs])[:, None]
        rgb = np.stack([c for _, c in pairs]).transpose(0, 3, 1, 2)
        target = torch.from_numpy(rgb if net.output_space == "rgb" else rgb[:, :2] * 0.1)
    nir = torch.from_numpy(nir)
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(12):
        out = net(nir)
        loss = F.cross_entropy(out, target) if arch == "classifier" else F.mse_loss(out, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses


@pytest.mark.parametrize("loss", ["mse", "l1", "l1+ssim"])
def test_colorization_losses(loss):
    pred = torch.rand(2, 3, 16, 16, requires_grad=True)
    value = colorization_loss(loss, pred, torch.rand(2, 3, 16, 16))
    value.backward()
    assert value.item() > 0 and pred.grad is not None
    assert colorization_loss(loss, pred, pred.detach()).item() == pytest.approx(0, abs=1e-5)


@pytest.mark.parametrize("arch", ARCHS)
def test_onnx_matches_torch(arch):
    net = tiny(arch).eval()
    randomize_batchnorm(net)
    s = max(net.stride, 16)
    graph = onnx_bytes(net, torch.rand(1, 1, 2 * s, 3 * s), probabilities=arch == "classifier")
    session = ort.InferenceSession(graph, providers=["CPUExecutionProvider"])
    x = torch.rand(2, 1, 5 * s, 3 * s)  # another, non-square size than the traced one
    with torch.no_grad():
        expected = net(x)
        if arch == "classifier":
            expected = torch.softmax(expected, dim=1)
    got = session.run(None, {"nir": x.numpy()})[0]
    assert got.shape == tuple(expected.shape)
    assert np.abs(got - expected.numpy()).max() < 1e-4


@pytest.mark.parametrize("arch", ARCHS)
def test_safetensors_round_trip(arch, tmp_path):
    net = tiny(arch).eval()
    randomize_batchnorm(net)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, tmp_path / "w.st")
    torch.manual_seed(123)
    other = create_net(arch, **net.config).eval()
    other.load_state_dict(load_file(tmp_path / "w.st"))
    x = torch.rand(1, 1, 48, 64)
    with torch.no_grad():
        assert torch.equal(net(x), other(x))


# ----------------------------------------------------------------------------- training


class StopAfterFirstEpoch(Reporter):
    def epoch(self, record: dict) -> None:
        raise KeyboardInterrupt  # as if killed right after the first checkpoint


def test_resume_gives_the_uninterrupted_weights(tmp_path):
    data = write_pairs(tmp_path / "data")
    straight = train_net(tiny_config(tmp_path, data, "straight"))
    cut = tiny_config(tmp_path, data, "cut")
    with pytest.raises(KeyboardInterrupt):
        train_net(cut, StopAfterFirstEpoch())
    assert read_checkpoint(tmp_path / "cut").scalars["epoch"] == 1
    assert not (tmp_path / "cut" / "config.json").exists()
    with pytest.raises(ModelError, match="already exists"):
        train_net(tiny_config(tmp_path, data, "cut"))
    resumed = train_net(tiny_config(tmp_path, data, "cut", resume=True))
    a = load_file(straight.model_path / "weights.safetensors")
    b = load_file(resumed.model_path / "weights.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    strip = lambda history: [{k: v for k, v in r.items() if k != "seconds"} for r in history]  # noqa: E731
    assert strip(straight.info["history"]) == strip(resumed.info["history"])


def test_training_is_deterministic_and_writes_a_model_folder(tmp_path):
    data = write_pairs(tmp_path / "data")
    first = train_net(tiny_config(tmp_path, data, "a", arch="unet", epochs=1, loss="l1+ssim"))
    second = train_net(tiny_config(tmp_path, data, "b", arch="unet", epochs=1, loss="l1+ssim"))
    a, b = (load_file(r.model_path / "weights.safetensors") for r in (first, second))
    assert all(torch.equal(a[k], b[k]) for k in a)
    config = json.loads((first.model_path / "config.json").read_text())
    assert config["kind"] == "onnx" and config["arch"] == "unet" and config["stride"] == 16
    assert config["output_space"] == "rgb" and config["export_max_abs_error"] < 1e-4
    assert config["training"]["seed"] == 0 and config["training"]["epochs"] == 1
    assert "val_psnr" in config["training"]["history"][0]
    # The best epoch is chosen on a scene holdout of the train rows; val is only reported.
    assert (config["training"]["split"], config["training"]["val_split"]) == ("fit", "holdout")
    card = (first.model_path / "MODEL_CARD.md").read_text()
    assert "chosen on holdout" in card and "## Validation" in card and "seed: 0" in card
    assert "| Detail ratio | GMSD |" in card and "\n| NIR shown as grey | " in card
    nir = synthetic_pair(99, 45, 70)[0]
    rgb = load_model(first.model_path).predict(nir)
    assert rgb.shape == (45, 70, 3) and rgb.dtype == np.float32
    assert 0 <= rgb.min() and rgb.max() <= 1


def test_model_folder_predicts_without_torch(tmp_path):
    data = write_pairs(tmp_path / "data")
    config = tiny_config(tmp_path, data, "m", arch="fusion", epochs=1, output_space="lab_ab")
    folder = train_net(config).model_path
    nir = synthetic_pair(7, 40, 56)[0]
    np.save(tmp_path / "nir.npy", nir)
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import numpy as np, nircolor\n"
        f"nir = np.load({str(tmp_path / 'nir.npy')!r})\n"
        f"rgb = nircolor.load_model({str(folder)!r}).predict(nir)\n"
        f"np.save({str(tmp_path / 'rgb.npy')!r}, rgb)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    expected = load_model(folder).predict(nir)
    np.testing.assert_array_equal(np.load(tmp_path / "rgb.npy"), expected)


def test_classifier_beats_chance_on_stripes_and_blobs(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "data"
    for i in range(16):
        label = i % 2
        category = ("blobs", "stripes")[label]
        nir = stripes_or_blobs(label, 64, rng)
        write_image(root / category / f"{i:04d}_nir.png", nir)
        write_image(root / category / f"{i:04d}_rgb.png", np.repeat(nir[:, :, None], 3, axis=2))
    config = tiny_config(
        tmp_path,
        root,
        "classifier",
        arch="classifier",
        categories=["blobs", "stripes"],
        epochs=2,
        steps_per_epoch=30,
        batch=8,
        patch=48,
        width=None,
        lr=1e-3,
    )
    result = train_net(config)
    model = load_model(result.model_path)
    assert model.categories == ["blobs", "stripes"]
    test_rng = np.random.default_rng(1)
    labels = [i % 2 for i in range(20)]
    names = ("blobs", "stripes")
    hits = [model.classify(stripes_or_blobs(y, 64, test_rng))[0] == names[y] for y in labels]
    accuracy = np.mean(hits)
    assert accuracy >= 0.75


def test_invalid_settings(tmp_path):
    with pytest.raises(ModelError, match="unknown architecture"):
        NetTrainConfig(arch="vit", data=".", output=".")
    with pytest.raises(ModelError, match="unknown loss"):
        NetTrainConfig(arch="unet", data=".", output=".", loss="huber")
    with pytest.raises(ModelError, match="unknown output space"):
        NetTrainConfig(arch="cnn", data=".", output=".", output_space="hsv")
    data = write_pairs(tmp_path / "data")
    with pytest.raises(ModelError, match="multiple of 16"):
        train_net(tiny_config(tmp_path, data, "x", arch="unet", patch=40))
    with pytest.raises(ModelError, match="no checkpoint"):
        train_net(tiny_config(tmp_path, data, "y", resume=True))
    for side in (-1, 16, 10**6):
        with pytest.raises(ModelError, match="pair_side must be 0 .full size. or 32"):
            tiny_config(tmp_path, data, "z", pair_side=side)


def test_pair_side_trains_on_downscaled_pairs_and_validates_at_full_size(tmp_path):
    from nircolor.train.nets import load_images

    data = write_pairs(tmp_path / "data", height=48, width=96)
    cfg = tiny_config(tmp_path, data, "small", arch="unet", epochs=1, pair_side=64)
    fit = load_images(cfg, cfg.split, side=cfg.pair_side)
    assert {image.shape for image in fit.nir} == {(32, 64)}
    assert {image.shape for image in fit.rgb} == {(32, 64, 3)}
    full = load_images(cfg, cfg.split)
    assert abs(float(fit.nir[0].mean()) - float(full.nir[0].mean())) < 1.0  # area: means kept
    result = train_net(cfg)
    config = json.loads((result.model_path / "config.json").read_text())
    assert config["training"]["settings"]["pair_side"] == 64
    whole = train_net(tiny_config(tmp_path, data, "whole", arch="unet", epochs=1))
    assert result.info["history"][0]["loss"] != whole.info["history"][0]["loss"]


# ----------------------------------------------------------------------------- command line


def test_cli_train_cnn_writes_a_loadable_model(pair_tree, tmp_path, monkeypatch, capsys):
    model = tmp_path / "cnn"
    tiny_args = ["--epochs", "1", "--steps-per-epoch", "2", "--batch", "2", "--patch", "32"]
    args = ["train", "cnn", "--data", pair_tree, "-o", model, *tiny_args, "--width", "4"]
    code, _, err = run_cli(monkeypatch, capsys, *args, "--threads", "1", "--guided", "2,1e-3")
    assert code in (0, None), err
    assert "trained cnn" in err
    config = json.loads((model / "config.json").read_text())
    assert config["kind"] == "onnx" and config["guided"] == [2, 0.001]
    assert config["training"]["command"].startswith("nircolor train cnn")
    nir = synthetic_pair(3)[0]
    assert load_model(model).predict(nir).shape == (*nir.shape, 3)
    code, _, err = run_cli(monkeypatch, capsys, *args)
    assert code == 1 and "already exists" in err


def test_cli_classify(tmp_path, monkeypatch, capsys):
    rng = np.random.default_rng(0)
    root = tmp_path / "data"
    for i in range(8):
        nir = stripes_or_blobs(i % 2, 48, rng)
        category = ("field", "forest")[i % 2]
        write_image(root / category / f"{i:04d}_nir.png", nir)
        write_image(root / category / f"{i:04d}_rgb.png", np.repeat(nir[:, :, None], 3, axis=2))
    model = tmp_path / "classifier"
    args = ["train", "classifier", "--data", root, "-o", model, "--epochs", "1"]
    args += ["--steps-per-epoch", "2", "--batch", "2", "--patch", "32", "--threads", "1"]
    code, _, err = run_cli(monkeypatch, capsys, *args, "--categories", "field,forest")
    assert code in (0, None), err
    code, out, err = run_cli(monkeypatch, capsys, "classify", f"{root}/*/*_nir.png", "-m", model)
    assert code in (0, None), err
    lines = out.strip().splitlines()
    assert len(lines) == 8
    for line in lines:
        path, category, confidence = line.split("\t")
        assert category in ("field", "forest") and 0.5 <= float(confidence) <= 1
    code, _, err = run_cli(monkeypatch, capsys, "classify", root, "--model", tmp_path / "none")
    assert code == 1 and "unknown model" in err


def test_guided_sweep_stores_the_best_setting_chosen_on_the_holdout(tmp_path):
    from nircolor.train.nets import GUIDED_GRID

    data = write_pairs(tmp_path / "data")
    result = train_net(tiny_config(tmp_path, data, "g", epochs=1, guided_sweep=True))
    config = json.loads((result.model_path / "config.json").read_text())
    table = config["training"]["guided_sweep"]
    assert [row["guided"] for row in table] == [None, *map(list, GUIDED_GRID)]
    best = max(table, key=lambda row: row["psnr"])
    assert config["guided"] == best["guided"]
    assert load_model(result.model_path).guided == (
        tuple(best["guided"]) if best["guided"] else None
    )
    assert "default guided filter" in (result.model_path / "MODEL_CARD.md").read_text()


def test_guided_sweep_of_a_colour_term_run_chooses_by_the_delta_e00(tmp_path):
    data = write_pairs(tmp_path / "data")
    settings = {"epochs": 1, "guided_sweep": True, "delta_e_weight": 1.0}
    result = train_net(tiny_config(tmp_path, data, "g", **settings))
    config = json.loads((result.model_path / "config.json").read_text())
    table = config["training"]["guided_sweep"]
    assert config["guided"] == min(table, key=lambda row: row["de00"])["guided"]
    assert "best ΔE00 on holdout" in (result.model_path / "MODEL_CARD.md").read_text()


def test_validation_scores_the_pictures_colorize_gives(tmp_path):
    """An image wider than the colour context is scored through the context, as the
    exported model colorizes it, not as the raw net output at full size."""
    import nircolor
    from nircolor.train.tasks import ImageSet, predictions

    data = write_pairs(tmp_path / "data")
    cfg = tiny_config(tmp_path, data, "m", arch="unet", epochs=1)
    folder = train_net(cfg).model_path
    config = json.loads((folder / "config.json").read_text())
    net = create_net("unet", **config["net"])
    net.load_state_dict(load_file(folder / "weights.safetensors"))
    nir, rgb = synthetic_pair(5, 40, 600)
    images = ImageSet()
    images.add(np.round(nir * 255).astype(np.uint8), np.round(rgb * 255).astype(np.uint8))
    pred, _ = next(predictions(net, images, cfg, torch.device("cpu")))
    nir8 = images.nir[0] / np.float32(255)
    expected = nircolor.colorize(nir8, model=folder, denoise="off")  # validation: no denoise
    raw = nircolor.colorize(nir8, model=folder, context=0, denoise="off")
    np.testing.assert_allclose(pred, expected, atol=1e-4)
    assert np.abs(raw - expected).max() > 1e-3


def test_the_weights_average_is_what_is_validated_kept_and_resumed(tmp_path):
    data = write_pairs(tmp_path / "data")
    settings = {"arch": "unet", "loss": "l1+ssim", "average": 0.9}
    train_net(tiny_config(tmp_path, data, "plain", arch="unet", loss="l1+ssim"))
    straight = train_net(tiny_config(tmp_path, data, "straight", **settings))
    saved = read_checkpoint(tmp_path / "straight").tensors
    model = {k[6:]: v for k, v in saved.items() if k.startswith("model.")}
    average = {k[8:]: v for k, v in saved.items() if k.startswith("average.")}
    # The average follows the net without changing its training (the net's own BatchNorm
    # statistics, unused, are no longer re-estimated)...
    plain_model = read_checkpoint(tmp_path / "plain").tensors
    parameters = dict(tiny("unet").named_parameters())
    assert all(torch.equal(model[k], plain_model[f"model.{k}"]) for k in parameters)
    assert any(not torch.equal(average[k], model[k]) for k in model)
    # ...and it is the average, at its best epoch, that is exported.
    best = {k[5:]: v for k, v in saved.items() if k.startswith("best.")}
    exported = load_file(straight.model_path / "weights.safetensors")
    assert all(torch.equal(exported[k], best[k]) for k in exported)
    card = (straight.model_path / "MODEL_CARD.md").read_text()
    assert "moving average (decay 0.9 per step)" in card
    if straight.info["history"][-1]["best"]:
        assert all(torch.equal(exported[k], average[k]) for k in exported)
    cut = tiny_config(tmp_path, data, "cut", **settings)
    with pytest.raises(KeyboardInterrupt):
        train_net(cut, StopAfterFirstEpoch())
    resumed = train_net(tiny_config(tmp_path, data, "cut", resume=True, **settings))
    again = read_checkpoint(tmp_path / "cut").tensors
    assert saved.keys() == again.keys()
    assert all(torch.equal(saved[k], again[k]) for k in saved if k != "torch_rng")
    assert load_file(resumed.model_path / "weights.safetensors").keys() == exported.keys()


def test_the_average_of_the_weights_is_the_formula():
    from nircolor.train.nets import update_average

    net, average = tiny("cnn"), tiny("cnn")
    with torch.no_grad():
        for p in average.parameters():
            p.add_(1.0)
    before = [p.clone() for p in average.parameters()]
    update_average(average, net, 0.75)
    for mean, old, weight in zip(average.parameters(), before, net.parameters(), strict=True):
        assert torch.allclose(mean, 0.75 * old + 0.25 * weight)


@pytest.mark.parametrize("decay", [1.0, -0.1, float("nan"), 2.0])
def test_an_average_decay_outside_0_to_1_is_refused(tmp_path, decay):
    with pytest.raises(ModelError, match="average must be a decay"):
        tiny_config(tmp_path, tmp_path, "x", average=decay)
