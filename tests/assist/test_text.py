"""ML assist on texts: MiniLM embeddings (the packaged default), the same heads and the same
calibration, through the queue."""

from __future__ import annotations

import json
import random

import pytest

from core.domain.items import ItemState
from core.domain.messages import ASSIST_TRAIN
from core.domain.runs import RunKind
from core.services.assist import assist_status, request_training
from tests.assist.conftest import OWNER, create, items, label, upload
from tests.support.assist import drain

pytestmark = pytest.mark.slow

TOPICS = {
    "sport": (
        "The {team} won the {match} after a late goal",
        "Our striker scored twice in the {match} against the {team}",
        "The {team} coach praised the defence after the {match}",
        "Fans cheered as the {team} lifted the trophy at the {match}",
    ),
    "cooking": (
        "Simmer the {food} with garlic for ten minutes",
        "Bake the {food} until golden and serve it warm",
        "Season the {food} with salt, pepper and fresh herbs",
        "Chop the {food} finely before adding it to the pan",
    ),
    "finance": (
        "Shares of {firm} fell after weak quarterly earnings",
        "{firm} raised its dividend as profits grew",
        "Investors sold {firm} bonds when interest rates rose",
        "The central bank warned that {firm} holds too much debt",
    ),
}
FILL = {
    "team": ["Lions", "Rovers", "City", "United", "Rangers", "Wolves"],
    "match": ["final", "derby", "cup tie", "semi-final", "league game"],
    "food": ["onions", "chicken", "carrots", "salmon", "mushrooms", "potatoes"],
    "firm": ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay"],
}


def corpus(count: int) -> list[tuple[str, str]]:
    chance = random.Random(3)
    rows = []
    for n in range(count):
        topic = list(TOPICS)[n % 3]
        template = chance.choice(TOPICS[topic])
        rows.append((template.format(**{k: chance.choice(v) for k, v in FILL.items()}), topic))
    return rows


def news(deps, count: int, task_type: str = "text_multiclass", classes=tuple(TOPICS)):
    """A project of `count` generated news lines, uploaded as one .jsonl; (its id, the rows)."""
    rows = corpus(count)
    project_id = create(deps, task_type, list(classes), trainAfter=60)
    lines = "".join(json.dumps({"text": text}) + "\n" for text, _ in rows).encode()
    upload(deps, project_id, [("news.jsonl", lines)])
    return project_id, rows


def test_text_pre_labels_meet_the_target_on_held_out_texts(deps):
    # Each class must vouch for itself: some 55 right answers of its own clear 95 % at 95 %.
    project_id, rows = news(deps, 300)
    truth = {i.id: rows[i.row - 1][1] for i in items(deps, project_id)}
    label(deps, project_id, 180, lambda item: {"label": truth[item.id]})
    request_training(deps, project_id=project_id, actor=OWNER)
    drain(deps, ASSIST_TRAIN)

    waiting = [i for i in items(deps, project_id) if i.state is ItemState.UNLABELED]
    suggested = [i for i in waiting if i.prediction is not None]
    right = sum(i.prediction.value.label == truth[i.id] for i in suggested)
    assert right / len(suggested) >= 0.95 and len(suggested) / len(waiting) >= 0.5
    runs = {run.kind: run for run in assist_status(deps, project_id=project_id, actor=OWNER).runs}
    assert RunKind.CLUSTER not in runs  # pages of similar items are for images
    assert runs[RunKind.FEATURIZE].metrics["computed"] == 300


def test_multi_label_texts_get_label_sets(deps):
    project_id, rows = news(deps, 300, "text_multilabel", (*TOPICS, "names a firm"))

    def labels_of(text: str, topic: str) -> list[str]:
        firm = any(name in text for name in FILL["firm"])
        return sorted([topic, "names a firm"] if firm else [topic])

    truth = {i.id: labels_of(*rows[i.row - 1]) for i in items(deps, project_id)}
    label(deps, project_id, 180, lambda item: {"labels": truth[item.id]})
    request_training(deps, project_id=project_id, actor=OWNER)
    drain(deps, ASSIST_TRAIN)

    suggested = [i for i in items(deps, project_id) if i.prediction is not None]
    assert suggested, "no pre-labels"
    right = sum(sorted(i.prediction.value.labels) == truth[i.id] for i in suggested)
    assert right / len(suggested) >= 0.95


def test_a_model_below_target_says_so_and_pre_labels_nothing(deps):
    project_id, _ = news(deps, 90)
    chance = random.Random(5)  # labels that have nothing to do with the texts
    label(deps, project_id, 60, lambda item: {"label": chance.choice(list(TOPICS))})
    request_training(deps, project_id=project_id, actor=OWNER)
    drain(deps, ASSIST_TRAIN)

    runs = {run.kind: run for run in assist_status(deps, project_id=project_id, actor=OWNER).runs}
    assert "no threshold reaches 95%" in runs[RunKind.VALIDATE].message
    assert runs[RunKind.INFER].metrics["prelabeled"] == 0
    assert not any(i.prediction for i in items(deps, project_id))


def test_the_gpu_job_entry_drains_the_assist_queue(deps):
    from core import job
    from core.services.stages import QUEUE_SPECS

    project_id, rows = news(deps, 90)
    truth = {i.id: rows[i.row - 1][1] for i in items(deps, project_id)}
    label(deps, project_id, 60, lambda item: {"label": truth[item.id]})
    request_training(deps, project_id=project_id, actor=OWNER)
    assert job.drain(deps, QUEUE_SPECS[ASSIST_TRAIN], max_messages=10) == 1
    status = assist_status(deps, project_id=project_id, actor=OWNER)
    assert not status.pending and status.current is not None
    assert {run.status.value for run in status.runs} == {"succeeded"}
