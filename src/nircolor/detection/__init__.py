"""Object (region) detection on NIR: the seed's trimmed two-stage detector, without torch.

:mod:`.boxes` holds the numpy box arithmetic shared by training and inference (anchors, box
coding, IoU, NMS, RoI average pooling); :mod:`.pipeline` runs the two ONNX graphs around it;
:mod:`.composites` makes the box-labelled mosaics and cut-and-paste composites the detector
learns and is scored on; :mod:`.scores` the mean average precision.
"""

from __future__ import annotations

from .pipeline import Detection, DetectorSpec, detect_image

__all__ = ["Detection", "DetectorSpec", "detect_image"]
