"""Batch wall time: local run vs a local Dask cluster (needs nircolor[cluster]).

Colorizes the same folder of synthetic NIR images with a small L3 model three ways:

* ``local``: :func:`nircolor.batch.run_batch` in this process (L3 renders on its threads);
* ``dask, N workers (startup included)``: ``workers=N`` as ``--workers N`` does, cluster start
  and model loading included;
* ``dask, N workers (cluster up)``: an already running LocalCluster (``--cluster ADDRESS``).

and checks that the outputs are byte-identical to the local run's.

    python benchmarks/bench_cluster.py [--files 48] [--size 512x640] [--workers 2]

Prints a markdown table and writes the section "Cluster vs local" of BENCHMARKS.md
(``--no-write``: print only).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from _common import Run, base_parser, markdown_table, publish
from nircolor.batch import Options, plan, run_batch
from nircolor.cluster import start_local_cluster
from nircolor.examples import synthetic_pair as synthetic_scene
from nircolor.io import write_image
from nircolor.train import train_l3

HEADING = "## Cluster vs local"


def outputs(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.png")}


def main() -> None:
    import distributed

    parser = base_parser(__doc__)
    parser.add_argument("--files", type=int, default=48)
    parser.add_argument("--size", default="512x640", help="HxW")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    run = Run()
    height, width = map(int, args.size.lower().split("x"))

    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        pairs = folder / "pairs"
        for index in range(16):
            nir, rgb = synthetic_scene(index, 64, 96)
            write_image(pairs / "c" / f"{index:04d}_nir.png", nir)
            write_image(pairs / "c" / f"{index:04d}_rgb.png", rgb)
        model = str(folder / "model")
        train_l3(pairs, model, split="all")
        inputs = folder / "in"
        for index in range(args.files):
            nir, _ = synthetic_scene(10_000 + index, height, width)
            write_image(inputs / f"{index // 16:02d}" / f"{index:04d}.png", nir)

        rows = []

        def timed(name: str, out: str, **kwargs) -> None:
            start = time.perf_counter()
            summary = run_batch(plan([inputs], folder / out), model, Options(), **kwargs)
            seconds = time.perf_counter() - start
            assert summary.ok, summary.line()
            rows.append((name, seconds, outputs(folder / out)))

        timed("local (this process)", "local")
        timed(f"dask, {args.workers} workers (startup included)", "dask_new", workers=args.workers)
        with start_local_cluster(args.workers) as cluster, distributed.Client(cluster) as client:
            client.wait_for_workers(args.workers)
            timed(
                f"dask, {args.workers} workers (cluster up)",
                "dask_up",
                cluster=cluster.scheduler_address,
            )

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    reference = rows[0][2]
    table = []
    for name, seconds, files in rows:
        same = "yes (byte-identical)" if files == reference and len(files) == args.files else "NO"
        table.append((name, f"{seconds:.2f}", f"{args.files / seconds:.1f}", same))
    body = (
        f"{args.files} synthetic NIR images of {width}×{height}, a small L3 model, {cpus} CPUs; "
        f"the Dask runs use a LocalCluster of {args.workers} single-threaded worker processes."
        "\n\n"
        + markdown_table(["run", "wall s", "images/s", "outputs identical to the local run"], table)
        + "\n\nOn 2 cores a cluster cannot gain much; it is there to spread work over machines."
    )
    publish(run, {HEADING: body}, write=not args.no_write)


if __name__ == "__main__":
    main()
