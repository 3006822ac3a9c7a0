"""Checkpoints of a training run: one file, ``checkpoint.safetensors``, replaced atomically.

Its tensors are the weights, the best weights, AdamW's moments and torch's random state; its
metadata holds the rest as JSON (the settings, epoch, step, numpy's random state, the
history) and a SHA-256 over the JSON and every tensor. The file is written beside the old one
and renamed over it, so a run killed at any moment keeps the last complete checkpoint. No
pickle anywhere. :func:`read_checkpoint` refuses a damaged file with one line naming it and
what is wrong; :func:`restore` continues a run exactly where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save

from ..errors import ModelError, error_reason
from ..io import write_bytes_atomic
from ..io.atomic import make_folder
from .common import CHECKPOINT, CHECKPOINT_FILE
from .config import NetTrainConfig

FORMAT = "nircolor-checkpoint"
FORMAT_VERSION = 2
RESUME_OVERRIDES = ("epochs", "threads", "device", "resume", "overwrite", "val_limit")

_COUNT = (numbers.Integral,)
_NUMBER = (numbers.Real,)
SCALAR_TYPES = {  # what every checkpoint's JSON holds, and of which type
    "config": (dict,),
    "epoch": _COUNT,
    "step": _COUNT,
    "best": (*_NUMBER, type(None)),
    "best_epoch": _COUNT,
    "history": (list,),
    "seconds": _NUMBER,
    "numpy_rng": (dict,),
    "param_groups": (list,),
}


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


@dataclass
class Checkpoint:
    """A checkpoint read back and checked: its file, its JSON scalars and its tensors."""

    path: Path
    scalars: dict
    tensors: dict[str, torch.Tensor]

    def error(self, what: str) -> ModelError:
        return ModelError(f"{self.path}: {what}")


def cpu_tensors(state: dict, prefix: str) -> dict[str, torch.Tensor]:
    return {f"{prefix}{k}": v.detach().cpu().contiguous() for k, v in state.items()}


def digest(text: str, tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of the JSON text and of every tensor's name, dtype, shape and bytes."""
    sha = hashlib.sha256(text.encode())
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        sha.update(f"\0{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        sha.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return sha.hexdigest()


def checkpoint_bytes(scalars: dict, tensors: dict[str, torch.Tensor]) -> bytes:
    """The checkpoint file: ``tensors``, with ``scalars`` (JSON) and their checksum as metadata."""
    text = json.dumps(scalars)
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "scalars": text,
        "sha256": digest(text, tensors),
    }
    return save(tensors, metadata=metadata)


@contextmanager
def run_folder(output: Path) -> Iterator[Path]:
    """Make the run's ``output`` folder (and its missing parents) for the ``with`` block; if
    the block fails before the first checkpoint, remove what it made, so that nothing blocks a
    rerun. A folder that existed before, or one holding a checkpoint (resumable), is kept."""
    made = first_missing(output)
    make_folder(output)
    try:
        yield output
    except BaseException:
        if made is not None and not (output / CHECKPOINT_FILE).exists():
            shutil.rmtree(made, ignore_errors=True)
        raise


def first_missing(path: Path) -> Path | None:
    """The outermost of ``path`` and its parents that does not exist (``None``: it exists)."""
    missing = None
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing = folder
    return missing


def save_checkpoint(
    folder: Path, cfg, net, optimizer, state: RunState, adversary=None, average=None
) -> None:
    """Replace ``folder/checkpoint.safetensors`` at once by the run's current state (with the
    discriminator of an ``adversary``, :class:`.gan.Adversary`, and the weights' moving
    ``average``)."""
    optim = optimizer.state_dict()
    tensors = cpu_tensors(net.state_dict(), "model.")
    if average is not None:
        tensors |= cpu_tensors(average.state_dict(), "average.")
    tensors |= cpu_tensors(state.best_weights or {}, "best.")
    for index, values in optim["state"].items():
        tensors |= cpu_tensors(values, f"optim.{index}.")
    if adversary is not None:
        tensors |= adversary.tensors()
    tensors["torch_rng"] = torch.get_rng_state()
    if torch.cuda.is_available():
        tensors["cuda_rng"] = torch.cuda.get_rng_state()
    scalars = {
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
    write_bytes_atomic(folder / CHECKPOINT_FILE, checkpoint_bytes(scalars, tensors))


def read_checkpoint(folder: Path) -> Checkpoint:
    """The checkpoint in ``folder``, checked (format, checksum, fields); else a ModelError."""
    path = Path(folder) / CHECKPOINT_FILE
    if not path.is_file():
        raise ModelError(f"{folder}: no checkpoint to resume from")
    try:
        with safe_open(path, framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118
    except Exception as error:  # safetensors raises its own types, OSError, ValueError...
        reason = error_reason(error, empty="unreadable")
        raise ModelError(f"{path}: not a readable checkpoint ({reason})") from None
    checkpoint = Checkpoint(path, {}, tensors)
    if metadata.get("format") != FORMAT:
        if (path.parent / f"{CHECKPOINT}.json").is_file():
            raise checkpoint.error(
                "a checkpoint of an older nircolor (with checkpoint.json), which this one "
                "cannot resume; start again with --overwrite"
            )
        raise checkpoint.error("not a nircolor checkpoint (no checkpoint metadata)")
    if metadata.get("format_version") != str(FORMAT_VERSION):
        version = metadata.get("format_version")
        raise checkpoint.error(f"checkpoint format {version!r}, not {FORMAT_VERSION}")
    text = metadata.get("scalars", "")
    if metadata.get("sha256") != digest(text, tensors):
        raise checkpoint.error("checksum mismatch: the file is damaged")
    try:
        checkpoint.scalars = json.loads(text)
    except ValueError as error:
        raise checkpoint.error(f"corrupt checkpoint (bad JSON: {error_reason(error)})") from None
    check_scalars(checkpoint)
    return checkpoint


def check_scalars(checkpoint: Checkpoint) -> None:
    """Every scalar the loop needs is there, of its type; torch's random state too."""
    scalars = checkpoint.scalars
    if not isinstance(scalars, dict):
        raise checkpoint.error("corrupt checkpoint (its JSON is not an object)")
    for name, types in SCALAR_TYPES.items():
        if name not in scalars:
            raise checkpoint.error(f"corrupt checkpoint (no '{name}')")
        value = scalars[name]
        if isinstance(value, bool) or not isinstance(value, types):
            kind = type(value).__name__
            raise checkpoint.error(f"corrupt checkpoint ('{name}' is a {kind})")
    for name in ("epoch", "step", "best_epoch"):
        if scalars[name] < 0:
            raise checkpoint.error(f"corrupt checkpoint ('{name}' is {scalars[name]})")
    if not isinstance(scalars["config"].get("arch"), str):
        raise checkpoint.error("corrupt checkpoint (its 'config' names no 'arch')")
    if "torch_rng" not in checkpoint.tensors:
        raise checkpoint.error("corrupt checkpoint (no 'torch_rng' tensor)")


def resumed_config(cfg: NetTrainConfig, checkpoint: Checkpoint) -> NetTrainConfig:
    """The checkpoint's settings, but for those a resumed run may change (epochs, threads...)."""
    saved = checkpoint.scalars["config"]
    if saved["arch"] != cfg.arch:
        raise checkpoint.error(f"the checkpoint is of a '{saved['arch']}' net, not '{cfg.arch}'")
    names = {f.name for f in fields(NetTrainConfig)}
    saved = {k: v for k, v in saved.items() if k in names}
    saved.update({name: getattr(cfg, name) for name in RESUME_OVERRIDES})
    saved["command"] = cfg.command or saved.get("command")
    try:
        return NetTrainConfig(**saved)
    except (ModelError, TypeError, ValueError) as error:
        raise checkpoint.error(f"invalid settings in 'config' ({error_reason(error)})") from None


def tensors_under(tensors: dict, prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def check_fit(checkpoint: Checkpoint, prefix: str, weights: dict, expected: dict) -> None:
    """``weights`` (saved under ``prefix``) have the names and shapes of the net's ``expected``."""
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected)):
            if keys:
                more = " ..." if len(keys) > 3 else ""
                parts.append(f"{label} {', '.join(prefix + k for k in keys[:3])}{more}")
        raise checkpoint.error(f"weights do not fit the net ({'; '.join(parts)})")
    for name, tensor in weights.items():
        if tensor.shape != expected[name].shape:
            raise checkpoint.error(
                f"weights do not fit the net ({prefix}{name} has shape {tuple(tensor.shape)}, "
                f"the net {tuple(expected[name].shape)})"
            )


def optimizer_state(checkpoint: Checkpoint, optimizer) -> dict:
    """AdamW's saved state, checked against the optimizer's parameters."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    state: dict = {}
    for key, value in tensors_under(checkpoint.tensors, "optim.").items():
        index, name = key.split(".", 1)
        if not index.isdigit() or int(index) >= len(params):
            raise checkpoint.error(f"optimizer state of an unknown parameter (optim.{key})")
        if name.startswith("exp_avg") and value.shape != params[int(index)].shape:
            raise checkpoint.error(
                f"optimizer state does not fit the net (optim.{key} has shape "
                f"{tuple(value.shape)}, the parameter {tuple(params[int(index)].shape)})"
            )
        state.setdefault(int(index), {})[name] = value
    return {"state": state, "param_groups": checkpoint.scalars["param_groups"]}


def restore(checkpoint: Checkpoint, net, optimizer, adversary=None, average=None) -> RunState:
    """Load weights, optimizer, discriminator, weights' average and random states; return
    the run's state."""
    tensors, scalars = checkpoint.tensors, checkpoint.scalars
    expected = net.state_dict()
    weights, best = tensors_under(tensors, "model."), tensors_under(tensors, "best.")
    check_fit(checkpoint, "model.", weights, expected)
    if best:
        check_fit(checkpoint, "best.", best, expected)
    net.load_state_dict(weights)
    if average is not None:
        averaged = tensors_under(tensors, "average.")
        check_fit(checkpoint, "average.", averaged, expected)
        average.load_state_dict(averaged)
    try:
        optimizer.load_state_dict(optimizer_state(checkpoint, optimizer))
    except (KeyError, TypeError, ValueError) as error:
        raise checkpoint.error(f"optimizer state does not fit ({error_reason(error)})") from None
    if adversary is not None:
        adversary.load(tensors, str(checkpoint.path))
    rng = np.random.default_rng()
    try:
        torch.set_rng_state(tensors["torch_rng"])
        if "cuda_rng" in tensors and torch.cuda.is_available():
            torch.cuda.set_rng_state(tensors["cuda_rng"])
        rng.bit_generator.state = scalars["numpy_rng"]
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise checkpoint.error(f"invalid random state ({error_reason(error)})") from None
    return RunState(
        rng=rng,
        epoch=int(scalars["epoch"]),
        step=int(scalars["step"]),
        best=-math.inf if scalars["best"] is None else float(scalars["best"]),
        best_epoch=int(scalars["best_epoch"]),
        best_weights=best or None,
        history=scalars["history"],
        seconds=float(scalars["seconds"]),
    )
