"""The header reader answers as Pillow does, for the files it reads; the others it leaves to
Pillow (None), whatever their bytes."""

from __future__ import annotations

import io
import random
import struct

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from core.media.headers import read_header
from core.media.images import probe_image

EXIF_ORIENTATION = 0x0112
LIMIT = 10**9


def encoded(image: Image.Image, kind: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def pillow(data: bytes) -> tuple[str, int, int, int]:
    """What the probe gives through Pillow (it reads a file object so): format, stored size,
    orientation."""
    found = probe_image(io.BytesIO(data), complete=True, max_pixels=LIMIT)
    turned = found.orientation in (5, 6, 7, 8)
    width, height = (found.height, found.width) if turned else (found.width, found.height)
    return found.format, width, height, found.orientation


def with_orientation(value: int) -> Image.Exif:
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = value
    return exif


def common_files() -> list[tuple[str, bytes]]:
    picture = Image.linear_gradient("L").resize((40, 30))
    rgb = picture.convert("RGB")
    files = [
        ("jpeg grey", encoded(picture, "JPEG")),
        ("jpeg rgb", encoded(rgb, "JPEG", quality=90)),
        ("jpeg cmyk", encoded(rgb.convert("CMYK"), "JPEG")),
        ("jpeg progressive", encoded(rgb, "JPEG", progressive=True)),
        ("jpeg comment", encoded(rgb, "JPEG", comment=b"made here")),
        ("png grey", encoded(picture, "PNG")),
        ("png rgb", encoded(rgb, "PNG")),
        ("png rgba", encoded(rgb.convert("RGBA"), "PNG")),
        ("png palette", encoded(rgb.convert("P"), "PNG")),
        ("png 1-bit", encoded(picture.convert("1"), "PNG")),
        ("png 16-bit", encoded(picture.convert("I;16"), "PNG")),
    ]
    files += [
        (f"jpeg orientation {n}", encoded(rgb, "JPEG", exif=with_orientation(n)))
        for n in range(1, 9)
    ]
    return files


@pytest.mark.parametrize(
    ("name", "data"), common_files(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_common_files_are_read_without_pillow_and_as_pillow_reads_them(
    name: str, data: bytes
) -> None:
    found = read_header(data)
    assert found is not None, name
    assert (found.format, found.width, found.height, found.orientation) == pillow(data)


def test_orientation_in_big_endian_exif_is_read() -> None:
    tiff = b"MM\x00\x2a\x00\x00\x00\x08\x00\x01" + struct.pack(">HHIHH", 0x0112, 3, 1, 6, 0)
    segment = b"Exif\x00\x00" + tiff + b"\x00\x00\x00\x00"
    plain = encoded(Image.new("RGB", (40, 30)), "JPEG")
    data = plain[:2] + b"\xff\xe1" + struct.pack(">H", len(segment) + 2) + segment + plain[2:]
    found = read_header(data)
    assert found is not None
    assert (found.format, found.width, found.height, found.orientation) == pillow(data)
    assert probe_image(data, complete=True, max_pixels=LIMIT).width == 30  # upright: turned


def test_files_it_does_not_read_are_left_to_pillow() -> None:
    picture = Image.new("RGB", (40, 30))
    exif_png = encoded(picture, "PNG", exif=with_orientation(6))
    text_png = encoded(picture, "PNG", pnginfo=_compressed_text())
    xmp_jpeg = encoded(picture, "JPEG", xmp=b"<x:xmpmeta tiff:Orientation='6'/>")
    for data in (
        exif_png,
        text_png,
        xmp_jpeg,
        encoded(picture, "BMP"),
        encoded(picture, "TIFF"),
        encoded(picture, "GIF"),
        encoded(picture, "WEBP"),
        encoded(picture, "JPEG")[:20],  # cut before the frame header
        b"",
    ):
        assert read_header(data) is None
    # ...and Pillow still gets them right: the PNG's EXIF orientation turns it.
    assert probe_image(exif_png, complete=True, max_pixels=LIMIT).width == 30


def test_damaged_headers_are_left_to_pillow_which_says_what_is_wrong() -> None:
    png = bytearray(encoded(Image.new("RGB", (40, 30)), "PNG"))
    png[20] ^= 0xFF  # the width, under IHDR's checksum
    assert read_header(bytes(png)) is None
    jpeg = encoded(Image.new("L", (40, 30)), "JPEG")
    dqt = jpeg.index(b"\xff\xdb")
    short = jpeg[: dqt + 2] + b"\x00\x20" + jpeg[dqt + 4 : dqt + 0x20] + jpeg[dqt + 0x45 :]
    assert read_header(short) is None


def test_random_bytes_after_a_signature_never_give_a_wrong_answer() -> None:
    """Whatever follows the signature, an answer is Pillow's answer."""
    shuffle = random.Random(7)
    base = [encoded(Image.new("RGB", (40, 30)), kind) for kind in ("JPEG", "PNG")]
    answered = 0
    for _ in range(2000):
        data = bytearray(shuffle.choice(base))
        for _ in range(shuffle.randint(1, 3)):
            data[shuffle.randrange(2, min(len(data), 200))] = shuffle.randrange(256)
        found = read_header(bytes(data))
        if found is None:
            continue
        answered += 1
        assert (found.format, found.width, found.height, found.orientation) == pillow(bytes(data))
    assert answered > 100


def _compressed_text() -> PngInfo:
    info = PngInfo()
    info.add_text("note", "x" * 100, zip=True)  # zTXt: text Pillow decompresses
    return info
