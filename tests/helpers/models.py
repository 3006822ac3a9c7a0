"""Checks on loading model folders."""

from pathlib import Path

import pytest

from nircolor.errors import ModelError
from nircolor.models import load_model


def load_error(folder: Path) -> str:
    """The one-line ModelError that loading ``folder`` gives, blaming its config.json."""
    with pytest.raises(ModelError) as error:
        load_model(folder)
    message = str(error.value)
    assert len(message.splitlines()) == 1, message
    assert message.startswith(f"{folder / 'config.json'}: "), message
    return message
