"""What one colorization may spend in the service: CPU threads, time, and tile size."""

from __future__ import annotations

import inspect
import re
import time
from pathlib import PurePath, PureWindowsPath

import numpy as np

from .. import runtime
from ..errors import ModelError
from ..filters import GuidedFilter
from ..models import Colorizer


class OverTime(Exception):
    """A colorization ran past the service's time limit (raised between tiles)."""


def pool_threads(workers: int, cpus: int | None = None) -> int:
    """Model threads per colorization, so that ``workers`` colorizations at once use the
    CPUs without oversubscribing them: ``cpus // workers``, at least 1.

    Many intra-op threads per request, times a pool of requests, contend for the cores: on 2
    CPUs, 4 workers of 2 ONNX threads each served 256×256 requests slower than 2 workers of
    1 thread (benchmarks/bench_serve.py).
    """
    if cpus is None:
        cpus = runtime.usable_cores()
    return max(1, cpus // max(1, workers))


class Budgeted:
    """A model seen through a request's budget: ``threads`` model threads per call, and no
    new call (image or tile) started after ``deadline`` (:func:`time.monotonic`)."""

    def __init__(self, model: Colorizer, threads: int, deadline: float) -> None:
        self.model = model
        self.threads = threads
        self.deadline = deadline
        self._threads_given = _takes_threads(model.predict)

    @property
    def kind(self) -> str:
        return self.model.kind

    @property
    def halo(self) -> int | None:
        return self.model.halo

    @property
    def guided(self) -> GuidedFilter | None:
        return self.model.guided

    @property
    def detail(self):
        return getattr(self.model, "detail", None)

    @property
    def context(self):
        return self.model.context

    def for_image(self, nir: np.ndarray) -> Budgeted:
        return Budgeted(self.model.for_image(nir), self.threads, self.deadline)

    def predict(self, nir: np.ndarray, *, threads: int | None = None) -> np.ndarray:
        if time.monotonic() > self.deadline:
            raise OverTime
        if self._threads_given:
            return self.model.predict(nir, threads=self.threads)
        return self.model.predict(nir)

    def save(self, folder) -> None:
        raise ModelError("a served model cannot be saved")


def _takes_threads(predict) -> bool:
    """Whether ``predict`` accepts ``threads=`` (a user's model may take the image alone)."""
    try:
        parameters = inspect.signature(predict).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "threads" or p.kind is p.VAR_KEYWORD for p in parameters)


_ABSOLUTE_PATH = re.compile(r"(?<![\w.~-])(?:/|[A-Za-z]:[\\/])[^\s'\"():,;]*")


def without_paths(message: str) -> str:
    """``message`` with every absolute file path cut to its last part (``/srv/m/x.onnx`` →
    ``x.onnx``): an error body never tells a client where the server keeps its files."""

    def last_part(match: re.Match) -> str:
        text = match.group(0)
        path = PureWindowsPath(text) if re.match(r"[A-Za-z]:", text) else PurePath(text)
        return path.name or "…"

    return _ABSOLUTE_PATH.sub(last_part, message)
