"""Listening and serving: bind the port first (so errors come before any "serving" line and
port 0 becomes a real port), then run uvicorn on that socket."""

from __future__ import annotations

import socket

import uvicorn

from ..errors import NircolorError

DEFAULT_TIMEOUT_KEEP_ALIVE_S = 5.0
"""Seconds an idle keep-alive connection is kept open between requests."""


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port); a one-line
    :class:`~nircolor.errors.NircolorError` when it cannot be had (port in use, bad host)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        raise NircolorError(f"cannot listen on {url_host(host)}:{port}: {reason}") from None


def url_host(host: str) -> str:
    """``host`` as written in a URL (IPv6 addresses in brackets)."""
    return f"[{host}]" if ":" in host else host


def make_server(
    app, timeout_keep_alive: float = DEFAULT_TIMEOUT_KEEP_ALIVE_S, log_level: str = "info"
) -> uvicorn.Server:
    """A uvicorn server for ``app``; run it with ``server.run(sockets=[listen(...)])``."""
    config = uvicorn.Config(
        app,
        log_level=log_level,
        server_header=False,
        timeout_keep_alive=timeout_keep_alive,
    )
    return uvicorn.Server(config)
