"""What every trainer shares: run records and atomic model folders."""

from __future__ import annotations

import json
import os
import platform
import shlex
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..io import write_bytes_atomic, write_folder_atomic
from ..metric_tables import metrics_table
from ..models.registry import CONFIG_NAME, is_model_folder, output_model_folder

CHECKPOINT = "checkpoint"
CHECKPOINT_FILE = f"{CHECKPOINT}.safetensors"
"""The file of a training run's checkpoint, in its output folder."""


@dataclass
class TrainResult:
    """Outcome of a training run."""

    model_path: Path
    n_pairs: int
    seconds: float
    info: dict
    evaluation: object = None


def machine_description() -> str:
    """One line naming the CPU and the number of cores, for model cards."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical cores, {platform.system()} {platform.machine()}"


def timestamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def is_training_folder(folder: Path) -> bool:
    """Whether ``folder`` is a model folder or a training run's (it holds a checkpoint)."""
    return is_model_folder(folder) or (folder / CHECKPOINT_FILE).is_file()


def check_output_folder(
    output: Path, overwrite: bool, inputs: Iterable[str | os.PathLike] = ()
) -> None:
    """Refuse to replace an existing folder unless asked, a folder that holds one of
    ``inputs`` (the training pairs) or one that is not a model folder; fail early, before
    training (see :func:`~nircolor.models.registry.output_model_folder`)."""
    output_model_folder(output, overwrite, inputs, is_ours=is_training_folder)


def save_model_folder(
    output: Path,
    write: Callable[[Path], None],
    overwrite: bool,
    inputs: Iterable[str | os.PathLike] = (),
) -> Path:
    """Write a model folder atomically: into a temporary sibling, then renamed into place.

    ``write(folder)`` fills the folder. An existing ``output`` is only replaced when
    ``overwrite`` is set (and :func:`check_output_folder` allows it), and only once the new
    folder is complete.
    """
    check_output_folder(output, overwrite, inputs)
    return write_folder_atomic(output, write)


DATASET_CITATION = (
    'M. Brown and S. Süsstrunk, "Multi-spectral SIFT for scene category recognition", '
    "IEEE CVPR 2011 (EPFL RGB-NIR Scene Dataset; research use)."
)


def metrics_markdown(rows: dict[str, dict]) -> str:
    """A markdown table of mean metrics, one row per group (as Evaluation.by_category gives)."""
    return metrics_table(rows).markdown()


def portable_path(path: str | os.PathLike) -> str:
    """``path`` as a card gives it, without this machine's folders: a relative path as typed;
    an absolute one relative to the current folder, or under ``~`` when it is in the home
    folder and the current folder is not above it."""
    text = os.fspath(path)
    if not os.path.isabs(text):
        return text
    absolute, here, home = Path(text), Path.cwd(), Path.home()
    if not absolute.is_relative_to(here) and absolute.is_relative_to(home):
        return str(Path("~") / absolute.relative_to(home))
    return os.path.relpath(absolute, here)


def portable_command(command: str) -> str:
    """A recorded command line as a card gives it: every absolute path in it (an argument,
    or the value of ``--option=PATH``) made :func:`portable_path`, so anyone can run it."""
    try:
        words = shlex.split(command)
    except ValueError:  # not a command line this package recorded
        return command
    return shlex.join(_portable_word(word) for word in words)


def _portable_word(word: str) -> str:
    option, equals, value = word.partition("=")
    if word.startswith("-") and equals:
        return f"{option}={portable_path(value)}"
    return portable_path(word)


VALIDATION_HEADING = "## Validation"

VALIDATION_NOTE = (
    "Metrics on the scene-disjoint `split == val` rows (sRGB in [0, 1]): means of per-image "
    "values, the colour ratio, hue accuracy and detail ratio pooled over the images (see "
    "`nircolor/docs/metrics.md`)."
)


def validation_section(evaluation) -> list[str]:
    """The lines of a card's ``## Validation`` section: per collection and overall (then the
    NIR shown as grey, if the evaluation scored it), and per category."""
    overall = metrics_table({**evaluation.by_collection(), "all": evaluation.summary})
    note = VALIDATION_NOTE
    if evaluation.grey is not None:
        overall.add_row(metrics_table({evaluation.grey.model: evaluation.grey.summary}).rows[0])
        note += f" The last row, {evaluation.grey.model}, is the floor on the same rows."
    return [
        VALIDATION_HEADING,
        "",
        note,
        "",
        overall.markdown(),
        "",
        "Per category:",
        "",
        metrics_markdown(evaluation.by_category()),
        "",
    ]


def model_card(title: str, description: str, info: dict, evaluation=None) -> str:
    """The text of ``MODEL_CARD.md``: what the model is, how it was trained, how it scores.

    Paths in ``info``'s data and command are written :func:`portable_path`.
    """
    data = portable_path(info["data"]) if info.get("data") else info.get("data")
    command = portable_command(info["command"]) if info.get("command") else info.get("command")
    training = [
        f"- data: `{data}`, rows with `split == {info.get('split')}` "
        f"({info.get('n_pairs')} pairs; categories: {', '.join(info.get('categories', []))})",
        f"- command: `{command}`",
        f"- seed: {info.get('seed')}",
        f"- wall time: {info.get('seconds')} s on {info.get('machine')}",
        f"- date: {info.get('date')}",
        *(f"- {note}" for note in info.get("notes", [])),
    ]
    parts = [f"# {title}", "", description, "", "## Training", "", *training, ""]
    if evaluation is not None:
        parts += validation_section(evaluation)
    parts += ["## Data", "", DATASET_CITATION, ""]
    return "\n".join(parts)


def store_choice(output: Path, field: str, value, sweep_name: str, table: list[dict]) -> None:
    """Set ``field`` of the model's ``config.json`` to ``value``, the sweep that chose it
    kept under ``training[sweep_name]``."""
    config = json.loads((output / CONFIG_NAME).read_text())
    config[field] = value
    config["training"][sweep_name] = table
    write_bytes_atomic(output / CONFIG_NAME, (json.dumps(config, indent=2) + "\n").encode())
