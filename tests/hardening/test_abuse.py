"""Abuse of the HTTP API: tokens (stored hashed, revocable at once), the forged Static Web App
principal, path traversal in every path the API takes, oversize inputs, and hostile text, which
the API keeps as inert text (the browser side is `tests/e2e/test_ui_manage.py`). Every refusal
is a 4xx in problem+json and changes nothing."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from core.adapters.local.blobs import FolderBlobStore
from core.domain.capacity import PARTITION_ITEMS
from core.domain.datasets import upload_prefix
from core.domain.exports import MAX_PART_ITEMS
from core.domain.links import Grant
from core.domain.principals import HEADER
from core.domain.projects import Role
from core.http.app import create_app
from core.ports import Deps, Query
from core.services.users import create_user, issue_token, revoke_tokens
from core.settings import Settings, SettingsError
from core.store.collections import ALL, ITEMS, scan
from tests.e2e.test_ui_manage import HOSTILE, INSTRUCTIONS, LABEL
from tests.support.deps import local_deps, memory_deps
from tests.support.labeling import add_items, running_project, users
from tests.support.reliability import Row

PROBLEM = "application/problem+json"
EXP = 4_102_444_800  # 2100-01-01: far beyond the test clock


@dataclass
class World:
    http: TestClient
    deps: Deps
    tokens: dict[str, str]
    project: str
    item: str
    root: Path

    def auth(self, who: str = "olive") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def etag(self) -> str:
        found = self.http.get(f"/api/projects/{self.project}", headers=self.auth())
        return str(found.headers["ETag"])


def make_world(root: Path, **settings: Any) -> World:
    deps = memory_deps()
    deps.blobs = FolderBlobStore(root / "blobs")
    tokens = users(deps, "olive", "lee")
    project = running_project(deps, owner="olive", members={"lee": Role.LABELER})
    (item,) = add_items(deps, project, 1)
    deps.blobs.put("data", "x.txt", b"secret-free")
    app = create_app(lambda: deps, Settings(webui_dir=None, secret="s", **settings))
    http = TestClient(app, raise_server_exceptions=False)
    return World(http, deps, tokens, project.id, item, root)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    made = make_world(tmp_path)
    with made.http:
        yield made


def refused(response: Any, *statuses: int) -> None:
    """A clear refusal: one of `statuses` (any 4xx when none), problem+json with a detail."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    if statuses:
        assert response.status_code in statuses, (response.status_code, response.text[:300])
    assert response.headers["content-type"] == PROBLEM, response.text[:300]
    body = response.json()
    assert body["status"] == response.status_code and body["title"] and body["detail"]


# Tokens


@pytest.mark.parametrize("adapter", ["memory", "sqlite"])
def test_tokens_are_stored_only_as_hashes(tmp_path: Path, adapter: str, reliability: Any) -> None:
    deps = memory_deps() if adapter == "memory" else local_deps(tmp_path)
    try:
        _, first = create_user(deps, name="ann")
        tokens = [first, issue_token(deps, name="ann"), issue_token(deps, name="ann")]
        revoke_tokens(deps, name="ann")
        stored = [
            json.dumps(document.body)
            for spec in ALL
            for document in scan(deps.documents.container(spec), None, Query(page_size=500))
        ]
    finally:
        deps.close()
    text = "\n".join(stored)
    raw = b"".join(path.read_bytes() for path in tmp_path.rglob("*") if path.is_file())
    for token in tokens:
        secret = token.removeprefix("lp_")
        assert secret not in text and secret.encode() not in raw
    assert len(stored) == 4  # the user and three token records
    reliability.record(
        Row(
            suite="Abuse: tokens",
            test=f"stored hashed ({adapter})",
            inputs="3 tokens issued, then revoked",
            result={"documents searched": len(stored), "raw tokens found": 0},
        )
    )


def test_a_revoked_token_is_refused_at_once(world: World, reliability: Any) -> None:
    assert world.http.get("/api/me", headers=world.auth()).status_code == 200
    assert revoke_tokens(world.deps, name="olive") == 1
    response = world.http.get("/api/me", headers=world.auth())
    refused(response, 401)
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert world.http.get("/api/me", headers=world.auth("lee")).status_code == 200
    fresh = issue_token(world.deps, name="olive")
    assert world.http.get("/api/me", headers={"Authorization": f"Bearer {fresh}"}).json()["id"]
    reliability.record(
        Row(
            suite="Abuse: tokens",
            test="revoked token refused at once",
            inputs="1 request right after revocation",
            result={"401": 1, "other users affected": 0},
        )
    )


# The Static Web App principal


def principal(name: str = "olive", roles: tuple[str, ...] = ("anonymous", "authenticated")) -> str:
    data = {"identityProvider": "aad", "userId": "1", "userDetails": name, "userRoles": roles}
    return base64.b64encode(json.dumps(data).encode()).decode()


def test_the_principal_header_is_refused_unless_behind_a_static_web_app(
    world: World, tmp_path: Path, reliability: Any
) -> None:
    forged = {HEADER: principal()}
    response = world.http.get("/api/me", headers=forged)
    refused(response, 401)
    assert "LOUPE_BEHIND_STATIC_WEB_APP" in response.json()["detail"]
    # A valid token does not make a forged principal acceptable.
    refused(world.http.get("/api/me", headers=forged | world.auth()), 401)

    behind = make_world(tmp_path / "swa", behind_static_web_app=True)
    assert behind.http.get("/api/me", headers=forged).json()["id"] == "olive"
    refused(behind.http.get("/api/me", headers={HEADER: "not base64!"}), 401)
    refused(behind.http.get("/api/me", headers={HEADER: principal(roles=("anonymous",))}), 401)
    reliability.record(
        Row(
            suite="Abuse: tokens",
            test="forged x-ms-client-principal",
            inputs="a forged principal, alone and beside a valid token; junk behind the SWA",
            result={"refused with 401": 4, "accepted behind the Static Web App": 1},
        )
    )


# Path traversal

TRAVERSALS = [
    "../x.txt",
    "a/../../x.txt",
    "..%2Fx.txt",
    "%2e%2e/x.txt",
    "%2E%2E%2F%2E%2E%2Fx.txt",
    "a/%2e%2e/%2e%2e/x.txt",
    "..%5Cx.txt",
    "a%5C..%5C..%5Cx.txt",
    "%2Fetc%2Fpasswd",
    "/etc/passwd",
    "C:%5Cwindows%5Cx.txt",
    ".",
    "a/./x.txt",
]


def files_outside(world: World) -> list[Path]:
    """Files the test did not make: anything beside the blob folder, or loose in it."""
    return [
        path
        for path in world.root.rglob("*")
        if path.is_file() and (world.root / "blobs") not in path.parents
    ]


def test_path_traversal_is_refused_everywhere(world: World, reliability: Any) -> None:
    tried = 0
    for path in TRAVERSALS:
        upload = world.http.put(
            f"/api/projects/{world.project}/files/{path}", content=b"evil", headers=world.auth()
        )
        refused(upload)
        for container, name in [("data", path), (path, "x.txt")]:
            # Signed as the server will decode it: a valid signature, the worst case.
            grant = Grant(world.project, "olive")
            signed = world.deps.links.url(unquote(container), unquote(name), grant, expires_at=EXP)
            query = signed.split("?", 1)[1]
            download = world.http.get(f"/api/blobs/{container}/{name}?{query}")
            refused(download)
        dataset = {"source": "blob", "container": "lake", "path": unquote(path)}
        created = world.http.post(
            "/api/projects",
            json={"name": f"T{tried}", "taskType": "text_ner", "labelClasses": [{"name": "P"}]}
            | {"dataset": dataset},
            headers=world.auth(),
        )
        refused(created, 422)
        tried += 4
    uploads = list(world.deps.blobs.list("data", upload_prefix(world.project)))
    assert not uploads and not files_outside(world)
    reliability.record(
        Row(
            suite="Abuse: path traversal",
            test="upload, signed blob download, dataset path",
            inputs=f"{len(TRAVERSALS)} paths (.., %2e%2e, backslashes, absolute) × 4 places",
            result={"requests": tried, "refused with 4xx": tried, "files written": 0},
        )
    )


def test_a_forged_signature_of_any_text_is_refused(world: World) -> None:
    """Regression: a non-ASCII `sig` made `hmac.compare_digest` raise, a 500."""
    for sig in ("é", "\u6954", "%F0%9F%98%80", "x" * 5000):
        query = f"exp={EXP}&p={world.project}&u=olive&sig={sig}"
        refused(world.http.get(f"/api/blobs/data/x.txt?{query}"), 403)


# Oversize inputs


def oversize_requests(world: World) -> list[tuple[str, str, Any]]:
    project = f"/api/projects/{world.project}"
    polygon = [[0.5, 0.1], [0.9, 0.9], [0.1, 0.9]] * 3334
    deep = "/".join("abcdefg")
    kept = [{"name": name} for name in ("cat", "dog", "bird")]
    ner = {"name": "Relations", "taskType": "text_ner", "labelClasses": [{"name": "P"}]}
    return [
        ("POST", "/api/projects", {"name": "n" * 10_000, "taskType": "text_ner"}),
        ("POST", "/api/projects", ner | {"relationClasses": [{"name": "r" * 10_000}]}),
        (
            "POST",
            "/api/projects",
            ner | {"relationClasses": [{"name": f"r{n}"} for n in range(101)]},
        ),
        (
            "POST",
            "/api/projects",
            ner | {"relationClasses": [{"name": "r", "heads": ["P"] * 1001}]},
        ),
        ("PUT", f"{project}/label-classes", [{"name": "c" * 10_000}]),
        ("PUT", f"{project}/label-classes", [{"name": deep}]),
        ("PUT", f"{project}/label-classes", [*kept, *({"name": f"c{n}"} for n in range(1001))]),
        ("PUT", f"{project}/instructions", {"markdown": "m" * 100_001}),
        ("PUT", f"{project}/instructions", {"url": "https://x.org/" + "u" * 5000}),
        ("PATCH", project, {"name": "n" * 101}),
        ("PUT", f"{project}/members/{'m' * 5000}", {"role": "labeler"}),
        ("POST", f"{project}/tasks/renew", {"itemIds": ["i"] * 101}),
        ("POST", f"{project}/annotations", {"answers": [{"itemId": "i", "value": {}}] * 101}),
        ("POST", f"{project}/items/{world.item}/skip", {"reason": "r" * 1001}),
        (
            "POST",
            f"{project}/items/{world.item}/review",
            {"decision": "reject", "note": "n" * 2001},
        ),
        ("PUT", f"{project}/files/{'p' * 1100}.txt", b"x"),
        ("POST", f"{project}/items/{world.item}/annotation", {"value": {"label": "cat" * 10_000}}),
        ("GET", f"{project}/items?label={'l' * 60_000}", None),
        ("POLYGON", "polygons", {"polygons": [{"label": "cat", "points": polygon}]}),
    ]


def test_oversize_inputs_are_refused(world: World, reliability: Any) -> None:
    before = world.etag()
    leased = {"size": 1}  # so that the giant label is refused for its size, not the lease
    assert world.http.post(
        f"/api/projects/{world.project}/tasks/next", json=leased, headers=world.auth()
    ).json()["items"]
    count = 0
    for method, url, body in oversize_requests(world):
        if method == "POLYGON":  # a giant answer, on a polygon project of its own
            response = giant_polygon(world, body)
            assert "at most 10,000" in response.json()["detail"]
        else:
            headers = world.auth() | {"If-Match": before}
            kwargs: dict[str, Any] = {"content": body} if isinstance(body, bytes) else {}
            if body is not None and not isinstance(body, bytes):
                kwargs["json"] = body
            response = world.http.request(method, url, headers=headers, **kwargs)
        count += 1
        if url.endswith("/items?label=" + "l" * 60_000):
            assert response.status_code == 200 and response.json()["items"] == []
            continue
        refused(response)
    assert world.etag() == before  # the project did not change
    reliability.record(
        Row(
            suite="Abuse: oversize inputs",
            test="long names, deep and wide label trees, long texts, giant answers",
            inputs=f"{count} requests over a limit (a 60,000-character filter is answered, empty)",
            result={"refused with 4xx": count - 1, "5xx": 0, "changes made": 0},
        )
    )


def giant_polygon(world: World, value: dict[str, Any]) -> Any:
    shapes = running_project(
        world.deps, name="Outlines", task_type="image_polygon", owner="olive", classes=["cat"]
    )
    (item,) = add_items(world.deps, shapes, 1)
    base = f"/api/projects/{shapes.id}"
    assert world.http.post(f"{base}/tasks/next", json={"size": 1}, headers=world.auth()).json()
    response = world.http.post(
        f"{base}/items/{item}/annotation", json={"value": value}, headers=world.auth()
    )
    refused(response, 422)  # every kind of answer: tests/hardening/test_annotation_limits.py
    return response


# Hostile text


def test_hostile_text_is_stored_and_served_as_inert_text(world: World, reliability: Any) -> None:
    created = world.http.post(
        "/api/projects",
        json={
            "name": HOSTILE,
            "taskType": "image_multiclass",
            "labelClasses": [{"name": LABEL}],
            "instructions": {"markdown": INSTRUCTIONS},
        },
        headers=world.auth(),
    )
    assert created.status_code == 201, created.text
    project = created.json()
    assert project["name"] == HOSTILE and project["labelClasses"][0]["name"] == LABEL
    base = f"/api/projects/{project['id']}"
    for url in (base, f"{base}/instructions", f"{base}/label-classes"):
        response = world.http.get(url, headers=world.auth())
        assert response.headers["content-type"] == "application/json"  # never text/html
    assert world.http.get(f"{base}/instructions", headers=world.auth()).json()["markdown"] == (
        INSTRUCTIONS
    )
    reliability.record(
        Row(
            suite="Abuse: hostile text",
            test="markup in names, labels and instructions",
            inputs="<script>, onerror= and javascript: links (browser side: tests/e2e)",
            result={"stored unchanged": 3, "served as HTML": 0},
        )
    )


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"size": ' + b"9" * 5000 + b"}", "more than 4,300 digits"),
        (b"[" * 100_000 + b"]" * 100_000, "too deeply"),
        (b'{"size": "\xff\xfe"}', "UTF-8 JSON"),
    ],
    ids=["long-number", "deep-nesting", "not-utf8"],
)
def test_a_body_python_cannot_read_gets_a_clear_400(world: World, body: bytes, says: str) -> None:
    """Regression: these were 400 "There was an error parsing the body", titled "Error"."""
    response = world.http.post(
        f"/api/projects/{world.project}/tasks/next",
        content=body,
        headers=world.auth() | {"Content-Type": "application/json"},
    )
    refused(response, 400)
    assert response.json()["title"] == "Unreadable JSON" and says in response.json()["detail"]


def test_an_unknown_giant_label_is_not_echoed_back(world: World) -> None:
    """Regression: the refusal quoted the whole label, so a refusal was as large as the input."""
    url = f"/api/projects/{world.project}"
    assert world.http.post(f"{url}/tasks/next", json={"size": 1}, headers=world.auth()).json()
    response = world.http.post(
        f"{url}/items/{world.item}/annotation",
        json={"value": {"label": "x" * 100_000}},
        headers=world.auth(),
    )
    refused(response, 422)
    assert len(response.content) < 2000


@pytest.mark.parametrize("kind", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_json_gets_415_saying_so(world: World, kind: str) -> None:
    """Regression: this was 422 "Input should be a valid dictionary or object to extract
    fields from", which does not say that the content type is what to fix."""
    response = world.http.post(
        "/api/projects", content=b'{"name": "x"}', headers=world.auth() | {"Content-Type": kind}
    )
    refused(response, 415)
    assert "Content-Type: application/json" in response.json()["detail"]


# Review workspace


def test_review_workspace_inputs_are_bounded_and_change_nothing(
    world: World, reliability: Any
) -> None:
    """Bulk review, comments, filters and tasks kept in hand: oversize or contradictory input
    is refused whole, the item untouched; hostile comment text is kept as the text it is."""
    base = f"/api/projects/{world.project}"
    item = world.deps.documents.container(ITEMS).read(world.project, world.item)
    picked = [{"itemId": f"i{n}"} for n in range(201)]
    attempts: list[tuple[str, str, Any]] = [
        ("POST", f"{base}/reviews", {"decision": "approve", "items": picked}),
        ("POST", f"{base}/reviews", {"decision": "reject", "items": [{"itemId": "a"}] * 2}),
        ("POST", f"{base}/reviews", {"decision": "approve", "items": [], "filter": {}}),
        ("POST", f"{base}/reviews", {"decision": "reject", "filter": {"state": "unlabeled"}}),
        ("POST", f"{base}/reviews", {"decision": "reject", "filter": {}, "asOf": 0}),
        ("POST", f"{base}/reviews", {"decision": "reject", "note": "n" * 2001, "filter": {}}),
        ("POST", f"{base}/items/{world.item}/comments", {"text": "c" * 2001}),
        ("POST", f"{base}/items/{world.item}/comments", {"text": " \n\t "}),
        ("GET", f"{base}/items?since=0", None),
        ("GET", f"{base}/items?minConfidence=2", None),
        ("GET", f"{base}/items?attribute={'a' * 1052}", None),
        ("POST", f"{base}/tasks/next", {"size": 1, "holding": [f"h{n}" for n in range(33)]}),
    ]
    for method, url, body in attempts:
        response = world.http.request(method, url, json=body, headers=world.auth())
        refused(response, 422)
    after = world.deps.documents.container(ITEMS).read(world.project, world.item)
    assert after == item  # nothing changed, not even the item's version
    said = world.http.post(
        f"{base}/items/{world.item}/comments", json={"text": HOSTILE}, headers=world.auth()
    )
    assert said.status_code == 201 and said.json()["text"] == HOSTILE
    assert said.headers["content-type"] == "application/json"
    reliability.record(
        Row(
            suite="Abuse: review workspace",
            test="bulk review, comments, filters and tasks in hand over their limits",
            inputs=f"{len(attempts)} requests (201 items, repeats, both or neither of items and "
            "filter, a state bulk cannot take, a Unix time, 2,001-character notes and comments, "
            "blank comments, confidence 2, a 1,052-character attribute filter, 33 items in hand), "
            "then a hostile comment",
            result={"refused with 422": len(attempts), "5xx": 0, "changes made": 0},
        )
    )


HOSTILE_SECONDS = ["0", "0.5", "-1", "nan", "inf", "1e9", "1e2", "1_0", "86401", "ten", "600s"]


def test_the_reconcile_interval_refuses_hostile_values(reliability: Any) -> None:
    assert Settings.from_env({}).reconcile_s == 600
    assert Settings.from_env({"LOUPE_RECONCILE_S": "30"}).reconcile_s == 30
    refused = 0
    for value in HOSTILE_SECONDS:
        with pytest.raises(SettingsError, match="LOUPE_RECONCILE_S") as error:
            Settings.from_env({"LOUPE_RECONCILE_S": value})
        assert "from 1 to 86400" in str(error.value)
        refused += 1
    reliability.record(
        Row(
            suite="Abuse: settings",
            test="LOUPE_RECONCILE_S: hostile values refused at start",
            inputs=", ".join(HOSTILE_SECONDS),
            result={
                "tried": len(HOSTILE_SECONDS),
                "refused": refused,
                "accepted": len(HOSTILE_SECONDS) - refused,
            },
        )
    )


@pytest.mark.parametrize(
    ("name", "field", "default"),
    [
        ("LOUPE_REFRESH_SWEEP_S", "refresh_sweep_s", 10),
        ("LOUPE_LEASE_SWEEP_S", "lease_sweep_s", 30),
        ("LOUPE_RELABEL_SWEEP_S", "relabel_sweep_s", 30),
        ("LOUPE_TRAINING_SWEEP_S", "training_sweep_s", 10),
    ],
)
def test_the_periodic_jobs_intervals_refuse_hostile_values(
    reliability: Any, name: str, field: str, default: float
) -> None:
    """The intervals of the periodic jobs (`core.schedule`), read by both runtimes."""
    assert getattr(Settings.from_env({}), field) == default
    assert getattr(Settings.from_env({name: "45"}), field) == 45
    refused = 0
    for value in HOSTILE_SECONDS:
        with pytest.raises(SettingsError, match=name) as error:
            Settings.from_env({name: value})
        assert "from 1 to 86400" in str(error.value)
        refused += 1
    reliability.record(
        Row(
            suite="Abuse: settings",
            test=f"{name}: hostile values refused at start",
            inputs=", ".join(HOSTILE_SECONDS),
            result={
                "tried": len(HOSTILE_SECONDS),
                "refused": refused,
                "accepted": len(HOSTILE_SECONDS) - refused,
            },
        )
    )


HOSTILE_COUNTS = ["0", "-1", "nan", "inf", "1e6", "1_000", "1.5", "ten", "5000 items", "٣"]


@pytest.mark.parametrize(
    ("name", "most"),
    [("LOUPE_ITEM_CAP", PARTITION_ITEMS), ("LOUPE_EXPORT_PART_ITEMS", MAX_PART_ITEMS)],
)
def test_counted_settings_refuse_hostile_values(reliability: Any, name: str, most: int) -> None:
    """A count a deployment sets: whole ASCII numbers from 1 to its bound, else refused at
    start with the range (the item cap's bound is what one Cosmos DB partition holds)."""
    tried = [*HOSTILE_COUNTS, str(most + 1)]
    assert Settings.from_env({name: str(most)}) is not None
    refused = 0
    for value in tried:
        with pytest.raises(SettingsError, match=name) as error:
            Settings.from_env({name: value})
        assert f"from 1 to {most}" in str(error.value)
        refused += 1
    reliability.record(
        Row(
            suite="Abuse: settings",
            test=f"{name}: hostile values refused at start",
            inputs=", ".join(tried),
            result={"tried": len(tried), "refused": refused, "accepted": len(tried) - refused},
        )
    )
