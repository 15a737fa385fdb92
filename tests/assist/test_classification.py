"""ML assist end to end on real images through the queue: MNIST digits uploaded and rendered
by the ingestion stages, labeled by a labeler answering with the truth, then the schedule starts
a cycle on the assist queue, and the pre-labels it writes are checked against the truth."""

from __future__ import annotations

import numpy as np
import pytest

from core.domain.items import ItemState
from core.domain.messages import ASSIST_TRAIN
from core.domain.runs import JobStatus, RunKind
from core.services import stages
from core.services.assist import assist_status, request_training, schedule_training
from core.services.tasks import next_task
from tests.assist.conftest import LABELER, OWNER, create, items, label, upload
from tests.support.assist import drain, mnist

pytestmark = pytest.mark.slow

DIGITS = [str(d) for d in range(10)]


def digits(deps, count):
    pngs, truth = mnist(count)
    project_id = create(deps, "image_multiclass", DIGITS, trainAfter=300)
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
    right = sum(i.prediction.value["label"] == truth[i.id] for i in suggested)
    assert len(waiting) == 300
    assert right / len(suggested) >= 0.95, (right, len(suggested))
    assert len(suggested) / len(waiting) >= 0.5
    assert all(i.prediction.run.endswith("-infer") for i in suggested)
    # A random tenth is kept aside without pre-labels, served among them: its labels are
    # what later cycles calibrate on. The rest wait on pages of one guessed class, or alone
    # when the head can hardly guess them.
    sample = [i for i in waiting if i.audit]
    assert 15 <= len(sample) <= 45 and all(i.prediction is None for i in sample)
    assert all(i.lane == "2p" for i in sample)
    rest = [i for i in waiting if i.prediction is None and not i.audit]
    assert rest and all(i.lane.startswith("3c:") or i.lane == "4q" for i in rest)
    labeled = [i for i in found if i.state is ItemState.LABELED]
    assert all(i.audit for i in labeled)  # labeled before the first cycle: random order

    status = assist_status(deps, project_id=project_id, actor=OWNER)
    kinds = {run.kind: run for run in status.runs}
    assert set(kinds) == set(RunKind)
    assert all(run.status is JobStatus.SUCCEEDED for run in status.runs)
    validate = kinds[RunKind.VALIDATE].metrics
    assert validate["lowerBound"] >= 0.95 and validate["heldOut"] == 300
    assert set(kinds[RunKind.VALIDATE].per_class) == set(DIGITS)
    assert kinds[RunKind.FEATURIZE].metrics["computed"] == 600
    assert status.next_training_in == 100 and not status.pending
    assert status.current is not None and status.current.prelabeled == len(suggested)

    # Labelers get the pre-labeled lane first; answering pre-labels measures live precision.
    done = label(deps, project_id, 30, lambda item: {"label": truth[item.id]})
    assert all(item.prediction is not None or item.audit for item in done)
    answered = sum(1 for item in done if item.prediction is not None)
    live = assist_status(deps, project_id=project_id, actor=OWNER).current
    assert answered >= 20 and live.confirmed + live.corrected == answered
    assert live.live_precision >= 0.85


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
