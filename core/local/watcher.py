"""The embedded runtime's new files: a folder watcher for events, and the rare sweep.

A file dropped into `.data/blobs/<container>/...` (or copied there by any tool) is a blob like
an uploaded one. The watcher (inotify through watchdog; the platform's own API elsewhere)
watches the folders that live projects read and registers a file once it is written (closed,
or renamed into place), in batches, through the same service as Azure's blob events. The
reconciliation sweep (`core.services.refresh.reconcile`) runs for each project every
`LOUPE_RECONCILE_S` and lists only what changed since its last run: it catches what events
missed (a watcher that could not start, a burst past what it holds, files written while the
server was down). An idle server costs neither listings nor reads, however many files."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from core.adapters.blob_names import check_blob_name, check_container_name
from core.adapters.local.blobs import RESERVED, FolderBlobStore
from core.domain.datasets import DataSource
from core.domain.errors import InvalidInput
from core.local.scheduler import Job
from core.ports import Deps, Query, Where
from core.services.ingestion import readable, source_of
from core.services.projects import load_project
from core.services.refresh import LIVE, reconcile, register_blobs
from core.store.collections import PROJECTS, scan

log = logging.getLogger("loupe.watcher")

OVERFLOW_CHECK_S = 10.0  # files the watcher dropped are swept for within this
WATCH_SYNC_S = 5.0  # a new project's folder is watched within this
DRAIN_S = 0.5  # a written file is registered within about this
SETTLE_S = 2.0  # a file created but not closed (a hard link, a move) is taken after this quiet
PENDING_MAX = 200_000  # more files at once than this: the rest are left to a sweep, run at once
BATCH = 2_000
EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileClosedEvent,
    FileMovedEvent,
    DirCreatedEvent,
    DirMovedEvent,
]


def watcher_jobs(deps: Deps) -> tuple[list[Job], FolderWatcher | None]:
    """The watcher's jobs where the blobs are a folder (the periodic sweep itself is a job of
    `core.schedule`): follow the projects, register what was written, and sweep every project
    at once when the watcher dropped events."""
    if not isinstance(deps.blobs, FolderBlobStore):
        return [], None
    watcher = FolderWatcher(deps, deps.blobs.root)

    def drain() -> None:
        if added := watcher.drain():
            log.info("registered %d new file(s) the watcher saw", added)

    def overflowed() -> None:
        if watcher.take_overflow():
            reconcile(deps)  # the watcher dropped files: every project, now

    return [
        Job("watch-sync", WATCH_SYNC_S, watcher.sync),
        Job("watch-drain", DRAIN_S, drain),
        Job("watch-overflow", OVERFLOW_CHECK_S, overflowed),
    ], watcher


class FolderWatcher(FileSystemEventHandler):
    """Watches the folders of live projects; `sync` follows the projects, `drain` registers
    what was written. Both run on the scheduler's thread; events arrive on watchdog's."""

    def __init__(self, deps: Deps, root: Path, *, settle_s: float = SETTLE_S) -> None:
        self._deps = deps
        self._root = root.absolute()
        self._settle_s = settle_s
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], tuple[float, bool]] = {}
        self._overflow = False
        self._observer: BaseObserver | None = None
        self._watches: dict[Path, ObservedWatch] = {}
        self._failed: set[Path] = set()

    # -- which folders -------------------------------------------------------------------

    def sync(self) -> None:
        wanted = _outermost(set(self._folders()))
        if self._observer is None and wanted:
            self._observer = Observer()
            self._observer.daemon = True
            self._observer.start()
        for folder in set(self._watches) - wanted:
            watch = self._watches.pop(folder)
            if self._observer is not None:
                self._observer.unschedule(watch)
        for folder in sorted(wanted - set(self._watches)):
            self._watch(folder)

    def _watch(self, folder: Path) -> None:
        assert self._observer is not None
        try:
            watch = self._observer.schedule(self, str(folder), recursive=True, event_filter=EVENTS)
        except OSError as error:  # inotify's limits: the sweep still finds the files
            if folder not in self._failed:
                log.warning(
                    "cannot watch %s (%s): new files there wait for the sweep", folder, error
                )
                self._failed.add(folder)
            return
        self._failed.discard(folder)
        self._watches[folder] = watch
        log.info("watching %s for new files", folder)

    def _folders(self) -> Iterator[Path]:
        """For each live project that takes new files, the deepest existing folder above its
        listing prefix."""
        deps = self._deps
        query = Query(
            where=(Where("status", "in", LIVE), Where("deletedAt", "missing")), page_size=100
        )
        for document in scan(deps.documents.container(PROJECTS), None, query):
            project = load_project(document)
            takes = project.incremental_refresh or project.dataset.source is DataSource.UPLOAD
            if not takes or not readable(deps, project):
                continue
            source = source_of(deps, project)
            prefix = (source.root + project.dataset.listing_prefix).rpartition("/")[0]
            folder = self._root.joinpath(source.container, *[p for p in prefix.split("/") if p])
            while not folder.is_dir() and folder != self._root:
                folder = folder.parent
            yield folder

    # -- events --------------------------------------------------------------------------

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            return  # a folder moved in comes with created events for its files
        ready = isinstance(event, FileClosedEvent | FileMovedEvent)
        path = event.dest_path if isinstance(event, FileMovedEvent) else event.src_path
        key = self._blob(os.fsdecode(path))
        if key is None:
            return
        with self._lock:
            if len(self._pending) >= PENDING_MAX and key not in self._pending:
                self._overflow = True
                return
            was = self._pending.get(key)
            self._pending[key] = (time.monotonic(), ready or (was is not None and was[1]))

    def _blob(self, path: str) -> tuple[str, str] | None:
        """(container, name) of a file under the root, or None for temp and meta files."""
        try:
            parts = Path(path).relative_to(self._root).parts
        except ValueError:
            return None
        if len(parts) < 2 or any(part.startswith(RESERVED) for part in parts):
            return None
        try:
            return check_container_name(parts[0]), check_blob_name("/".join(parts[1:]))
        except InvalidInput:
            return None  # not a name a blob can have: no project can take it

    def take_overflow(self) -> bool:
        with self._lock:
            overflow, self._overflow = self._overflow, False
        return overflow

    # -- registering ---------------------------------------------------------------------

    def drain(self) -> int:
        """Register the files that are written (closed or renamed into place, or quiet for
        `settle_s`); returns how many items that added."""
        now = time.monotonic()
        with self._lock:
            due = [
                k for k, (at, ready) in self._pending.items() if ready or now - at >= self._settle_s
            ]
            for key in due:
                del self._pending[key]
        by_container: dict[str, list[str]] = {}
        for container, name in due:
            by_container.setdefault(container, []).append(name)
        added = 0
        for container, names in sorted(by_container.items()):
            for start in range(0, len(names), BATCH):
                added += register_blobs(
                    self._deps, container=container, names=names[start : start + BATCH]
                )
        return added

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
        self._watches.clear()


def _outermost(folders: set[Path]) -> set[Path]:
    """Folders none of whose ancestors is in the set (a recursive watch covers those)."""
    return {f for f in folders if not any(parent in folders for parent in f.parents)}
