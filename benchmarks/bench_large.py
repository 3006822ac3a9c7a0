"""Large images: seams of tiled inference, and time / peak memory of streaming a 96 MP file.

Run from the repository root::

    python benchmarks/bench_large.py            # both parts
    python benchmarks/bench_large.py --no-big   # only the seam check (seconds)
    python benchmarks/bench_large.py --whole    # also the whole-image path, for comparison

(a) Seams. A 2000×1500 synthetic NIR image is colorized whole and in pieces, and the largest
    difference more than ``--margin`` pixels from the image border is reported in units of
    1/255: the default model through :func:`nircolor.tiling.tile_colorize` (row bands for a
    local model such as L3), the same model forced through the tile-blending path, and a
    synthetic model with a wide receptive field (Gaussian blur σ = 3) through the blending path.
(b) Streaming. A 12000×8000 (96 MP) uint8 NIR TIFF is written uncompressed, zlib-compressed
    in strips and zlib-compressed in 512×512 tiles (``--inputs`` picks some), and ``nircolor
    colorize BIG.tif -o OUT.EXT`` is run on each for every ``--formats`` output (png, tif) under
    ``/usr/bin/time -v``: wall time and "Maximum resident set size" (stable across runs; the
    times are not, on a shared machine).

The tables replace the "Large images" section of BENCHMARKS.md (``--no-write``: print only).

When no ``default`` model is shipped yet, an L3 model with the default configuration is
trained on synthetic pairs and used instead (the tables say so).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import tifffile

from _common import Run, publish
from nircolor.errors import ModelError
from nircolor.examples import textured_nir as textured
from nircolor.filters import apply_guided
from nircolor.io import read_raw, to_uint
from nircolor.models import load_model
from nircolor.models.l3 import fit_l3
from nircolor.tiling import colorize_tiled, tile_colorize

ONE = 1 / 255


def synthetic_pairs(count: int = 8, height: int = 256, width: int = 320):
    pairs = []
    for seed in range(count):
        nir = textured(height, width, seed)
        rgb = np.stack([nir**0.8, 0.6 * nir + 0.2, 1.0 - 0.5 * nir], axis=2)
        pairs.append((nir, np.clip(rgb, 0, 1).astype(np.float32)))
    return pairs


def get_model(name: str, folder: Path):
    """Load ``name``; if it does not exist, train a default-config L3 into ``folder``."""
    try:
        return load_model(name), name
    except ModelError:
        model = fit_l3(synthetic_pairs())
        model.save(folder)
        return model, f"{folder.name} (no '{name}' model shipped: L3, default config, synthetic)"


def blur_predict(nir: np.ndarray) -> np.ndarray:
    g = cv2.GaussianBlur(nir, (0, 0), 3.0, borderType=cv2.BORDER_REFLECT)
    return np.clip(np.stack([g, g * g, 1 - 0.5 * g], axis=2), 0, 1).astype(np.float32)


def seams(model, margin: int) -> list[tuple[str, str, float, float]]:
    """Rows ``(model, path, max diff in 1/255, seconds)``."""
    nir = textured(1500, 2000, seed=1)
    inner = (slice(margin, -margin), slice(margin, -margin))

    def diff(a, b):
        return float(np.abs(a - b)[inner].max() / ONE)

    rows = []
    whole = model.predict(nir)
    guided = apply_guided(nir, whole, 5, 1e-4)
    wide = blur_predict(nir)
    cases = [
        ("default model", "tile_colorize", whole, lambda: tile_colorize(nir, model)),
        (
            "default model",
            "blending, tile 512 / overlap 64",
            whole,
            lambda: colorize_tiled(nir, model.predict, tile=512, overlap=64),
        ),
        (
            "default model + guided 5,1e-4",
            "tile_colorize, tile 256",
            guided,
            lambda: tile_colorize(nir, model, tile=256, guided=(5, 1e-4)),
        ),
    ]
    for tile, overlap in ((512, 64), (256, 64), (256, 32)):
        cases.append(
            (
                "Gaussian σ=3 (wide field)",
                f"blending, tile {tile} / overlap {overlap}",
                wide,
                lambda t=tile, o=overlap: colorize_tiled(nir, blur_predict, tile=t, overlap=o),
            )
        )
    for name, path, expected, run in cases:
        start = time.perf_counter()
        got = run()
        rows.append((name, path, diff(got, expected), time.perf_counter() - start))
    return rows


def make_big(folder: Path, height: int, width: int) -> dict[str, Path]:
    base = (textured(2000, 3000, seed=2) * 255).astype(np.uint8)
    reps = (-(-height // base.shape[0]), -(-width // base.shape[1]))
    big = np.tile(base, reps)[:height, :width]
    big[::2] = np.flip(big[::2], axis=1)  # break the periodicity a little
    files = {
        "uncompressed": (folder / "big_raw.tif", {}),
        "zlib strips": (folder / "big_zlib.tif", {"compression": "zlib"}),
        "zlib tiles 512": (folder / "big_tiled.tif", {"compression": "zlib", "tile": (512, 512)}),
    }
    for path, kwargs in files.values():
        tifffile.imwrite(path, big, **kwargs)
    return {name: path for name, (path, _) in files.items()}


WHOLE = "import nircolor.api as a; a.STREAM_PIXELS = 10**12; from nircolor.cli import main; main()"
"""The CLI with streaming switched off: the whole-image path, for comparison."""


def run_cli(
    source: Path, target: Path, model: str, whole: bool = False
) -> tuple[float, float, int]:
    program = [sys.executable, "-c", WHOLE] if whole else [shutil.which("nircolor") or "nircolor"]
    command = [
        "/usr/bin/time",
        "-v",
        *program,
        "colorize",
        str(source),
        "-o",
        str(target),
        "-m",
        model,
        "--overwrite",
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{done.stderr}")
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", done.stderr).group(1)
    parts = [float(p) for p in wall.split(":")]
    seconds = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    return seconds, rss_kb / 1024, target.stat().st_size


def spot_check(model, source: Path, target: Path, top: int = 4000, rows: int = 64) -> str:
    """Whether rows ``top:top+rows`` of the streamed output equal the model on those rows
    (+ halo): only meaningful for a local model (L3); "-" for the others."""
    if not hasattr(model, "patch"):
        return "-"
    halo = model.patch // 2
    with tifffile.TiffFile(source) as tif:
        nir = tif.pages.first.asarray()[top - halo : top + rows + halo].astype(np.float32) / 255
    expected = to_uint(model.predict(nir)[halo : halo + rows])
    got = read_raw(target)[top : top + rows]
    return str(bool(np.array_equal(got, expected)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--margin", type=int, default=32, help="border excluded from diffs")
    parser.add_argument("--no-big", action="store_true", help="skip the 96 MP streaming runs")
    parser.add_argument(
        "--whole", action="store_true", help="also run the whole-image path (uncompressed input)"
    )
    parser.add_argument("--size", default="12000x8000", help="WIDTHxHEIGHT of the big image")
    parser.add_argument("--formats", default="png,tif", help="output formats of the big runs")
    parser.add_argument(
        "--big-models",
        default=None,
        help="models of the big runs (default: --model), e.g. default,cnn",
    )
    parser.add_argument(
        "--inputs", default=",".join(INPUTS), help=f"big inputs, of: {', '.join(INPUTS)}"
    )
    parser.add_argument("--no-write", action="store_true", help="leave BENCHMARKS.md alone")
    args = parser.parse_args()
    if not Path("/usr/bin/time").exists() and not args.no_big:
        raise SystemExit("needs /usr/bin/time: apt-get update && apt-get install -y time")
    run = Run()
    lines: list[str] = []

    def say(line: str = "") -> None:
        print(line, flush=True)
        lines.append(line)

    with tempfile.TemporaryDirectory(prefix="nircolor-bench-") as temp:
        temp = Path(temp)
        model, label = get_model(args.model, temp / "bench-l3")
        model_arg = args.model if label == args.model else str(temp / "bench-l3")

        say(f"Seams on a 2000×1500 image, max |tiled − whole| beyond {args.margin} px of the")
        say(f"border, in units of 1/255 (model: {label}):\n")
        say("| model | path | max diff (1/255) |")
        say("|---|---|---:|")
        for name, path, value, _ in seams(model, args.margin):
            say(f"| {name} | {path} | {value:.3g} |")

        if not args.no_big:
            names = [m.strip() for m in (args.big_models or args.model).split(",") if m.strip()]
            models = [
                (model, model_arg, label) if n == args.model else (load_model(n), n, n)
                for n in names
            ]
            big_runs(args, models, temp, say)
    publish(run, {"## Large images: seams and bounded memory": "\n".join(lines)}, not args.no_write)


INPUTS = ("uncompressed", "zlib strips", "zlib tiles 512")


def big_runs(args, models, temp: Path, say) -> None:
    width, height = (int(v) for v in args.size.lower().split("x"))
    formats = [f.strip().lstrip(".") for f in args.formats.split(",") if f.strip()]
    chosen = [name.strip() for name in args.inputs.split(",") if name.strip()]
    say(f"\n`nircolor colorize BIG.tif -o OUT.EXT` on a {width}×{height} ")
    say(f"({width * height / 1e6:.0f} MP) 8-bit NIR TIFF under `/usr/bin/time -v`")
    say(f"({os.cpu_count()} CPUs; target: peak RSS ≤ 1.5 GB = 1431 MiB). Rows 4000+ exact:")
    say("the streamed output equals the model on those rows (checked for local models only).\n")
    files = {name: path for name, path in make_big(temp, height, width).items() if name in chosen}
    say(
        "| model | input TIFF | input MB | output | wall s | peak RSS MiB | output MB "
        "| rows 4000+ exact |"
    )
    say("|---|---|---:|---|---:|---:|---:|---|")
    for model, model_arg, label in models:
        for name, path in files.items():
            for extension in formats:
                target = temp / f"out.{extension}"
                seconds, rss, size = run_cli(path, target, model_arg)
                exact = spot_check(model, path, target)
                in_mb = path.stat().st_size / 1e6
                say(
                    f"| {label} | {name} | {in_mb:.0f} | {extension} | {seconds:.1f} | {rss:.0f} "
                    f"| {size / 1e6:.0f} | {exact} |"
                )
                target.unlink()
    if args.whole and "uncompressed" in files:
        path = files["uncompressed"]
        seconds, rss, size = run_cli(path, temp / "out.tif", model_arg, whole=True)
        say(
            f"| uncompressed, whole-image path (no streaming) | {path.stat().st_size / 1e6:.0f} "
            f"| tif | {seconds:.1f} | {rss:.0f} | {size / 1e6:.0f} | - |"
        )


if __name__ == "__main__":
    main()
