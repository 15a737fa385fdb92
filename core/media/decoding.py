"""Decoding within a memory bound, whatever the image's size.

A small file can hold a huge picture (a 13000 × 13000 PNG of one colour is 0.5 MB on disk and
676 MB decoded), so the file's size says nothing about what decoding it costs. Every rendering
works from a copy reduced by a whole factor to at most twice the display size, and decodes at
most `DECODE_BUDGET_BYTES` at once on the way:

- JPEG is decoded reduced (1/2 to 1/8, libjpeg's DCT scaling through Pillow's `draft`): any
  baseline JPEG under the pixel limit fits. A progressive JPEG keeps every DCT coefficient of
  the whole picture while decoding (2 bytes per sample), and that must fit.
- Non-interlaced PNG is decoded a strip of rows at a time, each strip reduced as it comes
  (`png_strips`): any size fits.
- Everything else (TIFF, BMP, interlaced or 16-bit colour PNG) is decoded whole, which it may
  only when its pixels, plus the strip or tile buffer its decoder reads into and any mode
  conversion, fit the budget.

An image that cannot be decoded within the budget fails with a reason that names its size, the
bound and what to do, and its item is marked in error.
"""

from __future__ import annotations

import math
from typing import BinaryIO

from PIL import Image, JpegImagePlugin, TiffImagePlugin

from core.media import png_strips
from core.media.facts import MediaError

DECODE_BUDGET_BYTES = 256 << 20
"""The most decoded image data one rendering holds at once (a stage worker renders one image
at a time). With the reduced copy (at most 4095 × 4095 pixels) and the renditions, a worker
grows by at most `RENDER_MEMORY_BOUND_BYTES` whatever it renders."""
RENDER_MEMORY_BOUND_BYTES = 384 << 20
"""What rendering any one image adds to a worker's memory at most: the budget, the reduced
copy (64 MiB), the file's first megabytes and the renditions (the tests hold it to this)."""

_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
"""Pillow's in-memory sizes; every other mode takes 4 bytes a pixel."""
_REDUCIBLE = frozenset({"L", "LA", "RGB", "RGBA", "I", "F", "CMYK", "YCbCr", "RGBX", "La", "RGBa"})


def reduced(
    image: Image.Image,
    file: BinaryIO,
    name: str,
    longest: int,
    *,
    budget: int = DECODE_BUDGET_BYTES,
) -> Image.Image:
    """`image` (opened from `file`, Pillow format `name` as Loupe names it) decoded within
    `budget` and reduced by a whole factor so that its longest side is under 2 × `longest`, in
    a mode Pillow can resize. Raises `MediaError` when it cannot be decoded within `budget`."""
    if name == "jpeg":
        _draft(image, longest, budget)
    factor = max(1, max(image.size) // longest)
    if name == "png" and factor > 1 and (found := png_strips.header(file)) is not None:
        return png_strips.reduced(file, found, factor)
    _check_whole(image, name, budget)
    image.load()
    picture = _reducible(image)
    return picture.reduce(factor) if factor > 1 else picture


def _draft(image: Image.Image, longest: int, budget: int) -> None:
    """Ask libjpeg to decode at the smallest DCT scale still at least `longest` on the long
    side, keeping the aspect ratio (a very wide picture still shrinks)."""
    width, height = image.size
    progressive = _progressive_bytes(image)
    if progressive > budget:
        raise MediaError(
            f"too large to decode within a worker's memory bound: a progressive JPEG of "
            f"{width:,} × {height:,} pixels holds {_mb(progressive)} of coefficients while "
            f"decoding, over the {_mb(budget)} bound; save it as a baseline "
            "(non-progressive) JPEG, which Loupe decodes reduced at any size, or as PNG"
        )
    scale = longest / max(width, height)
    if scale < 1:
        image.draft(None, (max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))))


def _progressive_bytes(image: Image.Image) -> int:
    """The coefficient buffers libjpeg keeps for a progressive JPEG: 64 two-byte coefficients
    per 8 × 8 block of every component, at full size whatever the scale (0 if baseline)."""
    if not isinstance(image, JpegImagePlugin.JpegImageFile) or not (
        image.info.get("progressive") or image.info.get("progression")
    ):
        return 0
    layers = getattr(image, "layer", None) or [("", 1, 1, 0)] * 3
    most_h = max(layer[1] for layer in layers)
    most_v = max(layer[2] for layer in layers)
    width, height = image.size
    blocks = 0
    for _, h, v, _ in layers:
        columns = math.ceil(math.ceil(width * h / most_h) / 8)
        rows = math.ceil(math.ceil(height * v / most_v) / 8)
        blocks += columns * rows
    return blocks * 128


def _check_whole(image: Image.Image, name: str, budget: int) -> None:
    width, height = image.size
    needed = decoded_bytes(image)
    if needed <= budget:
        return
    advice = {
        "png": "save it as a non-interlaced 8-bit PNG or as JPEG, which Loupe decodes in "
        "strips or reduced at any size under the pixel limit",
        "jpeg": "cut it into smaller images",
    }.get(
        name,
        "save it as JPEG or PNG, which Loupe decodes reduced at any size under the pixel "
        "limit, or cut it into smaller images",
    )
    raise MediaError(
        f"too large to decode within a worker's memory bound: {width:,} × {height:,} pixels "
        f"({image.mode}) take {_mb(needed)} decoded, over the {_mb(budget)} bound; {advice}"
    )


def decoded_bytes(image: Image.Image) -> int:
    """Memory a whole decode of `image` takes: its pixels, the buffer of one TIFF strip or
    tile, and the copy a mode that cannot be reduced needs."""
    pixels = image.width * image.height
    needed = pixels * _BYTES_PER_PIXEL.get(image.mode, 4)
    if image.mode not in _REDUCIBLE:
        needed += pixels * 4  # converted to L, RGB(A) or I before reducing
    if isinstance(image, TiffImagePlugin.TiffImageFile):
        needed += _tiff_block_bytes(image)
    return needed


def _tiff_block_bytes(image: TiffImagePlugin.TiffImageFile) -> int:
    """libtiff decodes one strip or tile at a time into a buffer of its declared size, which a
    hostile file may make far larger than the picture: it counts too."""
    tags = image.tag_v2
    width, height = image.size
    if 322 in tags and 323 in tags:  # TileWidth, TileLength
        block = int(tags[322]) * int(tags[323])
    else:
        block = width * min(int(tags.get(278, height) or height), height)  # RowsPerStrip
    samples = int(tags.get(277, 1) or 1)
    bits = tags.get(258, (8,))
    depth = max(bits) if isinstance(bits, tuple) and bits else int(bits or 8)
    return block * max(4, math.ceil(samples * depth / 8))  # RGBA when libtiff converts


def _reducible(image: Image.Image) -> Image.Image:
    if image.mode in _REDUCIBLE:
        return image
    if image.mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode == "PA":
        return image.convert("RGBA")
    if image.mode.startswith("I;16"):
        return image.convert("I")
    return image.convert("L" if image.mode == "1" else "RGB")


def _mb(size: int) -> str:
    return f"{size / (1 << 20):,.0f} MB"
