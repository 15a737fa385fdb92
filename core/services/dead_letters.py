"""Dead letters an owner can see and re-drive: the messages of their projects that kept
failing, with the reason the last attempt gave.

A message names its project in its body (`projectId`), so a project's dead letters are those
of every stage queue whose body names it; an owner sees only their project's, and re-drives one
after the cause is fixed (a re-driven message starts again with a fresh delivery count)."""

from __future__ import annotations

from dataclasses import replace

from core.domain.errors import NotFound
from core.domain.messages import StageFailure
from core.domain.projects import Role
from core.ports import EXHAUSTED, DeadLetter, Deps
from core.services import audit
from core.services.stages import QUEUE_SPECS
from core.services.worklog import member_project
from core.store.collections import FAILURES, load

GENERIC_REASON = EXHAUSTED
"""What Service Bus says when the Functions host gives up on a message (not why it failed)."""

MAX_PER_QUEUE = 500
"""Dead letters read per queue: enough to find a project's among everyone's."""


def list_dead_letters(deps: Deps, *, project_id: str, actor: str) -> list[DeadLetter]:
    """The project's dead letters on every stage queue, oldest first within a queue."""
    member_project(deps, project_id, actor, Role.OWNER)
    return [
        _with_cause(deps, dead)
        for queue in QUEUE_SPECS
        for dead in deps.queue.dead_letters(queue, max_messages=MAX_PER_QUEUE)
        if _project_of(dead) == project_id
    ]


def record_final_failure(deps: Deps, *, queue: str, message_id: str, error: Exception) -> None:
    """Keep the error of a message's last allowed delivery, which the Functions host is about
    to dead-letter with a generic reason."""
    failure = StageFailure(
        id=message_id,
        queue=queue,
        reason=type(error).__name__,
        description=str(error)[:4000],
        at=deps.clock.now(),
    )
    deps.documents.container(FAILURES).upsert(failure.to_doc())


def _with_cause(deps: Deps, dead: DeadLetter) -> DeadLetter:
    if dead.reason != GENERIC_REASON:
        return dead
    found = deps.documents.container(FAILURES).get(dead.queue, dead.message_id)
    if found is None:
        return dead
    failure = load(StageFailure, found)
    return replace(dead, reason=failure.reason, description=failure.description)


def redrive_dead_letter(
    deps: Deps, *, project_id: str, actor: str, queue: str, message_id: str
) -> str:
    """Send the dead letter back to its queue; returns the new message's id."""
    member_project(deps, project_id, actor, Role.OWNER)
    missing = NotFound(
        f"no dead letter {message_id!r} of this project on queue {queue!r}: list them at "
        f"/api/projects/{project_id}/dead-letters"
    )
    if queue not in QUEUE_SPECS:
        raise missing
    dead = deps.queue.dead_letters(queue, max_messages=MAX_PER_QUEUE)
    # Another project's message is "not found" too: its existence is not ours to confirm.
    if not any(d.message_id == message_id and _project_of(d) == project_id for d in dead):
        raise missing
    new_id = deps.queue.redrive(queue, message_id)
    audit.record(
        deps,
        project_id=project_id,
        actor=actor,
        action="dead-letter.redriven",
        subject=message_id,
        after={"queue": queue, "messageId": new_id},
    )
    return new_id


def _project_of(dead: DeadLetter) -> str | None:
    found = dead.body.get("projectId")
    return found if isinstance(found, str) else None
