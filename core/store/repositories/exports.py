"""A project's export jobs, beside the index their list needs."""

from __future__ import annotations

from core.ports import ContainerSpec, Document, Order, Query
from core.store.repositories import ProjectScoped

EXPORTS = ContainerSpec("exports", partition_key="projectId", indexes=(("createdAt",),))


class Exports(ProjectScoped):
    SPEC = EXPORTS

    def newest(self, count: int) -> list[Document]:
        """The `count` most recent jobs, newest first."""
        query = Query(order_by=(Order("createdAt", descending=True),), page_size=count)
        return self.container.query(self.project_id, query).documents
