"""The command line, run in-process through its real entry point."""

import csv
import json
import shlex
import subprocess
from pathlib import Path

import numpy as np
import pytest

from nircolor.io import read_image, read_raw, to_uint, write_image

from .helpers.cli import error_of_one_failed_input
from .helpers.cli import run_cli as run
from .helpers.data import write_manifest
from .helpers.vines import hue_distance_deg, mean_hue_deg, true_vine_hue, vine_mask

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO.parent / "shared" / "data"
TRUE_VINE_HUE_DEG = 123.4
"""CIELAB hue of the bundled example's vines in the true EPFL photo, measured by
``PYTHONPATH=src python -m tests.helpers.vines ../shared/data``."""


@pytest.fixture
def trained_model(pair_tree, tmp_path, monkeypatch, capsys):
    model = tmp_path / "model"
    code, _, err = run(
        monkeypatch, capsys, "train", "l3", "--data", pair_tree, "-o", model, "--split", "all"
    )
    assert code == 0, err
    return model


@pytest.fixture
def nir_files(tmp_path):
    folder = tmp_path / "in"
    rng = np.random.default_rng(0)
    for name in ("a", "b", "c"):
        write_image(folder / f"{name}.png", rng.random((24, 32)).astype(np.float32))
    return folder


def snapshot(folder):
    if not folder.exists():
        return None
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_train_writes_a_loadable_model(trained_model):
    config = json.loads((trained_model / "config.json").read_text())
    assert config["kind"] == "l3"


def test_colorize_folder(monkeypatch, capsys, trained_model, nir_files, tmp_path):
    out = tmp_path / "out"
    code, _, err = run(
        monkeypatch, capsys, "colorize", nir_files, "-o", out, "--model", trained_model
    )
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", "c.png"]
    assert read_image(out / "a.png").shape == (24, 32, 3)


def test_colorize_one_file_to_file_with_guided_filter_and_16_bit(
    monkeypatch, capsys, trained_model, nir_files, tmp_path
):
    target = tmp_path / "one.tif"
    code, _, err = run(
        monkeypatch,
        capsys,
        "colorize",
        nir_files / "a.png",
        "-o",
        target,
        "--model",
        trained_model,
        "--guided",
        "2,1e-3",
        "--bit-depth",
        "16",
    )
    assert code == 0, err
    assert read_image(target).shape == (24, 32, 3)


def test_colorize_glob(monkeypatch, capsys, trained_model, nir_files, tmp_path):
    out = tmp_path / "out"
    code, _, err = run(
        monkeypatch,
        capsys,
        "colorize",
        str(nir_files / "[ab].png"),
        "-o",
        out,
        "--model",
        trained_model,
    )
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]


def test_existing_output_is_kept_without_overwrite(
    monkeypatch, capsys, trained_model, nir_files, tmp_path
):
    target = tmp_path / "a.png"
    target.write_bytes(b"mine")
    code, _, err = run(
        monkeypatch, capsys, "colorize", nir_files / "a.png", "-o", target, "--model", trained_model
    )
    assert code == 1 and "already exists" in err
    assert target.read_bytes() == b"mine"
    code, _, _ = run(
        monkeypatch,
        capsys,
        "colorize",
        nir_files / "a.png",
        "-o",
        target,
        "--model",
        trained_model,
        "--overwrite",
    )
    assert code == 0 and read_image(target).shape == (24, 32, 3)


def make_bad_input(kind, folder):
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "text":
        path = folder / "notes.png"
        path.write_text("not an image\n")
    elif kind == "empty":
        path = folder / "empty.png"
        path.write_bytes(b"")
    elif kind == "truncated":
        path = write_image(
            folder / "cut.png", np.random.default_rng(1).random((64, 64)).astype(np.float32)
        )
        path.write_bytes(path.read_bytes()[:300])
    elif kind == "colour":
        path = write_image(
            folder / "colour.png", np.random.default_rng(2).random((16, 16, 3)).astype(np.float32)
        )
    return path


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("text", "not an image"),
        ("empty", "empty"),
        ("truncated", "cannot decode"),
        ("colour", "colour image"),
    ],
)
def test_bad_input_gives_one_line_and_leaves_output_alone(
    monkeypatch, capsys, trained_model, tmp_path, kind, message
):
    bad = make_bad_input(kind, tmp_path / "bad")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.png").write_bytes(b"old")
    before = snapshot(out)
    code, _, err = run(monkeypatch, capsys, "colorize", bad, "-o", out, "--model", trained_model)
    assert code == 1
    assert message in error_of_one_failed_input(err)
    assert snapshot(out) == before


def test_missing_model_is_one_line_error_and_nothing_is_written(
    monkeypatch, capsys, nir_files, tmp_path
):
    out = tmp_path / "out"
    code, _, err = run(
        monkeypatch, capsys, "colorize", nir_files, "-o", out, "--model", tmp_path / "nope"
    )
    assert code == 1 and "unknown model" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_missing_input_and_bad_guided(monkeypatch, capsys, trained_model, tmp_path):
    code, _, err = run(
        monkeypatch,
        capsys,
        "colorize",
        tmp_path / "nothing.png",
        "-o",
        tmp_path / "o",
        "--model",
        trained_model,
    )
    assert code == 1 and "no such file" in err
    code, _, err = run(
        monkeypatch,
        capsys,
        "colorize",
        tmp_path,
        "-o",
        tmp_path / "o",
        "--model",
        trained_model,
        "--guided",
        "x",
    )
    assert code == 1 and "--guided" in err


def test_one_bad_file_among_good_ones(monkeypatch, capsys, trained_model, nir_files, tmp_path):
    make_bad_input("text", nir_files)
    out = tmp_path / "out"
    code, _, err = run(
        monkeypatch, capsys, "colorize", nir_files, "-o", out, "--model", trained_model
    )
    assert code == 1
    assert "3 done, 0 skipped, 1 failed" in err
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", "c.png"]


def test_evaluate_prints_table_and_writes_json(
    monkeypatch, capsys, trained_model, pair_tree, tmp_path
):
    json_path = tmp_path / "m.json"
    images = tmp_path / "pred"
    code, out, err = run(
        monkeypatch,
        capsys,
        "evaluate",
        "--model",
        trained_model,
        "--data",
        pair_tree,
        "--split",
        "val",
        "--json",
        json_path,
        "--save-images",
        images,
    )
    assert code == 0, err
    assert "PSNR" in out and "country" in out
    assert "Colour ratio" in out and "Hue acc" in out
    assert "Detail ratio" in out and "GMSD" in out and "NIR shown as grey" in out
    result = json.loads(json_path.read_text())
    assert set(result["summary"]) >= {"psnr", "ssim", "ae", "de76", "de00", "mse", "n"}
    assert 0 < result["summary"]["colourfulness_ratio"] and 0 <= result["summary"]["hue_acc"] <= 1
    assert {"colourfulness", "colourfulness_true", "hue_hits", "hue_pixels"} <= set(
        result["images"][0]
    )
    assert result["summary"]["n"] == len(result["images"]) > 0
    grey = result["nir_as_grey"]  # the floor, scored on the same pairs
    assert grey["model"] == "NIR shown as grey" and grey["summary"]["n"] == result["summary"]["n"]
    assert [r["image"] for r in grey["images"]] == [r["image"] for r in result["images"]]
    assert grey["summary"]["colourfulness_ratio"] == pytest.approx(0.0, abs=1e-6)
    assert 0 < result["summary"]["detail_ratio"] and 0 <= result["summary"]["gmsd"] < 0.5
    assert {"detail", "detail_true"} <= set(result["images"][0])
    assert {"image", "category", "psnr"} <= set(result["images"][0])
    assert len(list(images.rglob("*.png"))) == result["summary"]["n"]
    # The synthetic RGB is a smooth function of the NIR: L3 must learn it well.
    assert result["summary"]["psnr"] > 30


def test_models_lists_shipped_models(monkeypatch, capsys):
    code, out, _ = run(monkeypatch, capsys, "models")
    assert code == 0
    assert "l3" in out and "default" in out


def test_usage_error_has_no_traceback(monkeypatch, capsys):
    code, _, err = run(monkeypatch, capsys, "colorize")
    assert code == 2 and "Traceback" not in err


def test_default_model_colorizes_the_bundled_example(monkeypatch, capsys, tmp_path):
    # The README's first command, on its real vineyard (NIR-bright vines under a pale sky).
    from nircolor.examples import EXAMPLE_NIR

    target = tmp_path / "example_rgb.png"
    code, _, err = run(monkeypatch, capsys, "colorize", EXAMPLE_NIR, "-o", target)
    assert code == 0, err
    rgb = read_image(target)
    assert rgb.shape == (256, 384, 3)
    assert np.ptp(rgb, axis=2).mean() > 0.05  # colour, not grey
    # The NIR-bright vines: the true photo's mean hue within 30° (orange or brown is not).
    vines = mean_hue_deg(rgb, vine_mask(read_image(EXAMPLE_NIR)))
    assert hue_distance_deg(vines, TRUE_VINE_HUE_DEG) <= 30.0, vines
    sky = rgb[:20, :120].reshape(-1, 3).mean(axis=0)
    assert sky[2] > sky[0] + 0.01  # bluish sky


def test_the_vine_hue_check_tells_green_from_orange_and_brown():
    from nircolor.examples import EXAMPLE_NIR

    mask = vine_mask(read_image(EXAMPLE_NIR))
    painted = np.full((*mask.shape, 3), 0.5, dtype=np.float32)
    for colour, passes in (
        ((0.55, 0.65, 0.45), True),
        ((0.9, 0.55, 0.1), False),
        ((0.45, 0.3, 0.15), False),
    ):
        painted[mask] = colour
        assert (hue_distance_deg(mean_hue_deg(painted, mask), TRUE_VINE_HUE_DEG) <= 30.0) == passes
    if (REAL_DATA / "MANIFEST.csv").is_file():  # the constant is what the command measures
        assert true_vine_hue(REAL_DATA) == pytest.approx(TRUE_VINE_HUE_DEG, abs=0.05)


def test_bundled_example_is_a_small_real_epfl_train_image():
    from nircolor.examples import EXAMPLE_NIR, EXAMPLE_SOURCE, make_example_from

    assert EXAMPLE_NIR.stat().st_size <= 100_000
    rows = REAL_DATA / "MANIFEST.csv"
    if not rows.is_file():
        pytest.skip("no ../shared/data")
    (row,) = [r for r in csv.DictReader(rows.open()) if r["nir"] == EXAMPLE_SOURCE]
    assert row["split"] == "train"  # never a validation image
    remade = to_uint(make_example_from(REAL_DATA))
    np.testing.assert_array_equal(read_raw(EXAMPLE_NIR), remade)


def test_readme_first_command_writes_where_git_ignores(tmp_path):
    readme = (REPO / "README.md").read_text()
    first = readme.split("```bash\n", 1)[1].splitlines()[0]
    output = shlex.split(first.rsplit("&&", 1)[1])[-1]
    assert first.split("&&")[-1].split()[:2] == ["nircolor", "colorize"], first
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    done = subprocess.run(["git", "check-ignore", "-q", output], cwd=REPO, check=False)
    assert done.returncode == 0, f"{output} is not ignored by git"


def test_l3_renders_the_vines_with_little_blue(monkeypatch, capsys, tmp_path):
    from nircolor.examples import EXAMPLE_NIR

    target = tmp_path / "example_rgb.png"
    code, _, err = run(monkeypatch, capsys, "colorize", EXAMPLE_NIR, "-o", target, "--model", "l3")
    assert code == 0, err
    vines = read_image(target)[128:].reshape(-1, 3).mean(axis=0)
    assert vines[2] < vines[1] - 0.04


def test_tile_option_streams_and_gives_the_same_image(monkeypatch, capsys, tmp_path):
    from nircolor.examples import EXAMPLE_NIR

    whole, tiled = tmp_path / "whole.png", tmp_path / "tiled.png"
    l3 = ("--model", "l3")
    assert run(monkeypatch, capsys, "colorize", EXAMPLE_NIR, "-o", whole, *l3)[0] == 0
    code, _, err = run(
        monkeypatch, capsys, "colorize", EXAMPLE_NIR, "-o", tiled, "--tile", "40", *l3
    )
    assert code == 0, err
    # L3 is local: row bands are exact (the streamed PNG is encoded differently, same pixels)
    np.testing.assert_array_equal(read_image(tiled), read_image(whole))
    code, _, err = run(
        monkeypatch, capsys, "colorize", EXAMPLE_NIR, "-o", tmp_path / "x.png", "--tile", "3"
    )
    assert code == 1 and "--tile" in err


def test_shipped_classifier_names_a_scene_category(monkeypatch, capsys):
    from nircolor import load_model
    from nircolor.examples import EXAMPLE_NIR

    categories = load_model("classifier").categories
    assert len(categories) == 9
    code, out, err = run(monkeypatch, capsys, "classify", EXAMPLE_NIR)
    assert code == 0, err
    path, category, confidence = out.strip().split("\t")
    assert path == str(EXAMPLE_NIR) and category in categories
    assert 1 / len(categories) <= float(confidence) <= 1


def test_the_classifier_looks_at_a_copy_of_bounded_size(monkeypatch):
    from nircolor import load_model
    from nircolor.models.onnx import CLASSIFY_SIDE, OnnxNet

    seen = []
    real_run = OnnxNet.run
    monkeypatch.setattr(OnnxNet, "run", lambda self, nir: seen.append(nir) or real_run(self, nir))
    classifier = load_model("classifier")
    small = np.random.default_rng(0).random((300, 500)).astype(np.float32)
    classifier.classify(small)
    assert seen[-1] is small  # an image up to CLASSIFY_SIDE is classified as it is
    classifier.classify(np.zeros((2 * CLASSIFY_SIDE + 10, 100), np.float32))
    assert seen[-1].shape == (CLASSIFY_SIDE, 50)  # a larger one shrunk first, aspect kept


def test_shipped_cnn_has_its_guided_filter():
    from nircolor import load_model

    assert load_model("cnn").guided is not None  # chosen by the sweep at training time


@pytest.mark.parametrize("model", ["cnn", "fusion"])
def test_shipped_learned_models_colorize(monkeypatch, capsys, tmp_path, model):
    from nircolor.examples import EXAMPLE_NIR

    target = tmp_path / f"{model}.png"
    code, _, err = run(monkeypatch, capsys, "colorize", EXAMPLE_NIR, "-o", target, "--model", model)
    assert code == 0, err
    rgb = read_image(target)
    assert rgb.shape == (256, 384, 3) and np.ptp(rgb, axis=2).mean() > 0.01  # not grey


def test_python_dash_m_nircolor_runs_the_command():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "nircolor", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "colorize" in done.stdout and "python -m nircolor" in done.stdout


def test_evaluate_without_a_manifest_scores_every_pair_and_says_so(
    monkeypatch, capsys, trained_model, pair_tree, tmp_path
):
    json_path = tmp_path / "m.json"
    args = ("evaluate", "--model", trained_model, "--data", pair_tree, "--json", json_path)
    code, _, err = run(monkeypatch, capsys, *args)
    assert code == 0, err
    assert json.loads(json_path.read_text())["summary"]["n"] == 12  # not a seeded 'val' few
    assert f"data {pair_tree}: no manifest (file names); split all (every pair): 12 pairs" in err


def test_evaluate_uses_a_manifest_above_data_only_when_given(
    monkeypatch, capsys, trained_model, pair_tree
):
    rows = [
        {
            "nir": f"{category}/{scene:04d}_nir.png",
            "rgb": f"{category}/{scene:04d}_{'rgb_reg' if scene % 2 else 'rgb'}.png",
            "split": "val" if scene == 3 else "train",
        }
        for category in ("country", "forest", "urban")
        for scene in range(4)
    ]
    manifest = write_manifest(pair_tree, rows)
    forest = pair_tree / "forest"
    code, _, err = run(monkeypatch, capsys, "evaluate", "-m", trained_model, "--data", forest)
    assert code == 0, err
    assert "no manifest (file names); split all (every pair): 4 pairs" in err
    code, _, err = run(
        monkeypatch,
        capsys,
        "evaluate",
        "-m",
        trained_model,
        "--data",
        forest,
        "--manifest",
        manifest,
    )
    assert code == 0, err
    assert f"manifest {manifest}; split val (the manifest's split column): 1 pair" in err


def help_text(out: str) -> str:
    """A command's --help as one line of words (the frame and the wrapping removed)."""
    return " ".join(out.replace("│", " ").split())


@pytest.mark.parametrize("command", [("evaluate",), ("report",), ("train", "l3")])
def test_split_help_names_every_split(monkeypatch, capsys, command):
    from nircolor.data import SPLITS

    code, out, _ = run(monkeypatch, capsys, *command, "--help")
    assert code == 0
    split_help = help_text(out).split("--split", 1)[1][:200]
    assert all(split in split_help for split in SPLITS), split_help


def test_train_l3_help_does_not_demand_a_manifest(monkeypatch, capsys):
    code, out, _ = run(monkeypatch, capsys, "train", "l3", "--help")
    assert code == 0 and "with MANIFEST.csv" not in help_text(out)


@pytest.mark.parametrize(
    ("arch", "batch", "patch"), [("unet", 8, 128), ("cnn", 16, 64), ("classifier", 16, 192)]
)
def test_train_net_help_shows_only_its_own_defaults(monkeypatch, capsys, arch, batch, patch):
    code, out, _ = run(monkeypatch, capsys, "train", arch, "--help")
    text = help_text(out)
    assert code == 0
    assert f"[default: {batch}]" in text.split("--batch", 1)[1][:120]
    assert f"[default: {patch}]" in text.split("--patch", 1)[1][:120]
    others = {"cnn", "unet", "fusion", "classifier"} - {arch}
    assert not [name for name in others if f"{name} " in text.split("Options", 1)[1]], text


def test_model_sizes_in_the_readme_are_those_of_nircolor_models(monkeypatch, capsys):
    readme = (REPO / "README.md").read_text()
    code, out, _ = run(monkeypatch, capsys, "models")
    assert code == 0
    listed = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if len(cells) >= 3 and cells[0] in ("unet", "l3", "cnn", "fusion", "classifier"):
            listed[cells[0]] = cells[2]
    assert len(listed) == 5, out
    for name, size in listed.items():
        row = next(r for r in readme.splitlines() if r.startswith(f"| `{name}`"))
        assert f"| {size} |" in row, (name, size, row)
