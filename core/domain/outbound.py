"""Events Loupe publishes for integrations (a Service Bus topic on Azure, a JSONL file
locally): a project's status changed, an export finished, an ML-assist cycle finished.
Coarse on purpose: labels are read through the API or an export, not one message each."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.domain.model import DomainModel, Stamp

PROJECT_STATUS = "project.status_changed"
EXPORT_FINISHED = "export.finished"
ASSIST_CYCLE_FINISHED = "assist.cycle_finished"


class OutboundEvent(DomainModel):
    id: str
    """Fixed by what happened (not by when it was sent): a repeat is dropped by the topic."""
    type: str
    project_id: str
    at: Stamp
    data: dict[str, Any]


def outbound_event(
    *, type: str, project_id: str, subject: str, at: datetime, data: dict[str, Any]
) -> OutboundEvent:
    return OutboundEvent(
        id=f"{type}:{project_id}:{subject}", type=type, project_id=project_id, at=at, data=data
    )
