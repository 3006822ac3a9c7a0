"""The adversarial option of every colorizer (``--gan-weight W``): a PatchGAN critic.

pix2pix (Isola et al. 2017) with the least-squares loss of LSGAN (Mao et al. 2017): the
discriminator ``D`` (:class:`nircolor.nets.patchgan.PatchGAN`) sees the NIR image with an
sRGB image and scores each 70 × 70 patch; each step it learns
``½·[(D(nir, real) − 1)² + D(nir, fake)²]`` with its own Adam (betas 0.5, 0.999, as
pix2pix; the generator's learning rate schedule), then the generator's loss becomes
``task loss + W · (D(nir, fake) − 1)²``.

Least squares rather than the non-saturating cross entropy: its gradient grows with the
distance from the decision boundary instead of vanishing once D is confident, which keeps a
fine-tuned generator, already far better than chance, learning; and its size is of the order
of the MSE task loss, so that ``W`` reads as a plain weight.

Predictions and targets go to D in sRGB through the same differentiable conversion
(:func:`nircolor.nets.colour.output_to_srgb`), so the conversion gives no tell. D's weights and
moments are checkpointed with the run (under ``gan.``), and are not exported.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import ModelError, error_reason
from ..nets import create_net
from ..nets.colour import output_to_srgb

PREFIX = "gan."
WEIGHTS, MOMENTS = f"{PREFIX}model.", f"{PREFIX}optim."
BETAS = (0.5, 0.999)


class Adversary:
    """The discriminator, its optimizer and the losses of one run."""

    def __init__(self, cfg, device: torch.device) -> None:
        self.weight, self.space = cfg.gan_weight, cfg.output_space
        self.net = create_net("patchgan", width=cfg.gan_width).to(
            device, memory_format=torch.channels_last
        )
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=cfg.lr, betas=BETAS)
        self.d_losses: list[float] = []
        self.g_losses: list[float] = []

    def srgb(self, output: torch.Tensor, nir: torch.Tensor) -> torch.Tensor:
        return output_to_srgb(output, nir, self.space)

    def step(self, nir: torch.Tensor, fake: torch.Tensor, real: torch.Tensor, lr: float) -> None:
        """One discriminator step on a batch (``fake`` is detached from the generator)."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with torch.no_grad():
            fake, real = self.srgb(fake, nir), self.srgb(real, nir)
        self.net.train()
        loss = 0.5 * (
            (self.net(nir, real) - 1.0).square().mean() + self.net(nir, fake).square().mean()
        )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.d_losses.append(loss.item())

    def generator_loss(self, nir: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
        """``W · (D(nir, pred) − 1)²``, its gradient for the generator only."""
        self.net.requires_grad_(False)
        loss = (self.net(nir, self.srgb(pred, nir)) - 1.0).square().mean()
        self.net.requires_grad_(True)
        self.g_losses.append(loss.item())
        return self.weight * loss

    def epoch_record(self) -> dict:
        """The epoch's mean losses (then reset): D's, and the generator's adversarial term."""
        record = {"d_loss": float(np.mean(self.d_losses)), "g_adv": float(np.mean(self.g_losses))}
        self.d_losses, self.g_losses = [], []
        return record

    def tensors(self) -> dict[str, torch.Tensor]:
        """D's weights and Adam's state, named for the checkpoint."""
        tensors = {f"{WEIGHTS}{k}": v for k, v in self.net.state_dict().items()}
        for index, values in self.optimizer.state_dict()["state"].items():
            tensors |= {f"{MOMENTS}{index}.{k}": v for k, v in values.items()}
        return {k: v.detach().cpu().contiguous() for k, v in tensors.items()}

    def load(self, tensors: dict[str, torch.Tensor], where: str) -> None:
        """Restore :meth:`tensors` (``where`` names the checkpoint in errors)."""
        weights = {k[len(WEIGHTS) :]: v for k, v in tensors.items() if k.startswith(WEIGHTS)}
        if not weights:
            raise ModelError(f"{where}: no discriminator in the checkpoint of a --gan-weight run")
        state: dict = {}
        try:
            for key, value in tensors.items():
                if key.startswith(MOMENTS):
                    index, name = key[len(MOMENTS) :].split(".", 1)
                    state.setdefault(int(index), {})[name] = value
            self.net.load_state_dict(weights)
            groups = self.optimizer.state_dict()["param_groups"]
            self.optimizer.load_state_dict({"state": state, "param_groups": groups})
        except (KeyError, RuntimeError, ValueError) as error:
            raise ModelError(
                f"{where}: the discriminator does not fit ({error_reason(error)})"
            ) from None
