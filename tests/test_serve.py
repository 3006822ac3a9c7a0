"""The HTTP service (``nircolor serve``): endpoints, limits, errors and concurrency."""

from __future__ import annotations

import io
import re
import struct
import sys
import threading
import time
import zlib
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from nircolor.api import colorize
from nircolor.errors import ImageReadError
from nircolor.examples import synthetic_pair
from nircolor.io import (
    encode_image,
    read_image_bytes,
    read_nir,
    to_uint,
)
from nircolor.models import ColorizerBase

from .helpers import has, requires
from .helpers.cli import run_cli
from .helpers.training import tiny_cfa_model, train_tiny_model

if has("fastapi") and has("httpx") and has("anyio"):
    import anyio
    import httpx

    from nircolor.serve import create_app

SERVE = requires("fastapi", "uvicorn", "httpx", "anyio")
"""The tests that run the app need the 'serve' extra; the one about its absence does not."""


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return train_tiny_model(tmp_path_factory.mktemp("serve-model"))


class Client:
    """A synchronous httpx client for an app, over ASGI, on one event-loop thread of its own."""

    def __init__(self, app) -> None:
        self.app = app

    def __enter__(self) -> Client:
        self._portal_context = anyio.from_thread.start_blocking_portal()
        self.portal = self._portal_context.__enter__()
        transport = httpx.ASGITransport(app=self.app)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://test")
        return self

    def __exit__(self, *exc_info) -> None:
        self.portal.call(self.client.aclose)
        self._portal_context.__exit__(*exc_info)

    def request(self, method: str, url: str, **kwargs) -> httpx.Response:
        return self.portal.call(partial(self.client.request, method, url, **kwargs))

    def get(self, url: str, **kwargs) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def head(self, url: str, **kwargs) -> httpx.Response:
        return self.request("HEAD", url, **kwargs)

    def post(self, url: str, **kwargs) -> httpx.Response:
        return self.request("POST", url, **kwargs)


@pytest.fixture(scope="module")
def client(model_dir):
    with Client(create_app(model_dir, workers=2)) as test_client:
        yield test_client


def nir_png(height: int = 48, width: int = 64, seed: int = 0) -> tuple[np.ndarray, bytes]:
    """An 8-bit NIR PNG and the float image it decodes to."""
    nir = synthetic_pair(seed, height, width)[0]
    nir = to_uint(nir).astype(np.float32) / 255
    return nir, encode_image(nir, ".png")


def post(client, data: bytes, name: str = "scene_nir.png", **fields):
    return client.post("/colorize", files={"file": (name, data)}, data=fields)


def decode(content: bytes) -> np.ndarray:
    return read_image_bytes(content, "response")


def cli_message(tmp_path: Path, name: str, data: bytes) -> str:
    """The message ``nircolor colorize`` gives for the same file, with its path as the name."""
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ImageReadError) as error:
        read_nir(path)
    return str(error.value).replace(str(path), name)


# ---------------------------------------------------------------- results


@SERVE
def test_png_round_trip_matches_the_api(client, model_dir):
    nir, data = nir_png(48, 64)
    response = post(client, data)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-nircolor-size"] == "64x48"
    assert 'filename="scene_rgb.png"' in response.headers["content-disposition"]  # pair name
    rgb = decode(response.content)
    assert rgb.shape == (48, 64, 3)
    expected = to_uint(colorize(nir, model=str(model_dir)))
    assert np.array_equal(to_uint(rgb), expected)


@pytest.mark.parametrize(("extension", "bit_depth"), [(".tif", 16), (".jpg", 8), (".bmp", 8)])
@SERVE
def test_other_formats(client, extension, bit_depth):
    nir = synthetic_pair(1, 40, 56)[0]
    response = post(client, encode_image(nir, extension, bit_depth), name=f"x{extension}")
    assert response.status_code == 200, response.text
    assert decode(response.content).shape == (40, 56, 3)


@SERVE
def test_grey_saved_as_rgb_is_accepted(client):
    nir = synthetic_pair(2, 32, 32)[0]
    data = encode_image(np.repeat(nir[:, :, None], 3, axis=2), ".png")
    response = post(client, data)
    assert response.status_code == 200, response.text


@SERVE
def test_guided_parameter(client, model_dir):
    nir, data = nir_png(48, 64, seed=3)
    plain = post(client, data)
    guided = post(client, data, guided="5,1e-5")
    assert guided.status_code == 200, guided.text
    assert guided.content != plain.content
    expected = to_uint(colorize(nir, model=str(model_dir), guided=(5, 1e-5)))
    assert np.array_equal(to_uint(decode(guided.content)), expected)
    assert post(client, data, guided=" ").content == plain.content  # blank means off


@pytest.mark.parametrize("text", ["5", "0,1e-5", "5,-1", "x,y", "5,1e-5,2"])
@SERVE
def test_bad_guided_is_400(client, text):
    from nircolor.filters import GuidedFilter

    response = post(client, nir_png()[1], guided=text)
    assert response.status_code == 400
    with pytest.raises(ValueError) as error:
        GuidedFilter.parse(text)
    assert response.json() == {"error": f"guided: {error.value}"}


@SERVE
def test_model_field(client, model_dir):
    data = nir_png()[1]
    named = post(client, data, model="tiny-l3")
    assert named.status_code == 200, named.text
    assert named.content == post(client, data).content
    assert named.headers["x-nircolor-model"] == "tiny-l3"


@pytest.mark.parametrize("name", ["nonexistent", "/etc", "../tiny-l3"])
@SERVE
def test_unknown_model_is_400_and_paths_are_not_followed(client, name):
    response = post(client, nir_png()[1], model=name)
    assert response.status_code == 400
    shown = name.rsplit("/", 1)[-1] if name.startswith("/") else name  # no server paths
    assert response.json()["error"].startswith(f"unknown model '{shown}': not a registered name")


# ---------------------------------------------------------------- other endpoints


@SERVE
def test_models(client):
    response = client.get("/models")
    assert response.status_code == 200
    models = response.json()
    assert isinstance(models, list) and models
    default = [m for m in models if m["default"]]
    assert len(default) == 1
    assert default[0]["name"] == "tiny-l3" and default[0]["kind"] == "l3"
    assert default[0]["size_bytes"] > 0


@SERVE
def test_health(client):
    response = client.get("/health")
    assert response.status_code == 200
    health = response.json()
    assert health["status"] == "ok"
    assert health["model"] == "tiny-l3"
    assert health["workers"] == 2
    assert health["max_upload_bytes"] == 25_000_000
    assert health["max_pixels"] == 4_000_000


@SERVE
def test_page_is_self_contained(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    for needle in ('id="file"', 'id="slider"', 'id="download"', "colorize"):
        assert needle in page
    assert "http://" not in page and "https://" not in page and "//cdn" not in page
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert client.head("/").status_code == 200


@SERVE
def test_unknown_route_is_json(client):
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.json() == {"error": "Not Found"}


@SERVE
def test_fake_model_object():
    class Sepia(ColorizerBase):
        kind = "sepia"

        def predict(self, nir):
            return np.stack([nir, 0.8 * nir, 0.6 * nir], axis=2).astype(np.float32)

    with Client(create_app(Sepia(), workers=1)) as test_client:
        models = test_client.get("/models").json()
        served = [m for m in models if m["name"] == "sepia"]
        assert len(served) == 1 and served[0]["default"]
        assert sum(bool(m["default"]) for m in models) == 1
        response = post(test_client, nir_png(16, 24)[1])
        assert response.status_code == 200
        rgb = decode(response.content)
        assert rgb.shape == (16, 24, 3)
        assert np.all(rgb[:, :, 0] >= rgb[:, :, 2])


# ---------------------------------------------------------------- limits


@SERVE
def test_too_large_upload_is_413(model_dir):
    data = nir_png(64, 64)[1]
    with Client(create_app(model_dir, max_upload_bytes=len(data) - 1)) as small:
        response = post(small, data)
        assert response.status_code == 413
        assert response.json()["error"].startswith("upload too large")
        # a body far over the limit is refused from its Content-Length alone
        response = post(small, data * 100)
        assert response.status_code == 413
    with Client(create_app(model_dir, max_upload_bytes=len(data))) as exact:
        assert post(exact, data).status_code == 200


@SERVE
def test_too_large_streamed_upload_is_413_without_reading_it_all(model_dir):
    app = create_app(model_dir, max_upload_bytes=10_000)
    boundary = "nircolorboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    sent = []

    async def body():
        yield head
        for _ in range(1000):  # 1000 × 64 KiB = 64 MB if it were all read
            sent.append(1)
            yield b"\0" * 65536

    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return await c.post(
                "/colorize",
                content=body(),
                headers={"content-type": f"multipart/form-data; boundary={boundary}"},
            )

    response = anyio.run(main)
    assert response.status_code == 413
    assert response.json()["error"].startswith("upload too large")
    assert len(sent) < 10


def png_header_only(width: int, height: int) -> bytes:
    """A PNG signature and IHDR announcing a huge image, with no pixel data at all."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + chunk + struct.pack(">I", zlib.crc32(chunk[4:]))


@SERVE
def test_too_many_pixels_is_413(model_dir):
    with Client(create_app(model_dir, max_pixels=40 * 40)) as small:
        assert post(small, nir_png(40, 40)[1]).status_code == 200
        response = post(small, nir_png(41, 40)[1], name="tall.png")
        assert response.status_code == 413
        assert response.json() == {
            "error": "tall.png: image of 40x41 pixels is larger than the limit of 1,600 pixels"
        }


@SERVE
def test_pixel_limit_comes_from_the_header_before_decoding(client):
    # 100k × 100k with no data: decoding would fail (400), the header check answers 413
    response = post(client, png_header_only(100_000, 100_000), name="bomb.png")
    assert response.status_code == 413
    assert "100000x100000 pixels is larger than the limit" in response.json()["error"]
    tiff = io.BytesIO()
    import tifffile

    tifffile.imwrite(tiff, np.zeros((6000, 5000), np.uint8), compression="zlib")
    response = post(client, tiff.getvalue(), name="big.tif")
    assert response.status_code == 413
    assert "5000x6000 pixels" in response.json()["error"]


# ---------------------------------------------------------------- bad input


@SERVE
def test_text_file_is_400(client, tmp_path):
    data = b"this is not an image\n"
    response = post(client, data, name="notes.png")
    assert response.status_code == 400
    assert response.json() == {"error": cli_message(tmp_path, "notes.png", data)}
    assert response.json()["error"] == "notes.png: not an image file (or an unsupported format)"


@SERVE
def test_truncated_image_is_400(client, tmp_path):
    data = nir_png(64, 64)[1]
    data = data[: len(data) // 2]
    response = post(client, data, name="cut.png")
    assert response.status_code == 400
    assert response.json() == {"error": cli_message(tmp_path, "cut.png", data)}
    assert response.json()["error"].startswith("cut.png: cannot decode image")


@SERVE
def test_truncated_tiff_is_400(client, tmp_path):
    data = encode_image(synthetic_pair(0)[0], ".tif", 16)[:100]
    response = post(client, data, name="cut.tif")
    assert response.status_code == 400
    assert response.json() == {"error": cli_message(tmp_path, "cut.tif", data)}


@SERVE
def test_colour_image_as_nir_is_400(client, tmp_path):
    rgb = synthetic_pair(0)[1]
    data = encode_image(rgb, ".png")
    response = post(client, data, name="photo.png")
    assert response.status_code == 400
    assert response.json() == {"error": cli_message(tmp_path, "photo.png", data)}
    assert "this is a colour image" in response.json()["error"]


@SERVE
def test_empty_file_is_400(client):
    response = post(client, b"", name="empty.png")
    assert response.status_code == 400
    assert response.json() == {"error": "empty.png: file is empty"}


@SERVE
def test_missing_file_field_is_400(client):
    response = client.post("/colorize", data={"model": "tiny-l3"})
    assert response.status_code == 400
    assert "form field 'file'" in response.json()["error"]
    response = client.post("/colorize", content=b"raw bytes", headers={"content-type": "image/png"})
    assert response.status_code == 400


@SERVE
def test_odd_file_names_are_made_safe(client):
    response = post(client, nir_png()[1], name='../../we"ird\r\nname ü.png')
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert re.fullmatch(r'inline; filename="[A-Za-z0-9._ -]+_color\.png"', disposition)
    assert "we" in disposition and ".." not in disposition


# ---------------------------------------------------------------- concurrency


class BlockingModel(ColorizerBase):
    """A fake model whose ``predict`` waits until released, recording how many run at once."""

    kind = "blocking"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.entered = 0

    def predict(self, nir):
        with self.lock:
            self.running += 1
            self.entered += 1
            self.most = max(self.most, self.running)
        try:
            assert self.release.wait(20), "never released"
            return np.repeat(nir[:, :, None], 3, axis=2)
        finally:
            with self.lock:
                self.running -= 1


async def wait_for(condition, seconds: float = 10.0) -> None:
    with anyio.fail_after(seconds):
        while not condition():
            await anyio.sleep(0.01)


@SERVE
def test_health_answers_while_colorizations_run():
    model = BlockingModel()
    app = create_app(model, workers=2)
    data = nir_png(16, 16)[1]
    results: list[httpx.Response] = []

    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:

            async def one():
                results.append(await c.post("/colorize", files={"file": ("a.png", data)}))

            async with anyio.create_task_group() as tasks:
                for _ in range(4):
                    tasks.start_soon(one)
                await wait_for(lambda: model.entered == 2)
                start = time.perf_counter()
                with anyio.fail_after(2):
                    health = (await c.get("/health")).json()
                assert time.perf_counter() - start < 1.0
                assert health["running"] == 2 and health["pending"] == 4
                assert (await c.get("/models")).status_code == 200
                await anyio.sleep(0.2)
                assert model.entered == 2  # the other two wait for a worker
                model.release.set()

    anyio.run(main)
    assert [r.status_code for r in results] == [200] * 4
    assert model.most == 2


@SERVE
def test_busy_server_answers_503():
    model = BlockingModel()
    app = create_app(model, workers=1, max_pending=1)
    data = nir_png(16, 16)[1]

    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            first: list[httpx.Response] = []

            async def one():
                first.append(await c.post("/colorize", files={"file": ("a.png", data)}))

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(one)
                await wait_for(lambda: model.entered == 1)
                second = await c.post("/colorize", files={"file": ("b.png", data)})
                model.release.set()
            return first[0], second

    first, second = anyio.run(main)
    assert first.status_code == 200
    assert second.status_code == 503
    assert second.headers["retry-after"] == "1"
    assert second.json()["error"].startswith("server busy")


@SERVE
def test_create_app_checks_its_arguments(model_dir):
    from nircolor.errors import ModelError

    with pytest.raises(ModelError):
        create_app("no-such-model")
    with pytest.raises(ValueError):
        create_app(model_dir, workers=0)
    with pytest.raises(ValueError):
        create_app(model_dir, max_upload_bytes=0)


# ---------------------------------------------------------------- command line


def test_cli_serve_without_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    code, _, err = run_cli(monkeypatch, capsys, "serve")
    assert code == 1
    assert "needs the serve extra" in err and "pip install 'nircolor[serve]'" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0"], "--workers must be 1 to 64"),
        (["--workers", "100000"], "--workers must be 1 to 64"),
        (["--max-upload-mb", "nan"], "--max-upload-mb must be positive"),
        (["--max-upload-mb", "inf"], "--max-upload-mb must be positive"),
        (["--time-limit", "nan"], "--time-limit must be positive"),
        (["--body-timeout", "nan"], "--body-timeout must be positive"),
        (["--port", "70000"], "--port must be between"),
        (["--max-upload-mb", "0"], "must be positive"),
        (["--model", "no-such-model"], "unknown model 'no-such-model'"),
    ],
)
@SERVE
def test_cli_serve_bad_options(monkeypatch, capsys, model_dir, args, message):
    if "--model" not in args:
        args = [*args, "--model", model_dir]
    monkeypatch.setattr("uvicorn.Server.run", lambda *a, **k: pytest.fail("server started"))
    code, _, err = run_cli(monkeypatch, capsys, "serve", *args)
    assert code == 1
    assert message in err and len(err.strip().splitlines()) == 1


@SERVE
def test_cli_serve_starts_uvicorn(monkeypatch, capsys, model_dir):
    calls = []

    def run(server, sockets):
        calls.append((server, [s.getsockname() for s in sockets]))

    monkeypatch.setattr("uvicorn.Server.run", run)
    args = ["serve", "--model", model_dir, "--port", "0", "--workers", "3"]
    code, _, err = run_cli(monkeypatch, capsys, *args)
    assert code == 0, err
    assert "serving model" in err
    (server, addresses), *_ = calls
    assert addresses[0][0] == "127.0.0.1"
    with Client(server.config.app) as test_client:
        assert test_client.get("/health").json()["workers"] == 3


# ---------------------------------------------------------------- raw mosaics


@SERVE
def test_a_cfa_model_serves_16_bit_mosaics_and_refuses_ordinary_images():
    from nircolor.cfa import read_mosaic_bytes

    model = tiny_cfa_model(seed=5)
    rng = np.random.default_rng(5)
    raw = (rng.random((20, 30)) * 65535).astype(np.uint16)
    data = encode_image(raw, ".png", bit_depth=16)
    with Client(create_app(model, workers=1)) as cfa_client:
        response = post(cfa_client, data, name="raw.png")
        assert response.status_code == 200, response.text
        expected = colorize(read_mosaic_bytes(data), model)
        np.testing.assert_allclose(decode(response.content), expected, atol=1 / 255 + 1e-6)
        refused = post(cfa_client, nir_png(20, 30)[1], name="nir.png")
    assert 400 <= refused.status_code < 500
    assert "8-bit image, not a raw CFA mosaic" in refused.json()["error"]
    assert "\n" not in refused.json()["error"]


def jpeg_header_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose SOF0 header is patched to announce ``width`` × ``height``."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@SERVE
def test_an_oversized_jpeg_is_refused_with_its_width_and_height(client):
    response = post(client, jpeg_header_claiming(65000, 60000), name="bomb.jpg")
    assert response.status_code == 413
    assert "bomb.jpg: image of 65000x60000 pixels is larger" in response.json()["error"]
