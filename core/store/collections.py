"""The document containers Loupe keeps, with their partition keys and the fields its queries
filter and order by (SQLite indexes them; on Azure, `infra/bicep` declares the same). Those
that queries filter are declared beside their repositories (`core.store.repositories`)."""

from __future__ import annotations

from core.ports import ContainerSpec
from core.store.documents import load as load
from core.store.documents import scan as scan
from core.store.repositories.events import EVENTS as EVENTS
from core.store.repositories.exports import EXPORTS as EXPORTS
from core.store.repositories.ingest import INGEST as INGEST
from core.store.repositories.items import ITEMS as ITEMS
from core.store.repositories.projects import PROJECTS as PROJECTS
from core.store.repositories.runs import RUNS as RUNS
from core.store.repositories.tokens import TOKENS as TOKENS

PROJECT_NAMES = ContainerSpec("projectNames", partition_key="id")
ASSIST = ContainerSpec("assist", partition_key="projectId")
FAILURES = ContainerSpec("failures", partition_key="queue")
"""The error of each message's last failed delivery on Azure (`StageFailure`)."""
"""ML assist's state per project (`core.domain.assist.AssistState`)."""
IMPORTS = ContainerSpec("imports", partition_key="projectId")
"""Import jobs (`core.domain.imports.ImportJob`): a re-sent file is recognised by its id."""
USERS = ContainerSpec("users", partition_key="id")
PRINCIPALS = ContainerSpec("principals", partition_key="id")
"""Who signed in through the Static Web App, by stable principal id → their user
(`core.domain.users.PrincipalLink`)."""
STATS = ContainerSpec("stats", partition_key="projectId")
"""Per-actor labeling counters of a project (`core.domain.progress`), read by the dashboard."""

ALL = (
    PROJECTS, PROJECT_NAMES, ITEMS, RUNS, ASSIST, EVENTS, EXPORTS, USERS, TOKENS, INGEST, STATS,
    FAILURES, IMPORTS, PRINCIPALS,
)  # fmt: skip
