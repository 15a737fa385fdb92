"""A large export written by the export stage in parts, so that no stage call is long whatever
the project's size (a Function's time limit is ten minutes): each delivery of the job's message
writes the next `PART_ITEMS` items (in id order, after the job's cursor) as part blobs, records
the part on the job, only over the version it read, and sends the message on; once every part
is written, a last delivery joins them into the export file and removes them
(`core.export.parts` says how the file is put together).

The part to write is the job's, never the message's: a message delivered again writes the next
part or nothing, and a part two deliveries wrote at once is recorded by one of them (the same
bytes either way), so no item is ever written twice."""

from __future__ import annotations

import tempfile

from core.domain.errors import PreconditionFailed
from core.domain.exports import ExportJob
from core.domain.messages import EXPORT_RUN, RunExport
from core.export import bundle
from core.export.parts import Layout, write_part
from core.export.records import Record, record
from core.ports import Deps, Query, Where
from core.services.collections import EXPORTS, ITEMS, scan

PART_ITEMS = 5000
"""Items one part holds: a few seconds of a stage call."""
EXPORTS_CONTAINER = "exports"
PAGE = 1000


def step(
    deps: Deps, job: ExportJob, etag: str, made: bundle.Target, name: str, layout: Layout
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
            "written": len(records) < PART_ITEMS,
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
        if len(found) == PART_ITEMS:
            break
    return found


def _join(deps: Deps, job: ExportJob, name: str, layout: Layout) -> None:
    """The export file: the layout's fixed bytes and each section's parts in order (written
    again whole if a delivery was cut off while joining); then the parts are removed, the first
    last, so a file whose first part is gone is whole."""
    first = part_name(name, 0, 0)
    if not deps.blobs.exists(EXPORTS_CONTAINER, first) and deps.blobs.exists(
        EXPORTS_CONTAINER, name
    ):
        return  # joined by a delivery cut off before it could say so
    with tempfile.TemporaryFile() as file:
        for piece in layout.pieces:
            if isinstance(piece, bytes):
                file.write(piece)
                continue
            for part in range(job.parts):
                for chunk in deps.blobs.stream(EXPORTS_CONTAINER, part_name(name, part, piece)):
                    file.write(chunk)
        file.seek(0)
        deps.blobs.put(EXPORTS_CONTAINER, name, file, content_type=bundle.content_type(name))
    for part in reversed(range(job.parts)):
        for section in reversed(range(layout.sections)):
            deps.blobs.delete(EXPORTS_CONTAINER, part_name(name, part, section))
