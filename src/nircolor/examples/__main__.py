"""Remake the bundled example NIR image: ``python -m nircolor.examples DATA_FOLDER``."""

import sys

from ..io import write_image
from . import EXAMPLE_NIR, make_example_from

if len(sys.argv) != 2:
    sys.exit("usage: python -m nircolor.examples DATA_FOLDER (the EPFL pairs, see README.md)")
write_image(EXAMPLE_NIR, make_example_from(sys.argv[1]), overwrite=True)
print(f"wrote {EXAMPLE_NIR}")
