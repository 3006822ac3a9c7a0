"""Degraded NIR images: noise, blur, JPEG, smaller pictures (issue 24, robustness).

Real NIR footage is often noisy (night, IR illuminators), soft (cheap lenses), compressed and
small. These plain numpy/OpenCV functions make such inputs from clean ones, for two users:

* ``benchmarks/bench_robustness.py`` measures every colorizer under fixed conditions
  (:data:`CONDITIONS`, :func:`degrade_condition`): Gaussian noise of a given σ, Gaussian blur
  of a given σ in pixels, JPEG at a given quality, area downscaling by a factor (the truth
  downscaled the same way, :func:`downscale`);
* training (``nircolor train ... --degrade P``) degrades the NIR side of a share ``P`` of the
  training patches at random (:func:`random_degradation`, :func:`degrade_batch`) and leaves
  the truth clean, so a net learns to colour such inputs.

Every function takes float images in ``[0, 1]`` and returns float32 in ``[0, 1]``; the random
ones draw from the ``numpy.random.Generator`` (or seed) they are given, so the same seed
gives the same images.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "CONDITIONS",
    "TrainingDegradation",
    "add_gaussian_noise",
    "add_poisson_gaussian_noise",
    "blur",
    "degrade_batch",
    "degrade_condition",
    "downscale",
    "jpeg",
    "random_degradation",
    "rescale_down_up",
]

CONDITIONS: dict[str, tuple[float, ...]] = {
    "noise": (0.01, 0.03, 0.06),
    "blur": (1.0, 2.0, 4.0),
    "jpeg": (75, 40, 20),
    "downscale": (2, 4),
}
"""The benchmark's degradations and their strengths, mildest first: noise σ (on ``[0, 1]``),
blur σ (pixels), JPEG quality, downscaling factor."""


def _float(image) -> np.ndarray:
    return np.asarray(image, dtype=np.float32)


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def add_gaussian_noise(image, sigma: float, seed=0) -> np.ndarray:
    """``image`` plus white Gaussian noise of standard deviation ``sigma``, clipped to [0, 1].

    Parameters
    ----------
    image : array_like, float in [0, 1]
    sigma : float
        Standard deviation of the noise, in the image's [0, 1] units.
    seed : int or numpy.random.Generator
        The noise's random source.

    Returns
    -------
    ndarray, float32, the shape of ``image``
    """
    image = _float(image)
    noise = _rng(seed).standard_normal(image.shape, dtype=np.float32) * np.float32(sigma)
    return np.clip(image + noise, 0.0, 1.0)


def add_poisson_gaussian_noise(image, a: float, b: float, seed=0) -> np.ndarray:
    """Signal-dependent sensor noise: Gaussian of variance ``a · x + b²`` at a pixel of value
    ``x`` (the Gaussian approximation of shot noise, ``a``, plus read noise, ``b``), clipped.

    Parameters
    ----------
    image : array_like, float in [0, 1]
    a : float
        Shot-noise gain (variance per unit of signal), ``>= 0``.
    b : float
        Standard deviation of the signal-independent part, ``>= 0``.
    seed : int or numpy.random.Generator

    Returns
    -------
    ndarray, float32, the shape of ``image``
    """
    if a < 0 or b < 0:
        raise ValueError(f"noise parameters must be >= 0, not a={a}, b={b}")
    image = _float(image)
    sigma = np.sqrt(np.float32(a) * image + np.float32(b) ** 2)
    noise = _rng(seed).standard_normal(image.shape, dtype=np.float32) * sigma
    return np.clip(image + noise, 0.0, 1.0)


def blur(image, sigma: float) -> np.ndarray:
    """A Gaussian blur of standard deviation ``sigma`` pixels (a soft lens); ``sigma <= 0``
    returns the image. Borders are reflected (OpenCV's default)."""
    image = _float(image)
    if sigma <= 0:
        return image.copy()
    return np.clip(cv2.GaussianBlur(image, (0, 0), sigmaX=float(sigma)), 0.0, 1.0)


def jpeg(image, quality: int) -> np.ndarray:
    """The image encoded as an 8-bit JPEG of ``quality`` (1 to 100) and decoded (one channel
    stays one channel: a grey JPEG, as a NIR camera writes)."""
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"JPEG quality must be 1 to 100, not {quality}")
    image = _float(image)
    data = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    if data.ndim == 3:
        data = cv2.cvtColor(data, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".jpg", data, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    flag = cv2.IMREAD_GRAYSCALE if data.ndim == 2 else cv2.IMREAD_COLOR
    decoded = cv2.imdecode(encoded, flag)
    if decoded.ndim == 3:
        decoded = cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
    return decoded.astype(np.float32) / np.float32(255)


def downscale(image, factor: float) -> np.ndarray:
    """The image ``factor`` times smaller on each side (area interpolation, at least 1 px):
    the NIR of a smaller camera, and the truth to score it against."""
    if factor < 1:
        raise ValueError(f"downscaling factor must be >= 1, not {factor}")
    image = _float(image)
    height, width = image.shape[:2]
    size = (max(1, round(width / factor)), max(1, round(height / factor)))
    if size == (width, height):
        return image.copy()
    return np.clip(cv2.resize(image, size, interpolation=cv2.INTER_AREA), 0.0, 1.0)


def rescale_down_up(image, factor: float) -> np.ndarray:
    """The image brought ``factor`` times down (area) and back up to its size (bilinear):
    the detail a smaller sensor loses, at the input's size."""
    image = _float(image)
    small = downscale(image, factor)
    height, width = image.shape[:2]
    up = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(up, 0.0, 1.0).astype(np.float32)


def degrade_condition(nir, kind: str, strength: float, seed=0) -> np.ndarray:
    """The NIR image under one benchmark condition (:data:`CONDITIONS`): ``noise`` (Gaussian
    σ, seeded), ``blur`` (σ px), ``jpeg`` (quality) or ``downscale`` (factor)."""
    if kind == "noise":
        return add_gaussian_noise(nir, strength, seed)
    if kind == "blur":
        return blur(nir, strength)
    if kind == "jpeg":
        return jpeg(nir, int(strength))
    if kind == "downscale":
        return downscale(nir, strength)
    raise ValueError(f"unknown degradation '{kind}' (use one of {', '.join(CONDITIONS)})")


# ----------------------------------------------------------------------------- training


@dataclass(frozen=True)
class TrainingDegradation:
    """The ranges :func:`random_degradation` draws from; each step is applied with
    probability ``each`` (in camera order: optics, sensor size, sensor noise, compression)."""

    each: float = 0.5
    blur_sigma: tuple[float, float] = (0.5, 3.0)  # px
    rescale: tuple[float, float] = (1.5, 4.0)  # down-and-up factor
    shot: tuple[float, float] = (0.0, 0.01)  # a of σ² = a·x + b²
    read: tuple[float, float] = (0.002, 0.06)  # b of σ² = a·x + b²
    quality: tuple[int, int] = (20, 90)  # JPEG quality, both ends included

    def describe(self) -> str:
        """The ranges in words (model cards)."""
        return (
            f"each with probability {self.each:g}: blur σ {self.blur_sigma[0]:g}–"
            f"{self.blur_sigma[1]:g} px, down-and-up rescaling ×{self.rescale[0]:g}–"
            f"{self.rescale[1]:g}, noise σ² = a·x + b² (a {self.shot[0]:g}–{self.shot[1]:g}, "
            f"b {self.read[0]:g}–{self.read[1]:g}), JPEG quality {self.quality[0]}–"
            f"{self.quality[1]}"
        )


TRAINING = TrainingDegradation()


def random_degradation(
    nir, rng: np.random.Generator, ranges: TrainingDegradation = TRAINING
) -> np.ndarray:
    """One random realistic degradation of a NIR image or patch ``(H, W)`` in [0, 1]: blur,
    down-and-up rescaling, Poisson-Gaussian noise and JPEG, each with probability
    ``ranges.each``, with strengths drawn uniformly from ``ranges``. Every draw comes from
    ``rng``, so a seeded generator gives the same result."""
    out = _float(nir)
    apply = rng.random(4) < ranges.each
    if apply[0]:
        out = blur(out, rng.uniform(*ranges.blur_sigma))
    if apply[1]:
        out = rescale_down_up(out, rng.uniform(*ranges.rescale))
    if apply[2]:
        a, b = rng.uniform(*ranges.shot), rng.uniform(*ranges.read)
        out = add_poisson_gaussian_noise(out, a, b, rng)
    if apply[3]:
        out = jpeg(out, int(rng.integers(ranges.quality[0], ranges.quality[1] + 1)))
    return out


def degrade_batch(
    nir: np.ndarray,
    share: float,
    rng: np.random.Generator,
    ranges: TrainingDegradation = TRAINING,
) -> np.ndarray:
    """A batch of NIR patches ``(N, H, W)`` (or ``(N, 1, H, W)``) with each patch degraded by
    :func:`random_degradation` with probability ``share`` (0: the batch unchanged, and no
    random number drawn); float32, a new array."""
    out = np.array(nir, dtype=np.float32)
    if share <= 0:
        return out
    if not share <= 1:
        raise ValueError(f"degrade share must be in [0, 1], not {share}")
    chosen = rng.random(len(out)) < share
    for index in np.flatnonzero(chosen):
        patch = out[index]
        flat = patch.reshape(patch.shape[-2:])
        out[index] = random_degradation(flat, rng, ranges).reshape(patch.shape)
    return out
