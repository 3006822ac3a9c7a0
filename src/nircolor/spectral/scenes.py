"""Spectral scenes: hyperspectral cubes read from files, or synthetic ones made here.

:func:`read_scene` reads

* ``.npz``: ``cube`` (H, W, n) and ``wavelength_nm`` (n); optionally ``illuminant`` (n),
  ``quantity`` (``"radiance"``, the default, or ``"reflectance"``, which needs the
  illuminant) and ``units`` (``"energy"``, the default, or ``"photons"``);
* an ISET scene ``.mat`` (``mcCOEF``, ``basis.basis``, ``basis.wave``, optionally ``imgMean``
  and ``illuminant``): radiance in photons = mcCOEF × basisᵀ (+ imgMean), read with
  :func:`scipy.io.loadmat` (no pickle);
* ENVI: a ``.hdr`` header with its ``wavelength`` list and the raw samples beside it
  (``bsq``, ``bil`` or ``bip``), read as radiance in energy units.

:func:`make_scene` builds a synthetic reflectance scene: procedural regions (warped Voronoi
cells) filled with spectra of the libraries of :mod:`.library`, blended and shaded within
each region for texture, under a chosen illuminant.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from ..errors import DataError
from ..io.atomic import write_folder_atomic
from ..io.outputs import check_output_folder
from .curves import WAVELENGTHS_NM
from .library import illuminant, reflectances

MAX_SCENE_SIZE = 2048
"""The largest scene side: a 2048² scene of 61 bands takes about 1 GB as float32, and its
rendering several times that."""
MAX_SCENES = 10_000
"""The most scenes one call makes."""
SCENE_EXTENSIONS = (".npz", ".mat", ".hdr")
CATEGORIES = {
    "vegetation": {"vegetation": 0.6, "soil": 0.3, "esser": 0.1},
    "portrait": {"skin": 0.4, "esser": 0.3, "macbeth": 0.15, "vegetation": 0.15},
    "charts": {"macbeth": 0.5, "esser": 0.5},
    "mixed": {"vegetation": 0.25, "soil": 0.15, "esser": 0.3, "macbeth": 0.15, "skin": 0.15},
}
"""Synthetic scene categories: the share of each reflectance library among the regions."""
ENVI_TYPES = {1: "u1", 2: "i2", 3: "i4", 4: "f4", 5: "f8", 12: "u2", 13: "u4", 14: "i8", 15: "u8"}


@dataclass(frozen=True)
class SpectralScene:
    """A hyperspectral cube and what it means.

    Attributes
    ----------
    name : str
    cube : ndarray, shape (H, W, n)
        Radiance, or reflectance in [0, 1] (see ``quantity``).
    wavelength_nm : ndarray, shape (n,)
    quantity : {"radiance", "reflectance"}
    units : {"energy", "photons"}
        Of the radiance and the illuminant.
    illuminant : ndarray, shape (n,), or None
        The light on the scene; required for reflectance.
    """

    name: str
    cube: np.ndarray
    wavelength_nm: np.ndarray
    quantity: str = "radiance"
    units: str = "energy"
    illuminant: np.ndarray | None = None

    def __post_init__(self) -> None:
        cube = np.asarray(self.cube)
        wave = np.asarray(self.wavelength_nm, dtype=np.float64)
        if cube.ndim != 3 or cube.shape[2] != len(wave) or min(cube.shape[:2]) < 1:
            raise DataError(f"{self.name}: a cube must be (H, W, n) with n wavelengths")
        if len(wave) < 2 or np.any(np.diff(wave) <= 0):
            raise DataError(f"{self.name}: wavelengths must be increasing (at least 2)")
        if not np.all(np.isfinite(cube)) or np.any(cube < 0):
            raise DataError(f"{self.name}: the cube holds negative, NaN or infinite values")
        if self.quantity not in ("radiance", "reflectance"):
            raise DataError(f"{self.name}: quantity must be radiance or reflectance")
        if self.units not in ("energy", "photons"):
            raise DataError(f"{self.name}: units must be energy or photons")
        if self.illuminant is not None and np.shape(self.illuminant) != wave.shape:
            raise DataError(f"{self.name}: the illuminant needs one value per wavelength")
        if self.quantity == "reflectance" and self.illuminant is None:
            raise DataError(f"{self.name}: a reflectance cube needs an illuminant")
        object.__setattr__(self, "wavelength_nm", wave)

    @property
    def range_nm(self) -> tuple[float, float]:
        return float(self.wavelength_nm[0]), float(self.wavelength_nm[-1])

    def radiance(self) -> np.ndarray:
        """Spectral radiance (H, W, n) as float64: the cube, or reflectance × illuminant."""
        cube = np.asarray(self.cube, dtype=np.float64)
        return cube * self.illuminant if self.quantity == "reflectance" else cube


def read_scene(path: str | os.PathLike) -> SpectralScene:
    """Read a spectral scene from ``.npz``, ISET ``.mat`` or ENVI ``.hdr`` (see the module).

    Raises
    ------
    DataError
        For a missing file, another extension, or a file without the fields it needs.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: no such scene file")
    suffix = path.suffix.lower()
    readers = {".npz": _read_npz, ".mat": _read_iset_mat, ".hdr": _read_envi}
    if suffix not in readers:
        raise DataError(f"{path}: not a scene file ({', '.join(SCENE_EXTENSIONS)})")
    return readers[suffix](path)


def _read_npz(path: Path) -> SpectralScene:
    try:
        with np.load(path, allow_pickle=False) as data:
            fields = {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: unreadable .npz ({error.__class__.__name__})") from None
    missing = [key for key in ("cube", "wavelength_nm") if key not in fields]
    if missing:
        raise DataError(f"{path}: a scene .npz needs '{missing[0]}'")
    return SpectralScene(
        path.stem,
        fields["cube"],
        fields["wavelength_nm"],
        quantity=str(fields.get("quantity", "radiance")),
        units=str(fields.get("units", "energy")),
        illuminant=fields.get("illuminant"),
    )


def _read_iset_mat(path: Path) -> SpectralScene:
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    try:
        mat = loadmat(path, squeeze_me=True, struct_as_record=False)
    except NotImplementedError:
        raise DataError(f"{path}: MATLAB v7.3 (HDF5) files are not read; save with -v7") from None
    except (OSError, ValueError, TypeError, MatReadError) as error:
        raise DataError(f"{path}: unreadable .mat ({error.__class__.__name__})") from None
    if "mcCOEF" not in mat or "basis" not in mat:
        raise DataError(f"{path}: an ISET scene needs 'mcCOEF' and 'basis'")
    basis, wave = _field(mat["basis"], "basis", path), _field(mat["basis"], "wave", path)
    coefficients = np.atleast_3d(np.asarray(mat["mcCOEF"], dtype=np.float64))
    basis = np.asarray(basis, dtype=np.float64).reshape(len(np.atleast_1d(wave)), -1)
    if basis.shape[1] != coefficients.shape[2]:
        raise DataError(f"{path}: mcCOEF has {coefficients.shape[2]} coefficients per pixel, "
                        f"basis.basis {basis.shape[1]} columns")  # fmt: skip
    radiance = coefficients @ basis.T
    if "imgMean" in mat and np.size(mat["imgMean"]) == len(basis):
        radiance = radiance + np.asarray(mat["imgMean"], dtype=np.float64)
    light = _iset_illuminant(mat.get("illuminant"), np.atleast_1d(wave), path)
    # Compression leaves tiny negative values in dark pixels; radiance cannot be negative.
    return SpectralScene(path.stem, np.clip(radiance, 0, None), wave, units="photons",
                         illuminant=light)  # fmt: skip


def _field(struct, name: str, path: Path):
    if not hasattr(struct, name):
        raise DataError(f"{path}: the ISET scene has no '{name}' field where expected")
    return getattr(struct, name)


def _iset_illuminant(struct, wave: np.ndarray, path: Path) -> np.ndarray | None:
    if struct is None or not hasattr(struct, "data"):
        return None
    data = struct.data
    data = getattr(data, "photons", data)
    light_wave = getattr(struct, "wavelength", None)
    if light_wave is None and hasattr(struct, "spectrum"):
        light_wave = getattr(struct.spectrum, "wave", None)
    data = np.asarray(data, dtype=np.float64)
    if data.ndim != 1:  # a spatially varying illuminant: its mean spectrum
        data = data.reshape(-1, data.shape[-1]).mean(axis=0)
    if light_wave is not None and np.size(light_wave) == data.size:
        return np.interp(wave, np.asarray(light_wave, dtype=np.float64), data)
    if data.size != wave.size:
        raise DataError(f"{path}: the illuminant has {data.size} samples, the scene {wave.size}")
    return data


def _read_envi(path: Path) -> SpectralScene:
    header = parse_envi_header(path)
    try:
        samples, lines, bands = (int(header[key]) for key in ("samples", "lines", "bands"))
        dtype = np.dtype(ENVI_TYPES[int(header.get("data type", "4"))])
    except (KeyError, ValueError):
        raise DataError(f"{path}: ENVI header lacks samples/lines/bands or a data type") from None
    if "wavelength" not in header:
        raise DataError(f"{path}: ENVI header has no wavelength list")
    wave = np.array([float(v) for v in header["wavelength"].split(",")])
    if header.get("wavelength units", "nm").lower().startswith("micro"):
        wave = wave * 1000.0
    dtype = dtype.newbyteorder(">" if header.get("byte order", "0").strip() == "1" else "<")
    raw = _envi_data_file(path)
    offset = int(header.get("header offset", "0"))
    count = samples * lines * bands
    if raw.stat().st_size < offset + count * dtype.itemsize:
        raise DataError(f"{raw}: shorter than its header says ({samples}×{lines}×{bands})")
    flat = np.fromfile(raw, dtype=dtype, count=count, offset=offset).astype(np.float64)
    interleave = header.get("interleave", "bsq").lower()
    shapes = {"bsq": ((bands, lines, samples), (1, 2, 0)),
              "bil": ((lines, bands, samples), (0, 2, 1)),
              "bip": ((lines, samples, bands), (0, 1, 2))}  # fmt: skip
    if interleave not in shapes:
        raise DataError(f"{path}: unknown ENVI interleave {interleave!r}")
    shape, axes = shapes[interleave]
    cube = flat.reshape(shape).transpose(axes)
    scale = float(header.get("reflectance scale factor", "1") or 1)
    return SpectralScene(path.stem, cube / scale, wave)


def parse_envi_header(path: Path) -> dict[str, str]:
    """The ``key = value`` fields of an ENVI header (braced lists joined, lower-case keys)."""
    text = path.read_text(errors="replace")
    if not text.lstrip().startswith("ENVI"):
        raise DataError(f"{path}: not an ENVI header (it must start with 'ENVI')")
    fields = {}
    for match in re.finditer(r"^\s*([^=\n]+?)\s*=\s*(\{[^}]*\}|[^\n]*)", text, re.MULTILINE):
        fields[match.group(1).strip().lower()] = match.group(2).strip().strip("{}").strip()
    return fields


def _envi_data_file(header: Path) -> Path:
    for candidate in (header.with_suffix(""), *(header.with_suffix(s) for s in
                      (".raw", ".img", ".dat", ".bsq", ".bil", ".bip"))):  # fmt: skip
        if candidate.is_file() and candidate != header:
            return candidate
    raise DataError(f"{header}: no data file beside it (same name without .hdr, or .raw/.img)")


def save_scene(scene: SpectralScene) -> bytes:
    """The scene as the bytes of an ``.npz`` that :func:`read_scene` reads back; the same
    scene always gives the same bytes (no time stamps), reflectance stored as float16."""
    dtype = np.float16 if scene.quantity == "reflectance" else np.float32
    arrays = {
        "cube": np.asarray(scene.cube, dtype=dtype),
        "wavelength_nm": scene.wavelength_nm,
        "quantity": np.array(scene.quantity),
        "units": np.array(scene.units),
    }
    if scene.illuminant is not None:
        arrays["illuminant"] = np.asarray(scene.illuminant, dtype=np.float64)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, array, allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(info, member.getvalue(), compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def check_scene_size(size: int) -> None:
    """Refuse a scene side outside 16 to :data:`MAX_SCENE_SIZE` pixels (:class:`DataError`)."""
    if not 16 <= size <= MAX_SCENE_SIZE:
        raise DataError(f"scene size must be 16 to {MAX_SCENE_SIZE} pixels, not {size}")


def check_seed(seed: int) -> None:
    """Refuse a negative random seed (:class:`DataError`); NumPy takes only seeds ≥ 0."""
    if seed < 0:
        raise DataError(f"the seed must be 0 or more, not {seed}")


def make_scene(
    name: str,
    category: str = "mixed",
    size: int = 128,
    light: str = "daylight",
    seed: int | list[int] = 0,
    wavelength_nm: np.ndarray = WAVELENGTHS_NM,
) -> SpectralScene:
    """A synthetic reflectance scene of textured regions under ``light``.

    Parameters
    ----------
    name : str
    category : str
        One of :data:`CATEGORIES`: which reflectance libraries fill the regions.
    size : int
        Height and width in pixels, 16 to :data:`MAX_SCENE_SIZE`.
    light : str
        An illuminant name or CSV file (see :func:`~.library.illuminant`).
    seed : int
        The same seed always gives the same scene.
    wavelength_nm : ndarray
        The spectral grid.
    """
    if category not in CATEGORIES:
        raise DataError(f"unknown scene category {category!r}; known: {', '.join(CATEGORIES)}")
    check_scene_size(size)
    rng = np.random.default_rng(seed)
    grid = np.asarray(wavelength_nm, dtype=np.float64)
    labels = region_map(size, int(rng.integers(6, 18)), rng)
    regions = labels.max() + 1
    first, second = (region_spectra(category, regions, grid, rng) for _ in range(2))
    blend = smooth_field((size, size), size / 6, rng)
    shade = 0.55 + 0.45 * smooth_field((size, size), size / 4, rng)
    grain = 1.0 + 0.04 * rng.standard_normal((size, size))
    mix = blend[..., None]
    cube = (first[labels] * (1 - mix) + second[labels] * mix) * (shade * grain)[..., None]
    power = illuminant(light, grid)
    return SpectralScene(name, np.clip(cube, 0.0, 1.0).astype(np.float32), grid,
                         quantity="reflectance", illuminant=power)  # fmt: skip


def region_map(size: int, regions: int, rng: np.random.Generator) -> np.ndarray:
    """Labels 0..regions-1 of warped Voronoi cells, shape (size, size)."""
    seeds = rng.uniform(0, size, (regions, 2))
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    warp = size / 8
    rows = rows + warp * (smooth_field((size, size), size / 5, rng) - 0.5)
    cols = cols + warp * (smooth_field((size, size), size / 5, rng) - 0.5)
    distance = (rows[..., None] - seeds[:, 0]) ** 2 + (cols[..., None] - seeds[:, 1]) ** 2
    return np.argmin(distance, axis=2)


def smooth_field(shape: tuple[int, int], scale: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth random values in [0, 1]: Gaussian-filtered white noise, stretched."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), scale, mode="wrap")
    low, high = field.min(), field.max()
    return (field - low) / (high - low) if high > low else np.zeros(shape)


def region_spectra(
    category: str, regions: int, grid: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """One reflectance per region, libraries drawn with the category's shares, (regions, n)."""
    shares = CATEGORIES[category]
    names = list(shares)
    chosen = rng.choice(len(names), size=regions, p=np.array(list(shares.values())))
    spectra = np.empty((regions, len(grid)))
    for index, library in enumerate(chosen):
        options = reflectances(names[library], grid, count=8, seed=int(rng.integers(2**31)))
        spectra[index] = options[rng.integers(len(options))]
    return spectra


def is_scenes_folder(folder: Path) -> bool:
    """Whether ``folder`` is what :func:`make_scenes` writes: category folders only."""
    return all(entry.is_dir() and entry.name in CATEGORIES for entry in folder.iterdir())


def make_scenes(
    output: str | os.PathLike,
    count: int = 40,
    seed: int = 0,
    size: int = 128,
    lights: tuple[str, ...] = ("daylight", "A"),
    categories: tuple[str, ...] = tuple(CATEGORIES),
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write ``count`` synthetic scenes as ``output/<category>/scene_NNN.npz``.

    Scene ``i`` takes category ``categories[i % len(categories)]``, an illuminant drawn from
    ``lights`` and the seed ``[seed, i]``: the same arguments give the same bytes. The folder
    appears complete or not at all.

    Raises
    ------
    DataError
        For an existing ``output`` without ``overwrite``, an unknown category or illuminant,
        or a count below 1.
    """
    output = Path(output).expanduser()
    check_output_folder(output, overwrite, is_ours=is_scenes_folder, error_type=DataError)
    if not 1 <= count <= MAX_SCENES:
        raise DataError(f"the number of scenes must be 1 to {MAX_SCENES}, not {count}")
    check_scene_size(size)
    check_seed(seed)
    unknown = [c for c in categories if c not in CATEGORIES] or not categories
    if unknown:
        raise DataError(f"scene categories must be among {', '.join(CATEGORIES)}")
    for light in lights:
        illuminant(light, WAVELENGTHS_NM)  # an unknown name fails before any scene is made

    def write(folder: Path) -> None:
        for index in range(count):
            category = categories[index % len(categories)]
            picker = np.random.default_rng([seed, index, 1])
            light = lights[int(picker.integers(len(lights)))]
            name = f"scene_{index:03d}"
            scene = make_scene(name, category, size, light, seed=[seed, index])
            (folder / category).mkdir(exist_ok=True)
            (folder / category / f"{name}.npz").write_bytes(save_scene(scene))
            if progress is not None:
                progress(index + 1, count)

    return write_folder_atomic(output, write)
