"""Small training data and models for the tests."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from nircolor.examples import synthetic_pair
from nircolor.io import write_image

if TYPE_CHECKING:
    from nircolor.train.nets import NetTrainConfig


def write_pairs(root: Path, count: int = 6, height: int = 48, width: int = 64) -> Path:
    for i in range(count):
        nir, rgb = synthetic_pair(i, height, width)
        category = ("country", "forest")[i % 2]
        write_image(root / category / f"{i:04d}_nir.png", nir)
        write_image(root / category / f"{i:04d}_rgb.png", rgb)
    return root


def write_tiny_unet(folder: Path, context: int) -> Path:
    """A random unet (width 4, 2 levels: stride 4) exported as an ONNX model folder whose
    colour context is ``context`` px (needs torch)."""
    import json

    import torch

    from nircolor.nets.export import onnx_bytes
    from nircolor.nets.unet import UNet

    torch.manual_seed(0)
    net = UNet(width=4, levels=2).eval()
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(onnx_bytes(net, torch.rand(1, 1, 32, 48)))
    config = {"kind": "onnx", "arch": "unet", "net": net.config, "stride": net.stride}
    config |= {"output_space": "rgb", "context": [context, 0.05], "guided": None}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def tiny_config(tmp_path: Path, data: Path, name: str, **overrides) -> NetTrainConfig:
    from nircolor.train.nets import NetTrainConfig

    settings = {
        "arch": "cnn",
        "data": str(data),
        "output": str(tmp_path / name),
        "epochs": 2,
        "steps_per_epoch": 3,
        "batch": 2,
        "patch": 32,
        "width": 4,
        "threads": 1,
        "warmup_steps": 2,
    }
    return NetTrainConfig(**{**settings, **overrides})


def train_tiny_model(folder: Path) -> Path:
    """A small L3 model trained in well under a second on synthetic pairs."""
    from nircolor.train import train_l3

    pairs = folder / "pairs"
    index = 0
    for category in ("country", "forest", "urban"):
        for scene in range(4):
            nir, rgb = synthetic_pair(index)
            write_image(pairs / category / f"{scene:04d}_nir.png", nir)
            write_image(pairs / category / f"{scene:04d}_rgb.png", rgb)
            index += 1
    model = folder / "tiny-l3"
    train_l3(pairs, model, split="all")
    return model


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Run the test on one torch thread (fast and deterministic on a shared CPU); a module
    that imports this fixture gets it for every test, its tests without torch too (in a
    core-only install the fixture then does nothing)."""
    try:
        import torch
    except ImportError:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_cfa_model(seed: int):
    """A raw-mosaic (CFA) L3 model fitted on random data: a model of the right kind for the
    front ends' tests, not one that colours well."""
    import numpy as np

    from nircolor.models.l3 import L3Config, fit_l3_cfa

    rng = np.random.default_rng(seed)
    pairs = [(rng.random((24, 24), dtype=np.float32), rng.random((24, 24, 3), dtype=np.float32))]
    return fit_l3_cfa(pairs * 4, L3Config(n_levels=2, n_contrasts=1))
