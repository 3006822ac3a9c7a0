"""The detector net in torch: its RoI pooling against numpy's, and a tiny training run whose
exported graphs detect exactly as the torch net does (skipped without torch)."""

from __future__ import annotations

import numpy as np

from nircolor.detection.boxes import roi_pool, roi_weights
from nircolor.io import write_image
from nircolor.models import load_model

from .helpers import has, requires
from .helpers.training import one_torch_thread, tiny_config  # noqa: F401 (fixture)

if has("torch") and has("onnx") and has("safetensors"):
    import torch

    from nircolor.nets.detector import roi_pool as torch_roi_pool
    from nircolor.train.detect import detector_spec, torch_detector
    from nircolor.train.nets import train_net

pytestmark = requires("torch", "onnx", "safetensors")


def test_torch_roi_pooling_is_numpy_roi_pooling_and_has_gradients():
    rng = np.random.default_rng(0)
    features = rng.random((4, 7, 9)).astype("f4")
    rois = np.array([[3, 2, 50, 41], [0, 0, 90, 70], [88, 60, 90, 70], [-5, -5, 200, 200]], "f4")
    expected = roi_pool(features, rois, (70, 90), 4)
    tensor = torch.from_numpy(features).requires_grad_()
    got = torch_roi_pool(tensor, roi_weights(rois, (7, 9), (70, 90), 4))
    np.testing.assert_allclose(got.detach().numpy(), expected, atol=1e-5)
    got.sum().backward()
    assert tensor.grad is not None and float(tensor.grad.abs().sum()) > 0


def write_scenes(root, count: int = 8):
    """Two 'categories' of flat-ish pictures: dark noise and bright stripes."""
    rng = np.random.default_rng(0)
    for i in range(count):
        category = ("dark", "bright")[i % 2]
        nir = rng.random((72, 96)).astype("f4") * 0.3
        if category == "bright":
            nir = 0.6 + 0.4 * (np.arange(96)[None, :] % 8 < 4) * np.ones((72, 1), "f4")
        write_image(root / category / f"{i:04d}_nir.png", nir.astype("f4"))
        write_image(root / category / f"{i:04d}_rgb.png", np.repeat(nir[:, :, None], 3, axis=2))
    return root


def test_tiny_detector_trains_exports_and_detects_as_in_torch(tmp_path):
    root = write_scenes(tmp_path / "data")
    config = tiny_config(
        tmp_path,
        root,
        "detector",
        arch="detector",
        categories=["bright", "dark"],
        epochs=1,
        steps_per_epoch=2,
        batch=2,
        patch=64,
        width=None,
        split="train",
        val_split="train",
        report_split=None,
        bn_batches=1,
    )
    result = train_net(config)
    folder = result.model_path
    assert {p.name for p in folder.iterdir()} >= {"model.onnx", "head.onnx", "config.json"}
    model = load_model(folder)
    assert model.kind == "detector" and model.categories == ["bright", "dark"]
    from safetensors.torch import load_file

    from nircolor.nets import create_net

    net = create_net("detector", **load_model(folder).trunk.config["net"])
    net.load_state_dict(load_file(folder / "weights.safetensors"))
    net.eval()
    nir = np.random.default_rng(3).random((1, 1, 90, 120)).astype("f4")
    with torch.inference_mode():
        expected = net(torch.from_numpy(nir))
        pooled = torch.rand(5, 64 * 16, generator=torch.Generator().manual_seed(0))
        logits, deltas = net.head(pooled)
    got = model.trunk.session.run(None, {"nir": nir})
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b.numpy(), atol=1e-4)
    probabilities, box_deltas = model.head.session.run(None, {"pooled": pooled.numpy()})
    np.testing.assert_allclose(probabilities, torch.softmax(logits, 1).numpy(), atol=1e-5)
    np.testing.assert_allclose(box_deltas, deltas.numpy(), atol=1e-4)
    assert model.trunk.config["export_max_abs_error"] < 1e-3
    found = model.detect(nir[0, 0], min_prob=0.0, top=5)
    reference = torch_detector(net, detector_spec(config), "cpu")(nir[0, 0])
    assert 1 <= len(found) <= 5 and len(reference) >= len(found)
    assert all(d.label in ("bright", "dark") for d in found)


def test_degraded_detector_batches_keep_their_boxes():
    from types import SimpleNamespace

    from nircolor.train.detect import DetectTask

    class Images(list):
        pass

    rng = np.random.default_rng(0)
    images = Images((rng.random((60, 80)) * 255).astype(np.uint8) for _ in range(4))
    images.nir, images.labels = list(images), [0, 1, 2, 0]

    def batch(share):
        cfg = SimpleNamespace(batch=3, patch=96, degrade=share)
        return DetectTask().batch(images, cfg, np.random.default_rng(7))

    clean, (boxes, classes, _) = batch(0.0)
    degraded, (boxes_d, classes_d, _) = batch(1.0)
    np.testing.assert_array_equal(boxes, boxes_d)
    np.testing.assert_array_equal(classes, classes_d)
    assert clean.shape == degraded.shape and degraded.dtype == np.float32
    assert np.abs(clean - degraded).mean() > 0.01
    assert 0 <= degraded.min() and degraded.max() <= 1
