"""``nircolor simulate ...``: spectral scenes and the NIR/RGB pairs rendered from them, a thin
layer over :mod:`nircolor.spectral`."""

from pathlib import Path
from typing import Annotated

import typer

from ..extras import require_extra
from .common import CommandGroup, app, console, parse_list, progress_bar, step_report

simulate_app = typer.Typer(
    cls=CommandGroup,
    no_args_is_help=True,
    help="Simulate NIR/RGB camera pairs from spectral scenes.",
)
app.add_typer(simulate_app, name="simulate")

CAMERA_HELP = "A named camera ({names}) or a CSV file of channel sensitivities."


@simulate_app.command("scenes")
def scenes(
    output: Annotated[Path, typer.Option("-o", "--output", help="Scenes folder to write.")],
    n: Annotated[int, typer.Option("--n", help="Number of scenes, 1 to 10000.")] = 40,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files).")] = 0,
    size: Annotated[int, typer.Option(help="Height and width in pixels, 16 to 2048.")] = 128,
    lights: Annotated[
        str, typer.Option("--illuminants", help="Comma-separated illuminants, one drawn per scene.")
    ] = "daylight,A",
    categories: Annotated[
        str | None, typer.Option(help="Comma-separated categories (default: all).")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing folder.")] = False,
) -> None:
    """Make synthetic spectral scenes (textured regions of chart, skin, leaf and soil
    reflectances under an illuminant), one folder per category."""
    require_extra("simulate", "'nircolor simulate'")
    from ..spectral import CATEGORIES, make_scenes

    chosen = tuple(parse_list(categories) or CATEGORIES)
    with progress_bar() as progress:
        report = step_report(progress, "making scenes", n)
        make_scenes(
            output,
            count=n,
            seed=seed,
            size=size,
            lights=tuple(parse_list(lights) or ("daylight",)),
            categories=chosen,
            overwrite=overwrite,
            progress=report,
        )
    console.print(f"wrote {n} scenes -> {output}", highlight=False)


@simulate_app.command("pairs")
def pairs(
    scenes: Annotated[Path, typer.Option(help="Folder of scenes (.npz, ISET .mat, ENVI .hdr).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Pairs folder to write.")],
    rgb_camera: Annotated[str, typer.Option(help=CAMERA_HELP.format(names="visible"))] = "visible",
    nir_camera: Annotated[str, typer.Option(help=CAMERA_HELP.format(names="nir"))] = "nir",
    f_number: Annotated[float, typer.Option(help="Lens f-number, 0.5 to 64.")] = 4.0,
    pixel_pitch: Annotated[float, typer.Option(help="Pixel pitch in µm, 0.5 to 50.")] = 2.2,
    full_well: Annotated[
        float, typer.Option(help="Full-well capacity, electrons, 1 to 1e7.")
    ] = 10000.0,
    read_noise: Annotated[float, typer.Option(help="Read noise, electrons RMS, 0 to 1e4.")] = 5.0,
    bits: Annotated[int, typer.Option(help="Sensor quantisation: 8, 10 or 12 bits.")] = 10,
    exposure: Annotated[
        float, typer.Option(help="Share of the full well the brightest 1 % reach.")
    ] = 1.0,
    val_fraction: Annotated[float, typer.Option(help="Share of each category for val.")] = 0.2,
    seed: Annotated[int, typer.Option(help="Random seed of noise and splits.")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing folder.")] = False,
    cfa: Annotated[
        str | None,
        typer.Option(
            help="Instead of the NIR camera, a raw colour-filter-array sensor: 'rgbir' (G R / "
            "B IR, no IR cut); <id>_nir.png is then its 16-bit raw mosaic."
        ),
    ] = None,
) -> None:
    """Render every scene through an RGB and an NIR camera (or a raw RGB-IR sensor) into
    registered pairs with a MANIFEST.csv that 'nircolor train' and 'nircolor evaluate' read."""
    require_extra("simulate", "'nircolor simulate'")
    from ..cfa import cfa_cell
    from ..spectral import CameraSettings, simulate_pairs
    from ..spectral.mosaic import simulate_mosaic_pairs

    settings = CameraSettings(f_number, pixel_pitch, full_well, read_noise, bits, exposure)
    if cfa is not None:
        cfa_cell(cfa)  # an unknown pattern fails before any rendering
    with progress_bar() as progress:
        report = step_report(progress, "rendering pairs")
        options = dict(
            settings=settings,
            seed=seed,
            val_fraction=val_fraction,
            overwrite=overwrite,
            progress=report,
        )
        if cfa is None:
            simulate_pairs(scenes, output, rgb_camera, nir_camera, **options)
        else:
            simulate_mosaic_pairs(scenes, output, cfa, rgb_camera, **options)
    console.print(f"wrote pairs -> {output}", highlight=False)
