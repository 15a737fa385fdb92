"""The recount sweep as the Functions host runs it: a timer every minute that corrects the
dashboard's counters against the items."""

from __future__ import annotations

import time
from types import ModuleType

import pytest

from core.domain.progress import RECOUNT
from core.domain.projects import Role
from core.services import dashboard
from core.services.labeling import submit_annotation
from core.services.tasks import next_task
from core.store.collections import STATS
from functions import context
from tests.functions.test_function_app import bindings, functions_of
from tests.support.labeling import add_items, running_project


def test_the_recount_timer_corrects_a_count_a_crash_cut_off(
    function_app: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    functions = functions_of(function_app)
    (timer,) = bindings(functions["recount_sweep"])
    assert timer["type"] == "timerTrigger" and timer["schedule"] == "45 * * * * *"  # each minute

    deps = context.deps()
    project = running_project(deps, members={"lee": Role.LABELER})
    add_items(deps, project, 2)
    task = next_task(deps, project_id=project.id, actor="lee")
    submit_annotation(
        deps, project_id=project.id, actor="lee", item_id=task.items[0].id, value={"label": "cat"}
    )
    deps.documents.container(STATS).delete(project.id, "lee")  # the counter write never landed
    assert dashboard.dashboard(deps, project_id=project.id, actor="olive").labels == {}

    # The real clock runs on: with a one-second interval, the gap is corrected by the first run
    # if the item changed over a second ago, else by the second run a second later.
    monkeypatch.setenv("LOUPE_RECOUNT_S", "1")
    context.settings.cache_clear()
    run = functions["recount_sweep"].get_user_function()
    run(None)
    time.sleep(1.1)
    run(None)
    assert deps.documents.container(STATS).read(project.id, RECOUNT).body["corrections"]
    board = dashboard.dashboard(deps, project_id=project.id, actor="olive")
    assert board.labels == {"cat": 1}
    assert [(p.user, p.submitted, p.answers) for p in board.labelers] == [("lee", 1, 1)]
