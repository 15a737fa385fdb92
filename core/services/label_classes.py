"""Label classes mid-project: add classes (start over, start over keeping labels as pre-filled
tags, or keep everything) and rename a class, existing labels following. Both need the project
paused; the items are rewritten in batches by the `label-classes` stage.

All or nothing: the new classes and the rewrite they need (`PendingRewrite`) are one write of
the project document, so a refused or failed request changed nothing, and a saved change is
always carried to every item: its first message is sent right after (or, if the writer died
first, by `send_pending_rewrites`, a sweep), each batch is idempotent and retried by the queue,
an item changed meanwhile is read again and rewritten, and the last batch clears the pending
change. Until then no other class change is taken."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from pydantic import ValidationError

from core.domain.annotations import AnnotationValue, rename_label
from core.domain.errors import Conflict, InvalidInput
from core.domain.items import Item
from core.domain.labels import LabelClass
from core.domain.progress import Delta
from core.domain.projects import (
    Project,
    ProjectPatch,
    ProjectStatus,
    apply_patch,
    still_relabeling,
)
from core.domain.relabel import (
    LABEL_CLASSES,
    ExistingLabels,
    PendingRewrite,
    RewriteLabels,
    labeled_before,
)
from core.domain.relations import renamed_ends
from core.domain.reviews import rejected
from core.ports import Deps, Document
from core.services.projects import (
    change_project,
    for_owner,
    get_project,
    load_project,
    save_project,
)
from core.services.worklog import audited, changed, count, item_target
from core.store.collections import load
from core.store.repositories.items import Items
from core.store.repositories.projects import Projects
from core.store.update import update
from core.store.versioned import Versioned

BATCH = 500
UNSENT_GRACE = timedelta(seconds=30)
"""A pending rewrite whose first message is not marked sent after this long lost its writer."""


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
    pending = current.value.relabeling
    have = {label.name for label in current.value.label_classes}
    if pending is not None and pending.existing is existing and {c.name for c in classes} <= have:
        return _sent(deps, current)  # the same request again (a retry after a lost answer)
    patch = ProjectPatch(label_classes=[*current.value.label_classes, *classes])
    updated = apply_patch(current.value, patch, now=deps.clock.now())
    if existing is ExistingLabels.KEEP:
        return save_project(deps, current, updated, actor, "project.label_classes_added")
    rewrite = _pending(updated, actor, deps.clock.now(), existing=existing)
    saved = save_project(deps, current, rewrite, actor, "project.label_classes_added")
    return _sent(deps, saved)


def rename_label_class(
    deps: Deps, *, project_id: str, actor: str, old: str, new: str, if_match: str | None = None
) -> Versioned[Project]:
    current = _paused_for_owner(deps, project_id, actor, if_match)
    pending = current.value.relabeling
    if pending is not None and (pending.old, pending.new) == (old, new):
        return _sent(deps, current)  # the same request again (a retry after a lost answer)
    names = [label.name for label in current.value.label_classes]
    if old not in names:
        raise InvalidInput.one("from", f"{old!r} is not a label class of this project")
    if new == old:
        raise InvalidInput.one("to", "is the class's name already")
    try:  # model_copy below does not validate: check the name as a new class's would be
        LabelClass(name=new)
    except ValidationError as error:
        rule = str(error.errors()[0]["msg"]).removeprefix("Value error, ")
        raise InvalidInput.one("to", rule) from None
    renamed = [
        label.model_copy(update={"name": new}) if label.name == old else label
        for label in current.value.label_classes
    ]
    relations = renamed_ends(current.value.relation_classes, old, new)
    fields = current.value.model_dump() | {
        "label_classes": renamed,
        "relation_classes": relations,
        "updated_at": deps.clock.now(),
    }
    updated = Project.model_validate(fields)  # checks the new name like any other
    if pending is not None:
        raise still_relabeling(pending)
    rewrite = _pending(updated, actor, deps.clock.now(), old=old, new=new)
    saved = save_project(deps, current, rewrite, actor, "project.label_class_renamed")
    return _sent(deps, saved)


def _pending(
    project: Project,
    actor: str,
    now: datetime,
    *,
    existing: ExistingLabels | None = None,
    old: str | None = None,
    new: str | None = None,
) -> Project:
    key = f"{project.id}\n{now.isoformat()}\n{existing}\n{old}\n{new}"
    job = hashlib.sha256(key.encode()).hexdigest()[:24]
    pending = PendingRewrite(job=job, actor=actor, before=now, existing=existing, old=old, new=new)
    return project.model_copy(update={"relabeling": pending})


def _sent(deps: Deps, current: Versioned[Project]) -> Versioned[Project]:
    """Send the pending rewrite's first message and mark it sent; returns the project."""
    pending = current.value.relabeling
    if pending is None or pending.sent:
        return current
    _start(deps, pending.message(current.value.id))
    return _update_pending(deps, current, pending.job, sent=True)


def _update_pending(
    deps: Deps, current: Versioned[Project], job: str, *, sent: bool = False, done: bool = False
) -> Versioned[Project]:
    """Mark the project's pending rewrite `job` sent, or clear it when `done`."""
    pending = current.value.relabeling
    if pending is None or pending.job != job:
        return current

    def mark(project: Project) -> Project | None:
        now_pending = project.relabeling
        if now_pending is None or now_pending.job != job:
            return None
        after = None if done else now_pending.model_copy(update={"sent": sent})
        return project.model_copy(update={"relabeling": after})

    action = "project.label_classes_applied" if done else "project.label_classes_sent"
    return change_project(deps, current, mark, actor=pending.actor, action=action)


def send_pending_rewrites(deps: Deps, *, now: datetime | None = None) -> int:
    """The sweep (a timer): start the rewrites whose writer died before sending their first
    message; returns how many it started."""
    now = now or deps.clock.now()
    started = 0
    for document in list(Projects(deps).relabeling_unsent()):
        project = load_project(document)
        pending = project.relabeling
        if pending is not None and now - pending.before >= UNSENT_GRACE:
            _sent(deps, Versioned(project, document.etag))
            started += 1
    return started


def rewrite_labels(deps: Deps, *, message: RewriteLabels) -> int:
    """One batch of the stage; enqueues the next batch, or ends the pending change. Idempotent:
    a renamed item has no old label left, a start-over skips items answered after the change,
    and a message of a change already applied does nothing."""
    project = get_project(deps, project_id=message.project_id)
    pending = project.value.relabeling
    if message.job is not None and (pending is None or pending.job != message.job):
        return 0  # applied already (a repeated delivery), or superseded
    page = Items(deps, project.value.id).page(BATCH, message.continuation)
    delta = Delta()
    rewritten = 0
    for document in page.documents:
        change = _rewrite(deps, project.value, document, message)
        if change is not None:
            delta += change
            rewritten += 1
    count(deps, project.value.id, message.actor, delta)
    if page.continuation:
        follow = message.model_copy(
            update={"continuation": page.continuation, "batch": message.batch + 1}
        )
        _start(deps, follow)
    elif message.job is not None:
        _update_pending(deps, project, message.job, done=True)
    return rewritten


def _rewrite(
    deps: Deps, project: Project, document: Document, message: RewriteLabels
) -> Delta | None:
    """Rewrite one item; one changed meanwhile is read again and judged anew (a labeler who
    answered after the change keeps the answer, a rename still renames)."""
    action = "labels.renamed" if message.old else f"labels.{message.existing}"
    target = item_target(deps, project.id, document.id, gone_ok=True)
    done = update(
        target,
        lambda item: _rewritten(item, message, deps.clock.now()),
        current=Versioned(load(Item, document), document.etag),
    )
    if done is None or not done.written:
        return None  # removed meanwhile, or nothing to rewrite
    return changed(done.before, audited(deps, done, actor=message.actor, action=action))


def _rewritten(item: Item, message: RewriteLabels, now: datetime) -> Item | None:
    if message.old is not None and message.new is not None:
        renamed = _renamed(item, message.old, message.new)
        return None if renamed is None else renamed.model_copy(update={"updated_at": now})
    if not labeled_before(item, message.before):
        return None
    reason = "label classes changed: start over"
    reset = rejected(item, actor=message.actor, reason=reason, now=now)
    if message.existing is ExistingLabels.KEEP_AS_DEFAULTS and item.final is not None:
        return reset.model_copy(update={"prefill": item.final})
    return reset


def _renamed(item: Item, old: str, new: str) -> Item | None:
    def follow(value: AnnotationValue | None) -> AnnotationValue | None:
        return None if value is None else rename_label(value, old, new)

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
    job = message.job or f"{message.project_id}-{message.before.timestamp():.6f}"
    deps.queue.send(LABEL_CLASSES, message.to_doc(), message_id=f"{job}-{message.batch}")
