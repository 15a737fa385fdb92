"""The dashboard's item figures and the recount sweep's rule for correcting them (pure)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from core.domain.items import Annotation, Item, ItemState, Skip
from core.domain.progress import (
    ANSWERS,
    SKIPS,
    ActorStats,
    Recount,
    Scan,
    add,
    counted,
    document_change,
    documents_change,
    figures_of,
    item_change,
    item_figures,
    reconcile,
    restored,
)

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
SETTLE = timedelta(seconds=60)


def item(**fields: object) -> Item:
    return Item.model_validate(
        {
            "id": "i1",
            "projectId": "p",
            "path": "a.jpg",
            "kind": "image",
            "rank": 0.5,
            "createdAt": T0,
            "updatedAt": T0,
        }
        | fields
    )


def answer(user: str, label: str, agreed: bool | None = None) -> Annotation:
    return Annotation(user=user, at=T0, value={"label": label}, agreed=agreed)


def test_an_items_figures_are_its_labels_answers_agreement_and_skips() -> None:
    decided = item(
        state=ItemState.LABELED,
        final={"labels": ["cat", "dog"]},
        annotations=[answer("lee", "cat", True), answer("lou", "dog", False)],
        skips=[Skip(user="lia", at=T0)],
    )
    assert item_figures(decided.to_doc()) == Counter(
        {
            "label/cat": 1,
            "label/dog": 1,
            "answers/lee": 1,
            "answers/lou": 1,
            "compared/lee": 1,
            "compared/lou": 1,
            "agreed/lee": 1,
            "skips/lia": 1,
        }
    )
    assert item_figures(item().to_doc()) == Counter()
    # A hierarchical label keeps its slashes after the kind.
    assert item_figures(item(final={"label": "Feline/cat"}).to_doc()) == {"label/Feline/cat": 1}


def test_a_bulk_writes_change_is_the_sum_of_its_items_changes() -> None:
    unlabeled = item().to_doc()
    one = item(state=ItemState.LABELED, final={"label": "cat"}, annotations=[answer("lee", "cat")])
    both = item(
        state=ItemState.LABELED,
        final={"labels": ["cat", "dog"]},
        annotations=[answer("lee", "cat", True), answer("lee", "dog", False)],
    )
    changes = [(unlabeled, one.to_doc()), (one.to_doc(), both.to_doc()), (None, unlabeled)]
    summed = Counter[str]()
    for before, after in changes:
        summed.update(document_change(before, after).figures)
    assert (
        +documents_change(changes).figures
        == +summed
        == {
            "label/cat": 1,
            "label/dog": 1,
            "answers/lee": 2,
            "compared/lee": 2,
            "agreed/lee": 1,
        }
    )


def test_a_change_adds_what_it_added_and_takes_back_what_it_removed() -> None:
    before = item(
        state=ItemState.LABELED, final={"label": "cat"}, annotations=[answer("lee", "cat")]
    )
    after = item()  # rejected: back in the queue without its labels
    stats = ActorStats(id="lee", project_id="p")
    stats = add(stats, item_change(None, before), now=T0)
    assert figures_of(stats) == {"label/cat": 1, "answers/lee": 1}
    stats = add(stats, item_change(before, after), now=T0)
    assert figures_of(stats) == {} and stats.labels == {} and stats.answers == {}


def reading(truth: dict[str, int], actors: list[ActorStats], at: datetime, *, quiet: bool) -> Scan:
    return Scan(actors=actors, truth=Counter(truth), at=at, quiet=quiet)


def lee(**figures: int) -> ActorStats:
    return ActorStats(
        id="lee", project_id="p", submitted=figures.pop("submitted", 0), labels=figures
    )


def test_a_quiet_project_is_corrected_at_once() -> None:
    state = Recount(project_id="p")
    updated, fix = reconcile(
        state, reading({"label/cat": 3}, [lee(cat=2)], T0, quiet=True), settle=SETTLE
    )
    assert fix == {"label/cat": 1}
    assert counted([lee(cat=2)], updated) == {"label/cat": 3}
    assert updated.pending == {} and updated.corrected_at == T0


def test_a_gap_while_busy_waits_for_a_second_equal_reading() -> None:
    state = Recount(project_id="p")
    first, fix = reconcile(
        state, reading({"label/cat": 3}, [lee(cat=2)], T0, quiet=False), settle=SETTLE
    )
    assert fix == {} and first.pending == {"label/cat": 1}
    assert first.seen == {"label/cat": {"lee": 2}}
    # Too soon after the first reading: a change in flight could still land.
    again, fix = reconcile(
        first,
        reading({"label/cat": 3}, [lee(cat=2)], T0 + timedelta(seconds=30), quiet=False),
        settle=SETTLE,
    )
    assert fix == {} and again.pending == {"label/cat": 1}
    later, fix = reconcile(
        again,
        reading({"label/cat": 3}, [lee(cat=2)], T0 + timedelta(seconds=91), quiet=False),
        settle=SETTLE,
    )
    assert fix == {"label/cat": 1} and later.pending == {}


def test_a_gap_that_was_a_change_in_flight_is_never_corrected() -> None:
    first, _ = reconcile(
        Recount(project_id="p"),
        reading({"label/cat": 3}, [lee(cat=2)], T0, quiet=False),
        settle=SETTLE,
    )
    # Its counter landed: the gap is gone, nothing to correct, nothing counted twice.
    landed, fix = reconcile(
        first,
        reading({"label/cat": 3}, [lee(cat=3)], T0 + SETTLE, quiet=False),
        settle=SETTLE,
    )
    assert fix == {} and landed.pending == {} and landed.corrections == {}


def test_a_figure_whose_counters_moved_waits_while_still_ones_are_corrected() -> None:
    lou = ActorStats(id="lou", project_id="p", labels={"dog": 1})
    first, _ = reconcile(
        Recount(project_id="p"),
        reading({"label/cat": 3, "label/dog": 2}, [lee(cat=2), lou], T0, quiet=False),
        settle=SETTLE,
    )
    assert first.pending == {"label/cat": 1, "label/dog": 1}
    # lee labeled one more cat (truth and counter both moved): the cat gap is the same, but
    # lee's cat counter moved, so it could be a change in flight that landed while another
    # went in flight; dog, untouched, is corrected.
    second, fix = reconcile(
        first,
        reading({"label/cat": 4, "label/dog": 2}, [lee(cat=3), lou], T0 + SETTLE, quiet=False),
        settle=SETTLE,
    )
    assert fix == {"label/dog": 1} and second.pending == {"label/cat": 1}
    third, fix = reconcile(
        second,
        reading({"label/cat": 4, "label/dog": 2}, [lee(cat=3), lou], T0 + 2 * SETTLE, quiet=True),
        settle=SETTLE,
    )
    assert fix == {"label/cat": 1}
    assert counted([lee(cat=3), lou], third) == {"label/cat": 4, "label/dog": 2}


def test_counters_ahead_of_the_items_are_taken_back() -> None:
    updated, fix = reconcile(
        Recount(project_id="p"),
        reading({"label/cat": 1}, [lee(cat=2)], T0, quiet=True),
        settle=SETTLE,
    )
    assert fix == {"label/cat": -1}
    assert counted([lee(cat=2)], updated) == {"label/cat": 1}


def test_answers_no_counter_saw_restore_submissions_and_a_taken_back_one_takes_them_back() -> None:
    actors = [ActorStats(id="lou", project_id="p", submitted=4, answers={"lou": 4})]
    found, _ = reconcile(
        Recount(project_id="p"),
        reading({"answers/lou": 6, "skips/lou": 1}, actors, T0, quiet=True),
        settle=SETTLE,
    )
    assert restored(found, ANSWERS, "lou") == 2 and restored(found, SKIPS, "lou") == 1
    # Had those been counts in flight after all, their landing takes the correction back.
    landed = [
        ActorStats(id="lou", project_id="p", submitted=6, answers={"lou": 6}, skips={"lou": 1})
    ]
    back, _ = reconcile(
        found,
        reading({"answers/lou": 6, "skips/lou": 1}, landed, T0 + SETTLE, quiet=True),
        settle=SETTLE,
    )
    assert back.corrections == {} and restored(back, ANSWERS, "lou") == 0


def test_counters_that_predate_held_figures_are_adopted_without_restoring_events() -> None:
    old = [ActorStats(id="lou", project_id="p", submitted=5)]  # stored before `answers` existed
    state = Recount(project_id="p", legacy=True)
    adopted, fix = reconcile(state, reading({"answers/lou": 5}, old, T0, quiet=True), settle=SETTLE)
    assert fix == {"answers/lou": 5} and restored(adopted, ANSWERS, "lou") == 0
    assert adopted.legacy  # cleared by the first reading without a held-figure gap
    settled, _ = reconcile(
        adopted, reading({"answers/lou": 5}, old, T0 + SETTLE, quiet=True), settle=SETTLE
    )
    assert not settled.legacy
    lost, _ = reconcile(
        settled, reading({"answers/lou": 6}, old, T0 + 2 * SETTLE, quiet=True), settle=SETTLE
    )
    assert restored(lost, ANSWERS, "lou") == 1
