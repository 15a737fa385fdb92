"""ML assist's state under concurrent writers: two requests for a cycle at once start one, and a
cycle finishing keeps what was asked meanwhile (each write goes over the version it read)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from core.adapters.clock import ManualClock
from core.domain.assist import STALE_REQUEST
from core.domain.errors import Conflict
from core.domain.messages import ASSIST_TRAIN, RunAssist
from core.ports import Deps, DocumentContainer, JsonDoc
from core.services.assist import read_state, request_training
from core.services.assist_cycle import run_assist
from core.store.collections import ASSIST
from tests.support.faults import FaultyDocuments
from tests.support.labeling import running_project


def queued(deps: Deps) -> list[str]:
    return [
        RunAssist.model_validate(m.body).cycle
        for m in deps.queue.receive(ASSIST_TRAIN, max_messages=10)
    ]


def interfering(deps: Deps, before_write: Callable[[DocumentContainer, JsonDoc], None]) -> Deps:
    """`deps` whose writes to the ML-assist state first let `before_write` in."""
    faulty = FaultyDocuments(deps.documents, ASSIST.name, before_write=before_write)
    return dataclasses.replace(deps, documents=faulty)


def test_two_requests_at_once_start_one_cycle(deps: Deps) -> None:
    project = running_project(deps)
    other: list[str] = []

    def another_request_first(container: DocumentContainer, body: JsonDoc) -> None:
        if body.get("pending") and not other:
            other.append(request_training(deps, project_id=project.id, actor="olive"))

    with pytest.raises(Conflict, match="already queued or running"):
        request_training(
            interfering(deps, another_request_first), project_id=project.id, actor="olive"
        )
    assert queued(deps) == other and read_state(deps, project.id).pending == other[0]


def test_a_cycle_finishing_keeps_a_request_made_meanwhile(deps: Deps) -> None:
    project = running_project(deps)
    first = request_training(deps, project_id=project.id, actor="olive")
    assert isinstance(deps.clock, ManualClock)
    deps.clock.advance(STALE_REQUEST.total_seconds())  # it ran long: asking again is allowed
    later: list[str] = []

    def asked_meanwhile(container: DocumentContainer, body: JsonDoc) -> None:
        if body.get("lastCycle") == first and not later:
            later.append(request_training(deps, project_id=project.id, actor="olive"))

    message = RunAssist(project_id=project.id, cycle=first)
    run_assist(interfering(deps, asked_meanwhile), message=message)
    state = read_state(deps, project.id)
    assert state.last_cycle == first and state.pending == later[0]
    assert queued(deps) == [first, *later]
