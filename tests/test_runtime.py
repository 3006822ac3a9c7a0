"""keep_freed_memory: the large temporaries that every frame makes and drops stop costing a
page fault per 4 KB each time."""

import subprocess
import sys

import pytest

from nircolor.runtime import keep_freed_memory

FRAMES = """
import resource, sys
import numpy as np
from nircolor.filters import transfer_detail
from nircolor.runtime import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
nir = np.random.default_rng(0).random((720, 1280), np.float32)
rgb = np.repeat(nir[:, :, None], 3, axis=2) * 0.8
for _ in range(2):
    transfer_detail(nir, rgb, 1.2, 2.0)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    transfer_detail(nir, rgb, 1.2, 2.0)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""
FRAME_PAGES = 720 * 1280 * 3 * 4 // 4096
"""Pages of one 1280×720 float RGB array."""


def page_faults(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", FRAMES, mode], capture_output=True, text=True, check=True, timeout=60
    )
    return int(done.stdout.strip())


@pytest.mark.skipif(not keep_freed_memory(), reason="the C library is not glibc")
def test_freed_memory_is_reused_instead_of_faulted_in_again():
    assert page_faults("default") > 5 * FRAME_PAGES
    assert page_faults("keep") < FRAME_PAGES // 10


@pytest.mark.parametrize(("cores", "expected"), [(1, 1), (3, 3), (64, 4)])
def test_band_writers_compress_on_the_cores_this_process_may_use(monkeypatch, cores, expected):
    from nircolor.io import band_writers

    monkeypatch.setattr("nircolor.runtime.usable_cores", lambda: cores)
    assert band_writers._pool_size() == expected


def test_usable_cores_follows_the_affinity_mask():
    import os

    from nircolor.runtime import usable_cores

    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no CPU affinity on this system")
    assert usable_cores() == len(os.sched_getaffinity(0)) >= 1
