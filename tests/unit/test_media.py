"""Probing and rendering real files of every type Loupe takes, and every kind of bad input."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from core.media.facts import MediaError, NeedMore
from core.media.images import DISPLAY_MAX, THUMBNAIL_MAX
from core.media.probe import probe, render
from tests.support.media import (
    FORMAT_OF,
    bundled_dicom,
    image_bytes,
    jpeg_with_orientation,
    made_dicom,
    multipage_tiff,
)

LIMIT = 10**9


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


@pytest.mark.parametrize("ext", sorted(FORMAT_OF))
def test_every_image_extension_probes_and_renders(ext: str) -> None:
    data = image_bytes(FORMAT_OF[ext], (64, 48))
    found = probe(ext, data, complete=True, max_pixels=LIMIT)
    assert (found.width, found.height, found.frames) == (64, 48, 1)
    assert found.format == FORMAT_OF[ext].lower()
    made = render(ext, data, max_pixels=LIMIT)
    assert (made.width, made.height) == (64, 48)
    # JPEG and PNG go to the browser as they are; BMP and TIFF get a display JPEG.
    assert (made.display is None) == (FORMAT_OF[ext] in ("JPEG", "PNG"))
    assert opened(made.thumbnail.data).format == "JPEG"


@pytest.mark.parametrize(("orientation", "size"), [(1, (60, 20)), (6, (20, 60)), (8, (20, 60))])
def test_size_is_after_exif_orientation(orientation: int, size: tuple[int, int]) -> None:
    data = jpeg_with_orientation((60, 20), orientation)
    found = probe(".jpg", data, complete=True, max_pixels=LIMIT)
    assert (found.width, found.height) == size
    made = render(".jpg", data, max_pixels=LIMIT)
    assert (made.width, made.height) == size
    if orientation != 1:  # rotated pixels are written out, so every viewer shows them upright
        assert made.display is not None
        assert opened(made.display.data).size == size


def test_multipage_tiff_counts_frames_even_when_the_header_is_cut() -> None:
    data = multipage_tiff(5)
    assert probe(".tiff", data, complete=True, max_pixels=LIMIT).frames == 5
    with pytest.raises(NeedMore):
        probe(".tiff", data[: len(data) // 2], complete=False, max_pixels=LIMIT)


def test_large_images_are_scaled_and_transparency_kept() -> None:
    big = image_bytes("PNG", (DISPLAY_MAX + 500, 100), mode="RGBA")
    made = render(".png", big, max_pixels=LIMIT)
    assert made.display is not None and made.display.content_type == "image/png"
    assert opened(made.display.data).size[0] == DISPLAY_MAX
    assert max(opened(made.thumbnail.data).size) == THUMBNAIL_MAX


def test_sixteen_bit_and_cmyk_images_become_eight_bit() -> None:
    deep = io.BytesIO()
    Image.fromarray((np.arange(100 * 50).reshape(50, 100) * 13 % 65535).astype(np.uint16)).save(
        deep, "PNG"
    )
    made = render(".png", deep.getvalue(), max_pixels=LIMIT)
    assert made.display is not None and opened(made.display.data).mode == "L"
    cmyk = image_bytes("JPEG", (30, 30), mode="CMYK")
    assert render(".jpg", cmyk, max_pixels=LIMIT).display is not None


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"plain text, not a picture", "not a readable image"),
        (image_bytes("GIF"), "GIF content is not taken"),
        (image_bytes("JPEG", (300, 300))[:30], "truncated image header"),
    ],
    ids=["zero-byte", "wrong-extension", "other-format", "truncated-header"],
)
def test_bad_images_say_why(data: bytes, reason: str) -> None:
    with pytest.raises(MediaError, match=reason):
        probe(".jpg", data, complete=True, max_pixels=LIMIT)


def test_a_cut_header_asks_for_the_whole_file_instead_of_failing() -> None:
    data = image_bytes("JPEG", (300, 300))
    with pytest.raises(NeedMore):
        probe(".jpg", data[:30], complete=False, max_pixels=LIMIT)


def test_truncated_pixel_data_fails_at_rendering() -> None:
    data = image_bytes("PNG", (400, 400))
    assert probe(".png", data[:-200], complete=True, max_pixels=LIMIT).width == 400
    with pytest.raises(MediaError, match="truncated"):
        render(".png", data[: len(data) // 2], max_pixels=LIMIT)


def test_decompression_bombs_are_refused_below_the_limit_an_owner_sets() -> None:
    data = image_bytes("PNG", (2000, 1000), mode="L")
    with pytest.raises(MediaError, match="over this project's limit of 1,000,000"):
        probe(".png", data, complete=True, max_pixels=1_000_000)
    with pytest.raises(MediaError, match=r"ingest\.maxPixels"):
        render(".png", data, max_pixels=1_000_000)
    assert probe(".png", data, complete=True, max_pixels=2_000_000).width == 2000


def test_dicom_ct_gets_modality_lut_and_a_default_window() -> None:
    data = bundled_dicom("CT_small.dcm")
    found = probe(".dcm", data, complete=True, max_pixels=LIMIT)
    assert (found.format, found.width, found.height) == ("dicom", 128, 128)
    assert found.dicom is not None and found.dicom.modality == "CT"
    assert found.dicom.window_center is None  # none in the file
    made = render(".dcm", data, max_pixels=LIMIT)
    assert made.dicom is not None and made.dicom.window_width is not None
    assert made.display is not None and opened(made.display.data).size == (128, 128)


def test_dicom_window_from_the_file_is_kept() -> None:
    data = bundled_dicom("MR_small.dcm")
    found = probe(".dicom", data, complete=True, max_pixels=LIMIT)
    assert found.dicom is not None
    assert (found.dicom.window_center, found.dicom.window_width) == (600.0, 1600.0)
    made = render(".dicom", data, max_pixels=LIMIT)
    assert made.dicom == found.dicom


def test_monochrome1_is_inverted_and_the_window_applied() -> None:
    ramp = np.tile(np.linspace(0, 4000, 64), (8, 1))
    normal = render(".dcm", made_dicom(ramp, window=(2000, 4000)), max_pixels=LIMIT)
    inverted = render(
        ".dcm", made_dicom(ramp, photometric="MONOCHROME1", window=(2000, 4000)), max_pixels=LIMIT
    )
    assert normal.display is not None and inverted.display is not None
    a = np.asarray(opened(normal.display.data), dtype=int)
    b = np.asarray(opened(inverted.display.data), dtype=int)
    assert a[0, 0] < 30 and a[0, -1] > 225  # dark to bright
    assert b[0, 0] > 225 and b[0, -1] < 30  # bright to dark
    narrow = render(".dcm", made_dicom(ramp, window=(2000, 400)), max_pixels=LIMIT)
    assert narrow.display is not None
    c = np.asarray(opened(narrow.display.data), dtype=int)
    assert c[0, 10] < 10 and c[0, -10] > 245  # outside the window: clipped


def test_multiframe_colour_and_palette_dicom() -> None:
    frames = probe(".dcm", bundled_dicom("SC_rgb_rle_2frame.dcm"), complete=True, max_pixels=LIMIT)
    assert frames.frames == 2
    made = render(".dcm", bundled_dicom("SC_rgb_rle_2frame.dcm"), max_pixels=LIMIT)
    assert made.display is not None and opened(made.display.data).mode == "RGB"
    palette = render(".dcm", bundled_dicom("examples_palette.dcm"), max_pixels=LIMIT)
    assert palette.display is not None and opened(palette.display.data).mode == "RGB"
    assert probe(".dcm", bundled_dicom("rtdose.dcm"), complete=True, max_pixels=LIMIT).frames == 15


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (bundled_dicom("rtplan.dcm"), "without an image"),
        (b"", "empty file"),
        (b"not dicom at all " * 10, "not a DICOM file"),
        (
            made_dicom(np.zeros((2, 2)), rows=60000, columns=60000, frames=900, with_pixels=False),
            "60000 × 60000 × 900 frames",
        ),
    ],
    ids=["no-image", "zero-byte", "wrong-extension", "enormous"],
)
def test_bad_dicom_says_why(data: bytes, reason: str) -> None:
    with pytest.raises(MediaError, match=reason):
        probe(".dcm", data, complete=True, max_pixels=LIMIT)


def test_truncated_dicom_pixels_fail_at_rendering() -> None:
    data = bundled_dicom("MR_truncated.dcm")
    assert probe(".dcm", data, complete=True, max_pixels=LIMIT).width == 64
    with pytest.raises(MediaError, match="cannot decode the DICOM pixels"):
        render(".dcm", data, max_pixels=LIMIT)
