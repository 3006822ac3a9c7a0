"""MSSIM on Kodak24 with rendered NIR: the design's Table 2 comparison (issue 24 C).

The design compares its colorizer with Zhang et al. (2016) and Iizuka et al. (2016) by the
mean SSIM (MSSIM) of colorized photographs on three images. Kodak24 (``kodak24/`` of the
colour photographs, ``../shared/colour``) has no NIR, so its NIR is *rendered*: the
pseudo-NIR model of ``nircolor train reverse`` (reverse L3, RGB patch → NIR), fitted on the
``fit`` rows of the pairs exactly as pre-training on photos fits it
(:func:`nircolor.train.photos.reverse_model`, cached in ``~/.cache/nircolor/photos``), or
``--reverse-model``. Each rendered NIR (8-bit, as the photo pre-training stores it) is
colorized by every shipped colorizer as it ships (``fusion`` and the default among them) and
the result scored against the photograph with :func:`nircolor.metrics.ssim` (Wang et al.
2004, 11×11 Gaussian window, averaged over R, G, B). The NIR shown as grey is the floor.

``zhang`` and ``iizuka`` are architectures of ``nircolor train``, not shipped models; give
trained folders as ``--models 'zhang=/path,iizuka=/path'`` to score them too.

Writes the section "MSSIM on Kodak24" of BENCHMARKS.md::

    python benchmarks/bench_mssim.py [--photos ../shared/colour/kodak24] [--no-write]
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from _common import (
    REPO,
    Run,
    base_parser,
    colorizer_names,
    fmt,
    markdown_table,
    progress_bar,
    publish,
    single_threaded_blas,
)
from nircolor.api import colorize, get_model
from nircolor.evaluate import nir_as_grey
from nircolor.io import read_image, to_uint
from nircolor.metrics import delta_e00, ssim
from nircolor.models import ALIASES
from nircolor.models.l3 import ReverseL3
from nircolor.train.photos import reverse_model

HEADING = "## MSSIM on Kodak24: rendered NIR, the design's Table 2"
DEFAULT_PHOTOS = REPO.parent / "shared" / "colour" / "kodak24"
GREY_LABEL = "NIR as grey"
DESIGN = {  # the design's Table 2: MSSIM of Zhang et al., Iizuka et al. and its own method
    "image 1": (0.82, 0.89, 0.90),
    "image 2": (0.66, 0.61, 0.69),
    "image 3": (0.66, 0.52, 0.70),
}


def parse_models(text: str | None) -> dict[str, str]:
    """``{label: name or folder}`` of ``--models`` (``label=folder`` or a name), or every
    shipped colorizer."""
    if not text:
        return {name: name for name in colorizer_names(None)}
    found = {}
    for item in (part.strip() for part in text.split(",")):
        if item:
            label, _, target = item.partition("=")
            found[label] = target or label
    return found


def rendered_nir(args, photos: list[Path]):
    """``(model record, [(name, rgb, nir)])``: each photo (float sRGB) and its rendered 8-bit
    pseudo-NIR image, as float in [0, 1]."""
    if args.reverse_model:
        model, record = ReverseL3.load(args.reverse_model), {"model": str(args.reverse_model)}
    else:
        settings = SimpleNamespace(
            reverse_model=None, data=str(args.data), seed=0, photo_cache=None
        )
        with progress_bar("pseudo-NIR model (fit rows)") as update:
            model, record = reverse_model(settings, lambda _, done, total: update(done, total))
    images = []
    with progress_bar("rendering pseudo-NIR", len(photos)) as update:
        for path in photos:
            rgb = np.asarray(read_image(path), dtype=np.float32)
            nir = to_uint(model.predict(rgb), 8).astype(np.float32) / np.float32(255)
            images.append((path.stem, rgb, nir))
            update()
    return record, images


def main() -> None:
    single_threaded_blas()
    parser = base_parser(__doc__)
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS, help="Kodak24 folder")
    parser.add_argument("--models", default=None, help="names or label=folder (default: all)")
    parser.add_argument("--reverse-model", type=Path, default=None, help="pseudo-NIR model")
    args = parser.parse_args()
    run = Run()
    photos = sorted(args.photos.glob("kodim*.*"))
    if not photos:
        raise SystemExit(f"{args.photos}: no kodim* photographs")
    record, images = rendered_nir(args, photos)
    models = parse_models(args.models)
    default = ALIASES["default"]
    scores: dict[str, dict[str, float]] = {}
    de00: dict[str, list[float]] = {}
    for label, target in [*models.items(), (GREY_LABEL, None)]:
        model = get_model(target) if target else None
        scores[label], de00[label] = {}, []
        with progress_bar(f"{label}: colorizing", len(images)) as update:
            for name, rgb, nir in images:
                pred = colorize(nir, model=model) if model is not None else nir_as_grey(nir)
                scores[label][name] = ssim(pred, rgb)
                de00[label].append(delta_e00(pred, rgb))
                update()
        print(f"{label}: MSSIM {np.mean(list(scores[label].values())):.4f}")
    labels = list(scores)

    def heading(label: str) -> str:
        return f"`{label}` (default)" if label == default else f"`{label}`"

    header = ["image", *(heading(x) if x != GREY_LABEL else x for x in labels)]
    rows = [[name, *(fmt(scores[x][name], 3) for x in labels)] for name, _, _ in images]
    rows.append(["**mean (MSSIM)**", *(f"**{np.mean(list(scores[x].values())):.3f}**"
                                       for x in labels)])  # fmt: skip
    rows.append(["min – max", *(
        f"{min(scores[x].values()):.2f} – {max(scores[x].values()):.2f}" for x in labels
    )])  # fmt: skip
    rows.append(["mean ΔE00", *(fmt(float(np.mean(de00[x]))) for x in labels)])
    design = markdown_table(
        ["design's image", "Zhang et al.", "Iizuka et al.", "the design"],
        [[name, *(f"{v:.2f}" for v in values)] for name, values in DESIGN.items()]
        + [
            [
                "mean of the three",
                *(f"{np.mean(col):.2f}" for col in zip(*DESIGN.values(), strict=True)),
            ]
        ],
    )
    means = {x: float(np.mean(list(scores[x].values()))) for x in labels}
    fusion_default = ", ".join(f"`{x}` {means[x]:.3f}" for x in ("fusion", default) if x in means)
    shipped = "`zhang` and `iizuka` are not shipped and no trained folders of them were given"
    if any(x in models for x in ("zhang", "iizuka")):
        shipped = "`zhang` / `iizuka` from the folders given in the command"
    fit = (
        f"fitted on the {record['n_pairs']} `{record['split']}` rows"
        if "n_pairs" in record
        else f"`{record['model']}`"
    )
    body = f"""
**The NIR inputs here are rendered, not photographed.** Kodak24 (24 photographs, 500×500
centre crops, `../shared/colour/kodak24`) has no NIR: each photograph's NIR is rendered by
the pseudo-NIR model (reverse L3, RGB patch → NIR; {fit}, as `nircolor train --photo-nir
pseudo` fits it), quantized to 8 bits, colorized by each model as it ships, and scored
against the photograph with `nircolor.metrics.ssim` (mean SSIM over the image, 11×11
Gaussian window σ 1.5, averaged over R, G, B). A rendered NIR is the reverse model's guess
of a NIR image from the colours, so it carries colour information a real NIR image does not,
and its look differs from the EPFL NIR the colorizers were trained on: these numbers measure
the colorizers on rendered inputs, not on NIR photographs. {shipped}.

MSSIM per photograph (higher is better), the mean over the 24, and mean ΔE00:

{markdown_table(header, rows)}

The design's Table 2 (MSSIM on three images it does not name here; its own inputs):

{design}

MSSIM over Kodak24: {fusion_default}; the NIR shown as grey {means[GREY_LABEL]:.3f}. The
design's three images are not identified, so only the levels compare: its method averages
{np.mean([v[2] for v in DESIGN.values()]):.2f} over its three, Zhang et al.
{np.mean([v[0] for v in DESIGN.values()]):.2f}, Iizuka et al.
{np.mean([v[1] for v in DESIGN.values()]):.2f}.
"""
    publish(run, {HEADING: body}, not args.no_write)


if __name__ == "__main__":
    main()
