"""A project's export jobs, beside the index their list needs."""

from __future__ import annotations

from core.ports import ContainerSpec, Deps, Document, Order, Query

EXPORTS = ContainerSpec("exports", partition_key="projectId", indexes=(("createdAt",),))


class Exports:
    def __init__(self, deps: Deps, project_id: str) -> None:
        self.container = deps.documents.container(EXPORTS)
        self.project_id = project_id

    def newest(self, count: int) -> list[Document]:
        """The `count` most recent jobs, newest first."""
        query = Query(order_by=(Order("createdAt", descending=True),), page_size=count)
        return self.container.query(self.project_id, query).documents
