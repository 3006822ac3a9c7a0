"""Spectral curves on a wavelength grid: sensitivities, filters, illuminants, reflectances.

A :class:`SpectralCurves` holds one or more curves sampled on one wavelength grid (nm). The
ISETCam-format CSV files shipped in ``nircolor/spectral/data`` (see its ``PROVENANCE.md``)
load with :func:`load_curves` (a path) or :func:`package_curves` (a name such as
``"filters/ir_cut_schott"``); :meth:`SpectralCurves.resample` puts curves of different grids
on a common one before they are combined.
"""

from __future__ import annotations

import csv
import functools
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import DataError

WAVELENGTHS_NM = np.arange(400.0, 1001.0, 10.0)
"""The default simulation grid: 400–1000 nm in 10 nm steps (visible and silicon NIR)."""

OUTSIDE = ("error", "zero", "edge")


@dataclass(frozen=True)
class SpectralCurves:
    """Curves sampled on one wavelength grid.

    Attributes
    ----------
    wavelength_nm : ndarray, shape (n,)
        Strictly increasing wavelengths in nm.
    values : ndarray, shape (n, k)
        One column per curve.
    names : tuple of str
        The name of each column.
    source : str
        Where the curves come from (a file, a model), for messages.
    """

    wavelength_nm: np.ndarray
    values: np.ndarray
    names: tuple[str, ...]
    source: str = ""

    def __post_init__(self) -> None:
        wave = np.asarray(self.wavelength_nm, dtype=np.float64)
        values = np.asarray(self.values, dtype=np.float64)
        if values.ndim == 1:
            values = values[:, None]
        if wave.ndim != 1 or len(wave) < 2 or values.shape[0] != len(wave):
            raise DataError(f"{self.source}: needs at least 2 wavelengths, one row each")
        if np.any(np.diff(wave) <= 0):
            raise DataError(f"{self.source}: wavelengths must be strictly increasing")
        if not np.all(np.isfinite(values)):
            raise DataError(f"{self.source}: curves hold NaN or infinite values")
        if len(self.names) != values.shape[1]:
            raise DataError(f"{self.source}: {values.shape[1]} curves but {len(self.names)} names")
        object.__setattr__(self, "wavelength_nm", wave)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "names", tuple(self.names))

    @property
    def range_nm(self) -> tuple[float, float]:
        """The first and last wavelength."""
        return float(self.wavelength_nm[0]), float(self.wavelength_nm[-1])

    def resample(self, wavelength_nm: np.ndarray, outside: str = "error") -> SpectralCurves:
        """The curves linearly interpolated onto ``wavelength_nm``.

        Parameters
        ----------
        wavelength_nm : array_like
            The new grid (nm).
        outside : {"error", "zero", "edge"}
            What to do where the new grid leaves the measured range: raise
            :class:`~nircolor.errors.DataError`, use 0, or hold the nearest measured value.
        """
        if outside not in OUTSIDE:
            raise ValueError(f"outside must be one of {OUTSIDE}, not {outside!r}")
        grid = np.asarray(wavelength_nm, dtype=np.float64)
        low, high = self.range_nm
        beyond = (grid < low - 1e-6) | (grid > high + 1e-6)
        if outside == "error" and beyond.any():
            raise DataError(
                f"{self.source}: measured over {low:g}–{high:g} nm, which does not cover "
                f"{grid[0]:g}–{grid[-1]:g} nm"
            )
        columns = [np.interp(grid, self.wavelength_nm, column) for column in self.values.T]
        values = np.stack(columns, axis=1)
        if outside == "zero":
            values[beyond] = 0.0
        return SpectralCurves(grid, values, self.names, self.source)

    def select(self, *names: str) -> SpectralCurves:
        """Only the named curves, in that order."""
        missing = [name for name in names if name not in self.names]
        if missing:
            raise DataError(f"{self.source}: no curve named {missing[0]!r}")
        columns = [self.names.index(name) for name in names]
        return SpectralCurves(self.wavelength_nm, self.values[:, columns], names, self.source)

    def scaled(self, factor: float) -> SpectralCurves:
        """The curves times ``factor``."""
        return SpectralCurves(self.wavelength_nm, self.values * factor, self.names, self.source)

    def __mul__(self, other: SpectralCurves) -> SpectralCurves:
        """Product on this grid (``other`` resampled, held at its ends): a sensor times a
        filter; a one-curve ``other`` multiplies every column."""
        other_values = other.resample(self.wavelength_nm, outside="edge").values
        if other_values.shape[1] not in (1, self.values.shape[1]):
            raise DataError(f"cannot multiply {self.source} by {other.source}: curve counts")
        source = f"{self.source} × {other.source}"
        return SpectralCurves(self.wavelength_nm, self.values * other_values, self.names, source)


def load_curves(path: str | os.PathLike) -> SpectralCurves:
    """Read curves from an ISETCam-format CSV file.

    The file may start with free-text header lines; the first line that starts with
    ``wavelength_nm`` names the columns, and every line after it is one sample.

    Raises
    ------
    DataError
        If the file is missing, has no ``wavelength_nm`` header, or holds non-numbers.
    """
    path = Path(path).expanduser()
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read curves ({error.__class__.__name__})") from None
    return parse_curves(text, str(path))


def parse_curves(text: str, source: str) -> SpectralCurves:
    """Curves from the text of an ISETCam-format CSV file (see :func:`load_curves`)."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("wavelength_nm")), None)
    if start is None:
        raise DataError(f"{source}: no 'wavelength_nm,...' header line")
    rows = [row for row in csv.reader(lines[start:]) if row and any(cell.strip() for cell in row)]
    header, body = rows[0], rows[1:]
    if len(header) < 2 or not body:
        raise DataError(f"{source}: needs a wavelength column, a curve column and samples")
    try:
        table = np.array([[float(cell) for cell in row] for row in body], dtype=np.float64)
    except ValueError:
        raise DataError(f"{source}: holds a sample that is not a number") from None
    if table.shape[1] != len(header):
        raise DataError(f"{source}: rows and header differ in length")
    names = tuple(name.strip() for name in header[1:])
    return SpectralCurves(table[:, 0], table[:, 1:], names, source)


def package_curves(name: str) -> SpectralCurves:
    """Curves shipped with nircolor, by name: ``"cameras/mt9v024_mono"``,
    ``"filters/ir_pass_720"``... (:func:`package_curve_names` lists them)."""
    if name not in package_curve_names():
        known = ", ".join(package_curve_names())
        raise DataError(f"no packaged curves named {name!r}; known: {known}")
    return _packaged(name)


@functools.lru_cache(maxsize=32)
def _packaged(name: str) -> SpectralCurves:
    resource = resources.files(__package__).joinpath("data").joinpath(f"{name}.csv")
    return parse_curves(resource.read_text(), f"nircolor:{name}")


@functools.lru_cache(maxsize=1)
def package_curve_names() -> tuple[str, ...]:
    """The names of the packaged curve files (``folder/stem``)."""
    root = resources.files(__package__).joinpath("data")
    names = []
    for folder in root.iterdir():
        if folder.is_dir():
            names += [
                f"{folder.name}/{f.name[:-4]}" for f in folder.iterdir() if f.name.endswith(".csv")
            ]
    return tuple(sorted(names))
