"""Rendering one frame of a multi-frame DICOM: the frame asked for and no other, decoded alone
(memory stays at one frame's, however many the file holds), the same pipeline as the first."""

from __future__ import annotations

import tempfile
import tracemalloc
import zlib

import numpy as np
import pytest

from core.media.dicom import render_dicom
from core.media.facts import FrameOutOfRange
from core.media.probe import probe, render
from tests.support.media import bundled_dicom, image_bytes, made_dicom, multiframe_dicom

LIMIT = 10**10


def values(made: object) -> np.ndarray:
    pixels = made.pixels  # type: ignore[attr-defined]
    stored = np.frombuffer(zlib.decompress(pixels.data), dtype="<u2")
    return stored.astype(np.float64) * pixels.scale + pixels.offset


def test_each_frame_renders_its_own_values() -> None:
    data = multiframe_dicom(6, step=300)
    assert probe(".dcm", data, complete=True, max_pixels=LIMIT).frames == 6
    ramp = np.tile(np.arange(64) * 4, 48).astype(np.float64)
    for k in (0, 3, 5):
        made = render(".dcm", data, max_pixels=LIMIT, frame=k)
        assert (made.width, made.height) == (64, 48)
        np.testing.assert_array_equal(values(made), ramp + 300 * k)
        assert made.display is not None and made.display.content_type == "image/jpeg"
    # The default is the first frame, as ingestion renders it.
    np.testing.assert_array_equal(values(render(".dcm", data, max_pixels=LIMIT)), ramp)


def test_a_frame_the_file_lacks_is_refused_with_the_count() -> None:
    data = multiframe_dicom(3)
    for frame in (3, -1):
        with pytest.raises(FrameOutOfRange, match="has 3 frames, numbered 0 to 2"):
            render_dicom(data, max_pixels=LIMIT, frame=frame)
    with pytest.raises(FrameOutOfRange, match="has 1 frame,"):
        render(".png", image_bytes("PNG"), max_pixels=LIMIT, frame=1)


def test_colour_frames_render_without_values() -> None:
    data = bundled_dicom("SC_rgb_rle_2frame.dcm")  # RLE-compressed RGB, 2 frames
    first, second = (render(".dcm", data, max_pixels=LIMIT, frame=k) for k in (0, 1))
    assert first.pixels is None and second.pixels is None
    assert first.display is not None and second.display is not None
    assert first.display.data != second.display.data  # the frames differ in the file


def test_a_frame_is_decoded_alone_from_a_file() -> None:
    """A 48 MB volume of 24 frames: rendering its 20th frame from the file holds about one
    frame (2 MB) of decoded data and its floating-point work, never the volume."""
    frames, side = 24, 1024
    volume = np.broadcast_to(
        np.arange(frames, dtype=np.uint16)[:, None, None] * 100, (frames, side, side)
    )
    data = made_dicom(np.ascontiguousarray(volume), rows=side, columns=side, frames=frames)
    del volume
    with tempfile.TemporaryFile() as file:
        file.write(data)
        del data
        tracemalloc.start()
        try:
            made = render_dicom(file, max_pixels=LIMIT, frame=20)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert set(np.unique(values(made))) == {2000.0}
    assert peak < 40 << 20, f"{peak / (1 << 20):.0f} MB at the peak"
