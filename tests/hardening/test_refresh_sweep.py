"""Found by the soak: the refresh sweep (every two seconds in `loupe serve`'s API process) read
the newest blobs of every dataset again on every pass, forever: a 100k-row file re-parsed every
two seconds, stalling labelers' requests. An unchanged blob is now read once; a changed one
(new etag) again, so appended rows still arrive."""

from __future__ import annotations

import json
from collections.abc import Iterator

from core.adapters.memory import MemoryBlobStore
from core.domain.datasets import Dataset, DataSource
from core.domain.projects import ProjectSettings
from core.local.workers import QueueWorker
from core.ports import Query
from core.services import projects, stages
from core.services.refresh import reconcile
from core.store.collections import ITEMS, scan
from tests.support.deps import memory_deps
from tests.support.labeling import creator
from tests.support.reliability import Recorder, Row


class CountingBlobs(MemoryBlobStore):
    reads = 0

    def stream(self, container: str, name: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        self.reads += 1
        return super().stream(container, name, chunk_size)


def rows(start: int, stop: int) -> bytes:
    return "".join(json.dumps({"text": f"row {n}"}) + "\n" for n in range(start, stop)).encode()


def test_the_sweep_reads_an_unchanged_blob_once(reliability: Recorder) -> None:
    deps = memory_deps()
    blobs = CountingBlobs(deps.clock)
    deps.blobs = blobs
    blobs.put("lake", "in/rows.jsonl", rows(0, 1000))
    settings = ProjectSettings.model_validate(
        {
            "name": "Rows",
            "taskType": "text_multiclass",
            "labelClasses": [{"name": "a"}, {"name": "b"}],
            "dataset": Dataset(source=DataSource.BLOB, container="lake", path="in/**"),
        }
    )
    creator(deps, "ann")
    project = projects.create_project(deps, settings=settings, actor="ann").value
    worker = QueueWorker(deps, list(stages.QUEUE_SPECS.values()), stages.handle)
    while worker.run_once():
        pass
    before = blobs.reads

    sweeps = [reconcile(deps) for _ in range(10)]

    assert sweeps == [0] * 10
    read = blobs.reads - before
    assert read <= 1  # once: the first pass compares the listing with the items
    blobs.put("lake", "in/rows.jsonl", rows(0, 1200))  # 200 rows appended: a new etag
    assert reconcile(deps) == 200
    assert reconcile(deps) == 0
    count = sum(1 for _ in scan(deps.documents.container(ITEMS), project.id, Query()))
    assert count == 1200
    reliability.record(
        Row(
            suite="soak findings",
            test="refresh sweep reads an unchanged blob once",
            load="10 sweeps over a 1,000-row .jsonl, then 200 rows appended",
            inputs="unchanged blob; changed blob (new etag)",
            result={"reads_in_10_sweeps": read, "appended_rows_found": 200},
        )
    )
