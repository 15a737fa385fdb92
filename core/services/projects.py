"""Project use cases: create, read, list, change, pause/resume, delete."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from core.domain.datasets import Dataset, check_dataset_allowed
from core.domain.errors import Conflict, NotFound, PreconditionFailed
from core.domain.labels import LabelClass
from core.domain.messages import PROJECT_INIT, InitializeProject
from core.domain.outbound import PROJECT_STATUS
from core.domain.projects import (
    Instructions,
    Project,
    ProjectPatch,
    ProjectSettings,
    ProjectStatus,
    Role,
    apply_patch,
    name_key,
    new_project,
    require_role,
    tombstone,
    transition,
)
from core.ports import Deps, Document
from core.services import audit, outbound
from core.services.users import require_creator
from core.store.collections import PROJECT_NAMES, PROJECTS, load
from core.store.repositories.projects import Projects
from core.store.update import Target, update
from core.store.versioned import Versioned, same_etag


def create_project(deps: Deps, *, settings: ProjectSettings, actor: str) -> Versioned[Project]:
    """`actor` needs the creator role, and a blob dataset must be one the deployment allows."""
    require_creator(deps, actor)
    _check_dataset(deps, settings.dataset)
    project_id = deps.ids.token(16)
    _reserve_name(deps, settings.name, project_id)
    project = new_project(settings, project_id=project_id, created_by=actor, now=deps.clock.now())
    document = deps.documents.container(PROJECTS).create(project.to_doc())
    audit.record(
        deps,
        project_id=project_id,
        actor=actor,
        action="project.created",
        subject=project_id,
        after=project.to_doc(),
    )
    deps.queue.send(
        PROJECT_INIT,
        InitializeProject(project_id=project_id).to_doc(),
        message_id=f"init-{project_id}",
    )
    return Versioned(project, document.etag)


def get_project(deps: Deps, *, project_id: str, actor: str | None = None) -> Versioned[Project]:
    """The live project; `actor`, when given, must be a member."""
    document = deps.documents.container(PROJECTS).get(project_id, project_id)
    if document is None or (project := load_project(document)).is_deleted:
        raise NotFound(f"project {project_id!r} does not exist or was deleted")
    if actor is not None:
        require_role(project, actor, Role.LABELER, Role.REVIEWER)
    return Versioned(project, document.etag)


def list_projects(deps: Deps, *, actor: str) -> list[Project]:
    """Every live project `actor` is a member of, newest first."""
    documents = Projects(deps).live(newest_first=True)
    return [p for p in (load_project(d) for d in documents) if actor in p.members]


_parsed: dict[tuple[str, str], Project] = {}


def load_project(document: Document) -> Project:
    """The project a document holds. Every labeling request reads its project, and validating
    the settings again each time costs more than the read; a stored version never changes, so
    the parsed model is kept per (id, etag)."""
    key = (document.id, document.etag)
    project = _parsed.get(key)
    if project is None:
        if len(_parsed) >= 1024:
            _parsed.clear()
        project = _parsed[key] = load(Project, document)
    return project


def update_project(
    deps: Deps, *, project_id: str, patch: ProjectPatch, if_match: str, actor: str
) -> Versioned[Project]:
    current = for_owner(deps, project_id, actor, if_match)
    updated = apply_patch(current.value, patch, now=deps.clock.now())
    _check_dataset(deps, updated.dataset)
    if name_key(updated.name) != name_key(current.value.name):
        _reserve_name(deps, updated.name, project_id)
    return save_project(deps, current, updated, actor, "project.updated")


def set_label_classes(
    deps: Deps, *, project_id: str, classes: list[LabelClass], if_match: str, actor: str
) -> Versioned[Project]:
    patch = ProjectPatch(label_classes=classes)
    return update_project(deps, project_id=project_id, patch=patch, if_match=if_match, actor=actor)


def set_instructions(
    deps: Deps, *, project_id: str, instructions: Instructions, if_match: str, actor: str
) -> Versioned[Project]:
    patch = ProjectPatch(instructions=instructions)
    return update_project(deps, project_id=project_id, patch=patch, if_match=if_match, actor=actor)


def pause_project(
    deps: Deps, *, project_id: str, actor: str, if_match: str | None = None
) -> Versioned[Project]:
    return _change_status(deps, project_id, ProjectStatus.PAUSED, actor, if_match)


def resume_project(
    deps: Deps, *, project_id: str, actor: str, if_match: str | None = None
) -> Versioned[Project]:
    return _change_status(deps, project_id, ProjectStatus.RUNNING, actor, if_match)


def delete_project(deps: Deps, *, project_id: str, actor: str, if_match: str | None = None) -> None:
    """Leaves a tombstone: the project disappears, its name stays taken."""
    current = for_owner(deps, project_id, actor, if_match)
    save_project(
        deps, current, tombstone(current.value, now=deps.clock.now()), actor, "project.deleted"
    )


def _change_status(
    deps: Deps, project_id: str, status: ProjectStatus, actor: str, if_match: str | None
) -> Versioned[Project]:
    current = for_owner(deps, project_id, actor, if_match)
    if current.value.status is ProjectStatus.INITIALIZING and status is ProjectStatus.RUNNING:
        raise Conflict("the project is still initializing; it starts running by itself")
    changed = transition(current.value, status, now=deps.clock.now())
    if changed is current.value:
        return current
    return save_project(deps, current, changed, actor, f"project.{status.value}")


def for_owner(deps: Deps, project_id: str, actor: str, if_match: str | None) -> Versioned[Project]:
    """The project as read for a change: `actor` must own it, and `if_match`, when given,
    must still be its etag."""
    current = get_project(deps, project_id=project_id)
    require_role(current.value, actor, Role.OWNER)
    if if_match is not None and not same_etag(if_match, current.etag):
        raise PreconditionFailed(
            f"project {project_id!r} changed since you read it (your etag {if_match!r}, now "
            f"{current.etag!r}): read it again and reapply your change"
        )
    return current


def save_project(
    deps: Deps, current: Versioned[Project], updated: Project, actor: str, action: str
) -> Versioned[Project]:
    """Write `updated` over `current` (etag-checked) with an audit event of the change."""
    return change_project(
        deps, current, lambda _: updated, actor=actor, action=action, if_match=current.etag
    )


def change_project(
    deps: Deps,
    current: Versioned[Project],
    change: Callable[[Project], Project | None],
    *,
    actor: str,
    action: str,
    if_match: str | None = None,
) -> Versioned[Project]:
    """`change` written over the stored project (`current`, the version in hand), again on a
    concurrent write (a resume, a member added) unless `if_match`, with an audit event; a
    project deleted meanwhile is not found, its tombstone left as it is."""
    target = project_target(deps, current.value.id)

    def alive(project: Project) -> Project | None:
        if project.is_deleted:
            raise NotFound(target.missing)
        return change(project)

    done = update(target, alive, current=current, if_match=if_match)
    assert done is not None  # a missing project raised
    before, after = done.before, done.after.value
    if done.written:
        audit.record(
            deps,
            project_id=after.id,
            actor=actor,
            action=action,
            subject=after.id,
            before=before.to_doc(),
            after=after.to_doc(),
        )
        if after.status is not before.status:
            status_changed(deps, after, before=before.status, actor=actor)
    return done.after


def project_target(deps: Deps, project_id: str) -> Target[Project]:
    missing = f"project {project_id!r} does not exist or was deleted"
    container = deps.documents.container(PROJECTS)
    return Target(container, Project, project_id, project_id, "project", missing)


def status_changed(deps: Deps, project: Project, *, before: ProjectStatus, actor: str) -> None:
    outbound.publish(
        deps,
        type=PROJECT_STATUS,
        project_id=project.id,
        subject=f"{project.status.value}@{project.updated_at.isoformat()}",
        data={"from": before.value, "to": project.status.value, "by": actor, "name": project.name},
    )


def _check_dataset(deps: Deps, dataset: Dataset) -> None:
    check_dataset_allowed(dataset, roots=deps.dataset_roots, data_container=deps.data_container)


def name_available(deps: Deps, *, name: str, actor: str) -> bool:
    """Whether a new project may take `name` (asked before the rest of the wizard is filled;
    creating still reserves it, so the answer holds only until someone else takes it)."""
    require_creator(deps, actor)
    key = hashlib.sha256(name_key(name).encode()).hexdigest()
    return deps.documents.container(PROJECT_NAMES).get(key, key) is None


def _reserve_name(deps: Deps, name: str, project_id: str) -> None:
    """Names are unique forever. Reserving first means a crash before the project is written
    burns the name, which is the safe side of the race."""
    names = deps.documents.container(PROJECT_NAMES)
    key = hashlib.sha256(name_key(name).encode()).hexdigest()
    try:
        names.create({"id": key, "name": name, "projectId": project_id})
    except Conflict:
        if names.read(key, key).body["projectId"] == project_id:
            return  # renaming a project back to a name it held before
        raise Conflict(
            f"the name {name!r} is taken: project names are never reused, even after deletion; "
            "choose another name"
        ) from None
