"""Decoding within the memory budget: what is decoded reduced, what is refused and how the
refusal reads, and that the renditions of a picture decoded reduced match those of the whole
picture. (The memory itself is measured in tests/hardening/test_huge_images.py.)"""

from __future__ import annotations

import io
import zlib
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from PIL import Image

from core.media import dicom
from core.media.decoding import decoded_bytes, reduced
from core.media.facts import MediaError, NeedMore
from core.media.images import DISPLAY_MAX, fit
from core.media.probe import probe, render
from core.ports import Deps
from core.services.derivatives import make_derivatives
from tests.support.deps import memory_deps
from tests.support.labeling import running_project
from tests.support.media import made_dicom

LIMIT = 10**9
HEAD = 256 << 10


def saved(image: Image.Image, fmt: str, **options: Any) -> io.BytesIO:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    out.seek(0)
    return out


def noise(size: tuple[int, int], seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def decode(file: io.BytesIO, longest: int, budget: int) -> Image.Image:
    with Image.open(file) as image:
        name = {"JPEG": "jpeg", "PNG": "png", "BMP": "bmp", "TIFF": "tiff"}[image.format or ""]
        return reduced(image, file, name, longest, budget=budget)


def test_a_baseline_jpeg_is_decoded_reduced_even_when_far_wider_than_high() -> None:
    file = saved(noise((6000, 120)), "JPEG")
    whole = 6000 * 120 * 4
    picture = decode(file, 256, budget=whole // 20)  # a whole decode could not fit
    assert picture.width < 2 * 256 and picture.width >= 256
    assert picture.height >= 4  # the aspect ratio kept: DCT scaling shrinks both sides


def test_a_progressive_jpeg_over_the_budget_is_refused_with_what_to_do() -> None:
    file = saved(noise((800, 600)), "JPEG", progressive=True)
    with pytest.raises(MediaError) as refused:
        decode(file, 256, budget=500_000)  # its coefficients: 800 × 600 × 3 × 2 bytes
    reason = str(refused.value)
    assert "progressive JPEG of 800 × 600 pixels" in reason
    assert "0 MB bound" in reason and "baseline (non-progressive) JPEG" in reason
    assert decode(saved(noise((800, 600)), "JPEG", progressive=True), 256, 4 << 20).width >= 256


@pytest.mark.parametrize(
    ("fmt", "options", "advice"),
    [
        ("BMP", {}, "save it as JPEG or PNG"),
        ("TIFF", {"compression": "tiff_deflate"}, "save it as JPEG or PNG"),
    ],
)
def test_a_whole_decode_over_the_budget_is_refused_with_the_size_and_the_bound(
    fmt: str, options: dict[str, Any], advice: str
) -> None:
    with pytest.raises(MediaError) as refused:
        decode(saved(noise((900, 700)), fmt, **options), 256, budget=1 << 20)
    reason = str(refused.value)
    assert "900 × 700 pixels (RGB)" in reason and "over the 1 MB bound" in reason
    assert advice in reason
    fits = decode(saved(noise((900, 700)), fmt, **options), 256, budget=8 << 20)
    assert fits.size == (300, 234)  # reduced by 3: the longest side from 256 to under 512


def test_a_png_over_the_budget_is_decoded_in_strips_not_refused() -> None:
    picture = noise((1800, 1200))
    got = decode(saved(picture, "PNG"), 256, budget=1 << 20)  # the whole: 8.6 MB
    assert np.array_equal(np.asarray(got), np.asarray(picture.reduce(7)))


def test_modes_that_need_converting_count_the_copy() -> None:
    grey16 = Image.open(saved(Image.new("I;16", (100, 100)), "PNG"))
    assert decoded_bytes(grey16) == 100 * 100 * (2 + 4)
    palette = Image.open(saved(noise((100, 100)).convert("P"), "BMP"))
    assert decoded_bytes(palette) == 100 * 100 * (1 + 4)


def test_a_tiff_counts_the_strip_or_tile_its_decoder_reads_into() -> None:
    image = Image.open(saved(noise((100, 80)), "TIFF", compression="tiff_deflate"))
    plain = decoded_bytes(image)
    assert plain >= 100 * 80 * 4
    image.tag_v2[322], image.tag_v2[323] = 8192, 8192  # tiles declared far past the picture
    assert decoded_bytes(image) >= 100 * 80 * 4 + 8192 * 8192 * 4 > plain


def test_renditions_from_a_reduced_decode_match_those_of_the_whole_picture() -> None:
    picture = Image.linear_gradient("L").resize((5000, 3000)).convert("RGB")
    for fmt in ("PNG", "JPEG", "BMP"):
        made = render(f".{fmt.lower()}", saved(picture, fmt).getvalue(), max_pixels=LIMIT)
        assert made.display is not None and (made.width, made.height) == (2048, 1229)
        expected = picture.resize((2048, 1229), Image.Resampling.LANCZOS)
        shown = np.asarray(Image.open(io.BytesIO(made.display.data)).convert("RGB"), float)
        assert np.abs(shown - np.asarray(expected, float)).mean() < 2.0, fmt


def test_a_large_dicom_frame_is_brought_to_the_display_size_before_the_float_work() -> None:
    rows, columns = 3000, 4500
    ramp = np.tile(np.linspace(0, 4000, columns), (rows, 1))
    made = render(".dcm", made_dicom(ramp, window=(2000, 4000)), max_pixels=LIMIT)
    size = fit((columns, rows), DISPLAY_MAX)
    assert (made.width, made.height) == size
    assert made.display is not None and made.pixels is not None
    shown = np.asarray(Image.open(io.BytesIO(made.display.data)), float)
    expected = np.tile(np.linspace(0, 4000, size[0]) * 255 / 4000, (size[1], 1))
    assert np.abs(shown - expected).mean() < 2.0
    values = np.frombuffer(zlib.decompress(made.pixels.data), "<u2")
    stored = values.astype(float) * made.pixels.scale + made.pixels.offset
    assert abs(stored.min() - 0) < 5 and abs(stored.max() - 4000) < 5  # values, not levels


def test_a_dicom_frame_over_the_budget_is_refused_before_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dicom, "DECODE_BUDGET_BYTES", 1 << 20)
    data = made_dicom(np.zeros((600, 1000)))
    with pytest.raises(MediaError) as refused:
        render(".dcm", data, max_pixels=LIMIT)
    reason = str(refused.value)
    assert "DICOM frame of 1,000 × 600" in reason and "over the 1 MB bound" in reason


def test_a_tiff_whose_directory_is_past_the_head_is_probed_from_the_whole_file() -> None:
    data = saved(noise((700, 700)), "TIFF", compression="tiff_deflate").getvalue()
    assert len(data) > HEAD
    with pytest.raises(NeedMore):
        probe(".tif", data[:HEAD], complete=False, max_pixels=LIMIT)
    found = probe(".tif", io.BytesIO(data), complete=True, max_pixels=LIMIT)
    assert (found.width, found.height) == (700, 700)


class NoWholeReads:
    """A blob store whose `get` fails: whatever reads through it streams."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def get(self, container: str, name: str) -> bytes:
        raise AssertionError(f"{container}/{name} read whole")


def test_the_derivatives_stage_never_reads_a_file_whole() -> None:
    from core.domain.items import Item
    from core.domain.messages import MakeDerivatives
    from core.services.uploads import upload_file
    from core.store.collections import ITEMS, load

    deps: Deps = memory_deps()
    project = running_project(deps)
    picture = saved(noise((3000, 2000)), "PNG")
    _, items = upload_file(deps, project_id=project.id, path="a.png", data=picture, actor="olive")
    streaming = replace(deps, blobs=NoWholeReads(deps.blobs))
    message = MakeDerivatives(project_id=project.id, item_ids=[items[0].id])
    assert make_derivatives(streaming, message=message) == 1
    item = load(Item, deps.documents.container(ITEMS).get(project.id, items[0].id))
    assert item.derivatives is not None and item.derivatives.width == DISPLAY_MAX
