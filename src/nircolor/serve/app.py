"""The web application: ``create_app`` and its endpoints (see :mod:`nircolor.serve`)."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any

import anyio
import anyio.to_thread
import starlette.formparsers
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from .. import __version__, runtime
from ..api import colorize, output_name
from ..cfa import read_mosaic_bytes
from ..context import ColourContext
from ..errors import NircolorError
from ..filters import GuidedFilter, check_denoise
from ..io import encode_image, read_nir_bytes
from ..models import Colorizer
from ..models.l3.cfa import takes_mosaic
from ..tiling import DEFAULT_TILE
from .budget import Budgeted, OverTime, pool_threads
from .detect import detect_handler
from .forms import (
    Refused,
    _error,
    _text_field,
    check_pixels,
    read_upload,
    too_large,
    working_size,
)
from .registry import ModelRegistry

if starlette.formparsers.multipart is None:  # form parsing needs python-multipart
    raise ModuleNotFoundError("No module named 'python_multipart'", name="python_multipart")

log = logging.getLogger("nircolor.serve")

DEFAULT_MAX_UPLOAD_BYTES = 25_000_000
"""Largest accepted image file (25 MB)."""
DEFAULT_MAX_PIXELS = 4_000_000
"""Largest accepted image, width × height (4 megapixels, such as 2560 × 1560), read from the
header; the command line takes up to :data:`nircolor.io.MAX_PIXELS`."""
DEFAULT_MAX_PENDING = 64
"""Requests admitted at once (body received; running or waiting for a worker); more get 503."""
DEFAULT_MAX_PER_CLIENT = 16
"""Colorize requests one client address may have open at once (body arriving included)."""
DEFAULT_BODY_TIMEOUT_S = 60.0
"""Seconds a request body may take to arrive."""
DEFAULT_TIME_LIMIT_S = 60.0
"""Seconds one colorization may run (checked between tiles)."""

FORM_OVERHEAD_BYTES = 64 * 1024
"""Room in a request body for the multipart framing and the small form fields."""


def default_workers() -> int:
    """Colorizations run at once: one per CPU, from 2 to 8 (each gets
    :func:`~nircolor.serve.budget.pool_threads` model threads, 1 on most machines).

    Decoding, encoding and the Python around the model hold the GIL part of the time, so 2
    requests keep even 1 CPU busy; more than 8 would only add memory (each request holds
    its image several times over as float32).
    """
    return min(8, max(2, runtime.usable_cores()))


class _UploadTooLarge(Exception):
    pass


def create_app(
    model: str | os.PathLike | Colorizer = "default",
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    workers: int | None = None,
    max_pending: int = DEFAULT_MAX_PENDING,
    max_per_client: int = DEFAULT_MAX_PER_CLIENT,
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
    tile: int = DEFAULT_TILE,
    cpus: int | None = None,
) -> FastAPI:
    """Build the web application.

    Parameters
    ----------
    model : str, path or model
        The model used when a request names none: a registered name, a model folder or a
        loaded model (anything with ``.predict``). It is loaded now, so a bad one fails here.
    max_upload_bytes : int
        Largest image file accepted (413 beyond; counted while the body streams in).
    max_pixels : int
        Largest image accepted, width × height, read from the file header before decoding
        (413 beyond). Lower than the command line's limit: a service shares its CPUs and
        memory between clients.
    workers : int, optional
        Colorizations run at once, each in a worker thread (default :func:`default_workers`).
    max_pending : int
        Colorize requests admitted at once (body received; running or queued); beyond it
        the server answers 503. Requests still sending their body are not counted.
    max_per_client : int
        Colorize requests one client address may have open at once, body still arriving
        included; beyond it the server answers 429.
    body_timeout_s : float
        Seconds a request body may take to arrive (408 beyond).
    time_limit_s : float
        Seconds a colorization may run; it is stopped at the next tile after that (503).
    tile : int
        Images of more than ``tile × tile`` pixels are colorized in tiles (or row bands) of
        that size, in bounded memory (:func:`nircolor.tiling.tile_colorize`).
    cpus : int, optional
        CPUs the colorizations share (default: those this process may run on,
        :func:`nircolor.runtime.usable_cores`); each gets
        ``cpus // workers`` model threads (at least 1).
    """
    for label, value in (
        ("max_upload_bytes", max_upload_bytes),
        ("max_pixels", max_pixels),
        ("max_pending", max_pending),
        ("max_per_client", max_per_client),
        ("tile", tile),
    ):
        if value < 1:
            raise ValueError(f"{label} must be at least 1, not {value}")
    for label, value in (("body_timeout_s", body_timeout_s), ("time_limit_s", time_limit_s)):
        if not value > 0:
            raise ValueError(f"{label} must be positive, not {value}")
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    threads = pool_threads(workers, cpus)

    registry = ModelRegistry(model)
    limiter = anyio.CapacityLimiter(workers)
    load = {"receiving": 0, "pending": 0, "served": 0, "failed": 0}
    per_client: dict[str, int] = {}
    started = time.time()

    app = FastAPI(
        title="nircolor",
        version=__version__,
        docs_url=None,  # the interactive docs would fetch their assets from a CDN
        redoc_url=None,
        openapi_url=None,
    )
    app.state.registry = registry
    app.state.limiter = limiter

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        return _error(error.status_code, str(error.detail), error.headers)

    @app.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE, headers=PAGE_HEADERS)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "version": __version__,
            "model": registry.default_name,
            "workers": workers,
            "threads_per_worker": threads,
            "running": int(limiter.borrowed_tokens),
            "receiving": load["receiving"],
            "pending": load["pending"],
            "served": load["served"],
            "failed": load["failed"],
            "uptime_s": round(time.time() - started, 1),
            "max_upload_bytes": max_upload_bytes,
            "max_pixels": max_pixels,
            "max_pending": max_pending,
            "max_per_client": max_per_client,
            "body_timeout_s": body_timeout_s,
            "time_limit_s": time_limit_s,
        }

    @app.get("/models")
    async def models() -> list[dict[str, Any]]:
        return registry.describe()

    @app.post("/colorize")
    async def colorize_endpoint(request: Request) -> Response:
        return await _admit(request, _colorize)

    @app.post("/detect")
    async def detect_endpoint(request: Request) -> Response:
        return await _admit(request, detect_form)

    detect_form = detect_handler(limiter, threads, max_upload_bytes, max_pixels, time_limit_s)

    async def _admit(request: Request, handle) -> Response:
        """Run ``handle(form)`` under the per-client, size, time and pending limits."""
        client = request.client.host if request.client else "?"
        if per_client.get(client, 0) >= max_per_client:
            return _error(
                429,
                f"too many requests from this client at once (the limit is {max_per_client}); "
                "try again shortly",
                {"Retry-After": "1"},
            )
        per_client[client] = per_client.get(client, 0) + 1
        try:
            response = await _receive_and_run(request, handle)
        finally:
            per_client[client] -= 1
            if not per_client[client]:
                del per_client[client]
        load["served" if response.status_code == 200 else "failed"] += 1
        return response

    async def _receive_and_run(request: Request, handle) -> Response:
        load["receiving"] += 1
        try:
            form = await _receive_form(request)
        finally:
            load["receiving"] -= 1
        if isinstance(form, Response):
            return form
        try:
            if load["pending"] >= max_pending:  # counted only once the body is in
                return _error(
                    503,
                    f"server busy: {load['pending']} requests in progress; try again shortly",
                    {"Retry-After": "1"},
                )
            load["pending"] += 1
            try:
                return await handle(form)
            finally:
                load["pending"] -= 1
        finally:
            await form.close()

    async def _receive_form(request: Request):
        """The request's form, or the error response when it cannot be had."""
        refused = too_large(max_upload_bytes)
        body_limit = max_upload_bytes + FORM_OVERHEAD_BYTES
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > body_limit:
            return _error(413, refused)
        limited = Request(request.scope, _limited_receive(request.receive, body_limit))
        try:
            with anyio.fail_after(body_timeout_s):
                return await limited.form(max_files=1, max_fields=8)
        except TimeoutError:
            return _error(
                408, f"upload too slow: the request must arrive within {body_timeout_s:g} s"
            )
        except _UploadTooLarge:
            return _error(413, refused)
        except ClientDisconnect:
            return _error(400, "client disconnected during the upload")
        except HTTPException as error:
            return _error(400, f"bad form data: {error.detail}")

    async def _colorize(form) -> Response:
        name = "upload"
        try:
            name, data = await read_upload(form, max_upload_bytes)
            model_name = registry.check(_text_field(form, "model"))
            guided = GuidedFilter.parse_option(_text_field(form, "guided") or None, "guided")
            model = registry.load(model_name)
            context = working_size(form, model)
            denoise = _denoise_field(form)
            check_pixels(name, data, max_pixels)
            start = time.perf_counter()
            job = _Job(model, data, name, guided, threads, time_limit_s, tile, context, denoise)
            png, shape = await anyio.to_thread.run_sync(job.run, limiter=limiter)
        except Refused as refused:
            return refused.response
        except OverTime:
            return _error(
                503,
                f"{name}: took more than {time_limit_s:g} s, the service's limit per image; "
                "try a smaller image",
            )
        except NircolorError as error:
            return _error(400, str(error))
        except ValueError as error:  # an array the model refuses (shape, values)
            return _error(400, f"{name}: {error}")
        except MemoryError:
            log.exception("out of memory while colorizing")
            return _error(503, "server out of memory; try a smaller image")
        except Exception:
            log.exception("colorization failed")
            return _error(500, "internal error while colorizing (see the server log)")
        seconds = time.perf_counter() - start
        return Response(
            png,
            media_type="image/png",
            headers={
                "Content-Disposition": f'inline; filename="{output_name(name, tag="_color")}"',
                "Cache-Control": "no-store",
                "X-Nircolor-Model": model_name,
                "X-Nircolor-Size": f"{shape[1]}x{shape[0]}",
                "X-Nircolor-Seconds": f"{seconds:.3f}",
            },
        )

    return app


@dataclass
class _Job:
    """One colorization, run in a worker thread: decode, colorize (in tiles above
    ``tile × tile`` pixels, within the time limit), encode."""

    model: Colorizer
    data: bytes
    name: str
    guided: GuidedFilter | None
    threads: int
    time_limit_s: float
    tile: int
    context: ColourContext | None = None
    """The colour context asked for (the form's ``size``); ``None``: the model's own."""
    denoise: str = "auto"
    """The form's ``denoise``: ``auto``, ``on`` or ``off`` (:func:`nircolor.colorize`)."""

    def run(self) -> tuple[bytes, tuple[int, int]]:
        deadline = time.monotonic() + self.time_limit_s  # from the start of the work
        if takes_mosaic(self.model):  # a raw mosaic: all 16 bits, 8-bit refused
            nir = read_mosaic_bytes(self.data, self.name)
        else:
            nir = read_nir_bytes(self.data, self.name)
        budgeted = Budgeted(self.model, self.threads, deadline)
        tile = self.tile if nir.size > self.tile * self.tile else None
        rgb = colorize(
            nir,
            budgeted,
            self.guided,
            tile,
            context=self.context,
            denoise=self.denoise,
        )
        return encode_image(rgb, ".png"), nir.shape


def _denoise_field(form) -> str:
    """The form's ``denoise`` (``auto`` when absent), checked: a bad one is a user error."""
    try:
        return check_denoise(_text_field(form, "denoise") or None)
    except ValueError as error:
        raise NircolorError(str(error)) from None


def _limited_receive(receive, limit: int):
    """Wrap an ASGI ``receive`` so that a body beyond ``limit`` bytes stops being read."""
    total = 0

    async def wrapped():
        nonlocal total
        message = await receive()
        if message["type"] == "http.request":
            total += len(message.get("body", b""))
            if total > limit:
                raise _UploadTooLarge
        return message

    return wrapped


PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self' blob: data:; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

PAGE = (resources.files("nircolor") / "static" / "index.html").read_text(encoding="utf-8")
"""The web page served at ``GET /`` (``nircolor/static/index.html``, read at import)."""
