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

from .registry import NET_MODULES, count_parameters, create_net, list_nets, register_net

__all__ = ["NET_MODULES", "count_parameters", "create_net", "list_nets", "register_net"]
