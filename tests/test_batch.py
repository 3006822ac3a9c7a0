"""Batches: many files, bad files among them, resumable runs (``nircolor colorize``)."""

import numpy as np
import pytest

from nircolor.batch import (
    DONE,
    FAILED,
    SKIPPED,
    Job,
    Options,
    expand_inputs,
    plan,
    plan_outputs,
    run_batch,
)
from nircolor.errors import NircolorError
from nircolor.io import read_image, write_image
from nircolor.models.l3 import L3Model

from .helpers.cli import run_cli as run

BROKEN = {20: "text", 25: "empty", 30: "truncated"}


def make_batch(folder, n=50, broken=BROKEN):
    """``n`` small NIR images named 000.png...; the indices in ``broken`` are bad files."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        path = folder / f"{i:03d}.png"
        kind = broken.get(i)
        if kind == "text":
            path.write_text("not an image\n")
        elif kind == "empty":
            path.write_bytes(b"")
        elif kind == "truncated":
            write_image(path, rng.random((64, 64)).astype(np.float32))
            path.write_bytes(path.read_bytes()[:300])
        else:
            write_image(path, rng.random((12, 16)).astype(np.float32))
    return folder


def outputs(folder):
    return {
        p.relative_to(folder): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def summary_block(err):
    """The lines from the summary line on (the per-file error lines come before it)."""
    lines = err.splitlines()
    start = next(i for i, line in enumerate(lines) if " done, " in line)
    return lines[start:]


def test_batch_with_broken_files_then_resume_does_no_work_twice(
    monkeypatch, capsys, tmp_path, tiny_model, predict_calls
):
    inputs = make_batch(tmp_path / "in")
    out = tmp_path / "out"

    code, _, err = run(monkeypatch, capsys, "colorize", inputs, "-o", out, "-m", tiny_model)

    assert code == 1
    good = sorted(f"{i:03d}.png" for i in range(50) if i not in BROKEN)
    assert sorted(p.name for p in out.iterdir()) == good  # 47 outputs, no temp files
    assert all(read_image(out / name).shape == (12, 16, 3) for name in good)
    assert len(predict_calls) == 47
    # One error line per bad file, as it happens...
    errors = [line for line in err.splitlines() if line.startswith("error")]
    assert len(errors) == 3
    for index, message in zip(BROKEN, ("not an image", "empty", "cannot decode"), strict=True):
        assert any(f"{index:03d}.png" in line and message in line for line in errors)
    # ...and again under the summary line, so they are not lost in a long run.
    block = summary_block(err)
    assert block[0] == "47 done, 0 skipped, 3 failed"
    assert block[1] == "failed:"
    assert [line.strip().split(":")[0] for line in block[2:]] == [
        str(inputs / f"{i:03d}.png") for i in BROKEN
    ]
    assert "Traceback" not in err

    # Resume: nothing that exists is recomputed or rewritten; the bad files fail again.
    before = outputs(out)
    predict_calls.clear()
    code, _, err = run(
        monkeypatch, capsys, "colorize", inputs, "-o", out, "-m", tiny_model, "--skip-existing"
    )
    assert code == 1
    assert summary_block(err)[0] == "0 done, 47 skipped, 3 failed"
    assert predict_calls == []
    assert outputs(out) == before

    # An interrupted run: some outputs are missing; only those are computed.
    for i in (1, 2, 49):
        (out / f"{i:03d}.png").unlink()
    code, _, err = run(
        monkeypatch, capsys, "colorize", inputs, "-o", out, "-m", tiny_model, "--skip-existing"
    )
    assert code == 1
    assert summary_block(err)[0] == "3 done, 44 skipped, 3 failed"
    assert len(predict_calls) == 3
    after = outputs(out)
    assert {k: v for k, v in after.items() if k.name not in ("001.png", "002.png", "049.png")} == {
        k: v for k, v in before.items() if k.name not in ("001.png", "002.png", "049.png")
    }
    assert [after[k][1] for k in sorted(after)] == [before[k][1] for k in sorted(before)]


def test_all_good_batch_exits_zero(monkeypatch, capsys, tmp_path, tiny_model):
    inputs = make_batch(tmp_path / "in", n=4, broken={})
    code, _, err = run(
        monkeypatch, capsys, "colorize", inputs, "-o", tmp_path / "o", "-m", tiny_model
    )
    assert code == 0, err
    assert summary_block(err) == ["4 done, 0 skipped, 0 failed"]


def test_overwrite_and_skip_existing_together_is_an_error(
    monkeypatch, capsys, tmp_path, tiny_model
):
    inputs = make_batch(tmp_path / "in", n=2, broken={})
    out = tmp_path / "out"
    code, _, err = run(
        monkeypatch,
        capsys,
        "colorize",
        inputs,
        "-o",
        out,
        "-m",
        tiny_model,
        "--overwrite",
        "--skip-existing",
    )
    assert code == 1
    assert "--overwrite" in err and "--skip-existing" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_existing_output_without_flags_fails_and_names_both_flags(
    monkeypatch, capsys, tmp_path, tiny_model
):
    inputs = make_batch(tmp_path / "in", n=2, broken={})
    out = tmp_path / "out"
    out.mkdir()
    (out / "000.png").write_bytes(b"mine")
    code, _, err = run(monkeypatch, capsys, "colorize", inputs, "-o", out, "-m", tiny_model)
    assert code == 1  # refused up front, in one line: nothing is done
    assert "1 of 2 outputs already exist" in err and "--skip-existing" in err
    assert len(err.strip().splitlines()) == 1 and not (out / "001.png").exists()
    assert (out / "000.png").read_bytes() == b"mine"
    code, _, err = run(
        monkeypatch, capsys, "colorize", inputs, "-o", out, "-m", tiny_model, "--overwrite"
    )
    assert code == 0 and "2 done, 0 skipped, 0 failed" in err
    assert read_image(out / "000.png").shape == (12, 16, 3)


def test_folders_are_recursive_and_keep_their_structure(monkeypatch, capsys, tmp_path, tiny_model):
    root = tmp_path / "in"
    rng = np.random.default_rng(3)
    for name in ("a.png", "sub/b.tif", "sub/deeper/c.jpg", ".hidden/d.png", "sub/notes.txt"):
        path = root / name
        if name.endswith(".txt"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("not an image")
        else:
            write_image(path, rng.random((10, 12)).astype(np.float32))
    out = tmp_path / "out"
    code, _, err = run(monkeypatch, capsys, "colorize", root, "-o", out, "-m", tiny_model)
    assert code == 0, err
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "a.png",
        "sub/b.png",
        "sub/deeper/c.png",
    ]
    # A recursive glob keeps the structure below its fixed part too.
    out2 = tmp_path / "out2"
    code, _, err = run(
        monkeypatch, capsys, "colorize", str(root / "**" / "*.png"), "-o", out2, "-m", tiny_model
    )
    assert code == 0, err
    assert sorted(p.relative_to(out2).as_posix() for p in out2.rglob("*") if p.is_file()) == [
        "a.png"
    ]
    out3 = tmp_path / "out3"
    code, _, err = run(
        monkeypatch, capsys, "colorize", str(root / "sub" / "**" / "*.*"), "-o", out3, "-m",
        tiny_model,
    )  # fmt: skip
    assert code == 1  # notes.txt is not an image
    assert (out3 / "b.png").is_file() and (out3 / "deeper" / "c.png").is_file()
    assert "2 done, 0 skipped, 1 failed" in err


def test_plan_outputs(tmp_path):
    a, b = tmp_path / "x" / "a.png", tmp_path / "y" / "a.tif"
    for path in (a, b):
        write_image(path, np.zeros((4, 4), np.float32))
    # One input and an image-like OUT: OUT is the file.
    assert plan_outputs([(a, a.relative_to(a.parent))], tmp_path / "o.jpg") == [
        Job(a, tmp_path / "o.jpg")
    ]
    # The same file twice is taken once; two files for one target are an error.
    assert plan([a, a], tmp_path / "o") == [Job(a, tmp_path / "o" / "a.png")]
    with pytest.raises(NircolorError, match="both be written"):
        plan([a, b], tmp_path / "o")
    # An image cannot go to a video file, nor a video to an image file.
    with pytest.raises(NircolorError, match="cannot be written"):
        plan([a], tmp_path / "o.mp4")
    video = tmp_path / "v.mkv"
    video.write_bytes(b"x")
    with pytest.raises(NircolorError, match="cannot be written"):
        plan([video], tmp_path / "o.png")
    assert plan([video], f"{tmp_path / 'o'}/") == [Job(video, tmp_path / "o" / "v.mp4")]
    with pytest.raises(NircolorError, match="no such file"):
        expand_inputs([tmp_path / "missing.png"])
    with pytest.raises(NircolorError, match="no file matches"):
        expand_inputs([str(tmp_path / "*.bmp")])


def test_run_batch_api_reports_unexpected_errors_and_goes_on(monkeypatch, tmp_path, tiny_model):
    inputs = make_batch(tmp_path / "in", n=5, broken={})
    original = L3Model.predict

    def flaky(self, nir, *args, **kwargs):
        if flaky.calls == 2:
            flaky.calls += 1
            raise RuntimeError("boom\nsecond line")
        flaky.calls += 1
        return original(self, nir, *args, **kwargs)

    flaky.calls = 0
    monkeypatch.setattr(L3Model, "predict", flaky)
    jobs = plan([inputs], tmp_path / "out")
    seen = []
    summary = run_batch(jobs, str(tiny_model), Options(), on_result=seen.append)
    assert [o.status for o in summary.outcomes] == [DONE, DONE, FAILED, DONE, DONE]
    assert seen == summary.outcomes
    failure = summary.failures[0]
    assert "unexpected error" in failure.message and "RuntimeError: boom second line" in (
        failure.message
    )
    assert "\n" not in failure.message
    assert summary.line() == "4 done, 0 skipped, 1 failed" and not summary.ok
    again = run_batch(jobs, str(tiny_model), Options(skip_existing=True))
    assert [o.status for o in again.outcomes] == [SKIPPED, SKIPPED, DONE, SKIPPED, SKIPPED]


def test_options_are_validated():
    with pytest.raises(NircolorError, match="contradict"):
        Options(overwrite=True, skip_existing=True)
    with pytest.raises(NircolorError, match="bit-depth"):
        Options(bit_depth=12)
    with pytest.raises(NircolorError, match="ALPHA"):
        Options(temporal_smoothing=0.0)


def test_every_run_ends_with_its_summary_line_even_one_failed_input(
    monkeypatch, capsys, tmp_path, tiny_model
):
    inputs = make_batch(tmp_path / "in", n=3, broken={0: "text", 1: "empty", 2: "truncated"})
    code, _, err = run(
        monkeypatch, capsys, "colorize", inputs / "000.png", "-o", tmp_path / "o.png", "-m",
        tiny_model,
    )  # fmt: skip
    assert code == 1
    lines = err.strip().splitlines()
    assert lines[0].startswith("error") and "not an image" in lines[0]
    assert lines[1:] == ["0 done, 0 skipped, 1 failed"]
    code, _, err = run(
        monkeypatch, capsys, "colorize", inputs, "-o", tmp_path / "o", "-m", tiny_model
    )
    assert code == 1 and summary_block(err)[0] == "0 done, 0 skipped, 3 failed"
    (tmp_path / "empty").mkdir()
    code, _, err = run(
        monkeypatch, capsys, "colorize", tmp_path / "empty", "-o", tmp_path / "o2", "-m", tiny_model
    )
    assert code == 1 and err.strip() == "error: no input images found"


def test_an_output_folder_inside_the_input_folder_is_not_an_input(
    monkeypatch, capsys, tmp_path, tiny_model, predict_calls
):
    nest = make_batch(tmp_path / "nest", n=3, broken={})
    (nest / "000.png").rename(nest / "img000_nir.png")  # its output is named img000_rgb.png
    names = ["001.png", "002.png", "img000_rgb.png"]
    code, _, err = run(
        monkeypatch, capsys, "colorize", nest, "-o", f"{nest}/out/", "-m", tiny_model
    )
    assert code == 0 and summary_block(err) == ["3 done, 0 skipped, 0 failed"], err
    assert sorted(p.name for p in (nest / "out").iterdir()) == names
    # Resume: what the first run wrote is neither an input nor an output that is one.
    code, _, err = run(
        monkeypatch, capsys, "colorize", nest, "-o", f"{nest}/out/", "-m", tiny_model,
        "--skip-existing",
    )  # fmt: skip
    assert code == 0 and summary_block(err) == ["0 done, 3 skipped, 0 failed"], err
    assert "skipped 3 earlier outputs" in err
    # Another output folder: the first run's colour images are not taken as NIR inputs.
    predict_calls.clear()
    code, _, err = run(
        monkeypatch, capsys, "colorize", nest, "-o", f"{nest}/out2/", "-m", tiny_model
    )
    assert code == 0 and summary_block(err) == ["3 done, 0 skipped, 0 failed"], err
    assert sorted(p.name for p in (nest / "out2").iterdir()) == names and len(predict_calls) == 3
    # The same through a glob; a colour output named as such is still refused as NIR.
    code, _, err = run(
        monkeypatch, capsys, "colorize", str(nest / "**" / "*.png"), "-o", tmp_path / "o3",
        "-m", tiny_model,
    )  # fmt: skip
    assert code == 0 and summary_block(err) == ["3 done, 0 skipped, 0 failed"], err
    code, _, err = run(
        monkeypatch, capsys, "colorize", nest / "out" / "001.png", "-o", tmp_path / "x.png",
        "-m", tiny_model,
    )  # fmt: skip
    assert code == 1 and "colour image" in err.splitlines()[0]
    # A folder of nothing but earlier outputs has no inputs, and says why.
    code, _, err = run(monkeypatch, capsys, "colorize", nest / "out", "-o", tmp_path / "o4")
    assert code == 1 and "no input images found (3 earlier outputs left out" in err
