"""Load test of ``nircolor serve``: many concurrent ``POST /colorize`` on loopback, today's
code (a git commit) against this checkout, in the same run.

Run from the repository root of a git checkout (needs the ``serve`` extra and httpx)::

    python benchmarks/bench_serve.py                  # 300 requests, 16 at a time, 2 rounds
    python benchmarks/bench_serve.py --baseline main  # against another commit
    python benchmarks/bench_serve.py --no-write       # print the table only

Each configuration is a server (:func:`nircolor.serve.create_app` with its defaults, behind
uvicorn, in a subprocess, on a free loopback port) sent a few warm-up requests, then
``--requests`` requests of one ``--size``×``--size`` 8-bit NIR PNG, at most ``--concurrency``
in flight (httpx.AsyncClient + asyncio.Semaphore). The configurations alternate for
``--rounds`` rounds, so that a noisy, shared machine weighs on all alike. The run is bounded
by ``--time-limit`` seconds: requests not done by then count as failures. Every answer must
be a 200 PNG of the right size. The table goes into BENCHMARKS.md ("Service load test").

* **today**: the package as it was at ``--baseline`` (``git archive`` of its ``src`` into a
  temporary folder, first on the server's ``PYTHONPATH``), with its own ``--model``;
* **new**: this checkout's ``src``, with its ``--model``;
* **new, size=N** (unless ``--working-size 0``): the same server, each request asking for a
  working size of N px (the form field ``size``).

When no ``--model`` of that name is loadable here, an L3 model with the default configuration
is trained on synthetic pairs and served by both instead; the table says so.
"""

from __future__ import annotations

import asyncio
import os
import platform
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from _common import REPO, Run, base_parser, fmt, markdown_table, publish
from nircolor.errors import ModelError
from nircolor.examples import textured_nir as textured
from nircolor.io import encode_image
from nircolor.models import load_model
from nircolor.models.l3 import fit_l3

HOST = "127.0.0.1"  # loopback only: the benchmark never listens on another interface
BASELINE = "ea93957"
"""The code before issue 25 (a faster net, the service's working size): ``main`` then."""


def baseline_source(ref: str, folder: Path) -> Path:
    """The ``src`` folder of commit ``ref`` of this repository, extracted under ``folder``."""
    archive = folder / "baseline.tar"
    try:
        with open(archive, "wb") as out:
            subprocess.run(["git", "-C", str(REPO), "archive", ref, "src"], stdout=out, check=True)
    except (OSError, subprocess.CalledProcessError) as error:
        raise SystemExit(f"cannot extract --baseline {ref} with git archive: {error}") from None
    with tarfile.open(archive) as tar:
        tar.extractall(folder / "baseline", filter="data")
    return folder / "baseline" / "src"


def model_for(name: str, folder: Path) -> tuple[str, str]:
    """The model argument for the server, and how to describe it."""
    try:
        load_model(name)
        return name, name
    except ModelError:
        pairs = []
        for seed in range(8):
            nir = textured(256, 320, seed)
            rgb = np.stack([nir**0.8, 0.6 * nir + 0.2, 1.0 - 0.5 * nir], axis=2)
            pairs.append((nir, np.clip(rgb, 0, 1).astype(np.float32)))
        model = fit_l3(pairs)
        target = folder / "l3-synthetic"
        model.save(target)
        return str(target), f"L3 trained on synthetic pairs ('{name}' is not loadable)"


SERVER = """
import sys
from nircolor.serve import create_app, listen, make_server
model, workers, cpus, per_client = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
app = create_app(model, workers=workers or None, cpus=cpus or None, max_per_client=per_client)
sock = listen("127.0.0.1", 0)
print(sock.getsockname()[1], flush=True)
make_server(app, log_level="warning").run(sockets=[sock])
"""
"""A server in a subprocess: ``create_app`` as the benchmark configures it (0: the default)."""


def start_server(
    model: str, workers: int, cpus: int, per_client: int, log: Path, source: Path
) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-c", SERVER, model, str(workers), str(cpus), str(per_client)]
    path = os.pathsep.join(filter(None, [str(source), os.environ.get("PYTHONPATH")]))
    environment = {**os.environ, "PYTHONPATH": path}
    with open(log, "wb") as errors:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=errors, text=True, env=environment
        )
    port = process.stdout.readline().strip()
    if not port.isdigit():
        process.kill()
        raise SystemExit(f"the server did not start:\n{log.read_text(errors='replace')}")
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start within 60 s")


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def png_size(content: bytes) -> tuple[int, int] | None:
    if content[:8] != b"\x89PNG\r\n\x1a\n" or content[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", content[16:24])


async def load_test(
    url: str,
    image: bytes,
    size: int,
    requests: int,
    concurrency: int,
    time_limit: float,
    fields: dict[str, str],
    server_pid: int | None = None,
) -> dict:
    semaphore = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    failures: list[str] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:

        async def one() -> None:
            async with semaphore:
                start = time.perf_counter()
                try:
                    response = await client.post(
                        "/colorize",
                        files={"file": ("bench_nir.png", image, "image/png")},
                        data=fields,
                    )
                except httpx.HTTPError as error:
                    failures.append(type(error).__name__)
                    return
                elapsed = time.perf_counter() - start
                if response.status_code != 200:
                    failures.append(f"HTTP {response.status_code}")
                elif png_size(response.content) != (size, size):
                    failures.append("bad PNG")
                else:
                    latencies.append(elapsed)

        for _ in range(4):  # warm-up: model loaded, threads started, connections open
            await one()
        latencies.clear()
        failures.clear()

        tasks = [asyncio.create_task(one()) for _ in range(requests)]
        server_cpu, client_cpu = process_cpu(server_pid), time.process_time()
        start = time.perf_counter()
        done, pending = await asyncio.wait(tasks, timeout=time_limit)
        wall = time.perf_counter() - start
        client_cpu = time.process_time() - client_cpu
        if server_cpu is not None:
            server_cpu = process_cpu(server_pid) - server_cpu
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        failures.extend(["time limit"] * len(pending))
    return {
        "latencies": latencies,
        "failures": failures,
        "wall": wall,
        "server_cpu": server_cpu,
        "client_cpu": client_cpu,
    }


def process_cpu(pid: int | None) -> float | None:
    """CPU seconds (user + system) process ``pid`` has used, from /proc (None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError, TypeError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_ms(seconds: float | None, requests: int) -> float | None:
    return None if seconds is None else seconds * 1000 / requests


def _median(values) -> float | None:
    found = [v for v in values if v is not None]
    return float(np.median(found)) if found else None


def cpu_note(server: dict, client: dict, cpus: int) -> str:
    """What the CPU time per request says, whatever else ran on the machine: each server's
    cost per request, and the rate it would reach on ``cpus`` free CPUs (an upper bound)."""
    parts = []
    for label, server_ms in server.items():
        if server_ms is None or client[label] is None:
            return ""
        bound = cpus * 1000 / (server_ms + client[label])
        parts.append(f"{label} {server_ms:.1f} ms (at most {bound:.0f} req/s)")
    return (
        "CPU time per request (median over the rounds; the server process from /proc, the "
        "client is this script), a measure that the machine's other load changes little: "
        + "; ".join(parts)
        + f". The bound is {cpus} CPUs divided by the server's and the client's CPU time "
        "per request: the rate with the CPUs free and always busy.\n"
    )


def configurations(baseline: str, working_size: int) -> dict[str, tuple[str, dict]]:
    """Label → (which code, form fields) of every server of the run."""
    found = {f"today ({baseline})": ("baseline", {}), "new": ("new", {})}
    if working_size:
        found[f"new, size={working_size}"] = ("new", {"size": str(working_size)})
    return found


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--size", type=int, default=256, help="image side in pixels")
    parser.add_argument("--model", default="default")
    parser.add_argument("--rounds", type=int, default=2, help="times each configuration runs")
    parser.add_argument("--time-limit", type=float, default=300.0, help="seconds per run")
    parser.add_argument("--baseline", default=BASELINE, help="git commit of today's code")
    parser.add_argument(
        "--working-size", type=int, default=128, help="the size field of a third run (0: none)"
    )
    args = parser.parse_args()
    if min(args.requests, args.concurrency, args.rounds) < 1:
        parser.error("--requests, --concurrency and --rounds must be at least 1")
    run = Run()

    image = encode_image(textured(args.size, args.size, seed=42), ".png")
    labels = configurations(args.baseline, args.working_size)
    rates: dict[str, list[float]] = {label: [] for label in labels}
    cpu: dict[str, list[tuple]] = {label: [] for label in labels}
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as temp:
        sources = {"baseline": baseline_source(args.baseline, Path(temp)), "new": REPO / "src"}
        model, described = model_for(args.model, Path(temp))
        for round_index in range(args.rounds):
            for label, (code, fields) in labels.items():
                log = Path(temp) / f"server-{round_index}-{code}.log"
                process, url = start_server(model, 0, 0, args.concurrency, log, sources[code])
                try:
                    health = httpx.get(f"{url}/health").json()
                    result = asyncio.run(
                        load_test(
                            url,
                            image,
                            args.size,
                            args.requests,
                            args.concurrency,
                            args.time_limit,
                            fields,
                            process.pid,
                        )
                    )
                finally:
                    stop_server(process)
                latencies = np.array(result["latencies"]) * 1000
                ok = len(latencies)
                rate = ok / result["wall"]
                rates[label].append(rate)
                server_ms = cpu_ms(result["server_cpu"], args.requests)
                client_ms = cpu_ms(result["client_cpu"], args.requests)
                cpu[label].append((server_ms, client_ms))
                busy = result["server_cpu"] / result["wall"] if result["server_cpu"] else None
                rows.append(
                    [
                        label,
                        str(round_index + 1),
                        f"{health['workers']} × {health['threads_per_worker']}",
                        str(len(result["failures"])),
                        fmt(result["wall"]),
                        fmt(rate, 1),
                        fmt(np.percentile(latencies, 50) if ok else None, 0),
                        fmt(np.percentile(latencies, 95) if ok else None, 0),
                        fmt(latencies.max() if ok else None, 0),
                        fmt(server_ms, 1),
                        fmt(client_ms, 1),
                        fmt(busy, 2),
                    ]
                )
                print(" | ".join(rows[-1]), flush=True)

    header = ["configuration", "round", "workers × model threads", "failures", "wall s"]
    header += ["req/s", "p50 ms", "p95 ms", "max ms", "server CPU ms / req"]
    header += ["client CPU ms / req", "server CPUs busy"]
    medians = {label: float(np.median(r)) for label, r in rates.items()}
    server = {label: _median(s for s, _ in pairs) for label, pairs in cpu.items()}
    client = {label: _median(c for _, c in pairs) for label, pairs in cpu.items()}
    today = medians[f"today ({args.baseline})"]
    ratios = ", ".join(
        f"{label} {rate:.1f} req/s (**{rate / today:.2f}×**)"
        for label, rate in medians.items()
        if not label.startswith("today")
    )
    body = (
        f"{args.requests} × `POST /colorize` of a {args.size}×{args.size} 8-bit NIR PNG "
        f"({len(image):,} bytes), {args.concurrency} in flight; model: {described}; client and "
        f"server on the same machine ({HOST}, {os.cpu_count()} CPUs, {platform.machine()}). "
        f"Today's code is commit `{args.baseline}` (its own `{args.model}`); the "
        "configurations alternate, round by round.\n\n"
        + markdown_table(header, rows, numeric_from=1)
        + f"\n\nMedian over the rounds: today {today:.1f} req/s; {ratios}.\n\n"
        + cpu_note(server, client, os.cpu_count() or 1)
    )
    publish(run, {"## Service load test": body}, write=not args.no_write)


if __name__ == "__main__":
    main()
