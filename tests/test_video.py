"""Video colorization (``nircolor colorize in.mp4 -o out.mp4``); skipped without PyAV."""

from fractions import Fraction

import numpy as np
import pytest

from nircolor.api import colorize
from nircolor.errors import ImageReadError, ImageWriteError, NircolorError
from nircolor.examples import synthetic_pair
from nircolor.io import write_image
from nircolor.video import (
    ChromaSmoother,
    colorize_video,
    flicker,
    probe,
    read_frames,
    read_rgb_frames,
)

from .helpers import has, requires
from .helpers.cli import error_of_one_failed_input
from .helpers.cli import run_cli as run
from .helpers.training import tiny_cfa_model

if has("av"):
    import av

VIDEO = requires("av")
"""Reading and writing videos needs the 'video' extra; the smoothing and flicker maths do not."""


def write_video(
    path,
    frames=20,
    size=(48, 64),
    rate=Fraction(30000, 1001),
    noise=0.02,
    colour=False,
    seed=0,
):
    """A static synthetic NIR scene with sensor noise, as a lossless grey H.264 video."""
    height, width = size
    scene, _ = synthetic_pair(seed, height + height % 2, width + width % 2)
    scene = scene[:height, :width]
    rng = np.random.default_rng(seed)
    codec = "libx264" if height % 2 == 0 and width % 2 == 0 else "ffv1"
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p" if codec == "libx264" else "gray"
        if codec == "libx264":
            stream.options = {"qp": "0"}
        for index in range(frames):
            grey = np.clip(scene + noise * rng.standard_normal(scene.shape), 0, 1)
            rgb = np.repeat(grey[:, :, None], 3, axis=2)
            if colour:
                rgb = rgb * np.array([1.0, 0.5, 0.2])
            pixels = np.rint(rgb * 255).astype(np.uint8)
            if codec == "libx264":
                frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            else:
                frame = av.VideoFrame.from_ndarray(pixels[:, :, 0], format="gray")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def leftovers(folder):
    return [p.name for p in folder.iterdir() if ".part" in p.name]


@VIDEO
def test_round_trip_keeps_frame_count_rate_and_size(monkeypatch, capsys, tmp_path, tiny_model):
    source = write_video(tmp_path / "in.mp4")
    target = tmp_path / "out" / "out.mp4"
    code, _, err = run(monkeypatch, capsys, "colorize", source, "-o", target, "-m", tiny_model)
    assert code == 0, err
    assert "1 done, 0 skipped, 0 failed" in err
    before, after = probe(source), probe(target)
    assert (after.frames, after.fps, after.width, after.height) == (
        20,
        Fraction(30000, 1001),
        64,
        48,
    )
    assert (before.frames, before.fps, before.width, before.height) == (
        after.frames,
        after.fps,
        after.width,
        after.height,
    )
    assert after.codec == "h264"
    assert leftovers(target.parent) == []
    # The frames are the colorized NIR frames (up to H.264 compression).
    nir = next(iter(read_frames(source)))
    expected = colorize(nir, tiny_model)
    first = next(iter(read_rgb_frames(target)))
    assert first.shape == expected.shape
    assert np.abs(first - expected).mean() < 0.04
    assert np.abs(first.mean(axis=(0, 1)) - expected.mean(axis=(0, 1))).max() < 0.02
    assert first.std(axis=2).mean() > 0.05  # colour, not grey


@pytest.mark.parametrize("suffix", [".mkv", ".mov", ".avi"])
@VIDEO
def test_other_containers(tmp_path, tiny_model, suffix):
    source = write_video(tmp_path / f"in{suffix}", frames=6, rate=Fraction(24))
    target = colorize_video(source, tmp_path / f"out{suffix}", tiny_model)
    info = probe(target)
    assert (info.frames, info.fps, info.width, info.height) == (6, 24, 64, 48)


@VIDEO
def test_odd_size_is_padded_to_even(tmp_path, tiny_model):
    source = write_video(tmp_path / "odd.mkv", frames=5, size=(25, 33), rate=Fraction(10))
    assert (probe(source).width, probe(source).height) == (33, 25)
    target = colorize_video(source, tmp_path / "odd.mp4", tiny_model)
    info = probe(target)
    assert (info.frames, info.fps, info.width, info.height) == (5, 10, 34, 26)
    frame = next(iter(read_rgb_frames(target)))
    # The added row and column repeat their neighbours.
    assert np.abs(frame[-1] - frame[-2]).mean() < 0.03
    assert np.abs(frame[:, -1] - frame[:, -2]).mean() < 0.03


@VIDEO
def test_mpeg4_fallback(tmp_path, tiny_model):
    source = write_video(tmp_path / "in.mp4", frames=5)
    target = colorize_video(source, tmp_path / "out.mp4", tiny_model, codec="mpeg4")
    info = probe(target)
    assert (info.codec, info.frames, info.width, info.height) == ("mpeg4", 5, 64, 48)


@VIDEO
def test_colour_video_is_refused_and_nothing_is_written(monkeypatch, capsys, tmp_path, tiny_model):
    source = write_video(tmp_path / "colour.mp4", frames=4, colour=True)
    out = tmp_path / "out"
    out.mkdir()
    code, _, err = run(
        monkeypatch, capsys, "colorize", source, "-o", out / "x.mp4", "-m", tiny_model
    )
    assert code == 1
    assert "colour image" in err and "frame 0" in err and "Traceback" not in err
    assert list(out.iterdir()) == []


@VIDEO
def test_a_raw_mosaic_model_is_refused_for_video_and_nothing_is_written(
    monkeypatch, capsys, tmp_path
):
    tiny_cfa_model(seed=3).save(tmp_path / "cfa")
    source = write_video(tmp_path / "in.mp4", frames=2)
    out = tmp_path / "out"
    out.mkdir()
    code, _, err = run(
        monkeypatch, capsys, "colorize", source, "-o", out / "x.mp4", "-m", tmp_path / "cfa"
    )
    assert code == 1
    assert "raw-mosaic (CFA) model cannot colorize a video" in error_of_one_failed_input(err)
    assert list(out.iterdir()) == []


@VIDEO
def test_bad_video_and_existing_output(monkeypatch, capsys, tmp_path, tiny_model):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"junk" * 50)
    with pytest.raises(ImageReadError, match="bad.mp4"):
        colorize_video(bad, tmp_path / "o.mp4", tiny_model)
    assert leftovers(tmp_path) == []
    source = write_video(tmp_path / "in.mp4", frames=3)
    target = tmp_path / "o.mp4"
    target.write_bytes(b"mine")
    with pytest.raises(ImageWriteError, match="already exists"):
        colorize_video(source, target, tiny_model)
    assert target.read_bytes() == b"mine"
    with pytest.raises(ImageWriteError, match="WebM"):
        colorize_video(source, tmp_path / "o.webm", tiny_model)
    colorize_video(source, target, tiny_model, overwrite=True)
    assert probe(target).frames == 3


@VIDEO
def test_folder_batch_mixes_images_and_videos(monkeypatch, capsys, tmp_path, tiny_model):
    root = tmp_path / "in"
    write_video(root / "clips" / "a.mov", frames=3)
    write_image(root / "b.png", np.random.default_rng(0).random((10, 12)).astype(np.float32))
    out = tmp_path / "out"
    code, _, err = run(monkeypatch, capsys, "colorize", root, "-o", out, "-m", tiny_model)
    assert code == 0, err
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "b.png",
        "clips/a.mp4",
    ]
    assert probe(out / "clips" / "a.mp4").frames == 3


@VIDEO
def test_temporal_smoothing_lowers_flicker(monkeypatch, capsys, tmp_path, tiny_model):
    source = write_video(tmp_path / "noisy.mp4", frames=12, noise=0.03)
    # In memory, before the encoder.
    frames = list(read_frames(source))
    raw = [colorize(nir, tiny_model) for nir in frames]
    smoother = ChromaSmoother(0.3)
    smoothed = [smoother(rgb, nir) for rgb, nir in zip(raw, frames, strict=True)]
    for metric in ("de00", "de76"):
        assert flicker(smoothed, metric) < 0.8 * flicker(raw, metric)
    # Through the command line and H.264.
    plain, smooth = tmp_path / "plain.mp4", tmp_path / "smooth.mp4"
    code, _, err = run(monkeypatch, capsys, "colorize", source, "-o", plain, "-m", tiny_model)
    assert code == 0, err
    code, _, err = run(
        monkeypatch,
        capsys,
        "colorize",
        source,
        "-o",
        smooth,
        "-m",
        tiny_model,
        "--temporal-smoothing",
        "0.3",
    )
    assert code == 0, err
    assert probe(smooth).frames == 12
    assert flicker(read_rgb_frames(smooth)) < flicker(read_rgb_frames(plain))


def test_chroma_smoother_keeps_lightness_and_restarts_at_cuts():
    import cv2

    rng = np.random.default_rng(0)
    nir = rng.random((16, 16)).astype(np.float32)
    a = np.clip(rng.random((16, 16, 3)) * 0.5 + 0.25, 0, 1).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1).astype(np.float32)
    smoother = ChromaSmoother(0.5)
    assert smoother(a, nir) is a  # the first frame passes unchanged
    out = smoother(b, nir)
    lightness = cv2.cvtColor(out, cv2.COLOR_RGB2Lab)[:, :, 0]
    assert np.abs(lightness - cv2.cvtColor(b, cv2.COLOR_RGB2Lab)[:, :, 0]).max() < 1.0
    ab = cv2.cvtColor(out, cv2.COLOR_RGB2Lab)[:, :, 1:]
    expected = 0.5 * (
        cv2.cvtColor(a, cv2.COLOR_RGB2Lab)[:, :, 1:] + cv2.cvtColor(b, cv2.COLOR_RGB2Lab)[:, :, 1:]
    )
    assert np.abs(ab - expected).mean() < 0.5
    # A scene cut (a very different NIR frame) restarts the average.
    assert smoother(b, 1.0 - nir) is b
    assert ChromaSmoother(1.0)(b, nir) is b
    with pytest.raises(NircolorError):
        ChromaSmoother(0.0)


def test_flicker_of_a_steady_video_is_zero():
    frame = np.random.default_rng(0).random((12, 12, 3)).astype(np.float32)
    assert flicker([frame, frame, frame]) == 0.0
    assert flicker([frame, 1 - frame], "de76") > 10
    with pytest.raises(ValueError):
        flicker([frame])


def test_frames_become_pixels_as_numpy_would_round_them():
    from nircolor.video.codec import to_pixels

    rgb = np.random.default_rng(1).random((9, 11, 3)).astype(np.float32) * 1.2 - 0.1
    rgb[0, 0] = [0.5 / 255, 1.5 / 255, 2.5 / 255]  # ties round to even
    expected = np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(to_pixels(rgb), expected)
    np.testing.assert_array_equal(to_pixels(rgb[:, ::2]), expected[:, ::2])
