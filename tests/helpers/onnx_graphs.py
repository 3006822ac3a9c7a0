"""ONNX model folders built by hand with onnx.helper (needs the 'train' extra's onnx)."""

from __future__ import annotations

import json
from pathlib import Path


def write_graph(folder: Path, nodes, output_channels, config: dict, initializers=()) -> Path:
    """A model folder whose graph maps input 'nir' (N,1,H,W) through ``nodes`` to 'output'."""
    import onnx
    from onnx import TensorProto, helper

    shape = (
        ["n", output_channels]
        if config["kind"] == "classifier"
        else ["n", output_channels, "h", "w"]
    )
    graph = helper.make_graph(
        nodes,
        "test",
        [helper.make_tensor_value_info("nir", TensorProto.FLOAT, ["n", 1, "h", "w"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, shape)],
        initializer=list(initializers),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, folder / "model.onnx")
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def brightness_classifier(folder: Path) -> Path:
    """Probabilities (1 - mean, mean): 'dark' for dark images, 'bright' for bright ones."""
    from onnx import TensorProto, helper

    one = helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])
    nodes = [
        helper.make_node("ReduceMean", ["nir"], ["m4"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Flatten", ["m4"], ["m"], axis=1),
        helper.make_node("Sub", ["one", "m"], ["d"]),
        helper.make_node("Concat", ["d", "m"], ["output"], axis=1),
    ]
    config = {"kind": "classifier", "arch": "test", "stride": 1, "min_size": 16}
    config["categories"] = ["dark", "bright"]
    return write_graph(folder, nodes, 2, config, [one])
