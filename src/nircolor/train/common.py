"""What every trainer shares: run records and atomic model folders."""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError


@dataclass
class TrainResult:
    """Outcome of a training run."""

    model_path: Path
    n_pairs: int
    seconds: float
    info: dict


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


def check_output_folder(output: Path, overwrite: bool) -> None:
    """Refuse to replace an existing folder unless asked; fail early, before training."""
    if output.exists() and not overwrite:
        raise ModelError(f"{output}: already exists (use --overwrite to replace it)")
    if output.exists() and not output.is_dir():
        raise ModelError(f"{output}: exists and is not a folder")


def save_model_folder(output: Path, write: Callable[[Path], None], overwrite: bool) -> Path:
    """Write a model folder atomically: into a temporary sibling, then renamed into place.

    ``write(folder)`` fills the folder. An existing ``output`` is only replaced when
    ``overwrite`` is set, and only once the new folder is complete.
    """
    check_output_folder(output, overwrite)
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        write(staging)
        if output.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{output.name}.old.", dir=output.parent))
            os.replace(output, retired / output.name)
            os.replace(staging, output)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, output)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return output
