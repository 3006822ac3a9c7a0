"""``zhang``: ab bins, rebalancing, soft encoding, annealed mean, training and colorizing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nircolor.errors import ModelError, NircolorError
from nircolor.examples import synthetic_pair
from nircolor.io import write_image
from nircolor.models import load_model

from .helpers import has, requires
from .helpers.cli import run_cli
from .helpers.training import tiny_config, write_pairs

if has("torch") and has("onnx") and has("safetensors"):
    import torch
    from safetensors.torch import load_file

    from nircolor.nets import create_net
    from nircolor.nets.zhang import ab_bins, ab_grid, ab_histogram
    from nircolor.nets.zhang_loss import (
        rebalanced_cross_entropy,
        rebalancing_weights,
        soft_encode,
    )
    from nircolor.train.nets import train_net

pytestmark = requires("torch", "onnx", "safetensors")


def test_bins_are_the_grid_cells_the_training_colours_fall_in():
    ab = np.array([[0.0, 0.0]] * 90 + [[21.0, -38.0]] * 10)  # two colours
    bins, prior = ab_bins(ab_histogram(ab))
    assert bins.tolist() == [[0.0, 0.0], [20.0, -40.0]]
    np.testing.assert_allclose(prior, [0.9, 0.1])
    assert len(ab_grid()) == 23 * 23
    with pytest.raises(ValueError, match="no pixels"):
        ab_bins(np.zeros((23, 23)))


def test_rebalancing_weights_favour_rare_colours_and_average_one():
    bins = ab_grid()[::37]
    prior = np.linspace(1, 20, len(bins))
    prior /= prior.sum()
    weights = rebalancing_weights(bins, prior)
    assert np.all(np.diff(weights) < 0)  # the rarer the bin, the heavier
    # E_p~[w] = 1 under the smoothed prior; with well-separated bins the smoothing is mild.
    assert (prior * weights).sum() == pytest.approx(1.0, rel=0.02)
    # λ = 1 is no rebalancing at all: every weight 1.
    np.testing.assert_allclose(rebalancing_weights(bins, prior, lam=1.0), 1.0)


def test_soft_encoding_weights_the_five_nearest_bins():
    bins = torch.tensor(ab_grid(), dtype=torch.float32)
    ab = torch.tensor([3.0, -12.0]).view(1, 2, 1, 1)
    target, nearest = soft_encode(ab, bins, sigma=5.0)
    assert target.shape == (1, len(bins), 1, 1)
    assert target.sum().item() == pytest.approx(1.0)
    assert (target > 0).sum().item() == 5
    assert bins[nearest.item()].tolist() == [0.0, -10.0]
    assert target.argmax().item() == nearest.item()


def test_rebalanced_cross_entropy_is_lowest_for_the_true_bin():
    bins = torch.tensor(ab_grid()[::10] / 128, dtype=torch.float32)
    ab = bins[7].view(1, 2, 1, 1).expand(1, 2, 4, 4)
    weights = torch.ones(len(bins))
    right = torch.full((1, len(bins), 4, 4), -5.0)
    right[:, 7] = 5.0
    wrong = torch.roll(right, 3, dims=1)
    assert rebalanced_cross_entropy(right, ab, bins, weights) < rebalanced_cross_entropy(
        wrong, ab, bins, weights
    )


def test_annealed_mean_goes_from_the_mean_to_the_mode():
    net = create_net("zhang", width=4, bins=[[-50.0, 0.0], [50.0, 0.0]], prior=[0.5, 0.5])
    lightness = torch.zeros(1, 1, 4, 4)
    logits = torch.zeros(1, 2, 2, 2)
    logits[:, 1] = 1.0  # the second bin a little more likely
    mean = net.decode(lightness, logits, 1.0)[0, 1, 0, 0].item() * 128
    vivid = net.decode(lightness, logits, 1 / 0.05)[0, 1, 0, 0].item() * 128
    assert mean == pytest.approx(50 * np.tanh(0.5), abs=1e-3)  # softmax mean of ±50
    assert 49 < vivid <= 50  # T → 0: the mode


def test_zhang_trains_exports_and_colorizes_with_a_temperature(tmp_path):
    data = write_pairs(tmp_path / "data")
    config = tiny_config(tmp_path, data, "z", arch="zhang", epochs=1, report_split=None)
    folder = train_net(config).model_path
    saved = json.loads((folder / "config.json").read_text())
    assert saved["output_space"] == "lab" and len(saved["net"]["bins"]) >= 1
    assert saved["export_max_abs_error"] < 1e-4
    sweep = saved["training"]["temperature_sweep"]
    assert [row["temperature"] for row in sweep] == [0.2, 0.3, 0.38, 0.5, 0.7, 1.0]
    assert saved["temperature"] in [row["temperature"] for row in sweep]

    model = load_model(folder)
    nir = synthetic_pair(99, 45, 70)[0]
    vivid, grey = model.with_temperature(0.05), model.with_temperature(5.0)
    rgb = vivid.predict(nir)
    assert rgb.shape == (45, 70, 3) and 0 <= rgb.min() and rgb.max() <= 1
    assert model.temperature == saved["temperature"]  # with_temperature made copies
    # The graph decodes at the temperature it is given, as the torch net does.
    net = create_net("zhang", **saved["net"]).eval()
    net.load_state_dict(load_file(folder / "weights.safetensors"))
    x = torch.from_numpy(np.ascontiguousarray(nir[:32, :64]))[None, None]
    for colorizer in (vivid, grey):
        with torch.no_grad():
            expected = net.decode(*net.heads(x), 1 / colorizer.temperature)[0].numpy()
        np.testing.assert_allclose(colorizer.run(nir[:32, :64]), expected, atol=1e-4)
    assert np.abs(vivid.run(nir[:32, :64]) - grey.run(nir[:32, :64])).max() > 1e-3
    with pytest.raises(ModelError, match="between 0.01 and 10"):
        model.with_temperature(0)


def test_cli_temperature_is_checked(tmp_path, tiny_model, monkeypatch, capsys):
    nir = tmp_path / "a_nir.png"
    write_image(nir, synthetic_pair(1, 32, 32)[0])
    out = tmp_path / "out"
    out = f"{out}/"
    code, _, err = run_cli(monkeypatch, capsys, "colorize", nir, "-o", out, "--temperature", -1)
    assert code != 0 and "--temperature" in err and "Traceback" not in err
    args = ("colorize", nir, "-o", out, "-m", tiny_model, "--temperature", 0.5)
    code, _, err = run_cli(monkeypatch, capsys, *args)
    assert code != 0 and "has no temperature" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_temperature_applies_in_the_options():
    from nircolor.jobs import Options

    with pytest.raises(NircolorError, match="between 0.01 and 10"):
        Options(temperature=100)
    assert Options(temperature=0.38).temperature == 0.38


def test_zhang_starts_from_a_unet_trunk(tmp_path):
    from nircolor.train.nets import init_config, init_weights

    data = write_pairs(tmp_path / "data")
    unet = train_net(tiny_config(tmp_path, data, "u", arch="unet", epochs=1, report_split=None))
    config = tiny_config(tmp_path, data, "z", arch="zhang", init=str(unet.model_path))
    init = init_config(config)
    assert init["trunk"]
    base = load_file(unet.model_path / "weights.safetensors")
    net = create_net("zhang", width=4, bins=[[0.0, 0.0], [10.0, 10.0]], prior=[0.5, 0.5])
    init_weights(net, init)
    state = net.state_dict()
    shared = [k for k in base if k in state and state[k].shape == base[k].shape]
    assert "stem.0.weight" in shared and "last.weight" not in shared
    assert all(torch.equal(state[k], base[k]) for k in shared)
    folder = train_net(config).model_path  # and the run itself
    assert json.loads((folder / "config.json").read_text())["net"]["width"] == 4
    with pytest.raises(ModelError, match="not a trained cnn model"):  # no trunk for a cnn
        init_config(tiny_config(tmp_path, data, "c", arch="cnn", init=str(unet.model_path)))
