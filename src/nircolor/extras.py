"""Optional dependencies (the extras of ``pip install 'nircolor[EXTRA]'``).

:func:`require_extra` checks that an extra's modules are installed, without importing them,
and otherwise raises one :class:`~nircolor.errors.MissingExtraError` line that says what to
install.
"""

from __future__ import annotations

import importlib.util
import sys

from .errors import MissingExtraError

EXTRA_MODULES = {
    "serve": ("fastapi", "uvicorn"),
    "train": ("torch", "onnx", "safetensors"),
    "video": ("av",),
    "cluster": ("distributed",),
    "report": ("matplotlib",),
    "simulate": ("colour",),
}


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that are not installed."""
    return [name for name in EXTRA_MODULES[extra] if not installed(name)]


def installed(name: str) -> bool:
    """Whether module ``name`` can be imported (found without importing it)."""
    if name in sys.modules:  # None there means: blocked (import raises ImportError)
        return sys.modules[name] is not None
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def require_extra(extra: str, feature: str) -> None:
    """Raise :class:`MissingExtraError` when a module of ``extra`` is missing.

    ``feature`` names what needs it, as the user asked for it (``"'nircolor serve'"``).
    """
    missing = missing_modules(extra)
    if missing:
        raise MissingExtraError(
            f"{feature} needs the {extra} extra ({missing[0]} is missing): "
            f"pip install 'nircolor[{extra}]'"
        )
