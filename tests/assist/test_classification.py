"""ML assist end to end on real images through the queue: MNIST digits uploaded and rendered
by the ingestion stages, labeled by a labeler answering with the truth, then the schedule starts
a cycle on the assist queue, and the pre-labels it writes are checked against the truth."""

from __future__ import annotations

import numpy as np
import pytest

from core.domain.assist import is_audit
from core.domain.items import ItemState, rank
from core.domain.lanes import checked
from core.domain.messages import ASSIST_TRAIN
from core.domain.runs import JobStatus, RunKind
from core.services import stages
from core.services.assist import assist_status, request_training, schedule_training
from core.services.dashboard import dashboard
from core.services.tasks import next_task
from tests.assist.conftest import LABELER, OWNER, create, items, label, upload
from tests.support.assist import drain, mnist

pytestmark = pytest.mark.slow

DIGITS = [str(d) for d in range(10)]


def digits(deps, count, **assist):
    pngs, truth = mnist(count)
    project_id = create(deps, "image_multiclass", DIGITS, **{"trainAfter": 300, **assist})
    ids = upload(deps, project_id, [(f"d/{n:04d}.png", png) for n, png in enumerate(pngs)])
    by_id = {ids[f"d/{n:04d}.png"]: truth[n] for n in range(len(pngs))}
    return project_id, by_id


def test_pre_labels_meet_the_target_precision_on_held_out_items(deps):
    project_id, truth = digits(deps, 600)
    label(deps, project_id, 299, lambda item: {"label": truth[item.id]})
    assert schedule_training(deps) == 0  # one label short of trainAfter
    label(deps, project_id, 1, lambda item: {"label": truth[item.id]})
    assert schedule_training(deps) == 1
    assert schedule_training(deps) == 0  # pending: never twice

    message = deps.queue.receive(ASSIST_TRAIN)[0]
    stages.handle(deps, ASSIST_TRAIN, message.body)
    deps.queue.complete(message)
    before = items(deps, project_id)
    stages.handle(deps, ASSIST_TRAIN, message.body)  # delivered again: nothing changes
    assert items(deps, project_id) == before

    found = items(deps, project_id)
    waiting = [i for i in found if i.state is ItemState.UNLABELED]
    suggested = [i for i in waiting if i.prediction is not None]
    assert len(waiting) == 300
    assert len(suggested) / len(waiting) >= 0.5
    assert all(i.prediction.run.endswith("-infer") for i in suggested)
    right = sum(i.prediction.value.label == truth[i.id] for i in suggested)
    assert right / len(suggested) >= 0.95, (right, len(suggested))
    # Each class is vouched for on its own: with 300 waiting items a class has a few dozen
    # pre-labels, so one run's share right says little (tests/unit/assist pins the rule on
    # known curves, bench/assist.py measures it over many runs); no class may be far off.
    for digit in DIGITS:
        mine = [i for i in suggested if i.prediction.value.label == digit]
        wrong = sum(truth[i.id] != digit for i in mine)
        assert wrong <= max(2, 0.05 * len(mine)), (digit, wrong, len(mine))

    status = assist_status(deps, project_id=project_id, actor=OWNER)
    kinds = {run.kind: run for run in status.runs}
    assert set(kinds) == set(RunKind)
    assert all(run.status is JobStatus.SUCCEEDED for run in status.runs)
    validate = kinds[RunKind.VALIDATE]
    assert validate.metrics["pooledLowerBound"] >= 0.95 and validate.metrics["heldOut"] == 300
    assert set(validate.per_class) == set(DIGITS)
    thresholds = {
        digit: figures["threshold"]
        for digit, figures in validate.per_class.items()
        if figures["threshold"] >= 0
    }
    assert thresholds and all(validate.per_class[d]["lowerBound"] >= 0.95 for d in thresholds)
    infer = kinds[RunKind.INFER].per_class
    assert sum(infer[d]["prelabeled"] for d in DIGITS) == len(suggested)
    assert kinds[RunKind.FEATURIZE].metrics["computed"] == 600
    assert status.next_training_in == 100 and not status.pending
    assert status.current is not None and status.current.prelabeled == len(suggested)
    (event,) = [e for e in deps.events.published if e["type"] == "assist.cycle_finished"]
    sent = event["data"]["classes"]  # integrations get the per-class figures too
    assert set(sent) == set(DIGITS) and sent == infer

    # Served without a suggestion: a few items of the random sample, and each class's audit
    # band (its most confident items below its threshold), all in the pre-label lane.
    unsuggested = [i for i in waiting if i.audit]
    assert all(i.prediction is None and i.lane == "2p" for i in unsuggested)
    sample = [i for i in unsuggested if is_audit(i.id)]
    assert 1 <= len(sample) <= 10 + 3 * len(DIGITS)
    assert 10 <= len(unsuggested) - len(sample) + 10 <= 10 + 3 * len(DIGITS)
    rest = [i for i in waiting if i.prediction is None and not i.audit]
    assert rest and all(i.lane.startswith("3c:") or i.lane == "4q" for i in rest)
    labeled = [i for i in found if i.state is ItemState.LABELED]
    assert all(i.audit for i in labeled)  # labeled before the first cycle: random order

    # Labelers get the pre-label lane first: the checked share of the pre-labels (a random
    # tenth) among the items served without a suggestion; answering those measures live
    # precision. The other pre-labels wait until the items without one are labeled.
    now = {i.id for i in suggested if checked(i.id)}
    assert now and {i.id for i in suggested if i.lane == "2p"} == now
    assert all(i.lane == "4r" for i in suggested if i.id not in now)
    lane = {i.id for i in waiting if i.lane == "2p"}
    done = label(deps, project_id, len(lane), lambda item: {"label": truth[item.id]})
    assert {item.id for item in done} == lane
    live = assist_status(deps, project_id=project_id, actor=OWNER).current
    assert live.confirmed + live.corrected == len(now)
    assert live.live_precision >= 0.85
    (after,) = label(deps, project_id, 1, lambda item: {"label": truth[item.id]})
    assert after.prediction is None  # a cluster page or the plain queue before the rest
    dashboard_queue = dashboard(deps, project_id=project_id, actor=OWNER).queue
    assert dashboard_queue["prelabeled"] == len(suggested) - len(now)


def test_the_audit_band_sits_just_below_each_threshold_and_the_lane_is_served_at_random(deps):
    """Active learning orders the rest by confidence, but the pre-label lane (pre-labels and
    the items served without a suggestion) keeps the random registration order: its answers
    are then a fair sample of their band."""
    project_id, truth = digits(deps, 400, activeLearning=True, trainAfter=200)
    label(deps, project_id, 200, lambda item: {"label": truth[item.id]})
    request_training(deps, project_id=project_id, actor=OWNER)
    drain(deps, ASSIST_TRAIN)
    waiting = [i for i in items(deps, project_id) if i.state is ItemState.UNLABELED]
    validate = next(
        run
        for run in assist_status(deps, project_id=project_id, actor=OWNER).runs
        if run.kind is RunKind.VALIDATE
    )
    band = [i for i in waiting if i.audit and not is_audit(i.id)]
    assert band
    for item in band:
        # Its class (the model's guess) has no threshold, or the item is below it.
        found = [
            figures["threshold"]
            for figures in validate.per_class.values()
            if figures["threshold"] >= 0
        ]
        assert not found or item.prediction is None
    lane = [i for i in waiting if i.lane == "2p"]
    assert {i.rank for i in lane} == {rank(i.id) for i in lane}  # registration order
    others = [i for i in waiting if i.lane != "2p"]
    assert any(i.rank != rank(i.id) for i in others)  # active learning reordered the rest
    served = label(deps, project_id, len(lane), lambda item: {"label": truth[item.id]})
    assert {i.id for i in served} == {i.id for i in lane}


def test_too_few_labels_say_so_and_leave_no_pre_labels(deps):
    project_id, truth = digits(deps, 40)
    label(deps, project_id, 12, lambda item: {"label": truth[item.id]})
    request_training(deps, project_id=project_id, actor=OWNER)
    drain(deps, ASSIST_TRAIN)
    status = assist_status(deps, project_id=project_id, actor=OWNER)
    train = next(run for run in status.runs if run.kind is RunKind.TRAIN)
    assert "training needs at least 20" in train.message
    assert not any(i.prediction for i in items(deps, project_id))
    assert status.next_training_in == 100  # counted from the labels this cycle saw


def test_clusters_put_most_of_each_page_in_one_class(deps):
    project_id, truth = digits(deps, 300)
    label(deps, project_id, 100, lambda item: {"label": truth[item.id]})
    request_training(deps, project_id=project_id, actor=OWNER)
    drain(deps, ASSIST_TRAIN)
    pages = []
    while task := next_task(deps, project_id=project_id, actor=LABELER, size=9).items:
        if all(i.cluster is not None for i in task):  # a page of the clustered lane
            classes = [truth[i.id] for i in task]
            pages.append(max(classes.count(c) for c in set(classes)) / len(classes))
        label_page(deps, project_id, task, truth)
        if len(pages) >= 15:
            break
    assert len(pages) >= 5 and np.mean(pages) >= 0.7, pages


def label_page(deps, project_id, task, truth):
    from core.services.labeling import Answer, submit_annotations

    submit_annotations(
        deps,
        project_id=project_id,
        actor=LABELER,
        answers=[Answer(i.id, {"label": truth[i.id]}) for i in task],
    )


def test_a_less_sure_refit_keeps_the_pre_labels_it_agrees_with_unless_a_drop_is_measured(
    deps, monkeypatch
):
    from core.assist import class_thresholds

    project_id, truth = digits(deps, 500)
    label(deps, project_id, 250, lambda item: {"label": truth[item.id]})
    request_training(deps, project_id=project_id, actor=OWNER)
    drain(deps, ASSIST_TRAIN)
    first = {i.id: i.prediction.value.label for i in items(deps, project_id) if i.prediction}
    counts = {d: sum(1 for said in first.values() if said == d) for d in DIGITS}
    doubted = max(counts, key=counts.get)  # its pre-labels the labeler will contradict
    assert counts[doubted] >= 5

    def answer(item):
        if item.prediction and item.prediction.value.label == doubted:
            return {"label": next(d for d in DIGITS if d != doubted)}
        return {"label": truth[item.id]}

    answered = {i.id for i in label(deps, project_id, 20, answer)}
    # The next fit is less sure of every class (a bound of 2.2 standard errors, not 1.645):
    # thresholds rise, and some classes lose theirs.
    monkeypatch.setattr(class_thresholds, "Z_CLASS", 2.2)
    request_training(deps, project_id=project_id, actor=OWNER)
    drain(deps, ASSIST_TRAIN)

    now = {i.id: i for i in items(deps, project_id) if i.state is ItemState.UNLABELED}
    still = {n for n, said in first.items() if n in now and n not in answered}
    runs = {r.kind: r for r in assist_status(deps, project_id=project_id, actor=OWNER).runs}
    infer, validate = runs[RunKind.INFER], runs[RunKind.VALIDATE]
    doubted_floor = validate.per_class[doubted]["threshold"]
    for n in still:
        if first[n] == doubted and now[n].prediction is not None:
            # Labelers surely found its pre-labels wrong: none is kept below a new threshold.
            assert now[n].prediction.confidence >= doubted_floor >= 0
    others = [n for n in still if first[n] != doubted]
    same = [n for n in others if now[n].prediction and now[n].prediction.value.label == first[n]]
    kept = sum(infer.per_class[d]["kept"] for d in DIGITS if d != doubted)
    assert infer.per_class[doubted]["kept"] == 0
    # Kept also where the class still has a threshold, only a higher one.
    assert any(
        infer.per_class[d]["kept"] and validate.per_class[d]["threshold"] >= 0 for d in DIGITS
    ), {d: (infer.per_class[d]["kept"], validate.per_class[d]["threshold"]) for d in DIGITS}
    assert kept > 0 and len(same) >= kept and len(same) >= 0.8 * len(others), (
        kept,
        len(same),
        len(others),
    )
    assert f"{doubted}: labelers confirmed 0 of" in validate.message
    assert "below this cycle's threshold or without one" in validate.message
