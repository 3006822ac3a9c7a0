"""Colorize a video or a live stream into a video file or a pipe (:func:`colorize_video`)."""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import ImageReadError, ModelError, NircolorError
from ..models.l3.cfa import takes_mosaic
from .codec import (
    CRF,
    OPEN_TIMEOUT,
    frame_rate,
    grey_frames,
    import_av,
    is_stream,
    open_video,
    to_pixels,
    video_codec,
    video_stream,
)
from .keyframes import CONTEXT_EVERY, KeyframeColorizer
from .pipeline import run_pipeline
from .sinks import STDOUT, PipeSink, check_target, file_sink
from .smoothing import ChromaSmoother

FrameProgress = Callable[[int, int | None], object]
"""``progress(frames_done, frames_total_or_None)``, after every frame."""


def colorize_video(
    source: str | os.PathLike,
    target: str | os.PathLike,
    model=None,
    guided=None,
    overwrite: bool = False,
    temporal_smoothing: float | None = None,
    codec: str | None = None,
    crf: int = CRF,
    progress: FrameProgress | None = None,
    detail=None,
    context=None,
    context_every: int = CONTEXT_EVERY,
    max_frames: int | None = None,
    duration: float | None = None,
    stdout_format: str = "raw",
    stdout: BinaryIO | None = None,
    timeout: float = OPEN_TIMEOUT,
    stop: threading.Event | None = None,
) -> Path | str:
    """Colorize every frame of an NIR video or live stream into a video file or a pipe.

    Parameters
    ----------
    source : path or str
        A video file (any container/codec FFmpeg reads), a URL (``rtsp://``, ``http://``,
        ``udp://``, ``tcp://``...) or a capture device (``/dev/video0``).
    target : path or "-"
        Output file (.mp4, .mkv, .mov, .avi; H.264, written atomically), or ``"-"``: frames
        to ``stdout`` (default: standard output) as ``stdout_format``.
    model : str, path or model
        As for :func:`nircolor.colorize` (default: ``"default"``).
    guided, detail, context
        As for :func:`nircolor.colorize`: the guided filter, the NIR's detail and the
        colour context (None: the model's).
    overwrite : bool
        Replace an existing ``target``; without it an existing file is an error.
    temporal_smoothing : float, optional
        ALPHA of the chroma moving average (see :class:`ChromaSmoother`); None or 1 is off.
    codec : str, optional
        Encoder name; default :func:`video_codec`.
    crf : int
        libx264 constant rate factor (lower is better quality).
    progress : callable, optional
        ``progress(frames_done, frames_total_or_None)`` after every frame.
    context_every : int
        The net's colour context is computed every this many frames and at scene cuts,
        and cross-faded in between (:mod:`nircolor.video.keyframes`); 1: every frame is
        colorized as a still.
    max_frames, duration : optional
        Stop after this many frames, or this many seconds of video (at its frame rate).
    stdout_format : {"raw", "mjpeg"}
        What a ``"-"`` target gets: raw ``rgb24`` frames or JPEGs.
    timeout : float
        Seconds a live source may take to open, and to send each packet.
    stop : threading.Event, optional
        When set, the input ends there: the frames read so far are colorized and written
        (a live source stopped by Ctrl+C).

    Returns
    -------
    Path or str
        ``target``.

    Raises
    ------
    ImageReadError, ImageWriteError, ModelError
        For a source that cannot be opened or decoded (a timeout included), a colour video,
        an output that cannot be written. A live source that fails after some frames keeps
        them: the output is completed, then the error is raised.
    """
    from ..api import get_model

    av = import_av()
    to_pipe = os.fspath(target) == STDOUT
    stop = stop or threading.Event()
    pipe = PipeSink(stdout, stdout_format, on_close=stop.set) if to_pipe else None
    if to_pipe:
        target = STDOUT
    else:
        target = Path(target)
        check_target(target, overwrite)
    if max_frames is not None and max_frames < 1:
        raise NircolorError(f"--max-frames must be at least 1, not {max_frames}")
    if duration is not None and not (math.isfinite(duration) and duration > 0):
        raise NircolorError(f"--duration must be a positive number of seconds, not {duration}")
    loaded = get_model("default" if model is None else model)
    if takes_mosaic(loaded):
        raise ModelError(
            f"{source}: a raw-mosaic (CFA) model cannot colorize a video: its frames are "
            "8-bit images, not 16-bit raw sensor mosaics"
        )
    colorizer = KeyframeColorizer(loaded, guided, detail, context, context_every)
    smoother = (
        ChromaSmoother(temporal_smoothing)
        if temporal_smoothing is not None and temporal_smoothing != 1.0
        else None
    )
    live = is_stream(source)
    late_errors: list[ImageReadError] = []
    with open_video(av, source, timeout) as container:
        stream = video_stream(container, source)
        fps = frame_rate(stream)
        limit = _frame_limit(max_frames, duration, fps)
        total = None if live else (stream.frames or None)
        if limit is not None:
            total = limit if total is None else min(total, limit)
        frames = grey_frames(av, container, stream, source, timeout)
        if live:
            frames = _keep_before_error(frames, late_errors)
        if limit is not None:
            frames = _first(frames, limit)
        done = 0

        def transform(nir_frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
            nonlocal done
            for nir, rgb in colorizer(nir_frames):
                if smoother is not None:
                    rgb = smoother(rgb, nir)
                done += 1
                if progress is not None:
                    progress(done, total)
                yield to_pixels(rgb)

        depth = max(4, min(context_every, 16) + 2)
        if to_pipe:
            written = run_pipeline(frames, transform, pipe.write, 4, depth, stop)
        else:
            with file_sink(av, target, codec or video_codec(), fps, crf, overwrite) as sink:
                written = run_pipeline(frames, transform, sink.write, 4, depth, stop)
                if written == 0:
                    raise late_errors[0] if late_errors else _no_frames(source)
    if written == 0 and not (pipe is not None and pipe.closed):
        raise late_errors[0] if late_errors else _no_frames(source)
    if late_errors:
        kept = "written to stdout" if to_pipe else f"kept in {target}"
        raise ImageReadError(f"{late_errors[0]}; the {written} frames before it are {kept}")
    return target


def _no_frames(source) -> ImageReadError:
    return ImageReadError(f"{source}: the video holds no frames")


def _frame_limit(max_frames: int | None, duration: float | None, fps) -> int | None:
    limits = [max_frames] if max_frames is not None else []
    if duration is not None:
        limits.append(max(1, math.ceil(duration * fps - 1e-9)))
    return min(limits) if limits else None


def _first(frames: Iterator[np.ndarray], limit: int) -> Iterator[np.ndarray]:
    try:
        for index, frame in enumerate(frames):
            yield frame
            if index + 1 >= limit:
                return
    finally:
        frames.close()


def _keep_before_error(
    frames: Iterator[np.ndarray], errors: list[ImageReadError]
) -> Iterator[np.ndarray]:
    """A live source's frames; a read error after the first frame ends them (kept in
    ``errors``) instead of failing the frames already read."""
    count = 0
    try:
        for frame in frames:
            count += 1
            yield frame
    except ImageReadError as error:
        if count == 0:
            raise
        errors.append(error)
    finally:
        frames.close()
