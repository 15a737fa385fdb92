"""Recording a cycle's steps as runs: queued → running → succeeded or failed, with timings,
metrics and what the step decided, as the dashboard lists them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from core.domain.runs import JobStatus, Run, RunKind
from core.ports import Deps
from core.store.repositories.runs import Runs


@dataclass
class Step:
    """What a step reports; filled in while it works."""

    metrics: dict[str, float] = field(default_factory=dict)
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    message: str | None = None


class RunLog:
    def __init__(self, deps: Deps, project_id: str, cycle: str) -> None:
        self._deps = deps
        self._project_id = project_id
        self._cycle = cycle

    def run_id(self, kind: RunKind) -> str:
        return f"{self._cycle}-{kind.value}"

    @contextmanager
    def step(self, kind: RunKind) -> Iterator[Step]:
        """Run `kind` of this cycle: stored as running now, then with its outcome. Ids are
        fixed by cycle and kind, so a repeated delivery rewrites the same runs."""
        now = self._deps.clock.now()
        run = Run(
            id=self.run_id(kind),
            project_id=self._project_id,
            kind=kind,
            cycle=self._cycle,
            status=JobStatus.RUNNING,
            created_at=now,
            started_at=now,
        )
        runs = Runs(self._deps, self._project_id)
        runs.save(run)
        step = Step()
        try:
            yield step
        except Exception as error:
            failed = run.model_copy(
                update={
                    "status": JobStatus.FAILED,
                    "finished_at": self._deps.clock.now(),
                    "error": f"{type(error).__name__}: {error}"[:2000],
                    "metrics": step.metrics,
                }
            )
            runs.save(failed)
            raise
        done = run.model_copy(
            update={
                "status": JobStatus.SUCCEEDED,
                "finished_at": self._deps.clock.now(),
                "metrics": {k: round(float(v), 6) for k, v in step.metrics.items()},
                "per_class": step.per_class,
                "message": step.message,
            }
        )
        runs.save(done)
