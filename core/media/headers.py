"""Size and orientation of the common JPEG and PNG files from their first bytes, without
Pillow: registration probes every file of a dataset, and opening it with Pillow (which parses
every table and builds an image object) costs several times reading the few bytes that hold
the answer.

Only files laid out as most cameras and encoders write them are read here; for anything else
(a segment past the bytes given, an unusual marker or chunk, a damaged table, EXIF that is
not plain) `read_header` answers None and the caller asks Pillow, which decides, as before,
whether the file is an image and what is wrong with it. What is answered here is what Pillow
answers for the same bytes."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

_JPEG_SOI = b"\xff\xd8\xff"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_SOF = frozenset({*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC), *range(0xCD, 0xD0)})
_SKIPPED = frozenset({0xC4, 0xCC, 0xDD, 0xFE})  # DHT, DAC, DRI, COM: Pillow only skips them
_SOS, _DQT = 0xDA, 0xDB
_SEGMENT = struct.Struct(">BBH")  # 0xFF, the marker, the length (its own two bytes included)
_EXIF = b"Exif\x00\x00"
_XMP = b"http://ns.adobe.com/xap/1.0/\x00"
_ORIENTATION = 0x0112
_PNG_MODES = frozenset(
    {(1, 0), (2, 0), (4, 0), (8, 0), (16, 0), (8, 2), (16, 2), (1, 3), (2, 3), (4, 3),
     (8, 3), (8, 4), (16, 4), (8, 6), (16, 6)}
)  # fmt: skip
"""(bit depth, colour type) pairs Pillow opens."""
_PNG_PLAIN = {b"gAMA": 4, b"pHYs": 9, b"sRGB": 1, b"tIME": 7}
"""Chunks before the pixels whose content Pillow reads but that cannot make it fail, by the
length they have (at least, for sRGB)."""
_PNG_FREE = frozenset({b"PLTE", b"cHRM", b"tEXt"})


@dataclass(frozen=True, slots=True)
class Header:
    format: str
    width: int
    height: int
    """As stored (before EXIF orientation)."""
    orientation: int = 1


def read_header(head: bytes) -> Header | None:
    """The header of a plain JPEG or PNG file starting with `head`; None when unsure."""
    if head.startswith(_JPEG_SOI):
        return _jpeg(head)
    if head.startswith(_PNG_SIGNATURE):
        return _png(head)
    return None


def _jpeg(head: bytes) -> Header | None:
    """Markers one after the other up to the start of the scan, as Pillow reads them."""
    pos, size, exif, length = 2, None, None, len(head)
    while pos + 4 <= length:
        lead, marker, span = _SEGMENT.unpack_from(head, pos)
        end = pos + 2 + span
        if lead != 0xFF or end > length or span < 2:
            return None  # junk or fill bytes between segments, or a cut one: Pillow's to judge
        if marker == _SOS:  # Pillow reads the scan's header too
            orientation = _orientation(exif)
            if size is None or orientation is None:
                return None
            return Header("jpeg", *size, orientation)
        segment = head[pos + 4 : end]
        if marker in _SOF:
            if (size := _frame_size(segment)) is None:
                return None
        elif not _harmless(marker, segment):
            return None
        elif marker == 0xE1 and segment.startswith(_EXIF):
            if exif is not None:
                return None  # EXIF over several segments: Pillow joins them
            exif = segment[len(_EXIF) :]
        pos = end
    return None


def _frame_size(segment: bytes) -> tuple[int, int] | None:
    """(width, height) of a frame header Pillow takes: 8-bit, 1, 3 or 4 whole components."""
    if len(segment) < 6 or segment[0] != 8 or segment[5] not in (1, 3, 4):
        return None
    if len(segment) != 6 + 3 * segment[5]:
        return None  # a component's entry cut short fails Pillow
    height, width = struct.unpack_from(">HH", segment, 1)
    return (width, height) if width and height else None


def _harmless(marker: int, segment: bytes) -> bool:
    """A segment other than a frame header that Pillow reads without failing."""
    if marker == _DQT:
        return _tables_whole(segment)
    if 0xE0 <= marker <= 0xEF:
        return _plain_app(marker, segment)
    return marker in _SKIPPED


def _tables_whole(segment: bytes) -> bool:
    """Every quantization table of a DQT segment is complete (Pillow refuses it otherwise)."""
    at = 0
    while at < len(segment):
        at += 1 + (64 if segment[at] < 16 else 128)
        if at > len(segment):
            return False
    return True


def _plain_app(marker: int, segment: bytes) -> bool:
    """An application segment whose reading cannot fail in Pillow, nor carry an orientation
    elsewhere than in EXIF (XMP may)."""
    if marker == 0xE0 and segment.startswith(b"JFIF"):
        return len(segment) >= 7
    if marker == 0xEE and segment.startswith(b"Adobe"):
        return len(segment) >= 7
    return not (marker == 0xE1 and segment.startswith(_XMP))


def _orientation(exif: bytes | None) -> int | None:
    """Tag 0x0112 of the first image directory, when the EXIF block is plain TIFF."""
    if exif is None:
        return 1
    order = {b"II": "<", b"MM": ">"}.get(exif[:2])
    try:
        if order is None or struct.unpack_from(order + "H", exif, 2)[0] != 42:
            return None
        (first,) = struct.unpack_from(order + "I", exif, 4)
        (count,) = struct.unpack_from(order + "H", exif, first)
        for n in range(count):
            tag, kind, values, value = struct.unpack_from(order + "HHIH", exif, first + 2 + 12 * n)
            if tag == _ORIENTATION:
                return value if kind == 3 and values == 1 and 1 <= value <= 8 else None
    except struct.error:
        return None
    return 1


def _png(head: bytes) -> Header | None:
    """IHDR and the chunks up to the first IDAT, each checksummed as Pillow checks them."""
    pos, header = len(_PNG_SIGNATURE), None
    while pos + 8 <= len(head):
        length = int.from_bytes(head[pos : pos + 4])
        kind = head[pos + 4 : pos + 8]
        end = pos + 12 + length
        if kind == b"IDAT":
            return header
        if end > len(head):
            return None
        data = head[pos + 8 : end - 4]
        if zlib.crc32(data, zlib.crc32(kind)) != int.from_bytes(head[end - 4 : end]):
            return None
        if kind == b"IHDR":
            if header is not None or length != 13:
                return None
            width, height, depth, colour, _, filtering = struct.unpack_from(">IIBBBB", data)
            if (depth, colour) not in _PNG_MODES or filtering or not (width and height):
                return None
            header = Header("png", width, height)
        elif header is None:
            return None  # IHDR comes first
        elif kind in _PNG_PLAIN:
            if length < _PNG_PLAIN[kind] or (kind != b"sRGB" and length != _PNG_PLAIN[kind]):
                return None
        elif kind not in _PNG_FREE:
            return None  # eXIf (an orientation), iCCP, text, animation...: Pillow reads them
        pos = end
    return None
