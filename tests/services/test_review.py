"""Review, assignment, members, label classes mid-project and dashboard data, on every adapter
set."""

from __future__ import annotations

import pytest

from core.domain.annotation_json import read_value
from core.domain.errors import Conflict, Forbidden, InvalidInput
from core.domain.items import Item, ItemState
from core.domain.labels import LabelClass
from core.domain.projects import Project, Role
from core.domain.relabel import LABEL_CLASSES, ExistingLabels
from core.ports import Deps
from core.services import (
    assignment,
    dashboard,
    label_classes,
    labeling,
    members,
    projects,
    review,
    stages,
    tasks,
)
from core.services.users import create_user
from core.store.collections import ITEMS, load
from tests.support.labeling import add_items, running_project

CREW = {"lee": Role.LABELER, "lou": Role.LABELER, "rita": Role.REVIEWER}


def label(deps: Deps, project: Project, who: str, value: dict[str, object]) -> Item:
    task = tasks.next_task(deps, project_id=project.id, actor=who)
    deps.clock.advance(1)  # type: ignore[attr-defined]
    return labeling.submit_annotation(
        deps, project_id=project.id, actor=who, item_id=task.items[0].id, value=value
    )


def item(deps: Deps, project: Project, item_id: str) -> Item:
    return load(Item, deps.documents.container(ITEMS).read(project.id, item_id))


def test_review_lists_newest_first_with_paging_and_filters(deps: Deps) -> None:
    project = running_project(deps, members=CREW)
    add_items(deps, project, 6)
    done = [
        label(deps, project, who, {"label": lab})
        for who, lab in [
            ("lee", "cat"),
            ("lou", "dog"),
            ("lee", "dog"),
            ("lou", "cat"),
            ("lee", "cat"),
        ]
    ]
    first = review.list_items(
        deps, project_id=project.id, actor="rita", state=ItemState.LABELED, page_size=2
    )
    assert [v.value.id for v in first.items] == [done[4].id, done[3].id]
    rest = review.list_items(
        deps,
        project_id=project.id,
        actor="rita",
        state=ItemState.LABELED,
        page_size=2,
        continuation=first.continuation,
    )
    assert [v.value.id for v in rest.items] == [done[2].id, done[1].id]
    cats = review.list_items(deps, project_id=project.id, actor="rita", label="cat")
    assert [v.value.id for v in cats.items] == [done[4].id, done[3].id, done[0].id]
    by_lou = review.list_items(deps, project_id=project.id, actor="rita", labeler="lou")
    assert [v.value.id for v in by_lou.items] == [done[3].id, done[1].id]
    waiting = review.list_items(
        deps, project_id=project.id, actor="rita", state=ItemState.UNLABELED
    )
    assert len(waiting.items) == 1 and waiting.continuation is None
    with pytest.raises(Forbidden):
        review.list_items(deps, project_id=project.id, actor="lee")


def test_reject_puts_the_item_back_with_history_and_approve_marks_it(deps: Deps) -> None:
    project = running_project(deps, members=CREW)
    add_items(deps, project, 2)
    first = label(deps, project, "lee", {"label": "cat"})
    back = review.review_item(
        deps,
        project_id=project.id,
        actor="rita",
        item_id=first.id,
        decision="reject",
        note="that is a dog",
    )
    assert back.state is ItemState.UNLABELED and back.annotations == [] and back.final is None
    assert back.removed[0].annotations[0].value == read_value({"label": "cat"})
    assert back.lane == "4q"
    second = label(deps, project, "lou", {"label": "dog"})
    approved = review.review_item(
        deps, project_id=project.id, actor="rita", item_id=second.id, decision="approve"
    )
    assert approved.review is not None and approved.review.decision == "approved"
    with pytest.raises(Conflict, match="reviewed already"):
        labeling.correct_annotation(
            deps, project_id=project.id, actor="lou", item_id=second.id, value={"label": "cat"}
        )


def test_needs_review_is_decided_by_a_reviewer_and_skips_are_judged(deps: Deps) -> None:
    project = running_project(deps, members=CREW, consensus={"minLabelers": 2, "maxLabelers": 2})
    (one, two) = add_items(deps, project, 2)
    label(deps, project, "lee", {"label": "cat"})
    split = label(deps, project, "lou", {"label": "dog"})
    assert split.state is ItemState.NEEDS_REVIEW
    with pytest.raises(InvalidInput, match="did not agree"):
        review.review_item(
            deps, project_id=project.id, actor="rita", item_id=split.id, decision="approve"
        )
    decided = review.review_item(
        deps,
        project_id=project.id,
        actor="olive",
        item_id=split.id,
        decision="approve",
        value={"label": "dog"},
    )
    assert decided.state is ItemState.LABELED and decided.final == read_value({"label": "dog"})
    other = tasks.next_task(deps, project_id=project.id, actor="lee").items[0].id
    labeling.skip_item(deps, project_id=project.id, actor="lee", item_id=other)
    accepted = review.review_item(
        deps, project_id=project.id, actor="rita", item_id=other, decision="approve"
    )
    assert accepted.state is ItemState.SKIPPED and accepted.review is not None
    requeued = review.review_item(
        deps, project_id=project.id, actor="rita", item_id=other, decision="reject"
    )
    assert requeued.state is ItemState.UNLABELED and requeued.removed[0].skips[0].user == "lee"
    assert {one, two} == {split.id, other}


def test_assignment_by_prefix_and_release(deps: Deps) -> None:
    project = running_project(deps, members=CREW)
    add_items(deps, project, 3, prefix="a/")
    theirs = add_items(deps, project, 2, prefix="b/")
    with pytest.raises(InvalidInput, match="not a member"):
        assignment.assign_items(
            deps, project_id=project.id, actor="olive", labeler="zed", path_prefix="b/"
        )
    with pytest.raises(Forbidden):
        assignment.assign_items(
            deps, project_id=project.id, actor="rita", labeler="lou", path_prefix="b/"
        )
    assert (
        assignment.assign_items(
            deps, project_id=project.id, actor="olive", labeler="lou", path_prefix="b/"
        )
        == 2
    )
    lee_gets = tasks.next_task(deps, project_id=project.id, actor="lee", size=4)
    assert not {i.id for i in lee_gets.items} & set(theirs) and len(lee_gets.items) == 3
    assert tasks.next_task(deps, project_id=project.id, actor="lou").items[0].id == theirs[0]
    assert assignment.release_items(deps, project_id=project.id, actor="olive", labeler="lou") == 2
    assert tasks.next_task(deps, project_id=project.id, actor="rita").items[0].id == theirs[1]


def test_members_are_managed_by_owners_and_an_owner_remains(deps: Deps) -> None:
    project = running_project(deps)
    create_user(deps, name="newt")
    with pytest.raises(InvalidInput, match="no user 'ghost'"):
        members.set_member(
            deps, project_id=project.id, actor="olive", user="ghost", role=Role.LABELER
        )
    members.set_member(deps, project_id=project.id, actor="olive", user="newt", role=Role.LABELER)
    assert members.list_members(deps, project_id=project.id, actor="olive")["newt"] is Role.LABELER
    with pytest.raises(Forbidden):
        members.list_members(deps, project_id=project.id, actor="newt")
    with pytest.raises(Conflict, match="at least one owner"):
        members.remove_member(deps, project_id=project.id, actor="olive", user="olive")
    members.remove_member(deps, project_id=project.id, actor="olive", user="newt")
    with pytest.raises(Forbidden):
        tasks.next_task(deps, project_id=project.id, actor="newt")


def run_stage(deps: Deps) -> None:
    while messages := deps.queue.receive(LABEL_CLASSES, max_messages=10):
        for message in messages:
            stages.handle(deps, message.queue, message.body)
            deps.queue.complete(message)


@pytest.mark.parametrize(
    ("existing", "state", "prefill"),
    [
        (ExistingLabels.START_OVER, ItemState.UNLABELED, None),
        (ExistingLabels.KEEP_AS_DEFAULTS, ItemState.UNLABELED, {"label": "cat"}),
        (ExistingLabels.KEEP, ItemState.LABELED, None),
    ],
)
def test_adding_classes_mid_project(
    deps: Deps, existing: ExistingLabels, state: ItemState, prefill: object
) -> None:
    project = running_project(deps, members=CREW)
    add_items(deps, project, 2)
    done = label(deps, project, "lee", {"label": "cat"})
    new = [LabelClass(name="fox")]
    with pytest.raises(Conflict, match="pause the project first"):
        label_classes.add_label_classes(
            deps, project_id=project.id, actor="olive", classes=new, existing=existing
        )
    projects.pause_project(deps, project_id=project.id, actor="olive")
    updated = label_classes.add_label_classes(
        deps, project_id=project.id, actor="olive", classes=new, existing=existing
    )
    assert [c.name for c in updated.value.label_classes][-1] == "fox"
    run_stage(deps)
    after = item(deps, project, done.id)
    assert after.state is state and after.to_doc().get("prefill") == prefill
    projects.resume_project(deps, project_id=project.id, actor="olive")
    counts = dashboard.dashboard(deps, project_id=project.id, actor="olive")
    assert counts.labels == ({"cat": 1} if state is ItemState.LABELED else {})


def test_renaming_a_class_moves_existing_labels(deps: Deps) -> None:
    project = running_project(deps, members=CREW)
    add_items(deps, project, 2)
    done = label(deps, project, "lee", {"label": "cat"})
    projects.pause_project(deps, project_id=project.id, actor="olive")
    renamed = label_classes.rename_label_class(
        deps, project_id=project.id, actor="olive", old="cat", new="Feline/cat"
    )
    assert "Feline/cat" in [c.name for c in renamed.value.label_classes]
    with pytest.raises(InvalidInput):
        label_classes.rename_label_class(
            deps, project_id=project.id, actor="olive", old="dog", new="bird"
        )
    run_stage(deps)
    after = item(deps, project, done.id)
    assert after.final == read_value({"label": "Feline/cat"})
    assert after.annotations[0].value == read_value({"label": "Feline/cat"})
    counts = dashboard.dashboard(deps, project_id=project.id, actor="rita")
    assert counts.labels == {"Feline/cat": 1}


def test_dashboard_counts_states_queue_labels_and_labelers(deps: Deps) -> None:
    project = running_project(
        deps, members=CREW | {"lia": Role.LABELER}, consensus={"minLabelers": 2, "maxLabelers": 3}
    )
    add_items(deps, project, 5)
    add_items(deps, project, 1, prefix="mine/", assignee="lia")
    label(deps, project, "lee", {"label": "cat"})  # item A, waiting for a second answer
    label(deps, project, "lou", {"label": "cat"})  # item A agreed
    label(deps, project, "lou", {"label": "dog"})  # item B waiting
    tasks.next_task(deps, project_id=project.id, actor="lee")  # item B, in progress
    board = dashboard.dashboard(deps, project_id=project.id, actor="rita")
    assert board.states == {
        "unlabeled": 5,
        "labeled": 1,
        "skipped": 0,
        "needs_review": 0,
        "error": 0,
    }  # the items' own states: they add up to the 6 items
    assert board.queue == {
        "in_progress": 1,
        "assigned": 1,
        "awaiting_consensus": 0,
        "prelabeled": 0,
        "random_sample": 0,
        "clustered": 0,
        "manual": 3,
    }
    assert board.labels == {"cat": 1}
    people = {p.user: p for p in board.labelers}
    assert people["lou"].submitted == 2 and people["lee"].submitted == 1
    assert people["lee"].agreement == 1.0 and people["lou"].compared == 1
    assert board.last_refresh_at == deps.clock.now() - __import__("datetime").timedelta(seconds=3)
    with pytest.raises(Forbidden):
        dashboard.dashboard(deps, project_id=project.id, actor="lee")
