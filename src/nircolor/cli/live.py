"""``nircolor colorize`` for a live source (URL, device) or to standard output (``-o -``):
one input, one output, frames and frames/s on stderr."""

from __future__ import annotations

import os
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from rich.markup import escape

from ..errors import NircolorError
from .common import console, progress_bar


def wants_live(inputs: list[str], output: str) -> bool:
    """Whether a ``colorize`` run takes this path: an input that is a live source, or the
    output ``-`` (standard output)."""
    from ..video import STDOUT, is_stream

    return output == STDOUT or any(is_stream(item) for item in inputs)


def colorize_live(
    inputs: list[str],
    output: str,
    model,
    options,
    *,
    stdout_format: str,
    timeout: float,
) -> None:
    """Colorize one video or live source into one video file or standard output."""
    from ..extras import require_extra
    from ..io.atomic import output_exists

    require_extra("video", "video support")
    from ..video import STDOUT, STDOUT_FORMATS, colorize_video, is_stream, is_video

    if len(inputs) != 1:
        raise NircolorError(
            "a live source or '-o -' takes exactly one input, not " + str(len(inputs))
        )
    source = inputs[0]
    live = is_stream(source)
    if not live and not is_video(source):
        raise NircolorError(f"{source}: '-o -' writes video frames; the input must be a video")
    if stdout_format not in STDOUT_FORMATS:
        raise NircolorError(
            f"--stdout-format must be one of {', '.join(STDOUT_FORMATS)}, not {stdout_format!r}"
        )
    if not (timeout > 0):
        raise NircolorError(f"--timeout must be a positive number of seconds, not {timeout}")
    if output != STDOUT and (output.endswith(("/", os.sep)) or Path(output).is_dir()):
        raise NircolorError(
            f"{output}: a live source needs an output file (such as out.mp4) or '-' for "
            "standard output"
        )
    if output != STDOUT and output_exists(output) and not options.overwrite:
        raise NircolorError(f"{output}: already exists (use --overwrite to replace it)")
    stop = threading.Event()
    started = time.monotonic()
    frames = 0
    with progress_bar() as progress, _stop_on_ctrl_c(stop, live):
        task = progress.add_task(f"frames of {escape(source)}", total=None)

        def report(done: int, total: int | None) -> None:
            nonlocal frames
            frames = done
            rate = done / max(time.monotonic() - started, 1e-6)
            description = f"frames of {escape(source)} ({rate:.1f} frames/s)"
            progress.update(task, completed=done, total=total, description=description)

        colorize_video(
            source,
            output,
            model,
            **options.video_settings(),
            stdout_format=stdout_format,
            timeout=timeout,
            stop=stop,
            progress=report,
        )
    seconds = time.monotonic() - started
    where = "standard output" if output == STDOUT else output
    stopped = " (stopped by Ctrl+C)" if stop.is_set() and live else ""
    console.print(
        f"{frames} frames in {seconds:.1f} s ({frames / max(seconds, 1e-6):.1f} frames/s) "
        f"to {escape(where)}{stopped}",
        highlight=False,
        soft_wrap=True,
    )


@contextmanager
def _stop_on_ctrl_c(stop: threading.Event, live: bool):
    """For a live source, the first Ctrl+C ends the input (what was read is still written);
    a second one interrupts. Elsewhere (or off the main thread) Ctrl+C interrupts."""
    if not live or threading.current_thread() is not threading.main_thread():
        yield
        return

    def first(signum, frame) -> None:
        stop.set()
        console.print("stopping: finishing the output (Ctrl+C again to abort)", highlight=False)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
