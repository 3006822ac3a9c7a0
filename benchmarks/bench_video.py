"""Flicker of colorized video with and without temporal smoothing (needs nircolor[video]).

A static synthetic NIR scene with Gaussian sensor noise is written as a lossless grey video,
colorized by a small L3 model trained on synthetic pairs, and the flicker (mean
frame-to-frame ΔE, :func:`nircolor.video.flicker`) is measured

* in memory, on the colorized frames as they go to the encoder, and
* on the decoded H.264 output of ``colorize_video`` (CRF 18), which is what a viewer sees.

"bias ΔE00" is the mean ΔE00 between the last output frame and the colorization of the
noise-free scene: smoothing must remove flicker without shifting colours.

    python benchmarks/bench_video.py [--frames 40] [--size 96x128]

Prints a markdown table and writes the section "Video flicker" of BENCHMARKS.md
(``--no-write``: print only).
"""

from __future__ import annotations

import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from _common import Run, base_parser, markdown_table, publish
from nircolor.api import colorize
from nircolor.examples import synthetic_pair as synthetic_scene
from nircolor.io import write_image
from nircolor.metrics import delta_e00
from nircolor.train import train_l3
from nircolor.video import ChromaSmoother, colorize_video, flicker, read_frames, read_rgb_frames

ALPHAS = (1.0, 0.7, 0.5, 0.3, 0.15)

HEADING = "## Video flicker"


def table_row(row: dict) -> list[str]:
    """One row of the table: the noise, ALPHA and what was measured with them."""
    off = row["alpha"] == 1.0
    return [
        f"{row['noise']:g}",
        "off" if off else f"{row['alpha']:g}",
        f"{row['de00']:.3f}",
        f"{row['de76']:.3f}",
        "—" if off else f"{-row['drop']:+.0f} %",
        f"{row['h264']:.3f}",
        "—" if off else f"{-row['drop_h264']:+.0f} %",
        f"{row['bias']:.3f}",
        f"{row['fps']:.0f}",
    ]


def train_model(folder: Path) -> Path:
    pairs = folder / "pairs"
    for index in range(16):
        nir, rgb = synthetic_scene(index, 64, 96)
        category = ("country", "forest")[index % 2]
        write_image(pairs / category / f"{index:04d}_nir.png", nir)
        write_image(pairs / category / f"{index:04d}_rgb.png", rgb)
    train_l3(pairs, folder / "model", split="all")
    return folder / "model"


def write_noisy_video(
    path: Path, scene: np.ndarray, frames: int, noise: float, seed: int = 0
) -> None:
    import av

    rng = np.random.default_rng(seed)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(25))
        stream.height, stream.width = scene.shape
        stream.pix_fmt = "yuv420p"
        stream.options = {"qp": "0"}  # lossless: the noise is the sensor's, not the codec's
        for index in range(frames):
            grey = np.clip(scene + noise * rng.standard_normal(scene.shape), 0, 1)
            pixels = np.repeat(np.rint(grey * 255).astype(np.uint8)[:, :, None], 3, axis=2)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--size", default="96x128", help="HxW")
    parser.add_argument("--noise", type=float, nargs="+", default=[0.01, 0.02])
    args = parser.parse_args()
    run = Run()
    height, width = map(int, args.size.lower().split("x"))

    rows = []
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        model = train_model(folder)
        scene, _ = synthetic_scene(1000, height, width)
        clean = colorize(scene, model)
        for noise in args.noise:
            source = folder / f"noisy_{noise}.mp4"
            write_noisy_video(source, scene, args.frames, noise)
            nir_frames = list(read_frames(source))
            raw = [colorize(nir, model) for nir in nir_frames]
            baseline = None
            for alpha in ALPHAS:
                smoother = ChromaSmoother(alpha)
                memory = [smoother(rgb, nir) for rgb, nir in zip(raw, nir_frames, strict=True)]
                target = folder / f"out_{noise}_{alpha}.mp4"
                start = time.perf_counter()
                colorize_video(source, target, model, temporal_smoothing=alpha)
                seconds = time.perf_counter() - start
                decoded = list(read_rgb_frames(target))
                row = {
                    "noise": noise,
                    "alpha": alpha,
                    "de00": flicker(memory, "de00"),
                    "de76": flicker(memory, "de76"),
                    "h264": flicker(decoded, "de00"),
                    "bias": delta_e00(memory[-1], clean),
                    "fps": args.frames / seconds,
                }
                if baseline is None:
                    baseline = row
                row["drop"] = 100 * (1 - row["de00"] / baseline["de00"])
                row["drop_h264"] = 100 * (1 - row["h264"] / baseline["h264"])
                rows.append(row)

    header = ["noise σ", "ALPHA", "flicker ΔE00", "ΔE76", "change", "ΔE00 after H.264"]
    header += ["change after H.264", "bias ΔE00", "frames/s"]
    body = (
        f"Static {height}×{width} synthetic scene, {args.frames} frames, Gaussian sensor noise "
        "σ on the NIR (in [0, 1]); a small L3 model; flicker = mean frame-to-frame ΔE; ALPHA = "
        "weight of the current frame in the moving average of CIELAB a*, b* (off: no "
        "smoothing); after H.264: the decoded output of `colorize_video` (CRF 18); bias: ΔE00 "
        "between the last frame and the colorized noise-free scene.\n\n"
        + markdown_table(header, [table_row(row) for row in rows], numeric_from=2)
        + "\n\nThe flicker left is mostly brightness noise: L* is kept from the current frame "
        "on purpose."
    )
    publish(run, {HEADING: body}, write=not args.no_write)


if __name__ == "__main__":
    main()
