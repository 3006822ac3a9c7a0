"""Load test of ``nircolor serve``: many concurrent ``POST /colorize`` on loopback.

Run from the repository root (needs the ``serve`` extra and httpx)::

    python benchmarks/bench_serve.py                       # 200 requests, 16 at a time
    python benchmarks/bench_serve.py --workers 1,2,4       # one server per worker count

A server is started as ``nircolor serve --host 127.0.0.1`` on a free port (loopback only),
sent a few warm-up requests, then ``--requests`` requests of one ``--size``×``--size`` 8-bit
NIR PNG, at most ``--concurrency`` in flight (httpx.AsyncClient + asyncio.Semaphore). The run
is bounded by ``--time-limit`` seconds: requests not done by then count as failures. Every
answer must be a 200 PNG of the right size. The result is a markdown table on stdout.

When no ``--model`` of that name is loadable (no ``default`` model shipped yet), an L3 model
with the default configuration is trained on synthetic pairs and served instead; the table
says so.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from nircolor.errors import ModelError
from nircolor.examples import textured_nir as textured
from nircolor.io import encode_image
from nircolor.models import load_model
from nircolor.models.l3 import fit_l3

HOST = "127.0.0.1"  # loopback only: the benchmark never listens on another interface


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(model: str, workers: int | None, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-c", "from nircolor.cli import main; main()", "serve"]
    command += ["--host", HOST, "--port", str(port), "--model", model]
    if workers is not None:
        command += ["--workers", str(workers)]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
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
    url: str, image: bytes, size: int, requests: int, concurrency: int, time_limit: float
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
                        "/colorize", files={"file": ("bench_nir.png", image, "image/png")}
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
        start = time.perf_counter()
        done, pending = await asyncio.wait(tasks, timeout=time_limit)
        wall = time.perf_counter() - start
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        failures.extend(["time limit"] * len(pending))
    return {"latencies": latencies, "failures": failures, "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--size", type=int, default=256, help="image side in pixels")
    parser.add_argument("--model", default="default")
    parser.add_argument(
        "--workers",
        default="",
        help="server worker threads (default: the server's); a comma list runs one per value",
    )
    parser.add_argument("--time-limit", type=float, default=300.0, help="seconds per run")
    args = parser.parse_args()
    if args.requests < 1 or args.concurrency < 1:
        parser.error("--requests and --concurrency must be at least 1")
    worker_counts = [int(w) for w in args.workers.split(",")] if args.workers else [None]

    image = encode_image(textured(args.size, args.size, seed=42), ".png")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as temp:
        model, described = model_for(args.model, Path(temp))
        for workers in worker_counts:
            process, url = start_server(model, workers, Path(temp) / f"server-{workers}.log")
            try:
                workers = httpx.get(f"{url}/health").json()["workers"]
                result = asyncio.run(
                    load_test(
                        url, image, args.size, args.requests, args.concurrency, args.time_limit
                    )
                )
            finally:
                stop_server(process)
            latencies = np.array(result["latencies"]) * 1000
            ok = len(latencies)
            rows.append(
                (
                    workers,
                    args.requests,
                    len(result["failures"]),
                    result["wall"],
                    ok / result["wall"],
                    np.percentile(latencies, 50) if ok else float("nan"),
                    np.percentile(latencies, 95) if ok else float("nan"),
                    latencies.max() if ok else float("nan"),
                    sorted(set(result["failures"])),
                )
            )

    print(
        f"### nircolor serve: {args.requests} × POST /colorize, {args.size}×{args.size} 8-bit "
        f"NIR PNG ({len(image):,} bytes), {args.concurrency} concurrent\n"
    )
    print(
        f"Model: {described}. Machine: {os.cpu_count()} CPUs, {platform.machine()}, "
        f"Python {platform.python_version()}; client and server on the same machine "
        f"({HOST}).\n"
    )
    print("| workers | requests | failures | wall s | req/s | p50 ms | p95 ms | max ms |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for workers, n, failed, wall, rate, p50, p95, worst, _ in rows:
        print(
            f"| {workers} | {n} | {failed} | {wall:.2f} | {rate:.1f} | {p50:.0f} | "
            f"{p95:.0f} | {worst:.0f} |"
        )
    kinds = sorted({k for row in rows for k in row[-1]})
    if kinds:
        print(f"\nFailures: {', '.join(kinds)}")


if __name__ == "__main__":
    main()
