"""The ``size`` field of ``POST /colorize`` (issue 25): a smaller working size, bounded, with
every other limit kept."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from nircolor.api import colorize
from nircolor.context import ColourContext
from nircolor.examples import synthetic_pair
from nircolor.io import encode_image, read_image_bytes, to_uint
from nircolor.models import ColorizerBase

from .helpers import has, requires
from .helpers.training import train_tiny_model

if has("fastapi") and has("httpx") and has("anyio"):
    import anyio
    import httpx

    from nircolor.serve import create_app

pytestmark = requires("fastapi", "uvicorn", "httpx", "anyio")


class Recording(ColorizerBase):
    """Sepia of the NIR, keeping the shape of every image the service asks it to colour."""

    kind = "recording"
    context = ColourContext(96, 0.05)

    def __init__(self) -> None:
        self.shapes: list[tuple[int, int]] = []
        self.lock = threading.Lock()

    def predict(self, nir, *, threads=None):
        with self.lock:
            self.shapes.append(nir.shape)
        return np.stack([nir, 0.8 * nir, 0.6 * nir], axis=2).astype(np.float32)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return train_tiny_model(tmp_path_factory.mktemp("serve-size-model"))


def nir_png(height: int, width: int, seed: int = 0) -> tuple[np.ndarray, bytes]:
    nir = synthetic_pair(seed, height, width)[0]
    nir = to_uint(nir).astype(np.float32) / 255
    return nir, encode_image(nir, ".png")


def post(app, data: bytes, **fields) -> httpx.Response:
    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            files = {"file": ("scene_nir.png", data)}
            return await client.post("/colorize", files=files, data=fields)

    return anyio.run(main)


def test_the_model_works_at_the_size_asked_for():
    model = Recording()
    app = create_app(model, workers=1)
    _, data = nir_png(120, 160)
    assert post(app, data).status_code == 200
    assert model.shapes == [(72, 96)]  # the model's own context: 96 px
    answer = post(app, data, size="64")
    assert answer.status_code == 200, answer.text
    assert model.shapes[-1] == (48, 64)
    assert read_image_bytes(answer.content, "answer").shape == (120, 160, 3)  # full size
    _, small = nir_png(40, 60)
    assert post(app, small, size="64").status_code == 200
    assert model.shapes[-1] == (40, 60)  # smaller than the size: the image itself


def test_the_answer_is_colorize_at_that_context(model_dir):
    nir, data = nir_png(100, 140, seed=2)
    answer = post(create_app(model_dir, workers=1), data, size="80")
    assert answer.status_code == 200, answer.text
    expected = to_uint(colorize(nir, model=str(model_dir), context=ColourContext(80, 0.05)))
    assert np.array_equal(to_uint(read_image_bytes(answer.content, "answer")), expected)


@pytest.mark.parametrize("text", ["abc", "63", "97", "-5", "1e9", "64.5", "99999999999999999999"])
def test_a_bad_size_is_a_one_line_400(text):
    answer = post(create_app(Recording(), workers=1), nir_png(32, 40)[1], size=text)
    assert answer.status_code == 400
    message = answer.json()["error"]
    assert message.startswith("size must be a whole number of pixels from 64 to 96")
    assert "\n" not in message and len(message) < 200


def test_a_blank_size_is_the_models_own():
    model = Recording()
    assert post(create_app(model, workers=1), nir_png(120, 160)[1], size=" ").status_code == 200
    assert model.shapes == [(72, 96)]


def test_the_limits_still_hold_with_a_size():
    app = create_app(Recording(), workers=1, max_pixels=100 * 100)
    answer = post(app, nir_png(120, 160)[1], size="64")
    assert answer.status_code == 413 and "larger than the limit" in answer.json()["error"]
    app = create_app(Recording(), workers=1, max_upload_bytes=100)
    assert post(app, nir_png(120, 160)[1], size="64").status_code == 413
