"""PNG decoded in strips gives exactly what Pillow's whole decode, reduced, gives: for every
colour type and bit depth it takes, every row filter, strips cut anywhere, and bad files."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from core.media.facts import MediaError
from core.media.png_strips import Header, header, reduced

CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
KINDS = [
    (0, 1),
    (0, 2),
    (0, 4),
    (0, 8),
    (0, 16),
    (2, 8),
    (3, 1),
    (3, 2),
    (3, 4),
    (3, 8),
    (4, 8),
    (4, 16),
    (6, 8),
]


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def filtered(rows: np.ndarray, unit: int, filters: list[int]) -> bytes:
    """PNG rows (uint8, one row per line) filtered with the given filter type per row."""
    out = []
    above = np.zeros(rows.shape[1], dtype=np.int32)
    for row, kind in zip(rows.astype(np.int32), filters, strict=True):
        left = np.concatenate([np.zeros(unit, np.int32), row[:-unit]])
        corner = np.concatenate([np.zeros(unit, np.int32), above[:-unit]])
        if kind == 0:
            value = row
        elif kind == 1:
            value = row - left
        elif kind == 2:
            value = row - above
        elif kind == 3:
            value = row - (left + above) // 2
        else:
            p = left + above - corner
            pa, pb, pc = np.abs(p - left), np.abs(p - above), np.abs(p - corner)
            guess = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, above, corner))
            value = row - guess
        out.append(bytes([kind]) + (value % 256).astype(np.uint8).tobytes())
        above = row
    return b"".join(out)


def png(
    color: int, depth: int, width: int, height: int, *, seed: int = 0, idat_pieces: int = 3
) -> bytes:
    """A PNG with random pixels, every filter type in turn, the data split over IDAT chunks."""
    rng = np.random.default_rng(seed)
    row_bytes = -(-width * CHANNELS[color] * depth // 8)
    rows = rng.integers(0, 256, (height, row_bytes), dtype=np.uint8)
    if color == 3 and depth < 8:  # keep indices within the palette
        rows &= np.uint8({1: 0xFF, 2: 0xFF, 4: 0xFF}[depth])
    unit = max(1, CHANNELS[color] * depth // 8)
    data = zlib.compress(filtered(rows, unit, [n % 5 for n in range(height)]), 6)
    parts = [chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0))]
    if color == 3:
        palette = rng.integers(0, 256, 256 * 3, dtype=np.uint8).tobytes()
        parts += [chunk(b"PLTE", palette), chunk(b"tRNS", bytes(range(0, 256, 2)))]
    step = -(-len(data) // idat_pieces)
    parts += [chunk(b"IDAT", data[i : i + step]) for i in range(0, len(data), step)]
    return b"\x89PNG\r\n\x1a\n" + b"".join(parts) + chunk(b"IEND", b"")


def whole(data: bytes, factor: int) -> Image.Image:
    """Pillow's own decode, in the mode strips give, reduced."""
    image = Image.open(io.BytesIO(data))
    image.load()
    if image.mode == "1":
        image = image.convert("L")
    elif image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode == "I;16":
        image = image.convert("I")
    return image.reduce(factor) if factor > 1 else image


def strips(data: bytes, factor: int, strip_bytes: int) -> Image.Image:
    file = io.BytesIO(data)
    found = header(file)
    assert found is not None
    return reduced(file, found, factor, strip_bytes)


@pytest.mark.parametrize(("color", "depth"), KINDS)
@pytest.mark.parametrize(("factor", "strip_bytes"), [(1, 1), (3, 1), (2, 700), (4, 1 << 20)])
def test_strips_equal_the_whole_decode(
    color: int, depth: int, factor: int, strip_bytes: int
) -> None:
    data = png(color, depth, 53, 47, seed=color * 100 + depth)
    expected = whole(data, factor)
    got = strips(data, factor, strip_bytes)
    assert got.mode == expected.mode and got.size == expected.size
    assert np.array_equal(np.asarray(got), np.asarray(expected))


def test_pillows_own_files_decode_alike() -> None:
    picture = Image.linear_gradient("L").resize((300, 200)).convert("RGB")
    for mode in ("RGB", "RGBA", "L", "LA", "P", "1", "I;16"):
        out = io.BytesIO()
        picture.convert(mode).save(out, "PNG")
        data = out.getvalue()
        assert np.array_equal(np.asarray(strips(data, 3, 5000)), np.asarray(whole(data, 3)))


def test_files_strips_cannot_take_are_left_to_the_whole_decode() -> None:
    interlaced = bytearray(png(2, 8, 8, 8))
    interlaced[8 + 8 + 12] = 1  # IHDR's interlace method: Adam7 (its CRC is not read here)
    jpeg = io.BytesIO()
    Image.new("RGB", (8, 8)).save(jpeg, "JPEG")
    for data in (bytes(interlaced), jpeg.getvalue()):
        assert header(io.BytesIO(data)) is None


def test_sixteen_bit_colour_has_no_twin() -> None:
    raw = np.zeros((4, 4 * 6), np.uint8).tobytes()
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 16, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"".join(b"\x00" + raw[i : i + 24] for i in range(4))))
        + chunk(b"IEND", b"")
    )
    assert header(io.BytesIO(data)) is None


def test_a_truncated_file_is_refused_with_its_reason() -> None:
    data = png(2, 8, 40, 40, idat_pieces=1)
    cut = io.BytesIO(data[: len(data) // 2])
    found = header(cut)
    assert isinstance(found, Header)
    with pytest.raises(MediaError, match="truncated"):
        reduced(cut, found, 2, 500)


def test_damaged_data_is_refused_with_its_reason() -> None:
    data = bytearray(png(2, 8, 40, 40, idat_pieces=1))
    start = data.index(b"IDAT") + 4
    data[start + 10 : start + 30] = bytes(20)
    file = io.BytesIO(bytes(data))
    found = header(file)
    assert found is not None
    with pytest.raises(MediaError, match=r"damaged|decode"):
        reduced(file, found, 2, 500)
