from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from nircolor.errors import ImageReadError, ImageWriteError
from nircolor.io import (
    decoding,
    image_size,
    open_rows,
    read_image,
    read_nir,
    read_rgb,
    to_uint,
    write_image,
)

from .helpers.cli import run_cli


def random_rgb(seed=0, shape=(20, 30, 3)):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


@pytest.mark.parametrize("extension", [".png", ".tif", ".bmp"])
def test_lossless_8bit_round_trip(tmp_path, extension):
    image = random_rgb()
    path = write_image(tmp_path / f"x{extension}", image)
    assert np.array_equal(to_uint(read_image(path)), to_uint(image))


@pytest.mark.parametrize("extension", [".png", ".tif", ".tiff"])
def test_16bit_round_trip_keeps_precision(tmp_path, extension):
    image = random_rgb(1)
    path = write_image(tmp_path / f"x{extension}", image, bit_depth=16)
    back = read_image(path)
    assert back.dtype == np.float32 and back.shape == image.shape
    assert np.abs(back - image).max() <= 0.5 / 65535 + 1e-7


def test_16bit_grey_tiff_from_another_tool(tmp_path):
    grey = (np.arange(12 * 10).reshape(12, 10) * 500).astype(np.uint16)
    tifffile.imwrite(tmp_path / "g.tiff", grey)
    nir = read_nir(tmp_path / "g.tiff")
    assert nir.shape == (12, 10)
    assert np.allclose(nir, grey / 65535.0)


def test_jpeg_round_trip_is_close(tmp_path):
    image = np.full((16, 16, 3), 0.5, np.float32)
    path = write_image(tmp_path / "x.jpg", image)
    assert np.abs(read_image(path) - 0.5).max() < 2 / 255


def test_read_nir_accepts_grey_and_equal_channels(tmp_path):
    grey = np.linspace(0, 1, 200, dtype=np.float32).reshape(10, 20)
    write_image(tmp_path / "g.png", grey)
    write_image(tmp_path / "g3.jpg", np.repeat(grey[:, :, None], 3, axis=2))
    assert read_nir(tmp_path / "g.png").shape == (10, 20)
    assert np.abs(read_nir(tmp_path / "g3.jpg") - grey).max() < 0.05


def test_read_nir_refuses_colour_image(tmp_path):
    write_image(tmp_path / "c.png", random_rgb())
    with pytest.raises(ImageReadError, match="colour image"):
        read_nir(tmp_path / "c.png")


def test_read_rgb_replicates_grey(tmp_path):
    write_image(tmp_path / "g.png", np.full((4, 5), 0.2, np.float32))
    assert read_rgb(tmp_path / "g.png").shape == (4, 5, 3)


def test_alpha_is_dropped(tmp_path):
    Image.new("RGBA", (6, 4), (10, 20, 30, 0)).save(tmp_path / "a.png")
    assert read_image(tmp_path / "a.png").shape == (4, 6, 3)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"hello, this is text\n", "not an image"),
    ],
)
def test_bad_files_give_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match=message):
        read_image(path)


def test_missing_file(tmp_path):
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "nope.png")


@pytest.mark.parametrize("reader", [read_image, read_nir, image_size, open_rows])
def test_a_folder_or_a_device_or_fifo_is_not_called_missing(tmp_path, reader):
    # They used to say "no such file"; /dev/zero and a FIFO must not be read at all.
    import os

    with pytest.raises(ImageReadError, match="is a folder"):
        reader(tmp_path)
    with pytest.raises(ImageReadError, match="/dev/zero: not a regular file"):
        reader(Path("/dev/zero"))
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)  # opening it to read would block forever
    with pytest.raises(ImageReadError, match="pipe.png: not a regular file"):
        reader(fifo)


@pytest.mark.parametrize("extension", [".png", ".jpg", ".tif"])
def test_truncated_file(tmp_path, extension):
    path = write_image(tmp_path / f"x{extension}", random_rgb(2, (64, 64, 3)))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match=str(path.name)):
        read_image(path)


def test_absurd_dimensions_are_refused_before_decoding(tmp_path):
    # A valid PNG header claiming 100000 x 100000 pixels, with no pixel data behind it.
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    path = tmp_path / "huge.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    with pytest.raises(ImageReadError, match="too large|larger than"):
        read_image(path)


def test_write_refuses_to_clobber(tmp_path):
    path = tmp_path / "out.png"
    path.write_bytes(b"precious")
    with pytest.raises(ImageWriteError, match="already exists"):
        write_image(path, random_rgb())
    assert path.read_bytes() == b"precious"
    write_image(path, random_rgb(), overwrite=True)
    assert read_image(path).shape == (20, 30, 3)


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(ImageWriteError, match="16-bit"):
        write_image(tmp_path / "out.jpg", random_rgb(), bit_depth=16)
    with pytest.raises(ImageWriteError, match="cannot write"):
        write_image(tmp_path / "out.gif", random_rgb())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((0, 0, 3), np.float32),
        np.zeros((0, 30), np.float32),
        np.zeros((20, 30, 2), np.float32),
        np.zeros((20, 30, 4), np.float32),
        0.5,
        np.random.default_rng(0).random(3),
        np.zeros((1, 20, 30, 3), np.float32),
    ],
    ids=["0x0x3", "0x30", "2-channel", "4-channel", "scalar", "1-D", "4-D"],
)
@pytest.mark.parametrize("extension", [".png", ".tif"])
def test_write_refuses_anything_but_an_image_shape_before_touching_a_file(
    tmp_path, image, extension
):
    # They used to be cv2 errors, libpng noise or (1-D) a 1 x 3 grey PNG.
    with pytest.raises(ValueError, match=r"non-empty \(H, W\) or \(H, W, 3\) array"):
        write_image(tmp_path / f"out{extension}", image)
    assert list(tmp_path.iterdir()) == []


def test_write_still_takes_bool_uint8_and_uint16_images(tmp_path):
    grey = write_image(tmp_path / "b.png", np.eye(4, dtype=bool))
    assert read_image(grey).max() == 1.0
    for dtype in (np.uint8, np.uint16):
        path = write_image(tmp_path / f"{dtype.__name__}.png", np.zeros((4, 5, 3), dtype))
        assert read_image(path).shape == (4, 5, 3)


def test_write_leaves_no_temporary_files(tmp_path):
    write_image(tmp_path / "sub" / "out.png", random_rgb())
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["out.png"]


def test_write_into_unwritable_place_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_bytes(b"x")
    with pytest.raises(ImageWriteError, match="cannot write"):
        write_image(blocker / "out.png", random_rgb())
    assert Path(blocker).read_bytes() == b"x"


def test_written_files_follow_the_umask_not_private(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        path = write_image(tmp_path / "shared.png", random_rgb())
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("compression", ["tiff_lzw", "jpeg"])
def test_tiff_with_codecs_tifffile_lacks_is_read_through_pillow(tmp_path, compression):
    grey = (np.arange(30 * 40).reshape(30, 40) % 251).astype(np.uint8)
    Image.fromarray(grey).convert("RGB").save(tmp_path / "x.tif", compression=compression)
    image = read_image(tmp_path / "x.tif")
    assert image.shape == (30, 40, 3)
    if compression == "tiff_lzw":  # lossless
        assert np.array_equal(to_uint(image[:, :, 0]), grey)


def _image_file(folder: Path, extension: str, shape=(40, 50)) -> Path:
    return write_image(folder / f"scene{extension}", random_rgb(3, (*shape, 3)).mean(axis=2))


@pytest.mark.parametrize("extension", [".png", ".jpg", ".bmp", ".tif"])
def test_images_between_pillows_limit_and_ours_are_read(tmp_path, monkeypatch, extension):
    # Pillow refuses images over 2 * MAX_IMAGE_PIXELS (178,956,970 pixels) itself; nircolor's
    # limit (400 M) is the one that counts, whole and streamed.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 400)  # Pillow would refuse 800+ pixels
    path = _image_file(tmp_path, extension)
    whole = read_nir(path)
    rows = open_rows(path)
    try:
        assert np.array_equal(rows(0, 40), whole)
    finally:
        rows.close()
    assert whole.shape == (40, 50) and image_size(path) == (40, 50)
    assert Image.MAX_IMAGE_PIXELS == 400  # Pillow's own setting is left as it was


@pytest.mark.parametrize("extension", [".png", ".jpg", ".bmp", ".tif"])
def test_every_format_gives_the_same_size_message(tmp_path, monkeypatch, extension):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 400)
    monkeypatch.setattr(decoding, "MAX_PIXELS", 1000)
    path = _image_file(tmp_path, extension)
    expected = f"{path}: image of 50x40 pixels is larger than the limit of 1,000 pixels"
    for read in (read_nir, open_rows):
        with pytest.raises(ImageReadError) as error:
            read(path)
        assert str(error.value) == expected


def test_cli_colorizes_a_streamed_png_over_pillows_limit(tmp_path, monkeypatch, capsys, tiny_model):
    from nircolor import api

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 400)
    monkeypatch.setattr(api, "STREAM_PIXELS", 1000)  # the path the CLI takes for big files
    source = _image_file(tmp_path, ".png")
    target = tmp_path / "out" / "scene.png"
    code, _, err = run_cli(monkeypatch, capsys, "colorize", source, "-o", target, "-m", tiny_model)
    assert code == 0, err
    assert read_image(target).shape == (40, 50, 3)


@pytest.mark.parametrize("extension", [".png", ".jpg", ".tif", ".bmp"])
@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_colorized_files_carry_nircolors_mark(tmp_path, tiny_model, extension, streamed):
    from nircolor.api import colorize_file
    from nircolor.io.marks import COLORIZED_BY, is_colorized, software_of

    nir = write_image(tmp_path / "nir.png", random_rgb(2, (40, 24, 1))[..., 0])
    target = tmp_path / f"rgb{extension}"
    colorize_file(nir, target, model=str(tiny_model), tile=16 if streamed else None)
    assert not is_colorized(nir)
    # BMP has nowhere to keep a mark; the other formats keep it.
    assert software_of(target) == (None if extension == ".bmp" else COLORIZED_BY)


@pytest.mark.parametrize("extension", [".png", ".jpg", ".tif", ".bmp"])
def test_a_mark_changes_nothing_else_and_odd_files_are_unmarked(tmp_path, extension):
    from nircolor.io.marks import software_of

    image = random_rgb()
    marked = write_image(tmp_path / f"a{extension}", image, software="someone")
    plain = write_image(tmp_path / f"b{extension}", image)
    assert software_of(marked) == (None if extension == ".bmp" else "someone")
    assert software_of(plain) in (None, "tifffile.py")  # tifffile names itself
    assert np.array_equal(read_image(marked), read_image(plain))
    for name, content in [
        ("t.png", marked.read_bytes()[:30]),
        ("e.jpg", b""),
        ("x.tif", b"II*\0junk"),
    ]:
        (tmp_path / name).write_bytes(content)
        assert software_of(tmp_path / name) is None
    assert software_of(tmp_path / "missing.png") is None


def test_write_takes_one_channel_as_grey(tmp_path):
    image = np.random.default_rng(1).random((4, 5, 1)).astype(np.float32)
    path = write_image(tmp_path / "grey.png", image)
    assert read_image(path).shape == (4, 5)
    assert np.abs(read_image(path) - image[..., 0]).max() <= 0.5 / 255 + 1e-6
