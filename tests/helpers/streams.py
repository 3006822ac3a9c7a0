"""Local live streams for the video tests: MPEG-TS bytes served over tcp:// or http:// by a
thread on 127.0.0.1 (the socket listens before the test goes on, so there is no race)."""

from __future__ import annotations

import io
import socket
import threading
from contextlib import contextmanager
from fractions import Fraction

import numpy as np

from nircolor.examples import synthetic_pair


def grey_scene_frames(count: int, size=(48, 64), seed: int = 0, step: float = 0.0):
    """``count`` uint8 grey frames of a synthetic NIR scene (brightened by ``step`` a frame)."""
    scene, _ = synthetic_pair(seed, *size)
    return [
        np.rint(np.clip(scene + step * index, 0, 1) * 255).astype(np.uint8)
        for index in range(count)
    ]


def mpegts_bytes(frames, rate=Fraction(25)) -> bytes:
    """Grey uint8 frames encoded as an H.264 MPEG-TS stream, in memory."""
    buffer = io.BytesIO()
    write_grey_video(buffer, frames, rate, "mpegts")
    return buffer.getvalue()


def write_grey_video(target, frames, rate=Fraction(25), container_format=None) -> None:
    """Grey uint8 frames as a lossless H.264 video (a path, or a file object with
    ``container_format``)."""
    import av

    target = target if container_format else str(target)
    with av.open(target, "w", format=container_format) as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.height, stream.width = frames[0].shape
        stream.pix_fmt = "yuv420p"
        stream.options = {"qp": "0"}
        for index, grey in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(grey, format="gray").reformat(format="yuv420p")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


@contextmanager
def serve_stream(data: bytes, scheme: str = "tcp", stall: float = 0.0, send: bool = True):
    """Serve ``data`` once on 127.0.0.1 and yield its URL (``tcp://`` or ``http://``).

    With ``stall``, the connection stays open that many seconds after the data (a live
    source that stops sending); without ``send``, nothing is sent at all.
    """
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(20)
    port = server.getsockname()[1]
    done = threading.Event()

    def run() -> None:
        try:
            connection, _ = server.accept()
        except OSError:
            return
        with connection:
            try:
                if scheme == "http":
                    connection.recv(65536)  # the request
                    connection.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: video/mp2t\r\n\r\n")
                if send:
                    connection.sendall(data)
                done.wait(stall)
            except OSError:  # the client went away (it had the frames it wanted)
                pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    path = "/live.ts" if scheme == "http" else ""
    try:
        yield f"{scheme}://127.0.0.1:{port}{path}"
    finally:
        done.set()
        server.close()
        thread.join(5)
