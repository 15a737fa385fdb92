"""The work-queue stages: each queue's settings and the one service that handles its messages.

Both runtimes dispatch through here: the Service Bus triggers in `functions/stages.py` and the
embedded runtime's workers, so a stage behaves the same on Azure and on a laptop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.domain.messages import PROJECT_INIT, InitializeProject
from core.ports import Deps, QueueSpec
from core.services.ingestion import initialize_project


@dataclass(frozen=True)
class Stage:
    spec: QueueSpec
    handle: Callable[[Deps, dict[str, Any]], None]


def _initialize(deps: Deps, body: dict[str, Any]) -> None:
    initialize_project(deps, project_id=InitializeProject.model_validate(body).project_id)


STAGES: dict[str, Stage] = {
    PROJECT_INIT: Stage(
        QueueSpec(PROJECT_INIT, lock_seconds=300, max_delivery_count=5), _initialize
    ),
}

QUEUE_SPECS = {name: stage.spec for name, stage in STAGES.items()}


def handle(deps: Deps, queue: str, body: dict[str, Any]) -> None:
    """Run the stage for one message; errors propagate so the queue retries, then dead-letters."""
    STAGES[queue].handle(deps, body)
