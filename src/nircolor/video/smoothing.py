"""Temporal smoothing of colorized frames, and the flicker measure."""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from ..errors import NircolorError

SCENE_CUT = 0.12
"""Mean absolute NIR change between two frames above which temporal smoothing restarts."""


class ChromaSmoother:
    """Exponential moving average of the CIELAB chroma (a*, b*) of successive frames.

    ``smoother(rgb, nir)`` returns the frame with L* as it is and a*b* averaged with the
    previous frames: ``ab_t = alpha · ab(rgb) + (1 − alpha) · ab_{t−1}``. The average restarts
    when the NIR frame differs from the previous one by more than ``scene_cut`` on average.
    """

    def __init__(self, alpha: float, scene_cut: float = SCENE_CUT) -> None:
        if not 0.0 < alpha <= 1.0:
            raise NircolorError(f"temporal smoothing ALPHA must lie in (0, 1], not {alpha}")
        self.alpha = float(alpha)
        self.scene_cut = scene_cut
        self._ab: np.ndarray | None = None
        self._nir: np.ndarray | None = None

    def reset(self) -> None:
        self._ab = None
        self._nir = None

    def __call__(self, rgb: np.ndarray, nir: np.ndarray | None = None) -> np.ndarray:
        if self.alpha == 1.0:
            return rgb
        if nir is not None and self._nir is not None:
            if self._nir.shape != nir.shape or np.mean(np.abs(nir - self._nir)) > self.scene_cut:
                self._ab = None
        self._nir = nir
        lab = cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.float32), cv2.COLOR_RGB2Lab)
        if self._ab is None or self._ab.shape != lab[:, :, 1:].shape:
            self._ab = lab[:, :, 1:].copy()
            return rgb
        self._ab *= 1.0 - self.alpha
        self._ab += self.alpha * lab[:, :, 1:]
        lab[:, :, 1:] = self._ab
        out = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)
        return np.clip(out, 0.0, 1.0, out=out)


def flicker(frames: Iterable[np.ndarray], metric: str = "de00") -> float:
    """Mean colour difference between consecutive frames (0 for a perfectly steady video).

    Parameters
    ----------
    frames : iterable of ndarray
        sRGB frames ``(H, W, 3)``, float in [0, 1] or uint8, all of one size.
    metric : {"de00", "de76"}
        CIEDE2000 or CIE76 ΔE, per pixel, as :mod:`nircolor.metrics` computes them.

    Returns
    -------
    float
        Mean over frame pairs of the mean per-pixel ΔE.
    """
    from ..metrics import lab_delta_e00, lab_delta_e76, srgb_to_lab

    compare = {"de00": lab_delta_e00, "de76": lab_delta_e76}.get(metric)
    if compare is None:
        raise ValueError(f"metric must be 'de00' or 'de76', not {metric!r}")
    previous = None
    total = 0.0
    pairs = 0
    for frame in frames:
        frame = np.asarray(frame)
        if frame.dtype == np.uint8:
            frame = frame.astype(np.float32) / 255.0
        lab = srgb_to_lab(frame)
        if previous is not None:
            total += compare(lab, previous)
            pairs += 1
        previous = lab
    if pairs == 0:
        raise ValueError("flicker needs at least two frames")
    return total / pairs
