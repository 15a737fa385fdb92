"""A project's audit trail, beside the index its history query needs."""

from __future__ import annotations

from core.ports import ContainerSpec, Order, Page, Query, Where
from core.store.repositories import ProjectScoped

EVENTS = ContainerSpec("events", partition_key="projectId", indexes=(("at",),))


class Events(ProjectScoped):
    SPEC = EVENTS

    def about(self, subject: str, page_size: int, continuation: str | None = None) -> Page:
        """A page of the events about `subject` (an item, say), oldest first."""
        query = Query(
            where=(Where("subject", "=", subject),), order_by=(Order("at"),), page_size=page_size
        )
        return self.container.query(self.project_id, query, continuation)
