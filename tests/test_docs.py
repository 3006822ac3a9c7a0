"""The code blocks of README.md and docs/*.md.

Every fenced block is marked, on the line before it, either ``<!-- runnable -->`` (or
``<!-- runnable needs=EXTRA -->``) or ``<!-- not run: REASON -->``. The runnable blocks of a
page run in order, shell blocks with ``bash -e`` and Python blocks with this interpreter, in
one temporary folder that holds the files the examples name (the bundled example as
``scene_nir.png`` and ``x.png``, tiny synthetic pairs as ``pairs/``, a synthetic stand-in for
``../shared/data``...), with ``nircolor`` resolving to this interpreter's install.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

import nircolor
from nircolor.examples import EXAMPLE_NIR, synthetic_pair
from nircolor.extras import EXTRA_MODULES, missing_modules
from nircolor.io import read_image, write_image

from .helpers.data import write_manifest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
MARK = re.compile(r"^<!-- (?:runnable(?: needs=(?P<needs>[\w,]+))?|not run: (?P<reason>.+)) -->$")
COMMANDS = (
    "colorize",
    "models",
    "classify",
    "detect",
    "train",
    "quantize",
    "calibrate",
    "evaluate",
    "report",
    "simulate",
    "serve",
)


@dataclass
class Block:
    page: Path
    line: int  # of the opening fence, from 1
    language: str
    code: str
    mark: re.Match | None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"

    @property
    def runnable(self) -> bool:
        return self.mark is not None and self.mark["reason"] is None

    @property
    def needs(self) -> list[str]:
        return self.mark["needs"].split(",") if self.mark and self.mark["needs"] else []


def blocks_of(page: Path) -> list[Block]:
    """The fenced code blocks of ``page``, each with the marker on the line before it."""
    lines = page.read_text().splitlines()
    found, index = [], 0
    while index < len(lines):
        if lines[index].startswith("```"):
            start, language = index, lines[index][3:].strip()
            end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("```"))
            before = next((lines[i] for i in range(start - 1, -1, -1) if lines[i].strip()), "")
            code = "\n".join(lines[start + 1 : end]) + "\n"
            found.append(Block(page, start + 1, language, code, MARK.match(before.strip())))
            index = end
        index += 1
    return found


def test_the_block_parser_reads_markers_and_languages(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- runnable -->\n```bash\nnircolor models\n```\n\ntext\n\n"
        "<!-- runnable needs=simulate,report -->\n\n```python\nprint(1)\n```\n"
        "<!-- not run: a server -->\n```bash\nnircolor serve\n```\n```text\nplain\n```\n"
    )
    one, two, three, four = blocks_of(page)
    assert (one.language, one.code, one.runnable) == ("bash", "nircolor models\n", True)
    assert one.needs == []
    assert (two.language, two.runnable, two.needs) == ("python", True, ["simulate", "report"])
    assert not three.runnable and three.mark["reason"] == "a server"
    assert four.mark is None and four.line == 17


ALL_BLOCKS = [block for page in PAGES for block in blocks_of(page)]


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=lambda b: b.where)
def test_every_block_is_marked_runnable_or_says_why_not(block):
    marks = "<!-- runnable --> or <!-- not run: REASON -->"
    assert block.mark is not None, f"{block.where}: put {marks} on the line before it"
    if block.runnable:
        assert block.language in ("bash", "python"), block.where
        assert set(block.needs) <= set(EXTRA_MODULES), block.where


def test_there_are_runnable_blocks_in_the_readme_and_the_docs():
    runnable = [block for block in ALL_BLOCKS if block.runnable]
    assert any(block.page.name == "README.md" for block in runnable)
    assert len({block.page for block in runnable}) >= 5, [b.where for b in runnable]
    assert {block.language for block in runnable} == {"bash", "python"}


def write_video(path: Path, frames: int = 6, size: tuple[int, int] = (48, 64)) -> None:
    """A short grey H.264 video of a synthetic NIR scene (needs the 'video' extra)."""
    import av

    scene, _ = synthetic_pair(0, *size)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.height, stream.width = size
        stream.pix_fmt = "yuv420p"
        for index in range(frames):
            grey = np.rint(np.clip(scene + 0.01 * index, 0, 1) * 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(np.repeat(grey[:, :, None], 3, axis=2))
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def write_pair_tree(root: Path, categories=("country", "forest", "urban"), scenes=4) -> list:
    """Synthetic registered pairs ``root/<category>/NNNN_nir.png`` + ``_rgb.png``."""
    written = []
    for category in categories:
        for scene in range(scenes):
            nir, rgb = synthetic_pair(len(written), 64, 96)
            write_image(root / category / f"{scene:04d}_nir.png", nir)
            write_image(root / category / f"{scene:04d}_rgb.png", rgb)
            written.append((category, f"{scene:04d}"))
    return written


def make_workspace(root: Path) -> Path:
    """The folder the blocks run in, with the files they name; ``../shared/data`` beside it."""
    work = root / "work"
    for name in ("scene_nir.png", "x.png"):
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(EXAMPLE_NIR, work / name)
    nir = read_image(EXAMPLE_NIR)
    write_image(work / "big_aerial.tif", nir)
    write_image(work / "shots" / "a_nir.png", synthetic_pair(1, 64, 96)[0])
    write_image(work / "shots" / "day" / "b.png", synthetic_pair(2, 64, 96)[0])
    write_image(work / "more" / "c.tif", synthetic_pair(3, 64, 96)[0])
    tifffile.imwrite(work / "cam12.tif", np.rint(nir * 4095).astype(np.uint16))  # 12-bit data
    Image.fromarray(np.rint(nir * 65535).astype(np.uint16)).save(work / "raw.png")  # a mosaic
    if not missing_modules("video"):
        write_video(work / "in.mp4")
    write_pair_tree(work / "pairs")
    shared = root / "shared" / "data"
    rows = []
    for collection in ("nirscene", "vcip2020"):
        for category, scene in write_pair_tree(shared / collection, ("country", "forest"), 5):
            rows.append(
                {
                    "nir": f"{collection}/{category}/{scene}_nir.png",
                    "rgb": f"{collection}/{category}/{scene}_rgb.png",
                    "collection": collection,
                    "category": category,
                    "scene": f"{collection}/{category}/{scene}",
                    "split": "val" if scene == "0000" else "train",
                }
            )
    write_manifest(shared, rows)
    return work


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("docs-workspace")
    make_workspace(root)
    return root


@pytest.fixture
def work(template, tmp_path) -> Path:
    """A fresh copy of the workspace (``tmp_path/work``, ``tmp_path/shared/data``)."""
    shutil.copytree(template, tmp_path, dirs_exist_ok=True)
    return tmp_path / "work"


def environment(folder: Path) -> dict[str, str]:
    """This interpreter's ``nircolor`` and ``python`` first on PATH, importing this nircolor."""
    bin_dir = Path(sys.executable).parent
    path = [str(bin_dir)]
    if not (bin_dir / "nircolor").exists():  # not installed: a shim that runs the module
        shim = folder / "bin" / "nircolor"
        shim.parent.mkdir(parents=True, exist_ok=True)
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m nircolor "$@"\n')
        shim.chmod(0o755)
        path.insert(0, str(shim.parent))
    source = str(Path(nircolor.__file__).resolve().parents[1])
    pythonpath = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH", "")) if p)
    return {
        **os.environ,
        "PATH": os.pathsep.join([*path, os.environ.get("PATH", "")]),
        "PYTHONPATH": pythonpath,
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "NO_COLOR": "1",
    }


def run_block(code: str, language: str, work: Path, env: dict[str, str], where: str) -> None:
    script = work.parent / ("block.sh" if language == "bash" else "block.py")
    script.write_text(code)
    command = ["bash", "-e", str(script)] if language == "bash" else [sys.executable, str(script)]
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=300)
    output = done.stdout[-3000:] + done.stderr[-3000:]
    assert done.returncode == 0, f"{where} failed:\n{code}\n{output}"


def outputs_of(code: str) -> list[str]:
    """The ``-o`` targets of the commands in a shell block."""
    return [c[i + 1] for c in commands_of(code) for i, word in enumerate(c[:-1]) if word == "-o"]


RUNNABLE_PAGES = [page for page in PAGES if any(b.runnable for b in blocks_of(page))]


@pytest.mark.parametrize("page", RUNNABLE_PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_the_runnable_blocks_of_a_page_run_in_order(page, work, tmp_path):
    env = environment(tmp_path)
    ran, skipped = 0, []
    for block in blocks_of(page):
        if not block.runnable:
            continue
        missing = [extra for extra in block.needs if missing_modules(extra)]
        if missing:
            skipped.append(f"{block.where} (needs the {', '.join(missing)} extra)")
            continue
        run_block(block.code, block.language, work, env, block.where)
        if block.language == "bash":
            for target in outputs_of(block.code):
                assert (work / target).exists(), f"{block.where}: no {target}"
        ran += 1
    if not ran:
        pytest.skip("; ".join(skipped))


def test_the_readme_first_command_colorizes_the_bundled_example(tmp_path):
    readme = (REPO / "README.md").read_text()
    first = readme.split("```bash\n", 1)[1].splitlines()[0]
    colorize = first.rsplit("&&", 1)[1].strip()  # the install part is CI's job
    checkout = tmp_path / "checkout"  # the command names the example by its path in the repository
    example = checkout / "src" / "nircolor" / "examples" / "example_nir.png"
    example.parent.mkdir(parents=True)
    shutil.copy(EXAMPLE_NIR, example)
    run_block(colorize + "\n", "bash", checkout, environment(tmp_path), "README.md:first line")
    rgb = read_image(checkout / outputs_of(colorize)[0])
    assert rgb.shape == (256, 384, 3)
    assert np.ptp(rgb, axis=2).mean() > 0.05  # colour, not grey


def command_table() -> dict[str, str]:
    """The README's commands table: command → its example."""
    readme = (REPO / "README.md").read_text()
    table = readme.split("## Commands", 1)[1].split("\n\n", 2)[1]
    rows = {}
    for line in table.splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = cells[-1].strip("`")
    return rows


def test_the_readme_table_names_every_command_with_an_example_of_it():
    rows = command_table()
    assert tuple(rows) == COMMANDS
    for command, example in rows.items():
        assert shlex.split(example)[:2] == ["nircolor", command], example
    help_text = subprocess.run(
        [sys.executable, "-m", "nircolor", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert all(re.search(rf"\b{command}\b", help_text) for command in COMMANDS), help_text


def commands_of(code: str) -> list[list[str]]:
    """The commands of a shell block, each as its words (``&&`` and line ends separate them)."""
    commands = []
    for line in code.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True, posix=True)
        while "&&" in words:
            cut = words.index("&&")
            commands.append(words[:cut])
            words = words[cut + 1 :]
        commands.append(words)
    return [command for command in commands if command]


def test_the_readme_table_examples_run_in_the_runnable_blocks():
    # Each example is a command of a runnable block, so it runs there; serve, which never
    # returns, is a command of a block that says why it is not run.
    shell = [block for block in ALL_BLOCKS if block.language == "bash"]
    runs = [c for block in shell if block.runnable for c in commands_of(block.code)]
    shown = [c for block in shell if not block.runnable for c in commands_of(block.code)]
    for command, example in command_table().items():
        words = shlex.split(example)
        assert words in (shown if command == "serve" else runs), example
