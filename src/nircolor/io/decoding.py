"""What every image decoder in nircolor runs under: one size limit, and quiet libraries.

Every reader (PNG, JPEG, TIFF, BMP; whole or by row bands) checks the size a file's header
gives against :data:`MAX_PIXELS` with :func:`check_size` before any pixel is decoded, so
every format is refused at the same size with the same message. Pillow's own guard
(``Image.MAX_IMAGE_PIXELS``, which refuses images over 178,956,970 pixels in its own words)
is lifted while nircolor decodes: ``Image.open`` reads only the header, and the size check
follows it before anything is allocated.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import warnings
from contextlib import contextmanager

import cv2
from PIL import Image

from ..errors import ImageReadError, error_reason

MAX_PIXELS = 400_000_000
"""Largest image (width × height) nircolor accepts; beyond it an image is taken as absurd."""


def check_input_file(path: os.PathLike) -> None:
    """Refuse an image path that is not a regular file, before anything is read from it.

    Raises
    ------
    ImageReadError
        ``no such file``, ``is a folder``, ``not a regular file`` (a device such as
        ``/dev/zero``, a FIFO, a socket: never read, as they may never end) or
        ``cannot read`` (the reason: no permission to look, say).
    """
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise ImageReadError(f"{path}: no such file") from None
    except OSError as error:
        raise ImageReadError(f"{path}: cannot read ({error_reason(error)})") from None
    if stat.S_ISDIR(mode):
        raise ImageReadError(f"{path}: is a folder, not an image file")
    if not stat.S_ISREG(mode):
        raise ImageReadError(f"{path}: not a regular file")


def check_size(width: int, height: int, name) -> None:
    """Refuse an image of zero size or of more than :data:`MAX_PIXELS` pixels.

    Raises
    ------
    ImageReadError
        Naming the image's size and the limit.
    """
    if width <= 0 or height <= 0:
        raise ImageReadError(f"{name}: image has zero size ({width}x{height})")
    if width * height > MAX_PIXELS:
        raise ImageReadError(
            f"{name}: image of {width}x{height} pixels is larger than the limit of "
            f"{MAX_PIXELS:,} pixels"
        )


_quiet_lock = threading.Lock()
_quiet_users = 0
_opencv_log_level = None
_pillow_limit = None
_tifffile_log = logging.getLogger("tifffile")


def _drop_record(record: logging.LogRecord) -> bool:
    return False


@contextmanager
def quiet_decoders():
    """Silence what decoding libraries say while the block runs: Python warnings (Pillow,
    tifffile), tifffile's log (printed on stderr when logging is not set up) and OpenCV's
    log. libpng, which prints on stderr itself, only ever gets files checked beforehand
    (:mod:`.png`). A bad file is then one error line, a sloppy one an image.

    Pillow's size guard is lifted too (see the module notes): every ``Image.open`` in the
    block is followed by :func:`check_size`. Both are shared by the threads decoding at
    once and restored when the last one is done.
    """
    global _quiet_users, _opencv_log_level, _pillow_limit
    with _quiet_lock:
        _quiet_users += 1
        if _quiet_users == 1:
            _tifffile_log.addFilter(_drop_record)
            _opencv_log_level = cv2.utils.logging.getLogLevel()
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
            _pillow_limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        with _quiet_lock:
            _quiet_users -= 1
            if _quiet_users == 0:
                _tifffile_log.removeFilter(_drop_record)
                cv2.utils.logging.setLogLevel(_opencv_log_level)
                Image.MAX_IMAGE_PIXELS = _pillow_limit
