"""Video: colorize NIR videos and live streams (needs PyAV: ``pip install 'nircolor[video]'``).

``nircolor colorize in.mp4 -o out.mp4`` takes this path for inputs ending in one of
:data:`VIDEO_EXTENSIONS`, and for live sources (:func:`is_stream`: a URL such as
``rtsp://`` or ``tcp://``, a device such as ``/dev/video0``). Choices, and their reasons:

* **Input.** Frames are decoded with PyAV and the NIR value of a pixel is the *luma* plane,
  expanded to full range (limited-range ``16..235`` becomes ``0..1``); sources with more
  than 8 bits per sample are read at 16 bits. A frame whose pixels are really coloured is
  **refused** (:class:`~nircolor.errors.ImageReadError`), by the rule that
  :func:`nircolor.io.as_grey` applies to still images (more than 1 % of the pixels with RGB
  channels more than 3/255 apart); a planar YUV frame whose chroma is neutral within
  ±:data:`~nircolor.video.codec.NEUTRAL_CHROMA` passes without the RGB conversion.
  Colorizing a colour frame would silently throw its colour away: convert such a video to
  grey first (``ffmpeg -i in.mp4 -vf format=gray grey.mp4``). Frames are checked one by one,
  so a colour frame in the middle stops the file there.
* **Live sources** have no known length: they end at the end of the stream, at
  ``max_frames`` / ``duration``, or when ``stop`` is set (Ctrl+C on the command line). They
  are opened, and each packet read, with a timeout (:data:`OPEN_TIMEOUT` seconds). A live
  source that fails after some frames keeps them: the output is completed, then the error
  is raised.
* **Output.** H.264 (``libx264``, CRF 18, 4:2:0, tagged BT.709 limited range) when PyAV's
  bundled FFmpeg has it, else MPEG-4 part 2, in the container given by the target's
  extension (``.mp4``, ``.mkv``, ``.mov``, ``.avi``; WebM cannot hold H.264 and is refused as
  an output). The output has the input's frame count, frame rate and size. Frames get
  constant timestamps ``i / fps`` at the input's average frame rate, so a variable-frame-rate
  input comes out at constant rate. Audio and subtitles are not copied. Or ``"-"``: the
  frames go to standard output as raw ``rgb24`` (``H × W × 3`` bytes a frame) or MJPEG, for
  piping into another program.
* **Odd sizes.** 4:2:0 video needs an even width and height: an odd one is padded by
  repeating the last column / row, so a 33 × 25 input gives a 34 × 26 output (nothing is
  cropped away; the extra line is a copy of its neighbour). Raw and MJPEG output keep the
  size.
* **Atomic.** A video file is encoded into a temporary file beside the target and renamed
  over it when complete; a failed or interrupted run leaves no partial output.
* **Keyframes.** The net's colour context is computed every ``context_every`` frames and at
  scene cuts, and every frame is coloured from it at full resolution
  (:mod:`nircolor.video.keyframes`); ``context_every=1`` colorizes every frame as a still.
* **Pipeline.** Decoding, colorizing and encoding run at once in three threads joined by
  bounded queues (:mod:`nircolor.video.pipeline`); frames keep their order.
* **Temporal smoothing** (``temporal_smoothing=ALPHA``): an exponential moving average of the
  *chroma* only, in CIELAB: ``ab_t = ALPHA · ab(frame t) + (1 − ALPHA) · ab_{t−1}``, with L*
  from the current frame, so edges and brightness stay sharp while colour noise (flicker)
  is averaged away. ``ALPHA = 1`` is no smoothing; smaller is smoother (0.3 averages about
  the last 6 frames). The average restarts at scene cuts (mean absolute NIR change above
  :data:`SCENE_CUT`). Moving colour edges leave a short colour trail: keep ALPHA high (≥ 0.5)
  for fast motion.

:func:`flicker` measures the mean frame-to-frame colour difference (ΔE00 or ΔE76) of a frame
sequence; ``benchmarks/bench_video.py`` uses it.
"""

from __future__ import annotations

from .codec import (
    CRF,
    DEFAULT_FPS,
    OPEN_TIMEOUT,
    VIDEO_EXTENSIONS,
    VIDEO_OUTPUT_SUFFIX,
    VIDEO_WRITE_FORMATS,
    VideoInfo,
    is_stream,
    is_video,
    probe,
    read_frames,
    read_rgb_frames,
    video_codec,
)
from .colorize import FrameProgress, colorize_video
from .keyframes import CONTEXT_EVERY, CUT, KeyframeColorizer
from .sinks import STDOUT, STDOUT_FORMATS
from .smoothing import SCENE_CUT, ChromaSmoother, flicker

__all__ = [
    "CONTEXT_EVERY",
    "CRF",
    "CUT",
    "DEFAULT_FPS",
    "OPEN_TIMEOUT",
    "SCENE_CUT",
    "STDOUT",
    "STDOUT_FORMATS",
    "VIDEO_EXTENSIONS",
    "VIDEO_OUTPUT_SUFFIX",
    "VIDEO_WRITE_FORMATS",
    "ChromaSmoother",
    "FrameProgress",
    "KeyframeColorizer",
    "VideoInfo",
    "colorize_video",
    "flicker",
    "is_stream",
    "is_video",
    "probe",
    "read_frames",
    "read_rgb_frames",
    "video_codec",
]
