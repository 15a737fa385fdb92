"""The recount sweep on every adapter set: counts a crash cut off between an item's write and
its counter's are corrected, a change in flight is never counted twice, and an idle project is
not scanned again."""

from __future__ import annotations

from datetime import timedelta

from core.domain.items import Item
from core.domain.progress import RECOUNT, Recount
from core.domain.projects import Project, ProjectSettings, Role
from core.ports import Deps
from core.services import dashboard, labeling, projects, recount, review, tasks
from core.store.collections import STATS, load
from tests.support import counters
from tests.support.counters import counter_lost, item_write_lost
from tests.support.labeling import add_items, running_project

CREW = {"lee": Role.LABELER, "lou": Role.LABELER, "rita": Role.REVIEWER}
EVERY = timedelta(seconds=60)


def label(deps: Deps, project: Project, who: str, choice: str) -> Item:
    task = tasks.next_task(deps, project_id=project.id, actor=who)
    return labeling.submit_annotation(
        deps, project_id=project.id, actor=who, item_id=task.items[0].id, value={"label": choice}
    )


def skip(deps: Deps, project: Project, who: str) -> Item:
    task = tasks.next_task(deps, project_id=project.id, actor=who)
    return labeling.skip_item(deps, project_id=project.id, actor=who, item_id=task.items[0].id)


def truth(deps: Deps, project: Project) -> tuple[dict[str, int], dict[str, int]]:
    """The label distribution and the answers each labeler holds, counted from the items."""
    figures = counters.truth(deps, project.id)
    return figures.labels, figures.answers


def shown(deps: Deps, project: Project) -> tuple[dict[str, int], dict[str, int]]:
    figures = counters.shown(deps, project.id, "rita")
    return figures.labels, figures.answers


def people(deps: Deps, project: Project) -> dict[str, dashboard.LabelerProgress]:
    board = dashboard.dashboard(deps, project_id=project.id, actor="rita")
    return {p.user: p for p in board.labelers}


def sweep(deps: Deps, project: Project) -> int:
    return recount.recount_project(deps, project_id=project.id, every=EVERY)


def state(deps: Deps, project: Project) -> Recount:
    return load(Recount, deps.documents.container(STATS).read(project.id, RECOUNT))


def test_counts_a_crash_cut_off_are_corrected_by_one_sweep(deps: Deps) -> None:
    project = running_project(deps, members=CREW)
    add_items(deps, project, 8)
    label(deps, project, "lee", "cat")
    label(deps, project, "lee", "dog")
    label(deps, project, "lou", "cat")
    with counter_lost(deps, project.id, "lou"):  # items without their counters
        label(deps, project, "lou", "dog")
        label(deps, project, "lou", "dog")
        skip(deps, project, "lou")
    task = tasks.next_task(deps, project_id=project.id, actor="lee")
    with item_write_lost(deps, project.id, task.items[0].id):  # a counter without its item
        labeling.submit_annotation(
            deps,
            project_id=project.id,
            actor="lee",
            item_id=task.items[0].id,
            value={"label": "bird"},
        )
    items_say = truth(deps, project)
    assert items_say == ({"cat": 2, "dog": 3}, {"lee": 2, "lou": 3})
    assert shown(deps, project) == ({"bird": 1, "cat": 2, "dog": 1}, {"lee": 3, "lou": 1})

    deps.clock.advance(EVERY.total_seconds() + 1)  # type: ignore[attr-defined]
    assert sweep(deps, project) == 7  # bird -1, dog +2; answers lee -1, lou +2; skips lou +1

    assert shown(deps, project) == items_say
    crew = people(deps, project)
    # Submissions the items prove are restored; a submission whose item was lost stays counted
    # (the event happened), and no one's submissions fall below the answers they hold.
    assert (crew["lou"].submitted, crew["lou"].skipped, crew["lee"].submitted) == (3, 1, 3)
    assert all(p.submitted >= p.answers for p in crew.values())
    assert state(deps, project).drift == 7 and state(deps, project).pending == {}
    assert dashboard.dashboard(deps, project_id=project.id, actor="rita").recounted_at
    # Done: the next sweeps find nothing to change.
    deps.clock.advance(EVERY.total_seconds() + 1)  # type: ignore[attr-defined]
    label(deps, project, "lee", "cat")
    deps.clock.advance(EVERY.total_seconds() + 1)  # type: ignore[attr-defined]
    assert sweep(deps, project) == 0
    assert shown(deps, project) == truth(deps, project)


def test_a_change_in_flight_during_a_sweep_is_never_counted_twice(deps: Deps) -> None:
    project = running_project(deps, members=CREW)
    add_items(deps, project, 3)
    label(deps, project, "lee", "cat")
    with counter_lost(deps, project.id, "lou") as landed:  # the counter is still on its way
        label(deps, project, "lou", "dog")
    assert sweep(deps, project) == 0  # the project is busy: a gap may be a change in flight
    assert state(deps, project).pending == {"answers/lou": 1, "label/dog": 1}
    deps.documents.container(STATS).upsert(landed[0])  # ...and it lands
    deps.clock.advance(EVERY.total_seconds() + 1)  # type: ignore[attr-defined]
    assert sweep(deps, project) == 0
    assert state(deps, project).corrections == {} and state(deps, project).pending == {}
    assert (
        shown(deps, project) == truth(deps, project) == ({"cat": 1, "dog": 1}, {"lee": 1, "lou": 1})
    )
    assert people(deps, project)["lou"].submitted == 1


def test_while_people_work_still_figures_are_corrected_and_moving_ones_wait(deps: Deps) -> None:
    project = running_project(deps, members=CREW)
    add_items(deps, project, 8)
    with counter_lost(deps, project.id, "lou"):
        label(deps, project, "lou", "dog")
        label(deps, project, "lou", "cat")
    step = EVERY.total_seconds() + 1
    deps.clock.advance(step)  # type: ignore[attr-defined]
    label(deps, project, "lee", "cat")  # lee keeps labeling cats
    sweep(deps, project)
    assert shown(deps, project) == ({"cat": 1}, {"lee": 1})  # one reading proves nothing yet
    deps.clock.advance(step)  # type: ignore[attr-defined]
    label(deps, project, "lee", "cat")
    assert sweep(deps, project) == 3  # dog and lou's answers were still; cat moved
    assert shown(deps, project) == ({"cat": 2, "dog": 1}, {"lee": 2, "lou": 2})
    assert state(deps, project).pending == {"label/cat": 1}
    deps.clock.advance(step)  # type: ignore[attr-defined]
    assert sweep(deps, project) == 1  # quiet now
    assert (
        shown(deps, project) == truth(deps, project) == ({"cat": 3, "dog": 1}, {"lee": 2, "lou": 2})
    )
    assert people(deps, project)["lou"].submitted == 2


def test_an_idle_project_is_not_scanned_again(deps: Deps) -> None:
    project = running_project(deps, members=CREW)
    add_items(deps, project, 3)
    label(deps, project, "lee", "cat")
    step = EVERY.total_seconds() + 1
    deps.clock.advance(step)  # type: ignore[attr-defined]
    sweep(deps, project)
    first = state(deps, project).scanned_at
    assert state(deps, project).items == 3
    deps.clock.advance(step)  # type: ignore[attr-defined]
    sweep(deps, project)
    assert state(deps, project).scanned_at == first  # nothing changed: no scan
    label(deps, project, "lou", "dog")
    sweep(deps, project)
    assert state(deps, project).scanned_at == deps.clock.now()  # changed: scanned
    second = deps.clock.now()
    deps.clock.advance(10)  # type: ignore[attr-defined]
    label(deps, project, "lou", "dog")
    sweep(deps, project)
    assert state(deps, project).scanned_at == second  # changed, but scanned under an interval ago
    deps.clock.advance(step)  # type: ignore[attr-defined]
    sweep(deps, project)
    assert state(deps, project).scanned_at == deps.clock.now()
    assert shown(deps, project) == truth(deps, project)


def test_the_sweep_visits_every_live_project(deps: Deps) -> None:
    first = running_project(deps, members=CREW)
    second = running_project(deps, name="Birds", members=CREW)
    for project in (first, second):
        add_items(deps, project, 2)
        with counter_lost(deps, project.id, "lee"):
            label(deps, project, "lee", "bird")
    projects.pause_project(deps, project_id=second.id, actor="olive")
    settings = ProjectSettings.model_validate(
        {"name": "Arriving", "taskType": "image_multiclass", "labelClasses": [{"name": "x"}]}
    )
    arriving = projects.create_project(deps, settings=settings, actor="olive").value
    deps.clock.advance(EVERY.total_seconds() + 1)  # type: ignore[attr-defined]
    assert recount.recount(deps, every=EVERY) == 4
    for project in (first, second):
        assert shown(deps, project) == ({"bird": 1}, {"lee": 1})
    # Still registering its items: nothing to count yet.
    assert deps.documents.container(STATS).get(arriving.id, RECOUNT) is None


def test_a_project_whose_scan_is_long_is_scanned_less_often(deps: Deps) -> None:
    project = running_project(deps, members=CREW)
    add_items(deps, project, 2)
    sweep(deps, project)
    stats = deps.documents.container(STATS)
    found = stats.read(project.id, RECOUNT)
    slow = load(Recount, found).model_copy(update={"scan_s": 30.0})  # as if a million items
    stats.upsert(slow.to_doc(), if_match=found.etag)
    deps.clock.advance(EVERY.total_seconds() + 1)  # type: ignore[attr-defined]
    label(deps, project, "lee", "cat")
    sweep(deps, project)
    assert state(deps, project).scanned_at == slow.scanned_at  # at most 1/DUTY of the time
    deps.clock.advance(recount.DUTY * 30)  # type: ignore[attr-defined]
    sweep(deps, project)
    assert state(deps, project).scanned_at == deps.clock.now()


def test_a_restored_submission_is_shown_even_once_its_answer_was_rejected(deps: Deps) -> None:
    project = running_project(deps, members=CREW)
    add_items(deps, project, 2)
    with counter_lost(deps, project.id, "lou"):
        done = label(deps, project, "lou", "dog")
    review.review_item(
        deps, project_id=project.id, actor="rita", item_id=done.id, decision="reject"
    )
    deps.clock.advance(EVERY.total_seconds() + 1)  # type: ignore[attr-defined]
    assert sweep(deps, project) == 2  # lou's answer and its dog, counted away by the rejection
    lou = people(deps, project)["lou"]
    assert (lou.submitted, lou.answers) == (1, 0)
    assert shown(deps, project) == truth(deps, project) == ({}, {})
