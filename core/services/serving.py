"""Reading a project's stored files out to its members: an item's media, or a blob on a link
the API signed. What is served is decided here, never by the link or the uploader: the blob
an item names, typed by its own first bytes (`served_type`)."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass

from core.domain.errors import Forbidden, NotFound
from core.domain.items import Item
from core.domain.links import Grant
from core.domain.media_types import SNIFF_BYTES, served_type
from core.domain.projects import Role
from core.domain.users import Token
from core.ports import BlobInfo, Deps
from core.services.ingestion import source_of
from core.services.links import Rendition
from core.services.worklog import member_project, read_item
from core.store.collections import USERS, load
from core.store.repositories.tokens import Tokens


@dataclass(frozen=True)
class Served:
    info: BlobInfo
    chunks: Generator[bytes, None, None]
    content_type: str
    inline: bool
    """Images show in the page; everything else downloads."""

    @property
    def file_name(self) -> str:
        return self.info.name.rsplit("/", 1)[-1]


def item_media(
    deps: Deps, *, project_id: str, item_id: str, rendition: Rendition, actor: str
) -> Served:
    """An item's picture for any member of its project."""
    project = member_project(deps, project_id, actor, Role.LABELER, Role.REVIEWER)
    source = source_of(deps, project)  # Forbidden once the dataset is no longer allowed
    item = read_item(deps, project.id, item_id).value
    if rendition is Rendition.DISPLAY and item.derivatives is None and item.text is None:
        return open_blob(deps, source.container, source.root + item.path)
    container, _, name = _rendition(item, rendition).partition("/")
    return open_blob(deps, container, name)


def _rendition(item: Item, rendition: Rendition) -> str:
    """The rendition's `container/name`, as the derivatives stage recorded it."""
    derivatives = item.derivatives
    found = None
    if derivatives is not None:
        found = {
            Rendition.DISPLAY: derivatives.display,
            Rendition.THUMBNAIL: derivatives.thumbnail,
            Rendition.PIXELS: derivatives.pixels.path if derivatives.pixels else None,
        }[rendition]
    if found is None:
        raise NotFound(f"item {item.id!r} has no {rendition.value} rendition (yet)")
    return found


def linked_blob(
    deps: Deps, *, container: str, name: str, grant: Grant, expires_at: str, sig: str
) -> Served:
    """A blob on a link the API signed, while the link's holder may still read the project."""
    if not deps.links.verify(container, name, grant, expires_at, sig, deps.clock.now()):
        raise Forbidden("this link is invalid or has expired; ask the API for a fresh one")
    if not signs_in(deps, grant.user):
        raise Forbidden(f"this link was made for {grant.user!r}, who can no longer sign in")
    try:
        member_project(deps, grant.project_id, grant.user, Role.REVIEWER)
    except (Forbidden, NotFound):
        raise Forbidden(
            f"this link was made for {grant.user!r}, who no longer has access to the project"
        ) from None
    return open_blob(deps, container, name)


def signs_in(deps: Deps, user: str) -> bool:
    """Whether `user` exists and has not lost every way in: a user with tokens needs a live
    one (revoking them ends their links too); one without signs in through the Static Web
    App, whose access is membership alone."""
    if deps.documents.container(USERS).get(user, user) is None:
        return False
    tokens = [load(Token, d) for d in Tokens(deps).of(user)]
    return not tokens or any(t.revoked_at is None for t in tokens)


def open_blob(deps: Deps, container: str, name: str) -> Served:
    """The blob, typed by its first bytes; `NotFound` if there is none."""
    info = deps.blobs.info(container, name)
    chunks = deps.blobs.stream(container, name)
    first = next(chunks, b"")
    content_type, inline = served_type(first[:SNIFF_BYTES], name)
    return Served(info, _rejoined(first, chunks), content_type, inline)


def _rejoined(first: bytes, rest: Iterator[bytes]) -> Generator[bytes, None, None]:
    """The stream with its sniffed first chunk back in front; closing it closes the blob."""
    try:
        yield first
        yield from rest
    finally:
        close = getattr(rest, "close", None)
        if close is not None:
            close()
