"""Migrations from Azure ML Data Labeling straight from storage, as imports are
(`core.services.import_jobs`): a creator gets a link to PUT the labels export to its blob in the
`imports` container, then starts the migration; the import stage reads the file, checks it
whole, makes the project and writes its labels (`core.services.migrations`), and the job
document is the progress and the report. The same file and options are the same job; a
message delivered again after the job ended, or of an earlier attempt, does nothing, and one
cut off after the project was made resumes that project rather than making another."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.domain.datasets import Dataset, DataSource
from core.domain.errors import InvalidImport, InvalidInput, LoupeError, NotFound
from core.domain.imports import (
    FINAL,
    IMPORT_FILES,
    FileProblem,
    ImportStatus,
    MigrationJob,
    migration_file,
    migration_job_id,
    migration_partition,
)
from core.domain.links import Grant
from core.domain.messages import IMPORT_RUN, RunImport
from core.domain.projects import Project
from core.domain.task_types import TaskType
from core.ports import Deps
from core.services.job_record import JobRecord, Overtaken, declared_file
from core.services.migrations import MigrationReport, migrate_azureml
from core.services.uploads import Transfer, check_size, write_link
from core.services.users import require_creator
from core.store.collections import IMPORTS, load


def migration_link(deps: Deps, *, actor: str, sha256: str, size: int, max_bytes: int) -> Transfer:
    """A link to PUT a labels export (creators)."""
    require_creator(deps, actor)
    check_size(size, max_bytes, "zip the MLTable folder, or split the file")
    grant = Grant(migration_partition(actor), actor)
    return write_link(deps, IMPORT_FILES, migration_file(actor, sha256), grant)


def start_migration(
    deps: Deps,
    *,
    actor: str,
    name: str,
    dataset: Dataset,
    task_type: TaskType | None,
    sha256: str,
) -> MigrationJob:
    """Queue the migration of a file put on its link; the same file and options answer the
    same job (started again only when it failed or was refused)."""
    require_creator(deps, actor)
    container = dataset.container if dataset.source is DataSource.BLOB else None
    type_name = task_type.value if task_type else None
    job_id = migration_job_id(actor, name, container, dataset.path, type_name, sha256)
    partition = migration_partition(actor)
    documents = deps.documents.container(IMPORTS)
    found = documents.get(partition, job_id)
    before = load(MigrationJob, found) if found else None
    if before is not None and before.status not in (ImportStatus.FAILED, ImportStatus.REFUSED):
        return before
    source = migration_file(actor, sha256)
    if not deps.blobs.exists(IMPORT_FILES, source):
        raise InvalidInput.one(
            "sha256",
            "no file with this digest has arrived: PUT it to the link POST "
            "/api/migrations/azureml/files gave, then start it",
        )
    fields: dict[str, Any] = {"id": job_id, "project_id": partition, "actor": actor, "name": name}
    fields |= {"container": container, "path": dataset.path, "task_type": type_name}
    job = MigrationJob(**fields, sha256=sha256, source=source, **_attempt(deps, before))
    documents.upsert(job.to_doc())
    message = RunImport(project_id=partition, job_id=job_id, attempt=job.attempts)
    deps.queue.send(IMPORT_RUN, message.to_doc(), message_id=f"{job_id}-{job.attempts}")
    return job


def _attempt(deps: Deps, before: MigrationJob | None) -> dict[str, Any]:
    """The next attempt after `before`, resuming the project it made, if any."""
    if before is None:
        return {"attempts": 1, "started_at": deps.clock.now()}
    return {
        "attempts": before.attempts + 1,
        "started_at": deps.clock.now(),
        "project": before.project,
    }


def get_migration(deps: Deps, *, actor: str, job_id: str) -> MigrationJob:
    found = deps.documents.container(IMPORTS).get(migration_partition(actor), job_id)
    if found is None:
        raise NotFound(f"you have no migration {job_id!r}")
    return load(MigrationJob, found)


def is_migration(message: RunImport) -> bool:
    return message.project_id.startswith("migrations-")


def run_migration(deps: Deps, *, message: RunImport) -> None:
    """The import stage's part for migrations: the whole file in one message (its labels are
    written by the import's own code, item by item, safe to repeat)."""
    documents = deps.documents.container(IMPORTS)
    found = documents.get(message.project_id, message.job_id)
    if found is None:
        return
    job = load(MigrationJob, found)
    if job.status in FINAL or message.attempt != job.attempts:
        return
    record = JobRecord(deps, found.etag)
    try:
        # Claimed over the version read: of two deliveries at once, one goes on.
        job = job.model_copy(update={"status": ImportStatus.APPLYING, "error": None})
        record.save(job)

        def made(project: Project) -> None:
            nonlocal job
            if job.project != project.id:
                job = job.model_copy(update={"project": project.id})
                record.save(job)

        report = _migrate(deps, job, made)
    except Overtaken:
        return  # another delivery recorded the job first: its record stands
    except InvalidInput as refused:  # the file (or what it says) cannot be migrated
        record.end(_refused(job, refused))
    except LoupeError as error:  # the name taken meanwhile, the role gone: told, not retried
        record.fail(job, error)
    except Exception as error:
        record.fail(job, error)
        raise
    else:
        record.end(_applied(job, report))


def _migrate(deps: Deps, job: MigrationJob, made: Callable[[Project], None]) -> MigrationReport:
    """The job's file migrated, if it is the file declared; `made` hears of the project."""
    with declared_file(deps, job) as file:
        return migrate_azureml(
            deps,
            actor=job.actor,
            name=job.name,
            data=file,
            dataset=_dataset(job),
            task_type=TaskType(job.task_type) if job.task_type else None,
            existing=job.project,
            made=made,
        )


def _dataset(job: MigrationJob) -> Dataset:
    if job.container is None:
        return Dataset()
    return Dataset(source=DataSource.BLOB, container=job.container, path=job.path)


def _applied(job: MigrationJob, report: MigrationReport) -> MigrationJob:
    return job.model_copy(
        update={
            "status": ImportStatus.APPLIED,
            "project": report.project.id,
            "task_type": report.project.task_type.value,
            "classes": [c.name for c in report.project.label_classes],
            "records": report.records,
            "items": report.items,
            "labeled": report.labeled,
            "unlabeled_records": report.unlabeled_records,
            "missing": report.missing,
            "missing_urls": report.missing_urls,
        }
    )


def _refused(job: MigrationJob, refused: InvalidInput) -> MigrationJob:
    problems = [FileProblem(field=v.field, rule=v.rule) for v in refused.violations]
    extra = (
        {"omitted": refused.omitted, "unknown_classes": refused.unknown_classes}
        if isinstance(refused, InvalidImport)
        else {}
    )
    refusal = {"status": ImportStatus.REFUSED, "error": str(refused), "errors": problems}
    return job.model_copy(update=refusal | extra)
