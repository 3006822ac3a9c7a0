"""The training task of ``detector`` (:mod:`nircolor.nets.detector`): box-labelled
composites, the Faster R-CNN losses, and validation by the numpy pipeline of inference.

Each batch is ``cfg.batch`` composites (:mod:`nircolor.detection.composites`) of the
training images at the working size (long side ``cfg.patch``), a share ``cfg.degrade`` of
them degraded at random (:func:`nircolor.degrade.degrade_batch`: blur, rescaling, noise,
JPEG). The loss, per picture:

* RPN: 256 anchors sampled (at most half positive): positive at IoU ≥ 0.7 with a box (and
  each box's best anchor), negative below 0.3; binary cross entropy on the objectness,
  smooth L1 on the positives' deltas.
* Head: the picture's proposals (:func:`nircolor.detection.pipeline.propose`, from the
  detached RPN output), its boxes and the whole picture; 64 sampled (at most a quarter
  foreground: IoU ≥ 0.5 with a box, labelled with its category; the rest background); cross
  entropy over background + categories, smooth L1 on the foreground's box deltas.

Validation scores mAP@0.5 on composites of the ``val_split`` images (never the training
images) and the top box's category on those images themselves; the epoch is chosen on their
mean.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F

from ..degrade import degrade_batch
from ..detection.boxes import HEAD_WEIGHTS, encode, iou, roi_weights
from ..detection.composites import SHAPES, PiecePool, make_composite
from ..detection.evaluate import composite_scores, held_out_composites, top_box_hits
from ..detection.pipeline import DetectorSpec, detect_image, propose, spec_anchors, with_whole
from ..errors import DataError
from ..nets.detector import export_graphs, roi_pool
from .tasks import Task

RPN_SAMPLES, RPN_POSITIVE = 256, 0.5
ROI_SAMPLES, ROI_POSITIVE = 64, 0.25
VAL_COMPOSITES = 60
VAL_SEED = 1
CLASS_NMS_GRID = (0.5, 0.4, 0.3)
"""Per-category NMS thresholds tried after training (the first, used in validation, wins
ties)."""


def detector_spec(cfg) -> DetectorSpec:
    """The settings of a run: the working size ``cfg.patch``, the anchors scaled with it
    (their sides are :class:`DetectorSpec`'s at 256 px)."""
    scale = cfg.patch / 256
    sizes = tuple(round(size * scale, 1) for size in DetectorSpec.sizes)
    return DetectorSpec(categories=tuple(cfg.class_names), side=cfg.patch, sizes=sizes)


class DetectTask(Task):
    score_name = "val_detection"
    model_kind = "detector"
    trunk_from = ("classifier",)

    def __init__(self) -> None:
        self._pools: dict = {}
        self._val: dict = {}

    def configure(self, cfg) -> None:
        cfg.output_space = None
        cfg.loss = "detection"
        if cfg.patch < 64:
            raise ValueError(f"the working size (--patch) must be at least 64, not {cfg.patch}")

    def keeps(self, category: str, classes: list[str]) -> bool:
        return category in classes

    def net_kwargs(self, cfg, images=None) -> dict:
        spec = detector_spec(cfg)
        return {"num_classes": len(spec.categories) + 1, "anchors": spec.num_anchors}

    def _pool(self, images) -> PiecePool:
        key = (id(images), len(images))
        if key not in self._pools:
            self._pools[key] = PiecePool(images.nir, images.labels)
        return self._pools[key]

    def batch(self, images, cfg, rng):
        """Composites: NIR ``(N, 1, h, w)``; boxes ``(N, M, 4)``, class ``(N, M)`` (1 + the
        category; -1 pads) and the seed of the loss's sampling."""
        pool = self._pool(images)
        if not len(pool):
            raise DataError("no training image of a known category")
        h, w = SHAPES[rng.integers(len(SHAPES))]
        scale = cfg.patch / 256
        shape = (round(h * scale), round(w * scale))
        pictures = [make_composite(pool, rng, shape) for _ in range(cfg.batch)]
        most = max(len(p.boxes) for p in pictures)
        boxes = np.zeros((cfg.batch, most, 4), np.float32)
        classes = np.full((cfg.batch, most), -1, np.int64)
        for i, picture in enumerate(pictures):
            boxes[i, : len(picture.boxes)] = picture.boxes
            classes[i, : len(picture.labels)] = picture.labels + 1
        nir = np.stack([p.image for p in pictures]).astype(np.float32) / 255
        if cfg.degrade:  # the pictures only: the boxes stay where the pieces are
            nir = degrade_batch(nir, cfg.degrade, rng)
        seed = np.array([rng.integers(2**31)], np.int64)
        return nir[:, None], (boxes, classes, seed)

    def forward(self, net, nir):
        return net, net(nir), tuple(nir.shape[-2:])

    def loss(self, cfg, pred, target):
        net, (features, objectness, deltas), image_hw = pred
        boxes_t, classes_t, seed = target
        spec = detector_spec(cfg)
        rng = np.random.default_rng(int(seed[0]))
        anchor_boxes = spec_anchors(spec, features.shape[-2:], image_hw)
        rpn_terms, pooled, roi_classes, roi_targets, foreground = [], [], [], [], []
        for i in range(features.shape[0]):
            keep = classes_t[i] >= 0
            gt = boxes_t[i][keep].cpu().numpy()
            gt_classes = classes_t[i][keep].cpu().numpy()
            rpn_terms.append(self._rpn_loss(objectness[i], deltas[i], anchor_boxes, gt, rng))
            proposals = propose(
                objectness[i].detach().cpu().numpy(),
                deltas[i].detach().cpu().numpy(),
                anchor_boxes,
                image_hw,
                spec,
            )
            rois = with_whole(np.concatenate([proposals, gt]), image_hw)
            rois, classes, targets, fg = self._sample_rois(rois, gt, gt_classes, rng)
            weights = roi_weights(rois, features.shape[-2:], image_hw, spec.grid)
            pooled.append(roi_pool(features[i], weights))
            roi_classes.append(classes)
            roi_targets.append(targets)
            foreground.append(fg)
        logits, box_deltas = net.head(torch.cat(pooled))
        device = logits.device
        classes = torch.from_numpy(np.concatenate(roi_classes)).to(device)
        fg = torch.from_numpy(np.concatenate(foreground)).to(device)
        targets = torch.from_numpy(np.concatenate(roi_targets)).to(device)
        class_loss = F.cross_entropy(logits, classes)
        box_loss = F.smooth_l1_loss(box_deltas[fg], targets, reduction="sum", beta=1 / 9)
        box_loss = box_loss / len(classes)
        return torch.stack(rpn_terms).mean() + class_loss + box_loss

    @staticmethod
    def _rpn_loss(objectness, deltas, anchor_boxes, gt, rng):
        overlaps = iou(anchor_boxes, gt)
        best, match = overlaps.max(1), overlaps.argmax(1)
        labels = np.full(len(anchor_boxes), -1)
        labels[best < 0.3] = 0
        labels[best >= 0.7] = 1
        labels[overlaps.argmax(0)] = 1
        positive, negative = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
        positive = rng.permutation(positive)[: int(RPN_SAMPLES * RPN_POSITIVE)]
        negative = rng.permutation(negative)[: RPN_SAMPLES - len(positive)]
        chosen = np.concatenate([positive, negative])
        device = objectness.device
        truth = torch.from_numpy(labels[chosen].astype(np.float32)).to(device)
        picked = torch.from_numpy(chosen).to(device)
        class_loss = F.binary_cross_entropy_with_logits(objectness[picked], truth)
        targets = encode(gt[match[positive]], anchor_boxes[positive])
        box_loss = F.smooth_l1_loss(
            deltas[torch.from_numpy(positive).to(device)],
            torch.from_numpy(targets).to(device),
            reduction="sum",
            beta=1 / 9,
        )
        return class_loss + box_loss / max(1, len(chosen))

    @staticmethod
    def _sample_rois(rois, gt, gt_classes, rng):
        overlaps = iou(rois, gt)
        best, match = overlaps.max(1), overlaps.argmax(1)
        fg = np.flatnonzero(best >= 0.5)
        bg = np.flatnonzero(best < 0.5)
        fg = rng.permutation(fg)[: int(ROI_SAMPLES * ROI_POSITIVE)]
        bg = rng.permutation(bg)[: ROI_SAMPLES - len(fg)]
        chosen = np.concatenate([fg, bg])
        classes = np.zeros(len(chosen), np.int64)
        classes[: len(fg)] = gt_classes[match[fg]]
        targets = encode(gt[match[fg]], rois[fg], HEAD_WEIGHTS)
        foreground = np.zeros(len(chosen), bool)
        foreground[: len(fg)] = True
        return rois[chosen], classes, targets, foreground

    def validate(self, net, images, cfg, device) -> dict:
        """mAP@0.5 on composites of the validation images, the top box's accuracy on the
        images, and their mean (the epoch score)."""
        if not len(images):
            return {}
        net.eval()
        spec = detector_spec(cfg)
        detect = torch_detector(net, spec, device)
        key = (id(images), len(images))
        if key not in self._val:
            self._val[key] = held_out_composites(
                images.nir, images.labels, VAL_COMPOSITES, VAL_SEED
            )
        scores = composite_scores(detect, self._val[key], spec.categories)
        known = [i for i, label in enumerate(images.labels) if label >= 0]
        nir, labels = [images.nir[i] for i in known], [images.labels[i] for i in known]
        hits = top_box_hits(detect, nir, labels, spec.categories)
        accuracy = float(np.mean(hits))
        return {
            "val_map50": scores["map50"],
            "val_top_accuracy": accuracy,
            self.score_name: (scores["map50"] + accuracy) / 2,
        }

    def after_training(self, output, cfg) -> dict:
        """Choose the per-category NMS threshold on the ``val_split`` composites (those that
        chose the epoch) with the exported model; store it in ``config.json``."""
        from ..data import load_dataset
        from ..io import read_nir, to_uint
        from ..models import load_model, read_config
        from .common import store_choice

        classes = cfg.class_names
        pairs = load_dataset(
            cfg.data, split=cfg.val_split, categories=cfg.categories, seed=cfg.seed
        )
        pairs = [p for p in pairs if p.category in classes]
        if not pairs:
            return {}
        images = [to_uint(read_nir(p.nir), 8) for p in pairs]
        labels = [classes.index(p.category) for p in pairs]
        model = load_model(output)
        composites = held_out_composites(images, labels, VAL_COMPOSITES, VAL_SEED)
        table = []
        for threshold in CLASS_NMS_GRID:
            model.spec = replace(model.spec, class_nms=threshold)
            scores = composite_scores(model.detect, composites, model.categories)
            table.append({"class_nms": threshold, **{k: scores[k] for k in ("map50", "map50_95")}})
        best = max(table, key=lambda row: row["map50"])
        settings = read_config(output)["detector"] | {"class_nms": best["class_nms"]}
        store_choice(output, "detector", settings, "class_nms_sweep", table)
        return {"class_nms_sweep": table}

    def export_graphs(self, net):
        return export_graphs(net)

    def config_fields(self, cfg) -> dict:
        return {"categories": cfg.class_names, "detector": detector_spec(cfg).to_json()}

    def card_title(self, cfg) -> str:
        return "NIR region detector"

    def report(self, output, cfg, pairs):
        from ..models import load_model

        if not pairs:
            return None, []
        model = load_model(output)
        sweep = model.trunk.config.get("training", {}).get("class_nms_sweep", [])
        notes = (
            [
                f"per-category NMS threshold {model.spec.class_nms} (best mAP@0.5 on the "
                f"{cfg.val_split} composites of {', '.join(str(r['class_nms']) for r in sweep)})"
            ]
            if sweep
            else []
        )
        return None, [BOXES_NOTE, *notes, *report_notes(model, cfg, pairs)]


def torch_detector(net, spec: DetectorSpec, device):
    """The numpy pipeline of inference around the torch net (eval mode)."""

    @torch.inference_mode()
    def trunk(image):
        features, objectness, deltas = net(torch.from_numpy(image).to(device))
        return features[0].cpu().numpy(), objectness[0].cpu().numpy(), deltas[0].cpu().numpy()

    @torch.inference_mode()
    def head(pooled):
        logits, deltas = net.head(torch.from_numpy(pooled).to(device))
        return torch.softmax(logits, 1).cpu().numpy(), deltas.cpu().numpy()

    return lambda nir: detect_image(nir, trunk, head, spec)


BOXES_NOTE = (
    "boxes: no box-labelled NIR set exists, so every training picture is a composite of NIR "
    "crops of `fit` images (nircolor.detection.composites), each crop a box labelled with "
    "its image's scene category: a whole image (one box), a mosaic of 2-4 cells of "
    "different categories (one box per cell), or a whole image (one box, the picture) with 1-2 "
    "non-overlapping crops of other categories pasted on it (one box each); the epoch and the "
    "NMS threshold were chosen on composites of the scene-disjoint `holdout` rows, the scores "
    "below are on composites of `val` rows only"
)
REPORT_COMPOSITES = 90
REPORT_SEED = 2


def report_notes(model, cfg, pairs) -> list[str]:
    """The model card's scores on the ``report_split`` pairs (read as 8-bit NIR)."""
    from ..io import read_nir, to_uint

    classes = cfg.class_names
    known = [p for p in pairs if p.category in classes]
    images = [to_uint(read_nir(p.nir), 8) for p in known]
    labels = [classes.index(p.category) for p in known]

    def detect(nir):
        return model.detect(nir)

    composites = held_out_composites(images, labels, REPORT_COMPOSITES, REPORT_SEED)
    scores = composite_scores(detect, composites, classes)
    hits = top_box_hits(detect, images, labels, classes)
    return [
        f"`split == {cfg.report_split}` composites ({scores['count']} pictures, "
        f"{scores['boxes']} boxes, of those rows only): mAP@0.5 {scores['map50']:.3f}, "
        f"mAP@[.5:.95] {scores['map50_95']:.3f}",
        f"top box's category on the `split == {cfg.report_split}` images themselves: "
        f"{np.mean(hits):.3f} ({sum(hits)} of {len(hits)})",
    ]
