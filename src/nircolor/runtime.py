"""Process-wide settings for fast work on large arrays, and the cores there are to use.

glibc serves each large allocation (above 128 KB, a threshold it raises as it goes, to at
most 32 MB) with fresh pages from the kernel and returns them when the array is freed. A
loop that makes and drops the same large temporaries, as every video frame and every
request does, then pays a page fault per 4 KB each time: on a 1280×720 frame the detail
transfer takes about 30 ms that way and 18 ms when freed memory is kept for reuse
(BENCHMARKS.md, "Video: context on keyframes"). :func:`keep_freed_memory` asks glibc to keep
it. The command line calls it at start; a program that imports nircolor may call it too.
"""

from __future__ import annotations

import ctypes
import os
import sys

from .errors import NircolorError

__all__ = ["MAX_PARALLEL", "check_parallel", "keep_freed_memory", "usable_cores"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20
"""Allocations up to this size come from the heap (the largest threshold glibc accepts)."""
TRIM_THRESHOLD = 256 * 2**20
"""Free memory at the top of the heap beyond this is given back to the system."""


MAX_PARALLEL = 64
"""The most threads (``--threads``) or worker processes and threads (``--workers``) any
command takes: each costs memory (a worker process holds its own model) and start-up time,
and far more than there are cores only slows a run down (100000 threads did not finish)."""


def check_parallel(name: str, count: int | None) -> None:
    """Refuse a thread or worker count outside 1 to :data:`MAX_PARALLEL`; ``None`` (the
    default) passes.

    Raises
    ------
    NircolorError
        Naming ``name`` (an option, ``--threads``, or an argument, ``threads``).
    """
    if count is not None and not 1 <= count <= MAX_PARALLEL:
        raise NircolorError(f"{name} must be 1 to {MAX_PARALLEL}, not {count}")


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity where the system has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity outside Linux
        return max(1, os.cpu_count() or 1)


def keep_freed_memory() -> bool:
    """Have glibc keep freed memory (up to :data:`TRIM_THRESHOLD`) for the next arrays.

    Returns
    -------
    applied : bool
        False where the C library has no ``mallopt`` (not glibc): nothing changed.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
