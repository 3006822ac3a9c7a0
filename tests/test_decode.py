"""Decoding hostile and unusual files: PNG chunk bombs, library noise, 12-bit samples.

* A PNG chunk that claims more bytes than the file holds is refused before any decoder
  allocates for it (issue 12, item 6).
* Decoding never lets tifffile, libpng, OpenCV or Pillow print or warn: a bad file is one
  error line, a sloppy one an image (item 17).
* 12-bit samples in 16-bit files come out at full brightness when the file says so (PNG
  sBIT, TIFF BitsPerSample / MaxSampleValue) or the caller does (``input_bits``); a 16-bit
  image using under 1/16 of its range without saying so gets a warning (item 16).
"""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

import nircolor
from nircolor.errors import ImageReadError, NircolorWarning
from nircolor.io import open_rows, read_image, read_image_bytes, read_nir

from .helpers.cli import error_of_one_failed_input, run_cli
from .helpers.images import png_16bit, png_16bit_interlaced, png_bomb, png_chunk, tiff_12bit

# --------------------------------------------------------------------------------------------
# Item 6: chunk lengths are checked against the file size before decoding

_BOMB_CHILD = """
import json, resource, sys, time
from nircolor.errors import ImageReadError
from nircolor.io import read_image, read_image_bytes
path = sys.argv[1]
data = open(path, "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
messages = []
for read in (lambda: read_image(path), lambda: read_image_bytes(data, "upload.png")):
    try:
        read()
        messages.append(None)
    except ImageReadError as error:
        messages.append(str(error))
seconds = time.perf_counter() - start
grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"messages": messages, "seconds": seconds, "grown_mb": grown_kib / 1024}))
"""


def test_png_bomb_is_refused_quickly_in_bounded_memory(tmp_path):
    bomb = png_bomb()
    assert len(bomb) == 105
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb)
    src = str(Path(nircolor.__file__).resolve().parents[1])
    result = subprocess.run(
        [sys.executable, "-c", _BOMB_CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["grown_mb"] < 50, report
    assert report["seconds"] < 1.0, report
    for message in report["messages"]:
        assert message is not None and "\n" not in message
        assert "IDAT" in message and "truncated or corrupt" in message
    assert result.stderr == ""


def test_png_bomb_is_one_line_cli_error(tmp_path, monkeypatch, capsys):
    source = tmp_path / "bomb.png"
    source.write_bytes(png_bomb())
    code, _, err = run_cli(monkeypatch, capsys, "colorize", source, "-o", tmp_path / "out.png")
    assert code == 1
    assert "IDAT" in error_of_one_failed_input(err)
    assert not (tmp_path / "out.png").exists()


def test_chunk_longer_than_the_file_is_refused_in_every_png(tmp_path):
    grey = np.arange(12, dtype=np.uint16).reshape(3, 4)
    data = bytearray(png_16bit(grey, extra_chunks=png_chunk(b"tEXt", b"a\x00b")))
    at = data.index(b"tEXt") - 4
    data[at : at + 4] = (2**31).to_bytes(4, "big")
    with pytest.raises(ImageReadError, match="tEXt chunk claims"):
        read_image_bytes(bytes(data), "grey.png")


# --------------------------------------------------------------------------------------------
# Item 17: no library prints or warns while decoding


def _assert_silent(capfd, caught) -> None:
    out, err = capfd.readouterr()
    assert err == "" and out == ""
    assert [str(w.message) for w in caught] == []


def _rgb16(seed=0, shape=(8, 16, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 65536, shape, dtype=np.uint16)


def test_sloppy_16bit_colour_png_decodes_without_libpng_noise(tmp_path, capfd):
    rgb = _rgb16()
    rows = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in rgb.reshape(8, -1))
    bad_profile = png_chunk(b"iCCP", b"x\x00\x00" + zlib.compress(b"junk"))
    too_much_data = zlib.compress(rows + rows)
    path = tmp_path / "sloppy.png"
    path.write_bytes(png_16bit(rgb, extra_chunks=bad_profile, pixel_data=too_much_data))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image = read_image(path)
    assert np.array_equal(np.rint(image * 65535).astype(np.uint16), rgb)
    _assert_silent(capfd, caught)


@pytest.mark.parametrize("shape", [(8, 16, 3), (5, 3, 3), (1, 1, 3), (13, 11, 3)])
def test_interlaced_16bit_colour_png_keeps_every_sample(tmp_path, capfd, shape):
    rgb = _rgb16(2, shape)
    path = tmp_path / "adam7.png"
    path.write_bytes(png_16bit_interlaced(rgb))
    image = read_image(path)
    if shape[:2] == (1, 1):
        image = image.reshape(1, 1, 3)
    assert np.array_equal(np.rint(image * 65535).astype(np.uint16), rgb)
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("damage", ["crc", "deflate", "short"])
def test_corrupt_16bit_colour_png_is_one_line_without_libpng_noise(tmp_path, capfd, damage):
    rgb = _rgb16(1)
    data = bytearray(png_16bit(rgb))
    start = data.index(b"IDAT") + 4
    if damage == "crc":
        data[data.index(b"IEND") - 8] ^= 0xFF  # the IDAT's CRC
    elif damage == "deflate":
        data[start + 4 : start + 24] = b"\xff" * 20
        data = bytearray(png_16bit(rgb, pixel_data=bytes(data[start : start + 60])))
    else:
        rows = b"\x00" + rgb[0].astype(">u2").tobytes()
        data = bytearray(png_16bit(rgb, pixel_data=zlib.compress(rows)))
    path = tmp_path / "bad.png"
    path.write_bytes(bytes(data))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ImageReadError) as error:
            read_image(path)
    assert "\n" not in str(error.value) and "bad.png" in str(error.value)
    _assert_silent(capfd, caught)


def test_tifffile_log_warnings_are_silenced(tmp_path, capfd, caplog):
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, np.full((4, 6), 7, np.uint8), software="test")
    data = bytearray(buffer.getvalue())
    count = int.from_bytes(data[8:10], "little")
    tags = [10 + 12 * i for i in range(count)]
    software = next(at for at in tags if int.from_bytes(data[at : at + 2], "little") == 305)
    data[software + 2 : software + 4] = (99).to_bytes(2, "little")  # no such TIFF type
    path = tmp_path / "odd.tif"
    path.write_bytes(bytes(data))
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.DEBUG):
        warnings.simplefilter("always")
        whole = read_nir(path)
        rows = open_rows(path)
        streamed = rows(0, 4)
        rows.close()
    assert np.array_equal(whole, np.full((4, 6), 7 / 255, np.float32))
    assert np.array_equal(streamed, whole)
    _assert_silent(capfd, caught)
    assert caplog.records == []  # outside pytest, logging's last resort prints to stderr


def test_pillow_warnings_are_silenced(tmp_path, capfd):
    palette = Image.fromarray(np.arange(16, dtype=np.uint8).reshape(4, 4)).convert("P")
    path = tmp_path / "palette.png"
    palette.save(path, transparency=b"\x00\x80" * 8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image = read_image(path)
    assert image.shape == (4, 4, 3)
    _assert_silent(capfd, caught)


# --------------------------------------------------------------------------------------------
# Item 16: 12-bit samples in 16-bit files


def _ramp(top: int, shape=(6, 10)) -> np.ndarray:
    return np.linspace(0, top, shape[0] * shape[1]).round().astype(np.uint16).reshape(shape)


def test_png_sbit_12_with_unshifted_samples_is_scaled_by_4095(tmp_path):
    grey = _ramp(4095)
    path = tmp_path / "nir12.png"
    path.write_bytes(png_16bit(grey, extra_chunks=png_chunk(b"sBIT", b"\x0c")))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nir = read_nir(path)
    assert np.allclose(nir, grey / 4095.0) and nir.max() == 1.0


def test_png_sbit_12_on_16bit_colour_png(tmp_path):
    grey = _ramp(4095)
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    path = tmp_path / "nir12rgb.png"
    path.write_bytes(png_16bit(rgb, extra_chunks=png_chunk(b"sBIT", b"\x0c\x0c\x0c")))
    assert np.allclose(read_nir(path), grey / 4095.0)


def test_png_sbit_with_samples_shifted_as_the_spec_says_keeps_the_full_range(tmp_path):
    grey = _ramp(4095) << 4
    path = tmp_path / "shifted.png"
    path.write_bytes(png_16bit(grey, extra_chunks=png_chunk(b"sBIT", b"\x0c")))
    assert np.allclose(read_nir(path), grey / 65535.0)


def test_tiff_bits_per_sample_12_is_scaled_by_4095(tmp_path):
    grey = _ramp(4095, (6, 10))
    path = tmp_path / "packed12.tif"
    path.write_bytes(tiff_12bit(grey))
    assert np.allclose(read_nir(path), grey / 4095.0)
    rows = open_rows(path)
    try:
        assert np.array_equal(rows(0, 6), read_nir(path))
    finally:
        rows.close()


@pytest.mark.parametrize("compression", [None, "zlib"])
def test_tiff_max_sample_value_is_honoured_whole_and_streamed(tmp_path, compression):
    grey = _ramp(4095, (40, 30))
    path = tmp_path / "max4095.tif"
    tifffile.imwrite(
        path, grey, compression=compression, rowsperstrip=8, extratags=[(281, "H", 1, 4095)]
    )
    whole = read_nir(path)
    assert np.allclose(whole, grey / 4095.0)
    rows = open_rows(path)
    try:
        assert np.array_equal(np.concatenate([rows(0, 17), rows(17, 40)]), whole)
    finally:
        rows.close()


def test_an_lzw_tiff_is_read_by_rows_as_whole(tmp_path, monkeypatch):
    # LZW (OpenCV's and many cameras' default) needs imagecodecs in tifffile, which nircolor
    # does not install: the rows come from Pillow's decoding of the whole image
    grey = _ramp(255, (40, 30)).astype(np.uint8)
    path = tmp_path / "lzw.tif"
    Image.fromarray(grey).save(path, compression="tiff_lzw")
    with tifffile.TiffFile(path) as tif:
        assert int(tif.pages.first.compression) not in tifffile.TIFF.DECOMPRESSORS
    rows = open_rows(path)
    try:
        assert np.array_equal(np.concatenate([rows(0, 17), rows(17, 40)]), grey / np.float32(255))
    finally:
        rows.close()
    monkeypatch.setattr("nircolor.tiling.STREAM_PIXELS", 100)  # colorize it as a large file
    monkeypatch.setattr("nircolor.api.STREAM_PIXELS", 100)
    from nircolor import colorize_file

    out = colorize_file(path, tmp_path / "lzw_rgb.png", model="l3")
    assert read_image(out).shape == (40, 30, 3)


def test_input_bits_scales_samples_and_refuses_values_too_big(tmp_path):
    grey = _ramp(1023)
    path = tmp_path / "ten.tif"
    tifffile.imwrite(path, grey)
    assert np.allclose(read_nir(path, input_bits=10), grey / 1023.0)
    png = tmp_path / "ten.png"
    png.write_bytes(png_16bit(grey))
    assert np.allclose(read_nir(png, input_bits=10), grey / 1023.0)
    assert np.allclose(read_image_bytes(png.read_bytes(), input_bits=10), grey / 1023.0)
    with pytest.raises(ImageReadError, match="1023.*more than 8 bits"):
        read_nir(path, input_bits=8)
    with pytest.raises(ValueError, match="input_bits"):
        read_nir(path, input_bits=17)


def test_input_bits_leaves_8bit_files_at_their_full_range(tmp_path):
    grey8 = np.arange(60, dtype=np.uint8).reshape(6, 10) * 4
    tifffile.imwrite(tmp_path / "eight.tif", grey8)
    assert np.allclose(read_nir(tmp_path / "eight.tif", input_bits=12), grey8 / 255.0)


def test_dim_16bit_image_without_bit_metadata_warns(tmp_path):
    path = tmp_path / "dim.tif"
    tifffile.imwrite(path, _ramp(4000))
    with pytest.warns(NircolorWarning, match=r"dim.tif.*up to 4000.*input_bits=12") as caught:
        read_nir(path)
    assert len(caught) == 1
    bright = tmp_path / "bright.tif"
    tifffile.imwrite(bright, _ramp(5000))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_nir(bright)
        read_nir(path, input_bits=12)


def test_dim_16bit_image_warns_once_when_streamed(tmp_path):
    path = tmp_path / "dim.tif"
    tifffile.imwrite(path, _ramp(3000, (40, 30)), rowsperstrip=4, compression="zlib")
    with pytest.warns(NircolorWarning, match="up to 3000") as caught:
        rows = open_rows(path)
        for top in range(0, 40, 8):
            rows(top, top + 8)
        rows.close()
    assert len(caught) == 1


def test_input_bits_flows_through_colorize_file_streamed_and_cli(
    tmp_path, tiny_model, monkeypatch, capsys
):
    from nircolor.api import colorize, colorize_file
    from nircolor.io import to_uint

    grey = (np.random.default_rng(3).random((48, 64)) * 4095).round().astype(np.uint16)
    source = tmp_path / "nir12.tif"
    tifffile.imwrite(source, grey)
    expected = to_uint(colorize(grey.astype(np.float32) / 4095, model=tiny_model))
    whole = colorize_file(source, tmp_path / "whole.png", model=tiny_model, input_bits=12)
    streamed = colorize_file(
        source, tmp_path / "streamed.png", model=tiny_model, input_bits=12, tile=32
    )
    assert np.array_equal(to_uint(read_image(whole)), expected)
    assert np.array_equal(to_uint(read_image(streamed)), expected)
    cli_out = tmp_path / "cli.png"
    code, _, err = run_cli(
        monkeypatch, capsys, "colorize", source, "-o", cli_out, "-m", tiny_model,
        "--input-bits", "12",
    )  # fmt: skip
    assert code == 0, err
    assert np.array_equal(to_uint(read_image(cli_out)), expected)
    code, _, err = run_cli(
        monkeypatch, capsys, "colorize", source, "-o", tmp_path / "x.png", "--input-bits", "0"
    )
    assert code == 1 and "--input-bits" in err and len(err.strip().splitlines()) == 1


def test_cli_prints_the_dim_image_warning_on_one_line(tmp_path, tiny_model, monkeypatch, capsys):
    source = tmp_path / "dim.tif"
    tifffile.imwrite(source, _ramp(3000, (24, 32)))
    code, _, err = run_cli(
        monkeypatch, capsys, "colorize", source, "-o", tmp_path / "out.png", "-m", tiny_model
    )
    assert code == 0
    warning_lines = [line for line in err.splitlines() if "warning" in line]
    assert len(warning_lines) == 1 and warning_lines[0].startswith("warning: ")
    assert "up to 3000" in warning_lines[0] and "--input-bits 12" in warning_lines[0]
