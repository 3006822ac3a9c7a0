"""No command's output replaces its inputs or a folder of the user's files: ``evaluate``'s
``--json`` and ``--save-images``, ``detect``'s ``--json``, the model folders of ``train``,
``quantize`` and ``calibrate`` with ``--overwrite``; an empty input is refused."""

import pytest

from nircolor.errors import NircolorError
from nircolor.io.outputs import check_output_file, check_output_folder

from .helpers.cli import run_cli as run
from .helpers.data import write_manifest


def folder_bytes(folder):
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(code, err, *words):
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert all(word in err for word in words), err
    assert "Traceback" not in err


# ---------------------------------------------------------------- the shared checks


def test_an_output_file_is_never_an_input_nor_a_folder(tmp_path):
    source = tmp_path / "in" / "a.png"
    source.parent.mkdir()
    source.write_bytes(b"x")
    for target in (source, tmp_path / "in" / "new.json"):  # a file or inside an input folder
        with pytest.raises(NircolorError, match="is one of the inputs"):
            check_output_file(target, True, [tmp_path / "in"])
    with pytest.raises(NircolorError, match="is a folder"):
        check_output_file(f"{tmp_path}/out/", True)
    with pytest.raises(NircolorError, match="already exists"):
        check_output_file(source, False)
    assert check_output_file(tmp_path / "no" / "x.json", False) == tmp_path / "no" / "x.json"


def test_overwrite_replaces_only_an_earlier_output_that_holds_no_input(tmp_path):
    output = tmp_path / "out"
    (output / "sub").mkdir(parents=True)
    (output / "photo.jpg").write_bytes(b"mine")
    with pytest.raises(NircolorError, match="already exists"):
        check_output_folder(output, False)
    with pytest.raises(NircolorError, match="is one of the inputs"):
        check_output_folder(output, True, [output])
    with pytest.raises(NircolorError, match="holds"):
        check_output_folder(output, True, [output / "sub"])
    with pytest.raises(NircolorError, match="not an earlier output"):
        check_output_folder(output, True, is_ours=lambda folder: False)
    assert check_output_folder(output, True, [tmp_path / "elsewhere"]) == output


# ---------------------------------------------------------------- evaluate (defect 1)


@pytest.fixture
def evaluate_args(pair_tree, tiny_model):
    return ["evaluate", "-m", tiny_model, "--data", pair_tree, "--split", "all", "--limit", 2]


def test_evaluate_never_writes_over_an_input(monkeypatch, capsys, pair_tree, evaluate_args):
    row = {"nir": "pairs/country/0000_nir.png", "rgb": "pairs/country/0000_rgb.png"}
    manifest = write_manifest(pair_tree.parent, [row])
    before = folder_bytes(pair_tree)
    nir = pair_tree / "country" / "0000_nir.png"
    for option in (["--json", nir], ["--save-images", pair_tree]):
        code, _, err = run(monkeypatch, capsys, *evaluate_args, *option, "--overwrite")
        refused(code, err, "is one of the inputs")
    asked = [*evaluate_args, "--manifest", manifest, "--json", manifest, "--overwrite"]
    code, _, err = run(monkeypatch, capsys, *asked)
    refused(code, err, "is one of the inputs")
    assert folder_bytes(pair_tree) == before and manifest.read_text().startswith("nir,rgb")


def test_evaluate_replaces_its_outputs_only_with_overwrite(
    monkeypatch, capsys, tmp_path, evaluate_args
):
    kept, images = tmp_path / "keep.json", tmp_path / "si"
    kept.write_text("{}")
    (images / "country").mkdir(parents=True)
    (images / "country" / "0000.png").write_bytes(b"earlier")
    for option in (["--json", kept], ["--save-images", images], ["--json", f"{tmp_path}/"]):
        code, _, err = run(monkeypatch, capsys, *evaluate_args, *option)
        refused(code, err, "already exists" if option[0] != "--json" or option[1] == kept else "")
    assert kept.read_text() == "{}"
    assert (images / "country" / "0000.png").read_bytes() == b"earlier"
    code, _, err = run(monkeypatch, capsys, *evaluate_args, "--json", kept, "--overwrite")
    assert code == 0, err
    assert kept.read_text().startswith("{\n")


# ---------------------------------------------------------------- model folders (defect 2)


def test_train_over_its_pairs_is_refused(monkeypatch, capsys, pair_tree):
    before = folder_bytes(pair_tree)
    for args in (
        ["train", "l3", "--data", pair_tree, "-o", pair_tree, "--split", "all", "--overwrite"],
        ["train", "reverse", "--data", pair_tree, "-o", pair_tree, "--overwrite"],
    ):
        code, _, err = run(monkeypatch, capsys, *args)
        refused(code, err, "is one of the inputs")
    assert folder_bytes(pair_tree) == before


@pytest.mark.parametrize("command", ["quantize", "calibrate"])
def test_a_post_training_step_replaces_only_a_model_folder(
    monkeypatch, capsys, tmp_path, pair_tree, tiny_model, command
):
    pytest.importorskip("onnx") if command == "quantize" else None
    images = tmp_path / "photos"
    images.mkdir()
    (images / "holiday.jpg").write_bytes(b"mine")
    before = folder_bytes(tmp_path)
    cases = (
        (["cnn", "-o", pair_tree, "--data", pair_tree], "is one of the inputs"),
        (["cnn", "-o", images, "--data", pair_tree], "not an earlier output"),
        ([tiny_model, "-o", tmp_path, "--data", pair_tree], "holds"),
    )
    for args, words in cases:
        code, _, err = run(monkeypatch, capsys, command, *args, "--images", 1, "--overwrite")
        refused(code, err, words)
    assert folder_bytes(tmp_path) == before


# ---------------------------------------------------------------- detect --json (defect 3)


def test_detect_json_naming_a_folder_is_refused(monkeypatch, capsys, tmp_path, pair_tree):
    nir = pair_tree / "country" / "0000_nir.png"
    (tmp_path / "existing").mkdir()
    for target in (f"{tmp_path}/detdir/", tmp_path / "existing"):
        code, _, err = run(monkeypatch, capsys, "detect", nir, "--json", target)
        refused(code, err, "is a folder")
    assert not (tmp_path / "detdir").exists()


# ---------------------------------------------------------------- empty inputs (defect 4)


@pytest.mark.parametrize(
    "args", [["classify", ""], ["detect", ""], ["colorize", "", "-o", "o/"]], ids=lambda a: a[0]
)
def test_an_empty_input_is_refused(monkeypatch, capsys, tmp_path, pair_tree, args):
    monkeypatch.chdir(pair_tree)
    code, _, err = run(monkeypatch, capsys, *args)
    refused(code, err, "an input is empty")
    assert not (pair_tree / "o").exists()
