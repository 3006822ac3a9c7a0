"""Tests of the L3 colorizer (nircolor.models.l3): fitting, GCV, class filling, persistence."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from nircolor.errors import ModelError
from nircolor.models import load_model
from nircolor.models.l3 import (
    L3Config,
    L3Model,
    fill_sparse,
    fit_l3,
    log_cuts,
    patch_stats,
)


def textured(seed: int, height: int = 64, width: int = 64, low: float = 0.0, high: float = 1.0):
    """A random NIR texture: smooth structure, varying contrast, per-pixel noise, in [low, high]."""
    rng = np.random.default_rng(seed)
    smooth = cv2.GaussianBlur(rng.random((height, width), dtype=np.float32), (0, 0), 2.0)
    smooth = (smooth - smooth.min()) / max(float(np.ptp(smooth)), 1e-6)
    gain = cv2.resize(rng.random((3, 3), dtype=np.float32), (width, height))
    noise = rng.standard_normal((height, width)).astype(np.float32) * 0.08 * gain
    image = np.clip(smooth + noise, 0.0, 1.0)
    return (low + (high - low) * image).astype(np.float32)


def nir_set(count: int = 6, **kwargs) -> list[np.ndarray]:
    return [textured(seed, **kwargs) for seed in range(count)]


def random_model(template: L3Model, seed: int = 0, scale: float = 0.08) -> L3Model:
    """A model with the cut points of ``template`` and random weights whose output stays in
    (0, 1) for inputs in [0, 1], so that nothing is clipped."""
    rng = np.random.default_rng(seed)
    config = template.config
    k, p = config.n_classes, config.n_pixels
    weights = rng.uniform(-scale, scale, (k, 1 + p, 3)) / p
    weights[:, 0, :] = rng.uniform(0.3, 0.6, (k, 3))
    weights[:, 1 + p // 2, :] += rng.uniform(0.0, 0.3, (k, 3))  # the centre pixel matters
    return L3Model(
        config,
        weights.astype(np.float32),
        template.level_cuts,
        template.contrast_cuts,
        counts=np.zeros(k, dtype=np.int64),
        lambdas=np.zeros((k, 3)),
    )


SMALL = L3Config(patch=3, n_levels=4, n_contrasts=2, sample_fraction=1.0)


@pytest.fixture(scope="module")
def truth_and_fit():
    """A known piecewise-linear (per class) mapping and the L3 model fitted to it."""
    nirs = nir_set()
    # First fit only to obtain the quantile cut points these NIR images produce.
    cuts_model = fit_l3([(nir, np.zeros((*nir.shape, 3), np.float32)) for nir in nirs], SMALL)
    truth = random_model(cuts_model, seed=1)
    pairs = [(nir, truth.predict(nir)) for nir in nirs]
    return nirs, truth, fit_l3(pairs, SMALL)


def test_recovers_known_piecewise_linear_mapping(truth_and_fit):
    nirs, truth, model = truth_and_fit
    np.testing.assert_array_equal(model.level_cuts, truth.level_cuts)
    np.testing.assert_array_equal(model.contrast_cuts, truth.contrast_cuts)
    assert np.all(model.counts >= SMALL.min_class_samples)
    np.testing.assert_allclose(model.weights, truth.weights, atol=1e-5)
    test = textured(99)
    np.testing.assert_allclose(model.predict(test), truth.predict(test), atol=1e-5)


def test_gcv_small_lambda_without_noise_larger_with_noise(truth_and_fit):
    nirs, truth, clean = truth_and_fit
    rng = np.random.default_rng(5)
    noisy_pairs = [
        (nir, truth.predict(nir) + rng.normal(0, 0.2, (*nir.shape, 3)).astype(np.float32))
        for nir in nirs
    ]
    noisy = fit_l3(noisy_pairs, SMALL)
    # Noise-free data: GCV goes to the bottom of the grid (relative λ 1e-9); noisy: far above.
    assert np.median(noisy.lambdas / clean.lambdas) > 1e3
    assert np.all(noisy.lambdas >= clean.lambdas)


def test_channels_fit_independently_unless_lambda_is_shared(truth_and_fit):
    """Per-channel λ (the default) makes the multi-output fit three one-output fits; with
    ``shared_lambda`` every class has one λ, which changes the fit when channels differ."""
    nirs, truth, _ = truth_and_fit
    rng = np.random.default_rng(6)
    noise = (0.0, 0.05, 0.3)  # a clean, a slightly and a very noisy channel
    pairs = [
        (nir, truth.predict(nir) + rng.normal(0, noise, (*nir.shape, 3)).astype(np.float32))
        for nir in nirs
    ]
    joint = fit_l3(pairs, SMALL)
    for c in range(3):  # the channel alone (repeated three times) gives the same fit
        alone = fit_l3(
            [(nir, np.repeat(rgb[:, :, c : c + 1], 3, axis=2)) for nir, rgb in pairs], SMALL
        )
        np.testing.assert_allclose(alone.weights[:, :, 0], joint.weights[:, :, c], atol=1e-6)
        np.testing.assert_array_equal(alone.lambdas[:, 0], joint.lambdas[:, c])
    shared = fit_l3(pairs, L3Config(**{**SMALL.to_dict(), "shared_lambda": True}))
    assert shared.config.shared_lambda
    np.testing.assert_array_equal(shared.lambdas, np.repeat(shared.lambdas[:, :1], 3, axis=1))
    assert np.all(joint.lambdas[:, 0] < joint.lambdas[:, 2])  # clean vs very noisy channel
    assert not np.allclose(shared.weights, joint.weights, atol=1e-4)
    with pytest.raises(ValueError, match="shared_lambda"):
        L3Config(shared_lambda=1)


def test_output_shape_dtype_range():
    nirs = nir_set(3)
    pairs = [(nir, np.stack([nir, nir**2, 1 - nir], axis=2)) for nir in nirs]
    model = fit_l3(pairs, SMALL)
    wild = random_model(model, scale=50.0)  # huge weights: output must still be clipped
    for m in (model, wild):
        out = m.predict(textured(7, 40, 56))
        assert out.shape == (40, 56, 3)
        assert out.dtype == np.float32
        assert out.min() >= 0.0 and out.max() <= 1.0
    # float64 and (H, W, 1) input are accepted; threads do not change the result
    image = textured(8, 50, 70).astype(np.float64)
    single = model.predict(image, threads=1)
    np.testing.assert_array_equal(single, model.predict(image[:, :, None], threads=4))
    with pytest.raises(ValueError):
        model.predict(np.zeros((4, 4, 3), np.float32))


@pytest.fixture(scope="module")
def patch5_model():
    pairs = [(nir, np.stack([nir] * 3, axis=2)) for nir in nir_set(2)]
    return fit_l3(pairs, L3Config(patch=5, n_levels=3, n_contrasts=2))


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (1, 9), (2, 5), (7, 1)])
def test_tiny_images(shape, patch5_model):
    model = patch5_model
    nir = np.random.default_rng(0).random(shape, dtype=np.float32)
    out = model.predict(nir)
    assert out.shape == (*shape, 3) and out.dtype == np.float32
    assert np.all(np.isfinite(out))
    level, contrast = patch_stats(nir, 5)
    assert level.shape == shape and contrast.shape == shape


def test_patch_stats_match_direct_computation():
    nir = textured(3, 9, 11)
    level, contrast = patch_stats(nir, 3)
    padded = np.pad(nir, 1, mode="symmetric")
    for y, x in [(0, 0), (4, 5), (8, 10), (0, 10)]:
        patch = padded[y : y + 3, x : x + 3]
        assert level[y, x] == pytest.approx(patch.mean(), abs=1e-6)
        assert contrast[y, x] == pytest.approx(patch.std(), abs=1e-3)


def test_save_load_roundtrip(tmp_path, truth_and_fit):
    _, _, model = truth_and_fit
    folder = tmp_path / "model"
    model.save(folder)
    config = json.loads((folder / "config.json").read_text())
    assert config["kind"] == "l3"
    for key in ("patch", "n_levels", "n_contrasts", "cuts", "symmetric", "min_samples_factor"):
        assert config[key] == getattr(SMALL, key)
    with np.load(folder / "weights.npz", allow_pickle=False) as data:
        assert data["weights"].shape == (SMALL.n_classes, 1 + SMALL.n_pixels, 3)
        assert set(data.files) >= {"weights", "level_cuts", "contrast_cuts", "counts", "lambdas"}
    loaded = load_model(folder)
    assert isinstance(loaded, L3Model) and loaded.kind == "l3"
    assert loaded.config == model.config
    image = textured(11, 45, 61)
    np.testing.assert_array_equal(loaded.predict(image), model.predict(image))


def _saved(tmp_path, truth_and_fit):
    folder = tmp_path / "model"
    truth_and_fit[2].save(folder)
    return folder


def test_corrupt_weights_file(tmp_path, truth_and_fit):
    folder = _saved(tmp_path, truth_and_fit)
    (folder / "weights.npz").write_bytes(b"this is not a zip file")
    with pytest.raises(ModelError, match="weights"):
        load_model(folder)
    (folder / "weights.npz").write_bytes((folder / "weights.npz").read_bytes()[:5])
    with pytest.raises(ModelError):
        load_model(folder)
    (folder / "weights.npz").unlink()
    with pytest.raises(ModelError, match="missing"):
        load_model(folder)


def test_invalid_weights_content(tmp_path, truth_and_fit):
    folder = _saved(tmp_path, truth_and_fit)
    with np.load(folder / "weights.npz") as data:
        arrays = dict(data)

    def rewrite(**changes):
        np.savez(folder / "weights.npz", **{**arrays, **changes})

    rewrite(weights=arrays["weights"][:, :-1])  # wrong shape
    with pytest.raises(ModelError, match="shape"):
        load_model(folder)
    rewrite(level_cuts=arrays["level_cuts"][::-1].copy())  # not sorted
    with pytest.raises(ModelError, match="non-decreasing"):
        load_model(folder)
    broken = arrays["weights"].copy()
    broken[0, 0, 0] = np.nan
    rewrite(weights=broken)
    with pytest.raises(ModelError, match="finite"):
        load_model(folder)
    rewrite(weights=np.array([{"a": 1}], dtype=object))  # would need pickle
    with pytest.raises(ModelError):
        load_model(folder)
    arrays.pop("lambdas")
    rewrite()
    with pytest.raises(ModelError, match="lambdas"):
        load_model(folder)


def test_invalid_config(tmp_path, truth_and_fit):
    folder = _saved(tmp_path, truth_and_fit)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "patch": 4}))
    with pytest.raises(ModelError, match="config"):
        load_model(folder)
    (folder / "config.json").write_text(json.dumps({**config, "n_levels": 5}))
    with pytest.raises(ModelError, match="shape"):
        load_model(folder)
    (folder / "config.json").write_text(json.dumps({**config, "symmetric": "yes"}))
    with pytest.raises(ModelError, match="symmetric"):
        load_model(folder)
    (folder / "config.json").write_text(json.dumps({**config, "format_version": 99}))
    with pytest.raises(ModelError, match="version"):
        load_model(folder)


def test_empty_levels_borrow_from_nearest_level():
    # NIR only in [0.3, 1]: with log cuts the level bins below 0.3 get no samples.
    nirs = nir_set(4, low=0.3, high=1.0)
    pairs = [(nir, np.stack([nir, 0.5 * nir, 1 - nir], axis=2)) for nir in nirs]
    config = L3Config(patch=3, n_levels=8, n_contrasts=2, cuts="log", sample_fraction=1.0)
    model = fit_l3(pairs, config)
    levels, contrasts = np.divmod(np.arange(config.n_classes), config.n_contrasts)
    enough = model.counts >= config.min_class_samples
    assert not enough[levels == 0].any() and enough.any()
    for k in np.flatnonzero(~enough):
        source = model.source[k]
        assert enough[source]
        assert contrasts[source] == contrasts[k]
        same = np.flatnonzero(enough & (contrasts == contrasts[k]))
        assert abs(levels[source] - levels[k]) == np.abs(levels[same] - levels[k]).min()
        np.testing.assert_array_equal(model.weights[k], model.weights[source])
    # a dark image (all in borrowed classes) is still rendered sensibly
    out = model.predict(textured(50, low=0.0, high=0.05))
    assert np.all(np.isfinite(out))


def test_fill_sparse_rules():
    config = L3Config(n_levels=4, n_contrasts=3)
    counts = np.zeros(12, dtype=np.int64)
    enough = np.zeros(12, dtype=bool)
    enough[[1 * 3 + 0, 3 * 3 + 0, 2 * 3 + 1]] = True  # (1,0), (3,0), (2,1)
    counts[enough] = 10_000
    source = fill_sparse(enough, config.n_levels, config.n_contrasts)
    assert source[0 * 3 + 0] == 1 * 3 + 0  # same contrast, nearest level
    assert source[2 * 3 + 0] == 1 * 3 + 0  # equidistant levels: the lower one
    assert source[0 * 3 + 1] == 2 * 3 + 1  # same contrast bin, two levels away
    assert source[2 * 3 + 2] == 2 * 3 + 1  # contrast bin 2 empty: nearest overall
    assert source[3 * 3 + 2] == 3 * 3 + 0  # tie (distance 2): the same level wins
    for k in np.flatnonzero(enough):
        assert source[k] == k
    with pytest.raises(ValueError):
        fill_sparse(np.zeros(12, dtype=bool), config.n_levels, config.n_contrasts)


def test_symmetric_kernels():
    nirs = nir_set(4)
    pairs = [(nir, np.stack([nir, nir**2, np.sqrt(nir)], axis=2)) for nir in nirs]
    config = L3Config(patch=5, n_levels=3, n_contrasts=2, symmetric=True)
    assert config.n_features == 1 + 9
    model = fit_l3(pairs, config)
    kernels = model.kernels()
    np.testing.assert_allclose(kernels, kernels[:, :, ::-1, :], atol=1e-6)
    np.testing.assert_allclose(kernels, kernels[:, :, :, ::-1], atol=1e-6)
    assert np.abs(kernels).max() > 0


def test_deterministic_and_input_forms():
    nirs = nir_set(3)
    pairs = [(nir, np.stack([nir, nir * nir, 1 - nir], axis=2)) for nir in nirs]
    config = L3Config(patch=3, n_levels=4, n_contrasts=2, sample_fraction=0.5, seed=3)
    calls = []
    first = fit_l3(pairs, config, progress=lambda done, total: calls.append((done, total)))
    second = fit_l3(lambda: iter(pairs), config)
    np.testing.assert_array_equal(first.weights, second.weights)
    assert calls == [(i, 6) for i in range(1, 7)]  # statistics pass + accumulation pass
    other = fit_l3(pairs, L3Config(patch=3, n_levels=4, n_contrasts=2, sample_fraction=0.5))
    assert not np.array_equal(first.weights, other.weights)
    with pytest.raises(TypeError, match="2 passes"):
        fit_l3(iter(pairs), config)
    log = L3Config(patch=3, n_levels=4, n_contrasts=2, cuts="log")
    once = fit_l3(iter(pairs), log)  # one pass is enough for fixed cut points
    np.testing.assert_array_equal(once.level_cuts, log_cuts(log)[0])
    with pytest.raises(ValueError, match="no training pairs"):
        fit_l3([], config)
    with pytest.raises(ValueError, match="does not match"):
        fit_l3([(nirs[0], np.zeros((3, 3, 3), np.float32))], config)


def test_weighting_options_train():
    nirs = nir_set(3)
    pairs = [(nir, np.stack([nir, nir * nir, 1 - nir], axis=2)) for nir in nirs]
    for weighting in ("images", "psnr"):
        config = L3Config(patch=3, n_levels=4, n_contrasts=2, weighting=weighting)
        model = fit_l3(pairs, config)
        out = model.predict(nirs[0])
        assert np.abs(out - pairs[0][1]).mean() < 0.05


def test_config_validation():
    with pytest.raises(ValueError):
        L3Config(patch=4)
    with pytest.raises(ValueError):
        L3Config(cuts="linear")
    with pytest.raises(ValueError):
        L3Config(sample_fraction=0.0)
    config = L3Config()
    assert L3Config.from_dict({**config.to_dict(), "kind": "l3", "unknown": 1}) == config


def test_bounded_weighted_statistics_sample():
    from nircolor.models.l3 import BottomK

    rng = np.random.default_rng(0)
    sample = BottomK(capacity=2000, columns=2)
    for batch in range(200):
        heavy = batch % 2 == 0
        rows = np.full((1000, 2), 1.0 if heavy else 0.0, dtype=np.float32)
        sample.add(rows, 9.0 if heavy else 1.0, rng)
        assert len(sample.keys) <= 2 * 2000 + 1000  # memory stays bounded
    kept = sample.sample()
    assert kept.shape == (2000, 2)
    assert 0.85 < kept[:, 0].mean() < 0.95  # weight 9 : 1


def naive_predict(model: L3Model, nir: np.ndarray) -> np.ndarray:
    """Pixel-by-pixel reference rendering."""
    p, r = model.patch, model.patch // 2
    padded = np.pad(nir, r, mode="symmetric")
    nc = model.config.n_contrasts
    out = np.empty((*nir.shape, 3), np.float32)
    for y in range(nir.shape[0]):
        for x in range(nir.shape[1]):
            patch = padded[y : y + p, x : x + p].astype(np.float64)
            level_bin = np.searchsorted(model.level_cuts, np.float32(patch.mean()), side="right")
            contrast = np.float32(patch.std())
            cuts = model.contrast_cuts[level_bin]
            k = level_bin * nc + np.searchsorted(cuts, contrast, side="right")
            w = model.weights[k].astype(np.float64)
            out[y, x] = np.clip(w[0] + patch.ravel() @ w[1:], 0, 1)
    return out


@pytest.mark.parametrize("per_level", [False, True])
def test_rendering_matches_pixelwise_reference(monkeypatch, per_level):
    import nircolor.models.l3.model as l3_model

    nirs = nir_set(3)
    pairs = [(nir, np.stack([nir**0.7, nir * nir, 1 - nir], axis=2)) for nir in nirs]
    config = L3Config(patch=3, n_levels=5, n_contrasts=3, contrast_per_level=per_level)
    model = fit_l3(pairs, config)
    assert (np.ptp(model.contrast_cuts, axis=0).max() > 0) == per_level
    monkeypatch.setattr(l3_model, "_RENDER_BLOCK_PIXELS", 64)  # many blocks, several threads
    nir = textured(21, 23, 17)
    expected = naive_predict(model, nir)
    classes = model.classify(nir)
    for threads in (1, 3):
        got = model.predict(nir, threads=threads)
        # pixels whose level / contrast sit within float rounding of a cut may differ
        close = np.abs(got - expected).max(axis=2) < 1e-5
        assert close.mean() > 0.99
    assert classes.shape == nir.shape and classes.max() < model.n_classes


def test_classification_bins_match_searchsorted():
    from nircolor.models.l3 import classify

    rng = np.random.default_rng(0)
    level_cuts = np.sort(rng.random(6)).astype(np.float32)
    contrast_cuts = np.sort(rng.random((7, 3)) * 0.2, axis=1).astype(np.float32)
    level = np.concatenate([rng.random(500), level_cuts]).astype(np.float32)  # ties included
    contrast = (rng.random(level.size) * 0.25).astype(np.float32)
    contrast[:7] = contrast_cuts[np.searchsorted(level_cuts, level[:7], side="right"), 1]
    expected_level = np.searchsorted(level_cuts, level, side="right")
    pairs = zip(expected_level, contrast, strict=True)
    contrast_bins = [np.searchsorted(contrast_cuts[b], c, "right") for b, c in pairs]
    expected = expected_level * 4 + contrast_bins
    np.testing.assert_array_equal(classify(level, contrast, level_cuts, contrast_cuts), expected)
    shared = np.tile(contrast_cuts[0], (7, 1))
    expected = expected_level * 4 + np.searchsorted(shared[0], contrast, side="right")
    np.testing.assert_array_equal(classify(level, contrast, level_cuts, shared), expected)


def test_tiny_training_sets_pool_classes():
    nirs = nir_set(2, height=24, width=24)
    pairs = [(nir, np.stack([nir, 0.5 * nir + 0.2, 1 - nir], axis=2)) for nir in nirs]
    # 1152 samples, 256 classes of at most a few dozen: one fit per level bin
    model = fit_l3(pairs, L3Config(n_levels=4, n_contrasts=16))
    assert model.info["pooled"] == "levels"
    assert np.abs(model.predict(nirs[0]) - pairs[0][1]).mean() < 0.02
    for level in range(4):  # every contrast bin of a level bin shares the level's fit
        block = model.weights[level * 16 : (level + 1) * 16]
        np.testing.assert_array_equal(block, np.broadcast_to(block[0], block.shape))
    # 64 samples: one fit for everything
    small = [(nir[:8, :8], rgb[:8, :8]) for nir, rgb in pairs[:1]]
    model = fit_l3(small, L3Config(patch=3, n_levels=4, n_contrasts=4))
    assert model.info["pooled"] == "all"
    assert np.all(np.isfinite(model.weights))
    with pytest.raises(ValueError, match="not enough training data"):
        fit_l3([(nir[:2, :2], rgb[:2, :2]) for nir, rgb in pairs[:1]], L3Config(patch=3))
    # the default configuration trains on a handful of small images
    model = fit_l3(pairs, L3Config())
    assert model.predict(nirs[1]).shape == (24, 24, 3)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("sample_fraction", True),
        ("min_samples", "5"),
        ("min_samples_factor", "x"),
        ("lambda_steps", 2.5),
        ("seed", None),
        ("cuts", ["log"]),
        ("max_samples_per_image", 0.5),
        ("psnr_iterations", False),
    ],
)
def test_config_fields_of_the_wrong_type_are_refused_at_load(tmp_path, truth_and_fit, name, value):
    folder = _saved(tmp_path, truth_and_fit)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, name: value}))
    with pytest.raises(ModelError) as error:
        load_model(folder)
    message = str(error.value)
    assert message.startswith(f"{folder / 'config.json'}: invalid L3 config ({name} ")
    assert len(message.splitlines()) == 1


@pytest.mark.parametrize("make", [lambda: __import__("nircolor").load_model("l3"), lambda: 3])
def test_pseudo_nir_with_a_colorizer_says_it_needs_a_reverse_model(make):
    # A colorizer used to fail in Path(): "expected str, bytes or os.PathLike object, not L3Model".
    from nircolor.api import pseudo_nir

    with pytest.raises(TypeError, match=r"needs a reverse \(RGB→NIR\) model"):
        pseudo_nir(np.zeros((8, 8, 3), np.float32), make())
