"""Turning one blob into items: probe an image's header, read a text file or the rows of a
row file. Shared by initialization batches, blob events, uploads and the refresh sweep.

Bad input never raises: the item is marked `error` with the reason (or, for a file type the
project does not take, counted as skipped), so one bad file never stops the others. What does
raise (a store failure) is worth retrying."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from core.domain.errors import NotFound
from core.domain.items import Item, ItemState, MediaFacts, item_id, rank
from core.domain.media_types import accepts, extension
from core.domain.projects import Project
from core.domain.series import (
    DicomSeries,
    SeriesSlice,
    position_along_normal,
    series_key,
    series_path,
    with_slice,
)
from core.domain.task_types import MediaKind
from core.media.facts import MediaError, NeedMore, Probe
from core.media.probe import probe
from core.media.text import ROW_FILES, Record, records, text_facts
from core.ports import BlobStore
from core.services.spool import spooled

HEAD_BYTES = 256 << 10
"""Bytes read for a header probe; more only when a header is longer (a TIFF's last pages)."""
OVER_CAP = "over the item cap"
DELETED = "deleted before it was read"


@dataclass(frozen=True)
class Source:
    """Where a project's item paths live: `container`, and `root` + path as blob names."""

    container: str
    root: str

    def path(self, blob_name: str) -> str:
        return blob_name[len(self.root) :]


@dataclass(frozen=True)
class Skipped:
    reason: str
    count: int = 1


def skip_reason(project: Project, path: str) -> str | None:
    """Why a listed file of the dataset does not become items, or None if it does."""
    if accepts(project.task_type.media, path):
        return None
    kind = project.task_type.media.value
    return f"{extension(path) or 'no extension'}: not a file type {kind} projects take"


def register(
    blobs: BlobStore,
    project: Project,
    source: Source,
    blob_name: str,
    *,
    now: datetime,
    limit: int | None = None,
    size: int | None = None,
    etag: str | None = None,
) -> Iterator[Item | Skipped]:
    """The items one blob makes (`limit` caps a row file's records), or why it makes none."""
    path = source.path(blob_name)
    if (reason := skip_reason(project, path)) is not None:
        yield Skipped(reason)
        return
    try:
        if project.task_type.media is MediaKind.IMAGE:
            yield _image(blobs, project, source, path, now, size, etag)
        elif extension(path) in ROW_FILES:
            yield from _rows(blobs, project, source, path, now, limit)
        else:
            yield _text(blobs, project, source, path, now, etag)
    except NotFound:
        yield Skipped(DELETED)


def new_item(project: Project, path: str, now: datetime, **fields: object) -> Item:
    identity = item_id(project.id, path)
    return Item.model_validate(
        {
            "id": identity,
            "project_id": project.id,
            "path": path,
            "kind": project.task_type.media,
            "rank": rank(identity),
            "created_at": now,
            "updated_at": now,
            **fields,
        }
    )


def failed(project: Project, path: str, now: datetime, reason: str, **fields: object) -> Item:
    return new_item(project, path, now, state=ItemState.ERROR, error=reason, **fields)


def _image(
    blobs: BlobStore,
    project: Project,
    source: Source,
    path: str,
    now: datetime,
    size: int | None,
    etag: str | None,
) -> Item:
    name = source.root + path
    head, complete = _head(blobs, source.container, name, size)
    if size is None or etag is None:
        info = blobs.info(source.container, name)
        size, etag = info.size, info.etag
    suffix, limit = extension(path), project.ingest.max_pixels
    try:
        try:
            found = probe(suffix, head, complete=complete, max_pixels=limit)
        except NeedMore:  # the header runs past the head: read on from a local copy
            with spooled(blobs, source.container, name) as whole:
                found = probe(suffix, whole, complete=True, max_pixels=limit)
    except MediaError as error:
        facts = MediaFacts(format=suffix.lstrip("."), bytes=size, etag=etag)
        return failed(project, path, now, str(error), media=facts)
    media = MediaFacts(
        format=found.format,
        bytes=size,
        width=found.width,
        height=found.height,
        frames=found.frames,
        etag=etag,
        orientation=found.orientation,
    )
    if project.ingest.dicom_series and found.slice is not None and found.frames == 1:
        return _series_item(project, path, now, media, found)
    return new_item(project, path, now, media=media, dicom=found.dicom)


def _series_item(
    project: Project, path: str, now: datetime, media: MediaFacts, found: Probe
) -> Item:
    """The item of the file's series, holding that one slice: saving merges it into the
    series item if there is one (`core.services.series`)."""
    facts = found.slice
    assert facts is not None
    member = SeriesSlice(
        path=path,
        etag=media.etag.strip('"') if media.etag else None,  # listings may quote it, reads not
        bytes=media.bytes,
        sop_uid=facts.sop_uid,
        position=position_along_normal(facts.position, facts.orientation),
        number=facts.number,
        width=found.width,
        height=found.height,
    )
    series = with_slice(DicomSeries(uid=facts.series_uid), member)
    item = new_item(
        project, series_path(path, series.uid), now, media=media, dicom=found.dicom, series=series
    )
    identity = item_id(project.id, series_key(series.uid))
    return item.model_copy(
        update={"id": identity, "rank": rank(identity), "media": media.of_series(series)}
    )


def _head(blobs: BlobStore, container: str, name: str, size: int | None) -> tuple[bytes, bool]:
    """The blob's first `HEAD_BYTES`, and whether that is all of it."""
    chunks = blobs.stream(container, name, chunk_size=HEAD_BYTES)
    try:
        head = next(chunks, b"")
        if size is not None:
            return head, len(head) >= size
        return head, len(head) < HEAD_BYTES or next(chunks, b"") == b""
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _text(
    blobs: BlobStore, project: Project, source: Source, path: str, now: datetime, etag: str | None
) -> Item:
    name = source.root + path
    try:
        chars, text = text_facts(blobs.stream(source.container, name))
    except MediaError as error:
        return failed(project, path, now, str(error))
    if text is not None and not text.strip():
        return failed(project, path, now, "empty text: nothing to label", chars=chars)
    ref = None if text is not None else f"{source.container}/{name}"
    return new_item(project, path, now, text=text, chars=chars, text_ref=ref)


def _rows(
    blobs: BlobStore,
    project: Project,
    source: Source,
    path: str,
    now: datetime,
    limit: int | None,
) -> Iterator[Item | Skipped]:
    settings = project.ingest
    chunks = blobs.stream(source.container, source.root + path)
    found = records(chunks, extension(path), column=settings.text_column, field=settings.text_field)
    taken = 0
    try:
        for record in found:
            if not _makes_item(record):
                yield Skipped("empty text")
                continue
            if limit is not None and taken >= limit:
                yield Skipped(OVER_CAP, 1 + sum(1 for r in found if _makes_item(r)))
                return
            taken += 1
            row_path = f"{path}#{record.row}"
            if record.error is not None:
                yield failed(project, row_path, now, record.error, row=record.row)
            else:
                assert record.text is not None
                text = record.text
                yield new_item(project, row_path, now, text=text, chars=len(text), row=record.row)
    except MediaError as error:
        yield failed(project, path, now, f"{error} (rows before it were registered)")


def count_records(blobs: BlobStore, project: Project, source: Source, path: str) -> int:
    """How many items a row file makes: needed only to apply an item cap in listing order."""
    settings = project.ingest
    chunks = blobs.stream(source.container, source.root + path)
    try:
        found = records(
            chunks, extension(path), column=settings.text_column, field=settings.text_field
        )
        return sum(1 for record in found if _makes_item(record))
    except (MediaError, NotFound):
        return 1  # it becomes one error item (or nothing)


def _makes_item(record: Record) -> bool:
    return record.error is not None or bool(record.text and record.text.strip())
