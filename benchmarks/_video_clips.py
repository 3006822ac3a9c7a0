"""The clips and measurements of bench_video.py's "Video: context on keyframes" section."""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from nircolor.io import read_nir
from nircolor.metrics import delta_e00
from nircolor.video import (
    KeyframeColorizer,
    colorize_video,
    flicker,
    read_frames,
    read_rgb_frames,
)
from nircolor.video.codec import CRF, Encoder, to_pixels, video_codec

WIDTH, HEIGHT = 1280, 720
RATE = Fraction(25)
CUT_AT = 60
"""Frame of the fixed camera's clip where it cuts to another scene."""
PAN = (1.5, 0.5)
"""Pixels a frame the panning camera moves (right, down)."""
CLIP_NOISE = 0.003
"""Sensor noise σ of the two clips (NIR in [0, 1]), before their own H.264 coding."""


def covering(nir: np.ndarray, margin: int = 200) -> np.ndarray:
    """``nir`` scaled (bicubic) to ``WIDTH + margin`` pixels wide, ``HEIGHT + margin`` at
    least, so 720p windows can move over it."""
    scale = max((WIDTH + margin) / nir.shape[1], (HEIGHT + margin) / nir.shape[0])
    size = (round(nir.shape[1] * scale), round(nir.shape[0] * scale))
    return cv2.resize(nir, size, interpolation=cv2.INTER_CUBIC)


def clip_frames(kind: str, sources: list[Path], count: int = 100, seed: int = 0):
    """The grey uint8 frames of a clip: ``"fixed"`` (a still scene, an object crossing it,
    a cut at :data:`CUT_AT`) or ``"pan"`` (a camera moving by :data:`PAN` a frame)."""
    first, second = covering(read_nir(sources[0])), covering(read_nir(sources[1]))
    thing = cv2.resize(read_nir(sources[2]), (160, 160), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(seed)
    for index in range(count):
        if kind == "pan":
            x, y = round(PAN[0] * index), round(PAN[1] * index)
            nir = first[y : y + HEIGHT, x : x + WIDTH].copy()
        else:
            nir = (first if index < CUT_AT else second)[50 : 50 + HEIGHT, 100 : 100 + WIDTH].copy()
            if index < CUT_AT:
                left = 40 + 10 * index
                nir[400:560, left : left + 160] = thing
        nir += CLIP_NOISE * rng.standard_normal(nir.shape).astype(np.float32)
        yield np.rint(np.clip(nir, 0, 1) * 255).astype(np.uint8)


def write_clip(path: Path, frames, crf: int = CRF) -> Path:
    """Grey frames as an H.264 clip (the encoder settings of nircolor's outputs)."""
    import av

    with av.open(str(path), "w") as container:
        encoder = Encoder(av, container, video_codec(), RATE, crf, path)
        for grey in frames:
            encoder.write(np.repeat(grey[:, :, None], 3, axis=2))
        encoder.finish()
    return path


def io_floor(source: Path, target: Path) -> float:
    """Seconds PyAV alone takes to decode ``source`` and re-encode its frames (as RGB, the
    encoder settings of nircolor's outputs) into ``target``: the I/O floor."""
    import av

    start = time.perf_counter()
    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        stream = inp.streams.video[0]
        stream.thread_type = "AUTO"
        encoder = Encoder(av, out, video_codec(), RATE, CRF, target)
        for frame in inp.decode(stream):
            grey = frame.to_ndarray(format="gray")
            encoder.write(np.repeat(grey[:, :, None], 3, axis=2))
        encoder.finish()
    return time.perf_counter() - start


def timed_colorize(source: Path, target: Path, every: int, **options) -> float:
    """Seconds of ``colorize_video`` file to file with the default model."""
    start = time.perf_counter()
    colorize_video(source, target, "default", overwrite=True, context_every=every, **options)
    return time.perf_counter() - start


def memory_quality(clip: Path, every: int, step: int = 3) -> dict:
    """Mean ΔE00 of the keyframe path's frames (``every``) against every frame colorized as
    a still, on every ``step``-th frame, and the flicker of both on those frames and their
    successors; in memory, as the frames go to the encoder."""
    keyed = KeyframeColorizer("default", every=every)(read_frames(clip))
    still = KeyframeColorizer("default", every=1)(read_frames(clip))
    de00, ours, theirs, previous = [], [], [], None
    for index, ((_, a), (_, b)) in enumerate(zip(keyed, still, strict=True)):
        a, b = to_pixels(a), to_pixels(b)  # what the encoder gets
        if previous is not None:
            ours.append(flicker([previous[0], a]))
            theirs.append(flicker([previous[1], b]))
            previous = None
        if index % step == 0:
            de00.append(delta_e00(a.astype(np.float32) / 255, b.astype(np.float32) / 255))
            previous = (a, b)
    return {
        "de00": float(np.mean(de00)),
        "flicker": float(np.mean(ours)),
        "flicker_reference": float(np.mean(theirs)),
    }


def decoded_de00(ours: Path, reference: Path, step: int = 3) -> float:
    """Mean ΔE00 of two decoded outputs on every ``step``-th frame (after H.264 twice)."""
    pairs = zip(read_rgb_frames(ours), read_rgb_frames(reference), strict=True)
    return float(np.mean([delta_e00(a, b) for i, (a, b) in enumerate(pairs) if i % step == 0]))
