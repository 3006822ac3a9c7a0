"""The options of ``nircolor train``: each out of its range is one line, before any work and
before any folder is made; a run that fails before its first checkpoint leaves nothing
behind (skipped without torch)."""

from __future__ import annotations

import pytest

from nircolor.errors import DataError, ModelError

from .helpers import has, requires
from .helpers.cli import run_cli
from .helpers.training import one_torch_thread, tiny_config, write_pairs  # noqa: F401 (fixture)

if has("torch") and has("onnx") and has("safetensors"):
    from nircolor.train.nets import Reporter, train_net
else:  # a core-only install: every test here is skipped, the module still imports
    Reporter = object

pytestmark = requires("torch", "onnx", "safetensors")

TINY = ["--epochs", "1", "--steps-per-epoch", "1", "--batch", "1", "--patch", "32"]
TINY += ["--split", "all", "--val-split", "all", "--report-split="]

REFUSED = [
    (["--threads", "-1"], "threads must be 1 to 256, not -1"),
    (["--threads", "0"], "threads must be 1 to 256, not 0"),
    (["--threads", "100000"], "threads must be 1 to 256"),
    (["--device", "tpu"], "unknown device 'tpu'"),
    (["--width", "-8"], "width must be 1 to 256, not -8"),
    (["--width", "0"], "width must be 1 to 256, not 0"),
    (["--width", "100000"], "width must be 1 to 256, not 100000"),
    (["--batch", "100000000"], "too large a step for memory"),
    (["--batch", "0"], "batch must be at least 1, not 0"),
    (["--patch", "0"], "patch must be at least 1, not 0"),
    (["--patch", "100000"], "too large a step for memory"),
    (["--lr", "1e300"], "lr must be a learning rate in (0, 1]"),
    (["--lr", "inf"], "lr must be a learning rate in (0, 1]"),
    (["--lr", "nan"], "lr must be a learning rate in (0, 1]"),
    (["--lr", "0"], "lr must be a learning rate in (0, 1]"),
    (["--lr", "-0.001"], "lr must be a learning rate in (0, 1]"),
    (["--val-limit", "0"], "val_limit must be at least 1, not 0"),
    (["--val-limit", "-1"], "val_limit must be at least 1, not -1"),
    (["--report-split", "bogus"], "unknown split 'bogus'"),
    (["--val-split", "bogus"], "unknown split 'bogus'"),
]


def one_line(code, err: str, text: str) -> None:
    assert code == 1 and text in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


@pytest.mark.parametrize(("option", "message"), REFUSED, ids=[" ".join(o) for o, _ in REFUSED])
def test_cli_refuses_an_option_out_of_range_before_making_the_folder(
    tmp_path, monkeypatch, capsys, option, message
):
    data = write_pairs(tmp_path / "data", count=2)
    command = ["train", "cnn", "--data", data, "-o", tmp_path / "x", *TINY, *option]
    code, _, err = run_cli(monkeypatch, capsys, *command)
    one_line(code, err, message)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"batch": 0}, "batch must be at least 1"),
        ({"patch": 0}, "patch must be at least 1"),
        ({"threads": 0}, "threads must be 1 to 256"),
        ({"gan_width": 1000}, "gan_width must be 1 to 256"),
        ({"device": "cuda:x"}, "unknown device"),
        ({"split": "nope"}, "unknown split 'nope'"),
        ({"report_split": "nope"}, "unknown split 'nope'"),
        ({"batch": 256, "patch": 512, "width": None}, "too large a step"),
        ({"arch": "classifier", "width": 8}, "the classifier's net has a fixed width"),
        ({"arch": "detector", "patch": 64, "width": 8}, "the detector's net has a fixed width"),
    ],
)
def test_the_config_refuses_settings_out_of_range(tmp_path, settings, message):
    with pytest.raises((ModelError, DataError), match=message):
        tiny_config(tmp_path, tmp_path, "x", **settings)


def test_none_means_the_default_and_the_largest_documented_step_is_allowed(tmp_path):
    cfg = tiny_config(tmp_path, tmp_path, "x", batch=None, patch=None, threads=None)
    assert (cfg.batch, cfg.patch, cfg.threads) == (16, 64, None)
    tiny_config(tmp_path, tmp_path, "x", arch="detector", batch=8, patch=512, width=None)


def test_cuda_without_a_gpu_is_a_clear_error(monkeypatch):
    import torch

    from nircolor.train.nets import training_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ModelError, match="device cuda: CUDA is not available"):
        training_device("cuda")
    assert training_device("auto").type == "cpu"


def test_help_says_the_ranges(monkeypatch, capsys):
    code, out, _ = run_cli(monkeypatch, capsys, "train", "cnn", "--help")
    text = " ".join(out.replace("│", " ").split())
    assert code == 0
    for phrase in ("CPU threads, 1 to 256", "net, 1 to 256", "in (0, 1]", "(N >= 1;", "2^30"):
        assert phrase in text, phrase


# ----------------------------------------------------------------------------- clean up


class FailAtFirstStep(Reporter):
    def step(self, state, loss: float, lr: float) -> None:
        raise RuntimeError("pred contains NaN or infinite values")  # as a diverging run


def test_a_run_failing_before_its_first_checkpoint_leaves_no_folder(tmp_path):
    data = write_pairs(tmp_path / "data", count=2)
    cfg = tiny_config(tmp_path, data, "new/run", epochs=1, report_split=None)
    with pytest.raises(RuntimeError):
        train_net(cfg, FailAtFirstStep())
    assert not (tmp_path / "new").exists()  # the parents it made too
    assert train_net(cfg).model_path.is_dir()  # the rerun is not blocked


def test_a_failing_run_never_removes_a_folder_that_was_there(tmp_path):
    data = write_pairs(tmp_path / "data", count=2)
    (tmp_path / "old").mkdir()  # an earlier model folder, which --overwrite may replace
    (tmp_path / "old" / "config.json").write_text("{}")
    (tmp_path / "old" / "keep.txt").write_text("mine")
    cfg = tiny_config(tmp_path, data, "old", epochs=1, report_split=None, overwrite=True)
    with pytest.raises(RuntimeError):
        train_net(cfg, FailAtFirstStep())
    assert (tmp_path / "old" / "keep.txt").read_text() == "mine"


def test_run_folder_keeps_a_folder_with_a_checkpoint(tmp_path):
    from nircolor.train.checkpoint import CHECKPOINT_FILE, run_folder

    with pytest.raises(KeyboardInterrupt), run_folder(tmp_path / "run") as folder:
        (folder / CHECKPOINT_FILE).write_bytes(b"resumable")
        raise KeyboardInterrupt
    assert (tmp_path / "run" / CHECKPOINT_FILE).is_file()


# ----------------------------------------------------------------------------- specialists


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--classifier", "l3"], "l3: not a scene classifier (kind 'l3')"),
        (["--classifier", "unet"], "unet: not a scene classifier (kind 'onnx')"),
        (["--batch", "0"], "batch must be at least 1, not 0"),
        (["--threads", "-1"], "threads must be 1 to 256"),
    ],
)
def test_specialists_refuse_bad_options_in_one_line(tmp_path, monkeypatch, capsys, option, message):
    data = write_pairs(tmp_path / "data", count=2)
    command = ["train", "specialists", "--data", data, "-o", tmp_path / "r", "--general", "unet"]
    code, _, err = run_cli(monkeypatch, capsys, *command, *option)
    one_line(code, err, message)
    assert not (tmp_path / "r").exists()


def test_an_output_folder_that_cannot_be_made_is_one_line(tmp_path, monkeypatch, capsys):
    data = write_pairs(tmp_path / "data", count=2)
    (tmp_path / "a_file").write_text("not a folder")
    command = ["train", "cnn", "--data", data, "-o", tmp_path / "a_file" / "x", *TINY]
    code, _, err = run_cli(monkeypatch, capsys, *command)
    one_line(code, err, "cannot write")
    assert (tmp_path / "a_file").read_text() == "not a folder"
