"""Colour contexts computed on keyframes and shared by the frames between them.

A fixed camera's colours change slowly while its detail changes every frame. The net's work,
the colour context (:mod:`nircolor.context`: the colorized copy of the frame whose long side
is ``context.size`` px), is done on **keyframes** only: every ``every`` frames, at the last
frame before a scene cut and the first after it, when the camera has moved far (below), and
at the last frame. Every frame is then
coloured at full resolution from the contexts of the two keyframes around it, cross-faded by
its position between them (``u = (t − key₀) / (key₁ − key₀)``), so colours glide from one
context to the next and nothing pops; a cut starts afresh. Frames wait for the keyframe that
ends their stretch, so the output lags the input by up to ``every`` frames.

**Scene cuts.** The mean absolute difference of 32 × 32 thumbnails (block means, NIR in
[0, 1]) of two consecutive frames above :data:`CUT` (5 % of the NIR range), or a change of
frame size. Sensor noise and motion stay far below it (a 720p pan of 1.5 px a frame: 0.002;
a cut between two scenes: 0.2).

**Camera motion.** Before the cross-fade, each keyframe's copy is moved with the camera to
the frame: the translation between the two frames is measured by phase correlation on NIR
copies of about :data:`MOTION_SIZE` px (none when its peak is weak or it exceeds a quarter
of the picture), so a panning camera's colours stay on their objects; once the camera has
moved :data:`MAX_DRIFT` of the picture's width (8 px of a 1280-px frame), the next frame is
a keyframe (a fast pan makes every frame a keyframe). Moving objects are not followed: they
take the colours of the contexts around them until the next keyframe.

**Colouring a frame from a context.** With a guided filter in the finish (the default model
has one), by the fast guided filter (He & Sun 2015) on the context copy: the window means of
the copy's NIR and colours and their covariance are computed on the cross-faded copy
(radius scaled to the copy); the guide's variance comes from the frame's own
full-resolution NIR (so that its noise and fine texture damp the colour's slope as in the
full-size filter); the coefficients are upsampled bilinearly and applied to the frame's NIR,
``rgb = A · NIR + B``. That is the carry-up and the guided filter of
:func:`nircolor.colorize` done at the copy's size: ΔE00 0.07 from them on 720p ``val``
frames, in a fraction of the time. With the NIR's detail (``detail``) and no guided filter,
the copy's colours are upsampled bilinearly and the detail transfer, at full resolution,
gives them the frame's lightness detail (ΔE00 0.10 from the carry-up and the detail transfer
on the same frames; both in BENCHMARKS.md, "Video: context on keyframes"). With neither,
the cross-faded copy is carried up to the frame by :func:`nircolor.context.carry_up`
(exact, slower). The detail transfer is applied at full resolution after the guided filter,
as in every path.

With ``every == 1``, or when the context does not apply (frames no larger than the context,
a model without one), every frame is colorized by :func:`nircolor.colorize`, as a still.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from ..api import colorize, get_model, resolve_context, resolve_finish
from ..context import carry_up, colorized_copy, downscale_rows
from ..errors import NircolorError
from ..filters.guided import box_mean
from .pipeline import ordered_map

CONTEXT_EVERY = 8
"""Default keyframe interval: the net runs on one frame in 8 (about 3 times a second at
25 frames/s)."""
MAX_EVERY = 1000
CUT = 0.05
"""Mean absolute difference of consecutive 32 × 32 NIR thumbnails that makes a scene cut."""
THUMBNAIL = 32
MOTION_SIZE = 256
"""Long side (about) of the NIR copies on which camera motion is measured."""
MIN_RESPONSE = 0.1
"""Phase-correlation peak below which a camera shift is not trusted (none is applied)."""
MIN_SHIFT = 0.25
"""Shifts of a key's copy smaller than this (in its pixels) are left out."""
MAX_DRIFT = 0.006
"""A moving camera gets a keyframe early, once it has moved this fraction of the picture's
width since the last one (8 px of a 1280-px frame): the net is not shift-invariant, so a
still's colours change as the picture moves over its grid, and new picture comes into view;
on a pan of 1.6 px a frame this keeps the keyframes within 0.8 ΔE00 of colorizing every
frame, against 1.0 with a key every 8 frames only."""


def check_every(every: int) -> int:
    """A valid keyframe interval (an integer from 1 to :data:`MAX_EVERY`)."""
    if isinstance(every, bool) or not isinstance(every, int) or not 1 <= every <= MAX_EVERY:
        raise NircolorError(
            f"--context-every must be an integer from 1 to {MAX_EVERY}, not {every!r}"
        )
    return every


def thumbnail(nir: np.ndarray) -> np.ndarray:
    """The :data:`THUMBNAIL`-pixel square copy that scene cuts are judged on: means over
    blocks of whole pixels (the last rows and columns that fill no block are left out, which
    keeps OpenCV on its fast integer-factor path: 2 ms for 720p instead of 15)."""
    height, width = nir.shape
    rows, columns = max(1, height // THUMBNAIL), max(1, width // THUMBNAIL)
    crop = nir[: THUMBNAIL * rows, : THUMBNAIL * columns]
    return cv2.resize(crop, (THUMBNAIL, THUMBNAIL), interpolation=cv2.INTER_AREA)


def is_cut(before: np.ndarray, after: np.ndarray, threshold: float = CUT) -> bool:
    """Whether two frames' :func:`thumbnail` differ by more than ``threshold`` on average."""
    return float(np.mean(np.abs(after - before))) > threshold


@dataclass
class Key:
    """A keyframe's context: its index, colorized copy ``(h, w, 4)`` (colours, then NIR), the
    :func:`motion_copy` of its NIR and (once needed) the copy's :func:`_window_stats`."""

    index: int
    copy: np.ndarray
    motion: np.ndarray
    stats: np.ndarray | None = None


def motion_copy(nir: np.ndarray) -> np.ndarray:
    """The NIR copy camera motion is measured on: block means, long side about
    :data:`MOTION_SIZE` (the last rows and columns that fill no block are left out)."""
    return _block_means(nir, motion_factor(nir.shape))


def motion_factor(shape) -> int:
    """Full-size pixels per pixel of a :func:`motion_copy`."""
    return max(1, max(shape[:2]) // MOTION_SIZE)


def _block_means(nir: np.ndarray, factor: int) -> np.ndarray:
    height, width = nir.shape
    rows, columns = max(1, height // factor), max(1, width // factor)
    crop = nir[: rows * factor, : columns * factor]
    return cv2.resize(crop, (columns, rows), interpolation=cv2.INTER_AREA)


def camera_shift(before: np.ndarray, after: np.ndarray, window: np.ndarray | None = None):
    """How far the picture moved from ``before`` to ``after`` (two :func:`motion_copy`), in
    their pixels, ``(dx, dy)``; ``(0, 0)`` when the phase correlation's peak is under
    :data:`MIN_RESPONSE` or the shift over a quarter of the picture (not one translation)."""
    (dx, dy), response = cv2.phaseCorrelate(before, after, window)
    height, width = before.shape
    if response < MIN_RESPONSE or abs(dx) > width / 4 or abs(dy) > height / 4:
        return 0.0, 0.0
    return dx, dy


class KeyframeColorizer:
    """Colour a sequence of NIR frames with contexts computed on keyframes (module notes).

    ``colorizer(frames)`` yields ``(nir, rgb)`` for every frame in order, ``rgb`` float32
    ``(H, W, 3)`` in [0, 1]; :attr:`keyframes` lists the indices of the frames the net ran on.
    The frames between two keyframes are coloured on ``workers`` threads (default: one per
    core, at most 4; see :func:`~nircolor.video.pipeline.ordered_map`).
    """

    def __init__(
        self,
        model,
        guided=None,
        detail=None,
        context=None,
        every: int = CONTEXT_EVERY,
        cut: float = CUT,
        workers: int | None = None,
    ) -> None:
        self.model = get_model(model)
        self.guided, self.detail, self.context_asked = guided, detail, context
        self.finish = resolve_finish(self.model, guided, detail)
        self.context = resolve_context(self.model, context)
        self.every = check_every(every)
        self.cut = cut
        self.workers = workers
        self.keyframes: list[int] = []
        self._window: np.ndarray | None = None

    def per_frame(self, nir: np.ndarray) -> np.ndarray:
        """A frame colorized on its own, as :func:`nircolor.colorize` colours a still."""
        return colorize(
            nir,
            self.model,
            guided=self.guided,
            context=self.context_asked,
            detail=self.detail,
            denoise="off",  # as the keyframe path: frames are not denoised
        )

    def __call__(self, frames: Iterable[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        frames = iter(frames)
        first = next(frames, None)
        if first is None:
            return
        if self.every == 1 or not self.context.applies(first.shape):
            self.keyframes = []
            yield first, self.per_frame(first)
            for nir in frames:
                yield nir, self.per_frame(nir)
            return
        yield from self._keyed(first, frames)

    def _keyed(self, first: np.ndarray, frames: Iterator[np.ndarray]):
        start = self._key(0, first, motion_copy(first))
        yield first, self._colour(first, start, start, 0.0)
        before = thumbnail(first)
        pending: list[_Frame] = []
        for index, nir in enumerate(frames, start=1):
            after = thumbnail(nir)
            if nir.shape != first.shape or is_cut(before, after, self.cut):
                yield from self._close(start, pending)
                first, pending = nir, []
                start = self._key(index, nir, motion_copy(nir))
                yield nir, self._colour(nir, start, start, 0.0)
            else:
                motion = motion_copy(nir)
                frame = _Frame(index, nir, motion, self._shift(start, motion, nir.shape))
                pending.append(frame)
                drift = math.hypot(*frame.shift) / start.copy.shape[1]
                if len(pending) == self.every or drift > MAX_DRIFT:
                    start = yield from self._close(start, pending)
                    pending = []
            before = after
        yield from self._close(start, pending)

    def _close(self, start: Key, pending: list[_Frame]):
        """Colour the frames after ``start``, the last of them a keyframe; returns its key."""
        if not pending:
            return start
        last = pending[-1]
        end = self._key(last.index, last.nir, last.motion)
        span = end.index - start.index
        self._window_for(last.motion)  # the shared state the threads read, made here
        if self.finish.guided:
            radius = self._copy_radius(start.copy, last.nir)
            for key in (start, end):
                self._stats(key, radius)

        def colour(frame: _Frame) -> np.ndarray:
            u = (frame.index - start.index) / span
            return self._colour(frame.nir, start, end, u, frame)

        for frame, rgb in zip(pending, ordered_map(colour, pending, self.workers), strict=True):
            yield frame.nir, rgb
        return end

    def _key(self, index: int, nir: np.ndarray, motion: np.ndarray) -> Key:
        def read(top: int, bottom: int) -> np.ndarray:
            return nir[top:bottom]

        small = downscale_rows(read, nir.shape, self.context.size)
        copy = colorized_copy(small, self.model.for_image(nir).predict, self.context.sigma)
        self.keyframes.append(index)
        return Key(index, copy, motion)

    def _shift(self, key: Key, motion: np.ndarray, shape) -> tuple[float, float]:
        """How far the camera moved from ``key``'s frame to the frame of ``motion``, in
        pixels of the context copy."""
        if key.motion is motion:
            return 0.0, 0.0
        dx, dy = camera_shift(key.motion, motion, self._window_for(motion))
        factor = motion_factor(shape) * key.copy.shape[1] / shape[1]
        return dx * factor, dy * factor

    def _window_for(self, motion: np.ndarray) -> np.ndarray:
        """The Hanning window of phase correlation for copies of ``motion``'s size (made
        here, before frames are coloured on several threads, which then only read it)."""
        if self._window is None or self._window.shape != motion.shape:
            self._window = cv2.createHanningWindow(motion.shape[::-1], cv2.CV_32F)
        return self._window

    @staticmethod
    def _stats(key: Key, radius: int) -> np.ndarray:
        """``key``'s :func:`_window_stats`, computed once."""
        if key.stats is None:
            key.stats = _window_stats(key.copy, radius)
        return key.stats

    def _copy_radius(self, copy: np.ndarray, nir: np.ndarray) -> int:
        return max(1, round(self.finish.guided.radius * copy.shape[1] / nir.shape[1]))

    def _colour(
        self, nir: np.ndarray, start: Key, end: Key, u: float, frame: _Frame | None = None
    ) -> np.ndarray:
        height, width = nir.shape
        if 0.0 < u < 1.0:  # both keys moved with the camera to this frame, then cross-faded
            first = _moved(start.copy, frame.shift)
            second = _moved(end.copy, self._shift(end, frame.motion, nir.shape))
        else:
            first = second = (start if u <= 0.0 else end).copy
        copy = _mix(first, second, u)
        if self.finish.guided:
            guided = self.finish.guided
            radius = self._copy_radius(copy, nir)
            moved = 0.0 < u < 1.0 and (first is not start.copy or second is not end.copy)
            if moved:
                stats = _window_stats(copy, radius)
            else:  # a still camera: the keys' own statistics, cross-faded
                stats = _mix(self._stats(start, radius), self._stats(end, radius), u)
            small = (copy.shape[1], copy.shape[0])
            variance = cv2.resize(
                _variance(nir, guided.radius), small, interpolation=cv2.INTER_LINEAR
            )
            a = stats[:, :, 4:7] / (variance + np.float32(guided.eps))[:, :, None]
            b = stats[:, :, 1:4] - a * stats[:, :, :1]
            size = (width, height)
            rgb = cv2.resize(box_mean(a, radius), size, interpolation=cv2.INTER_LINEAR)
            rgb *= nir[:, :, None]
            rgb += cv2.resize(box_mean(b, radius), size, interpolation=cv2.INTER_LINEAR)
            np.clip(rgb, 0.0, 1.0, out=rgb)
        elif self.finish.detail:
            colour = np.ascontiguousarray(copy[:, :, :3])
            rgb = cv2.resize(colour, (width, height), interpolation=cv2.INTER_LINEAR)
        else:
            rgb = carry_up(copy, nir, 0, height, self.context.sigma)
        if self.finish.detail:
            rgb = self.finish.detail(nir, rgb)
        return rgb


@dataclass
class _Frame:
    """A frame waiting for the keyframe that ends its stretch: its NIR, its
    :func:`motion_copy` and the camera's shift since the stretch's first key (copy pixels)."""

    index: int
    nir: np.ndarray
    motion: np.ndarray
    shift: tuple[float, float]


def _moved(copy: np.ndarray, shift: tuple[float, float]) -> np.ndarray:
    """``copy`` moved by ``shift`` (its pixels); itself for a shift under :data:`MIN_SHIFT`."""
    if math.hypot(*shift) < MIN_SHIFT:
        return copy
    height, width = copy.shape[:2]
    matrix = np.float32([[1, 0, shift[0]], [0, 1, shift[1]]])
    return cv2.warpAffine(copy, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)


def _window_stats(copy: np.ndarray, radius: int) -> np.ndarray:
    """The means of a copy's NIR and colours and their covariances over windows of
    ``radius``: ``(h, w, 7)``, what the guided filter's coefficients are made of."""
    nir = np.ascontiguousarray(copy[:, :, 3])
    colour = np.ascontiguousarray(copy[:, :, :3])
    mean_nir = box_mean(nir, radius)[:, :, None]
    mean_colour = box_mean(colour, radius)
    covariance = box_mean(colour * nir[:, :, None], radius) - mean_nir * mean_colour
    return np.concatenate([mean_nir, mean_colour, covariance], axis=2)


def _variance(nir: np.ndarray, radius: int) -> np.ndarray:
    """The NIR's variance over windows of ``radius`` at full resolution."""
    mean = box_mean(nir, radius)
    variance = box_mean(nir * nir, radius)
    variance -= mean * mean
    return variance


def _mix(start: np.ndarray, end: np.ndarray, u: float) -> np.ndarray:
    if u <= 0.0 or start is end:
        return start
    if u >= 1.0:
        return end
    return cv2.addWeighted(start, 1.0 - u, end, u, 0.0)
