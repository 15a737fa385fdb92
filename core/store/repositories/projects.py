"""Projects, by the queries the sweeps and lists make, beside the indexes those queries need:
the one place that spells a project document's field names."""

from __future__ import annotations

from collections.abc import Iterator

from core.domain.projects import ProjectStatus
from core.ports import ContainerSpec, Deps, Document, Order, Query, Where
from core.store.documents import scan

PROJECTS = ContainerSpec(
    "projects", partition_key="id", indexes=(("createdAt",), ("dataset.container",))
)

_LIVE = Where("deletedAt", "missing")
_WORKING = Where("status", "in", [ProjectStatus.RUNNING.value, ProjectStatus.PAUSED.value])
"""Running or paused: registered, and not deleted."""


class Projects:
    def __init__(self, deps: Deps) -> None:
        self.container = deps.documents.container(PROJECTS)

    def live(self, *, newest_first: bool = False) -> Iterator[Document]:
        """Every project not deleted (the newest first, if asked: a list shows them so)."""
        order = (Order("createdAt", descending=True),) if newest_first else ()
        return self._scan(_LIVE, order=order, page_size=200 if newest_first else 100)

    def started(self) -> Iterator[Document]:
        """Live projects past initialization (those that may hold labels)."""
        return self._scan(_LIVE, Where("status", "!=", ProjectStatus.INITIALIZING.value))

    def working(self) -> Iterator[Document]:
        """Running or paused projects."""
        return self._scan(_WORKING, _LIVE)

    def refreshing_from(self, container: str) -> Iterator[Document]:
        """Working projects that refresh from the blob `container` (one indexed query)."""
        return self._scan(
            Where("dataset.container", "=", container),
            Where("incrementalRefresh", "=", True),
            _WORKING,
            _LIVE,
        )

    def relabeling_unsent(self) -> Iterator[Document]:
        """Live projects whose label-class rewrite has not sent its first message."""
        return self._scan(Where("relabeling.sent", "=", False), _LIVE, page_size=100)

    def assisted(self) -> Iterator[Document]:
        """Live projects with ML assist on."""
        return self._scan(Where("assist.enabled", "=", True), _LIVE)

    def _scan(
        self, *where: Where, order: tuple[Order, ...] = (), page_size: int = 100
    ) -> Iterator[Document]:
        query = Query(where=where, order_by=order, page_size=page_size)
        return scan(self.container, None, query)
