"""Training checkpoints: one atomic file, a kill while saving loses nothing, and every kind of
damaged checkpoint is refused with one line naming the file (skipped without torch)."""

from __future__ import annotations

import json
import shutil

import pytest

from nircolor.errors import ModelError

from .helpers import has, requires
from .helpers.cli import run_cli
from .helpers.training import one_torch_thread, tiny_config, write_pairs  # noqa: F401 (fixture)

if has("torch") and has("onnx") and has("safetensors"):
    import torch
    from safetensors.torch import load_file

    from nircolor.train import checkpoint
    from nircolor.train.nets import Reporter, train_net
else:  # a core-only install: every test here is skipped, the module still imports
    Reporter = object

pytestmark = requires("torch", "onnx", "safetensors")

CHECKPOINT_FILE = "checkpoint.safetensors"


class StopAfterFirstEpoch(Reporter):
    def epoch(self, record: dict) -> None:
        raise KeyboardInterrupt  # as if killed right after the first checkpoint


class RecordStart(Reporter):
    def start(self, cfg, state, info) -> None:
        self.start_epoch = state.epoch


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Pairs, the uninterrupted two-epoch run, and a run stopped after its first epoch."""
    root = tmp_path_factory.mktemp("runs")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    data = write_pairs(root / "data")
    straight = train_net(tiny_config(root, data, "straight"))
    with pytest.raises(KeyboardInterrupt):
        train_net(tiny_config(root, data, "cut"), StopAfterFirstEpoch())
    torch.set_num_threads(threads)
    return {"data": data, "straight": straight.model_path, "cut": root / "cut"}


def copy_of_cut_run(runs, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(runs["cut"], folder)
    return folder


def resume(runs, tmp_path):
    return train_net(tiny_config(tmp_path, runs["data"], "run", resume=True))


def same_weights(a, b) -> bool:
    first, second = load_file(a / "weights.safetensors"), load_file(b / "weights.safetensors")
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def one_line_error(runs, tmp_path, *phrases) -> str:
    """Resume the damaged run at tmp_path/run: a ModelError of one line naming the file."""
    with pytest.raises(ModelError) as error:
        resume(runs, tmp_path)
    message = str(error.value)
    assert len(message.splitlines()) == 1, message
    assert str(tmp_path / "run" / CHECKPOINT_FILE) in message, message
    for phrase in phrases:
        assert phrase in message, message
    return message


# ----------------------------------------------------------------------------- one atomic file


def test_a_checkpoint_is_one_file(runs):
    assert sorted(p.name for p in runs["cut"].iterdir()) == [CHECKPOINT_FILE]
    assert not list(runs["straight"].glob("checkpoint.json"))


@pytest.mark.parametrize("kill", ["after the first write", "during the first write"])
def test_a_kill_while_saving_keeps_a_checkpoint_that_resumes_exactly(
    runs, tmp_path, monkeypatch, kill
):
    folder = copy_of_cut_run(runs, tmp_path)
    real_write = checkpoint.write_bytes_atomic

    def write_then_die(path, data):
        if kill == "during the first write":  # the process dies before the rename
            (path.parent / f".{path.name}.x1y2z3.part").write_bytes(data[: len(data) // 2])
        else:
            real_write(path, data)
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint, "write_bytes_atomic", write_then_die)
    with pytest.raises(KeyboardInterrupt):  # the second epoch's checkpoint is being saved
        resume(runs, tmp_path)
    monkeypatch.undo()
    reporter = RecordStart()
    result = train_net(tiny_config(tmp_path, runs["data"], "run", resume=True), reporter)
    assert reporter.start_epoch == (2 if kill == "after the first write" else 1)
    assert same_weights(result.model_path, runs["straight"])
    assert not list(folder.glob(".*"))  # no temporary file left behind


# ----------------------------------------------------------------------------- damaged files


def test_truncated_checkpoint(runs, tmp_path):
    path = copy_of_cut_run(runs, tmp_path) / CHECKPOINT_FILE
    path.write_bytes(path.read_bytes()[:-100])
    one_line_error(runs, tmp_path, "not a readable checkpoint")


@pytest.mark.parametrize("content", [b"", b"\x01\x00", b"\x08\x00\x00\x00\x00\x00\x00\x00{}"])
def test_header_too_small_or_empty(runs, tmp_path, content):
    (copy_of_cut_run(runs, tmp_path) / CHECKPOINT_FILE).write_bytes(content)
    one_line_error(runs, tmp_path, "not a readable checkpoint")


def test_garbage_header_json(runs, tmp_path):
    path = copy_of_cut_run(runs, tmp_path) / CHECKPOINT_FILE
    data = bytearray(path.read_bytes())
    data[8:40] = b"#" * 32  # the header's JSON
    path.write_bytes(bytes(data))
    one_line_error(runs, tmp_path, "not a readable checkpoint")


def test_every_flipped_byte_is_caught(runs, tmp_path):
    path = copy_of_cut_run(runs, tmp_path) / CHECKPOINT_FILE
    original = path.read_bytes()
    for position in range(0, len(original), max(1, len(original) // 60)):
        damaged = bytearray(original)
        damaged[position] ^= 0x10
        path.write_bytes(bytes(damaged))
        with pytest.raises(ModelError) as error:
            checkpoint.read_checkpoint(path.parent)
        assert str(path) in str(error.value) and len(str(error.value).splitlines()) == 1
    path.write_bytes(original)
    assert checkpoint.read_checkpoint(path.parent).scalars["epoch"] == 1


def test_flipped_weight_byte_is_a_checksum_mismatch(runs, tmp_path):
    path = copy_of_cut_run(runs, tmp_path) / CHECKPOINT_FILE
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01  # the last tensor's last byte: the file still parses
    path.write_bytes(bytes(data))
    one_line_error(runs, tmp_path, "checksum")


def rewrite(folder, edit) -> None:
    """Re-save the checkpoint in ``folder`` after ``edit(scalars, tensors)``, checksum valid."""
    saved = checkpoint.read_checkpoint(folder)
    edit(saved.scalars, saved.tensors)
    data = checkpoint.checkpoint_bytes(saved.scalars, saved.tensors)
    (folder / CHECKPOINT_FILE).write_bytes(data)


@pytest.mark.parametrize(
    ("edit", "phrase"),
    [
        (lambda s, t: s.pop("step"), "'step'"),
        (lambda s, t: s.update(epoch="one"), "'epoch'"),
        (lambda s, t: s.update(config=[]), "'config'"),
        (lambda s, t: s["config"].update(batch=-3), "batch"),
        (lambda s, t: s.update(numpy_rng={"state": 1}), "random state"),
        (lambda s, t: s.update(param_groups=[]), "optimizer"),
        (lambda s, t: t.pop("torch_rng"), "'torch_rng'"),
    ],
)
def test_valid_file_with_wrong_content(runs, tmp_path, edit, phrase):
    rewrite(copy_of_cut_run(runs, tmp_path), edit)
    one_line_error(runs, tmp_path, phrase)


def first_weight(tensors) -> str:
    return next(name for name in sorted(tensors) if name.startswith("model.") and "weight" in name)


def test_weights_of_another_net(runs, tmp_path):
    folder = copy_of_cut_run(runs, tmp_path)

    def rename(scalars, tensors):
        name = first_weight(tensors)
        tensors["model.nonsense"] = tensors.pop(name)

    rewrite(folder, rename)
    message = one_line_error(runs, tmp_path, "model.nonsense")
    assert "missing" in message and "unexpected" in message


def test_weights_of_the_wrong_shape(runs, tmp_path):
    folder = copy_of_cut_run(runs, tmp_path)
    name = None

    def widen(scalars, tensors):
        nonlocal name
        name = first_weight(tensors)
        tensors[name] = torch.zeros(2, *tensors[name].shape)

    rewrite(folder, widen)
    one_line_error(runs, tmp_path, name, "shape")


def test_optimizer_moments_of_the_wrong_shape(runs, tmp_path):
    def shrink(scalars, tensors):
        name = next(n for n in sorted(tensors) if n.startswith("optim.") and "exp_avg" in n)
        tensors[name] = torch.zeros(1)

    rewrite(copy_of_cut_run(runs, tmp_path), shrink)
    one_line_error(runs, tmp_path, "optimizer")


def test_old_two_file_checkpoint_says_what_to_do(runs, tmp_path):
    folder = copy_of_cut_run(runs, tmp_path)
    saved = checkpoint.read_checkpoint(folder)
    (folder / "checkpoint.json").write_text(json.dumps(saved.scalars))
    plain = torch.nn.Module()  # any safetensors file without the checkpoint's metadata
    from safetensors.torch import save_file

    save_file({"torch_rng": torch.get_rng_state(), **plain.state_dict()}, folder / CHECKPOINT_FILE)
    one_line_error(runs, tmp_path, "--overwrite")


# ----------------------------------------------------------------------------- command line


def test_cli_resume_of_a_damaged_checkpoint_is_one_line(runs, tmp_path, monkeypatch, capsys):
    path = copy_of_cut_run(runs, tmp_path) / CHECKPOINT_FILE
    path.write_bytes(path.read_bytes()[:50])
    args = ["train", "cnn", "--data", runs["data"], "-o", path.parent, "--resume"]
    code, _, err = run_cli(monkeypatch, capsys, *args, "--epochs", "2", "--threads", "1")
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert str(path) in err
