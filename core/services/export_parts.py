"""A large export written by the export stage in parts, so that no stage call is long whatever
the project's size (a Function's time limit is ten minutes): each delivery of the job's message
writes the next `Deps.export_part_items` items (LOUPE_EXPORT_PART_ITEMS; in id order, after
the job's cursor) as part blobs, records the part on the job, only over the version it read,
and sends the message on; once every part is written, a last delivery joins them into the
export file and removes them (`core.export.parts` says how the file is put together).

The part to write is the job's, never the message's: a message delivered again writes the next
part or nothing, and a part two deliveries wrote at once is recorded by one of them (the same
bytes either way), so no item is ever written twice."""

from __future__ import annotations

import tempfile
import zipfile
from typing import IO

from core.domain.errors import PreconditionFailed
from core.domain.exports import ExportJob
from core.domain.messages import EXPORT_RUN, RunExport
from core.export import bundle
from core.export.parts import Layout, Member, ZipLayout, directory, write_part
from core.export.records import Record, record
from core.ports import Deps, Query, Where
from core.services.collections import EXPORTS, ITEMS, scan

EXPORTS_CONTAINER = "exports"
PAGE = 1000


def step(
    deps: Deps,
    job: ExportJob,
    etag: str,
    made: bundle.Target,
    name: str,
    layout: Layout | ZipLayout,
) -> bool:
    """Write the job's next part, or join the parts; True once the export file is complete."""
    if job.written:
        _join(deps, job, name, layout)
        return True
    records = _slice(deps, job, made)
    counts = dict(job.counts)
    sections = write_part(made, records, counts)
    for section, data in enumerate(sections):
        deps.blobs.put(EXPORTS_CONTAINER, part_name(name, job.parts, section), data)
    updated = job.model_copy(
        update={
            "parts": job.parts + 1,
            "items": job.items + len(records),
            "cursor": records[-1].id if records else job.cursor,
            "counts": counts,
            "written": len(records) < deps.export_part_items,
        }
    )
    try:
        deps.documents.container(EXPORTS).upsert(updated.to_doc(), if_match=etag)
    except PreconditionFailed:
        return False  # another delivery recorded this part (the same bytes) and goes on
    body = RunExport(project_id=job.project_id, export_id=job.id).to_doc()
    deps.queue.send(EXPORT_RUN, body, message_id=f"{job.id}-part-{updated.parts}")
    return False


def part_name(name: str, part: int, section: int) -> str:
    return f"{name}.parts/{part:06d}.{section}"


def _slice(deps: Deps, job: ExportJob, made: bundle.Target) -> list[Record]:
    where: tuple[Where, ...] = (Where("state", "in", list(made.options.states)),)
    if job.cursor is not None:
        where += (Where("id", ">", job.cursor),)
    found: list[Record] = []
    for document in scan(
        deps.documents.container(ITEMS), job.project_id, Query(where, page_size=PAGE)
    ):
        found.append(record(document.body, made.options))
        if len(found) == deps.export_part_items:
            break
    return found


def _join(deps: Deps, job: ExportJob, name: str, layout: Layout | ZipLayout) -> None:
    """The export file: the layout's fixed bytes and each section's parts in order (written
    again whole if a delivery was cut off while joining); then the parts are removed, the first
    last, so a file whose first part is gone is whole."""
    first = part_name(name, 0, 0)
    if not deps.blobs.exists(EXPORTS_CONTAINER, first) and deps.blobs.exists(
        EXPORTS_CONTAINER, name
    ):
        return  # joined by a delivery cut off before it could say so
    with tempfile.TemporaryFile() as file:
        if isinstance(layout, ZipLayout):
            _join_zip(deps, job, name, layout, file)
        else:
            for piece in layout.pieces:
                _copy(deps, job, name, piece, file)
        file.seek(0)
        deps.blobs.put(EXPORTS_CONTAINER, name, file, content_type=bundle.content_type(name))
    for part in reversed(range(job.parts)):
        for section in reversed(range(layout.sections)):
            deps.blobs.delete(EXPORTS_CONTAINER, part_name(name, part, section))


def _copy(deps: Deps, job: ExportJob, name: str, piece: bytes | int, out: IO[bytes]) -> None:
    """Fixed bytes, or a section's parts in order."""
    if isinstance(piece, bytes):
        out.write(piece)
        return
    for part in range(job.parts):
        for chunk in deps.blobs.stream(EXPORTS_CONTAINER, part_name(name, part, piece)):
            out.write(chunk)


def _join_zip(deps: Deps, job: ExportJob, name: str, layout: ZipLayout, out: IO[bytes]) -> None:
    """The zip as the whole file's writer makes it: fixed members, members deflated from their
    sections' parts, and the parts' own entries copied as they are (each moved by where it
    lands), then the central directory of them all."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for member in layout.members:
            fixed = (
                [p for p in member.pieces if isinstance(p, bytes)]
                if isinstance(member, Member)
                else []
            )
            if isinstance(member, Member) and len(fixed) == len(member.pieces):
                archive.writestr(member.name, b"".join(fixed))
            elif isinstance(member, Member):
                with archive.open(member.name, "w", force_zip64=True) as data:
                    for piece in member.pieces:
                        _copy(deps, job, name, piece, data)
            else:
                for part in range(job.parts):
                    _append_entries(deps, archive, name, part, member.section)


def _append_entries(
    deps: Deps, archive: zipfile.ZipFile, name: str, part: int, section: int
) -> None:
    """Copy one part's entries to the archive's end and list them in its directory (zipfile
    writes the directory from `filelist` when it closes)."""
    listing = deps.blobs.get(EXPORTS_CONTAINER, part_name(name, part, section + 1))
    base = archive.start_dir
    archive.fp.seek(base)  # type: ignore[union-attr]
    for chunk in deps.blobs.stream(EXPORTS_CONTAINER, part_name(name, part, section)):
        archive.fp.write(chunk)  # type: ignore[union-attr]
    for info in directory(listing):
        info.header_offset += base
        archive.filelist.append(info)
        archive.NameToInfo[info.filename] = info
    archive.start_dir = archive.fp.tell()  # type: ignore[union-attr]
