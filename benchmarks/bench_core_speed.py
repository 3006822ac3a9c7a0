"""File-to-file speed of the default in a core-only install, against Pillow reading and writing.

Run it with the Python of an install without extras (``pip install .``: no torch), from the
repository root::

    python benchmarks/bench_core_speed.py [--runs 15] [--rounds 2] [--no-write]

A val NIR image resized to 1024×680 is written as an 8-bit PNG. Each round times, median of
``--runs`` calls after 3 warm-up calls, in this order:

* **Pillow**: ``PIL.Image.open(nir.png)`` decoded to an array, and an RGB array of that size
  saved as a PNG with ``Image.save`` at zlib level 6 (Pillow's default), the reference,
  and at level 1 (a faster write: a stricter reference);
* **default**: ``nircolor.colorize_file(nir.png, out.png, model="default")``, the model as
  it ships (its colour context on; its int8 graph, issue 25);
* **float net**: the same with the default's float graph (``OnnxColorizer.float32``), the
  default as it shipped before issue 25;
* **previous default**: the same with ``model="unet", context=0``, the default as issue 11
  measured it (the faithful ``unet``, the whole image through the net, no colour context).

Writes the section "Core-only speed against Pillow" of BENCHMARKS.md.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from _common import Run, base_parser, load_split, publish
from nircolor.api import colorize_file, get_model
from nircolor.io import read_nir, write_image

SIZE = (1024, 680)
PREVIOUS_DEFAULT = "unet"


def median_ms(call, runs: int) -> float:
    for _ in range(3):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    run = Run()
    pair = next(p for p in load_split(args.data, "val") if p.collection == "nirscene")
    model, previous = get_model("default"), get_model(PREVIOUS_DEFAULT)
    float_net = model.float32() if hasattr(model, "float32") else model
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        source, target, reference = folder / "nir.png", folder / "out.png", folder / "pil.png"
        nir = cv2.resize(read_nir(pair.nir), SIZE, interpolation=cv2.INTER_AREA)
        write_image(source, nir)
        rgb = (np.stack([nir, nir[::-1], nir[:, ::-1]], axis=2) * 255).astype(np.uint8)

        def pillow(level: int = 6) -> None:
            np.asarray(Image.open(source))
            Image.fromarray(rgb).save(reference, compress_level=level)

        def default(loaded=model, context=None) -> None:
            colorize_file(source, target, model=loaded, overwrite=True, context=context)

        for index in range(args.rounds):
            floor = median_ms(pillow, args.runs)
            fast = median_ms(lambda: pillow(1), args.runs)
            now = median_ms(default, args.runs)
            unquantized = median_ms(lambda: default(float_net), args.runs)
            before = median_ms(lambda: default(previous, 0), args.runs)
            rows.append((index + 1, floor, fast, now, unquantized, before))
            print(f"round {index + 1} (ms): {rows[-1][1:]}", flush=True)
    torch = "torch" in sys.modules
    lines = [
        f"`{pair.id}` (val) resized to 1024×680, 8-bit NIR PNG in, 8-bit RGB PNG out; median of",
        f"{args.runs} calls per cell, rounds in one run; torch imported: {torch}; "
        f"{os.cpu_count()} CPUs. Bars: the default at most 2.5× Pillow and no slower than the",
        f"previous default (`{PREVIOUS_DEFAULT}` without the colour context, as issue 11 "
        "measured it); at most 1.5× Pillow (issue 25, the default's int8 graph against its "
        "float one in the same run). Pillow writes at zlib level 6 (its default) and 1.\n",
        "| round | Pillow ms (6 / 1) | default ms | ÷ Pillow (6 / 1) | float net ms "
        "| ÷ Pillow (6 / 1) | previous default ms | ÷ Pillow (6 / 1) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for index, floor, fast, now, unquantized, before in rows:
        cells = [f"{index}", f"{floor:.1f} / {fast:.1f}"]
        for value in (now, unquantized, before):
            cells += [f"{value:.1f}", f"{value / floor:.2f}× / {value / fast:.2f}×"]
        lines.append("| " + " | ".join(cells) + " |")
    publish(run, {"## Core-only speed against Pillow": "\n".join(lines)}, not args.no_write)


if __name__ == "__main__":
    main()
