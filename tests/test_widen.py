"""Widening a trained ``unet`` (``train --width`` on a fine-tune): the wider net computes what
its base computes, its copied channels can drift apart in training, and every other change
of shape is refused (skipped without torch)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from .helpers import has, requires
from .helpers.training import one_torch_thread, tiny_config, write_pairs  # noqa: F401 (fixture)

if has("torch") and has("onnx") and has("safetensors"):
    import torch

    from nircolor.errors import ModelError
    from nircolor.nets import create_net
    from nircolor.nets.widen import widen_channels, widen_unet
    from nircolor.train.nets import init_config, init_weights, net_kwargs, train_net

pytestmark = requires("torch", "onnx", "safetensors")


def trained_looking_unet(width: int, seed: int = 0):
    """A ``unet`` with random weights and BatchNorm statistics far from their start."""
    torch.manual_seed(seed)
    net = create_net("unet", width=width, levels=3)
    for norm in (m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        norm.running_mean.uniform_(-0.5, 0.5)
        norm.running_var.uniform_(0.5, 2.0)
        norm.weight.data.uniform_(0.5, 1.5)
        norm.bias.data.uniform_(-0.2, 0.2)
    return net


@pytest.mark.parametrize("wider", [6, 13])  # 13 > 2 × 4: some channels are copied twice
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_a_widened_unet_computes_what_its_base_computes(wider, mode):
    base, wide = trained_looking_unet(4), create_net("unet", width=wider, levels=3)
    widen_unet(base, wide, seed=3)
    nir = torch.rand(2, 1, 40, 56)
    getattr(base, mode)(), getattr(wide, mode)()
    with torch.no_grad():
        np.testing.assert_allclose(wide(nir).numpy(), base(nir).numpy(), atol=2e-5)
    assert sum(p.numel() for p in wide.parameters()) > 2 * sum(p.numel() for p in base.parameters())


def test_a_unet_without_batchnorm_widens_too():
    torch.manual_seed(1)
    base = create_net("unet", width=4, levels=2, norm="none")
    wide = create_net("unet", width=7, levels=2, norm="none")
    widen_unet(base, wide)
    nir = torch.rand(1, 1, 24, 32)
    with torch.no_grad():
        np.testing.assert_allclose(wide(nir).numpy(), base(nir).numpy(), atol=2e-5)


def test_copied_channels_drift_apart_in_training():
    base, wide = trained_looking_unet(4), create_net("unet", width=6, levels=3)
    widen_unet(base, wide, seed=0)
    stem = wide.stem[0].weight
    copy = 4  # the first new channel of the stem copies an old one
    original = int(np.flatnonzero((stem[:4] == stem[copy]).flatten(1).all(1))[0])
    wide.train()
    optimizer = torch.optim.SGD(wide.parameters(), lr=0.1)
    target = torch.rand(2, 3, 32, 32)
    loss = (wide(torch.rand(2, 1, 32, 32)) - target).abs().mean()
    loss.backward()
    optimizer.step()
    assert not torch.allclose(stem[copy], stem[original])


def test_widen_channels_shares_sum_to_one_per_old_channel():
    channels = widen_channels(5, 12, np.random.default_rng(0))
    assert list(channels.source[:5]) == list(range(5))
    totals = np.bincount(channels.source, weights=channels.share, minlength=5)
    np.testing.assert_allclose(totals, np.ones(5))
    assert (channels.share > 0).all()


def test_widening_refuses_anything_but_a_wider_unet_of_the_same_kind():
    base = trained_looking_unet(6)
    with pytest.raises(ValueError, match="cannot narrow"):
        widen_unet(base, create_net("unet", width=4, levels=3))
    with pytest.raises(ValueError, match="only the width may differ"):
        widen_unet(base, create_net("unet", width=8, levels=4))


@pytest.fixture(scope="module")
def base_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("widen")
    pairs = write_pairs(root / "data")
    run = train_net(tiny_config(root, pairs, "base", arch="unet", epochs=1, report_split=""))
    return pairs, run.model_path


def test_a_fine_tune_with_a_larger_width_starts_from_its_bases_function(base_model, tmp_path):
    pairs, base = base_model
    wide_cfg = tiny_config(tmp_path, pairs, "wide", arch="unet", init=str(base), width=6)
    same_cfg = tiny_config(tmp_path, pairs, "same", arch="unet", init=str(base), width=None)
    nets = []
    for cfg in (wide_cfg, same_cfg):
        init = init_config(cfg)
        net = create_net("unet", **net_kwargs(cfg, init))
        init_weights(net, init)
        nets.append(net.eval())
    assert nets[0].config["width"] == 6 and nets[1].config["width"] == 4
    nir = torch.rand(1, 1, 32, 48)
    with torch.no_grad():
        np.testing.assert_allclose(nets[0](nir).numpy(), nets[1](nir).numpy(), atol=2e-5)
    run = train_net(wide_cfg)
    assert json.loads((run.model_path / "config.json").read_text())["net"]["width"] == 6
    assert (run.model_path / "model.onnx").is_file()


def test_a_fine_tune_never_narrows_nor_widens_an_arch_it_cannot(base_model, tmp_path):
    pairs, base = base_model
    cfg = tiny_config(tmp_path, pairs, "narrow", arch="unet", init=str(base), width=2)
    with pytest.raises(ModelError, match="never narrower"):
        net_kwargs(cfg, init_config(cfg))
    cnn = train_net(tiny_config(tmp_path, pairs, "cnn", epochs=1, report_split=""))
    cfg = tiny_config(tmp_path, pairs, "wide_cnn", init=str(cnn.model_path), width=8)
    with pytest.raises(ModelError, match="unet only"):
        net_kwargs(cfg, init_config(cfg))
