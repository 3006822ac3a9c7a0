"""Atomic writes: a file or folder appears complete, or not at all.

Everything is written into a temporary sibling of the target and renamed over it only when
complete, so a failed run never leaves a partial file and never touches a file it was not
asked to replace.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import ImageWriteError, error_reason


def current_umask() -> int:
    """The process's file-creation mask (read without changing it)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


def write_folder_atomic(
    output: Path, write: Callable[[Path], None], before_swap: Callable[[], None] | None = None
) -> Path:
    """Fill a temporary sibling of ``output`` with ``write(folder)``, then rename it into place.

    An existing ``output`` is replaced only once the new folder is complete (callers decide
    whether that is allowed); ``before_swap()`` runs just before, to check again. On any error
    the temporary folder is removed and ``output`` is left as it was.
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
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


@contextmanager
def atomic_path(target: Path, suffix: str = ".part") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    On any exception the temporary file is removed and ``target`` is left as it was; an
    ``OSError`` becomes an :class:`ImageWriteError` naming ``target``.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
        os.close(fd)
    except OSError as error:
        raise ImageWriteError(f"{target}: cannot write ({error_reason(error)})") from None
    temp = Path(name)
    try:
        yield temp
        with open(temp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(temp, default_file_mode())
        os.replace(temp, target)
    except BaseException as error:
        temp.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise ImageWriteError(f"{target}: cannot write ({error_reason(error)})") from None
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename."""
    with atomic_path(Path(path)) as temp:
        temp.write_bytes(data)
