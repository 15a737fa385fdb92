"""Links a browser can follow to an item's media, without other credentials."""

from __future__ import annotations

from core.domain.items import Item
from core.domain.projects import Project
from core.ports import Deps
from core.services.ingestion import source_of


def media_url(deps: Deps, project: Project, item: Item) -> str | None:
    """The item's display rendition when it has one, else its source file; None for text."""
    if item.derivatives is not None:
        return _link(deps, item.derivatives.display)
    if item.text is not None:
        return None
    source = source_of(deps, project)
    return deps.blobs.url(source.container, source.root + item.path)


def thumbnail_url(deps: Deps, item: Item) -> str | None:
    """The item's thumbnail (the Data tab's pictures); None before one exists."""
    return _link(deps, item.derivatives.thumbnail) if item.derivatives is not None else None


def pixels_url(deps: Deps, item: Item) -> str | None:
    """Greyscale DICOM values for window/level (see `RawPixels`); None for other items."""
    pixels = item.derivatives.pixels if item.derivatives is not None else None
    return _link(deps, pixels.path) if pixels is not None else None


def _link(deps: Deps, rendition: str) -> str:
    container, _, name = rendition.partition("/")  # renditions are stored as container/name
    return deps.blobs.url(container, name)
