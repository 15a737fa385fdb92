"""ML assist as owners and reviewers see it: its status (runs, the next training, how its
pre-labels fare), training on demand, and the schedule that starts a cycle once enough new
human labels came in. The cycle itself runs in the assist worker (`assist_cycle`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pydantic import Field

from core.domain.assist import (
    AssistState,
    is_pending,
    next_training_in,
    training_due,
    unsupported_reason,
)
from core.domain.errors import Conflict, InvalidInput
from core.domain.items import ItemState
from core.domain.messages import ASSIST_TRAIN, RunAssist
from core.domain.model import DomainModel
from core.domain.projects import Project, ProjectStatus, Role
from core.domain.runs import Run
from core.ports import Deps
from core.services.model_registry import backbone_name
from core.services.projects import load_project
from core.services.recount import read_counters
from core.services.worklog import member_project
from core.store.collections import ASSIST, load
from core.store.repositories.items import Items
from core.store.repositories.projects import Projects
from core.store.repositories.runs import Runs
from core.store.update import Changed, Target, update_or_create

RUNS_SHOWN = 50


class LiveQuality(DomainModel):
    threshold: float | None = None
    coverage: float | None = None
    prelabeled: int
    confirmed: int
    corrected: int
    live_precision: float | None = Field(
        default=None, description="Share of pre-labels labelers confirmed since the last cycle"
    )


class AssistStatus(DomainModel):
    enabled: bool
    supported: bool
    reason: str | None = None
    backbone: str
    target_precision: float
    train_after: int
    train_every: int
    active_learning: bool
    human_labels: int
    next_training_in: int | None = Field(
        default=None, description="Human labels until the next cycle starts by itself"
    )
    pending: bool
    current: LiveQuality | None = None
    runs: list[Run]


def assist_status(deps: Deps, *, project_id: str, actor: str) -> AssistStatus:
    project = member_project(deps, project_id, actor, Role.REVIEWER)
    state = read_state(deps, project.id)
    labels = human_labels(deps, project.id)
    reason = unsupported_reason(project.task_type)
    settings = project.assist
    return AssistStatus(
        enabled=settings.enabled,
        supported=reason is None,
        reason=reason,
        backbone=backbone_name(settings.backbone, project.task_type.media),
        target_precision=settings.target_precision,
        train_after=settings.train_after,
        train_every=settings.train_every,
        active_learning=settings.active_learning,
        human_labels=labels,
        next_training_in=next_training_in(settings, state, labels)
        if settings.enabled and reason is None
        else None,
        pending=is_pending(state, deps.clock.now()),
        current=_live(deps, state) if state.last_cycle else None,
        runs=recent_runs(deps, project.id),
    )


def request_training(deps: Deps, *, project_id: str, actor: str) -> str:
    """Start a cycle now (an owner's "train now"); returns its id."""
    project = member_project(deps, project_id, actor, Role.OWNER)
    reason = unsupported_reason(project.task_type)
    if reason is not None:
        raise InvalidInput.one("taskType", reason)
    if project.status is not ProjectStatus.RUNNING:
        raise Conflict(
            f"project {project.name!r} is {project.status.value}: ML assist trains on running "
            "projects"
        )
    cycle = _enqueue(deps, project)
    if cycle is None:
        raise Conflict("a training cycle is already queued or running; wait for it to finish")
    return cycle


def schedule_training(deps: Deps) -> int:
    """The timer's sweep: start a cycle in each project that is due; returns how many."""
    started = 0
    for document in Projects(deps).assisted():
        project = load_project(document)
        state = read_state(deps, project.id)
        due = training_due(project, state, human_labels(deps, project.id), deps.clock.now())
        if due and _enqueue(deps, project) is not None:
            started += 1
    return started


def human_labels(deps: Deps, project_id: str) -> int:
    return Items(deps, project_id).count_in_state(ItemState.LABELED)


def read_state(deps: Deps, project_id: str) -> AssistState:
    found = deps.documents.container(ASSIST).get(project_id, AssistState(project_id=project_id).id)
    return load(AssistState, found) if found else AssistState(project_id=project_id)


def recent_runs(deps: Deps, project_id: str) -> list[Run]:
    return Runs(deps, project_id).newest(RUNS_SHOWN)


def new_cycle_id(deps: Deps, now: datetime) -> str:
    return f"{now.strftime('%Y%m%dT%H%M%S')}-{deps.ids.token(6)}"


def change_state(
    deps: Deps, project_id: str, change: Callable[[AssistState], AssistState | None]
) -> Changed[AssistState] | None:
    """The one write path of a project's ML-assist state: `change` applied to the stored state
    (a fresh one where there is none yet) and written over the version read, again after a
    concurrent write. Two requests at once (an owner's "train now" as the timer fires) start
    one cycle, and a cycle finishing keeps a request made meanwhile. None: nothing written."""
    fresh = AssistState(project_id=project_id)
    container = deps.documents.container(ASSIST)
    target = Target(container, AssistState, project_id, fresh.id, noun="ML assist state")
    return update_or_create(target, change, fresh)


def _enqueue(deps: Deps, project: Project) -> str | None:
    """Ask for a cycle; None when one is queued or running already."""
    now = deps.clock.now()
    cycle = new_cycle_id(deps, now)

    def ask(state: AssistState) -> AssistState | None:
        if is_pending(state, now):
            return None
        return state.model_copy(update={"pending": cycle, "pending_since": now})

    asked = change_state(deps, project.id, ask)
    if asked is None or not asked.written:
        return None
    deps.queue.send(
        ASSIST_TRAIN, RunAssist(project_id=project.id, cycle=cycle).to_doc(), message_id=cycle
    )
    return cycle


def suggestions_since(deps: Deps, state: AssistState) -> tuple[int, int]:
    """Submissions on pre-labeled items since the last cycle, and how many agreed with the
    pre-label (the live precision sample)."""
    stats = read_counters(deps, state.project_id).actors
    suggested = sum(s.suggested for s in stats) - state.suggested_before
    confirmed = sum(s.confirmed for s in stats) - state.confirmed_before
    return suggested, confirmed


def _live(deps: Deps, state: AssistState) -> LiveQuality:
    suggested, confirmed = suggestions_since(deps, state)
    return LiveQuality(
        threshold=state.threshold,
        coverage=state.coverage,
        prelabeled=state.prelabeled,
        confirmed=confirmed,
        corrected=suggested - confirmed,
        live_precision=confirmed / suggested if suggested else None,
    )
