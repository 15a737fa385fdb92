"""Next task, leases, submit, skip and correct, on every adapter set."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from core.domain.annotation_json import read_value
from core.domain.errors import (
    Conflict,
    Forbidden,
    InvalidAnnotation,
    InvalidInput,
    PreconditionFailed,
    ProjectPaused,
)
from core.domain.items import Item, ItemState, Prediction
from core.domain.projects import Role
from core.ports import Deps, Query
from core.services import labeling, projects, tasks
from core.store.collections import EVENTS, ITEMS, STATS, load, scan
from tests.support.labeling import add_items, running_project

CREW = {"lee": Role.LABELER, "lou": Role.LABELER, "rita": Role.REVIEWER}


def item(deps: Deps, project_id: str, item_id: str) -> Item:
    return load(Item, deps.documents.container(ITEMS).read(project_id, item_id))


def test_next_task_leases_in_queue_order_and_never_twice(deps: Deps) -> None:
    project = running_project(deps, members=CREW)
    ids = add_items(deps, project, 5)
    first = tasks.next_task(deps, project_id=project.id, actor="lee")
    assert [i.id for i in first.items] == [ids[0]]  # one window holds all five: rank order
    assert first.items[0].lease is not None and first.items[0].lease.user == "lee"
    assert first.lease_until == deps.clock.now() + deps.task_lease
    again = tasks.next_task(deps, project_id=project.id, actor="lee")
    assert [i.id for i in again.items] == [ids[0]]  # a reload gets the same task back
    other = tasks.next_task(deps, project_id=project.id, actor="lou")
    assert other.items[0].id != ids[0]


def test_pages_of_image_classification_and_refusals(deps: Deps) -> None:
    project = running_project(deps, members=CREW)
    add_items(deps, project, 12)
    page = tasks.next_task(deps, project_id=project.id, actor="lee", size=9)
    assert len({i.id for i in page.items}) == 9
    rest = tasks.next_task(deps, project_id=project.id, actor="lou", size=9)
    assert len(rest.items) == 3 and not {i.id for i in rest.items} & {i.id for i in page.items}
    with pytest.raises(InvalidInput, match="one of 1, 4, 6, 9"):
        tasks.next_task(deps, project_id=project.id, actor="lee", size=5)
    text = running_project(deps, name="Docs", task_type="text_ner", members=CREW)
    with pytest.raises(InvalidInput, match="one item at a time"):
        tasks.next_task(deps, project_id=text.id, actor="lee", size=4)


def test_paused_projects_and_strangers_get_no_tasks(deps: Deps) -> None:
    project = running_project(deps, members=CREW)
    add_items(deps, project, 2)
    with pytest.raises(Forbidden):
        tasks.next_task(deps, project_id=project.id, actor="mallory")
    projects.pause_project(deps, project_id=project.id, actor="olive")
    with pytest.raises(ProjectPaused, match="paused"):
        tasks.next_task(deps, project_id=project.id, actor="lee")


def test_order_assigned_then_prelabeled_then_cluster_pages_then_rank(deps: Deps) -> None:
    project = running_project(deps, members=CREW)
    plain = add_items(deps, project, 3, prefix="plain/")
    clustered = add_items(deps, project, 4, prefix="c/", cluster="k1")
    guess = Prediction(value={"label": "cat"}, confidence=0.99)
    prelabeled = add_items(deps, project, 2, prefix="p/", prediction=guess)
    mine = add_items(deps, project, 1, prefix="m/", assignee="lou")
    taken = []
    for _ in range(10):
        task = tasks.next_task(deps, project_id=project.id, actor="lou")
        taken += [i.id for i in task.items]
        labeling.submit_annotation(
            deps, project_id=project.id, actor="lou", item_id=taken[-1], value={"label": "dog"}
        )
    assert taken == mine + prelabeled + clustered + plain
    assert tasks.next_task(deps, project_id=project.id, actor="lou").items == []


def test_assigned_items_go_to_nobody_else(deps: Deps) -> None:
    project = running_project(deps, members=CREW)
    reserved = add_items(deps, project, 2, assignee="lee")
    assert tasks.next_task(deps, project_id=project.id, actor="lou").items == []
    assert tasks.next_task(deps, project_id=project.id, actor="lee").items[0].id == reserved[0]


def test_submit_validates_against_task_type_classes_and_lease(deps: Deps) -> None:
    project = running_project(deps, members=CREW)
    ids = add_items(deps, project, 2)
    tasks.next_task(deps, project_id=project.id, actor="lee")
    with pytest.raises(InvalidAnnotation, match=r"value\.label: 'cow' is not a label class"):
        labeling.submit_annotation(
            deps, project_id=project.id, actor="lee", item_id=ids[0], value={"label": "cow"}
        )
    with pytest.raises(InvalidAnnotation, match="labels"):
        labeling.submit_annotation(
            deps, project_id=project.id, actor="lee", item_id=ids[0], value={"labels": ["cat"]}
        )
    with pytest.raises(Conflict, match="not leased to you"):
        labeling.submit_annotation(
            deps, project_id=project.id, actor="lee", item_id=ids[1], value={"label": "cat"}
        )
    tasks.next_task(deps, project_id=project.id, actor="lou")
    with pytest.raises(Conflict, match="leased to another labeler"):
        labeling.submit_annotation(
            deps, project_id=project.id, actor="lee", item_id=ids[1], value={"label": "cat"}
        )
    done = labeling.submit_annotation(
        deps, project_id=project.id, actor="lee", item_id=ids[0], value={"label": "cat"}
    )
    assert (
        done.state is ItemState.LABELED
        and done.final == read_value({"label": "cat"})
        and done.lease is None
    )
    events = [d.body for d in scan(deps.documents.container(EVENTS), project.id, Query())]
    submitted = [e for e in events if e["action"] == "annotation.submitted"]
    assert len(submitted) == 1 and submitted[0]["actor"] == "lee"
    assert submitted[0]["before"]["state"] == "unlabeled"
    assert submitted[0]["after"]["final"] == {"label": "cat"}


def test_spans_are_checked_against_the_text(deps: Deps) -> None:
    project = running_project(
        deps, name="Docs", task_type="text_ner", classes=["PER"], members=CREW
    )
    (doc,) = add_items(deps, project, 1, text="Ada Lovelace")
    tasks.next_task(deps, project_id=project.id, actor="lee")
    with pytest.raises(InvalidAnnotation, match="length of the text"):
        labeling.submit_annotation(
            deps,
            project_id=project.id,
            actor="lee",
            item_id=doc,
            value={"spans": [{"label": "PER", "start": 0, "end": 40}]},
        )
    done = labeling.submit_annotation(
        deps,
        project_id=project.id,
        actor="lee",
        item_id=doc,
        value={"spans": [{"label": "PER", "start": 0, "end": 12}]},
    )
    assert done.labels == ["PER"]


def test_skip_and_correct_last_submission(deps: Deps) -> None:
    project = running_project(deps, members=CREW)
    ids = add_items(deps, project, 3)
    first = tasks.next_task(deps, project_id=project.id, actor="lee").items[0].id
    labeling.submit_annotation(
        deps, project_id=project.id, actor="lee", item_id=first, value={"label": "cat"}
    )
    fixed = labeling.correct_annotation(
        deps, project_id=project.id, actor="lee", item_id=first, value={"label": "dog"}
    )
    assert fixed.final == read_value({"label": "dog"}) and len(fixed.annotations) == 1
    second = tasks.next_task(deps, project_id=project.id, actor="lee").items[0].id
    skipped = labeling.skip_item(
        deps, project_id=project.id, actor="lee", item_id=second, reason="blurry"
    )
    assert skipped.state is ItemState.SKIPPED and skipped.skips[0].reason == "blurry"
    third = tasks.next_task(deps, project_id=project.id, actor="lee").items[0].id
    labeling.submit_annotation(
        deps, project_id=project.id, actor="lee", item_id=third, value={"label": "bird"}
    )
    with pytest.raises(Conflict, match="not your last submission"):
        labeling.correct_annotation(
            deps, project_id=project.id, actor="lee", item_id=first, value={"label": "cat"}
        )
    assert labeling.last_submission(deps, project_id=project.id, actor="lee") == third
    assert sorted(ids) == sorted([first, second, third])


def test_consensus_keeps_items_until_enough_labelers_agree(deps: Deps) -> None:
    consensus = {"minLabelers": 2, "maxLabelers": 3}
    project = running_project(deps, members=CREW | {"lia": Role.LABELER}, consensus=consensus)
    (only,) = add_items(deps, project, 1)

    def answer(who: str, label: str) -> Item:
        task = tasks.next_task(deps, project_id=project.id, actor=who)
        assert [i.id for i in task.items] == [only]
        return labeling.submit_annotation(
            deps, project_id=project.id, actor=who, item_id=only, value={"label": label}
        )

    assert answer("lee", "cat").state is ItemState.UNLABELED
    assert tasks.next_task(deps, project_id=project.id, actor="lee").items == []
    assert answer("lou", "dog").state is ItemState.UNLABELED  # 1:1, room for a third
    decided = answer("lia", "cat")
    assert decided.state is ItemState.LABELED and decided.final == read_value({"label": "cat"})
    assert [a.agreed for a in decided.annotations] == [True, False, True]


def test_no_agreement_after_max_labelers_needs_review(deps: Deps) -> None:
    project = running_project(deps, members=CREW, consensus={"minLabelers": 2, "maxLabelers": 2})
    (only,) = add_items(deps, project, 1)
    for who, label in (("lee", "cat"), ("lou", "dog")):
        tasks.next_task(deps, project_id=project.id, actor=who)
        last = labeling.submit_annotation(
            deps, project_id=project.id, actor=who, item_id=only, value={"label": label}
        )
    assert last.state is ItemState.NEEDS_REVIEW and last.final is None


def test_leases_renew_release_and_expire(deps: Deps) -> None:
    project = running_project(deps, members=CREW)
    ids = add_items(deps, project, 2)
    tasks.next_task(deps, project_id=project.id, actor="lee")
    deps.clock.advance(300)  # type: ignore[attr-defined]
    renewed = tasks.renew_leases(deps, project_id=project.id, actor="lee", item_ids=[ids[0]])
    assert renewed.lease_until == deps.clock.now() + deps.task_lease
    with pytest.raises(Conflict, match="no longer leased to you"):
        tasks.renew_leases(deps, project_id=project.id, actor="lou", item_ids=[ids[0]])
    deps.clock.advance(599)  # type: ignore[attr-defined]
    assert tasks.expire_leases(deps) == 0
    deps.clock.advance(2)  # type: ignore[attr-defined]
    assert tasks.expire_leases(deps) == 1
    assert item(deps, project.id, ids[0]).lease is None
    assert tasks.next_task(deps, project_id=project.id, actor="lou").items[0].id == ids[0]
    assert tasks.release_leases(deps, project_id=project.id, actor="lou", item_ids=ids) == 1
    assert item(deps, project.id, ids[0]).lane == "4q"


def _snapshot(deps: Deps, project_id: str) -> tuple[list[dict[str, object]], int, int]:
    """Every item, the audit trail's length and the stats documents: what a write may change."""
    documents = deps.documents
    items = [d.body for d in scan(documents.container(ITEMS), project_id, Query())]
    events = documents.container(EVENTS).count(project_id)
    stats = documents.container(STATS).count(project_id)
    return sorted(items, key=lambda body: str(body["id"])), events, stats


def test_a_refused_page_saves_nothing_and_its_corrected_retry_counts_once(deps: Deps) -> None:
    project = running_project(deps, members=CREW)
    add_items(deps, project, 4)
    page = [i.id for i in tasks.next_task(deps, project_id=project.id, actor="lee", size=4).items]
    before = _snapshot(deps, project.id)
    answers = [labeling.Answer(i, {"label": "cat"}) for i in page]
    bad = [*answers[:2], labeling.Answer(page[2], {"label": "cow"}), answers[3]]
    with pytest.raises(InvalidAnnotation) as refused:
        labeling.submit_annotations(deps, project_id=project.id, actor="lee", answers=bad)
    assert [v.field for v in refused.value.violations] == ["answers[2].value.label"]
    assert _snapshot(deps, project.id) == before
    saved = labeling.submit_annotations(deps, project_id=project.id, actor="lee", answers=answers)
    assert {i.state for i in saved} == {ItemState.LABELED}
    # The same page again (its response was lost): nothing changes, nothing counts twice.
    after = _snapshot(deps, project.id)
    again = labeling.submit_annotations(deps, project_id=project.id, actor="lee", answers=answers)
    assert [i.id for i in again] == page and _snapshot(deps, project.id) == after
    (stats,) = scan(deps.documents.container(STATS), project.id, Query())
    assert stats.body["submitted"] == 4 and stats.body["labels"] == {"cat": 4}


def test_a_page_with_a_lost_lease_saves_nothing(deps: Deps) -> None:
    project = running_project(deps, members=CREW)
    add_items(deps, project, 4)
    page = [i.id for i in tasks.next_task(deps, project_id=project.id, actor="lee", size=4).items]
    tasks.release_leases(deps, project_id=project.id, actor="lee", item_ids=page[3:])
    before = _snapshot(deps, project.id)
    answers = [labeling.Answer(i, {"label": "dog"}) for i in page]
    with pytest.raises(Conflict, match=r"nothing was saved: 1 of the 4 items"):
        labeling.submit_annotations(deps, project_id=project.id, actor="lee", answers=answers)
    assert _snapshot(deps, project.id) == before
    repeated = [answers[0], answers[1], answers[0]]
    with pytest.raises(InvalidAnnotation, match=r"answers\[2\].itemId: repeats answers\[0\]"):
        labeling.submit_annotations(deps, project_id=project.id, actor="lee", answers=repeated)
    assert _snapshot(deps, project.id) == before


class _FailingItems:
    """The items container, failing its `n`-th etag-checked write the way a store can (a
    concurrent change, a full disk): a fake at the port, so every adapter runs beneath it."""

    def __init__(self, inner: Any, n: int, error: Exception) -> None:
        self._inner, self._left, self._error = inner, n, error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def upsert(self, body: dict[str, Any], *, if_match: str | None = None) -> Any:
        if if_match is not None:
            self._left -= 1
            if self._left == 0:
                raise self._error
        return self._inner.upsert(body, if_match=if_match)


class _FailingStore:
    def __init__(self, inner: Any, n: int, error: Exception) -> None:
        self._inner = inner
        self._items = _FailingItems(inner.container(ITEMS), n, error)

    def container(self, spec: Any) -> Any:
        return self._items if spec == ITEMS else self._inner.container(spec)

    def close(self) -> None:
        self._inner.close()


def test_a_write_failing_part_way_puts_the_written_items_back(deps: Deps) -> None:
    project = running_project(deps, members=CREW)
    add_items(deps, project, 4)
    page = [i.id for i in tasks.next_task(deps, project_id=project.id, actor="lee", size=4).items]
    answers = [labeling.Answer(i, {"label": "cat"}) for i in page]
    before = _snapshot(deps, project.id)
    broken = replace(deps, documents=_FailingStore(deps.documents, 3, OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        labeling.submit_annotations(broken, project_id=project.id, actor="lee", answers=answers)
    items, events, stats = _snapshot(deps, project.id)
    assert [i["state"] for i in items] == [i["state"] for i in before[0]]  # all unlabeled
    assert all(not i.get("annotations") for i in items) and (events, stats) == before[1:]
    # A stale etag part-way (someone else's write) is retried from a fresh read: all saved.
    flaky = replace(deps, documents=_FailingStore(deps.documents, 2, PreconditionFailed("x")))
    saved = labeling.submit_annotations(flaky, project_id=project.id, actor="lee", answers=answers)
    assert {i.state for i in saved} == {ItemState.LABELED}
