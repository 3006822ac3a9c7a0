"""Silencing what image decoding libraries print while nircolor decodes a file."""

from __future__ import annotations

import logging
import threading
import warnings
from contextlib import contextmanager

import cv2

_quiet_lock = threading.Lock()
_quiet_users = 0
_opencv_log_level = None
_tifffile_log = logging.getLogger("tifffile")


def _drop_record(record: logging.LogRecord) -> bool:
    return False


@contextmanager
def quiet_decoders():
    """Silence what decoding libraries say while the block runs: Python warnings (Pillow,
    tifffile), tifffile's log (printed on stderr when logging is not set up) and OpenCV's
    log. libpng, which prints on stderr itself, only ever gets files checked beforehand
    (:mod:`.png`). A bad file is then one error line, a sloppy one an image.
    """
    global _quiet_users, _opencv_log_level
    with _quiet_lock:
        _quiet_users += 1
        if _quiet_users == 1:
            _tifffile_log.addFilter(_drop_record)
            _opencv_log_level = cv2.utils.logging.getLogLevel()
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
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
