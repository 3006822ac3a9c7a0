"""Checkpoints of a training run: ``checkpoint.safetensors`` and ``checkpoint.json``.

``checkpoint.safetensors`` holds the weights, the best weights, AdamW's moments and torch's
random state; ``checkpoint.json`` the settings, epoch, step, numpy's random state and the
history. No pickle anywhere. :func:`restore` continues a run exactly where it stopped.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save

from ..errors import ModelError
from ..io import write_bytes_atomic
from .config import NetTrainConfig

CHECKPOINT = "checkpoint"
RESUME_OVERRIDES = ("epochs", "threads", "device", "resume", "overwrite", "val_limit")


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
