"""What follows the colour of a colorization: the guided filter, then the NIR's detail.

Both are local filters steered by the full-resolution NIR image, so every path that colours
an image (whole, tiled, streamed in row bands, through the colour context or not) finishes it
with the same :class:`Finish`: on the whole image, or band by band with :attr:`Finish.halo`
rows of context (:mod:`nircolor.tiling`), which gives the same pixels.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .detail import DetailTransfer
from .guided import GuidedFilter, apply_guided


class Finish(NamedTuple):
    """The guided filter (colours snapped to the NIR's edges), then the detail transfer
    (:mod:`.detail`); either may be ``None`` or off. Falsy when it does nothing."""

    guided: GuidedFilter | None = None
    detail: DetailTransfer | None = None

    def __bool__(self) -> bool:
        return bool(self.guided) or bool(self.detail)

    @property
    def halo(self) -> int:
        """Rows of context on each side with which a band is finished as in the whole image:
        the guided filter's output depends on the rows within ``2 r`` of it, the detail's on
        those within its Gaussian's radius."""
        guided = 2 * self.guided.radius + 1 if self.guided else 0
        return guided + (self.detail.halo if self.detail else 0)

    def __call__(self, nir: np.ndarray, rgb: np.ndarray) -> np.ndarray:
        if self.guided:
            rgb = apply_guided(nir, rgb, self.guided.radius, self.guided.eps)
        if self.detail:
            rgb = self.detail(nir, rgb)
        return rgb
