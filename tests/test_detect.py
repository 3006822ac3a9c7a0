"""Region detection: the numpy box arithmetic, the composites, the scores, and the shipped
``detector`` through the API, the command line and the service (no torch needed)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import nircolor
from nircolor.detection.boxes import anchors, decode, encode, iou, nms, roi_pool
from nircolor.detection.composites import PiecePool, composite_set, make_composite
from nircolor.detection.scores import mean_average_precision
from nircolor.errors import ModelError
from nircolor.examples import synthetic_pair
from nircolor.io import encode_image, read_image, read_nir, to_uint, write_image

from .helpers import has, requires
from .helpers.cli import run_cli

SERVE = requires("fastapi", "httpx", "anyio")


@pytest.fixture(scope="module")
def scene() -> np.ndarray:
    """A real-looking NIR picture: the packaged example, as floats in [0, 1]."""
    from importlib import resources

    path = resources.files("nircolor") / "examples" / "example_nir.png"
    return read_nir(path)


# ---------------------------------------------------------------- boxes


def test_nms_drops_overlaps_with_better_boxes_only():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10]], "f4")
    scores = np.array([0.6, 0.9, 0.5, 0.1], "f4")
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]
    assert nms(boxes, scores, 0.5, top=1).tolist() == [1]
    assert nms(boxes, scores, 1.0).tolist() == [1, 0, 2, 3]  # nothing over an IoU of 1


def test_encode_and_decode_are_inverse():
    rng = np.random.default_rng(0)
    corner, size = rng.uniform(0, 100, (20, 2)), rng.uniform(5, 60, (20, 2))
    reference = np.concatenate([corner, corner + size], 1).astype("f4")
    corner, size = corner + rng.uniform(-3, 3, (20, 2)), size * rng.uniform(0.7, 1.4, (20, 2))
    boxes = np.concatenate([corner, corner + size], 1).astype("f4")
    for weights in ((1, 1, 1, 1), (10, 10, 5, 5)):
        back = decode(encode(boxes, reference, weights), reference, weights)
        assert np.allclose(back, boxes, atol=1e-3)
    assert np.allclose(np.diag(iou(boxes, boxes)), 1)


def test_anchors_are_centred_on_the_cells():
    grid = anchors((3, 4), (48, 64), (16.0,), (1.0,))
    assert grid.shape == (12, 4)
    assert np.allclose(grid[0], [0, 0, 16, 16]) and np.allclose(grid[-1], [48, 32, 64, 48])


def test_roi_pool_averages_each_bin_over_its_exact_area():
    rng = np.random.default_rng(1)
    features = rng.random((3, 8, 12)).astype("f4")
    whole = roi_pool(features, np.array([[0, 0, 120, 80]], "f4"), (80, 120), 4)[0]
    blocks = features.reshape(3, 4, 2, 4, 3).mean(axis=(2, 4))  # the map's 4 × 4 blocks
    assert np.allclose(whole, blocks.ravel(), atol=1e-6)
    rois = np.array([[12.5, 7, 55, 41.3], [100, 60, 120, 80], [3, 3, 4, 4]], "f4")
    pooled = roi_pool(features, rois, (80, 120), 2).reshape(3, 3, 2, 2)
    fine = np.repeat(np.repeat(features, 40, axis=1), 40, axis=2)  # 1/4 image pixel per sample
    for r, (x0, y0, x1, y1) in enumerate(rois * 4):
        for i in range(2):
            for j in range(2):
                ys = np.linspace(y0 + (y1 - y0) * i / 2, y0 + (y1 - y0) * (i + 1) / 2, 41)
                xs = np.linspace(x0 + (x1 - x0) * j / 2, x0 + (x1 - x0) * (j + 1) / 2, 41)
                centres_y = ((ys[:-1] + ys[1:]) / 2).astype(int)
                centres_x = ((xs[:-1] + xs[1:]) / 2).astype(int)
                sampled = fine[:, centres_y][:, :, centres_x].mean(axis=(1, 2))
                assert np.allclose(pooled[r, :, i, j], sampled, atol=0.03)


def test_roi_pool_moves_smoothly_with_the_box():
    features = np.random.default_rng(2).random((2, 6, 8)).astype("f4")
    box = np.array([[10, 10, 50, 40]], "f4")
    before = roi_pool(features, box, (60, 80), 4)
    after = roi_pool(features, box + [0.5, 0, 0.5, 0], (60, 80), 4)
    assert 0 < np.abs(after - before).max() < 0.1  # no rounding to cells: a small shift counts


# ---------------------------------------------------------------- composites and scores


def constant_pool(categories=(0, 3, 5, 8)) -> PiecePool:
    """One flat image per category, its grey level 20 · (category + 1): a box's pixels tell
    which image they came from."""
    images = [np.full((120, 160), 20 * (c + 1), np.uint8) for c in categories]
    return PiecePool(images, list(categories))


def test_every_box_holds_its_own_category_and_lies_in_the_picture():
    pool = constant_pool()
    rng = np.random.default_rng(0)
    for kind in ("whole", "mosaic", "paste"):
        for _ in range(20):
            picture = make_composite(pool, rng, (96, 128), kind)
            h, w = picture.image.shape
            assert (h, w) == (96, 128) and picture.kind == kind
            boxes = picture.boxes.astype(int)
            assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= w).all()
            assert (boxes[:, 3] <= h).all() and (boxes[:, 2:] > boxes[:, :2]).all()
            assert set(picture.labels) <= set(pool.categories)
            first = 1 if kind == "paste" else 0  # the background is partly covered
            for (x0, y0, x1, y1), label in zip(boxes[first:], picture.labels[first:], strict=True):
                assert (picture.image[y0:y1, x0:x1] == 20 * (label + 1)).all()
            if kind == "mosaic":  # the cells tile the picture
                assert 2 <= len(boxes) <= 4
                assert (
                    int(np.sum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))) == h * w
                )
            if kind == "paste":
                assert (boxes[0] == [0, 0, w, h]).all() and 2 <= len(boxes) <= 3
                pasted = picture.boxes[1:]
                overlaps = iou(pasted, pasted) - np.eye(len(pasted))
                assert (overlaps <= 0).all()


def test_composites_are_reproducible_and_only_use_the_pool():
    pool = constant_pool((1, 2))
    first, again = composite_set(pool, 9, seed=4), composite_set(pool, 9, seed=4)
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a.image, b.image) and np.array_equal(a.boxes, b.boxes)
    values = set(np.unique(np.concatenate([c.image.ravel() for c in first])))
    assert values <= {40, 60}


def test_map_is_one_for_the_truth_and_zero_for_wrong_labels():
    truths = [
        (np.array([[0, 0, 50, 50], [50, 0, 100, 50]], "f4"), np.array([0, 1])),
        (np.array([[0, 0, 100, 80]], "f4"), np.array([2])),
    ]
    perfect = [[(b, int(c), 0.9) for b, c in zip(*t, strict=True)] for t in truths]
    assert mean_average_precision(perfect, truths, range(3))["map"] == pytest.approx(1.0)
    wrong = [[(b, (int(c) + 1) % 3, 0.9) for b, c in zip(*t, strict=True)] for t in truths]
    assert mean_average_precision(wrong, truths, range(3))["map"] == 0.0
    shifted = [[(b + [0, 0, 0, 40], c, p) for b, c, p in found] for found in perfect]
    strict = mean_average_precision(shifted, truths, range(3), (0.5, 0.75))
    assert 0 < strict["map"] < 1  # the boxes still hit at IoU 0.5, not at 0.75
    absent = mean_average_precision(perfect, truths, range(5))["per_category"]
    assert sorted(absent) == [0, 1, 2]  # categories without a box are not averaged


# ---------------------------------------------------------------- the API


def test_detect_gives_labelled_boxes_in_input_pixels(scene):
    found = nircolor.detect(scene, min_prob=0.0, top=20)
    assert 1 <= len(found) <= 20
    height, width = scene.shape
    probabilities = [d.probability for d in found]
    assert probabilities == sorted(probabilities, reverse=True)
    for d in found:
        assert (
            isinstance(d, nircolor.Detection)
            and d.label in nircolor.load_model("detector").categories
        )
        x0, y0, x1, y1 = d.box
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height and 0 < d.probability <= 1
    floor = nircolor.detect(scene, min_prob=probabilities[2], top=None)
    assert all(d.probability >= probabilities[2] for d in floor)
    assert nircolor.detect(scene, min_prob=0.0, top=2) == found[:2]
    assert nircolor.detect(scene, min_prob=1.0) == [] or probabilities[0] == 1.0


def test_detect_takes_arrays_as_colorize_does_and_scales_boxes_with_the_image(scene):
    found = nircolor.detect(scene, min_prob=0.0, top=5)
    assert nircolor.detect(to_uint(scene, 8), min_prob=0.0, top=5)[0].label == found[0].label
    grey_rgb = nircolor.detect(np.repeat(scene[:, :, None], 3, 2), min_prob=0.0, top=5)
    assert [d.label for d in grey_rgb] == [d.label for d in found]
    assert np.allclose([d.box for d in grey_rgb], [d.box for d in found], atol=1e-2)
    assert np.allclose([d.probability for d in grey_rgb], [d.probability for d in found], atol=1e-5)
    double = np.repeat(np.repeat(scene, 2, axis=0), 2, axis=1)  # resizes back to ``scene``
    bigger = nircolor.detect(double, min_prob=0.0, top=5)
    assert [d.label for d in bigger] == [d.label for d in found]
    assert np.allclose([d.box for d in bigger], 2 * np.array([d.box for d in found]), atol=0.05)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"min_prob": float("nan")}, "min_prob must be a number in [0, 1]"),
        ({"min_prob": -0.1}, "min_prob must be a number in [0, 1]"),
        ({"min_prob": "high"}, "min_prob must be a number in [0, 1]"),
        ({"top": 0}, "top must be a whole number from 1 to 1000"),
        ({"top": 2.5}, "top must be a whole number"),
        ({"top": True}, "top must be a whole number"),
    ],
)
def test_detect_refuses_bad_settings(scene, kwargs, error):
    with pytest.raises(ValueError, match=error.replace("[", r"\[").replace("]", r"\]")):
        nircolor.detect(scene, **kwargs)


def test_detect_refuses_bad_images_and_other_models(scene):
    colour = np.random.default_rng(0).random((32, 32, 3)).astype("f4")
    with pytest.raises(ValueError, match="colour image"):  # as colorize() refuses it
        nircolor.detect(colour)
    with pytest.raises(ValueError, match="NaN"):
        nircolor.detect(np.full((32, 32), np.nan, "f4"))
    with pytest.raises(TypeError, match="read_nir"):
        nircolor.detect("scene.png")
    with pytest.raises(ModelError, match="default: not a region detector"):
        nircolor.detect(scene, model="default")
    with pytest.raises(ModelError, match="classifier: not a region detector"):
        nircolor.detect(scene, model="classifier")
    with pytest.raises(ModelError, match="a region detector cannot colorize"):
        nircolor.colorize(scene, model="detector")
    assert "detector" not in nircolor.models.colorizer_names()


# ---------------------------------------------------------------- the command line


@pytest.fixture
def nir_files(tmp_path, scene):
    first = write_image(tmp_path / "in" / "scene_nir.png", scene)
    second = write_image(tmp_path / "in" / "small.png", synthetic_pair(3, 60, 80)[0])
    return [first, second]


def test_cli_prints_boxes_and_writes_json_and_overlays(monkeypatch, capsys, tmp_path, nir_files):
    report, pictures = tmp_path / "out" / "found.json", tmp_path / "pictures"
    args = ["detect", *nir_files, "--json", report, "--overlay", pictures, "--min-prob", "0"]
    code, out, err = run_cli(monkeypatch, capsys, *args, "--top", "3")
    assert code == 0, err
    entries = json.loads(report.read_text())
    assert [e["image"] for e in entries] == [str(p) for p in nir_files]
    lines = out.strip().splitlines()
    assert len(lines) == sum(len(e["detections"]) for e in entries) <= 6
    first = entries[0]["detections"][0]
    image, box, label, probability = lines[0].split("\t")
    assert image == str(nir_files[0]) and label == first["label"]
    assert box == ",".join(f"{v:.0f}" for v in first["box"])
    assert float(probability) == pytest.approx(first["probability"], abs=1e-4)
    expected = nircolor.detect(read_nir(nir_files[0]), min_prob=0.0, top=3)
    assert [d["label"] for d in entries[0]["detections"]] == [d.label for d in expected]
    overlay = read_image(pictures / "scene_nir_detect.png")
    assert overlay.shape == (*read_nir(nir_files[0]).shape, 3)
    assert (pictures / "small_detect.png").is_file()
    assert not list(report.parent.glob("*.part*"))  # written atomically
    code, _, err = run_cli(monkeypatch, capsys, *args)
    assert code == 1 and err.count("\n") == 1 and "already exists (use --overwrite" in err
    code, _, err = run_cli(monkeypatch, capsys, *args, "--overwrite")
    assert code == 0, err


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--min-prob", "nan"], "--min-prob must be a number in [0, 1], not 'nan'"),
        (["--min-prob", "-1"], "--min-prob must be a number in [0, 1]"),
        (["--top", "0"], "--top must be a whole number from 1 to 1000, not 0"),
        (["--top", "many"], "--top must be a whole number from 1 to 1000, not 'many'"),
        (["--top", "1e99"], "--top must be a whole number"),
        (["--model", "default"], "default: not a region detector (kind 'onnx')"),
        (["--model", "nosuch"], "unknown model 'nosuch'"),
    ],
)
def test_cli_refuses_bad_options_in_one_line(monkeypatch, capsys, nir_files, option, message):
    code, out, err = run_cli(monkeypatch, capsys, "detect", nir_files[0], *option)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and message in err, err


@pytest.mark.parametrize(
    ("kind", "message"),
    [("text", "not an image"), ("truncated", "cannot decode"), ("colour", "colour image")],
)
def test_cli_refuses_bad_images_in_one_line(
    monkeypatch, capsys, tmp_path, nir_files, kind, message
):
    folder = tmp_path / "bad"
    folder.mkdir()
    if kind == "text":
        bad = folder / "notes.png"
        bad.write_text("not an image\n")
    elif kind == "truncated":
        bad = write_image(
            folder / "cut.png", np.random.default_rng(1).random((64, 64)).astype("f4")
        )
        bad.write_bytes(bad.read_bytes()[:300])
    else:
        bad = write_image(
            folder / "c.png", np.random.default_rng(2).random((16, 16, 3)).astype("f4")
        )
    report = tmp_path / "found.json"
    code, out, err = run_cli(monkeypatch, capsys, "detect", bad, nir_files[1], "--json", report)
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("error") and message in err, err
    entries = json.loads(report.read_text())
    assert "error" in entries[0] and entries[1]["image"] == str(nir_files[1])
    assert out.startswith(str(nir_files[1]))  # the good image is still reported


# ---------------------------------------------------------------- the service


class Client:
    """Requests to an app over ASGI (httpx), one event loop per request."""

    def __init__(self, app) -> None:
        self.app = app

    def post(self, url: str, **kwargs):
        import anyio
        import httpx

        async def main():
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await client.post(url, **kwargs)

        return anyio.run(main)


@pytest.fixture(scope="module")
def client():
    if not (has("fastapi") and has("httpx") and has("anyio")):
        pytest.skip("needs the 'serve' extra")
    from nircolor.serve import create_app

    return Client(create_app("l3", workers=1))


@SERVE
def test_service_detect_answers_the_json_entry_of_the_api(client, scene):
    data = encode_image(scene, ".png")
    fields = {"min_prob": "0", "top": "4"}
    response = client.post("/detect", files={"file": ("a_nir.png", data)}, data=fields)
    assert response.status_code == 200, response.text
    entry = response.json()
    expected = nircolor.detect(read_image_from(data), min_prob=0.0, top=4)
    assert entry["image"] == "a_nir.png"
    assert entry["detections"] == [d.as_json() for d in expected]
    default = client.post("/detect", files={"file": ("a.png", data)}).json()["detections"]
    assert all(d["probability"] >= 0.5 for d in default) and len(default) <= 10


def read_image_from(data: bytes) -> np.ndarray:
    from nircolor.io import read_nir_bytes

    return read_nir_bytes(data, "upload")


@SERVE
@pytest.mark.parametrize(
    ("files", "fields", "status", "message"),
    [
        ({"file": ("x.png", b"not an image\n")}, {}, 400, "not an image"),
        ({"file": ("x.png", b"")}, {}, 400, "empty"),
        (None, {"min_prob": "0.1"}, 400, "no image"),
        ("ok", {"min_prob": "inf"}, 400, "min_prob must be a number in [0, 1]"),
        ("ok", {"top": "-3"}, 400, "top must be a whole number from 1 to 1000"),
        ("colour", {}, 400, "colour image"),
    ],
)
def test_service_detect_refuses_bad_requests_in_one_line(client, files, fields, status, message):
    if files == "ok":
        files = {"file": ("x.png", encode_image(synthetic_pair(0, 40, 40)[0], ".png"))}
    elif files == "colour":
        colour = np.random.default_rng(2).random((16, 16, 3)).astype("f4")
        files = {"file": ("x.png", encode_image(colour, ".png"))}
    response = client.post("/detect", files=files, data=fields)
    assert response.status_code == status
    error = response.json()["error"]
    assert message in error and "\n" not in error
