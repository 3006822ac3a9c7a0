"""``nircolor train {cnn,classifier,fusion,unet}``: train a learned net in torch, export ONNX.

Read it top to bottom, as nanoGPT's ``train.py``: the settings (:class:`NetTrainConfig`),
the data (every pair of the split loaded once into memory, as 8-bit arrays), the net and
its optimizer (AdamW, warmup then cosine decay), the loop (batches of random patches —
random crops for the classifier — with flips; a validation on the full ``val`` images after
every epoch; a checkpoint after every epoch; the best epoch kept), and the model folder.

Runs are seeded and deterministic: the same settings give the same weights, and
``resume=True`` continues a checkpoint exactly (numpy's and torch's random states are in
it) — bit for bit with the same thread count and device, as reductions are ordered by them.
CPU first: channels-last tensors and an explicit thread count; CUDA when present. On a CPU
shared with other work, ``threads=1`` can be much faster than oversubscribed threads.

Checkpoints are ``checkpoint.safetensors`` (weights, best weights, AdamW moments, torch's
random state) and ``checkpoint.json`` (settings, epoch, step, numpy's random state, history)
in the output folder; no pickle anywhere.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save

from ..colorspace import OUTPUT_SPACES, from_srgb, to_srgb
from ..data import load_dataset, load_pair, sample_patches
from ..errors import DataError, ModelError
from ..io import read_nir, to_uint, write_bytes_atomic
from ..metrics import mean_metrics, psnr
from ..models import CONFIG_NAME
from ..models.onnx import ONNX_NAME, WEIGHTS_NAME, pad_to_multiple
from ..nets import count_parameters, create_net
from ..nets.classifier import EPFL_CATEGORIES
from ..nets.export import onnx_bytes
from ..nets.losses import LOSSES, colorization_loss
from .common import (
    TrainResult,
    check_output_folder,
    machine_description,
    model_card,
    save_model_folder,
    timestamp,
)

ARCHS = ("cnn", "classifier", "fusion", "unet")
CHECKPOINT = "checkpoint"
DEFAULTS = {  # per architecture: patch side, batch, loss, output space
    "cnn": {"patch": 64, "batch": 16, "loss": "mse", "output_space": "rgb"},
    "unet": {"patch": 128, "batch": 8, "loss": "mse", "output_space": "rgb"},
    "fusion": {"patch": 128, "batch": 8, "loss": "mse", "output_space": "lab_ab"},
    "classifier": {"patch": 192, "batch": 16, "loss": "cross_entropy", "output_space": None},
}
"""The nets with a global vector see 128 × 128 patches: a 64 × 64 patch has no global context
(the U-Net's bottleneck would be 4 × 4, all border). MSE is what the validation PSNR rewards."""
RESUME_OVERRIDES = ("epochs", "threads", "device", "resume", "overwrite", "val_limit")


# ----------------------------------------------------------------------------- settings


@dataclass
class NetTrainConfig:
    """Every setting of a run (saved in the checkpoint and the model's ``config.json``)."""

    arch: str
    data: str
    output: str
    epochs: int = 10
    steps_per_epoch: int = 200
    batch: int | None = None  # per-arch default (DEFAULTS)
    patch: int | None = None  # per-arch default (DEFAULTS)
    lr: float = 1e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 100
    weight_decay: float = 1e-4
    loss: str | None = None  # mse, l1, l1+ssim (classifier: cross_entropy)
    output_space: str | None = None  # rgb, lab, lab_ab
    width: int | None = None  # the net's base width (its default when None)
    vflip: bool = False  # also flip patches upside down (the sky is up: off by default)
    seed: int = 0
    threads: int | None = None  # default: the CPUs this process may use
    device: str = "auto"  # auto, cpu, cuda
    split: str = "fit"  # the train rows less a scene-disjoint holdout...
    val_split: str = "holdout"  # ...on which the best epoch is chosen
    report_split: str | None = "val"  # scored for the model card (never used for choices)
    val_limit: int | None = None  # validate on the first N val images only
    guided_sweep: bool = False  # choose the default guided filter on val_split (GUIDED_GRID)
    bn_batches: int = 20  # batches re-estimating BatchNorm statistics each epoch (0: off)
    categories: list[str] | None = None  # train on these; the classifier's classes
    classifier: str | None = None  # fusion: global branch from this classifier, frozen
    init: str | None = None  # fine-tune: start from this model's weights (same architecture)
    guided: list[float] | None = None  # default guided filter [radius, eps] of the model
    resume: bool = False
    overwrite: bool = False
    command: str | None = None

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ModelError(f"unknown architecture '{self.arch}' (use one of {', '.join(ARCHS)})")
        defaults = DEFAULTS[self.arch]
        self.patch = self.patch or defaults["patch"]
        self.batch = self.batch or defaults["batch"]
        self.loss = self.loss or defaults["loss"]
        self.output_space = self.output_space or defaults["output_space"]
        if self.arch == "classifier":
            self.output_space = None
            self.loss = "cross_entropy"
        elif self.loss not in LOSSES:
            raise ModelError(f"unknown loss '{self.loss}' (use one of {', '.join(LOSSES)})")
        elif self.output_space not in OUTPUT_SPACES:
            known = ", ".join(OUTPUT_SPACES)
            raise ModelError(f"unknown output space '{self.output_space}' (use one of {known})")
        for name in ("epochs", "steps_per_epoch", "batch", "patch"):
            if int(getattr(self, name)) < 1:
                raise ModelError(f"{name} must be at least 1")

    @property
    def class_names(self) -> list[str]:
        return list(self.categories) if self.categories else list(EPFL_CATEGORIES)


def init_config(cfg: NetTrainConfig) -> dict | None:
    """``config.json`` of the model ``cfg.init`` to fine-tune from, checked against ``cfg``."""
    if not cfg.init:
        return None
    from ..models import read_config, resolve_model_path

    folder = resolve_model_path(cfg.init)
    config = read_config(folder)
    if config.get("arch") != cfg.arch or not (folder / WEIGHTS_NAME).is_file():
        raise ModelError(f"{cfg.init}: not a trained {cfg.arch} model to fine-tune from")
    return {**config, "folder": str(folder)}


def apply_init(cfg: NetTrainConfig, init: dict | None) -> None:
    """A fine-tuned net keeps its base's output space and default guided filter."""
    if init is None:
        return
    cfg.output_space = init.get("output_space", cfg.output_space)
    if cfg.guided is None and init.get("guided"):
        cfg.guided = list(init["guided"])


def net_kwargs(cfg: NetTrainConfig, init: dict | None = None) -> dict:
    """Constructor arguments of the net for these settings (a fine-tuned one: its base's)."""
    if init is not None:
        return dict(init["net"])
    kwargs: dict = {}
    if cfg.width is not None:
        kwargs["width"] = cfg.width
    if cfg.arch == "classifier":
        kwargs["num_classes"] = len(cfg.class_names)
    else:
        kwargs["output_space"] = cfg.output_space
    return kwargs


def setup_torch(cfg: NetTrainConfig) -> torch.device:
    """Seed, make deterministic, set the threads; return the device to train on."""
    threads = cfg.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    torch.manual_seed(cfg.seed)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    if cfg.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(cfg.device)


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


def load_images(cfg: NetTrainConfig, split: str, limit: int | None = None) -> ImageSet:
    """Read the pairs of a split once (the classifier keeps those of its classes only)."""
    pairs = load_dataset(cfg.data, split=split, categories=cfg.categories, seed=cfg.seed)
    classes = cfg.class_names
    if cfg.arch == "classifier":
        pairs = [p for p in pairs if p.category in classes]
    images = ImageSet()
    for pair in pairs[:limit]:
        label = classes.index(pair.category) if pair.category in classes else -1
        images.add(*load_pair(pair), label=label, name=pair.id)
    return images


def colorization_batch(
    images: ImageSet, cfg: NetTrainConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Random aligned patches: NIR ``(N, 1, P, P)``, target ``(N, C, P, P)`` in the output space."""
    nir, rgb = sample_patches(
        list(zip(images.nir, images.rgb, strict=True)), cfg.batch, cfg.patch, rng, flips=False
    )
    nir, rgb = random_flips(nir / 255.0, rgb / 255.0, rng, cfg.vflip)
    target = from_srgb(rgb, cfg.output_space)
    return nir[:, None], np.ascontiguousarray(np.moveaxis(target, -1, 1))


def classification_batch(
    images: ImageSet, cfg: NetTrainConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
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


def random_flips(nir, rgb, rng: np.random.Generator, vflip: bool):
    """Mirror each patch left-right with probability 1/2 (and upside down with ``vflip``)."""
    nir, rgb = nir.astype(np.float32), rgb.astype(np.float32)
    mirror = rng.random(len(nir)) < 0.5
    nir[mirror], rgb[mirror] = nir[mirror, :, ::-1], rgb[mirror, :, ::-1]
    if vflip:
        upside = rng.random(len(nir)) < 0.5
        nir[upside], rgb[upside] = nir[upside, ::-1], rgb[upside, ::-1]
    return nir, rgb


def to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    tensor = torch.from_numpy(np.ascontiguousarray(array)).to(device)
    return tensor.contiguous(memory_format=torch.channels_last) if tensor.ndim == 4 else tensor


# ----------------------------------------------------------------------------- validation


@torch.inference_mode()
def net_output(net, nir: np.ndarray, device: torch.device) -> np.ndarray:
    """The net's output for one full ``(H, W)`` image, padded to its stride and cropped back."""
    height, width = nir.shape
    padded = pad_to_multiple(nir, net.stride, getattr(net, "min_size", 0))
    out = net(to_device(padded[None, None].astype(np.float32), device))[0].float().cpu().numpy()
    return out[:, :height, :width] if out.ndim == 3 else out


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
    make_batch = classification_batch if cfg.arch == "classifier" else colorization_batch
    for _ in range(cfg.bn_batches):
        net(to_device(make_batch(images, cfg, rng)[0], device))
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum


def validate(net, images: ImageSet, cfg: NetTrainConfig, device: torch.device) -> dict:
    """``val_psnr`` (colorizers: mean per-image PSNR in sRGB) or ``val_accuracy`` (classifier)."""
    if not len(images):
        return {}
    net.eval()
    if cfg.arch == "classifier":
        hits = [
            int(net_output(net, nir / np.float32(255), device).argmax()) == label
            for nir, label in zip(images.nir, images.labels, strict=True)
        ]
        return {"val_accuracy": float(np.mean(hits))}
    rows = []
    for nir, rgb in zip(images.nir, images.rgb, strict=True):
        nir = nir / np.float32(255)
        output = np.moveaxis(net_output(net, nir, device), 0, -1)
        rows.append({"psnr": psnr(to_srgb(output, nir, cfg.output_space), rgb / np.float32(255))})
    return {"val_psnr": mean_metrics(rows)["psnr"]}


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


# ----------------------------------------------------------------------------- checkpoints


@dataclass
class RunState:
    """What the loop carries from step to step (all of it is checkpointed)."""

    rng: np.random.Generator
    epoch: int = 0
    step: int = 0
    best: float = -math.inf
    best_epoch: int = 0
    best_weights: dict | None = None
    history: list = field(default_factory=list)
    seconds: float = 0.0


def cpu_tensors(state: dict, prefix: str) -> dict[str, torch.Tensor]:
    return {f"{prefix}{k}": v.detach().cpu().contiguous() for k, v in state.items()}


def save_checkpoint(folder: Path, cfg, net, optimizer, state: RunState) -> None:
    """``checkpoint.safetensors`` (tensors) then ``checkpoint.json`` (settings, scalars)."""
    optim = optimizer.state_dict()
    tensors = cpu_tensors(net.state_dict(), "model.")
    tensors |= cpu_tensors(state.best_weights or {}, "best.")
    for index, values in optim["state"].items():
        tensors |= cpu_tensors(values, f"optim.{index}.")
    tensors["torch_rng"] = torch.get_rng_state()
    if torch.cuda.is_available():
        tensors["cuda_rng"] = torch.cuda.get_rng_state()
    metadata = {"step": str(state.step)}
    write_bytes_atomic(folder / f"{CHECKPOINT}.safetensors", save(tensors, metadata=metadata))
    scalars = {
        "format_version": 1,
        "config": asdict(cfg),
        "epoch": state.epoch,
        "step": state.step,
        "best": state.best if math.isfinite(state.best) else None,
        "best_epoch": state.best_epoch,
        "history": state.history,
        "seconds": state.seconds,
        "numpy_rng": state.rng.bit_generator.state,
        "param_groups": optim["param_groups"],
    }
    write_bytes_atomic(folder / f"{CHECKPOINT}.json", json.dumps(scalars, indent=1).encode())


def read_checkpoint(folder: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    json_path = folder / f"{CHECKPOINT}.json"
    tensor_path = folder / f"{CHECKPOINT}.safetensors"
    if not json_path.is_file() or not tensor_path.is_file():
        raise ModelError(f"{folder}: no checkpoint to resume from")
    scalars = json.loads(json_path.read_text())
    tensors = load_file(tensor_path)
    with safe_open(tensor_path, framework="pt") as f:
        step = int(f.metadata()["step"])
    if step != scalars["step"]:
        raise ModelError(f"{folder}: checkpoint files disagree (interrupted while saving?)")
    return scalars, tensors


def resumed_config(cfg: NetTrainConfig, scalars: dict) -> NetTrainConfig:
    """The checkpoint's settings, but for those a resumed run may change (epochs, threads...)."""
    saved = scalars["config"]
    if saved["arch"] != cfg.arch:
        raise ModelError(f"the checkpoint is of a '{saved['arch']}' net, not '{cfg.arch}'")
    names = {f.name for f in fields(NetTrainConfig)}
    saved = {k: v for k, v in saved.items() if k in names}
    saved.update({name: getattr(cfg, name) for name in RESUME_OVERRIDES})
    saved["command"] = cfg.command or saved.get("command")
    return NetTrainConfig(**saved)


def restore(scalars: dict, tensors: dict, net, optimizer) -> RunState:
    """Load weights, optimizer and random states from a checkpoint; return the run's state."""

    def part(prefix: str) -> dict[str, torch.Tensor]:
        return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}

    net.load_state_dict(part("model."))
    optim_state: dict = {"state": {}, "param_groups": scalars["param_groups"]}
    for key, value in part("optim.").items():
        index, name = key.split(".", 1)
        optim_state["state"].setdefault(int(index), {})[name] = value
    optimizer.load_state_dict(optim_state)
    torch.set_rng_state(tensors["torch_rng"])
    if "cuda_rng" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["cuda_rng"])
    rng = np.random.default_rng()
    rng.bit_generator.state = scalars["numpy_rng"]
    best = scalars["best"]
    return RunState(
        rng=rng,
        epoch=scalars["epoch"],
        step=scalars["step"],
        best=-math.inf if best is None else best,
        best_epoch=scalars["best_epoch"],
        best_weights=part("best.") or None,
        history=scalars["history"],
        seconds=scalars["seconds"],
    )


# ----------------------------------------------------------------------------- progress


class Reporter:
    """Receives the run's progress; this one stays silent (tests, library use)."""

    def start(self, cfg: NetTrainConfig, state: RunState, info: dict) -> None: ...

    def step(self, state: RunState, loss: float, lr: float) -> None: ...

    def epoch(self, record: dict) -> None: ...

    def close(self) -> None: ...


class RichReporter(Reporter):
    """A rich progress bar with the running loss, and one line per epoch with the metrics."""

    def __init__(self, console) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = console
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not console.is_terminal,
        )
        self.task = None
        self.losses: list[float] = []

    def start(self, cfg, state, info) -> None:
        self.cfg = cfg
        self.console.print(
            f"training {cfg.arch} ({info['parameters']:,} parameters) on {info['n_train']} "
            f"pairs, validating on {info['n_val']}; {info['device']}, {info['threads']} threads",
            highlight=False,
        )
        self.progress.start()
        total = cfg.epochs * cfg.steps_per_epoch
        self.task = self.progress.add_task(cfg.arch, total=total, completed=state.step)

    def step(self, state, loss, lr) -> None:
        self.losses = (self.losses + [loss])[-50:]
        description = f"epoch {state.epoch + 1}/{self.cfg.epochs} loss {np.mean(self.losses):.4f}"
        self.progress.update(self.task, completed=state.step, description=description)

    def epoch(self, record) -> None:
        metrics = " ".join(f"{k} {v:.4f}" for k, v in record.items() if k.startswith("val_"))
        best = " (best)" if record.get("best") else ""
        self.progress.console.print(
            f"epoch {record['epoch']}: loss {record['loss']:.4f} {metrics}{best} "
            f"[{record['seconds']:.0f} s]",
            highlight=False,
        )

    def close(self) -> None:
        self.progress.stop()


# ----------------------------------------------------------------------------- the run


def train_net(cfg: NetTrainConfig, reporter: Reporter | None = None) -> TrainResult:
    """Train a net on ``cfg.data`` and write its model folder ``cfg.output``; see the module."""
    reporter = reporter or Reporter()
    output = Path(cfg.output)
    scalars, tensors = read_checkpoint(output) if cfg.resume else (None, None)
    if scalars is not None:
        cfg = resumed_config(cfg, scalars)
    else:
        check_output_folder(output, cfg.overwrite)
    device = setup_torch(cfg)

    train_set = load_images(cfg, cfg.split)
    val_set = load_images(cfg, cfg.val_split, limit=cfg.val_limit) if cfg.val_split else None
    val_set = val_set or ImageSet()
    if not len(train_set):
        raise DataError(f"{cfg.data}: the '{cfg.split}' split holds no usable pairs")

    init = init_config(cfg)
    apply_init(cfg, init)
    net = create_net(cfg.arch, **net_kwargs(cfg, init))
    if cfg.patch % net.stride or cfg.patch < getattr(net, "min_size", 0):
        raise ModelError(f"patch {cfg.patch} must be a multiple of {net.stride} (and >= 32)")
    settings = (init or {}).get("training", {}).get("settings", {})
    frozen = settings.get("classifier") if init else cfg.classifier
    if cfg.arch == "fusion" and frozen:
        net.freeze_global(None if scalars or init else classifier_weights(cfg.classifier))
    if init is not None and scalars is None:
        net.load_state_dict(load_file(Path(init["folder"]) / WEIGHTS_NAME))
    net = net.to(device, memory_format=torch.channels_last)
    optimizer = make_optimizer(net, cfg)
    if scalars is not None:
        state = restore(scalars, tensors, net, optimizer)
    else:
        state = RunState(rng=np.random.default_rng(cfg.seed))
    info = {
        "parameters": count_parameters(net),
        "n_train": len(train_set),
        "n_val": len(val_set),
        "device": str(device),
        "threads": torch.get_num_threads(),
    }
    output.mkdir(parents=True, exist_ok=True)
    reporter.start(cfg, state, info)
    try:
        while state.epoch < cfg.epochs:
            run_epoch(net, optimizer, train_set, val_set, cfg, device, state, reporter)
            save_checkpoint(output, cfg, net, optimizer, state)
            reporter.epoch(state.history[-1])
    finally:
        reporter.close()
    result = write_model_folder(output, net, cfg, state, info)
    if cfg.guided_sweep and cfg.arch != "classifier" and cfg.val_split:
        result.info["guided_sweep"] = choose_guided(output, cfg)
    write_net_card(output, cfg, result.info)
    return result


GUIDED_GRID = [(r, eps) for r in (2, 5, 8) for eps in (1e-5, 1e-3, 1e-2)]
"""The seed's guided-filter settings (it found r = 5, eps = 1e-5 best)."""


def choose_guided(output: Path, cfg: NetTrainConfig) -> list[dict]:
    """Score the net without and with every GUIDED_GRID filter on ``cfg.val_split`` (never the
    reported split), store the best as the model's default guided filter; return the table."""
    from ..evaluate import evaluate_model
    from ..models import load_model

    model = load_model(output)
    pairs = load_dataset(cfg.data, cfg.val_split, cfg.categories, seed=cfg.seed)
    table = []
    for guided in [False, *GUIDED_GRID]:
        summary = evaluate_model(model, pairs, guided=guided).summary
        table.append({"guided": list(guided) if guided else None, **summary})
    best = max(table, key=lambda row: row["psnr"])
    config = json.loads((output / CONFIG_NAME).read_text())
    config["guided"] = best["guided"]
    config["training"]["guided_sweep"] = table
    write_bytes_atomic(output / CONFIG_NAME, (json.dumps(config, indent=2) + "\n").encode())
    return table


NET_DESCRIPTIONS = {
    "cnn": "The seed 'IR to RGB' CNN: stacked conv/deconv layers with BatchNorm and ReLU.",
    "classifier": "Scene recognition on NIR after 'Fast NIR colorization' (9 EPFL categories).",
    "fusion": "Fusion colorization net: local encoder, global scene vector, fusion, decoder.",
    "unet": "Small U-Net with skip connections and a fused global feature vector.",
}


def write_net_card(output: Path, cfg: NetTrainConfig, training: dict) -> None:
    """``MODEL_CARD.md``: training record and, for colorizers, scores on ``report_split``."""
    from ..evaluate import evaluate_model
    from ..models import CARD_NAME, load_model

    evaluation, notes = None, []
    if training.get("guided_sweep"):
        chosen = json.loads((output / CONFIG_NAME).read_text()).get("guided")
        notes.append(f"default guided filter (best PSNR on {cfg.val_split}): {chosen or 'none'}")
    for row in training.get("guided_sweep", []):
        setting = (
            "no guided filter"
            if row["guided"] is None
            else "guided r={}, eps={:g}".format(*row["guided"])
        )
        notes.append(
            f"{cfg.val_split}: {setting}: PSNR {row['psnr']:.2f} dB, SSIM {row['ssim']:.4f}"
        )
    pairs = load_dataset(cfg.data, cfg.report_split, seed=cfg.seed) if cfg.report_split else []
    if cfg.arch == "classifier" and pairs:
        model = load_model(output)
        known = [p for p in pairs if p.category in model.categories]
        hits = sum(model.classify(read_nir(p.nir))[0] == p.category for p in known)
        notes.append(
            f"accuracy on the scene-disjoint `split == {cfg.report_split}` rows of known "
            f"categories: {hits / len(known):.3f} ({hits} of {len(known)}; chance "
            f"{1 / len(model.categories):.3f})"
        )
    elif pairs:
        pairs = [p for p in pairs if not cfg.categories or p.category in cfg.categories]
        evaluation = evaluate_model(load_model(output), pairs) if pairs else None
    info = {
        "data": training["data"],
        "split": f"{training['split']} (best epoch {training['best_epoch']} chosen on "
        f"{training['val_split']})",
        "n_pairs": training["n_train_pairs"],
        "categories": sorted(cfg.categories or []) or ["all"],
        "command": training["command"],
        "seed": training["seed"],
        "seconds": training["wall_seconds"],
        "machine": f"{training['machine']}; {training['device']}, {training['threads']} threads",
        "date": training["date"],
        "notes": [
            f"epochs: {training['epochs']} × {training['steps_per_epoch']} steps, batch "
            f"{training['batch']} of {training['patch']}² patches, loss {training['loss']}, "
            f"lr {training['lr']}, torch {training['torch']}",
            *notes,
        ],
    }
    title = "NIR scene classifier" if cfg.arch == "classifier" else f"{cfg.arch} colorizer"
    card = model_card(title, NET_DESCRIPTIONS.get(cfg.arch, ""), info, evaluation)
    write_bytes_atomic(output / CARD_NAME, card.encode())


def run_epoch(net, optimizer, train_set, val_set, cfg, device, state: RunState, reporter):
    """One epoch: ``steps_per_epoch`` optimizer steps, then validation and keep-best."""
    start = time.perf_counter()
    make_batch = classification_batch if cfg.arch == "classifier" else colorization_batch
    net.train()
    losses = []
    for _ in range(cfg.steps_per_epoch):
        lr = learning_rate(state.step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        nir, target = make_batch(train_set, cfg, state.rng)
        nir, target = to_device(nir, device), to_device(target, device)
        pred = net(nir)
        if cfg.arch == "classifier":
            loss = F.cross_entropy(pred, target)
        else:
            loss = colorization_loss(cfg.loss, pred, target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        state.step += 1
        losses.append(loss.item())
        reporter.step(state, losses[-1], lr)
    recalibrate_batchnorm(net, train_set, cfg, device, state.epoch)
    metrics = validate(net, val_set, cfg, device)
    state.epoch += 1
    score = next(iter(metrics.values()), None)
    better = score is None or score >= state.best  # ties: the later, longer-trained
    if better:
        state.best = score if score is not None else -math.inf
        state.best_epoch = state.epoch
        state.best_weights = {k: v.detach().clone() for k, v in net.state_dict().items()}
    state.seconds += time.perf_counter() - start
    record = {"epoch": state.epoch, "loss": float(np.mean(losses)), **metrics, "best": better}
    state.history.append({**record, "seconds": round(time.perf_counter() - start, 2)})


def classifier_weights(folder: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The torch weights of a trained ``classifier`` model folder."""
    path = Path(folder) / WEIGHTS_NAME
    if not path.is_file():
        raise ModelError(f"{path}: no weights (train one with 'nircolor train classifier')")
    return load_file(path)


# ----------------------------------------------------------------------------- the model folder


def write_model_folder(output: Path, net, cfg: NetTrainConfig, state: RunState, info: dict):
    """Write ``config.json``, ``model.onnx`` (best weights) and ``weights.safetensors``."""
    net = net.to("cpu", memory_format=torch.contiguous_format).eval()
    if state.best_weights:
        net.load_state_dict(state.best_weights)
    weights = cpu_tensors(net.state_dict(), "")
    side = max(32, getattr(net, "min_size", 0), net.stride)
    example = torch.rand(1, 1, 2 * side, 3 * side, generator=torch.Generator().manual_seed(0))
    graph = onnx_bytes(net, example, probabilities=cfg.arch == "classifier")
    config = model_config(net, cfg, state, info)
    config["export_max_abs_error"] = export_error(net, graph, cfg, side)

    def write(folder: Path) -> None:
        (folder / ONNX_NAME).write_bytes(graph)
        (folder / WEIGHTS_NAME).write_bytes(save(weights, metadata={"arch": cfg.arch}))
        (folder / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
        for suffix in (".safetensors", ".json"):
            name = f"{CHECKPOINT}{suffix}"
            (folder / name).write_bytes((output / name).read_bytes())

    save_model_folder(output, write, overwrite=True)
    return TrainResult(output, info["n_train"], state.seconds, config["training"])


def model_config(net, cfg: NetTrainConfig, state: RunState, info: dict) -> dict:
    config = {
        "kind": "classifier" if cfg.arch == "classifier" else "onnx",
        "format_version": 1,
        "arch": cfg.arch,
        "net": net.config,
        "stride": net.stride,
        "min_size": getattr(net, "min_size", 0),
        "onnx": ONNX_NAME,
        "weights": WEIGHTS_NAME,
    }
    if cfg.arch == "classifier":
        config["categories"] = cfg.class_names
    else:
        config["output_space"] = cfg.output_space
        config["guided"] = list(cfg.guided) if cfg.guided else None
    config["training"] = {
        "data": str(cfg.data),
        "split": cfg.split,
        "val_split": cfg.val_split,
        "n_train_pairs": info["n_train"],
        "n_val_pairs": info["n_val"],
        "command": cfg.command,
        "seed": cfg.seed,
        "epochs": cfg.epochs,
        "steps_per_epoch": cfg.steps_per_epoch,
        "batch": cfg.batch,
        "patch": cfg.patch,
        "loss": cfg.loss,
        "lr": cfg.lr,
        "best_epoch": state.best_epoch,
        "best_" + ("val_accuracy" if cfg.arch == "classifier" else "val_psnr"): (
            state.best if math.isfinite(state.best) else None
        ),
        "history": state.history,
        "wall_seconds": round(state.seconds, 2),
        "device": info["device"],
        "threads": info["threads"],
        "machine": machine_description(),
        "torch": torch.__version__,
        "date": timestamp(),
        "settings": asdict(cfg),
    }
    return config


def export_error(net, graph: bytes, cfg: NetTrainConfig, side: int) -> float:
    """Largest difference between torch and onnxruntime on a random non-square input."""
    import onnxruntime as ort

    x = torch.rand(1, 1, 3 * side, 2 * side, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        expected = net(x)
        if cfg.arch == "classifier":
            expected = torch.softmax(expected, dim=1)
    session = ort.InferenceSession(graph, providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    return float(np.abs(got - expected.numpy()).max())
