"""What the service does against hostile or heavy clients (issue 12, items 7-10, 17, 20):
bounded guided filters, slow uploads, pixel and time budgets, threads, listed models,
error bodies free of server paths, and the ``serve`` command's port handling."""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from nircolor.errors import ModelError
from nircolor.examples import synthetic_pair
from nircolor.io import MAX_PIXELS, encode_image, to_uint
from nircolor.models import ColorizerBase

from .helpers import has, requires
from .helpers.cli import run_cli
from .helpers.training import train_tiny_model

if has("fastapi") and has("httpx") and has("anyio"):
    import anyio
    import httpx

    from nircolor.serve import create_app

pytestmark = requires("fastapi", "uvicorn", "httpx", "anyio")

HOST = "127.0.0.1"
OTHER_CLIENT = "127.0.0.2"  # loopback too: a second client address for per-client limits


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return train_tiny_model(tmp_path_factory.mktemp("serve-limits-model"))


def nir_png(height: int = 32, width: int = 40, seed: int = 0) -> bytes:
    nir = synthetic_pair(seed, height, width)[0]
    return encode_image(to_uint(nir).astype(np.float32) / 255, ".png")


def call(app, method: str, url: str, **kwargs) -> httpx.Response:
    """One request to an app over ASGI."""

    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, url, **kwargs)

    return anyio.run(main)


def post(app, data: bytes, name: str = "scene_nir.png", **fields) -> httpx.Response:
    return call(app, "POST", "/colorize", files={"file": (name, data)}, data=fields)


class Recording(ColorizerBase):
    """A grey 'colorizer' that records the shape and ``threads`` of every call, after an
    optional pause."""

    kind = "recording"

    def __init__(self, pause: float = 0.0) -> None:
        self.pause = pause
        self.calls: list[tuple[tuple[int, int], int | None]] = []

    def predict(self, nir, *, threads=None):
        self.calls.append((nir.shape, threads))
        time.sleep(self.pause)
        return np.repeat(nir[:, :, None], 3, axis=2)


# ---------------------------------------------------------------- 7: guided filter bounds


@pytest.mark.parametrize("text", ["1000000,1e-4", "99999999999,1e-4", "257,1e-4", "5,11"])
def test_unbounded_guided_settings_are_400_at_once(model_dir, text):
    app = create_app(model_dir, workers=1)
    start = time.perf_counter()
    response = post(app, nir_png(), guided=text)
    assert time.perf_counter() - start < 5
    assert response.status_code == 400, response.text
    message = response.json()["error"]
    assert message.startswith("guided: invalid guided filter")
    assert "RADIUS an integer from 1 to 256, EPS a number in (0, 10]" in message


# ---------------------------------------------------------------- 8: slow uploads


class RealServer:
    """``create_app(...)`` behind uvicorn on an ephemeral loopback port, in a thread."""

    def __init__(self, app, **config) -> None:
        from nircolor.serve import listen, make_server

        self.socket = listen(HOST, 0)
        self.port = self.socket.getsockname()[1]
        self.url = f"http://{HOST}:{self.port}"
        self.server = make_server(app, **config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]})

    def __enter__(self) -> RealServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.socket.close()

    def health(self) -> dict:
        return httpx.get(f"{self.url}/health", timeout=5).json()


def slow_upload(port: int, source: str = OTHER_CLIENT) -> socket.socket:
    """A client that sends the headers and the first bytes of a 100 kB upload, then stalls."""
    boundary = "slowboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="s.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    client = socket.create_connection((HOST, port), timeout=10, source_address=(source, 0))
    client.sendall(
        b"POST /colorize HTTP/1.1\r\nHost: x\r\n"
        + f"Content-Type: multipart/form-data; boundary={boundary}\r\n".encode()
        + f"Content-Length: {len(head) + 100_000}\r\n\r\n".encode()
        + head
        + b"\x89"
    )
    return client


def status_of(client: socket.socket) -> int:
    """The status code of the answer on a raw socket."""
    answer = client.recv(4096).decode("latin-1")
    match = re.match(r"HTTP/1\.1 (\d{3}) ", answer)
    assert match, answer
    return int(match.group(1))


def wait_until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def admitted(health: dict) -> int:
    return health["pending"] + health.get("receiving", 0)


def test_slow_uploads_do_not_hold_the_request_slots(model_dir):
    app = create_app(model_dir, workers=1, max_pending=4)
    with RealServer(app) as server:
        slow = [slow_upload(server.port) for _ in range(6)]
        try:
            wait_until(lambda: admitted(server.health()) == 6)
            for _ in range(3):
                response = httpx.post(
                    f"{server.url}/colorize", files={"file": ("a.png", nir_png())}, timeout=30
                )
                assert response.status_code == 200, response.text
            health = server.health()
            assert health["receiving"] == 6 and health["pending"] == 0
        finally:
            for client in slow:
                client.close()


def test_a_body_slower_than_the_deadline_is_408(model_dir):
    app = create_app(model_dir, workers=1, body_timeout_s=0.5)
    with RealServer(app) as server:
        client = slow_upload(server.port)
        try:
            start = time.monotonic()
            assert status_of(client) == 408
            assert time.monotonic() - start < 5
        finally:
            client.close()
        wait_until(lambda: server.health()["receiving"] == 0)


def test_one_client_gets_at_most_its_share_of_requests(model_dir):
    app = create_app(model_dir, workers=1, max_per_client=2)
    with RealServer(app) as server:
        slow = [slow_upload(server.port) for _ in range(2)]
        try:
            wait_until(lambda: server.health()["receiving"] == 2)
            third = slow_upload(server.port)
            slow.append(third)
            assert status_of(third) == 429
            # another client is not affected
            response = httpx.post(
                f"{server.url}/colorize", files={"file": ("a.png", nir_png())}, timeout=30
            )
            assert response.status_code == 200, response.text
        finally:
            for client in slow:
                client.close()


def test_keep_alive_timeout_is_set():
    from nircolor.serve import make_server

    server = make_server(create_app(Recording(), workers=1), timeout_keep_alive=3)
    assert server.config.timeout_keep_alive == 3


# ---------------------------------------------------------------- 9: pixel and time budgets


def test_service_pixel_limit_is_below_the_cli_s_and_a_zero_bomb_is_refused():
    app = create_app(Recording(), workers=1)
    limit = call(app, "GET", "/health").json()["max_pixels"]
    assert limit <= 4_000_000 < 25_000_000 < MAX_PIXELS
    zeros = encode_image(np.zeros((5000, 5000), np.uint8), ".png")
    assert len(zeros) < 100_000  # a small file that decodes to 25 megapixels
    start = time.perf_counter()
    response = post(app, zeros, name="zeros.png")
    assert time.perf_counter() - start < 2
    assert response.status_code == 413
    assert response.json()["error"].startswith("zeros.png: image of 5000x5000 pixels is larger")


def test_large_requests_take_the_tiled_path():
    model = Recording()
    app = create_app(model, workers=1, tile=32)
    assert post(app, nir_png(24, 30)).status_code == 200
    assert [shape for shape, _ in model.calls] == [(24, 30)]  # small: one piece
    model.calls.clear()
    response = post(app, nir_png(70, 90))
    assert response.status_code == 200, response.text
    assert len(model.calls) > 1
    assert all(h <= 32 and w <= 32 for (h, w), _ in model.calls)


def test_a_request_over_its_time_budget_stops_between_tiles():
    model = Recording(pause=0.25)
    app = create_app(model, workers=1, tile=16, time_limit_s=0.5)
    start = time.perf_counter()
    response = post(app, nir_png(64, 64), name="slow.png")
    seconds = time.perf_counter() - start
    assert response.status_code == 503, response.text
    assert response.json()["error"] == (
        "slow.png: took more than 0.5 s, the service's limit per image; try a smaller image"
    )
    assert seconds < 2.0  # the 25 tiles would take over 6 s
    assert len(model.calls) <= 4


# ---------------------------------------------------------------- 10: pool and threads


@pytest.mark.parametrize(("workers", "cpus", "threads"), [(2, 4, 2), (4, 2, 1), (2, 2, 1)])
def test_model_threads_are_sized_with_the_pool(workers, cpus, threads):
    model = Recording()
    app = create_app(model, workers=workers, cpus=cpus)
    assert post(app, nir_png()).status_code == 200
    assert [t for _, t in model.calls] == [threads]
    health = call(app, "GET", "/health").json()
    assert health["workers"] == workers and health["threads_per_worker"] == threads


def test_default_pool_uses_one_thread_per_cpu(monkeypatch):
    monkeypatch.setattr("nircolor.runtime.usable_cores", lambda: 2)
    health = call(create_app(Recording()), "GET", "/health").json()
    assert health["workers"] * health["threads_per_worker"] == 2


# ---------------------------------------------------------------- 17: models and paths


def test_the_scene_classifier_is_not_offered_as_a_colorizer(model_dir):
    app = create_app(model_dir, workers=1)
    models = call(app, "GET", "/models").json()
    assert all(m["kind"] != "classifier" for m in models)
    assert "classifier" not in {m["name"] for m in models}
    response = post(app, nir_png(), model="classifier")
    assert response.status_code == 400
    assert response.json()["error"].startswith("unknown model 'classifier'")


def test_cli_models_lists_the_classifier_apart(monkeypatch, capsys):
    code, out, err = run_cli(monkeypatch, capsys, "models")
    assert code in (0, None), err
    colorizers, _, classifiers = out.partition("scene classifiers")
    assert classifiers, out
    assert not re.search(r"^\W*classifier\W", colorizers, re.MULTILINE)
    assert re.search(r"^\W*classifier\W", classifiers, re.MULTILINE)


ABSOLUTE_PATH = re.compile(r"(?:^|[\s'\"(=])(?:/|[A-Za-z]:\\)[^\s'\"]*")


class PathLeaking(ColorizerBase):
    """A model whose errors name files on the server."""

    kind = "leaky"

    def __init__(self, folder: Path, error: type[Exception]) -> None:
        self.folder = folder
        self.error = error

    def predict(self, nir, *, threads=None):
        raise self.error(f"{self.folder / 'weights.bin'}: broken (see {self.folder})")


@pytest.mark.parametrize("error", [ModelError, ValueError])
def test_error_bodies_name_no_server_paths(model_dir, tmp_path, error):
    leaky = create_app(PathLeaking(tmp_path, error), workers=1)
    bodies = [post(leaky, nir_png()).text]
    app = create_app(model_dir, workers=1)
    for fields in ({"model": "classifier"}, {"model": str(model_dir)}, {"guided": "5,x"}):
        bodies.append(post(app, nir_png(), **fields).text)
    bodies.append(post(app, b"not an image", name=f"{tmp_path}/x.png").text)
    for body in bodies:
        assert str(tmp_path) not in body and str(model_dir) not in body, body
        assert not ABSOLUTE_PATH.search(body), body
    assert "weights.bin: broken" in bodies[0]


# ---------------------------------------------------------------- 20: the serve command


@pytest.fixture
def no_serving(monkeypatch):
    """Record the server and the addresses ``nircolor serve`` would serve on, instead of
    serving."""
    served: list[tuple] = []

    def run(server, sockets=None):
        served.append((server, [s.getsockname() for s in sockets]))

    monkeypatch.setattr("uvicorn.Server.run", run)
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("uvicorn.run called"))
    return served


def test_cli_serve_port_0_prints_the_bound_port(monkeypatch, capsys, model_dir, no_serving):
    code, _, err = run_cli(monkeypatch, capsys, "serve", "--model", model_dir, "--port", "0")
    assert code == 0, err
    (_, addresses), *_ = no_serving
    port = addresses[0][1]
    assert port != 0
    assert f"http://127.0.0.1:{port}/" in "".join(err.split())  # rich may wrap the line


def test_cli_serve_port_in_use_is_one_line_and_prints_no_serving(
    monkeypatch, capsys, model_dir, no_serving
):
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = run_cli(
            monkeypatch, capsys, "serve", "--model", model_dir, "--port", str(port)
        )
    assert code == 1
    assert "serving" not in out + err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert not no_serving


def test_cli_serve_passes_the_limits(monkeypatch, capsys, model_dir, no_serving):
    args = ["serve", "--model", model_dir, "--port", "0", "--max-pixels", "1000000"]
    args += ["--time-limit", "7", "--body-timeout", "9", "--max-per-client", "3"]
    code, _, err = run_cli(monkeypatch, capsys, *args)
    assert code == 0, err
    (server, _), *_ = no_serving
    health = call(server.config.app, "GET", "/health").json()
    assert health["max_pixels"] == 1_000_000
    assert health["time_limit_s"] == 7 and health["body_timeout_s"] == 9
    assert health["max_per_client"] == 3
