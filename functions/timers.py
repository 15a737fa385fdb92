"""Timer triggers: the reconciliation sweep that catches blobs no event announced (other
containers, missed events), and keeps each project's "last refreshed" time; the lease sweep
that returns abandoned tasks to the queue; the training schedule that starts an ML-assist cycle
(on the GPU job's queue) in each project with enough new human labels; the recount that checks
the dashboard's counters against the items."""

from __future__ import annotations

from datetime import timedelta

import azure.functions as func

from core.services.assist import schedule_training
from core.services.label_classes import send_pending_rewrites
from core.services.recount import recount
from core.services.refresh import reconcile
from core.services.tasks import expire_leases
from functions import context

bp = func.Blueprint()  # type: ignore[no-untyped-call]  # the SDK leaves it untyped

REFRESH_SCHEDULE = "0 */2 * * * *"
"""Every two minutes (NCRONTAB with seconds); each project is swept at most every
LOUPE_RECONCILE_S (10 minutes by default): blob events register new files at once."""


@bp.function_name("refresh_sweep")
@bp.timer_trigger(arg_name="timer", schedule=REFRESH_SCHEDULE, run_on_startup=False)
def refresh_sweep(timer: func.TimerRequest) -> None:
    reconcile(context.deps(), every=timedelta(seconds=context.settings().reconcile_s))


LEASE_SCHEDULE = "30 * * * * *"
"""Every minute: expired task leases go back to the queue."""


@bp.function_name("lease_sweep")
@bp.timer_trigger(arg_name="timer", schedule=LEASE_SCHEDULE, run_on_startup=False)
def lease_sweep(timer: func.TimerRequest) -> None:
    expire_leases(context.deps())


RELABEL_SCHEDULE = "50 * * * * *"
"""Every minute: a label-class change saved by a writer that died before starting its rewrite
is started."""


@bp.function_name("label_classes_sweep")
@bp.timer_trigger(arg_name="timer", schedule=RELABEL_SCHEDULE, run_on_startup=False)
def label_classes_sweep(timer: func.TimerRequest) -> None:
    send_pending_rewrites(context.deps())


TRAINING_SCHEDULE = "15 * * * * *"
"""Every minute: projects past their next-training mark get a cycle."""


@bp.function_name("training_schedule")
@bp.timer_trigger(arg_name="timer", schedule=TRAINING_SCHEDULE, run_on_startup=False)
def training_schedule(timer: func.TimerRequest) -> None:
    schedule_training(context.deps())


RECOUNT_SCHEDULE = "45 * * * * *"
"""Every minute; each project is recounted at most every LOUPE_RECOUNT_S, and only when its
items or counters changed."""


@bp.function_name("recount_sweep")
@bp.timer_trigger(arg_name="timer", schedule=RECOUNT_SCHEDULE, run_on_startup=False)
def recount_sweep(timer: func.TimerRequest) -> None:
    recount(context.deps(), every=timedelta(seconds=context.settings().recount_s))
