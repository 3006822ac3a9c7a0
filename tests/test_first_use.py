"""What a new user trips over (issue 26): one-line refusals that name what the user typed,
a readable --help and --version, and model cards whose commands anyone can run."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import nircolor
from nircolor.api import colorize, colorize_file
from nircolor.errors import ImageWriteError, ModelError
from nircolor.io import write_image
from nircolor.models import CARD_NAME, WEIGHTS_DIR

from .helpers import requires
from .helpers.cli import run_cli as run

REFUSAL = "classifier: a scene classifier cannot colorize"


@pytest.fixture
def nir_file(tmp_path) -> Path:
    path = tmp_path / "x.png"
    write_image(path, np.random.default_rng(0).random((24, 32)).astype(np.float32))
    return path


def one_line_error(code: int, err: str, text: str) -> None:
    assert code == 1 and text in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert "unexpected error" not in err and "Traceback" not in err


# ------------------------------------------------------------ a classifier cannot colorize


@pytest.mark.parametrize(
    "extra",
    [[], pytest.param(["--workers", "1"], marks=requires("distributed"))],
    ids=["local", "workers"],
)
def test_colorize_refuses_the_classifier_in_one_line(monkeypatch, capsys, nir_file, extra):
    out = nir_file.parent / "out"
    code, _, err = run(
        monkeypatch, capsys, "colorize", nir_file, "-o", f"{out}/", "-m", "classifier", *extra
    )
    one_line_error(code, err, REFUSAL)
    assert not out.exists()


def test_the_python_api_refuses_the_classifier_by_name_and_as_an_object(nir_file, tmp_path):
    nir = np.zeros((16, 16), np.float32)
    with pytest.raises(ModelError, match=f"^{REFUSAL}$"):
        colorize(nir, model="classifier")
    with pytest.raises(ModelError, match=f"^{REFUSAL}$"):
        colorize_file(nir_file, tmp_path / "y.png", model="classifier")
    with pytest.raises(ModelError, match="a scene classifier cannot colorize"):
        colorize(nir, model=nircolor.load_model("classifier"))


def test_evaluate_refuses_the_classifier_in_one_line(monkeypatch, capsys, pair_tree):
    code, _, err = run(monkeypatch, capsys, "evaluate", "-m", "classifier", "--data", pair_tree)
    one_line_error(code, err, REFUSAL)


@requires("matplotlib")
def test_report_refuses_the_classifier_in_one_line(monkeypatch, capsys, pair_tree, tmp_path):
    output = tmp_path / "report"
    args = ("report", "-m", "l3,classifier", "--data", pair_tree, "-o", output)
    code, _, err = run(monkeypatch, capsys, *args)
    one_line_error(code, err, REFUSAL)
    assert not output.exists()


def test_classify_still_takes_the_classifier(monkeypatch, capsys, nir_file):
    code, out, err = run(monkeypatch, capsys, "classify", nir_file)
    assert code == 0, err
    assert out.startswith(f"{nir_file}\t")


def test_an_unknown_model_lists_only_colorizers(monkeypatch, capsys, nir_file):
    code, _, err = run(monkeypatch, capsys, "colorize", nir_file, "-o", "y.png", "-m", "nosuch")
    one_line_error(code, err, "unknown model 'nosuch'")
    named = re.search(r"\(([^)]*)\)", err).group(1).split(", ")
    assert {"default", "l3", "unet", "vivid", "sharp"} <= set(named) and "classifier" not in named


# ------------------------------------------------------------ messages in the user's words


def test_a_folder_named_like_a_shipped_model_is_not_silently_the_shipped_one(
    monkeypatch, capsys, nir_file, tmp_path
):
    trained = tmp_path / "unet"  # as after 'nircolor train ... -o unet'
    trained.mkdir()
    for part in (WEIGHTS_DIR / "l3").iterdir():
        (trained / part.name).write_bytes(part.read_bytes())
    monkeypatch.chdir(tmp_path)
    code, _, err = run(monkeypatch, capsys, "colorize", nir_file, "-o", "a.png", "-m", "unet")
    one_line_error(code, err, "write ./unet for the folder")
    assert not (tmp_path / "a.png").exists()
    code, _, err = run(monkeypatch, capsys, "colorize", nir_file, "-o", "b.png", "-m", "./unet")
    assert code == 0, err
    assert nircolor.models.load_model("./unet").kind == "l3"


def test_an_empty_output_path_says_so(monkeypatch, capsys, nir_file):
    monkeypatch.chdir(nir_file.parent)  # where "" would have written
    before = nir_file.read_bytes()
    code, _, err = run(monkeypatch, capsys, "colorize", nir_file, "-o", "")
    one_line_error(code, err, "output path is empty")
    assert "one of the inputs" not in err
    assert nir_file.read_bytes() == before


def test_the_python_api_refuses_an_empty_output_path(monkeypatch, nir_file):
    monkeypatch.chdir(nir_file.parent)
    for write in (lambda: colorize_file(nir_file, ""), lambda: write_image("", np.zeros((4, 4)))):
        with pytest.raises(ImageWriteError, match="the output path is empty"):
            write()


def test_temperature_on_a_shipped_model_names_it_as_typed(monkeypatch, capsys, nir_file):
    args = ("colorize", nir_file, "-o", nir_file.parent / "o.png", "--temperature", "0.5")
    code, _, err = run(monkeypatch, capsys, *args)
    one_line_error(code, err, "default: a unet model has no temperature")
    assert str(WEIGHTS_DIR) not in err


def test_temperature_through_the_api_names_the_model_as_given():
    from nircolor.api import with_temperature

    with pytest.raises(ModelError, match="^unet: a unet model has no temperature"):
        with_temperature("unet", 0.5)


# ------------------------------------------------------------ help, version, package names


COMMANDS = [
    ["colorize"], ["models"], ["serve"], ["classify"], ["evaluate"], ["report"], ["train"],
    ["train", "unet"], ["train", "l3"], ["train", "specialists"], ["train", "reverse"],
    ["simulate"], ["simulate", "pairs"], ["simulate", "scenes"], [],
]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "nircolor")
def test_help_shows_no_python_type_placeholders(monkeypatch, capsys, command):
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run(monkeypatch, capsys, *command, "--help")
    assert code == 0
    assert not re.search(r"<(str|bool|list\[str\])>", out), out


def test_colorize_help_names_its_placeholders(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "200")
    _, out, _ = run(monkeypatch, capsys, "colorize", "--help")
    assert re.search(r"--model\s.*\bMODEL\b", out) and "INPUT" in out, out


def test_version_prints_the_package_version(monkeypatch, capsys):
    code, out, _ = run(monkeypatch, capsys, "--version")
    assert code == 0 and out == f"nircolor {nircolor.__version__}\n"


def test_the_package_exports_its_version_but_not_importlibs_names():
    assert isinstance(nircolor.__version__, str) and nircolor.__version__
    assert not hasattr(nircolor, "version") and not hasattr(nircolor, "PackageNotFoundError")


def test_evaluate_limit_scores_the_first_n_pairs(monkeypatch, capsys, pair_tree, tmp_path):
    scored = {}
    for limit in ([], ["--limit", "3"]):
        json_path = tmp_path / f"{len(limit)}.json"
        args = ("evaluate", "-m", "l3", "--data", pair_tree, "--json", json_path, *limit)
        code, _, err = run(monkeypatch, capsys, *args)
        assert code == 0, err
        scored[len(limit)] = [row["image"] for row in read_json(json_path)["images"]]
    assert scored[2] == scored[0][:3] and len(scored[0]) > 3
    code, _, err = run(
        monkeypatch, capsys, "evaluate", "-m", "l3", "--data", pair_tree, "--limit", "0"
    )
    one_line_error(code, err, "--limit must be at least 1")


def read_json(path: Path) -> dict:
    import json

    return json.loads(path.read_text())


# ------------------------------------------------------------ model cards


ABSOLUTE = re.compile(r"(?<![\w.])/(work|home|tmp|root|Users|mnt)/")


@pytest.mark.parametrize(
    "card", sorted(WEIGHTS_DIR.glob(f"*/{CARD_NAME}")), ids=lambda p: p.parent.name
)
def test_no_shipped_card_names_an_absolute_path(card):
    found = [line for line in card.read_text().splitlines() if ABSOLUTE.search(line)]
    assert not found, found


def test_a_card_gives_commands_without_the_machines_paths(tmp_path, monkeypatch):
    from nircolor.train.common import portable_command

    here = tmp_path / "checkout"
    here.mkdir()
    monkeypatch.chdir(here)
    typed = f"nircolor train unet --data {tmp_path}/data -o {here}/runs/m --init={here}/b --lr 1e-4"
    portable = portable_command(typed)
    assert portable == "nircolor train unet --data ../data -o runs/m --init=b --lr 1e-4"
    as_typed = "nircolor train l3 --data ../shared/data -o 'my model'"
    assert portable_command(as_typed) == as_typed


def test_a_trained_card_gives_the_paths_relative_to_where_it_ran(
    monkeypatch, capsys, pair_tree, tmp_path
):
    monkeypatch.chdir(tmp_path)
    model = tmp_path / "model"
    code, _, err = run(monkeypatch, capsys, "train", "l3", "--data", pair_tree, "-o", model)
    assert code == 0, err
    card = (model / CARD_NAME).read_text()
    assert "- data: `pairs`" in card and "--data pairs -o model" in card, card
    assert str(tmp_path) not in card


# ------------------------------------------------------------ the web page's model menu


@requires("fastapi")
@pytest.mark.parametrize(
    ("served", "labels"),
    [
        ("default", {"default": "default (sharp)", "faithful": "faithful (unet)", "l3": "l3"}),
        ("l3", {"default": "default (sharp)", "l3": "l3 — server default"}),
    ],
)
def test_the_model_menu_names_the_default_once(served, labels):
    from nircolor.serve.registry import ModelRegistry

    described = {m["name"]: m["label"] for m in ModelRegistry(served).describe()}
    assert {name: described[name] for name in labels} == labels
    assert all(label.count("default") <= 1 for label in described.values()), described


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["colorize", "x.png", "-o", "y.png", "--tile", "abc"], "Invalid value for '--tile'"),
        (["colorize", "x.png", "-o", "y.png", "--no-such-option"], "No such option"),
        (["no-such-command"], "No such command"),
    ],
)
def test_a_usage_error_is_one_line_naming_the_help(monkeypatch, capsys, args, words):
    code, _, err = run(monkeypatch, capsys, *args)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: ") and words in err and "--help" in err, err


def test_nircolor_alone_shows_its_help(monkeypatch, capsys):
    code, out, err = run(monkeypatch, capsys)
    assert code == 2 and "Usage:" in out + err and "colorize" in out + err  # as Click does
