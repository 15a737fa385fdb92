"""Timer triggers: one per periodic job of `core.schedule` (the reconciliation sweep, the
lease sweep, the label-class rewrites a dead writer left, the training schedule, the recount).

The schedules come from the settings when the Functions host indexes this module (the worker
imports it with the app settings in its environment), so an interval is set in one place for
both runtimes; a changed setting takes effect as the app restarts, like any app setting."""

from __future__ import annotations

from collections.abc import Callable

import azure.functions as func

from core.schedule import PERIODIC, Periodic
from core.settings import Settings
from functions import context

bp = func.Blueprint()  # type: ignore[no-untyped-call]  # the SDK leaves it untyped


def _timer(job: Periodic) -> Callable[[func.TimerRequest], None]:
    def trigger(timer: func.TimerRequest) -> None:
        job(context.deps(), context.settings())

    trigger.__name__ = job.name
    return trigger


for _job in PERIODIC:
    bp.function_name(_job.name)(
        bp.timer_trigger(
            arg_name="timer", schedule=_job.ncrontab(Settings.from_env()), run_on_startup=False
        )(_timer(_job))
    )
