"""Reading and writing video with PyAV: sources (files, URLs, devices), grey frames, H.264.

See :mod:`nircolor.video` for the choices (luma as NIR, colour frames refused, H.264 CRF 18
tagged BT.709, odd sizes padded, constant frame rate).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from ..errors import ImageReadError, ImageWriteError, error_reason
from ..extras import require_extra
from ..io import MAX_PIXELS, as_grey

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".avi", ".mov", ".webm")
"""Inputs with these extensions are read as videos."""

VIDEO_WRITE_FORMATS = {".mp4": "mp4", ".mkv": "matroska", ".mov": "mov", ".avi": "avi"}
"""Output extensions and their FFmpeg container formats."""

VIDEO_OUTPUT_SUFFIX = ".mp4"
"""Suffix of a video's output when OUT is a folder."""

CRF = 18
"""libx264 constant rate factor: visually lossless for colorized NIR."""

DEFAULT_FPS = Fraction(25)
"""Frame rate used when a file declares none."""

OPEN_TIMEOUT = 10.0
"""Seconds a live source (URL, device) may take to open, and to send each packet."""

NEUTRAL_CHROMA = 1
"""A YUV frame whose chroma samples all lie within this of neutral (128) is grey without
converting it to RGB; any other frame gets the RGB test of :func:`nircolor.io.as_grey`."""

_BT709 = 1  # AVCOL_SPC_BT709 / AVCOL_PRI_BT709 / AVCOL_TRC_BT709
_MPEG_RANGE = 1  # AVCOL_RANGE_MPEG (limited range)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_PLANAR_YUV = ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p")


def is_video(path: str | os.PathLike) -> bool:
    """Whether ``path`` is taken as a video (by its extension)."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def is_stream(source: str | os.PathLike) -> bool:
    """Whether ``source`` is a live source: a URL (``rtsp://``, ``http://``, ``udp://``,
    ``tcp://``...) or a capture device (``/dev/video0``), which has no known length."""
    text = os.fspath(source)
    return bool(_URL.match(text)) or text.startswith("/dev/video")


def import_av():
    require_extra("video", "video support")
    import av

    return av


def video_codec() -> str:
    """The encoder used for outputs: ``libx264`` if PyAV's FFmpeg has it, else ``mpeg4``."""
    av = import_av()
    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` reads from a video's first video stream."""

    frames: int
    fps: Fraction
    width: int
    height: int
    codec: str


def probe(path: str | os.PathLike, count: bool = True) -> VideoInfo:
    """Frame count (decoded when ``count``, else as declared), frame rate, size and codec."""
    av = import_av()
    path = Path(path)
    try:
        with av.open(str(path)) as container:
            stream = video_stream(container, path)
            frames = sum(1 for _ in container.decode(stream)) if count else stream.frames
            return VideoInfo(
                frames=int(frames),
                fps=frame_rate(stream),
                width=stream.codec_context.width,
                height=stream.codec_context.height,
                codec=stream.codec_context.name,
            )
    except av.FFmpegError as error:
        raise ImageReadError(f"{path}: cannot decode video ({error_reason(error)})") from None


def read_frames(source: str | os.PathLike) -> Iterator[np.ndarray]:
    """Yield the NIR frames of a grey video: float32 ``(H, W)`` in [0, 1], from the luma.

    ``source`` is a file, a URL or a device (:func:`is_stream`). Raises
    :class:`~nircolor.errors.ImageReadError` for a missing, undecodable or colour video (see
    the module notes).
    """
    av = import_av()
    with open_video(av, source) as container:
        stream = video_stream(container, source)
        yield from grey_frames(av, container, stream, source)


def read_rgb_frames(path: str | os.PathLike) -> Iterator[np.ndarray]:
    """Yield the frames of a video as float32 sRGB ``(H, W, 3)`` in [0, 1] (any video)."""
    av = import_av()
    with open_video(av, path) as container:
        stream = video_stream(container, path)
        try:
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="rgb24").astype(np.float32) / 255.0
        except av.FFmpegError as error:
            raise ImageReadError(f"{path}: cannot decode video ({error_reason(error)})") from None


# ---------------------------------------------------------------- sources


def check_input(path: Path) -> None:
    if not path.is_file():
        raise ImageReadError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path}: file is empty")


@contextmanager
def open_video(av, source: str | os.PathLike, timeout: float = OPEN_TIMEOUT):
    """An open input container: a file (checked first), or a live source opened with a
    ``timeout`` in seconds for opening and for each read."""
    text = os.fspath(source)
    live = is_stream(text)
    if not live:
        check_input(Path(text))
    options = {"format": "v4l2"} if text.startswith("/dev/video") else {}
    try:
        container = av.open(text, timeout=(timeout, timeout) if live else None, **options)
    except av.FFmpegError as error:
        what = "cannot open the stream" if live else "not a video file"
        raise ImageReadError(f"{text}: {what} ({stream_reason(av, error, timeout)})") from None
    with container:
        yield container


def stream_reason(av, error: Exception, timeout: float) -> str:
    """The reason of a PyAV error, a timeout said as such."""
    if isinstance(error, av.error.ExitError):
        return f"nothing received within {timeout:g} s"
    return error_reason(error)


def video_stream(container, source):
    if not container.streams.video:
        raise ImageReadError(f"{source}: the file holds no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return stream


def frame_rate(stream) -> Fraction:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return Fraction(rate)
    return DEFAULT_FPS


def grey_frames(
    av, container, stream, source, timeout: float = OPEN_TIMEOUT
) -> Iterator[np.ndarray]:
    """The NIR frames (float32 ``(H, W)`` in [0, 1]) of ``stream``; a colour frame, a frame
    over :data:`~nircolor.io.MAX_PIXELS` or a decoding error is an ImageReadError."""
    index = 0
    try:
        for frame in container.decode(stream):
            if frame.width * frame.height > MAX_PIXELS:
                raise ImageReadError(
                    f"{source}: frames of {frame.width}x{frame.height} pixels exceed the limit "
                    f"of {MAX_PIXELS:,} pixels"
                )
            name = frame.format.name
            if not name.startswith(("gray", "ya", "mono")) and not _neutral_chroma(frame):
                rgb = frame.to_ndarray(format="rgb24").astype(np.float32) / 255.0
                as_grey(rgb, name=f"{source} (frame {index})")
            if frame.format.components[0].bits > 8:
                yield frame.to_ndarray(format="gray16le").astype(np.float32) / 65535.0
            else:
                yield frame.to_ndarray(format="gray").astype(np.float32) / 255.0
            index += 1
    except av.FFmpegError as error:
        reason = stream_reason(av, error, timeout)
        raise ImageReadError(f"{source}: cannot decode video at frame {index} ({reason})") from None


def _neutral_chroma(frame) -> bool:
    """Whether an 8-bit planar YUV frame's chroma is neutral (:data:`NEUTRAL_CHROMA`)."""
    if frame.format.name not in _PLANAR_YUV:
        return False
    for plane in frame.planes[1:3]:
        samples = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        samples = samples[:, : plane.width]
        if samples.min() < 128 - NEUTRAL_CHROMA or samples.max() > 128 + NEUTRAL_CHROMA:
            return False
    return True


# ---------------------------------------------------------------- output


def to_pixels(rgb: np.ndarray) -> np.ndarray:
    """Float sRGB in [0, 1] as rounded uint8 (what every video output takes): ``rgb × 255``
    rounded half to even and saturated, in one OpenCV pass (a tenth of numpy's time)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.float32)
    return cv2.convertScaleAbs(cv2.max(rgb, 0.0), alpha=255.0)


class Encoder:
    """Frames (uint8 RGB) into a video stream of an open output ``container``: the stream is
    added at the first frame (its size), odd sizes are padded by repeating the last row or
    column, frames get timestamps ``i / fps``; :meth:`finish` flushes the encoder."""

    def __init__(self, av, container, codec: str, fps: Fraction, crf: int, target) -> None:
        self.av, self.container, self.codec = av, container, codec
        self.fps, self.crf, self.target = fps, crf, target
        self.stream = None
        self.shape: tuple[int, int] | None = None
        self.count = 0

    def write(self, pixels: np.ndarray) -> None:
        height, width = pixels.shape[:2]
        if self.stream is None:
            self.stream = _add_output_stream(
                self.container, self.codec, self.fps, (height, width), self.crf
            )
            self.shape = (height, width)
        elif (height, width) != self.shape:
            raise ImageReadError(
                f"{self.target}: frame {self.count} is {width}x{height}, the video began at "
                f"{self.shape[1]}x{self.shape[0]}; a video cannot change size"
            )
        if height % 2 or width % 2:
            pixels = np.pad(pixels, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
        frame = self.av.VideoFrame.from_ndarray(pixels, format="rgb24")
        frame = frame.reformat(format="yuv420p", dst_colorspace=_BT709)
        for attribute, value in (("colorspace", _BT709), ("color_range", _MPEG_RANGE)):
            try:
                setattr(frame, attribute, value)
            except (AttributeError, TypeError, ValueError):  # older PyAV
                pass
        frame.pts = self.count
        frame.time_base = Fraction(1) / self.stream.codec_context.framerate
        self._mux(self.stream.encode(frame))
        self.count += 1

    def finish(self) -> None:
        if self.stream is not None:
            self._mux(self.stream.encode(None))

    def _mux(self, packets) -> None:
        try:
            self.container.mux(packets)
        except self.av.FFmpegError as error:
            raise ImageWriteError(
                f"{self.target}: cannot encode video ({error_reason(error)})"
            ) from None


def _add_output_stream(container, codec: str, fps: Fraction, shape: tuple[int, int], crf: int):
    height, width = shape
    stream = container.add_stream(codec, rate=fps)
    stream.width = width + width % 2
    stream.height = height + height % 2
    stream.pix_fmt = "yuv420p"
    if codec == "libx264":
        stream.options = {"crf": str(crf), "preset": "medium"}
    else:
        # MPEG-4 part 2 has no CRF: a fixed quantiser of 2 (``-q:v 2``) is near its best.
        stream.options = {"flags": "+qscale", "global_quality": str(2 * 118)}
    context = stream.codec_context
    for attribute, value in (
        ("colorspace", _BT709),
        ("color_primaries", _BT709),
        ("color_trc", _BT709),
        ("color_range", _MPEG_RANGE),
    ):
        try:
            setattr(context, attribute, value)
        except (AttributeError, TypeError, ValueError):  # older PyAV
            pass
    return stream
