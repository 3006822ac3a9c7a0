"""ONNX model folders (kinds "onnx" and "classifier") and output spaces, without torch.

The graphs are built by hand with onnx.helper, so these tests need neither torch nor training.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nircolor.colorspace import from_srgb, to_srgb
from nircolor.errors import ModelError
from nircolor.filters import apply_guided
from nircolor.models import load_model
from nircolor.models.onnx import OnnxClassifier, OnnxColorizer, pad_to_multiple

from .helpers import requires
from .helpers.models import load_error
from .helpers.onnx_graphs import brightness_classifier, write_graph


def grey_rgb_model(folder: Path, stride: int = 8, guided=None) -> Path:
    """Output = the NIR image in all three channels, shifted so padding would show."""
    from onnx import helper

    node = helper.make_node("Concat", ["nir", "nir", "nir"], ["output"], axis=1)
    config = {"kind": "onnx", "arch": "test", "output_space": "rgb", "stride": stride}
    config["guided"] = guided
    return write_graph(folder, [node], 3, config)


def zero_chroma_model(folder: Path) -> Path:
    """An ``lab_ab`` model predicting a = b = 0: the result is grey of lightness 100·NIR."""
    from onnx import TensorProto, helper

    zero = helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])
    nodes = [
        helper.make_node("Mul", ["nir", "zero"], ["z"]),
        helper.make_node("Concat", ["z", "z"], ["output"], axis=1),
    ]
    config = {"kind": "onnx", "arch": "test", "output_space": "lab_ab", "stride": 4}
    return write_graph(folder, nodes, 2, config, [zero])


@pytest.fixture
def nir():
    rng = np.random.default_rng(0)
    return rng.random((37, 53)).astype(np.float32)


def test_pad_to_multiple():
    image = np.arange(12, dtype=np.float32).reshape(3, 4)
    padded = pad_to_multiple(image, 4)
    assert padded.shape == (4, 4)
    np.testing.assert_array_equal(padded[:3], image)
    np.testing.assert_array_equal(padded[3], image[1])  # reflect
    assert pad_to_multiple(image, 4) is not image
    assert pad_to_multiple(np.zeros((8, 8)), 4).shape == (8, 8)
    assert pad_to_multiple(np.zeros((3, 5, 2)), 8, min_size=20).shape == (24, 24, 2)
    assert pad_to_multiple(np.ones((1, 1)), 16).shape == (16, 16)


def test_colorspace_round_trip():
    rng = np.random.default_rng(1)
    rgb = rng.random((2, 9, 11, 3)).astype(np.float32)
    for space in ("rgb", "lab"):
        back = to_srgb(from_srgb(rgb[0], space), None, space)
        np.testing.assert_allclose(back, rgb[0], atol=1e-4)
    lab = from_srgb(rgb, "lab")
    assert lab.shape == rgb.shape and np.abs(lab).max() <= 1.0
    ab = from_srgb(rgb, "lab_ab")
    assert ab.shape == (2, 9, 11, 2)
    np.testing.assert_array_equal(ab, lab[..., 1:])


def test_lab_ab_takes_lightness_from_nir():
    nir = np.linspace(0, 1, 20, dtype=np.float32).reshape(4, 5)
    rgb = to_srgb(np.zeros((4, 5, 2), np.float32), nir, "lab_ab")
    assert rgb.dtype == np.float32 and rgb.shape == (4, 5, 3)
    np.testing.assert_allclose(rgb[..., 0], rgb[..., 1], atol=1e-4)  # grey
    np.testing.assert_allclose(from_srgb(rgb, "lab")[..., 0], nir, atol=1e-3)


@requires("onnx")
def test_onnx_colorizer_pads_and_crops(tmp_path, nir):
    model = load_model(grey_rgb_model(tmp_path / "m"))
    assert isinstance(model, OnnxColorizer)
    rgb = model.predict(nir)
    assert rgb.shape == (37, 53, 3) and rgb.dtype == np.float32
    np.testing.assert_array_equal(rgb, np.repeat(nir[:, :, None], 3, axis=2))


@requires("onnx")
def test_onnx_colorizer_lab_ab(tmp_path, nir):
    rgb = load_model(zero_chroma_model(tmp_path / "m")).predict(nir)
    assert rgb.shape == (37, 53, 3) and 0 <= rgb.min() and rgb.max() <= 1
    np.testing.assert_allclose(from_srgb(rgb, "lab")[..., 0], nir, atol=1e-3)


@requires("onnx")
def test_default_guided_filter_is_applied_by_colorize_and_can_be_switched_off(tmp_path, nir):
    from nircolor import colorize

    folder = grey_rgb_model(tmp_path / "m", guided=[2, 1e-3])
    model = load_model(folder)
    assert model.guided == (2, 1e-3)
    grey = np.repeat(nir[:, :, None], 3, axis=2)  # the fixture is noise: denoise stays off
    np.testing.assert_array_equal(model.predict(nir), grey)  # the net alone
    filtered = apply_guided(nir, grey, 2, 1e-3)
    np.testing.assert_allclose(colorize(nir, model, denoise="off"), filtered, atol=1e-6)
    np.testing.assert_array_equal(colorize(nir, model, guided=False, denoise="off"), grey)
    # An explicit setting replaces the default rather than running the filter twice.
    np.testing.assert_allclose(
        colorize(nir, model, guided=(1, 1e-2), denoise="off"),
        apply_guided(nir, grey, 1, 1e-2),
        atol=1e-6,
    )


@requires("onnx")
def test_classifier_kind(tmp_path):
    model = load_model(brightness_classifier(tmp_path / "c"))
    assert isinstance(model, OnnxClassifier)
    category, probabilities = model.classify(np.full((5, 7), 0.9, np.float32))  # padded to 16
    assert category == "bright"
    assert probabilities["bright"] == pytest.approx(0.9, abs=1e-6)
    assert model.classify(np.full((40, 30), 0.2, np.float32))[0] == "dark"
    with pytest.raises(ModelError, match="cannot colorize"):
        model.predict(np.zeros((8, 8), np.float32))


@requires("onnx")
def test_broken_model_folders(tmp_path):
    folder = grey_rgb_model(tmp_path / "m")
    (folder / "model.onnx").write_bytes(b"not onnx")
    with pytest.raises(ModelError, match="cannot load ONNX"):
        load_model(folder)
    (folder / "model.onnx").unlink()
    with pytest.raises(ModelError, match="missing ONNX"):
        load_model(folder)


def run_without_torch(code: str) -> subprocess.CompletedProcess:
    prefix = "import sys; sys.modules['torch'] = None\n"
    return subprocess.run(
        [sys.executable, "-c", prefix + code], capture_output=True, text=True, timeout=120
    )


@requires("onnx")
def test_onnx_model_predicts_without_torch(tmp_path):
    folder = zero_chroma_model(tmp_path / "m")
    code = (
        "import numpy as np, nircolor\n"
        f"rgb = nircolor.colorize(np.full((9, 10), 0.5, np.float32), model={str(folder)!r})\n"
        "assert 'torch' not in {m.split('.')[0] for m in sys.modules if sys.modules[m]}\n"
        "print(rgb.shape)\n"
    )
    result = run_without_torch(code)
    assert result.returncode == 0, result.stderr
    assert "(9, 10, 3)" in result.stdout


def test_training_without_torch_says_what_to_install(tmp_path):
    code = (
        "from nircolor.cli import main\n"
        f"sys.argv = ['nircolor', 'train', 'unet', '--data', {str(tmp_path)!r}, '-o', 'x']\n"
        "main()\n"
    )
    result = run_without_torch(code)
    assert result.returncode == 1
    assert "pip install 'nircolor[train]'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@requires("onnx")
def test_onnx_file_outside_the_model_folder_is_refused(tmp_path):
    import pytest

    from nircolor.errors import ModelError

    folder = grey_rgb_model(tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    config["onnx"] = "../other/model.onnx"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="model folder"):
        load_model(folder)


def with_config(folder: Path, **changes) -> Path:
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **changes}))
    return folder


@requires("onnx")
@pytest.mark.parametrize(
    ("name", "value", "phrase"),
    [
        ("stride", -5, "'stride' must be an integer >= 1"),
        ("stride", 0, "'stride' must be an integer >= 1"),
        ("stride", 2.5, "'stride' must be an integer >= 1"),
        ("stride", "8", "'stride' must be an integer >= 1"),
        ("stride", True, "'stride' must be an integer >= 1"),
        ("min_size", -3, "'min_size' must be an integer >= 0"),
        ("min_size", "big", "'min_size' must be an integer >= 0"),
        ("guided", "ab", "'guided': invalid guided filter setting 'ab'"),
        ("guided", [5, "ab"], "'guided': eps must be a finite number in (0, 10]"),
        ("guided", [0, 1e-3], "'guided': radius must be an integer from 1 to 256"),
        ("guided", 7, "'guided': guided must be a (radius, eps) pair"),
        ("output_space", ["rgb"], "unknown output space"),
        ("output_space", "lab_ab", "'output_space' lab_ab needs 2 channels, the graph gives 3"),
        ("arch", 5, "'arch' must be a string"),
    ],
)
def test_invalid_config_fields_are_refused_at_load(tmp_path, name, value, phrase):
    folder = with_config(grey_rgb_model(tmp_path / "m"), **{name: value})
    assert phrase in load_error(folder)


@requires("onnx")
@pytest.mark.parametrize(
    ("categories", "phrase"),
    [
        ("dark,bright", "'categories' must be a list of distinct names"),
        ([], "a classifier needs 'categories'"),
        (["dark", "dark"], "'categories' must be a list of distinct names"),
        ([1, 2], "'categories' must be a list of distinct names"),
        (["dark", "bright", "grey"], "3 'categories', the graph gives 2 probabilities"),
    ],
)
def test_invalid_classifier_categories_are_refused_at_load(tmp_path, categories, phrase):
    folder = with_config(brightness_classifier(tmp_path / "c"), categories=categories)
    assert phrase in load_error(folder)


@requires("onnx")
def test_valid_config_fields_still_load(tmp_path):
    folder = with_config(grey_rgb_model(tmp_path / "m"), stride=4, min_size=0, guided="2,1e-3")
    model = load_model(folder)
    assert (model.stride, model.min_size, tuple(model.guided)) == (4, 0, (2, 1e-3))


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (1, 50), (50, 1), (16, 16), (24, 31)])
def test_shipped_fusion_colorizes_tiny_images(shape):
    # Its classifier global branch needs 32 pixels a side; the shipped config says min_size 0,
    # so these were an onnxruntime InvalidArgument (Conv ... Invalid input shape: {1,1}).
    from nircolor import colorize

    rgb = colorize(np.full(shape, 0.5, np.float32), model="fusion")
    assert rgb.shape == (*shape, 3) and np.isfinite(rgb).all()


def test_shipped_fusion_colorizes_a_one_pixel_file(tmp_path):
    from nircolor import colorize_file
    from nircolor.io import read_image, write_image

    source = write_image(tmp_path / "nir.png", np.full((1, 1), 0.5, np.float32))
    target = colorize_file(source, tmp_path / "rgb.png", model="fusion")
    assert read_image(target).shape == (1, 1, 3)


@requires("onnx")
@pytest.mark.parametrize(("branch", "expected"), [("classifier", 32), ("light", 0), (None, 32)])
def test_fusion_configs_get_their_global_branch_minimum_size(tmp_path, branch, expected):
    net = {"width": 4} if branch is None else {"width": 4, "global_branch": branch}
    folder = with_config(grey_rgb_model(tmp_path / "m"), arch="fusion", min_size=0, net=net)
    model = load_model(folder)
    assert model.min_size == expected
    assert model.predict(np.full((3, 5), 0.5, np.float32)).shape == (3, 5, 3)
