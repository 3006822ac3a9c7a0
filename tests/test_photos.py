"""Pre-training on unpaired colour photographs: the NIR stand-ins (grey, pseudo-NIR), their
cache, the epoch schedule, resume, class-matched specialists and the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from skimage.color import rgb2lab

from nircolor.errors import DataError, ModelError
from nircolor.examples import synthetic_pair
from nircolor.io import read_rgb, to_uint, write_image
from nircolor.models.l3 import ReverseL3, fit_reverse_l3

from .helpers import requires
from .helpers.cli import run_cli
from .helpers.training import tiny_config, write_pairs

TRAIN = requires("torch", "onnx", "safetensors")


def colour_photo(seed: int, height: int = 48, width: int = 64, gain: float = 1.0, offset=0.0):
    """A smooth colour picture (three independent random fields)."""
    rgb = np.stack([synthetic_pair(seed + 1000 * c, height, width)[0] for c in range(3)], axis=2)
    return np.clip(offset + gain * rgb, 0, 1).astype(np.float32)


def write_photos(root: Path, count: int = 4, **kwargs) -> Path:
    for i in range(count):
        write_image(root / f"set{i % 2}" / f"{i:03d}.png", colour_photo(i, **kwargs))
    return root


def photo_config(tmp_path: Path, data: Path, photos: Path, **overrides):
    settings = {
        "colour_photos": str(photos),
        "pretrain_epochs": 1,
        "photo_cache": str(tmp_path / "cache"),
        "report_split": None,
    }
    return tiny_config(tmp_path, data, overrides.pop("name", "m"), **{**settings, **overrides})


# ----------------------------------------------------------------------------- stand-ins


@TRAIN
def test_grey_stand_in_is_the_photos_lightness_and_bad_files_are_counted(tmp_path):
    from nircolor.train.photos import grey_stand_in, load_photo_set

    photos = write_photos(tmp_path / "photos", count=3)
    write_image(photos / "grey.png", synthetic_pair(7)[0])  # greyscale: skipped
    write_image(photos / "tiny.png", colour_photo(8, 20, 20))  # smaller than a patch
    (photos / "broken.jpg").write_bytes(b"not a jpeg at all")
    write_image(photos / "large.png", colour_photo(9, 96, 128))  # long side 128 -> 64
    data = write_pairs(tmp_path / "data")
    images, info = load_photo_set(photo_config(tmp_path, data, photos, photo_side=64))
    assert images.ids == ["large.png", "set0/000.png", "set0/002.png", "set1/001.png"]
    assert info["skipped_unreadable"] == ["broken.jpg"]
    assert (info["skipped_grey"], info["skipped_small"], info["downscaled"]) == (1, 1, 1)
    assert images.rgb[0].shape == (48, 64, 3) and images.nir[0].shape == (48, 64)
    for nir, rgb in zip(images.nir, images.rgb, strict=True):
        lightness = rgb2lab(rgb / 255.0)[..., 0] / 100.0  # skimage: D65, 2°, in float64
        np.testing.assert_allclose(grey_stand_in(rgb), lightness, atol=1e-5)
        np.testing.assert_array_equal(nir, to_uint(grey_stand_in(rgb), 8))  # stored as 8 bits
        assert np.abs(nir.astype(int) - to_uint(lightness, 8)).max() <= 1
    original = to_uint(read_rgb(photos / "set0" / "000.png"), 8)
    np.testing.assert_array_equal(images.rgb[1], original)  # small photos are not resized


@TRAIN
def test_pseudo_nir_of_a_photo_is_the_reverse_models_output(tmp_path):
    from nircolor.api import pseudo_nir
    from nircolor.train.photos import load_photo_set
    from nircolor.train.reverse import train_reverse

    data = write_pairs(tmp_path / "data", count=8)
    trained = train_reverse(data, tmp_path / "reverse")
    assert trained.info["split"] == "fit" and trained.info["holdout_mse"] < 0.05
    model_dir = tmp_path / "reverse"
    model = ReverseL3.load(model_dir)
    photos = write_photos(tmp_path / "photos")
    cfg = photo_config(tmp_path, data, photos, photo_nir="pseudo", reverse_model=str(model_dir))
    images, info = load_photo_set(cfg)
    assert info["rendered"] == 4 and info["cached"] == 0
    for nir, rgb in zip(images.nir, images.rgb, strict=True):
        expected = model.predict(rgb / np.float32(255))
        np.testing.assert_array_equal(nir, to_uint(expected, 8))
        np.testing.assert_array_equal(pseudo_nir(rgb / np.float32(255), model_dir), expected)
    assert not np.array_equal(
        images.nir[0], to_uint(rgb2lab(images.rgb[0] / 255.0)[..., 0] / 100, 8)
    )


def test_reverse_model_learns_a_known_rgb_to_nir_map_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    pairs = []
    for i in range(6):
        rgb = colour_photo(i, 40, 48)
        nir = np.clip(0.2 * rgb[..., 0] + 0.7 * rgb[..., 1] + 0.1 * rgb[..., 2], 0, 1)
        pairs.append((nir.astype(np.float32), rgb))
    model = fit_reverse_l3(pairs)
    rgb = colour_photo(99, 40, 48)
    truth = 0.2 * rgb[..., 0] + 0.7 * rgb[..., 1] + 0.1 * rgb[..., 2]
    assert np.abs(model.predict(rgb) - truth).max() < 0.01  # an affine map is learned exactly
    model.save(tmp_path / "m")
    again = ReverseL3.load(tmp_path / "m")
    assert again.digest() == model.digest()
    np.testing.assert_array_equal(again.predict(rgb), model.predict(rgb))
    (tmp_path / "m" / "weights.npz").write_bytes(rng.bytes(100))
    with pytest.raises(ModelError, match="corrupt reverse L3 model"):
        ReverseL3.load(tmp_path / "m")


@TRAIN
def test_pseudo_nir_and_its_model_are_cached_for_the_next_run(tmp_path, monkeypatch):
    from nircolor.train import photos as photo_module

    data = write_pairs(tmp_path / "data", count=8)
    photos = write_photos(tmp_path / "photos")
    cfg = photo_config(tmp_path, data, photos, photo_nir="pseudo")
    stages = []
    first, info = photo_module.load_photo_set(cfg, lambda *args: stages.append(args))
    assert info["rendered"] == 4 and info["reverse"]["cached"] is False
    assert info["reverse"]["split"] == "fit"
    assert ("rendering pseudo-NIR", 4, 4) in stages
    assert any(d.startswith("fitting the pseudo-NIR model") for d, _, _ in stages)

    def refuse(*args, **kwargs):
        raise AssertionError("the cached model and images should have been used")

    monkeypatch.setattr(photo_module, "fit_reverse_l3", refuse)
    monkeypatch.setattr(ReverseL3, "predict", refuse)
    second, info = photo_module.load_photo_set(cfg)
    assert info["cached"] == 4 and info["rendered"] == 0 and info["reverse"]["cached"]
    for a, b in zip(first.nir, second.nir, strict=True):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- schedule


@TRAIN
def test_pretraining_epochs_draw_from_the_photos_and_are_never_chosen_as_best(
    tmp_path, monkeypatch
):
    from nircolor.train import nets
    from nircolor.train.photos import in_pretraining
    from nircolor.train.tasks import ColorizeTask

    data = write_pairs(tmp_path / "data")
    photos = write_photos(tmp_path / "photos")
    cfg = photo_config(tmp_path, data, photos, epochs=4, pretrain_epochs=2)
    assert [in_pretraining(cfg, epoch) for epoch in range(4)] == [True, True, False, False]
    drawn, scores = [], iter([40.0, 30.0, 20.0, 10.0])  # the first epoch scores best
    real_epoch = nets.run_epoch

    def recording(net, optimizer, images, *args):
        drawn.append(sorted(set(images.ids)))
        return real_epoch(net, optimizer, images, *args)

    monkeypatch.setattr(nets, "run_epoch", recording)
    monkeypatch.setattr(ColorizeTask, "validate", lambda *a: {"val_psnr": next(scores)})
    result = nets.train_net(cfg)
    names = ["set0/000.png", "set0/002.png", "set1/001.png", "set1/003.png"]
    assert drawn[0] == drawn[1] == names
    assert drawn[2] == drawn[3] and not set(drawn[2]) & set(names)
    history = result.info["history"]
    assert [r.get("pretrain", False) for r in history] == [True, True, False, False]
    assert result.info["best_epoch"] == 3  # not epoch 1, a pre-training epoch
    assert result.info["photos"]["used"] == 4
    card = (result.model_path / "MODEL_CARD.md").read_text()
    assert "pre-trained for epochs 1–2 of 4 on 4 colour photographs" in card
    assert "chosen among epochs 3–4 only" in card and "L*/100" in card


@TRAIN
@pytest.mark.parametrize("photo_nir", ["grey", "pseudo"])
def test_resume_in_the_middle_of_pretraining_is_bit_exact(tmp_path, photo_nir):
    import torch
    from safetensors.torch import load_file

    from nircolor.train.nets import Reporter, train_net

    class StopAfterFirstEpoch(Reporter):
        def epoch(self, record: dict) -> None:
            raise KeyboardInterrupt

    data = write_pairs(tmp_path / "data", count=8)
    photos = write_photos(tmp_path / "photos")
    settings = {"epochs": 3, "pretrain_epochs": 2, "photo_nir": photo_nir}
    straight = train_net(photo_config(tmp_path, data, photos, name="straight", **settings))
    with pytest.raises(KeyboardInterrupt):
        train_net(
            photo_config(tmp_path, data, photos, name="cut", **settings), StopAfterFirstEpoch()
        )
    resumed = train_net(photo_config(tmp_path, data, photos, name="cut", resume=True, **settings))
    a = load_file(straight.model_path / "weights.safetensors")
    b = load_file(resumed.model_path / "weights.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    strip = lambda history: [{k: v for k, v in r.items() if k != "seconds"} for r in history]  # noqa: E731
    assert strip(straight.info["history"]) == strip(resumed.info["history"])


@TRAIN
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"colour_photos": None, "pretrain_epochs": 1}, "needs --colour-photos"),
        ({"pretrain_epochs": 0}, "must be 1 to 1"),
        ({"pretrain_epochs": 2}, "must be 1 to 1 with --epochs 2, not 2"),
        ({"epochs": 1, "pretrain_epochs": 1}, "--colour-photos needs --epochs 2 or more, not 1"),
        ({"photo_nir": "infrared"}, "unknown --photo-nir 'infrared'"),
        ({"arch": "classifier", "width": None}, "not the scene classifier"),
        ({"photo_side": 16}, "smaller than the patch"),
    ],
)
def test_invalid_photo_settings_are_refused(tmp_path, overrides, message):
    with pytest.raises(ModelError, match=message):
        photo_config(tmp_path, tmp_path, tmp_path, **overrides)


@TRAIN
def test_a_folder_without_usable_photos_is_a_data_error(tmp_path):
    from nircolor.train.photos import load_photo_set

    data = write_pairs(tmp_path / "data")
    with pytest.raises(DataError, match="no such folder of colour photographs"):
        load_photo_set(photo_config(tmp_path, data, tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no pictures here")
    with pytest.raises(DataError, match="holds no colour photographs"):
        load_photo_set(photo_config(tmp_path, data, tmp_path / "empty"))
    write_image(tmp_path / "grey" / "a.png", synthetic_pair(1)[0])
    write_image(tmp_path / "grey" / "b.png", np.repeat(synthetic_pair(2)[0][..., None], 3, 2))
    (tmp_path / "grey" / "c.jpg").write_bytes(b"")
    with pytest.raises(DataError, match=r"no usable colour photographs \(1 unreadable, 2 grey"):
        load_photo_set(photo_config(tmp_path, data, tmp_path / "grey"))


# ----------------------------------------------------------------------------- specialists


@TRAIN
def test_each_specialist_pretrains_on_the_photos_of_its_class(tmp_path):
    from nircolor.train.nets import train_net
    from nircolor.train.routed import train_specialists

    from .helpers.onnx_graphs import brightness_classifier

    data = tmp_path / "data"
    for i in range(8):  # dark and bright scenes, as the brightness classifier calls them
        nir, rgb = synthetic_pair(i)
        category = ("dark", "bright")[i % 2]
        nir, rgb = (nir * 0.4, rgb * 0.4) if category == "dark" else (0.6 + 0.4 * nir, rgb)
        write_image(data / category / f"{i:04d}_nir.png", nir)
        write_image(data / category / f"{i:04d}_rgb.png", rgb)
    photos = tmp_path / "photos"
    for i in range(5):  # 3 dark photos, 2 bright ones
        bright = i % 2 == 1
        picture = colour_photo(i, gain=0.3, offset=0.7 if bright else 0.0)
        write_image(photos / f"{'bright' if bright else 'dark'}{i}.png", picture)
    classifier = brightness_classifier(tmp_path / "classifier")
    general = train_net(tiny_config(tmp_path, data, "general", epochs=1, report_split=None))
    base = photo_config(tmp_path, data, photos, name="routed", epochs=2, lr=1e-4)
    result = train_specialists(base, str(general.model_path), str(classifier))
    config = json.loads((result.model_path / "config.json").read_text())
    assert config["training"]["photos_per_class"] == {"dark": 3, "bright": 2}
    for category, expected in (
        ("dark", ["dark0.png", "dark2.png", "dark4.png"]),
        ("bright", ["bright1.png", "bright3.png"]),
    ):
        folder = result.model_path / "specialists" / category
        training = json.loads((folder / "config.json").read_text())["training"]
        assert training["settings"]["photos"] == expected
        assert training["photos"]["used"] == len(expected)
        assert training["history"][0]["pretrain"] and "pretrain" not in training["history"][1]
    card = (result.model_path / "MODEL_CARD.md").read_text()
    assert "photos per class: bright 2, dark 3" in card


# ----------------------------------------------------------------------------- command line


def one_line_error(code, err, text):
    assert code == 1 and text in err, err
    assert len(err.strip().splitlines()) == 1, err


@TRAIN
def test_cli_pretrains_on_colour_photos(tmp_path, monkeypatch, capsys):
    data = write_pairs(tmp_path / "data")
    photos = write_photos(tmp_path / "photos")
    (photos / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    tiny = ["--steps-per-epoch", "2", "--batch", "2", "--patch", "32", "--width", "4"]
    base = ["train", "cnn", "--data", data, *tiny, "--threads", "1", "--report-split", ""]
    model = tmp_path / "cnn"
    args = [*base, "-o", model, "--epochs", "2", "--colour-photos", photos]
    pseudo = ["--photo-nir", "pseudo", "--photo-cache", tmp_path / "cache"]
    code, _, err = run_cli(monkeypatch, capsys, *args, "--pretrain-epochs", "1", *pseudo)
    assert code in (0, None), err
    card = (model / "MODEL_CARD.md").read_text()
    assert "pre-trained for epochs 1–1 of 2 on 4 colour photographs" in card
    assert "1 unreadable" in card and "broken.jpg" in card and "pseudo-NIR" in card
    out = tmp_path / "out"
    code, _, err = run_cli(monkeypatch, capsys, *base, "-o", out, "--pretrain-epochs", "1")
    one_line_error(code, err, "--pretrain-epochs needs --colour-photos")
    missing = ["--colour-photos", tmp_path / "no", "--pretrain-epochs", "1"]
    code, _, err = run_cli(monkeypatch, capsys, *base, "-o", out, *missing)
    one_line_error(code, err, "no such folder of colour photographs")
    code, _, err = run_cli(monkeypatch, capsys, *base, "-o", out, "--colour-photos", photos,
                           "--epochs", "2", "--pretrain-epochs", "2")  # fmt: skip
    one_line_error(code, err, "--pretrain-epochs must be 1 to 1")
    assert not out.exists()


def test_cli_train_reverse_writes_a_pseudo_nir_model(tmp_path, monkeypatch, capsys):
    from nircolor.api import pseudo_nir

    data = write_pairs(tmp_path / "data", count=8)
    code, _, err = run_cli(
        monkeypatch, capsys, "train", "reverse", "--data", data, "-o", tmp_path / "r"
    )
    assert code in (0, None), err
    assert "fitted RGB -> NIR on" in err and "holdout MSE" in err
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["kind"] == "l3-reverse" and config["training"]["split"] == "fit"
    nir = pseudo_nir(colour_photo(3), tmp_path / "r")
    assert nir.shape == (48, 64) and nir.dtype == np.float32
    code, _, err = run_cli(
        monkeypatch, capsys, "train", "reverse", "--data", data, "-o", tmp_path / "r"
    )
    one_line_error(code, err, "already exists")
