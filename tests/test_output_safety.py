"""Outputs never clobber what they should not: inputs, files that appear during a run,
symlinks; leftovers of killed runs are cleaned; bad output paths are refused up front
(``nircolor colorize``, issue 12 items 1, 2, 3, 5, 13, 14 and the Ctrl-C part of 17)."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from nircolor import api, streamed
from nircolor.api import colorize_file
from nircolor.batch import FAILED, Options, plan, run_batch
from nircolor.errors import ImageWriteError, NircolorError
from nircolor.io import atomic, write_bytes_atomic, write_image
from nircolor.io import images as image_io
from nircolor.models.l3 import L3Model

from .helpers.cli import run_cli as run


def make_nir_files(folder, names=("a.png", "b.png", "c.png")):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for name in names:
        write_image(folder / name, rng.random((10, 12)).astype(np.float32))
    return folder


def contents(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# ---------------------------------------------------------------- 1: outputs that are inputs


def test_folder_into_itself_is_refused_even_with_overwrite(
    monkeypatch, capsys, tmp_path, tiny_model
):
    folder = make_nir_files(tmp_path / "shots")
    before = contents(folder)
    for flags in (["--overwrite"], []):
        code, _, err = run(
            monkeypatch, capsys, "colorize", folder, "-o", folder, "-m", tiny_model, *flags
        )
        assert code == 1
        assert "is one of the inputs" in err and len(err.strip().splitlines()) == 1
        assert "--overwrite" not in err
    assert contents(folder) == before


def test_file_onto_itself_or_a_link_to_itself_is_refused(monkeypatch, capsys, tmp_path, tiny_model):
    folder = make_nir_files(tmp_path / "in", ["a.png"])
    source = folder / "a.png"
    (folder / "soft.png").symlink_to(source)
    os.link(source, folder / "hard.png")
    before = source.read_bytes()
    for target in ("a.png", "soft.png", "hard.png"):
        for flags in (["--overwrite"], []):
            code, _, err = run(
                monkeypatch, capsys, "colorize", source, "-o", folder / target, "-m",
                tiny_model, *flags,
            )  # fmt: skip
            assert code == 1, (target, flags)
            assert "is one of the inputs" in err and "--overwrite" not in err
    assert source.read_bytes() == before
    with pytest.raises(ImageWriteError, match="is one of the inputs"):
        colorize_file(source, folder / "soft.png", model=str(tiny_model), overwrite=True)


# ---------------------------------------------------------------- 2: check-then-replace race


def test_output_created_during_the_run_is_not_replaced(monkeypatch, tmp_path, tiny_model):
    folder = make_nir_files(tmp_path / "in", ["a.png", "b.png"])
    out = tmp_path / "out"
    out.mkdir()
    jobs = plan([folder], out)
    original = image_io.encode_image

    def someone_else_writes_first(image, extension, *args):
        # Runs after the existence checks and before the publish.
        target = out / "a.png"
        if not target.exists():
            target.write_bytes(b"theirs")
        return original(image, extension, *args)

    monkeypatch.setattr(image_io, "encode_image", someone_else_writes_first)
    summary = run_batch(jobs, str(tiny_model), Options())
    assert [o.status for o in summary.outcomes] == [FAILED, "done"]
    assert (out / "a.png").read_bytes() == b"theirs"
    assert "appeared while" in summary.failures[0].message
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]  # no temp left


def test_streamed_output_created_during_the_run_is_not_replaced(monkeypatch, tmp_path, tiny_model):
    source = make_nir_files(tmp_path / "in", ["a.png"]) / "a.png"
    target = tmp_path / "a.tif"
    original = streamed.open_rows

    def someone_else_writes_first(path, *args):
        target.write_bytes(b"theirs")
        return original(path, *args)

    monkeypatch.setattr(streamed, "open_rows", someone_else_writes_first)
    with pytest.raises(ImageWriteError, match="appeared while"):
        colorize_file(source, target, model=str(tiny_model), tile=16)
    assert target.read_bytes() == b"theirs"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("links", [True, False], ids=["link", "no-hard-links"])
def test_publish_without_replace_refuses_an_existing_file(monkeypatch, tmp_path, links):
    if not links:

        def no_links(*args, **kwargs):
            raise PermissionError(1, "Operation not permitted")

        monkeypatch.setattr(atomic.os, "link", no_links)
    target = tmp_path / "x.bin"
    write_bytes_atomic(target, b"first", replace=False)
    assert target.read_bytes() == b"first"
    with pytest.raises(ImageWriteError, match="appeared while"):
        write_bytes_atomic(target, b"second", replace=False)
    assert target.read_bytes() == b"first"
    write_bytes_atomic(target, b"third")  # replace=True is the default
    assert target.read_bytes() == b"third"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.bin"]


def test_two_runs_into_one_folder_never_both_publish_a_file(monkeypatch, tmp_path, tiny_model):
    folder = make_nir_files(tmp_path / "in", [f"{i:02d}.png" for i in range(4)])
    out = tmp_path / "out"
    out.mkdir()
    jobs = plan([folder], out)
    original = image_io.encode_image
    published = []

    def rival_run_publishes_first(image, extension, *args):
        # The rival run, started at the same time, publishes its file just before ours.
        data = original(image, extension, *args)
        target = out / f"{len(published):02d}.png"
        write_bytes_atomic(target, b"rival", replace=False)
        published.append(target)
        return data

    monkeypatch.setattr(image_io, "encode_image", rival_run_publishes_first)
    summary = run_batch(jobs, str(tiny_model), Options())
    assert summary.failed == 4 and summary.done == 0
    assert all((out / f"{i:02d}.png").read_bytes() == b"rival" for i in range(4))


# ---------------------------------------------------------------- 3: dangling symlinks


def test_dangling_symlink_at_the_output_counts_as_existing(
    monkeypatch, capsys, tmp_path, tiny_model
):
    source = make_nir_files(tmp_path / "in", ["a.png"]) / "a.png"
    out = tmp_path / "out"
    out.mkdir()
    link = out / "a.png"
    link.symlink_to(tmp_path / "elsewhere.png")
    code, _, err = run(monkeypatch, capsys, "colorize", source, "-o", out, "-m", tiny_model)
    assert code == 1 and "already exists" in err
    assert link.is_symlink() and not (tmp_path / "elsewhere.png").exists()
    with pytest.raises(ImageWriteError, match="already exists"):
        write_image(link, np.zeros((4, 4), np.float32))
    assert link.is_symlink()
    summary = run_batch(plan([source], out), str(tiny_model), Options(skip_existing=True))
    assert summary.skipped == 1 and link.is_symlink()


# ---------------------------------------------------------------- 5: leftovers of killed runs


TEXT = {"capture_output": True, "text": True, "check": True, "timeout": 60}


def test_stale_partial_files_of_killed_runs_are_removed(monkeypatch, capsys, tmp_path, tiny_model):
    folder = make_nir_files(tmp_path / "in", ["a.png"])
    out = tmp_path / "out"
    out.mkdir()
    old = time.time() - 3600
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], **TEXT)
    dead_pid = int(dead.stdout)  # a process that has ended
    stale = [
        out / f".clip.mp4.p{dead_pid}.0abcdefg.part.mp4",
        out / f".d.png.p{dead_pid}.abcdefgh.part",
    ]
    kept = [
        out / ".b.png.zzzzzzzz.part",
        out / "notes.part",
        out / ".a.png.keep",
        out / f".e.png.p{os.getppid()}.abcdefgh.part",  # its writer is alive: a concurrent run
        # Named like a temporary file but without a writer's pid: a user's file, not ours.
        out / ".thesis.backup01.part",
        out / ".a.png.k2x_9q0z.part",
    ]
    for path in stale + kept:
        path.write_bytes(b"x" * 100)
        os.utime(path, (old, old))
    fresh = out / ".c.png.fresh123.part"  # a live run's file: newer than this run's start
    fresh.write_bytes(b"x")
    future = time.time() + 3600
    os.utime(fresh, (future, future))
    os.utime(kept[0], (future, future))
    code, _, err = run(monkeypatch, capsys, "colorize", folder, "-o", out, "-m", tiny_model)
    assert code == 0, err
    assert not any(path.exists() for path in stale)
    assert all(path.exists() for path in [*kept, fresh])
    removed = sorted(line for line in err.splitlines() if line.startswith("removed"))
    assert removed == [
        f"removed {path} (a partial file left by a killed run, process {dead_pid})"
        for path in sorted(stale)
    ]


# ---------------------------------------------------------------- 13: folders of pairs


def test_folder_of_pairs_colorizes_the_nir_halves_only(
    monkeypatch, capsys, tmp_path, tiny_model, pair_tree, predict_calls
):
    out = tmp_path / "out"
    code, _, err = run(monkeypatch, capsys, "colorize", pair_tree, "-o", out, "-m", tiny_model)
    assert code == 0, err
    assert len(predict_calls) == 12
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert written == sorted(
        p.relative_to(pair_tree).with_name(p.name.replace("_nir", "_rgb")).as_posix()
        for p in pair_tree.rglob("*_nir.png")
    )
    assert "skipped 12 RGB pair partners" in err and err.count("skipped 12") == 1
    assert "12 done, 0 skipped, 0 failed" in err
    # An RGB file without its NIR partner is still an input (and fails as a colour image).
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "x_rgb.png").write_bytes((pair_tree / "country" / "0000_rgb.png").read_bytes())
    assert [job.source.name for job in plan([lone], out)] == ["x_rgb.png"]


def test_pair_partner_is_protected_as_an_input(
    monkeypatch, capsys, tmp_path, tiny_model, pair_tree
):
    folder = pair_tree / "country"
    before = contents(folder)
    code, _, err = run(
        monkeypatch, capsys, "colorize", folder, "-o", folder, "-m", tiny_model, "--overwrite"
    )
    assert code == 1 and "is one of the inputs" in err
    assert contents(folder) == before


# ---------------------------------------------------------------- 14: output paths


@pytest.mark.parametrize(
    ("inputs", "output", "message"),
    [
        (["a.png"], "a.webp", "cannot write '.webp'"),
        (["a.png"], "noext", "no extension"),
        (["a.png", "b.png"], "multi.png", "several inputs"),
    ],
)
def test_output_path_that_would_silently_become_a_folder_is_an_error(
    monkeypatch, capsys, tmp_path, tiny_model, inputs, output, message
):
    folder = make_nir_files(tmp_path / "in")
    sources = [folder / name for name in inputs]
    code, _, err = run(
        monkeypatch, capsys, "colorize", *sources, "-o", tmp_path / output, "-m", tiny_model
    )
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / output).exists()


def test_output_ending_in_a_slash_is_a_folder(monkeypatch, capsys, tmp_path, tiny_model):
    source = make_nir_files(tmp_path / "in", ["a.png"]) / "a.png"
    code, _, err = run(
        monkeypatch, capsys, "colorize", source, "-o", f"{tmp_path / 'noext'}/", "-m", tiny_model
    )
    assert code == 0, err
    assert (tmp_path / "noext" / "a.png").is_file()


def test_rerun_without_flags_says_once_up_front_that_outputs_exist(
    monkeypatch, capsys, tmp_path, tiny_model, predict_calls
):
    folder = make_nir_files(tmp_path / "in", [f"{i:02d}.png" for i in range(6)])
    out = tmp_path / "out"
    assert run(monkeypatch, capsys, "colorize", folder, "-o", out, "-m", tiny_model)[0] == 0
    predict_calls.clear()
    code, _, err = run(monkeypatch, capsys, "colorize", folder, "-o", out, "-m", tiny_model)
    assert code == 1
    assert err.strip().splitlines() == [
        f"error: 6 of 6 outputs already exist (the first: {out / '00.png'}); use --overwrite "
        "to replace them or --skip-existing to keep them"
    ]
    assert predict_calls == []


def test_unwritable_output_folder_is_one_error_before_any_work(
    monkeypatch, capsys, tmp_path, tiny_model, predict_calls
):
    folder = make_nir_files(tmp_path / "in")
    blocker = tmp_path / "file.txt"
    blocker.write_text("a file, not a folder")
    code, _, err = run(
        monkeypatch, capsys, "colorize", folder, "-o", blocker / "out", "-m", tiny_model
    )
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert f"{blocker}: not a folder" in err
    assert predict_calls == []


def test_nir_inputs_are_named_by_the_pair_convention(monkeypatch, capsys, tmp_path, tiny_model):
    assert api.output_name("0001_nir.tiff") == "0001_rgb.png"
    assert api.output_name("clip_nir.avi", ".mp4") == "clip_rgb.mp4"
    assert api.output_name("photo.jpg") == "photo.png"
    assert api.output_name("photo.jpg", tag="_color") == "photo_color.png"
    assert api.output_name("_nir.png") == "_nir.png"  # no id: not a pair name
    folder = make_nir_files(tmp_path / "in", ["0001_nir.png", "x.png"])
    out = tmp_path / "out"
    code, _, err = run(monkeypatch, capsys, "colorize", folder, "-o", out, "-m", tiny_model)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["0001_rgb.png", "x.png"]


# ---------------------------------------------------------------- 17: Ctrl-C


def test_ctrl_c_during_a_batch_says_how_far_it_got(monkeypatch, capsys, tmp_path, tiny_model):
    folder = make_nir_files(tmp_path / "in", [f"{i:02d}.png" for i in range(5)])
    out = tmp_path / "out"
    original = L3Model.predict
    calls = []

    def interrupted(self, nir, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, nir, *args, **kwargs)

    monkeypatch.setattr(L3Model, "predict", interrupted)
    code, _, err = run(monkeypatch, capsys, "colorize", folder, "-o", out, "-m", tiny_model)
    assert code == 130
    assert "interrupted after 2 of 5; rerun with --skip-existing" in err
    assert sorted(p.name for p in out.iterdir()) == ["00.png", "01.png"]


def test_bad_plans_raise_nircolor_errors(tmp_path):
    folder = make_nir_files(tmp_path / "in", ["a.png"])
    with pytest.raises(NircolorError, match="is one of the inputs"):
        plan([folder / "a.png"], folder / "a.png")


def test_temporary_files_name_their_writer_and_match_the_stale_pattern(tmp_path):
    from nircolor.io.atomic import atomic_path, is_part_file, remove_stale_parts

    with atomic_path(tmp_path / "x.png") as temp:
        temp.write_bytes(b"data")
        assert is_part_file(temp) and f".p{os.getpid()}." in temp.name
        assert remove_stale_parts(tmp_path, time.time() + 3600) == []  # ours, still writing
        assert temp.exists()
    assert (tmp_path / "x.png").read_bytes() == b"data"
