"""Atomic writes: a file or folder appears complete, or not at all.

Everything is written into a temporary sibling of the target (``.NAME.pPID.XXXXXXXX.part``) and
published only when complete, so a failed run never leaves a partial file and never touches a
file it was not asked to replace: without ``replace`` a file is published with a hard link,
which fails if anything (a file, a dangling symlink) took the name meanwhile. A run killed
with ``kill -9`` leaves its temporary file behind; :func:`remove_stale_parts` clears those.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import ImageWriteError, error_reason, is_an_input

PART_SUFFIX = ".part"
"""The suffix (before any extension the writer needs) of temporary files being written."""

_PART_NAME = re.compile(r"\..+?\.p(?P<pid>\d+)\.[a-z0-9_]{8}\.part(\.[A-Za-z0-9]+)?")
"""``.NAME.`` + ``pPID.`` of the writing process + mkstemp's 8 random characters +
``.part`` (+ ``.ext`` for videos). Only such names are ours: a ``.X.YYYYYYYY.part`` without
the pid may be a user's file (``.thesis.backup01.part``) and is never removed."""

_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.EXDEV}
"""Errors of ``os.link`` that mean "not on this file system", not "the name is taken"."""


def current_umask() -> int:
    """The process's file-creation mask (read without changing it)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


def make_folder(folder: Path) -> Path:
    """``folder`` made with its missing parents (an existing one is fine).

    Raises
    ------
    ImageWriteError
        Where it cannot be made (no permission, a read-only or virtual file system, a file
        in the way), naming ``folder``.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ImageWriteError(f"{folder}: cannot write ({error_reason(error)})") from None
    return folder


def make_staging_folder(output: Path) -> Path:
    """A new temporary folder beside ``output`` (its parents made as needed).

    Raises
    ------
    ImageWriteError
        Where the folder cannot be made (no permission, a read-only or virtual file system,
        a file in the way), naming ``output``.
    """
    make_folder(output.parent)
    try:
        return Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    except OSError as error:
        raise ImageWriteError(f"{output}: cannot write ({error_reason(error)})") from None


def write_folder_atomic(
    output: Path, write: Callable[[Path], None], before_swap: Callable[[], None] | None = None
) -> Path:
    """Fill a temporary sibling of ``output`` with ``write(folder)``, then rename it into place.

    An existing ``output`` is replaced only once the new folder is complete (callers decide
    whether that is allowed); ``before_swap()`` runs just before, to check again. On any error
    the temporary folder is removed and ``output`` is left as it was; a folder that cannot be
    made raises :class:`ImageWriteError`.
    """
    staging = make_staging_folder(output)
    try:
        os.chmod(staging, 0o777 & ~current_umask())  # mkdtemp makes it private (0700)
        write(staging)
        if before_swap is not None:
            before_swap()
        if output.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{output.name}.old.", dir=output.parent))
            os.replace(output, retired / output.name)
            os.replace(staging, output)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, output)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return output


def default_file_mode() -> int:
    """The mode a plain ``open(..., "w")`` would give (mkstemp makes files private, 0600)."""
    return 0o666 & ~current_umask()


def output_path(path: str | os.PathLike) -> Path:
    """``path`` as a Path, refusing the empty one (``Path("")`` would be the current folder)."""
    if os.fspath(path) == "":
        raise ImageWriteError("the output path is empty; name an output file")
    return Path(path)


def output_exists(path: str | os.PathLike) -> bool:
    """Whether anything, a dangling symlink included, holds the name ``path``."""
    return os.path.lexists(path)


def file_id(path: str | os.PathLike) -> tuple[int, int] | None:
    """``(device, inode)`` of the file ``path`` leads to (links followed); ``None`` if none.

    Two names with one id are one file: the same path, a symlink or a hard link to it.
    """
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        return None
    return status.st_dev, status.st_ino


@contextmanager
def atomic_path(target: Path, suffix: str = PART_SUFFIX, replace: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; publish it as ``target`` on success.

    With ``replace`` an existing ``target`` is replaced; without it, a ``target`` that
    appeared meanwhile (another run, another program) is left as it is and the write fails.
    On any exception the temporary file is removed and ``target`` is left as it was; an
    ``OSError`` becomes an :class:`ImageWriteError` naming ``target``.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        prefix = f".{target.name}.p{os.getpid()}."
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=target.parent)
        os.close(fd)
    except OSError as error:
        raise ImageWriteError(f"{target}: cannot write ({error_reason(error)})") from None
    temp = Path(name)
    try:
        yield temp
        with open(temp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(temp, default_file_mode())
        if replace:
            os.replace(temp, target)
        else:
            _publish_new(temp, target)
    except BaseException as error:
        temp.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise ImageWriteError(f"{target}: cannot write ({error_reason(error)})") from None
        raise


def _publish_new(temp: Path, target: Path) -> None:
    """Give ``temp`` the name ``target`` only if nothing holds that name (then drop ``temp``)."""
    try:
        try:
            os.link(temp, target)
        except OSError as error:
            if error.errno not in _NO_HARD_LINKS:
                raise
            # No hard links here: claim the name exclusively, then rename onto the claim.
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            os.replace(temp, target)
            return
    except FileExistsError:
        raise ImageWriteError(
            f"{target}: appeared while it was being written (another run?); left as it is"
        ) from None
    temp.unlink()


def write_bytes_atomic(path: Path, data: bytes, replace: bool = True) -> None:
    """Write ``data`` to ``path`` through a temporary file, published atomically.

    Without ``replace``, a file that holds the name by then is left as it is and
    :class:`ImageWriteError` is raised.
    """
    with atomic_path(Path(path), replace=replace) as temp:
        temp.write_bytes(data)


def is_part_file(path: Path) -> bool:
    """Whether ``path`` is named like the temporary files :func:`atomic_path` makes."""
    return _PART_NAME.fullmatch(path.name) is not None


def writer_pid(path: Path) -> int | None:
    """The process id in the name of one of our temporary files; ``None`` for other names."""
    match = _PART_NAME.fullmatch(path.name)
    return None if match is None else int(match["pid"])


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` is still running (here); when unsure, it is."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's live process, or cannot tell: keep the file
    return True


def remove_stale_parts(folder: Path, older_than: float) -> list[Path]:
    """Remove the temporary files of killed runs from ``folder``: files named like ours,
    with the writer's pid (not recursively), last modified before ``older_than`` (a
    ``time.time()``) whose writing process is no longer running, so a concurrent run's file
    in progress stays. Returns the removed files; a folder that cannot be listed has none."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        path = Path(entry.path)
        pid = writer_pid(path)
        try:
            stale = entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < older_than
            if stale and pid is not None and not _process_alive(pid):
                os.unlink(path)
                removed.append(path)
        except OSError:
            continue  # gone meanwhile, or not ours to remove
    return removed


def check_not_input(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Refuse an empty ``target`` or one that is the file ``source`` (same path, symlink or
    hard link)."""
    target_id = file_id(output_path(target))
    if target_id is not None and target_id == file_id(source):
        raise is_an_input(target)
