"""The Container Apps job's entry: drains one stage queue with the stage handlers, then stops."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import pytest

from core import job
from core.domain.messages import INGEST_BATCH, PROJECT_INIT
from core.domain.projects import ProjectSettings
from core.services import projects
from core.services.assist_inputs import device_figures
from core.services.stages import QUEUE_SPECS
from core.settings import Settings
from tests.support.deps import memory_deps
from tests.support.labeling import creator


def test_drain_handles_what_waits_and_stops_when_the_queue_is_empty() -> None:
    deps = memory_deps()
    settings = ProjectSettings.model_validate(
        {"name": "Docs", "taskType": "text_ner", "labelClasses": [{"name": "PER"}]}
    )
    creator(deps, "ann")
    created = projects.create_project(deps, settings=settings, actor="ann")  # project-init
    deps.blobs.put("data", f"uploads/{created.value.id}/a.txt", b"Ada Lovelace")
    assert job.drain(deps, QUEUE_SPECS[PROJECT_INIT], max_messages=10) == 1
    assert deps.queue.receive(PROJECT_INIT) == []
    assert deps.queue.receive(INGEST_BATCH)  # the stage ran: it fanned out a batch
    assert job.drain(deps, QUEUE_SPECS[PROJECT_INIT], max_messages=10) == 0


def test_a_queue_without_a_stage_fails_its_messages() -> None:
    with pytest.raises(LookupError, match="no stage handles queue 'no-such-queue'"):
        job.handle(memory_deps(), "no-such-queue", {"projectId": "p"})


def test_the_queue_must_be_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOUPE_TRAINING_QUEUE", raising=False)
    with pytest.raises(SystemExit):
        job.main([])


# -- the GPU ----------------------------------------------------------------------------------


def test_a_gpu_profile_without_an_active_cuda_provider_is_reported(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.assist import featurizer

    assert job.check_device(Settings()) is None  # no GPU profile: nothing expected
    # onnxruntime lists CUDA, but this build cannot load it: the probe session shows the truth.
    monkeypatch.setattr(
        featurizer.ort,
        "get_available_providers",
        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"],
    )
    assert featurizer.active_providers() == ["CPUExecutionProvider"]
    with caplog.at_level(logging.ERROR, logger="loupe.job"):
        problem = job.check_device(Settings(gpu_profile="Consumption-GPU-NC8as-T4"))
    assert problem is not None and "falls back to the CPU" in problem
    assert (
        "Consumption-GPU-NC8as-T4" in caplog.text and "CUDA provider is not active" in caplog.text
    )


@dataclass
class _Sessions:
    providers: list[str]


def test_featurize_runs_say_where_they_ran() -> None:
    cpu, gpu = ["CPUExecutionProvider"], ["CUDAExecutionProvider", "CPUExecutionProvider"]
    local = memory_deps()
    assert device_figures(local, _Sessions(cpu)) == ({"gpu": 0.0}, None)  # type: ignore[arg-type]
    on_profile = replace(local, gpu_profile="Consumption-GPU-NC8as-T4")
    metrics, message = device_figures(on_profile, _Sessions(gpu))  # type: ignore[arg-type]
    assert (metrics, message) == ({"gpu": 1.0}, None)
    metrics, message = device_figures(on_profile, _Sessions(cpu))  # type: ignore[arg-type]
    assert metrics == {"gpu": 0.0}
    assert message is not None and message.startswith("featurized on the CPU")
    assert "Consumption-GPU-NC8as-T4" in message


def test_the_job_reads_its_gpu_profile() -> None:
    env = {"LOUPE_GPU_PROFILE": "Consumption-GPU-NC24-A100"}
    assert Settings.from_env(env).gpu_profile == "Consumption-GPU-NC24-A100"
    assert Settings.from_env({}).gpu_profile is None
