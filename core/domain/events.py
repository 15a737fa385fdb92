"""The audit trail: who changed what, when, from what to what."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from core.domain.model import DomainModel, Stamp, stamp_text


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


def audit_documents(
    *,
    tokens: Sequence[str],
    project_id: str,
    at: datetime,
    actor: str,
    action: str,
    changes: Sequence[tuple[str, Any, Any]],
) -> list[dict[str, Any]]:
    """The stored documents of the events of one bulk change, each `(subject, before, after)`
    of `changes` with its own token and a microsecond after the one before it from `at` (ids
    are their time and a token, so a thousand written at once must not share one), as
    `audit_event(...).to_doc()` writes them. Built directly: the time is formatted once for
    them all, not per event (`before` and `after` are JSON already, as documents hold them)."""
    pairs = list(zip(tokens, changes, strict=True))
    utc = at.astimezone(UTC)
    if at.microsecond + len(pairs) > 1_000_000 or utc.microsecond != at.microsecond:
        # The microseconds carry into the next second (or an offset of fractional seconds):
        # each time formatted on its own.
        return [
            audit_event(
                token=token,
                project_id=project_id,
                at=at + timedelta(microseconds=n),
                actor=actor,
                action=action,
                subject=subject,
                before=before,
                after=after,
            ).to_doc()
            for n, (token, (subject, before, after)) in enumerate(pairs)
        ]
    named = at.strftime("%Y%m%dT%H%M%S")  # the id's time, in the zone of `at`, as audit_event's
    stamped = stamp_text(utc)[:-7]  # the stored time without its microseconds and "Z"
    documents: list[dict[str, Any]] = []
    for n, (token, (subject, before, after)) in enumerate(pairs):
        micro = f"{at.microsecond + n:06d}"
        document = {
            "id": f"{named}{micro}-{token}",
            "projectId": project_id,
            "at": f"{stamped}{micro}Z",
            "actor": actor,
            "action": action,
            "subject": subject,
        }
        if before is not None:
            document["before"] = before
        if after is not None:
            document["after"] = after
        documents.append(document)
    return documents
