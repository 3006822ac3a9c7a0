"""The adversarial option of the colorizers (``--gan-weight``): the PatchGAN, the torch
Lab -> sRGB it sees colours through, exact resume and the command line (skipped without torch)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nircolor.colorspace import from_srgb, to_srgb
from nircolor.examples import synthetic_pair
from nircolor.models import load_model
from nircolor.train.common import portable_path

from .helpers import has, requires
from .helpers.cli import run_cli
from .helpers.training import one_torch_thread, tiny_config, write_pairs  # noqa: F401 (fixture)

if has("torch") and has("onnx") and has("safetensors"):
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from nircolor.errors import ModelError
    from nircolor.nets import create_net
    from nircolor.nets.colour import output_to_srgb
    from nircolor.train import nets as train_nets
    from nircolor.train.nets import Reporter, train_net
else:  # a core-only install: every test here is skipped, the module still imports
    Reporter = object

pytestmark = requires("torch", "onnx", "safetensors")

GAN = {"gan_weight": 0.5, "gan_width": 4}


class StopAfterFirstEpoch(Reporter):
    def epoch(self, record: dict) -> None:
        raise KeyboardInterrupt  # as if killed right after the first checkpoint


def weights(result) -> dict:
    return load_file(result.model_path / "weights.safetensors")


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ----------------------------------------------------------------------------- colour, PatchGAN


@pytest.mark.parametrize("space", ["lab", "lab_ab"])
def test_torch_lab_to_srgb_matches_colorspace(space):
    rng = np.random.default_rng(0)
    srgb = rng.random((16, 24, 3), dtype=np.float32)
    in_gamut = from_srgb(srgb, space)  # true colours, and wild ones (out of gamut, clipped)
    wild = rng.uniform(-1, 1, in_gamut.shape).astype(np.float32)
    if space == "lab":
        wild[..., 0] = rng.uniform(-0.1, 1.1, wild.shape[:2])
    nir = rng.random((16, 24), dtype=np.float32)
    for output in (in_gamut, wild):
        expected = to_srgb(output, nir, space)
        tensor = torch.from_numpy(np.moveaxis(output, -1, 0)[None].copy()).requires_grad_(True)
        got = output_to_srgb(tensor, torch.from_numpy(nir)[None, None], space)
        np.testing.assert_allclose(got[0].detach().permute(1, 2, 0).numpy(), expected, atol=1e-4)
        got.sum().backward()
        assert torch.isfinite(tensor.grad).all() and tensor.grad.abs().sum() > 0


def test_rgb_output_goes_to_the_discriminator_as_it_is():
    output = torch.rand(2, 3, 8, 8) * 1.4 - 0.2
    assert output_to_srgb(output, torch.rand(2, 1, 8, 8), "rgb") is output


@pytest.mark.parametrize(("layers", "field"), [(1, 16), (2, 34), (3, 70)])
def test_patchgan_receptive_field(layers, field):
    torch.manual_seed(0)
    net = create_net("patchgan", width=4, layers=layers, norm="none").double()
    nir = torch.rand(1, 1, 160, 160, dtype=torch.float64, requires_grad=True)
    srgb = torch.rand(1, 3, 160, 160, dtype=torch.float64, requires_grad=True)
    scores = net(nir, srgb)
    scores[0, 0, scores.shape[2] // 2, scores.shape[3] // 2].backward()
    seen = (nir.grad[0, 0] != 0) | (srgb.grad[0] != 0).any(dim=0)
    rows, cols = np.nonzero(seen.numpy())
    assert rows.max() - rows.min() + 1 == field
    assert cols.max() - cols.min() + 1 == field


def test_patchgan_default_is_pix2pix():
    net = create_net("patchgan")
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512, 1]
    assert [c.stride[0] for c in convs] == [2, 2, 2, 1, 1]
    assert all(c.kernel_size == (4, 4) for c in convs)
    norms = [m for m in net.layers if isinstance(m, torch.nn.InstanceNorm2d)]
    assert len(norms) == 3 and isinstance(net.layers[1], torch.nn.LeakyReLU)  # none on C64
    assert net(torch.rand(2, 1, 128, 128), torch.rand(2, 3, 128, 128)).shape == (2, 1, 14, 14)


# ----------------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Pairs; a plain run; a GAN run straight through; a GAN run cut after its first epoch."""
    root = tmp_path_factory.mktemp("gan")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    data = write_pairs(root / "data")
    plain = train_net(tiny_config(root, data, "plain", arch="unet"))
    straight = train_net(tiny_config(root, data, "straight", arch="unet", **GAN))
    with pytest.raises(KeyboardInterrupt):
        train_net(tiny_config(root, data, "cut", arch="unet", **GAN), StopAfterFirstEpoch())
    torch.set_num_threads(threads)
    return {"root": root, "data": data, "plain": plain, "straight": straight}


def test_gan_off_is_the_run_of_before(runs, tmp_path, monkeypatch):
    def no_discriminator(*args, **kwargs):
        raise AssertionError("a discriminator was made with gan_weight 0")

    monkeypatch.setattr(train_nets, "Adversary", no_discriminator)
    off = train_net(tiny_config(tmp_path, runs["data"], "off", arch="unet", gan_weight=0.0))
    assert same(weights(off), weights(runs["plain"]))
    with safe_open(off.model_path / "checkpoint.safetensors", framework="pt") as f:
        assert not [name for name in f.keys() if name.startswith("gan.")]  # noqa: SIM118
    assert "d_loss" not in off.info["history"][-1]


def test_gan_on_changes_the_weights_and_resumes_exactly(runs):
    assert not same(weights(runs["straight"]), weights(runs["plain"]))
    history = runs["straight"].info["history"]
    assert all(np.isfinite(r["d_loss"]) and np.isfinite(r["g_adv"]) for r in history)
    cut = runs["root"] / "cut"
    resumed = train_net(tiny_config(runs["root"], runs["data"], "cut", arch="unet", resume=True))
    assert same(weights(resumed), weights(runs["straight"]))
    strip = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h]  # noqa: E731
    assert strip(resumed.info["history"]) == strip(history)
    with safe_open(cut / "checkpoint.safetensors", framework="pt") as f:
        names = list(f.keys())  # noqa: SIM118
    assert any(n.startswith("gan.model.") for n in names)
    assert any(n.startswith("gan.optim.") and n.endswith("exp_avg_sq") for n in names)


def test_the_checksum_covers_the_discriminator(runs, tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    path = runs["root"] / "straight" / "checkpoint.safetensors"
    with safe_open(path, framework="pt") as f:
        metadata, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    name = next(n for n in tensors if n.startswith("gan.model."))
    tensors[name] = tensors[name] + 1e-3
    save_file(tensors, folder / "checkpoint.safetensors", metadata=metadata)
    config = tiny_config(tmp_path, runs["data"], "run", arch="unet", resume=True, epochs=3)
    with pytest.raises(ModelError, match="checksum mismatch"):
        train_net(config)


def test_the_export_is_the_generator_and_records_the_weight(runs):
    folder = runs["straight"].model_path
    assert not [k for k in weights(runs["straight"]) if k.startswith("gan.")]
    config = json.loads((folder / "config.json").read_text())
    assert config["arch"] == "unet" and config["export_max_abs_error"] < 1e-4
    assert config["training"]["settings"]["gan_weight"] == GAN["gan_weight"]
    assert "gan_weight 0.5" in (folder / "MODEL_CARD.md").read_text()
    nir = synthetic_pair(5, 40, 56)[0]
    assert load_model(folder).predict(nir).shape == (40, 56, 3)


def test_fine_tuning_adversarially_with_init(runs, tmp_path):
    base = runs["plain"].model_path
    config = tiny_config(
        tmp_path, runs["data"], "tuned", arch="unet", init=str(base), epochs=1, **GAN
    )
    tuned = train_net(config)
    assert weights(tuned).keys() == weights(runs["plain"]).keys()
    assert not same(weights(tuned), weights(runs["plain"]))
    assert json.loads((tuned.model_path / "config.json").read_text())["net"]["width"] == 4
    card = (tuned.model_path / "MODEL_CARD.md").read_text()
    assert f"fine-tuned from `{portable_path(base)}`, trained by" in card


# ----------------------------------------------------------------------------- settings, CLI


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"gan_weight": -0.1}, "gan_weight must be a finite number >= 0"),
        ({"gan_weight": float("nan")}, "gan_weight must be a finite number >= 0"),
        ({"gan_width": 0}, "gan_width must be 1 to 256, not 0"),
        ({"arch": "classifier", "gan_weight": 0.1}, "not a colorizer"),
    ],
)
def test_invalid_gan_settings(tmp_path, settings, message):
    with pytest.raises(ModelError, match=message):
        tiny_config(tmp_path, tmp_path, "x", **{"arch": "unet", **settings})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["unet", "--gan-weight", "-1"], "gan_weight must be a finite number >= 0, not -1.0"),
        (["unet", "--gan-width", "0"], "gan_width must be 1 to 256, not 0"),
        (["classifier", "--gan-weight", "0.1"], "not a colorizer"),
    ],
)
def test_cli_refuses_bad_gan_options_in_one_line(tmp_path, monkeypatch, capsys, args, message):
    data = write_pairs(tmp_path / "data")
    arch, *options = args
    command = ["train", arch, "--data", data, "-o", tmp_path / "m", *options]
    code, _, err = run_cli(monkeypatch, capsys, *command)
    assert code == 1
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "m").exists()
