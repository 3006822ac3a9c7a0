"""HTTP service and web page: ``nircolor serve`` (needs the ``serve`` extra).

Endpoints
---------
``GET /``
    A self-contained web page (inline HTML, CSS and JS; nothing is fetched from elsewhere;
    shipped as ``nircolor/static/index.html``):
    drop an NIR image, compare NIR and colour with a wipe slider, download the result.
``POST /colorize``
    Multipart form: ``file`` (the NIR image), optional ``model`` (a name from ``/models``)
    and ``guided`` (``"RADIUS,EPS"`` such as ``"5,1e-5"``). Answers ``image/png`` (8-bit sRGB).
``GET /models``
    JSON list of the models this server offers; ``"default": true`` marks the one used when
    the form names none.
``GET /health``
    JSON status, limits and load; it answers while colorizations run.

Every error is JSON ``{"error": "one line"}``: 400 for bad input (the CLI's messages), 413 for
an upload or an image over the limits, 503 when too many requests are already waiting.

Colorization (decoding, model, PNG encoding) runs in a pool of ``workers`` threads through
:func:`anyio.to_thread.run_sync`, so the event loop only moves bytes and never blocks.
"""

from __future__ import annotations

import io
import logging
import os
import re
import struct
import time
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import starlette.formparsers
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from . import __version__
from .api import colorize, get_model, output_name
from .errors import ModelError, NircolorError
from .filters import GuidedFilter
from .io import TIFF_MAGIC, encode_image, read_nir_bytes
from .models import ALIASES, Colorizer, list_models, read_config, resolve_model_path

if starlette.formparsers.multipart is None:  # form parsing needs python-multipart
    raise ModuleNotFoundError("No module named 'python_multipart'", name="python_multipart")

log = logging.getLogger("nircolor.serve")

DEFAULT_MAX_UPLOAD_BYTES = 25_000_000
"""Largest accepted image file (25 MB)."""
DEFAULT_MAX_PIXELS = 25_000_000
"""Largest accepted image, width × height (25 megapixels), read from the header."""
DEFAULT_MAX_PENDING = 64
"""Requests admitted at once (running or waiting for a worker); more get 503."""
FORM_OVERHEAD_BYTES = 64 * 1024
"""Room in a request body for the multipart framing and the small form fields."""


def default_workers() -> int:
    """Colorizations run at once: twice the CPUs, from 2 to 4.

    The models are multi-threaded, but decoding, encoding and the Python around them hold the
    GIL part of the time, so more requests than cores keep the CPUs busy: on 2 CPUs, 2 or 4
    workers serve 256×256 images about 1.7× faster than 1 (benchmarks/bench_serve.py; 2 and
    4 are within the noise). More would only add memory: each request holds its image several
    times over as float32.
    """
    return min(4, max(2, 2 * (os.cpu_count() or 1)))


class _UploadTooLarge(Exception):
    pass


@dataclass
class _ModelEntry:
    name: str
    kind: str
    size_bytes: int | None
    alias_of: str | None = None


class _ModelRegistry:
    """The models a server offers: its default (any name, folder or object) and the shipped ones.

    Clients name models; they never pass paths, so a request cannot make the server read an
    arbitrary folder.
    """

    def __init__(self, model: str | os.PathLike | Colorizer) -> None:
        self.default: Colorizer = get_model(model)  # fails here, at start-up, when unknown
        self.entries: dict[str, _ModelEntry] = {}
        for info in list_models():
            self.entries[info.name] = _ModelEntry(info.name, info.kind, info.size_bytes)
        for alias, target in ALIASES.items():
            if target in self.entries:
                entry = self.entries[target]
                self.entries[alias] = _ModelEntry(alias, entry.kind, entry.size_bytes, target)
        self.default_name = self._default_name(model)

    def _default_name(self, model: str | os.PathLike | Colorizer) -> str:
        if isinstance(model, (str, os.PathLike)) and str(model) in self.entries:
            return str(model)
        if isinstance(model, (str, os.PathLike)):
            folder = resolve_model_path(model)
            name = folder.name
            kind = str(read_config(folder).get("kind", "?"))
            size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
        else:
            kind = str(model.kind)
            name, size = kind, None
        while name in self.entries:  # a user folder named like a shipped model
            name = f"{name}-served"
        self.entries[name] = _ModelEntry(name, kind, size)
        return name

    def check(self, name: str | None) -> str:
        """The model name to use for a request's ``model`` field, or a one-line ModelError."""
        if not name:
            return self.default_name
        if name not in self.entries:
            known = ", ".join(sorted(self.entries))
            raise ModelError(f"unknown model '{name}': not a registered name ({known})")
        return name

    def load(self, name: str) -> Colorizer:
        target = self.entries[name].alias_of or name
        if target == (self.entries[self.default_name].alias_of or self.default_name):
            return self.default
        return get_model(target)

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "name": e.name,
                "kind": e.kind,
                "size_bytes": e.size_bytes,
                "alias_of": e.alias_of,
                "default": e.name == self.default_name,
            }
            for e in sorted(self.entries.values(), key=self._order)
        ]

    def _order(self, entry: _ModelEntry) -> tuple[bool, str]:
        return entry.name != self.default_name, entry.name


def create_app(
    model: str | os.PathLike | Colorizer = "default",
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    workers: int | None = None,
    max_pending: int = DEFAULT_MAX_PENDING,
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
        (413 beyond).
    workers : int, optional
        Colorizations run at once, each in a worker thread (default :func:`default_workers`).
    max_pending : int
        Colorize requests admitted at once, running or queued; beyond it the server answers 503.
    """
    for label, value in (
        ("max_upload_bytes", max_upload_bytes),
        ("max_pixels", max_pixels),
        ("max_pending", max_pending),
    ):
        if value < 1:
            raise ValueError(f"{label} must be at least 1, not {value}")
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")

    registry = _ModelRegistry(model)
    limiter = anyio.CapacityLimiter(workers)
    load = {"pending": 0, "served": 0, "failed": 0}
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
            "running": int(limiter.borrowed_tokens),
            "pending": load["pending"],
            "served": load["served"],
            "failed": load["failed"],
            "uptime_s": round(time.time() - started, 1),
            "max_upload_bytes": max_upload_bytes,
            "max_pixels": max_pixels,
        }

    @app.get("/models")
    async def models() -> list[dict[str, Any]]:
        return registry.describe()

    @app.post("/colorize")
    async def colorize_endpoint(request: Request) -> Response:
        if load["pending"] >= max_pending:
            return _error(
                503,
                f"server busy: {load['pending']} requests in progress; try again shortly",
                {"Retry-After": "1"},
            )
        load["pending"] += 1
        try:
            response = await _colorize(request)
        finally:
            load["pending"] -= 1
        load["served" if response.status_code == 200 else "failed"] += 1
        return response

    async def _colorize(request: Request) -> Response:
        too_large = f"upload too large: the limit is {_mb(max_upload_bytes)} (--max-upload-mb)"
        body_limit = max_upload_bytes + FORM_OVERHEAD_BYTES
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > body_limit:
            return _error(413, too_large)
        limited = Request(request.scope, _limited_receive(request.receive, body_limit))
        try:
            form = await limited.form(max_files=1, max_fields=8)
        except _UploadTooLarge:
            return _error(413, too_large)
        except ClientDisconnect:
            return _error(400, "client disconnected during the upload")
        except HTTPException as error:
            return _error(400, f"bad form data: {error.detail}")
        name = "upload"
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                return _error(400, "no image: send it as the multipart form field 'file'")
            name = _safe_name(upload.filename)
            data = await upload.read()
            if len(data) > max_upload_bytes:
                return _error(413, too_large)
            model_name = registry.check(_text_field(form, "model"))
            guided = GuidedFilter.parse_option(_text_field(form, "guided") or None, "guided")
            size = _probe_size(data)
            if size is not None and size[0] * size[1] > max_pixels:
                width, height = size
                return _error(
                    413,
                    f"{name}: image of {width}x{height} pixels is larger than the limit of "
                    f"{max_pixels:,} pixels",
                )
            start = time.perf_counter()
            png, shape = await anyio.to_thread.run_sync(
                _work, registry, model_name, data, name, guided, limiter=limiter
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
        finally:
            await form.close()
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


def _work(
    registry: _ModelRegistry,
    model_name: str,
    data: bytes,
    name: str,
    guided: GuidedFilter | None,
) -> tuple[bytes, tuple[int, int]]:
    """Decode, colorize and encode one image (runs in a worker thread)."""
    nir = read_nir_bytes(data, name)
    rgb = colorize(nir, model=registry.load(model_name), guided=guided)
    return encode_image(rgb, ".png"), nir.shape


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


def _probe_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the header alone; None when unreadable (decoding then says why)."""
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
            width, height = struct.unpack(">II", data[16:24])
            return width, height
        if data[:4] in TIFF_MAGIC:
            import tifffile

            with tifffile.TiffFile(io.BytesIO(data)) as tif:
                page = tif.pages.first
                return int(page.imagewidth), int(page.imagelength)
        from PIL import Image

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            try:
                with Image.open(io.BytesIO(data)) as im:
                    return im.size
            except Image.DecompressionBombError as error:
                numbers = [int(n) for n in re.findall(r"\d+", str(error))]
                return (numbers[0] if numbers else 2**40), 1
    except Exception:
        return None


def _text_field(form, key: str) -> str | None:
    value = form.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise NircolorError(f"form field '{key}' must be text, not a file")
    return value.strip() or None


def _safe_name(filename: str | None) -> str:
    """A short, printable, ASCII file name for messages and headers."""
    name = Path((filename or "").replace("\\", "/")).name
    name = re.sub(r"[^A-Za-z0-9._ -]+", "_", name).strip(" .")[:80]
    return name or "upload"


def _mb(n: int) -> str:
    return f"{n / 1e6:g} MB"


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


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

PAGE = (resources.files(__package__) / "static" / "index.html").read_text(encoding="utf-8")
"""The web page served at ``GET /`` (``nircolor/static/index.html``, read at import)."""
