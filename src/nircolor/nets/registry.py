"""The registry of nets: each net module registers its class by name when imported;
:func:`create_net` and :func:`list_nets` import them all first."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from torch import nn

NET_MODULES = (
    "nircolor.nets.classifier",
    "nircolor.nets.cnn",
    "nircolor.nets.detector",
    "nircolor.nets.fusion",
    "nircolor.nets.iizuka",
    "nircolor.nets.patchgan",
    "nircolor.nets.unet",
    "nircolor.nets.zhang",
)

_NETS: dict[str, Callable[..., nn.Module]] = {}


def register_net(name: str):
    """Decorator registering a net class (or factory) under ``name``."""

    def decorate(factory):
        _NETS[name] = factory
        factory.arch = name
        return factory

    return decorate


def create_net(name: str, **kwargs) -> nn.Module:
    """Create a registered net by name; ``kwargs`` go to its constructor."""
    _import_nets()
    if name not in _NETS:
        raise ValueError(f"unknown net '{name}' (known: {', '.join(list_nets())})")
    return _NETS[name](**kwargs)


def list_nets() -> list[str]:
    _import_nets()
    return sorted(_NETS)


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def _import_nets() -> None:
    for module in NET_MODULES:
        importlib.import_module(module)
