"""Speed and peak memory of every shipped colorizer on a 1024×680 image, beside the I/O floor.

Every measurement runs in a fresh Python process (so peak RSS is that model's alone) limited
to ``--threads`` CPUs: the process is pinned to that many CPUs (``os.sched_setaffinity``, which
also sets L3's thread count, since L3 uses the CPUs it may run on), OpenCV gets the same
thread count, OpenBLAS and OpenMP ``--blas-threads`` (default: the same), and the ONNX models
run with onnxruntime's ``intra_op_num_threads`` set by nircolor
(``nircolor.models.onnx.DEFAULT_THREADS`` = 2). L3 renders with many small per-class matrix
products: on a 2-core machine with another process busy, 2 OpenBLAS threads made it up to 10×
slower than 1 (compare with ``--blas-threads 1``). In each process:

* **colorize**: ``nircolor.api.colorize(nir, model=NAME)`` on an in-memory 1024×680 NIR image
  (a val NIR image of the data resized, or the synthetic example image without data),
  ``--warmup`` calls, then the median and minimum of ``--runs`` timed calls;
* **file to file**: read the 1024×680 NIR PNG, colorize, write the RGB PNG (median);
* **I/O floor**: the same read and write with no model (a process that only imports nircolor);
* **peak RSS**: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` at the end of the process.

Writes the section "Speed" of BENCHMARKS.md::

    python benchmarks/bench_speed.py [--runs 20] [--threads 2] [--blas-threads N]
                                     [--models l3,cnn] [--no-write]
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZE = (680, 1024)  # height, width
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# --------------------------------------------------------------------------------------------
# The measuring process (imports nothing it does not need, so its peak RSS is the model's)


def pin_threads(threads: int) -> None:
    import cv2

    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) > threads:
        os.sched_setaffinity(0, set(cpus[:threads]))
    cv2.setNumThreads(threads)


def timed(call, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return times


def worker(spec: dict) -> dict:
    pin_threads(spec["threads"])
    import numpy as np

    from nircolor.api import colorize, get_model
    from nircolor.io import read_nir, write_image

    source, target = Path(spec["image"]), Path(spec["output"])
    runs, warmup = spec["runs"], spec["warmup"]
    result: dict = {"threads": len(os.sched_getaffinity(0))}
    if spec["model"] is None:  # the I/O floor: read the NIR PNG, write an RGB PNG
        grey = read_nir(source)
        rgb = np.ascontiguousarray(np.stack([grey, grey[::-1], grey[:, ::-1]], axis=2))

        def read() -> None:
            read_nir(source)

        def write() -> None:
            write_image(target, rgb, overwrite=True)

        timed(read, warmup)
        timed(write, warmup)
        result["read_ms"] = timed(read, runs)
        result["write_ms"] = timed(write, runs)
        result["file_ms"] = [
            r + w for r, w in zip(result["read_ms"], result["write_ms"], strict=True)
        ]
    else:
        nir = read_nir(source)
        guided = False if spec["guided"] is False else None
        context = spec.get("context")
        start = time.perf_counter()
        model = get_model(spec["model"])
        result["load_ms"] = (time.perf_counter() - start) * 1000

        def once() -> None:
            colorize(nir, model=model, guided=guided, context=context)

        def file_to_file() -> None:
            rgb = colorize(read_nir(source), model=model, guided=guided, context=context)
            write_image(target, rgb, overwrite=True)

        timed(once, warmup)
        result["colorize_ms"] = timed(once, runs)
        result["file_ms"] = timed(file_to_file, runs)
    result["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


# --------------------------------------------------------------------------------------------
# The driver


def test_image(data: Path, folder: Path) -> tuple[Path, str]:
    """Write the 1024×680 NIR PNG every process reads; say where it comes from."""
    import cv2

    from nircolor.data import load_dataset
    from nircolor.errors import DataError
    from nircolor.examples import make_example_nir
    from nircolor.io import read_nir, write_image

    path = folder / "nir_1024x680.png"
    try:
        pairs = [p for p in load_dataset(data, "val") if p.collection == "nirscene"]
    except DataError:
        pairs = []
    if pairs:
        nir = cv2.resize(read_nir(pairs[0].nir), (SIZE[1], SIZE[0]), interpolation=cv2.INTER_AREA)
        origin = f"`{pairs[0].id}` (a val NIR image) resized to 1024×680, 8-bit PNG"
    else:
        nir = make_example_nir(SIZE[1], SIZE[0])
        origin = "the synthetic example NIR image (no data found), 1024×680, 8-bit PNG"
    write_image(path, nir, overwrite=True)
    return path, origin


def context_variants(found):
    """Each ``(label, name, guided)`` with its model's colour context (``None``), and for a
    model that has one, also without it (``0``): the speed of colorizing the image whole."""
    from nircolor.api import get_model

    variants = []
    for label, name, guided in found:
        variants.append((label, name, guided, None))
        if guided is None and get_model(name).context:
            variants.append((f"`{name}` without colour context", name, guided, 0))
    return variants


def measure(spec: dict) -> dict:
    env = dict(os.environ, **{name: str(spec["blas_threads"]) for name in THREAD_VARIABLES})
    command = [sys.executable, __file__, "--worker", json.dumps(spec)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"measuring {spec['label']} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        print(json.dumps(worker(json.loads(sys.argv[2]))))
        return
    from _common import (
        Run,
        base_parser,
        colorizer_names,
        fmt,
        guided_variants,
        markdown_table,
        progress_bar,
        publish,
    )

    parser = base_parser(__doc__)
    parser.add_argument("--runs", type=int, default=20, help="timed calls per model")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls first")
    parser.add_argument("--threads", type=int, default=2, help="CPUs per measuring process")
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="OpenBLAS/OpenMP threads per process (default: --threads, as on such a machine)",
    )
    parser.add_argument("--models", default=None, help="comma-separated names (default: all)")
    args = parser.parse_args()
    blas_threads = args.blas_threads or args.threads
    run = Run()
    names = colorizer_names(args.models)

    rows = []
    floor = None  # file-to-file ms of the I/O floor, measured first
    with tempfile.TemporaryDirectory() as folder:
        image, origin = test_image(args.data, Path(folder))
        found = [("I/O floor", None, None, None), *context_variants(guided_variants(names))]
        with progress_bar("measuring", len(found)) as update:
            for label, name, guided, context in found:
                spec = {
                    "label": label,
                    "model": name,
                    "guided": guided,
                    "context": context,
                    "image": str(image),
                    "output": str(Path(folder) / "out.png"),
                    "runs": args.runs,
                    "warmup": args.warmup,
                    "threads": args.threads,
                    "blas_threads": blas_threads,
                }
                result = measure(spec)
                update()
                colorize = result.get("colorize_ms")
                row = [
                    label,
                    fmt(statistics.median(colorize), 1) if colorize else "—",
                    fmt(min(colorize), 1) if colorize else "—",
                    fmt(statistics.median(result["file_ms"]), 1),
                    statistics.median(result["file_ms"]),  # becomes the ratio to the floor
                    fmt(result["load_ms"], 0) if "load_ms" in result else "—",
                    fmt(result["maxrss_mb"], 0),
                ]
                if "read_ms" in result:
                    row[0] = (
                        f"I/O floor: read NIR PNG ({statistics.median(result['read_ms']):.1f} ms)"
                        f" + write RGB PNG ({statistics.median(result['write_ms']):.1f} ms)"
                    )
                floor = floor if "read_ms" not in result else statistics.median(result["file_ms"])
                row[4] = f"{row[4] / floor:.2f}×"
                print(" | ".join(str(cell) for cell in row))
                rows.append(row)
    header = [
        "model",
        "colorize ms (median)",
        "min",
        "read + colorize + write ms",
        "÷ I/O floor",
        "load ms (first use)",
        "peak RSS MB",
    ]
    load = os.getloadavg()[0]
    quiet = (
        "The machine was quiet"
        if load < 0.5
        else f"**The machine was busy** (load average {load:.1f} at the end on "
        f"{os.cpu_count()} CPUs): the times are upper bounds; rerun on a quiet machine"
    )
    body = f"""Milliseconds per 1024×680 image, median (and minimum) of {args.runs} calls of
`nircolor.api.colorize` after {args.warmup} warm-up call(s), every model in a fresh process
pinned to {args.threads} CPUs (L3 renders on the CPUs it may use; onnxruntime runs with
nircolor's 2 intra-op threads; OpenCV limited to {args.threads} threads, OpenBLAS and OpenMP
to {blas_threads}).
"read + colorize + write" is file to file (NIR PNG in, 8-bit RGB PNG out); the I/O floor is
the same read and write with no model ("load" is the first `get_model`, the imports of the
model's runtime included). Peak RSS is the process's maximum resident set
(Python, numpy and OpenCV included; the I/O floor process shows that base). Input:
{origin}. {quiet}.

{markdown_table(header, rows)}"""
    publish(run, {"## Speed: ms per 1024×680 image and peak memory": body}, write=not args.no_write)


if __name__ == "__main__":
    main()
