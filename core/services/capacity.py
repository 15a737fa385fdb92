"""A project's room under its item cap (`core.domain.capacity`), and the files refused for it.

Counting a large partition's items costs request units, so while a project is under half of
the deployment's cap its count is read at most every `FRESH_S` per process (moved on by what
this process adds); nearer the cap, and under a cap the owner set, it is counted every time.
Between two reads the other processes may add what arrives in `FRESH_S`, far inside the
margin the deployment's cap keeps."""

from __future__ import annotations

import time

from pydantic import Field

from core.domain.capacity import DEPLOYMENT, Capacity, item_cap
from core.domain.model import DomainModel, Stamp
from core.domain.projects import Project
from core.ports import Deps
from core.store.collections import INGEST, ITEMS, load

FRESH_S = 30.0
REFUSED = "refused"
_COUNTS: dict[str, tuple[float, int]] = {}
"""project id → (when counted, on the monotonic clock; the count then, plus what was added)."""


class RefusedState(DomainModel):
    """Files (or rows) refused for the cap after initialization, and the latest refusal."""

    id: str = REFUSED
    project_id: str
    refused: int = Field(default=0, ge=0)
    last_at: Stamp | None = None


def cap_of(deps: Deps, project: Project) -> tuple[int, str]:
    return item_cap(project.ingest.item_cap, deps.item_cap)


def room(deps: Deps, project: Project) -> int:
    """How many more items the project may take now (0 at or over its cap)."""
    cap, set_by = cap_of(deps, project)
    known = _COUNTS.get(project.id)
    cached = (
        set_by == DEPLOYMENT
        and known is not None
        and time.monotonic() - known[0] < FRESH_S
        and known[1] < cap // 2
    )
    if known is None or not cached:
        count = deps.documents.container(ITEMS).count(project.id)
        known = (time.monotonic(), count)
        _COUNTS[project.id] = known
    return max(cap - known[1], 0)


def added(project_id: str, count: int) -> None:
    if count and (known := _COUNTS.get(project_id)) is not None:
        _COUNTS[project_id] = (known[0], known[1] + count)


def refuse(deps: Deps, project: Project, count: int) -> None:
    """Record `count` files or rows turned away for the cap (a tally: last writer wins a race,
    so two at once may count one)."""
    if count <= 0:
        return
    ingest = deps.documents.container(INGEST)
    found = ingest.get(project.id, REFUSED)
    state = load(RefusedState, found) if found else RefusedState(project_id=project.id)
    updated = {"refused": state.refused + count, "last_at": deps.clock.now()}
    ingest.upsert(state.model_copy(update=updated).to_doc())


def refused(deps: Deps, project_id: str) -> int:
    found = deps.documents.container(INGEST).get(project_id, REFUSED)
    return load(RefusedState, found).refused if found else 0


def capacity(deps: Deps, project: Project, items: int) -> Capacity:
    """`items` (counted by the caller) against the project's cap."""
    cap, set_by = cap_of(deps, project)
    return Capacity(items=items, cap=cap, set_by=set_by, refused=refused(deps, project.id))
