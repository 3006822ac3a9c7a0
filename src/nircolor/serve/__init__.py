"""HTTP service and web page: ``nircolor serve`` (needs the ``serve`` extra).

Endpoints
---------
``GET /``
    A self-contained web page (inline HTML, CSS and JS; nothing is fetched from elsewhere;
    shipped as ``nircolor/static/index.html``):
    drop an NIR image, compare NIR and colour with a wipe slider, download the result.
``POST /colorize``
    Multipart form: ``file`` (the NIR image), optional ``model`` (a name from ``/models``),
    ``guided`` (``"RADIUS,EPS"`` such as ``"5,1e-5"``) and ``size`` (the long side, in
    pixels, of the copy the model colours: from 64 to the model's own, 512 for the shipped
    nets; smaller is faster, :func:`~nircolor.serve.forms.working_size`) and ``denoise``
    (``auto``, the default: non-local means on a noisy NIR only; ``on``; ``off``). Answers
    ``image/png`` (8-bit sRGB).
``GET /models``
    JSON list of the colorizers this server offers (the scene classifier is not one);
    ``"default": true`` marks the one used when the form names none, ``"label"`` is what
    the web page's menu shows (``default (sharp)``).
``GET /health``
    JSON status, limits and load; it answers while colorizations run.

Every error is JSON ``{"error": "one line"}``, with no server file path in it: 400 for bad
input (the CLI's messages), 408 for a body slower than ``body_timeout_s``, 413 for an upload
or an image over the limits, 429 for a client with ``max_per_client`` requests open, 503 when
``max_pending`` requests are already in or a colorization ran past ``time_limit_s``.

Budgets
-------
A request counts against ``max_pending`` only once its body is in, so slow uploads hold no
request slot (only their client's share, ``max_per_client``, until ``body_timeout_s``).
Images are limited to ``max_pixels`` (4 megapixels by default, far below the command line's
limit), and those above ``tile × tile`` pixels go through the tiled path in bounded memory;
the time limit is checked before every tile. Behind a reverse proxy every request comes from
the proxy's address: raise ``max_per_client`` there.

Colorization (decoding, model, PNG encoding) runs in a pool of ``workers`` threads through
:func:`anyio.to_thread.run_sync`, so the event loop only moves bytes and never blocks; each
colorization runs its model on ``cpus // workers`` threads, so that the pool and the model's
threads together fit the CPUs.
"""

from .app import (
    DEFAULT_BODY_TIMEOUT_S,
    DEFAULT_MAX_PENDING,
    DEFAULT_MAX_PER_CLIENT,
    DEFAULT_MAX_PIXELS,
    DEFAULT_MAX_UPLOAD_BYTES,
    DEFAULT_TIME_LIMIT_S,
    PAGE,
    create_app,
    default_workers,
)
from .server import listen, make_server, url_host

__all__ = [
    "DEFAULT_BODY_TIMEOUT_S",
    "DEFAULT_MAX_PENDING",
    "DEFAULT_MAX_PER_CLIENT",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MAX_UPLOAD_BYTES",
    "DEFAULT_TIME_LIMIT_S",
    "PAGE",
    "create_app",
    "default_workers",
    "listen",
    "make_server",
    "url_host",
]
