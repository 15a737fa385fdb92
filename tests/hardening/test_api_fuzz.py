"""Schemathesis over the OpenAPI document, against the app `create_app` builds, with every check
it has (`st run --checks all`: server errors, status codes, content types, headers and bodies
as declared, invalid input refused, valid input taken, auth enforced, missing headers, methods
and `Allow`, use after delete, resources that exist once made) as each kind of caller:
anonymous, labeler, reviewer, owner, a stranger (signed in, member of nothing) and the
deployment's admin (who is no member of projects either).

Every operation runs on a fresh copy of one world (two projects, an item with its picture, an
export, a signed link, five users), with its path parameters set to the real ids so that it gets
past its lookups, and a DELETE or a pause never starves the next operation; then the whole API
runs once more on a fresh copy with ids left to the generator and requests chained by the
stateful phase (create, read, change, delete). The only word the checks are given is which
refusals of valid input are right (`STATE_RULES`, and 412/428 for If-Match). Seed and example
count are fixed here, so a failure reproduces; `HARDENING_FUZZ_EXAMPLES=100 make hardening`
runs more."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import schemathesis
from schemathesis.config import ChecksConfig, SchemathesisConfig
from schemathesis.engine import events, from_schema
from starlette.routing import Match

from core.adapters.local.blobs import FolderBlobStore
from core.domain.datasets import upload_prefix
from core.domain.exports import ExportFormat
from core.domain.links import Grant
from core.domain.projects import Role
from core.http.app import create_app
from core.http.routing import api_routes
from core.ports import Deps, Query
from core.services import exports
from core.settings import Settings
from core.store import collections
from core.store.collections import scan
from tests.support.deps import memory_deps
from tests.support.labeling import add_items, running_project, users
from tests.support.media import image_bytes
from tests.support.reliability import Row

SEED = 20261128
EXAMPLES = int(os.environ.get("HARDENING_FUZZ_EXAMPLES", "4"))
"""Examples per operation in the fuzzing phase, and steps in the stateful one."""
PERSONAS: dict[str, str | None] = {
    "anonymous": None,
    "labeler": "lee",
    "reviewer": "rita",
    "owner": "olive",
    "stranger": "sam",
    "admin": "ada",
}
PHASES = ("examples", "coverage", "fuzzing", "stateful")
ALONE = PHASES[:3]
TOGETHER = PHASES[2:]
DEFAULTS = ChecksConfig()

STATE_RULES = {
    "POST /api/projects": "class names unique ignoring case, a label never a group, "
    "maxLabelers ≥ minLabelers, a dataset's container and path as its source wants",
    "PATCH /api/projects/{project_id}": "the creation rules, and no task type, dataset or "
    "class removed once initialized",
    "PUT /api/projects/{project_id}/label-classes": "the creation rules for classes; none removed",
    "POST /api/projects/{project_id}/label-classes/add": "new classes clash with none there",
    "POST /api/projects/{project_id}/label-classes/rename": "`from` is one of the classes",
    "PUT /api/projects/{project_id}/files/{path}": "a file type the project's task type takes",
    "POST /api/projects/{project_id}/uploads": "a file type the project's task type takes, a "
    "path of '/'-separated parts that are not empty, '.' or '..', without control characters",
    "POST /api/projects/{project_id}/uploads/complete": "the same path rules as the upload link's",
    "POST /api/projects/{project_id}/imports": "a file in `format` naming the project's classes",
    "POST /api/migrations/azureml": "an Azure ML labels export naming images the container holds",
    "POST /api/projects/{project_id}/imports/files": "a format that holds the project's task "
    "type, a size within LOUPE_MAX_UPLOAD_BYTES",
    "POST /api/projects/{project_id}/imports/jobs": "a format that holds the project's task "
    "type, the digest of a file put on its link",
    "POST /api/migrations/azureml/files": "a size within LOUPE_MAX_UPLOAD_BYTES",
    "POST /api/migrations/azureml/jobs": "the digest of a file put on its link, a container the "
    "deployment allows",
    "POST /api/projects/{project_id}/tasks/next": "grids only for the task types that show one",
    "POST /api/projects/{project_id}/items/{item_id}/annotation": "a value of the task type",
    "PUT /api/projects/{project_id}/items/{item_id}/annotation": "a value of the task type",
    "POST /api/projects/{project_id}/annotations": "values of the task type, each item once",
    "POST /api/projects/{project_id}/items/{item_id}/review": "approving an item under review "
    "takes a value of the task type",
    "POST /api/projects/{project_id}/assignments": "a labeler who is a member; itemIds or "
    "pathPrefix, one of them",
    "POST /api/projects/{project_id}/assignments/release": "itemIds or pathPrefix, one of them",
    "PUT /api/projects/{project_id}/members/{member}": "a user that exists",
    "GET /api/projects/{project_id}/export": "labels that are the project's classes, a format "
    "that holds its task type (dicom_seg: masks, and no split)",
    "POST /api/projects/{project_id}/exports": "labels that are the project's classes, a "
    "format that holds its task type (dicom_seg: masks, and no split)",
    "GET /api/projects/{project_id}/items": "a continuation token this query handed out",
    "GET /api/projects/{project_id}/items/{item_id}/history": "a continuation token this "
    "query handed out",
    "GET /api/projects/{project_id}/feedback": "a continuation token this query handed out",
    "POST /api/projects/{project_id}/reviews": "items or a filter, one of them, each item once; "
    "a filter's state one the decision can take in bulk",
    "POST /api/projects/{project_id}/assist/train": "a task type ML assist supports",
}
"""Operations whose valid requests may still be refused with 422, and the rule the schema
cannot state (it depends on the project, or binds fields together): for these 422 is the right
answer to schema-valid input, which `positive_data_acceptance` is told; any other refusal still
fails it."""

SIGNED_FOR_ONE_BLOB = {
    "PUT /api/blobs/{container}/{name}": "a write link's signature covers the blob, expiry, "
    "project, user and permission: no generated request carries one (the world holds a read "
    "link, which must not write), so 403 is the right answer to every schema-valid input"
}


@dataclass
class World:
    """The data every operation runs against: made once, then restored as it was (same ids,
    tokens and files) before each operation, so none sees what another did."""

    root: Path
    deps: Deps = field(init=False)
    tokens: dict[str, str] = field(init=False)
    values: dict[str, str] = field(init=False)
    documents: dict[str, list[dict[str, Any]]] = field(init=False)
    made: int = 0

    def __post_init__(self) -> None:
        deps = memory_deps()
        deps.blobs = FolderBlobStore(self.root / "pristine")
        # ada first: the first user is the deployment's admin.
        self.tokens = users(deps, "ada", "olive", "rita", "lee", "sam")
        project = running_project(
            deps, owner="olive", members={"lee": Role.LABELER, "rita": Role.REVIEWER}
        )
        running_project(deps, name="Elsewhere", owner="sam")
        (item,) = add_items(deps, project, 1)
        picture = upload_prefix(project.id) + "img/000000.jpg"
        deps.blobs.put(deps.data_container, picture, image_bytes("JPEG"))
        deps.blobs.put(deps.data_container, "x.txt", b"x")
        export = exports.request_export(
            deps,
            project_id=project.id,
            actor="olive",
            format=ExportFormat.CSV,
            options=exports.ExportOptions(),
        )
        expires = int(deps.clock.now().timestamp()) + 3600
        link = deps.links.url(
            deps.data_container, "x.txt", Grant(project.id, "olive"), expires_at=expires
        )
        self.values = {
            "project_id": project.id,
            "item_id": item,
            "export_id": export.id,
            "member": "lee",
            "path": "img/new.jpg",
            "container": deps.data_container,
        } | dict(parse_qsl(urlsplit(link).query))
        self.documents = {
            spec.name: [d.body for d in scan(deps.documents.container(spec), None, Query())]
            for spec in collections.ALL
        }
        self.reset()

    def reset(self) -> None:
        self.made += 1
        deps = memory_deps()
        folder = self.root / str(self.made)
        shutil.copytree(self.root / "pristine", folder)
        deps.blobs = FolderBlobStore(folder)
        for spec in collections.ALL:
            deps.documents.container(spec).upsert_many(self.documents[spec.name])
        self.deps = deps

    def config(
        self, persona: str, document: dict[str, Any], phases: tuple[str, ...], *, real_ids: bool
    ) -> SchemathesisConfig:
        auth: dict[str, dict[str, str]] = {"signedLink": {"api_key": self.values["sig"]}}
        user = PERSONAS[persona]
        if user is not None:
            auth["bearerToken"] = {"bearer": self.tokens[user]}
        operations = []
        for label, operation in _operations(document):
            # The filters of one `[[operations]]` entry are alternatives: the name is the key.
            entry = {"include-name": label, "checks": _checks(label, operation)}
            if real_ids:
                entry["parameters"] = self._parameters(label.split(" ", 1)[1])
            operations.append(entry)
        return SchemathesisConfig.from_dict(
            {
                "seed": SEED,
                "workers": 1,
                "continue-on-failure": True,
                "generation": {"max-examples": EXAMPLES},
                "auth": {"openapi": auth},
                "checks": {
                    "enabled": True,
                    # RFC 6585: a write that must carry If-Match answers its absence with 428.
                    "missing_required_header": {
                        "expected-statuses": [
                            *DEFAULTS.missing_required_header.expected_statuses,
                            "428",
                        ]
                    },
                },
                "phases": {name: {"enabled": name in phases} for name in PHASES},
                "operations": operations,
            }
        )

    def _parameters(self, path: str) -> dict[str, str]:
        """Real values for what the path names; the rest is generated."""
        found = {key: self.values[key] for key in ("project_id", "item_id", "export_id", "member")}
        found["path"] = self.values["path"]
        if path.startswith("/api/blobs/"):
            found |= {key: self.values[key] for key in ("container", "exp", "p", "u")}
            found["name"] = "x.txt"
        elif path.startswith("/api/users/"):
            found["name"] = "sam"
        return found


class FreshPerOperation:
    """The app, with the world restored whenever the requests move on to another operation
    (a request no route takes, such as another method on the path, is the same one's)."""

    def __init__(self, app: Any, world: World) -> None:
        self.app = app
        self.world = world
        self.current: tuple[str, str] | None = None
        self.routes = list(api_routes(app.routes))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            operation = next(
                (
                    (scope["method"], route.path_format)
                    for route in self.routes
                    if route.matches(scope)[0] is Match.FULL
                ),
                None,
            )
            if operation is not None and operation != self.current:
                self.world.reset()
                self.current = operation
        await self.app(scope, receive, send)


def _operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


def _checks(label: str, operation: dict[str, Any]) -> dict[str, Any]:
    accepted = list(DEFAULTS.positive_data_acceptance.expected_statuses)
    headers = {p["name"].lower() for p in operation.get("parameters", []) if p["in"] == "header"}
    if "if-match" in headers:
        accepted.append("412")  # a well-formed ETag of another version is refused by design
    if label in STATE_RULES:
        accepted.append("422")
    if label in SIGNED_FOR_ONE_BLOB:
        accepted.append("403")
    return {"positive_data_acceptance": {"expected-statuses": accepted}}


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    checks: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def take(self, event: Any) -> None:
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            for interaction in recorder.interactions.values():
                if interaction.response is not None:
                    self.statuses[interaction.response.status_code] += 1
            for case_id, results in recorder.checks.items():
                for result in results:
                    self.checks[result.name] += 1
                    if result.failure_info is not None:
                        self.failures.append(_failure(recorder, case_id, result))
        elif isinstance(event, events.NonFatalError):
            # The app raised through the test client (a 500 in service), or the run broke.
            self.errors.append(f"{event.label}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            self.errors.append(f"fatal: {event.exception!r}")


def _failure(recorder: Any, case_id: str, result: Any) -> str:
    failure = result.failure_info.failure
    sent = recorder.interactions.get(case_id)
    where = ""
    if sent is not None:
        answer = sent.response
        where = f"\n  {sent.request.method} {sent.request.uri}"
        if sent.request.body:
            where += f"\n  body {sent.request.body[:300]!r}"
        if answer is not None:
            where += f"\n  -> {answer.status_code} {(answer.content or b'')[:300]!r}"
    return f"{result.name} on {recorder.label}: {failure.title}\n  {failure.message[:600]}{where}"


def run(
    world: World, app: Any, persona: str, tally: Tally, phases: tuple[str, ...], *, real_ids: bool
) -> None:
    config = world.config(persona, app.openapi(), phases, real_ids=real_ids)
    served = FreshPerOperation(app, world) if real_ids else app
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", served, config=config)
    for event in from_schema(schema).execute():
        tally.take(event)


@pytest.mark.parametrize("persona", PERSONAS)
def test_fuzz_api(tmp_path: Path, persona: str, reliability: Any) -> None:
    world = World(tmp_path)
    # The limiter stays in the stack, set so high that it never answers for the app.
    settings = Settings(webui_dir=None, secret="s", rate_limit=1e6, rate_burst=10**6)
    app = create_app(lambda: world.deps, settings)
    labels = [label for label, _ in _operations(app.openapi())]
    tally = Tally()
    phases = ALONE
    if PERSONAS[persona] is None:
        # Refused before any route reads its input: coverage's thousands of input variants
        # would all meet the same 401 (the public routes get them as every other persona).
        phases = tuple(phase for phase in ALONE if phase != "coverage")
    run(world, app, persona, tally, phases, real_ids=True)
    world.reset()
    run(world, app, persona, tally, TOGETHER, real_ids=False)

    assert not tally.errors, "\n".join(tally.errors[:10])
    assert not tally.failures, f"{len(tally.failures)} failures:\n" + "\n".join(tally.failures[:15])
    requests = sum(tally.statuses.values())
    assert requests >= len(labels) * EXAMPLES  # the generator did run
    assert tally.statuses[500] == 0
    by_class = Counter(f"{status // 100}xx" for status in tally.statuses.elements())
    reliability.record(
        Row(
            suite="API fuzzing (schemathesis)",
            test=f"every operation as {persona}",
            load=f"{requests} requests",
            inputs=(
                f"{len(labels)} operations, each on a fresh copy of one project and real ids "
                f"({', '.join(phases)}), then all on generated ids (fuzzing, stateful); "
                f"≤{EXAMPLES} examples, all {len(tally.checks)} checks, seed {SEED}"
            ),
            result={"failures": len(tally.failures), "checks run": sum(tally.checks.values())}
            | dict(sorted(by_class.items())),
        )
    )
