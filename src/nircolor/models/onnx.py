"""Learned models exported to ONNX, run by onnxruntime (no torch needed).

A model folder written by ``nircolor train {cnn,fusion,unet,classifier}`` holds:

``config.json``
    ``kind`` (``"onnx"`` for a colorizer, ``"classifier"`` for the scene classifier),
    ``arch``, ``net`` (the constructor arguments), ``output_space``, ``stride``,
    ``min_size``, ``guided`` (default guided filter ``[radius, eps]`` or null), ``detail``
    (default detail transfer ``[gain, sigma]`` or null),
    ``temperature`` (``zhang``: the default annealed-mean temperature),
    ``categories`` (classifier) and ``training`` (data, split, command, seed, ...).
``model.onnx``
    The graph: input ``nir`` ``(N, 1, H, W)`` in [0, 1] with H and W multiples of
    ``stride``; output ``(N, C, H, W)`` in the output space (colorizer) or ``(N, K)``
    class probabilities (classifier). A ``zhang`` graph has a second input,
    ``inverse_temperature`` ``(1,)``: ``1 / temperature`` of the annealed mean.
``weights.safetensors``
    The same weights for torch (fine-tuning, re-export).
``model_int8.onnx`` (optional)
    The graph quantized to int8 (:mod:`nircolor.models.quantize`), named by ``onnx``; the
    float graph is then named by ``float_onnx`` (:meth:`OnnxColorizer.float32`).

Inputs are padded (reflect) to a multiple of the stride and the output cropped back; the
output space is converted to sRGB after the graph (:func:`nircolor.colorspace.to_srgb`).
Every field is checked at load (types, ranges, the graph's output size against the output
space or the categories), so a bad config fails there, not on each image.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from ..colorspace import OUTPUT_SPACES, to_srgb
from ..context import DEFAULT as DEFAULT_CONTEXT
from ..context import ColourContext, context_shape
from ..errors import ModelError, error_reason
from ..filters import DetailTransfer, GuidedFilter, shift_lightness
from ..filters.detail import MAX_LIGHTNESS_OFFSET
from .base import Colorizer, check_nir
from .fields import integer_field, number_field, string_field
from .registry import CONFIG_NAME, register_kind

ONNX_NAME = "model.onnx"
WEIGHTS_NAME = "weights.safetensors"
FLOAT_KEY = "float_onnx"
"""The config key naming the float graph of a quantized folder (``onnx`` names the int8 one)."""
LIGHTNESS_OFFSET_KEY = "lightness_offset"
"""The config key of a colorizer's fitted lightness offset (:mod:`nircolor.models.lightness`)."""
DEFAULT_THREADS = 2
CLASSIFY_SIDE = 1024
"""The long side, in pixels, of the copy a scene classifier looks at: the largest images it
was trained on (the shipped data's); a larger image is shrunk to it first (area
interpolation), which keeps the net's memory (about 46 bytes a pixel) bounded."""
CLASSIFIER_MIN_SIZE = 32
"""Smallest padded side the scene classifier's convolutions take (its own config says so, as
:attr:`nircolor.nets.classifier.SceneClassifier.min_size`); a ``fusion`` net whose global
branch is that classifier needs it too, though configs exported before it said 0."""
_UNSET = object()
TEMPERATURE_INPUT = "inverse_temperature"
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.01, 10.0
DEFAULT_TEMPERATURE = 0.38  # Zhang et al.'s annealed-mean temperature


def check_temperature(temperature) -> float:
    """A valid annealed-mean temperature, in [0.01, 10] (lower: more vivid colours)."""
    try:
        value = float(temperature)
    except (TypeError, ValueError):
        raise ValueError(f"temperature must be a number, not {temperature!r}") from None
    if not MIN_TEMPERATURE <= value <= MAX_TEMPERATURE:
        raise ValueError(
            f"temperature must be between {MIN_TEMPERATURE} and {MAX_TEMPERATURE}, not {value:g}"
        )
    return value


def pad_to_multiple(image: np.ndarray, stride: int, min_size: int = 0) -> np.ndarray:
    """Pad an ``(H, W, ...)`` image at the bottom and right (reflect) to multiples of ``stride``.

    Each side is at least ``min_size`` (then rounded up to the stride).
    """
    height, width = image.shape[:2]
    stride = max(1, int(stride))
    pad_h = -max(height, min_size) // stride * -stride - height
    pad_w = -max(width, min_size) // stride * -stride - width
    if pad_h == 0 and pad_w == 0:
        return image
    padding = [(0, pad_h), (0, pad_w)] + [(0, 0)] * (image.ndim - 2)
    return np.pad(image, padding, mode="reflect")


def arch_min_size(config: dict) -> int:
    """The smallest padded side a net of this config's ``arch`` takes, whatever its config's
    ``min_size`` says: :data:`CLASSIFIER_MIN_SIZE` for a ``fusion`` net with the classifier as
    its global branch (below it the classifier's last convolution gets a 1-pixel map and
    onnxruntime fails; at 17-31 its global features come from an empty map), else 0."""
    net = config.get("net")
    branch = net.get("global_branch", "classifier") if isinstance(net, dict) else "classifier"
    return CLASSIFIER_MIN_SIZE if config.get("arch") == "fusion" and branch == "classifier" else 0


def session_options(threads: int, spinning: bool = False) -> ort.SessionOptions:
    """The session settings of every nircolor graph: ``threads`` intra-op threads that sleep
    when idle (unless ``spinning``), one inter-op thread, sequential execution, every graph
    optimization. BENCHMARKS.md, "ONNX Runtime settings": the int8 graphs need the extended
    optimizations (they fuse the quantize and dequantize nodes into int8 kernels, 2.4× faster
    than the float net; without them no faster than it), the parallel execution mode and
    a second inter-op thread were slower, and 2 spinning threads were 20-35 % slower than 2
    sleeping ones on the 2 shared cores (and slower than 1 thread)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(threads))
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    if not spinning:  # idle threads sleep instead of burning a core another process wants
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def make_session(path: Path, threads: int, spinning: bool = False) -> ort.InferenceSession:
    """An onnxruntime session of the graph at ``path`` with :func:`session_options`; a
    one-line :class:`~nircolor.errors.ModelError` when it cannot be loaded."""
    try:
        return ort.InferenceSession(
            str(path), session_options(threads, spinning), providers=["CPUExecutionProvider"]
        )
    except Exception as error:  # onnxruntime raises its own exception types
        reason = error_reason(error, empty="unreadable")
        raise ModelError(f"{path}: cannot load ONNX model ({reason})") from None


class OnnxNet:
    """An ONNX graph with its config: padding to the stride, running, cropping back."""

    def __init__(
        self,
        folder: str | os.PathLike,
        config: dict,
        threads: int | None = None,
        spinning: bool = False,
    ):
        self.folder = Path(folder)
        self.spinning = spinning
        self.config = config
        self.config_path = self.folder / CONFIG_NAME
        self.arch = string_field(config, "arch", self.config_path, "?")
        self.stride = integer_field(config, "stride", self.config_path, 1, minimum=1)
        min_size = integer_field(config, "min_size", self.config_path, 0, minimum=0)
        self.min_size = max(min_size, arch_min_size(config))
        self.path = self._graph_path(config, "onnx")
        self.float_path = self._graph_path(config, FLOAT_KEY) if FLOAT_KEY in config else None
        self.threads = DEFAULT_THREADS if threads is None else int(threads)
        self._sessions = {self.threads: make_session(self.path, self.threads, spinning)}
        inputs = self.session.get_inputs()
        self.input_name = inputs[0].name
        self.extra_input_names = [i.name for i in inputs[1:]]

    def _graph_path(self, config: dict, key: str) -> Path:
        name = config.get(key, ONNX_NAME)
        if not isinstance(name, str) or Path(name).name != name:  # keep it in the folder
            raise ModelError(
                f"{self.folder}: invalid onnx model ('{key}' must name a file in the model folder)"
            )
        path = self.folder / name
        if not path.is_file():
            raise ModelError(f"{path}: missing ONNX model file")
        return path

    @property
    def quantized(self) -> bool:
        """Whether the graph it runs is an int8 one (its config names the float graph too)."""
        return self.float_path is not None

    @property
    def output_size(self) -> int | None:
        """The graph's fixed output size on axis 1 (channels, classes); None when symbolic."""
        shape = self.session.get_outputs()[0].shape
        size = shape[1] if len(shape) > 1 else None
        return size if isinstance(size, int) else None

    @property
    def session(self) -> ort.InferenceSession:
        """The session on the model's own thread count (set at load)."""
        return self._sessions[self.threads]

    def session_for(self, threads: int | None) -> ort.InferenceSession:
        """The session running on ``threads`` intra-op threads (made once, then kept)."""
        threads = self.threads if threads is None else int(threads)
        if threads < 1:
            raise ValueError(f"threads must be at least 1, not {threads}")
        if threads not in self._sessions:
            self._sessions[threads] = make_session(self.path, threads, self.spinning)
        return self._sessions[threads]

    def run(self, nir: np.ndarray, threads: int | None = None) -> np.ndarray:
        """The graph's output for one ``(H, W)`` image, batch axis removed."""
        padded = pad_to_multiple(nir, self.stride, self.min_size)
        batch = np.ascontiguousarray(padded[None, None], dtype=np.float32)
        feeds = {self.input_name: batch} | self.extra_feeds()
        return self.session_for(threads).run(None, feeds)[0][0]

    def extra_feeds(self) -> dict[str, np.ndarray]:
        """The graph's inputs besides the image (none for most nets)."""
        if self.extra_input_names:
            names = ", ".join(self.extra_input_names)
            raise ModelError(f"{self.path}: the graph needs inputs this model lacks ({names})")
        return {}


CONTEXT_ARCHS = ("unet", "zhang")
"""Nets whose config without a ``context`` gets :data:`nircolor.context.DEFAULT`: those it
was measured on (BENCHMARKS.md, "Colour context")."""


def default_context(arch: str) -> ColourContext:
    """The colour context of a net of ``arch`` whose config names none."""
    return DEFAULT_CONTEXT if arch in CONTEXT_ARCHS else ColourContext.OFF


class OnnxColorizer(OnnxNet):
    """A learned colorizer (``kind == "onnx"``).

    ``guided`` is the model's default guided filter ``(radius, eps)`` from ``config.json``
    (or ``None``). :meth:`predict` returns the net's own output, its lightness moved by the
    config's ``lightness_offset`` (L* units, 0 when absent; fitted by ``nircolor calibrate``;
    :mod:`nircolor.models.lightness`); :func:`nircolor.colorize` applies ``guided`` after it
    (band by band when tiling), unless told otherwise.
    """

    kind = "onnx"
    halo = None  # a net's receptive field is wider than any affordable margin: tiles blend

    def __init__(self, folder, config: dict, threads: int | None = None, guided=_UNSET):
        super().__init__(folder, config, threads)
        self.output_space = config.get("output_space", "rgb")
        if not isinstance(self.output_space, str) or self.output_space not in OUTPUT_SPACES:
            raise ModelError(
                f"{self.config_path}: unknown output space {self.output_space!r} "
                f"(use one of {', '.join(OUTPUT_SPACES)})"
            )
        channels = OUTPUT_SPACES[self.output_space]
        if self.output_size not in (None, channels):
            raise ModelError(
                f"{self.config_path}: 'output_space' {self.output_space} needs {channels} "
                f"channels, the graph gives {self.output_size}"
            )
        if guided is _UNSET:
            try:
                guided = GuidedFilter.of(config.get("guided"))
            except ValueError as error:
                raise ModelError(f"{self.config_path}: 'guided': {error}") from None
        self.guided = GuidedFilter.of(guided) or None
        try:
            self.detail = DetailTransfer.of(config.get("detail")) or None
        except ValueError as error:
            raise ModelError(f"{self.config_path}: 'detail': {error}") from None
        self.context = self._context(config)
        self.lightness_offset = self._lightness_offset(config)
        self.temperature = None
        if TEMPERATURE_INPUT in self.extra_input_names:
            self.temperature = number_field(
                config,
                "temperature",
                self.config_path,
                DEFAULT_TEMPERATURE,
                MIN_TEMPERATURE,
                MAX_TEMPERATURE,
            )

    def float32(self) -> OnnxColorizer:
        """The same colorizer on its float graph: itself unless it runs an int8 graph."""
        if self.float_path is None:
            return self
        config = {key: value for key, value in self.config.items() if key != FLOAT_KEY}
        config["onnx"] = self.float_path.name
        return OnnxColorizer(self.folder, config, self.threads)

    def with_temperature(self, temperature: float) -> OnnxColorizer:
        """A copy decoding at another annealed-mean temperature (lower: more vivid)."""
        if self.temperature is None:
            raise ModelError(f"a {self.arch} model has no temperature (zhang models have)")
        try:
            value = check_temperature(temperature)
        except ValueError as error:
            raise ModelError(str(error)) from None
        copied = copy.copy(self)
        copied.temperature = value
        return copied

    def extra_feeds(self) -> dict[str, np.ndarray]:
        if self.temperature is None:
            return super().extra_feeds()
        check_temperature(self.temperature)
        return {TEMPERATURE_INPUT: np.array([1.0 / self.temperature], np.float32)}

    def _context(self, config: dict) -> ColourContext:
        """The config's colour context; absent, the default of nets with a global view."""
        if "context" not in config:
            return default_context(self.arch)
        try:
            return ColourContext.of(config["context"]) or ColourContext.OFF
        except ValueError as error:
            raise ModelError(f"{self.config_path}: 'context': {error}") from None

    def __repr__(self) -> str:
        int8 = ", int8" if self.quantized else ""
        return f"OnnxColorizer(arch={self.arch!r}, output_space={self.output_space!r}{int8})"

    def for_image(self, nir: np.ndarray) -> Colorizer:
        return self

    def with_lightness_offset(self, offset: float) -> OnnxColorizer:
        """A copy that moves its net's lightness by ``offset`` L* instead (0: as trained)."""
        copied = copy.copy(self)
        copied.lightness_offset = self._lightness_offset({LIGHTNESS_OFFSET_KEY: offset})
        return copied

    def _lightness_offset(self, config: dict) -> float:
        low, high = -MAX_LIGHTNESS_OFFSET, MAX_LIGHTNESS_OFFSET
        return number_field(config, LIGHTNESS_OFFSET_KEY, self.config_path, 0.0, low, high)

    def predict(self, nir: np.ndarray, *, threads: int | None = None) -> np.ndarray:
        """Colorize an ``(H, W)`` NIR image in [0, 1]: ``(H, W, 3)`` float32 sRGB in [0, 1]."""
        nir = check_nir(nir)
        height, width = nir.shape
        output = self.run(nir, threads)[:, :height, :width]
        rgb = to_srgb(np.moveaxis(output, 0, -1), nir, self.output_space)
        return shift_lightness(rgb, self.lightness_offset)

    def save(self, folder: str | os.PathLike) -> None:
        raise ModelError("ONNX models are written by 'nircolor train'; copy the folder instead")


class OnnxClassifier(OnnxNet):
    """The NIR scene classifier (``kind == "classifier"``)."""

    kind = "classifier"

    def __init__(self, folder, config: dict, threads: int | None = None):
        super().__init__(folder, config, threads)
        categories = config.get("categories", [])
        if categories == []:
            raise ModelError(f"{self.config_path}: a classifier needs 'categories'")
        names = isinstance(categories, list) and all(isinstance(c, str) and c for c in categories)
        if not names or len(set(categories)) != len(categories):
            raise ModelError(
                f"{self.config_path}: 'categories' must be a list of distinct names, "
                f"not {categories!r}"
            )
        if self.output_size not in (None, len(categories)):
            raise ModelError(
                f"{self.config_path}: {len(categories)} 'categories', the graph gives "
                f"{self.output_size} probabilities"
            )
        self.categories = list(categories)

    def __repr__(self) -> str:
        return f"OnnxClassifier(categories={self.categories})"

    def probabilities(self, nir: np.ndarray) -> np.ndarray:
        """Probability of every category, ``(K,)`` float32 summing to 1, of ``nir`` or, when
        its long side exceeds :data:`CLASSIFY_SIDE`, of a copy shrunk to that."""
        return self.run(classifier_copy(check_nir(nir))).astype(np.float32, copy=False)

    def classify(self, nir: np.ndarray) -> tuple[str, dict[str, float]]:
        """The most probable category of an ``(H, W)`` NIR image, and every probability."""
        probabilities = self.probabilities(nir)
        best = int(np.argmax(probabilities))
        named = dict(zip(self.categories, map(float, probabilities), strict=True))
        return self.categories[best], named

    def predict(self, nir: np.ndarray, *, threads: int | None = None) -> np.ndarray:
        """Refused with a clear error: a classifier given where a colorizer belongs."""
        raise ModelError("a scene classifier cannot colorize")

    def save(self, folder: str | os.PathLike) -> None:
        raise ModelError("ONNX models are written by 'nircolor train'; copy the folder instead")


def classifier_copy(nir: np.ndarray) -> np.ndarray:
    """``nir`` itself when its long side is at most :data:`CLASSIFY_SIDE`, else a copy of
    that long side (area interpolation, aspect kept)."""
    if max(nir.shape) <= CLASSIFY_SIDE:
        return nir
    height, width = context_shape(nir.shape, CLASSIFY_SIDE)
    return cv2.resize(nir, (width, height), interpolation=cv2.INTER_AREA)


@register_kind("onnx")
def load(folder: Path, config: dict, threads: int | None = None) -> OnnxColorizer:
    """Registry loader for ``kind == "onnx"`` colorizers."""
    return OnnxColorizer(folder, config, threads)


@register_kind("classifier")
def load_classifier(folder: Path, config: dict, threads: int | None = None) -> OnnxClassifier:
    """Registry loader for ``kind == "classifier"`` scene classifiers."""
    return OnnxClassifier(folder, config, threads)
