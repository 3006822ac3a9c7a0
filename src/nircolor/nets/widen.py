"""Widen a trained ``unet`` without changing what it computes (Net2WiderNet, Chen et al. 2016).

A wider net trained from scratch would need a chain of sittings before it colours as well
as the net it should replace. Widened function-preservingly, it starts from that net's
pictures and spends its training on the new capacity.

Each layer's new channels copy old ones: channel ``k`` of the wider layer computes channel
``source[k]`` of the old. A layer that reads a copied channel splits the old weight between
the original and its copy, as ``share`` and ``1 − share`` with a random share per copy: the
sum is the old weight (the same function) and the two channels get different gradients
(training can tell them apart). BatchNorm of a copy copies its statistics; with batch
statistics in training the copies stay equal too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class Channels:
    """A wider layer's channels: ``source[k]`` is the old channel that new channel ``k``
    copies, ``share[k]`` the part of the old channel's outgoing weight it carries."""

    old: int
    source: np.ndarray
    share: np.ndarray

    def __add__(self, other: Channels) -> Channels:
        """The channels of a concatenation ``[self, other]``."""
        return Channels(
            self.old + other.old,
            np.concatenate([self.source, other.source + self.old]),
            np.concatenate([self.share, other.share]),
        )


def identity_channels(n: int) -> Channels:
    """Channels that are not widened (the NIR input, the head's outputs)."""
    return Channels(n, np.arange(n), np.ones(n))


def widen_channels(old: int, new: int, rng: np.random.Generator) -> Channels:
    """``new`` channels from ``old``: the old ones first, then copies of distinct old ones
    (of random ones again once every old channel has a copy)."""
    if new < old:
        raise ValueError(f"cannot narrow {old} channels to {new}")
    rounds = -(-(new - old) // old)  # how many times some old channel is copied
    copies = [rng.permutation(old) for _ in range(rounds)]
    source = np.concatenate([np.arange(old), *copies])[:new]
    share = np.ones(new)
    for channel in range(old):
        holders = np.flatnonzero(source == channel)
        if holders.size > 1:
            parts = rng.uniform(0.5, 1.5, holders.size)
            share[holders] = parts / parts.sum()
    return Channels(old, source, share)


@torch.no_grad()
def copy_conv(old: nn.Conv2d | nn.Linear, new: nn.Conv2d | nn.Linear, inp: Channels, out: Channels):
    """``new`` computes ``old`` on widened inputs ``inp``, into widened outputs ``out``."""
    src_out = torch.as_tensor(out.source)
    src_in = torch.as_tensor(inp.source)
    share = torch.as_tensor(inp.share, dtype=old.weight.dtype)
    weight = old.weight[src_out][:, src_in]
    new.weight.copy_(weight * share.reshape(1, -1, *([1] * (weight.ndim - 2))))
    if old.bias is not None:
        new.bias.copy_(old.bias[src_out])


@torch.no_grad()
def copy_norm(old: nn.BatchNorm2d, new: nn.BatchNorm2d, out: Channels) -> None:
    src = torch.as_tensor(out.source)
    for name in ("weight", "bias", "running_mean", "running_var"):
        getattr(new, name).copy_(getattr(old, name)[src])
    new.num_batches_tracked.copy_(old.num_batches_tracked)


def copy_unit(old: nn.Sequential, new: nn.Sequential, inp: Channels, rng) -> Channels:
    """A ``conv_bn_relu`` unit (convolution, optional BatchNorm, ReLU) on widened inputs
    ``inp``; returns the channels of its output."""
    out = widen_channels(old[0].out_channels, new[0].out_channels, rng)
    copy_conv(old[0], new[0], inp, out)
    if isinstance(old[1], nn.BatchNorm2d):
        copy_norm(old[1], new[1], out)
    return out


def copy_block(old, new, inp: Channels, rng: np.random.Generator) -> Channels:
    """Two ``conv_bn_relu`` units; returns the channels of its output."""
    return copy_unit(old[1], new[1], copy_unit(old[0], new[0], inp, rng), rng)


def widen_unet(old: nn.Module, new: nn.Module, seed: int = 0) -> None:
    """Load into ``new`` (a ``unet`` at least as wide as ``old``, of the same depth, output
    space and norm) the weights that make it compute what ``old`` computes."""
    if old.config | {"width": 0} != new.config | {"width": 0}:
        raise ValueError("only the width may differ between the net and its widened copy")
    rng = np.random.default_rng(seed)
    nir = identity_channels(1)
    x = copy_unit(old.stem, new.stem, nir, rng)
    x = copy_block(old.encoders[0], new.encoders[0], x, rng)
    skips = [x]
    for old_down, new_down, old_enc, new_enc in zip(
        old.downs, new.downs, old.encoders[1:], new.encoders[1:], strict=True
    ):
        x = copy_unit(old_down, new_down, x, rng)
        x = copy_block(old_enc, new_enc, x, rng)
        skips.append(x)
    first, second = old.global_mlp[0], old.global_mlp[2]
    hidden = widen_channels(first.out_features, new.global_mlp[0].out_features, rng)
    copy_conv(first, new.global_mlp[0], x, hidden)
    copy_conv(second, new.global_mlp[2], hidden, x)  # added to x: the same channels
    for old_dec, new_dec, skip in zip(old.decoders, new.decoders, skips[-2::-1], strict=True):
        x = copy_block(old_dec, new_dec, x + skip, rng)
    copy_conv(old.last, new.last, x + nir, identity_channels(old.last.out_channels))


WIDENERS = {"unet": widen_unet}  # the archs a fine-tune may widen (``train --width``)
