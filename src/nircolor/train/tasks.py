"""What a training task is: its batches, its loss, its validation score and its outputs.

:func:`nircolor.train.task_registry.task_for` gives the :class:`Task` of an architecture:
:class:`ClassifyTask` for the scene classifier, :class:`ColorizeTask` for the colorizers
(:mod:`.zhang` for the ab-bin classifier). The training loop (:mod:`nircolor.train.nets`)
calls the task where they differ, so a new task (a new head, loss or data source) is a new
subclass, not a branch in the loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from ..colorspace import OUTPUT_SPACES, from_srgb, to_srgb
from ..context import colorize_whole
from ..data import sample_patches
from ..degrade import degrade_batch
from ..errors import DataError, ModelError
from ..filters import DetailTransfer, Finish, GuidedFilter
from ..io import read_nir, to_uint
from ..metrics import mean_metrics, psnr
from ..models.onnx import default_context, pad_to_multiple
from ..nets.losses import LOSSES, colorization_loss
from .selection import colour_selection, colour_terms, vivid_scores

if TYPE_CHECKING:
    from .config import NetTrainConfig


# ----------------------------------------------------------------------------- data


@dataclass
class ImageSet:
    """Pairs held in memory as 8-bit arrays (exact for the 8-bit files of the data set)."""

    nir: list[np.ndarray] = field(default_factory=list)  # (H, W) uint8
    rgb: list[np.ndarray] = field(default_factory=list)  # (H, W, 3) uint8
    labels: list[int] = field(default_factory=list)  # class index (classifier), else -1
    ids: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.nir)

    def add(self, nir: np.ndarray, rgb: np.ndarray, label: int = -1, name: str = "") -> None:
        self.nir.append(to_uint(nir, 8))
        self.rgb.append(to_uint(rgb, 8))
        self.labels.append(label)
        self.ids.append(name)


def random_flips(nir, rgb, rng: np.random.Generator, vflip: bool):
    """Mirror each patch left-right with probability 1/2 (and upside down with ``vflip``)."""
    nir, rgb = nir.astype(np.float32), rgb.astype(np.float32)
    mirror = rng.random(len(nir)) < 0.5
    nir[mirror], rgb[mirror] = nir[mirror, :, ::-1], rgb[mirror, :, ::-1]
    if vflip:
        upside = rng.random(len(nir)) < 0.5
        nir[upside], rgb[upside] = nir[upside, ::-1], rgb[upside, ::-1]
    return nir, rgb


def to_device(array, device: torch.device):
    """A numpy array (or a tuple of them) as a torch tensor on ``device``, channels last."""
    if isinstance(array, tuple):
        return tuple(to_device(part, device) for part in array)
    tensor = torch.from_numpy(np.ascontiguousarray(array)).to(device)
    return tensor.contiguous(memory_format=torch.channels_last) if tensor.ndim == 4 else tensor


@torch.inference_mode()
def net_output(net, nir: np.ndarray, device: torch.device) -> np.ndarray:
    """The net's output for one full ``(H, W)`` image, padded to its stride and cropped back."""
    height, width = nir.shape
    padded = pad_to_multiple(nir, net.stride, net.min_size)
    out = net(to_device(padded[None, None].astype(np.float32), device))[0].float().cpu().numpy()
    return out[:, :height, :width] if out.ndim == 3 else out


def predictions(net, images: ImageSet, cfg: NetTrainConfig, device):
    """``(prediction, truth)`` sRGB float32 pairs of every validation image (eval mode),
    colorized as :func:`nircolor.colorize` will colorize them with the exported model
    (:func:`nircolor.context.colorize_whole`: its colour context, its default guided filter and
    detail transfer; no denoise, which leaves clean photographs alone), so
    an epoch is chosen on the pictures a user gets, not on the raw net output at full size."""
    net.eval()
    context = default_context(cfg.arch)
    finish = Finish(GuidedFilter.of(cfg.guided) or None, DetailTransfer.of(cfg.detail) or None)

    def predict(nir: np.ndarray) -> np.ndarray:
        output = np.moveaxis(net_output(net, nir, device), 0, -1)
        return to_srgb(output, nir, cfg.output_space)

    for nir, rgb in zip(images.nir, images.rgb, strict=True):
        nir = nir / np.float32(255)
        yield colorize_whole(nir, predict, context, finish), rgb / np.float32(255)


# ----------------------------------------------------------------------------- the tasks


class Task:
    """What differs between training tasks; the loop calls these in its order."""

    score_name: str = "val_score"  # the validation metric the best epoch is chosen on
    higher_is_better: bool = True
    model_kind: str = "onnx"  # ``kind`` of the model's config.json
    probabilities: bool = False  # export softmax probabilities instead of the raw output
    guided_sweep: bool = False  # whether a default guided filter may be chosen
    trunk_from: tuple[str, ...] = ()  # archs whose trained weights may start this net's trunk

    def configure(self, cfg: NetTrainConfig) -> None:
        """Complete and check the task's settings (loss, output space) in place."""

    def keeps(self, category: str, classes: list[str]) -> bool:
        """Whether a pair of this category is loaded for training and validation."""
        return True

    def net_kwargs(self, cfg: NetTrainConfig, images: ImageSet | None = None) -> dict:
        """The net's constructor arguments this task sets (``images``: the training set)."""
        return {}

    def batch(self, images: ImageSet, cfg: NetTrainConfig, rng: np.random.Generator):
        """One training batch ``(nir, target)`` as numpy arrays."""
        raise NotImplementedError

    def forward(self, net, nir: torch.Tensor):
        """The net's training output for a batch (what :meth:`loss` takes as ``pred``)."""
        return net(nir)

    def colour(self, output):
        """The colour image of a training output or target (``output`` for a colorizer)."""
        return output

    def loss(self, cfg: NetTrainConfig, pred: torch.Tensor, target: torch.Tensor):
        raise NotImplementedError

    def validate(self, net, images: ImageSet, cfg: NetTrainConfig, device) -> dict:
        """``{score_name: value}`` on the full validation images (``{}`` when there are none)."""
        raise NotImplementedError

    def selection(self, cfg: NetTrainConfig) -> tuple[str, bool]:
        """The validation metric the best epoch is chosen on, and whether higher is better."""
        return self.score_name, self.higher_is_better

    def improves(self, cfg: NetTrainConfig, score: float, best: float) -> bool:
        """Whether ``score`` beats ``best`` (ties: the later, longer-trained epoch)."""
        return score >= best if self.selection(cfg)[1] else score <= best

    def export_output(self, output: torch.Tensor) -> torch.Tensor:
        """The torch output the exported ONNX graph gives for this raw output."""
        return output

    def export_graphs(self, net) -> tuple[dict[str, bytes], float] | None:
        """``({file name: ONNX bytes}, largest torch/onnxruntime difference)`` of a net exported
        as several graphs; ``None``: one graph, :meth:`export_module` exported as usual."""
        return None

    def export_module(self, net) -> tuple[torch.nn.Module, dict[str, torch.Tensor]]:
        """The module to export and its inputs besides the NIR image (name -> example)."""
        return net, {}

    def config_fields(self, cfg: NetTrainConfig) -> dict:
        """The task's fields of the model's ``config.json``."""
        return {}

    def after_training(self, output: Path, cfg: NetTrainConfig) -> dict:
        """Choices made on ``cfg.val_split`` once the model folder is written (card info)."""
        return {}

    def card_title(self, cfg: NetTrainConfig) -> str:
        return cfg.arch

    def report(self, output: Path, cfg: NetTrainConfig, pairs: list):
        """``(evaluation, notes)`` of the model card on the ``report_split`` pairs."""
        return None, []


class ColorizeTask(Task):
    """NIR to colour: random aligned patches, a colorization loss, validation PSNR in sRGB."""

    score_name = "val_psnr"
    guided_sweep = True

    def configure(self, cfg: NetTrainConfig) -> None:
        if cfg.loss not in LOSSES:
            raise ModelError(f"unknown loss '{cfg.loss}' (use one of {', '.join(LOSSES)})")
        if cfg.output_space not in OUTPUT_SPACES:
            known = ", ".join(OUTPUT_SPACES)
            raise ModelError(f"unknown output space '{cfg.output_space}' (use one of {known})")

    def net_kwargs(self, cfg: NetTrainConfig, images: ImageSet | None = None) -> dict:
        return {"output_space": cfg.output_space}

    def batch(self, images, cfg, rng) -> tuple[np.ndarray, np.ndarray]:
        """Random aligned patches: NIR ``(N, 1, P, P)``, target ``(N, C, P, P)`` in the output
        space; with ``cfg.degrade`` a share of the NIR patches degraded at random
        (:func:`nircolor.degrade.degrade_batch`, from the same seeded stream)."""
        return self.patches(images, cfg, rng)[:2]

    def patches(self, images, cfg, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`batch`, and the index in ``images`` of each patch's pair."""
        nir, rgb, index = sample_patches(
            list(zip(images.nir, images.rgb, strict=True)),
            cfg.batch,
            cfg.patch,
            rng,
            flips=False,
            with_index=True,
        )
        nir, rgb = random_flips(nir / 255.0, rgb / 255.0, rng, cfg.vflip)
        if cfg.degrade:  # the NIR side only (the truth stays clean); off: no draw at all
            nir = degrade_batch(nir, cfg.degrade, rng)
        target = from_srgb(rgb, cfg.output_space)
        return nir[:, None], np.ascontiguousarray(np.moveaxis(target, -1, 1)), index

    def loss(self, cfg, pred, target):
        return colorization_loss(cfg.loss, pred, target)

    def validate(self, net, images, cfg, device) -> dict:
        """Mean per-image PSNR in sRGB; with a colour term, :func:`vivid_scores` too."""
        if not len(images):
            return {}
        pairs = list(predictions(net, images, cfg, device))
        metrics = {"val_psnr": mean_metrics([{"psnr": psnr(*pair)} for pair in pairs])["psnr"]}
        if colour_terms(cfg):
            metrics |= vivid_scores(pairs, structure=bool(cfg.structure_weight))
        return metrics

    def selection(self, cfg):
        """PSNR; with a colour term :func:`colour_selection`'s score, for PSNR rewards the
        grey mean a colourfulness term is there to avoid, and a CIEDE2000 term is there to
        lower the ΔE00."""
        return colour_selection(cfg) or super().selection(cfg)

    def config_fields(self, cfg) -> dict:
        return {
            "output_space": cfg.output_space,
            "guided": list(cfg.guided) if GuidedFilter.of(cfg.guided) else None,
            "detail": list(cfg.detail) if DetailTransfer.of(cfg.detail) else None,
        }

    def card_title(self, cfg) -> str:
        return f"{cfg.arch} colorizer"

    def report(self, output, cfg, pairs):
        from ..evaluate import evaluate_model
        from ..models import load_model

        if not pairs:
            return None, []
        pairs = [p for p in pairs if not cfg.categories or p.category in cfg.categories]
        return (evaluate_model(load_model(output), pairs, grey=True) if pairs else None), []


class ClassifyTask(Task):
    """Scene recognition: random crops of whole images, cross entropy, validation accuracy."""

    score_name = "val_accuracy"
    model_kind = "classifier"
    probabilities = True

    def configure(self, cfg: NetTrainConfig) -> None:
        cfg.output_space = None
        cfg.loss = "cross_entropy"

    def keeps(self, category: str, classes: list[str]) -> bool:
        return category in classes

    def net_kwargs(self, cfg: NetTrainConfig, images: ImageSet | None = None) -> dict:
        return {"num_classes": len(cfg.class_names)}

    def batch(self, images, cfg, rng) -> tuple[np.ndarray, np.ndarray]:
        """Random crops of random images: NIR ``(N, 1, P, P)`` and class labels ``(N,)``."""
        usable = [i for i, n in enumerate(images.nir) if min(n.shape) >= cfg.patch]
        if not usable:
            raise DataError(f"no training image is at least {cfg.patch}x{cfg.patch} pixels")
        nir = np.empty((cfg.batch, cfg.patch, cfg.patch), np.float32)
        labels = np.empty(cfg.batch, np.int64)
        for i, index in enumerate(rng.choice(usable, size=cfg.batch)):
            image = images.nir[index]
            top = rng.integers(0, image.shape[0] - cfg.patch + 1)
            left = rng.integers(0, image.shape[1] - cfg.patch + 1)
            nir[i] = image[top : top + cfg.patch, left : left + cfg.patch] / 255.0
            labels[i] = images.labels[index]
        nir, _ = random_flips(nir, nir, rng, vflip=False)
        return nir[:, None], labels

    def loss(self, cfg, pred, target):
        return F.cross_entropy(pred, target)

    def validate(self, net, images, cfg, device) -> dict:
        """The share of validation images of the right class."""
        if not len(images):
            return {}
        net.eval()
        hits = [
            int(net_output(net, nir / np.float32(255), device).argmax()) == label
            for nir, label in zip(images.nir, images.labels, strict=True)
        ]
        return {self.score_name: float(np.mean(hits))}

    def export_output(self, output):
        return torch.softmax(output, dim=1)

    def config_fields(self, cfg) -> dict:
        return {"categories": cfg.class_names}

    def card_title(self, cfg) -> str:
        return "NIR scene classifier"

    def report(self, output, cfg, pairs):
        from ..models import load_model

        if not pairs:
            return None, []
        model = load_model(output)
        known = [p for p in pairs if p.category in model.categories]
        hits = sum(model.classify(read_nir(p.nir))[0] == p.category for p in known)
        note = (
            f"accuracy on the scene-disjoint `split == {cfg.report_split}` rows of known "
            f"categories: {hits / len(known):.3f} ({hits} of {len(known)}; chance "
            f"{1 / len(model.categories):.3f})"
        )
        return None, [note]
