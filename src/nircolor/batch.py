"""Batch colorization: many inputs, one model, a resumable run that survives bad files.

``nircolor colorize`` is a thin layer over this module:

1. :func:`expand_inputs` turns files, globs and folders (recursive) into input files, each with
   its path relative to its input root;
2. :func:`plan_outputs` maps them to output files (OUT keeps the folder structure; an image
   becomes ``.png``, a video ``.mp4``; OUT is the output file itself for one input with a
   matching extension);
3. :func:`run_batch` colorizes them, here or on a Dask cluster (:mod:`nircolor.cluster`), and
   returns a :class:`Summary`.

Every output is written atomically (temporary file, then rename), so an output that exists
is complete: ``skip_existing`` resumes an interrupted run without recomputing anything. A
file that fails (unreadable, colour, unwritable...) gives one :class:`Outcome` with a one-line
message and the run goes on.
"""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .errors import NircolorError
from .io import READ_EXTENSIONS, WRITE_EXTENSIONS
from .video import VIDEO_EXTENSIONS, VIDEO_OUTPUT_SUFFIX, VIDEO_WRITE_FORMATS, is_video

IMAGE_OUTPUT_SUFFIX = ".png"
"""Suffix of an image's output when OUT is a folder."""

DONE, SKIPPED, FAILED = "done", "skipped", "failed"


@dataclass(frozen=True)
class Job:
    """One input file and the output file it is colorized into."""

    source: Path
    target: Path


@dataclass(frozen=True)
class Options:
    """How every job of a batch is run."""

    guided: tuple[int, float] | None = None
    bit_depth: int = 8
    overwrite: bool = False
    skip_existing: bool = False
    temporal_smoothing: float | None = None
    tile: int | None = None

    def __post_init__(self) -> None:
        if self.overwrite and self.skip_existing:
            raise NircolorError("--overwrite and --skip-existing contradict each other")
        if self.bit_depth not in (8, 16):
            raise NircolorError("--bit-depth must be 8 or 16")
        if self.tile is not None and self.tile < 16:
            raise NircolorError("--tile must be at least 16 pixels")
        alpha = self.temporal_smoothing
        if alpha is not None and not 0.0 < alpha <= 1.0:
            raise NircolorError(f"--temporal-smoothing ALPHA must lie in (0, 1], not {alpha}")


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


# ---------------------------------------------------------------- planning


def expand_inputs(inputs: Sequence[str | os.PathLike]) -> list[tuple[Path, Path]]:
    """Expand files, globs and folders into ``(file, path relative to its input root)``.

    A folder is searched recursively for images and videos (hidden files are left out) and
    its files keep their path below it; a glob's matches keep their path below the glob's
    first folder without wildcards (``in/**/*.png`` keeps the sub-folders of ``in``); a file
    is relative to its own folder. The same file named twice is taken once.
    """
    extensions = READ_EXTENSIONS + VIDEO_EXTENSIONS
    found: list[tuple[Path, Path]] = []
    for item in inputs:
        text = os.fspath(item)
        path = Path(text)
        if path.is_dir():
            files = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in extensions
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            found.extend((p, p.relative_to(path)) for p in files)
        elif path.exists():
            found.append((path, Path(path.name)))
        elif glob.has_magic(text):
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True))
            if not matches:
                raise NircolorError(f"{text}: no file matches")
            root = _glob_root(text)
            for match in matches:
                if match.is_file():
                    try:
                        relative = match.relative_to(root)
                    except ValueError:
                        relative = Path(match.name)
                    found.append((match, relative))
        else:
            raise NircolorError(f"{text}: no such file or folder")
    if not found:
        raise NircolorError("no input images found")
    return found


def _glob_root(pattern: str) -> Path:
    parts = Path(pattern).parts
    fixed = []
    for part in parts[:-1]:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def plan_outputs(inputs: Sequence[tuple[Path, Path]], output: str | os.PathLike) -> list[Job]:
    """Map each input to its output file.

    OUT is the output file itself for a single input when its extension fits (an image
    extension for an image, a video one for a video); otherwise OUT is a folder and
    ``X.ext`` becomes ``OUT/X.png`` (images) or ``OUT/X.mp4`` (videos), below the same
    sub-folders as the input.
    """
    output = Path(output)
    suffix = output.suffix.lower()
    if len(inputs) == 1 and not output.is_dir():
        source = inputs[0][0]
        if is_video(source) and suffix in VIDEO_WRITE_FORMATS:
            return [Job(source, output)]
        if not is_video(source) and suffix in WRITE_EXTENSIONS:
            return [Job(source, output)]
        if suffix in VIDEO_WRITE_FORMATS or suffix in WRITE_EXTENSIONS or suffix == ".webm":
            kind = "a video" if is_video(source) else "an image"
            raise NircolorError(
                f"{source} is {kind}: it cannot be written to {output} "
                "(give an output of the same kind, or a folder)"
            )
    jobs: list[Job] = []
    seen: dict[Path, Path] = {}
    for source, relative in inputs:
        new_suffix = VIDEO_OUTPUT_SUFFIX if is_video(source) else IMAGE_OUTPUT_SUFFIX
        target = output / relative.with_suffix(new_suffix)
        if target in seen:
            if _same_file(seen[target], source):
                continue
            raise NircolorError(f"{seen[target]} and {source} would both be written to {target}")
        seen[target] = source
        jobs.append(Job(source, target))
    return jobs


def plan(inputs: Sequence[str | os.PathLike], output: str | os.PathLike) -> list[Job]:
    """:func:`expand_inputs` then :func:`plan_outputs`."""
    return plan_outputs(expand_inputs(inputs), output)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return a == b


# ---------------------------------------------------------------- running


def process_job(
    job: Job,
    model,
    options: Options,
    frame_progress: Callable[[int, int | None], object] | None = None,
) -> Outcome:
    """Colorize one job and say what happened; never raises for a bad file.

    Runs wherever the batch runs (here, or in a Dask worker): ``model`` is a loaded model or
    a name / folder that :func:`nircolor.api.get_model` loads once per process.
    """
    from .api import colorize_file, get_model

    start = time.perf_counter()
    source, target = job.source, job.target
    if target.exists():
        if options.skip_existing:
            return Outcome(job, SKIPPED)
        if not options.overwrite:
            return Outcome(
                job,
                FAILED,
                f"{target}: already exists (use --overwrite to replace it "
                "or --skip-existing to keep it)",
            )
    try:
        loaded = get_model(model)
        if is_video(source):
            from .video import colorize_video

            colorize_video(
                source,
                target,
                loaded,
                guided=options.guided,
                overwrite=options.overwrite,
                temporal_smoothing=options.temporal_smoothing,
                progress=frame_progress,
            )
        else:
            colorize_file(
                source,
                target,
                model=loaded,
                guided=options.guided,
                bit_depth=options.bit_depth,
                overwrite=options.overwrite,
                tile=options.tile,
            )
    except NircolorError as error:
        return Outcome(job, FAILED, _one_line(str(error)), time.perf_counter() - start)
    except Exception as error:  # a bug or an odd file must not stop a long batch
        reason = _one_line(f"{type(error).__name__}: {error}")
        return Outcome(job, FAILED, f"{source}: unexpected error ({reason})")
    return Outcome(job, DONE, seconds=time.perf_counter() - start)


def run_batch(
    jobs: Sequence[Job],
    model,
    options: Options | None = None,
    on_result: Callable[[Outcome], object] | None = None,
    frame_progress: Callable[[Job, int, int | None], object] | None = None,
    cluster: str | None = None,
    workers: int | None = None,
) -> Summary:
    """Run every job and return the :class:`Summary` (outcomes in job order).

    Parameters
    ----------
    jobs : list of Job
        From :func:`plan`.
    model : str, path or model
        A loaded model, a registered name or a model folder.
    options : Options
        Guided filter, bit depth, overwrite / skip-existing, temporal smoothing.
    on_result : callable, optional
        Called with each :class:`Outcome` as soon as it is known (for progress display).
    frame_progress : callable, optional
        ``frame_progress(job, frames_done, frames_total)`` during videos (local runs only).
    cluster : str, optional
        Address of a Dask scheduler (``tcp://host:8786``) to distribute the jobs over.
    workers : int, optional
        Start a local Dask cluster of this many worker processes and distribute over it.
    """
    options = options or Options()
    start = time.perf_counter()
    if cluster is not None or workers is not None:
        from .cluster import run_on_dask

        outcomes = run_on_dask(
            jobs, model, options, address=cluster, n_workers=workers, on_result=on_result
        )
        return Summary(outcomes, time.perf_counter() - start)
    outcomes = []
    for job in jobs:
        progress = None
        if frame_progress is not None and is_video(job.source):

            def progress(done: int, total: int | None, job: Job = job) -> None:
                frame_progress(job, done, total)

        outcome = process_job(job, model, options, progress)
        outcomes.append(outcome)
        if on_result is not None:
            on_result(outcome)
    return Summary(outcomes, time.perf_counter() - start)


def _one_line(text: str) -> str:
    return " ".join(text.split())
