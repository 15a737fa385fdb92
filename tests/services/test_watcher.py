"""The embedded runtime's new-file events: a folder watcher (inotify through watchdog) finds
files however they arrive in a project's folder (written by a tool, renamed into place, hard
linked, or put by the store), registers each once, and ignores temp files, other folders and
projects that do not refresh. The rare sweep lists only what changed since it last ran."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.adapters.local.blobs import FolderBlobStore
from core.adapters.memory import ManualClock
from core.domain.datasets import Dataset, DataSource
from core.domain.projects import ProjectSettings
from core.local.runtime import periodic_jobs
from core.local.watcher import FolderWatcher, watcher_jobs
from core.ports import BlobInfo, Deps, Query
from core.services import projects, refresh, stages
from core.services.refresh import reconcile
from core.settings import Settings
from core.store.collections import ITEMS, scan
from tests.support.deps import local_deps
from tests.support.labeling import creator
from tests.support.media import image_bytes


class CountingFolder(FolderBlobStore):
    listed = 0
    reads = 0

    def list(self, container: str, prefix: str = "") -> Iterator[BlobInfo]:
        for info in super().list(container, prefix):
            self.listed += 1
            yield info

    def list_since(self, container: str, prefix: str, since: object) -> Iterator[BlobInfo]:
        for info in super().list_since(container, prefix, since):  # type: ignore[arg-type]
            self.listed += 1
            yield info

    def stream(self, container: str, name: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        self.reads += 1
        return super().stream(container, name, chunk_size)


@pytest.fixture
def deps(tmp_path: Path) -> Iterator[Deps]:
    made = local_deps(tmp_path, ManualClock(datetime.now(UTC)))  # the folder's clock
    made.blobs = CountingFolder(tmp_path / "blobs")
    creator(made, "ann")
    yield made
    made.close()


def settings(name: str = "Lake", path: str = "in/**", **changes: object) -> ProjectSettings:
    fields: dict[str, object] = {
        "name": name,
        "taskType": "image_multiclass",
        "labelClasses": [{"name": "a"}, {"name": "b"}],
        "dataset": Dataset(source=DataSource.BLOB, container="lake", path=path),
    }
    return ProjectSettings.model_validate(fields | changes)


def drain_stages(deps: Deps) -> None:
    while batch := [
        (q, m) for q in stages.QUEUE_SPECS for m in deps.queue.receive(q, max_messages=50)
    ]:
        for queue, message in batch:
            stages.handle(deps, queue, message.body)
            deps.queue.complete(message)


def paths(deps: Deps, project_id: str) -> list[str]:
    found = scan(deps.documents.container(ITEMS), project_id, Query())
    return sorted(str(d.body["path"]) for d in found)


def until(check: object, watcher: FolderWatcher, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        watcher.drain()
        if callable(check) and check():
            return
        time.sleep(0.05)
    raise AssertionError("the watcher did not register the files in time")


def test_the_watcher_registers_files_however_they_arrive(deps: Deps, tmp_path: Path) -> None:
    blobs = deps.blobs
    assert isinstance(blobs, CountingFolder)
    blobs.put("lake", "in/first.png", image_bytes())
    on = projects.create_project(deps, settings=settings(), actor="ann").value
    off = projects.create_project(
        deps, settings=settings("Off", incrementalRefresh=False), actor="ann"
    ).value
    drain_stages(deps)
    watcher = FolderWatcher(deps, blobs.root, settle_s=0.3)
    watcher.sync()
    try:
        folder = blobs.root / "lake" / "in"
        (folder / "written.png").write_bytes(image_bytes())  # a tool writes: closed
        outside = tmp_path / "elsewhere.png"
        outside.write_bytes(image_bytes())
        os.link(outside, folder / "linked.png")  # created, never written: settles
        (tmp_path / "moved.png").write_bytes(image_bytes())
        (folder / "sub").mkdir()
        os.rename(tmp_path / "moved.png", folder / "sub" / "moved.png")  # renamed into place
        blobs.put("lake", "in/put.png", image_bytes())  # the store: temp file, then rename
        (blobs.root / "lake" / "other").mkdir()
        (blobs.root / "lake" / "other" / "no.png").write_bytes(image_bytes())  # not the dataset
        (folder / ".loupe-tmp-x.png").write_bytes(b"partial")  # a temp file
        wanted = ["in/first.png", "in/linked.png", "in/put.png", "in/sub/moved.png"]
        wanted.append("in/written.png")

        until(lambda: paths(deps, on.id) == wanted, watcher)

        reads = blobs.reads
        (folder / "written.png").write_bytes(image_bytes())  # rewritten: the item stays
        until(lambda: watcher.pending() == 0, watcher)
        assert paths(deps, on.id) == wanted
        assert blobs.reads == reads  # an item it has is not read again
        assert paths(deps, off.id) == ["in/first.png"]  # refresh off: initialization only
    finally:
        watcher.stop()


def test_a_new_projects_folder_is_watched_once_it_exists(deps: Deps) -> None:
    blobs = deps.blobs
    assert isinstance(blobs, FolderBlobStore)
    watcher = FolderWatcher(deps, blobs.root, settle_s=0.3)
    try:
        watcher.sync()  # no project yet: nothing watched
        project = projects.create_project(deps, settings=settings(path="deep/er/**"), actor="ann")
        drain_stages(deps)
        watcher.sync()  # the folder does not exist: its nearest existing parent is watched
        blobs.put("lake", "deep/er/a.png", image_bytes())
        until(lambda: paths(deps, project.value.id) == ["deep/er/a.png"], watcher)
        watcher.sync()  # now it exists: watched itself
        blobs.put("lake", "deep/er/b.png", image_bytes())
        until(lambda: len(paths(deps, project.value.id)) == 2, watcher)
    finally:
        watcher.stop()


def test_the_sweep_is_rare_and_lists_only_what_changed(
    deps: Deps, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(refresh, "OVERLAP", timedelta(seconds=1))  # for a test's patience
    blobs = deps.blobs
    assert isinstance(blobs, CountingFolder)
    for folder in range(20):
        for n in range(50):
            blobs.put("lake", f"in/{folder:02d}/{n:02d}.png", b"not read: over the cap")
    capped = settings(ingest={"itemCap": 10})
    project = projects.create_project(deps, settings=capped, actor="ann").value
    drain_stages(deps)
    every = timedelta(seconds=1)
    blobs.listed = 0

    def sweep_later() -> int:
        time.sleep(1.1)  # change times settle; the sweep is due
        deps.clock.advance((datetime.now(UTC) - deps.clock.now()).total_seconds())  # type: ignore[attr-defined]
        blobs.listed = 0
        reconcile(deps, every=every)
        return blobs.listed

    assert sweep_later() == 1000  # the first sweep compares the whole listing with the items
    blobs.listed = 0
    reconcile(deps, every=every)  # not due
    assert blobs.listed == 0
    assert sweep_later() == 0  # due, but nothing changed: a stat of each folder
    blobs.put("lake", "in/07/new.png", b"x")
    assert sweep_later() == 1  # one folder changed: only its new file
    assert len(paths(deps, project.id)) == 10
    jobs, watcher = watcher_jobs(deps)
    assert [job.name for job in jobs] == ["watch-sync", "watch-drain", "watch-overflow"]
    assert watcher is not None
    shared, _ = periodic_jobs(deps, Settings(reconcile_s=600))
    (sweep,) = [job for job in shared if job.name == "refresh_sweep"]
    assert sweep.every_s == 10  # looks for projects due every 10 s; each is due every 600 s
