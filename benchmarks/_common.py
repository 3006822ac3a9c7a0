"""What the benchmark scripts share: arguments, data, progress bars, tables, BENCHMARKS.md.

Every script takes ``--data`` (default ``../shared/data`` beside the repository) and
``--no-write``, prints its tables, and (unless ``--no-write``) replaces its own sections of
``BENCHMARKS.md``: the text from a section's heading to the next heading of the same or a
higher level, so a rerun replaces the section in place instead of adding a second copy. A
section that is not there yet is appended at the end of the file. Every section starts with
the machine, the date, the load average, the exact command and the script's wall time.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import sys
import textwrap
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from nircolor.api import get_model, resolve_finish
from nircolor.data import Pair, load_dataset, load_pair
from nircolor.errors import DataError
from nircolor.evaluate import Evaluation, evaluate_model, nir_as_grey
from nircolor.metric_tables import METRIC_LABELS, METRICS, Table
from nircolor.metric_tables import metrics_table as build_metrics_table
from nircolor.models import list_models
from nircolor.models.base import ColorizerBase
from nircolor.models.l3 import L3Config, L3Model, fit_l3
from nircolor.models.registry import NON_COLORIZERS
from nircolor.train.common import machine_description
from nircolor.train.l3 import LazyPairs

_IMPORTED = time.perf_counter()  # wall time counts from here (the scripts import us first)
REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
BENCHMARKS_MD = REPO / "BENCHMARKS.md"

BLAS_VARIABLE = "OPENBLAS_NUM_THREADS"

# --------------------------------------------------------------------------------------------
# Arguments and data


def base_parser(doc: str) -> argparse.ArgumentParser:
    """A parser with ``--data`` and ``--no-write``, described by the module docstring."""
    parser = argparse.ArgumentParser(
        description=doc.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="data folder (default ../shared/data)"
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print the tables, leave BENCHMARKS.md alone"
    )
    return parser


def single_threaded_blas() -> None:
    """Re-run this script with ``OPENBLAS_NUM_THREADS=1`` unless the caller set it.

    L3's per-class matrix products are small (rendering) or skinny (the Gram matrices of
    training); on the 2-core development machine, with another process keeping a core busy,
    OpenBLAS ran them 4× (training) to 10× (rendering) slower on 2 threads than on 1, with
    bit-identical results on 1 thread. Call it first thing in ``main()``.
    """
    if BLAS_VARIABLE in os.environ:
        return
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, BLAS_VARIABLE: "1"})


def start_l3_benchmark(doc: str):
    """What every L3 benchmark does first: one BLAS thread, ``--data`` and ``--no-write``,
    the run record, and the train and val pairs. Returns ``(args, run, train, val)``."""
    single_threaded_blas()
    args = base_parser(doc).parse_args()
    run = Run()
    train = load_split(args.data, "train")
    val = load_split(args.data, "val")
    print(f"train: {describe_pairs(train)}; val: {describe_pairs(val)}")
    return args, run, train, val


def load_split(data: Path, split: str, categories: Sequence[str] | None = None) -> list[Pair]:
    """The ``split`` pairs of ``data`` (its MANIFEST.csv split); exits with a message if none."""
    try:
        pairs = load_dataset(data, split=split, categories=categories)
    except DataError as error:
        sys.exit(f"{error} (give the data folder with --data)")
    if not pairs:
        sys.exit(f"{data}: no '{split}' pairs")
    return pairs


def by_category(pairs: Iterable[Pair]) -> dict[str, list[Pair]]:
    """Pairs grouped by category, categories sorted by name."""
    groups: dict[str, list[Pair]] = {}
    for pair in sorted(pairs, key=lambda p: p.category):
        groups.setdefault(pair.category, []).append(pair)
    return groups


def describe_pairs(pairs: Sequence[Pair]) -> str:
    """``66 pairs (19 nirscene, 47 vcip2020)``."""
    counts: dict[str, int] = {}
    for pair in pairs:
        counts[pair.collection] = counts.get(pair.collection, 0) + 1
    inside = ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
    return f"{len(pairs)} pairs ({inside})"


class MappedPairs(Sequence):
    """Pairs read from disk on access and turned into training items by
    ``transform(nir, rgb)`` (so ``fit_l3`` can pass over them twice in bounded memory)."""

    def __init__(self, pairs: Sequence[Pair], transform: Callable) -> None:
        self.pairs = list(pairs)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index):
        return self.transform(*load_pair(self.pairs[index]))


# --------------------------------------------------------------------------------------------
# Shipped models


def colorizer_names(text: str | None) -> list[str]:
    """The names of a comma-separated ``--models`` value, or every shipped colorizer (the scene
    classifier, the region detector and the aliases left out)."""
    if text:
        return [name.strip() for name in text.split(",") if name.strip()]
    return [info.name for info in list_models() if info.kind not in NON_COLORIZERS]


def guided_variants(names: Sequence[str]) -> list[tuple[str, str, bool | None]]:
    """``(label, name, guided)`` for every model as it ships (``guided=None``: its default), and
    for a model that carries a default guided filter, also without it (``guided=False``)."""
    found: list[tuple[str, str, bool | None]] = []
    for name in names:
        default = resolve_finish(get_model(name), None, None).guided
        if default is None:
            found.append((f"`{name}`", name, None))
        else:
            found.append((f"`{name}` + guided r={default[0]}, ε={default[1]:g}", name, None))
            found.append((f"`{name}` without guided filter", name, False))
    return found


# --------------------------------------------------------------------------------------------
# Progress bars, training and evaluation


@contextmanager
def progress_bar(description: str, total: int | None = None) -> Iterator[Callable[..., None]]:
    """A transient rich progress bar; yields ``update(done=None, total=None)``: with ``done``
    it sets the count (``fit_l3``'s progress callback), without it advances by one."""
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task(description, total=total)

        def update(done: int | None = None, new_total: int | None = None) -> None:
            if done is None:
                progress.advance(task)
            else:
                progress.update(task, completed=done, total=new_total)

        yield update


def simulated_pairs(folder: Path, count: int, seed: int, render, label: str) -> Path:
    """``count`` synthetic spectral scenes (seeded) rendered by ``render`` (``simulate_pairs``
    or ``simulate_mosaic_pairs``) into a pair folder under ``folder``; its path."""
    from nircolor.spectral import make_scenes

    with progress_bar("simulating scenes", count) as update:
        make_scenes(folder / "scenes", count=count, seed=seed, progress=lambda d, t: update(d, t))
    with progress_bar(f"rendering {label}", count) as update:
        return render(
            folder / "scenes", folder / "pairs", seed=seed, progress=lambda d, t: update(d, t)
        )


def track(items: Sequence, description: str) -> Iterator:
    """Iterate over ``items`` under a progress bar."""
    with progress_bar(description, len(items)) as update:
        for item in items:
            yield item
            update()


def train_l3(
    pairs: Sequence, description: str, config: L3Config | None = None
) -> tuple[L3Model, float]:
    """Fit L3 (``nircolor train l3``'s default configuration unless ``config``) on pairs
    (``Pair`` records, read from disk on access, or in-memory ``(nir, rgb)`` tuples); returns
    the model and the wall seconds."""
    source = LazyPairs(pairs) if pairs and isinstance(pairs[0], Pair) else pairs
    start = time.perf_counter()
    with progress_bar(description) as update:
        model = fit_l3(source, config or L3Config(), progress=update)
    return model, time.perf_counter() - start


def evaluate(model, pairs: Sequence[Pair], description: str, guided=None) -> Evaluation:
    """:func:`nircolor.evaluate.evaluate_model` under a progress bar."""
    with progress_bar(description, len(pairs)) as update:
        return evaluate_model(model, pairs, guided=guided, progress=lambda _: update())


class GreyBaseline(ColorizerBase):
    """The NIR image shown as grey (R = G = B = NIR): the floor every colorizer must beat."""

    kind = "baseline"

    def predict(self, nir, *, threads=None):
        return nir_as_grey(nir)


def with_overall(evaluation: Evaluation, key: str = "category") -> dict[str, dict]:
    """Mean metrics per category (or collection), then ``all``."""
    groups = evaluation.by_category() if key == "category" else evaluation.by_collection()
    return {**groups, "all": evaluation.summary}


# --------------------------------------------------------------------------------------------
# Tables


def fmt(value: float | None, digits: int = 2, signed: bool = False) -> str:
    """A number for a table; ``None`` (no value) is a dash."""
    if value is None:
        return "—"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def fmt_metric(name: str, value: float | None, signed: bool = False) -> str:
    """A metric in its own format (:data:`nircolor.metric_tables.METRICS`); others get 3 digits."""
    if name in METRICS:
        return METRICS[name].format(value, signed)
    return fmt(value, 3, signed)


def markdown_table(header: Sequence[str], rows: Iterable[Sequence], numeric_from: int = 1) -> str:
    """A markdown table; columns from ``numeric_from`` on are right-aligned."""
    numeric = [i >= numeric_from for i in range(len(header))]
    return Table(list(header), [list(row) for row in rows], numeric=numeric).markdown()


def metrics_table(
    groups: Mapping[str, Mapping[str, float]],
    metrics: Sequence[str] = tuple(METRIC_LABELS),
    first: str = "category",
) -> str:
    """One row per group (``n`` and the metrics): the seed's per-category table."""
    return build_metrics_table(groups, first=first, metrics=metrics).markdown()


# --------------------------------------------------------------------------------------------
# BENCHMARKS.md sections


class Run:
    """The record of one benchmark run: command, start, machine."""

    def __init__(self) -> None:
        self.started = _IMPORTED
        self.date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        self.load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        argv = list(sys.argv)
        try:
            argv[0] = os.path.relpath(argv[0], REPO)
        except ValueError:
            pass
        self.command = "python " + shlex.join(argv)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def preamble(self) -> str:
        """Date, machine, load, command and wall time (so far) of this run, as markdown."""
        load = f"; load average {self.load:.2f} at the start" if self.load is not None else ""
        blas = os.environ.get(BLAS_VARIABLE)
        blas = f"; {BLAS_VARIABLE}={blas}" if blas else ""
        return (
            f"Date {self.date}. Machine: {machine_description()}, Python "
            f"{platform.python_version()}{load}{blas}. Command (from the repository root; "
            f"wall time {self.seconds:.0f} s):\n\n```bash\n{self.command}\n```"
        )


def replace_section(text: str, heading: str, body: str) -> str:
    """``text`` with the section under ``heading`` (a markdown heading line such as
    ``## Speed``) replaced by ``heading`` + ``body``; appended at the end when absent.

    The section runs to the next heading of the same or a higher level; ``#`` lines inside
    fenced code blocks are not headings.
    """
    level = len(heading) - len(heading.lstrip("#"))
    if level == 0 or not heading[level:].startswith(" "):
        raise ValueError(f"not a markdown heading: {heading!r}")
    section = f"{heading}\n\n{body.strip()}\n"
    lines = text.splitlines(keepends=True)
    start = end = None
    fenced = False
    for index, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        match = re.match(r"(#+) ", line)
        if start is None:
            if line.rstrip() == heading:
                start = index
        elif match and len(match.group(1)) <= level:
            end = index
            break
    if start is None:
        return text.rstrip("\n") + "\n\n" + section
    after = "".join(lines[end:]) if end is not None else ""
    return "".join(lines[:start]) + section + ("\n" + after if after else "")


def reflow(markdown: str, width: int = 92) -> str:
    """Rewrap the prose paragraphs of ``markdown`` to ``width`` columns; tables, code blocks,
    lists, headings and quotes are left as they are."""
    blocks = re.split(r"\n\s*\n", markdown.strip())
    out = []
    fenced = False
    for block in blocks:
        starts_fence = block.lstrip().startswith("```")
        if fenced or starts_fence or re.match(r"\s*([-*+] |\d+\. |[|#>])", block):
            out.append(block)
            if block.count("```") % 2 == 1:
                fenced = not fenced
            continue
        out.append(
            textwrap.fill(
                " ".join(block.split()),
                width=width,
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return "\n\n".join(out)


def publish(run: Run, sections: Mapping[str, str], write: bool, path: Path = BENCHMARKS_MD):
    """Print every section (with the run's preamble) and write them into ``path``."""
    text = path.read_text() if path.is_file() else "# Benchmarks\n"
    for heading, body in sections.items():
        full = reflow(f"{run.preamble()}\n\n{body.strip()}")
        print(f"\n{heading}\n\n{full}\n")
        text = replace_section(text, heading, full)
    if write:
        path.write_text(text)
        print(f"wrote {', '.join(repr(h) for h in sections)} into {path}")
