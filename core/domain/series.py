"""DICOM series: single-frame files sharing a SeriesInstanceUID, kept as one item (a volume)
whose slices are the files in their order through the patient.

The item is keyed by (project, SeriesInstanceUID) alone, so that slices arriving one by one, in
any order and any number of times, land on the same item. Each member file is recorded once by
its path; the slices a labeler steps through are the readable ones, ordered by
ImagePositionPatient projected on the slice normal (the cross product of the two
ImageOrientationPatient directions), or by InstanceNumber when a slice lacks a position. A slice
that cannot join (another size, a copy of a slice already there) stays recorded with its reason
and is not shown: the series is never lost for one bad file."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import Field

from core.domain.model import DomainModel


class SeriesSlice(DomainModel):
    """One member file of a series."""

    path: str
    etag: str | None = None
    bytes: int = Field(default=0, ge=0)
    sop_uid: str | None = Field(default=None, description="SOPInstanceUID: one slice, one uid")
    position: float | None = Field(
        default=None, description="Where the slice lies along the slice normal (mm)"
    )
    number: int | None = Field(default=None, description="InstanceNumber")
    width: int = Field(ge=1)
    height: int = Field(ge=1)
    error: str | None = Field(default=None, description="Why the slice is not shown")


class DicomSeries(DomainModel):
    uid: str = Field(description="SeriesInstanceUID")
    slices: list[SeriesSlice] = Field(
        default_factory=list, description="The slices shown, in order, then those refused"
    )

    @property
    def shown(self) -> list[SeriesSlice]:
        """The slices a labeler steps through, in order: frame n is `shown[n]`."""
        return [s for s in self.slices if s.error is None]

    @property
    def version(self) -> str:
        """Changes whenever the slices shown or their order or content change: what the
        renditions (and the frames kept for the browser) are made from."""
        basis = "\n".join(f"{s.path}\t{s.etag}" for s in self.shown)
        return "series-" + hashlib.sha256(basis.encode()).hexdigest()[:24]


def series_key(uid: str) -> str:
    """What a series item's id is made from, in place of a file's path."""
    return f"dicom series\n{uid}"


def series_path(first_path: str, uid: str) -> str:
    """The name a series item shows: the folder of the first file that arrived, and the
    series' uid (`.dcm`, so that the item reads as DICOM wherever its kind is decided)."""
    folder = first_path.rpartition("/")[0]
    return f"{folder}/{uid}.dcm" if folder else f"{uid}.dcm"


def position_along_normal(
    position: Sequence[float] | None, orientation: Sequence[float] | None
) -> float | None:
    """ImagePositionPatient projected on the normal of ImageOrientationPatient's two
    directions; None when either is missing or malformed."""
    if position is None or orientation is None or len(position) != 3 or len(orientation) != 6:
        return None
    row, column = orientation[:3], orientation[3:]
    normal = (
        row[1] * column[2] - row[2] * column[1],
        row[2] * column[0] - row[0] * column[2],
        row[0] * column[1] - row[1] * column[0],
    )
    if not any(normal) or not all(math.isfinite(v) for v in (*position, *normal)):
        return None
    return sum(p * n for p, n in zip(position, normal, strict=True))


def with_slice(series: DicomSeries, new: SeriesSlice) -> DicomSeries:
    """`series` with `new` recorded (replacing the slice of the same path: a file written
    again), refused with a reason when it cannot join, and the slices put in order. The same
    slice arriving again gives back an equal series."""
    others = [s for s in series.slices if s.path != new.path]
    new = new.model_copy(update={"error": _refusal(others, new)})
    return series.model_copy(update={"slices": ordered([*others, new])})


def _refusal(others: list[SeriesSlice], new: SeriesSlice) -> str | None:
    shown = [s for s in others if s.error is None]
    if new.sop_uid is not None and (twin := _same_instance(shown, new.sop_uid)) is not None:
        return f"a copy of the slice in {twin.path!r} (same SOPInstanceUID): not shown twice"
    if shown and (shown[0].width, shown[0].height) != (new.width, new.height):
        first = shown[0]
        return (
            f"{new.width} × {new.height} pixels, unlike the series' {first.width} × "
            f"{first.height} (in {first.path!r}): a slice of another size cannot be stacked"
        )
    return None


def _same_instance(slices: list[SeriesSlice], sop_uid: str) -> SeriesSlice | None:
    return next((s for s in slices if s.sop_uid == sop_uid), None)


def ordered(slices: Sequence[SeriesSlice]) -> list[SeriesSlice]:
    """The shown slices by position along the normal when every one has a position, else by
    InstanceNumber (path last, for a stable order); then the refused ones by path."""
    shown = [s for s in slices if s.error is None]
    refused = sorted((s for s in slices if s.error is not None), key=lambda s: s.path)
    if shown and all(s.position is not None for s in shown):
        shown.sort(key=lambda s: (s.position, s.number if s.number is not None else 0, s.path))
    else:
        shown.sort(key=lambda s: (s.number is None, s.number or 0, s.path))
    return [*shown, *refused]


@dataclass(frozen=True)
class FrameSource:
    """Where frame n of an item is: the file, and the frame within it."""

    path: str
    frame: int


def frame_source(path: str, series: DicomSeries | None, frame: int) -> FrameSource:
    """A series' frame n is its n-th shown slice (a file of one frame); any other item's
    frames are its own file's. `IndexError` for a slice the series does not show."""
    if series is None:
        return FrameSource(path, frame)
    shown = series.shown
    if not 0 <= frame < len(shown):
        raise IndexError(frame)
    return FrameSource(shown[frame].path, 0)


def renumbering(before: DicomSeries, after: DicomSeries) -> dict[int, int]:
    """Where each slice shown before is shown after (old index → new): a slice that arrives
    in the middle of a labeled series moves the ones behind it, and their shapes move along.
    A slice no longer shown has no entry."""
    now = {s.path: n for n, s in enumerate(after.shown)}
    return {n: now[s.path] for n, s in enumerate(before.shown) if s.path in now}
