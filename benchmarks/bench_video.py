"""Video: flicker with and without temporal smoothing, and the speed and quality of the
colour context on keyframes (needs nircolor[video]).

**Video flicker.** A static synthetic NIR scene with Gaussian sensor noise is written as a
lossless grey video, colorized by a small L3 model trained on synthetic pairs, and the
flicker (mean frame-to-frame ΔE, :func:`nircolor.video.flicker`) is measured

* in memory, on the colorized frames as they go to the encoder, and
* on the decoded H.264 output of ``colorize_video`` (CRF 18), which is what a viewer sees.

"bias ΔE00" is the mean ΔE00 between the last output frame and the colorization of the
noise-free scene: smoothing must remove flicker without shifting colours.

**Video: context on keyframes.** 100-frame 1280×720 H.264 clips made from ``val`` NIR
images (a fixed camera with an object crossing it and a cut to another scene at frame 60;
a panning camera) are colorized file to file with the default model, in one run: PyAV
alone (decode, re-encode with the same encoder settings: the I/O floor), the context on
every frame (``--context-every 1``, the path before keyframes, timed once) and on keyframes
(``--context-every 8``), the fast paths timed ``--repeat`` times; then, in memory and
after H.264, the mean ΔE00 of the keyframe frames against every frame colorized as a still
and the flicker of both (every 3rd frame and its successor). The flicker method of "Video
flicker" is then applied to the default model on a static 720p ``val`` scene with sensor
noise, and one keyframe's colouring is compared with ``nircolor.colorize``.

    python benchmarks/bench_video.py [--part all|flicker|keyframes] [--frames 40]

Prints markdown tables and writes the sections "Video flicker" and "Video: context on
keyframes" of BENCHMARKS.md (``--no-write``: print only).
"""

from __future__ import annotations

import tempfile
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from _common import Run, base_parser, load_split, markdown_table, publish
from nircolor.api import colorize
from nircolor.examples import synthetic_pair as synthetic_scene
from nircolor.io import read_nir, write_image
from nircolor.metrics import delta_e00
from nircolor.runtime import keep_freed_memory
from nircolor.train import train_l3
from nircolor.video import (
    CONTEXT_EVERY,
    ChromaSmoother,
    KeyframeColorizer,
    colorize_video,
    flicker,
    probe,
    read_frames,
    read_rgb_frames,
)

ALPHAS = (1.0, 0.7, 0.5, 0.3, 0.15)

HEADING = "## Video flicker"
KEYFRAMES_HEADING = "## Video: context on keyframes"


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


def flicker_section(args) -> str:
    """The "Video flicker" section: a small L3 model on a static noisy synthetic scene."""
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
    return (
        f"Static {height}×{width} synthetic scene, {args.frames} frames, Gaussian sensor noise "
        "σ on the NIR (in [0, 1]); a small L3 model; flicker = mean frame-to-frame ΔE; ALPHA = "
        "weight of the current frame in the moving average of CIELAB a*, b* (off: no "
        "smoothing); after H.264: the decoded output of `colorize_video` (CRF 18); bias: ΔE00 "
        "between the last frame and the colorized noise-free scene.\n\n"
        + markdown_table(header, [table_row(row) for row in rows], numeric_from=2)
        + "\n\nThe flicker left is mostly brightness noise: L* is kept from the current frame "
        "on purpose. The model has no colour context, so every frame is colorized as a still; "
        'the default\'s keyframes are measured in "Video: context on keyframes".'
    )


def keyframes_section(args) -> str:
    """The "Video: context on keyframes" section (see the module notes)."""
    import _video_clips as clips

    val = load_split(args.data, "val")
    sources = [val[0].nir, val[4].nir, val[9].nir]
    speed, quality = [], []
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        for kind in ("fixed", "pan"):
            frames = clips.clip_frames(kind, sources, args.clip_frames)
            clip = clips.write_clip(folder / f"{kind}.mp4", frames)
            keyed, today = folder / f"{kind}_keyed.mp4", folder / f"{kind}_today.mp4"
            floor, fast = [], []
            for attempt in range(args.repeat):
                floor.append(clips.io_floor(clip, folder / "floor.mp4"))
                fast.append(clips.timed_colorize(clip, keyed, CONTEXT_EVERY))
                if attempt == 0:
                    slow = clips.timed_colorize(clip, today, 1)
            frames = probe(clip).frames
            speed.append(
                [
                    kind,
                    " / ".join(f"{seconds:.1f}" for seconds in floor),
                    f"{frames / min(floor):.0f}",
                    f"{slow:.1f}",
                    f"{frames / slow:.1f}",
                    " / ".join(f"{seconds:.1f}" for seconds in fast),
                    f"{frames / min(fast):.1f}",
                    f"{min(fast) / min(floor):.2f}×",
                    f"{slow / min(fast):.1f}×",
                ]
            )
            measured = clips.memory_quality(clip, CONTEXT_EVERY)
            quality.append(
                [
                    kind,
                    f"{measured['de00']:.2f}",
                    f"{clips.decoded_de00(keyed, today):.2f}",
                    f"{measured['flicker_reference']:.3f}",
                    f"{measured['flicker']:.3f}",
                ]
            )
        noisy = noisy_rows(clips, sources[0], args.static_frames)
    stills = val[:: max(1, len(val) // args.stills)][: args.stills]
    one_frame = approximation_rows(clips, stills)
    header = ["clip", "PyAV alone s", "frames/s", "every frame s", "frames/s"]
    header += ["keyframes s", "frames/s", "keyframes / PyAV", "speed-up"]
    quality_header = ["clip", "ΔE00 keyframes vs every frame", "the same after H.264"]
    quality_header += ["flicker every frame", "flicker keyframes"]
    noisy_header = ["noise σ", "path", "flicker ΔE00", "+ smoothing 0.5"]
    return (
        f"Two {args.clip_frames}-frame {clips.WIDTH}×{clips.HEIGHT} H.264 clips (25 frames/s, "
        f"CRF 18) made from `val` NIR images with sensor noise σ {clips.CLIP_NOISE}: "
        "**fixed**, a still camera with a 160-px object crossing the picture and a cut to "
        f"another scene at frame {clips.CUT_AT}; **pan**, a camera moving {clips.PAN[0]} px "
        f"right and "
        f"{clips.PAN[1]} px down a frame. Colorized file to file with the default model: "
        "**PyAV alone** decodes and re-encodes the clip with the same encoder settings (the "
        "I/O floor); **every frame** is the colour context on every frame (`--context-every "
        f"1`, the path before keyframes); **keyframes** is `--context-every {CONTEXT_EVERY}` "
        f"(the default). Each path but every frame ran {args.repeat} times, alternated in one "
        "process (times listed); ratios use the fastest of each.\n\n"
        + markdown_table(header, speed)
        + "\n\nQuality in memory (the frames as they go to the encoder), on every 3rd frame "
        "(which samples the frames between keyframes evenly); after H.264: the two decoded "
        "outputs compared (each coded at CRF 18, which adds its own differences); flicker "
        "between a sampled frame and the next (it includes the clip's own motion). "
        "Colorizing every frame as a still is not steady under motion: the net's output "
        "moves with the picture's place on its grid, so part of the ΔE00 is the reference's "
        "own jitter.\n\n"
        + markdown_table(quality_header, quality)
        + f'\n\nThe flicker method of "Video flicker" on the default model: the first clip\'s '
        f"scene, static, {args.static_frames} frames of {clips.WIDTH}×{clips.HEIGHT} with "
        "Gaussian sensor noise σ, in memory (mean ΔE00 between frames 3k and 3k + 1); "
        "smoothing: `--temporal-smoothing 0.5` after either path.\n\n"
        + markdown_table(noisy_header, noisy, numeric_from=2)
        + "\n\nOne keyframe, coloured from its own context by the keyframe path (the fast "
        "guided filter on the copy; with detail and no guided filter, the copy upsampled "
        "bilinearly, then the detail transfer) against `nircolor.colorize` of the same frame "
        f"(the carry-up at full size, then the finish): {len(stills)} `val` NIR "
        f"images scaled to {clips.WIDTH}×{clips.HEIGHT}, mean ΔE00 (max).\n\n"
        + markdown_table(["finish", "ΔE00"], one_frame)
    )


def approximation_rows(clips, pairs) -> list[list[str]]:
    """ΔE00 of the keyframe path's colouring of a keyframe against ``colorize``."""
    rows, seen = [], set()
    for guided, detail in ((None, None), ("off", (1.2, 2.0)), ((8, 1e-3), None)):
        name = describe(KeyframeColorizer("default", guided=guided, detail=detail).finish)
        if name in seen:  # the default model's own finish is one of the others
            continue
        seen.add(name)
        scores = []
        for pair in pairs:
            size = (clips.WIDTH, clips.HEIGHT)
            nir = cv2.resize(read_nir(pair.nir), size, interpolation=cv2.INTER_AREA)
            keyed = KeyframeColorizer("default", guided=guided, detail=detail)
            (_, ours), *_ = keyed([nir])
            scores.append(delta_e00(ours, keyed.per_frame(nir)))
        rows.append([name, f"{np.mean(scores):.3f} ({max(scores):.3f})"])
    return rows


def describe(finish) -> str:
    """A finish in words: ``guided filter 8, 0.001; no detail``."""
    guided = (
        f"guided filter {finish.guided.radius}, {finish.guided.eps:g}"
        if finish.guided
        else "no guided filter"
    )
    detail = (
        f"detail {finish.detail.gain:g}, {finish.detail.sigma:g}" if finish.detail else "no detail"
    )
    return f"{guided}; {detail}"


def noisy_rows(clips, source: Path, count: int) -> list[list[str]]:
    """Flicker of both paths (and with smoothing) on a static noisy 720p scene."""
    scene = clips.covering(read_nir(source))[: clips.HEIGHT, : clips.WIDTH]
    rows = []
    for noise in (0.01, 0.02):
        rng = np.random.default_rng(0)
        frames = [
            np.clip(scene + noise * rng.standard_normal(scene.shape), 0, 1).astype(np.float32)
            for _ in range(count)
        ]
        for name, every in (("every frame", 1), ("keyframes", CONTEXT_EVERY)):
            plain = [rgb for _, rgb in KeyframeColorizer("default", every=every)(frames)]
            smoother = ChromaSmoother(0.5)
            smooth = [smoother(rgb, nir) for rgb, nir in zip(plain, frames, strict=True)]
            rows.append([f"{noise:g}", name, *(f"{pairs_flicker(x):.3f}" for x in (plain, smooth))])
    return rows


def pairs_flicker(frames: list[np.ndarray], step: int = 3) -> float:
    return float(np.mean([flicker(frames[i : i + 2]) for i in range(0, len(frames) - 1, step)]))


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--part", choices=("all", "flicker", "keyframes"), default="all")
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--size", default="96x128", help="HxW")
    parser.add_argument("--noise", type=float, nargs="+", default=[0.01, 0.02])
    parser.add_argument("--clip-frames", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of the fast paths")
    parser.add_argument("--static-frames", type=int, default=25)
    parser.add_argument("--stills", type=int, default=8, help="val images for one frame")
    args = parser.parse_args()
    keep_freed_memory()  # as the command line does
    run = Run()
    sections = {}
    if args.part in ("all", "flicker"):
        sections[HEADING] = flicker_section(args)
    if args.part in ("all", "keyframes"):
        sections[KEYFRAMES_HEADING] = keyframes_section(args)
    publish(run, sections, write=not args.no_write)


if __name__ == "__main__":
    main()
