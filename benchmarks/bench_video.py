"""Flicker of colorized video with and without temporal smoothing (needs nircolor[video]).

A static synthetic NIR scene with Gaussian sensor noise is written as a lossless grey video,
colorized by a small L3 model trained on synthetic pairs, and the flicker (mean
frame-to-frame ΔE, :func:`nircolor.video.flicker`) is measured

* in memory, on the colorized frames as they go to the encoder, and
* on the decoded H.264 output of ``colorize_video`` (CRF 18), which is what a viewer sees.

"bias ΔE00" is the mean ΔE00 between the last output frame and the colorization of the
noise-free scene: smoothing must remove flicker without shifting colours.

    python benchmarks/bench_video.py [--frames 40] [--size 96x128]

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from nircolor.api import colorize
from nircolor.examples import synthetic_pair as synthetic_scene
from nircolor.io import write_image
from nircolor.metrics import delta_e00
from nircolor.train import train_l3
from nircolor.video import ChromaSmoother, colorize_video, flicker, read_frames, read_rgb_frames

ALPHAS = (1.0, 0.7, 0.5, 0.3, 0.15)


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
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--size", default="96x128", help="HxW")
    parser.add_argument("--noise", type=float, nargs="+", default=[0.01, 0.02])
    args = parser.parse_args()
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

    print(
        f"Static {height}x{width} scene, {args.frames} frames, Gaussian sensor noise σ "
        "(NIR in [0, 1]); flicker = mean frame-to-frame ΔE.\n"
    )
    print(
        "| noise σ | ALPHA | flicker ΔE00 | ΔE76 | change | flicker ΔE00 after H.264 | change "
        "| bias ΔE00 | frames/s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        off = r["alpha"] == 1.0
        label = "off" if off else f"{r['alpha']:g}"
        change = "—" if off else f"{-r['drop']:+.0f} %"
        change_h264 = "—" if off else f"{-r['drop_h264']:+.0f} %"
        print(
            f"| {r['noise']:g} | {label} | {r['de00']:.3f} | {r['de76']:.3f} | {change} | "
            f"{r['h264']:.3f} | {change_h264} | {r['bias']:.3f} | {r['fps']:.0f} |"
        )


if __name__ == "__main__":
    main()
