"""The review workspace's services: filters (date, disagreement, confidence, path, review),
bulk review of a selection or a filter with its per-item report, comments the labelers see,
an item's history, and a labeler keeping tasks in hand ahead."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.domain.annotation_json import read_value
from core.domain.errors import Forbidden, InvalidInput
from core.domain.items import Item, ItemState, Prediction
from core.domain.projects import Project, Role
from core.ports import Deps
from core.services import comments, labeling, review, review_bulk, tasks
from core.services.review import ItemFilter
from core.services.review_bulk import Picked
from core.store.collections import ITEMS, load
from tests.support.labeling import add_items, running_project

CREW = {"lee": Role.LABELER, "lou": Role.LABELER, "rita": Role.REVIEWER}


def label(deps: Deps, project: Project, who: str, value: dict[str, object]) -> Item:
    task = tasks.next_task(deps, project_id=project.id, actor=who)
    deps.clock.advance(1)  # type: ignore[attr-defined]
    return labeling.submit_annotation(
        deps, project_id=project.id, actor=who, item_id=task.items[0].id, value=value
    )


def stored(deps: Deps, project: Project, item_id: str) -> tuple[Item, str]:
    document = deps.documents.container(ITEMS).read(project.id, item_id)
    return load(Item, document), document.etag


def ids(deps: Deps, project: Project, where: ItemFilter) -> list[str]:
    page = review.list_items(deps, project_id=project.id, actor="rita", where=where)
    return [v.value.id for v in page.items]


def test_filters_by_date_disagreement_confidence_path_and_review(deps: Deps) -> None:
    project = running_project(deps, members=CREW, consensus={"minLabelers": 2, "maxLabelers": 2})
    add_items(deps, project, 2, prefix="a/")
    guess = Prediction(value={"label": "cat"}, confidence=0.9)
    add_items(deps, project, 1, prefix="b/", prediction=guess)
    deps.clock.advance(0.5)  # type: ignore[attr-defined]
    start = deps.clock.now()
    label(deps, project, "lee", {"label": "cat"})
    split = label(deps, project, "lou", {"label": "dog"})  # the first item: they disagree
    assert split.state is ItemState.NEEDS_REVIEW and split.disputed
    deps.clock.advance(0.5)  # type: ignore[attr-defined]
    middle = deps.clock.now()
    label(deps, project, "lee", {"label": "cat"})
    agreed = label(deps, project, "lou", {"label": "cat"})
    assert agreed.state is ItemState.LABELED and not agreed.disputed

    assert ids(deps, project, ItemFilter(disputed=True)) == [split.id]
    assert ids(deps, project, ItemFilter(disputed=False, state=ItemState.LABELED)) == [agreed.id]
    assert ids(deps, project, ItemFilter(since=middle)) == [agreed.id]
    assert ids(deps, project, ItemFilter(since=start, until=middle)) == [split.id]
    b_items = ids(deps, project, ItemFilter(path="b/"))
    assert len(b_items) == 1 and b_items == ids(deps, project, ItemFilter(min_confidence=0.85))
    assert ids(deps, project, ItemFilter(max_confidence=0.8)) == []
    review.review_item(
        deps, project_id=project.id, actor="rita", item_id=agreed.id, decision="approve"
    )
    assert ids(deps, project, ItemFilter(reviewed="approved")) == [agreed.id]
    assert agreed.id not in ids(deps, project, ItemFilter(reviewed="unreviewed"))


def test_bulk_review_of_a_selection_reports_each_item(deps: Deps) -> None:
    project = running_project(deps, members=CREW)
    add_items(deps, project, 4)
    done = [label(deps, project, "lee", {"label": "cat"}) for _ in range(3)]
    seen = {item.id: stored(deps, project, item.id)[1] for item in done}
    # The labeler corrects one after the reviewer looked: it is left alone.
    labeling.correct_annotation(
        deps, project_id=project.id, actor="lee", item_id=done[2].id, value={"label": "dog"}
    )
    unlabeled = next(i for i in ids(deps, project, ItemFilter(state=ItemState.UNLABELED)))
    picked = [Picked(i, seen[i]) for i in seen] + [Picked(unlabeled)]
    report = review_bulk.review_many(
        deps, project_id=project.id, actor="rita", decision="approve", items=picked
    )
    assert report.reviewed == [done[0].id, done[1].id] and not report.more
    reasons = dict(report.skipped)
    assert "changed since you saw it" in reasons[done[2].id]
    assert "nothing to review" in reasons[unlabeled]
    assert stored(deps, project, done[2].id)[0].review is None
    assert stored(deps, project, done[0].id)[0].review is not None


def test_a_bulk_request_refused_whole_changes_nothing(deps: Deps) -> None:
    project = running_project(deps, members=CREW)
    add_items(deps, project, 2)
    done = label(deps, project, "lee", {"label": "cat"})
    before = stored(deps, project, done.id)
    refused = [
        ({"items": [Picked(done.id)], "where": ItemFilter()}, InvalidInput),
        ({}, InvalidInput),
        ({"items": [Picked(done.id), Picked(done.id)]}, InvalidInput),
        ({"where": ItemFilter(state=ItemState.NEEDS_REVIEW)}, InvalidInput),
        ({"where": ItemFilter(reviewed="approved")}, InvalidInput),
    ]
    for kwargs, error in refused:
        with pytest.raises(error):
            review_bulk.review_many(
                deps, project_id=project.id, actor="rita", decision="approve", **kwargs
            )
    with pytest.raises(Forbidden):
        review_bulk.review_many(
            deps, project_id=project.id, actor="lee", decision="reject", items=[Picked(done.id)]
        )
    assert stored(deps, project, done.id) == before


def test_bulk_reject_of_a_filter_as_it_stood(deps: Deps, monkeypatch: pytest.MonkeyPatch) -> None:
    project = running_project(deps, members=CREW)
    add_items(deps, project, 6)
    lees = [label(deps, project, "lee", {"label": "cat"}) for _ in range(3)]
    label(deps, project, "lou", {"label": "cat"})
    looked = deps.clock.now()
    late = label(deps, project, "lee", {"label": "dog"})  # after the reviewer looked
    monkeypatch.setattr(review_bulk, "MAX_ITEMS", 2)
    where = ItemFilter(labeler="lee")
    rejected: list[str] = []
    while True:
        report = review_bulk.review_many(
            deps,
            project_id=project.id,
            actor="rita",
            decision="reject",
            note="boxes too loose",
            where=where,
            as_of=looked,
        )
        assert not report.skipped and len(report.reviewed) <= 2
        rejected += report.reviewed
        if not report.more:
            break
    assert sorted(rejected) == sorted(i.id for i in lees)
    assert stored(deps, project, late.id)[0].state is ItemState.LABELED
    back, _ = stored(deps, project, lees[0].id)
    assert back.state is ItemState.UNLABELED and back.comments[-1].text == "boxes too loose"
    assert back.comments[-1].to == ["lee"]


def test_comments_reach_the_labeler_and_the_history_tells_it_all(deps: Deps) -> None:
    project = running_project(deps, members=CREW)
    add_items(deps, project, 2)
    done = label(deps, project, "lee", {"label": "cat"})
    deps.clock.advance(1)  # type: ignore[attr-defined]
    comments.comment_on_item(
        deps, project_id=project.id, actor="rita", item_id=done.id, text="  tail cut off  "
    )
    with pytest.raises(InvalidInput):
        comments.comment_on_item(
            deps, project_id=project.id, actor="rita", item_id=done.id, text="   "
        )
    with pytest.raises(Forbidden):
        comments.comment_on_item(
            deps, project_id=project.id, actor="lee", item_id=done.id, text="me too"
        )
    deps.clock.advance(1)  # type: ignore[attr-defined]
    review.review_item(
        deps,
        project_id=project.id,
        actor="rita",
        item_id=done.id,
        decision="reject",
        note="that is a dog",
    )
    mine = comments.feedback(deps, project_id=project.id, actor="lee")
    assert [e.item_id for e in mine.entries] == [done.id]
    assert [c.text for c in mine.entries[0].comments] == ["tail cut off", "that is a dog"]
    assert comments.feedback(deps, project_id=project.id, actor="lou").entries == []
    # Back in the queue, the item carries the reason to whoever labels it next.
    again = tasks.next_task(deps, project_id=project.id, actor="lou").items
    with_reason = [i for i in again if i.id == done.id] or tasks.next_task(
        deps, project_id=project.id, actor="lee"
    ).items
    assert with_reason[0].comments[-1].text == "that is a dog"

    history = review.item_history(deps, project_id=project.id, actor="rita", item_id=done.id)
    actions = [(e.actor, e.action) for e in history.events]
    assert actions[-2:] == [("rita", "item.commented"), ("rita", "item.rejected")]
    assert ("lee", "annotation.submitted") in actions
    assert history.events[-1].before["final"] == {"label": "cat"}
    with pytest.raises(Forbidden):
        review.item_history(deps, project_id=project.id, actor="lee", item_id=done.id)


def test_a_fix_in_place_is_an_approval_with_the_reviewers_value(deps: Deps) -> None:
    project = running_project(deps, members=CREW, task_type="image_bounding_box")
    add_items(deps, project, 1)
    box = {"label": "cat", "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2}
    done = label(deps, project, "lee", {"boxes": [box]})
    fixed = {"boxes": [box | {"w": 0.3}, box | {"label": "dog", "x": 0.5}]}
    deps.clock.advance(1)  # type: ignore[attr-defined]
    after = review.review_item(
        deps, project_id=project.id, actor="rita", item_id=done.id, decision="approve", value=fixed
    )
    assert after.final == read_value(fixed) and after.annotations[0].value == read_value(
        {"boxes": [box]}
    )
    history = review.item_history(deps, project_id=project.id, actor="rita", item_id=done.id)
    assert history.events[-1].after["final"] == fixed


def test_a_labeler_keeps_tasks_in_hand_ahead(deps: Deps) -> None:
    project = running_project(deps, members=CREW, task_type="image_bounding_box")
    add_items(deps, project, 5)
    hand: list[str] = []
    for _ in range(4):
        got = tasks.next_task(deps, project_id=project.id, actor="lee", holding=hand).items
        assert len(got) == 1 and got[0].id not in hand
        hand.append(got[0].id)
    # A reload holds nothing in hand: the same leases come back first, in queue order.
    again = tasks.next_task(deps, project_id=project.id, actor="lee").items
    assert again[0].id in hand
    with pytest.raises(InvalidInput):
        tasks.next_task(
            deps, project_id=project.id, actor="lee", holding=[f"x{i}" for i in range(33)]
        )
    assert tasks.next_task(deps, project_id=project.id, actor="lou").items[0].id not in hand
    deps.clock.advance(timedelta(minutes=11).total_seconds())  # type: ignore[attr-defined]
    assert tasks.expire_leases(deps) == 5  # lee's four and lou's one


def test_a_labelers_progress_and_a_filters_count(deps: Deps) -> None:
    project = running_project(deps, members=CREW)
    add_items(deps, project, 4)
    label(deps, project, "lee", {"label": "cat"})
    label(deps, project, "lee", {"label": "dog"})
    tasks.next_task(deps, project_id=project.id, actor="lou")  # in lou's hands: still left
    done = tasks.labeling_progress(deps, project_id=project.id, actor="lee")
    assert (done.today, done.left) == (2, 2)
    assert tasks.labeling_progress(deps, project_id=project.id, actor="lou").today == 0
    where = ItemFilter(label="cat")
    assert review.count_items(deps, project_id=project.id, actor="rita", where=where) == 1
    with pytest.raises(Forbidden):
        review.count_items(deps, project_id=project.id, actor="lee", where=where)


def test_a_large_project_counts_what_is_left_at_most_every_few_seconds(deps: Deps) -> None:
    """Counting every unlabeled item for each task would cost more than the task: above
    `EXACT_LEFT` the count is at most `LEFT_TTL_S` old, less the caller's own answers since."""
    project = running_project(deps, members=CREW)
    total = tasks.EXACT_LEFT + 10
    add_items(deps, project, total)
    assert tasks.labeling_progress(deps, project_id=project.id, actor="lee").left == total
    label(deps, project, "lee", {"label": "cat"})
    label(deps, project, "lou", {"label": "cat"})  # someone else: seen at the next count
    label(deps, project, "lee", {"label": "dog"})
    done = tasks.labeling_progress(deps, project_id=project.id, actor="lee")
    assert (done.today, done.left) == (2, total - 2)
    assert tasks.labeling_progress(deps, project_id=project.id, actor="lou").left == total - 3
