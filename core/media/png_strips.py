"""Large PNGs decoded a strip of rows at a time, each strip reduced as soon as it is decoded: the
memory holds one strip and the reduced picture, never the whole one.

Pillow decodes a PNG in one piece, and PNG rows are filtered against the row above, so a strip
cannot be handed to it alone. Each strip becomes a small PNG of its own instead: its first row
is the previous strip's last row, unfiltered (filter type 0), followed by the file's own
filtered rows, which Pillow then decodes exactly. To get the unfiltered bytes back for the next
strip, the strip is declared as the 8-bit type with the same bytes per pixel (the unit PNG's
filters work in): grey for 1 or less, grey and alpha for 2, RGB for 3, RGBA for 4; those bytes
are then read as what they really are. 16-bit RGB and RGBA (6 and 8 bytes per pixel) have no
such twin, and interlaced files no rows in order: `header` returns None for them.
"""

from __future__ import annotations

import io
import math
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image

from core.media.facts import MediaError

SIGNATURE = b"\x89PNG\r\n\x1a\n"
STRIP_BYTES = 4 << 20
"""Filtered bytes per strip: a strip's few copies stay within tens of megabytes."""
_READ = 1 << 20
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_TWIN = {1: 0, 2: 4, 3: 2, 4: 6}  # bytes per pixel -> the 8-bit colour type with as many
# (colour type, bit depth) -> how the unfiltered bytes are read, and the mode they become.
_READ_AS = {
    (0, 1): ("1", "1"),
    (0, 2): ("L", "L;2"),
    (0, 4): ("L", "L;4"),
    (0, 8): ("L", "L"),
    (0, 16): ("I", "I;16B"),
    (2, 8): ("RGB", "RGB"),
    (3, 1): ("P", "P;1"),
    (3, 2): ("P", "P;2"),
    (3, 4): ("P", "P;4"),
    (3, 8): ("P", "P"),
    (4, 8): ("LA", "LA"),
    (4, 16): ("RGBA", "LA;16B"),
    (6, 8): ("RGBA", "RGBA"),
}


@dataclass(frozen=True)
class Header:
    width: int
    height: int
    color: int
    depth: int
    palette: bytes | None
    transparency: bytes | None
    idat: int
    """Offset of the first IDAT chunk."""

    @property
    def row_bytes(self) -> int:
        return math.ceil(self.width * _CHANNELS[self.color] * self.depth / 8)

    @property
    def pixel_bytes(self) -> int:
        """The unit PNG's filters work in (1 for less than a byte per pixel)."""
        return max(1, _CHANNELS[self.color] * self.depth // 8)


def header(file: BinaryIO) -> Header | None:
    """The facts strips need, if this PNG can be decoded in strips; None otherwise."""
    file.seek(0)
    if file.read(8) != SIGNATURE:
        return None
    facts: dict[bytes, bytes] = {}
    while True:
        start = file.tell()
        length, kind = _chunk_head(file)
        if kind == b"IDAT":
            break
        if kind == b"IEND":
            return None
        if kind in (b"IHDR", b"PLTE", b"tRNS") and length <= 1024:
            facts[kind] = file.read(length)
            file.seek(4, io.SEEK_CUR)  # CRC: Pillow has checked the header chunks already
        else:
            file.seek(length + 4, io.SEEK_CUR)
    if len(facts.get(b"IHDR", b"")) != 13:
        return None
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", facts[b"IHDR"])
    if interlace != 0 or (color, depth) not in _READ_AS or width < 1 or height < 1:
        return None
    return Header(width, height, color, depth, facts.get(b"PLTE"), facts.get(b"tRNS"), start)


def reduced(
    file: BinaryIO, found: Header, factor: int, strip_bytes: int = STRIP_BYTES
) -> Image.Image:
    """The picture reduced by `factor` (a box average, as `Image.reduce` makes), decoded strip
    by strip; in mode L, LA, RGB, RGBA or I."""
    stride = found.row_bytes + 1
    rows = max(factor, strip_bytes // stride // factor * factor)  # whole reduce boxes per strip
    out: Image.Image | None = None
    previous: bytes | None = None
    top = 0
    try:
        for strip in _strips(file, found, rows * stride):
            count = len(strip) // stride
            raw = _unfiltered(found, previous, strip)
            previous = raw[-found.row_bytes :]
            if top:  # drop the row carried over from the strip before
                raw = raw[found.row_bytes :]
            pixels = _pixels(found, raw, count)
            del raw
            part = pixels.reduce(factor) if factor > 1 else pixels
            if out is None:
                size = (math.ceil(found.width / factor), math.ceil(found.height / factor))
                out = Image.new(part.mode, size)
            out.paste(part, (0, top // factor))
            top += count
    except zlib.error as error:
        raise MediaError(f"cannot decode the image (damaged data: {error})") from None
    if out is None or top < found.height:
        raise MediaError("cannot decode the image (the file is truncated: add it again)")
    return out


def _strips(file: BinaryIO, found: Header, size: int) -> Iterator[bytes]:
    """The inflated, still filtered rows, `size` bytes at a time (the last strip shorter, and
    short of rows if the data ends early)."""
    stride = found.row_bytes + 1
    total = found.height * stride
    inflater = zlib.decompressobj()
    buffer = bytearray()
    given = 0
    for compressed in _idat(file, found.idat):
        tail = compressed
        while True:
            want = min(size, total - given)
            got = inflater.decompress(tail, want - len(buffer))
            buffer += got
            tail = inflater.unconsumed_tail
            if len(buffer) == want:
                yield bytes(buffer)
                given += want
                buffer.clear()
                if given == total:
                    return  # anything after the last row is ignored, as decoders do
            elif not tail and not got:
                break
    whole = len(buffer) // stride * stride
    if whole:
        yield bytes(buffer[:whole])


def _idat(file: BinaryIO, offset: int) -> Iterator[bytes]:
    """The compressed image data, in pieces of at most `_READ` bytes."""
    file.seek(offset)
    while True:
        length, kind = _chunk_head(file)
        if kind != b"IDAT":
            return
        left = length
        while left:
            piece = file.read(min(left, _READ))
            if not piece:
                return
            left -= len(piece)
            yield piece
        file.seek(4, io.SEEK_CUR)


def _chunk_head(file: BinaryIO) -> tuple[int, bytes]:
    head = file.read(8)
    if len(head) < 8:
        return 0, b"IEND"  # truncated: treated as the end, which the row count then notices
    length, kind = struct.unpack(">I4s", head)
    return int(length), bytes(kind)


def _unfiltered(found: Header, previous: bytes | None, strip: bytes) -> bytes:
    """Pillow's decoding of the strip as the 8-bit twin type: the unfiltered rows, `previous`
    first when given."""
    unit = found.pixel_bytes
    rows = len(strip) // (found.row_bytes + 1) + (previous is not None)
    body = b"\x00" + previous + strip if previous is not None else strip
    ihdr = struct.pack(">IIBBBBB", found.row_bytes // unit, rows, 8, _TWIN[unit], 0, 0, 0)
    idat = zlib.compress(body, 0)  # stored: Pillow only needs the zlib framing
    del body
    data = b"".join((SIGNATURE, _chunk(b"IHDR", ihdr), _chunk(b"IDAT", idat), _chunk(b"IEND")))
    del idat
    with Image.open(io.BytesIO(data), formats=["PNG"]) as twin:
        return twin.tobytes()


def _chunk(kind: bytes, body: bytes = b"") -> bytes:
    crc = zlib.crc32(body, zlib.crc32(kind))
    return b"".join((struct.pack(">I", len(body)), kind, body, struct.pack(">I", crc)))


def _pixels(found: Header, raw: bytes, rows: int) -> Image.Image:
    """The unfiltered bytes as pixels, in a mode `Image.reduce` takes."""
    mode, rawmode = _READ_AS[(found.color, found.depth)]
    pixels = Image.frombytes(mode, (found.width, rows), raw, "raw", rawmode)
    if mode == "1":
        return pixels.convert("L")
    if mode == "P":
        if found.palette is not None:
            pixels.putpalette(found.palette)
        if found.transparency is not None:
            pixels.info["transparency"] = found.transparency
            return pixels.convert("RGBA")
        return pixels.convert("RGB")
    return pixels
