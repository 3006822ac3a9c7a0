"""Video colour contexts on keyframes (nircolor.video.keyframes) and the decode → colorize →
encode pipeline (nircolor.video.pipeline); the maths needs no PyAV."""

import random
import threading
import time

import cv2
import numpy as np
import pytest

from nircolor.api import colorize
from nircolor.context import ColourContext, context_shape
from nircolor.errors import NircolorError
from nircolor.examples import EXAMPLE_NIR, synthetic_pair
from nircolor.io import read_nir
from nircolor.metrics import delta_e00
from nircolor.video import flicker
from nircolor.video.keyframes import (
    KeyframeColorizer,
    camera_shift,
    check_every,
    is_cut,
    motion_copy,
    motion_factor,
    thumbnail,
)
from nircolor.video.pipeline import run_pipeline

from .helpers import requires
from .helpers.streams import grey_scene_frames, write_grey_video

SIZE = (72, 96)
CONTEXT = ColourContext(32, 0.05)


def noisy(scene: np.ndarray, count: int, noise: float = 0.01, seed: int = 0) -> list:
    """``count`` frames of a static scene with sensor noise, float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    return [
        np.clip(scene + noise * rng.standard_normal(scene.shape), 0, 1).astype(np.float32)
        for _ in range(count)
    ]


def scene(seed: int) -> np.ndarray:
    return synthetic_pair(seed, *SIZE)[0]


def test_a_scene_cut_starts_a_fresh_context(tiny_model, predict_calls):
    frames = noisy(scene(1), 10) + noisy(scene(2), 7, seed=1)
    colorizer = KeyframeColorizer(tiny_model, context=CONTEXT, every=4)
    out = list(colorizer(frames))
    assert len(out) == 17
    # Every 4 frames, the last frame before the cut (9), the first after it (10), the last.
    assert colorizer.keyframes == [0, 4, 8, 9, 10, 14, 16]
    # The net ran on the keyframes' context copies only.
    assert predict_calls == [context_shape(SIZE, CONTEXT.size)] * 7
    assert [nir is frame for (nir, _), frame in zip(out, frames, strict=True)] == [True] * 17


def test_cuts_are_big_changes_not_noise_or_motion():
    first = read_nir(EXAMPLE_NIR)
    assert not is_cut(thumbnail(first), thumbnail(noisy(first, 1, noise=0.03)[0]))
    shifted = np.roll(first, 4, axis=1)  # a pan of 1 % of the width in one frame
    assert not is_cut(thumbnail(first), thumbnail(shifted))
    assert is_cut(thumbnail(first), thumbnail(np.flipud(first)))
    assert is_cut(thumbnail(first), thumbnail(np.clip(first + 0.2, 0, 1)))  # lights on
    assert thumbnail(np.zeros((720, 1280), np.float32)).shape == (32, 32)
    assert thumbnail(np.zeros((20, 30), np.float32)).shape == (32, 32)


@pytest.mark.parametrize(
    ("guided", "detail"), [((4, 1e-3), "off"), ("off", (1.2, 2.0)), ("off", "off")]
)
def test_keyframes_stay_close_to_per_frame_colorization_on_a_static_clip(guided, detail):
    # A real NIR picture with sensor noise, the shipped L3 model, context every 8 frames.
    picture = cv2.resize(read_nir(EXAMPLE_NIR), (192, 128), interpolation=cv2.INTER_AREA)
    frames = noisy(picture, 17)
    context = ColourContext(64, 0.05)
    keyed = KeyframeColorizer("l3", guided=guided, detail=detail, context=context, every=8)
    fresh = KeyframeColorizer("l3", guided=guided, detail=detail, context=context, every=1)
    ours = [rgb for _, rgb in keyed(frames)]
    each = [rgb for _, rgb in fresh(frames)]
    assert keyed.keyframes == [0, 8, 16] and fresh.keyframes == []
    assert np.mean([delta_e00(a, b) for a, b in zip(ours, each, strict=True)]) < 0.7
    # No more flicker: the net's noise is not redrawn every frame (the NIR's own noise, which
    # the detail transfer passes on, is the same in both).
    assert flicker(ours) < flicker(each)
    assert all(rgb.dtype == np.float32 and 0 <= rgb.min() and rgb.max() <= 1 for rgb in ours)


def test_camera_motion_is_measured_in_pixels_of_the_motion_copy():
    picture = read_nir(EXAMPLE_NIR)  # 384 × 256: motion copies of 256 px... 1 px a block
    moved = np.roll(picture, (3, -5), axis=(0, 1))  # down 3, left 5
    assert motion_factor(picture.shape) == 1
    dx, dy = camera_shift(motion_copy(picture), motion_copy(moved))
    assert abs(dx + 5) < 0.2 and abs(dy - 3) < 0.2
    big = cv2.resize(picture, (1280, 720))
    assert motion_factor(big.shape) == 5 and motion_copy(big).shape == (144, 256)
    noise = np.random.default_rng(0).random((144, 256)).astype(np.float32)
    assert camera_shift(noise, np.random.default_rng(1).random((144, 256)).astype(np.float32)) == (
        0.0,
        0.0,
    )  # no common picture: no trusted shift


def test_keyframes_follow_a_panning_camera():
    # The picture moves 2 px a frame: each key's colours move with it, and a keyframe comes
    # once the camera has moved 0.6 % of the width (4.1 px of 688): every 3rd frame.
    picture = cv2.resize(read_nir(EXAMPLE_NIR), (768, 512), interpolation=cv2.INTER_LINEAR)
    frames = [np.roll(picture, 2 * k, axis=1)[:, 40:-40].copy() for k in range(9)]
    context = ColourContext(192, 0.05)
    keyed = KeyframeColorizer("l3", guided=(4, 1e-3), context=context, every=8)
    ours = [rgb for _, rgb in keyed(frames)]
    still = KeyframeColorizer("l3", guided=(4, 1e-3), context=context, every=1)
    each = [rgb for _, rgb in still(frames)]
    errors = [delta_e00(a, b) for a, b in zip(ours, each, strict=True)]
    assert keyed.keyframes == [0, 3, 6, 8]
    assert max(errors) < 1.0, errors


def test_every_one_colorizes_each_frame_as_a_still(tiny_model):
    frames = noisy(scene(4), 3)
    colorizer = KeyframeColorizer(tiny_model, guided=(4, 1e-3), context=CONTEXT, every=1)
    for (_, rgb), nir in zip(colorizer(frames), frames, strict=True):
        expected = colorize(nir, tiny_model, guided=(4, 1e-3), context=CONTEXT, denoise="off")
        np.testing.assert_array_equal(rgb, expected)  # frames are not denoised


def test_frames_no_larger_than_the_context_are_colorized_one_by_one(tiny_model, predict_calls):
    frames = noisy(scene(5), 4)
    colorizer = KeyframeColorizer(tiny_model, context=ColourContext(512, 0.05), every=8)
    assert len(list(colorizer(frames))) == 4
    assert colorizer.keyframes == [] and predict_calls == [SIZE] * 4


def test_between_keyframes_the_colours_glide(tiny_model):
    # Two different scenes faded into each other slowly: no cut, and the colours of each
    # frame move by small steps, never by a jump at a keyframe.
    a, b = scene(6), scene(7)
    frames = [((1 - t) * a + t * b).astype(np.float32) for t in np.linspace(0, 1, 17)]
    colorizer = KeyframeColorizer(tiny_model, guided=(4, 1e-3), context=CONTEXT, every=8)
    out = [rgb for _, rgb in colorizer(frames)]
    assert colorizer.keyframes == [0, 8, 16]
    steps = [delta_e00(x, y) for x, y in zip(out, out[1:], strict=False)]
    assert max(steps) < 2.5 * np.median(steps)


def test_bad_keyframe_intervals_are_refused():
    assert check_every(1) == 1
    for bad in (0, -3, 1001, 2.5, True):
        with pytest.raises(NircolorError, match="--context-every"):
            check_every(bad)


# ---------------------------------------------------------------- the pipeline


def jitter(rng: random.Random) -> None:
    time.sleep(rng.random() * 0.002)


def test_the_pipeline_keeps_order():
    rng = random.Random(0)
    written = []

    def read():
        for item in range(300):
            jitter(rng)
            yield item

    def transform(items):
        for item in items:
            jitter(rng)
            yield item * 2

    def write(item):
        jitter(rng)
        written.append(item)

    assert run_pipeline(read(), transform, write, depth=3) == 300
    assert written == [2 * item for item in range(300)]


def no_stage_threads() -> bool:
    time.sleep(0.05)
    return not [t for t in threading.enumerate() if t.name.startswith("nircolor-")]


@pytest.mark.parametrize("where", ["read", "transform", "write"])
def test_the_first_error_of_any_stage_reaches_the_caller(where):
    def read():
        for item in range(100):
            if where == "read" and item == 5:
                raise NircolorError("bad frame 5")
            yield item

    def transform(items):
        for item in items:
            if where == "transform" and item == 5:
                raise NircolorError("bad frame 5")
            yield item

    def write(item):
        if where == "write" and item == 5:
            raise NircolorError("bad frame 5")

    with pytest.raises(NircolorError, match="bad frame 5"):
        run_pipeline(read(), transform, write)
    assert no_stage_threads()


def test_an_interrupt_stops_every_stage_and_closes_the_source():
    closed = threading.Event()

    def read():
        try:
            yield from range(10_000)
        finally:
            closed.set()

    def transform(items):
        for item in items:
            if item == 20:
                raise KeyboardInterrupt
            yield item

    with pytest.raises(KeyboardInterrupt):
        run_pipeline(read(), transform, lambda item: None)
    assert closed.is_set() and no_stage_threads()


def test_stop_ends_the_input_and_keeps_what_was_read():
    stop = threading.Event()
    written = []

    def read():
        for item in range(10_000):
            if item == 10:
                stop.set()
            yield item

    assert run_pipeline(read(), lambda items: items, written.append, stop=stop) == len(written)
    assert written == list(range(len(written))) and 10 < len(written) < 20


@requires("av")
def test_a_video_keeps_its_frame_order(tmp_path, tiny_model):
    from nircolor.video import colorize_video, read_frames, read_rgb_frames

    # Each frame brighter than the last: the output's lightness must rise frame by frame.
    frames = grey_scene_frames(24, SIZE, seed=8, step=0.02)
    write_grey_video(tmp_path / "ramp.mp4", frames)
    target = colorize_video(tmp_path / "ramp.mp4", tmp_path / "out.mp4", tiny_model, crf=0)
    assert len(list(read_frames(tmp_path / "ramp.mp4"))) == 24
    means = [frame.mean() for frame in read_rgb_frames(target)]
    assert len(means) == 24 and all(b > a for a, b in zip(means, means[1:], strict=False))


@requires("av")
def test_the_command_line_colours_a_video_from_keyframes(
    monkeypatch, capsys, tmp_path, tiny_model, predict_calls
):
    from nircolor.video import probe

    from .helpers.cli import run_cli

    write_grey_video(tmp_path / "in.mp4", grey_scene_frames(12, SIZE, seed=9))
    code, _, err = run_cli(
        monkeypatch, capsys, "colorize", tmp_path / "in.mp4", "-o", tmp_path / "out.mp4",
        "-m", tiny_model, "--context", "32", "--context-every", "4",
    )  # fmt: skip
    assert code == 0, err
    assert probe(tmp_path / "out.mp4").frames == 12
    assert predict_calls == [context_shape(SIZE, 32)] * 4  # keyframes 0, 4, 8 and 11
