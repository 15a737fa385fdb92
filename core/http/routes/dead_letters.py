"""Dead letters over HTTP: an owner lists their project's failed messages and re-drives one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, status
from pydantic import Field

from core.domain.model import DomainModel
from core.http.context import AppDeps, SignedIn
from core.ports import DeadLetter
from core.services import dead_letters

router = APIRouter(prefix="/projects/{project_id}", tags=["dead letters"])


class DeadLetterOut(DomainModel):
    queue: str
    message_id: str
    reason: str = Field(description="Why it was dead-lettered (the last error's type)")
    description: str = Field(description="The last error's message")
    delivery_count: int
    dead_lettered_at: datetime | None = None
    body: dict[str, Any]


class DeadLetterList(DomainModel):
    dead_letters: list[DeadLetterOut]


class Redriven(DomainModel):
    queue: str
    message_id: str = Field(description="The id of the message sent back to the queue")


def _out(dead: DeadLetter) -> DeadLetterOut:
    return DeadLetterOut(
        queue=dead.queue,
        message_id=dead.message_id,
        reason=dead.reason,
        description=dead.description,
        delivery_count=dead.delivery_count,
        dead_lettered_at=dead.dead_lettered_at,
        body=dead.body,
    )


@router.get("/dead-letters", response_model_exclude_none=True)
def list_dead_letters(project_id: str, deps: AppDeps, user: SignedIn) -> DeadLetterList:
    """Messages of this project that kept failing, with their reasons (owners only)."""
    found = dead_letters.list_dead_letters(deps, project_id=project_id, actor=user.id)
    return DeadLetterList(dead_letters=[_out(dead) for dead in found])


@router.post("/dead-letters/{queue}/{message_id}/redrive", status_code=status.HTTP_202_ACCEPTED)
def redrive(
    project_id: str, queue: str, message_id: str, deps: AppDeps, user: SignedIn
) -> Redriven:
    """Send a dead letter back to its queue, once its cause is fixed (owners only)."""
    new_id = dead_letters.redrive_dead_letter(
        deps, project_id=project_id, actor=user.id, queue=queue, message_id=message_id
    )
    return Redriven(queue=queue, message_id=new_id)
