"""Which outputs a command may write: the one check for output files and output folders.

An output file is refused when it names a folder, when it exists (without ``overwrite``) and
always when it is one of the inputs. An output folder is refused when it is a file, when it
exists (without ``overwrite``), and always when it is or holds the current folder or one of
the inputs, or is a non-empty folder of another kind than the command writes: ``--overwrite``
replaces an earlier output, never a folder of the user's files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import ImageWriteError, NircolorError, is_an_input
from .atomic import file_id, output_exists, output_path


def holds(folder: str | os.PathLike, path: str | os.PathLike) -> bool:
    """Whether ``path`` is ``folder`` or lies inside it (links resolved)."""
    folder, path = Path(folder).resolve(), Path(path).resolve()
    return path == folder or folder in path.parents


def check_output_file(
    target: str | os.PathLike,
    overwrite: bool,
    inputs: Iterable[str | os.PathLike] = (),
    error_type: type[NircolorError] = ImageWriteError,
) -> Path:
    """``target`` as an output file this command may write, or a one-line error: see
    :func:`check_output_files`."""
    return check_output_files([target], overwrite, inputs, error_type)[0]


def check_output_files(
    targets: Iterable[str | os.PathLike],
    overwrite: bool,
    inputs: Iterable[str | os.PathLike] = (),
    error_type: type[NircolorError] = ImageWriteError,
) -> list[Path]:
    """``targets`` as output files this command may write, or a one-line error.

    Missing parent folders are no error: the writers create them.

    Parameters
    ----------
    targets : iterable of paths
        The files to write. One is refused when empty, when it names a folder (an existing
        one or a name ending in a slash), or when it exists and ``overwrite`` is not set.
    overwrite : bool
        Replace existing files (never an input).
    inputs : iterable of paths
        The command's inputs: files (the same file under any name is refused) and folders
        (every file inside them is refused), whatever ``overwrite`` says.
    error_type : type
        The error raised.

    Returns
    -------
    list of Path
    """
    inputs = [Path(path) for path in inputs]
    folders = [path for path in inputs if path.is_dir()]
    input_ids = {file_id(path) for path in inputs} - {None}
    paths = []
    for target in targets:
        path = output_path(target)
        if os.fspath(target).endswith(("/", os.sep)) or path.is_dir():
            raise error_type(f"{target}: is a folder; name an output file")
        if file_id(path) in input_ids or any(holds(folder, path) for folder in folders):
            raise is_an_input(target, error_type)
        if output_exists(path) and not overwrite:
            raise error_type(f"{target}: already exists (use --overwrite to replace it)")
        paths.append(path)
    return paths


def check_output_folder(
    output: str | os.PathLike,
    overwrite: bool,
    inputs: Iterable[str | os.PathLike] = (),
    is_ours: Callable[[Path], bool] | None = None,
    allow_empty: bool = False,
    error_type: type[NircolorError] = NircolorError,
) -> Path:
    """``output`` as an output folder this command may write (or replace), or an error.

    Parameters
    ----------
    output : path
        The folder to write. Refused when it is not a folder, or exists and ``overwrite``
        is not set (an empty one is accepted with ``allow_empty``).
    overwrite : bool
        Replace an existing folder: only one that holds neither the current folder nor any
        of ``inputs``, and that is empty or ``is_ours``.
    inputs : iterable of paths
        The command's inputs (files or folders).
    is_ours : callable, optional
        ``is_ours(folder)``: whether a non-empty folder is this command's kind of output
        (a model folder, say). Without it any folder is.
    allow_empty : bool
        Accept an existing empty folder without ``overwrite``.
    error_type : type
        The error raised.

    Returns
    -------
    Path
    """
    output = output_path(output)
    if output_exists(output) and not output.is_dir():
        raise error_type(f"{output}: exists and is not a folder")
    if not output.is_dir() or (allow_empty and not any(output.iterdir())):
        return output
    if not overwrite:
        raise error_type(f"{output}: already exists (use --overwrite to replace it)")
    for path in inputs:
        if Path(path).resolve() == output.resolve():
            raise error_type(f"{output}: is one of the inputs; refusing to replace it")
    for path in (Path.cwd(), *inputs):
        if holds(output, path):
            raise error_type(f"{output}: refusing to replace a folder that holds {path}")
    if is_ours is not None and any(output.iterdir()) and not is_ours(output):
        raise error_type(
            f"{output}: refusing to replace a folder that is not an earlier output of this "
            "kind (remove it or write elsewhere)"
        )
    return output
