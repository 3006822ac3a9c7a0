"""The training task of each architecture (:func:`task_for`)."""

from __future__ import annotations

from ..errors import ModelError
from .detect import DetectTask
from .iizuka import IizukaTask
from .tasks import ClassifyTask, ColorizeTask, Task
from .zhang import ZhangTask

TASKS: dict[str, Task] = {
    "cnn": ColorizeTask(),
    "classifier": ClassifyTask(),
    "fusion": ColorizeTask(),
    "unet": ColorizeTask(),
    "zhang": ZhangTask(),
    "iizuka": IizukaTask(),
    "detector": DetectTask(),
}
"""The task of each architecture."""


def task_for(arch: str) -> Task:
    """The :class:`~.tasks.Task` an architecture is trained on."""
    if arch not in TASKS:
        raise ModelError(f"unknown architecture '{arch}' (use one of {', '.join(TASKS)})")
    return TASKS[arch]
