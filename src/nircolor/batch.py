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
from pathlib import Path

from .errors import NircolorError
from .io import READ_EXTENSIONS, WRITE_EXTENSIONS
from .jobs import DONE, FAILED, SKIPPED, Job, Options, Outcome, Summary, process_job
from .video import VIDEO_EXTENSIONS, VIDEO_OUTPUT_SUFFIX, VIDEO_WRITE_FORMATS, is_video

__all__ = [
    "DONE",
    "FAILED",
    "SKIPPED",
    "Job",
    "Options",
    "Outcome",
    "Summary",
    "expand_inputs",
    "plan",
    "plan_outputs",
    "process_job",
    "run_batch",
]

IMAGE_OUTPUT_SUFFIX = ".png"
"""Suffix of an image's output when OUT is a folder."""


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
