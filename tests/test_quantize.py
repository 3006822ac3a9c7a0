"""int8 ONNX colorizers (``nircolor quantize``, :mod:`nircolor.models.quantize`): what stays
float, the calibration rows and sizes, the folder written, and running it without onnx.

Quantizing needs onnx (and these tests export a tiny random unet with torch); the shipped
int8 default and the session settings are checked in the core-only install too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from nircolor.data import load_dataset
from nircolor.errors import MissingExtraError, ModelError
from nircolor.models import list_models, load_model, read_config
from nircolor.models.onnx import OnnxColorizer, session_options

from .helpers import requires
from .helpers.cli import run_cli
from .helpers.training import one_torch_thread, write_pairs, write_tiny_unet  # noqa: F401

TORCH = requires("torch", "onnx")
CONTEXT = 32


@pytest.fixture(scope="module")
def tiny_unet(tmp_path_factory) -> Path:
    """A random unet whose colour context is 32 px, so the 48×64 pairs reach the net as
    24×32 copies."""
    return write_tiny_unet(tmp_path_factory.mktemp("tiny-unet") / "unet", CONTEXT)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory) -> Path:
    return write_pairs(tmp_path_factory.mktemp("quantize-pairs") / "pairs", count=12)


@pytest.fixture(scope="module")
def quantized(tiny_unet, pairs, tmp_path_factory) -> Path:
    from nircolor.models.quantize import quantize_model

    output = tmp_path_factory.mktemp("quantized") / "unet-int8"
    quantize_model(tiny_unet, output, pairs, images=4, command="test")
    return output


# ---------------------------------------------------------------- what stays float


def chain_graph():
    """nir → Conv a → Relu → Conv b → Relu → Conv c → Concat(·, nir) → Conv d → Add(nir, ·)."""
    from onnx import TensorProto, helper

    def conv(name, source, target):
        return helper.make_node("Conv", [source, f"w_{name}"], [target], name=name)

    nodes = [
        conv("a", "nir", "xa"),
        helper.make_node("Relu", ["xa"], ["ra"], name="relu_a"),
        conv("b", "ra", "xb"),
        helper.make_node("Relu", ["xb"], ["rb"], name="relu_b"),
        conv("c", "rb", "xc"),
        helper.make_node("Concat", ["xc", "nir"], ["cat"], name="cat", axis=1),
        conv("d", "cat", "xd"),
        helper.make_node("Add", ["nir", "xd"], ["output"], name="add"),
    ]
    value = helper.make_tensor_value_info
    return helper.make_graph(
        nodes,
        "chain",
        [value("nir", TensorProto.FLOAT, ["n", 1, "h", "w"])],
        [value("output", TensorProto.FLOAT, ["n", 1, "h", "w"])],
    )


@requires("onnx")
@pytest.mark.parametrize(
    ("float_input", "tail", "expected"),
    [
        (True, 2, {"a", "cat", "add", "d", "c"}),
        (True, 0, {"a", "cat", "add"}),
        (False, 1, {"add", "d"}),
        (False, 3, {"add", "d", "cat", "c", "relu_b", "b"}),
        (False, 0, set()),
    ],
)
def test_float_nodes_are_the_input_readers_and_the_tail(float_input, tail, expected):
    from nircolor.models.quantize import float_nodes

    kept = float_nodes(chain_graph(), float_input, tail)
    assert set(kept) == expected and len(kept) == len(set(kept))


def concat_graph(parts: int):
    """nir → Conv (1 → 4) → x; Conv(Concat(x, nir[, x]), W, b) → output, with weights."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    names = ["x", "nir", "x"][:parts]
    channels = sum(4 if name == "x" else 1 for name in names)
    initializers = [
        numpy_helper.from_array(rng.normal(size=(4, 1, 3, 3)).astype(np.float32), "w_a"),
        numpy_helper.from_array(rng.normal(size=(3, channels, 3, 3)).astype(np.float32), "w"),
        numpy_helper.from_array(rng.normal(size=3).astype(np.float32), "b"),
    ]
    nodes = [
        helper.make_node("Conv", ["nir", "w_a"], ["x"], name="a", pads=[1, 1, 1, 1]),
        helper.make_node("Concat", names, ["cat"], name="cat", axis=1),
        helper.make_node("Conv", ["cat", "w", "b"], ["output"], name="last", pads=[1, 1, 1, 1]),
    ]
    value = helper.make_tensor_value_info
    graph = helper.make_graph(
        nodes,
        "concat",
        [value("nir", TensorProto.FLOAT, ["n", 1, "h", "w"])],
        [value("output", TensorProto.FLOAT, ["n", 3, "h", "w"])],
        initializer=initializers,
        value_info=[value("x", TensorProto.FLOAT, ["n", 4, "h", "w"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@requires("onnx")
@pytest.mark.parametrize("parts", [2, 3])
def test_a_convolution_of_the_nir_and_features_is_split_into_the_same_numbers(parts):
    from nircolor.models.quantize import split_input_concats

    model = concat_graph(parts)
    nir = np.random.default_rng(1).random((1, 1, 9, 11)).astype(np.float32)

    def run(model):
        session = ort.InferenceSession(model.SerializeToString(), session_options(1))
        return session.run(None, {"nir": nir})[0]

    before = run(model)
    assert split_input_concats(model.graph) == ["last"]
    assert "Concat" not in {node.op_type for node in model.graph.node}
    assert "w" not in {tensor.name for tensor in model.graph.initializer}  # no longer used
    np.testing.assert_allclose(run(model), before, rtol=1e-5, atol=1e-5)
    assert split_input_concats(model.graph) == []  # nothing left to split


@requires("onnx")
def test_a_concatenation_of_features_alone_is_left_alone():
    from onnx import numpy_helper

    from nircolor.models.quantize import split_input_concats

    model = concat_graph(2)
    model.graph.node[1].input[1] = "x"  # Concat(x, x): no graph input
    weights = numpy_helper.from_array(np.zeros((3, 8, 3, 3), np.float32), "w")
    model.graph.initializer[1].CopyFrom(weights)
    assert split_input_concats(model.graph) == []


# ---------------------------------------------------------------- calibration


@TORCH
def test_calibration_reads_fit_rows_at_the_size_the_net_sees(tiny_unet, pairs):
    from nircolor.models.quantize import calibration_feeds, calibration_pairs, net_inputs

    chosen = calibration_pairs(pairs, 4, seed=0)
    fit = {pair.id for pair in load_dataset(pairs, split="fit")}
    assert len(chosen) == 4 and {pair.id for pair in chosen} <= fit
    assert chosen == calibration_pairs(pairs, 4, seed=0)  # seeded
    assert len(calibration_pairs(pairs, 1000, seed=0)) == len(fit)  # all when fewer
    net = load_model(tiny_unet)
    feeds = calibration_feeds(net, chosen)
    assert [feed["nir"].shape for feed in feeds] == [(1, 1, 24, 32)] * 4  # the context copy
    small = np.full((10, 13), 0.5, np.float32)  # smaller than the context: itself, padded
    assert [x.shape for x in net_inputs(net, small)] == [(1, 1, 12, 16)]


# ---------------------------------------------------------------- the folder


@TORCH
def test_the_quantized_folder_runs_int8_beside_its_float_graph(quantized, tiny_unet, pairs):
    import onnx

    config = json.loads((quantized / "config.json").read_text())
    assert config["onnx"] == "model_int8.onnx" and config["float_onnx"] == "model.onnx"
    record = config["quantization"]
    assert record["calibration"]["split"] == "fit" and record["calibration"]["images"] == 4
    fit = {pair.id for pair in load_dataset(pairs, split="fit")}
    assert set(record["calibration"]["ids"]) <= fit and record["command"] == "test"
    graph = onnx.load(quantized / "model_int8.onnx").graph
    assert {"QuantizeLinear", "DequantizeLinear"} <= {node.op_type for node in graph.node}
    convs = [node.name for node in onnx.load(tiny_unet / "model.onnx").graph.node]
    convs = [name for name in convs if name.endswith("Conv")]
    assert convs[0] in record["float_nodes"]  # the stem; the last one, split in two:
    assert {f"{convs[-1]}/part0", f"{convs[-1]}/part1"} <= set(record["float_nodes"])
    assert (quantized / "model.onnx").read_bytes() == (tiny_unet / "model.onnx").read_bytes()

    model = load_model(quantized)
    assert model.quantized and "int8" in repr(model)
    float_model = model.float32()
    assert not float_model.quantized and float_model.path.name == "model.onnx"
    assert float_model.float32() is float_model
    nir = np.random.default_rng(0).random((40, 56)).astype(np.float32)
    difference = np.abs(model.predict(nir) - float_model.predict(nir))
    assert difference.mean() < 0.05
    assert record["check"]["runs"] == 4 and record["check"]["mean_abs_difference"] < 0.05


@TORCH
def test_quantizing_in_place_and_again_starts_from_the_float_graph(quantized, pairs, tmp_path):
    from nircolor.models.quantize import quantize_model

    copy = tmp_path / "copy"
    copy.mkdir()
    for path in quantized.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    with pytest.raises(ModelError, match="already exists"):
        quantize_model(copy, copy, pairs, images=4)
    result = quantize_model(copy, copy, pairs, images=4, overwrite=True)
    assert result.folder == copy and result.images == 4
    assert sorted(p.name for p in copy.iterdir()) == sorted(p.name for p in quantized.iterdir())
    again = json.loads((copy / "config.json").read_text())
    assert again["float_onnx"] == "model.onnx" and again["onnx"] == "model_int8.onnx"
    first = (quantized / "model_int8.onnx").read_bytes()
    assert (copy / "model_int8.onnx").read_bytes() == first  # deterministic


@TORCH
def test_bad_requests_are_one_line_errors(tiny_unet, pairs, tmp_path, tiny_model):
    from nircolor.models.quantize import quantize_model

    with pytest.raises(ModelError, match="only ONNX colorizers can be quantized, not a l3"):
        quantize_model(tiny_model, tmp_path / "a", pairs)
    with pytest.raises(ModelError, match="images must be at least 1"):
        quantize_model(tiny_unet, tmp_path / "b", pairs, images=0)
    with pytest.raises(ModelError, match="float_tail must be at least 0"):
        quantize_model(tiny_unet, tmp_path / "c", pairs, float_tail=-1)
    with pytest.raises(ModelError, match="ranges must be one of mean, extremes, not 'max'"):
        quantize_model(tiny_unet, tmp_path / "d", pairs, ranges="max")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelError, match="exists and is not a folder"):
        quantize_model(tiny_unet, tmp_path / "file", pairs, overwrite=True)


@requires("onnx")
def test_a_bad_float_graph_name_is_a_one_line_error(tmp_path):
    from onnx import helper

    from .helpers.onnx_graphs import write_graph

    node = helper.make_node("Concat", ["nir", "nir", "nir"], ["output"], axis=1)
    config = {"kind": "onnx", "arch": "test", "output_space": "rgb", "stride": 1}
    folder = write_graph(tmp_path / "m", [node], 3, config)
    for name, message in (("../model.onnx", "'float_onnx' must name a file"), ("no.onnx", "")):
        (folder / "config.json").write_text(json.dumps({**config, "float_onnx": name}))
        with pytest.raises(ModelError, match=message or "missing ONNX model file") as error:
            load_model(folder)
        assert len(str(error.value).splitlines()) == 1
    (folder / "config.json").write_text(json.dumps({**config, "float_onnx": "model.onnx"}))
    assert load_model(folder).quantized and load_model(folder).float32().path.is_file()


def test_quantizing_without_onnx_says_what_to_install(monkeypatch, tmp_path):
    from nircolor.models import quantize

    monkeypatch.setattr(quantize, "installed", lambda name: False)
    with pytest.raises(MissingExtraError, match=r"pip install 'nircolor\[train\]'"):
        quantize.quantize_model("vivid", tmp_path / "out", tmp_path)


@TORCH
def test_the_command(tiny_unet, pairs, tmp_path, monkeypatch, capsys):
    output = tmp_path / "int8"
    code, out, err = run_cli(
        monkeypatch, capsys, "quantize", tiny_unet, "-o", output, "--data", pairs
    )
    assert code == 0, err
    assert "quantized" in out + err and (output / "model_int8.onnx").is_file()
    code, out, err = run_cli(
        monkeypatch, capsys, "quantize", "nosuchmodel", "-o", tmp_path / "x", "--data", "."
    )
    assert code == 1 and len(err.strip().splitlines()) == 1 and "unknown model" in err


# ---------------------------------------------------------------- core only


def shipped_int8() -> list[str]:
    """The shipped colorizers that run an int8 graph (the default, since issue 25)."""
    return [
        info.name
        for info in list_models()
        if info.kind == "onnx" and "float_onnx" in read_config(info.path)
    ]


def test_an_int8_model_runs_without_onnx():
    """A shipped int8 model runs with onnxruntime alone (onnx blocked)."""
    if not shipped_int8():
        pytest.skip("no shipped model runs an int8 graph")
    code = (
        "import sys; sys.modules['onnx'] = None\n"
        "import numpy as np\n"
        "from nircolor.api import colorize, get_model\n"
        f"model = get_model({shipped_int8()[0]!r})\n"
        "assert model.quantized, model\n"
        "rgb = colorize(np.full((40, 60), 0.5, np.float32), model=model)\n"
        "assert rgb.shape == (40, 60, 3)\n"
        "assert model.float32().path.name == 'model.onnx'\n"
        "assert 'onnx' not in {m for m in sys.modules if sys.modules[m] is not None}\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_shipped_int8_models_were_calibrated_on_fit_rows():
    for name in shipped_int8():
        model = load_model(name)
        record = model.config["quantization"]
        assert record["calibration"]["split"] == "fit", name
        assert len(record["calibration"]["ids"]) == record["calibration"]["images"] >= 32
        assert isinstance(model, OnnxColorizer) and model.float32().path.is_file()


def test_the_session_settings():
    options = session_options(3)
    assert options.intra_op_num_threads == 3 and options.inter_op_num_threads == 1
    assert options.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    with pytest.raises(RuntimeError):  # spinning asked for: onnxruntime's own default
        session_options(2, spinning=True).get_session_config_entry(
            "session.intra_op.allow_spinning"
        )


@TORCH
def test_the_ranges_are_the_mean_of_each_images_extremes_or_the_extremes(
    quantized, pairs, tmp_path
):
    """The extremes over all images are at least as wide as the mean of each image's: the
    int8 graph's activation scales are no smaller, and the record says which was used."""
    import onnx
    from onnx import numpy_helper

    from nircolor.models.quantize import quantize_model

    quantize_model(quantized, tmp_path / "wide", pairs, images=4, ranges="extremes")

    def scales(folder):
        graph = onnx.load(folder / "model_int8.onnx").graph
        found = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        return {
            name: float(value)
            for name, value in found.items()
            if name.endswith("_scale") and value.ndim == 0
        }

    mean, wide = scales(quantized), scales(tmp_path / "wide")
    assert mean.keys() == wide.keys() and mean
    assert all(wide[name] >= mean[name] * (1 - 1e-6) for name in mean)
    assert any(wide[name] > mean[name] * 1.01 for name in mean)
    record = json.loads((tmp_path / "wide" / "config.json").read_text())["quantization"]
    assert record["calibration"]["method"] == "MinMax, each tensor's extremes over all the images"
