"""Answering tasks: submit (one item or a page), skip, and correcting one's last submission.

An answer is validated against the task type and the project's current label classes, needs
the caller's lease, and is decided by consensus (`core.domain.consensus`) once enough labelers
answered. Every change writes an audit event and the actor's progress counters."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from core.domain.annotations import AnnotationValue, validate_annotation, without_attributes
from core.domain.consensus import Verdict, agreement, decide
from core.domain.errors import (
    Conflict,
    InvalidAnnotation,
    LoupeError,
    Violation,
)
from core.domain.items import Annotation, Item, ItemState
from core.domain.keypoints import sigmas_of
from core.domain.labels import declared_attributes, keypoint_templates, label_names
from core.domain.progress import ActorStats, Delta
from core.domain.projects import Project, Role
from core.domain.task_types import TaskType
from core.domain.tasks import check_correctable, check_lease, skipped
from core.domain.volumes import volume_frames
from core.ports import Deps, JsonDoc
from core.services.worklog import (
    audit_stored,
    change_item,
    changed,
    changed_stored,
    count,
    labeling_project,
    member_project,
    read_item,
)
from core.store.collections import ITEMS, STATS, load
from core.store.update import retried
from core.store.versioned import Versioned

SUBMITTED = "annotation.submitted"


@dataclass(frozen=True)
class Answer:
    item_id: str
    value: object
    """As submitted (JSON), checked by `validated`."""


def submit_annotation(
    deps: Deps, *, project_id: str, actor: str, item_id: str, value: object
) -> Item:
    return submit_annotations(
        deps, project_id=project_id, actor=actor, answers=[Answer(item_id, value)]
    )[0]


def submit_annotations(
    deps: Deps, *, project_id: str, actor: str, answers: list[Answer]
) -> list[Item]:
    """Answer leased items (a page of a grid at once), all or nothing: every answer is checked
    before any is written, and writes that fail part-way are undone before the error is
    answered. Sending the same page again (a response lost to a timeout or a crash) is a
    no-op for the answers already saved, so a retry completes the page."""
    project = labeling_project(deps, project_id, actor)
    _refuse_repeats(answers)
    steps = retried(  # an item changed between our read and write: read the page again
        lambda: _write_all(deps, _plan(deps, project, actor, answers)),
        conflict="the page's items keep changing; try again",
    )
    delta = Delta()
    for step, written in steps:
        if step.after is None:
            continue
        # The item before and after, dumped once each for the audit event and the counters.
        documents = (step.before.value.to_doc(), written)
        audit_stored(deps, step.after, documents, actor=actor, action=SUBMITTED)
        delta += changed_stored(documents, submitted=1, last_item=step.after.id)
        delta += _suggestion_outcome(
            project.task_type, step.before.value, answer_of(step.after, actor)
        )
    if delta.submitted:
        count(deps, project.id, actor, delta)
    return [step.after or step.before.value for step, _ in steps]


@dataclass(frozen=True)
class _Step:
    before: Versioned[Item]
    after: Item | None
    """None: the caller's answer is there already (a repeated submission)."""


def _refuse_repeats(answers: list[Answer]) -> None:
    seen: dict[str, int] = {}
    for index, answer in enumerate(answers):
        if answer.item_id in seen:
            raise InvalidAnnotation(
                [Violation(f"answers[{index}].itemId", f"repeats answers[{seen[answer.item_id]}]")]
            )
        seen[answer.item_id] = index


def _plan(deps: Deps, project: Project, actor: str, answers: list[Answer]) -> list[_Step]:
    """Every answer read and checked; raises with every broken rule, or every lost lease."""
    steps: list[_Step] = []
    violations: list[Violation] = []
    lost: list[str] = []
    for index, answer in enumerate(answers):
        current = read_item(deps, project.id, answer.item_id)
        item = current.value
        try:
            normalized = validated(project, item, answer.value)
        except InvalidAnnotation as error:
            many = len(answers) > 1  # which answer of the page broke the rule
            violations += [
                Violation(_join(f"answers[{index}]", v.field), v.rule) if many else v
                for v in error.violations
            ]
            continue
        if answer_of(item, actor) == normalized and not _leased_to(item, actor):
            steps.append(_Step(current, None))
            continue
        try:
            check_lease(item, actor)
        except Conflict as error:
            lost.append(str(error))
            continue
        now = deps.clock.now()
        mine = Annotation(user=actor, at=now, value=normalized)
        steps.append(_Step(current, decided(project, item, [*item.annotations, mine], now)))
    if violations:
        raise InvalidAnnotation(violations)
    _refuse_lost(lost, len(answers))
    return steps


def _refuse_lost(lost: list[str], answers: int) -> None:
    """Nothing is saved while any lease of the page is lost."""
    if answers == 1 and lost:
        raise Conflict(lost[0])
    if lost:
        raise Conflict(
            f"nothing was saved: {len(lost)} of the {answers} items are not yours to "
            f"answer now ({'; '.join(lost)}); submit the others again without them"
        )


def _leased_to(item: Item, actor: str) -> bool:
    return item.lease is not None and item.lease.user == actor


def _write_all(deps: Deps, steps: list[_Step]) -> list[tuple[_Step, JsonDoc]]:
    """Write every planned item, or none: on any failure the items written so far are put
    back (etag-checked, so a change made meanwhile by someone else is never overwritten).
    Each step comes back with the document written for it (empty when nothing was)."""
    items = deps.documents.container(ITEMS)
    done: list[tuple[_Step, JsonDoc]] = []
    written: list[tuple[_Step, str]] = []
    try:
        for step in steps:
            if step.after is None:
                done.append((step, {}))
                continue
            body = step.after.to_doc()
            document = items.upsert(body, if_match=step.before.etag)
            written.append((step, document.etag))
            done.append((step, body))
    except BaseException:
        for step, etag in reversed(written):
            with suppress(LoupeError):
                items.upsert(step.before.value.to_doc(), if_match=etag)
        raise
    return done


def skip_item(
    deps: Deps, *, project_id: str, actor: str, item_id: str, reason: str | None = None
) -> Item:
    """Set an item aside (unclear, broken, out of scope): a reviewer accepts or re-queues it."""
    project = labeling_project(deps, project_id, actor)

    def skip(item: Item) -> Item:
        check_lease(item, actor)
        return skipped(item, actor, deps.clock.now(), reason)

    done = change_item(deps, project.id, item_id, skip, actor=actor, action="item.skipped")
    count(deps, project.id, actor, changed(done.before, done.after.value, skipped=1))
    return done.after.value


def correct_annotation(
    deps: Deps, *, project_id: str, actor: str, item_id: str, value: object
) -> Item:
    """Replace the caller's answer on their last submitted item, while it is not reviewed."""
    project = labeling_project(deps, project_id, actor)
    if last_submission(deps, project_id=project_id, actor=actor) != item_id:
        raise Conflict(
            f"item {item_id!r} is not your last submission: only that one can be corrected"
        )

    def correct(item: Item) -> Item:
        check_correctable(item, actor)
        now = deps.clock.now()
        mine = Annotation(user=actor, at=now, value=validated(project, item, value))
        annotations = [mine if a.user == actor else a for a in item.annotations]
        return decided(project, item, annotations, now)

    action = "annotation.corrected"
    done = change_item(deps, project.id, item_id, correct, actor=actor, action=action)
    count(deps, project.id, actor, changed(done.before, done.after.value, corrected=1))
    return done.after.value


def last_submission(deps: Deps, *, project_id: str, actor: str) -> str | None:
    """The id of the item the caller answered last (what "undo" corrects), if any."""
    member_project(deps, project_id, actor, Role.LABELER, Role.REVIEWER)
    found = deps.documents.container(STATS).get(project_id, actor)
    return load(ActorStats, found).last_item if found else None


def decided(project: Project, item: Item, annotations: list[Annotation], now: Any) -> Item:
    """`item` with `annotations`, its state and final value decided by consensus."""
    decision = decide(
        project.task_type,
        [a.value for a in annotations],
        min_labelers=project.consensus.min_labelers,
        max_labelers=project.consensus.max_labelers,
        sigmas=sigmas_of(keypoint_templates(project.label_classes)),
        relation_classes=project.relation_classes,
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
            "final": decision.final,
            "lease": None,
            "updated_at": now,
        }
    )


def answer_of(item: Item, actor: str) -> AnnotationValue | None:
    return next((a.value for a in item.annotations if a.user == actor), None)


def _suggestion_outcome(task_type: TaskType, before: Item, answer: AnnotationValue | None) -> Delta:
    """A labeler answering an ML pre-label is a fresh, unbiased sample of its precision:
    counted as confirmed when the answer agrees with it as consensus would judge two labelers."""
    prediction = before.prediction
    if prediction is None or prediction.run is None or answer is None:
        return Delta()
    values = [prediction.value, without_attributes(answer)]  # pre-labels carry none
    return Delta(suggested=1, confirmed=int(agreement(task_type, values).final is not None))


def validated(project: Project, item: Item, value: object) -> AnnotationValue:
    text_length = None
    if project.task_type is TaskType.TEXT_NER:
        text_length = item.chars if item.chars is not None else len(item.text or "")
    try:
        return validate_annotation(
            project.task_type,
            value,
            label_names=label_names(project.label_classes),
            text_length=text_length,
            text=item.text,
            templates=keypoint_templates(project.label_classes),
            mask_grid=mask_grid(item) if project.task_type.is_mask else None,
            relation_classes=project.relation_classes,
            attributes=declared_attributes(project.label_classes),
            frames=volume_frames(item),
        )
    except InvalidAnnotation as error:
        raise InvalidAnnotation(
            [Violation(_join("value", v.field), v.rule) for v in error.violations]
        ) from None


def mask_grid(item: Item) -> tuple[int, int] | None:
    """The [height, width] masks are painted on: the display rendition's (`core.domain.masks`)."""
    shown = item.derivatives or item.media
    if shown is None or shown.width is None or shown.height is None:
        return None
    return (shown.height, shown.width)


def _join(prefix: str, field: str) -> str:
    return f"{prefix}.{field}" if field else prefix
