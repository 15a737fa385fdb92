"""The timer triggers come from the one table of periodic jobs (`core.schedule`), which the
embedded runtime's scheduler runs too; their schedules come from the settings."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from types import ModuleType

import pytest

import functions.timers
from core.local.runtime import periodic_jobs
from core.schedule import PERIODIC
from core.settings import Settings
from functions import context
from tests.functions.test_function_app import bindings, functions_of


@pytest.fixture
def reload_timers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield
    monkeypatch.undo()
    importlib.reload(functions.timers)  # the schedules of the defaults again, for other tests


def schedules(app: ModuleType) -> dict[str, str]:
    timers = {}
    for name, function in functions_of(app).items():
        (binding, *_) = bindings(function)
        if binding["type"] == "timerTrigger":
            timers[name] = binding["schedule"]
    return timers


def test_each_periodic_job_is_a_timer_and_a_local_job(function_app: ModuleType) -> None:
    assert schedules(function_app) == {
        "refresh_sweep": "0 */2 * * * *",
        "lease_sweep": "30 * * * * *",
        "label_classes_sweep": "50 * * * * *",
        "training_schedule": "15 * * * * *",
        "recount_sweep": "45 * * * * *",
    }
    shared, apart = periodic_jobs(context.deps(), Settings())
    local = {job.name: job.every_s for job in [*shared, *apart]}
    assert local == {
        "refresh_sweep": 10,
        "lease_sweep": 30,
        "label_classes_sweep": 30,
        "training_schedule": 10,
        "recount_sweep": 60,
    }
    assert [job.name for job in apart] == ["recount_sweep"]  # long scans: a thread of its own


def test_schedules_follow_their_settings(
    function_app: ModuleType, monkeypatch: pytest.MonkeyPatch, reload_timers: None
) -> None:
    monkeypatch.setenv("LOUPE_RECOUNT_S", "7200")
    monkeypatch.setenv("LOUPE_RELABEL_SWEEP_S", "300")
    monkeypatch.setenv("LOUPE_TRAINING_SWEEP_S", "1")  # Azure fires at most once a minute
    importlib.reload(functions.timers)
    app = importlib.reload(function_app)
    found = schedules(app)
    assert found["recount_sweep"] == "45 0 */2 * * *"
    assert found["label_classes_sweep"] == "50 */5 * * * *"
    assert found["training_schedule"] == "15 * * * * *"
    settings = Settings.from_env()
    assert {p.name: p.every_s(settings) for p in PERIODIC}["label_classes_sweep"] == 300


def test_a_short_lease_is_swept_at_a_quarter_of_its_length() -> None:
    (lease,) = [p for p in PERIODIC if p.name == "lease_sweep"]
    assert lease.every_s(Settings(task_lease_s=20)) == 5
    assert lease.every_s(Settings(task_lease_s=600)) == 30
