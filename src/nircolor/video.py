"""Video: colorize every frame of an NIR video (needs PyAV: ``pip install 'nircolor[video]'``).

``nircolor colorize in.mp4 -o out.mp4`` takes this path for inputs ending in one of
:data:`VIDEO_EXTENSIONS`. Choices, and their reasons:

* **Input.** Frames are decoded with PyAV and the NIR value of a pixel is the *luma* plane,
  expanded to full range (limited-range ``16..235`` becomes ``0..1``); sources with more
  than 8 bits per sample are read at 16 bits. A frame whose pixels are really coloured is
  **refused** (:class:`~nircolor.errors.ImageReadError`), by the rule that
  :func:`nircolor.io.as_grey` applies to still images (more than 1 % of the pixels with RGB
  channels more than 3/255 apart): colorizing it would silently throw its colour away.
  Convert such a video to grey first (``ffmpeg -i in.mp4 -vf format=gray grey.mp4``).
  Frames are checked one by one, so a colour frame in the middle stops the file there.
* **Output.** H.264 (``libx264``, CRF 18, 4:2:0, tagged BT.709 limited range) when PyAV's
  bundled FFmpeg has it, else MPEG-4 part 2, in the container given by the target's
  extension (``.mp4``, ``.mkv``, ``.mov``, ``.avi``; WebM cannot hold H.264 and is refused as
  an output). The output has the input's frame count, frame rate and size. Frames get
  constant timestamps ``i / fps`` at the input's average frame rate, so a variable-frame-rate
  input comes out at constant rate. Audio and subtitles are not copied.
* **Odd sizes.** 4:2:0 video needs an even width and height: an odd one is padded by
  repeating the last column / row, so a 33 × 25 input gives a 34 × 26 output (nothing is
  cropped away; the extra line is a copy of its neighbour).
* **Atomic.** The video is encoded into a temporary file beside the target and renamed over
  it when complete; a failed or interrupted run leaves no partial output.
* **Temporal smoothing** (``temporal_smoothing=ALPHA``): an exponential moving average of the
  *chroma* only, in CIELAB: ``ab_t = ALPHA · ab(frame t) + (1 − ALPHA) · ab_{t−1}``, with L*
  from the current frame, so edges and brightness stay sharp while colour noise (flicker)
  is averaged away. ``ALPHA = 1`` is no smoothing; smaller is smoother (0.3 averages about
  the last 6 frames). The average restarts at scene cuts (mean absolute NIR change above
  :data:`SCENE_CUT`). Moving colour edges leave a short colour trail: keep ALPHA high (≥ 0.5)
  for fast motion.

:func:`flicker` measures the mean frame-to-frame colour difference (ΔE00 or ΔE76) of a frame
sequence; ``benchmarks/bench_video.py`` uses it on a static noisy scene.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from .errors import (
    ImageReadError,
    ImageWriteError,
    ModelError,
    NircolorError,
    already_exists,
    error_reason,
)
from .extras import require_extra
from .filters import DetailTransfer, GuidedFilter
from .io import MAX_PIXELS, as_grey, atomic_path
from .io.atomic import output_exists
from .models.l3.cfa import takes_mosaic

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".avi", ".mov", ".webm")
"""Inputs with these extensions are read as videos."""

VIDEO_WRITE_FORMATS = {".mp4": "mp4", ".mkv": "matroska", ".mov": "mov", ".avi": "avi"}
"""Output extensions and their FFmpeg container formats."""

VIDEO_OUTPUT_SUFFIX = ".mp4"
"""Suffix of a video's output when OUT is a folder."""

CRF = 18
"""libx264 constant rate factor: visually lossless for colorized NIR."""

SCENE_CUT = 0.12
"""Mean absolute NIR change between two frames above which temporal smoothing restarts."""

DEFAULT_FPS = Fraction(25)
"""Frame rate used when a file declares none."""

_BT709 = 1  # AVCOL_SPC_BT709 / AVCOL_PRI_BT709 / AVCOL_TRC_BT709
_MPEG_RANGE = 1  # AVCOL_RANGE_MPEG (limited range)

FrameProgress = Callable[[int, int | None], object]


def is_video(path: str | os.PathLike) -> bool:
    """Whether ``path`` is taken as a video (by its extension)."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def _import_av():
    require_extra("video", "video support")
    import av

    return av


def video_codec() -> str:
    """The encoder used for outputs: ``libx264`` if PyAV's FFmpeg has it, else ``mpeg4``."""
    av = _import_av()
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
    av = _import_av()
    path = Path(path)
    try:
        with av.open(str(path)) as container:
            stream = _video_stream(container, path)
            frames = sum(1 for _ in container.decode(stream)) if count else stream.frames
            return VideoInfo(
                frames=int(frames),
                fps=_frame_rate(stream),
                width=stream.codec_context.width,
                height=stream.codec_context.height,
                codec=stream.codec_context.name,
            )
    except av.FFmpegError as error:
        raise ImageReadError(f"{path}: cannot decode video ({error_reason(error)})") from None


def read_frames(path: str | os.PathLike) -> Iterator[np.ndarray]:
    """Yield the NIR frames of a grey video: float32 ``(H, W)`` in [0, 1], from the luma.

    Raises :class:`~nircolor.errors.ImageReadError` for a missing, undecodable or colour
    video (see the module notes).
    """
    av = _import_av()
    path = Path(path)
    _check_input(path)
    with _open_input(av, path) as container:
        stream = _video_stream(container, path)
        yield from _grey_frames(av, container, stream, path)


def read_rgb_frames(path: str | os.PathLike) -> Iterator[np.ndarray]:
    """Yield the frames of a video as float32 sRGB ``(H, W, 3)`` in [0, 1] (any video)."""
    av = _import_av()
    path = Path(path)
    _check_input(path)
    with _open_input(av, path) as container:
        stream = _video_stream(container, path)
        try:
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="rgb24").astype(np.float32) / 255.0
        except av.FFmpegError as error:
            raise ImageReadError(f"{path}: cannot decode video ({error_reason(error)})") from None


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


def colorize_video(
    source: str | os.PathLike,
    target: str | os.PathLike,
    model=None,
    guided: GuidedFilter | None = None,
    overwrite: bool = False,
    temporal_smoothing: float | None = None,
    codec: str | None = None,
    crf: int = CRF,
    progress: FrameProgress | None = None,
    detail: DetailTransfer | None = None,
) -> Path:
    """Colorize every frame of an NIR video and write an H.264 video atomically to ``target``.

    Parameters
    ----------
    source, target : path
        Input video (any container/codec FFmpeg reads) and output file (.mp4, .mkv, .mov,
        .avi).
    model : str, path or model
        As for :func:`nircolor.colorize` (default: ``"default"``).
    guided : GuidedFilter, optional
        Guided-filter post-processing of every frame.
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
    detail : DetailTransfer, optional
        The NIR's detail given to every frame's lightness (default: the model's).

    Returns
    -------
    Path
        ``target``.
    """
    from .api import colorize, get_model

    av = _import_av()
    source, target = Path(source), Path(target)
    container_format = VIDEO_WRITE_FORMATS.get(target.suffix.lower())
    if container_format is None:
        raise ImageWriteError(
            f"{target}: cannot write '{target.suffix}' video; use one of "
            f"{', '.join(VIDEO_WRITE_FORMATS)}"
            + (" (WebM cannot hold H.264)" if target.suffix.lower() == ".webm" else "")
        )
    if output_exists(target) and not overwrite:
        raise already_exists(target)
    _check_input(source)
    loaded = get_model("default" if model is None else model)
    if takes_mosaic(loaded):
        raise ModelError(
            f"{source}: a raw-mosaic (CFA) model cannot colorize a video: its frames are "
            "8-bit images, not 16-bit raw sensor mosaics"
        )
    smoother = (
        ChromaSmoother(temporal_smoothing)
        if temporal_smoothing is not None and temporal_smoothing != 1.0
        else None
    )
    codec = codec or video_codec()
    try:
        with atomic_path(target, suffix=f".part{target.suffix}", replace=overwrite) as temp_name:
            with _open_input(av, source) as inp:
                in_stream = _video_stream(inp, source)
                fps = _frame_rate(in_stream)
                total = in_stream.frames or None
                try:
                    out = av.open(str(temp_name), "w", format=container_format)
                except (av.FFmpegError, OSError) as error:
                    raise ImageWriteError(
                        f"{target}: cannot write ({error_reason(error)})"
                    ) from None
                with out:
                    out_stream = None
                    done = 0
                    for nir in _grey_frames(av, inp, in_stream, source):
                        rgb = colorize(nir, model=loaded, guided=guided, detail=detail)
                        if smoother is not None:
                            rgb = smoother(rgb, nir)
                        if out_stream is None:
                            out_stream = _add_output_stream(out, codec, fps, nir.shape, crf)
                        _encode(av, out, out_stream, rgb, done, target)
                        done += 1
                        if progress is not None:
                            progress(done, total)
                    if out_stream is None:
                        raise ImageReadError(f"{source}: the video holds no frames")
                    _encode(av, out, out_stream, None, done, target)
    except av.FFmpegError as error:
        raise ImageWriteError(f"{target}: cannot encode video ({error_reason(error)})") from None
    return target


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
    from .metrics import lab_delta_e00, lab_delta_e76, srgb_to_lab

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


# ---------------------------------------------------------------- internals


def _check_input(path: Path) -> None:
    if not path.is_file():
        raise ImageReadError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path}: file is empty")


@contextmanager
def _open_input(av, path: Path):
    try:
        container = av.open(str(path))
    except av.FFmpegError as error:
        raise ImageReadError(f"{path}: not a video file ({error_reason(error)})") from None
    with container:
        yield container


def _video_stream(container, path: Path):
    if not container.streams.video:
        raise ImageReadError(f"{path}: the file holds no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return stream


def _frame_rate(stream) -> Fraction:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return Fraction(rate)
    return DEFAULT_FPS


def _grey_frames(av, container, stream, path: Path) -> Iterator[np.ndarray]:
    index = 0
    try:
        for frame in container.decode(stream):
            if frame.width * frame.height > MAX_PIXELS:
                raise ImageReadError(
                    f"{path}: frames of {frame.width}x{frame.height} pixels exceed the limit "
                    f"of {MAX_PIXELS:,} pixels"
                )
            name = frame.format.name
            if not name.startswith(("gray", "ya", "mono")):
                rgb = frame.to_ndarray(format="rgb24").astype(np.float32) / 255.0
                as_grey(rgb, name=f"{path} (frame {index})")
            if frame.format.components[0].bits > 8:
                yield frame.to_ndarray(format="gray16le").astype(np.float32) / 65535.0
            else:
                yield frame.to_ndarray(format="gray").astype(np.float32) / 255.0
            index += 1
    except av.FFmpegError as error:
        raise ImageReadError(
            f"{path}: cannot decode video at frame {index} ({error_reason(error)})"
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


def _encode(av, container, stream, rgb: np.ndarray | None, index: int, target: Path) -> None:
    if rgb is None:
        packets = stream.encode(None)
    else:
        pixels = np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)
        height, width = pixels.shape[:2]
        if height % 2 or width % 2:
            pixels = np.pad(pixels, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
        frame = frame.reformat(format="yuv420p", dst_colorspace=_BT709)
        for attribute, value in (("colorspace", _BT709), ("color_range", _MPEG_RANGE)):
            try:
                setattr(frame, attribute, value)
            except (AttributeError, TypeError, ValueError):  # older PyAV
                pass
        frame.pts = index
        frame.time_base = Fraction(1) / stream.codec_context.framerate
        packets = stream.encode(frame)
    container.mux(packets)
