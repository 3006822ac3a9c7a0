"""Hardening for production use: no pickle, model paths validated, writes atomic.

* No code path can unpickle: the source tree neither imports a pickle-based module nor
  calls ``np.load`` / ``torch.load`` in a way that could unpickle; a weights file holding a
  pickled object array is refused (and its payload never runs).
* Whatever a user gives as a model (a name, a path, a file, a path with ``..`` tricks, a
  folder with a broken config or broken weights), loading either succeeds or raises
  :class:`ModelError` with a one-line message; never another exception.
* An exception in the middle of a write leaves no file behind and an existing target as it
  was.
"""

from __future__ import annotations

import ast
import io
import json
import os
import shutil
import tokenize
from pathlib import Path

import numpy as np
import pytest

from nircolor.errors import ImageWriteError, ModelError
from nircolor.io import atomic_path, write_bytes_atomic, write_image
from nircolor.models import load_model, resolve_model_path
from nircolor.models.l3 import L3Config, L3Model

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = [ROOT / "src", ROOT / "benchmarks"]

PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve"}
"""Modules that unpickle (joblib and shelve do it under the hood)."""


# --------------------------------------------------------------------------------------------
# No pickle anywhere


def _call_name(node: ast.Call) -> str:
    func = node.func
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    return ".".join(reversed(parts))


def _keyword_is(node: ast.Call, name: str, value: bool) -> bool:
    return any(
        k.arg == name and isinstance(k.value, ast.Constant) and k.value.value is value
        for k in node.keywords
    )


def pickle_risks(source: str, filename: str = "<source>") -> list[str]:
    """Every place in Python ``source`` that could unpickle data, as ``file:line: what``."""
    found = []
    tree = ast.parse(source, filename)
    for node in ast.walk(tree):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PICKLE_MODULES:
                    found.append(f"{where}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            if (node.module or "").split(".")[0] in PICKLE_MODULES:
                found.append(f"{where}: from {node.module} import ...")
        elif isinstance(node, ast.Call):
            name = _call_name(node)
            last = name.rsplit(".", 1)[-1]
            if last == "load" and name.split(".")[0] in ("np", "numpy"):
                if not _keyword_is(node, "allow_pickle", False):
                    found.append(f"{where}: {name}(...) without allow_pickle=False")
            if last == "load" and name.split(".")[0] == "torch":
                if not _keyword_is(node, "weights_only", True):
                    found.append(f"{where}: {name}(...) without weights_only=True")
            if last in ("read_pickle", "to_pickle", "loads") and "pickle" in name.lower():
                found.append(f"{where}: {name}(...)")
            if last == "read_pickle":
                found.append(f"{where}: {name}(...)")
        if isinstance(node, ast.keyword) and node.arg == "allow_pickle":
            if not (isinstance(node.value, ast.Constant) and node.value.value is False):
                found.append(f"{filename}:{node.value.lineno}: allow_pickle other than False")
    # and, token by token (comments and strings aside), no name that mentions pickle
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NAME and "pickle" in token.string.lower():
            if token.string != "allow_pickle":
                found.append(f"{filename}:{token.start[0]}: name {token.string}")
    return found


def _python_files() -> list[Path]:
    files = []
    for folder in SOURCE_DIRS:
        if folder.is_dir():
            files += sorted(folder.rglob("*.py"))
    return files


def test_the_checker_finds_what_it_must():
    bad = (
        "import pickle\n"
        "from cloudpickle import loads\n"
        "import numpy as np, torch, pandas as pd\n"
        "a = np.load(path)\n"
        "b = np.load(path, allow_pickle=True)\n"
        "c = numpy.load(\n    path,\n    mmap_mode='r',\n)\n"
        "d = torch.load(path)\n"
        "e = torch.load(path, weights_only=False)\n"
        "f = pd.read_pickle(path)\n"
        "g = pickle.loads(data)\n"
    )
    found = "\n".join(pickle_risks(bad))
    for line in range(1, 13):
        if line not in (3, 7, 8, 9):  # lines 7-9 continue the call of line 6
            assert f"<source>:{line}:" in found, (line, found)
    good = (
        '"""No pickle here: the weights are plain arrays (not pickle)."""\n'
        "import numpy as np, torch\n"
        "a = np.load(path, allow_pickle=False)  # pickle stays off\n"
        "b = torch.load(path, weights_only=True, map_location='cpu')\n"
        "c = np.load(\n    path,\n    allow_pickle=False,\n)\n"
    )
    assert pickle_risks(good) == []


def test_no_pickle_in_the_source_tree():
    files = _python_files()
    assert len(files) > 10, "source tree not found"
    found = []
    for path in files:
        found += pickle_risks(path.read_text(), str(path.relative_to(ROOT)))
    assert found == [], "code that could unpickle:\n" + "\n".join(found)


# --------------------------------------------------------------------------------------------
# Model folders given by users


def _tiny_l3() -> L3Model:
    config = L3Config(patch=3, n_levels=2, n_contrasts=2, cuts="log")
    k, p = config.n_classes, config.n_pixels
    return L3Model(
        config,
        weights=np.zeros((k, 1 + p, 3), np.float32),
        level_cuts=np.array([0.5]),
        contrast_cuts=np.full((2, 1), 0.1),
        counts=np.ones(k),
        lambdas=np.ones((k, 3)),
    )


@pytest.fixture(scope="module")
def good_model(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("models") / "good"
    _tiny_l3().save(folder)
    return folder


def _copy(good_model: Path, tmp_path: Path, name: str = "model") -> Path:
    folder = tmp_path / name
    shutil.copytree(good_model, folder)
    return folder


def _refused(model, match: str | None = None) -> ModelError:
    with pytest.raises(ModelError) as caught:
        load_model(model)
    message = str(caught.value)
    assert message and "\n" not in message, f"not one line: {message!r}"
    if match is not None:
        assert match in message, message
    return caught.value


def test_good_model_folder_and_its_config_file_load(good_model):
    assert isinstance(load_model(good_model), L3Model)
    assert isinstance(load_model(str(good_model / "config.json")), L3Model)
    assert resolve_model_path(good_model / "config.json") == good_model


class _Payload:
    """Unpickling this makes a folder: the proof that a pickle ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_pickled_weights_are_refused_and_never_run(good_model, tmp_path):
    folder = _copy(good_model, tmp_path)
    marker = tmp_path / "pickle-ran"
    with np.load(folder / "weights.npz", allow_pickle=False) as data:
        arrays = dict(data)
    for name in ("weights", "counts", "source"):
        evil = np.empty(1, dtype=object)
        evil[0] = _Payload(marker)
        np.savez(folder / "weights.npz", **{**arrays, name: evil})  # pickles the object array
        _refused(folder, "weights")
        assert not marker.exists(), "the pickled payload ran"


def test_path_to_a_file_that_is_not_config_json(good_model, tmp_path):
    folder = _copy(good_model, tmp_path)
    _refused(folder / "weights.npz", "not a model folder")
    (tmp_path / "notes.txt").write_text("{}")
    _refused(tmp_path / "notes.txt", "not a model folder")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "config.json").mkdir()  # a folder named config.json
    _refused(tmp_path / "sub", "not a model folder")


def test_folder_without_config(tmp_path):
    (tmp_path / "weights.npz").write_bytes(b"PK")
    _refused(tmp_path, "not a model folder")


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "unreadable model config"),
        (b"{not json", "unreadable model config"),
        (bytes(range(256)), "unreadable model config"),
        (b"[" * 100_000 + b"]" * 100_000, "unreadable model config"),  # deeply nested
        (b"[1, 2, 3]", "no 'kind'"),
        (b'"l3"', "no 'kind'"),
        (b"{}", "no 'kind'"),
        (b'{"kind": ["l3"]}', "must be a string"),
        (b'{"kind": {"l3": 1}}', "must be a string"),
        (b'{"kind": 3}', "must be a string"),
        (b'{"kind": "pickle"}', "unknown model kind"),
        (b'{"kind": "l3\\nfake second line"}', "unknown model kind"),
        (b'{"kind": "l3", "patch": "3"}', "invalid L3 config"),
        (b'{"kind": "l3", "min_samples_factor": "x"}', "invalid L3 config"),
        (b'{"kind": "onnx"}', "missing ONNX model file"),
        (b'{"kind": "onnx", "stride": "two"}', "'stride' must be an integer"),
        (b'{"kind": "onnx", "onnx": 5}', "invalid onnx model"),
    ],
)
def test_broken_config_json(good_model, tmp_path, content, match):
    folder = _copy(good_model, tmp_path)
    (folder / "config.json").write_bytes(content)
    _refused(folder, match)
    _refused(folder / "config.json", match)


def test_broken_onnx_file(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"kind": "onnx"}))
    (tmp_path / "model.onnx").write_bytes(b"\x08\x07 not a protobuf " * 10)
    _refused(tmp_path, "cannot load ONNX model")


def test_missing_or_empty_weights(good_model, tmp_path):
    folder = _copy(good_model, tmp_path)
    (folder / "weights.npz").unlink()
    _refused(folder, "missing L3 weights")
    (folder / "weights.npz").write_bytes(b"")
    _refused(folder, "weights")
    (folder / "weights.npz").unlink()
    (folder / "weights.npz").mkdir()
    _refused(folder, "weights")


def test_truncated_or_damaged_weights(good_model, tmp_path):
    """Every truncation and many byte flips: loaded (a harmless byte) or refused."""
    folder = _copy(good_model, tmp_path)
    original = (good_model / "weights.npz").read_bytes()
    for cut in range(0, len(original), 7):
        (folder / "weights.npz").write_bytes(original[:cut])
        _refused(folder, "weights")
    for at in range(0, len(original), 3):
        damaged = bytearray(original)
        damaged[at] ^= 0xFF
        (folder / "weights.npz").write_bytes(bytes(damaged))
        try:
            model = load_model(folder)
        except ModelError as error:
            assert "\n" not in str(error)
        else:
            assert isinstance(model, L3Model)


@pytest.mark.parametrize(
    "name",
    [
        "../../etc",
        "../../../../../../../../etc/passwd",
        "../" * 40,
        "l3/../../../../etc",
        "default/../..",
        "/etc",
        "/",
        ".",
        "",
        "   ",
        "~",
        "~no_such_user_nircolor/model",
        "a" * 5000,
        "no\x00such",
        "line\nbreak",
    ],
)
def test_model_names_with_path_tricks(tmp_path, monkeypatch, name):
    """A name that is no model folder is refused as such, wherever the tricks point."""
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    _refused(name)


# --------------------------------------------------------------------------------------------
# Atomic writes


class _Boom(Exception):
    pass


def _leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


@pytest.mark.parametrize("error", [_Boom("midway"), KeyboardInterrupt()])
def test_failed_write_leaves_no_file(tmp_path, error):
    target = tmp_path / "out.png"
    with pytest.raises(type(error)):
        with atomic_path(target) as temp:
            temp.write_bytes(b"half of an image")
            raise error
    assert not target.exists()
    assert _leftovers(tmp_path, set()) == []


@pytest.mark.parametrize("error", [_Boom("midway"), KeyboardInterrupt(), OSError(28, "No space")])
def test_failed_write_keeps_the_existing_target(tmp_path, error):
    target = tmp_path / "out.tif"
    target.write_bytes(b"precious")
    expected = ImageWriteError if isinstance(error, OSError) else type(error)
    with pytest.raises(expected) as caught:
        with atomic_path(target) as temp:
            temp.write_bytes(b"new but incomplete")
            raise error
    if expected is ImageWriteError:
        assert str(target) in str(caught.value) and "\n" not in str(caught.value)
    assert target.read_bytes() == b"precious"
    assert _leftovers(tmp_path, {"out.tif"}) == []


def test_failed_encoding_keeps_the_existing_target(tmp_path):
    target = tmp_path / "out.jpg"
    target.write_bytes(b"precious")
    with pytest.raises(ImageWriteError):
        write_image(target, np.zeros((4, 4), np.float32), bit_depth=16, overwrite=True)
    assert target.read_bytes() == b"precious"
    assert _leftovers(tmp_path, {"out.jpg"}) == []


def test_successful_write_replaces_whole_file(tmp_path):
    target = tmp_path / "deep" / "out.bin"
    write_bytes_atomic(target, b"first version, long")
    write_bytes_atomic(target, b"second")
    assert target.read_bytes() == b"second"
    assert _leftovers(target.parent, {"out.bin"}) == []
