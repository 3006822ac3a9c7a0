"""Helpers shared by the test modules (no test module imports another).

Nothing here imports an optional extra at import time, so the helpers load in a core-only
install; the helpers that need one import it inside the function.
"""

from __future__ import annotations

import pytest

from nircolor.extras import installed as has

EXTRAS = {
    "torch": "train",
    "onnx": "train",
    "safetensors": "train",
    "fastapi": "serve",
    "uvicorn": "serve",
    "httpx": "serve",
    "anyio": "serve",
    "av": "video",
    "distributed": "cluster",
    "matplotlib": "report",
    "colour": "simulate",
    "selenium": "browser tests",
}
"""The optional modules the tests use, and the extra that installs each."""


def requires(*modules: str) -> pytest.MarkDecorator:
    """Skip a test (or class) unless every one of ``modules`` is installed."""
    missing = [m for m in modules if not has(m)]
    extras = sorted({EXTRAS.get(m, m) for m in missing})
    reason = f"needs {', '.join(missing)} (the {', '.join(repr(e) for e in extras)} extra)"
    return pytest.mark.skipif(bool(missing), reason=reason)
