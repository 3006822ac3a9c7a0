"""Routed models: the scene classifier picks a specialist per image; specialists training."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from nircolor import colorize
from nircolor.errors import ModelError
from nircolor.models import load_model

from .helpers import requires
from .helpers.cli import run_cli
from .helpers.models import load_error
from .helpers.onnx_graphs import brightness_classifier, write_graph
from .helpers.training import tiny_config, write_pairs

TRAIN = requires("torch", "onnx", "safetensors")


def constant_model(folder: Path, value: float, guided=None) -> Path:
    """A colorizer whose output is ``value`` everywhere (tells which member ran)."""
    from onnx import TensorProto, helper

    zero = helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])
    level = helper.make_tensor("level", TensorProto.FLOAT, [], [value])
    nodes = [
        helper.make_node("Mul", ["nir", "zero"], ["z"]),
        helper.make_node("Add", ["z", "level"], ["c"]),
        helper.make_node("Concat", ["c", "c", "c"], ["output"], axis=1),
    ]
    config = {"kind": "onnx", "arch": "test", "output_space": "rgb", "stride": 1}
    config["guided"] = guided
    return write_graph(folder, nodes, 3, config, [zero, level])


def routed_folder(tmp_path: Path, **overrides) -> Path:
    folder = tmp_path / "routed"
    brightness_classifier(folder / "classifier")
    constant_model(folder / "specialists" / "dark", 0.2)
    constant_model(folder / "specialists" / "bright", 0.8)
    constant_model(folder / "general", 0.5)
    config = {
        "kind": "routed",
        "classifier": "classifier",
        "general": "general",
        "specialists": {"dark": "specialists/dark", "bright": "specialists/bright"},
        **overrides,
    }
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@requires("onnx")
def test_each_image_goes_to_the_specialist_of_its_category(tmp_path):
    model = load_model(routed_folder(tmp_path))
    assert model.kind == "routed"
    dark, bright = np.full((32, 40), 0.1, np.float32), np.full((32, 40), 0.9, np.float32)
    assert model.route(dark)[0] == "dark" and model.route(bright)[0] == "bright"
    np.testing.assert_allclose(model.predict(dark), 0.2, atol=1e-6)
    np.testing.assert_allclose(model.predict(bright), 0.8, atol=1e-6)


@requires("onnx")
def test_unsure_or_uncovered_categories_go_to_the_general_model(tmp_path):
    unsure = load_model(routed_folder(tmp_path, min_confidence=0.95))
    np.testing.assert_allclose(unsure.predict(np.full((32, 40), 0.1, np.float32)), 0.5, atol=1e-6)
    only_dark = routed_folder(tmp_path, specialists={"dark": "specialists/dark"})
    model = load_model(only_dark)
    np.testing.assert_allclose(model.predict(np.full((32, 40), 0.9, np.float32)), 0.5, atol=1e-6)


@requires("onnx")
def test_tiled_colorize_routes_the_whole_image_once(tmp_path):
    model = load_model(routed_folder(tmp_path))
    nir = np.full((96, 64), 0.2, np.float32)
    nir[:32] = 0.9  # the top band alone would be called "bright"; the whole image is "dark"
    assert model.route(nir)[0] == "dark"
    tiled = colorize(nir, model, tile=32, guided=False)
    np.testing.assert_allclose(tiled, 0.2, atol=1e-5)


@requires("onnx")
def test_broken_routed_configs_are_one_line_errors(tmp_path):
    with pytest.raises(ModelError, match="no specialist for bright and no general model"):
        load_model(routed_folder(tmp_path, general=None, specialists={"dark": "specialists/dark"}))
    constant_model(tmp_path / "outside", 0.5)  # a real model, but outside the routed folder
    with pytest.raises(ModelError, match="neither a model folder inside"):
        load_model(routed_folder(tmp_path, general="../outside"))
    with pytest.raises(ModelError, match="general 'classifier' cannot colorize"):
        load_model(routed_folder(tmp_path, general="classifier"))
    with pytest.raises(ModelError, match="'specialists' must map"):
        load_model(routed_folder(tmp_path, specialists=[]))


# ----------------------------------------------------------------------------- training


@TRAIN
def test_specialists_are_fine_tuned_from_the_general_model_and_routed(tmp_path):
    import torch
    from safetensors.torch import load_file

    from nircolor.train.nets import train_net
    from nircolor.train.routed import train_specialists

    torch.set_num_threads(1)
    data = write_pairs(tmp_path / "data", count=8)
    general = train_net(tiny_config(tmp_path, data, "general", epochs=1, report_split=None))
    classifier = train_net(
        tiny_config(
            tmp_path,
            data,
            "classifier",
            arch="classifier",
            width=None,
            epochs=1,
            categories=["country", "forest"],
        )
    )
    base = tiny_config(tmp_path, data, "routed", epochs=1, lr=1e-4, report_split="all")
    result = train_specialists(base, str(general.model_path), str(classifier.model_path))
    config = json.loads((result.model_path / "config.json").read_text())
    assert config["kind"] == "routed" and set(config["specialists"]) == {"country", "forest"}
    assert config["general"] == "general" and (result.model_path / "general").is_dir()
    assert (result.model_path / "classifier" / "model.onnx").is_file()
    specialist = result.model_path / "specialists" / "forest"
    settings = json.loads((specialist / "config.json").read_text())["training"]["settings"]
    assert settings["categories"] == ["forest"] and settings["init"]
    assert not list(specialist.glob("checkpoint.*"))  # finished: no resume state kept
    # fine-tuned: close to the general weights at a small learning rate, but not equal
    a = load_file(general.model_path / "weights.safetensors")
    b = load_file(specialist / "weights.safetensors")
    assert any(not torch.equal(a[k], b[k]) for k in a)
    model = load_model(result.model_path)
    nir = np.random.default_rng(0).random((48, 64), dtype=np.float32)
    assert model.predict(nir).shape == (48, 64, 3)
    card = (result.model_path / "MODEL_CARD.md").read_text()
    assert "Routed vs the general model" in card and "routing accuracy" in card
    with pytest.raises(ModelError, match="already exists"):
        train_specialists(base, str(general.model_path), str(classifier.model_path))
    inside = dataclasses.replace(base, overwrite=True, data=str(specialist))
    with pytest.raises(ModelError, match="refusing to replace a folder that holds"):
        train_specialists(inside, str(general.model_path), str(classifier.model_path))
    assert (result.model_path / "config.json").is_file()


@TRAIN
def test_fine_tuning_needs_a_model_of_the_same_architecture(tmp_path):
    from nircolor.train.nets import train_net

    data = write_pairs(tmp_path / "data")
    general = train_net(tiny_config(tmp_path, data, "general", epochs=1, report_split=None))
    with pytest.raises(ModelError, match="not a trained unet model"):
        train_net(tiny_config(tmp_path, data, "u", arch="unet", init=str(general.model_path)))


@TRAIN
def test_cli_specialists_need_a_learned_general_model(pair_tree, tmp_path, monkeypatch, capsys):
    code, _, err = run_cli(
        monkeypatch, capsys, "train", "specialists", "--data", pair_tree,
        "-o", tmp_path / "routed", "--general", "l3",
    )  # fmt: skip
    assert code == 1 and "not a learned colorizer" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "routed").exists()


@requires("onnx")
@pytest.mark.parametrize(
    "overrides",
    [
        {"classifier": "."},
        {"general": "."},
        {"general": "specialists/.."},
        {"specialists": {"dark": "./", "bright": "specialists/bright"}},
    ],
)
def test_a_routed_model_referencing_itself_is_refused_at_load(tmp_path, overrides):
    message = load_error(routed_folder(tmp_path, **overrides))
    assert "the routed model itself" in message and "ecursion" not in message


@requires("onnx")
def test_a_routed_member_is_refused_before_it_is_loaded(tmp_path, monkeypatch):
    import shutil

    from nircolor.models import registry

    outer = routed_folder(tmp_path)
    shutil.copytree(routed_folder(tmp_path / "other"), outer / "nested")
    config = json.loads((outer / "config.json").read_text())
    (outer / "config.json").write_text(json.dumps({**config, "general": "nested"}))
    loaded = []
    real_loader = registry._LOADERS["routed"]
    monkeypatch.setitem(
        registry._LOADERS, "routed", lambda f, *a: loaded.append(f) or real_loader(f, *a)
    )
    message = load_error(outer)
    assert "general 'nested' is a routed model" in message
    assert loaded == [outer]  # the nested routed model itself was never loaded


@requires("onnx")
@pytest.mark.parametrize("value", ["high", 2, -0.5, True, None, [0.5]])
def test_min_confidence_must_be_a_probability(tmp_path, value):
    message = load_error(routed_folder(tmp_path, min_confidence=value))
    assert "'min_confidence' must be a number in [0, 1]" in message


@requires("onnx")
def test_a_specialist_of_a_category_the_classifier_does_not_know(tmp_path):
    specialists = {"dark": "specialists/dark", "cloudy": "specialists/bright"}
    message = load_error(routed_folder(tmp_path, specialists=specialists))
    assert "specialist 'cloudy'" in message and "dark, bright" in message
