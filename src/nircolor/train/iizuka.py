"""``nircolor train iizuka``: colour and scene class learned jointly (Iizuka et al. 2016).

The task of :class:`nircolor.nets.iizuka.IizukaNet`: the colorization task, whose batches also
carry the scene class of the image each patch comes from (``-1``: a category outside the
classes, ignored), and whose loss adds ``class_weight · cross entropy`` of the net's scene
logits. Validation scores PSNR (the best epoch is chosen on it, as every colorizer) and reports
the share of validation images whose scene is recognised, ``val_class_accuracy``. Only the
colour is exported.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..colorspace import to_srgb
from ..metrics import mean_metrics, psnr
from ..models.onnx import pad_to_multiple
from ..nets.losses import colorization_loss
from .selection import colour_terms, vivid_scores
from .tasks import ColorizeTask, to_device

IGNORED = -1  # the label of a patch of no known class


class IizukaTask(ColorizeTask):
    """Colour patches with their scene labels; colour loss + ``class_weight`` · cross entropy."""

    def net_kwargs(self, cfg, images=None) -> dict:
        return {"output_space": cfg.output_space, "num_classes": len(cfg.class_names)}

    def batch(self, images, cfg, rng):
        """NIR ``(N, 1, P, P)`` and the target ``(colour (N, C, P, P), labels (N,))``."""
        nir, colour, index = self.patches(images, cfg, rng)
        labels = np.asarray(images.labels, np.int64)[index]
        return nir, (colour, labels)

    def forward(self, net, nir):
        return net.colour_and_logits(nir)

    def colour(self, output):
        return output[0]

    def loss(self, cfg, pred, target):
        (colour, logits), (true_colour, labels) = pred, target
        class_loss = F.cross_entropy(logits, labels, ignore_index=IGNORED)
        if not bool((labels != IGNORED).any()):  # a batch of unknown scenes only: no class term
            class_loss = torch.zeros_like(class_loss)
        return colorization_loss(cfg.loss, colour, true_colour) + cfg.class_weight * class_loss

    @torch.inference_mode()
    def validate(self, net, images, cfg, device) -> dict:
        """Mean per-image PSNR in sRGB, the share of known scenes recognised, and with a
        colourfulness term :func:`~.selection.vivid_scores`."""
        if not len(images):
            return {}
        net.eval()
        pairs, hits = [], []
        for nir, rgb, label in zip(images.nir, images.rgb, images.labels, strict=True):
            nir = nir / np.float32(255)
            padded = pad_to_multiple(nir, net.stride, net.min_size)
            colour, logits = net.colour_and_logits(to_device(padded[None, None], device))
            output = colour[0, :, : nir.shape[0], : nir.shape[1]].float().cpu().numpy()
            srgb = to_srgb(np.moveaxis(output, 0, -1), nir, cfg.output_space)
            pairs.append((srgb, rgb / np.float32(255)))
            if label != IGNORED:
                hits.append(int(logits[0].argmax()) == label)
        record = {self.score_name: mean_metrics([{"psnr": psnr(*pair)} for pair in pairs])["psnr"]}
        record |= vivid_scores(pairs) if colour_terms(cfg) else {}
        if hits:
            record["val_class_accuracy"] = float(np.mean(hits))
        return record

    def config_fields(self, cfg) -> dict:
        return super().config_fields(cfg) | {"categories": cfg.class_names}

    def card_title(self, cfg) -> str:
        return "iizuka colorizer (global + local features, joint scene classification)"
