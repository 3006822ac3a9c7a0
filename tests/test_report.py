"""nircolor report: documents, agreement with evaluate, figures, bad inputs."""

import json
import re
import sys

import numpy as np
import pytest

from nircolor.data import Pair, load_dataset
from nircolor.errors import MissingExtraError
from nircolor.evaluate import Evaluation
from nircolor.report import (
    ChannelHistogram,
    build_report,
    choose_images,
    load_colorizer,
    require_matplotlib,
    worst_images,
)

from .helpers import requires
from .helpers.cli import run_cli as run

REPORT = requires("matplotlib")
"""Drawing a report needs the 'report' extra; its absence and the plain numbers do not."""


def report_cli(monkeypatch, capsys, models, data, output, *extra):
    return run(
        monkeypatch,
        capsys,
        "report",
        "--models",
        ",".join(map(str, models)),
        "--data",
        data,
        "-o",
        output,
        "--split",
        "all",
        *extra,
    )


def without_times(document: dict) -> dict:
    images = [{k: v for k, v in row.items() if k != "ms"} for row in document["images"]]
    return {**{k: document[k] for k in ("summary", "categories", "collections")}, "images": images}


def one_line_error(code, err) -> bool:
    return code == 1 and len(err.strip().splitlines()) == 1 and err.startswith("error")


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture
def written_report(monkeypatch, capsys, pair_tree, tiny_model, tmp_path):
    output = tmp_path / "report"
    code, out, err = report_cli(
        monkeypatch, capsys, [tiny_model, "l3"], pair_tree, output, "--limit", "7"
    )
    assert code == 0, err
    assert "ms/image" in out and "wrote" in err
    return output


@REPORT
def test_report_writes_documents_whose_numbers_are_evaluates(
    monkeypatch, capsys, written_report, pair_tree, tiny_model, tmp_path
):
    assert {"report.md", "report.html", "metrics.json", "metrics.md", "img"} == {
        p.name for p in written_report.iterdir()
    }
    document = json.loads((written_report / "metrics.json").read_text())
    assert list(document["models"]) == [str(tiny_model), "l3"]
    assert document["split"] == "all"
    for index, model in enumerate((str(tiny_model), "l3")):
        json_path = tmp_path / f"evaluate{index}.json"  # evaluate never replaces a file
        code, _, err = run(
            monkeypatch,
            capsys,
            "evaluate",
            "--model",
            model,
            "--data",
            pair_tree,
            "--split",
            "all",
            "--json",
            json_path,
        )
        assert code == 0, err
        evaluated = json.loads(json_path.read_text())
        reported = document["models"][model]
        # evaluate scores all 12 pairs; the report the first 7 (--limit 7).
        evaluated["images"] = evaluated["images"][:7]
        assert reported["images"] == [
            {**row, "ms": reported["images"][i]["ms"]} for i, row in enumerate(evaluated["images"])
        ]
        recomputed = Evaluation(model, [dict(r) for r in evaluated["images"]]).to_json()
        assert without_times(reported) == without_times(recomputed)
        assert reported["ms_per_image"] == pytest.approx(
            np.mean([r["ms"] for r in reported["images"]])
        )
    markdown = (written_report / "report.md").read_text()
    html = (written_report / "report.html").read_text()
    for text in (markdown, html):
        for heading in ("Summary", "Per category", "per channel", "Worst images"):
            assert heading in text
        summary = document["models"]["l3"]["summary"]
        assert f"{summary['psnr']:.2f}" in text and f"{summary['de00']:.2f}" in text
        assert "Colour ratio" in text and "Hue acc" in text
        assert f"{summary['colourfulness_ratio']:.2f}" in text
        assert f"{summary['hue_acc']:.3f}" in text
        assert "Detail ratio" in text and f"{summary['gmsd']:.3f}" in text
        grey = document["nir_as_grey"]["summary"]
        assert "NIR shown as grey" in text and f"{grey['gmsd']:.3f}" in text
    # The grey reference is evaluate's, on the report's 7 pairs.
    assert document["nir_as_grey"]["images"] == evaluated["nir_as_grey"]["images"][:7]


@REPORT
def test_report_html_and_markdown_reference_only_files_beside_them(written_report):
    html = (written_report / "report.html").read_text()
    markdown = (written_report / "report.md").read_text()
    links = re.findall(r'(?:src|href)="([^"]*)"', html)
    links += re.findall(r"!\[[^\]]*\]\(([^)]*)\)", markdown)
    images = [link for link in links if not link.startswith("#")]
    assert images, "the report shows no figure"
    for link in images:
        assert not re.match(r"^[a-z]+:", link), f"{link}: the report must work offline"
        assert (written_report / link).is_file(), link
    assert "<script" not in html
    anchors = re.findall(r'href="#([^"]+)"', html)
    assert all(f'id="{anchor}"' in html for anchor in anchors)
    pngs = {p.name for p in (written_report / "img").iterdir()}
    assert "channels.png" in pngs and len(pngs) >= 3
    assert all((written_report / "img" / p).read_bytes()[:4] == b"\x89PNG" for p in pngs)


@REPORT
def test_report_ships_the_metric_definitions_it_links(written_report):
    from importlib.resources import files

    definitions = files("nircolor").joinpath("docs", "metrics.md").read_text(encoding="utf-8")
    assert definitions.startswith("# Metric definitions")
    assert (written_report / "metrics.md").read_text(encoding="utf-8") == definitions
    assert "[metrics.md](metrics.md)" in (written_report / "report.md").read_text()
    assert 'href="metrics.md"' in (written_report / "report.html").read_text()


@REPORT
def test_report_without_a_split_scores_every_pair_and_says_which(
    monkeypatch, capsys, pair_tree, tiny_model, tmp_path
):
    output = tmp_path / "report"
    code, out, err = run(
        monkeypatch, capsys, "report", "-m", tiny_model, "--data", pair_tree, "-o", output
    )
    assert code == 0, err
    assert f"data {pair_tree}: no manifest (file names); split all (every pair): 12 pairs" in err
    document = json.loads((output / "metrics.json").read_text())
    assert document["split"] == "all" and document["manifest"] is None
    assert document["models"][str(tiny_model)]["summary"]["n"] == 12


@REPORT
def test_report_rejects_bad_inputs_with_one_line_and_writes_nothing(
    monkeypatch, capsys, pair_tree, tiny_model, tmp_path
):
    output = tmp_path / "out"
    code, _, err = report_cli(monkeypatch, capsys, ["nosuchmodel"], pair_tree, output)
    assert one_line_error(code, err) and "nosuchmodel" in err
    assert not output.exists()

    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = report_cli(monkeypatch, capsys, ["l3"], empty, output)
    assert one_line_error(code, err) and "no NIR/RGB pairs" in err
    assert not output.exists()

    output.mkdir()
    (output / "keep.txt").write_text("mine")
    code, _, err = report_cli(monkeypatch, capsys, ["l3"], pair_tree, output)
    assert one_line_error(code, err) and "--overwrite" in err
    assert [p.name for p in output.iterdir()] == ["keep.txt"]

    for args in (["--limit", "0"], ["--threads", "0"], ["--threads", "100000"]):
        code, _, err = report_cli(monkeypatch, capsys, ["l3"], pair_tree, output, *args)
        assert one_line_error(code, err)
    code, _, err = report_cli(monkeypatch, capsys, ["l3", "l3"], pair_tree, output)
    assert one_line_error(code, err) and "more than once" in err
    # --overwrite never replaces a folder holding the data (or the current folder).
    code, _, err = report_cli(
        monkeypatch, capsys, ["l3"], pair_tree, pair_tree.parent, "--overwrite"
    )
    assert one_line_error(code, err) and "refusing" in err
    assert pair_tree.is_dir()
    assert leftovers(tmp_path) == []


@REPORT
def test_report_overwrites_only_when_asked(monkeypatch, capsys, pair_tree, tmp_path):
    output = tmp_path / "out"
    output.mkdir()  # an empty folder may be filled
    args = ("--limit", "2")
    code, _, err = report_cli(monkeypatch, capsys, ["l3"], pair_tree, output, *args)
    assert code == 0, err
    (output / "stale.txt").write_text("old")
    code, _, err = report_cli(monkeypatch, capsys, ["l3"], pair_tree, output, *args, "--overwrite")
    assert code == 0, err
    assert not (output / "stale.txt").exists() and (output / "report.html").is_file()
    assert leftovers(tmp_path) == []


def test_missing_matplotlib_is_one_line_with_the_install_command(
    monkeypatch, capsys, pair_tree, tmp_path
):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    with pytest.raises(MissingExtraError):
        require_matplotlib()
    code, _, err = report_cli(monkeypatch, capsys, ["l3"], pair_tree, tmp_path / "out")
    assert one_line_error(code, err) and "pip install 'nircolor[report]'" in err
    assert not (tmp_path / "out").exists()


@REPORT
def test_threads_give_the_same_numbers(pair_tree, tmp_path):
    pairs = load_dataset(pair_tree, split="all")[:3]
    free = build_report(["l3"], pairs, tmp_path / "a", n_chosen=1, n_worst=0)
    bound = build_report(["l3"], pairs, tmp_path / "b", threads=1, n_chosen=1, n_worst=0)
    for a, b in zip(free.evaluations["l3"].images, bound.evaluations["l3"].images, strict=True):
        assert {k: v for k, v in a.items() if k != "ms"} == {
            k: v for k, v in b.items() if k != "ms"
        }
    assert load_colorizer("l3", threads=1).kind == "l3"
    assert load_colorizer("cnn", threads=1).session.get_session_options().intra_op_num_threads == 1


def test_channel_histogram_counts_every_pixel_in_its_8_bit_bin():
    levels = np.arange(256, dtype=np.float32) / 255
    true = np.stack([levels, levels, levels[::-1]], axis=-1)[None].repeat(2, axis=0)
    histogram = ChannelHistogram()
    histogram.add(true, true)
    assert histogram.counts.sum() == 3 * true.shape[0] * true.shape[1]
    assert (np.diag(histogram.counts[0]) == 2).all()  # level k lands in bin (k, k)
    assert (np.diag(histogram.counts[2]) == 2).all()
    assert histogram.rmse == pytest.approx([0, 0, 0])
    centres, means = histogram.mean_prediction(0, min_count=1)
    assert len(centres) == 256 and np.allclose(means, centres)

    pred = np.clip(true + 0.1, 0, 1)
    shifted = ChannelHistogram()
    shifted.add(pred, true)
    error = pred.astype(np.float64) - true
    assert shifted.rmse == pytest.approx(np.sqrt((error**2).mean(axis=(0, 1))))


def test_chosen_and_worst_images_are_deterministic():
    def pair(name, category):
        return Pair(name, None, None, category, name)

    pairs = [pair("a", "x"), pair("b", "x"), pair("c", "y"), pair("d", "z")]
    assert [p.id for p in choose_images(pairs)] == ["a", "c", "d"]
    assert [p.id for p in choose_images(pairs, limit=2)] == ["a", "c"]
    first = Evaluation("m", [{"de00": v} for v in (1.0, 5.0, 3.0, 5.0)])
    second = Evaluation("n", [{"de00": v} for v in (1.0, 1.0, 1.0, 3.0)])
    assert [p.id for p in worst_images([first, second], pairs, 2)] == ["d", "b"]
    assert worst_images([first], pairs, 0) == []


@pytest.mark.parametrize("pairs", ["abc", b"abc", 3, None, ["a.png"], (p for p in ())])
def test_evaluate_refuses_pairs_that_are_not_a_sequence_of_pair(pairs):
    from nircolor.evaluate import evaluate_grey, evaluate_model

    # A string used to fail deep inside with AttributeError: 'str' object has no attribute 'nir'.
    # The check comes first: even before the (here unknown) model is looked up.
    with pytest.raises(TypeError, match=r"pairs must be a sequence of nircolor\.data\.Pair"):
        evaluate_model("no-such-model", pairs)
    with pytest.raises(TypeError, match=r"pairs must be a sequence of nircolor\.data\.Pair"):
        evaluate_grey(pairs)
