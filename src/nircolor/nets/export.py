"""Export a net to ONNX with dynamic batch, height and width (opset 17)."""

from __future__ import annotations

import io
import warnings

import torch
from torch import nn

OPSET = 17
INPUT_NAME = "nir"
OUTPUT_NAME = "output"


class Probabilities(nn.Module):
    """Wrap a classifier so that its graph ends with the softmax."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, nir: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(nir), dim=1)


def onnx_bytes(
    net: nn.Module,
    example: torch.Tensor,
    probabilities: bool = False,
    extra_inputs: dict[str, torch.Tensor] | None = None,
) -> bytes:
    """The ONNX model of ``net`` (eval mode, on CPU, float32) as bytes.

    ``extra_inputs`` are further inputs after the NIR image (name -> example, fixed shape),
    e.g. the temperature of :class:`nircolor.nets.zhang.AnnealedMean`. Uses the
    TorchScript-based exporter (``dynamo=False``): it needs no onnxscript and handles every
    layer of :mod:`nircolor.nets` with dynamic height and width.
    """
    extra_inputs = extra_inputs or {}
    module = Probabilities(net) if probabilities else net
    module = module.to("cpu", memory_format=torch.contiguous_format).eval()
    buffer = io.BytesIO()
    image_dims = {0: "batch", 2: "height", 3: "width"}
    batch_dims = {0: "batch"} if probabilities else image_dims
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer notes
        torch.onnx.export(
            module,
            (example.to("cpu", torch.float32), *extra_inputs.values()),
            buffer,
            dynamo=False,
            opset_version=OPSET,
            input_names=[INPUT_NAME, *extra_inputs],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: image_dims, OUTPUT_NAME: batch_dims},
            do_constant_folding=True,
        )
    return buffer.getvalue()
