"""int8 ONNX colorizers: static QDQ quantization calibrated on ``fit`` images.

:func:`quantize_model` writes a copy of an ONNX colorizer's folder in which the graph the
model runs, ``model_int8.onnx``, has int8 weights (per output channel) and uint8 activations
(per tensor), in ONNX Runtime's QDQ format; the float graph stays beside it (config
``float_onnx``, :meth:`~nircolor.models.onnx.OnnxColorizer.float32`), and ``quantization`` in
``config.json`` records how it was made. Running an int8 folder needs onnxruntime alone;
quantizing one needs the ``onnx`` package too (the ``train`` extra).

Calibration
    The net is fed what :func:`nircolor.colorize` feeds it: for each calibration image of the
    ``fit`` rows (never ``val``, never ``holdout``), the colour context copy (512 px on its
    long side for the shipped nets) when the image is larger than the context, else the
    image itself, padded to the stride. Each activation's range (``ranges``) is either the
    mean over the images of its per-image minimum and maximum (``"mean"``, ORT's MinMax
    calibration with ``CalibMovingAverage``: a rare extreme pixel does not widen the range
    for all the others) or its minimum and maximum over all of them (``"extremes"``: no
    value is clipped). Which is better depends on the net: with every node int8, ``vivid``'s
    unet lost 0.12 val hue accuracy with the extremes; with the float tail of 2, ``sharp``
    on ``holdout`` gained 0.09 ΔE00 with the means and 0.02 with the extremes.

What stays float
    With every node of the shipped unet int8, its val hue accuracy fell by 0.04 (by 0.12,
    and ΔE00 rose by 1.1, with the plain extremes as ranges; BENCHMARKS.md, "Quantized
    net"): the stem convolution's weights (batch norm folded into 9 taps per channel)
    cancel each other, the NIR image concatenated before the last convolution would share
    the uint8 scale of features 40× larger, and the last decoder convolution's output is
    mostly near 0 with rare spikes. So by default the nodes that read the NIR image
    (``float_input``) and the nodes within the last ``float_tail`` convolutions from the
    output stay float; they are a small part of the work. A convolution of features
    concatenated with the NIR image (the unet's last) is first split into one convolution
    per input (:func:`split_input_concats`): the same numbers, run faster in float.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import Pair, load_dataset
from ..errors import DataError, MissingExtraError, ModelError, error_reason
from ..extras import installed
from ..io import read_nir
from ..io.atomic import write_folder_atomic
from .base import ColorizerBase
from .onnx import FLOAT_KEY, OnnxColorizer, make_session, pad_to_multiple
from .registry import CONFIG_NAME, load_model, output_model_folder, resolve_model_path

QUANTIZED_NAME = "model_int8.onnx"
DEFAULT_IMAGES = 64
DEFAULT_FLOAT_TAIL = 2
RANGES = ("mean", "extremes")
"""How a calibrated activation's range is made (module notes)."""
CHECKED_RUNS = 8
"""Calibration runs on which the int8 graph's output is compared with the float graph's."""
CALIBRATION_SPLIT = "fit"
"""The rows calibration reads: model selection uses ``holdout``, reports use ``val``."""


@dataclass
class QuantizeResult:
    folder: Path
    images: int
    float_nodes: list[str]
    seconds: float
    size_bytes: int
    float_size_bytes: int
    mean_abs_difference: float
    """Mean |int8 − float| of the net's output on the first :data:`CHECKED_RUNS` calibration
    runs."""


# ---------------------------------------------------------------------------- calibration


class _Recorder(ColorizerBase):
    """Stands in for a net inside :func:`nircolor.colorize`, keeping each input the net would
    get (padded to its stride) and answering grey."""

    kind = "onnx"

    def __init__(self, net: OnnxColorizer) -> None:
        self.net = net
        self.context = net.context
        self.inputs: list[np.ndarray] = []

    def predict(self, nir: np.ndarray, *, threads: int | None = None) -> np.ndarray:
        padded = pad_to_multiple(nir, self.net.stride, self.net.min_size)
        self.inputs.append(np.ascontiguousarray(padded[None, None], dtype=np.float32))
        return np.repeat(nir[:, :, None], 3, axis=2)


def net_inputs(net: OnnxColorizer, nir: np.ndarray) -> list[np.ndarray]:
    """The ``(1, 1, H, W)`` arrays ``net`` runs on when :func:`nircolor.colorize` colours
    ``nir``: its context copy, the image itself, or its tiles."""
    from ..api import colorize  # the API decides the context and the tiles

    recorder = _Recorder(net)
    colorize(nir, model=recorder, guided=False, detail=False)
    return recorder.inputs


def calibration_pairs(data, images: int | None, seed: int) -> list[Pair]:
    """``images`` ``fit`` pairs of ``data`` drawn with ``seed`` (all of them if fewer, or
    if ``images`` is ``None``); the lightness offset (:mod:`.lightness`) reads them too."""
    pairs = load_dataset(data, split=CALIBRATION_SPLIT)
    if not pairs:
        raise DataError(f"{data}: no '{CALIBRATION_SPLIT}' pairs to calibrate on")
    if images is not None and images < len(pairs):
        chosen = np.random.default_rng(seed).choice(len(pairs), images, replace=False)
        pairs = [pairs[i] for i in sorted(chosen)]
    return pairs


def calibration_feeds(
    net: OnnxColorizer, pairs: Sequence[Pair], progress: Callable[[int, int], object] | None = None
) -> list[dict[str, np.ndarray]]:
    """The feeds of every run of ``net`` while :func:`nircolor.colorize` colours the NIR
    images of ``pairs``; ``progress(done, total)`` after each image."""
    feeds = []
    for done, pair in enumerate(pairs, 1):
        for batch in net_inputs(net, read_nir(pair.nir)):
            feeds.append({net.input_name: batch} | net.extra_feeds())
        if progress is not None:
            progress(done, len(pairs))
    return feeds


# ------------------------------------------------------------------------- what stays float


def float_nodes(graph, float_input: bool = True, float_tail: int = DEFAULT_FLOAT_TAIL):
    """Names of the nodes of an ONNX ``graph`` to keep in float (see the module notes): those
    reading a graph input (with ``float_input``), and those between the output and the
    ``float_tail``-th convolution before it, that one included."""
    inputs = {value.name for value in graph.input}
    keep = [node.name for node in graph.node if float_input and set(node.input) & inputs]
    if float_tail > 0:
        producer = {name: node for node in graph.node for name in node.output}
        convs_to: dict[str, int] = {}  # node → fewest convolutions from it to the output
        frontier = [(producer[o.name], 0) for o in graph.output if o.name in producer]
        while frontier:
            node, after = frontier.pop()
            count = after + (node.op_type == "Conv")
            if convs_to.get(node.name, float_tail + 1) <= count:
                continue
            convs_to[node.name] = count
            if count < float_tail:
                frontier += [(producer[i], count) for i in node.input if i in producer]
        keep += [name for name in convs_to if name not in keep]
    return keep


def split_input_concats(graph) -> list[str]:
    """Rewrite every convolution of a concatenation (on channels) of features and a graph
    input, ``Conv(Concat(x, nir), W, b)``, as ``Conv(x, W_x, b) + Conv(nir, W_nir)``, in
    place: the same numbers (up to float rounding), and ONNX Runtime runs a convolution of
    32 channels in its blocked layout where one of 33 took a slow path (the shipped unet's
    last convolution: about 10 % of the int8 net's time). Returns the convolutions split.
    """
    from onnx import helper, numpy_helper

    inputs = {value.name for value in graph.input}
    channels = {
        value.name: value.type.tensor_type.shape.dim[1].dim_value
        for value in [*graph.input, *graph.value_info]
        if len(value.type.tensor_type.shape.dim) > 1
    }
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    producer = {name: node for node in graph.node for name in node.output}
    consumers: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            consumers[name] = consumers.get(name, 0) + 1
    split = []
    for conv in [node for node in graph.node if node.op_type == "Conv"]:
        concat = producer.get(conv.input[0])
        attributes = {a.name: helper.get_attribute_value(a) for a in conv.attribute}
        if (
            concat is None
            or concat.op_type != "Concat"
            or {a.name: a.i for a in concat.attribute}.get("axis") != 1
            or consumers[concat.output[0]] != 1
            or not set(concat.input) & inputs
            or attributes.get("group", 1) != 1
            or conv.input[1] not in initializers
            or not all(channels.get(name, 0) > 0 for name in concat.input)
        ):
            continue
        weights = numpy_helper.to_array(initializers[conv.input[1]])
        if sum(channels[name] for name in concat.input) != weights.shape[1]:
            continue
        parts, start = [], 0
        for number, name in enumerate(concat.input):
            stop = start + channels[name]
            weight = f"{conv.name}/part{number}/W"
            graph.initializer.append(numpy_helper.from_array(weights[:, start:stop], weight))
            bias = list(conv.input[2:]) if number == 0 else []
            part = helper.make_node(
                "Conv",
                [name, weight, *bias],
                [f"{conv.name}/part{number}"],
                name=f"{conv.name}/part{number}",
                **attributes,
            )
            parts.append(part)
            start = stop
        total, count = parts[0].output[0], len(parts)
        for number, part in enumerate(parts[1:], 1):
            output = conv.output[0] if number == count - 1 else f"{conv.name}/sum{number}"
            parts.append(
                helper.make_node(
                    "Add", [total, part.output[0]], [output], name=f"{conv.name}/sum{number}"
                )
            )
            total = output
        if consumers[conv.input[1]] == 1:
            graph.initializer.remove(initializers[conv.input[1]])
        graph.node.remove(concat)  # its inputs come before the convolution: put the parts there
        index = list(graph.node).index(conv)
        graph.node.remove(conv)
        for offset, node in enumerate(parts):
            graph.node.insert(index + offset, node)
        split.append(conv.name)
    return split


# ------------------------------------------------------------------------------- quantizing


def _require_onnx() -> None:
    if not installed("onnx"):
        raise MissingExtraError(
            "quantizing a model needs the onnx package of the train extra: "
            "pip install 'nircolor[train]'"
        )


def quantize_graph(
    source: Path,
    target: Path,
    feeds: Sequence[dict[str, np.ndarray]],
    float_input: bool = True,
    float_tail: int = DEFAULT_FLOAT_TAIL,
    mean_extremes: bool = True,
) -> list[str]:
    """Write the QDQ int8 graph of the float graph ``source`` to ``target``, calibrated on
    ``feeds`` (the inputs of one run each); returns the nodes kept float.

    ``mean_extremes``: each activation's range is the mean of its per-image extremes (see
    the module notes); without it, the extremes over all the images.
    """
    _require_onnx()
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.remaining = iter(feeds)

        def get_next(self):
            return next(self.remaining, None)

    with tempfile.TemporaryDirectory(prefix="nircolor-quantize-") as temp:
        prepared = Path(temp) / "prepared.onnx"
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        model = onnx.load(prepared)
        for index, node in enumerate(model.graph.node):  # exclusion goes by node name
            node.name = node.name or f"{node.op_type}_{index}"
        if float_input:
            split_input_concats(model.graph)
        onnx.save(model, prepared)
        kept = float_nodes(model.graph, float_input, float_tail)
        quantize_static(
            str(prepared),
            str(target),
            Reader(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=kept,
            extra_options={"CalibMovingAverage": mean_extremes},
        )
    return kept


def quantize_model(
    model: str | os.PathLike,
    output: str | os.PathLike,
    data: str | os.PathLike,
    images: int = DEFAULT_IMAGES,
    seed: int = 0,
    float_input: bool = True,
    float_tail: int = DEFAULT_FLOAT_TAIL,
    overwrite: bool = False,
    command: str | None = None,
    progress: Callable[[int, int], object] | None = None,
    ranges: str = "mean",
) -> QuantizeResult:
    """Write ``output``: the ONNX colorizer folder ``model`` with an int8 graph that it runs.

    Parameters
    ----------
    model : name or path
        An ONNX colorizer (a shipped name such as ``vivid``, or a folder). A folder quantized
        before is quantized again from its float graph.
    output : path
        The folder to write (atomically); it may be ``model``'s own folder (with
        ``overwrite``), which then gains the int8 graph.
    data : path
        The pairs whose ``fit`` rows calibrate (``../shared/data``).
    images : int
        Calibration images, drawn from the ``fit`` rows with ``seed``.
    float_input, float_tail : bool, int
        What stays float (module notes): the nodes reading the NIR image, and the nodes
        within ``float_tail`` convolutions of the output (0: none).
    ranges : {"mean", "extremes"}
        The activations' ranges: the mean of the per-image extremes, or the extremes over
        all images (module notes).
    overwrite : bool
        Replace an existing ``output``.
    command : str, optional
        The command line, kept in the record.
    progress : callable, optional
        ``progress(done, total)`` while the calibration images are read.
    """
    started = time.perf_counter()
    if images < 1:
        raise ModelError(f"images must be at least 1, not {images}")
    if float_tail < 0:
        raise ModelError(f"float_tail must be at least 0, not {float_tail}")
    if ranges not in RANGES:
        raise ModelError(f"ranges must be one of {', '.join(RANGES)}, not {ranges!r}")
    _require_onnx()
    folder = resolve_model_path(model)
    output = output_model_folder(output, overwrite, [data], source=folder)
    net = load_model(folder, threads=1)
    if not isinstance(net, OnnxColorizer):
        raise ModelError(f"{model}: only ONNX colorizers can be quantized, not a {net.kind} model")
    net = net.float32()
    pairs = calibration_pairs(data, images, seed)
    feeds = calibration_feeds(net, pairs, progress)
    config = dict(net.config)
    float_name = net.path.name

    def write(staging: Path) -> None:
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.name != QUANTIZED_NAME:
                shutil.copy2(path, staging / path.name)
        target = staging / QUANTIZED_NAME
        try:
            kept = quantize_graph(
                net.path, target, feeds, float_input, float_tail, ranges == "mean"
            )
        except (ValueError, RuntimeError) as error:  # onnx and onnxruntime's own errors
            raise ModelError(f"{net.path}: cannot quantize ({error_reason(error)})") from None
        checked = feeds[:CHECKED_RUNS]
        difference = _difference(net, target, checked)
        config.update({"onnx": QUANTIZED_NAME, FLOAT_KEY: float_name})
        config["quantization"] = _record(pairs, data, seed, kept, command, ranges)
        config["quantization"]["check"] = {
            "runs": len(checked),
            "mean_abs_difference": round(difference, 6),
        }
        (staging / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")

    write_folder_atomic(output, write)
    record = config["quantization"]
    return QuantizeResult(
        folder=output,
        images=len(pairs),
        float_nodes=record["float_nodes"],
        seconds=time.perf_counter() - started,
        size_bytes=(output / QUANTIZED_NAME).stat().st_size,
        float_size_bytes=(output / float_name).stat().st_size,
        mean_abs_difference=record["check"]["mean_abs_difference"],
    )


def _difference(net: OnnxColorizer, quantized: Path, feeds) -> float:
    """Mean |int8 − float| of the net's outputs on ``feeds``."""
    session = make_session(quantized, threads=1)
    differences = [
        float(np.abs(session.run(None, feed)[0] - net.session.run(None, feed)[0]).mean())
        for feed in feeds
    ]
    return float(np.mean(differences))


def _record(pairs, data, seed: int, kept: list[str], command, ranges: str) -> dict:
    import onnxruntime

    method = {
        "mean": "MinMax, the mean over images of each tensor's per-image extremes",
        "extremes": "MinMax, each tensor's extremes over all the images",
    }[ranges]
    return {
        "format": "QDQ: int8 weights per output channel, uint8 activations per tensor",
        "calibration": {
            "data": str(data),
            "split": CALIBRATION_SPLIT,
            "images": len(pairs),
            "seed": seed,
            "method": method,
            "inputs": "what nircolor.colorize feeds the net (the colour context copy)",
            "ids": [pair.id for pair in pairs],
        },
        "float_nodes": kept,
        "onnxruntime": onnxruntime.__version__,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command,
    }
