"""The frames of a multi-frame DICOM item, served to the members of its project.

Ingestion renders the first frame only (the item's display, thumbnail and pixels), so that a
volume of hundreds of frames costs no more to register than one picture. Any frame is rendered
alone when first asked for, from the source file as the derivatives stage reads it (spooled,
decoded one frame at a time within the media budget), and kept beside the item's other
renditions under the version of the source it was made from: a changed file gets new frames,
and each stored frame keeps its own ETag, so that a browser's copy is checked for the price
of a blob's properties."""

from __future__ import annotations

import hashlib
import struct
import time
from contextlib import ExitStack
from enum import StrEnum
from typing import BinaryIO

from core.domain.errors import NotFound
from core.domain.items import Item
from core.domain.media_types import extension
from core.domain.projects import Project, Role
from core.domain.series import frame_source
from core.media.facts import MediaError, Renditions
from core.media.probe import render
from core.ports import Deps
from core.services.derivatives import DERIVATIVES, PIXELS_TYPE
from core.services.ingestion import source_of
from core.services.links import Rendition, frame_count
from core.services.registration import Source
from core.services.serving import Served, item_media, open_blob
from core.services.spool import spooled
from core.services.worklog import member_project, read_item


class FrameRendition(StrEnum):
    DISPLAY = "display"
    """The frame as an 8-bit JPEG, through the file's window."""
    PIXELS = "pixels"
    """Greyscale only: the frame's values for window/level, in the `FRAME_PIXELS` layout."""


FRAME_PIXELS = struct.Struct("<dd")
"""What a frame's pixels start with: offset and scale as little-endian float64, followed by
the values as the item's pixels rendition holds them (zlib'd little-endian uint16, value =
stored * scale + offset): each frame brings its own range."""


def item_frame(
    deps: Deps,
    *,
    project_id: str,
    item_id: str,
    frame: int,
    rendition: FrameRendition,
    actor: str,
) -> Served:
    """Frame `frame` (from 0) of an item, for any member of its project; rendered on first
    use. `NotFound` for a frame the item does not have, with how many it has."""
    project = member_project(deps, project_id, actor, Role.LABELER, Role.REVIEWER)
    source = source_of(deps, project)  # Forbidden once the dataset is no longer allowed
    item = read_item(deps, project.id, item_id).value
    if item.derivatives is None:
        raise NotFound(f"item {item.id!r} has no renditions (yet): it has no frames to show")
    count = frame_count(item)
    if not 0 <= frame < count:
        raise NotFound(
            f"item {item.id!r} has no frame {frame}: it has {count} frame"
            f"{'s' if count != 1 else ''}, numbered 0 to {count - 1}"
        )
    if rendition is FrameRendition.PIXELS and item.derivatives.pixels is None:
        raise NotFound(
            f"item {item.id!r} has no pixel values: window/level is for greyscale DICOM only"
        )
    if frame == 0 and rendition is FrameRendition.DISPLAY:  # the item's own display
        return item_media(
            deps, project_id=project_id, item_id=item_id, rendition=Rendition.DISPLAY, actor=actor
        )
    name = frame_name(item, frame, rendition)
    try:
        return open_blob(deps, DERIVATIVES, name)
    except NotFound:
        _render(deps, project, source, item, frame, count)
    return open_blob(deps, DERIVATIVES, name)


def frame_display(deps: Deps, project: Project, item: Item, frame: int) -> tuple[str, str]:
    """Where frame `frame`'s display is (container, name), for an export that ships the
    slices of a volume: rendered now when no labeler has looked at it yet. `NotFound` for a
    frame that cannot be shown (the reason given)."""
    assert item.derivatives is not None
    if frame == 0:
        container, _, name = item.derivatives.display.partition("/")
        return container, name
    name = frame_name(item, frame, FrameRendition.DISPLAY)
    if not deps.blobs.exists(DERIVATIVES, name):
        _render(deps, project, source_of(deps, project), item, frame, frame_count(item))
    return DERIVATIVES, name


def frame_name(item: Item, frame: int, rendition: FrameRendition) -> str:
    """Where a frame is kept: under the item's folder and the source version it shows."""
    assert item.derivatives is not None
    made_from = item.derivatives.etag or ""
    version = hashlib.sha256(made_from.encode()).hexdigest()[:16]
    suffix = "jpg" if rendition is FrameRendition.DISPLAY else "pixels"
    return f"{item.project_id}/{item.id}/frames/{version}/{frame}.{suffix}"


def _render(
    deps: Deps, project: Project, source: Source, item: Item, frame: int, count: int
) -> None:
    """Render and keep `frame`, then, while the file is at hand, the frames around it that
    are not kept yet for as long again as fetching the file took (at least `NEAR_SECONDS`, at
    most `NEAR_FRAMES`): scrolling through a large volume fetches it once per run of frames,
    not once per frame."""
    try:
        where = frame_source(item.path, item.series, frame)
    except IndexError:  # a slice refused since (its file written again at another size)
        raise NotFound(f"item {item.id!r} shows no slice {frame} any more") from None
    started, name = time.monotonic(), source.root + where.path
    with ExitStack() as stack:
        try:
            file = stack.enter_context(spooled(deps.blobs, source.container, name))
        except NotFound:
            raise NotFound(
                f"item {item.id!r}: its file {where.path!r} was deleted, frame {frame} "
                "cannot be shown"
            ) from None
        fetched = time.monotonic() - started
        _store(deps, item, frame, _rendered(project, item, file, frame, where.frame))
        if item.series is not None:
            return  # each slice of a series is a file of its own: nothing more in this one
        stop = time.monotonic() + max(fetched, NEAR_SECONDS)
        for near in _around(frame, count):
            if time.monotonic() >= stop:
                break
            if deps.blobs.exists(DERIVATIVES, frame_name(item, near, _KEPT)):
                continue
            try:
                _store(deps, item, near, _rendered(project, item, file, near, near))
            except NotFound:  # a damaged frame: said when it is asked for
                continue


NEAR_SECONDS = 0.05
NEAR_FRAMES = 32
_KEPT = FrameRendition.DISPLAY
"""Every frame has a display: whether it is kept says whether the frame was rendered."""


def _around(frame: int, count: int) -> list[int]:
    """The `NEAR_FRAMES` other frames nearest to `frame`, the next before the previous."""
    order: list[int] = []
    for distance in range(1, min(count, NEAR_FRAMES) + 1):
        order.extend(n for n in (frame + distance, frame - distance) if 0 <= n < count)
    return order[:NEAR_FRAMES]


def _rendered(project: Project, item: Item, file: BinaryIO, frame: int, in_file: int) -> Renditions:
    """Frame `frame` of the item, which is frame `in_file` of `file`."""
    try:
        limit = project.ingest.max_pixels
        return render(extension(item.path), file, max_pixels=limit, frame=in_file)
    except MediaError as error:
        raise NotFound(f"frame {frame} of item {item.id!r} cannot be shown: {error}") from None


def _store(deps: Deps, item: Item, frame: int, made: Renditions) -> None:
    """The pixels first: a kept display says the frame is there whole."""
    if made.pixels is not None:
        head = FRAME_PIXELS.pack(made.pixels.offset, made.pixels.scale)
        name = frame_name(item, frame, FrameRendition.PIXELS)
        deps.blobs.put(DERIVATIVES, name, head + made.pixels.data, content_type=PIXELS_TYPE)
    if made.display is not None:
        name = frame_name(item, frame, FrameRendition.DISPLAY)
        deps.blobs.put(DERIVATIVES, name, made.display.data, content_type=made.display.content_type)
