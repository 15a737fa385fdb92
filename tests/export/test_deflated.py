"""Zip members put together from sections deflated apart: the bytes copied, the CRC-32
combined, and the member what zipfile, Info-ZIP's rules and a CRC check read back."""

from __future__ import annotations

import io
import random
import zipfile
import zlib

from core.export import deflated


def test_crc32_combine_is_the_crc_of_the_joined_bytes() -> None:
    rng = random.Random(5)
    for _ in range(100):
        a, b = rng.randbytes(rng.randint(0, 4000)), rng.randbytes(rng.randint(0, 4000))
        assert deflated.crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)
    big = b"x" * 5_000_000
    combined = deflated.crc32_combine(zlib.crc32(b"ab"), zlib.crc32(big), len(big))
    assert combined == zlib.crc32(b"ab" + big)


def test_a_member_of_sections_deflated_apart_reads_back_whole() -> None:
    sections = [b"".join(b'{"n":%d}\n' % i for i in range(k * 50)) for k in range(6)]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("MLTable", "paths: []\n")
        deflated.write_member(archive, "data.jsonl", map(deflated.compress, sections))
        deflated.write_member(archive, "empty.txt", [deflated.compress(b"")])
        archive.writestr("after", b"last")
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as archive:
        assert archive.testzip() is None  # every member against its CRC
        assert archive.namelist() == ["MLTable", "data.jsonl", "empty.txt", "after"]
        assert archive.read("data.jsonl") == b"".join(sections)
        assert archive.read("empty.txt") == b"" and archive.read("after") == b"last"
        info = archive.getinfo("data.jsonl")
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert info.compress_size < info.file_size / 3  # deflated, not stored
