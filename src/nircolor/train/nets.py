"""``nircolor train {cnn,classifier,fusion,unet}``: train a learned net in torch, export ONNX.

Read it top to bottom, as nanoGPT's ``train.py``: the settings (:class:`NetTrainConfig`, in
:mod:`.config`), the torch setup, the data (every pair of the split loaded once into memory,
as 8-bit arrays), the net and its optimizer (AdamW, warmup then cosine decay), one epoch
(batches of random patches — random crops for the classifier — with flips; a validation on
the full ``val`` images; the best epoch kept), and the run (:func:`train_net`: a checkpoint
after every epoch, then the model folder and its card).

What differs between training tasks (batches, loss, validation score, exported output) is a
:class:`~.tasks.Task` (:mod:`.tasks`); checkpoints are in :mod:`.checkpoint`, the model folder
and its ONNX export in :mod:`.export`, the model card in :mod:`.cards`. Progress goes to a
:class:`Reporter`; the CLI's rich one is :class:`nircolor.cli.reporter.RichReporter`.

Runs are seeded and deterministic: the same settings give the same weights, and
``resume=True`` continues a checkpoint exactly (numpy's and torch's random states are in
it) — bit for bit with the same thread count and device, as reductions are ordered by them.
CPU first: channels-last tensors and an explicit thread count; CUDA when present. On a CPU
shared with other work, ``threads=1`` can be much faster than oversubscribed threads.

The checkpoint is one file in the output folder, ``checkpoint.safetensors`` (weights, best
weights, AdamW moments, torch's random state; the settings, epoch, step, numpy's random state
and history as JSON in its metadata, with a checksum), replaced atomically after every epoch;
no pickle anywhere.
"""

from __future__ import annotations

import copy
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from ..data import load_dataset, load_pair
from ..errors import DataError, ModelError
from ..models.onnx import WEIGHTS_NAME
from ..nets import count_parameters, create_net
from ..nets.colour import output_to_srgb
from ..nets.losses import colour_terms_loss
from ..nets.widen import WIDENERS
from .cards import write_net_card
from .checkpoint import (
    CHECKPOINT,
    CHECKPOINT_FILE,
    RunState,
    read_checkpoint,
    restore,
    resumed_config,
    run_folder,
    save_checkpoint,
)
from .common import TrainResult, check_output_folder
from .config import ARCHS, DEFAULTS, NetTrainConfig
from .export import GUIDED_GRID, choose_guided, write_model_folder
from .gan import Adversary
from .photos import downscale, in_pretraining, load_photo_set
from .selection import colour_terms
from .task_registry import task_for
from .tasks import ImageSet, Task, to_device

__all__ = [
    "ARCHS",
    "CHECKPOINT",
    "CHECKPOINT_FILE",
    "DEFAULTS",
    "GUIDED_GRID",
    "ImageSet",
    "NetTrainConfig",
    "Reporter",
    "RunState",
    "Task",
    "TrainResult",
    "task_for",
    "train_net",
]


# ----------------------------------------------------------------------------- setup


def setup_torch(cfg: NetTrainConfig) -> torch.device:
    """Seed, make deterministic, set the threads; return the device to train on."""
    device = training_device(cfg.device)
    threads = cfg.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    torch.manual_seed(cfg.seed)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    return device


def training_device(name: str) -> torch.device:
    """The device ``name`` stands for (``auto``: CUDA when present, else the CPU), or a
    one-line ModelError when it names a GPU this machine does not have."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if device.type == "cuda" and (device.index or 0) >= count:
        reason = f"no such GPU (this machine has {count})" if count else "CUDA is not available"
        raise ModelError(f"device {name}: {reason} (use --device cpu)")
    return device


# ----------------------------------------------------------------------------- data


def load_images(
    cfg: NetTrainConfig, split: str, limit: int | None = None, side: int = 0
) -> ImageSet:
    """Read the pairs of a split once (the classifier keeps those of its classes only), their
    long side brought down to ``side`` (area interpolation; 0: as they are)."""
    pairs = load_dataset(cfg.data, split=split, categories=cfg.categories, seed=cfg.seed)
    classes = cfg.class_names
    task = task_for(cfg.arch)
    pairs = [p for p in pairs if task.keeps(p.category, classes)]
    images = ImageSet()
    for pair in pairs[:limit]:
        label = classes.index(pair.category) if pair.category in classes else -1
        nir, rgb = load_pair(pair)
        if side:
            nir, rgb = downscale(nir, side), downscale(rgb, side)
        images.add(nir, rgb, label=label, name=pair.id)
    return images


# ----------------------------------------------------------------------------- the net


def init_config(cfg: NetTrainConfig) -> dict | None:
    """``config.json`` of the model ``cfg.init`` to fine-tune from, checked against ``cfg``."""
    if not cfg.init:
        return None
    from ..models import read_config, resolve_model_path

    folder = resolve_model_path(cfg.init)
    config = read_config(folder)
    trunk = config.get("arch") in task_for(cfg.arch).trunk_from
    if (config.get("arch") != cfg.arch and not trunk) or not (folder / WEIGHTS_NAME).is_file():
        raise ModelError(f"{cfg.init}: not a trained {cfg.arch} model to fine-tune from")
    return {**config, "folder": str(folder), "trunk": trunk}


def init_weights(net, init: dict) -> None:
    """Load the base model's weights: all of them, widened if the net is wider (see
    :func:`widened`), or (a trunk) those of the same name and shape — the new heads keep
    their fresh initialisation."""
    weights = load_file(Path(init["folder"]) / WEIGHTS_NAME)
    if init["trunk"]:
        own = net.state_dict()
        shared = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
        net.load_state_dict(shared, strict=False)
    elif net.config == init["net"]:
        net.load_state_dict(weights)
    else:  # a wider net of the same kind (see net_kwargs)
        base = create_net(init["arch"], **init["net"])
        base.load_state_dict(weights)
        WIDENERS[init["arch"]](base, net)


def apply_init(cfg: NetTrainConfig, init: dict | None) -> None:
    """A fine-tuned net keeps its base's output space, default guided filter and detail."""
    if init is None or init["trunk"]:
        return
    cfg.output_space = init.get("output_space", cfg.output_space)
    if cfg.guided is None and init.get("guided"):
        cfg.guided = list(init["guided"])
    if cfg.detail is None and init.get("detail"):
        cfg.detail = list(init["detail"])


def net_kwargs(cfg: NetTrainConfig, init: dict | None = None, images: ImageSet | None = None):
    """Constructor arguments of the net for these settings (a fine-tuned one: its base's; on
    a base's trunk: the base's width and depth)."""
    if init is not None and not init["trunk"]:
        return dict(init["net"]) | widened(cfg, init)
    kwargs: dict = {}
    if init is not None:
        kwargs = {k: init["net"][k] for k in ("width", "levels") if k in init["net"]}
    elif cfg.width is not None:
        kwargs["width"] = cfg.width
    return kwargs | task_for(cfg.arch).net_kwargs(cfg, images)


def widened(cfg: NetTrainConfig, init: dict) -> dict:
    """``{"width": cfg.width}`` where a fine-tune asks for a wider net than its base: the
    base is widened without changing what it computes (:mod:`nircolor.nets.widen`)."""
    base = init["net"].get("width")
    if cfg.width is None or cfg.width == base:
        return {}
    if cfg.arch not in WIDENERS or base is None or cfg.width < base:
        raise ModelError(
            f"--width {cfg.width}: {cfg.init} is a {cfg.arch} of width {base}; a fine-tune"
            f" keeps it, or widens it ({', '.join(sorted(WIDENERS))} only, never narrower)"
        )
    return {"width": cfg.width}


def classifier_weights(folder: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The torch weights of a trained ``classifier`` model folder."""
    path = Path(folder) / WEIGHTS_NAME
    if not path.is_file():
        raise ModelError(f"{path}: no weights (train one with 'nircolor train classifier')")
    return load_file(path)


# ----------------------------------------------------------------------------- optimizer


def make_optimizer(net, cfg: NetTrainConfig) -> torch.optim.AdamW:
    """AdamW; weight decay on the weight matrices and kernels only (as nanoGPT)."""
    params = [p for p in net.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.99))


def learning_rate(step: int, cfg: NetTrainConfig) -> float:
    """Linear warmup, then cosine decay to ``min_lr_ratio · lr`` at the last step."""
    total = cfg.epochs * cfg.steps_per_epoch
    warmup = min(cfg.warmup_steps, total // 10)
    if step < warmup:
        return cfg.lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    low = cfg.lr * cfg.min_lr_ratio
    return low + 0.5 * (1.0 + math.cos(math.pi * progress)) * (cfg.lr - low)


# ----------------------------------------------------------------------------- the average


def make_average(net, cfg: NetTrainConfig):
    """A copy of the net whose parameters follow their moving average (``None``: off)."""
    return copy.deepcopy(net) if cfg.average else None


def average_decay(step: int, cfg: NetTrainConfig) -> float:
    """``cfg.average``, but the plain mean of the weights so far over the first
    ``1 / (1 − cfg.average)`` steps, so that the average does not linger on the starting
    weights (a random initialisation)."""
    return min(cfg.average, step / (step + 1))


@torch.no_grad()
def update_average(average, net, decay: float) -> None:
    """``mean ← decay · mean + (1 − decay) · weight`` for every parameter; the buffers
    (BatchNorm statistics) are re-estimated for the averaged weights before validation."""
    for mean, weight in zip(average.parameters(), net.parameters(), strict=True):
        mean.lerp_(weight.detach(), 1.0 - decay)


# ----------------------------------------------------------------------------- the loop


@torch.no_grad()
def recalibrate_batchnorm(net, images: ImageSet, cfg: NetTrainConfig, device, epoch: int):
    """Precise BatchNorm (Wu & Johnson 2021): re-estimate the running statistics.

    The moving averages lag behind weights that are still changing; an exact average over
    ``cfg.bn_batches`` training batches under the current weights replaces them, so that
    validation and the exported model use statistics of these very weights. The batches come
    from their own random stream (seed, epoch): the training stream is left as it is.
    """
    net.train()
    norms = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d) and m.training]
    if not norms or cfg.bn_batches < 1:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average
    rng = np.random.default_rng([cfg.seed, epoch])
    task = task_for(cfg.arch)
    for _ in range(cfg.bn_batches):
        net(to_device(task.batch(images, cfg, rng)[0], device))
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum


class Reporter:
    """Receives the run's progress; this one stays silent (tests, library use)."""

    def start(self, cfg: NetTrainConfig, state: RunState, info: dict) -> None: ...

    def step(self, state: RunState, loss: float, lr: float) -> None: ...

    def stage(self, description: str, done: int, total: int | None) -> None:
        """Progress of a step before training (rendering pseudo-NIR photos...)."""

    def epoch(self, record: dict) -> None: ...

    def close(self) -> None: ...


def run_epoch(
    net,
    optimizer,
    train_set,
    val_set,
    cfg,
    device,
    state: RunState,
    reporter,
    adversary=None,
    average=None,
):
    """One epoch: ``steps_per_epoch`` optimizer steps, then validation and keep-best.

    With an ``adversary`` (:mod:`.gan`) the discriminator steps first on each batch, then
    adds its term to the generator's loss. With an ``average`` (:func:`make_average`) it
    follows every step, and it is what is validated and kept, not the net.
    """
    start = time.perf_counter()
    task = task_for(cfg.arch)
    net.train()
    losses = []
    for _ in range(cfg.steps_per_epoch):
        lr = learning_rate(state.step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        nir, target = task.batch(train_set, cfg, state.rng)
        nir, target = to_device(nir, device), to_device(target, device)
        pred = task.forward(net, nir)
        loss = task.loss(cfg, pred, target)
        if colour_terms(cfg) or adversary is not None:
            fake, real = task.colour(pred), task.colour(target)
        if colour_terms(cfg):
            loss = loss + colour_terms_loss(
                output_to_srgb(fake, nir, cfg.output_space),
                output_to_srgb(real, nir, cfg.output_space),
                cfg.colour_weight,
                cfg.delta_e_weight,
                cfg.hue_weight,
                cfg.structure_weight,
            )
        if adversary is not None:
            adversary.step(nir, fake.detach(), real, lr)
            loss = loss + adversary.generator_loss(nir, fake)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if average is not None:
            update_average(average, net, average_decay(state.step, cfg))
        state.step += 1
        losses.append(loss.item())
        reporter.step(state, losses[-1], lr)
    kept = net if average is None else average
    recalibrate_batchnorm(kept, train_set, cfg, device, state.epoch)
    metrics = task.validate(kept, val_set, cfg, device)
    pretraining = in_pretraining(cfg, state.epoch)  # its weights never saw a real pair
    state.epoch += 1
    score = metrics.get(task.selection(cfg)[0])
    better = score is None or state.best == -math.inf or task.improves(cfg, score, state.best)
    better = better and not pretraining
    if better:
        state.best = score if score is not None else -math.inf
        state.best_epoch = state.epoch
        state.best_weights = {k: v.detach().clone() for k, v in kept.state_dict().items()}
    state.seconds += time.perf_counter() - start
    record = {"epoch": state.epoch, "loss": float(np.mean(losses)), **metrics, "best": better}
    if adversary is not None:
        record |= adversary.epoch_record()
    record |= {"pretrain": True} if pretraining else {}
    state.history.append({**record, "seconds": round(time.perf_counter() - start, 2)})


def train_net(cfg: NetTrainConfig, reporter: Reporter | None = None) -> TrainResult:
    """Train a net on ``cfg.data`` and write its model folder ``cfg.output``; see the module."""
    reporter = reporter or Reporter()
    output = Path(cfg.output)
    checkpoint = read_checkpoint(output) if cfg.resume else None
    if checkpoint is not None:
        cfg = resumed_config(cfg, checkpoint)
    else:
        check_output_folder(output, cfg.overwrite, [cfg.data])
    device = setup_torch(cfg)

    train_set = load_images(cfg, cfg.split, side=cfg.pair_side)
    val_set = load_images(cfg, cfg.val_split, limit=cfg.val_limit) if cfg.val_split else None
    val_set = val_set or ImageSet()
    if not len(train_set):
        raise DataError(f"{cfg.data}: the '{cfg.split}' split holds no usable pairs")
    photo_set, photo_info = (
        load_photo_set(cfg, reporter.stage) if cfg.colour_photos else (None, None)
    )

    init = init_config(cfg)
    apply_init(cfg, init)
    net = create_net(cfg.arch, **net_kwargs(cfg, init, train_set))
    if cfg.patch % net.stride or cfg.patch < net.min_size:
        raise ModelError(f"patch {cfg.patch} must be a multiple of {net.stride} (and >= 32)")
    settings = (init or {}).get("training", {}).get("settings", {})
    frozen = settings.get("classifier") if init else cfg.classifier
    if cfg.arch == "fusion" and frozen:
        net.freeze_global(None if checkpoint or init else classifier_weights(cfg.classifier))
    if init is not None and checkpoint is None:
        init_weights(net, init)
    net = net.to(device, memory_format=torch.channels_last)
    optimizer = make_optimizer(net, cfg)
    adversary = Adversary(cfg, device) if cfg.gan_weight > 0 else None
    average = make_average(net, cfg)
    if checkpoint is not None:
        state = restore(checkpoint, net, optimizer, adversary, average)
    else:
        state = RunState(rng=np.random.default_rng(cfg.seed))
    info = {
        "parameters": count_parameters(net),
        "n_train": len(train_set),
        "n_val": len(val_set),
        "device": str(device),
        "threads": torch.get_num_threads(),
    }
    if photo_info is not None:
        info["photos"] = photo_info
    try:
        with run_folder(output):  # made (or refused on one line) before anything is printed
            reporter.start(cfg, state, info)
            while state.epoch < cfg.epochs:
                images = photo_set if in_pretraining(cfg, state.epoch) else train_set
                run_epoch(
                    net,
                    optimizer,
                    images,
                    val_set,
                    cfg,
                    device,
                    state,
                    reporter,
                    adversary,
                    average,
                )
                save_checkpoint(output, cfg, net, optimizer, state, adversary, average)
                reporter.epoch(state.history[-1])
    finally:
        reporter.close()
    result = write_model_folder(output, net if average is None else average, cfg, state, info)
    if cfg.guided_sweep and task_for(cfg.arch).guided_sweep and cfg.val_split:
        result.info["guided_sweep"] = choose_guided(output, cfg)
    if cfg.val_split:
        result.info |= task_for(cfg.arch).after_training(output, cfg)
    write_net_card(output, cfg, result.info)
    return result
