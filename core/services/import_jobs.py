"""Imports straight from storage: no file passes through the API, and no request waits on one.

1. `import_link`: the API checks that the caller owns the project and that the format fits it,
   and answers with a short-lived link to PUT the file to its blob in the `imports` container
   (a user delegation SAS on Azure, the API's own write link locally: `uploads.write_link`).
   The blob is named by the owner and the file's SHA-256, which the caller declares, so the
   same file is the same blob and the same job.
2. `start_import`: records the job (`queued`) and sends it to the import stage.
3. `run_import`, the stage: reads the blob, checks its digest, checks the whole file as the
   body route does (`core.services.imports`); a refused file records every problem on the job
   and writes nothing. Then it writes `WINDOW` items per message, the job counting them, and
   sends the next window on: a message of a window already written, or of an earlier attempt,
   does nothing, and a window cut off is written again (each item is written only if it is
   not already as the file says). The job document is the progress and the report."""

from __future__ import annotations

from dataclasses import dataclass

from core.domain.errors import (
    InvalidImport,
    InvalidInput,
    LoupeError,
    NotFound,
)
from core.domain.imports import (
    FINAL,
    IMPORT_FILES,
    FileProblem,
    ImportJob,
    ImportStatus,
    import_file,
    import_job_id,
)
from core.domain.links import Grant
from core.domain.messages import IMPORT_RUN, RunImport
from core.domain.projects import Role
from core.ports import Deps
from core.services.cyclic_gc import cyclic_gc_paused
from core.services.import_plan import Plan, plan_import
from core.services.imports import (
    BATCH,
    ImportFormat,
    ImportMode,
    ImportReport,
    apply_batch,
    check_fits,
    read_records,
)
from core.services.job_record import JobRecord, Overtaken, declared_file
from core.services.uploads import Transfer, check_size, write_link
from core.services.worklog import member_project
from core.store.collections import IMPORTS, load

WINDOW = 10_000
"""Items one stage message writes (a few seconds: items are written 1,000 a bulk write), so no
stage call nears a time limit. Each message reads and checks the whole file again, so fewer,
larger windows cost less: 10k box labels in five windows of 2,000 checked the file five times."""


@dataclass(frozen=True)
class ImportFile:
    """What the caller says of the file it will put: how to read it, and what it is."""

    format: ImportFormat
    mode: ImportMode
    normalized: bool
    sha256: str
    size: int


def import_link(
    deps: Deps, *, project_id: str, actor: str, file: ImportFile, max_bytes: int
) -> tuple[Transfer, str]:
    """A link to PUT the file, and the id its import will have."""
    project = member_project(deps, project_id, actor, Role.OWNER)
    check_fits(project, file.format)
    check_size(file.size, max_bytes, "split the labels into several files")
    name = import_file(project.id, actor, file.sha256)
    return write_link(deps, IMPORT_FILES, name, Grant(project.id, actor)), _job_id(
        project.id, actor, file
    )


def start_import(deps: Deps, *, project_id: str, actor: str, file: ImportFile) -> ImportJob:
    """Queue the import of a file put on its link. The same file and options are the same job:
    one applied (or refused) already is answered as it is, one queued or being written is left
    to its stage, one that failed is started again and resumes."""
    project = member_project(deps, project_id, actor, Role.OWNER)
    check_fits(project, file.format)
    container = deps.documents.container(IMPORTS)
    job_id = _job_id(project.id, actor, file)
    found = container.get(project.id, job_id)
    before = load(ImportJob, found) if found else None
    running = (ImportStatus.QUEUED, ImportStatus.APPLYING)
    if before is not None and before.status in running and before.source is not None:
        return before  # its stage has it
    if before is not None and before.status is ImportStatus.APPLIED:
        return before
    source = import_file(project.id, actor, file.sha256)
    if not deps.blobs.exists(IMPORT_FILES, source):
        raise InvalidInput.one(
            "sha256",
            "no file with this digest has arrived: PUT it to the link POST .../imports/files "
            "gave, then start it",
        )
    job = ImportJob(
        id=job_id,
        project_id=project.id,
        actor=actor,
        format=file.format.value,
        mode=file.mode.value,
        normalized=file.normalized,
        sha256=file.sha256,
        status=ImportStatus.QUEUED,
        attempts=before.attempts + 1 if before else 1,
        started_at=deps.clock.now(),
        source=source,
        resumed=before is not None and before.status is not ImportStatus.REFUSED,
    )
    container.upsert(job.to_doc())
    _send(deps, job, 0)
    return job


def get_import(deps: Deps, *, project_id: str, actor: str, job_id: str) -> ImportJob:
    member_project(deps, project_id, actor, Role.OWNER)
    found = deps.documents.container(IMPORTS).get(project_id, job_id)
    if found is None:
        raise NotFound(f"import {job_id!r} is not in this project")
    return load(ImportJob, found)


def run_import(deps: Deps, *, message: RunImport) -> None:
    """The import stage: one window of one job (see the module's docstring)."""
    container = deps.documents.container(IMPORTS)
    found = container.get(message.project_id, message.job_id)
    if found is None:
        return
    job = load(ImportJob, found)
    if job.source is None or job.status in FINAL or message.attempt != job.attempts:
        return  # delivered again after it ended, or of an attempt started over since
    if message.start != job.done:
        return  # a window written already (its successor has been sent)
    record = JobRecord(deps, found.etag)
    try:
        _window(deps, job, message.start, record)
    except Overtaken:
        return  # a delivery of the same window at once recorded it first: its record stands
    except InvalidImport as refused:
        record.end(_refused(job, refused))
    except LoupeError as error:  # a conflict, the project gone: told, not retried
        record.fail(job, error)
    except Exception as error:
        record.fail(job, error)
        raise


def _window(deps: Deps, job: ImportJob, start: int, record: JobRecord) -> None:
    project = member_project(deps, job.project_id, job.actor, Role.OWNER)
    format, mode = ImportFormat(job.format), ImportMode(job.mode)
    check_fits(project, format)
    with cyclic_gc_paused(), declared_file(deps, job) as file:
        plan = plan_import(deps, project, read_records(deps, project, format, file, job.normalized))
    if start == 0:
        job = _checked(job, plan)
        record.save(job)
    end = min(start + WINDOW, len(plan.entries))
    report = ImportReport(job=job.id)
    with cyclic_gc_paused():
        for at in range(start, end, BATCH):
            window = plan.entries[at : min(at + BATCH, end)]
            apply_batch(deps, project, job.actor, plan, window, mode, report)
    job = job.model_copy(
        update={
            "done": end,
            # Written now or found so: the same count whichever of two deliveries of a window
            # at once wrote an item (the other finds it so), so the report is the same too.
            "updated": job.updated + report.updated + report.unchanged,
            "kept_labeled": job.kept_labeled + report.kept_labeled,
            "unmatched": job.unmatched + report.unmatched,
            "error": None,
        }
    )
    if end < len(plan.entries):
        record.save(job)
        _send(deps, job, end)
        return
    record.end(job.model_copy(update={"status": ImportStatus.APPLIED}))


def _checked(job: ImportJob, plan: Plan) -> ImportJob:
    """The file passed every check: what it holds, before the first write."""
    return job.model_copy(
        update={
            "status": ImportStatus.APPLYING,
            "items": len(plan.entries),
            "records": plan.records,
            "unmatched": plan.unmatched,
            "unmatched_paths": plan.unmatched_paths,
            "without_labels": plan.without_labels,
            "updated": 0,
            "unchanged": 0,
            "kept_labeled": 0,
            "errors": [],
            "omitted": 0,
            "unknown_classes": [],
        }
    )


def _refused(job: ImportJob, refused: InvalidImport) -> ImportJob:
    problems = [FileProblem(field=v.field, rule=v.rule) for v in refused.violations]
    return job.model_copy(
        update={
            "status": ImportStatus.REFUSED,
            "error": str(refused),
            "errors": problems,
            "omitted": refused.omitted,
            "unknown_classes": refused.unknown_classes,
        }
    )


def _send(deps: Deps, job: ImportJob, start: int) -> None:
    """The message of one window; its id names the window, so a repeat is dropped by Service
    Bus's duplicate detection (and is a no-op in the stage all the same)."""
    body = RunImport(project_id=job.project_id, job_id=job.id, attempt=job.attempts, start=start)
    deps.queue.send(IMPORT_RUN, body.to_doc(), message_id=f"{job.id}-{job.attempts}-{start}")


def _job_id(project_id: str, actor: str, file: ImportFile) -> str:
    return import_job_id(
        project_id, actor, file.format.value, file.mode.value, file.normalized, file.sha256
    )
