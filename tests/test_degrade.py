"""Degraded NIR inputs (nircolor.degrade): the benchmark's conditions and training's random
degradations, seeded, in [0, 1]; ``--degrade`` degrades training NIR patches only, never the
truth or validation, and resumes exactly (the training tests are skipped without torch); the
light denoise of noisy inputs (nircolor.filters.denoise) leaves clean ones alone."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nircolor.degrade import (
    CONDITIONS,
    TrainingDegradation,
    add_gaussian_noise,
    add_poisson_gaussian_noise,
    blur,
    degrade_batch,
    degrade_condition,
    downscale,
    jpeg,
    random_degradation,
    rescale_down_up,
)
from nircolor.errors import ModelError
from nircolor.examples import synthetic_pair
from nircolor.filters import denoise_nir, estimate_noise
from nircolor.filters.denoise import NOISE_THRESHOLD

from .helpers import has, requires
from .helpers.cli import run_cli
from .helpers.training import one_torch_thread, tiny_config, write_pairs  # noqa: F401 (fixture)

if has("torch") and has("onnx") and has("safetensors"):
    import torch
    from safetensors.torch import load_file

    from nircolor.train.nets import Reporter, train_net
    from nircolor.train.tasks import ColorizeTask, ImageSet, predictions
else:  # a core-only install: the training tests are skipped, the module still imports
    Reporter = object

training = requires("torch", "onnx", "safetensors")
ALWAYS = TrainingDegradation(each=1.0)


def nir_image(seed: int = 0, height: int = 96, width: int = 128) -> np.ndarray:
    return synthetic_pair(seed, height, width)[0]


def every_condition(nir):
    for kind, strengths in CONDITIONS.items():
        for strength in strengths:
            yield kind, strength, degrade_condition(nir, kind, strength, seed=1)


# ----------------------------------------------------------------------------- the functions


def test_every_condition_stays_in_range_and_changes_the_image():
    nir = nir_image()
    for kind, strength, out in every_condition(nir):
        assert out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1, (kind, strength)
        if kind == "downscale":
            assert out.shape == (round(96 / strength), round(128 / strength))
            assert abs(out.mean() - nir.mean()) < 0.01  # area averaging keeps the mean
        else:
            assert out.shape == nir.shape and not np.array_equal(out, nir), (kind, strength)


def test_stronger_conditions_move_further_from_the_clean_image():
    nir = nir_image()
    for kind in ("noise", "blur", "jpeg"):
        errors = [np.abs(out - nir).mean() for k, _, out in every_condition(nir) if k == kind]
        assert errors == sorted(errors) and errors[0] > 0, kind


def test_extremes_stay_in_range():
    for image in (np.zeros((40, 40), np.float32), np.ones((40, 40), np.float32)):
        for _, _, out in every_condition(image):
            assert 0 <= out.min() and out.max() <= 1
        out = random_degradation(image, np.random.default_rng(0), ALWAYS)
        assert 0 <= out.min() and out.max() <= 1


def test_gaussian_noise_has_its_sigma_and_is_seeded():
    grey = np.full((200, 200), 0.5, np.float32)
    noisy = add_gaussian_noise(grey, 0.03, seed=4)
    assert np.std(noisy - grey) == pytest.approx(0.03, rel=0.05)
    assert np.array_equal(noisy, add_gaussian_noise(grey, 0.03, seed=4))
    assert not np.array_equal(noisy, add_gaussian_noise(grey, 0.03, seed=5))


def test_poisson_gaussian_noise_grows_with_the_signal():
    a, b = 0.01, 0.01
    for level in (0.2, 0.8):
        flat = np.full((200, 200), level, np.float32)
        variance = np.var(add_poisson_gaussian_noise(flat, a, b, seed=0) - flat)
        assert variance == pytest.approx(a * level + b * b, rel=0.06)
    with pytest.raises(ValueError):
        add_poisson_gaussian_noise(flat, -1.0, 0.0)


def test_blur_keeps_a_flat_image_and_smooths_an_edge():
    flat = np.full((32, 32), 0.3, np.float32)
    assert np.allclose(blur(flat, 2.0), 0.3, atol=1e-6)
    edge = np.zeros((32, 32), np.float32)
    edge[:, 16:] = 1
    soft = blur(edge, 2.0)
    assert 0 < soft[0, 15] < 0.5 < soft[0, 16] < 1
    assert np.array_equal(blur(edge, 0), edge)


def test_jpeg_is_one_grey_channel_and_downscale_refuses_enlarging():
    nir = nir_image()
    assert jpeg(nir, 90).shape == nir.shape
    assert np.abs(jpeg(nir, 90) - nir).mean() < np.abs(jpeg(nir, 10) - nir).mean()
    with pytest.raises(ValueError):
        jpeg(nir, 0)
    with pytest.raises(ValueError):
        downscale(nir, 0.5)
    assert rescale_down_up(nir, 3.0).shape == nir.shape
    with pytest.raises(ValueError, match="unknown degradation"):
        degrade_condition(nir, "fog", 1.0)


def test_random_degradation_is_deterministic_per_seed():
    nir = nir_image()
    first = random_degradation(nir, np.random.default_rng(7), ALWAYS)
    assert np.array_equal(first, random_degradation(nir, np.random.default_rng(7), ALWAYS))
    assert not np.array_equal(first, random_degradation(nir, np.random.default_rng(8), ALWAYS))
    assert not np.array_equal(first, nir)


def test_degrade_batch_degrades_a_share_of_the_patches():
    patches = np.stack([nir_image(i, 32, 32) for i in range(64)])[:, None]
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    assert np.array_equal(degrade_batch(patches, 0.0, rng), patches)
    assert rng.bit_generator.state == state  # off: no random number drawn
    out = degrade_batch(patches, 0.5, rng, ALWAYS)
    changed = [not np.array_equal(a, b) for a, b in zip(out, patches, strict=True)]
    assert out.shape == patches.shape and 16 < sum(changed) < 48
    assert np.array_equal(out, degrade_batch(patches, 0.5, np.random.default_rng(0), ALWAYS))
    with pytest.raises(ValueError):
        degrade_batch(patches, 1.5, rng)


# ----------------------------------------------------------------------------- training


class StopAfterFirstEpoch(Reporter):
    def epoch(self, record: dict) -> None:
        raise KeyboardInterrupt  # as if killed right after the first checkpoint


@training
def test_training_batches_degrade_the_nir_and_not_the_truth(tmp_path):
    data = write_pairs(tmp_path / "data")
    images = ImageSet()
    for i in range(4):
        images.add(*synthetic_pair(i, 48, 64))
    task = ColorizeTask()
    clean_cfg = tiny_config(tmp_path, data, "clean")
    degraded_cfg = tiny_config(tmp_path, data, "degraded", degrade=1.0, batch=16)
    clean_cfg.batch = 16
    clean_nir, clean_truth = task.batch(images, clean_cfg, np.random.default_rng(3))
    nir, truth = task.batch(images, degraded_cfg, np.random.default_rng(3))
    assert np.array_equal(truth, clean_truth)  # the truth stays clean
    assert not np.array_equal(nir, clean_nir) and 0 <= nir.min() and nir.max() <= 1
    # without the flag the NIR patches are the 8-bit data as they are
    assert np.allclose(clean_nir * 255, np.round(clean_nir * 255), atol=1e-3)
    again, _ = task.batch(images, degraded_cfg, np.random.default_rng(3))
    assert np.array_equal(nir, again)


@training
def test_validation_images_are_never_degraded(tmp_path):
    from nircolor.nets import create_net

    data = write_pairs(tmp_path / "data")
    images = ImageSet()
    images.add(*synthetic_pair(0, 48, 64))
    net = create_net("cnn", width=4, output_space="rgb")
    clean = list(predictions(net, images, tiny_config(tmp_path, data, "a"), torch.device("cpu")))
    degraded_cfg = tiny_config(tmp_path, data, "b", degrade=1.0)
    degraded = list(predictions(net, images, degraded_cfg, torch.device("cpu")))
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(clean, degraded, strict=True))


@training
def test_degraded_training_resumes_exactly_and_is_recorded(tmp_path):
    data = write_pairs(tmp_path / "data")
    straight = train_net(tiny_config(tmp_path, data, "straight", degrade=0.5))
    plain = train_net(tiny_config(tmp_path, data, "plain"))
    with pytest.raises(KeyboardInterrupt):
        train_net(tiny_config(tmp_path, data, "cut", degrade=0.5), StopAfterFirstEpoch())
    resumed = train_net(tiny_config(tmp_path, data, "cut", degrade=0.5, resume=True))
    a = load_file(straight.model_path / "weights.safetensors")
    b = load_file(resumed.model_path / "weights.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    c = load_file(plain.model_path / "weights.safetensors")
    assert not all(torch.equal(a[k], c[k]) for k in a)  # the degradations did change training
    config = json.loads((resumed.model_path / "config.json").read_text())
    assert config["training"]["settings"]["degrade"] == 0.5
    card = (resumed.model_path / "MODEL_CARD.md").read_text()
    assert "degraded inputs: 0.5 of the training NIR patches" in card
    assert "degraded inputs" not in (plain.model_path / "MODEL_CARD.md").read_text()


@training
def test_degrade_is_a_share_and_not_for_the_classifier(tmp_path):
    data = write_pairs(tmp_path / "data")
    with pytest.raises(ModelError, match="share"):
        tiny_config(tmp_path, data, "x", degrade=2.0)
    with pytest.raises(ModelError, match="does not degrade"):
        tiny_config(tmp_path, data, "y", arch="classifier", degrade=0.5)


@training
def test_cli_train_with_degrade(pair_tree, tmp_path, monkeypatch, capsys):
    model = tmp_path / "cnn"
    tiny_args = ["--epochs", "1", "--steps-per-epoch", "2", "--batch", "2", "--patch", "32"]
    args = ["train", "cnn", "--data", pair_tree, "-o", model, *tiny_args, "--width", "4"]
    code, _, err = run_cli(monkeypatch, capsys, *args, "--threads", "1", "--degrade", "0.5")
    assert code in (0, None), err
    config = json.loads((model / "config.json").read_text())
    assert config["training"]["settings"]["degrade"] == 0.5


# ----------------------------------------------------------------------------- evaluation


def test_evaluate_scores_inputs_the_caller_prepares(pair_tree):
    from nircolor.data import load_dataset, load_pair
    from nircolor.evaluate import evaluate_model

    pairs = load_dataset(pair_tree, split="all")[:3]

    def rows(evaluation):
        return [{k: v for k, v in row.items() if k != "ms"} for row in evaluation.images]

    plain = evaluate_model("l3", pairs, grey=True)
    assert rows(evaluate_model("l3", pairs, grey=True, load=load_pair)) == rows(plain)

    def blurred(pair):
        nir, rgb = load_pair(pair)
        return blur(nir, 2.0), rgb

    soft = evaluate_model("l3", pairs, grey=True, load=blurred)
    assert [r["de00"] for r in rows(soft)] != [r["de00"] for r in rows(plain)]
    assert rows(soft.grey) != rows(plain.grey)  # the grey reference sees the same inputs

    def smaller(pair):
        return tuple(downscale(image, 2) for image in load_pair(pair))

    assert evaluate_model("l3", pairs, load=smaller).summary["n"] == 3


# ----------------------------------------------------------------------------- denoise


def test_the_noise_estimate_finds_the_added_sigma():
    nir = blur(nir_image(2, 256, 256), 1.0)  # the synthetic image has noise of its own
    assert estimate_noise(nir_image(2, 256, 256)) == pytest.approx(0.05, rel=0.15)
    assert estimate_noise(nir) < NOISE_THRESHOLD
    for sigma in (0.02, 0.03, 0.06):
        noisy = add_gaussian_noise(nir, sigma, seed=0)
        assert estimate_noise(noisy) == pytest.approx(sigma, rel=0.15)
    with pytest.raises(ValueError):
        estimate_noise(np.zeros((2, 5), np.float32))


def test_denoise_leaves_a_clean_image_alone_and_cleans_a_noisy_one():
    nir = blur(nir_image(3, 256, 256), 3.0)
    same, sigma = denoise_nir(nir)
    assert sigma < NOISE_THRESHOLD and np.array_equal(same, nir) and same is not nir
    noisy = add_gaussian_noise(nir, 0.04, seed=1)
    cleaned, sigma = denoise_nir(noisy)
    assert sigma > NOISE_THRESHOLD
    assert cleaned.dtype == np.float32 and cleaned.shape == nir.shape
    assert 0 <= cleaned.min() and cleaned.max() <= 1
    assert np.mean((cleaned - nir) ** 2) < 0.7 * np.mean((noisy - nir) ** 2)  # a light denoise
    assert np.array_equal(denoise_nir(noisy, strength=0)[0], noisy)
