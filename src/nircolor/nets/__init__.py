"""Learned colorizers and the scene classifier, in torch, registered by name (timm-style).

Imported only to train or export; colorizing runs the exported ONNX graphs without torch.

    from nircolor.nets import create_net
    net = create_net("unet", width=16, output_space="rgb")
    out = net(nir)  # (N, 1, H, W) NIR in [0, 1], H and W multiples of net.stride

Every net takes ``(N, 1, H, W)`` NIR in [0, 1] and works at any size divisible by its
``stride`` attribute. A colorizer returns ``(N, C, H, W)`` in its ``output_space`` (see
:mod:`nircolor.colorspace`); the classifier returns class logits ``(N, K)``. ``net.config``
holds the keyword arguments that recreate it: ``create_net(name, **net.config)``.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

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
    if name not in _NETS:
        raise ValueError(f"unknown net '{name}' (known: {', '.join(list_nets())})")
    return _NETS[name](**kwargs)


def list_nets() -> list[str]:
    return sorted(_NETS)


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


from . import classifier, cnn, fusion, unet  # noqa: E402, F401  (registers the nets)

__all__ = ["count_parameters", "create_net", "list_nets", "register_net"]
