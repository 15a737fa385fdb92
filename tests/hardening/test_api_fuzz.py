"""Schemathesis over the OpenAPI document, against the app `create_app` builds, as each kind of
caller: no request may end in a 5xx, and every 4xx is problem+json (type, title, status,
detail). Every operation runs on a fresh project whose data exists, with its path parameters
set to real ids (and, in a third pass, left to the generator), so the routes get past their
lookups. Seed and example count are fixed here, so a failure reproduces;
`HARDENING_FUZZ_EXAMPLES=100 make hardening` runs more."""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

from core.adapters.local.blobs import FolderBlobStore
from core.domain.projects import Role
from core.http.app import create_app
from core.ports import Deps
from core.settings import Settings
from tests.support.deps import memory_deps
from tests.support.labeling import add_items, running_project, users
from tests.support.reliability import Row

SEED = 20261128
EXAMPLES = int(os.environ.get("HARDENING_FUZZ_EXAMPLES", "4"))
"""Examples per operation and pass (three passes: valid, invalid, and generated ids)."""
PERSONAS = {"owner": "olive", "reviewer": "rita", "labeler": "lee", "stranger": "sam"}


@dataclass
class World:
    """A fresh project per operation: a DELETE or a pause never starves the next operation."""

    root: Path
    deps: Deps = field(init=False)
    tokens: dict[str, str] = field(init=False)
    ids: dict[str, str] = field(init=False)
    made: int = 0

    def reset(self) -> None:
        self.made += 1
        deps = memory_deps()
        deps.blobs = FolderBlobStore(self.root / str(self.made))
        self.tokens = users(deps, *PERSONAS.values())
        project = running_project(
            deps, owner="olive", members={"lee": Role.LABELER, "rita": Role.REVIEWER}
        )
        running_project(deps, name="Elsewhere", owner="sam")
        (item,) = add_items(deps, project, 1)
        deps.blobs.put("data", "x.txt", b"x")
        self.deps = deps
        self.ids = {
            "project_id": project.id,
            "item_id": item,
            "member": "lee",
            "container": "data",
            "name": "x.txt",
        }


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def check(self, label: str, response: Any) -> None:
        status = response.status_code
        self.statuses[status] += 1
        if status >= 500:
            self.failures.append(f"{label}: {status} {response.text[:300]}")
        elif status >= 400:
            kind = str(response.headers.get("content-type", [""])[0])
            body = response.json() if kind.startswith("application/problem+json") else {}
            missing = {"type", "title", "status", "detail"} - set(body)
            if missing or body.get("status") != status:
                self.failures.append(
                    f"{label}: {status} is not problem+json: {response.text[:300]}"
                )


@pytest.fixture
def world(tmp_path: Path) -> World:
    made = World(tmp_path)
    made.reset()
    return made


def run_operation(operation: Any, world: World, persona: str, tally: Tally) -> None:
    names = {p.name for p in operation.iter_parameters() if p.location == "path"}
    real = {name: value for name, value in world.ids.items() if name in names}
    passes = [
        (GenerationMode.POSITIVE, real),
        (GenerationMode.NEGATIVE, real),
        (GenerationMode.POSITIVE, None),
    ]
    for mode, path_parameters in passes:
        strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

        @seed(SEED)
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def fuzz(case: Any) -> None:
            label = f"{persona} {case.method} {case.formatted_path}"
            headers = {"Authorization": f"Bearer {world.tokens[PERSONAS[persona]]}"}
            try:
                response = case.call(headers=headers)
            except Exception as error:  # the test client re-raises what the app did not catch
                tally.statuses[500] += 1
                tally.failures.append(f"{label}: raised {error!r}; case {case!r}")
                return
            tally.check(label, response)

        # Unsatisfiable: no invalid input exists (an operation without parameters).
        with contextlib.suppress(Unsatisfiable):
            fuzz()


@pytest.mark.parametrize("persona", PERSONAS)
def test_fuzz_api(world: World, persona: str, reliability: Any) -> None:
    # The limiter stays in the stack, set so high that it never answers for the app.
    app = create_app(
        lambda: world.deps, Settings(webui_dir=None, secret="s", rate_limit=1e6, rate_burst=10**6)
    )
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    tally = Tally()
    for operation in operations:
        world.reset()
        run_operation(operation, world, persona, tally)

    assert not tally.failures, "\n".join(tally.failures[:20])
    cases = sum(tally.statuses.values())
    assert cases >= len(operations) * EXAMPLES  # the generator did run
    by_class = Counter(f"{status // 100}xx" for status in tally.statuses.elements())
    reliability.record(
        Row(
            suite="API fuzzing (schemathesis)",
            test=f"every operation as {persona}",
            load=f"{cases} requests",
            inputs=(
                f"{len(operations)} operations × 3 passes (valid, invalid, generated ids) × "
                f"≤{EXAMPLES} examples, seed {SEED}"
            ),
            result={"5xx": by_class["5xx"], "non-problem 4xx": 0} | dict(sorted(by_class.items())),
        )
    )
