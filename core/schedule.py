"""The periodic jobs, declared once: what each calls, how often, and where in the minute its
Azure timer fires. `functions/timers.py` makes a timer trigger of each row; the embedded
runtime's scheduler (`core.local.scheduler`) runs the same rows. Every interval is a setting.

Azure timers bill per run, so each fires at most once a minute (`azure_floor_s`); the services
gate their own work (a project is reconciled or recounted at most once per its interval), so a
timer that fires more often than a setting asks costs a query, never extra work."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from core.ports import Deps
from core.services.assist import schedule_training
from core.services.label_classes import send_pending_rewrites
from core.services.recount import recount
from core.services.refresh import reconcile
from core.services.tasks import expire_leases
from core.settings import Settings

log = logging.getLogger("loupe.schedule")


@dataclass(frozen=True)
class Periodic:
    name: str
    """The Function's name on Azure, the job's name in the embedded scheduler."""
    run: Callable[[Deps, Settings], int]
    """The service call; returns how many things it did."""
    every_s: Callable[[Settings], float]
    """Seconds between runs, read from the settings."""
    done: str
    """What a run that did something logs (`%d`: how many)."""
    at_second: int
    """Where in the minute the Azure timer fires: the timers are spread, not woken at once."""
    azure_floor_s: float = 60.0
    """The shortest interval of its Azure timer: each firing is a billed execution."""
    own_thread: bool = False
    """Runs on a scheduler thread of its own locally: a long scan must not hold up the rest."""
    warn: bool = False
    """Logs a run that did something as a warning: it repaired what a crash left."""

    def ncrontab(self, settings: Settings) -> str:
        """The Azure timer's schedule (NCRONTAB, with seconds) for this job's interval."""
        minutes = math.ceil(max(self.every_s(settings), self.azure_floor_s) / 60)
        if minutes == 1:
            return f"{self.at_second} * * * * *"
        if minutes < 60:
            return f"{self.at_second} */{minutes} * * * *"
        return f"{self.at_second} 0 */{min(24, math.ceil(minutes / 60))} * * *"

    def __call__(self, deps: Deps, settings: Settings) -> None:
        if count := self.run(deps, settings):
            log.log(logging.WARNING if self.warn else logging.INFO, self.done, count)


def _lease_sweep_s(settings: Settings) -> float:
    # A short lease (tests) is swept often enough to matter.
    return min(settings.lease_sweep_s, max(settings.task_lease_s / 4, 0.5))


PERIODIC = (
    Periodic(
        "refresh_sweep",
        lambda deps, s: reconcile(deps, every=timedelta(seconds=s.reconcile_s)),
        lambda s: min(s.reconcile_s, s.refresh_sweep_s),
        "registered %d file(s) the reconciliation sweep found",
        at_second=0,
        azure_floor_s=120.0,
    ),
    Periodic(
        "lease_sweep",
        lambda deps, s: expire_leases(deps),
        _lease_sweep_s,
        "returned %d expired task lease(s) to the queue",
        at_second=30,
    ),
    Periodic(
        "label_classes_sweep",
        lambda deps, s: send_pending_rewrites(deps),
        lambda s: s.relabel_sweep_s,
        "started %d label-class rewrite(s) whose request died before",
        at_second=50,
        warn=True,
    ),
    Periodic(
        "training_schedule",
        lambda deps, s: schedule_training(deps),
        lambda s: s.training_sweep_s,
        "queued %d ML-assist training cycle(s)",
        at_second=15,
    ),
    Periodic(
        "recount_sweep",
        lambda deps, s: recount(deps, every=timedelta(seconds=s.recount_s)),
        lambda s: s.recount_s,
        "corrected %d dashboard count(s) against the items",
        at_second=45,
        own_thread=True,
    ),
)
