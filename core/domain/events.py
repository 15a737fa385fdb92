"""The audit trail: who changed what, when, from what to what."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.domain.model import DomainModel, Stamp


class AuditEvent(DomainModel):
    id: str
    project_id: str
    at: Stamp
    actor: str
    action: str
    """Past tense, dotted: `project.created`, `project.updated`, `annotation.submitted`."""
    subject: str
    """What it happened to: the project id or an item id."""
    before: Any = None
    after: Any = None


def audit_event(
    *,
    token: str,
    project_id: str,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    before: Any = None,
    after: Any = None,
) -> AuditEvent:
    """`token`: a fresh id (the service's to draw) telling apart events of one microsecond."""
    # Time-ordered ids make "newest first" a plain order on id as well as on `at`.
    return AuditEvent(
        id=f"{at.strftime('%Y%m%dT%H%M%S%f')}-{token}",
        project_id=project_id,
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        before=before,
        after=after,
    )
