"""The derivatives stage: a display image and a thumbnail for each new image item (and, for
greyscale DICOM, its values for window/level in the browser), in their own container, made
after registration so that registering stays fast.

Idempotent: an item whose renditions were made from the blob's current etag is skipped, and
the blobs are written under names fixed by the item id. A file that cannot be decoded (a
truncated JPEG, an unsupported DICOM codec) marks its unlabeled item `error` with the reason."""

from __future__ import annotations

from collections.abc import Callable

from core.domain.errors import NotFound
from core.domain.items import Derivatives, Item, ItemState, RawPixels
from core.domain.media_types import extension
from core.domain.messages import MakeDerivatives
from core.domain.series import frame_source
from core.domain.task_types import MediaKind
from core.media.facts import MediaError, Rendition, Renditions
from core.media.probe import render
from core.ports import Deps
from core.services.ingestion import source_of
from core.services.projects import get_project
from core.services.spool import spooled
from core.services.worklog import item_target
from core.store.collections import ITEMS, load
from core.store.update import update

DERIVATIVES = "derivatives"
"""The blob container renditions go to, as `<project>/<item>/display.jpg` and so on."""
_SUFFIX = {"image/jpeg": "jpg", "image/png": "png"}
PIXELS = "pixels.u16le.zlib"
"""Greyscale DICOM values for window/level in the browser (see `RawPixels`)."""
PIXELS_TYPE = "application/octet-stream"


def make_derivatives(deps: Deps, *, message: MakeDerivatives) -> int:
    """Render what is missing; returns how many items got renditions."""
    try:
        project = get_project(deps, project_id=message.project_id).value
    except NotFound:
        return 0
    source = source_of(deps, project)
    items = deps.documents.container(ITEMS)
    made = 0
    for item_id in message.item_ids:
        found = items.get(project.id, item_id)
        if found is None or not _needs_renditions(item := load(Item, found)):
            continue
        name = source.root + frame_source(item.path, item.series, 0).path  # a series' first slice
        try:
            # Read from a local copy as the decoder needs it: the file never sits in memory
            # whole, and decoding stays within the media budget (core.media.decoding).
            with spooled(deps.blobs, source.container, name) as file:
                limit = project.ingest.max_pixels
                renditions = render(extension(item.path), file, max_pixels=limit)
        except NotFound:
            _update(deps, item, _failed("the file was deleted before it could be shown"))
            continue
        except MediaError as error:
            _update(deps, item, _failed(str(error)))
            continue
        derivatives = _store(deps, item, f"{source.container}/{name}", renditions)
        _update(deps, item, _rendered(derivatives, renditions))
        made += 1
    return made


def _needs_renditions(item: Item) -> bool:
    if item.kind is not MediaKind.IMAGE or item.state is ItemState.ERROR:
        return False
    current = item.media.etag if item.media else None
    return item.derivatives is None or item.derivatives.etag != current


def _store(deps: Deps, item: Item, source_ref: str, made: Renditions) -> Derivatives:
    folder = f"{item.project_id}/{item.id}"

    def put(rendition: Rendition, stem: str) -> str:
        name = f"{folder}/{stem}.{_SUFFIX[rendition.content_type]}"
        deps.blobs.put(DERIVATIVES, name, rendition.data, content_type=rendition.content_type)
        return f"{DERIVATIVES}/{name}"

    display = put(made.display, "display") if made.display is not None else source_ref
    pixels = None
    if made.pixels is not None:
        name = f"{folder}/{PIXELS}"
        deps.blobs.put(DERIVATIVES, name, made.pixels.data, content_type=PIXELS_TYPE)
        pixels = RawPixels(
            path=f"{DERIVATIVES}/{name}", offset=made.pixels.offset, scale=made.pixels.scale
        )
    return Derivatives(
        display=display,
        thumbnail=put(made.thumbnail, "thumbnail"),
        width=made.width,
        height=made.height,
        etag=item.media.etag if item.media else None,
        pixels=pixels,
    )


Change = Callable[[Item], Item | None]


def _rendered(derivatives: Derivatives, made: Renditions) -> Change:
    def change(item: Item) -> Item:
        update: dict[str, object] = {"derivatives": derivatives}
        if made.dicom is not None:
            update["dicom"] = made.dicom  # with the window the display was made with
        return item.model_copy(update=update)

    return change


def _failed(reason: str) -> Change:
    def change(item: Item) -> Item | None:
        if item.state is not ItemState.UNLABELED:
            return None  # labeled already: keep the labels, the renditions stay missing
        return item.model_copy(update={"state": ItemState.ERROR, "error": reason})

    return change


def _update(deps: Deps, item: Item, change: Change) -> None:
    """Apply `change` to the stored item: a labeler's concurrent write wins the race, and the
    change is applied again to what they wrote."""
    update(item_target(deps, item.project_id, item.id, gone_ok=True), change)
