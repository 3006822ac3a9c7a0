"""The ``denoise`` setting of colorize (API, CLI, service; issue 24 B3): ``auto`` denoises a
noisy NIR and leaves a clean one exactly as ``off`` does; ``on`` always; bad settings are one
line; a file streamed in bands is denoised exactly as the whole; raw mosaics never are."""

from __future__ import annotations

import re
from importlib import resources

import numpy as np
import pytest

from nircolor.api import colorize, colorize_file
from nircolor.context import ColourContext
from nircolor.degrade import add_gaussian_noise, blur
from nircolor.examples import synthetic_pair
from nircolor.filters import check_denoise, denoise_input, denoise_nir, estimate_noise
from nircolor.filters.denoise import (
    DENOISE_MODES,
    NOISE_THRESHOLD,
    denoised_rows,
    filter_strength,
    noise_of_rows,
)
from nircolor.io import encode_image, read_image, write_image
from nircolor.io.stream import open_rows
from nircolor.models import ColorizerBase

from .helpers import has, requires
from .helpers.cli import run_cli

if has("fastapi") and has("httpx") and has("anyio"):
    import anyio
    import httpx

    from nircolor.serve import create_app


class Sepia(ColorizerBase):
    """Colours the NIR it is given as sepia: what it saw is visible in its output."""

    kind = "sepia"

    def predict(self, nir, *, threads=None):
        return np.stack([nir, 0.8 * nir, 0.6 * nir], axis=2).astype(np.float32)


def clean_and_noisy(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    clean = blur(synthetic_pair(seed, 128, 160)[0], 3.0)
    return clean, add_gaussian_noise(clean, 0.04, seed=seed)


def test_auto_leaves_a_clean_image_exactly_as_off():
    clean, _ = clean_and_noisy()
    assert estimate_noise(clean) < NOISE_THRESHOLD
    assert denoise_input(clean, "auto") is clean  # not even a copy
    np.testing.assert_array_equal(colorize(clean, Sepia()), colorize(clean, Sepia(), denoise="off"))


def test_auto_and_on_colour_the_denoised_nir_and_off_the_noisy_one():
    clean, noisy = clean_and_noisy(1)
    denoised = denoise_nir(noisy)[0]
    auto = colorize(noisy, Sepia())
    np.testing.assert_allclose(auto[..., 0], denoised, atol=1e-6)
    np.testing.assert_allclose(colorize(noisy, Sepia(), denoise="off")[..., 0], noisy, atol=1e-6)
    error = {
        mode: np.mean((colorize(noisy, Sepia(), denoise=mode)[..., 0] - clean) ** 2)
        for mode in ("auto", "off")
    }
    assert error["auto"] < 0.7 * error["off"]
    on = colorize(clean, Sepia(), denoise="on")[..., 0]  # always: even a clean image
    assert not np.array_equal(on, clean) and np.abs(on - clean).mean() < 0.01


@pytest.mark.parametrize(
    ("given", "mode"), [(None, "auto"), (True, "on"), (False, "off"), (" Off ", "off")]
)
def test_settings(given, mode):
    assert check_denoise(given) == mode


@pytest.mark.parametrize("bad", ["maybe", "", 1, 0.5, "auto,on"])
def test_a_bad_setting_says_what_is_expected(bad):
    with pytest.raises(ValueError, match="expected auto, on or off"):
        colorize(np.zeros((16, 16), np.float32), Sepia(), denoise=bad)


@pytest.mark.parametrize("mode", ["auto", "on", "off"])
def test_a_streamed_file_is_denoised_exactly_as_the_whole(tmp_path, mode):
    _, noisy = clean_and_noisy(2)
    source = write_image(tmp_path / "noisy_nir.png", noisy)
    whole = colorize_file(source, tmp_path / "whole.png", Sepia(), denoise=mode)
    streamed = colorize_file(source, tmp_path / "bands.png", Sepia(), tile=32, denoise=mode)
    assert np.array_equal(read_image(streamed), read_image(whole))
    nir = read_image(source)
    assert np.array_equal(read_image(whole)[..., 0], nir) == (mode == "off")


class ContextSepia(Sepia):
    """Sepia through a 64-px colour context: the context copy is made of the (denoised) NIR."""

    kind = "context-sepia"
    context = ColourContext(64, 0.05)


@pytest.mark.parametrize("mode", ["auto", "off"])
def test_a_streamed_file_with_a_context_is_the_whole_image(tmp_path, mode):
    _, noisy = clean_and_noisy(6)
    source = write_image(tmp_path / "noisy_nir.png", noisy)
    model = ContextSepia()
    whole = colorize_file(source, tmp_path / "whole.png", model, denoise=mode)
    streamed = colorize_file(source, tmp_path / "bands.png", model, tile=32, denoise=mode)
    assert np.array_equal(read_image(streamed), read_image(whole))
    plain = colorize_file(source, tmp_path / "plain.png", model, denoise="off")
    assert np.array_equal(read_image(whole), read_image(plain)) == (mode == "off")


@pytest.mark.parametrize("shape", [(1, 50), (2, 2), (2, 40), (40, 1)])
def test_images_too_small_to_measure_are_colorized_as_they_are(tmp_path, shape):
    nir = np.random.default_rng(0).random(shape, dtype=np.float32)
    for mode in ("auto", "on"):
        np.testing.assert_array_equal(
            colorize(nir, Sepia(), denoise=mode), colorize(nir, Sepia(), denoise="off")
        )
    source = write_image(tmp_path / "tiny_nir.png", nir)
    streamed = colorize_file(source, tmp_path / "bands.png", Sepia(), tile=16)
    assert read_image(streamed).shape == (*shape, 3)


def test_the_noise_of_an_image_read_in_bands_is_that_of_the_whole():
    _, noisy = clean_and_noisy(5)
    for band in (1, 2, 3, 7, 64, 500):
        assert noise_of_rows(lambda a, b: noisy[a:b], noisy.shape, band) == estimate_noise(noisy)
    h = filter_strength(estimate_noise(noisy), "auto")
    denoised = denoised_rows(lambda a, b: noisy[a:b], len(noisy), h)
    whole = denoise_input(noisy)
    for top, bottom in ((0, 40), (40, 41), (41, 128)):
        assert np.array_equal(denoised(top, bottom), whole[top:bottom])


def test_cli_denoise_option(monkeypatch, capsys, tmp_path):
    _, noisy = clean_and_noisy(3)
    source = write_image(tmp_path / "scene_nir.png", noisy)
    outputs = {}
    for mode in ("auto", "off"):
        target = tmp_path / f"{mode}.png"
        options = ["-o", target, "--model", "l3", "--denoise", mode]
        code, _, err = run_cli(monkeypatch, capsys, "colorize", source, *options)
        assert code == 0, err
        outputs[mode] = read_image(target)
    assert not np.array_equal(outputs["auto"], outputs["off"])
    code, _, err = run_cli(
        monkeypatch, capsys, "colorize", source, "-o", tmp_path / "bad.png", "--denoise", "max"
    )
    assert code == 1 and err.strip().splitlines() == [
        "error: --denoise: invalid denoise setting 'max': expected auto, on or off"
    ]
    assert not (tmp_path / "bad.png").exists()


@requires("fastapi", "uvicorn", "httpx", "anyio")
def test_service_denoise_field(tmp_path):
    _, noisy = clean_and_noisy(4)
    data = encode_image(noisy, ".png")

    async def post(**fields):
        transport = httpx.ASGITransport(app=create_app(Sepia(), workers=1))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            files = {"file": ("scene_nir.png", data)}
            return await client.post("/colorize", files=files, data=fields)

    auto, off, bad = (
        anyio.run(lambda f=f: post(**f)) for f in ({}, {"denoise": "off"}, {"denoise": "loud"})
    )
    assert auto.status_code == off.status_code == 200
    assert auto.content != off.content
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid denoise setting 'loud': expected auto, on or off"


def test_the_web_page_offers_every_setting_and_sends_it():
    page = resources.files("nircolor").joinpath("static/index.html").read_text()
    menu = page[
        page.index('<select id="denoise">') : page.index("</select>", page.index('id="denoise"'))
    ]
    offered = re.findall(r'<option value="(\w+)"', menu)
    assert sorted(offered) == sorted(DENOISE_MODES)
    assert 'body.append("denoise", $("denoise").value)' in page


@pytest.mark.parametrize(
    ("mode", "noisy", "passes"), [("off", True, 2), ("auto", False, 2), ("auto", True, 3)]
)
def test_a_streamed_file_is_read_once_more_only_to_be_denoised(
    tmp_path, monkeypatch, mode, noisy, passes
):
    """The noise is measured in the pass that makes the context copy; only a file that is
    denoised is read again, for the copy of its denoised rows."""
    import nircolor.streamed as streamed

    clean, noisy_nir = clean_and_noisy(7)
    source = write_image(tmp_path / "scene_nir.png", noisy_nir if noisy else clean)
    opened = []
    monkeypatch.setattr(streamed, "open_rows", lambda *a: opened.append(a) or open_rows(*a))
    colorize_file(source, tmp_path / "out.png", ContextSepia(), tile=32, denoise=mode)
    assert len(opened) == passes
