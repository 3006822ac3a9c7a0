"""``POST /detect``: the scene regions of an uploaded NIR image, as JSON.

The form is that of ``/colorize`` (the image in the field ``file``), with the optional text
fields ``min_prob`` and ``top``; the answer is the entry ``nircolor detect --json`` writes
for an image: ``{"image": NAME, "detections": [{"box": [x0, y0, x1, y1], "label": ...,
"probability": ...}, ...]}``. Admission, size limits and errors are those of ``/colorize``
(:mod:`.app`); the shipped ``detector`` is loaded at the first request.
"""

from __future__ import annotations

import time

import anyio
import anyio.to_thread
from fastapi.responses import JSONResponse, Response

from ..detection.api import (
    DEFAULT_MIN_PROB,
    DEFAULT_MODEL,
    DEFAULT_TOP,
    check_min_prob,
    check_top,
    get_detector,
)
from ..errors import NircolorError
from ..io import read_nir_bytes
from .forms import Refused, _error, _text_field, check_pixels, read_upload


def _field(form, key: str, parse, default):
    text = _text_field(form, key)
    if text is None:
        return default
    try:
        return parse(text)
    except ValueError as error:
        raise NircolorError(str(error)) from None


def _top(text: str):
    try:
        return check_top(int(text))
    except ValueError:
        return check_top(text)


def detect_handler(limiter, threads: int, max_upload_bytes: int, max_pixels: int, time_limit_s):
    """The handler of a received ``/detect`` form (run under ``/colorize``'s admission)."""

    async def handle(form) -> Response:
        name = "upload"
        try:
            name, data = await read_upload(form, max_upload_bytes)
            min_prob = _field(form, "min_prob", check_min_prob, DEFAULT_MIN_PROB)
            top = _field(form, "top", _top, DEFAULT_TOP)
            check_pixels(name, data, max_pixels)
            start = time.perf_counter()
            detector = get_detector(DEFAULT_MODEL)

            def run():
                nir = read_nir_bytes(data, name)
                return detector.detect(nir, min_prob=min_prob, top=top, threads=threads)

            detections = await anyio.to_thread.run_sync(run, limiter=limiter)
        except Refused as refused:
            return refused.response
        except NircolorError as error:
            return _error(400, str(error))
        except ValueError as error:  # an array the detector refuses (shape, values)
            return _error(400, f"{name}: {error}")
        except MemoryError:
            return _error(503, "server out of memory; try a smaller image")
        except Exception:
            import logging

            logging.getLogger("nircolor.serve").exception("detection failed")
            return _error(500, "internal error while detecting (see the server log)")
        seconds = time.perf_counter() - start
        return JSONResponse(
            {"image": name, "detections": [d.as_json() for d in detections]},
            headers={
                "Cache-Control": "no-store",
                "X-Nircolor-Model": DEFAULT_MODEL,
                "X-Nircolor-Seconds": f"{seconds:.3f}",
            },
        )

    return handle
