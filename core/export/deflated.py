"""A zip member deflated a section at a time, then put together by copying bytes: each section
is compressed on its own (a fresh compressor, ended by a sync flush, so it stands on a byte
boundary and refers to nothing before it), and the member is the sections' compressed bytes in
order, then an empty final block. Its CRC-32 is combined from the sections' (zlib's
crc32_combine, which Python's zlib does not offer), so nothing is inflated or deflated again.

A section is stored as `HEADER` (its data's CRC-32 and length) and its compressed bytes."""

from __future__ import annotations

import struct
import time
import zipfile
import zlib
from collections.abc import Iterable

HEADER = struct.Struct(">IQ")
"""A compressed section's data's CRC-32 and length, before its compressed bytes."""
LEVEL = 1
"""The whole file's writer deflates at level 1 too."""
_FINAL = b"\x03\x00"
"""An empty final block (fixed Huffman codes, end of block alone): ends the member's data."""
_POLY = 0xEDB88320


def compress(data: bytes) -> bytes:
    """One section: its header and its data deflated, ending on a byte boundary."""
    body = b""
    if data:
        packer = zlib.compressobj(LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
        body = packer.compress(data) + packer.flush(zlib.Z_SYNC_FLUSH)
    return HEADER.pack(zlib.crc32(data), len(data)) + body


def write_member(archive: zipfile.ZipFile, name: str, sections: Iterable[bytes]) -> None:
    """Add member `name` to `archive` (open for writing) whose data is `sections` (each made
    by `compress`) in order: their bytes are copied, the sizes and CRC-32 added up."""
    info = zipfile.ZipInfo(name, time.localtime(time.time())[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o600 << 16  # as zipfile gives a member it names
    info.CRC = info.file_size = info.compress_size = 0
    out = archive.fp
    assert out is not None
    info.header_offset = archive.start_dir
    out.seek(info.header_offset)
    out.write(info.FileHeader(zip64=True))  # sizes come once known; zip64: its length is fixed
    crc = size = written = 0
    for section in sections:
        part_crc, length = HEADER.unpack_from(section)
        body = memoryview(section)[HEADER.size :]
        out.write(body)
        crc, size = crc32_combine(crc, part_crc, length), size + length
        written += len(body)
    out.write(_FINAL)
    info.CRC, info.file_size, info.compress_size = crc, size, written + len(_FINAL)
    end = out.tell()
    out.seek(info.header_offset)
    out.write(info.FileHeader(zip64=True))
    out.seek(end)
    archive.filelist.append(info)
    archive.NameToInfo[name] = info
    archive.start_dir = end
    archive._didModify = True  # type: ignore[attr-defined]  # so close() writes the directory


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """The CRC-32 of A followed by B, from A's, B's and B's length (as zlib computes it)."""
    return _multiply(_x_power(length2, 3), crc1) ^ crc2


def _multiply(a: int, b: int) -> int:
    """a x b modulo the CRC-32 polynomial (bit-reflected, as zlib's multmodp)."""
    m, p = 1 << 31, 0
    while m:
        if a & m:
            p ^= b
            if not a & (m - 1):
                break
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1
    return p


def _table() -> list[int]:
    powers, p = [], 1 << 30  # x^1
    for _ in range(32):
        powers.append(p)
        p = _multiply(p, p)
    return powers


_X2N = _table()
"""x^(2^k) modulo the polynomial, k = 0..31."""


def _x_power(n: int, k: int) -> int:
    """x^(n x 2^k) modulo the polynomial."""
    p = 1 << 31  # x^0
    while n:
        if n & 1:
            p = _multiply(_X2N[k & 31], p)
        n >>= 1
        k += 1
    return p
