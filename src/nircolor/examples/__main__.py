"""Regenerate the bundled example NIR image: ``python -m nircolor.examples``."""

from ..io import write_image
from . import EXAMPLE_NIR, make_example_nir

write_image(EXAMPLE_NIR, make_example_nir(), overwrite=True)
print(f"wrote {EXAMPLE_NIR}")
