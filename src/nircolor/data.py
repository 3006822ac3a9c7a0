"""Datasets of registered NIR/RGB pairs: discovery, scene-disjoint splits, patch sampling.

A pair is two files side by side, ``<id>_nir.<ext>`` and ``<id>_rgb.<ext>`` (or
``<id>_rgb_reg.<ext>``); its category is the path of its folder relative to the dataset root
(the EPFL RGB-NIR layout: ``country/0001_nir.tiff``). A ``MANIFEST.csv`` in the root, or a
manifest given by path (one in a parent folder is never picked up unasked), with columns
``nir, rgb`` and optionally ``category, scene, split, collection`` takes precedence: its
``split`` column is honoured, its ``scene`` column keeps crops of one scene on one side of
every split the project makes. :func:`select_pairs` also says how the pairs were chosen.
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .cfa import read_mosaic
from .errors import DataError
from .io import READ_EXTENSIONS, read_nir, read_rgb

MANIFEST_NAME = "MANIFEST.csv"
SPLITS = ("train", "val", "all", "fit", "holdout")
RGB_SUFFIXES = ("_rgb", "_rgb_reg")

NIR_SUFFIX = "_nir"
"""Stem suffix of the NIR half of a pair (``<id>_nir.<ext>``); its RGB half is ``<id>_rgb``."""


def output_name(name: str, suffix: str = ".png", tag: str = "") -> str:
    """The file name of the colour image made from the input file ``name``.

    Parameters
    ----------
    name : str
        Input file name (``0001_nir.tiff``, ``photo.jpg``).
    suffix : str
        Extension of the output (``".png"``; ``".mp4"`` for videos).
    tag : str
        Added to the stem of a name that is not a pair name (the web download: ``_color``).

    Returns
    -------
    name : str
        ``<id>_nir.<ext>`` becomes ``<id>_rgb<suffix>`` (the NIR/RGB pair convention), any
        other ``X.<ext>`` becomes ``X<tag><suffix>``.
    """
    stem = Path(name).stem
    pair_id = stem.removesuffix(NIR_SUFFIX)
    if pair_id and pair_id != stem:
        return f"{pair_id}{RGB_SUFFIXES[0]}{suffix}"
    return f"{stem}{tag}{suffix}"


@dataclass(frozen=True)
class Pair:
    """One registered NIR/RGB pair."""

    id: str
    nir: Path
    rgb: Path
    category: str
    scene: str
    split: str | None = None
    collection: str = ""


def discover_pairs(
    root: str | os.PathLike, manifest: str | os.PathLike | None = None
) -> list[Pair]:
    """Find every NIR/RGB pair under ``root``, described by a manifest when there is one.

    Parameters
    ----------
    root : path
        Dataset folder. Without a manifest its tree is scanned for pairs.
    manifest : path, optional
        The manifest describing the pairs; only its rows under ``root`` are kept. Default:
        ``root/MANIFEST.csv`` if there is one (a manifest in a folder above ``root`` is used
        only when given here).

    Returns
    -------
    pairs : list of Pair
        Sorted by id.
    """
    root = _data_folder(root)
    manifest = _manifest_path(root, manifest)
    if manifest is None:
        pairs = _scan_pairs(root)
    else:
        pairs = _pairs_from_manifest(manifest, root)
        if not pairs:
            raise DataError(f"{manifest}: lists no pairs under {root}")
    if not pairs:
        raise DataError(
            f"{root}: no NIR/RGB pairs found (expected <id>_nir.<ext> + <id>_rgb.<ext>)"
        )
    return sorted(pairs, key=lambda p: p.id)


def find_manifest(root: str | os.PathLike) -> Path | None:
    """``root/MANIFEST.csv`` if it exists (folders above ``root`` are not searched)."""
    path = Path(root).expanduser() / MANIFEST_NAME
    return path if path.is_file() else None


def _data_folder(root: str | os.PathLike) -> Path:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"{root}: no such data folder")
    return root


def _manifest_path(root: Path, manifest: str | os.PathLike | None) -> Path | None:
    if manifest is None:
        return find_manifest(root)
    manifest = Path(manifest).expanduser()
    if not manifest.is_file():
        raise DataError(f"{manifest}: no such manifest")
    return manifest


def _pairs_from_manifest(manifest: Path, root: Path) -> list[Pair]:
    base = manifest.parent
    root = root.resolve()
    try:
        with open(manifest, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{manifest}: unreadable manifest ({error})") from None
    if not rows or not {"nir", "rgb"} <= set(rows[0]):
        raise DataError(f"{manifest}: a manifest needs 'nir' and 'rgb' columns")
    pairs = []
    for row in rows:
        nir = (base / row["nir"]).resolve()
        if root not in nir.parents:
            continue
        pair_id = row["nir"].rsplit(".", 1)[0].removesuffix("_nir")
        category = row.get("category") or nir.parent.relative_to(root).as_posix()
        pairs.append(
            Pair(
                id=pair_id,
                nir=nir,
                rgb=(base / row["rgb"]).resolve(),
                category=category,
                scene=row.get("scene") or pair_id,
                split=row.get("split") or None,
                collection=row.get("collection") or row["nir"].split("/", 1)[0],
            )
        )
    return pairs


def _scan_pairs(root: Path) -> list[Pair]:
    pairs = []
    for nir in root.rglob("*_nir.*"):
        if nir.suffix.lower() not in READ_EXTENSIONS or nir.name.startswith("."):
            continue
        stem = nir.name[: -len("_nir" + nir.suffix)]
        if not stem or f"{stem}_nir{nir.suffix}" != nir.name:
            continue
        rgb = _find_rgb(nir.parent, stem)
        if rgb is None:
            continue
        relative = nir.parent.relative_to(root).as_posix()
        pair_id = f"{relative}/{stem}" if relative != "." else stem
        category = relative if relative != "." else "all"
        pairs.append(Pair(pair_id, nir, rgb, category, scene=pair_id, collection=root.name))
    return pairs


def _find_rgb(folder: Path, stem: str) -> Path | None:
    for suffix in RGB_SUFFIXES:
        for extension in READ_EXTENSIONS:
            for candidate in (extension, extension.upper()):
                path = folder / f"{stem}{suffix}{candidate}"
                if path.is_file():
                    return path
    return None


def check_split(split: str) -> None:
    """``split`` is one of :data:`SPLITS`, or a one-line DataError."""
    if split not in SPLITS:
        raise DataError(f"unknown split '{split}' (use one of {', '.join(SPLITS)})")


def split_pairs(
    pairs: Sequence[Pair],
    split: str,
    val_fraction: float = 0.15,
    seed: int = 0,
) -> list[Pair]:
    """Select the ``train``, ``val`` or ``all`` pairs, never letting a scene straddle the split.

    When every pair carries a manifest ``split`` it is used as it is. Otherwise scenes are
    shuffled with ``seed`` within each category and about ``val_fraction`` of them (at least
    one for categories with two or more scenes) go to ``val``.

    ``holdout`` and ``fit`` split the ``train`` pairs the same way again (``holdout`` taking
    about ``val_fraction`` of their scenes): model selection (keep-best, tuning) uses
    ``holdout`` so that the ``val`` pairs stay untouched for reporting.
    """
    check_split(split)
    if split == "all":
        return list(pairs)
    if split in ("fit", "holdout"):
        train = split_pairs(pairs, "train", val_fraction, seed)
        held_out = _choose_val_scenes(train, val_fraction, seed)
        return [p for p in train if (p.scene in held_out) == (split == "holdout")]
    if pairs and all(p.split in ("train", "val") for p in pairs):
        return [p for p in pairs if p.split == split]
    val_scenes = _choose_val_scenes(pairs, val_fraction, seed)
    return [p for p in pairs if (p.scene in val_scenes) == (split == "val")]


def _choose_val_scenes(pairs: Sequence[Pair], val_fraction: float, seed: int) -> set[str]:
    scenes_by_category: dict[str, list[str]] = defaultdict(list)
    for pair in pairs:
        scenes = scenes_by_category[pair.category]
        if pair.scene not in scenes:
            scenes.append(pair.scene)
    rng = np.random.default_rng(seed)
    val: set[str] = set()
    for category in sorted(scenes_by_category):
        scenes = sorted(scenes_by_category[category])
        if len(scenes) < 2:
            continue
        n_val = max(1, round(val_fraction * len(scenes)))
        val.update(rng.permutation(scenes)[:n_val].tolist())
    return val


def filter_categories(
    pairs: Sequence[Pair], categories: Sequence[str] | None, check: bool = True
) -> list[Pair]:
    """Keep the pairs of the given categories (all when ``categories`` is empty).

    With ``check``, a category that no pair has is an error.
    """
    if not categories:
        return list(pairs)
    known = {p.category for p in pairs}
    unknown = [c for c in categories if c not in known]
    if unknown and check:
        raise DataError(
            f"unknown categories {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    return [p for p in pairs if p.category in set(categories)]


def load_dataset(
    root: str | os.PathLike,
    split: str = "all",
    categories: Sequence[str] | None = None,
    seed: int = 0,
    manifest: str | os.PathLike | None = None,
) -> list[Pair]:
    """Discover the pairs under ``root`` and select a split and categories.

    The split is drawn on all the pairs before the categories are picked, so that a
    category's ``fit`` / ``holdout`` rows are the same with or without ``categories``.
    ``manifest`` is as in :func:`discover_pairs`.
    """
    return select_pairs(root, split, categories, seed, manifest).pairs


@dataclass(frozen=True)
class Selection:
    """Pairs chosen from a data folder, with where they came from and how they were split."""

    pairs: list[Pair]
    root: Path
    manifest: Path | None
    split: str
    split_rule: str
    """How ``split`` was drawn, in words (e.g. "the manifest's split column")."""

    def describe(self) -> str:
        """One line: the folder, the manifest, the split and the number of pairs."""
        source = f"manifest {self.manifest}" if self.manifest else "no manifest (file names)"
        count = f"{len(self.pairs)} pair{'s' if len(self.pairs) != 1 else ''}"
        return f"data {self.root}: {source}; split {self.split} ({self.split_rule}): {count}"


def select_pairs(
    root: str | os.PathLike,
    split: str | None = None,
    categories: Sequence[str] | None = None,
    seed: int = 0,
    manifest: str | os.PathLike | None = None,
) -> Selection:
    """:func:`load_dataset`, also saying which manifest and split were used.

    ``split=None`` is ``val`` when every pair has a manifest ``split`` (``train`` or ``val``),
    and ``all`` otherwise: with no split fixed in advance, every pair is scored rather than
    a seeded sample of them.
    """
    root = _data_folder(root)
    manifest = _manifest_path(root, manifest)
    pairs = discover_pairs(root, manifest)
    fixed = all(p.split in ("train", "val") for p in pairs)
    split = split if split is not None else ("val" if fixed else "all")
    filter_categories(pairs, categories)  # unknown categories are an error
    chosen = filter_categories(split_pairs(pairs, split, seed=seed), categories, check=False)
    return Selection(chosen, root, manifest, split, _split_rule(split, fixed, seed))


def _split_rule(split: str, fixed: bool, seed: int) -> str:
    if split == "all":
        return "every pair"
    if fixed and split in ("train", "val"):
        return "the manifest's split column"
    drawn = f"scene-disjoint, drawn with seed {seed}"
    return f"of the manifest's train rows, {drawn}" if fixed else drawn


def load_pair(pair: Pair, mosaic: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Read a pair as ``(nir (H, W), rgb (H, W, 3))`` float32 arrays in [0, 1]; with
    ``mosaic``, its NIR half is a raw CFA mosaic (:func:`~nircolor.cfa.read_mosaic`)."""
    nir = read_mosaic(pair.nir) if mosaic else read_nir(pair.nir)
    rgb = read_rgb(pair.rgb)
    if nir.shape != rgb.shape[:2]:
        raise DataError(
            f"{pair.id}: NIR {nir.shape[1]}x{nir.shape[0]} and RGB "
            f"{rgb.shape[1]}x{rgb.shape[0]} differ in size"
        )
    return nir, rgb


def iter_pairs(pairs: Sequence[Pair]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Read the pairs one at a time (memory stays at one pair)."""
    for pair in pairs:
        yield load_pair(pair)


def sample_patches(
    images: Sequence[tuple[np.ndarray, np.ndarray]],
    count: int,
    size: int = 64,
    rng: np.random.Generator | None = None,
    flips: bool = True,
    with_index: bool = False,
) -> tuple[np.ndarray, ...]:
    """Draw random aligned patches from loaded pairs.

    Images are chosen with probability proportional to their area; images smaller than
    ``size`` are skipped. With ``flips`` each patch is mirrored left-right and/or up-down at
    random (the same for NIR and RGB).

    Returns
    -------
    nir : ndarray (count, size, size) float32
    rgb : ndarray (count, size, size, 3) float32
    index : ndarray (count,) int64
        With ``with_index`` only: the position in ``images`` of each patch's pair.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    kept = [i for i, (n, _) in enumerate(images) if n.shape[0] >= size and n.shape[1] >= size]
    usable = [images[i] for i in kept]
    if not usable:
        raise DataError(f"no image is at least {size}x{size} pixels")
    areas = np.array([n.shape[0] * n.shape[1] for n, _ in usable], dtype=np.float64)
    choice = rng.choice(len(usable), size=count, p=areas / areas.sum())
    nir_out = np.empty((count, size, size), np.float32)
    rgb_out = np.empty((count, size, size, 3), np.float32)
    for i, index in enumerate(choice):
        nir, rgb = usable[index]
        top = rng.integers(0, nir.shape[0] - size + 1)
        left = rng.integers(0, nir.shape[1] - size + 1)
        nir_patch = nir[top : top + size, left : left + size]
        rgb_patch = rgb[top : top + size, left : left + size]
        if flips and rng.random() < 0.5:
            nir_patch, rgb_patch = nir_patch[:, ::-1], rgb_patch[:, ::-1]
        if flips and rng.random() < 0.5:
            nir_patch, rgb_patch = nir_patch[::-1], rgb_patch[::-1]
        nir_out[i] = nir_patch
        rgb_out[i] = rgb_patch
    if with_index:
        return nir_out, rgb_out, np.asarray(kept, np.int64)[choice]
    return nir_out, rgb_out
