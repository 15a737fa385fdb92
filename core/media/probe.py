"""One entry per job, whatever the image type: probe a header, render the renditions."""

from __future__ import annotations

from typing import BinaryIO

from core.media.dicom import probe_dicom, render_dicom
from core.media.facts import FrameOutOfRange, Probe, Renditions
from core.media.images import probe_image, render_image

DICOM_EXTENSIONS = frozenset({".dcm", ".dicom"})


def probe(extension: str, data: bytes | BinaryIO, *, complete: bool, max_pixels: int) -> Probe:
    """Raises `MediaError` for a file that cannot be an item, `NeedMore` when `data` (the
    file's beginning, unless `complete`) did not hold the whole header. `data` is bytes or a
    seekable file, read only as far as the header goes."""
    if extension in DICOM_EXTENSIONS:
        return probe_dicom(data, complete=complete, max_pixels=max_pixels)
    return probe_image(data, complete=complete, max_pixels=max_pixels, extension=extension)


def render(
    extension: str, data: bytes | BinaryIO, *, max_pixels: int, frame: int = 0
) -> Renditions:
    """The renditions of frame `frame` (DICOM; other files show one picture), decoded within
    the media budget (core.media.decoding). `FrameOutOfRange` for a frame the file lacks."""
    if extension in DICOM_EXTENSIONS:
        return render_dicom(data, max_pixels=max_pixels, frame=frame)
    if frame != 0:
        raise FrameOutOfRange(frame, 1)
    return render_image(data, max_pixels=max_pixels, extension=extension)
