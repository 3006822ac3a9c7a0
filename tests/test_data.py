import numpy as np
import pytest

from nircolor.data import (
    discover_pairs,
    filter_categories,
    load_dataset,
    load_pair,
    sample_patches,
    select_pairs,
    split_pairs,
)
from nircolor.errors import DataError
from nircolor.examples import synthetic_pair
from nircolor.io import write_image

from .helpers.data import write_manifest


def test_discovers_pairs_with_rgb_and_rgb_reg(pair_tree):
    pairs = discover_pairs(pair_tree)
    assert len(pairs) == 12
    assert {p.category for p in pairs} == {"country", "forest", "urban"}
    assert any(p.rgb.name.endswith("_rgb_reg.png") for p in pairs)
    nir, rgb = load_pair(pairs[0])
    assert nir.shape == rgb.shape[:2]


def test_unpaired_files_are_ignored(pair_tree):
    write_image(pair_tree / "country" / "9999_nir.png", np.zeros((8, 8), np.float32))
    assert len(discover_pairs(pair_tree)) == 12


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_made_split_is_scene_disjoint_stratified_and_seeded(pair_tree, seed):
    pairs = discover_pairs(pair_tree)
    train = split_pairs(pairs, "train", seed=seed)
    val = split_pairs(pairs, "val", seed=seed)
    assert len(train) + len(val) == len(pairs)
    assert not {p.scene for p in train} & {p.scene for p in val}
    assert {p.category for p in val} == {"country", "forest", "urban"}
    assert [p.id for p in val] == [p.id for p in split_pairs(pairs, "val", seed=seed)]


def write_split_manifest(pair_tree):
    """A manifest putting scenes 2+3 of every category in val, 0+1 in train."""
    rows = []
    for pair in discover_pairs(pair_tree):
        scene_number = int(pair.id[-1]) // 2  # scenes 0+1 and 2+3 are one scene each
        rows.append(
            {
                "nir": pair.nir.relative_to(pair_tree).as_posix(),
                "rgb": pair.rgb.relative_to(pair_tree).as_posix(),
                "category": pair.category,
                "scene": f"{pair.category}/s{scene_number}",
                "split": "val" if pair.id.endswith(("2", "3")) else "train",
            }
        )
    return write_manifest(pair_tree, rows)


def test_manifest_split_and_scenes_are_honoured(pair_tree):
    write_split_manifest(pair_tree)
    val = load_dataset(pair_tree, "val")
    assert len(val) == 6 and all(p.id.endswith(("2", "3")) for p in val)
    assert {p.scene for p in val}.isdisjoint({p.scene for p in load_dataset(pair_tree, "train")})


def test_a_manifest_above_the_data_folder_is_used_only_when_given(pair_tree):
    manifest = write_split_manifest(pair_tree)
    forest = pair_tree / "forest"
    unasked = load_dataset(forest, "all")
    assert len(unasked) == 4 and all(p.split is None for p in unasked)  # files, no manifest
    asked = load_dataset(forest, "val", manifest=manifest)
    assert {p.category for p in asked} == {"forest"} and len(asked) == 2  # its own rows only
    elsewhere = pair_tree.parent / "elsewhere"
    elsewhere.mkdir()
    with pytest.raises(DataError, match="lists no pairs under"):
        load_dataset(elsewhere, manifest=manifest)
    with pytest.raises(DataError, match="no such manifest"):
        load_dataset(forest, manifest=pair_tree / "absent.csv")


def test_the_default_split_is_every_pair_unless_the_manifest_fixes_one(pair_tree):
    made = select_pairs(pair_tree)
    assert made.manifest is None and made.split == "all" and len(made.pairs) == 12
    assert made.describe() == (
        f"data {pair_tree}: no manifest (file names); split all (every pair): 12 pairs"
    )
    manifest = write_split_manifest(pair_tree)
    fixed = select_pairs(pair_tree)
    assert fixed.manifest == manifest and fixed.split == "val" and len(fixed.pairs) == 6
    assert "split val (the manifest's split column): 6 pairs" in fixed.describe()
    drawn = select_pairs(pair_tree, "holdout", seed=3)
    assert "of the manifest's train rows, scene-disjoint, drawn with seed 3" in drawn.describe()


def test_manifest_without_split_gets_scene_disjoint_split(pair_tree):
    rows = [
        {
            "nir": p.nir.relative_to(pair_tree).as_posix(),
            "rgb": p.rgb.relative_to(pair_tree).as_posix(),
            "category": p.category,
            "scene": f"{p.category}/one-scene",
        }
        for p in discover_pairs(pair_tree)
    ]
    write_manifest(pair_tree, rows)
    # Each category is one scene: it cannot be split, so everything trains.
    assert split_pairs(discover_pairs(pair_tree), "val") == []


def test_unknown_category_and_split_are_errors(pair_tree):
    pairs = discover_pairs(pair_tree)
    with pytest.raises(DataError, match="unknown categories"):
        filter_categories(pairs, ["desert"])
    with pytest.raises(DataError, match="unknown split"):
        split_pairs(pairs, "test")
    assert len(filter_categories(pairs, ["urban"])) == 4


def test_missing_or_empty_folder(tmp_path):
    with pytest.raises(DataError, match="no such data folder"):
        discover_pairs(tmp_path / "absent")
    with pytest.raises(DataError, match="no NIR/RGB pairs"):
        discover_pairs(tmp_path)


def test_size_mismatch_is_reported(tmp_path):
    write_image(tmp_path / "a_nir.png", np.zeros((8, 8), np.float32))
    write_image(tmp_path / "a_rgb.png", np.zeros((8, 9, 3), np.float32))
    (pair,) = discover_pairs(tmp_path)
    with pytest.raises(DataError, match="differ in size"):
        load_pair(pair)


def test_patch_sampler_is_aligned_seeded_and_sized():
    images = [synthetic_pair(s, 40, 50) for s in range(3)]
    images.append(synthetic_pair(9, 10, 10))  # too small: never drawn
    nir, rgb = sample_patches(images, 32, size=16, rng=np.random.default_rng(5))
    assert nir.shape == (32, 16, 16) and rgb.shape == (32, 16, 16, 3)
    # Alignment survives the flips: the green channel is a fixed function of the NIR.
    assert np.allclose(rgb[..., 1], np.clip(0.6 * nir + 0.2, 0, 1), atol=1e-6)
    again, _ = sample_patches(images, 32, size=16, rng=np.random.default_rng(5))
    assert np.array_equal(nir, again)
    with pytest.raises(DataError, match="at least"):
        sample_patches(images, 1, size=64)


def test_holdout_splits_the_train_side_again_by_scene(pair_tree):
    pairs = discover_pairs(pair_tree)
    train = split_pairs(pairs, "train")
    fit, holdout = split_pairs(pairs, "fit"), split_pairs(pairs, "holdout")
    assert sorted(p.id for p in fit + holdout) == sorted(p.id for p in train)
    assert holdout and not {p.scene for p in fit} & {p.scene for p in holdout}
    assert not {p.id for p in holdout} & {p.id for p in split_pairs(pairs, "val")}
