"""The dashboard's counters under a recount sweep that races live work, on every adapter set:
labelers answer and skip, a reviewer rejects, one labeler's counter writes are lost (a crash
between each item's write and its counter's), and the sweep runs all along. Once work stops,
one sweep later the dashboard equals the items, the lost answers are restored as submissions,
and nothing anyone did is counted twice. The fast version runs in `make test`; `make hardening`
works longer (HARDENING_RECOUNT_SECONDS)."""

from __future__ import annotations

import dataclasses
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from core.adapters.clock import SystemClock
from core.domain.errors import Conflict, PreconditionFailed
from core.domain.items import ItemState
from core.domain.progress import RECOUNT, Recount
from core.domain.projects import Role
from core.ports import Deps
from core.services import dashboard, labeling, recount, review, tasks
from core.settings import Settings, SettingsError
from core.store.collections import STATS, load
from tests.support.counters import counter_lost, shown, truth
from tests.support.labeling import add_items, running_project
from tests.support.reliability import Row

SECONDS = float(os.environ.get("HARDENING_RECOUNT_SECONDS", "3"))
ITEMS = int(os.environ.get("HARDENING_RECOUNT_ITEMS", "2000"))
LABELERS = ("lee", "lou", "lia", "leo")
LOST = 5  # answers whose counter writes the crash takes
EVERY = timedelta(seconds=1)  # the sweep's interval and settle time, real seconds here
CLASSES = ("cat", "dog", "bird")


@dataclasses.dataclass
class Tally:
    """What the workers were told succeeded."""

    submitted: Counter[str] = dataclasses.field(default_factory=Counter)
    skipped: Counter[str] = dataclasses.field(default_factory=Counter)
    rejected: int = 0
    scans: int = 0
    corrected_while_busy: int = 0
    errors: list[str] = dataclasses.field(default_factory=list)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)


def guarded(work: Callable[..., None], *args: Any) -> None:
    """Run `work`; an unexpected error is kept for the test to report, not lost in a thread."""
    tally: Tally = args[-2]
    try:
        work(*args)
    except Exception as error:
        with tally.lock:
            tally.errors.append(f"{work.__name__}: {error!r}")
        args[-1].set()


def labeler(deps: Deps, project_id: str, who: str, tally: Tally, stop: threading.Event) -> None:
    chance = random.Random(who)
    while not stop.is_set():
        try:
            task = tasks.next_task(deps, project_id=project_id, actor=who)
            if not task.items:
                return
            item_id = task.items[0].id
            if chance.random() < 0.1:
                labeling.skip_item(deps, project_id=project_id, actor=who, item_id=item_id)
                with tally.lock:
                    tally.skipped[who] += 1
                continue
            value = {"label": chance.choice(CLASSES)}
            labeling.submit_annotation(
                deps, project_id=project_id, actor=who, item_id=item_id, value=value
            )
            with tally.lock:
                tally.submitted[who] += 1
        except (Conflict, PreconditionFailed):
            continue  # a lost race: refused whole, nothing counted


def reviewer(deps: Deps, project_id: str, tally: Tally, stop: threading.Event) -> None:
    while not stop.wait(0.05):
        page = review.list_items(
            deps, project_id=project_id, actor="rita", state=ItemState.LABELED, page_size=3
        )
        for found in page.items[2:]:  # not the newest: its counter may still be on its way
            try:
                review.review_item(
                    deps,
                    project_id=project_id,
                    actor="rita",
                    item_id=found.value.id,
                    decision="reject",
                )
                with tally.lock:
                    tally.rejected += 1
            except (Conflict, PreconditionFailed):
                continue


def sweeper(deps: Deps, project_id: str, tally: Tally, stop: threading.Event) -> None:
    seen = None
    while not stop.wait(0.05):
        corrected = recount.recount_project(deps, project_id=project_id, every=EVERY)
        found = deps.documents.container(STATS).get(project_id, RECOUNT)
        at = load(Recount, found).scanned_at if found else None
        with tally.lock:
            tally.scans += at != seen
            tally.corrected_while_busy += corrected
        seen = at


def ghost(deps: Deps, project_id: str, tally: Tally) -> None:
    """A labeler whose every counter write the crash takes."""
    with counter_lost(deps, project_id, "ghost"):
        for _ in range(LOST):
            task = tasks.next_task(deps, project_id=project_id, actor="ghost")
            labeling.submit_annotation(
                deps,
                project_id=project_id,
                actor="ghost",
                item_id=task.items[0].id,
                value={"label": "cat"},
            )
            time.sleep(0.1)


def test_sweeps_racing_labelers_correct_what_was_lost_and_never_count_twice(
    deps: Deps, request: pytest.FixtureRequest, reliability: Any
) -> None:
    live = dataclasses.replace(deps, clock=SystemClock())  # settle times in real seconds
    crew = {name: Role.LABELER for name in (*LABELERS, "ghost")} | {"rita": Role.REVIEWER}
    project = running_project(live, members=crew, consensus={"minLabelers": 1, "maxLabelers": 1})
    add_items(live, project, ITEMS)
    tally = Tally()
    stop = threading.Event()
    workers = [
        *(
            threading.Thread(target=labeler, args=(live, project.id, n, tally, stop))
            for n in LABELERS
        ),
        threading.Thread(target=reviewer, args=(live, project.id, tally, stop)),
        threading.Thread(target=sweeper, args=(live, project.id, tally, stop)),
    ]
    for worker in workers:
        worker.start()
    time.sleep(SECONDS / 3)
    ghost(live, project.id, tally)
    time.sleep(SECONDS * 2 / 3)
    # A scan of many items on a busy machine can outlast the window, and the sweep spaces scans
    # by DUTY times their length: labeling goes on until a scan has raced it.
    deadline = time.monotonic() + SECONDS * 10
    while tally.scans < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    for worker in workers:
        worker.join(30)
    assert not [w for w in workers if w.is_alive()], "a worker did not stop"
    assert not tally.errors, tally.errors
    busy_scans = tally.scans

    drift_before = truth(live, project.id).drift(shown(live, project.id, "rita"))
    # Work stopped: the next scan, an interval after the last (or DUTY times its length, for a
    # long one), finds the project quiet and corrects the rest.
    last = load(Recount, live.documents.container(STATS).read(project.id, RECOUNT))
    time.sleep(max(EVERY.total_seconds(), recount.DUTY * last.scan_s) + 0.05)
    final = recount.recount_project(live, project_id=project.id, every=EVERY)

    items_say = truth(live, project.id)
    assert shown(live, project.id, "rita") == items_say
    board = dashboard.dashboard(live, project_id=project.id, actor="rita")
    people = {p.user: p for p in board.labelers}
    # Nobody's work counted twice, the ghost's lost answers restored as its submissions.
    assert {u: p.submitted for u, p in people.items() if p.submitted} == dict(
        tally.submitted | {"ghost": LOST}
    )
    assert {u: p.skipped for u, p in people.items() if p.skipped} == dict(tally.skipped)
    assert all(p.submitted >= p.answers for p in people.values())
    state = load(Recount, live.documents.container(STATS).read(project.id, RECOUNT))
    assert state.corrections.get("answers/ghost") == LOST
    assert not [k for k in state.corrections if k.startswith("answers/l")]  # the others': none
    assert busy_scans >= 1, "the sweep never raced the labelers"

    adapter = request.node.callspec.params["deps"]
    reliability.record(
        Row(
            suite="Counters: recount under load",
            test=f"labelers, a reviewer and the recount sweep at once ({adapter})",
            load=(
                f"{len(LABELERS)} labelers and a reviewer for {SECONDS:g} s, the sweep every "
                f"{EVERY.total_seconds():g} s"
            ),
            faults=f"one labeler's counter writes lost ({LOST} answers)",
            inputs="single-labeler consensus; 10 % skips; rejections of labeled items",
            result={
                "submitted": sum(tally.submitted.values()),
                "skipped": sum(tally.skipped.values()),
                "rejected": tally.rejected,
                "scans_while_busy": busy_scans,
                "counts_corrected_while_busy": tally.corrected_while_busy,
                "counts_corrected_once_quiet": final,
                "drift_before_last_sweep": drift_before,
                "drift_after": items_say.drift(shown(live, project.id, "rita")),
                "double_counted": 0,
            },
        )
    )


HOSTILE = [
    "0",
    "0.5",
    "-1",
    "nan",
    "inf",
    "1e9",
    "1e2",
    "1_0",
    "86401",
    "sixty",
    "60s",
    "١٢",
    "0x3c",
]


def test_the_recount_interval_refuses_hostile_values(reliability: Any) -> None:
    assert Settings.from_env({}).recount_s == 60
    assert Settings.from_env({"LOUPE_RECOUNT_S": "2.5"}).recount_s == 2.5
    refused = 0
    for value in HOSTILE:
        with pytest.raises(SettingsError, match="LOUPE_RECOUNT_S") as error:
            Settings.from_env({"LOUPE_RECOUNT_S": value})
        assert "from 1 to 86400" in str(error.value)
        refused += 1
    reliability.record(
        Row(
            suite="Abuse: settings",
            test="LOUPE_RECOUNT_S: hostile values refused at start",
            inputs=", ".join(HOSTILE),
            result={"tried": len(HOSTILE), "refused": refused, "accepted": len(HOSTILE) - refused},
        )
    )
