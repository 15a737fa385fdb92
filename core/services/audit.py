"""Writing the audit trail."""

from __future__ import annotations

from typing import Any

from core.domain.events import audit_documents, audit_event
from core.ports import Deps
from core.store.collections import EVENTS


def record(
    deps: Deps,
    *,
    project_id: str,
    actor: str,
    action: str,
    subject: str,
    before: Any = None,
    after: Any = None,
) -> None:
    event = audit_event(
        token=deps.ids.token(8),
        project_id=project_id,
        at=deps.clock.now(),
        actor=actor,
        action=action,
        subject=subject,
        before=before,
        after=after,
    )
    deps.documents.container(EVENTS).create(event.to_doc())


def record_json(
    deps: Deps, *, project_id: str, actor: str, action: str, subject: str, before: Any, after: Any
) -> None:
    """`record` for `before` and `after` that are JSON already (parts of stored documents): the
    event's document built directly (`audit_documents`, the same document), not through the
    model and its dump, which walks them again (a submit's pair of item summaries)."""
    (document,) = audit_documents(
        tokens=[deps.ids.token(8)],
        project_id=project_id,
        at=deps.clock.now(),
        actor=actor,
        action=action,
        changes=[(subject, before, after)],
    )
    deps.documents.container(EVENTS).create(document)
