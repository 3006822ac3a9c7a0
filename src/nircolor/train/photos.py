"""Pre-training on unpaired colour photographs (``--colour-photos DIR``).

A colour photograph has no NIR image; it gets a *NIR stand-in* and becomes a training pair:

``grey``
    the photo's CIE L* / 100 (the seed's way: lightness as the NIR);
``pseudo``
    a pseudo-NIR image rendered by the reverse L3 model (RGB patch → NIR,
    :mod:`nircolor.models.l3.reverse`), trained on the ``fit`` rows of the pairs (never
    ``holdout`` or ``val``), or given with ``reverse_model``.

The first ``pretrain_epochs`` epochs of a run draw their batches from these photo pairs, the
others from the real pairs; the schedule is a function of the epoch alone
(:func:`in_pretraining`), so a resumed run continues it exactly, and the best epoch is chosen
among the fine-tuning epochs only (a pre-training epoch never saw a real pair).

Photos are read in the order of their paths, every one whose long side exceeds
``photo_side`` (512 px) downscaled (area interpolation), greyscale photos and photos smaller
than a training patch skipped, unreadable files skipped (all counted in the model card).
Rendered pseudo-NIR images and the reverse model are cached (``photo_cache``, default
``~/.cache/nircolor/photos``), named by a hash of the model and of the photo's pixels, so a
resumed or a second run renders nothing again.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from ..colorspace import from_srgb
from ..data import load_dataset
from ..errors import DataError, ImageReadError, ModelError
from ..io import as_grey, read_image, read_nir, to_uint, write_image
from ..io.images import READ_EXTENSIONS
from ..models.l3 import L3Config, ReverseL3, fit_reverse_l3
from ..models.registry import CONFIG_NAME
from .common import portable_path
from .tasks import ImageSet

PHOTO_NIR = ("grey", "pseudo")
REVERSE_SPLIT = "fit"  # the pseudo-NIR model never sees the holdout or val rows

Stage = Callable[[str, int, int | None], object]
"""``stage(description, done, total)``: progress of a preparation step (rendering...)."""


def _silent(description: str, done: int, total: int | None) -> None:
    return None


# ----------------------------------------------------------------------------- settings


def check_photo_settings(cfg) -> None:
    """The photo settings of a :class:`~.config.NetTrainConfig`, or a one-line ModelError."""
    if cfg.photo_nir not in PHOTO_NIR:
        raise ModelError(f"unknown --photo-nir '{cfg.photo_nir}' (use grey or pseudo)")
    if cfg.colour_photos is None:
        if cfg.pretrain_epochs:
            raise ModelError("--pretrain-epochs needs --colour-photos")
        return
    if cfg.arch == "classifier":
        raise ModelError("colour photographs pre-train colorizers, not the scene classifier")
    if cfg.epochs < 2:
        raise ModelError(
            f"--colour-photos needs --epochs 2 or more, not {cfg.epochs}: --epochs counts the "
            "pre-training epochs on the photos and at least one more fine-tunes on the pairs"
        )
    if not 1 <= cfg.pretrain_epochs < cfg.epochs:
        raise ModelError(
            f"--pretrain-epochs must be 1 to {cfg.epochs - 1} with --epochs {cfg.epochs}, not "
            f"{cfg.pretrain_epochs} (--epochs counts the pre-training epochs; at least one "
            "epoch fine-tunes on the pairs)"
        )
    if cfg.photo_side < cfg.patch:
        raise ModelError(f"--photo-side {cfg.photo_side} is smaller than the patch {cfg.patch}")


def in_pretraining(cfg, epoch: int) -> bool:
    """Whether epoch ``epoch`` (0-based) draws its batches from the colour photographs."""
    return epoch < cfg.pretrain_epochs


def default_cache() -> Path:
    """``$NIRCOLOR_CACHE``, else ``$XDG_CACHE_HOME/nircolor``, else ``~/.cache/nircolor``."""
    if os.environ.get("NIRCOLOR_CACHE"):
        return Path(os.environ["NIRCOLOR_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nircolor"


def cache_folder(cfg) -> Path:
    return Path(cfg.photo_cache) if cfg.photo_cache else default_cache() / "photos"


# ----------------------------------------------------------------------------- photos


def find_photos(folder: str | os.PathLike) -> list[Path]:
    """Every image file under ``folder`` (hidden ones left out), sorted by relative path."""
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder of colour photographs")
    found = [
        path
        for path in root.rglob("*")
        if path.suffix.lower() in READ_EXTENSIONS
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
        and path.is_file()
    ]
    if not found:
        kinds = ", ".join(READ_EXTENSIONS)
        raise DataError(f"{root}: holds no colour photographs (no {kinds} files)")
    return sorted(found, key=lambda path: path.relative_to(root).as_posix())


def is_grey(image: np.ndarray) -> bool:
    """Whether an image is greyscale (one channel, or three equal ones, as ``read_nir``)."""
    if image.ndim == 2:
        return True
    try:
        as_grey(image)
    except ImageReadError:
        return False
    return True


def downscale(image: np.ndarray, side: int) -> np.ndarray:
    """``image`` with its long side brought down to ``side`` (area interpolation)."""
    height, width = image.shape[:2]
    scale = side / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def read_photo(path: str | os.PathLike, side: int) -> tuple[np.ndarray | None, bool]:
    """A colour photo as ``(H, W, 3)`` uint8, long side at most ``side`` (``None`` if it is
    greyscale), and whether it was downscaled.

    An unreadable file raises :class:`~nircolor.errors.ImageReadError`.
    """
    image = read_image(path)
    if is_grey(image):
        return None, False
    small = downscale(image, side)
    return to_uint(small, 8), small.shape != image.shape


def grey_stand_in(rgb: np.ndarray) -> np.ndarray:
    """The seed's NIR stand-in: CIE L* / 100 (D65) of an sRGB image (uint8 or [0, 1])."""
    rgb = np.asarray(rgb)
    scaled = rgb / np.float32(255) if rgb.dtype == np.uint8 else rgb
    return from_srgb(scaled, "lab")[..., 0]


# ----------------------------------------------------------------------------- pseudo-NIR


def pairs_digest(pairs, config: L3Config) -> str:
    """SHA-256 of the L3 settings and of every pair's files: names a trained reverse model."""
    sha = hashlib.sha256(repr(sorted(config.to_dict().items())).encode())
    for pair in sorted(pairs, key=lambda p: p.id):
        sha.update(f"\0{pair.id}\0".encode())
        for path in (pair.nir, pair.rgb):
            sha.update(hashlib.sha256(Path(path).read_bytes()).digest())
    return sha.hexdigest()


def reverse_model(cfg, stage: Stage = _silent) -> tuple[ReverseL3, dict]:
    """The pseudo-NIR model: ``cfg.reverse_model``, else one fitted on the ``fit`` rows of
    ``cfg.data`` (every category) and cached; with a record of where it came from."""
    if cfg.reverse_model:
        return ReverseL3.load(cfg.reverse_model), {"model": str(cfg.reverse_model)}
    pairs = load_dataset(cfg.data, split=REVERSE_SPLIT, seed=cfg.seed)
    if not pairs:
        raise DataError(f"{cfg.data}: no '{REVERSE_SPLIT}' pairs to fit the pseudo-NIR model on")
    config = L3Config(seed=cfg.seed)
    folder = cache_folder(cfg) / "reverse" / pairs_digest(pairs, config)[:24]
    record = {"model": str(folder), "split": REVERSE_SPLIT, "n_pairs": len(pairs)}
    if (folder / CONFIG_NAME).is_file():
        try:
            model = ReverseL3.load(folder)
            return model, {**record, "fit_seconds": model.info.get("seconds"), "cached": True}
        except ModelError:
            pass  # a damaged cache entry is fitted again
    from .l3 import LazyPairs

    start = time.perf_counter()
    description = "fitting the pseudo-NIR model (RGB patch → NIR)"
    model = fit_reverse_l3(
        LazyPairs(pairs), config, progress=lambda done, total: stage(description, done, total)
    )
    seconds = round(time.perf_counter() - start, 2)
    model.info.update({"data": str(cfg.data), "split": REVERSE_SPLIT, "seconds": seconds})
    model.save(folder)  # config.json last: a folder without it is not a cache entry
    return model, {**record, "fit_seconds": seconds, "cached": False}


def cached_pseudo_nir(rgb: np.ndarray, model: ReverseL3, folder: Path) -> tuple[np.ndarray, bool]:
    """The 8-bit pseudo-NIR of a uint8 photo, from ``folder`` if rendered before; and whether
    it was (the file is named by a hash of the model and of the photo's pixels)."""
    sha = hashlib.sha256(model.digest().encode())
    sha.update(f"{rgb.shape}".encode())
    sha.update(np.ascontiguousarray(rgb).tobytes())
    path = folder / f"{sha.hexdigest()[:32]}.png"
    if path.is_file():
        try:
            nir = to_uint(read_nir(path), 8)
            if nir.shape == rgb.shape[:2]:
                return nir, True
        except ImageReadError:
            pass  # a damaged cache entry is rendered again
    nir = to_uint(model.predict(rgb / np.float32(255)), 8)
    write_image(path, nir, overwrite=True)
    return nir, False


# ----------------------------------------------------------------------------- the photo set


def load_photo_set(cfg, stage: Stage = _silent) -> tuple[ImageSet, dict]:
    """The photo pairs ``(NIR stand-in, photo)`` of ``cfg.colour_photos`` (only the photos
    named in ``cfg.photos``, when set), and what was used and skipped."""
    root = Path(cfg.colour_photos)
    photos = find_photos(root)
    if cfg.photos is not None:
        wanted = set(cfg.photos)
        photos = [path for path in photos if path.relative_to(root).as_posix() in wanted]
    info: dict = {
        "folder": str(root),
        "photo_nir": cfg.photo_nir,
        "side": cfg.photo_side,
        "found": len(photos),
        "downscaled": 0,
        "skipped_unreadable": [],
        "skipped_grey": 0,
        "skipped_small": 0,
    }
    start = time.perf_counter()
    model, pseudo_folder = None, None
    if cfg.photo_nir == "pseudo":
        model, info["reverse"] = reverse_model(cfg, stage)
        pseudo_folder = cache_folder(cfg) / "pseudo-nir" / model.digest()[:16]
        info["cache"], info["rendered"], info["cached"] = str(pseudo_folder), 0, 0
    description = "rendering pseudo-NIR" if model else "reading colour photographs"
    images = ImageSet()
    for done, path in enumerate(photos, start=1):
        add_photo(images, info, root, path, cfg, model, pseudo_folder)
        stage(description, done, len(photos))
    info["used"] = len(images)
    info["seconds"] = round(time.perf_counter() - start, 2)
    if not len(images):
        raise DataError(f"{root}: no usable colour photographs ({skipped_summary(info)})")
    return images, info


def add_photo(images: ImageSet, info: dict, root: Path, path: Path, cfg, model, cache) -> None:
    """Add the pair ``(NIR stand-in, photo)`` of one file to ``images``, or count why not."""
    name = path.relative_to(root).as_posix()
    try:
        rgb, downscaled = read_photo(path, cfg.photo_side)
    except ImageReadError:
        info["skipped_unreadable"].append(name)
        return
    if rgb is None:
        info["skipped_grey"] += 1
        return
    if min(rgb.shape[:2]) < cfg.patch:
        info["skipped_small"] += 1
        return
    info["downscaled"] += int(downscaled)
    if model is None:
        nir = grey_stand_in(rgb)
    else:
        nir, hit = cached_pseudo_nir(rgb, model, cache)
        info["cached" if hit else "rendered"] += 1
    images.add(nir, rgb, name=name)


def skipped_summary(info: dict) -> str:
    """``"2 unreadable, 1 greyscale, 0 smaller than a patch skipped"``."""
    return (
        f"{len(info['skipped_unreadable'])} unreadable, {info['skipped_grey']} greyscale, "
        f"{info['skipped_small']} smaller than a patch skipped of {info['found']}"
    )


def photos_by_class(cfg, classifier, stage: Stage = _silent) -> tuple[dict[str, list[str]], dict]:
    """Every usable photo's category by ``classifier`` (a loaded scene classifier) on its NIR
    stand-in: ``({category: [photo names]}, photo info)``."""
    images, info = load_photo_set(cfg, stage)
    groups: dict[str, list[str]] = {}
    for done, (nir, name) in enumerate(zip(images.nir, images.ids, strict=True), start=1):
        category, _ = classifier.classify(nir / np.float32(255))
        groups.setdefault(category, []).append(name)
        stage("classifying the photos' NIR stand-ins", done, len(images))
    return groups, info


def photo_notes(training: dict) -> list[str]:
    """The model card's lines on the colour photographs of a run (none without them)."""
    info = training.get("photos")
    if not info:
        return []
    settings = training.get("settings", {})
    pretrain, epochs = settings.get("pretrain_epochs"), training.get("epochs")
    if info["photo_nir"] == "grey":
        stand_in = "the photo's CIE L*/100"
    else:
        reverse = info.get("reverse", {})
        fitted = f", fitted in {reverse['fit_seconds']} s" if reverse.get("fit_seconds") else ""
        model = portable_path(reverse["model"]) if reverse.get("model") else None
        stand_in = (
            f"pseudo-NIR of the reverse L3 model (RGB patch → NIR) `{model}` "
            f"trained on the `{reverse.get('split', 'given')}` rows{fitted}"
        )
    unreadable = info["skipped_unreadable"]
    named = f" ({', '.join(unreadable[:3])}{' ...' if len(unreadable) > 3 else ''})"
    return [
        f"pre-trained for epochs 1–{pretrain} of {epochs} on {info['used']} colour photographs "
        f"of `{portable_path(info['folder'])}` (NIR stand-in: {stand_in}); then fine-tuned on "
        f"the pairs; the best epoch chosen among epochs {pretrain + 1}–{epochs} only",
        f"photos: long side at most {info['side']} px ({info['downscaled']} downscaled); "
        f"{skipped_summary(info)}{named if unreadable else ''}",
    ]
