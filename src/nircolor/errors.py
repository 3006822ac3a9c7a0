"""Errors that nircolor reports to users as one clear line."""


class NircolorError(Exception):
    """Base class for every error caused by user input (files, models, options).

    The CLI prints ``str(error)`` on one line and exits non-zero; it never shows a traceback
    for these.
    """


class ImageReadError(NircolorError):
    """An image file is missing, unreadable, of an unsupported kind or of absurd size."""


class ImageWriteError(NircolorError):
    """An output image could not be written (it is then left untouched)."""


class ModelError(NircolorError):
    """A model name or path is unknown, or a model file is invalid."""


class DataError(NircolorError):
    """A dataset folder or manifest is missing or malformed."""


class MissingExtraError(NircolorError):
    """A feature needs an optional dependency that is not installed (an extra: report...)."""


class NircolorWarning(UserWarning):
    """Something about an input that is likely a mistake but not an error (a 16-bit image
    that uses only a sliver of its range, say); the CLI prints it as one line."""

    def for_command_line(self) -> str:
        """The text the CLI prints: the same, unless the warning names a setting, which the
        command line spells as an option (``--input-bits 12``, not ``input_bits=12``)."""
        return str(self)


def error_reason(error: BaseException, empty: str | None = None) -> str:
    """The first line of an exception's message; when it has none, ``empty`` (default: the
    exception type's name)."""
    text = str(error).strip().splitlines()
    if text:
        return text[0]
    return type(error).__name__ if empty is None else empty


def already_exists(
    path, error_type: type[NircolorError] = ImageWriteError, skip_existing: bool = False
) -> NircolorError:
    """The one error for an output that exists and may not be replaced (raise it).

    The library's names the ``overwrite`` argument; with ``skip_existing``, that of a batch
    front end, the options of the command line.
    """
    if skip_existing:
        hint = "use --overwrite to replace it or --skip-existing to keep it"
    else:
        hint = "pass overwrite=True to replace it"
    return error_type(f"{path}: already exists ({hint})")


def is_an_input(path, error_type: type[NircolorError] = ImageWriteError) -> NircolorError:
    """The one error for an output that is one of the inputs (raise it); no flag allows it."""
    return error_type(f"{path}: is one of the inputs; write the output elsewhere")
