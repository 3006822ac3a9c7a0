"""Where colorized frames go: a video file (written atomically) or a pipe (raw RGB or MJPEG)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np

from ..errors import ImageWriteError, already_exists, error_reason
from ..io import atomic_path
from ..io.atomic import output_exists
from .codec import VIDEO_WRITE_FORMATS, Encoder

STDOUT = "-"
"""The output name that means standard output."""

STDOUT_FORMATS = ("raw", "mjpeg")
"""What goes to standard output: raw ``rgb24`` frames (height × width × 3 bytes each, rows
top to bottom) or MJPEG (one JPEG after another)."""

JPEG_QUALITY = 90


def container_format(target: Path) -> str:
    """The FFmpeg container of an output file, by its extension; a clear error otherwise."""
    name = VIDEO_WRITE_FORMATS.get(target.suffix.lower())
    if name is None:
        raise ImageWriteError(
            f"{target}: cannot write '{target.suffix}' video; use one of "
            f"{', '.join(VIDEO_WRITE_FORMATS)}"
            + (" (WebM cannot hold H.264)" if target.suffix.lower() == ".webm" else "")
        )
    return name


def check_target(target: Path, overwrite: bool) -> None:
    container_format(target)
    if output_exists(target) and not overwrite:
        raise already_exists(target)


@contextmanager
def file_sink(av, target: Path, codec: str, fps: Fraction, crf: int, overwrite: bool):
    """An :class:`~nircolor.video.codec.Encoder` into a temporary file beside ``target``,
    renamed over it when the block ends without an error (and flushed before)."""
    with atomic_path(target, suffix=f".part{target.suffix}", replace=overwrite) as temp_name:
        try:
            container = av.open(str(temp_name), "w", format=container_format(target))
        except (av.FFmpegError, OSError) as error:
            raise ImageWriteError(f"{target}: cannot write ({error_reason(error)})") from None
        with container:
            encoder = Encoder(av, container, codec, fps, crf, target)
            yield encoder
            encoder.finish()


class PipeSink:
    """Frames (uint8 RGB) to a binary stream, as raw ``rgb24`` or as JPEGs (MJPEG).

    A reader that goes away (a closed pipe) ends the output: :attr:`closed` is then true,
    ``on_close()`` is called (to stop the input) and later frames are dropped.
    """

    def __init__(
        self,
        stream: BinaryIO | None = None,
        kind: str = "raw",
        on_close: Callable[[], object] | None = None,
    ) -> None:
        if kind not in STDOUT_FORMATS:
            raise ImageWriteError(
                f"stdout format must be one of {', '.join(STDOUT_FORMATS)}, not {kind!r}"
            )
        self.stream = stream if stream is not None else sys.stdout.buffer
        self.kind = kind
        self.on_close = on_close
        self.count = 0
        self.closed = False

    def write(self, pixels: np.ndarray) -> None:
        if self.closed:
            return
        if self.kind == "raw":
            data = np.ascontiguousarray(pixels).tobytes()
        else:
            bgr = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
            ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            if not ok:
                raise ImageWriteError("stdout: cannot encode the frame as JPEG")
            data = encoded.tobytes()
        try:
            self.stream.write(data)
            self.stream.flush()
        except BrokenPipeError:
            self.closed = True
            _silence_stdout(self.stream)
            if self.on_close is not None:
                self.on_close()
            return
        self.count += 1

    def finish(self) -> None:
        """Nothing to flush: every frame is flushed as it is written."""


def _silence_stdout(stream) -> None:
    """After a closed pipe, point stdout at /dev/null so that Python's last flush at exit
    does not fail again."""
    if stream is getattr(sys.stdout, "buffer", None):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
