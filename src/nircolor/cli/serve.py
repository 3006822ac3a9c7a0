"""``nircolor serve``: the web page and HTTP API, with every limit checked first."""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import NircolorError
from ..io.decoding import MAX_PIXELS
from ..runtime import MAX_PARALLEL, check_parallel
from .common import app, check_limit, console

SERVE_LIMITS = {
    "--max-upload-mb": 1000,
    "--max-pixels": MAX_PIXELS,
    "--time-limit": 86400,
    "--body-timeout": 86400,
    "--max-per-client": 1024,
}
"""The largest value each limit of 'nircolor serve' takes (the pixels: the CLI's own limit)."""


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on; 127.0.0.1 is this machine only.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model used when a request names none.")
    ] = "default",
    workers: Annotated[
        int | None,
        typer.Option(
            help=f"Colorizations run at once, in threads, 1 to {MAX_PARALLEL} (default: one "
            "per CPU, 2 to 8), each running the model on CPUs // WORKERS threads."
        ),
    ] = None,
    max_upload_mb: Annotated[
        float,
        typer.Option("--max-upload-mb", help="Largest accepted image file, in MB (at most 1000)."),
    ] = 25.0,
    max_pixels: Annotated[
        int,
        typer.Option(
            "--max-pixels", help="Largest accepted image, width × height (the CLI's is 400 M)."
        ),
    ] = 4_000_000,
    time_limit: Annotated[
        float,
        typer.Option("--time-limit", help="Seconds one colorization may run (at most a day)."),
    ] = 60.0,
    body_timeout: Annotated[
        float,
        typer.Option(
            "--body-timeout", help="Seconds an upload may take to arrive (at most a day)."
        ),
    ] = 60.0,
    max_per_client: Annotated[
        int,
        typer.Option(
            "--max-per-client", help="Requests one client address may have open (at most 1024)."
        ),
    ] = 16,
) -> None:
    """Serve a web page and an HTTP API (POST /colorize) for colorizing NIR images."""
    from ..extras import require_extra

    require_extra("serve", "'nircolor serve'")
    from ..serve import create_app, listen, make_server, url_host

    if not 0 <= port <= 65535:
        raise NircolorError(f"--port must be between 0 and 65535, not {port}")
    check_parallel("--workers", workers)
    for option, value in (
        ("--max-upload-mb", max_upload_mb),
        ("--max-pixels", max_pixels),
        ("--time-limit", time_limit),
        ("--body-timeout", body_timeout),
        ("--max-per-client", max_per_client),
    ):
        check_limit(option, value, SERVE_LIMITS[option])
    web_app = create_app(
        model,
        max_upload_bytes=max(1, round(max_upload_mb * 1e6)),
        max_pixels=max_pixels,
        workers=workers,
        max_per_client=max_per_client,
        body_timeout_s=body_timeout,
        time_limit_s=time_limit,
    )
    sock = listen(host, port)  # before the "serving" line: port 0 is resolved, errors come first
    bound = sock.getsockname()[1]
    console.print(
        f"nircolor: serving model {model} on http://{url_host(host)}:{bound}/ (Ctrl+C to stop)",
        highlight=False,
    )
    try:
        make_server(web_app).run(sockets=[sock])
    finally:
        sock.close()
