"""Live sources and piped output: ``nircolor colorize tcp://... -o out.mp4``, ``-o -``.

Every stream is served by a thread of the test on 127.0.0.1 (tests/helpers/streams.py), and
every read has a timeout of a few seconds, so nothing here can hang.
"""

import os
import signal
import sys
import threading
import time

import cv2
import numpy as np
import pytest

from nircolor.errors import ImageReadError
from nircolor.video import colorize_video, is_stream, probe, read_rgb_frames

from .helpers import has, requires
from .helpers.cli import run_cli as run
from .helpers.streams import grey_scene_frames, mpegts_bytes, serve_stream, write_grey_video

VIDEO = requires("av")
HEIGHT, WIDTH = 48, 64


@pytest.fixture(scope="module")
def stream_data():
    """30 frames of a 64 × 48 NIR scene as an H.264 MPEG-TS stream."""
    if not has("av"):
        pytest.skip("needs the video extra")
    return mpegts_bytes(grey_scene_frames(30, (HEIGHT, WIDTH)))


def run_binary(monkeypatch, capsysbinary, *args) -> tuple[int, bytes, str]:
    """``nircolor ARGS...`` in-process, with stdout as bytes: (exit code, stdout, stderr)."""
    from nircolor.cli import main

    monkeypatch.setattr(sys, "argv", ["nircolor", *map(str, args)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsysbinary.readouterr()
    return exit_info.value.code, captured.out, captured.err.decode()


def test_live_sources_are_urls_and_devices():
    live = ("rtsp://cam/1", "http://h/x.ts", "udp://@:1234", "tcp://127.0.0.1:9", "/dev/video0")
    for source in live:
        assert is_stream(source)
    for source in ("clip.mp4", "/data/clip.mkv", "C:\\clips\\a.mp4", "rtsp.mp4"):
        assert not is_stream(source)


@VIDEO
@pytest.mark.parametrize("scheme", ["tcp", "http"])
def test_a_local_stream_colorizes_into_a_file(
    monkeypatch, capsys, tmp_path, tiny_model, stream_data, scheme
):
    target = tmp_path / "live.mp4"
    started = time.monotonic()
    with serve_stream(stream_data, scheme) as url:
        code, _, err = run(
            monkeypatch, capsys, "colorize", url, "-o", target, "-m", tiny_model,
            "--max-frames", "12", "--timeout", "5",
        )  # fmt: skip
    assert code == 0, err
    assert time.monotonic() - started < 10
    assert "12 frames in" in err and "frames/s" in err
    info = probe(target)
    assert (info.frames, info.width, info.height) == (12, WIDTH, HEIGHT)
    frames = list(read_rgb_frames(target))
    assert all(frame.std(axis=2).mean() > 0.03 for frame in frames)  # colour, not grey
    assert [p.name for p in tmp_path.iterdir() if ".part" in p.name] == []


@VIDEO
def test_a_stream_to_its_end_keeps_every_frame(tmp_path, tiny_model, stream_data):
    with serve_stream(stream_data) as url:
        colorize_video(url, tmp_path / "all.mkv", tiny_model, timeout=5)
    assert probe(tmp_path / "all.mkv").frames == 30


@VIDEO
def test_raw_frames_on_stdout(monkeypatch, capsysbinary, tmp_path, tiny_model, stream_data):
    with serve_stream(stream_data) as url:
        code, out, err = run_binary(
            monkeypatch, capsysbinary, "colorize", url, "-o", "-", "-m", tiny_model,
            "--max-frames", "7", "--stdout-format", "raw", "--timeout", "5",
        )  # fmt: skip
    assert code == 0, err
    assert len(out) == 7 * HEIGHT * WIDTH * 3
    frames = np.frombuffer(out, np.uint8).reshape(7, HEIGHT, WIDTH, 3).astype(np.float32)
    assert (frames.std(axis=3).mean(axis=(1, 2)) > 5).all()  # coloured, every one
    assert "7 frames in" in err and "to standard output" in err


@VIDEO
def test_mjpeg_on_stdout_from_a_file(monkeypatch, capsysbinary, tmp_path, tiny_model):
    source = tmp_path / "in.mkv"  # a file input may go to stdout too
    write_grey_video(source, grey_scene_frames(5, (HEIGHT, WIDTH)))
    code, out, err = run_binary(
        monkeypatch, capsysbinary, "colorize", source, "-o", "-", "-m", tiny_model,
        "--stdout-format", "mjpeg",
    )  # fmt: skip
    assert code == 0, err
    starts = [i for i in range(len(out) - 1) if out[i : i + 3] == b"\xff\xd8\xff"]
    assert len(starts) == 5
    first = cv2.imdecode(np.frombuffer(out[: starts[1]], np.uint8), cv2.IMREAD_COLOR)
    assert first.shape == (HEIGHT, WIDTH, 3) and first.std(axis=2).mean() > 5


@VIDEO
def test_an_unreachable_source_is_one_line(monkeypatch, capsys, tmp_path, tiny_model):
    code, _, err = run(
        monkeypatch, capsys, "colorize", "tcp://127.0.0.1:1", "-o", tmp_path / "x.mp4",
        "-m", tiny_model, "--timeout", "2",
    )  # fmt: skip
    assert code == 1
    assert err.strip().startswith("error: tcp://127.0.0.1:1: cannot open the stream")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "x.mp4").exists()


@VIDEO
def test_a_silent_source_times_out(monkeypatch, capsys, tmp_path, tiny_model, stream_data):
    started = time.monotonic()
    with serve_stream(stream_data, send=False, stall=10) as url:
        code, _, err = run(
            monkeypatch, capsys, "colorize", url, "-o", tmp_path / "x.mp4", "-m", tiny_model,
            "--timeout", "1",
        )  # fmt: skip
    assert code == 1
    assert "nothing received within 1 s" in err and "Traceback" not in err
    assert time.monotonic() - started < 8
    assert list(tmp_path.glob("x*")) == []


@VIDEO
def test_a_source_that_stalls_keeps_what_it_sent(tmp_path, tiny_model, stream_data):
    target = tmp_path / "kept.mp4"
    with serve_stream(stream_data, stall=10) as url:
        with pytest.raises(ImageReadError, match=r"nothing received within 1 s.*kept in"):
            colorize_video(url, target, tiny_model, timeout=1)
    assert 20 <= probe(target).frames <= 30


@VIDEO
def test_stop_ends_the_input_and_keeps_the_output(tmp_path, tiny_model, stream_data):
    stop = threading.Event()

    def progress(done, total):
        assert total is None  # a live source has no known length
        if done == 5:
            stop.set()

    with serve_stream(stream_data) as url:
        colorize_video(url, tmp_path / "s.mp4", tiny_model, progress=progress, stop=stop)
    assert 5 <= probe(tmp_path / "s.mp4").frames < 30


def test_the_first_ctrl_c_of_a_live_run_stops_its_input():
    from nircolor.cli.live import _stop_on_ctrl_c

    stop = threading.Event()
    before = signal.getsignal(signal.SIGINT)
    with _stop_on_ctrl_c(stop, live=True):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        assert stop.is_set()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
    assert signal.getsignal(signal.SIGINT) is before


@VIDEO
def test_live_options_are_checked(monkeypatch, capsys, tmp_path, tiny_model):
    (tmp_path / "there.mp4").write_bytes(b"mine")
    for args, message in (
        (["tcp://127.0.0.1:1", "-o", tmp_path / "there.mp4"], "already exists (use --overwrite"),
        (["tcp://127.0.0.1:1", "-o", tmp_path], "needs an output file"),
        (["tcp://127.0.0.1:1", "tcp://127.0.0.1:2", "-o", "-"], "exactly one input"),
        (["tcp://127.0.0.1:1", "-o", "-", "--stdout-format", "png"], "--stdout-format"),
        (["tcp://127.0.0.1:1", "-o", "-", "--timeout", "0"], "--timeout"),
        (["tcp://127.0.0.1:1", "-o", "-", "--max-frames", "0"], "--max-frames"),
        (["tcp://127.0.0.1:1", "-o", "-", "--context-every", "0"], "--context-every"),
    ):
        code, _, err = run(monkeypatch, capsys, "colorize", *args, "-m", tiny_model)
        assert code == 1 and message in err, (args, err)
        assert len(err.strip().splitlines()) == 1, err
