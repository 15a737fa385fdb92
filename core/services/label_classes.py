"""Label classes mid-project: add classes (start over, start over keeping labels as pre-filled
tags, or keep everything) and rename a class, existing labels following. Both need the project
paused; the items are rewritten in batches by the `label-classes` stage."""

from __future__ import annotations

from core.domain.annotation_json import from_json
from core.domain.annotations import rename_label
from core.domain.errors import Conflict, InvalidInput, PreconditionFailed
from core.domain.items import Item
from core.domain.labels import LabelClass
from core.domain.progress import Delta
from core.domain.projects import Project, ProjectPatch, ProjectStatus, apply_patch
from core.domain.relabel import LABEL_CLASSES, ExistingLabels, RewriteLabels, labeled_before
from core.domain.task_types import TaskType
from core.ports import Deps, Query
from core.services.collections import ITEMS, load
from core.services.projects import for_owner, get_project, save_project
from core.services.review import rejected
from core.services.versioned import Versioned
from core.services.worklog import changed, count, save_item

BATCH = 500


def add_label_classes(
    deps: Deps,
    *,
    project_id: str,
    actor: str,
    classes: list[LabelClass],
    existing: ExistingLabels,
    if_match: str | None = None,
) -> Versioned[Project]:
    current = _paused_for_owner(deps, project_id, actor, if_match)
    patch = ProjectPatch(label_classes=[*current.value.label_classes, *classes])
    updated = apply_patch(current.value, patch, now=deps.clock.now())
    saved = save_project(deps, current, updated, actor, "project.label_classes_added")
    if existing is not ExistingLabels.KEEP:
        _start(
            deps,
            RewriteLabels(
                project_id=project_id, actor=actor, before=deps.clock.now(), existing=existing
            ),
        )
    return saved


def rename_label_class(
    deps: Deps, *, project_id: str, actor: str, old: str, new: str, if_match: str | None = None
) -> Versioned[Project]:
    current = _paused_for_owner(deps, project_id, actor, if_match)
    names = [label.name for label in current.value.label_classes]
    if old not in names:
        raise InvalidInput.one("from", f"{old!r} is not a label class of this project")
    renamed = [
        label.model_copy(update={"name": new}) if label.name == old else label
        for label in current.value.label_classes
    ]
    fields = current.value.model_dump() | {"label_classes": renamed, "updated_at": deps.clock.now()}
    updated = Project.model_validate(fields)  # checks the new name like any other
    saved = save_project(deps, current, updated, actor, "project.label_class_renamed")
    _start(
        deps,
        RewriteLabels(
            project_id=project_id, actor=actor, before=deps.clock.now(), old=old, new=new
        ),
    )
    return saved


def rewrite_labels(deps: Deps, *, message: RewriteLabels) -> int:
    """One batch of the stage; enqueues the next batch. Idempotent: a renamed item has no old
    label left, and a start-over skips items answered after the change."""
    project = get_project(deps, project_id=message.project_id).value
    items = deps.documents.container(ITEMS)
    page = items.query(project.id, Query(page_size=BATCH), message.continuation)
    delta = Delta()
    rewritten = 0
    for document in page.documents:
        current = Versioned(load(Item, document), document.etag)
        after = _rewritten(project.task_type, current.value, message, deps.clock.now())
        if after is None:
            continue
        action = "labels.renamed" if message.old else f"labels.{message.existing}"
        try:
            save_item(deps, current, after, actor=message.actor, action=action)
        except PreconditionFailed:
            continue  # changed meanwhile, so by someone working after the change
        delta += changed(current.value, after)
        rewritten += 1
    count(deps, project.id, message.actor, delta)
    if page.continuation:
        follow = message.model_copy(
            update={"continuation": page.continuation, "batch": message.batch + 1}
        )
        _start(deps, follow)
    return rewritten


def _rewritten(task_type: TaskType, item: Item, message: RewriteLabels, now: object) -> Item | None:
    if message.old is not None and message.new is not None:
        renamed = _renamed(task_type, item, message.old, message.new)
        return None if renamed is None else renamed.model_copy(update={"updated_at": now})
    if not labeled_before(item, message.before):
        return None
    reset = rejected(item, actor=message.actor, reason="label classes changed: start over", now=now)
    if message.existing is ExistingLabels.KEEP_AS_DEFAULTS and item.final is not None:
        return reset.model_copy(update={"prefill": item.final})
    return reset


def _renamed(task_type: TaskType, item: Item, old: str, new: str) -> Item | None:
    def follow(value: dict[str, object] | None) -> dict[str, object] | None:
        if value is None:
            return None
        return rename_label(from_json(task_type, value), old, new).to_json()

    annotations = [a.model_copy(update={"value": follow(a.value)}) for a in item.annotations]
    prediction = item.prediction
    if prediction is not None:
        prediction = prediction.model_copy(update={"value": follow(prediction.value)})
    after = item.model_copy(
        update={
            "annotations": annotations,
            "final": follow(item.final),
            "prefill": follow(item.prefill),
            "prediction": prediction,
        }
    )
    return None if after == item else after


def _paused_for_owner(
    deps: Deps, project_id: str, actor: str, if_match: str | None
) -> Versioned[Project]:
    current = for_owner(deps, project_id, actor, if_match)
    if current.value.status is not ProjectStatus.PAUSED:
        raise Conflict(
            "pause the project first: label classes change only while no one is labeling"
        )
    return current


def _start(deps: Deps, message: RewriteLabels) -> None:
    job = f"{message.project_id}-{message.before.timestamp():.6f}-{message.batch}"
    deps.queue.send(LABEL_CLASSES, message.to_doc(), message_id=job)
