"""``detector``: the seed's "lightweight Faster R-CNN", a trimmed two-stage detector.

The scene classifier's trunk (:mod:`.classifier`: 2× average pooling, convolutions 32@3×3,
64@2×2 and 64@2×2 each followed by 2× max pooling), a region proposal network on its map
(3×3 convolution, then per anchor an objectness logit and 4 box deltas), RoI average
pooling of each proposal into ``grid × grid`` bins (:func:`roi_pool`, the numpy
:func:`nircolor.detection.boxes.roi_pool` in torch: exact bin areas, no rounding to
cells), and the classifier's fully connected layers 512-256-128 ending in a softmax over
background + the categories, beside 4 box deltas. Class 0 is the background.

The names of the trunk and head layers are the classifier's, so ``--init classifier``
starts them from a trained scene classifier (its 9-way ``logits`` layer, of another shape,
is left fresh). Proposals and the choice of regions are numpy, shared with inference
(:mod:`nircolor.detection.pipeline`); two graphs are exported (:func:`export_graphs`).
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .classifier import FEATURES, SceneClassifier
from .export import OPSET
from .registry import register_net

TRUNK_GRAPH, HEAD_GRAPH = "model.onnx", "head.onnx"
TRUNK_OUTPUTS = ("features", "objectness", "deltas")
HEAD_OUTPUTS = ("probabilities", "box_deltas")


@register_net("detector")
class Detector(SceneClassifier):
    stride = 1
    min_size = 64

    def __init__(
        self,
        num_classes: int = 10,
        grid: int = 4,
        downsample: int = 2,
        dropout: float = 0.2,
        anchors: int = 12,
    ) -> None:
        super().__init__(num_classes, grid, downsample, dropout)
        self.config["anchors"] = anchors
        self.rpn = nn.Sequential(nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(inplace=True))
        self.objectness = nn.Conv2d(64, anchors, 1)
        self.rpn_deltas = nn.Conv2d(64, 4 * anchors, 1)
        self.box = nn.Linear(FEATURES, 4)
        for layer in (self.objectness, self.rpn_deltas, self.box):
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.zeros_(layer.bias)

    def feature_map(self, nir: torch.Tensor) -> torch.Tensor:
        x = F.avg_pool2d(nir, self.downsample) if self.downsample > 1 else nir
        return self.convs(x)

    def forward(self, nir: torch.Tensor):
        """Feature map ``(N, 64, H', W')``, objectness logits ``(N, K)`` and deltas
        ``(N, K, 4)`` of the ``K = H' · W' · A`` anchors (row, column, anchor order)."""
        features = self.feature_map(nir)
        hidden = self.rpn(features)
        n = nir.shape[0]
        objectness = self.objectness(hidden).permute(0, 2, 3, 1).reshape(n, -1)
        deltas = self.rpn_deltas(hidden).permute(0, 2, 3, 1).reshape(n, -1, 4)
        return features, objectness, deltas

    def head(self, pooled: torch.Tensor):
        """Class logits ``(R, classes)`` and box deltas ``(R, 4)`` of pooled RoIs."""
        hidden = self.mlp(pooled)
        return self.logits(hidden), self.box(hidden)


def roi_pool(features: torch.Tensor, weights) -> torch.Tensor:
    """RoI average pooling of one ``(C, H', W')`` map with the bin weights of
    :func:`nircolor.detection.boxes.roi_weights`: ``(R, C · g · g)``, differentiable."""
    channels, fh, fw = features.shape
    rows, cols = (torch.from_numpy(w).to(features.device, features.dtype) for w in weights)
    count, grid = rows.shape[:2]
    by_rows = rows.reshape(-1, fh) @ features.permute(1, 0, 2).reshape(fh, channels * fw)
    pooled = by_rows.reshape(count, grid * channels, fw) @ cols.transpose(1, 2)
    pooled = pooled.reshape(count, grid, channels, grid).permute(0, 2, 1, 3)
    return pooled.reshape(count, -1)


class _Trunk(nn.Module):
    def __init__(self, net: Detector) -> None:
        super().__init__()
        self.net = net

    def forward(self, nir):
        return self.net(nir)


class _Head(nn.Module):
    def __init__(self, net: Detector) -> None:
        super().__init__()
        self.net = net

    def forward(self, pooled):
        logits, deltas = self.net.head(pooled)
        return torch.softmax(logits, dim=1), deltas


def _export(module, example, input_name, outputs, axes) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (example,),
            buffer,
            dynamo=False,
            opset_version=OPSET,
            input_names=[input_name],
            output_names=list(outputs),
            dynamic_axes=axes,
            do_constant_folding=True,
        )
    return buffer.getvalue()


def export_graphs(net: Detector) -> tuple[dict[str, bytes], float]:
    """``{file name: ONNX bytes}`` of the trunk + RPN graph (input ``nir`` ``(1, 1, H, W)``)
    and of the head graph (input ``pooled`` ``(R, 64 · g · g)``), and the largest difference
    between torch and onnxruntime over both on random inputs."""
    import onnxruntime as ort

    net = net.to("cpu", memory_format=torch.contiguous_format).eval()
    # the wrappers in eval mode too: the exporter restores the mode of the module it is
    # given, and a wrapper left training would put the net's BatchNorm back in training
    trunk_module, head_module = _Trunk(net).eval(), _Head(net).eval()
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(1, 1, 192, 256, generator=generator)
    trunk = _export(
        trunk_module,
        image,
        "nir",
        TRUNK_OUTPUTS,
        {
            "nir": {2: "height", 3: "width"},
            "features": {2: "fh", 3: "fw"},
            "objectness": {1: "anchors"},
            "deltas": {1: "anchors"},
        },
    )
    pooled = torch.rand(7, 64 * net.grid * net.grid, generator=generator)
    head = _export(
        head_module,
        pooled,
        "pooled",
        HEAD_OUTPUTS,
        {"pooled": {0: "rois"}, "probabilities": {0: "rois"}, "box_deltas": {0: "rois"}},
    )
    error = 0.0
    other = torch.rand(1, 1, 256, 160, generator=generator)
    for graph, module, x in ((trunk, trunk_module, other), (head, head_module, pooled[:3])):
        session = ort.InferenceSession(graph, providers=["CPUExecutionProvider"])
        got = session.run(None, {session.get_inputs()[0].name: x.numpy()})
        with torch.inference_mode():
            expected = module(x)
        for a, b in zip(got, expected, strict=True):
            error = max(error, float(np.abs(a - b.numpy()).max()))
    return {TRUNK_GRAPH: trunk, HEAD_GRAPH: head}, error
