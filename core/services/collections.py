"""The document containers Loupe keeps, with their partition keys and the fields its queries
filter and order by (SQLite indexes them; on Azure, `infra/bicep` declares the same)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

from core.domain.model import DomainModel
from core.ports import ContainerSpec, Document, DocumentContainer, Query

PROJECTS = ContainerSpec(
    "projects", partition_key="id", indexes=(("createdAt",), ("dataset.container",))
)
PROJECT_NAMES = ContainerSpec("projectNames", partition_key="id")
ITEMS = ContainerSpec(
    "items",
    partition_key="projectId",
    indexes=(
        ("state", "rank"),
        ("path",),
        ("updatedAt",),
        # Labeling: the task queue, review lists (newest first), the lease sweep, assignments,
        # the newest item (the dashboard's last refresh).
        ("lane", "rank"),
        ("state", "updatedAt"),
        ("lease.until",),
        ("assignee", "rank"),
        ("createdAt",),
    ),
)
RUNS = ContainerSpec("runs", partition_key="projectId", indexes=(("createdAt",),))
ASSIST = ContainerSpec("assist", partition_key="projectId")
FAILURES = ContainerSpec("failures", partition_key="queue")
"""The error of each message's last failed delivery on Azure (`StageFailure`)."""
"""ML assist's state per project (`core.domain.assist.AssistState`)."""
EVENTS = ContainerSpec("events", partition_key="projectId", indexes=(("at",),))
EXPORTS = ContainerSpec("exports", partition_key="projectId", indexes=(("createdAt",),))
IMPORTS = ContainerSpec("imports", partition_key="projectId")
"""Import jobs (`core.domain.imports.ImportJob`): a re-sent file is recognised by its id."""
INGEST = ContainerSpec("ingest", partition_key="projectId", indexes=(("run",),))
"""Initialization progress (a plan and one result per batch) and the refresh watermark."""
USERS = ContainerSpec("users", partition_key="id")
TOKENS = ContainerSpec("tokens", partition_key="id", indexes=(("user",),))
PRINCIPALS = ContainerSpec("principals", partition_key="id")
"""Who signed in through the Static Web App, by stable principal id → their user
(`core.domain.users.PrincipalLink`)."""
STATS = ContainerSpec("stats", partition_key="projectId")
"""Per-actor labeling counters of a project (`core.domain.progress`), read by the dashboard."""

ALL = (
    PROJECTS, PROJECT_NAMES, ITEMS, RUNS, ASSIST, EVENTS, EXPORTS, USERS, TOKENS, INGEST, STATS,
    FAILURES, IMPORTS, PRINCIPALS,
)  # fmt: skip

M = TypeVar("M", bound=DomainModel)


def load(model: type[M], document: Document) -> M:
    return model.model_validate(document.body)


def scan(container: DocumentContainer, pk: str | None, query: Query) -> Iterator[Document]:
    """Every match of `query`, following continuation tokens page by page."""
    continuation: str | None = None
    while True:
        page = container.query(pk, query, continuation)
        yield from page.documents
        if not (continuation := page.continuation):
            return
