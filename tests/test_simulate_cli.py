"""``nircolor simulate scenes`` and ``simulate pairs``: the files they write, reproducibility,
and one-line errors."""

from __future__ import annotations

import numpy as np

from nircolor.data import discover_pairs
from nircolor.io import read_nir, read_rgb

from .helpers import requires
from .helpers.cli import run_cli as run

pytestmark = requires("colour")


def folder_bytes(folder):
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def make_scenes(monkeypatch, capsys, folder, seed=0):
    code, _, err = run(monkeypatch, capsys, "simulate", "scenes", "-o", folder, "--n", 8,
                       "--seed", seed, "--size", 32)  # fmt: skip
    assert code == 0, err


def make_pairs(monkeypatch, capsys, scenes, folder, *options):
    code, _, err = run(monkeypatch, capsys, "simulate", "pairs", "--scenes", scenes,
                       "-o", folder, *options)  # fmt: skip
    assert code == 0, err


def test_pairs_form_a_dataset_that_train_and_evaluate_read(tmp_path, monkeypatch, capsys):
    make_scenes(monkeypatch, capsys, tmp_path / "S")
    make_pairs(monkeypatch, capsys, tmp_path / "S", tmp_path / "P")
    pairs = discover_pairs(tmp_path / "P")
    assert len(pairs) == 8
    assert {p.category for p in pairs} == {"vegetation", "portrait", "charts", "mixed"}
    assert [p.split for p in pairs].count("val") == 4  # one of each category's two scenes
    for pair in pairs:
        nir, rgb = read_nir(pair.nir), read_rgb(pair.rgb)
        assert nir.shape == rgb.shape[:2] == (32, 32) and rgb.shape[2] == 3
        assert nir.std() > 0.01 and rgb.std() > 0.01  # textured, not blank
        assert pair.nir.name.endswith("_nir.png") and pair.rgb.name.endswith("_rgb.png")


def test_the_same_seed_gives_identical_bytes(tmp_path, monkeypatch, capsys):
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        make_scenes(monkeypatch, capsys, tmp_path / f"S{name}", seed=seed)
        make_pairs(monkeypatch, capsys, tmp_path / f"S{name}", tmp_path / f"P{name}")
    assert folder_bytes(tmp_path / "Sa") == folder_bytes(tmp_path / "Sb")
    assert folder_bytes(tmp_path / "Pa") == folder_bytes(tmp_path / "Pb")
    assert folder_bytes(tmp_path / "Sa") != folder_bytes(tmp_path / "Sc")
    make_pairs(monkeypatch, capsys, tmp_path / "Sa", tmp_path / "Pd", "--seed", 1)
    assert folder_bytes(tmp_path / "Pa") != folder_bytes(tmp_path / "Pd")  # noise differs


def test_an_existing_output_is_refused_and_kept(tmp_path, monkeypatch, capsys):
    make_scenes(monkeypatch, capsys, tmp_path / "S")
    before = folder_bytes(tmp_path / "S")
    code, _, err = run(monkeypatch, capsys, "simulate", "scenes", "-o", tmp_path / "S")
    assert code == 1 and "already exists" in err and "--overwrite" in err
    assert len(err.strip().splitlines()) == 1
    assert folder_bytes(tmp_path / "S") == before


def test_a_scene_short_of_the_nir_band_fails_on_one_line_and_writes_nothing(
    tmp_path, monkeypatch, capsys
):
    scenes = tmp_path / "S" / "lab"
    scenes.mkdir(parents=True)
    wave = np.arange(400.0, 701.0, 10.0)
    np.savez(scenes / "visible.npz", cube=np.ones((8, 8, len(wave))), wavelength_nm=wave)
    code, _, err = run(monkeypatch, capsys, "simulate", "pairs", "--scenes", tmp_path / "S",
                       "-o", tmp_path / "P")  # fmt: skip
    assert code == 1 and "covers 400–700 nm, but the nir camera" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "P").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".P")]  # no staging left


def test_an_envi_cube_renders(tmp_path, monkeypatch, capsys):
    scenes = tmp_path / "S" / "field"
    scenes.mkdir(parents=True)
    wave_um = np.arange(0.4, 1.0001, 0.02)
    rng = np.random.default_rng(0)
    cube = rng.uniform(0.2, 1.0, (len(wave_um), 16, 20)).astype(">f4")  # bsq, big-endian
    cube.tofile(scenes / "cube.raw")
    (scenes / "cube.hdr").write_text(
        f"ENVI\nsamples = 20\nlines = 16\nbands = {len(wave_um)}\nheader offset = 0\n"
        "data type = 4\ninterleave = bsq\nbyte order = 1\nwavelength units = Micrometers\n"
        "wavelength = {" + " , ".join(f"{w:.2f}" for w in wave_um) + "}\n"
    )
    make_pairs(monkeypatch, capsys, tmp_path / "S", tmp_path / "P")
    (pair,) = discover_pairs(tmp_path / "P")
    assert read_nir(pair.nir).shape == (16, 20) and pair.category == "field"


def test_overwrite_never_replaces_the_scenes_nor_another_kind_of_folder(
    tmp_path, monkeypatch, capsys
):
    make_scenes(monkeypatch, capsys, tmp_path / "S")
    make_pairs(monkeypatch, capsys, tmp_path / "S", tmp_path / "P")
    scenes, pairs = folder_bytes(tmp_path / "S"), folder_bytes(tmp_path / "P")
    for args, words in (
        (["pairs", "--scenes", tmp_path / "S", "-o", tmp_path / "S"], "is one of the inputs"),
        (["pairs", "--scenes", tmp_path / "S", "-o", tmp_path], "holds"),
        (["scenes", "-o", tmp_path / "P", "--n", 2], "not an earlier output"),
    ):
        code, _, err = run(monkeypatch, capsys, "simulate", *args, "--overwrite")
        assert code == 1 and words in err and len(err.strip().splitlines()) == 1, err
    assert folder_bytes(tmp_path / "S") == scenes and folder_bytes(tmp_path / "P") == pairs


def one_line_error(monkeypatch, capsys, *args) -> str:
    code, _, err = run(monkeypatch, capsys, "simulate", *args)
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    return err


def test_non_finite_or_absurd_camera_settings_fail_on_one_line(tmp_path, monkeypatch, capsys):
    scenes = tmp_path / "S"
    (scenes / "lab").mkdir(parents=True)
    for option, value in [("--read-noise", "nan"), ("--full-well", "inf"),
                          ("--f-number", "1e9"), ("--pixel-pitch", "1e-9"),
                          ("--exposure", "nan"), ("--seed", "-1")]:  # fmt: skip
        err = one_line_error(monkeypatch, capsys, "pairs", "--scenes", scenes,
                             "-o", tmp_path / "P", option, value)  # fmt: skip
        assert "must be" in err
    assert not (tmp_path / "P").exists()


def test_a_truncated_mat_scene_fails_on_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "S").mkdir()
    (tmp_path / "S" / "a.mat").write_bytes(b"")
    err = one_line_error(monkeypatch, capsys, "pairs", "--scenes", tmp_path / "S",
                         "-o", tmp_path / "P")  # fmt: skip
    assert "unreadable .mat" in err


def test_scene_size_and_count_have_upper_bounds(tmp_path, monkeypatch, capsys):
    out = tmp_path / "S"
    assert "16 to 2048" in one_line_error(monkeypatch, capsys, "scenes", "-o", out,
                                          "--size", 100000, "--n", 1)  # fmt: skip
    assert "1 to 10000" in one_line_error(monkeypatch, capsys, "scenes", "-o", out,
                                          "--n", 100001)  # fmt: skip
    assert not out.exists()


def test_an_output_that_cannot_be_made_fails_on_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "file").write_bytes(b"")  # a file where the output's folder should be
    err = one_line_error(monkeypatch, capsys, "scenes", "-o", tmp_path / "file" / "S", "--n", 1)
    assert "cannot write" in err
