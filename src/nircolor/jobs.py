"""One colorization job and what became of it: the records a batch is made of, and
:func:`process_job`, which runs one job wherever the batch runs (here, or in a Dask worker).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .context import ColourContext
from .errors import NircolorError, already_exists
from .filters import DetailTransfer, GuidedFilter, check_denoise
from .io.atomic import output_exists
from .models.onnx import check_temperature
from .video import is_video
from .video.keyframes import CONTEXT_EVERY, check_every

DONE, SKIPPED, FAILED = "done", "skipped", "failed"


@dataclass(frozen=True)
class Job:
    """One input file and the output file it is colorized into."""

    source: Path
    target: Path


@dataclass(frozen=True)
class Options:
    """How every job of a batch is run."""

    guided: GuidedFilter | None = None
    detail: DetailTransfer | None = None
    bit_depth: int = 8
    overwrite: bool = False
    skip_existing: bool = False
    temporal_smoothing: float | None = None
    tile: int | None = None
    input_bits: int | None = None
    context: ColourContext | None = None
    temperature: float | None = None  # zhang models: the annealed-mean temperature
    context_every: int = CONTEXT_EVERY  # videos: the net's colour context every N frames
    max_frames: int | None = None  # videos: stop after this many frames
    duration: float | None = None  # videos: stop after this many seconds
    denoise: str = "auto"  # images: non-local means on noisy NIR (auto, on, off)

    def __post_init__(self) -> None:
        if self.overwrite and self.skip_existing:
            raise NircolorError("--overwrite and --skip-existing contradict each other")
        if self.bit_depth not in (8, 16):
            raise NircolorError("--bit-depth must be 8 or 16")
        if self.tile is not None and self.tile < 16:
            raise NircolorError("--tile must be at least 16 pixels")
        if self.input_bits is not None and not 1 <= self.input_bits <= 16:
            raise NircolorError(f"--input-bits must be from 1 to 16, not {self.input_bits}")
        alpha = self.temporal_smoothing
        if alpha is not None and not 0.0 < alpha <= 1.0:
            raise NircolorError(f"--temporal-smoothing ALPHA must lie in (0, 1], not {alpha}")
        check_every(self.context_every)
        if self.max_frames is not None and self.max_frames < 1:
            raise NircolorError(f"--max-frames must be at least 1, not {self.max_frames}")
        duration = self.duration
        if duration is not None and not (math.isfinite(duration) and duration > 0):
            raise NircolorError(f"--duration must be a positive number of seconds, not {duration}")
        try:
            check_denoise(self.denoise)
        except ValueError as error:
            raise NircolorError(f"--denoise: {error}") from None
        if self.temperature is not None:
            try:
                check_temperature(self.temperature)
            except ValueError as error:
                raise NircolorError(f"--temperature: {error}") from None

    def video_settings(self) -> dict:
        """The keyword arguments of :func:`nircolor.video.colorize_video` these options set."""
        names = ("guided", "detail", "context", "context_every", "max_frames", "duration")
        names += ("overwrite", "temporal_smoothing")
        return {name: getattr(self, name) for name in names}


@dataclass(frozen=True)
class Outcome:
    """What became of one job: ``status`` is ``"done"``, ``"skipped"`` or ``"failed"``."""

    job: Job
    status: str
    message: str = ""
    seconds: float = 0.0


@dataclass
class Summary:
    """The outcomes of a batch, in job order."""

    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    @property
    def done(self) -> int:
        return self.count(DONE)

    @property
    def skipped(self) -> int:
        return self.count(SKIPPED)

    @property
    def failed(self) -> int:
        return self.count(FAILED)

    @property
    def failures(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.status == FAILED]

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def line(self) -> str:
        """``"N done, N skipped, N failed"``."""
        return f"{self.done} done, {self.skipped} skipped, {self.failed} failed"


def process_job(
    job: Job,
    model,
    options: Options,
    progress: Callable[[int, int | None], object] | None = None,
) -> Outcome:
    """Colorize one job and say what happened; never raises for a bad file.

    Runs wherever the batch runs (here, or in a Dask worker): ``model`` is a loaded model or
    a name / folder that :func:`nircolor.api.get_model` loads once per process.
    ``progress(done, total)`` follows the frames of a video, the rows of a streamed image.
    """
    from .api import colorize_file, with_temperature

    start = time.perf_counter()
    source, target = job.source, job.target
    if output_exists(target):
        if options.skip_existing:
            return Outcome(job, SKIPPED)
        if not options.overwrite:
            return Outcome(job, FAILED, str(already_exists(target, skip_existing=True)))
    try:
        loaded = with_temperature(model, options.temperature)
        if is_video(source):
            from .video import colorize_video

            colorize_video(source, target, loaded, **options.video_settings(), progress=progress)
        else:
            colorize_file(
                source,
                target,
                model=loaded,
                guided=options.guided,
                bit_depth=options.bit_depth,
                overwrite=options.overwrite,
                tile=options.tile,
                input_bits=options.input_bits,
                context=options.context,
                progress=progress,
                detail=options.detail,
                denoise=options.denoise,
            )
    except NircolorError as error:
        return Outcome(job, FAILED, one_line(str(error)), time.perf_counter() - start)
    except Exception as error:  # a bug or an odd file must not stop a long batch
        reason = one_line(f"{type(error).__name__}: {error}")
        return Outcome(job, FAILED, f"{source}: unexpected error ({reason})")
    return Outcome(job, DONE, seconds=time.perf_counter() - start)


def one_line(text: str) -> str:
    return " ".join(text.split())
