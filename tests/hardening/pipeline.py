"""A project driven through every stage, for the duplicate-delivery suite: images ingested,
some labeled, an export, an import, new label classes, an ML-assist cycle. `prepare` stops once
a message of the stage under test is sent, holds it back undelivered, and returns it.

Ids are made deterministic (uuid4 and `random` seeded), so the state of two separate worlds can
be compared document by document; ids made after `prepare` carry a marker and are compared as
"a fresh id"."""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from core.domain.datasets import Dataset, DataSource
from core.domain.exports import ExportFormat
from core.domain.imports import IMPORT_FILES, import_file
from core.domain.labels import LabelClass
from core.domain.messages import BLOB_CREATED
from core.domain.projects import ProjectSettings
from core.domain.relabel import ExistingLabels
from core.ports import Deps, Query
from core.services import assist, import_jobs, label_classes, labeling, projects, stages, tasks
from core.services.derivatives import DERIVATIVES
from core.services.exports import EXPORTS_CONTAINER, ExportOptions, request_export
from core.services.import_jobs import ImportFile
from core.services.imports import ImportFormat, ImportMode
from core.store.collections import ALL, ITEMS, TOKENS, scan
from tests.support.labeling import creator
from tests.support.media import image_bytes

OWNER = "olive"
LAKE = "lake"
FRESH = "fe"
"""The prefix of every uuid made after `prepare`."""
_FRESH = re.compile(FRESH + r"[0-9a-f]{4,}")
REPORT = "run-metrics"
"""Snapshot lines holding a run's metrics (see `snapshot`)."""
VOLATILE = {"etag", "_etag", "_ts", "_rid", "_self", "_attachments", "itemsPerSecond"}
"""Store bookkeeping that a rewrite of the same content changes, and measured speeds."""
_WALL_CLOCK = re.compile(r"\d{8}T\d{6}-<fresh>")
"""Embedding caches are named by the time they were made (`deps.clock`), which two worlds may
not share."""


class Ids:
    """Deterministic ids, the same sequence in every world while it is prepared: the services'
    (`deps.ids`, a counter of their own, so that a library's thread left over from another test
    drawing a uuid cannot shift them) and uuid4 for adapters and libraries."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, Iterator[int]] = {}
        self._prefix = ""
        self._start = 0
        monkeypatch.setattr(uuid, "uuid4", lambda: self._next("uuid4"))
        random.seed(7)

    def token(self, length: int = 32) -> str:
        return self._next("deps").hex[:length]

    def _next(self, kind: str) -> uuid.UUID:
        with self._lock:
            number = next(self._counters.setdefault(kind, itertools.count(self._start)))
        # Unique in the first six digits too: ids are often cut to 6, 8 or 16 of them.
        return uuid.UUID(hex=f"{self._prefix}{number:0{6 - len(self._prefix)}x}{number:026x}")

    def fresh(self, start: int = 0) -> None:
        """From now on every id says it was made after `prepare` (a process of its own starts
        at its own `start`, so that two processes make different ids)."""
        with self._lock:
            self._counters.clear()
            self._start = start
            self._prefix = FRESH


def drain(deps: Deps, hold: str | None = None, held: list[dict[str, Any]] | None = None) -> int:
    """Run every stage until the queues are empty, as the workers would; the first message of
    queue `hold` is put in `held` instead of being handled."""
    handled = 0
    while True:
        batch = [(q, m) for q in stages.STAGES for m in deps.queue.receive(q, max_messages=50)]
        if not batch:
            return handled
        for queue, message in batch:
            if queue == hold and held is not None and not held:
                held.append(message.body)
            else:
                stages.handle(deps, queue, message.body)
                handled += 1
            deps.queue.complete(message)


def _ingest(deps: Deps, state: dict[str, Any]) -> None:
    for n in range(4):
        deps.blobs.put(LAKE, f"in/{n}.png", image_bytes(size=(40 + n, 30)))
    fields = {
        "name": "Lake",
        "taskType": "image_multiclass",
        "labelClasses": [{"name": "cat"}, {"name": "dog"}],
        "dataset": Dataset(source=DataSource.BLOB, container=LAKE, path="in/**"),
        "assist": {"enabled": True, "trainAfter": 10, "trainEvery": 10},
    }
    settings = ProjectSettings.model_validate(fields)
    creator(deps, OWNER)
    state["project"] = projects.create_project(deps, settings=settings, actor=OWNER).value.id


def _blob_event(deps: Deps, state: dict[str, Any]) -> None:
    """A file added to the dataset, announced as Event Grid announces it on Azure (a
    BlobCreated event on the blob-created queue)."""
    deps.blobs.put(LAKE, "in/new.png", image_bytes(size=(48, 30)))
    subject = f"/blobServices/default/containers/{LAKE}/blobs/in/new.png"
    event = {"id": "evt-1", "eventType": "Microsoft.Storage.BlobCreated", "subject": subject}
    deps.queue.send(BLOB_CREATED, event, message_id="evt-1")


def _label(deps: Deps, state: dict[str, Any]) -> None:
    project_id = state["project"]
    task = tasks.next_task(deps, project_id=project_id, actor=OWNER, size=1)
    for n, item in enumerate(task.items):
        value = {"label": ("cat", "dog")[n % 2]}
        labeling.submit_annotation(
            deps, project_id=project_id, actor=OWNER, item_id=item.id, value=value
        )
    task = tasks.next_task(deps, project_id=project_id, actor=OWNER, size=1)
    for item in task.items:
        labeling.submit_annotation(
            deps, project_id=project_id, actor=OWNER, item_id=item.id, value={"label": "dog"}
        )


def _export(deps: Deps, state: dict[str, Any]) -> None:
    request_export(
        deps,
        project_id=state["project"],
        actor=OWNER,
        format=ExportFormat.COCO,
        options=ExportOptions(),
    )


def _import(deps: Deps, state: dict[str, Any]) -> None:
    """Pre-labels from a file put into storage on its link, imported by the import stage."""
    project_id = state["project"]
    items = scan(deps.documents.container(ITEMS), project_id, Query(page_size=100))
    data = b"".join(
        json.dumps({"path": d.body["path"], "final": {"label": "cat"}}).encode() + b"\n"
        for d in items
    )
    file = ImportFile(
        ImportFormat.LOUPE_JSONL,
        ImportMode.PRELABEL,
        False,
        hashlib.sha256(data).hexdigest(),
        len(data),
    )
    import_jobs.import_link(deps, project_id=project_id, actor=OWNER, file=file, max_bytes=1 << 20)
    deps.blobs.put(IMPORT_FILES, import_file(project_id, OWNER, file.sha256), data)
    import_jobs.start_import(deps, project_id=project_id, actor=OWNER, file=file)


def _new_classes(deps: Deps, state: dict[str, Any]) -> None:
    project_id = state["project"]
    projects.pause_project(deps, project_id=project_id, actor=OWNER)
    label_classes.add_label_classes(
        deps,
        project_id=project_id,
        actor=OWNER,
        classes=[LabelClass(name="fox")],
        existing=ExistingLabels.KEEP_AS_DEFAULTS,
    )


def _train(deps: Deps, state: dict[str, Any]) -> None:
    project_id = state["project"]
    projects.resume_project(deps, project_id=project_id, actor=OWNER)
    _label(deps, state)
    assist.request_training(deps, project_id=project_id, actor=OWNER)


STEPS: list[Callable[[Deps, dict[str, Any]], None]] = [
    _ingest,
    _blob_event,
    _label,
    _export,
    _import,
    _new_classes,
    _train,
]
"""A step per action; together they send a message on every queue in `stages.STAGES`."""


def prepare(deps: Deps, queue: str) -> dict[str, Any]:
    """Drive the project until a message on `queue` is sent; return it undelivered."""
    state: dict[str, Any] = {}
    held: list[dict[str, Any]] = []
    for step in STEPS:
        step(deps, state)
        drain(deps, hold=queue, held=held)
        if held:
            return held[0]
    raise AssertionError(
        f"no step of tests/hardening/pipeline.py sends a message on {queue!r}: add one that "
        "does, so the duplicate-delivery suite covers that stage"
    )


def snapshot(deps: Deps) -> list[str]:
    """Every document and blob, as sorted text, with fresh ids and store bookkeeping masked."""
    found: list[str] = []
    for spec in ALL:
        if spec is TOKENS:  # the owner's, random by design; no stage writes them
            continue
        for document in scan(deps.documents.container(spec), None, Query(page_size=500)):
            body = _without(document.body)
            if spec.name == "runs" and "metrics" in body:
                # What the delivery that wrote the run last measured: compared on its own.
                metrics = body.pop("metrics")
                found.append(f"{REPORT} {body['id']} " + json.dumps(metrics, sort_keys=True))
            found.append(f"{spec.name} " + json.dumps(body, sort_keys=True, default=str))
    # Not the model registry's "models": the bundled backbones, copied once per process.
    for container in (LAKE, deps.data_container, DERIVATIVES, EXPORTS_CONTAINER, IMPORT_FILES):
        for info in deps.blobs.list(container):
            digest = hash(deps.blobs.get(container, info.name))
            found.append(f"blob {container}/{info.name} {info.size} {digest}")
    masked = [_WALL_CLOCK.sub("<time>", _FRESH.sub("<fresh>", line)) for line in found]
    # The embeddings cache is append-only and its reader keeps one row per item
    # (`embeddings._load_shards`): two cycles at once may each add a shard of the same rows.
    shards = {line for line in masked if "/embeddings/" in line}
    return sorted([line for line in masked if "/embeddings/" not in line] + list(shards))


def _without(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_without(v) for v in value]
    return value
