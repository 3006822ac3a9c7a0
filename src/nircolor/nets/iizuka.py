"""``iizuka``: global and local features with joint scene classification (Iizuka, Simo-Serra
and Ishikawa, "Let there be Color!", SIGGRAPH 2016), for NIR.

The :mod:`fusion <.fusion>` net with the scene classifier as its global branch, trained with
it: the global features feed the fusion layer and, through the classifier's own linear head,
the scene logits of an auxiliary classification loss. ``forward`` gives the colour only (what
is exported and colorizes); :meth:`IizukaNet.colour_and_logits` gives both (training,
validation).
"""

from __future__ import annotations

import torch

from .classifier import EPFL_CATEGORIES
from .fusion import FusionNet
from .registry import register_net


@register_net("iizuka")
class IizukaNet(FusionNet):
    def __init__(
        self, width: int = 16, output_space: str = "lab_ab", num_classes: int = len(EPFL_CATEGORIES)
    ) -> None:
        super().__init__(width, output_space, "classifier", num_classes)
        self.config = {"width": width, "output_space": output_space, "num_classes": num_classes}

    def colour_and_logits(self, nir: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The colour ``(N, C, H, W)`` and the scene logits ``(N, num_classes)``."""
        glob = self.global_branch.features(nir)
        return self.colorize(nir, glob), self.global_branch.logits(glob)
