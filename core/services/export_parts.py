"""A large export written by the export stage in parts, so that no stage call is long whatever
the project's size (a Function's time limit is ten minutes): each delivery of the job's message
writes the next `Deps.export_part_items` items (LOUPE_EXPORT_PART_ITEMS, at most
`SEG_PART_ITEMS` for DICOM-SEG, whose items are heavy; in id order, after
the job's cursor) as part blobs, records the part on the job, only over the version it read,
and sends the message on; once every part is written, a last delivery joins them into the
export file and removes them (`core.export.parts` says how the file is put together).

An export with a split, and VOC, first plans (`core.export.plan`): each delivery reads the
next slice of the items (ids, paths and labels; no file is written) and keeps a few bytes of
each, and the last one puts the slices together into the blob of what the parts need, which
the job records, so each part puts its items on the split's sides and names them as the whole
file would.

The part to write is the job's, never the message's: a message delivered again writes the next
part or nothing, and a part two deliveries wrote at once is recorded by one of them (the same
bytes either way), so no item is ever written twice; of two plans made at once, the one the
job records is the one every part reads."""

from __future__ import annotations

import itertools
import json
import tempfile
import zipfile
from collections.abc import Iterator
from typing import IO

from core.domain.exports import ExportJob, part_items
from core.domain.messages import EXPORT_RUN, RunExport
from core.export import bundle, deflated
from core.export.parts import Layout, Member, ZipLayout, directory, write_part
from core.export.plan import Plan, combine, needs_plan, slice_of
from core.export.records import TRAIN, VALIDATION, Record
from core.export.slices import records_of
from core.ports import Deps
from core.store.collections import EXPORTS
from core.store.repositories.items import Items
from core.store.update import write_over

EXPORTS_CONTAINER = "exports"
PAGE = 1000
SPLIT_SUFFIX = ".split.json"
"""Beside a job's file: the ids of the items it put in train and in validation."""


def step(
    deps: Deps,
    job: ExportJob,
    etag: str,
    made: bundle.Target,
    name: str,
    layout: Layout | ZipLayout,
) -> bool:
    """Plan, write the job's next part, or join the parts; True once the export file is
    complete."""
    if job.written:
        _join(deps, job, name, made, layout)
        return True
    if job.plan is None and needs_plan(made.format, made.options):
        _plan(deps, job, etag, made, name)
        return False
    plan = Plan.from_bytes(deps.blobs.get(EXPORTS_CONTAINER, job.plan)) if job.plan else Plan()
    size = part_items(made.format, deps.export_part_items)
    found = _slice(deps, job, made, job.cursor, size)
    records = [plan.split(rec, made.options) for rec in found]
    counts = dict(job.counts)
    sections = write_part(made, records, counts, plan)
    if made.options.validation > 0:
        sides = {side: [r.id for r in records if r.split == side] for side in (TRAIN, VALIDATION)}
        sections.append(json.dumps(sides).encode())
    for section, data in enumerate(sections):
        deps.blobs.put(EXPORTS_CONTAINER, part_name(name, job.parts, section), data)
    updated = job.model_copy(
        update={
            "parts": job.parts + 1,
            "items": job.items + len(records),
            "cursor": records[-1].id if records else job.cursor,
            "counts": counts,
            "written": len(records) < size,
        }
    )
    return _record(deps, updated, etag, f"part-{updated.parts}")


def part_name(name: str, part: int, section: int) -> str:
    return f"{name}.parts/{part:06d}.{section}"


def _record(deps: Deps, updated: ExportJob, etag: str, step: str) -> bool:
    """Record the job over the version read and send its message on; False either way (the
    file is not complete)."""
    if write_over(deps.documents.container(EXPORTS), updated, etag) is None:
        return False  # another delivery recorded this step (the same bytes) and goes on
    body = RunExport(project_id=updated.project_id, export_id=updated.id).to_doc()
    deps.queue.send(EXPORT_RUN, body, message_id=f"{updated.id}-{step}")
    return False


def _plan(deps: Deps, job: ExportJob, etag: str, made: bundle.Target, name: str) -> None:
    """The plan's next slice (as many items as a part, read after the plan's cursor: reading
    them is most of what a part of a light format costs) as a blob recorded on the job; the
    last one (short) puts them all together into the plan. What a delivery writes is recorded
    only over the version it read, else removed: the slices and the plan the job names are the
    ones every part reads."""
    size = part_items(made.format, deps.export_part_items)
    records = _slice(deps, job, made, job.plan_cursor, size)
    data = slice_of(made.format, made.options, records)
    token = deps.ids.token(12)  # tells apart slices two deliveries wrote at once
    slices = [*job.plan_slices, token]
    written = [plan_slice_name(name, len(job.plan_slices), token)]
    deps.blobs.put(EXPORTS_CONTAINER, written[0], data)
    update: dict[str, object] = {
        "plan_slices": slices,
        "plan_cursor": records[-1].id if records else job.plan_cursor,
    }
    if len(records) < size:
        earlier = (deps.blobs.get(EXPORTS_CONTAINER, blob) for blob in _plan_slices(name, job))
        plan = combine(made.format, made.options, itertools.chain(earlier, [data]))
        written.append(f"{name}.parts/plan-{token}")
        deps.blobs.put(EXPORTS_CONTAINER, written[1], plan.to_bytes())
        update["plan"] = written[1]
    if write_over(deps.documents.container(EXPORTS), job.model_copy(update=update), etag) is None:
        for blob in written:
            deps.blobs.delete(EXPORTS_CONTAINER, blob)
        return
    body = RunExport(project_id=job.project_id, export_id=job.id).to_doc()
    deps.queue.send(EXPORT_RUN, body, message_id=f"{job.id}-plan-{len(slices)}")


def plan_slice_name(name: str, number: int, token: str) -> str:
    return f"{name}.parts/plan-{number:06d}-{token}"


def _plan_slices(name: str, job: ExportJob) -> list[str]:
    return [plan_slice_name(name, n, token) for n, token in enumerate(job.plan_slices)]


def _slice(
    deps: Deps, job: ExportJob, made: bundle.Target, cursor: str | None, size: int
) -> list[Record]:
    """The next `size` records after `cursor`, in id order."""
    found: list[Record] = []
    items = Items(deps, job.project_id)
    for document in items.in_states_after(made.options.states, cursor, PAGE):
        found.extend(records_of(document.body, made.options))  # a volume's slices stay together
        if len(found) >= size:
            break
    return found


def _join(
    deps: Deps, job: ExportJob, name: str, made: bundle.Target, layout: Layout | ZipLayout
) -> None:
    """The export file: the layout's fixed bytes and each section's parts in order (written
    again whole if a delivery was cut off while joining), and beside it a split's record;
    then the parts are removed, the first first, so a file whose first part is gone is whole
    (a delivery cut off while removing them is followed by one that removes the rest)."""
    split = made.options.validation > 0
    sections = layout.sections + int(split)
    first = part_name(name, 0, 0)
    if not deps.blobs.exists(EXPORTS_CONTAINER, first) and deps.blobs.exists(
        EXPORTS_CONTAINER, name
    ):
        _remove(deps, job, name, sections)
        return
    if split:
        with tempfile.TemporaryFile() as file:
            _join_split(deps, job, name, layout.sections, file)
            file.seek(0)
            deps.blobs.put(
                EXPORTS_CONTAINER, name + SPLIT_SUFFIX, file, content_type="application/json"
            )
    with tempfile.TemporaryFile() as file:
        if isinstance(layout, ZipLayout):
            _join_zip(deps, job, name, layout, file)
        else:
            for piece in layout.pieces:
                _copy(deps, job, name, piece, file)
        file.seek(0)
        deps.blobs.put(EXPORTS_CONTAINER, name, file, content_type=bundle.content_type(name))
    _remove(deps, job, name, sections)


def _remove(deps: Deps, job: ExportJob, name: str, sections: int) -> None:
    """The parts and the plan, the first part first (deleting a missing blob is no error)."""
    deps.blobs.delete(EXPORTS_CONTAINER, part_name(name, 0, 0))
    for blob in [*_plan_slices(name, job), *([job.plan] if job.plan else [])]:
        deps.blobs.delete(EXPORTS_CONTAINER, blob)
    for part in range(job.parts):
        for section in range(sections):
            deps.blobs.delete(EXPORTS_CONTAINER, part_name(name, part, section))


def _copy(deps: Deps, job: ExportJob, name: str, piece: bytes | int, out: IO[bytes]) -> None:
    """Fixed bytes, or a section's parts in order."""
    if isinstance(piece, bytes):
        out.write(piece)
        return
    for part in range(job.parts):
        for chunk in deps.blobs.stream(EXPORTS_CONTAINER, part_name(name, part, piece)):
            out.write(chunk)


def _join_split(deps: Deps, job: ExportJob, name: str, section: int, out: IO[bytes]) -> None:
    """The split's record, as `json.dumps({"train": [...], "validation": [...]})` writes it,
    from each part's ids (read once a side, never all at once)."""
    for side in (TRAIN, VALIDATION):
        out.write(b'{"train": [' if side == TRAIN else b'], "validation": [')
        comma = b""
        for part in range(job.parts):
            ids = json.loads(deps.blobs.get(EXPORTS_CONTAINER, part_name(name, part, section)))
            for item_id in ids[side]:
                out.write(comma + json.dumps(item_id).encode())
                comma = b", "
    out.write(b"]}")


def _join_zip(deps: Deps, job: ExportJob, name: str, layout: ZipLayout, out: IO[bytes]) -> None:
    """The zip as the whole file's writer makes it: members whose data is fixed, members whose
    sections each part deflated (their compressed bytes copied in order), and the parts' own
    entries copied as they are (each moved by where it lands), then the central directory of
    them all. Nothing is compressed again but a few fixed bytes."""
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
                deflated.write_member(archive, member.name, _sections(deps, job, name, member))
            else:
                for part in range(job.parts):
                    _append_entries(deps, archive, name, part, member.section)


def _sections(deps: Deps, job: ExportJob, name: str, member: Member) -> Iterator[bytes]:
    """A member's data as compressed sections: its fixed bytes deflated here, each part's
    sections as the part deflated them."""
    for piece in member.pieces:
        if isinstance(piece, bytes):
            yield deflated.compress(piece)
            continue
        for part in range(job.parts):
            yield deps.blobs.get(EXPORTS_CONTAINER, part_name(name, part, piece))


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
