"""The model folder of a trained net: ``config.json``, ``model.onnx`` (checked against torch)
and ``weights.safetensors``, with the run's checkpoint; and the optional guided-filter sweep."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save

from ..data import load_dataset
from ..models import CONFIG_NAME
from ..models.onnx import ONNX_NAME, WEIGHTS_NAME
from ..nets.export import onnx_bytes
from .checkpoint import CHECKPOINT_FILE, RunState, cpu_tensors
from .common import TrainResult, machine_description, save_model_folder, store_choice, timestamp
from .config import NetTrainConfig
from .selection import summary_ranking
from .task_registry import task_for


def write_model_folder(output: Path, net, cfg: NetTrainConfig, state: RunState, info: dict):
    """Write ``config.json``, ``model.onnx`` (best weights) and ``weights.safetensors``."""
    net = net.to("cpu", memory_format=torch.contiguous_format).eval()
    if state.best_weights:
        net.load_state_dict(state.best_weights)
    weights = cpu_tensors(net.state_dict(), "")
    side = max(32, net.min_size, net.stride)
    example = torch.rand(1, 1, 2 * side, 3 * side, generator=torch.Generator().manual_seed(0))
    task = task_for(cfg.arch)
    config = model_config(net, cfg, state, info)
    exported = task.export_graphs(net)
    if exported is None:
        module, extra_inputs = task.export_module(net)
        graph = onnx_bytes(module, example, task.probabilities, extra_inputs)
        graphs = {ONNX_NAME: graph}
        config["export_max_abs_error"] = export_error(module, extra_inputs, graph, cfg, side)
    else:  # a net of several graphs (the detector) exports and checks them itself
        graphs, config["export_max_abs_error"] = exported

    def write(folder: Path) -> None:
        for name, graph in graphs.items():
            (folder / name).write_bytes(graph)
        (folder / WEIGHTS_NAME).write_bytes(save(weights, metadata={"arch": cfg.arch}))
        (folder / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
        (folder / CHECKPOINT_FILE).write_bytes((output / CHECKPOINT_FILE).read_bytes())

    save_model_folder(output, write, overwrite=True)
    return TrainResult(output, info["n_train"], state.seconds, config["training"])


def model_config(net, cfg: NetTrainConfig, state: RunState, info: dict) -> dict:
    task = task_for(cfg.arch)
    config = {
        "kind": task.model_kind,
        "format_version": 1,
        "arch": cfg.arch,
        "net": net.config,
        "stride": net.stride,
        "min_size": net.min_size,
        "onnx": ONNX_NAME,
        "weights": WEIGHTS_NAME,
    }
    config |= task.config_fields(cfg)
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
        "best_" + task.selection(cfg)[0]: (state.best if math.isfinite(state.best) else None),
        "history": state.history,
        "wall_seconds": round(state.seconds, 2),
        "device": info["device"],
        "threads": info["threads"],
        "machine": machine_description(),
        "torch": torch.__version__,
        "date": timestamp(),
        "settings": asdict(cfg),
    }
    if "photos" in info:
        config["training"]["photos"] = info["photos"]
    return config


def export_error(module, extra_inputs: dict, graph: bytes, cfg: NetTrainConfig, side: int):
    """Largest difference between torch and onnxruntime on a random non-square input."""
    import onnxruntime as ort

    x = torch.rand(1, 1, 3 * side, 2 * side, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        expected = task_for(cfg.arch).export_output(module(x, *extra_inputs.values()))
    session = ort.InferenceSession(graph, providers=["CPUExecutionProvider"])
    feeds = {session.get_inputs()[0].name: x.numpy()}
    feeds |= {name: value.numpy() for name, value in extra_inputs.items()}
    got = session.run(None, feeds)[0]
    return float(np.abs(got - expected.numpy()).max())


GUIDED_GRID = [(r, eps) for r in (2, 5, 8) for eps in (1e-5, 1e-3, 1e-2)]
"""The seed's guided-filter settings (it found r = 5, eps = 1e-5 best)."""


def choose_guided(output: Path, cfg: NetTrainConfig) -> list[dict]:
    """Score the net without and with every GUIDED_GRID filter on ``cfg.val_split`` (never the
    reported split), store the best (by :func:`.selection.summary_ranking`: what chose the epoch) as
    the model's default guided filter; return the table."""
    from ..evaluate import evaluate_model
    from ..models import load_model

    model = load_model(output)
    pairs = load_dataset(cfg.data, cfg.val_split, cfg.categories, seed=cfg.seed)
    table = []
    for guided in [False, *GUIDED_GRID]:
        summary = evaluate_model(model, pairs, guided=guided).summary
        table.append({"guided": list(guided) if guided else None, **summary})
    best = min(table, key=summary_ranking(cfg)[0])
    store_choice(output, "guided", best["guided"], "guided_sweep", table)
    return table
