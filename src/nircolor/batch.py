"""Batch colorization: many inputs, one model, a resumable run that survives bad files.

``nircolor colorize`` is a thin layer over this module:

1. :func:`scan_inputs` turns files, globs and folders (recursive) into input files, each with
   its path relative to its input root, leaving out earlier outputs (what lies in the output
   folder, and images a colorization wrote); :func:`pair_partners` finds the RGB halves of
   NIR/RGB pairs among them, which are left out;
2. :func:`plan_outputs` maps them to output files (OUT keeps the folder structure; an image
   becomes ``.png``, a video ``.mp4``, ``<id>_nir`` becomes ``<id>_rgb``; OUT is the output
   file itself for one input with a matching extension); no output may be an input;
   :func:`plan_batch` does both;
3. :func:`check_outputs` refuses, before any work, what would fail for every file (outputs
   that exist, a folder that cannot be written); :func:`clean_stale_parts` removes what
   killed runs left;
4. :func:`run_batch` colorizes them, here or on a Dask cluster (:mod:`nircolor.cluster`), and
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

from .api import NIR_SUFFIX, output_name
from .data import RGB_SUFFIXES
from .errors import NircolorError, already_exists, is_an_input
from .io import READ_EXTENSIONS, WRITE_EXTENSIONS
from .io.atomic import file_id, output_exists, remove_stale_parts
from .io.marks import is_colorized
from .jobs import DONE, FAILED, SKIPPED, Job, Options, Outcome, Summary, process_job
from .video import VIDEO_EXTENSIONS, VIDEO_OUTPUT_SUFFIX, VIDEO_WRITE_FORMATS, is_video

__all__ = [
    "DONE",
    "FAILED",
    "SKIPPED",
    "Job",
    "Options",
    "Outcome",
    "Plan",
    "Scan",
    "Summary",
    "check_outputs",
    "clean_stale_parts",
    "expand_inputs",
    "image_inputs",
    "pair_partners",
    "plan",
    "plan_batch",
    "plan_outputs",
    "process_job",
    "run_batch",
    "scan_inputs",
]

IMAGE_OUTPUT_SUFFIX = ".png"
"""Suffix of an image's output when OUT is a folder."""

MEDIA_SUFFIXES = frozenset(
    (*READ_EXTENSIONS, *WRITE_EXTENSIONS, *VIDEO_EXTENSIONS, *VIDEO_WRITE_FORMATS)
) | {".webp", ".gif", ".heic", ".heif", ".avif", ".jxl", ".jp2", ".exr", ".dng"}
"""Extensions that make OUT a file name, never a folder name (several inputs need a folder)."""


# ---------------------------------------------------------------- planning


@dataclass(frozen=True)
class Scan:
    """The input files found (each with its path relative to its input root), and the earlier
    outputs that folders and globs held, left out."""

    found: list[tuple[Path, Path]]
    earlier_outputs: list[Path]


def scan_inputs(
    inputs: Sequence[str | os.PathLike], output: str | os.PathLike | None = None
) -> Scan:
    """Expand files, globs and folders into input files; see :func:`expand_inputs`.

    What a folder or glob yields leaves out earlier outputs: files below ``output`` when it
    is a folder inside the folder searched, and images that a colorization by nircolor
    wrote (:func:`nircolor.io.marks.is_colorized`). A file named as such is always taken (a
    colour image given as NIR then fails with its own error).
    """
    extensions = READ_EXTENSIONS + VIDEO_EXTENSIONS
    found: list[tuple[Path, Path]] = []
    searched: list[tuple[Path, Path]] = []
    for item in inputs:
        text = os.fspath(item)
        if not text:  # Path("") is the current folder: never what was meant
            raise NircolorError("an input is empty; name a file, folder or glob")
        path = Path(text)
        if path.is_dir():
            files = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in extensions
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            searched.extend((p, p.relative_to(path)) for p in files)
            found.extend(_left_in(files, path, output))
        elif path.exists():
            found.append((path, Path(path.name)))
        elif glob.has_magic(text):
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True))
            if not matches:
                raise NircolorError(f"{text}: no file matches")
            root = _glob_root(text)
            files = [match for match in matches if match.is_file()]
            searched.extend((match, _relative(match, root)) for match in files)
            found.extend(_left_in(files, root, output))
        else:
            raise NircolorError(f"{text}: no such file or folder")
    kept = {path for path, _ in found}
    earlier = [path for path, _ in searched if path not in kept]
    if not found:
        raise NircolorError("no input images found" + _left_out_note(earlier))
    return Scan(found, earlier)


def expand_inputs(
    inputs: Sequence[str | os.PathLike], output: str | os.PathLike | None = None
) -> list[tuple[Path, Path]]:
    """Expand files, globs and folders into ``(file, path relative to its input root)``.

    A folder is searched recursively for images and videos (hidden files are left out) and
    its files keep their path below it; a glob's matches keep their path below the glob's
    first folder without wildcards (``in/**/*.png`` keeps the sub-folders of ``in``); a file
    is relative to its own folder. The same file named twice is taken once. Folders and
    globs leave out the earlier outputs of :func:`scan_inputs`.
    """
    return scan_inputs(inputs, output).found


def image_inputs(inputs: Sequence[str | os.PathLike]) -> list[tuple[Path, Path]]:
    """The still images among files, globs and folders (:func:`expand_inputs`, videos left
    out), for the commands that read images only.

    Raises
    ------
    NircolorError
        When there is none.
    """
    found = [(s, r) for s, r in expand_inputs(inputs) if s.suffix.lower() in READ_EXTENSIONS]
    if not found:
        raise NircolorError("no input images found")
    return found


def _relative(path: Path, root: Path) -> Path:
    try:
        return path.relative_to(root)
    except ValueError:
        return Path(path.name)


def _left_in(
    files: Sequence[Path], root: Path, output: str | os.PathLike | None
) -> list[tuple[Path, Path]]:
    """``files`` found below ``root`` that are not earlier outputs, with their relative paths."""
    inside = _folder_inside(output, root)
    return [
        (path, _relative(path, root))
        for path in files
        if not (inside is not None and path.resolve().is_relative_to(inside))
        and not is_colorized(path)
    ]


def _folder_inside(output: str | os.PathLike | None, root: Path) -> Path | None:
    """``output`` resolved, when it lies strictly inside the folder ``root``; else ``None``
    (an output folder that is the input folder itself is refused later, by name)."""
    if output is None:
        return None
    folder, root = Path(output).resolve(), root.resolve()
    return folder if folder != root and folder.is_relative_to(root) else None


def _left_out_note(earlier: Sequence[Path]) -> str:
    if not earlier:
        return ""
    return f" ({len(earlier)} earlier outputs left out: files in the output folder or colorized)"


def _glob_root(pattern: str) -> Path:
    parts = Path(pattern).parts
    fixed = []
    for part in parts[:-1]:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


@dataclass(frozen=True)
class Plan:
    """The jobs of a batch, and what was left out of it: the RGB halves of NIR/RGB pairs,
    and earlier outputs (:func:`scan_inputs`)."""

    jobs: list[Job]
    partners: list[Path]
    earlier_outputs: list[Path] = field(default_factory=list)


def pair_partners(found: Sequence[tuple[Path, Path]]) -> list[Path]:
    """The RGB halves of pairs among ``found``: each ``<id>_rgb.*`` or ``<id>_rgb_reg.*``
    with an ``<id>_nir.*`` of ``found`` in the same folder (an RGB file alone is kept)."""
    nir_ids = {
        (path.parent, path.stem.removesuffix(NIR_SUFFIX))
        for path, _ in found
        if path.stem.endswith(NIR_SUFFIX)
    }
    return [
        path
        for path, _ in found
        if any(
            path.stem.endswith(suffix) and (path.parent, path.stem[: -len(suffix)]) in nir_ids
            for suffix in RGB_SUFFIXES
        )
    ]


def plan_outputs(
    inputs: Sequence[tuple[Path, Path]],
    output: str | os.PathLike,
    one_named_file: bool = False,
    protected: Sequence[Path] = (),
) -> list[Job]:
    """Map each input to its output file.

    OUT is the output file itself for a single input when its extension fits (an image
    extension for an image, a video one for a video); otherwise OUT is a folder and
    ``X.ext`` becomes ``OUT/X.png`` (images) or ``OUT/X.mp4`` (videos), below the same
    sub-folders as the input, and ``<id>_nir.ext`` becomes ``OUT/<id>_rgb.png``.

    Parameters
    ----------
    inputs : list of (Path, Path)
        From :func:`expand_inputs`.
    output : str or path-like
        OUT; a trailing ``/`` makes it a folder.
    one_named_file : bool
        The input is one file named as such (not a folder or glob): OUT without an
        extension is then a mistake, not a folder.
    protected : list of Path
        Files that no output may be, besides the inputs (pair partners left out).

    Raises
    ------
    NircolorError
        For an empty OUT, an OUT that fits neither a file nor a folder, two inputs with one
        output, or an output that is one of the inputs or ``protected`` files.
    """
    if not os.fspath(output):  # Path("") is the current folder: never what was meant
        raise NircolorError("the output path is empty; name an output file or folder")
    file_output = _output_file(inputs, output, one_named_file)
    if file_output is not None:
        jobs = [Job(inputs[0][0], file_output)]
    else:
        jobs = _folder_jobs(inputs, Path(output))
    input_ids = {file_id(path) for path in [*(p for p, _ in inputs), *protected]} - {None}
    for job in jobs:
        if file_id(job.target) in input_ids:
            raise is_an_input(job.target, NircolorError)
    return jobs


def _output_file(
    inputs: Sequence[tuple[Path, Path]], output: str | os.PathLike, one_named_file: bool
) -> Path | None:
    """OUT itself when it names the output file of a single input; ``None`` for a folder."""
    text = os.fspath(output)
    output = Path(text)
    if text.endswith(("/", os.sep)) or output.is_dir():
        return None
    suffix = output.suffix.lower()
    if len(inputs) != 1:
        if suffix in MEDIA_SUFFIXES:
            raise NircolorError(
                f"{output}: several inputs need an output folder, not a file "
                "(end OUT with '/' for a folder of that name)"
            )
        return None
    source = inputs[0][0]
    fits = VIDEO_WRITE_FORMATS if is_video(source) else WRITE_EXTENSIONS
    kind = "a video" if is_video(source) else "an image"
    if suffix in fits:
        return output
    if suffix in VIDEO_WRITE_FORMATS or suffix in WRITE_EXTENSIONS or suffix == ".webm":
        raise NircolorError(
            f"{source} is {kind}: it cannot be written to {output} "
            "(give an output of the same kind, or a folder)"
        )
    if suffix:
        raise NircolorError(
            f"{output}: cannot write '{suffix}' files; use one of {', '.join(fits)}, "
            "or end OUT with '/' for a folder"
        )
    if one_named_file:
        default = VIDEO_OUTPUT_SUFFIX if is_video(source) else IMAGE_OUTPUT_SUFFIX
        raise NircolorError(
            f"{output}: no extension; name the output file ({output}{default}) "
            "or end OUT with '/' for a folder"
        )
    return None


def _folder_jobs(inputs: Sequence[tuple[Path, Path]], output: Path) -> list[Job]:
    jobs: list[Job] = []
    seen: dict[Path, Path] = {}
    for source, relative in inputs:
        new_suffix = VIDEO_OUTPUT_SUFFIX if is_video(source) else IMAGE_OUTPUT_SUFFIX
        target = output / relative.with_name(output_name(relative.name, new_suffix))
        if target in seen:
            if file_id(source) is not None and file_id(seen[target]) == file_id(source):
                continue  # the same file named twice
            raise NircolorError(f"{seen[target]} and {source} would both be written to {target}")
        seen[target] = source
        jobs.append(Job(source, target))
    return jobs


def plan_batch(inputs: Sequence[str | os.PathLike], output: str | os.PathLike) -> Plan:
    """:func:`scan_inputs`, leave out the :func:`pair_partners`, then :func:`plan_outputs`."""
    scan = scan_inputs(inputs, output)
    found = scan.found
    partners = pair_partners(found)
    left_out = set(partners)
    kept = [(path, relative) for path, relative in found if path not in left_out]
    one_named_file = len(inputs) == 1 and Path(inputs[0]).is_file()
    jobs = plan_outputs(kept, output, one_named_file, protected=partners)
    return Plan(jobs, partners, scan.earlier_outputs)


def plan(inputs: Sequence[str | os.PathLike], output: str | os.PathLike) -> list[Job]:
    """The jobs of :func:`plan_batch`."""
    return plan_batch(inputs, output).jobs


# ---------------------------------------------------------------- before running


def check_outputs(jobs: Sequence[Job], options: Options) -> None:
    """Refuse, before any work, what would fail for every file: output folders that cannot
    be written, and outputs that exist without ``overwrite`` or ``skip_existing`` (said
    once, not once per file)."""
    for folder in sorted({job.target.parent for job in jobs}):
        _check_writable(folder)
    if options.overwrite or options.skip_existing:
        return
    existing = [job.target for job in jobs if output_exists(job.target)]
    if len(jobs) == 1 and existing:
        raise already_exists(existing[0], NircolorError, skip_existing=True)
    if existing:
        raise NircolorError(
            f"{len(existing)} of {len(jobs)} outputs already exist (the first: {existing[0]}); "
            "use --overwrite to replace them or --skip-existing to keep them"
        )


def _check_writable(folder: Path) -> None:
    """The nearest existing folder at or above ``folder`` must be one we may write into."""
    existing = folder
    while not output_exists(existing) and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise NircolorError(f"{existing}: not a folder (cannot write into {folder})")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise NircolorError(f"{existing}: no permission to write there")


def clean_stale_parts(jobs: Sequence[Job], started: float) -> list[Path]:
    """Remove the temporary files that killed runs left in the output folders: those named
    like ours, older than ``started`` (this run's ``time.time()``) and whose writing process
    has ended. Returns the removed files."""
    folders = {job.target.parent for job in jobs}
    return [path for folder in sorted(folders) for path in remove_stale_parts(folder, started)]


# ---------------------------------------------------------------- running


def run_batch(
    jobs: Sequence[Job],
    model,
    options: Options | None = None,
    on_result: Callable[[Outcome], object] | None = None,
    job_progress: Callable[[Job, int, int | None], object] | None = None,
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
    job_progress : callable, optional
        ``job_progress(job, done, total)`` within a job (local runs only): the frames of a
        video, the rows of an image streamed by row bands (a large one, or ``tile``).
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
        if job_progress is not None:

            def progress(done: int, total: int | None, job: Job = job) -> None:
                job_progress(job, done, total)

        outcome = process_job(job, model, options, progress)
        outcomes.append(outcome)
        if on_result is not None:
            on_result(outcome)
    return Summary(outcomes, time.perf_counter() - start)
