"""A project's initialization records (the plan, one result per batch) and its refresh
watermark, beside the index the batch results' queries need."""

from __future__ import annotations

from core.domain.ingest import PLAN, REFRESH, BatchResult, IngestPlan, RefreshState
from core.domain.model import DomainModel
from core.ports import ContainerSpec, Query, Where
from core.store.documents import load, scan
from core.store.repositories import ProjectScoped

INGEST = ContainerSpec("ingest", partition_key="projectId", indexes=(("run",),))


class Ingest(ProjectScoped):
    SPEC = INGEST

    def save(self, record: DomainModel) -> None:
        self.container.upsert(record.to_doc())

    def plan(self) -> IngestPlan | None:
        found = self.container.get(self.project_id, PLAN)
        return load(IngestPlan, found) if found is not None else None

    def refresh_state(self) -> RefreshState | None:
        found = self.container.get(self.project_id, REFRESH)
        return load(RefreshState, found) if found is not None else None

    def results(self, run: str) -> list[BatchResult]:
        """The results of `run`'s batches recorded so far."""
        query = Query(where=self._results_of(run), page_size=1000)
        return [load(BatchResult, d) for d in scan(self.container, self.project_id, query)]

    def results_count(self, run: str) -> int:
        return self.container.count(self.project_id, self._results_of(run))

    @staticmethod
    def _results_of(run: str) -> tuple[Where, ...]:
        return (Where("run", "=", run), Where("id", "startswith", "batch-"))
