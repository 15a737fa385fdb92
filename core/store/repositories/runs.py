"""A project's runs (ML assist's cycle steps), beside the index their list needs."""

from __future__ import annotations

from core.domain.runs import Run
from core.ports import ContainerSpec, Order, Query
from core.store.documents import load
from core.store.repositories import ProjectScoped

RUNS = ContainerSpec("runs", partition_key="projectId", indexes=(("createdAt",),))


class Runs(ProjectScoped):
    SPEC = RUNS

    def save(self, run: Run) -> None:
        """Write `run` whole (its id is fixed by cycle and kind: a repeat rewrites it)."""
        self.container.upsert(run.to_doc())

    def newest(self, count: int) -> list[Run]:
        """The `count` most recent runs, newest first."""
        query = Query(order_by=(Order("createdAt", descending=True),), page_size=count)
        page = self.container.query(self.project_id, query)
        return [load(Run, document) for document in page.documents]
