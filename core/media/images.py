"""Images through Pillow: a header probe (format, oriented size, pages) and the renditions a
browser shows (a display image and a thumbnail).

Loupe enforces each project's pixel limit itself, before decoding, so Pillow's global
decompression-bomb limit is lifted: an owner must be able to raise the limit for big scans.
Whatever the size, rendering decodes within `decoding.DECODE_BUDGET_BYTES` (see there).
"""

from __future__ import annotations

import contextlib
import io
import struct
import warnings
from typing import Any, BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from core.media.decoding import reduced
from core.media.facts import MediaError, NeedMore, Probe, Rendition, Renditions, check_pixels
from core.media.headers import read_header

Image.MAX_IMAGE_PIXELS = None  # checked per project by check_pixels, before any decode
warnings.simplefilter("ignore", Image.DecompressionBombWarning)

FORMATS = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png", "BMP": "bmp", "TIFF": "tiff"}
"""Pillow's format names Loupe takes, and the name items record (MPO: a camera's JPEG)."""
BROWSER_READY = frozenset({"jpeg", "png"})
DISPLAY_MAX = 2048
THUMBNAIL_MAX = 256
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*")
_ROTATED = frozenset({5, 6, 7, 8})  # EXIF orientations that swap width and height
_ORIENTATION = 0x0112
_HEADER_ERRORS = (
    OSError,
    EOFError,
    SyntaxError,
    TypeError,
    struct.error,
    ValueError,
    IndexError,
    KeyError,
)


def probe_image(
    data: bytes | BinaryIO, *, complete: bool, max_pixels: int, extension: str = ""
) -> Probe:
    """Format, size after EXIF orientation, and pages, from the header alone. With
    `complete=False`, `data` is the file's beginning: raises `NeedMore` if that was too little."""
    if not (data if isinstance(data, bytes) else _at_start(data).read(1)):
        raise MediaError("empty file (0 bytes)")
    if isinstance(data, bytes) and (found := read_header(data)) is not None:
        return _probed(found.format, found.width, found.height, 1, found.orientation, max_pixels)
    try:
        with _open(data, extension) as image:
            name = _format(image)
            width, height = image.size
            frames = _frames(image) if name == "tiff" else 1
            orientation = _orientation(image, name)
    except UnidentifiedImageError:
        if not complete and _head(data, 4) in _TIFF_MAGIC:
            raise NeedMore from None  # a TIFF's directory is often at the end of the file
        raise MediaError("not a readable image: wrong extension, or a damaged file") from None
    except _HEADER_ERRORS as error:
        if not complete:
            raise NeedMore from error
        raise MediaError(
            f"damaged or truncated image header ({error}): add the whole file again"
        ) from None
    return _probed(name, width, height, frames, orientation, max_pixels)


def _probed(
    name: str, width: int, height: int, frames: int, orientation: int, max_pixels: int
) -> Probe:
    check_pixels(width, height, frames, max_pixels)
    if orientation in _ROTATED:
        width, height = height, width
    return Probe(format=name, width=width, height=height, frames=frames, orientation=orientation)


def _open(data: bytes | BinaryIO, extension: str) -> Image.Image:
    """Open trying the format the extension names first: from bytes, Pillow otherwise asks
    every format in turn, which costs more than reading the header itself. A file whose
    extension lies is still opened, by the full search."""
    file = io.BytesIO(data) if isinstance(data, bytes) else data
    expected = Image.registered_extensions().get(extension)
    if expected is not None:
        with contextlib.suppress(UnidentifiedImageError):
            return Image.open(_at_start(file), formats=[expected])
    return Image.open(_at_start(file))


def _head(data: bytes | BinaryIO, size: int) -> bytes:
    return data[:size] if isinstance(data, bytes) else _at_start(data).read(size)


def _at_start(file: BinaryIO) -> BinaryIO:
    file.seek(0)
    return file


def render_image(source: bytes | BinaryIO, *, max_pixels: int, extension: str = "") -> Renditions:
    """A display image (None when the file is browser-ready as it is) and a thumbnail, from
    the file's bytes or a seekable file (read as needed, never whole)."""
    file = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with _open(file, extension) as image:
            name = _format(image)
            check_pixels(*image.size, 1, max_pixels)
            orientation = _orientation(image, name)
            source_size = image.size
            ready = (
                name in BROWSER_READY
                and orientation == 1
                and max(image.size) <= DISPLAY_MAX
                and image.mode in ("RGB", "L", "RGBA", "LA", "P")
            )
            # Only what the renditions need is decoded: reduced, within the memory budget.
            picture = reduced(image, file, name, THUMBNAIL_MAX if ready else DISPLAY_MAX)
            if ready:
                return _thumbnail_only(picture, source_size)
            return renditions(picture, orientation=orientation, source_size=source_size)
    except MediaError:
        raise
    except UnidentifiedImageError:
        raise MediaError("not a readable image: wrong extension, or a damaged file") from None
    except _HEADER_ERRORS as error:
        raise MediaError(f"cannot decode the image ({_reason(error)})") from None


def decoded_rgb(file: BinaryIO, longest: int) -> Image.Image:
    """Any image file Loupe takes, decoded within the media budget and shrunk to fit a
    `longest` square, as RGB: for work on pictures other than rendering (ML assist)."""
    try:
        with _open(file, "") as image:
            picture = reduced(image, file, _format(image), longest).convert("RGB")
    except UnidentifiedImageError:
        raise MediaError("not a readable image: wrong extension, or a damaged file") from None
    picture.thumbnail((longest, longest))
    return picture


def renditions(
    image: Image.Image, *, orientation: int = 1, source_size: tuple[int, int] | None = None
) -> Renditions:
    """Both renditions of a decoded image (a reduced copy of one of `source_size`, if given):
    scaled to the display size (before 8-bit stretching, which then works on that size),
    oriented, 8-bit, and a thumbnail of that."""
    display = fit(source_size or image.size, DISPLAY_MAX)
    if image.size != display:
        image = image.resize(display, Image.Resampling.LANCZOS)
    big = _orient(_eight_bit(image), orientation)
    small = big.resize(fit(big.size, THUMBNAIL_MAX), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return Renditions(
        display=encode(big),
        thumbnail=encode(small, thumbnail=True),
        width=big.width,
        height=big.height,
    )


def fit(size: tuple[int, int], longest: int) -> tuple[int, int]:
    """`size` shrunk to fit a `longest` square, keeping its aspect ratio (rounded as Pillow's
    `thumbnail` rounds); unchanged if it fits."""
    width, height = size
    if max(width, height) <= longest:
        return size
    if width >= height:
        return longest, max(1, round(height * longest / width))
    return max(1, round(width * longest / height)), longest


def _thumbnail_only(image: Image.Image, source_size: tuple[int, int]) -> Renditions:
    small = _eight_bit(image)
    small.thumbnail((THUMBNAIL_MAX, THUMBNAIL_MAX), Image.Resampling.BILINEAR)
    return Renditions(
        display=None,
        thumbnail=encode(small, thumbnail=True),
        width=source_size[0],
        height=source_size[1],
    )


def encode(image: Image.Image, *, thumbnail: bool = False) -> Rendition:
    """JPEG for opaque pictures, PNG where transparency matters (not for thumbnails)."""
    out = io.BytesIO()
    if image.mode in ("RGBA", "LA") and not thumbnail:
        image.save(out, "PNG", compress_level=3)
        kind = "image/png"
    else:
        if image.mode in ("RGBA", "LA"):
            backdrop = Image.new("RGB", image.size, "white")
            backdrop.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
            image = backdrop
        elif image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        image.save(out, "JPEG", quality=80 if thumbnail else 90)
        kind = "image/jpeg"
    return Rendition(out.getvalue(), kind, image.width, image.height)


def _format(image: Image.Image) -> str:
    name = FORMATS.get(image.format or "")
    if name is None:
        raise MediaError(
            f"{image.format} content is not taken: Loupe reads JPEG, PNG, BMP, TIFF and DICOM"
        )
    return name


def _frames(image: Image.Image) -> int:
    frames: int = getattr(image, "n_frames", 1)
    return frames


def _orientation(image: Image.Image, name: str) -> int:
    if name == "png" and "exif" not in image.info:
        return 1  # PNG's getexif() would decode the whole image to look for a late eXIf chunk
    if name == "bmp":
        return 1
    value: Any = image.getexif().get(_ORIENTATION, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _orient(image: Image.Image, orientation: int) -> Image.Image:
    if orientation not in _TRANSPOSE:
        return image
    transposed: Image.Image = image.transpose(_TRANSPOSE[orientation])
    return transposed


_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _eight_bit(image: Image.Image) -> Image.Image:
    """16-bit, integer and float images stretched to 8 bits (their own min to max)."""
    if image.mode in ("RGB", "L", "RGBA", "LA"):
        return image
    if image.mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode.startswith(("I", "F")):
        return stretch(np.asarray(image, dtype=np.float32))
    return image.convert("RGB")


def stretch(
    values: np.ndarray[Any, Any], low: float | None = None, high: float | None = None
) -> Image.Image:
    """A grey image mapping `low`..`high` (default: the data's range) to 0..255. In place on
    one float32 copy: this runs on display-sized data, a few megapixels."""
    low = float(values.min()) if low is None else low
    high = float(values.max()) if high is None else high
    scale = 255.0 / (high - low) if high > low else 0.0
    scaled = np.asarray(values, dtype=np.float32) - np.float32(low)
    scaled *= np.float32(scale)
    np.clip(scaled, 0, 255, out=scaled)
    return Image.fromarray(scaled.astype(np.uint8), mode="L")


def _reason(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if "truncated" in text:
        return "the file is truncated, cut short in a copy or upload: add it again"
    return text
