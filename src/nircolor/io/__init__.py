"""Image files in and out: decoding and encoding, atomic writes, streaming by row bands.

Inside nircolor every image is a float32 array in [0, 1]: ``(H, W)`` for NIR, ``(H, W, 3)``
for colour. :mod:`.images` reads and writes whole images, :mod:`.atomic` makes every write
all-or-nothing, :mod:`.samples` scales samples to [0, 1] and back, :mod:`.png` checks PNG
files before they are decoded, :mod:`.stream` reads and writes huge files by row bands,
:mod:`.marks` marks colorized files as nircolor's. Every reader checks the size in a file's
header against :data:`MAX_PIXELS` and silences the decoders (:mod:`.decoding`), and applies
a JPEG's or TIFF's Orientation tag (:mod:`.orientation`).
"""

from .atomic import (
    atomic_path,
    current_umask,
    default_file_mode,
    write_bytes_atomic,
    write_folder_atomic,
)
from .decoding import MAX_PIXELS
from .images import (
    GREY_TOLERANCE,
    READ_EXTENSIONS,
    TIFF_EXTENSIONS,
    TIFF_MAGIC,
    WRITE_EXTENSIONS,
    as_grey,
    encode_image,
    is_tiff_file,
    read_image,
    read_image_bytes,
    read_nir,
    read_nir_bytes,
    read_raw,
    read_rgb,
    write_image,
)
from .samples import samples_to_float, to_uint
from .stream import image_size, open_rows

__all__ = [
    "GREY_TOLERANCE",
    "MAX_PIXELS",
    "READ_EXTENSIONS",
    "TIFF_EXTENSIONS",
    "TIFF_MAGIC",
    "WRITE_EXTENSIONS",
    "as_grey",
    "atomic_path",
    "current_umask",
    "default_file_mode",
    "encode_image",
    "image_size",
    "is_tiff_file",
    "open_rows",
    "read_image",
    "read_image_bytes",
    "read_nir",
    "read_nir_bytes",
    "read_raw",
    "read_rgb",
    "samples_to_float",
    "to_uint",
    "write_bytes_atomic",
    "write_folder_atomic",
    "write_image",
]
