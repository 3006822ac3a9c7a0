"""A committed record of candidates' scores, so that a benchmark section can be rebuilt when a
candidate's model folder (a training run's output, kept outside git) is gone.

The record is a JSON file under ``benchmarks/records/``: ``{name: entry}`` in the order the
candidates were first scored, each entry holding the model path, its training command and
wall time, the date it was scored and its summaries (``{split: {metric: value}}``). A
benchmark re-scores the candidates it is given, replaces their entries, and keeps the others,
which its section then marks as recorded.
"""

from __future__ import annotations

import json
from pathlib import Path

from _common import REPO

RECORDS = REPO / "benchmarks" / "records"


def load_record(path: Path) -> dict[str, dict]:
    return json.loads(path.read_text()) if path.is_file() else {}


def save_record(path: Path, record: dict[str, dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")


def updated_record(
    record: dict[str, dict], entries: dict[str, dict], dropped: list[str]
) -> dict[str, dict]:
    """``record`` with ``entries`` put in (replacing those of the same name, keeping their
    place) and the names in ``dropped`` taken out."""
    missing = [name for name in dropped if name not in record and name not in entries]
    if missing:
        raise SystemExit(f"--drop: no recorded candidate {', '.join(map(repr, missing))}")
    merged = {name: entries.get(name, entry) for name, entry in record.items()}
    merged |= {name: entry for name, entry in entries.items() if name not in merged}
    return {name: entry for name, entry in merged.items() if name not in dropped}


def recorded_only(record: dict[str, dict], at_hand: dict[str, str]) -> list[str]:
    """The recorded candidates that were not scored in this run (their models not given)."""
    return [name for name in record if name not in at_hand]


def shown(path: Path) -> Path:
    """``path`` relative to the repository when it is inside it."""
    return path.relative_to(REPO) if path.is_relative_to(REPO) else path


POST_TRAINING = ("quantization", "lightness_calibration")
"""The ``config.json`` records of the steps run on a folder after its training."""


def training_record(model: str) -> tuple[str, str]:
    """``(commands, wall time)`` of a model folder's training, from its ``config.json``: the
    training command, then those of the steps run after it (int8, lightness offset)."""
    from nircolor.models import read_config, resolve_model_path

    config = read_config(resolve_model_path(model))
    training = config.get("training", {})
    seconds = training.get("wall_seconds")
    threads = training.get("threads")
    wall = f"{seconds / 60:.1f} min" if seconds is not None else "—"
    wall += f" ({threads} thread{'s' if threads != 1 else ''})" if threads else ""
    steps = [config[key]["command"] for key in POST_TRAINING if config.get(key, {}).get("command")]
    commands = [training.get("command", "—"), *steps]
    return "; then ".join(f"`{command}`" for command in commands), wall


def candidate_entries(
    candidates: dict[str, str], scores: dict[str, dict], date: str, extra: dict | None = None
) -> dict[str, dict]:
    """The record's entry of each candidate scored in this run: ``scores`` is ``{split:
    {name: summary}}``; ``extra`` adds ``{name: {split: summary}}`` of further splits."""
    entries = {}
    for name, model in candidates.items():
        command, wall = training_record(model)
        summaries = {split: scores[split][name] for split in scores}
        summaries |= (extra or {}).get(name, {})
        entries[name] = {"model": str(model), "command": command, "wall": wall}
        entries[name] |= {"scored": date, "scores": summaries}
    return entries


def recorded_notes(record: dict[str, dict], marked: list[str], path: Path, script: str) -> str:
    """One line per recorded-only candidate: when it was scored, and where its scores come
    from."""
    return "".join(
        f"\n- {name} †: scored {record[name]['scored']} by {script}; its model"
        f" ({record[name]['model']}) was not kept, so its scores come from `{shown(path)}`"
        f"{' (' + record[name]['note'] + ')' if 'note' in record[name] else ''}."
        for name in marked
    )
