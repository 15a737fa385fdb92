"""Answering tasks: submit (one item or a page), skip, and correcting one's last submission.

An answer is validated against the task type and the project's current label classes, needs
the caller's lease, and is decided by consensus (`core.domain.consensus`) once enough labelers
answered. Every change writes an audit event and the actor's progress counters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.domain.annotation_json import from_json
from core.domain.annotations import AnnotationValue, validate_annotation
from core.domain.consensus import Verdict, agreement, decide
from core.domain.errors import Conflict, InvalidAnnotation, PreconditionFailed, Violation
from core.domain.items import Annotation, Item, ItemState, Skip
from core.domain.labels import label_names
from core.domain.progress import ActorStats, Delta
from core.domain.projects import Project, Role
from core.domain.task_types import TaskType
from core.domain.tasks import check_lease
from core.ports import Deps
from core.services.collections import STATS, load
from core.services.versioned import Versioned
from core.services.worklog import (
    RETRIES,
    changed,
    count,
    labeling_project,
    member_project,
    read_item,
    save_item,
)


@dataclass(frozen=True)
class Answer:
    item_id: str
    value: dict[str, Any]


def submit_annotation(
    deps: Deps, *, project_id: str, actor: str, item_id: str, value: dict[str, Any]
) -> Item:
    return submit_annotations(
        deps, project_id=project_id, actor=actor, answers=[Answer(item_id, value)]
    )[0]


def submit_annotations(
    deps: Deps, *, project_id: str, actor: str, answers: list[Answer]
) -> list[Item]:
    """Answer leased items (a page of a grid at once). Every value is checked before any is
    written; an item whose lease was lost is refused, the others are kept."""
    project = labeling_project(deps, project_id, actor)
    delta = Delta()
    results = []
    for answer in answers:
        saved, before = _answer(deps, project, actor, answer)
        delta += changed(before, saved, submitted=1, last_item=saved.id)
        delta += _suggestion_outcome(project.task_type, before, answer_of(saved, actor))
        results.append(saved)
    count(deps, project.id, actor, delta)
    return results


def skip_item(
    deps: Deps, *, project_id: str, actor: str, item_id: str, reason: str | None = None
) -> Item:
    """Set an item aside (unclear, broken, out of scope): a reviewer accepts or re-queues it."""
    project = labeling_project(deps, project_id, actor)
    for _ in range(RETRIES):
        current = read_item(deps, project.id, item_id)
        check_lease(current.value, actor)
        now = deps.clock.now()
        after = current.value.model_copy(
            update={
                "state": ItemState.SKIPPED,
                "skips": [*current.value.skips, Skip(user=actor, at=now, reason=reason)],
                "lease": None,
                "updated_at": now,
            }
        )
        try:
            saved = save_item(deps, current, after, actor=actor, action="item.skipped")
        except PreconditionFailed:
            continue
        count(deps, project.id, actor, changed(current.value, saved.value, skipped=1))
        return saved.value
    raise Conflict(f"item {item_id!r} keeps changing; try again")


def correct_annotation(
    deps: Deps, *, project_id: str, actor: str, item_id: str, value: dict[str, Any]
) -> Item:
    """Replace the caller's answer on their last submitted item, while it is not reviewed."""
    project = labeling_project(deps, project_id, actor)
    if last_submission(deps, project_id=project_id, actor=actor) != item_id:
        raise Conflict(
            f"item {item_id!r} is not your last submission: only that one can be corrected"
        )
    for _ in range(RETRIES):
        current = read_item(deps, project.id, item_id)
        item = current.value
        if item.review is not None:
            raise Conflict(f"item {item_id!r} was reviewed already; ask a reviewer to change it")
        mine = [a for a in item.annotations if a.user == actor]
        if not mine:
            raise Conflict(f"you have no answer on item {item_id!r} (it was reset or rejected)")
        normalized = validated(project, item, value)
        now = deps.clock.now()
        annotations = [
            Annotation(user=actor, at=now, value=normalized.to_json()) if a.user == actor else a
            for a in item.annotations
        ]
        after = decided(project, item, annotations, now)
        try:
            saved = save_item(deps, current, after, actor=actor, action="annotation.corrected")
        except PreconditionFailed:
            continue
        count(deps, project.id, actor, changed(item, saved.value, corrected=1))
        return saved.value
    raise Conflict(f"item {item_id!r} keeps changing; try again")


def last_submission(deps: Deps, *, project_id: str, actor: str) -> str | None:
    """The id of the item the caller answered last (what "undo" corrects), if any."""
    member_project(deps, project_id, actor, Role.LABELER, Role.REVIEWER)
    found = deps.documents.container(STATS).get(project_id, actor)
    return load(ActorStats, found).last_item if found else None


def decided(project: Project, item: Item, annotations: list[Annotation], now: Any) -> Item:
    """`item` with `annotations`, its state and final value decided by consensus."""
    task_type = project.task_type
    values = [from_json(task_type, a.value) for a in annotations]
    decision = decide(
        task_type,
        values,
        min_labelers=project.consensus.min_labelers,
        max_labelers=project.consensus.max_labelers,
    )
    flags = decision.agreed or (None,) * len(annotations)
    state = {
        Verdict.PENDING: ItemState.UNLABELED,
        Verdict.AGREED: ItemState.LABELED,
        Verdict.DISAGREED: ItemState.NEEDS_REVIEW,
    }[decision.verdict]
    return item.model_copy(
        update={
            "annotations": [
                a.model_copy(update={"agreed": flag})
                for a, flag in zip(annotations, flags, strict=True)
            ],
            "state": state,
            "final": decision.final.to_json() if decision.final is not None else None,
            "lease": None,
            "updated_at": now,
        }
    )


def _answer(deps: Deps, project: Project, actor: str, answer: Answer) -> tuple[Item, Item]:
    for _ in range(RETRIES):
        current = read_item(deps, project.id, answer.item_id)
        item = current.value
        check_lease(item, actor)
        normalized = validated(project, item, answer.value)
        now = deps.clock.now()
        mine = Annotation(user=actor, at=now, value=normalized.to_json())
        after = decided(project, item, [*item.annotations, mine], now)
        try:
            saved: Versioned[Item] = save_item(
                deps, current, after, actor=actor, action="annotation.submitted"
            )
        except PreconditionFailed:
            continue
        return saved.value, item
    raise Conflict(f"item {answer.item_id!r} keeps changing; try again")


def answer_of(item: Item, actor: str) -> dict[str, Any] | None:
    return next((a.value for a in item.annotations if a.user == actor), None)


def _suggestion_outcome(task_type: TaskType, before: Item, answer: dict[str, Any] | None) -> Delta:
    """A labeler answering an ML pre-label is a fresh, unbiased sample of its precision:
    counted as confirmed when the answer agrees with it as consensus would judge two labelers."""
    prediction = before.prediction
    if prediction is None or prediction.run is None or answer is None:
        return Delta()
    values = [from_json(task_type, prediction.value), from_json(task_type, answer)]
    return Delta(suggested=1, confirmed=int(agreement(task_type, values).final is not None))


def validated(project: Project, item: Item, value: dict[str, Any]) -> AnnotationValue:
    text_length = None
    if project.task_type is TaskType.TEXT_NER:
        text_length = item.chars if item.chars is not None else len(item.text or "")
    try:
        return validate_annotation(
            project.task_type,
            value,
            label_names=label_names(project.label_classes),
            text_length=text_length,
        )
    except InvalidAnnotation as error:
        raise InvalidAnnotation(
            [Violation(_join("value", v.field), v.rule) for v in error.violations]
        ) from None


def _join(prefix: str, field: str) -> str:
    return f"{prefix}.{field}" if field else prefix
