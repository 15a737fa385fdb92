"""What probing and rendering return, and the errors they raise."""

from __future__ import annotations

from dataclasses import dataclass

from core.domain.items import DicomTags


class MediaError(Exception):
    """The file cannot become a usable item; `str(error)` says why, for the UI and API."""


class FrameOutOfRange(MediaError):
    """A frame the file does not have (frames count from 0)."""

    def __init__(self, frame: int, frames: int) -> None:
        super().__init__(
            f"no frame {frame}: the file has {frames} frame{'s' if frames != 1 else ''}, "
            f"numbered 0 to {frames - 1}"
        )
        self.frame, self.frames = frame, frames


class NeedMore(Exception):
    """The header did not fit in the bytes given: probe again with the whole file."""


@dataclass(frozen=True)
class SliceFacts:
    """Where a DICOM file lies in its series, as its header says."""

    series_uid: str
    sop_uid: str | None
    position: tuple[float, ...] | None
    """ImagePositionPatient"""
    orientation: tuple[float, ...] | None
    """ImageOrientationPatient"""
    number: int | None
    """InstanceNumber"""


@dataclass(frozen=True)
class Probe:
    format: str
    width: int
    height: int
    """After EXIF orientation: the size a person sees."""
    frames: int = 1
    dicom: DicomTags | None = None
    orientation: int = 1
    """EXIF orientation (1: upright as stored); the size above is already the upright one."""
    slice: SliceFacts | None = None
    """A DICOM file with a SeriesInstanceUID: what places it in its series."""


@dataclass(frozen=True)
class Rendition:
    data: bytes
    content_type: str
    width: int
    height: int


@dataclass(frozen=True)
class Pixels:
    """Greyscale values for window/level in the browser, at the display size: zlib-compressed
    little-endian uint16, where value = stored * scale + offset."""

    data: bytes
    offset: float
    scale: float


@dataclass(frozen=True)
class Renditions:
    display: Rendition | None
    """None when the source itself is browser-ready."""
    thumbnail: Rendition
    width: int
    height: int
    """The display size (the source's, when `display` is None)."""
    dicom: DicomTags | None = None
    """The tags with the window actually used, for DICOM."""
    pixels: Pixels | None = None
    """Greyscale DICOM only: the values behind the display, for a true window/level."""


def check_pixels(width: int, height: int, frames: int, max_pixels: int) -> None:
    """Refuse decompression bombs and enormous volumes before any pixel is decoded."""
    pixels = width * height * max(frames, 1)
    if pixels > max_pixels:
        shape = f"{width} × {height}" + (f" × {frames} frames" if frames > 1 else "")
        raise MediaError(
            f"too large: {shape} = {pixels:,} pixels is over this project's limit of "
            f"{max_pixels:,} (an owner can raise ingest.maxPixels)"
        )
