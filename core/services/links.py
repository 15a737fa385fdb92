"""Links to a project's files: an item's media, served by the API to the project's members
only (checked at every request), and downloads (exports, the images an Azure ML export names),
which the blob store signs itself where it can (a SAS) and the API signs for one member
otherwise."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from urllib.parse import quote

from core.domain.items import Item
from core.domain.links import Grant
from core.ports import Deps


class Rendition(StrEnum):
    DISPLAY = "display"
    """What labeling shows: the display rendition, or the source file while it has none."""
    THUMBNAIL = "thumbnail"
    PIXELS = "pixels"
    """Greyscale DICOM values for window/level (see `RawPixels`)."""


def media_url(item: Item) -> str | None:
    """The item's picture for labeling; None for text."""
    return None if item.text is not None else _item_link(item, Rendition.DISPLAY)


def thumbnail_url(item: Item) -> str | None:
    """The item's thumbnail (the Data tab's pictures); None before one exists."""
    return _item_link(item, Rendition.THUMBNAIL) if item.derivatives is not None else None


def pixels_url(item: Item) -> str | None:
    pixels = item.derivatives.pixels if item.derivatives is not None else None
    return _item_link(item, Rendition.PIXELS) if pixels is not None else None


def frame_count(item: Item) -> int:
    """How many frames of the item can be shown: a DICOM file's, once it has renditions (a
    multi-page TIFF shows its first page)."""
    media = item.media
    if media is None or media.format != "dicom" or item.derivatives is None:
        return 1
    return media.frames


def frames_url(item: Item) -> str | None:
    """Where the frames of a multi-frame item are (`{url}/{n}/display`, `{url}/{n}/pixels`);
    None for an item of one frame."""
    if frame_count(item) < 2:
        return None
    return _item_link(item, Rendition.DISPLAY).removesuffix(Rendition.DISPLAY.value) + "frames"


def _item_link(item: Item, rendition: Rendition) -> str:
    # Relative: the page that shows it came from the API's own origin.
    project, item_id = quote(item.project_id, safe=""), quote(item.id, safe="")
    return f"/api/projects/{project}/items/{item_id}/media/{rendition.value}"


def download_url(deps: Deps, container: str, name: str, grant: Grant, *, expires_in_s: int) -> str:
    """A link `grant.user` can hand to a program (a download, a training job)."""
    direct = deps.blobs.url(container, name, expires_in_s=expires_in_s)
    if direct is not None:
        return direct
    expires = deps.clock.now() + timedelta(seconds=expires_in_s)
    return deps.links.url(container, name, grant, expires_at=int(expires.timestamp()))
