"""Publishing outbound events (`core.domain.outbound`). Best effort: the change they announce
is committed already, so a failure to publish is logged, never raised to the user."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from core.domain.outbound import outbound_event
from core.ports import Deps

log = logging.getLogger("loupe.events")


def publish(deps: Deps, *, type: str, project_id: str, subject: str, data: dict[str, Any]) -> None:
    at: datetime = deps.clock.now()
    event = outbound_event(type=type, project_id=project_id, subject=subject, at=at, data=data)
    try:
        deps.events.publish(event.to_doc(), event_id=event.id, subject=event.type)
    except Exception:
        log.exception("could not publish %s for project %s", event.type, project_id)
